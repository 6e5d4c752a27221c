"""The type I error of the 2x2 tests: at the planning control rate and its
maximum over the common rate (the nuisance parameter) from 1% to 99%,
against independent enumerations (scipy's and statsmodels' tests on every
table), in the table, the JSON and the report, flagged when above alpha."""
import json

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportions_ztest

from simulator import load_scenario, run
from simulator.engines.design import Design
from simulator.report.document import markdown
from simulator.engines.exact import maximum_over_rates, null_rejection, rate_grid
from simulator.report.tables import above_alpha, table


def rejection_region(test, n_t, n_c, alpha=0.05):
    """Every table's decision from scipy (Fisher) or statsmodels (z tests)."""
    region = np.zeros((n_t + 1, n_c + 1), bool)
    for x_t in range(n_t + 1):
        for x_c in range(n_c + 1):
            if test == "fisher":
                p = stats.fisher_exact([[x_t, n_t - x_t], [x_c, n_c - x_c]])[1]
            elif x_t + x_c in (0, n_t + n_c):
                p = 1.0             # an empty margin never rejects (the tool's convention)
            elif test == "z_pooled":
                p = proportions_ztest([x_t, x_c], [n_t, n_c])[1]     # pooled variance
            else:
                p = _unpooled(x_t, x_c, n_t, n_c)
            region[x_t, x_c] = p <= alpha
    return region


def _unpooled(x_t, x_c, n_t, n_c):
    p_t, p_c = x_t / n_t, x_c / n_c
    var = p_t * (1 - p_t) / n_t + p_c * (1 - p_c) / n_c
    if var == 0:
        return 1.0 if p_t == p_c else 0.0
    return 2 * stats.norm.sf(abs(p_t - p_c) / np.sqrt(var))


def size_on_grid(region, n_t, n_c, rates):
    pt = stats.binom.pmf(np.arange(n_t + 1)[None, :], n_t, rates[:, None])
    pc = stats.binom.pmf(np.arange(n_c + 1)[None, :], n_c, rates[:, None])
    return np.einsum("ri,ij,rj->r", pt, region.astype(float), pc)


@pytest.mark.parametrize("test, n_t, n_c", [("fisher", 24, 24), ("z_pooled", 24, 24),
                                            ("z_unpooled", 30, 20), ("fisher", 36, 24)])
def test_the_maximum_over_the_common_rate_matches_an_independent_enumeration(test, n_t, n_c):
    region = rejection_region(test, n_t, n_c)
    fine = np.linspace(0.01, 0.99, 9801)            # every 0.0001
    reference = size_on_grid(region, n_t, n_c, fine)
    design = Design(test, "two", 0.05, n_t / n_c)
    size_at = null_rejection(design, n_t, n_c)
    for rate in (0.2, 0.5, 0.73):
        assert size_at(rate) == pytest.approx(size_on_grid(region, n_t, n_c,
                                                          np.array([rate]))[0], abs=1e-12)
    found = maximum_over_rates(size_at, rate_grid(max(n_t, n_c)))
    assert found.value == pytest.approx(reference.max(), abs=2e-7)
    assert found.value >= reference.max() - 1e-9        # refined: not below the fine grid
    assert abs(found.rate - fine[reference.argmax()]) < 0.01 or np.isclose(
        size_at(found.rate), reference.max(), atol=1e-7)
    if test == "fisher":
        assert found.value <= 0.05                       # an exact test keeps alpha everywhere


def test_the_run_reports_both_and_flags_a_z_test_above_alpha():
    result = run(load_scenario("severe", {"analysis.test": "z_pooled"}))
    doc = json.loads(json.dumps(result.to_dict()))
    t1 = doc["type_one_error"]
    assert t1["rate"] == 0.2 and t1["maximum"]["over"] == [0.01, 0.99]
    n = result.reported.n_control
    region = rejection_region("z_pooled", n, n)
    assert t1["value"] == pytest.approx(size_on_grid(region, n, n, np.array([0.2]))[0],
                                        abs=1e-12)
    assert t1["maximum"]["value"] >= t1["value"]
    text = table(result)
    line = next(x for x in text.splitlines() if x.startswith("Type I error"))
    assert f"{t1['value']:.4f} at a control rate of 20.0%" in line
    assert f"at most {t1['maximum']['value']:.4f}" in line
    assert "above alpha" in line
    assert f"at most {t1['maximum']['value']:.4f}" in markdown(result)


def test_fisher_is_not_flagged():
    result = run(load_scenario("severe"))
    line = next(x for x in table(result).splitlines() if x.startswith("Type I error"))
    assert "above alpha" not in line
    assert result.type_one_error_max.value <= 0.05


@pytest.mark.slow
def test_a_sequential_designs_maximum_is_the_maximum_of_its_exact_type_one_error():
    """Over the design whose type I error is reported (non-binding futility:
    every futility stop overruled), on a grid of common rates every 0.005."""
    from simulator.engines.sequential import exact_oc
    from simulator.planning.sequential import SequentialPlan
    result = run(load_scenario("severe_sequential"))
    assert result.sequential.type_one_error_key == "null_ignoring_futility"
    plan = SequentialPlan(result.scenario, "exact")
    design = plan.design_at(result.reported.n_control).without_futility()
    n = result.reported.n_control
    grid = np.linspace(0.01, 0.99, 197)
    sizes = [exact_oc(design, n, n, p, p).power for p in grid]
    m = result.type_one_error_max
    assert max(sizes) - 1e-12 <= m.value <= max(sizes) + 1e-4
    assert exact_oc(design, n, n, 0.2, 0.2).power == pytest.approx(result.type_one_error,
                                                                   abs=1e-12)
    assert "above alpha" in table(result)


@pytest.mark.parametrize("value, se, flagged", [(0.0251, 0.0, True), (0.0255, 0.002, False),
                                                (0.0300, 0.002, True), (0.0250, 0.0, False)])
def test_a_simulated_type_one_error_is_flagged_only_beyond_its_monte_carlo_error(
        value, se, flagged):
    assert above_alpha(value, se, 0.025) is flagged


@pytest.mark.slow
def test_a_peak_near_the_edge_of_the_common_rate_is_found():
    """z_pooled, one-sided 0.025, 855 per arm: the largest type I error is
    near a common rate of 1.4% (and 98.6%), where the size varies on the
    scale of the binomial's standard deviation; a grid uniform in the rate
    (0.01 steps) missed it (0.02549)."""
    design = Design("z_pooled", "one", 0.025, 1.0)
    size_at = null_rejection(design, 855, 855)
    found = maximum_over_rates(size_at, rate_grid(855))
    # every 0.00005 where the size varies fast (within 0.04 of either end),
    # every 0.0005 in between
    fine = np.concatenate([np.linspace(0.01, 0.05, 801), np.linspace(0.05, 0.95, 1801),
                           np.linspace(0.95, 0.99, 801)])
    reference = max(size_at(float(p)) for p in fine)
    assert found.value >= reference - 1e-9 and found.value > 0.02575


def test_the_decision_band_keeps_memory_small_at_large_arms():
    import tracemalloc
    design = Design("z_pooled", "one", 0.025, 1.0)
    tracemalloc.start()
    size_at = null_rejection(design, 6000, 6000)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 100 * 2 ** 20            # the full 6,001 x 6,001 table: 288 MB of p-values
    from simulator.engines.exact import exact_power
    assert size_at(0.3) == pytest.approx(exact_power(design, 0.3, 0.3, [6000])[0], abs=1e-12)
