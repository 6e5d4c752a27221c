"""Group-sequential operating characteristics: exact enumeration against exact
single-look power, recursive integration and simulation; simulation against
exact; the null; Bayesian rules against brute force."""
import math

import numpy as np
import pytest
from scipy import stats

from simulator.stats.bayes import posterior_superiority
from simulator.stats.boundaries import crossing, efficacy_bounds
from simulator.engines.design import Design
from simulator.engines.exact import exact_power
from simulator.models.priors import BetaMixture, RateModel
from simulator.engines.sequential import (BayesRule, SequentialDesign, calibrate_threshold,
                                  decision_tables, exact_oc, look_sizes, simulate_oc,
                                  threshold_steps)

LOOKS = (0.5, 0.75, 1.0)
NONE = (-math.inf,) * 3


def z_design(kind="obrien_fleming", sided="one", lower=NONE, test="z_pooled", alpha=None):
    alpha = alpha or (0.025 if sided == "one" else 0.05)
    upper = tuple(efficacy_bounds(LOOKS, alpha, kind, sided))
    return SequentialDesign(LOOKS, test, sided, upper, tuple(lower))


def within(sim, exact, n_sims, extra=0.0):
    se = np.sqrt(np.clip(exact, 0, 1) * (1 - np.clip(exact, 0, 1)) / n_sims)
    return np.all(np.abs(np.asarray(sim) - exact) <= 3 * se + extra + 1e-12)


def test_look_sizes_are_nested_and_end_at_the_arm():
    assert list(look_sizes(200, LOOKS)) == [100, 150, 200]
    assert list(look_sizes(3, [0.1, 0.5, 1])) == [1, 2, 3]


@pytest.mark.parametrize("test,sided", [("z_pooled", "one"), ("z_unpooled", "two")])
def test_single_look_is_exactly_the_fixed_z_test(test, sided):
    alpha = 0.025 if sided == "one" else 0.05
    z = stats.norm.isf(alpha if sided == "one" else alpha / 2)
    design = SequentialDesign((1.0,), test, sided, (z,), (-math.inf,))
    for n_t, n_c, p_t, p_c in ((60, 60, 0.5, 0.3), (45, 30, 0.69, 0.2), (200, 180, 0.3, 0.34)):
        oc = exact_oc(design, n_t, n_c, p_t, p_c)
        ref = exact_power(Design(test, sided, alpha, n_t / n_c), p_t, p_c, [n_c])[0]
        assert oc.power == pytest.approx(ref, abs=1e-11)
        sim = simulate_oc(design, n_t, n_c, (p_t, p_c), 40_000, 5)
        assert within(sim.power, ref, 40_000)


@pytest.mark.parametrize("sided", ["one", "two"])
@pytest.mark.slow
def test_exact_enumeration_approaches_recursive_integration_in_large_trials(sided):
    """1000 per arm: the z statistics follow the canonical joint distribution up
    to the normal approximation (0.003)."""
    n, p_c, p_t = 1000, 0.34, 0.40
    lower = (0.0, 0.5, -math.inf) if sided == "one" else NONE
    design = z_design(sided=sided, lower=lower, test="z_unpooled")
    oc = exact_oc(design, n, n, p_t, p_c)
    drift = (p_t - p_c) / np.sqrt(p_t * (1 - p_t) / n + p_c * (1 - p_c) / n)
    up, down = crossing(LOOKS, design.upper, lower if sided == "one" else -np.asarray(
        design.upper), drift, sided)
    assert np.allclose(oc.efficacy, up, atol=0.003) and np.allclose(oc.futility, down, atol=0.003)


@pytest.mark.parametrize("sided,lower", [("one", (0.0, 0.5, -math.inf)), ("two", NONE),
                                         ("one", NONE)])
@pytest.mark.slow
def test_simulation_matches_exact_enumeration(sided, lower):
    design = z_design("pocock", sided, lower)
    n_sims = 60_000
    for n_t, n_c, p_t, p_c in ((40, 40, 0.6, 0.35), (27, 18, 0.69, 0.2)):
        exact = exact_oc(design, n_t, n_c, p_t, p_c)
        sim = simulate_oc(design, n_t, n_c, (p_t, p_c), n_sims, 11)
        assert within(sim.efficacy, exact.efficacy, n_sims)
        assert within(sim.futility, exact.futility, n_sims)
        assert within(sim.favourable, exact.favourable, n_sims)
        assert np.array_equal(sim.sizes, exact.sizes)


@pytest.mark.slow
def test_exact_mass_is_conserved():
    design = z_design(lower=(0.2, 0.8, -math.inf))
    oc = exact_oc(design, 150, 150, 0.45, 0.3)
    assert oc.stopping.sum() == pytest.approx(1.0, abs=1e-12)
    assert (oc.efficacy + oc.futility)[:-1].sum() < 1
    # the last look's success plus failure is what reaches it
    assert oc.efficacy[-1] <= oc.stopping[-1] + 1e-12


@pytest.mark.parametrize("kind", ["obrien_fleming", "pocock", "ld_obrien_fleming"])
@pytest.mark.slow
def test_type_one_error_is_at_most_alpha(kind):
    design = z_design(kind)
    exact = exact_oc(design, 200, 200, 0.34, 0.34)
    assert 0.015 < exact.power <= 0.025 * 1.05        # z test: near nominal at 200 per arm
    n_sims = 200_000
    sim = simulate_oc(design, 200, 200, (0.34, 0.34), n_sims, 3)
    assert sim.power <= 0.025 + 3 * math.sqrt(0.025 * 0.975 / n_sims)
    assert within(sim.power, exact.power, n_sims)


@pytest.mark.slow
def test_assurance_matches_exact_power_integrated_over_the_priors():
    design = z_design(lower=(0.0, 0.5, -math.inf))
    prior_t, prior_c = BetaMixture.beta(11, 5.5), BetaMixture.beta(3.5, 11)
    model = RateModel(prior_c.mean, prior_c, prior_t.mean, prior_t)
    n_sims = 60_000
    sim = simulate_oc(design, 30, 30, model, n_sims, 4)
    nodes_t, w_t = prior_t.nodes(40)
    nodes_c, w_c = prior_c.nodes(40)
    ref = sum(wt * wc * exact_oc(design, 30, 30, pt, pc).favourable
              for pt, wt in zip(nodes_t, w_t) for pc, wc in zip(nodes_c, w_c))
    assert within(sim.favourable, ref, n_sims)


@pytest.mark.slow
def test_results_are_identical_for_any_number_of_jobs():
    design = z_design(lower=(0.0, 0.5, -math.inf))
    args = (design, 150, 150, (0.55, 0.35), 120_000, 9)
    one, two = simulate_oc(*args), simulate_oc(*args, jobs=2)
    assert np.array_equal(one.efficacy, two.efficacy)
    assert np.array_equal(one.futility, two.futility)
    assert one.sizes.tolist() == [150, 224, 300]
    stop = np.append((one.efficacy + one.futility)[:2], 0)
    stop[2] = 1 - stop.sum()
    assert one.expected_size == pytest.approx(float(stop @ one.sizes))


def brute_force_bayes_oc(rule, looks, n_t, n_c, p_t, p_c):
    """Enumerate every path of (x_t, x_c) over the looks with a plain loop."""
    sizes_t, sizes_c = look_sizes(n_t, looks), look_sizes(n_c, looks)
    post = [posterior_superiority(int(a), int(b), rule.prior_treatment, rule.prior_control)
            for a, b in zip(sizes_t, sizes_c)]
    final = post[-1] >= rule.threshold

    def predictive(k, x, y):
        from scipy.stats import betabinom
        dt, dc = sizes_t[-1] - sizes_t[k], sizes_c[-1] - sizes_c[k]
        a_t, b_t = rule.prior_treatment
        a_c, b_c = rule.prior_control
        pt = betabinom.pmf(np.arange(dt + 1), dt, a_t + x, b_t + sizes_t[k] - x)
        pc = betabinom.pmf(np.arange(dc + 1), dc, a_c + y, b_c + sizes_c[k] - y)
        return pt @ final[x:x + dt + 1, y:y + dc + 1] @ pc

    eff = np.zeros(len(looks))
    fut = np.zeros(len(looks))
    paths = {(0, 0): 1.0}
    prev = (0, 0)
    for k in range(len(looks)):
        dt, dc = sizes_t[k] - prev[0], sizes_c[k] - prev[1]
        new = {}
        for (x, y), w in paths.items():
            for a in range(dt + 1):
                for b in range(dc + 1):
                    key = (x + a, y + b)
                    new[key] = new.get(key, 0.0) + w * stats.binom.pmf(a, dt, p_t) * stats.binom.pmf(b, dc, p_c)
        paths = {}
        for (x, y), w in new.items():
            last = k == len(looks) - 1
            if post[k][x, y] >= (rule.threshold if last else rule.interim_efficacy(k) or 2):
                eff[k] += w
            elif not last and rule.futility is not None and predictive(k, x, y) < rule.futility:
                fut[k] += w
            elif not last:
                paths[(x, y)] = w
        prev = (sizes_t[k], sizes_c[k])
    return eff, fut


def test_bayesian_design_matches_brute_force_enumeration():
    rule = BayesRule((1.0, 1.0), (3.5, 11.0), 0.97, (0.995, 0.99), 0.1)
    design = SequentialDesign((0.4, 0.7, 1.0), "bayesian", bayes=rule)
    for p_t, p_c in ((0.6, 0.25), (0.25, 0.25)):
        oc = exact_oc(design, 14, 12, p_t, p_c)
        eff, fut = brute_force_bayes_oc(rule, design.looks, 14, 12, p_t, p_c)
        assert np.allclose(oc.efficacy, eff, atol=1e-12)
        assert np.allclose(oc.futility, fut, atol=1e-12)


def test_calibrated_threshold_is_the_smallest_with_type_one_error_at_most_alpha():
    rule = BayesRule((1.0, 1.0), (1.0, 1.0), 0.5, None, 0.05, efficacy_at_final=True)
    design = SequentialDesign((0.5, 1.0), "bayesian", bayes=rule)

    def size(d):
        return exact_oc(d, 40, 40, 0.3, 0.3).power
    c = calibrate_threshold(design, 0.025, size, 40, 40)
    assert size(design.with_threshold(c)) <= 0.025
    # the step below (its smallest posterior) puts more tables on the success
    # side and exceeds alpha; c itself is a short decimal inside the gap
    low, high = threshold_steps(design, 40, 40)
    below = low[high < c].max()
    assert size(design.with_threshold(below)) > 0.025
    assert high[high < c].max() < c <= low[low >= c].min() and len(repr(c)) <= 12
    n_sims = 100_000
    sim = simulate_oc(design.with_threshold(c), 40, 40, (0.3, 0.3), n_sims, 8)
    assert sim.power <= 0.025 + 3 * math.sqrt(0.025 * 0.975 / n_sims)


def test_a_threshold_of_one_half_keeps_tables_with_equal_counts_together():
    """Tables with equal counts and equal arms have posterior exactly 0.5
    under equal priors; rounding puts them either side of it, but the rule
    "posterior >= 0.5" takes them all (the comparison's slack)."""
    rule = BayesRule((1.0, 1.0), (1.0, 1.0), 0.5)
    design = SequentialDesign((1.0,), "bayesian", bayes=rule)
    (table,) = decision_tables(design, 20, 20)
    assert all(table[x, x] == 1 for x in range(21))
