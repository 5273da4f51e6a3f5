"""draws.parquet written by mkba.pqwrite (issue 17, target 3): a reader gets what pyarrow's writer
gave it (the same schema, values bit for bit, row groups and column statistics); the Thrift
compact encoding and the definition levels against bytes worked out by hand from the Thrift
and Parquet specifications."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mkba import output, pqwrite
from mkba.output import write_columns

# --- the encodings, by hand ---------------------------------------------------------------------


def test_thrift_compact_encoding_by_hand() -> None:
    t = pqwrite.Thrift()
    t.begin()
    t.i32(1, -1)  # short field header (delta 1, type 5 = i32): 0x15; zigzag(-1) = 1
    t.i64(3, 300)  # delta 2, type 6: 0x26; zigzag(300) = 600 = varint 0xD8 0x04
    t.binary(4, b"ab")  # delta 1, type 8: 0x18; length 2
    t.boolean(5, True)  # delta 1, type 1 (true): 0x11
    t.boolean(6, False)  # type 2 (false): 0x12
    t.i32(22, 1)  # delta 16: long form, type byte 0x05, zigzag(22) = 44 = 0x2C; value 0x02
    t.struct(23)  # delta 1, type 12: 0x1C
    t.i32(1, 0)  # inside the struct the ids start again: 0x15, 0x00
    t.end()  # 0x00
    t.list(24, 5, 2)  # delta 1, type 9: 0x19; 2 elements of i32: 0x25
    t.varint(t.zigzag(0))
    t.varint(t.zigzag(3))
    t.list(25, 12, 15)  # 15 elements: 0xF0 | 12, then varint 15
    t.end()
    want = (
        bytes([0x15, 0x01, 0x26, 0xD8, 0x04, 0x18, 0x02, ord("a"), ord("b"), 0x11, 0x12])
        + bytes([0x05, 0x2C, 0x02, 0x1C, 0x15, 0x00, 0x00, 0x19, 0x25, 0x00, 0x06])
        + bytes([0x19, 0xFC, 0x0F, 0x00])
    )
    assert bytes(t.out) == want
    assert [pqwrite.Thrift.zigzag(v) for v in (0, -1, 1, -2, 2**62, -(2**63))] == [
        0,
        1,
        2,
        3,
        2**63,
        2**64 - 1,
    ]


def test_definition_levels_by_hand() -> None:
    # one RLE run of `count` 1s: header varint(count << 1), then the value in one byte; the
    # 4-byte little-endian length first (data page v1)
    assert pqwrite._levels(1) == b"\x02\x00\x00\x00" + b"\x02\x01"
    assert pqwrite._levels(64) == b"\x03\x00\x00\x00" + b"\x80\x01\x01"  # 128 = 0x80 0x01
    assert pqwrite._levels(20_000) == b"\x04\x00\x00\x00" + b"\xc0\xb8\x02\x01"  # 40000


def _f64(x: float) -> bytes:
    return struct.pack("<d", x)


def test_min_max_as_parquet_stores_them() -> None:
    mm = pqwrite.column_min_max
    assert mm(np.array([3.0, -1.5, 2.0])) == (_f64(-1.5), _f64(3.0))
    assert mm(np.array([np.nan, 2.0, np.nan, -7.0])) == (_f64(-7.0), _f64(2.0))  # NaN left out
    assert mm(np.array([np.nan, np.nan])) is None  # no value to bound
    assert mm(np.zeros(0)) is None
    # zeros: the minimum -0.0 and the maximum +0.0, whichever zero is in the data
    assert mm(np.array([0.0, 0.0])) == (_f64(-0.0), _f64(0.0))
    assert mm(np.array([-0.0, 1.0])) == (_f64(-0.0), _f64(1.0))
    assert mm(np.array([-1.0, -0.0])) == (_f64(-1.0), _f64(0.0))
    assert mm(np.array([-np.inf, np.inf, np.nan])) == (_f64(-np.inf), _f64(np.inf))
    assert mm(np.array([1.5, -0.0], dtype=np.float32)) == (
        struct.pack("<f", -0.0),
        struct.pack("<f", 1.5),
    )
    big = np.array([2**63 - 1, -(2**63), 0], dtype=np.int64)
    assert mm(big) == (struct.pack("<q", -(2**63)), struct.pack("<q", 2**63 - 1))
    assert mm(np.array([0, 5], dtype=np.int32)) == (struct.pack("<i", 0), struct.pack("<i", 5))


# --- files against pyarrow's writer -------------------------------------------------------------


def _table(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n) * 1e6
    odd = np.array([0x7FF8_0000_0000_1234, 0xFFF0_0000_0000_0001], dtype=np.uint64)
    for i, v in enumerate([np.nan, -0.0, np.inf, -np.inf, 5e-324, *odd.view(np.float64)]):
        if i < n:
            x[(i * 7919) % n] = v
    f32 = rng.normal(size=n).astype(np.float32)
    if n:
        f32[0] = np.float32(-0.0)
    ints = rng.integers(-(2**62), 2**62, n)
    if n > 1:
        ints[:2] = [2**63 - 1, -(2**63)]
    return {
        "draw": np.arange(n),
        "x": x,
        "zero": np.zeros(n),  # constant: compressed
        "negzero": np.full(n, -0.0),
        "nan": np.full(n, np.nan),
        "years": rng.choice([2030.0, 2041.0, np.nan], size=n),
        "f32": f32,
        "i32": rng.integers(-5, 5, n).astype(np.int32),
        "ints": ints,
        "a.b.c": rng.normal(size=n),  # a name with dots, and a non-ASCII one
        "naïve €": rng.normal(size=n),
    }


def _own(path: Path, cols: dict[str, np.ndarray], group: int, codecs: dict[str, str]) -> None:
    schema = pa.schema([(k, pa.from_numpy_dtype(v.dtype)) for k, v in cols.items()])
    with open(path, "wb") as fh:
        w = pqwrite.ColumnsWriter(
            fh, schema, [v.dtype for v in cols.values()], codecs, created_by="mkba version test"
        )
        n = len(next(iter(cols.values())))
        for lo in range(0, n, group):
            w.write_row_group([v[lo : lo + group] for v in cols.values()])
        w.close()


def _bits(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a).view(f"u{a.dtype.itemsize}")


def _same(a: pa.Table, b: pa.Table) -> bool:
    """The same schema and every column's values bit for bit (``Table.equals`` takes NaN for
    unequal to itself)."""
    return a.schema.equals(b.schema) and all(
        np.array_equal(_bits(a[k].to_numpy()), _bits(b[k].to_numpy())) for k in a.column_names
    )


def _stats(meta: pq.FileMetaData) -> list[tuple[object, ...]]:
    out = []
    for g in range(meta.num_row_groups):
        rg = meta.row_group(g)
        for j in range(meta.num_columns):
            s = rg.column(j).statistics
            mm = (_bits(np.array([s.min, s.max])) if s.has_min_max else None,)
            out.append((g, j, rg.num_rows, s.null_count, s.has_min_max, *map(repr, mm)))
    return out


@pytest.mark.parametrize(("n", "group"), [(1, 7), (2, 1), (1000, 1000), (2500, 1024), (3001, 500)])
def test_readers_get_what_pyarrows_writer_gave(tmp_path: Path, n: int, group: int) -> None:
    cols = _table(n, seed=n)
    # both kinds of pages: uncompressed (random draws) and snappy
    codecs = {k: "snappy" if k in ("zero", "years", "draw") else "none" for k in cols}
    _own(tmp_path / "own.parquet", cols, group, codecs)
    pq.write_table(
        pa.table(cols), tmp_path / "pa.parquet", row_group_size=group, compression=codecs
    )
    own, ref = pq.read_table(tmp_path / "own.parquet"), pq.read_table(tmp_path / "pa.parquet")
    assert own.schema.equals(ref.schema, check_metadata=True)
    assert own.column_names == list(cols)
    for k, v in cols.items():
        got = own[k].to_numpy()
        assert got.dtype == v.dtype and np.array_equal(_bits(got), _bits(v)), k
        assert own[k].null_count == 0
    mo, mr = pq.read_metadata(tmp_path / "own.parquet"), pq.read_metadata(tmp_path / "pa.parquet")
    assert (mo.num_rows, mo.num_row_groups, mo.num_columns) == (
        mr.num_rows,
        mr.num_row_groups,
        mr.num_columns,
    )
    assert _stats(mo) == _stats(mr)  # the same statistics, bit for bit
    assert mo.schema.equals(mr.schema)  # the same Parquet schema (optional leaves)
    assert pd.read_parquet(tmp_path / "own.parquet").equals(
        pd.read_parquet(tmp_path / "pa.parquet")
    )
    # readers that skip row groups by their statistics select the same rows
    for flt in ([("x", ">", 0.0)], [("ints", "<", 0)], [("years", "==", 2030.0)]):
        a = pq.read_table(tmp_path / "own.parquet", filters=flt)
        b = pq.read_table(tmp_path / "pa.parquet", filters=flt)
        assert _same(a, b)
    # row groups and batches read one by one
    pf = pq.ParquetFile(tmp_path / "own.parquet")
    assert _same(pa.concat_tables([pf.read_row_group(i) for i in range(pf.num_row_groups)]), own)
    assert _same(pa.Table.from_batches(list(pf.iter_batches(batch_size=333))), own)


def test_several_pages_per_column_chunk(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(pqwrite, "PAGE_BYTES", 1000)  # 125 float64 values a page
    cols = _table(2000, seed=4)
    codecs = {"zero": "snappy", "x": "none", "draw": "snappy"}
    _own(tmp_path / "own.parquet", cols, 1500, codecs)
    back = pq.read_table(tmp_path / "own.parquet")
    for k, v in cols.items():
        assert np.array_equal(_bits(back[k].to_numpy()), _bits(v)), k
    meta = pq.read_metadata(tmp_path / "own.parquet")
    assert [meta.row_group(g).num_rows for g in range(meta.num_row_groups)] == [1500, 500]
    chunk = meta.row_group(0).column(1)  # x: 1500 values in 12 pages of 125
    assert chunk.num_values == 1500 and chunk.compression == "UNCOMPRESSED"
    assert chunk.total_compressed_size == chunk.total_uncompressed_size > 1500 * 8


def test_no_rows(tmp_path: Path) -> None:
    cols = _table(0)
    write_columns(tmp_path, "draws", cols)
    back = pq.read_table(tmp_path / "draws.parquet")
    assert back.num_rows == 0
    assert back.schema.equals(pa.table(cols).schema)


def test_write_columns_uses_it_for_numbers_only(tmp_path: Path) -> None:
    n = 3000
    cols = _table(n, seed=1)
    write_columns(tmp_path / "a", "draws", cols, group_rows=1024)
    meta = pq.read_metadata(tmp_path / "a" / "draws.parquet")
    assert meta.created_by.startswith("mkba version ")
    assert meta.num_row_groups == 3
    # another column type: the whole table through pyarrow's writer, the same values
    write_columns(tmp_path / "b", "draws", cols | {"flag": np.arange(n) % 2 == 0}, group_rows=1024)
    meta_b = pq.read_metadata(tmp_path / "b" / "draws.parquet")
    assert meta_b.created_by.startswith("parquet-cpp")
    a, b = (
        pq.read_table(tmp_path / "a" / "draws.parquet"),
        pq.read_table(tmp_path / "b" / "draws.parquet"),
    )
    assert _same(b.drop(["flag"]), a)
    assert pqwrite.supported([np.float64, np.float32, np.int64, np.int32])
    assert not pqwrite.supported([np.float64, np.bool_])
    assert not pqwrite.supported([np.dtype(">f8")])
    assert not pqwrite.supported([np.uint64])
    assert pqwrite.supported([np.float64], ["none", "snappy"])
    assert not pqwrite.supported([np.float64], ["zstd"])  # another codec: pyarrow's writer


def test_another_codec_goes_through_pyarrow(monkeypatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cols = _table(2000, seed=2)
    monkeypatch.setitem(output.PARQUET_OPTIONS, "compression", "zstd")
    write_columns(tmp_path, "draws", cols, group_rows=1024)
    meta = pq.read_metadata(tmp_path / "draws.parquet")
    assert meta.created_by.startswith("parquet-cpp")
    assert meta.row_group(0).column(0).compression == "ZSTD"  # draw: not a float
    assert _same(pq.read_table(tmp_path / "draws.parquet"), pa.table(cols))


def test_the_writer_refuses_columns_that_do_not_fit() -> None:
    schema = pa.schema([("a", pa.float64()), ("b", pa.int64())])
    w = pqwrite.ColumnsWriter(io.BytesIO(), schema, [np.float64, np.int64], created_by="t")
    with pytest.raises(ValueError, match="columns for a schema"):
        w.write_row_group([np.zeros(3)])
    with pytest.raises(ValueError, match="not int64"):
        w.write_row_group([np.zeros(3), np.zeros(3)])
    with pytest.raises(ValueError, match="not int64"):
        w.write_row_group([np.zeros(3), np.zeros(2, dtype=np.int64)])
    with pytest.raises(TypeError, match="not written here"):
        pqwrite.ColumnsWriter(io.BytesIO(), schema, [np.float64, np.bool_], created_by="t")


def test_a_runs_draws_file_against_pyarrows_writer(monkeypatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # a real run, its samples spilled (read back a row group at a time), three row groups: every column of draws.parquet bit for bit as the run holds it, and the file reads
    # back like pyarrow's writer's file of the same columns and row groups
    from mkba import api, results
    from mkba.spill import SpilledRows

    monkeypatch.setattr(api, "SPILL_BYTES", 0)
    monkeypatch.setenv(
        "MKBA_DRAWS_STREAM", "0"
    )  # spilled, written after (drawstream: test_drawstream)
    monkeypatch.setattr(
        api, "draws_group_rows", lambda chunk_size, streamed=False: 700
    )  # three row groups
    root = Path(__file__).resolve().parents[1]
    res = api.run_scenario(
        root / "scenarios" / "reference-2021.toml", draws=1700, out=tmp_path / "r"
    )
    assert isinstance(res.run.spilled, SpilledRows)
    cols = {k: np.asarray(v) for k, v in results.draws_columns(res.run).items()}
    got = pq.read_table(tmp_path / "r" / "draws.parquet")
    assert got.column_names == list(cols)
    for k, v in cols.items():
        assert got[k].type == pa.from_numpy_dtype(v.dtype)
        assert np.array_equal(_bits(got[k].to_numpy()), _bits(v)), k
    schema = pa.schema([(k, pa.from_numpy_dtype(v.dtype)) for k, v in cols.items()])
    pq.write_table(pa.table(cols, schema=schema), tmp_path / "pa.parquet", row_group_size=700)
    mo = pq.read_metadata(tmp_path / "r" / "draws.parquet")
    mr = pq.read_metadata(tmp_path / "pa.parquet")
    assert mo.num_row_groups == mr.num_row_groups == 3
    assert _stats(mo) == _stats(mr)
    assert got.schema.equals(pq.read_table(tmp_path / "pa.parquet").schema, check_metadata=True)
