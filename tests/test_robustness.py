"""Nothing a user types, names or runs out of loses data, escapes the output folder or ends in
a traceback (issue 10). One section per fault class; the property-based test over mutated
input files is in ``test_hostile_inputs.py``."""

from __future__ import annotations

import errno
import hashlib
import io
import json
import os
from pathlib import Path

import matplotlib
import pandas as pd
import pytest

from mkba import batch as bt
from mkba import results
from mkba.cli.batch import payback_cell, split_variant_arguments
from mkba.errors import InputError, RunError
from mkba.load import load_scenario
from mkba.output import neutralise_formulas, neutralise_text, write_table
from mkba.paths import MAX_PART, safe_name, safe_part
from mkba.report.markdown import safe_url
from robust_helpers import cli, tiny_copy

matplotlib.use("Agg")

HOSTILE = [
    "../../../../../x",
    "budget +10%",
    "budget -10%",
    "a" * 300,
    ".",
    "..",
    "/etc/passwd",
    "C:\\Windows",
    "$\\frac{a}{$",
    '=HYPERLINK("http://x")',
    "naïve café",
    "A",
    "a",
    "x\u202ey",
]


def _tree(root: Path) -> dict[str, str]:
    """Every file under ``root`` with a hash of its bytes (folders as '<dir>')."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        out[rel] = "<dir>" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def _add_variants(scenario: Path, names: list[str]) -> None:
    text = scenario.read_text()
    for i, n in enumerate(names):
        text += f"\n[variants.{json.dumps(n)}]\nbudget.scale = {1 + i / 100}\n"
    scenario.write_text(text)


# --- 1. labels become safe, unique, length-limited folder names -------------------------------


def test_safe_name_is_a_single_clean_injective_folder_name() -> None:
    names = [safe_part(label) for label in HOSTILE]
    assert len(set(names)) == len(HOSTILE)  # two different labels never share a folder
    for n in names:
        assert "/" not in n and "\\" not in n and "\0" not in n
        assert n not in (".", "..") and not n.startswith(".")
        assert len(n) <= MAX_PART + 9
        assert n == n.lower() and n.isascii()
    assert safe_part("half_budget") == "half_budget"  # clean labels stay as they are
    assert safe_name("reference-2021", "half_budget") == "reference-2021--half_budget"
    # a part never holds '--', so the joined name is unambiguous
    assert safe_name("s", "a--b") != safe_name("s--a", "b")
    assert safe_name("s:a") != safe_name("s", "a")


def test_hostile_variant_names_never_leave_the_output_root(tmp_path: Path) -> None:
    """Run every hostile variant, alone and as a batch, from a deep working folder; sentinel
    files around it are unchanged and every run folder is directly under runs/."""
    work = tmp_path / "w1" / "w2" / "w3" / "w4" / "w5" / "work"
    scenario = tiny_copy(work)
    _add_variants(scenario, HOSTILE)
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "sentinel.txt").write_text("keep me")
    (tmp_path / "sentinel.txt").write_text("keep me too")
    outside = {k: v for k, v in _tree(tmp_path).items() if not k.startswith("w1")}
    before_inputs = _tree(work / "parameters") | _tree(work / "scenarios")
    cwd = os.getcwd()
    os.chdir(work)
    try:
        for name in ("../../../../../x", "a" * 300, ".."):
            r = cli("run", "scenarios/one.toml", "--variant", name, "-n", "16")
            assert r.code == 0, r.err
        r = cli("batch", "scenarios/one.toml", "--variants", "all", "-n", "16", "--out", "b")
        assert r.code == 0, r.err
    finally:
        os.chdir(cwd)
    assert {k: v for k, v in _tree(tmp_path).items() if not k.startswith("w1")} == outside
    assert _tree(work / "parameters") | _tree(work / "scenarios") == before_inputs
    created = {p.relative_to(work).parts[0] for p in work.iterdir()} - {"parameters", "scenarios"}
    assert created == {"runs", "b"}
    assert len(list((work / "runs").iterdir())) == 3
    for p in (work / "runs").iterdir():
        assert p.parent == work / "runs" and len(p.name) < 200
    runs = sorted(p.name for p in (work / "b" / "runs").iterdir())
    assert len(runs) == len(HOSTILE) + 3  # every variant (2 + hostile) and the base job
    table = pd.read_parquet(work / "b" / "summary" / "comparison.parquet")
    labels = set(table["job"])  # the labels themselves stay intact in the tables
    assert {f"one:{n}" for n in HOSTILE} <= labels


def test_empty_variant_name_is_invalid(tmp_path: Path) -> None:
    scenario = tiny_copy(tmp_path)
    _add_variants(scenario, [""])
    r = cli("validate", str(scenario))
    assert r.code == 2 and "variants" in r.err and "name" in r.err


def test_scenario_file_named_dot_toml_gets_its_own_folder(tmp_path: Path) -> None:
    scenario = tiny_copy(tmp_path)
    odd = scenario.with_name("..toml")
    odd.write_text(scenario.read_text())
    job = bt.Job(odd)
    assert job.folder not in (".", "..") and "/" not in job.folder


# --- 2. never overwrite a finished output without --force -------------------------------------


def test_a_finished_run_is_not_replaced_without_force(tmp_path: Path) -> None:
    scenario = tiny_copy(tmp_path)
    out = tmp_path / "run"
    assert cli("run", str(scenario), "-n", "32", "--out", str(out)).code == 0
    (out / "report.html").write_text("the user's report")
    before = _tree(out)
    r = cli("run", str(scenario), "-n", "16", "--out", str(out))
    assert r.code == 2 and "--force" in r.err and "finished output" in r.err
    assert _tree(out) == before
    # the identical run (same run id, same bytes) may be written again
    assert cli("run", str(scenario), "-n", "32", "--out", str(out)).code == 0
    r = cli("run", str(scenario), "-n", "16", "--out", str(out), "--force")
    assert r.code == 0
    assert json.loads((out / "summary.json").read_text())["draws"] == 16


def test_batch_does_not_replace_another_batch_without_force(tmp_path: Path) -> None:
    scenario = tiny_copy(tmp_path)
    out = tmp_path / "b"
    assert cli("batch", str(scenario), "-n", "16", "--out", str(out)).code == 0
    before = _tree(out)
    r = cli("batch", str(scenario), "-n", "32", "--out", str(out))
    assert r.code == 2 and "--force" in r.err
    assert _tree(out) == before
    assert cli("batch", str(scenario), "-n", "32", "--out", str(out), "--force").code == 0


# --- 3. finite numbers everywhere -------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ("total = 10000", "total = 10000\nscale = inf", "budget.scale"),
        ("total = 10000", "total = 1e308", "budget.total"),
        ("total = 10000", "per_resident = 1e308", "budget.per_resident"),
        ("discount_rate = 0.03", "discount_rate = nan", "discount_rate"),
        ("profile = [1, 1]", "profile = [1, nan]", "budget.profile"),
        ("main = 0.9, gov = 0.1", "main = inf, gov = 0.1", "budget.domains"),
    ],
)
def test_non_finite_or_huge_scenario_numbers_are_invalid(
    tmp_path: Path, old: str, new: str, key: str
) -> None:
    scenario = tiny_copy(tmp_path)
    scenario.write_text(scenario.read_text().replace(old, new, 1))
    r = cli("validate", str(scenario))
    assert r.code == 2 and key in r.err, r.err


@pytest.mark.parametrize(
    ("file", "old", "new", "key"),
    [
        ("cpi.toml", "2020 = 104.0", "2020 = inf", "values"),
        ("streams/s1.toml", "value = 0.1", "value = inf", "volume.rate"),
        (
            "streams/s1.toml",
            "value = 0.1",
            'dist = { type = "choice", values = [0.1, nan] }',
            "volume.rate",
        ),
        (
            "streams/s1.toml",
            "value = 0.1",
            'dist = { type = "uniform", min = 0.0, max = inf }',
            "volume.rate",
        ),
        ("streams/s1.toml", "value = 0.0", "value = 50.0", "trend"),
        ("areas.csv", "a1,Area one,1000", "a1,Area one,inf", "population"),
        ("areas.csv", "a1,Area one,1000", "a1,Area one,1e300", "population"),
    ],
)
def test_non_finite_or_huge_parameter_numbers_are_invalid(
    tmp_path: Path, file: str, old: str, new: str, key: str
) -> None:
    scenario = tiny_copy(tmp_path)
    path = tmp_path / "parameters" / file
    assert old in path.read_text()
    path.write_text(path.read_text().replace(old, new, 1))
    r = cli("validate", str(scenario))
    assert r.code == 2 and key in r.err, r.err
    assert cli("run", str(scenario), "-n", "16", "--no-write").code == 2


def test_draws_option_is_capped_like_the_schema(tmp_path: Path) -> None:
    scenario = tiny_copy(tmp_path)
    r = cli("run", str(scenario), "--draws", "1000000000000", "--no-write")
    assert r.code == 2 and "100000000" in r.err


def test_float_options_must_be_finite(tmp_path: Path) -> None:
    scenario = tiny_copy(tmp_path)
    for args in (
        ("sensitivity", str(scenario), "--method", "switching", "--threshold", "nan"),
        ("sensitivity", str(scenario), "--method", "discount", "--rates", "0,inf"),
        ("calibrate", str(scenario), "--target", "npv.p50=inf", "--free", "streams.s1.effect"),
    ):
        r = cli(*args, "--no-write") if args[0] == "sensitivity" else cli(*args)
        assert r.code == 2 and "Traceback" not in r.err, (args, r.err)


def test_a_run_never_ends_with_non_finite_results() -> None:
    doc = {"npv": {"mean": 1.0, "p5": 0.0, "p50": 1.0, "p95": 2.0, "share_defined": 0.5}}
    with pytest.raises(RunError, match="non-finite"):
        results.check_finite(doc, "s")
    doc = {"npv": {"mean": float("nan"), "p5": 0.0, "p50": 1.0, "p95": 2.0}}
    with pytest.raises(RunError, match="npv"):
        results.check_finite(doc, "s")
    # the payback year may be undefined (no draw pays back): that is a result, not a failure
    results.check_finite({"payback_year": {"mean": float("nan"), "p50": float("nan")}}, "s")


# --- 4. validate rejects what run rejects; every input is hashed at loading --------------------


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("total = 10000", "total = 0", "areas without any budget"),
        (
            "[variants.half]",
            '[[correlations]]\nparams = ["streams.s1.effect", "streams.s1.effect"]\nrho = 0.5\n'
            "[variants.half]",
            "correlated with itself",
        ),
    ],
)
def test_validate_rejects_what_run_rejects(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    scenario = tiny_copy(tmp_path)
    s1 = tmp_path / "parameters" / "streams" / "s1.toml"
    s1.write_text(
        s1.read_text().replace(
            'unit = "fraction"\nvalue = 0.2\n',
            'unit = "fraction"\ndist = { type = "uniform", min = 0.1, max = 0.3 }\n',
            1,
        )
    )
    scenario.write_text(scenario.read_text().replace(old, new, 1))
    r = cli("validate", str(scenario))
    assert r.code == 2 and message in r.err, r.err
    assert cli("run", str(scenario), "-n", "16", "--no-write").code == 2


def test_correlations_pair_twice_and_not_positive_definite(tmp_path: Path) -> None:
    scenario = tiny_copy(tmp_path)
    s1 = tmp_path / "parameters" / "streams" / "s1.toml"
    text = s1.read_text()
    for key, value in (("0.2", "effect"), ("0.25", "deadweight"), ("0.1", "rate")):
        text = text.replace(
            f"value = {value and key}\n",
            f'dist = {{ type = "uniform", min = 0.01, max = {float(key) * 2} }}\n',
            1,
        )
    s1.write_text(text)
    corr = '[[correlations]]\nparams = ["{a}", "{b}"]\nrho = {r}\n'.format
    e, d, v = "streams.s1.effect", "streams.s1.deadweight", "streams.s1.volume.rate"
    twice = corr(a=e, b=d, r=0.5) + corr(a=d, b=e, r=-0.5)
    base = scenario.read_text()
    scenario.write_text(base.replace("[variants.half]", twice + "[variants.half]"))
    r = cli("validate", str(scenario))
    assert r.code == 2 and "pair already given" in r.err, r.err
    not_pd = corr(a=e, b=d, r=0.95) + corr(a=d, b=v, r=0.95) + corr(a=e, b=v, r=-0.95)
    scenario.write_text(base.replace("[variants.half]", not_pd + "[variants.half]"))
    r = cli("validate", str(scenario))
    assert r.code == 2 and "positive definite" in r.err, r.err


def _table_scenario(tmp_path: Path, rows: str) -> Path:
    scenario = tiny_copy(tmp_path)
    (scenario.parent / "budget.csv").write_text("area_id,domain,year,amount\n" + rows)
    text = scenario.read_text()
    text = text.replace(
        "total = 10000\ndomains = { main = 0.9, gov = 0.1 }\nprofile = [1, 1]\n",
        'table = "budget.csv"\n',
    )
    text = text.split("[variants.half]")[0]
    scenario.write_text(text)
    return scenario


def test_budget_table_is_validated_and_hashed_at_loading(tmp_path: Path) -> None:
    scenario = _table_scenario(tmp_path / "a", "a1,main,2021,5000\na1,gov,2022,500\n")
    assert cli("validate", str(scenario)).code == 0
    first = load_scenario(scenario).digest
    (scenario.parent / "budget.csv").write_text(
        "area_id,domain,year,amount\na1,main,2021,5000\na1,gov,2022,600\n"
    )
    assert load_scenario(scenario).digest != first  # the run id covers the budget table
    bad = _table_scenario(tmp_path / "b", "a1,nope,2021,5000\na1,main,2099,1\n")
    r = cli("validate", str(bad))
    assert r.code == 2 and "unknown domain" in r.err and "outside start_year..horizon" in r.err


def test_calibration_record_with_a_misspelt_table_is_invalid(tmp_path: Path) -> None:
    scenario = tiny_copy(tmp_path)
    (scenario.parent / "calib.toml").write_text(
        '[record]\nscenario = "one"\n\n[valeus."streams.s1.effect"]\nunit = "fraction"\n'
        'value = 0.4\ncalibrated = "fitted"\n'
    )
    scenario.write_text('calibration = "calib.toml"\n' + scenario.read_text())
    r = cli("validate", str(scenario))
    assert r.code == 2 and "calib.toml: valeus: unknown key" in r.err, r.err


# --- 5. file-system faults: documented exit code, path and cause, nothing half-written ---------


def test_out_through_a_file_name_too_long_and_symlink_loop(tmp_path: Path) -> None:
    scenario = tiny_copy(tmp_path)
    (tmp_path / "afile").write_text("x")
    r = cli("run", str(scenario), "-n", "16", "--out", str(tmp_path / "afile" / "run"))
    assert r.code == 3 and "afile" in r.err and "a file, where a folder is needed" in r.err
    r = cli("run", str(scenario), "-n", "16", "--out", str(tmp_path / ("n" * 300)))
    assert r.code == 3 and "File name too long" in r.err
    (tmp_path / "l1").symlink_to(tmp_path / "l2")
    (tmp_path / "l2").symlink_to(tmp_path / "l1")
    r = cli("run", str(scenario), "-n", "16", "--out", str(tmp_path / "l1" / "run"))
    assert r.code == 3 and "loop" in r.err
    assert "Traceback" not in r.err


def test_nul_byte_and_deeply_nested_toml_are_input_errors(tmp_path: Path) -> None:
    r = cli("validate", str(tmp_path / "a\0b.toml"))
    assert r.code == 2 and "Traceback" not in r.err
    r = cli("run", str(tmp_path / "a\0b.toml"), "--no-write")
    assert r.code == 2 and "Traceback" not in r.err
    deep = tmp_path / "deep.toml"
    deep.write_text("a = " + "[" * 5000 + "]" * 5000)
    r = cli("validate", str(deep))
    assert r.code == 2 and "deep.toml" in r.err and "nested too deeply" in r.err


def test_full_disk_leaves_nothing_half_written(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import mkba.output as output

    scenario = tiny_copy(tmp_path)
    real = output.atomic_write_bytes
    calls = {"n": 0}

    def full(path: Path, data: bytes) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        real(path, data)

    monkeypatch.setattr(output, "atomic_write_bytes", full)
    out = tmp_path / "runs" / "r"
    r = cli("run", str(scenario), "-n", "16", "--out", str(out))
    assert r.code == 3 and "No space left on device" in r.err and str(out) in r.err
    assert not out.exists() and list((tmp_path / "runs").iterdir()) == []


def test_full_disk_in_a_batch_and_nul_byte_in_out(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import mkba.output as output

    scenario = tiny_copy(tmp_path)
    real = output.atomic_write_bytes

    def full(path: Path, data: bytes) -> None:
        if "summary" in str(path):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        real(path, data)

    monkeypatch.setattr(output, "atomic_write_bytes", full)
    r = cli("batch", str(scenario), "-n", "16", "--out", str(tmp_path / "b"))
    assert r.code == 3 and "No space left on device" in r.err and "summary" in r.err
    assert not (tmp_path / "b" / "summary").exists()
    assert [p.name for p in (tmp_path / "b").iterdir() if "partial" in p.name] == []
    monkeypatch.setattr(output, "atomic_write_bytes", real)
    r = cli("run", str(scenario), "-n", "16", "--out", str(tmp_path / "a\0b"))
    assert r.code == 2 and "null byte" in r.err.lower() and "Traceback" not in r.err


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_folder_without_write_permission(tmp_path: Path) -> None:
    scenario = tiny_copy(tmp_path)
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        r = cli("run", str(scenario), "-n", "16", "--out", str(ro / "run"))
        assert r.code == 3 and "Permission denied" in r.err and "ro" in r.err
    finally:
        ro.chmod(0o755)


def test_partial_folder_of_a_killed_run_is_cleaned_after_success(tmp_path: Path) -> None:
    scenario = tiny_copy(tmp_path)
    out = tmp_path / "runs" / "r"
    stale = tmp_path / "runs" / "r.partial-killed"
    stale.mkdir(parents=True)
    (stale / "summary.json").write_text("{")
    assert cli("run", str(scenario), "-n", "16", "--out", str(out)).code == 0
    assert not stale.exists() and out.is_dir()


def test_batch_resume_cleans_what_a_killed_batch_left(tmp_path: Path) -> None:
    scenario = tiny_copy(tmp_path)
    out = tmp_path / "b"
    assert cli("batch", str(scenario), "-n", "32", "--out", str(out)).code == 0
    chunk_dir = next((out / "chunks").iterdir())
    (chunk_dir / ".chunk-000000.npz.abc123.tmp").write_bytes(b"half")
    (out / "runs" / "one.partial-killed").mkdir()
    assert cli("batch", str(scenario), "-n", "32", "--out", str(out), "--resume").code == 0
    assert not (chunk_dir / ".chunk-000000.npz.abc123.tmp").exists()
    assert not (out / "runs" / "one.partial-killed").exists()


# --- 6. hostile text in outputs ---------------------------------------------------------------


def test_every_csv_neutralises_formula_cells(tmp_path: Path) -> None:
    df = pd.DataFrame(
        {"job": ["=1+1", "+cmd", "-x", "@SUM(A1)", "\tx", "ok", "a=b"], "npv": range(-4, 3)}
    )
    write_table(tmp_path, "t", df)
    back = pd.read_csv(tmp_path / "t.csv", keep_default_na=False)
    assert list(back["job"]) == ["'=1+1", "'+cmd", "'-x", "'@SUM(A1)", "'\tx", "ok", "a=b"]
    assert list(back["npv"]) == list(range(-4, 3))  # numbers, negative ones too, stay numbers
    assert list(pd.read_parquet(tmp_path / "t.parquet")["job"]) == list(df["job"])
    assert list(neutralise_formulas(pd.DataFrame({"=x": [1]})).columns) == ["'=x"]
    assert neutralise_text("\rx") == "'\rx" and neutralise_text(-1.0) == -1.0


def test_batch_comparison_csv_is_neutralised(tmp_path: Path) -> None:
    scenario = tiny_copy(tmp_path)
    _add_variants(scenario, ["=HYPERLINK(1)"])
    r = cli("batch", str(scenario), "--variants", "all", "-n", "16", "--out", str(tmp_path / "b"))
    assert r.code == 0, r.err
    text = (tmp_path / "b" / "summary" / "comparison.csv").read_text()
    assert "one:=HYPERLINK" in text and ",=" not in text and "\n=" not in text


def test_markdown_link_targets_are_never_markup() -> None:
    url = 'https://example.org/a(<script>alert(1)</script>)"onload=x'
    safe = safe_url(url)
    assert not any(ch in safe for ch in '()<>" ')
    assert safe.startswith("https://example.org/a")
    assert safe_url("javascript:alert(1)") == "#"


def test_charts_never_parse_user_text_as_mathtext() -> None:
    import matplotlib.pyplot as plt

    from mkba.report.charts import style_path

    with matplotlib.rc_context(), matplotlib.style.context(["default", str(style_path())]):
        fig, ax = plt.subplots()
        ax.set_title("$\\frac{a}{$ and $x^2$")  # invalid mathtext: raised before
        ax.bar(["$a_{$"], [1.0])
        fig.savefig(io.BytesIO(), format="png")
        fig.savefig(io.BytesIO(), format="svg")
        plt.close(fig)


# --- 7. spreadsheet-made files ----------------------------------------------------------------


def test_bom_semicolons_and_decimal_commas_are_accepted(tmp_path: Path) -> None:
    scenario = tiny_copy(tmp_path)
    ref = load_scenario(scenario).params.areas.numeric
    areas = tmp_path / "parameters" / "areas.csv"
    text = areas.read_text().replace(",", ";").replace("0.25", "0,25").replace("0.5", "0,5")
    areas.write_bytes(b"\xef\xbb\xbf" + text.encode())
    toml = tmp_path / "parameters" / "model.toml"
    toml.write_bytes(b"\xef\xbb\xbf" + toml.read_bytes())
    assert cli("validate", str(scenario)).code == 0
    got = load_scenario(scenario).params.areas.numeric
    for col in ref:
        assert list(got[col]) == list(ref[col])


def test_ambiguous_decimal_comma_is_diagnosed_with_file_line_and_column(tmp_path: Path) -> None:
    scenario = tiny_copy(tmp_path)
    areas = tmp_path / "parameters" / "areas.csv"
    areas.write_text(areas.read_text().replace(",", ";").replace("1000", "1,000"))
    r = cli("validate", str(scenario))
    assert r.code == 2 and "areas.csv: line 2.population" in r.err and "ambiguous" in r.err
    areas.write_text("area_id,name,population,poor_share\na1,Area one,1000,0,5\n")
    r = cli("validate", str(scenario))
    assert r.code == 2 and "line 2" in r.err and "decimal comma" in r.err


# --- 8. a batch checks all its inputs first ----------------------------------------------------


def test_variants_option_takes_several_names(tmp_path: Path) -> None:
    scenario = tiny_copy(tmp_path)
    files, names = split_variant_arguments([str(scenario), "no_gov"], ["half"])
    assert files == [str(scenario)] and names == ["half", "no_gov"]
    assert split_variant_arguments([str(scenario)], ["half,no_gov"])[1] == ["half", "no_gov"]
    r = cli(
        "batch",
        str(scenario),
        "--variants",
        "half",
        "no_gov",
        "-n",
        "16",
        "--out",
        str(tmp_path / "b"),
        "--json",
    )
    assert r.code == 0, r.err
    jobs = [j["job"] for j in json.loads(r.out)["jobs"]]
    assert jobs == ["one", "one:half", "one:no_gov"]


def test_batch_with_only_missing_files_writes_nothing(tmp_path: Path) -> None:
    r = cli("batch", str(tmp_path / "nope.toml"), "--out", str(tmp_path / "b"))
    assert r.code == 2 and "file not found" in r.err
    assert not (tmp_path / "b").exists()
    scenario = tiny_copy(tmp_path)
    r = cli("batch", str(scenario), "--variants", "hlaf", "--out", str(tmp_path / "b"))
    assert r.code == 2 and "unknown variant" in r.err and not (tmp_path / "b").exists()
    with pytest.raises(InputError):
        bt.expand_jobs([tmp_path / "nope.toml"], ["all"])


# --- 9. payback statistics say what they are taken over ----------------------------------------


def test_payback_is_reported_with_the_share_that_pays_back(tmp_path: Path) -> None:
    import numpy as np

    pb = results.payback_stats(np.array([2030.0, 2031.0, np.nan, np.nan]))
    assert pb["share_defined"] == 0.5 and pb["over"] == results.PAYBACK_OVER
    assert results.share_pay_back(pb) == 0.5
    assert payback_cell(pb) == "2030 (50% pay back)"
    assert payback_cell(results.payback_stats(np.array([np.nan, np.nan]))) == "never"
    scenario = tiny_copy(tmp_path)
    r = cli("batch", str(scenario), "-n", "16", "--out", str(tmp_path / "b"))
    assert r.code == 0 and "back)" in r.out  # the cell: "2022 (100% pay back)", wrapped
    table = pd.read_csv(tmp_path / "b" / "summary" / "comparison.csv")
    assert "payback_share" in table.columns
    assert table.loc[table["perspective"] == "welfare", "payback_share"].iloc[0] == 1.0


def test_report_of_hostile_names_and_urls_is_inert(tmp_path: Path) -> None:
    """End to end: `$...$` in area and stream names does not crash the charts, and a source
    URL with brackets and a script tag is no live markup in report.md or report.html."""
    scenario = tiny_copy(tmp_path)
    areas = tmp_path / "parameters" / "areas.csv"
    areas.write_text(areas.read_text().replace("Area one", "$x^2$ =cmd"))
    s1 = tmp_path / "parameters" / "streams" / "s1.toml"
    url = "https://example.org/a(<script>alert(1)</script>)"
    s1.write_text(
        s1.read_text()
        .replace('label = "Stream one"', 'label = "Stream $\\\\frac{a}{$ one"', 1)
        .replace(
            'unit = "fraction"\nvalue = 0.2\nassumption = "Test value for hand calculations."',
            f'unit = "fraction"\nvalue = 0.2\nsource = {{ title = "Evil", year = 2020, url = "{url}" }}',
            1,
        )
    )
    out = tmp_path / "run"
    assert cli("run", str(scenario), "-n", "16", "--out", str(out)).code == 0
    r = cli("report", str(out), "--format", "md", "--format", "html", "--format", "xlsx")
    assert r.code == 0, r.err
    md = (out / "report.md").read_text()
    assert "<script>" not in md and "Evil" in md
    html = (out / "report.html").read_text()
    assert "<script>alert" not in html
