"""Issue 17, target 3: ``draws.parquet`` of a large run written while it is simulated
(:mod:`mkba.drawstream`) is the file written after the simulation, byte for byte.

The reference for every comparison is the file the same run writes with its sampled values in
memory (a small run, :func:`mkba.api.finish_run` after the simulation) or spilled
(``MKBA_DRAWS_STREAM=0``): the same columns, values, row groups, statistics and bytes.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from mkba import api, drawstream, engine, output
from mkba.checks import runnable
from mkba.decide.irr import run_irr
from mkba.drawstream import DrawsStream, _Derived
from mkba.load import load_scenario

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "scenarios" / "reference-2021.toml"


def _bits(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a).view(f"u{a.dtype.itemsize}")


def _run(monkeypatch, out: Path, *, stream: str, twin: str = "1", **kw):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MKBA_DRAWS_STREAM", stream)
    monkeypatch.setenv("MKBA_TWIN", twin)
    return api.run_scenario(REFERENCE, out=out, **kw)


@pytest.mark.parametrize(
    ("companion", "twin", "group", "buffers"),
    [
        (True, "1", 4096, None),  # the twin pass (the default mkba run), three row groups
        (True, "0", 4096, 1),  # the companion first; one buffer: later row groups may spill
        (False, "1", 700, None),  # no companion; row groups of 700 rows, chunks span several
    ],
)
def test_streamed_file_is_the_file_written_after(  # type: ignore[no-untyped-def]
    monkeypatch, tmp_path: Path, companion: bool, twin: str, group: int, buffers: int | None
) -> None:
    monkeypatch.setattr(api, "draws_group_rows", lambda chunk_size, streamed=False: group)
    if buffers is not None:
        monkeypatch.setattr(drawstream, "PARAM_GROUPS", buffers)
    kw = {"draws": 9000, "companion": companion, "twin": twin}
    mem = _run(monkeypatch, tmp_path / "mem", stream="1", **kw)  # below SPILL_BYTES: in memory
    assert mem.run.samples is not None
    monkeypatch.setattr(api, "SPILL_BYTES", 0)  # as if 9,000 draws were a large run
    old = _run(monkeypatch, tmp_path / "old", stream="0", **kw)
    assert old.run.samples is None and old.run.spilled is not None
    new = _run(monkeypatch, tmp_path / "new", stream="1", **kw)
    assert new.run.samples is None and new.run.spilled is None  # no sampled values kept
    assert "draws_parquet_spilled_groups" in new.manifest["timings"]
    a = (tmp_path / "mem" / "draws.parquet").read_bytes()
    assert a == (tmp_path / "old" / "draws.parquet").read_bytes()
    assert a == (tmp_path / "new" / "draws.parquet").read_bytes()
    assert pq.read_metadata(tmp_path / "new" / "draws.parquet").num_row_groups == -(-9000 // group)
    for name in ("summary.json", "breakdown.parquet", "yearly_quantiles.parquet"):
        x = (tmp_path / "mem" / name).read_bytes().replace(b'"mem"', b'"new"')
        assert x == (tmp_path / "new" / name).read_bytes(), name
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == ["mem", "new", "old"]  # no partial folder, no temporary file


def test_row_groups_beyond_the_buffers_go_through_the_temporary_file(tmp_path: Path) -> None:
    # the stream fed by hand: every chunk's samples before any IRR is final, one buffer, so
    # the second and third row groups must be spilled and read back; the file is the one
    # written after the simulation from the samples in memory
    m = runnable(load_scenario(REFERENCE))
    run = engine.simulate(m, draws=5000, chunk_size=1000)
    assert run.samples is not None
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    output.write_columns(tmp_path / "a", "draws", api.results.draws_columns(run), group_rows=2000)
    irr = run_irr(run)
    with DrawsStream(
        tmp_path / "b", m, 5000, 1000, 2000, seed=run.seed, sampler=run.sampler, buffers=1
    ) as s:
        s.start(run.outcomes, irr)
        for lo in range(0, 5000, 1000):
            s(lo, run.samples[lo : lo + 1000].copy())
        assert s.spilled_groups == 2
        s.irr_done(0, 5000)
        s.wait()
    assert (tmp_path / "a" / "draws.parquet").read_bytes() == (
        tmp_path / "b" / "draws.parquet"
    ).read_bytes()


def test_npv_and_bcr_a_block_at_a_time_are_the_outcomes_own() -> None:
    # Outcomes.npv / .bcr (benefits - costs; benefits / costs where costs > 0, else NaN) of
    # the whole arrays, against _Derived's rows: bit for bit, with zero, negative and NaN
    # costs, infinite and NaN benefits, -0.0, and blocks of 1, 2 and 7 rows
    rng = np.random.default_rng(3)
    n, p = 23, 3
    b = rng.normal(size=(n, p)) * 1e9
    c = rng.normal(size=(n, p)) * 1e9
    c[0, 0] = 0.0
    c[1, 1] = -0.0
    c[2, 2] = np.nan
    b[3, 0] = np.inf
    b[4, 1] = np.nan
    b[5, 2] = -0.0
    c[6, :] = 1e-320  # subnormal costs and benefits
    b[6, :] = 1e-310
    o = engine.Outcomes.light(n, runnable(load_scenario(REFERENCE)))
    o = engine.Outcomes(**{**o.fields(), "benefits": b, "costs": c})
    for kind, whole in (("npv", o.npv), ("bcr", o.bcr)):
        d = _Derived(o, kind)
        for step in (1, 2, 7, n):
            got = np.empty_like(whole)
            for lo in range(0, n, step):
                d.read_rows(lo, min(n, lo + step), got[lo : lo + step])
            assert np.array_equal(_bits(got), _bits(whole)), (kind, step)
        col = d[:, 1]
        assert col.rows_source() == (d, 1) and len(col) == n
        with pytest.raises(TypeError):
            d[0:3, 1]


def test_a_failing_simulation_leaves_nothing(monkeypatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # the run directory is opened before the simulation: an error in it removes the folder,
    # its temporary draws.parquet and the parent folders the run made
    monkeypatch.setattr(api, "SPILL_BYTES", 0)
    monkeypatch.setenv("MKBA_DRAWS_STREAM", "1")
    calls = []

    def progress(hi: int, total: int) -> None:
        calls.append(hi)
        if len(calls) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        api.run_scenario(
            REFERENCE, draws=9000, out=tmp_path / "deep" / "er" / "run", progress=progress
        )
    assert list(tmp_path.iterdir()) == []


def test_a_failing_writer_fails_the_run_and_leaves_nothing(monkeypatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from mkba import pqwrite

    def full(self, columns):  # type: ignore[no-untyped-def]
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(api, "SPILL_BYTES", 0)
    monkeypatch.setenv("MKBA_DRAWS_STREAM", "1")
    monkeypatch.setattr(pqwrite.ColumnsWriter, "write_row_group", full)
    (tmp_path / "runs").mkdir()
    with pytest.raises(OSError, match="No space"):
        api.run_scenario(REFERENCE, draws=9000, out=tmp_path / "runs" / "x", companion=True)
    assert os.listdir(tmp_path / "runs") == []


def test_write_columns_asks_for_each_row_group_in_order(tmp_path: Path) -> None:
    # ready(lo, hi) before a row group's rows are read, written(lo, hi) after it is in the
    # file, row group after row group; the file is the one written without them, byte for byte
    rng = np.random.default_rng(5)
    cols = {"a": rng.random(2500), "b": np.arange(2500), "c": rng.random((2500, 3))[:, 1]}
    calls: list[tuple[str, int, int]] = []
    (tmp_path / "x").mkdir()
    (tmp_path / "y").mkdir()
    output.write_columns(tmp_path / "x", "t", cols, group_rows=1000)
    output.write_columns(
        tmp_path / "y",
        "t",
        cols,
        group_rows=1000,
        ready=lambda lo, hi: calls.append(("ready", lo, hi)),
        written=lambda lo, hi: calls.append(("written", lo, hi)),
        direct_buffer=8192,
        empty=drawstream.mapped,
    )
    assert calls == [
        ("ready", 0, 1000),
        ("written", 0, 1000),
        ("ready", 1000, 2000),
        ("written", 1000, 2000),
        ("ready", 2000, 2500),
        ("written", 2000, 2500),
    ]
    assert (tmp_path / "x" / "t.parquet").read_bytes() == (
        tmp_path / "y" / "t.parquet"
    ).read_bytes()


def test_mapped_arrays_are_zeros_of_their_own() -> None:
    a = drawstream.mapped((3, 5))
    b = drawstream.mapped((4096 + 8,), np.uint8)
    assert a.shape == (3, 5) and a.dtype == np.float64 and not a.any() and a.flags.writeable
    assert b.shape == (4104,) and b.dtype == np.uint8 and b.ctypes.data % 4096 == 0
    a[:] = 1.0
    assert not b.any()
