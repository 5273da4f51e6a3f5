"""mkba.invcdf computes scipy.stats's numbers bit for bit without importing scipy.stats
(issue 17: scipy.stats is 0.5-0.7 s of a run's start-up). Every comparison here is
``array_equal`` on the bit patterns, not a tolerance: the drawn values must not change."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from pydantic import TypeAdapter
from scipy import stats

from mkba import distributions
from mkba.invcdf import Exact, norm_cdf, norm_ppf, norm_quantile
from mkba.schema.quantity import Distribution, Quantity


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return a.shape == b.shape and np.array_equal(a.view(np.uint64), b.view(np.uint64))


def _probabilities() -> np.ndarray:
    rng = np.random.default_rng(20261129)
    return np.concatenate(
        [
            np.logspace(-17, -1, 200),
            1.0 - np.logspace(-17, -1, 200),
            [0.0, 1.0, 0.5, 2.0**-53, 1.0 - 2.0**-53, -0.1, 1.1, np.nan],
            rng.random(5000),
        ]
    )


# (scipy.stats name, shape parameters, loc, scale): the forms distributions.exact produces,
# with parameters around and beyond those of the shipped scenarios
CASES = [
    ("beta", (2.6, 2.4), 0.1, 0.5),  # a PERT on [0.1, 0.6]
    ("beta", (1.0, 5.0), -3.0, 7.0),  # PERT with the mode at the minimum
    ("beta", (5.0, 1.0), 0.0, 1.0),
    ("beta", (0.3, 0.7), 2.0, 1e6),  # U-shaped beta
    ("beta", (40.0, 3.0), -1e-3, 2e-3),
    ("triang", (0.25,), 0.02, 0.1),
    ("triang", (0.0,), 1.0, 2.0),
    ("triang", (1.0,), -5.0, 10.0),
    ("uniform", (), 0.8, 0.4),
    ("uniform", (), -1e9, 3e9),
    ("norm", (), 0.0, 1.0),
    ("norm", (), 3.0, 0.25),
    ("lognorm", (0.35,), 0.0, 1.7),
    ("lognorm", (2.0,), 0.0, 0.01),
]


@pytest.mark.parametrize(("kind", "shape", "loc", "scale"), CASES)
def test_ppf_is_scipy_stats_bit_for_bit(
    kind: str, shape: tuple[float, ...], loc: float, scale: float
) -> None:
    q = _probabilities()
    ours = Exact(kind, shape, loc, scale).ppf(q)
    theirs = getattr(stats, kind)(*shape, loc=loc, scale=scale).ppf(q)
    assert _same_bits(ours, theirs)


@pytest.mark.parametrize(("shape", "loc", "scale"), [c[1:] for c in CASES if c[0] == "beta"])
def test_beta_pdf_is_scipy_stats_bit_for_bit(
    shape: tuple[float, ...], loc: float, scale: float
) -> None:
    e = Exact("beta", shape, loc, scale)
    # the grid points InverseCdf evaluates, plus the support's ends, outside points and NaN
    x = np.concatenate([e.ppf(_probabilities()[:-1]), [loc, loc + scale, loc - 1, np.inf]])
    assert _same_bits(e.pdf(x), stats.beta(*shape, loc=loc, scale=scale).pdf(x))


def test_invalid_parameters_give_nan_as_scipy_stats() -> None:
    q = np.array([0.0, 0.3, 1.0])
    for kind, shape in (("beta", (-1.0, 2.0)), ("triang", (1.5,)), ("lognorm", (0.0,))):
        with np.errstate(all="ignore"):
            theirs = getattr(stats, kind)(*shape).ppf(q)
        assert _same_bits(Exact(kind, shape).ppf(q), theirs)
    assert _same_bits(Exact("norm", (), 0.0, -1.0).ppf(q), stats.norm(0.0, -1.0).ppf(q))


def test_standard_normal_is_scipy_stats_bit_for_bit() -> None:
    q = _probabilities()
    assert _same_bits(norm_ppf(q), stats.norm.ppf(q))
    x = np.concatenate([norm_ppf(q[:-4]) * 1.7, [0.0, -0.0, np.inf, -np.inf, np.nan, 40.0]])
    assert _same_bits(norm_cdf(x), stats.norm.cdf(x))
    for p in (0.51, 0.8, 0.9, 0.95, 0.975, 0.99, 0.999999):
        assert norm_quantile(p) == float(stats.norm.ppf(p))


def test_output_is_c_ordered_whatever_the_input_layout() -> None:
    """scipy.stats returns C-ordered arrays; the copula's einsum sums in memory order, so a
    Fortran-ordered z (what a ufunc returns for a Fortran-ordered input) changed its last bit."""
    u = np.asfortranarray(np.random.default_rng(1).random((300, 7)))
    z = norm_ppf(u)
    assert z.flags.c_contiguous
    assert _same_bits(z, stats.norm.ppf(u))
    c = norm_cdf(np.asfortranarray(z))
    assert c.flags.c_contiguous
    assert _same_bits(c, stats.norm.cdf(z))
    assert Exact("beta", (2.0, 3.0)).ppf(u).flags.c_contiguous


DISTS = [
    {"type": "pert", "min": 0.1, "mode": 0.25, "max": 0.6},
    {"type": "pert", "min": 0.0, "mode": 0.0, "max": 2.0, "lamb": 6.0},
    {"type": "triangular", "min": 0.02, "mode": 0.05, "max": 0.12},
    {"type": "uniform", "min": 0.8, "max": 1.2},
    {"type": "normal", "mean": 3.0, "sd": 0.4},
    {"type": "lognormal", "median": 2.0, "high": 5.0},
    {"type": "lognormal", "median": 2.0, "high": 5.0, "high_q": 0.9},
    {"type": "lognormal", "mean": 3.0, "sd": 1.5},
    {"type": "beta", "alpha": 2.0, "beta": 7.0, "min": -1.0, "max": 3.0},
]


@pytest.mark.parametrize("dist", DISTS, ids=lambda d: str(d["type"]))
def test_exact_form_equals_the_frozen_scipy_distribution(dist: dict[str, object]) -> None:
    """distributions.exact describes the same distribution as distributions.frozen, so the
    inverse CDFs (grid, tails, medians) keep their numbers."""
    # (model_construct: a normal's support is wider than any unit admits; the distribution
    # itself is validated)
    q = Quantity.model_construct(unit="ratio", dist=TypeAdapter(Distribution).validate_python(dist))
    e = distributions.exact(q.dist)
    assert e is not None
    u = _probabilities()
    assert _same_bits(e.ppf(u), distributions.frozen(q.dist).ppf(u))  # type: ignore[union-attr]  # continuous: frozen is not None
    inv = distributions.InverseCdf(q)
    assert inv.median == float(distributions.frozen(q.dist).ppf(0.5))  # type: ignore[union-attr]  # continuous: frozen is not None


def test_truncated_normal_still_uses_scipy_stats() -> None:
    q = Quantity.model_validate(
        {
            "unit": "ratio",
            "dist": {"type": "truncnormal", "mean": 1.0, "sd": 0.5, "min": 0.0, "max": 3.0},
            "assumption": "test distribution",
        }
    )
    assert distributions.exact(q.dist) is None
    u = _probabilities()[:-4]
    fd = stats.truncnorm(-2.0, 4.0, loc=1.0, scale=0.5)
    assert _same_bits(distributions.ppf(q, u), fd.ppf(u))


def test_sampling_modules_import_no_scipy_stats() -> None:
    """Lowering and sampling a scenario with PERT, lognormal and correlated parameters (the
    reference) imports scipy.special only."""
    code = (
        "import sys, json\n"
        "from mkba.load import load_scenario\n"
        "from mkba.model import lower\n"
        "from mkba import engine\n"
        "m = lower(load_scenario('scenarios/reference-2021.toml'))\n"
        "u = engine.uniforms(m, 0, 500, seed=1, sampler='lhs', chunk=0, chunk_size=500,\n"
        "                    factor=engine.correlation_factor(m))\n"
        "m.theta_t(u); m.sample_theta_t('random', 500, seed=1, chunk=0)\n"
        "print(json.dumps(sorted(k for k in sys.modules if k.startswith('scipy'))))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = proc.stdout.strip().splitlines()[-1]
    assert "scipy.special" in loaded  # the probe did reach the beta quantiles
    assert "scipy.stats" not in loaded, loaded


def test_pdf_is_the_beta_density_only():
    """Exact.pdf serves the tabulated beta/PERT inverse CDFs (their slopes); any other kind is
    refused with a ValueError naming it, not silently computed."""
    x = np.linspace(0.01, 0.99, 7)
    e = Exact("beta", (2.0, 3.0), 0.0, 1.0)
    assert np.array_equal(e.pdf(x), stats.beta(2.0, 3.0).pdf(x))
    with pytest.raises(ValueError, match="norm"):
        Exact("norm", (), 0.0, 1.0).pdf(x)
