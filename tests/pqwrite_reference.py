# main's src/mkba/pqwrite.py at e5d4c18: the writer before branch i25-pq, which encoded each
# column chunk's page header and footer entry with Thrift calls one by one.
# tests/test_pqwrite_bulk.py writes the same columns with both and compares the bytes.
# Verbatim below: the parts i25-pq changed (column_min_max, _Chunk, ColumnsWriter). The
# constants and helpers it left as they were (supported, Thrift, _levels, _page_header) are
# imported from mkba.pqwrite, where they are still the same code.
"""The draws.parquet writer before i25-pq (a test oracle; see the comment above)."""

from __future__ import annotations

import base64
from typing import Any

import numpy as np

from mkba.pqwrite import (  # unchanged since e5d4c18
    _CODECS,
    _OPTIONAL,
    _PLAIN,
    _RLE,
    _TYPES,
    MAGIC,
    PAGE_BYTES,
    Thrift,
    _levels,
    _page_header,
    supported,
)

__all__ = ["MAGIC", "PAGE_BYTES", "ColumnsWriter", "column_min_max", "supported"]


def column_min_max(values: np.ndarray) -> tuple[bytes, bytes] | None:
    """The column chunk statistics of ``values`` as Parquet stores them (little-endian, the
    column's width): minimum and maximum without NaN; a zero minimum is -0.0 and a zero maximum
    +0.0 (the Parquet format's rule for floats, as pyarrow's writer does); None when there is no
    value that is not NaN."""
    if not values.size:
        return None
    lo, hi = values.min(), values.max()
    if values.dtype.kind == "f":
        if lo != lo or hi != hi:  # a NaN: the others' extremes
            finite = values[values == values]
            if not finite.size:
                return None
            lo, hi = finite.min(), finite.max()
        if lo == 0:
            lo = -values.dtype.type(0.0)
        if hi == 0:
            hi = values.dtype.type(0.0)
    little = values.dtype.newbyteorder("<")
    return (
        np.array(lo, dtype=little).tobytes(),
        np.array(hi, dtype=little).tobytes(),
    )


class _Chunk:
    """What the footer records of one column chunk."""

    __slots__ = ("codec", "compressed", "count", "offset", "stats", "uncompressed")

    def __init__(self) -> None:
        self.offset = 0
        self.count = 0
        self.uncompressed = 0
        self.compressed = 0
        self.codec = 0
        self.stats: tuple[bytes, bytes] | None = None


class ColumnsWriter:
    """A Parquet file of equally long numeric columns written to ``sink`` (``write`` and
    ``tell``; e.g. :class:`mkba.output.DirectFile`), a row group per :meth:`write_row_group`,
    the footer on :meth:`close`.

    ``schema``: the Arrow schema (its field names and types; stored for readers as pyarrow
    stores it); ``dtypes``: the columns' NumPy dtypes (:func:`supported`); ``compression``:
    each column's codec by name, ``"none"`` or ``"snappy"`` (default ``"none"``)."""

    def __init__(
        self,
        sink: Any,
        schema: Any,
        dtypes: list[Any],
        compression: dict[str, str] | None = None,
        *,
        created_by: str,
    ) -> None:
        if not supported(dtypes):
            raise TypeError(f"columns of these types are not written here: {dtypes}")
        self._sink = sink
        self._names = [f.name for f in schema]
        self._dtypes = [np.dtype(d) for d in dtypes]
        codecs = compression or {}
        self._codecs = [_CODECS[codecs.get(name, "none")] for name in self._names]
        self._arrow_schema = base64.b64encode(schema.serialize().to_pybytes())
        self._created_by = created_by
        self._groups: list[tuple[int, list[_Chunk]]] = []
        self._rows = 0
        sink.write(MAGIC)

    def write_row_group(self, columns: list[np.ndarray]) -> None:
        """One row group of 1-D contiguous columns (in the schema's order, equally long)."""
        import pyarrow as pa

        if len(columns) != len(self._names):
            raise ValueError(f"{len(columns)} columns for a schema of {len(self._names)}")
        n = len(columns[0]) if columns else 0
        chunks = []
        for values, dtype, codec in zip(columns, self._dtypes, self._codecs, strict=True):
            if values.dtype != dtype or values.ndim != 1 or len(values) != n:
                raise ValueError(f"a column of {values.dtype} {values.shape}, not {dtype} ({n},)")
            values = np.ascontiguousarray(values)
            chunk = _Chunk()
            chunk.offset = self._sink.tell()
            chunk.count = n
            chunk.codec = codec
            chunk.stats = column_min_max(values)
            step = max(1, PAGE_BYTES // dtype.itemsize)
            for lo in range(0, n, step):
                page = values[lo : lo + step]
                levels = _levels(len(page))
                size = len(levels) + page.nbytes
                raw = memoryview(page).cast("B")  # type: ignore[arg-type]  # ndarray has the buffer protocol; numpy's stubs do not say so
                if codec:
                    body = pa.compress(levels + bytes(raw), codec="snappy", asbytes=True)
                    header = _page_header(len(page), size, len(body))
                    self._sink.write(header)
                    self._sink.write(body)
                    chunk.compressed += len(header) + len(body)
                else:
                    header = _page_header(len(page), size, size)
                    self._sink.write(header + levels)
                    self._sink.write(raw)
                    chunk.compressed += len(header) + size
                chunk.uncompressed += len(header) + size
            chunks.append(chunk)
        self._groups.append((n, chunks))
        self._rows += n

    def close(self) -> None:
        """Write the footer (the file's metadata, its length and the magic bytes)."""
        footer = self.footer()
        self._sink.write(footer)
        self._sink.write(len(footer).to_bytes(4, "little") + MAGIC)

    def footer(self) -> bytes:
        """The Thrift-encoded ``FileMetaData`` of the row groups written so far."""
        t = Thrift()
        t.begin()
        t.i32(1, 2)  # version (parquet-cpp writes 2 for its format versions 2.x)
        t.list(2, 12, 1 + len(self._names))  # schema: the root, then one leaf per column
        t.begin()
        t.binary(4, b"schema")
        t.i32(5, len(self._names))
        t.end()
        for name, dtype in zip(self._names, self._dtypes, strict=True):
            t.begin()
            t.i32(1, _TYPES[dtype])
            t.i32(3, _OPTIONAL)
            t.binary(4, name.encode("utf-8"))
            t.end()
        t.i64(3, self._rows)
        t.list(4, 12, len(self._groups))
        for ordinal, (n, chunks) in enumerate(self._groups):
            t.begin()
            t.list(1, 12, len(chunks))
            for name, dtype, chunk in zip(self._names, self._dtypes, chunks, strict=True):
                self._column_chunk(t, name, dtype, chunk)
            t.i64(2, sum(c.uncompressed for c in chunks))  # total_byte_size
            t.i64(3, n)
            t.i64(5, chunks[0].offset if chunks else 0)  # file_offset
            t.i64(6, sum(c.compressed for c in chunks))  # total_compressed_size
            t.field(7, 4)  # ordinal (i16)
            t.varint(t.zigzag(ordinal))
            t.end()
        t.list(5, 12, 1)  # key_value_metadata: the Arrow schema, as pyarrow stores it
        t.begin()
        t.binary(1, b"ARROW:schema")
        t.binary(2, self._arrow_schema)
        t.end()
        t.binary(6, self._created_by.encode("utf-8"))
        t.list(7, 12, len(self._names))  # column_orders: TYPE_ORDER for each column
        for _ in self._names:
            t.begin()
            t.struct(1)  # TypeDefinedOrder (empty)
            t.end()
            t.end()
        t.end()
        return bytes(t.out)

    @staticmethod
    def _column_chunk(t: Thrift, name: str, dtype: np.dtype, c: _Chunk) -> None:
        t.begin()  # ColumnChunk
        t.i64(2, c.offset)  # file_offset
        t.struct(3)  # ColumnMetaData
        t.i32(1, _TYPES[dtype])
        t.list(2, 5, 2)  # encodings
        t.varint(t.zigzag(_PLAIN))
        t.varint(t.zigzag(_RLE))
        t.list(3, 8, 1)  # path_in_schema
        raw = name.encode("utf-8")
        t.varint(len(raw))
        t.out += raw
        t.i32(4, c.codec)
        t.i64(5, c.count)  # num_values
        t.i64(6, c.uncompressed)
        t.i64(7, c.compressed)
        t.i64(9, c.offset)  # data_page_offset
        t.struct(12)  # Statistics
        if c.stats is not None:
            lo, hi = c.stats
            t.binary(1, hi)  # max (the old fields, for old readers; signed order)
            t.binary(2, lo)  # min
        t.i64(3, 0)  # null_count
        if c.stats is not None:
            t.binary(5, hi)  # max_value
            t.binary(6, lo)  # min_value
            t.boolean(7, True)  # is_max_value_exact
            t.boolean(8, True)  # is_min_value_exact
        t.end()
        t.end()
        t.end()
