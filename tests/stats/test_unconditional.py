"""Boschloo's and Barnard's exact unconditional tests against scipy's
``boschloo_exact`` and ``barnard_exact`` (with 256 sampling points) on every
table of several arm sizes, their decisions, Boschloo's relation to Fisher's
test, and their type I error over the common rate by direct enumeration."""
import numpy as np
import pytest
from scipy import stats

from simulator import ScenarioError, load_scenario, run
from simulator.engines.design import Design
from simulator.engines.exact import exact_power
from simulator.stats.analysis import pvalues, rejects, unconditional_table

SCIPY = {"boschloo": stats.boschloo_exact, "barnard": stats.barnard_exact}
ALTERNATIVE = {"one": "greater", "two": "two-sided"}
TOLERANCE = 1e-6        # scipy maximises with shgo from 256 Sobol points


def scipy_table(test, sided, n_t, n_c):
    """scipy's p-value of every table; its columns are the arms."""
    out = np.empty((n_t + 1, n_c + 1))
    for a in range(n_t + 1):
        for c in range(n_c + 1):
            out[a, c] = SCIPY[test]([[a, c], [n_t - a, n_c - c]],
                                    alternative=ALTERNATIVE[sided], n=256).pvalue
    return out


SIZES = [(4, 6), *(pytest.param(*s, marks=pytest.mark.slow)
                   for s in [(6, 6), (5, 9), (10, 8)])]


@pytest.mark.parametrize("n_t, n_c", SIZES)
@pytest.mark.parametrize("sided", ["one", "two"])
@pytest.mark.parametrize("test", ["boschloo", "barnard"])
def test_every_p_value_and_decision_matches_scipy(test, sided, n_t, n_c):
    ours = unconditional_table(test, sided, n_t, n_c)
    ref = scipy_table(test, sided, n_t, n_c)
    assert np.max(np.abs(ours - ref)) <= TOLERANCE
    for alpha in (0.01, 0.025, 0.05, 0.1):
        differ = rejects(test, sided, alpha, n_t, n_c, *np.indices(ours.shape)) != (ref <= alpha)
        assert np.all(np.abs(ref[differ] - alpha) < TOLERANCE)


@pytest.mark.parametrize("n_t, n_c", [(20, 20), (29, 25), (37, 61),
                                      pytest.param(60, 60, marks=pytest.mark.slow)])
@pytest.mark.parametrize("sided", ["one", "two"])
@pytest.mark.parametrize("test", ["boschloo", "barnard"])
def test_decision_tables_refined_near_alpha_equal_the_full_tables(test, sided, n_t, n_c):
    full = unconditional_table(test, sided, n_t, n_c)
    x_t, x_c = np.indices(full.shape)
    for alpha in (0.005, 0.025, 0.05):
        assert np.array_equal(rejects(test, sided, alpha, n_t, n_c, x_t, x_c), full <= alpha)


@pytest.mark.parametrize("n_t, n_c", [(20, 20), (29, 25), (10, 40), (45, 60)])
def test_boschloo_never_rejects_less_than_fisher(n_t, n_c):
    """One-sided, Boschloo's p-value is at most Fisher's on every table
    (Boschloo 1970: Fisher's test is conditionally exact, so the probability
    of a Fisher p-value at most p is at most p at every common rate), so its
    rejection region contains Fisher's at any alpha.  Two-sided (twice the
    smaller one-sided p-value), the same holds against Fisher's test with the
    doubled one-sided p-value; against the two-sided Fisher test by
    probabilities (`fisher`) it is not guaranteed, and is not asserted."""
    x_t, x_c = np.indices((n_t + 1, n_c + 1))
    one_fisher = pvalues("fisher", "one", n_t, n_c, x_t, x_c)
    one_boschloo = unconditional_table("boschloo", "one", n_t, n_c)
    assert np.all(one_boschloo <= one_fisher * (1 + 1e-12))
    lower_fisher = pvalues("fisher", "one", n_c, n_t, x_c, x_t)
    central = np.minimum(2 * np.minimum(one_fisher, lower_fisher), 1)
    assert np.all(unconditional_table("boschloo", "two", n_t, n_c) <= central * (1 + 1e-12))


@pytest.mark.parametrize("n_t, n_c, sided", [(21, 21, "two"), (15, 30, "one"), (54, 54, "two"),
                                             (40, 20, "one")])
@pytest.mark.parametrize("test", ["boschloo", "barnard"])
def test_type_one_error_is_at_most_alpha_at_every_common_rate(test, sided, n_t, n_c):
    """Exact tests: the size, enumerated with scipy's binomial at 981 common
    rates from 1% to 99%, never exceeds alpha."""
    alpha = 0.05
    x_t, x_c = np.indices((n_t + 1, n_c + 1))
    region = rejects(test, sided, alpha, n_t, n_c, x_t, x_c).astype(float)
    rates = np.linspace(0.01, 0.99, 981)
    size = np.einsum("ri,ij,rj->r", stats.binom.pmf(np.arange(n_t + 1), n_t, rates[:, None]),
                     region, stats.binom.pmf(np.arange(n_c + 1), n_c, rates[:, None]))
    assert size.max() <= alpha + 1e-12
    assert size.max() > 0.5 * alpha         # not an empty region


@pytest.mark.slow
def test_power_at_the_severe_rates_is_scipys_decisions_enumerated():
    """Severe rates (0.20 vs 0.69), two-sided 0.05, 20 per arm: Fisher 0.830,
    Boschloo 0.888 (the issue's figures); Boschloo's exact power equals the
    binomial probabilities summed over the tables scipy rejects."""
    n = 20
    # scipy's decision on every table whose p-value could be near 0.05 (the
    # others are decided the same by p-values an order of magnitude away,
    # which the tests above check table by table on smaller arms)
    ours = unconditional_table("boschloo", "two", n, n)
    ref = ours <= 0.05
    for a, c in zip(*np.nonzero((ours > 0.005) & (ours < 0.5))):
        ref[a, c] = stats.boschloo_exact([[a, c], [n - a, n - c]], n=256).pvalue <= 0.05
    expected = stats.binom.pmf(np.arange(n + 1), n, 0.69) @ ref @ stats.binom.pmf(
        np.arange(n + 1), n, 0.20)
    power = exact_power(Design("boschloo", "two", 0.05), 0.69, 0.20, [n])[0]
    assert power == pytest.approx(expected, abs=1e-12)
    assert round(power, 3) == 0.888
    assert round(exact_power(Design("fisher", "two", 0.05), 0.69, 0.20, [n])[0], 3) == 0.830


def test_what_the_unconditional_tests_do_not_support_is_an_error():
    for overrides, field in [({"model": "patient"}, "analysis.test"),
                             ({"analysis.sided": "one", "analysis.alpha": 0.025,
                               "interim.looks": [0.5, 1]}, "analysis.test")]:
        with pytest.raises(ScenarioError) as err:
            load_scenario("severe", {"analysis.test": "boschloo", **overrides})
        assert err.value.field == field
    # beyond about 500 per arm (rct_evidence's search starts near 860)
    with pytest.raises(ScenarioError) as err:
        run(load_scenario("rct_evidence", {"analysis.test": "boschloo"}))
    assert err.value.field == "analysis.test" and "500 women per arm" in str(err.value)


def test_a_plan_with_boschloo_needs_fewer_women_than_with_fisher():
    fisher = run(load_scenario("severe", {"simulation.confirm": 0}))
    boschloo = run(load_scenario("severe", {"analysis.test": "boschloo",
                                            "simulation.confirm": 0}))
    assert boschloo.sample_size.answer.n_control < fisher.sample_size.answer.n_control
    assert boschloo.type_one_error_max.value <= 0.05


def dense_supremum(key, prob, tie_rtol=0.0):
    """Per table, the largest over the rates (rows of ``prob``, one column per
    table) of the probability of the tables with key <= its key."""
    order = np.argsort(key, kind="stable")
    bound = key * (1 + tie_rtol)
    end = np.searchsorted(key[order], bound, side="right") - 1
    return np.cumsum(prob[:, order], axis=1)[:, end].max(axis=0)


@pytest.mark.parametrize("n_t, n_c", [(8, 12), *(pytest.param(*s, marks=pytest.mark.slow)
                                                 for s in [(25, 25), (30, 14)])])
@pytest.mark.parametrize("test", ["boschloo", "barnard"])
def test_the_supremum_is_never_below_a_dense_grid_of_rates(test, n_t, n_c):
    """Every table's p-value is at least the largest probability over 20,001
    common rates (a lower bound of the supremum by brute force), and above it
    by no more than such a grid can miss."""
    from simulator.stats.analysis import z_statistic
    ours = unconditional_table(test, "two", n_t, n_c)
    x_t, x_c = np.indices(ours.shape)
    rates = np.linspace(0.0, 1.0, 20_001)
    prob = (stats.binom.pmf(x_t.ravel(), n_t, rates[:, None])
            * stats.binom.pmf(x_c.ravel(), n_c, rates[:, None]))
    if test == "boschloo":      # twice the smaller one-sided p-value
        higher = pvalues("fisher", "one", n_t, n_c, x_t, x_c).ravel()
        lower = pvalues("fisher", "one", n_c, n_t, x_c, x_t).ravel()
        dense = np.minimum(2 * np.minimum(dense_supremum(higher, prob, 1e-13),
                                          dense_supremum(lower, prob, 1e-13)), 1)
    else:
        dense = dense_supremum(-np.abs(z_statistic(True, n_t, n_c, x_t, x_c)).ravel(), prob)
    dense = dense.reshape(ours.shape)
    assert np.all(ours >= dense - 1e-12)
    assert np.all(ours <= dense + 1e-6)
