"""One planner per kind of design, chosen once: the kind for each bundled
scenario, and its interface (power and assurance at sizes, the search, the
result) against independent references: scipy's Fisher test enumerated over
every 2x2 table, and a brute-force scan for the smallest size."""
import numpy as np
import pytest
from scipy import stats

from simulator import load_scenario
from simulator.planning.planners import (FixedPlanner, PatientPlanner, SequentialPlanner,
                                         planner_for)


def fisher_power(p_t, p_c, n_t, n_c, alpha=0.05):
    """Two-sided Fisher power by enumerating every table with scipy."""
    x_t, x_c = np.arange(n_t + 1), np.arange(n_c + 1)
    w_t, w_c = stats.binom.pmf(x_t, n_t, p_t), stats.binom.pmf(x_c, n_c, p_c)
    total = 0.0
    for a in x_t:
        for c in x_c:
            p = stats.fisher_exact([[a, n_t - a], [c, n_c - c]]).pvalue
            if p <= alpha:
                total += w_t[a] * w_c[c]
    return total


@pytest.mark.parametrize("name, kind, prior", [
    ("severe", FixedPlanner, False), ("severe_prior", FixedPlanner, True),
    ("severe_sequential", SequentialPlanner, False), ("multicentre", PatientPlanner, False),
    ("skeptical", FixedPlanner, True)])
def test_the_kind_is_chosen_once_from_the_scenario(name, kind, prior):
    planner = planner_for(load_scenario(name))
    assert type(planner) is kind
    assert (planner.prior is not None) is prior


@pytest.mark.slow
def test_power_at_sizes_and_the_search_against_scipy_enumeration():
    planner = planner_for(load_scenario("severe"))
    sizes = [18, 19, 20, 21]
    power, se = planner.power_at(sizes)
    assert np.all(se == 0)
    for m, value in zip(sizes, power):
        assert value == pytest.approx(fisher_power(0.69, 0.20, m, m), abs=1e-10)
    found = planner.search()
    # brute force: the first size from 2 up whose power reaches 0.90
    first = next(m for m in range(2, 60) if fisher_power(0.69, 0.20, m, m) >= 0.90)
    assert found.first == first
    result = planner.result(extras=False)
    assert result.sample_size.answer.n_control == first
    assert result.sample_size.answer.power == pytest.approx(fisher_power(0.69, 0.20, first, first),
                                                            abs=1e-10)


def test_assurance_needs_priors_and_agrees_with_the_result():
    with pytest.raises(ValueError, match="priors"):
        planner_for(load_scenario("severe")).assurance_at([20])
    planner = planner_for(load_scenario("severe_prior"))
    result = planner.result(extras=False)
    at = result.assurance.at_reported
    (a,), (a_se,) = planner.assurance_at([at.n_control])
    assert a == at.assurance and a_se == 0.0


@pytest.mark.slow
def test_a_sequential_planner_searches_its_own_power_not_the_fixed_designs():
    planner = planner_for(load_scenario("severe_sequential"))
    found = planner.search()
    (power,), _ = planner.power_at([found.first])
    (below,), _ = planner.power_at([found.first - 1])
    assert power >= 0.9 > below
    assert planner.result(extras=False).proposal.power == power


def test_a_patient_planner_counts_women_randomised():
    """The patient-level model simulates dropout: its sizes are women
    randomised, so no dropout is added on top."""
    scenario = load_scenario("multicentre", {"simulation.n_sims": 500})
    planner = planner_for(scenario)
    assert planner.randomised(100) == 100
    fixed = planner_for(load_scenario("severe"))     # 10% dropout
    assert fixed.randomised(90) == 100
