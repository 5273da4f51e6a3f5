"""Per-draw matrices kept in a temporary file instead of memory (large runs, issue 17).

A run of a million draws holds about 0.69 GB of sampled parameter values (86 uncertain
parameters of the reference) that are needed only after the simulation, a block of rows at a
time: for the implied physical effects (rows of a chunk) and for ``draws.parquet`` (rows of a
row group). :class:`SpilledRows` writes them to an unnamed temporary file as the chunks are
computed and reads blocks of rows back with ``pread``; the file is never memory-mapped, so its
pages never count in the process's resident memory, and it disappears when closed or when the
process ends. The values read back are the values written, bit for bit.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

import numpy as np

SPILL_BYTES = 256 * 2**20
"""Sampled values above this size are spilled by ``mkba run`` (about 390,000 draws of the
reference); smaller runs keep them in memory as before."""


class SpilledRows:
    """A ``rows x cols`` float64 matrix in a temporary file, written and read by blocks of rows.

    ``m[lo:hi]`` reads rows ``lo:hi`` (a new array), ``m[lo:hi, j]`` a column of them,
    ``m.column(j)`` a lazy column for :func:`mkba.output.write_columns`. The last block read is
    kept, so that the columns of one row group share a single read.
    """

    def __init__(self, rows: int, cols: int, folder: str | os.PathLike[str] | None = None) -> None:
        self.shape = (int(rows), int(cols))
        self.dtype = np.dtype(np.float64)
        self._row_bytes = self.shape[1] * self.dtype.itemsize
        # closed by close() or when the matrix is collected: no context manager can span a run
        self._file = tempfile.TemporaryFile(prefix="mkba-samples-", dir=folder)  # noqa: SIM115
        self._file.truncate(self.shape[0] * self._row_bytes)
        self._cache: tuple[int, int, np.ndarray] | None = None

    @property
    def ndim(self) -> int:
        return 2

    def __len__(self) -> int:
        return self.shape[0]

    def write_rows(self, lo: int, block: np.ndarray) -> None:
        """Write ``block`` (``k x cols``) as rows ``lo:lo + k``."""
        block = np.ascontiguousarray(block, dtype=self.dtype)
        if block.ndim != 2 or block.shape[1] != self.shape[1] or lo + block.shape[0] > len(self):
            raise ValueError(f"block {block.shape} does not fit rows {lo}.. of {self.shape}")
        data = memoryview(block).cast("B")  # type: ignore[arg-type]  # ndarray has the buffer protocol; numpy's stubs do not say so
        off = lo * self._row_bytes
        while data:
            n = os.pwrite(self._file.fileno(), data, off)
            data, off = data[n:], off + n
        self._cache = None

    def rows(self, lo: int, hi: int) -> np.ndarray:
        """Rows ``lo:hi`` (clipped to the matrix), read from the file."""
        lo, hi = max(0, lo), min(len(self), hi)
        if self._cache is not None and self._cache[:2] == (lo, hi):
            return self._cache[2]
        out = np.empty((max(0, hi - lo), self.shape[1]), dtype=self.dtype)
        self.read_rows(lo, hi, out)
        out.flags.writeable = False  # shared by the columns of one block
        self._cache = (lo, hi, out)
        return out

    def read_rows(self, lo: int, hi: int, out: np.ndarray) -> None:
        """Read rows ``lo:hi`` into ``out`` (a C-ordered ``(hi - lo) x cols`` array, e.g. a
        buffer kept for the next block; nothing is cached)."""
        if not (0 <= lo <= hi <= len(self)) or out.shape != (hi - lo, self.shape[1]):
            raise ValueError(f"rows {lo}:{hi} of {self.shape} do not fit {out.shape}")
        if not out.flags.c_contiguous or out.dtype != self.dtype:
            raise ValueError("read_rows needs a C-ordered float64 array")
        view = memoryview(out).cast("B")  # type: ignore[arg-type]  # ndarray has the buffer protocol; numpy's stubs do not say so
        off = lo * self._row_bytes
        while view:
            n = os.preadv(self._file.fileno(), [view], off)
            if n <= 0:
                raise OSError("short read from the samples file")
            view, off = view[n:], off + n

    def __getitem__(self, key: Any) -> np.ndarray:
        if isinstance(key, slice) and key.step in (None, 1):
            start, stop, _ = key.indices(len(self))
            return self.rows(start, stop)
        if (
            isinstance(key, tuple)
            and len(key) == 2
            and isinstance(key[0], slice)
            and key[0].step in (None, 1)
        ):
            start, stop, _ = key[0].indices(len(self))
            return self.rows(start, stop)[:, key[1]]
        raise TypeError(f"SpilledRows supports row slices only, not {key!r}")

    def column(self, j: int) -> SpilledColumn:
        return SpilledColumn(self, j)

    def close(self) -> None:
        self._cache = None
        self._file.close()

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        """The whole matrix in memory (for small runs and tests)."""
        whole = np.array(self.rows(0, len(self)))
        return whole if dtype is None else whole.astype(dtype)


class SpilledColumn:
    """Column ``j`` of a :class:`SpilledRows`, read a block of rows at a time."""

    def __init__(self, parent: SpilledRows, j: int) -> None:
        self.parent = parent
        self.j = j
        self.dtype = parent.dtype
        self.shape = (len(parent),)

    def __len__(self) -> int:
        return len(self.parent)

    def __getitem__(self, key: slice) -> np.ndarray:
        return self.parent[key, self.j]

    def rows_source(self) -> tuple[SpilledRows, int]:
        """``(matrix, j)``: read with the other columns of the matrix, a block of rows at a time
        (see :class:`mkba.output.RowGroups`)."""
        return self.parent, self.j

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        col = np.array(self.parent.rows(0, len(self.parent))[:, self.j])
        return col if dtype is None else col.astype(dtype)
