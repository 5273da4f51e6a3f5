"""mkba.output.write_parquet_table: the run's small tables written through pyarrow's compiled
Parquet writer without importing ``pyarrow.parquet`` (issue 17, target 2: start-up of a default
run), every byte the same as ``pyarrow.parquet.write_table`` with the same options. The expected
bytes are pyarrow's own ``write_table`` output, written in the same fresh interpreter after the
light path (which must not have imported ``pyarrow.parquet``)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow as pa

from mkba.output import PYARROW_WRITER_DEFAULTS

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import io, json, math, sys
import pyarrow as pa
from mkba import engine, results
from mkba.checks import runnable
from mkba.load import load_scenario
from mkba.output import PARQUET_OPTIONS, _dictionary_columns, write_parquet_table

run = engine.simulate(runnable(load_scenario(REFERENCE)), draws=1000, chunk_size=500)
with results.shared_statistics():
    tables = [rows.to_arrow() for rows in (results.summary_rows(run),
              results.breakdown_rows(run), results.yearly_rows(run))]
tables += [
    pa.table({"x": [1.5, math.nan, -0.0, math.inf], "s": ["a", None, "a", "é"],
              "n": [1, 2, 3, 4]}),
    pa.table({"x": pa.array([], pa.float64()), "s": pa.array([], pa.string())}),
]
light = []
for t in tables:
    buf = io.BytesIO()
    write_parquet_table(t, buf, use_dictionary=_dictionary_columns(t.schema), **PARQUET_OPTIONS)
    light.append(buf.getvalue())
alone = "pyarrow.parquet" not in sys.modules
import pyarrow.parquet as pq
theirs = []
for t in tables:
    buf = io.BytesIO()
    pq.write_table(t, buf, use_dictionary=_dictionary_columns(t.schema), **PARQUET_OPTIONS)
    theirs.append(buf.getvalue())
print(json.dumps({"alone": alone, "rows": [t.num_rows for t in tables],
                  "equal": [a == b for a, b in zip(light, theirs)]}))
"""


def test_light_writer_writes_pyarrows_bytes() -> None:
    """A run's three tables, a table of edge values and an empty one: the same bytes as
    ``pyarrow.parquet.write_table``; ``pyarrow.parquet`` not imported by the light path."""
    ref = ROOT / "scenarios" / "reference-2021.toml"
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(PROBE).replace("REFERENCE", repr(str(ref)))],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["equal"] == [True] * 5
    assert out["rows"][0] > 0 and out["rows"][-1] == 0
    # the light path is taken with the pyarrow the project is tested with
    assert out["alone"] is (pa.__version__ in PYARROW_WRITER_DEFAULTS)


def test_writer_defaults_are_the_wrappers() -> None:
    """Each default passed is the one ``pyarrow.parquet.ParquetWriter`` has for that version
    (its signature; ``use_deprecated_int96_timestamps`` None -> False, the engine version V2,
    and ``write_table``'s three timestamp/page options passed through)."""
    import inspect

    import pyarrow.parquet as pq

    defaults = PYARROW_WRITER_DEFAULTS.get(pa.__version__)
    if defaults is None:  # another pyarrow: write_parquet_table calls pyarrow.parquet
        return
    sig = inspect.signature(pq.ParquetWriter.__init__).parameters
    table_sig = inspect.signature(pq.write_table).parameters
    for name, value in defaults.items():
        if name == "use_deprecated_int96_timestamps":
            assert sig[name].default is None and value is False  # no flavor: False
        elif name == "writer_engine_version":
            assert value == "V2"  # set in ParquetWriter.__init__ whatever is passed
        elif name in sig:
            assert sig[name].default == value, name
        else:  # passed by write_table to the writer as **options
            assert table_sig[name].default == value, name
    passed = set(defaults) | {"use_dictionary", "compression", "write_statistics"}
    expected = (
        set(sig) | {"coerce_timestamps", "data_page_size", "allow_truncated_timestamps"}
    ) - {
        "self",
        "where",
        "schema",
        "filesystem",
        "flavor",
        "options",
    }
    assert passed == expected
