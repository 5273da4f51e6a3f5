"""draws.parquet written past the page cache (mkba.output.DirectFile, issue 17): the file holds
exactly the bytes written, in order, whatever the sizes of the writes, with or without
O_DIRECT; an error on its writing thread fails the write and leaves nothing behind."""

from __future__ import annotations

import errno
import fcntl
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mkba import output
from mkba.output import DIRECT_ALIGN, DirectFile, atomic_writer, write_columns

O_DIRECT = getattr(os, "O_DIRECT", 0)


def _pieces(sizes: list[int], seed: int = 0) -> list[bytes]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, n, dtype=np.uint8).tobytes() for n in sizes]


# sizes around the buffer (2 x DIRECT_ALIGN below): empty, tiny, exactly full, across one and
# several buffers, an unaligned tail, nothing at all
SIZES = [
    [],
    [0],
    [1],
    [2 * DIRECT_ALIGN],
    [2 * DIRECT_ALIGN, 2 * DIRECT_ALIGN],
    [3, 2 * DIRECT_ALIGN - 3, 17],
    [5 * DIRECT_ALIGN + 123],
    [100] * 300,
    [7, 0, 9000, 1, 40000, 4095, 4097],
]


@pytest.mark.parametrize("sizes", SIZES)
@pytest.mark.parametrize("direct", [True, False])
def test_the_file_is_the_bytes_written(tmp_path: Path, monkeypatch, sizes, direct) -> None:  # type: ignore[no-untyped-def]
    if not direct:  # a system or file system without O_DIRECT: through the page cache
        monkeypatch.setattr(output, "_set_direct", lambda fd, on: False)
    data = _pieces(sizes)
    with atomic_writer(tmp_path / "f.bin") as fh, DirectFile(fh, size=2 * DIRECT_ALIGN) as sink:
        for i, piece in enumerate(data):
            # bytes, as pyarrow hands them over, and other buffers
            assert sink.write(piece if i % 2 else memoryview(piece)) == len(piece)
        assert sink.tell() == sum(sizes)
    assert (tmp_path / "f.bin").read_bytes() == b"".join(data)
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]  # no temporary file left


def test_direct_mode_on_while_writing_and_off_after(tmp_path: Path) -> None:
    if not O_DIRECT:
        pytest.skip("no O_DIRECT on this system")
    with atomic_writer(tmp_path / "f.bin") as fh:
        with DirectFile(fh, size=DIRECT_ALIGN) as sink:
            if not sink.direct:
                pytest.skip("the temporary folder's file system refuses O_DIRECT")
            assert fcntl.fcntl(fh.fileno(), fcntl.F_GETFL) & O_DIRECT
            sink.write(b"x" * (3 * DIRECT_ALIGN + 5))
        assert not fcntl.fcntl(fh.fileno(), fcntl.F_GETFL) & O_DIRECT
        assert not sink.direct
        fh.write(b"after")  # the file is an ordinary file again
    assert (tmp_path / "f.bin").read_bytes() == b"x" * (3 * DIRECT_ALIGN + 5) + b"after"


def test_a_refused_direct_write_goes_through_the_page_cache(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    real = os.write
    refused = []

    def write(fd: int, data) -> int:  # type: ignore[no-untyped-def]
        if O_DIRECT and fcntl.fcntl(fd, fcntl.F_GETFL) & O_DIRECT:
            refused.append(len(data))
            raise OSError(errno.EINVAL, "Invalid argument")
        return real(fd, data)

    monkeypatch.setattr(os, "write", write)
    data = _pieces([3 * DIRECT_ALIGN, 11])
    with atomic_writer(tmp_path / "f.bin") as fh, DirectFile(fh, size=DIRECT_ALIGN) as sink:
        for piece in data:
            sink.write(piece)
    assert (tmp_path / "f.bin").read_bytes() == b"".join(data)
    assert len(refused) <= 1  # refused once at most, then never asked again
    assert not sink.direct


def test_a_failed_write_leaves_nothing(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    real = os.write
    calls = []

    def full_disk(fd: int, data) -> int:  # type: ignore[no-untyped-def]
        calls.append(len(data))
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(fd, data)

    monkeypatch.setattr(os, "write", full_disk)
    with (
        pytest.raises(OSError, match="No space"),
        atomic_writer(tmp_path / "f.bin") as fh,
        DirectFile(fh, size=DIRECT_ALIGN) as sink,
    ):
        for piece in _pieces([DIRECT_ALIGN] * 6):
            sink.write(piece)
    assert list(tmp_path.iterdir()) == []


def test_write_columns_same_file_direct_or_not(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(5)
    n = 20_000
    costs = rng.normal(size=(n, 4))
    cols = {
        "draw": np.arange(n),
        "a": costs[:, 1],
        "b": costs[:, 3],
        "zero": np.zeros(n),
        "c": rng.normal(size=n),
    }
    monkeypatch.setattr(output, "DIRECT_BUFFER", 3 * DIRECT_ALIGN)
    timings: dict[str, float] = {}
    write_columns(tmp_path / "d", "draws", cols, group_rows=4096, timings=timings)
    assert timings["cpu_s"] >= 0.0
    monkeypatch.setattr(output, "_set_direct", lambda fd, on: False)
    write_columns(tmp_path / "b", "draws", cols, group_rows=4096)
    got = (tmp_path / "d" / "draws.parquet").read_bytes()
    assert got == (tmp_path / "b" / "draws.parquet").read_bytes()
    back = pq.read_table(tmp_path / "d" / "draws.parquet")
    for k, v in cols.items():
        assert np.array_equal(back[k].to_numpy(), v)


# --- compression per column ----------------------------------------------------------------------


def test_compression_only_where_it_pays() -> None:
    rng = np.random.default_rng(3)
    n = 10_000
    cols = {
        "draw": np.arange(n),  # not a float: the usual codec (with its dictionary)
        "random": rng.normal(size=n) * 1e6,  # random draws: snappy only makes them larger
        "zero": np.zeros(n),
        "nan": np.full(n, np.nan),
        "years": rng.choice([2030.0, 2031.0, np.nan], size=n),  # a payback year: repeats
        "f32": rng.normal(size=n).astype(np.float32),
        "empty_f": np.zeros(0),
    }
    schema = pa.schema([(k, pa.from_numpy_dtype(v.dtype)) for k, v in cols.items()])
    got = output.column_compression(schema, list(cols.values()))
    assert got == {
        "draw": "snappy",
        "random": "none",
        "zero": "snappy",
        "nan": "snappy",
        "years": "snappy",
        "f32": "none",
        "empty_f": "snappy",
    }


def test_values_read_back_bit_for_bit_with_either_compression(tmp_path: Path) -> None:
    rng = np.random.default_rng(9)
    n = 30_000
    flows = rng.normal(size=(n, 3)) * 1e7
    flows[5, 0], flows[6, 0], flows[7, 0] = -0.0, np.inf, np.nan
    odd_nan = np.array([0x7FF8_0000_0000_1234], dtype=np.uint64).view(np.float64)[0]
    flows[8, 0] = odd_nan  # a NaN with a payload
    tiny = np.full(n, 5e-324)  # subnormal, constant: compressed
    cols = {
        "draw": np.arange(n),
        "a": flows[:, 0],
        "b": flows[:, 2],
        "tiny": tiny,
        "years": rng.choice([2030.0, -0.0, np.nan], size=n),
    }
    write_columns(tmp_path, "draws", cols, group_rows=8192)
    meta = pq.read_metadata(tmp_path / "draws.parquet")
    codecs = {
        meta.row_group(0).column(j).path_in_schema: meta.row_group(0).column(j).compression
        for j in range(meta.num_columns)
    }
    assert codecs == {
        "draw": "SNAPPY",
        "a": "UNCOMPRESSED",
        "b": "UNCOMPRESSED",
        "tiny": "SNAPPY",
        "years": "SNAPPY",
    }
    back = pq.read_table(tmp_path / "draws.parquet")
    assert back.column_names == list(cols)
    for k, v in cols.items():
        got = back[k].to_numpy()
        assert got.dtype == v.dtype
        assert np.array_equal(got.view(np.uint64), np.ascontiguousarray(v).view(np.uint64)), k
    # the same values as the earlier file (snappy everywhere)
    pq.write_table(pa.table(cols), tmp_path / "snappy.parquet", compression="snappy")
    before = pq.read_table(tmp_path / "snappy.parquet")
    assert before.schema.equals(back.schema)
    for k in cols:
        assert np.array_equal(
            before[k].to_numpy().view(np.uint64), back[k].to_numpy().view(np.uint64)
        )


def test_the_first_error_stays_when_a_write_also_fails(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    def full_disk(fd: int, data) -> int:  # type: ignore[no-untyped-def]
        raise OSError(errno.ENOSPC, "No space left on device")

    with (
        pytest.raises(KeyError, match="first"),
        atomic_writer(tmp_path / "f.bin") as fh,
        DirectFile(fh, size=DIRECT_ALIGN) as sink,
    ):
        monkeypatch.setattr(os, "write", full_disk)
        sink.write(b"y" * DIRECT_ALIGN)  # handed to the writing thread, which fails
        raise KeyError("first")
    assert list(tmp_path.iterdir()) == []
