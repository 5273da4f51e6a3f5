# main's src/mkba/pqwrite.py at e5d4c18, verbatim below this comment: the writer before branch
# i25-pq encoded each column chunk's page header and footer entry with Thrift calls one by one.
# tests/test_pqwrite_bulk.py writes the same columns with both and compares the bytes.
"""A Parquet file of numeric columns written without pyarrow's encoder (issue 17, target 3).

``draws.parquet`` holds ~1.4 GB of float64 per million draws in PLAIN pages (random draws do
not compress; :func:`mkba.output.column_compression`). pyarrow's writer copied every value
about four times on the way to the disk (its encoder's buffer, the page, a Python ``bytes``
object for a Python file object, the aligned buffer of :class:`mkba.output.DirectFile`) and
took ~2 CPU-s of a 1M run, the run's last wait. :class:`ColumnsWriter` writes the same kind of
file itself: each column chunk's values are copied once, from the contiguous row group column
into :class:`~mkba.output.DirectFile`'s buffer, behind a page header it encodes; the footer
(Thrift compact protocol, the Parquet format's own ``parquet.thrift``) is encoded here too.

What a reader gets is what pyarrow's writer gave: the same columns in the same order, the same
types (the Arrow schema is stored under ``ARROW:schema``, as pyarrow stores it), the same values
bit for bit (NaN payloads, -0.0, infinities), the same nullability (optional columns; no value
is null) and the same column statistics (minimum and maximum without NaN, the Parquet rules for
-0.0 and +0.0, null count 0). The bytes differ: one data page per column chunk (up to
:data:`PAGE_BYTES`), no dictionary for the integer columns (``draw`` and ``irr_roots`` were
dictionary-encoded), no statistics in the page headers (readers use the column chunk's), and
``created_by`` names mkba. tests/test_pqwrite.py reads files back with pyarrow (and pandas)
and compares them with pyarrow's writer's.

Only ``float64``, ``float32``, ``int64`` and ``int32`` columns, uncompressed or snappy, are
written this way (:func:`supported`); :func:`mkba.output.write_columns` hands any other table
to pyarrow.
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np

# Parquet physical types (parquet.thrift: Type) of the NumPy dtypes written here
_TYPES = {
    np.dtype(np.int32): 1,  # INT32
    np.dtype(np.int64): 2,  # INT64
    np.dtype(np.float32): 4,  # FLOAT
    np.dtype(np.float64): 5,  # DOUBLE
}
_CODECS = {"none": 0, "uncompressed": 0, "snappy": 1}  # parquet.thrift: CompressionCodec
_PLAIN, _RLE = 0, 3  # parquet.thrift: Encoding
_OPTIONAL = 1  # parquet.thrift: FieldRepetitionType
_DATA_PAGE = 0  # parquet.thrift: PageType
MAGIC = b"PAR1"

PAGE_BYTES = 2**20
"""Most bytes of values in one data page (a column chunk of 65,536 float64 draws is one page
of 512 KiB; larger row groups get several pages)."""


def supported(dtypes: list[Any], codecs: Any = ()) -> bool:
    """Whether columns of these NumPy dtypes (native byte order), compressed with these codecs
    (``"none"`` or ``"snappy"``), are written by :class:`ColumnsWriter`."""
    return all(np.dtype(d) in _TYPES and np.dtype(d).isnative for d in dtypes) and all(
        c in _CODECS for c in codecs
    )


class Thrift:
    """Thrift's compact protocol, writing only (the subset the Parquet footer and page headers
    use: i32, i64, binary, bool, struct and list fields)."""

    def __init__(self) -> None:
        self.out = bytearray()
        self._last = [0]  # the last field id of each open struct

    def varint(self, n: int) -> None:
        while n > 0x7F:
            self.out.append((n & 0x7F) | 0x80)
            n >>= 7
        self.out.append(n)

    @staticmethod
    def zigzag(n: int) -> int:
        return (n << 1) ^ (n >> 63)

    def field(self, fid: int, ftype: int) -> None:
        delta = fid - self._last[-1]
        if 0 < delta <= 15:
            self.out.append((delta << 4) | ftype)
        else:
            self.out.append(ftype)
            self.varint(self.zigzag(fid))
        self._last[-1] = fid

    def i32(self, fid: int, v: int) -> None:
        self.field(fid, 5)
        self.varint(self.zigzag(v))

    def i64(self, fid: int, v: int) -> None:
        self.field(fid, 6)
        self.varint(self.zigzag(v))

    def binary(self, fid: int, b: bytes) -> None:
        self.field(fid, 8)
        self.varint(len(b))
        self.out += b

    def boolean(self, fid: int, v: bool) -> None:
        self.field(fid, 1 if v else 2)

    def struct(self, fid: int) -> None:
        """Open a struct field (close it with :meth:`end`)."""
        self.field(fid, 12)
        self._last.append(0)

    def begin(self) -> None:
        """Open a struct that is a list element or the top-level struct."""
        self._last.append(0)

    def end(self) -> None:
        self.out.append(0)  # STOP
        self._last.pop()

    def list(self, fid: int, etype: int, size: int) -> None:
        """A list field's header; its ``size`` elements follow (structs: :meth:`begin` ...
        :meth:`end` each)."""
        self.field(fid, 9)
        if size < 15:
            self.out.append((size << 4) | etype)
        else:
            self.out.append(0xF0 | etype)
            self.varint(size)


def _levels(count: int) -> bytes:
    """The definition levels of ``count`` values that are all present (an optional column, max
    level 1): one RLE run of 1s, with its 4-byte length (data page v1)."""
    t = Thrift()
    t.varint(count << 1)  # RLE run header: (count << 1) | 0
    t.out.append(1)  # the repeated value, bit width 1 -> one byte
    return len(t.out).to_bytes(4, "little") + bytes(t.out)


def _page_header(count: int, uncompressed: int, compressed: int) -> bytes:
    t = Thrift()
    t.begin()
    t.i32(1, _DATA_PAGE)
    t.i32(2, uncompressed)
    t.i32(3, compressed)
    t.struct(5)  # DataPageHeader
    t.i32(1, count)
    t.i32(2, _PLAIN)
    t.i32(3, _RLE)  # definition levels
    t.i32(4, _RLE)  # repetition levels (none: max level 0)
    t.end()
    t.end()
    return bytes(t.out)


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
