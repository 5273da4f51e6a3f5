"""draws.parquet's writer with its column chunks encoded in bulk (issue 17, branch i25-pq): the
page headers made once per row group width, each row group's footer entries encoded as it is
written, the min/max as ufunc reductions, and DirectFile copying through memoryviews. The files
are byte for byte those of the writer before (tests/pqwrite_reference.py, main's pqwrite.py
verbatim), and the statistics equal its ``column_min_max`` on the edge cases (NaN payloads,
signalling NaN anywhere, zeros of both signs, infinities, one value, none)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

import pqwrite_reference as reference  # main's writer (this folder, as irr_i18_oracle)
from mkba import pqwrite
from mkba.output import DIRECT_ALIGN, DirectFile, atomic_writer
from test_pqwrite import _table  # NaN payloads, -0.0, inf, every dtype

SNAN = np.array([0xFFF0_0000_0000_0001], dtype=np.uint64).view(np.float64)[0]
QNAN = np.array([0x7FF8_0000_0000_1234], dtype=np.uint64).view(np.float64)[0]


def _write(module, cols: dict[str, np.ndarray], groups: list[int], codecs: dict[str, str]):  # type: ignore[no-untyped-def]
    """The file's bytes, and the footer after the first row group."""
    schema = pa.schema([(k, pa.from_numpy_dtype(v.dtype)) for k, v in cols.items()])
    sink = io.BytesIO()
    w = module.ColumnsWriter(
        sink, schema, [v.dtype for v in cols.values()], codecs, created_by="mkba version t"
    )
    lo, early = 0, None
    for size in groups:
        w.write_row_group([v[lo : lo + size] for v in cols.values()])
        lo += size
        early = w.footer() if early is None else early
    w.close()
    return sink.getvalue(), early


CASES = [
    (0, [0]),  # no rows: one empty row group
    (1, [1]),
    (2, [1, 1]),
    (5, [2, 2, 1]),
    (3001, [500] * 6 + [1]),  # a one-row last group
    (20_000, [16_384, 3616]),  # the streamed run's row group size
    (40_000, [40_000]),  # several pages per float column (PAGE_BYTES below)
]


@pytest.mark.parametrize(("n", "groups"), CASES)
@pytest.mark.parametrize("snappy", [False, True])
def test_the_same_bytes_as_the_writer_before(monkeypatch, n, groups, snappy) -> None:  # type: ignore[no-untyped-def]
    cols = _table(n, seed=n)
    if n:
        cols["x"][n // 2] = SNAN  # a signalling NaN amid the values (and QNAN via _table)
        cols["x"][-1] = QNAN
    codecs = {k: "snappy" for k in ("zero", "years", "draw", "f32")} if snappy else {}
    for module in (pqwrite, reference):  # 40,000 float64 values: 3 pages of 16,000 or less
        monkeypatch.setattr(module, "PAGE_BYTES", 128_000)
    new, new_early = _write(pqwrite, cols, groups, codecs)
    old, old_early = _write(reference, cols, groups, codecs)
    assert new == old
    assert new_early == old_early  # footer() before the last row group too


def test_the_reference_runs_draws_columns_bytes(tmp_path: Path) -> None:
    # the draws file's shape: 184-ish columns of float64 with two int64, 16,384-row groups
    rng = np.random.default_rng(11)
    cols = {"draw": np.arange(40_000)}
    for j in range(30):
        cols[f"param.p{j}"] = rng.normal(size=40_000) * 10.0**j
    cols["payback_year"] = rng.choice([2030.0, 2041.0, np.nan], size=40_000)
    cols["irr_roots"] = rng.integers(0, 3, 40_000)
    groups = [16_384, 16_384, 40_000 - 2 * 16_384]
    assert _write(pqwrite, cols, groups, {}) == _write(reference, cols, groups, {})


def _edge_columns() -> list[np.ndarray]:
    rng = np.random.default_rng(3)
    out: list[np.ndarray] = []
    for size in (1, 2, 3, 17, 16_384):
        x = rng.normal(size=size)
        out.append(x)
        for bad in (np.nan, QNAN, SNAN, -SNAN):
            for pos in {0, size // 2, size - 1}:
                y = x.copy()
                y[pos] = bad
                out.append(y)
        out.append(np.full(size, SNAN))  # every value NaN: no statistics
        out.append(np.full(size, np.nan))
        out.append(np.where(rng.random(size) < 0.5, -0.0, 0.0))  # zeros of both signs
        out.append(np.where(rng.random(size) < 0.5, np.inf, -np.inf))
        out.append(np.where(rng.random(size) < 0.5, np.nan, -0.0))
        out.append(x.astype(np.float32))
        out.append(np.full(size, np.float32(-0.0)))
        out.append(rng.integers(-(2**63), 2**63 - 1, size))
        out.append(rng.integers(-5, 5, size).astype(np.int32))
    out.append(np.zeros(0))
    out.append(np.zeros(0, dtype=np.int64))
    return out


def test_min_max_as_the_writer_before() -> None:
    for values in _edge_columns():
        assert pqwrite.column_min_max(values) == reference.column_min_max(values), values[:5]


def test_min_max_by_hand_with_a_signalling_nan() -> None:
    # np.fmin would drop the values before a signalling NaN; the minimum of the others is -3
    x = np.array([-3.0, SNAN, 2.0, 5.0])
    assert pqwrite.column_min_max(x) == (np.float64(-3.0).tobytes(), np.float64(5.0).tobytes())


@pytest.mark.parametrize("size", [DIRECT_ALIGN, 3 * DIRECT_ALIGN])
def test_direct_file_takes_any_buffer(tmp_path: Path, size: int) -> None:
    # the writer hands over bytes and memoryviews of float columns; pyarrow its own buffers;
    # a NumPy array of another item type or 2-D is taken as its bytes too
    rng = np.random.default_rng(size)
    f = rng.normal(size=1500)
    pieces = [
        b"PAR1",
        bytearray(b"\x01\x02\x03"),
        memoryview(f).cast("B"),
        f,  # item type 'd'
        f.reshape(30, 50),  # 2-D, C-contiguous
        f[:7].astype(np.float32),
        pa.py_buffer(b"pyarrow's buffer"),
        b"",
        rng.integers(0, 256, 5 * DIRECT_ALIGN + 11, dtype=np.uint8),
    ]
    expected = b"".join(bytes(memoryview(p).cast("B")) for p in pieces)
    with atomic_writer(tmp_path / "f.bin") as fh, DirectFile(fh, size=size) as sink:
        for p in pieces:
            assert sink.write(p) == memoryview(p).nbytes
        assert sink.tell() == len(expected)
    assert (tmp_path / "f.bin").read_bytes() == expected
