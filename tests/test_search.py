"""Sample-size search: exact answers against a brute-force scan, Monte Carlo
stability across seeds, and the normal approximation of statsmodels / rpact."""
import math

import numpy as np
import pytest
from statsmodels.stats.proportion import samplesize_proportions_2indep_onetail

from simulator import NoSolutionError, load_scenario, run
from simulator.design import Design
from simulator.exact import exact_power
from simulator.results import randomised
from simulator.search import guard_width, normal_approximation


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
