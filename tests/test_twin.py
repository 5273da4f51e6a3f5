"""Issue 17, target 3 (i19-twin): a run and its companion simulated in one sampling pass.

``engine.twin_of`` decides whether two models draw the same uniforms in every chunk (the same
draws, chunk size, seed, ``random``/``lhs`` sampler, registry columns, copula, slots, scales
and fixed values) and which uncertain columns' inverse CDFs differ; ``engine.simulate_twin``
then samples once and runs both kernels. Everything must equal two separate simulations bit
for bit: every outcome array, the samples, the chunk means, the sinks' figures, the side
summaries and the written run directory. Comparisons are ``np.array_equal`` (NaN equal where
both are NaN, signed zeros checked) or ``==``; the expected values are those of the plain
path (``engine.simulate``), the reference of every other test.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from pathlib import Path
from typing import Any

import numba
import numpy as np
import pytest

from mkba import api, engine, implied, results
from mkba.checks import runnable
from mkba.load import load_scenario
from mkba.model import Model
from mkba.rng import fill_theta

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "scenarios" / "reference-2021.toml"
EVIDENCE = ROOT / "scenarios" / "evidence-2021.toml"
PROGRAMME = ROOT / "scenarios" / "wijkprogramma-example.toml"


@pytest.fixture(autouse=True)
def _twin_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """The twin pass is the default (``MKBA_TWIN=0`` switches it off); these tests are about
    it, whatever the environment of the test run."""
    monkeypatch.setenv(api.TWIN_ENV, "1")


def _same(x: np.ndarray, y: np.ndarray) -> bool:
    return (
        x.shape == y.shape
        and x.dtype == y.dtype
        and np.array_equal(x, y, equal_nan=True)
        and np.array_equal(np.signbit(x), np.signbit(y))
    )


def _settings(m: Model, o: Model, **change: Any) -> dict[str, Any]:
    base = {
        "draws": 5000,
        "seed": 7,
        "sampler": "lhs",
        "chunk_size": 1024,
        "other_draws": 5000,
        "other_seed": 7,
        "other_sampler": "lhs",
        "other_chunk_size": 1024,
    }
    return base | change


# --- the check -----------------------------------------------------------------------------


def test_reference_and_evidence_are_twins(ref: Model, evi: Model) -> None:
    twin = engine.twin_of(ref, evi, **_settings(ref, evi))
    assert twin is not None and twin.other is evi
    # the six calibrated effect columns (reference-2021's calibration record), slots 21-25, 27
    assert [ref.uncertain[j] for j in twin.cols] == [
        "streams.benefit_savings.effect",
        "streams.care_mental.effect",
        "streams.care_wmo.effect",
        "streams.care_youth.effect",
        "streams.education.effect",
        "streams.safety.effect",
    ]
    assert twin.slots.tolist() == [21, 22, 23, 24, 25, 27]
    # and the other way round (evidence-2021's companion is reference-2021)
    back = engine.twin_of(evi, ref, **_settings(evi, ref))
    assert back is not None and back.cols.tolist() == twin.cols.tolist()
    # a model is its own twin, with no column of its own
    own = engine.twin_of(ref, ref, **_settings(ref, ref))
    assert own is not None and own.cols.size == 0


@pytest.mark.parametrize(
    "change",
    [
        {"other_draws": 5001},
        {"other_seed": 8},
        {"other_chunk_size": 2048},
        {"other_sampler": "random"},
        {"sampler": "sobol", "other_sampler": "sobol"},
        {"sampler": "halton", "other_sampler": "halton"},
    ],
)
def test_other_settings_are_not_twins(ref: Model, evi: Model, change: dict[str, Any]) -> None:
    assert engine.twin_of(ref, evi, **_settings(ref, evi, **change)) is None


def test_random_sampler_twins(ref: Model, evi: Model) -> None:
    s = _settings(ref, evi, sampler="random", other_sampler="random")
    assert engine.twin_of(ref, evi, **s) is not None


def _changed(m: Model, **fields: Any) -> Model:
    return dataclasses.replace(m, **fields)


def test_models_that_draw_other_uniforms_are_not_twins(ref: Model, evi: Model) -> None:
    s = _settings(ref, evi)
    col = evi.uncertain_col.copy()
    col[5] += 1  # another registry column: another stream
    assert engine.twin_of(ref, _changed(evi, uncertain_col=col), **s) is None
    col = evi.uncertain_col.copy()
    col[[3, 4]] = col[[4, 3]]
    assert engine.twin_of(ref, _changed(evi, uncertain_col=col), **s) is None
    slot = evi.uncertain_slot.copy()
    slot[[0, 1]] = slot[[1, 0]]
    assert engine.twin_of(ref, _changed(evi, uncertain_slot=slot), **s) is None
    scale = evi.uncertain_scale.copy()
    scale[0] = np.nextafter(scale[0], np.inf)  # one ulp
    assert engine.twin_of(ref, _changed(evi, uncertain_scale=scale), **s) is None
    # a fixed slot's value (one that no uncertain column writes), to the last bit
    fixed = np.setdiff1d(np.arange(evi.theta_fixed.size), evi.uncertain_slot)[0]
    th = evi.theta_fixed.copy()
    th[fixed] = np.nextafter(th[fixed], np.inf)
    assert engine.twin_of(ref, _changed(evi, theta_fixed=th), **s) is None
    if th[fixed] == 0.0:  # -0.0 is other bits
        th[fixed] = -0.0
        assert engine.twin_of(ref, _changed(evi, theta_fixed=th), **s) is None
    # an uncertain slot's median differs (evidence's effect medians do): still twins
    th = evi.theta_fixed.copy()
    th[evi.uncertain_slot[0]] += 1.0
    assert engine.twin_of(ref, _changed(evi, theta_fixed=th), **s) is not None
    # one uncertain column fewer
    short = _changed(
        evi,
        uncertain=evi.uncertain[:-1],
        uncertain_col=evi.uncertain_col[:-1],
        uncertain_slot=evi.uncertain_slot[:-1],
        uncertain_scale=evi.uncertain_scale[:-1],
        inverse_cdfs=evi.inverse_cdfs[:-1],
    )
    assert engine.twin_of(ref, short, **s) is None


def test_another_copula_is_not_a_twin(
    ref: Model, evi: Model, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = engine.correlation_factor
    s = _settings(ref, evi)

    def other_factor(change: Any) -> Any:
        def factor(m: Model) -> Any:
            f = real(m)
            return change(f) if m is evi else f

        return factor

    assert real(ref) is not None  # the reference correlates some columns
    variants = [
        lambda f: None,  # no copula
        lambda f: (f[0][::-1].copy(), f[1]),  # other columns
        lambda f: (f[0], np.nextafter(f[1], 2.0)),  # another factor, by an ulp
    ]
    for change in variants:
        monkeypatch.setattr(engine, "correlation_factor", other_factor(change))
        assert engine.twin_of(ref, evi, **s) is None
    monkeypatch.setattr(engine, "correlation_factor", other_factor(lambda f: f))
    assert engine.twin_of(ref, evi, **s) is not None


def test_programmes_and_the_numpy_backend_are_not_twinned(ref: Model) -> None:
    prog = runnable(load_scenario(PROGRAMME))
    assert engine.twin_of(prog, prog, **_settings(prog, prog)) is None
    assert engine.twin_of(ref, ref, **_settings(ref, ref), backend="numpy") is None


def test_same_inverse_cdf_compares_bits(ref: Model, evi: Model) -> None:
    for j in range(len(ref.uncertain)):
        assert engine._same_inverse_cdf(ref.inverse_cdfs[j], ref.inverse_cdfs[j])
    differ = [
        j
        for j in range(len(ref.uncertain))
        if not engine._same_inverse_cdf(ref.inverse_cdfs[j], evi.inverse_cdfs[j])
    ]
    assert differ == [2, 9, 15, 21, 27, 39]
    assert not engine._same_bytes(np.array([0.0]), np.array([-0.0]))
    assert engine._same_bytes(np.array([np.nan]), np.array([np.nan]))


# --- the uniforms handed over ----------------------------------------------------------------


@pytest.mark.parametrize("sampler", ["lhs", "random"])
@pytest.mark.parametrize("n", [1, 7, 1024, 5000])
def test_fill_theta_hands_over_the_uniforms_it_used(ref: Model, sampler: str, n: int) -> None:
    """``u_out`` holds the clipped, correlated uniforms of ``engine.uniforms`` (the NumPy
    reference: uniform_matrix, then apply_copula), and ``theta_t`` is unchanged."""
    factor = engine.correlation_factor(ref)
    cols = np.array([2, 9, 0, 85, 39], dtype=np.int64)  # correlated and not
    u = np.empty((cols.size, n))
    tht = ref.sample_theta_t(sampler, n, seed=3, chunk=2, factor=factor, u_cols=cols, u_out=u)
    want = engine.uniforms(ref, 0, n, seed=3, sampler=sampler, chunk=2, chunk_size=n, factor=factor)
    assert _same(u, np.ascontiguousarray(want[:, cols].T))
    plain = ref.sample_theta_t(sampler, n, seed=3, chunk=2, factor=factor)
    assert _same(tht, plain)
    # without a copula too
    u0 = np.empty((cols.size, n))
    ref.sample_theta_t(sampler, n, seed=3, chunk=2, u_cols=cols, u_out=u0)
    want0 = engine.uniforms(ref, 0, n, seed=3, sampler=sampler, chunk=2, chunk_size=n)
    assert _same(u0, np.ascontiguousarray(want0[:, cols].T))


@pytest.mark.parametrize("n", [1, 3000])
def test_other_inverse_cdfs_of_the_same_uniforms(ref: Model, evi: Model, n: int) -> None:
    """The twin's rows made from the handed-over uniforms are the rows the other model samples
    itself, and so are its sampled values."""
    twin = engine.twin_of(ref, evi, **_settings(ref, evi))
    assert twin is not None
    factor = engine.correlation_factor(ref)
    u = np.empty((twin.cols.size, n))
    ref.sample_theta_t("lhs", n, seed=9, chunk=1, factor=factor, u_cols=twin.cols, u_out=u)
    rows, samp = np.empty((twin.cols.size, n)), np.empty((n, twin.cols.size))
    k = np.arange(twin.cols.size)
    fill_theta(twin.plan, twin.inverse_cdfs, rows, k, twin.scale, ut=u, samples=samp)
    own_samples = np.empty((n, len(evi.uncertain)))
    own = evi.sample_theta_t("lhs", n, seed=9, chunk=1, factor=factor, samples=own_samples)
    assert _same(rows, own[twin.slots])
    assert _same(samp, own_samples[:, twin.cols])


# --- the twin simulation ---------------------------------------------------------------------


class _Keep:
    """A sink that keeps copies of every chunk's samples."""

    def __init__(self) -> None:
        self.rows: dict[int, np.ndarray] = {}

    def __call__(self, lo: int, samples: np.ndarray) -> None:
        self.rows[lo] = samples.copy()

    def all(self) -> np.ndarray:
        return np.concatenate([self.rows[k] for k in sorted(self.rows)])


def _check_twin(
    m: Model, o: Model, *, draws: int, chunk_size: int, sampler: str = "lhs", **kw: Any
) -> None:
    seed = 20211
    twin = engine.twin_of(
        m,
        o,
        **_settings(
            m,
            o,
            draws=draws,
            other_draws=draws,
            chunk_size=chunk_size,
            other_chunk_size=chunk_size,
            seed=seed,
            other_seed=seed,
            sampler=sampler,
            other_sampler=sampler,
        ),
    )
    assert twin is not None
    mine, theirs = _Keep(), _Keep()
    run, orun = engine.simulate_twin(
        m,
        twin,
        draws=draws,
        seed=seed,
        sampler=sampler,
        chunk_size=chunk_size,
        on_samples=mine,
        other_on_samples=theirs,
        **kw,
    )
    area_dtype = kw.get("area_dtype", np.float64)
    want = engine.simulate(
        m,
        draws=draws,
        seed=seed,
        sampler=sampler,
        chunk_size=chunk_size,
        area_dtype=area_dtype,
    )
    owant_s = _Keep()
    owant = engine.simulate(
        o,
        draws=draws,
        seed=seed,
        sampler=sampler,
        chunk_size=chunk_size,
        area_dtype=area_dtype,
        keep_samples=False,
        on_samples=owant_s,
    )
    for name, x in want.outcomes.fields().items():
        assert _same(getattr(run.outcomes, name), x), name
    samples = run.samples if run.samples is not None else run.spilled[0:draws]  # type: ignore[index]  # spilled when samples is None
    assert want.samples is not None and _same(np.asarray(samples), want.samples)
    assert _same(mine.all(), want.samples)
    assert run.chunk_means is not None and want.chunk_means is not None
    assert _same(run.chunk_means, want.chunk_means)
    # the companion: what its side summary reads, its samples and chunk means
    for name in ("benefits", "costs", "stream"):
        assert _same(getattr(orun.outcomes, name), getattr(owant.outcomes, name)), name
    for name, x in orun.outcomes.fields().items():
        if name not in ("benefits", "costs", "stream"):
            assert x.shape[0] == 0, name  # light: nothing else kept
    assert _same(theirs.all(), owant_s.all())
    assert orun.chunk_means is not None and owant.chunk_means is not None
    assert _same(orun.chunk_means, owant.chunk_means)
    assert orun.samples is None and orun.spilled is None
    assert (orun.draws, orun.seed, orun.sampler, orun.chunk_size) == (
        draws,
        seed,
        sampler,
        chunk_size,
    )
    assert orun.model is o and run.model is m


@pytest.mark.parametrize(("draws", "chunk_size"), [(1, 1024), (5, 4096), (4500, 1024)])
def test_twin_equals_two_simulations(ref: Model, evi: Model, draws: int, chunk_size: int) -> None:
    _check_twin(ref, evi, draws=draws, chunk_size=chunk_size)


def test_twin_equals_two_simulations_random_sampler(ref: Model, evi: Model) -> None:
    _check_twin(ref, evi, draws=3000, chunk_size=1024, sampler="random")


def test_twin_the_other_way_round(ref: Model, evi: Model) -> None:
    _check_twin(evi, ref, draws=2100, chunk_size=1024)


def test_twin_spilled_and_float32(ref: Model, evi: Model) -> None:
    _check_twin(ref, evi, draws=2600, chunk_size=1024, spill_samples=True, area_dtype=np.float32)


def test_twin_of_itself(ref: Model) -> None:
    _check_twin(ref, ref, draws=1500, chunk_size=1024)


def test_twin_does_not_depend_on_the_thread_count(ref: Model, evi: Model) -> None:
    twin = engine.twin_of(ref, evi, **_settings(ref, evi, draws=2500, other_draws=2500))
    assert twin is not None
    threads = numba.get_num_threads()
    kw: dict[str, Any] = {"draws": 2500, "seed": 7, "sampler": "lhs", "chunk_size": 1024}
    try:
        numba.set_num_threads(1)
        one = engine.simulate_twin(ref, twin, **kw)
        numba.set_num_threads(max(2, threads))
        two = engine.simulate_twin(ref, twin, **kw)
    finally:
        numba.set_num_threads(threads)
    for a, b in zip(one, two, strict=True):
        xs, ys = a.outcomes.fields(), b.outcomes.fields()
        for name, x in xs.items():
            assert _same(x, ys[name]), name


def test_light_outcomes(evi: Model) -> None:
    light = engine.Outcomes.light(10, evi)
    full = engine.Outcomes.empty(10, evi)
    for name, x in light.fields().items():
        y = getattr(full, name)
        assert x.shape[1:] == y.shape[1:] and x.dtype == y.dtype, name
        assert x.shape[0] == (10 if name in ("benefits", "costs", "stream") else 0), name


# --- the command -----------------------------------------------------------------------------


def _strip(doc: Any) -> Any:
    if isinstance(doc, dict):
        return {k: _strip(v) for k, v in doc.items() if k not in ("timings", "output_dir")}
    if isinstance(doc, list):
        return [_strip(v) for v in doc]
    return doc


def test_run_with_companion_twin_writes_what_two_passes_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole run directory, file by file: the same bytes (but timings and the folder)."""
    calls: list[int] = []
    real = engine.simulate_twin

    def spy(*a: Any, **k: Any) -> Any:
        calls.append(1)
        return real(*a, **k)

    monkeypatch.setattr(engine, "simulate_twin", spy)
    twin = api.run_scenario(REFERENCE, draws=2500, out=tmp_path / "twin", companion=True)
    assert calls == [1]
    monkeypatch.setattr(engine, "twin_of", lambda *a, **k: None)  # the two passes
    two = api.run_scenario(REFERENCE, draws=2500, out=tmp_path / "two", companion=True)
    assert calls == [1]
    assert twin.summary["side_by_side"] == two.summary["side_by_side"]
    files = sorted(p.name for p in (tmp_path / "twin").iterdir())
    assert files == sorted(p.name for p in (tmp_path / "two").iterdir())
    assert "draws.parquet" in files and "manifest.json" in files
    for name in files:
        a, b = (tmp_path / "twin" / name).read_bytes(), (tmp_path / "two" / name).read_bytes()
        if name.endswith(".json"):
            ja, jb = json.loads(a), json.loads(b)
            assert _strip(ja) == _strip(jb), name
            assert list(ja) == list(jb), name
        else:
            assert a == b, name
    t = twin.manifest["timings"]
    assert set(t) == set(two.manifest["timings"])
    assert t["companion_s"] > 0.0 and t["simulate_s"] > 0.0


def test_run_with_companion_of_other_draws_is_not_twinned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run whose uniforms are not its companion's (here: another seed, given by --seed; the
    companion keeps its own) is simulated apart from it, as before."""
    calls: list[int] = []
    monkeypatch.setattr(engine, "simulate_twin", lambda *a, **k: calls.append(1))
    spec = load_scenario(REFERENCE)
    m = runnable(spec)
    o = runnable(load_scenario(EVIDENCE))
    assert o.spec.scenario.draws == m.spec.scenario.draws
    # another seed for the run: its uniforms are not the companion's
    res = api.run_scenario(REFERENCE, draws=900, seed=5, write=False, companion=True)
    assert calls == []
    orun = engine.simulate(o, draws=900)
    with results.shared_statistics():
        want = implied.side_summary(orun)
    assert want in res.summary["side_by_side"]


def test_twin_sink_error_reaches_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    def fails(self: Any, lo: int, samples: np.ndarray) -> None:
        if self.m.spec.name == "evidence-2021" and lo >= 4096:
            raise ZeroDivisionError("companion sink failed")

    def both_fail(self: Any, lo: int, samples: np.ndarray) -> None:  # the twin's joint pass
        fails(self.other, lo, samples)

    monkeypatch.setattr(implied.FullStrengthSink, "__call__", fails)
    monkeypatch.setattr(implied.TwinSink, "_both", both_fail)
    with pytest.raises(ZeroDivisionError, match="companion sink failed"):
        api.run_scenario(REFERENCE, draws=9000, write=False, companion=True)
    assert "mkba-sink" not in {t.name for t in threading.enumerate()}


def test_failed_twin_simulation_stops_both_sinks(monkeypatch: pytest.MonkeyPatch) -> None:
    real = engine.totals_chunk
    calls: list[int] = []

    def fails_fifth(*a: Any, **k: Any) -> float:
        calls.append(1)
        if len(calls) == 5:  # the third chunk's run kernel
            raise MemoryError("simulation failed")
        return real(*a, **k)

    monkeypatch.setattr(engine, "totals_chunk", fails_fifth)
    with pytest.raises(MemoryError, match="simulation failed"):
        api.run_scenario(REFERENCE, draws=20000, write=False, companion=True)
    assert len(calls) == 5
    assert "mkba-sink" not in {t.name for t in threading.enumerate()}


def test_mkba_twin_0_runs_two_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unset or ``1``: the twin pass (the default); ``0``: the two passes."""
    calls: list[int] = []
    real = engine.simulate_twin

    def spy(*a: Any, **k: Any) -> Any:
        calls.append(1)
        return real(*a, **k)

    monkeypatch.setattr(engine, "simulate_twin", spy)
    monkeypatch.delenv(api.TWIN_ENV)
    default = api.run_scenario(REFERENCE, draws=1200, write=False, companion=True)
    assert calls == [1]
    monkeypatch.setenv(api.TWIN_ENV, "0")
    two = api.run_scenario(REFERENCE, draws=1200, write=False, companion=True)
    assert calls == [1]
    monkeypatch.setenv(api.TWIN_ENV, "1")
    one = api.run_scenario(REFERENCE, draws=1200, write=False, companion=True)
    assert calls == [1, 1]
    assert default.summary["side_by_side"] == two.summary["side_by_side"]
    assert one.summary["side_by_side"] == two.summary["side_by_side"]
    assert _strip(default.summary) == _strip(two.summary)
    assert _strip(one.summary) == _strip(two.summary)
