"""Sample-size search: exact answers against a brute-force scan, Monte Carlo
stability across seeds, and the normal approximation of statsmodels / rpact."""
import math

import numpy as np
import pytest
from statsmodels.stats.proportion import samplesize_proportions_2indep_onetail

from simulator import NoSolutionError, load_scenario, run
from simulator.engines.design import Design
from simulator.engines.exact import exact_power
from simulator.results import randomised
from simulator.planning.search import find_sample_size, guard_width, normal_approximation


def scenario(p_c, p_t, **extra):
    raw = {"name": "t", "arms": {"control": {"rate": p_c}, "treatment": {"rate": p_t}}}
    overrides = {k.replace("__", "."): v for k, v in extra.items()}
    return load_scenario(raw, overrides)


@pytest.mark.parametrize("p_c,p_t,extra", [
    (0.20, 0.69, {}),
    (0.34, 0.653, {"analysis__test": "chi2_yates"}),
    (0.39, 0.60, {"allocation": 2, "analysis__sided": "one", "analysis__alpha": 0.025}),
    (0.30, 0.10, {"analysis__test": "z_unpooled", "target_power": 0.8}),
    (0.12, 0.45, {"allocation": 0.5, "analysis__test": "z_pooled"}),
    (0.05, 0.95, {}),                          # target reached at tiny sizes
])
def test_exact_search_equals_brute_force_scan(p_c, p_t, extra):
    sc = scenario(p_c, p_t, **extra)
    res = run(sc)
    design = Design(sc.analysis.test, sc.analysis.sided, sc.analysis.alpha, sc.allocation)
    start = design.smallest_control()
    top = res.sample_size.stable.n_control + guard_width(res.sample_size.stable.n_control)
    sizes = np.arange(start, top + 1)
    power = exact_power(design, p_t, p_c, sizes)
    first = sizes[np.argmax(power >= sc.target_power)]
    misses = np.flatnonzero(power < sc.target_power)
    stable = sizes[misses[-1] + 1] if misses.size else sizes[0]
    ss = res.sample_size
    assert ss.answer.n_control == first
    assert ss.stable.n_control == stable
    assert ss.answer.power == pytest.approx(power[first - start], abs=1e-15)
    assert ss.answer.n_treatment == round(sc.allocation * first)
    assert ss.interval_control == (first, first)          # exact: no Monte Carlo spread


@pytest.mark.parametrize("name", ["severe", "overall", "moderate"])
@pytest.mark.parametrize("test", ["fisher", "z_pooled"])
@pytest.mark.slow
def test_monte_carlo_search_is_stable_across_seeds_and_brackets_exact(name, test):
    exact = run(load_scenario(name, {"analysis.test": test})).sample_size.answer.n_control
    answers, intervals = [], []
    for seed in range(1, 6):
        res = run(load_scenario(name, {"analysis.test": test, "simulation.method": "monte_carlo",
                                       "simulation.seed": seed, "simulation.n_sims": 10_000}))
        answers.append(res.sample_size.answer.n_control)
        intervals.append(res.sample_size.interval_control)
    assert max(answers) - min(answers) <= max(2, math.ceil(0.03 * exact))
    assert min(answers) <= exact <= max(answers)
    assert all(lo <= a <= hi for a, (lo, hi) in zip(answers, intervals))
    # each seed's Monte Carlo interval reaches within one size of the exact answer
    assert all(lo - 1 <= exact <= hi + 1 for lo, hi in intervals)


def test_normal_approximation_matches_statsmodels_and_rpact():
    """rpact's vignette: 0.25 vs 0.40, one-sided 0.025, power 0.80 -> 151.9 per arm."""
    ours = normal_approximation(0.40, 0.25, 1.0, 0.025, "one", 0.80)
    assert ours == pytest.approx(151.9, abs=0.05)
    for p_t, p_c, ratio, alpha, sided in [(0.40, 0.25, 1.0, 0.025, "one"),
                                          (0.69, 0.20, 2.0, 0.05, "two"),
                                          (0.30, 0.45, 0.5, 0.05, "two")]:
        # statsmodels: group 1 is treatment, nobs2 = ratio * nobs1 (control per treatment)
        sm_treatment = samplesize_proportions_2indep_onetail(
            p_t - p_c, p_c, 0.80, ratio=1 / ratio, alpha=alpha,
            alternative="two-sided" if sided == "two" else "larger")
        mine = normal_approximation(p_t, p_c, ratio, alpha, sided, 0.80)
        assert ratio * mine == pytest.approx(sm_treatment, rel=1e-10)


def test_z_pooled_search_reproduces_the_normal_approximation():
    """The exact power of the z test at the normal-approximation size is close
    to the target but not equal (discreteness, skewness); the smallest size by
    exact power is within 2 of ceil(151.9) = 152."""
    res = run(scenario(0.25, 0.40, analysis__test="z_pooled", analysis__sided="one",
                       analysis__alpha=0.025, target_power=0.80))
    assert abs(res.sample_size.answer.n_control - 152) <= 2
    assert res.normal_approx_control == pytest.approx(151.87, abs=0.01)


def test_monte_carlo_z_pooled_search_matches_rpact_size():
    res = run(scenario(0.25, 0.40, analysis__test="z_pooled", analysis__sided="one",
                       analysis__alpha=0.025, target_power=0.80,
                       simulation__method="monte_carlo", simulation__n_sims=20_000))
    lo, hi = res.sample_size.interval_control
    assert lo - 2 <= 152 <= hi + 2


@pytest.mark.parametrize("n,dropout,expected", [(27, 0.1, 30), (24, 0.1, 27), (58, 0.1, 65),
                                                (10, 0.0, 10), (1, 0.5, 2), (100, 0.15, 118)])
def test_randomised_is_ceiling_in_exact_decimal_arithmetic(n, dropout, expected):
    assert randomised(n, dropout) == expected


def test_equal_rates_have_no_sample_size():
    with pytest.raises(NoSolutionError, match="equal rates"):
        run(scenario(0.3, 0.3))
    # but power can still be evaluated at a size: it is the test's size
    res = run(scenario(0.3, 0.3, sample_size__n_control=50))
    assert res.evaluated.power <= 0.05


def test_bound_too_small_reports_the_power_it_gives():
    sc = scenario(0.34, 0.653, sample_size__max_control=20)
    with pytest.raises(NoSolutionError) as err:
        run(sc)
    power = exact_power(Design("fisher", "two", 0.05, 1.0), 0.653, 0.34, [20])[0]
    assert err.value.field == "sample_size.max_control"
    assert f"{power:.4f}" in str(err.value)


def test_one_sided_wrong_direction_has_no_sample_size():
    with pytest.raises(NoSolutionError, match="one-sided"):
        run(scenario(0.4, 0.2, analysis__sided="one"))


def test_a_bound_on_a_saw_tooth_dip_still_finds_the_smaller_size():
    """Power at the bound may dip below target while a smaller size reaches it."""
    sc = scenario(0.20, 0.69, analysis__test="z_pooled", target_power=0.8,
                  sample_size__max_control=14)
    design = Design("z_pooled", "two", 0.05, 1.0)
    power = exact_power(design, 0.69, 0.20, np.arange(1, 15))
    assert power[-1] < 0.8 and power.max() >= 0.8            # the situation under test
    res = run(sc)
    assert res.sample_size.answer.n_control == 1 + int(np.argmax(power >= 0.8))
    assert res.sample_size.stable is None                    # the bound misses again
    assert res.to_dict()["sample_size"]["n_per_arm_stable"] is None


def test_search_on_a_synthetic_saw_tooth():
    from simulator.planning.search import find_sample_size
    teeth = lambda sizes: (np.array([0.95 if m >= 20 and m != 30 else 0.5 for m in sizes]),
                           np.zeros(len(sizes)))
    out = find_sample_size(teeth, 0.9, 1, 30, guess=25)
    assert (out.first, out.stable, out.interval) == (20, None, (20, 20))
    out = find_sample_size(teeth, 0.9, 1, 100)
    assert (out.first, out.stable) == (20, 31)
    with pytest.raises(NoSolutionError, match="gives power 0.5000"):
        find_sample_size(teeth, 0.9, 1, 19)


def test_monte_carlo_range_open_at_the_bound():
    """A bound right at the answer: the lower 95% limit never reaches the target
    within it, so the range is open (None) rather than a crash."""
    res = run(scenario(0.2, 0.35, target_power=0.8, simulation__method="monte_carlo",
                       simulation__n_sims=2000, sample_size__max_control=148))
    lo, hi = res.sample_size.interval_control
    assert hi is None and lo <= res.sample_size.answer.n_control <= 148
    assert res.to_dict()["sample_size"]["n_per_arm_interval"]["control"] == [lo, None]


def test_n_control_that_empties_the_treatment_arm_is_an_error():
    from simulator import ScenarioError
    with pytest.raises(ScenarioError, match="smallest feasible control-arm size is 2"):
        run(scenario(0.2, 0.5, allocation=0.3, sample_size__n_control=1))


@pytest.mark.parametrize("test,p_c,p_t", [("fisher", 0.20, 0.69), ("z_unpooled", 0.05, 0.95),
                                          ("z_pooled", 0.34, 0.653)])
def test_type_one_error_is_the_exact_size_at_the_control_rate(test, p_c, p_t):
    """Against an enumeration with statsmodels' / scipy's own p-values."""
    from stats.test_analysis import reference_pvalue     # tests/ is on the path (conftest)
    from scipy import stats
    res = run(scenario(p_c, p_t, analysis__test=test))
    n_t, n_c = res.sample_size.answer.n_treatment, res.sample_size.answer.n_control
    size = sum(stats.binom.pmf(x_t, n_t, p_c) * stats.binom.pmf(x_c, n_c, p_c)
               for x_t in range(n_t + 1) for x_c in range(n_c + 1)
               if reference_pvalue(test, "two", n_t, n_c, x_t, x_c) <= 0.05)
    assert res.type_one_error == pytest.approx(size, abs=1e-12)
    if test == "z_unpooled":
        # one woman per arm "reaches" 90% power: the Wald test's size shows why not to trust it
        assert n_c == 1 and res.type_one_error > 0.05


def test_a_value_within_rounding_of_the_target_does_not_reach_it():
    """Assurance that creeps up to its target (a degenerate prior: 0.5 +-
    1e-14) used to count as reaching it by rounding noise."""
    from simulator.planning.search import REACH_TOLERANCE

    def hovering(sizes):
        sizes = np.asarray(sizes)
        value = np.where(sizes >= 300, 0.5 + 1e-14 * (sizes % 2), 0.4)
        value = np.where(sizes >= 900, 0.5 + 2 * REACH_TOLERANCE, value)
        return value, np.zeros(len(sizes))
    found = find_sample_size(hovering, 0.5, 1, 5000)
    assert found.first == 900


def test_the_window_around_an_answer_is_bounded():
    """A curve that hovers at its target for thousands of sizes is checked
    over at most MAX_WINDOW sizes, not searched to the bound."""
    from simulator.planning.search import MAX_WINDOW
    calls = []

    def saw(sizes):
        calls.extend(sizes)
        sizes = np.asarray(sizes)
        return np.where(sizes % 2 == 0, 0.95, 0.85) * (sizes >= 50) + 0.0, np.zeros(len(sizes))
    found = find_sample_size(saw, 0.9, 1, 100_000)
    assert found.stable is None and len(found.sizes) <= MAX_WINDOW + 100
    assert len(set(calls)) < MAX_WINDOW + 200
