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
import sys
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
    value that is not NaN.

    The reductions are called as ufunc methods (``values.min()`` is the same reduction through
    NumPy's Python wrapper, half of its time on a 16,384-row column; issue 17). Not
    ``np.fmin``: a signalling NaN makes it drop the values before it."""
    if not values.size:
        return None
    lo, hi = np.minimum.reduce(values), np.maximum.reduce(values)
    if values.dtype.kind == "f":
        if lo != lo or hi != hi:  # a NaN: the others' extremes
            finite = values[values == values]
            if not finite.size:
                return None
            lo, hi = np.minimum.reduce(finite), np.maximum.reduce(finite)
        if lo == 0:
            lo = -values.dtype.type(0.0)
        if hi == 0:
            hi = values.dtype.type(0.0)
    if _LITTLE and values.dtype.isnative:  # the scalars' own bytes are little-endian
        return lo.tobytes(), hi.tobytes()
    little = values.dtype.newbyteorder("<")
    return (
        np.array(lo, dtype=little).tobytes(),
        np.array(hi, dtype=little).tobytes(),
    )


_LITTLE = sys.byteorder == "little"


def _uvarint(n: int) -> bytes:
    """``n`` (>= 0) as a Thrift/Protocol Buffers varint (:meth:`Thrift.varint`)."""
    if n <= 0x7F:
        return _BYTE[n]
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


_BYTE = [bytes((i,)) for i in range(128)]


def _zz(n: int) -> bytes:
    """A Thrift i32/i64 value (zigzag, then varint; :meth:`Thrift.i64`'s bytes after the
    field header)."""
    return _uvarint(Thrift.zigzag(n))


def _sizes(count: int, uncompressed: int, compressed: int) -> bytes:
    """``ColumnMetaData``'s num_values (id 5), total_uncompressed_size (6) and
    total_compressed_size (7), i64 fields one id apart (header ``0x16`` each)."""
    return b"".join((b"\x16", _zz(count), b"\x16", _zz(uncompressed), b"\x16", _zz(compressed)))


def _statistics(stats: tuple[bytes, bytes] | None) -> bytes:
    """The ``Statistics`` struct's fields and STOP (``ColumnMetaData`` field 12; ``stats`` from
    :func:`column_min_max`): field headers are ``(id delta << 4) | type`` (binary 8, i64 6, bool
    true 1); the old ``max``/``min`` fields for old readers (signed order) and the new ones."""
    if stats is None:
        return b"\x36\x00\x00"  # null_count (id 3, i64) = 0; STOP
    lo, hi = stats
    h, lo_ = _uvarint(len(hi)) + hi, _uvarint(len(lo)) + lo
    # max (1), min (2), null_count (3) = 0, max_value (5), min_value (6), two exact flags, STOP
    return b"".join((b"\x18", h, b"\x18", lo_, b"\x16\x00\x28", h, b"\x18", lo_, b"\x11\x11\x00"))


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
        self._groups: list[bytes] = []  # each row group's RowGroup struct, encoded
        self._rows = 0
        self._heads: dict[tuple[int, int], tuple[bytes, bytes, int]] = {}  # see _head
        # each column chunk's ColumnMetaData bytes from its type to its codec (constant)
        self._meta = [
            b"".join(
                (
                    b"\x1c\x15",  # ColumnChunk.meta_data (id 3, struct); its type (id 1, i32)
                    _zz(_TYPES[dtype]),
                    b"\x19\x25",  # encodings (id 2, list of 2 i32)
                    _zz(_PLAIN),
                    _zz(_RLE),
                    b"\x19\x18",  # path_in_schema (id 3, list of 1 binary)
                    _uvarint(len(name.encode("utf-8"))),
                    name.encode("utf-8"),
                    b"\x15",  # codec (id 4, i32)
                    _zz(codec),
                )
            )
            for name, dtype, codec in zip(self._names, self._dtypes, self._codecs, strict=True)
        ]
        sink.write(MAGIC)

    def _head(self, count: int, nbytes: int) -> tuple[bytes, bytes, int]:
        """An uncompressed data page of ``count`` values of ``nbytes`` bytes (the same for every
        column chunk of a row group of one width; made once): its header and definition
        levels, the column chunk's sizes as :func:`_sizes` encodes them, and its bytes."""
        key = (count, nbytes)
        got = self._heads.get(key)
        if got is None:
            levels = _levels(count)
            size = len(levels) + nbytes
            head = _page_header(count, size, size) + levels
            size = len(head) + nbytes
            got = self._heads[key] = (head, _sizes(count, size, size), size)
        return got

    def write_row_group(self, columns: list[np.ndarray]) -> None:
        """One row group of 1-D contiguous columns (in the schema's order, equally long)."""
        if len(columns) != len(self._names):
            raise ValueError(f"{len(columns)} columns for a schema of {len(self._names)}")
        n = len(columns[0]) if columns else 0
        write = self._sink.write
        first = pos = self._sink.tell()
        chunks = []  # each column chunk's ColumnChunk struct, encoded
        total_unc = total_comp = 0
        for values, dtype, codec, meta in zip(
            columns, self._dtypes, self._codecs, self._meta, strict=True
        ):
            if values.dtype != dtype or values.ndim != 1 or len(values) != n:
                raise ValueError(f"a column of {values.dtype} {values.shape}, not {dtype} ({n},)")
            values = np.ascontiguousarray(values)
            stats = column_min_max(values)
            step = max(1, PAGE_BYTES // dtype.itemsize)
            if not codec and 0 < n <= step:  # one uncompressed page: header and levels made once
                head, sizes, comp = self._head(n, values.nbytes)
                write(head)
                write(memoryview(values).cast("B"))  # type: ignore[arg-type]  # ndarray has the buffer protocol; numpy's stubs do not say so
                unc = comp
            else:
                unc, comp = self._pages(values, step, codec)
                sizes = _sizes(n, unc, comp)
            offset = _zz(pos)
            chunks.append(
                b"".join(
                    (
                        b"\x26",  # ColumnChunk.file_offset (id 2, i64)
                        offset,
                        meta,
                        sizes,
                        b"\x26",  # data_page_offset (id 9, i64)
                        offset,
                        b"\x3c",  # statistics (id 12, struct)
                        _statistics(stats),
                        b"\x00\x00",  # STOP of ColumnMetaData, of ColumnChunk
                    )
                )
            )
            pos += comp
            total_unc += unc
            total_comp += comp
        t = Thrift()  # the RowGroup struct (an element of FileMetaData.row_groups)
        t.begin()
        t.list(1, 12, len(chunks))
        t.out += b"".join(chunks)
        t.i64(2, total_unc)  # total_byte_size
        t.i64(3, n)
        t.i64(5, first if chunks else 0)  # file_offset
        t.i64(6, total_comp)  # total_compressed_size
        t.field(7, 4)  # ordinal (i16)
        t.varint(t.zigzag(len(self._groups)))
        t.end()
        self._groups.append(bytes(t.out))
        self._rows += n

    def _pages(self, values: np.ndarray, step: int, codec: int) -> tuple[int, int]:
        """Write ``values`` as data pages of ``step`` values; their bytes before and after
        compression (headers included)."""
        import pyarrow as pa

        uncompressed = compressed = 0
        for lo in range(0, len(values), step):
            page = values[lo : lo + step]
            levels = _levels(len(page))
            size = len(levels) + page.nbytes
            raw = memoryview(page).cast("B")  # type: ignore[arg-type]  # ndarray has the buffer protocol; numpy's stubs do not say so
            if codec:
                body = pa.compress(levels + bytes(raw), codec="snappy", asbytes=True)
                header = _page_header(len(page), size, len(body))
                self._sink.write(header)
                self._sink.write(body)
                compressed += len(header) + len(body)
            else:
                header = _page_header(len(page), size, size)
                self._sink.write(header + levels)
                self._sink.write(raw)
                compressed += len(header) + size
            uncompressed += len(header) + size
        return uncompressed, compressed

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
        for group in self._groups:  # encoded as each row group was written
            t.out += group
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
