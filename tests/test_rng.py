"""The compiled sampler (mkba.rng) gives NumPy's numbers bit for bit (issue 17, target 7).

The reference is the NumPy path the engine used before: every uncertain column of chunk ``j``
drawn from ``np.random.default_rng(SeedSequence(seed, spawn_key=(j, column))).random`` (LHS:
``_lhs_column`` of 2n of them), clipped (:func:`mkba.sampling.uniform_column`), correlated
by :func:`mkba.sampling.apply_copula_t`, put through ``InverseCdf.__call__`` and multiplied
by the price scale. Every comparison is exact (``np.array_equal``, NaN never expected).
"""

from __future__ import annotations

from pathlib import Path

import numba
import numpy as np
import pytest
from pydantic import TypeAdapter

from mkba import engine, rng
from mkba.distributions import InverseCdf
from mkba.glibcmath import exp_port_ok, log_port_ok
from mkba.load import load_scenario
from mkba.model import Model, lower
from mkba.sampling import _EPS, apply_copula_t, uniform_column
from mkba.schema.quantity import Distribution, Quantity

ROOT = Path(__file__).parents[1]
PORTS = (False, True) if log_port_ok() else (False,)  # mkba.glibcmath's port where it may run
EXP_PORTS = (False, True) if exp_port_ok() else (False,)  # and its exp port
SCENARIOS = ["reference-2021", "evidence-2021", "nplv-2022", "wijkprogramma-example"]


@pytest.fixture(scope="module")
def models() -> dict[str, Model]:
    return {s: lower(load_scenario(ROOT / "scenarios" / f"{s}.toml")) for s in SCENARIOS}


def reference_uniforms(m: Model, sampler: str, n: int, seed: int, chunk: int) -> np.ndarray:
    """(U, n): each column from its own NumPy stream, clipped (the pre-rng path)."""
    return np.array(
        [uniform_column(sampler, n, seed=seed, chunk=chunk, column=int(c)) for c in m.uncertain_col]
    ).reshape(len(m.uncertain_col), n)


def reference_theta_t(m: Model, ut: np.ndarray) -> np.ndarray:
    """theta_t from the given (U, n) uniforms by InverseCdf.__call__ and the scale, column by
    column in NumPy (the pre-rng Model.theta_t)."""
    tht = m._theta_t_fixed(ut.shape[1])
    for j, inv in enumerate(m.inverse_cdfs):
        row = tht[m.uncertain_slot[j]]
        row[:] = inv(ut[j])
        row *= m.uncertain_scale[j]
    return tht


def reference_sample(
    m: Model, sampler: str, n: int, seed: int, chunk: int, factor: object
) -> tuple[np.ndarray, np.ndarray]:
    """(theta_t, samples) of one chunk by the pre-rng NumPy path."""
    ut = reference_uniforms(m, sampler, n, seed, chunk)
    if factor is not None:
        apply_copula_t(ut, factor)  # type: ignore[arg-type]  # the model's (columns, L) or None
    tht = reference_theta_t(m, ut)
    samples = (tht[m.uncertain_slot] / m.uncertain_scale[:, None]).T
    return tht, samples


def compiled_uniforms(sampler: str, n: int, seed: int, chunk: int, cols: list[int]) -> np.ndarray:
    """The clipped uniforms of columns ``cols`` as sample_rows draws them (kind KEEP)."""
    k = len(cols)
    ukeep = np.empty((k, n))
    rng.sample_rows(
        rng.entropy_head(seed, chunk)[None], np.asarray(cols, dtype=np.int64), sampler == "lhs",
        True, n, np.arange(k, dtype=np.int64), np.zeros(k, dtype=np.int64), np.zeros((k, 3)),
        np.zeros((k, 2), dtype=np.int64), np.zeros(1), np.zeros(1), np.ones(k),
        np.zeros(k, dtype=np.int64), np.empty((1, 1, n)), np.arange(k, dtype=np.int64),
        ukeep[None], np.empty((0, 0)), np.zeros(1, dtype=np.int64),
        np.zeros((1, k), dtype=np.int64), log_port_ok(), exp_port_ok(),
    )  # fmt: skip
    return ukeep


def test_seed_words_are_numpys() -> None:
    """SeedSequence's own coercion of an integer to 32-bit words (its ``entropy`` read back
    through the pool would not show it; the spawn key is kept as given)."""
    assert rng.seed_words(0) == [0]
    assert rng.seed_words(7) == [7]
    assert rng.seed_words(2**32) == [0, 1]
    assert rng.seed_words(2**64 + 5) == [5, 0, 1]
    with pytest.raises(ValueError):
        rng.seed_words(-1)
    # the head: seed words zero-padded to the pool size (4), then the chunk's words
    assert rng.entropy_head(7, 3).tolist() == [7, 0, 0, 0, 3]
    assert rng.entropy_head(2**160 + 1, 2**32 + 1).tolist() == [1, 0, 0, 0, 0, 1, 1, 1]


SEEDS = [0, 1, 7, 2**32 - 1, 2**32, 2**40 + 3, 2**64 + 5, 2**128 - 1, 2**128 + 9, 2**200 + 17]
CHUNKS = [0, 1, 24, 2**32 - 1, 2**32 + 1]


@pytest.mark.parametrize("sampler", ["random", "lhs"])
@pytest.mark.parametrize("seed", SEEDS)
def test_streams_equal_numpys(sampler: str, seed: int) -> None:
    """Seeds of one to seven 32-bit words (beyond the pool of four: the extra mixing),
    chunks of one and two words, columns 0 to 2**32 - 1, odd and even column counts, n from
    1 up."""
    for chunk in CHUNKS:
        for cols in ([0], [5, 0], [1, 2, 85], [2**31, 2**32 - 1, 3, 4]):
            for n in (1, 2, 7, 100):
                got = compiled_uniforms(sampler, n, seed, chunk, cols)
                for k, c in enumerate(cols):
                    expect = uniform_column(sampler, n, seed=seed, chunk=chunk, column=c)
                    assert np.array_equal(got[k], expect), (seed, chunk, c, n)


def test_many_streams_equal_numpys() -> None:
    """2,000 (seed, chunk, column) triples drawn at random, 64 values each."""
    pick = np.random.default_rng(2026)
    for _ in range(200):
        seed = int(pick.integers(0, 2**62)) >> int(pick.integers(0, 62))
        chunk = int(pick.integers(0, 5000))
        cols = [int(c) for c in pick.integers(0, 3000, size=10)]
        got = compiled_uniforms("random", 64, seed, chunk, cols)
        for k, c in enumerate(cols):
            rg = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(chunk, c)))
            assert np.array_equal(got[k], np.clip(rg.random(64), _EPS, 1 - _EPS))


def test_streams_across_the_lane_blocks_equal_numpys() -> None:
    """The streams are drawn _LANES values at a time after the first _LANES (rng._pcg_fill):
    every length from 1 to 3 blocks and a few beyond, both samplers (LHS draws 2n), against
    NumPy's generator value for value."""
    lanes = rng._LANES
    lengths = [*range(1, 3 * lanes + 2), 4 * lanes - 1, 4096, 4097, 5000]
    for sampler in ("random", "lhs"):
        for n in lengths:
            got = compiled_uniforms(sampler, n, 20211, 7, [0, 85, 2**32 - 1])
            for k, c in enumerate([0, 85, 2**32 - 1]):
                expect = uniform_column(sampler, n, seed=20211, chunk=7, column=c)
                assert np.array_equal(got[k], expect), (sampler, n, c)


def test_the_lane_jump_is_the_lcg_power() -> None:
    """rng._JUMP is PCG64's multiplier to the power _LANES (mod 2**128): _LANES steps of the
    LCG from state s are s * _JUMP + (the state _LANES steps from 0)."""
    mult = (rng._PCG_MULT_HI << 64) | rng._PCG_MULT_LO
    jump = 1
    for _ in range(rng._LANES):
        jump = jump * mult % 2**128
    assert rng._JUMP == jump == (rng._JUMP_HI << 64 | rng._JUMP_LO)
    s, inc, c = 12345678901234567890123, 2 * 987654321987654321 + 1, 0
    for _ in range(rng._LANES):
        s = (s * mult + inc) % 2**128
        c = (c * mult + inc) % 2**128
    assert s == (12345678901234567890123 * jump + c) % 2**128


@numba.njit
def _lanes_once(st, out, c_hi, c_lo):  # type: ignore[no-untyped-def]  # numba njit
    rng._pcg_lanes(st, out, 0, c_hi, c_lo)


@numba.njit
def _jump_once(s_hi, s_lo, c_hi, c_lo):  # type: ignore[no-untyped-def]  # numba njit
    return rng._pcg_jump(s_hi, s_lo, c_hi, c_lo)


def test_the_lane_steps_and_doubles_at_the_edges() -> None:
    """rng._pcg_lanes (the first _VEC lanes) and rng._pcg_jump (one lane) against Python's
    integers: state * _JUMP + c (mod 2**128), and the double (x >> 11) * 2**-53 of the XSL-RR
    output x, for states crafted (through the jump's inverse) so that the 53-bit integer takes
    the values where rng._pcg_lanes's exact conversion changes branch (bit 52 clear or set,
    low bits all zero or all one), and for random states."""
    mask = 2**128 - 1
    inv = pow(rng._JUMP, -1, 2**128)  # the multiplier is odd
    c = 0x0123456789ABCDEF_FEDCBA9876543210
    pick = np.random.default_rng(26)
    targets = []  # new states: high half 0 (rotation 0), so x = the low half
    for w in (0, 1, 2**52 - 1, 2**52, 2**52 + 1, 2**53 - 1, 2**51, 3 << 51):
        targets.append((w << 11) | int(pick.integers(0, 2**11)))
    targets += [int.from_bytes(pick.bytes(16), "little") for _ in range(6)]
    targets += [mask, 1 << 127]
    vec = rng._VEC
    for k in range(0, len(targets), vec):
        new = (targets[k : k + vec] + targets[:vec])[:vec]
        old = [((t - c) * inv) & mask for t in new]
        st = np.zeros(2 * rng._LANES, dtype=np.uint64)
        st[:vec] = [o >> 64 for o in old]
        st[rng._LANES : rng._LANES + vec] = [o & (2**64 - 1) for o in old]
        out = np.zeros(vec)
        _lanes_once(st, out, np.uint64(c >> 64), np.uint64(c & (2**64 - 1)))
        for lane, (o, t) in enumerate(zip(old, new, strict=True)):
            assert (o * rng._JUMP + c) & mask == t
            assert (int(st[lane]) << 64 | int(st[rng._LANES + lane])) == t
            hi, lo = t >> 64, t & (2**64 - 1)
            rot = hi >> 58
            x = ((hi ^ lo) >> rot | (hi ^ lo) << ((64 - rot) & 63)) & (2**64 - 1)
            assert out[lane] == (x >> 11) * 2.0**-53
            got = _jump_once(np.uint64(o >> 64), np.uint64(o & (2**64 - 1)),
                             np.uint64(c >> 64), np.uint64(c & (2**64 - 1)))  # fmt: skip
            assert (int(got[0]) << 64 | int(got[1])) == t


def test_a_long_stream_equals_numpys() -> None:
    """Half a million values of one stream (LHS: a million drawn)."""
    for sampler in ("random", "lhs"):
        got = compiled_uniforms(sampler, 500_000, 42, 3, [17])
        assert np.array_equal(got[0], uniform_column(sampler, 500_000, seed=42, chunk=3, column=17))


@pytest.mark.parametrize("name", SCENARIOS)
@pytest.mark.parametrize("sampler", ["random", "lhs"])
def test_sample_theta_t_equals_the_numpy_path(models, name: str, sampler: str) -> None:  # type: ignore[no-untyped-def]
    """Every shipped scenario (with its copula where it has one, and without), n = 1, 7 and
    a full chunk, 1 and 2 threads: theta_t and the sampled values as before, bit for bit."""
    m = models[name]
    factor = engine.correlation_factor(m)
    for fac in {id(factor): factor, 0: None}.values():
        for n, seed, chunk in ((1, 0, 0), (7, 3, 5), (4096, 2**40 + 3, 2)):
            tht, samples = reference_sample(m, sampler, n, seed, chunk, fac)
            for threads in (1, 2):
                got_s = np.empty((n, len(m.uncertain)))
                got = m.sample_theta_t(
                    sampler, n, seed=seed, chunk=chunk, threads=threads, factor=fac, samples=got_s
                )
                assert np.array_equal(got, tht)
                assert np.array_equal(got_s, samples)
                assert np.array_equal(m.sample_theta_t(sampler, n, seed=seed, chunk=chunk,
                                                       threads=threads, factor=fac), tht)  # fmt: skip


def test_the_reference_has_every_kind_of_column(models) -> None:  # type: ignore[no-untyped-def]
    """The scenario the tests above lean on exercises the compiled sampler's paths (KEEP,
    i.e. choice, and NORMAL: test_every_distribution_through_the_compiled_path)."""
    m = models["reference-2021"]
    kinds = set(m.column_plan.kind.tolist())
    assert kinds == {rng.LOGNORMAL, rng.UNIFORM, rng.TRIANGULAR, rng.HERMITE}
    assert engine.correlation_factor(m) is not None


def test_values_outside_the_hermite_grid_take_the_exact_inverse(models) -> None:  # type: ignore[no-untyped-def]
    """A chunk large enough that some PERT draws fall outside the tabulated grid
    (u < expit(-12) ~ 6.1e-6 or above 1 - 6.1e-6): they are NaN in the compiled pass and
    finished with the exact inverse CDF, as InverseCdf does."""
    m = models["reference-2021"]
    factor = engine.correlation_factor(m)
    n = 60_000
    ut = reference_uniforms(m, "random", n, 5, 1)
    apply_copula_t(ut, factor)  # type: ignore[arg-type]  # the reference has a copula
    herm = list(m.column_plan.hermite_cols)
    edge = 1.0 / (1.0 + np.exp(12.0))
    assert ((ut[herm] < edge) | (ut[herm] > 1 - edge)).sum() >= 2  # the case is exercised
    tht, samples = reference_sample(m, "random", n, 5, 1, factor)
    for threads in (1, 2):
        got_s = np.empty((n, len(m.uncertain)))
        got = m.sample_theta_t(
            "random", n, seed=5, chunk=1, threads=threads, factor=factor, samples=got_s
        )
        assert not np.isnan(got).any()
        assert np.array_equal(got, tht) and np.array_equal(got_s, samples)


def test_theta_t_of_given_uniforms_at_the_edges(models) -> None:  # type: ignore[no-untyped-def]
    """Model.theta_t (the Sobol' path) through the compiled transforms: the smallest and
    largest uniforms the samplers give, each triangular's mode exactly, the Hermite grid's
    ends and points just inside and outside them, n = 1."""
    m = models["reference-2021"]
    plan = m.column_plan
    edge = 1.0 / (1.0 + np.exp(12.0))
    common = [_EPS, 1 - _EPS, 0.5, 1e-7, 1 - 1e-7, edge, 1 - edge, edge * 1.0001, 1 - edge * 1.0001]
    u = np.tile(np.array(common)[:, None], (1, len(m.uncertain)))
    modes = np.array(
        [plan.par[j, 1] - plan.par[j, 0] for j in range(len(m.uncertain))], dtype=float
    )
    widths = plan.par[:, 2] - plan.par[:, 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        fc = np.where(plan.kind == rng.TRIANGULAR, modes / widths, 0.5)
    u = np.vstack([u, np.clip(fc, _EPS, 1 - _EPS)[None, :]])
    for threads in (1, 2):
        assert np.array_equal(m.theta_t(u, threads=threads), reference_theta_t(m, u.T.copy()))
        assert np.array_equal(
            m.theta_t(u[:1], threads=threads), reference_theta_t(m, u[:1].T.copy())
        )


@pytest.mark.parametrize("sampler", ["random", "lhs"])
def test_simulate_keeps_the_numpy_paths_samples(models, sampler: str) -> None:  # type: ignore[no-untyped-def]
    """engine.simulate with chunks of 1, 7 and 4096 draws, draws not a multiple of the
    chunk, on 1 and 2 threads: the kept samples are the NumPy path's, chunk by chunk, and
    the outcomes do not depend on the thread count."""
    m = models["reference-2021"]
    factor = engine.correlation_factor(m)
    before = numba.get_num_threads()
    try:
        for chunk_size, draws in ((1, 5), (7, 30), (4096, 5000)):
            expect = np.concatenate(
                [
                    reference_sample(m, sampler, hi - lo, 11, j, factor)[1]
                    for j, (lo, hi) in enumerate(engine.chunk_bounds(draws, chunk_size))
                ]
            )
            runs = []
            for threads in (1, 2):
                numba.set_num_threads(threads)
                r = engine.simulate(m, draws=draws, seed=11, sampler=sampler, chunk_size=chunk_size)
                assert r.samples is not None and np.array_equal(r.samples, expect)
                runs.append(r)
            for k, v in runs[0].outcomes.fields().items():
                assert np.array_equal(v, runs[1].outcomes.fields()[k], equal_nan=True), k
    finally:
        numba.set_num_threads(before)


def test_split_gives_every_column_once_in_runs() -> None:
    """The threads' shares: consecutive runs covering every column once, any group count."""
    pick = np.random.default_rng(5)
    for _ in range(200):
        k = int(pick.integers(1, 40))
        cols = np.sort(pick.choice(100, size=k, replace=False)).astype(np.int64)
        cost = pick.random(100) * 20
        groups = int(pick.integers(1, 7))
        parts = rng._split(cols, cost, groups)
        assert len(parts) == groups
        assert np.array_equal(np.concatenate(parts), cols)


@pytest.mark.parametrize("threads", [3, 5])
def test_more_threads_than_cores_give_the_same_bits(models, threads: int) -> None:  # type: ignore[no-untyped-def]
    m = models["reference-2021"]
    factor = engine.correlation_factor(m)
    tht, samples = reference_sample(m, "lhs", 4096, 1, 7, factor)
    got_s = np.empty(samples.shape)
    got = m.sample_theta_t(
        "lhs", 4096, seed=1, chunk=7, threads=threads, factor=factor, samples=got_s
    )
    assert np.array_equal(got, tht) and np.array_equal(got_s, samples)


@pytest.mark.parametrize("sampler", ["random", "lhs"])
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_uniform_matrix_is_numpys_columns(sampler: str, threads: int) -> None:
    """engine.uniforms / uniform_matrix (sensitivity, monitor, CRN) draw through
    rng.uniform_rows: every column NumPy's stream, any thread count, 1 to 5,000 draws."""
    cols = np.array([0, 9, 3, 1000, 2**32 - 1, 5, 6], dtype=np.int64)
    for n in (1, 2, 7, 5000):
        got = rng.uniform_rows(sampler, n, cols, seed=2**33 + 1, chunk=4, threads=threads)
        for k, c in enumerate(cols.tolist()):
            expect = uniform_column(sampler, n, seed=2**33 + 1, chunk=4, column=c)
            assert np.array_equal(got[k], expect)
    with pytest.raises(ValueError):
        rng.uniform_rows("sobol", 3, cols, seed=0, chunk=0)
    assert rng.uniform_rows(sampler, 4, cols[:0], seed=0, chunk=0).shape == (0, 4)


def test_one_compiled_version_serves_every_call(models) -> None:  # type: ignore[no-untyped-def]
    """sample_rows is called with the same argument types everywhere (theta_t, sample_theta_t
    with and without samples and copula, uniform_matrix), so a cold run compiles it once."""
    m = models["reference-2021"]
    factor = engine.correlation_factor(m)
    m.sample_theta_t(
        "lhs", 10, seed=1, chunk=0, factor=factor, samples=np.empty((10, len(m.uncertain)))
    )
    m.sample_theta_t("random", 3, seed=1, chunk=0)
    m.theta_t(np.full((4, len(m.uncertain)), 0.5))
    engine.uniforms(m, 0, 5, seed=1, sampler="lhs", chunk=0, chunk_size=5)
    engine.simulate(m, draws=20, chunk_size=7)
    assert len(rng.sample_rows.signatures) == 1, rng.sample_rows.signatures


def _q(dist: dict) -> Quantity:  # type: ignore[type-arg]
    """An uncertain quantity of any distribution, its range unchecked (a normal is valid for
    no unit, but InverseCdf supports it)."""
    d = TypeAdapter(Distribution).validate_python(dist)
    return Quantity.model_construct(unit="ratio", dist=d, assumption="test distribution")


DISTS = [
    ({"type": "uniform", "min": -2, "max": 6}, rng.UNIFORM),
    ({"type": "triangular", "min": 1, "mode": 2, "max": 5}, rng.TRIANGULAR),
    ({"type": "triangular", "min": 1, "mode": 1, "max": 5}, rng.TRIANGULAR),  # mode at min
    ({"type": "triangular", "min": 1, "mode": 5, "max": 5}, rng.TRIANGULAR),  # mode at max
    ({"type": "pert", "min": 0.02, "mode": 0.06, "max": 0.12}, rng.HERMITE),
    ({"type": "beta", "alpha": 0.7, "beta": 3.0, "min": 1, "max": 2}, rng.HERMITE),
    ({"type": "truncnormal", "mean": 1, "sd": 2, "min": 0, "max": 3}, rng.HERMITE),
    ({"type": "normal", "mean": 3, "sd": 2}, rng.NORMAL),
    ({"type": "lognormal", "median": 2, "high": 5}, rng.LOGNORMAL),
    ({"type": "choice", "values": [1, 2, 7], "weights": [1, 2, 1]}, rng.KEEP),
]


def test_every_distribution_through_the_compiled_path() -> None:
    """Each distribution type (and the triangular's degenerate modes) as a column of
    fill_theta, given uniforms and drawn ones, with scales: InverseCdf.__call__'s values."""
    invs = tuple(InverseCdf(_q(d)) for d, _ in DISTS)
    plan = rng.column_plan(invs)
    assert plan.kind.tolist() == [k for _, k in DISTS]
    u_count = len(invs)
    rows = np.arange(1, u_count + 1, dtype=np.int64)  # row 0 stays a fixed slot
    scale = np.linspace(0.5, 2.0, u_count)
    edge = 1.0 / (1.0 + np.exp(12.0))
    special = np.array([_EPS, 1 - _EPS, 0.5, 0.25, 1e-7, 1 - 1e-7, edge, 1 - edge])
    ut = np.vstack(
        [np.concatenate([special, np.random.default_rng(j).random(3000)]) for j in range(u_count)]
    )
    n = ut.shape[1]

    def expect(u: np.ndarray) -> np.ndarray:
        tht = np.full((u_count + 1, u.shape[1]), 7.0)
        for j, inv in enumerate(invs):
            tht[rows[j]] = inv(u[j]) * scale[j]
        return tht

    for threads in (1, 2):
        tht = np.full((u_count + 1, n), 7.0)
        rng.fill_theta(plan, invs, tht, rows, scale, ut=ut.copy(), threads=threads)
        assert np.array_equal(tht, expect(ut))
        for sampler in ("random", "lhs"):
            cols = np.arange(100, 100 + u_count, dtype=np.int64)
            drawn = np.array([uniform_column(sampler, n, seed=3, chunk=1, column=c) for c in cols])
            tht = np.full((u_count + 1, n), 7.0)
            samples = np.empty((n, u_count))
            rng.fill_theta(
                plan, invs, tht, rows, scale, sampler=sampler, seed=3, chunk=1, cols=cols,
                samples=samples, threads=threads,
            )  # fmt: skip
            ref = expect(drawn)
            assert np.array_equal(tht, ref)
            assert np.array_equal(samples, (ref[rows] / scale[:, None]).T)


def test_a_degenerate_grid_falls_back_to_the_exact_inverse() -> None:
    """A tabulated distribution whose grid could not be built (InverseCdf._grid None) is a
    NumPy column (its exact inverse CDF), as InverseCdf.__call__ treats it."""
    inv = InverseCdf(_q({"type": "pert", "min": 0.02, "mode": 0.06, "max": 0.12}))
    inv._grid = None
    plan = rng.column_plan((inv,))
    assert plan.kind.tolist() == [rng.KEEP]
    u = np.random.default_rng(1).random((1, 500))
    tht = np.empty((1, 500))
    rng.fill_theta(plan, (inv,), tht, np.zeros(1, dtype=np.int64), np.ones(1), ut=u)
    assert np.array_equal(tht[0], inv(u[0]))


def test_no_uncertain_columns() -> None:
    plan = rng.column_plan(())
    tht = np.full((2, 5), 3.0)
    samples = np.empty((5, 0))
    rng.fill_theta(
        plan, (), tht, np.zeros(0, dtype=np.int64), np.zeros(0), sampler="lhs", seed=1,
        chunk=0, cols=np.zeros(0, dtype=np.int64), samples=samples,
    )  # fmt: skip
    assert (tht == 3.0).all()


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_the_fixed_rows_are_filled_on_the_threads(models, threads: int) -> None:  # type: ignore[no-untyped-def]
    """sample_theta_t fills the fixed slots inside fill_theta's tasks (every threads-th row
    by each): the same matrix as _theta_t_fixed's rows, for chunks of one and many groups
    (n * columns below and above _SMALL), n = 0 included, with and without the copula."""
    m = models["reference-2021"]
    rows, vals = m.fixed_rows
    assert rows.size + m.uncertain_slot.size == m.theta_fixed.size
    assert not np.isin(rows, m.uncertain_slot).any()
    for n in (0, 1, 7, 5000):
        want = m._theta_t_fixed(n)
        for factor in (None, engine.correlation_factor(m)):
            got = m.sample_theta_t("lhs", n, seed=5, chunk=1, threads=threads, factor=factor)
            assert np.array_equal(got[rows], want[rows])
            assert np.array_equal(got[rows], np.repeat(vals[:, None], n, axis=1))
    # no uncertain column at all: only the fixed rows
    plan = rng.column_plan(())
    tht = np.full((3, 4), np.nan)
    rng.fill_theta(
        plan, (), tht, np.zeros(0, dtype=np.int64), np.zeros(0), sampler="lhs", seed=1,
        chunk=0, cols=np.zeros(0, dtype=np.int64), fixed=(np.array([0, 2]), np.array([1.5, -2.0])),
    )  # fmt: skip
    assert np.array_equal(tht[[0, 2]], [[1.5] * 4, [-2.0] * 4]) and np.isnan(tht[1]).all()


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal element for element, NaN where NaN and the same sign everywhere (also of zeros
    and NaNs)."""
    return bool(
        np.array_equal(a, b, equal_nan=True) and np.array_equal(np.signbit(a), np.signbit(b))
    )


def _check_into_with_ports(into, x: np.ndarray, want: np.ndarray, ports) -> None:  # type: ignore[no-untyped-def]  # a compiled function and the ports' list
    """``into(x, out, port)`` gives ``want``'s bits for each port, on the whole array and on
    short tails of it (the vectorised loops' remainders)."""
    for port in ports:
        got = np.empty_like(x)
        into(x, got, port)
        assert _same_bits(got, want)
        for k in (1, 2, 3, 17):
            part = np.empty(k)
            into(x[-k:], part, port)
            assert _same_bits(part, want[-k:])


_SPECIAL_U = [0.0, -0.0, 1.0, 0.5, np.nan, -np.nan, np.inf, -np.inf, -1e-300, 1.0 + 2**-52, 1e-300,
              5e-324, 2.2e-308, 1e-310, 1 - 1e-16, 2**-53, 1 - 2**-53, np.exp(-2), 1 - np.exp(-2),
              0.13533528323661269189, 1 - 0.13533528323661269189, np.exp(-32)]  # fmt: skip


def test_ndtri_is_scipys() -> None:
    """rng.ndtri_into (Cephes's rational approximations, numba) gives scipy.special.ndtri's bits:
    random probabilities over (0, 1), both tails down to the smallest subnormal, thousands of
    neighbours of every branch point (exp(-2), 1 - exp(-2), 0.5, exp(-32)), the special
    values (0, 1, NaN, outside [0, 1]) and random bit patterns."""
    from scipy import special

    g = np.random.default_rng(20261130)
    n = 1_000_000
    parts = [
        g.random(n),
        g.random(n) * 0.14,
        1 - g.random(n) * 0.14,
        np.exp(-g.random(n) * 745),  # the lower tail to 5e-324
        -np.expm1(-np.exp(-g.random(n) * 40)),  # the upper tail to 1 - 2**-53
        np.array(_SPECIAL_U),
        np.abs(g.integers(0, 2**64, n, dtype=np.uint64).view(np.float64)),  # bit patterns
    ]
    for b in (np.exp(-2), 1 - np.exp(-2), 0.5, np.exp(-32)):
        parts.append(b + np.arange(-2000, 2001) * np.spacing(b))
    u = np.concatenate(parts)
    with np.errstate(invalid="ignore"):
        want = special.ndtri(u)
    # libm's log, and the vectorised port where this machine allows it
    _check_into_with_ports(rng.ndtri_into, u, want, PORTS)


def test_ndtr_is_scipys() -> None:
    """rng.ndtr_into gives scipy.special.ndtr's bits: normal and wide uniform arguments, tiny
    ones, neighbours of every branch point (|x| = sqrt(2), 8 sqrt(2), the underflow near
    37.5 and the exp argument's limit), infinities, NaN, signed zeros and random bit
    patterns."""
    from scipy import special

    g = np.random.default_rng(7)
    n = 1_000_000
    parts = [
        g.normal(0, 3, n),
        g.uniform(-40, 40, n),
        g.normal(0, 1, n) * 1e-300,
        g.integers(0, 2**64, n, dtype=np.uint64).view(np.float64),
        np.array([0.0, -0.0, np.nan, -np.nan, np.inf, -np.inf, 1e308, -1e308, 5e-324, -5e-324]),
    ]
    for b in (np.sqrt(2), 8 * np.sqrt(2), 37.519379347, 37.6, 26.55, 38.58):
        for s in (1, -1):
            parts.append(s * b + np.arange(-2000, 2001) * np.spacing(b))
    x = np.concatenate(parts)
    want = special.ndtr(x)
    # libm's exp, and the vectorised port where this machine allows it
    _check_into_with_ports(rng.ndtr_into, x, want, EXP_PORTS)


@pytest.mark.parametrize("k", [1, 2, 3, 7, 8, 9, 12, 16, 17, 33])
def test_copula_rows_is_apply_copula_t(k: int) -> None:
    """The compiled copula equals apply_copula_t (norm.ppf, einsum, norm.cdf, clip) bit for
    bit for 1 to 33 correlated columns (einsum's summation order changes at 8 terms), random
    correlation factors, 1, 5 and 4,096 draws, uniforms at the clip limits and 0.5, and
    correlated rows in any order among other rows."""
    g = np.random.default_rng(k)
    a = g.normal(size=(k, k))
    c = a @ a.T + k * np.eye(k)
    d = np.sqrt(np.diag(c))
    chol = np.linalg.cholesky(c / np.outer(d, d))
    for n in (1, 5, 4096):
        u = np.clip(g.random((k + 3, n)), _EPS, 1 - _EPS)
        u[:, 0] = _EPS
        if n > 1:
            u[:, 1] = 1 - _EPS
            u[:, -1] = 0.5
        rows = g.permutation(k + 3)[:k].astype(np.int64)
        want = u.copy()
        apply_copula_t(want, (rows, chol))
        for port in PORTS:  # the ports of log (ndtri) and exp (ndtr): each on and off
            for eport in EXP_PORTS:
                got = u.copy()
                rng.copula_rows(got, rows, chol, port, eport)
                assert _same_bits(got, want)


def test_the_copula_over_every_distribution_type() -> None:
    """Correlated columns of every type (normal, lognormal, choice, triangular, PERT, beta)
    through fill_theta's copula task: the drawn columns, apply_copula_t, then each
    InverseCdf and its scale, bit for bit; samples included; 1, 2 and 3 threads."""
    invs = tuple(InverseCdf(_q(d)) for d, _ in DISTS)
    plan = rng.column_plan(invs)
    u_count = len(invs)
    rows = np.arange(1, u_count + 1, dtype=np.int64)
    scale = np.linspace(0.5, 2.0, u_count)
    corr = np.array([j for j, (d, _) in enumerate(DISTS) if d["type"] != "uniform"], dtype=np.int64)
    g = np.random.default_rng(11)
    a = g.normal(size=(corr.size, corr.size))
    c = a @ a.T + corr.size * np.eye(corr.size)
    d = np.sqrt(np.diag(c))
    factor = (corr, np.linalg.cholesky(c / np.outer(d, d)))
    cols = np.arange(300, 300 + u_count, dtype=np.int64)
    for sampler in ("random", "lhs"):
        for n in (1, 7, 5000):
            ut = np.array([uniform_column(sampler, n, seed=5, chunk=2, column=c) for c in cols])
            apply_copula_t(ut, factor)
            want = np.full((u_count + 1, n), 7.0)
            for j, inv in enumerate(invs):
                want[rows[j]] = inv(ut[j]) * scale[j]
            for threads in (1, 2, 3):
                tht = np.full((u_count + 1, n), 7.0)
                samples = np.empty((n, u_count))
                rng.fill_theta(
                    plan, invs, tht, rows, scale, sampler=sampler, seed=5, chunk=2, cols=cols,
                    factor=factor, samples=samples, threads=threads,
                )  # fmt: skip
                assert np.array_equal(tht, want)
                assert np.array_equal(samples, (want[rows] / scale[:, None]).T)
