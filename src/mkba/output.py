"""Atomic writes and run directories.

Every file is written to a temporary name in the same folder, flushed and fsync'ed, then
renamed over its final name, so a reader never sees a half-written file under a final name.
A run directory is assembled under a temporary name and renamed into place when complete;
its ``manifest.json`` is written last. An interrupted run leaves only ``*.partial-*`` folders.
The folder holding a file is fsync'ed after the rename, except inside a run directory being
assembled: there its entries are fsync'ed once, before it is renamed into place (the same
guarantee: every file's data and every name are on disk before the directory appears).
The large per-draw table is written past the page cache (:class:`DirectFile`), then fsync'ed
and renamed likewise.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import json
import math
import os
import platform
import shutil
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from mkba.rowtable import RowTable


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


_SYNCED_LATER: set[Path] = set()
"""Temporary run-directory folders (:func:`run_directory`) whose entries are fsync'ed once,
before the folder is renamed into place, instead of after every file written into them."""


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temp file in the same folder, fsync, rename)."""
    with atomic_writer(path) as fh:
        fh.write(data)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def json_default(x: Any) -> Any:
    """NumPy scalars and arrays, and paths, in a JSON document (``json.dumps(default=...)``)."""
    import numpy as np  # only for documents that hold NumPy values (loaded by then)

    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.floating):
        return float(x)
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, Path):
        return str(x)
    raise TypeError(f"not JSON serialisable: {type(x)}")


def _clean(x: Any) -> Any:
    """Replace NaN and infinities (not valid JSON) by None, recursively."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_clean(v) for v in x]
    return x


def to_json(doc: Any) -> str:
    return json.dumps(_clean(doc), indent=2, default=json_default, ensure_ascii=False) + "\n"


def write_json(path: Path, doc: Any) -> None:
    atomic_write_text(path, to_json(doc))


PARQUET_OPTIONS: dict[str, Any] = {"compression": "snappy", "write_statistics": True}
"""Parquet options of every table. Float columns are written without dictionary encoding: on
random draws a dictionary never pays off, costs most of the encoding time and made the file
larger than the raw data (issue 17); text columns keep it. Per-draw tables
(:func:`write_columns`) compress each float column only where it pays
(:func:`column_compression`)."""

PARQUET_GROUP_ROWS = 65_536
"""About this many rows per Parquet row group of a per-draw table (whole chunks)."""


COMPRESS_PROBE_ROWS = 8192
"""Rows of a float column that :func:`column_compression` compresses to decide."""

COMPRESS_BELOW = 0.9
"""A float column of a per-draw table is compressed when its first rows shrink below this share
of their size."""


def column_compression(schema: Any, first: list[Any]) -> dict[str, str]:
    """Each column's Parquet compression for a per-draw table (:func:`write_columns`), from its
    first values ``first`` (1-D contiguous NumPy arrays, the first row group).

    Snappy makes random draws (most float columns) slightly larger, at a cost (issue 17: 524,636
    against 524,594 bytes a column chunk; ~0.1 CPU-s per 1.4 GB), so a float column is
    compressed only where its first :data:`COMPRESS_PROBE_ROWS` values shrink below
    :data:`COMPRESS_BELOW` of their size (a constant or mostly repeated column); other columns
    keep :data:`PARQUET_OPTIONS`' codec. The values read back are the same either way."""
    import numpy as np
    import pyarrow as pa

    codec = PARQUET_OPTIONS["compression"]
    out = {}
    for f, values in zip(schema, first, strict=True):
        probe = np.ascontiguousarray(values[:COMPRESS_PROBE_ROWS])
        if not pa.types.is_floating(f.type) or not probe.size:
            out[f.name] = codec
            continue
        raw = memoryview(probe).cast("B")  # type: ignore[arg-type]  # ndarray has the buffer protocol; numpy's stubs do not say so
        small = pa.compress(raw, codec=codec, asbytes=False).size < COMPRESS_BELOW * raw.nbytes
        out[f.name] = codec if small else "none"
    return out


def _dictionary_columns(schema: Any) -> list[str]:
    import pyarrow as pa

    return [f.name for f in schema if not pa.types.is_floating(f.type)]


@contextlib.contextmanager
def atomic_writer(path: Path) -> Iterator[Any]:
    """A binary file object that becomes ``path`` atomically when the block completes (temp
    file in the same folder, fsync, rename); removed on error."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes files private (0600); use the usual mode
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if path.parent not in _SYNCED_LATER:
        _fsync_dir(path.parent)


PYARROW_WRITER_DEFAULTS: dict[str, dict[str, Any]] = {
    "26.0.1": {
        "version": "2.6",
        "use_deprecated_int96_timestamps": False,
        "coerce_timestamps": None,
        "data_page_size": None,
        "allow_truncated_timestamps": False,
        "compression_level": None,
        "use_byte_stream_split": False,
        "column_encoding": None,
        "writer_engine_version": "V2",
        "data_page_version": "1.0",
        "use_compliant_nested_type": True,
        "encryption_properties": None,
        "write_batch_size": None,
        "dictionary_pagesize_limit": None,
        "store_schema": True,
        "write_page_index": False,
        "write_page_checksum": False,
        "sorting_columns": None,
        "store_decimal_as_integer": False,
        "write_time_adjusted_to_utc": False,
        "max_rows_per_page": None,
        "bloom_filter_options": None,
        "use_content_defined_chunking": False,
    }
}
"""By pyarrow version: every argument ``pyarrow.parquet.write_table(table, file_object,
use_dictionary=..., compression=..., write_statistics=...)`` passes to the compiled writer
(``pyarrow._parquet.ParquetWriter``) besides those three, as that version's
``pyarrow.parquet.ParquetWriter`` passes them (read from its source). See
:func:`write_parquet_table`."""


def write_parquet_table(table: Any, fh: Any, **options: Any) -> None:
    """``pyarrow.parquet.write_table(table, fh, **options)`` (``fh`` an open binary file;
    ``options``: ``use_dictionary``, ``compression``, ``write_statistics``), the same bytes,
    without importing ``pyarrow.parquet`` where the installed pyarrow is one of
    :data:`PYARROW_WRITER_DEFAULTS`: the compiled writer it wraps is called with the arguments
    the wrapper would pass. Importing ``pyarrow.parquet`` (its filesystem layer and ``ssl``: 24
    modules after pyarrow in a fresh process, 10 of them new in a run) was 0.02-0.045 CPU-s of
    a default ``mkba run``, which writes three small tables;
    ``draws.parquet`` is written by :mod:`mkba.pqwrite`. Another pyarrow: the wrapper itself."""
    import pyarrow as pa

    defaults = PYARROW_WRITER_DEFAULTS.get(pa.__version__)
    if defaults is None or "pyarrow.parquet" in sys.modules:
        import pyarrow.parquet as pq

        pq.write_table(table, fh, **options)
        return
    from pyarrow import _parquet

    writer = _parquet.ParquetWriter(fh, table.schema, **options, **defaults)
    try:
        writer.write_table(table, row_group_size=None)
    finally:
        writer.close()


def write_table(
    folder: Path, name: str, df: pd.DataFrame | RowTable, *, csv: bool = True
) -> list[str]:
    """Write a data frame, or a :class:`~mkba.rowtable.RowTable` (the same bytes, without
    pandas), as Parquet (and CSV), atomically; return the file names."""
    import pyarrow as pa

    from mkba.rowtable import RowTable

    if isinstance(df, RowTable) and df.needs_pandas():
        df = df.to_pandas()
    names = []
    if isinstance(df, RowTable):
        table = df.to_arrow()
        text = df.to_csv(neutralise_text) if csv else ""
    else:
        table = pa.Table.from_pandas(df, preserve_index=False)
        text = neutralise_formulas(df).to_csv(index=False) if csv else ""
    with atomic_writer(folder / f"{name}.parquet") as fh:
        write_parquet_table(
            table, fh, use_dictionary=_dictionary_columns(table.schema), **PARQUET_OPTIONS
        )
    names.append(f"{name}.parquet")
    if csv:
        atomic_write_text(folder / f"{name}.csv", text)
        names.append(f"{name}.csv")
    return names


def write_columns(
    folder: Path,
    name: str,
    columns: dict[str, Any],
    *,
    group_rows: int = PARQUET_GROUP_ROWS,
    cancel: Any = None,
    timings: dict[str, float] | None = None,
    native_ids: list[int] | None = None,
    ready: Any = None,
    written: Any = None,
    direct_buffer: int | None = None,
    empty: Any = None,
) -> list[str]:
    """Write equally long 1-D NumPy columns (views are fine, or lazy columns with ``dtype``,
        ``len`` and row slicing) as one Parquet file, atomically, one row group at a time: only one
        row group is ever copied, never the whole table.

        The columns of a row group are made contiguous with as few copies as possible (see
        :class:`RowGroups`): a contiguous column is used as it is, the columns of one 2-D array
        (e.g. every perspective's costs) are transposed a block at a time into a buffer kept for
        the next row group. Numeric columns are then written by :mod:`mkba.pqwrite` (each value
        copied once more, into :class:`DirectFile`'s buffer); a table with another column type
        goes through pyarrow's writer. ``cancel`` (a :class:`threading.Event`, for a writer on
        another thread): when set, the writing stops with :class:`WriteCancelledError` and nothing is
        left behind. ``timings`` (a dict) receives ``cpu_s``: the CPU seconds spent on the file by
        the calling thread and by :class:`DirectFile`'s writing thread. ``native_ids`` (a list) receives
    the system thread id of that writing thread when it starts (:func:`thread_cpu_s`).
    ``ready(lo, hi)``, when given, is called before rows ``lo:hi`` of the columns are read (a
    row group, in order; first for the first row group) and returns once they hold their final
    values (e.g. :class:`mkba.drawstream.DrawsStream`: a file written while a run is being
    simulated); ``written(lo, hi)`` after that row group has been handed to the file.
    ``direct_buffer``: the size of :class:`DirectFile`'s buffers (default
    :data:`DIRECT_BUFFER`); ``empty(shape, dtype)``: makes the writer's buffers (default
    ``np.empty``; e.g. :func:`mkba.drawstream.mapped`)."""
    import time

    import numpy as np
    import pyarrow as pa

    from mkba import pqwrite
    from mkba.rowtable import arrow_array

    n = len(next(iter(columns.values()))) if columns else 0
    # a column's dtype without making it an array (a lazy column, e.g. mkba.spill, stays lazy)
    dtypes = [v.dtype if hasattr(v, "dtype") else np.asarray(v).dtype for v in columns.values()]
    schema = pa.schema([(k, pa.from_numpy_dtype(d)) for k, d in zip(columns, dtypes, strict=True)])
    cpu0 = time.thread_time()
    groups = RowGroups(list(columns.values()), max(group_rows, 1), empty=empty)
    if ready is not None:
        ready(0, min(n, max(group_rows, 1)))
    first = groups.rows(0, max(group_rows, 1))
    codecs = column_compression(schema, first)
    if pqwrite.supported(dtypes, codecs.values()):  # numbers: pages written here, copied once
        with (
            atomic_writer(folder / f"{name}.parquet") as fh,
            DirectFile(fh, direct_buffer, native_ids=native_ids, empty=empty) as sink,
        ):
            writer = pqwrite.ColumnsWriter(sink, schema, dtypes, codecs, created_by=_created_by())
            for lo in range(0, n, max(group_rows, 1)):
                if cancel is not None and cancel.is_set():
                    raise WriteCancelledError(f"{name}.parquet")
                hi = min(n, lo + group_rows)
                if ready is not None and lo:
                    ready(lo, hi)
                got = first if lo == 0 else groups.rows(lo, hi)
                writer.write_row_group(got)
                del got  # the buffers are refilled for the next row group
                first = []
                if written is not None:
                    written(lo, hi)
            if cancel is not None and cancel.is_set():
                raise WriteCancelledError(f"{name}.parquet")
            writer.close()
        if timings is not None:
            timings["cpu_s"] = time.thread_time() - cpu0 + sink.io_cpu_s
        return [f"{name}.parquet"]
    import pyarrow.parquet as pq  # (numbers only are written by mkba.pqwrite)

    options = {**PARQUET_OPTIONS, "compression": codecs}
    with (
        atomic_writer(folder / f"{name}.parquet") as fh,
        DirectFile(fh, direct_buffer, native_ids=native_ids, empty=empty) as sink,
        pq.ParquetWriter(
            sink, schema, use_dictionary=_dictionary_columns(schema), **options
        ) as writer,
    ):
        for lo in range(0, max(n, 1), max(group_rows, 1)):
            if cancel is not None and cancel.is_set():
                raise WriteCancelledError(f"{name}.parquet")
            hi = min(n, lo + group_rows)
            if ready is not None and lo:
                ready(lo, hi)
            got = first if lo == 0 else groups.rows(lo, hi)
            arrays = [arrow_array(a) for a in got]  # pa.array imports pandas
            writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
            del arrays, got  # the buffers are refilled for the next row group
            first = []
            if written is not None:
                written(lo, hi)
    if timings is not None:
        timings["cpu_s"] = time.thread_time() - cpu0 + sink.io_cpu_s
    return [f"{name}.parquet"]


def _created_by() -> str:
    """``created_by`` of the Parquet files written by :mod:`mkba.pqwrite`."""
    import mkba

    return f"mkba version {mkba.__version__}"


def thread_cpu_s(native_ids: list[int]) -> float:
    """CPU seconds (user + system, 10 ms ticks) used so far by the threads of this process with
    these system thread ids (``threading.get_native_id()``), read from ``/proc/self/task``;
    an id with no entry there (a thread that has ended and been reaped) counts 0, so call it
    while they run; off Linux the result is NaN."""
    if not os.path.isdir("/proc/self/task"):
        return math.nan
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for tid in native_ids:
        try:
            with open(f"/proc/self/task/{tid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        except OSError:
            return math.nan
        total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime (fields 14, 15)
    return total


DIRECT_ALIGN = 4096
"""Alignment of the memory, file offsets and sizes of :class:`DirectFile`'s writes (a multiple
of every disk's logical block size that Linux accepts for ``O_DIRECT``)."""

DIRECT_BUFFER = 8 * 2**20
"""Bytes gathered by :class:`DirectFile` before one write to the disk."""


def _set_direct(fd: int, on: bool) -> bool:
    """Turn ``O_DIRECT`` on or off for ``fd``; False when the system or file system has no
    such mode (then the file is written through the page cache, as any other)."""
    import fcntl

    flag = getattr(os, "O_DIRECT", 0)
    if not flag:
        return False
    try:
        flags = fcntl.fcntl(fd, fcntl.F_GETFL)
        fcntl.fcntl(fd, fcntl.F_SETFL, flags | flag if on else flags & ~flag)
    except OSError:
        return False
    return on


class DirectFile:
    """A binary file object (``write`` and ``tell``, for pyarrow) over an open file (e.g. an
    :func:`atomic_writer`'s, at offset 0, nothing written yet) that writes past the page cache
    (Linux ``O_DIRECT``), for the block it is used in.

    The bytes are gathered into aligned buffers of :data:`DIRECT_BUFFER` bytes; each full
    buffer is written to the disk directly, on a thread of its own while the next one is
    filled, so the kernel neither copies the data into its cache nor writes it back in the
    final fsync (a 1.4 GB ``draws.parquet`` cost the process 0.5-3 s of system CPU that way,
    issue 17). The last partial buffer is written normally on leaving the block. The file's
    bytes are the bytes written, in order; where ``O_DIRECT`` is missing or refused (another
    system, a file system without it), the same bytes go through the page cache. Durability is
    the caller's fsync, as before (:func:`atomic_writer`)."""

    def __init__(
        self,
        fh: Any,
        size: int | None = None,
        *,
        native_ids: list[int] | None = None,
        empty: Any = None,
    ) -> None:
        import numpy as np

        self._native_ids = native_ids  # receives the writing thread's system id

        if hasattr(fh, "flush"):
            fh.flush()
        self._fd = fh.fileno()
        size = DIRECT_BUFFER if size is None else size
        size = max(DIRECT_ALIGN, size - size % DIRECT_ALIGN)
        self._empty = np.empty if empty is None else empty  # makes the buffers
        self._spare = [self._aligned(np, size)]  # filled while the other one is written
        self._buf = self._aligned(np, size)
        self._view = memoryview(self._buf)  # the buffer being filled, as bytes
        self._size = size
        self._fill = 0
        self._pos = 0
        self._np = np
        self._pool: Any = None
        self._pending: Any = None  # the write of a full buffer, on the pool's thread
        self.io_cpu_s = 0.0
        """CPU seconds of the writes on the pool's thread."""
        self.direct = _set_direct(self._fd, True)

    def _aligned(self, np: Any, size: int) -> Any:
        raw = self._empty((size + DIRECT_ALIGN,), dtype=np.uint8)
        start = -raw.ctypes.data % DIRECT_ALIGN
        return raw[start : start + size]

    def __enter__(self) -> DirectFile:
        return self

    def __exit__(self, kind: Any, *exc: Any) -> None:
        try:
            if kind is None:
                self._wait()
                self._write_out(self._buf[: self._fill], final=True)
                self._fill = 0
            else:  # the file is not written once the block is left; the first error stays
                with contextlib.suppress(Exception):
                    self._wait()
        finally:
            if self._pool is not None:
                self._pool.shutdown()
            if self.direct:
                self.direct = _set_direct(self._fd, False)

    @property
    def closed(self) -> bool:
        return False

    def tell(self) -> int:
        return self._pos

    def flush(self) -> None:
        """Nothing: a buffer is written when full, the rest on leaving the block."""

    def write(self, data: Any) -> int:
        src = memoryview(data)
        if src.format != "B" or src.ndim != 1:
            src = src.cast("B")  # bytes, whatever the exporter's item type (C-contiguous)
        n, i, size = src.nbytes, 0, self._size
        while i < n:  # memoryview slices: one memcpy each, no NumPy call per write
            k = min(n - i, size - self._fill)
            self._view[self._fill : self._fill + k] = src[i : i + k]
            self._fill += k
            i += k
            if self._fill == size:
                self._hand_over()
        self._pos += n
        return n

    def _hand_over(self) -> None:
        """Write the full buffer on the pool's thread and go on filling a spare one."""
        from concurrent.futures import ThreadPoolExecutor

        self._wait()
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="mkba-direct")
        full = self._buf
        self._pending = self._pool.submit(self._write_timed, full)
        self._buf = self._spare.pop()
        self._view = memoryview(self._buf)
        self._spare.append(full)  # reused after the next hand-over's wait
        self._fill = 0

    def _wait(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()  # its error, if any, here

    def _write_timed(self, buf: Any) -> None:
        import threading
        import time

        if self._native_ids is not None and threading.get_native_id() not in self._native_ids:
            self._native_ids.append(threading.get_native_id())
        cpu = time.thread_time()
        try:
            self._write_out(buf, final=False)
        finally:
            self.io_cpu_s += time.thread_time() - cpu

    def _write_out(self, buf: Any, *, final: bool) -> None:
        """Write ``buf`` (a full buffer, or the last bytes when ``final``) at the file's end."""
        if final and self.direct and buf.size % DIRECT_ALIGN:
            self.direct = _set_direct(self._fd, False)  # the unaligned tail, normally
        view = memoryview(buf)
        while view:
            try:
                k = os.write(self._fd, view)
            except OSError as e:
                if not self.direct or e.errno != errno.EINVAL:
                    raise
                self.direct = _set_direct(self._fd, False)  # refused: through the page cache
                continue
            view = view[k:]
            if view and self.direct and k % DIRECT_ALIGN:
                self.direct = _set_direct(self._fd, False)


class WriteCancelledError(Exception):
    """A writer on another thread was told to stop (:func:`write_columns`'s ``cancel``)."""


TRANSPOSE_ROWS = 1024
"""Rows per step of a block transposition in :class:`RowGroups` (a step's rows stay in the
processor's cache while each of its columns is copied out)."""


READ_ROWS = 8 * TRANSPOSE_ROWS
"""Rows of a lazy source (:class:`mkba.spill.SpilledRows`) read at a time by
:class:`RowGroups` (a 5.6 MB buffer for the reference's 86 parameters, not a whole row
group's 45 MB)."""


class RowGroups:
    """Rows ``lo:hi`` of equally long 1-D columns, each as a contiguous array (the values of
    ``column[lo:hi]``, bit for bit), for :func:`write_columns`.

    - a column whose rows are contiguous (a 1-D array, a column of a column-major array): a
      view, no copy;
    - a strided column of a C-ordered array of the draws (``costs[:, p]``,
      ``stream[:, p, i]``): every column of that array is transposed at once, a few rows at a
      time, into a buffer, instead of one strided gather per column;
    - a lazy column with ``rows_source()`` (``(source, j)``, a source with
      ``read_rows(lo, hi, out)``, e.g. :class:`mkba.spill.SpilledColumn`): the source's rows
      are read into a buffer once per row group and transposed likewise; a source that also has
      ``columns_view(lo, hi)`` (its rows ``lo:hi`` already transposed, a ``width x (hi - lo)``
      array whose rows are contiguous, or None when it does not hold them so) is used as it
      is, with no read and no buffer;
    - anything else: ``np.ascontiguousarray(column[lo:hi])``.

    The arrays returned are valid until the next call (the buffers are reused)."""

    def __init__(self, columns: list[Any], group_rows: int, *, empty: Any = None) -> None:
        import numpy as np

        self.group_rows = group_rows
        self.n = len(columns[0]) if columns else 0
        self.plan: list[tuple[str, Any, int]] = []
        self.parents: dict[int, list[Any]] = {}  # id -> [2-D source, kind, buffers...]
        for v in columns:
            parent = _parent_of(v)
            if parent is not None:
                owner, j = parent
                flat = owner.reshape(owner.shape[0], -1)  # a view: the owner is C-ordered
                self.parents.setdefault(id(owner), [flat, "array", None, None])
                self.plan.append(("parent", id(owner), j))
                continue
            src = v.rows_source() if hasattr(v, "rows_source") else None
            if src is not None:
                source, j = src
                self.parents.setdefault(id(source), [source, "lazy", None, None])
                self.plan.append(("parent", id(source), j))
                continue
            self.plan.append(("plain", v, 0))
        self._np = np
        self._empty = np.empty if empty is None else empty  # makes the buffers

    def rows(self, lo: int, hi: int) -> list[Any]:
        """Rows ``lo:hi`` (clipped to the columns' length) of every column."""
        np = self._np
        hi = min(hi, self.n)
        m = max(0, hi - lo)
        blocks = {}
        for key, entry in self.parents.items():
            source, kind = entry[0], entry[1]
            held = getattr(source, "columns_view", None) if kind == "lazy" else None
            if held is not None:
                view = held(lo, hi)
                if view is not None:
                    blocks[key] = view
                    continue
            width = source.shape[1]
            if entry[2] is None or entry[2].shape[1] < m:  # made once (the first row group)
                entry[2] = self._empty((width, max(m, 1)), dtype=source.dtype)
                entry[3] = None
            out = entry[2][:, :m]
            step = READ_ROWS if kind == "lazy" else m
            for r in range(0, m, max(step, 1)):
                s = min(m, r + step)
                if kind == "lazy":  # rows read a few blocks at a time, into a buffer made once
                    if entry[3] is None:
                        rows_max = min(entry[2].shape[1], READ_ROWS)  # as many as the buffer
                        entry[3] = self._empty((rows_max, width), dtype=source.dtype)
                    rows = entry[3][: s - r]
                    source.read_rows(lo + r, lo + s, rows)
                else:
                    rows = source[lo + r : lo + s]
                for a in range(0, s - r, TRANSPOSE_ROWS):
                    b = min(s - r, a + TRANSPOSE_ROWS)
                    out[:, r + a : r + b] = rows[a:b].T
            blocks[key] = out
        got = []
        for kind, v, j in self.plan:
            if kind == "parent":
                got.append(blocks[v][j])
            else:
                got.append(np.ascontiguousarray(v[lo:hi]))
        return got


def _parent_of(v: Any) -> tuple[Any, int] | None:
    """``(a, j)`` when ``v`` is a strided column of the C-ordered array ``a`` that owns its
    memory, ``v == a.reshape(len(a), -1)[:, j]`` (e.g. ``stream[:, p, i]`` of ``stream``
    (n, P, S)); else None."""
    import numpy as np

    if not isinstance(v, np.ndarray) or v.ndim != 1 or v.flags.c_contiguous:
        return None
    base = v.base
    if (
        not isinstance(base, np.ndarray)
        or base.ndim < 2
        or not base.flags.c_contiguous
        or base.dtype != v.dtype
        or base.shape[0] != v.shape[0]
        or base.strides[0] != v.strides[0]
    ):
        return None
    width = base.size // base.shape[0]
    offset = v.__array_interface__["data"][0] - base.__array_interface__["data"][0]
    if offset % v.itemsize or not 0 <= offset // v.itemsize < width:
        return None
    return base, offset // v.itemsize


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
"""Characters that make a spreadsheet read a text cell as a formula (OWASP, CSV injection)."""


def neutralise_text(value: Any) -> Any:
    """A text cell that a spreadsheet would run as a formula, prefixed with ``'``; any other
    value unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def neutralise_formulas(df: pd.DataFrame) -> pd.DataFrame:
    """The table with every text cell neutralised (see :func:`neutralise_text`) for CSV:
    numbers stay numbers (a negative amount is not text), column names are text too. The
    Parquet file keeps the exact text."""
    import pandas as pd

    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col].dtype):
            out[col] = out[col].map(neutralise_text)
    out.columns = [neutralise_text(c) for c in out.columns]
    return out


def package_version(package: str) -> str:
    """A package's version: from the module when it is loaded, else from its installed
    metadata, so that recording it does not import it (SciPy alone takes about a second)."""
    mod = sys.modules.get(package)
    if mod is not None and hasattr(mod, "__version__"):
        return str(mod.__version__)
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:  # pragma: no cover - every one is a dependency
        return "not installed"


def versions() -> dict[str, str]:
    import mkba

    return {
        "mkba": mkba.__version__,
        "python": sys.version.split()[0],
        "numpy": package_version("numpy"),
        "scipy": package_version("scipy"),
        "numba": package_version("numba"),
        "pandas": package_version("pandas"),
        "platform": platform.platform(),
    }


_OLD_NAMES = itertools.count()
"""Numbers of the names under which :func:`run_directory` moves a replaced folder aside."""

_REMOVE_BESIDE = False
"""Whether a folder replaced by :func:`run_directory` is removed on a thread of its own
(:func:`remove_replaced_beside`) instead of before :func:`run_directory` returns."""

_REMOVING: list[tuple[threading.Thread, threading.Event]] = []
"""The threads removing replaced folders (:func:`_remove_old`) not yet joined, each with the
event it sets once it has listed its folder's files."""


def remove_replaced_beside() -> None:
    """From now on, remove the folder that :func:`run_directory` replaces on a thread of its
    own, which the process waits for before it ends (:func:`finish_removals`; the thread is
    not a daemon, so the interpreter's own exit waits for it too). For the console script's
    own process: removing the 1.4 GB ``draws.parquet`` of a replaced million-draw run kept the
    caller waiting 0.23-0.39 s on the disk (``unlink`` on the project machine's ext4, mounted
    with ``discard``) with next to no CPU, time that :func:`finish_removals` spends giving the
    heap's freed memory back meanwhile (benchmarks/README.md, "i27-mem"). The new folder is in
    place before the old one is removed, as before; only the caller no longer waits for it."""
    global _REMOVE_BESIDE
    _REMOVE_BESIDE = True


def _remove_old(old: Path) -> None:
    """Remove ``old``, a replaced run folder (already renamed aside): now, or on a thread of
    its own after :func:`remove_replaced_beside` (:func:`_remove_listed`)."""
    if not _REMOVE_BESIDE:
        shutil.rmtree(old, ignore_errors=True)
        return
    listed = threading.Event()
    thread = threading.Thread(target=_remove_listed, args=(old, listed), name="mkba-remove")
    thread.start()
    _REMOVING.append((thread, listed))


def _remove_listed(old: Path, listed: threading.Event) -> None:
    """Remove the folder ``old`` (errors ignored, as ``shutil.rmtree(old, ignore_errors=True)``):
    its files are listed first, then ``listed`` is set, then they are removed, then whatever is
    left with ``shutil.rmtree``. Listing a folder allocates from the C library's heap, which
    ``malloc_trim`` (:func:`finish_removals`) holds locked while it runs; removing a listed file
    does not, so the slow removal (the large file's) goes on while the heap is trimmed."""
    try:
        # a link is not followed (shutil.rmtree refuses one and leaves it, as before)
        linked = os.path.islink(old)
        files = (
            [] if linked else [e.path for e in os.scandir(old) if e.is_file(follow_symlinks=False)]
        )
    except OSError:
        files = []
    finally:
        listed.set()
    for path in files:
        with contextlib.suppress(OSError):
            os.unlink(path)
    shutil.rmtree(old, ignore_errors=True)


def finish_removals() -> None:
    """Wait for the threads removing replaced folders (:func:`remove_replaced_beside`). While
    one still runs (it mostly waits for the disk), the heap's freed memory is given back to the
    system first (:func:`mkba.memory.give_back_freed`, once each such thread has listed its
    files: see :func:`_remove_listed`): work that the process's exit would do after the wait
    otherwise (freeing the pages of a large run's 1.7 GB of heap)."""
    alive = [(t, listed) for t, listed in _REMOVING if t.is_alive()]
    if alive:
        for _, listed in alive:
            listed.wait(REMOVE_LISTED_WAIT)
        from mkba.memory import give_back_freed

        give_back_freed()
    while _REMOVING:
        _REMOVING.pop()[0].join()


REMOVE_LISTED_WAIT = 2.0
"""Seconds :func:`finish_removals` waits at most for a removing thread to list its files
before giving the heap back anyway."""


@contextlib.contextmanager
def run_directory(final: Path, run_id: str | None = None, *, force: bool = False) -> Iterator[Path]:
    """A temporary folder that becomes ``final`` when the block completes without error.

    An existing ``final`` is replaced only by the same run or with ``force`` (see
    :func:`mkba.paths.check_target`); a user's own folder or file is never replaced. After
    success, ``*.partial-*`` folders of ``final`` left by killed runs are removed.
    """
    from mkba.paths import check_target

    final = Path(final)
    check_target(final, run_id, force=force)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f"{final.name}.partial-", dir=final.parent))
    os.chmod(tmp, 0o777 & ~_UMASK)
    _SYNCED_LATER.add(tmp)  # every file is fsync'ed as written; the folder's entries once, below
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        _SYNCED_LATER.discard(tmp)
    _fsync_dir(tmp)
    old = None
    if final.exists():
        # a name of its own (the process id and a count): an earlier replacement of the same
        # folder by this process may still be being removed (:func:`_remove_old`)
        old = final.with_name(f"{final.name}.old-{os.getpid()}-{next(_OLD_NAMES)}")
        os.replace(final, old)
    os.replace(tmp, final)
    _fsync_dir(final.parent)
    if old is not None:
        _remove_old(old)
    for stale in final.parent.glob(f"{glob_escape(final.name)}.partial-*"):
        if stale.is_dir() and not stale.is_symlink():
            shutil.rmtree(stale, ignore_errors=True)


def glob_escape(name: str) -> str:
    """``name`` with the glob metacharacters ``* ? [`` taken literally."""
    return "".join(f"[{ch}]" if ch in "*?[" else ch for ch in name)
