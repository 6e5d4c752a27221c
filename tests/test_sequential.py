"""Simulated group-sequential operating characteristics against recursive
integration, exact single-look power and the null."""
import numpy as np
import pytest
from scipy import stats

from simulator.boundaries import crossing, efficacy_bounds
from simulator.design import Design
from simulator.exact import exact_power
from simulator.sequential import look_sizes, simulate_sequential

LOOKS = [0.5, 0.75, 1.0]


def test_look_sizes_are_nested_and_end_at_the_arm():
    assert list(look_sizes(200, LOOKS)) == [100, 150, 200]
    assert list(look_sizes(3, [0.1, 0.5, 1])) == [1, 2, 3]


def test_single_look_equals_exact_power_of_the_z_test():
    z = stats.norm.isf(0.025)
    oc = simulate_sequential(60, 60, 0.5, 0.3, [1.0], [z], None, "one", True, 40_000, 5)
    exact = exact_power(Design("z_pooled", "one", 0.025), 0.5, 0.3, [60])[0]
    assert abs(oc.power - exact) <= 3 * np.sqrt(exact * (1 - exact) / 40_000)


@pytest.mark.parametrize("sided", ["one", "two"])
def test_stopping_probabilities_match_recursive_integration(sided):
    """Large arms: the z statistics follow the canonical joint distribution
    up to the normal approximation (allowed 0.003 beyond 3 MC SE)."""
    n, p_c, p_t = 1000, 0.34, 0.40
    alpha = 0.025 if sided == "one" else 0.05
    upper = efficacy_bounds(LOOKS, alpha, "obrien_fleming", sided)
    lower = np.array([0.0, 0.5, -np.inf]) if sided == "one" else None
    oc = simulate_sequential(n, n, p_t, p_c, LOOKS, upper, lower, sided, False, 100_000, 7)
    drift = (p_t - p_c) / np.sqrt(p_t * (1 - p_t) / n + p_c * (1 - p_c) / n)
    up, down = crossing(LOOKS, upper, lower if lower is not None else -upper, drift, sided)
    for sim, ref in ((oc.efficacy, up), (oc.futility, down)):
        assert np.all(np.abs(sim - ref) <= 3 * oc.se(ref) + 0.003), (sim, ref)


@pytest.mark.parametrize("kind", ["obrien_fleming", "pocock", "ld_obrien_fleming"])
def test_type_one_error_is_at_most_alpha(kind):
    upper = efficacy_bounds(LOOKS, 0.025, kind, "one")
    n_sims = 200_000
    oc = simulate_sequential(200, 200, 0.34, 0.34, LOOKS, upper, None, "one", True, n_sims, 3)
    assert oc.power <= 0.025 + 3 * np.sqrt(0.025 * 0.975 / n_sims)
    assert oc.power > 0.015


def test_expected_size_and_reproducibility():
    upper = efficacy_bounds(LOOKS, 0.025, "obrien_fleming", "one")
    lower = [0.0, 0.5, -np.inf]
    one = simulate_sequential(150, 150, 0.55, 0.35, LOOKS, upper, lower, n_sims=120_000, seed=9)
    two = simulate_sequential(150, 150, 0.55, 0.35, LOOKS, upper, lower, n_sims=120_000, seed=9,
                              jobs=2)
    assert np.array_equal(one.efficacy, two.efficacy) and np.array_equal(one.futility,
                                                                        two.futility)
    stop = np.append((one.efficacy + one.futility)[:2], 0)
    stop[2] = 1 - stop.sum()
    assert one.sizes.tolist() == (2 * look_sizes(150, LOOKS)).tolist() == [150, 224, 300]
    assert one.expected_size == pytest.approx(float(stop @ one.sizes))
    assert 150 < one.expected_size < 300
    assert one.favourable <= one.power
