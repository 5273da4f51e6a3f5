"""Make a large run's memory resident on an idle core, before the run first writes it.

A ``mkba run -n 1000000`` of the reference takes about 430,000 page faults: the first write to
each 4 KiB page of its 1.2 GB of outcome arrays (and the companion's and the statistics'
working memory) makes the kernel find and clear a page, 1-3 us each on the project's 2-core
virtual machine, most of them inside the simulation's threads while they fill the arrays
chunk by chunk: about 0.45 s of their system CPU at 1M draws (benchmarks/README.md,
"i23-prefault").

With :func:`mkba.memory.keep_freed_memory` in force (the console script: one arena, no
separate ``mmap`` per block, the heap's free top kept up to 2 GiB), memory that was once
resident stays in the heap when it is freed, and the next allocations reuse it without a
fault. :func:`start` uses that: it takes one block of the size of the run's outcome arrays
from ``malloc`` and gives it straight back (:func:`reserve`: the block joins the heap's free
top, where the run's arrays are then carved from), and a thread of its own asks the kernel to
make those pages resident with ``madvise(MADV_POPULATE_WRITE)`` (Linux 5.14+), in slices.
``MADV_POPULATE_WRITE`` faults the pages in as a write would but changes no byte, so it is
safe on memory that ``malloc`` hands to the run meanwhile; the thread never writes to it.

``mkba run`` starts three times, each adding only the pages beyond the last: :func:`early`
with a lower bound read from the scenario file, while the engine is imported on the main
thread (one core idle); :func:`for_run` with the run's outcome arrays once the model is
known; :func:`for_twin` with the rest of a twin pass's arrays (the implied-effects sinks, the
IRR's results, the companion's light arrays) once the pass is decided.
An in-process ``mkba batch`` populates its array pool's mapping (:func:`start_mapping`).

The numbers are the same: this changes only when the pages become resident. The size is the
run's own outcome arrays (:func:`outcome_bytes`; in a twin pass also the sinks, the IRR's
results and the companion's light arrays, :func:`for_twin`), which the run allocates from the
heap in any case, so the peak memory does not grow; at most :data:`MAX_BYTES`. The pages are
4 KiB ones: transparent huge pages cost more here (benchmarks/README.md, "i26-mem": the
project's virtual machine hands freed memory back to its host, and a fresh 2 MiB page then
costs 1.5-5 times 512 small ones). Only in the console script's process with glibc and
:mod:`mkba.memory`'s settings in force; elsewhere (another C library, an older kernel, a
user's own ``malloc`` settings, ``MKBA_PREFAULT=0``) nothing happens.
"""

from __future__ import annotations

import ctypes
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from mkba import memory
from mkba.constants import DEFAULT_SCENARIO, PERSPECTIVES

if TYPE_CHECKING:
    import mmap

    import numpy as np

    from mkba.model import Model

MADV_POPULATE_WRITE = 23
"""Linux ``madvise`` advice (5.14+): fault the range in, writable, without changing it."""

ENV = "MKBA_PREFAULT"
"""``MKBA_PREFAULT=0`` switches the prefault off (for measuring it)."""

MIN_BYTES = 64 * 2**20
"""Runs whose outcome arrays are smaller than this are not prefaulted (a default run of the
reference, 20,000 draws: 24 MB, a few thousand faults)."""

MAX_BYTES = 1792 * 2**20
"""The most that is prefaulted (1.75 GiB): below :data:`mkba.memory.TRIM_THRESHOLD` (2 GiB)
with room to spare for what the heap's free top already holds, or glibc would give the freed
block straight back to the kernel. A twin pass of the reference at 1M draws asks for 1,632 MB
(:func:`for_twin`), which the earlier cap of 1.5 GiB cut short."""

SLICE_BYTES = 32 * 2**20
"""One ``madvise`` call populates this much (the thread stops at the first refusal)."""

PAGE = 4096


def outcome_bytes(model: Model, draws: int, area_dtype: type | np.dtype) -> int:
    """Bytes of :meth:`mkba.engine.Outcomes.empty` for ``draws`` draws of ``model``: what a run
    allocates for its per-draw results (the reference: 1,192 bytes a draw)."""
    from mkba.engine import Outcomes, physical_rows

    total = 0
    for name, arr in vars(Outcomes.empty(0, model, area_dtype)).items():
        row = arr.itemsize
        for extent in arr.shape[1:]:
            row *= extent
        rows = physical_rows(draws, row // arr.itemsize) if name == "physical" else draws
        total += row * rows
    return total


def enabled() -> bool:
    """Whether this process may prefault: :func:`mkba.memory.keep_freed_memory` took effect
    here (the console script, glibc, no user ``malloc`` settings) and ``MKBA_PREFAULT`` is not
    ``0``."""
    return memory.kept() and os.environ.get(ENV, "1") != "0"


def start(nbytes: int) -> threading.Thread | None:
    """Prefault ``nbytes`` (at most :data:`MAX_BYTES`) of the heap's free top on a daemon
    thread (see the module's docstring): :func:`reserve` here, then :func:`populate_range` on
    the thread. The pages an earlier call already handed to its thread are skipped, so a
    second call with the run's whole size (:func:`for_twin`) adds only what lies beyond.
    The thread, or None when nothing is done (:func:`enabled` false, fewer than
    :data:`MIN_BYTES`, or nothing beyond the earlier call)."""
    global _reach
    if nbytes < MIN_BYTES or not enabled():
        return None
    libc = memory.glibc()
    if libc is None:
        return None
    lo, hi = reserve(libc, min(nbytes, MAX_BYTES))
    if _reach is not None and lo < _reach <= hi:
        lo = _reach  # (populated by the earlier call's thread)
    if hi <= lo:
        return None
    _reach = hi
    thread = threading.Thread(target=_run, args=(libc, lo, hi), name="mkba-prefault", daemon=True)
    thread.start()
    return thread


_reach: int | None = None
"""Where the range the last :func:`start` handed to its thread ends (an address)."""

populated = 0
"""Bytes the last thread of :func:`start` or :func:`start_mapping` made resident (once it is
done)."""


def _run(libc: ctypes.CDLL, lo: int, hi: int) -> None:
    global populated
    populated = populate_range(libc, lo, hi)


def reserve(libc: ctypes.CDLL, size: int) -> tuple[int, int]:
    """Take ``size`` bytes from ``malloc`` and free them at once: the block joins the heap's
    free top (with :mod:`mkba.memory`'s settings it is neither a mapping of its own nor given
    back), where the next large arrays are carved from. The whole pages of the block (start,
    end; equal when ``malloc`` refused). Nothing is written to the block."""
    malloc, free = libc.malloc, libc.free
    malloc.argtypes, malloc.restype = (ctypes.c_size_t,), ctypes.c_void_p
    free.argtypes, free.restype = (ctypes.c_void_p,), None
    block = malloc(size)
    if not block:
        return 0, 0
    free(block)
    return (block + PAGE - 1) & ~(PAGE - 1), (block + size) & ~(PAGE - 1)


def populate(libc: ctypes.CDLL, size: int) -> int:
    """:func:`reserve` then :func:`populate_range` on this thread; the bytes populated (0
    when ``malloc`` or the first ``madvise`` refuses, e.g. a kernel before 5.14)."""
    return populate_range(libc, *reserve(libc, size))


def populate_range(libc: ctypes.CDLL, lo: int, hi: int) -> int:
    """``madvise(MADV_POPULATE_WRITE)`` over the pages from address ``lo`` to ``hi`` (both
    page-aligned), :data:`SLICE_BYTES` at a time; the bytes populated. Stops at the first
    refusal (an older kernel; or the range given back to the kernel meanwhile, where
    ``madvise`` only fails)."""
    madvise = libc.madvise
    madvise.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
    madvise.restype = ctypes.c_int
    done = 0
    while lo + done < hi:
        step = min(SLICE_BYTES, hi - lo - done)
        if madvise(lo + done, step, MADV_POPULATE_WRITE) != 0:
            break
        done += step
    return done


def start_mapping(slab: mmap.mmap, nbytes: int) -> threading.Thread | None:
    """Populate the first ``nbytes`` of an anonymous mapping (a batch's array pool,
    :class:`mkba.batch._ArrayPool`) on a daemon thread, as :func:`start` does the heap: the
    job's arrays are carved from its start, and the rest (the pool's room to spare) is left
    untouched. Under the same conditions as :func:`start`."""
    if nbytes < MIN_BYTES or not enabled():
        return None
    libc = memory.glibc()
    if libc is None:
        return None
    anchor: list[ctypes.c_char] = [ctypes.c_char.from_buffer(slab)]  # the mapping stays
    address = ctypes.addressof(anchor[0])  # mapped while the thread works (an export of it)
    hi = address + min(nbytes + PAGE - 1, len(slab)) // PAGE * PAGE

    def work() -> None:
        global populated
        try:
            populated = populate_range(libc, address, hi)
        finally:
            anchor.clear()

    thread = threading.Thread(target=work, name="mkba-prefault", daemon=True)
    thread.start()
    return thread


def for_run(model: Model, draws: int, area_dtype: type | np.dtype) -> threading.Thread | None:
    """:func:`start` with the size of the run's outcome arrays (:func:`outcome_bytes`)."""
    if not enabled():
        return None
    return start(outcome_bytes(model, draws, area_dtype))


def early_bytes(
    scenario: Path | None, variant: str | None, draws: int | None, area_draws: str
) -> int:
    """A lower bound of a run's outcome arrays read from the scenario file alone, before the
    engine is imported (:func:`early`): per draw, the benefits and costs of every perspective,
    the payback year, the yearly flow and discounted flow (``horizon - base_year + 1`` years)
    and the per-area benefits and costs (float32 with ``--area-draws float32``); the streams,
    components and stakeholders, which the parameter library decides, count as none. The
    reference: 792 of its 1,192 bytes a draw. 0 when unsure: a variant (it may change the
    areas or the years), a workbook, a file that is not plain TOML with these keys."""
    import tomllib

    path = DEFAULT_SCENARIO if scenario is None else Path(scenario)
    if variant is not None or path.suffix.lower() != ".toml":
        return 0
    try:
        with path.open("rb") as f:
            doc = tomllib.load(f)
    except (OSError, ValueError):
        return 0
    areas, base, horizon = doc.get("areas"), doc.get("base_year"), doc.get("horizon")
    n = doc.get("draws", 0) if draws is None else draws
    if not (isinstance(areas, list) and areas and all(isinstance(a, str) for a in areas)):
        return 0
    numbers = [x for x in (base, horizon, n) if isinstance(x, int) and not isinstance(x, bool)]
    if len(numbers) != 3:
        return 0
    base, horizon, n = numbers
    years = horizon - base + 1
    if years < 1 or n < 1:
        return 0
    area_size = 4 if area_draws.strip().lower() == "float32" else 8
    return n * (8 * (2 * len(PERSPECTIVES) + 1 + 2 * years) + 2 * len(set(areas)) * area_size)


def early(
    scenario: Path | None, variant: str | None, draws: int | None, area_draws: str
) -> threading.Thread | None:
    """:func:`start` with :func:`early_bytes`, by ``mkba run`` before it imports the engine
    (the import's half second or so runs on one core): :func:`for_run` later adds only the
    pages beyond. Only with ``draws`` given (``-n``): the scenario file is not read again for
    a run of its own draws (the default run: 20,000, too few to prefault; a file asking for
    more is prefaulted from :func:`for_run` on)."""
    if draws is None or not enabled():
        return None
    return start(early_bytes(scenario, variant, draws, area_draws))


def light_bytes(other: Model, draws: int) -> int:
    """Bytes of :meth:`mkba.engine.Outcomes.light` for ``draws`` draws: the companion's
    outcome arrays in a twin pass (the reference's companion: 216 bytes a draw)."""
    from mkba.engine import Outcomes

    return draws * sum(a.nbytes for a in vars(Outcomes.light(1, other)).values())


ALONGSIDE_BYTES = 16
"""Bytes a draw of :class:`mkba.decide.irr.IrrAlongside`'s results (the IRR, a float64, and
its root count, an int64), allocated between the run's outcome arrays and the companion's."""


def sink_bytes(m: Model, draws: int) -> int:
    """Bytes of a :class:`mkba.implied.FullStrengthSink` of ``m`` for ``draws`` draws: its
    full-strength and baseline volumes, a float64 a stream and draw each (the reference's
    seven streams: 112 bytes a draw). A twin pass fills two of them (the run's and the
    companion's) while it is simulated."""
    return 2 * len(m.streams) * draws * 8


def for_twin(
    model: Model, other: Model, draws: int, area_dtype: type | np.dtype
) -> threading.Thread | None:
    """Once a twin pass is decided: :func:`start` with the size of what the pass allocates
    next, in this order: the run's and the companion's implied-effects sinks
    (:func:`sink_bytes`, :mod:`mkba.api`), the run's outcome arrays, the IRR's results
    (:data:`ALONGSIDE_BYTES`) and the companion's light arrays
    (:func:`mkba.engine.simulate_twin`). The part :func:`for_run` handed to its thread is
    not populated twice. Without the sinks (before i26-mem) the last 224 MB of a 1M run's
    arrays lay beyond the populated block, and the simulation's own threads faulted them in."""
    if not enabled():
        return None
    return start(
        sink_bytes(model, draws)
        + sink_bytes(other, draws)
        + outcome_bytes(model, draws, area_dtype)
        + ALONGSIDE_BYTES * draws
        + light_bytes(other, draws)
    )
