"""The detectable rate: the smallest treatment rate reaching the target power
at a size equals a bisection on power enumerated independently (scipy's
Fisher test on every 2x2 table, or a z test written out here, weighted by
binomial probabilities), to 0.001; power stays at or above the target above
it; a size that detects nothing, and designs it does not cover, are one-line
errors."""
import json

import numpy as np
import pytest
from scipy import stats

from simulator import load_scenario, run
from simulator.engines.design import Design
from simulator.engines.detectable import detectable_rate
from simulator.errors import ScenarioError


def fisher_rejects(n, alternative, alpha=0.05):
    """reject[x_t, x_c] by scipy.stats.fisher_exact, table by table."""
    out = np.zeros((n + 1, n + 1), dtype=bool)
    for x_t in range(n + 1):
        for x_c in range(n + 1):
            p = stats.fisher_exact([[x_t, n - x_t], [x_c, n - x_c]], alternative=alternative)[1]
            out[x_t, x_c] = p <= alpha
    return out


def z_pooled_one_sided_rejects(n, alpha=0.05):
    x = np.arange(n + 1)
    x_t, x_c = x[:, None], x[None, :]
    pooled = (x_t + x_c) / (2 * n)
    se = np.sqrt(pooled * (1 - pooled) * 2 / n)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, (x_t - x_c) / n / se, 0.0)
    return stats.norm.sf(z) <= alpha


def power(reject, p_t, p_c):
    n = reject.shape[0] - 1
    k = np.arange(n + 1)
    return float(stats.binom.pmf(k, n, p_t) @ reject @ stats.binom.pmf(k, n, p_c))


def bisect(reject, p_c, target, tol=1e-7):
    lo, hi = p_c, 1.0
    while hi - lo > tol:
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if power(reject, mid, p_c) >= target else (mid, hi)
    return hi


CASES = [  # test, sided, scipy alternative or None (z written out), size, control rate, target
    ("fisher", "two", "two-sided", 20, 0.2, 0.9),
    pytest.param("fisher", "two", "two-sided", 30, 0.2, 0.9, marks=pytest.mark.slow),
    pytest.param("fisher", "two", "two-sided", 40, 0.2, 0.9, marks=pytest.mark.slow),
    ("fisher", "one", "greater", 25, 0.34, 0.8),
    ("z_pooled", "one", None, 30, 0.12, 0.9),
]


@pytest.mark.parametrize("test, sided, alternative, n, p_c, target", CASES)
def test_the_detectable_rate_is_a_bisection_on_independently_enumerated_power(
        test, sided, alternative, n, p_c, target):
    reject = (fisher_rejects(n, alternative) if alternative
              else z_pooled_one_sided_rejects(n))
    expected = bisect(reject, p_c, target)
    found = detectable_rate(Design(test, sided, 0.05), n, p_c, target)
    assert found.single_crossing
    assert found.rate == pytest.approx(expected, abs=1e-3)
    assert found.power >= target and power(reject, found.rate, p_c) >= target
    assert power(reject, found.rate - 1e-3, p_c) < target
    # the definition: power stays at or above the target at every higher rate
    k = np.arange(n + 1)
    above = stats.binom.pmf(k[None, :], n, np.linspace(found.rate, 1, 400)[:, None])
    assert (above @ reject @ stats.binom.pmf(k, n, p_c)).min() >= target - 1e-12


def test_severe_at_20_30_40_per_arm_with_fisher():
    """The numbers the README quotes (severe: control 20%, two-sided Fisher, 90% power)."""
    rates = [run(load_scenario("severe", {"sample_size.n_control": m, "simulation.confirm": 0}),
                 detectable=True).detectable.treatment_rate for m in (20, 30, 40)]
    assert [round(r, 3) for r in rates] == [0.738, 0.629, 0.565]


def test_json_shape_and_priors_give_the_assurance_at_the_size():
    result = run(load_scenario("severe_prior", {"sample_size.n_control": 30,
                                                "simulation.confirm": 0}), detectable=True)
    doc = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    d = doc["detectable"]
    for key in ("treatment_rate", "difference", "risk_ratio", "odds_ratio", "power"):
        assert isinstance(d[key], float), key
    c, t = d["control_rate"], d["treatment_rate"]
    assert c == doc["rates"]["control"]         # the planning control rate
    assert d["difference"] == pytest.approx(t - c)
    assert d["risk_ratio"] == pytest.approx(t / c)
    assert d["odds_ratio"] == pytest.approx(t / (1 - t) / (c / (1 - c)))
    assert d["n_per_arm"] == {"control": 30, "treatment": 30}
    assert d["assurance"] == doc["evaluated"]["assurance"]
    assert d["method"] == "exact" and d["single_crossing"] is True


def test_without_the_flag_nothing_is_added():
    doc = run(load_scenario("severe", {"sample_size.n_control": 30,
                                       "simulation.confirm": 0})).to_dict()
    assert doc["detectable"] is None and doc["capacity"] is None


@pytest.mark.parametrize("scenario, overrides, needle", [
    ("severe", {"sample_size.n_control": 3},
     "no treatment rate reaches power 0.9: even a rate of 100% gives 0.0000"),
    ("severe", {}, "needs a size: `--n-control M`"),
    ("severe_sequential", {"sample_size.n_control": 30}, "is for a fixed design"),
    ("multicentre", {"sample_size.n_control": 30}, "patient-level model simulates"),
])
def test_what_cannot_be_solved_is_an_error_naming_the_option(scenario, overrides, needle):
    with pytest.raises(ScenarioError) as err:
        run(load_scenario(scenario, {"simulation.confirm": 0, **overrides}), detectable=True)
    assert err.value.field == "detectable"
    assert needle in str(err.value)
