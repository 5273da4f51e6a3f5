"""The run's small tables and inputs.json without pandas (issue 17, target 2): every byte the
same as pandas wrote them. The expected bytes are pandas' own output, computed here: the old
``write_table`` path (``pa.Table.from_pandas`` + ``pq.write_table``, and
``neutralise_formulas(frame).to_csv(index=False)``) and ``DataFrame(rows, columns).to_dict``."""

from __future__ import annotations

import io
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mkba import engine, results
from mkba.checks import runnable
from mkba.load import load_scenario
from mkba.output import (
    PARQUET_OPTIONS,
    _dictionary_columns,
    neutralise_formulas,
    neutralise_text,
    write_table,
)
from mkba.report.assumptions import ASSUMPTION_COLUMNS
from mkba.report.inputs import _json_value, frame_records
from mkba.rowtable import RowTable, arrow_array, arrow_text

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "scenarios" / "reference-2021.toml"


def _pandas_files(df: pd.DataFrame) -> tuple[bytes, str]:
    """The Parquet bytes and CSV text of the old ``write_table`` (pandas all the way)."""
    table = pa.Table.from_pandas(df, preserve_index=False)
    buf = io.BytesIO()
    pq.write_table(table, buf, use_dictionary=_dictionary_columns(table.schema), **PARQUET_OPTIONS)
    return buf.getvalue(), neutralise_formulas(df).to_csv(index=False)


def _rowtable_files(t: RowTable) -> tuple[bytes, str]:
    assert not t.needs_pandas()
    table = t.to_arrow()
    buf = io.BytesIO()
    pq.write_table(table, buf, use_dictionary=_dictionary_columns(table.schema), **PARQUET_OPTIONS)
    return buf.getvalue(), t.to_csv(neutralise_text)


def _assert_as_pandas(rows: list[dict[str, Any]]) -> None:
    t = RowTable(rows)
    df = pd.DataFrame(rows)
    assert t.to_pandas().equals(df)
    want_arrow = pa.Table.from_pandas(df, preserve_index=False)
    got_arrow = t.to_arrow()
    assert got_arrow.schema.equals(want_arrow.schema, check_metadata=True)
    assert got_arrow.schema.metadata == want_arrow.schema.metadata
    assert got_arrow.equals(want_arrow)
    want_pq, want_csv = _pandas_files(df)
    got_pq, got_csv = _rowtable_files(t)
    assert got_csv == want_csv
    assert got_pq == want_pq


EDGE_FLOATS = [
    0.0,
    -0.0,
    1.0,
    -1.5,
    0.1 + 0.2,
    1e16,
    1e15 + 0.3,
    123456789012345678.0,
    -9.87654321e22,
    1e300,
    -1.7976931348623157e308,
    5e-324,
    2.2250738585072014e-308,
    1e-5,
    0.0001,
    math.pi * 1e-7,
    math.nan,
    math.inf,
    -math.inf,
    4339634748.920509,
]

EDGE_TEXT = [
    "plain",
    "with, comma",
    'with "quotes"',
    "line\nbreak",
    "carriage\rreturn",
    "crlf\r\nend",
    "=SUM(A1:A9)",
    "+31 20 123",
    "-minus",
    "@handle",
    "\ttab first",
    "\rcr first",
    "'already quoted",
    "",
    " leading space",
    "één — €5, ‘quotes’",
    "a;b|c",
]


def test_edge_values_are_written_as_pandas_writes_them() -> None:
    n = len(EDGE_FLOATS)
    rows = [
        {
            "text": EDGE_TEXT[i % len(EDGE_TEXT)],
            "x": EDGE_FLOATS[i],
            "year": 2000 + i * 7 - 50,
            "big": (-1) ** i * (2**62 + i),
            "flag": i % 3 == 0,
            "mixed": i if i % 2 else float(i) + 0.25,  # integers among floats: float64
        }
        for i in range(n)
    ]
    _assert_as_pandas(rows)


def test_every_edge_text_in_its_own_table() -> None:
    for text in EDGE_TEXT:
        _assert_as_pandas([{"name": text, "v": 1.0}])
        _assert_as_pandas([{"name": text}])  # one text column: an empty cell is quoted


def test_missing_cells_and_column_order_as_pandas() -> None:
    # a key missing in some rows is a missing cell (NaN, or a missing text); columns in order
    # of first appearance; None among numbers is NaN; ints with a gap are float64
    rows: list[dict[str, Any]] = [
        {"name": "a", "mean": 1.0, "count": 3},
        {"name": None, "mean": None, "share_defined": 0.5},
        {"mean": 2.5, "name": "c", "count": 4},
        {"name": "=d", "mean": math.nan, "count": None, "share_defined": 1.0},
    ]
    _assert_as_pandas(rows)


def test_formula_like_column_names_are_neutralised() -> None:
    _assert_as_pandas([{"=name": "x", "+v": 1.0, "ok": "-1"}])


def test_other_kinds_are_written_through_pandas(tmp_path: Path) -> None:
    # lists, booleans with gaps, NumPy scalars, all-missing, no rows, integers beyond int64:
    # pandas decides, so the files are pandas' own
    cases: list[list[dict[str, Any]]] = [
        [{"a": [1, 2]}, {"a": []}],
        [{"a": True}, {"a": None}],
        [{"a": np.float64(1.0)}],
        [{"a": None}, {"a": None}],
        [{"a": 2**63}],  # uint64 in pandas
        [],
    ]
    for rows in cases:
        t = RowTable(rows)
        assert t.needs_pandas(), rows
        if not rows:
            continue
        write_table(tmp_path, "t", t)
        want_pq, want_csv = _pandas_files(pd.DataFrame(rows))
        assert (tmp_path / "t.parquet").read_bytes() == want_pq
        assert (tmp_path / "t.csv").read_text(encoding="utf-8") == want_csv


def _assert_same_array(got: pa.Array, want: pa.Array) -> None:
    # Array.equals says NaN != NaN: compare type, nulls and every value's repr (-0.0, nan)
    assert got.type == want.type
    assert got.null_count == want.null_count
    assert repr(got.to_pylist()) == repr(want.to_pylist())


def test_arrow_arrays_from_buffers_equal_pyarrow_array() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=1000)
    x[[3, 500]] = np.nan
    x[7] = np.inf
    for arr in (
        x,
        x[::3],  # strided: made contiguous
        x.astype(np.float32),
        np.arange(1000),
        np.arange(1000, dtype=np.int32),
        rng.random(1000) < 0.3,
        np.array([], dtype=float),
    ):
        _assert_same_array(arrow_array(arr), pa.array(arr))
        _assert_same_array(arrow_array(arr, nan_is_null=True), pa.array(arr, from_pandas=True))
    texts = ["a", None, "", "één", "x" * 1000, None]
    _assert_same_array(arrow_text(texts), pa.array(texts, type=pa.large_string()))
    with pytest.raises(TypeError):
        arrow_array(np.array(["a"]))


@pytest.fixture(scope="module")
def reference_run() -> engine.Run:
    return engine.simulate(runnable(load_scenario(REFERENCE)), draws=2000, chunk_size=512)


def test_tables_of_a_run_are_pandas_bytes(reference_run: engine.Run) -> None:
    run = reference_run
    with results.shared_statistics():
        for rows in (
            results.summary_rows(run),
            results.breakdown_rows(run),
            results.yearly_rows(run),
        ):
            assert not rows.needs_pandas()
            _assert_as_pandas(rows.rows)


def test_frame_records_equal_pandas_records() -> None:
    # pandas infers the dtype per column: ints with a missing cell become floats (2021.0),
    # missing text becomes NaN; booleans, lists and all-missing columns stay objects
    columns = ("group", "price_year", "per", "uncertain", "sources", "n", "x", "empty", "extra")
    rows = [
        {
            "group": "g",
            "price_year": None,
            "per": None,
            "uncertain": True,
            "sources": [],
            "n": 1,
            "x": 1,
            "empty": None,
        },
        {
            "group": "=h",
            "price_year": 2021,
            "per": "year",
            "uncertain": False,
            "sources": [{"title": "t", "year": 2020}],
            "n": 2,
            "x": 2.5,
            "empty": None,
        },
        {
            "group": None,
            "price_year": 2018,
            "per": "once",
            "uncertain": None,
            "sources": None,
            "n": 3,
            "x": math.inf,
            "empty": None,
        },
    ]

    def pandas_records(rows: list[dict[str, Any]], cols: tuple[str, ...]) -> str:
        frame = pd.DataFrame(rows, columns=list(cols))
        recs = [{k: _json_value(v) for k, v in r.items()} for r in frame.to_dict("records")]
        return json.dumps(recs)

    assert json.dumps(frame_records(rows, columns)) == pandas_records(rows, columns)
    for k in range(len(rows)):
        one = rows[k : k + 1]
        assert json.dumps(frame_records(one, columns)) == pandas_records(one, columns)


def test_inputs_document_rows_equal_pandas_records() -> None:
    # the assumptions rows of the reference (both languages), as the report's data frame
    from mkba.report.assumptions import assumption_rows
    from mkba.report.inputs import title_in
    from mkba.report.labels import Labels

    spec = load_scenario(REFERENCE)
    summary = {"title": spec.scenario.title, "scenario": spec.name}
    for lang in ("nl", "en"):
        rows = assumption_rows(
            spec,
            Labels(lang, spec.params),
            title=title_in(summary, spec.scenario.title_nl, lang),
            calibration_file=None,
        )
        frame = pd.DataFrame(rows, columns=list(ASSUMPTION_COLUMNS))
        want = [{k: _json_value(v) for k, v in r.items()} for r in frame.to_dict("records")]
        assert json.dumps(frame_records(rows, ASSUMPTION_COLUMNS)) == json.dumps(want)
        assert any(isinstance(r["price_year"], float) for r in want)  # the 2021.0 case


def test_a_plain_run_imports_no_pandas(tmp_path: Path) -> None:
    """pandas (and, through it, a second copy of pyarrow's start-up) cost about a quarter of a
    second of every `mkba run`; the run writes its tables without it."""
    probe = (
        "import json, sys\n"
        "import mkba.cli\n"
        "try:\n"
        f"    mkba.cli.main(['run', '-n', '1000', '--out', {str(tmp_path / 'run')!r}])\n"
        "except SystemExit as e:\n"
        "    assert e.code in (0, None), e.code\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})), file=sys.stderr)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT
    )
    loaded = set(json.loads(proc.stderr.strip().splitlines()[-1]))
    assert (tmp_path / "run" / "yearly_quantiles.csv").is_file()
    assert (tmp_path / "run" / "inputs.json").is_file()
    assert "pyarrow" in loaded  # the probe wrote its tables
    assert "pandas" not in loaded
