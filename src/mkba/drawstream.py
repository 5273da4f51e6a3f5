"""``draws.parquet`` written while a large run is being simulated (issue 17, target 3).

A large ``mkba run`` used to write its sampled parameter values to a temporary file during the
simulation (:mod:`mkba.spill`) and read them back row group by row group for ``draws.parquet``,
which was written after the simulation. :class:`DrawsStream` writes the file's row groups
while the run is simulated instead, each as soon as its rows are final: the outcome rows
(reported by the simulation chunk by chunk), the IRR of those rows (computed beside the
simulation, :class:`mkba.decide.irr.IrrAlongside`) and the sampled values, which are copied
from each chunk's samples into a row group's buffer as the chunk is done (no temporary file,
no reading back). At most :data:`PARAM_GROUPS` row groups' values are held in memory; when the
writer is behind by more (e.g. the IRR, which runs at low priority, has not reached those rows
yet), a row group's values go to the temporary file as before and are read back from it.

The file is :func:`mkba.output.write_columns`' of :func:`mkba.results.draws_columns` (the same
columns, in the same order, the same row groups and bytes): the columns are taken from a
stand-in :class:`~mkba.engine.Run` whose NPV and BCR columns are computed a row group at a
time (the same arithmetic, element by element) rather than whole before the values exist.
"""

from __future__ import annotations

import math
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from mkba.decide.irr import IrrResult
from mkba.engine import Outcomes, Run
from mkba.model import Model
from mkba.output import TRANSPOSE_ROWS, WriteCancelledError, thread_cpu_s, write_columns
from mkba.spill import SpilledRows

STREAM_GROUP_ROWS = 16_384
"""About this many rows per row group of a file written while the run is simulated (a quarter
of :data:`mkba.output.PARQUET_GROUP_ROWS`): the writer's buffers (a row group's sampled values
and its transposed columns) are held during the simulation, and a million draws of the
reference at 65,536 rows a row group raised the run's peak memory by ~240 MB."""

PARAM_GROUPS = 2
"""Row groups of sampled values held in memory at most (11 MB each for the reference's 86
parameters and 16,384 rows): the one being filled and the one waiting for its IRR or being
written; further row groups not yet written go through a temporary file."""

DIRECT_BUFFER = 2 * 2**20
"""The writer's :class:`mkba.output.DirectFile` buffers (two; held during the simulation)."""


def mapped(shape: tuple[int, ...], dtype: Any = np.float64) -> np.ndarray:
    """A new array (zeros) in an anonymous memory mapping of its own: given back to the system
    when let go, instead of staying in the heap (where the console script keeps freed blocks,
    :mod:`mkba.memory`) beside the blocks the statistics allocate after it."""
    import mmap

    dtype = np.dtype(dtype)
    count = int(np.prod(shape))
    raw = mmap.mmap(-1, max(1, count * dtype.itemsize))
    return np.frombuffer(raw, dtype=dtype, count=count).reshape(shape)


class LazyColumn:
    """Column ``j`` of a row source (``shape``, ``dtype``, ``read_rows(lo, hi, out)``), read a
    row group at a time by :class:`mkba.output.RowGroups` (``rows_source``)."""

    def __init__(self, source: Any, j: int) -> None:
        self.source = source
        self.j = j
        self.dtype = source.dtype
        self.shape = (source.shape[0],)

    def __len__(self) -> int:
        return self.shape[0]

    def rows_source(self) -> tuple[Any, int]:
        return self.source, self.j


class _Draws:
    """The ``draw`` column (``np.arange(n)``), its rows made when read: the writer holds no
    whole column during the simulation."""

    def __init__(self, n: int) -> None:
        self.dtype = np.arange(0).dtype
        self.shape = (n,)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key: slice) -> np.ndarray:
        start, stop, step = key.indices(self.shape[0])
        return np.arange(start, stop, step)


class _Derived:
    """``outcomes.npv`` or ``outcomes.bcr`` (:class:`~mkba.engine.Outcomes`), computed a block
    of rows at a time when read (element by element the same operations, so the same
    numbers)."""

    def __init__(self, outcomes: Outcomes, kind: str) -> None:
        self._b, self._c = outcomes.benefits, outcomes.costs
        self._kind = kind
        self.shape = self._b.shape
        self.dtype = np.dtype(np.float64)

    def __getitem__(self, key: Any) -> LazyColumn:
        rows, j = key
        if rows != slice(None):
            raise TypeError(f"only whole columns of a derived outcome, not {key!r}")
        return LazyColumn(self, int(j))

    def read_rows(self, lo: int, hi: int, out: np.ndarray) -> None:
        b, c = self._b[lo:hi], self._c[lo:hi]
        if self._kind == "npv":
            np.subtract(b, c, out=out)  # Outcomes.npv: benefits - costs
            return
        with np.errstate(divide="ignore", invalid="ignore"):  # Outcomes.bcr
            out[...] = np.where(c > 0, b / c, np.nan)


class _PendingOutcomes(Outcomes):
    """A run's outcome arrays before they are filled: the arrays themselves, with ``npv`` and
    ``bcr`` read later, a row group at a time (:class:`_Derived`)."""

    @property
    def npv(self) -> Any:
        return _Derived(self, "npv")

    @property
    def bcr(self) -> Any:
        return _Derived(self, "bcr")


class DrawsWriter:
    """``draws.parquet`` written into ``folder`` on a thread of its own: :func:`mkba.output.
    write_columns` of ``columns`` in row groups of ``group_rows`` (its further keywords in
    ``options``), started on entering the block (or by :meth:`start`). :meth:`wait` waits for
    it and raises its error. Leaving the block on an error stops the writer (at its next row
    group; ``cancel``, a :class:`threading.Event` the caller may share) and waits for it, so
    that the folder can be removed. ``seconds`` (its wall time), ``cpu`` (``cpu_s``, from
    :func:`~mkba.output.write_columns`) and ``native_ids`` (its thread's and its disk
    writer's system ids) once it has run; ``error``: what it raised, if anything."""

    def __init__(
        self,
        folder: Path,
        columns: dict[str, Any],
        group_rows: int,
        *,
        cancel: threading.Event | None = None,
        **options: Any,
    ) -> None:
        self._columns = columns
        self._folder = folder
        self._group_rows = group_rows
        self._options = options
        self._cancel = threading.Event() if cancel is None else cancel
        self._thread = threading.Thread(target=self._write, name="mkba-draws", daemon=True)
        self.error: BaseException | None = None
        self.seconds = math.nan
        self.cpu: dict[str, float] = {}
        self.native_ids: list[int] = []

    def _write(self) -> None:
        self.native_ids.append(threading.get_native_id())
        t = time.perf_counter()
        try:
            write_columns(
                self._folder,
                "draws",
                self._columns,
                group_rows=self._group_rows,
                cancel=self._cancel,
                timings=self.cpu,
                native_ids=self.native_ids,
                **self._options,
            )
        except BaseException as e:  # handed to the main thread by wait()
            self.error = e
        finally:
            self._columns = {}
            self.seconds = time.perf_counter() - t

    def start(self) -> None:
        self._thread.start()

    def cpu_so_far(self) -> float:
        """CPU seconds its threads have used until now (:func:`mkba.output.thread_cpu_s`, while
        it writes, or after: once it has ended, its own total)."""
        now = thread_cpu_s(list(self.native_ids))
        if not self._thread.is_alive() and "cpu_s" in self.cpu:
            return self.cpu["cpu_s"]
        return now

    def wait(self) -> None:
        self._thread.join()
        if self.error is not None:
            raise self.error

    def cancel(self) -> None:
        """Stop the writer (at its next row group) and wait for it."""
        self._cancel.set()
        if self._thread.is_alive():
            self._thread.join()

    def __enter__(self) -> DrawsWriter:
        self.start()
        return self

    def __exit__(self, kind: Any, *exc: Any) -> None:
        if kind is not None:
            self.cancel()
        self._thread.join()


class DrawsStream:
    """``draws.parquet`` of a run written into ``folder`` while the run is simulated, on a
    thread of its own (see the module's description).

    Use: make it, pass it as the simulation's ``on_samples`` (each chunk's sampled values, in
    order) and :meth:`irr_done` as the IRR's ``also`` (rows whose IRR is final, in order),
    then :meth:`start` with the outcome arrays the simulation fills and the IRR's arrays
    (:attr:`mkba.decide.irr.IrrAlongside.filling`), before the first chunk. :meth:`wait` waits
    for the file and raises the writer's error; leaving the ``with`` block on an error stops
    the writer. ``seconds``, ``cpu``, :meth:`cpu_so_far` as :class:`DrawsWriter`'s;
    ``spilled_groups``: the row groups whose sampled values went through the temporary file.
    """

    def __init__(
        self,
        folder: Path,
        model: Model,
        draws: int,
        chunk_size: int,
        group_rows: int,
        *,
        seed: int,
        sampler: str,
        areas: bool = True,
        buffers: int | None = None,
    ) -> None:
        self._folder = folder
        self._model = model
        self._chunk_size = chunk_size
        self._seed, self._sampler = seed, sampler
        self._areas = areas
        self.shape = (int(draws), len(model.uncertain))
        self.dtype = np.dtype(np.float64)
        self.group_rows = int(group_rows)
        self._max_buffers = max(1, PARAM_GROUPS if buffers is None else int(buffers))
        self._buffers: dict[int, np.ndarray] = {}  # row group -> its sampled values (rows x U)
        self._free: list[np.ndarray] = []
        self._made = 0
        self._spill: SpilledRows | None = None
        self._spilled: set[int] = set()
        self._params_hi = 0  # rows 0 .. _params_hi - 1 have their sampled values here
        self._irr_hi = 0  # rows 0 .. _irr_hi - 1 have their outcomes and IRR final
        self._cond = threading.Condition()
        self._cancel = threading.Event()
        self._writer: DrawsWriter | None = None

    @property
    def spilled_groups(self) -> int:
        return len(self._spilled)

    @property
    def seconds(self) -> float:
        return self._writer.seconds if self._writer is not None else math.nan

    @property
    def cpu(self) -> dict[str, float]:
        return self._writer.cpu if self._writer is not None else {}

    # --- fed by the simulation --------------------------------------------------------------

    def __call__(self, lo: int, samples: np.ndarray) -> None:
        """Rows ``lo:lo + len(samples)`` of the sampled values (a chunk, the chunks in order;
        valid during the call only), into their row groups' buffers, or into the temporary
        file for a row group that found no free buffer when its first rows came."""
        hi = lo + len(samples)
        a = lo
        while a < hi:
            g = a // self.group_rows
            g0 = g * self.group_rows
            b = min(hi, g0 + self.group_rows)
            with self._cond:
                failed = self._writer is not None and self._writer.error is not None
                if failed or self._cancel.is_set():
                    return  # the file will not be written: nothing to keep
                buf = self._buffers.get(g)
                if buf is None and g not in self._spilled:
                    if self._free:
                        buf = self._free.pop()
                    elif self._made < self._max_buffers:  # a row group's columns, transposed
                        buf = mapped((self.shape[1], min(self.group_rows, self.shape[0])))
                        self._made += 1
                    if buf is None:
                        self._spilled.add(g)
                    else:
                        self._buffers[g] = buf
            if buf is not None and samples.strides[0] == samples.itemsize:
                # column-major (the simulation's layout): one contiguous copy a column
                buf[:, a - g0 : b - g0] = samples[a - lo : b - lo].T
            elif buf is not None:  # transposed here, while the chunk is in the cache
                for r in range(a, b, TRANSPOSE_ROWS):
                    e = min(b, r + TRANSPOSE_ROWS)
                    buf[:, r - g0 : e - g0] = samples[r - lo : e - lo].T
            else:
                if self._spill is None:
                    self._spill = SpilledRows(*self.shape)
                self._spill.write_rows(a, samples[a - lo : b - lo])
            with self._cond:
                self._params_hi = b
                self._cond.notify_all()
            a = b

    def irr_done(self, lo: int, hi: int) -> None:
        """Rows ``lo:hi`` have their outcomes and IRR final (called in order of the rows)."""
        with self._cond:
            self._irr_hi = max(self._irr_hi, hi)
            self._cond.notify_all()

    # --- the sampled values, read by the writer (mkba.output.RowGroups) ---------------------

    def column(self, j: int) -> LazyColumn:
        return LazyColumn(self, j)

    def columns_view(self, lo: int, hi: int) -> np.ndarray | None:
        """Rows ``lo:hi`` (within one row group) held in memory, transposed (``U x (hi - lo)``,
        each column's values contiguous), or None (they are in the temporary file)."""
        g = lo // self.group_rows
        with self._cond:
            buf = self._buffers.get(g)
        g0 = g * self.group_rows
        return None if buf is None else buf[:, lo - g0 : hi - g0]

    def read_rows(self, lo: int, hi: int, out: np.ndarray) -> None:
        """Rows ``lo:hi`` into ``out`` (``(hi - lo) x U``): from the row group's buffer or the
        temporary file."""
        view = self.columns_view(lo, hi)
        if view is not None:
            out[...] = view.T
        elif self._spill is not None:
            self._spill.read_rows(lo, hi, out)
        else:
            raise ValueError(f"rows {lo}:{hi} of the sampled values are not here")

    # --- the writer ---------------------------------------------------------------------------

    def start(self, outcomes: Outcomes, irr: IrrResult) -> None:
        """Start writing: ``outcomes`` are the arrays the simulation fills and ``irr`` the
        IRR's (their rows final as :meth:`irr_done` reports)."""
        pending = _PendingOutcomes(**outcomes.fields())
        stand_in = Run(
            model=self._model,
            outcomes=pending,
            draws=self.shape[0],
            seed=self._seed,
            sampler=self._sampler,
            chunk_size=self._chunk_size,
            samples=None,
            spilled=self,  # type: ignore[arg-type]  # the sampled values' source, read like a SpilledRows (column(j))
        )
        object.__setattr__(stand_in, "_irr", irr)  # results.run_irr: these arrays
        from mkba import results

        columns = results.draws_columns(stand_in, areas=self._areas)
        if "draw" in columns:  # np.arange(n): the same values, a row group at a time
            columns["draw"] = _Draws(self.shape[0])  # type: ignore[assignment]  # sliced like an array
        self._writer = DrawsWriter(
            self._folder,
            columns,
            self.group_rows,
            cancel=self._cancel,
            ready=self._ready,
            written=self._written,
            direct_buffer=DIRECT_BUFFER,
            empty=mapped,
        )
        self._writer.start()

    def _ready(self, lo: int, hi: int) -> None:
        with self._cond:
            while not self._cancel.is_set() and (self._params_hi < hi or self._irr_hi < hi):
                self._cond.wait()
        if self._cancel.is_set():
            raise WriteCancelledError("draws.parquet")

    def _written(self, lo: int, hi: int) -> None:
        with self._cond:
            buf = self._buffers.pop(lo // self.group_rows, None)
            if buf is not None and self._params_hi < self.shape[0]:
                self._free.append(buf)  # for a later row group (else let go)
            if self._params_hi >= self.shape[0]:
                self._free.clear()

    def cpu_so_far(self) -> float:
        """CPU seconds its threads have used until now (:meth:`DrawsWriter.cpu_so_far`)."""
        return self._writer.cpu_so_far() if self._writer is not None else 0.0

    def wait(self) -> None:
        if self._writer is None:
            raise RuntimeError("draws.parquet's writer was not started")
        self._writer.wait()

    def cancel(self) -> None:
        """Stop the writer (at its next row group) and wait for it; nothing is kept."""
        with self._cond:
            self._cancel.set()
            self._cond.notify_all()
        if self._writer is not None:
            self._writer.cancel()

    def __enter__(self) -> DrawsStream:
        return self

    def __exit__(self, kind: Any, *exc: Any) -> None:
        try:
            if kind is not None or self._writer is None:
                self.cancel()
            else:
                self._writer.wait()
        finally:
            with self._cond:
                self._buffers.clear()
                self._free.clear()
                spill, self._spill = self._spill, None
            if spill is not None:
                spill.close()
