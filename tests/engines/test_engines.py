"""Exact power against brute force; Monte Carlo against exact; reproducibility."""
import json
import tracemalloc

import numpy as np
import pytest
from scipy import stats
from scipy.stats import fisher_exact

from simulator.engines import montecarlo
from simulator.engines.design import Design
from simulator.engines.exact import exact_power
from simulator.engines.montecarlo import ArmSampler, monte_carlo_power

TESTS = ["fisher", "z_pooled", "z_unpooled", "chi2_yates"]


def brute_force_power(n_t, n_c, p_t, p_c, alpha, sided):
    """Fisher power by a double loop over every table, with scipy's test."""
    alt = "two-sided" if sided == "two" else "greater"
    power = 0.0
    for x_t in range(n_t + 1):
        for x_c in range(n_c + 1):
            table = [[x_t, n_t - x_t], [x_c, n_c - x_c]]
            if fisher_exact(table, alternative=alt).pvalue <= alpha:
                power += stats.binom.pmf(x_t, n_t, p_t) * stats.binom.pmf(x_c, n_c, p_c)
    return power


@pytest.mark.parametrize("p_t,p_c,allocation,sided,m", [
    (0.69, 0.20, 1.0, "two", 24),
    (0.60, 0.39, 2.0, "two", 15),
    (0.50, 0.30, 0.5, "one", 30),
    (1.00, 0.00, 1.0, "two", 3),
    (0.30, 0.30, 1.0, "two", 20),
    (0.90, 0.10, 1.0, "one", 1),
])
def test_exact_power_equals_brute_force_enumeration(p_t, p_c, allocation, sided, m):
    design = Design("fisher", sided, 0.05, allocation)
    n_t, n_c = design.sizes(m)
    ours = exact_power(design, p_t, p_c, [m])[0]
    assert ours == pytest.approx(brute_force_power(n_t, n_c, p_t, p_c, 0.05, sided), abs=1e-12)


@pytest.mark.parametrize("test", TESTS)
@pytest.mark.parametrize("sided", ["two", "one"])
def test_monte_carlo_within_3_5_se_of_exact(test, sided):
    """Grid of rates, sizes and allocations; SE from the exact power."""
    grid = [(0.20, 0.69, 1.0, [8, 20, 31]), (0.34, 0.653, 1.0, [40, 57]),
            (0.39, 0.60, 2.0, [25, 60]), (0.12, 0.15, 0.5, [300]), (0.30, 0.30, 1.0, [50])]
    n_sims = 20_000
    for p_c, p_t, allocation, sizes in grid:
        design = Design(test, sided, 0.05, allocation)
        exact = exact_power(design, p_t, p_c, sizes)
        mc, se = monte_carlo_power(design, p_t, p_c, sizes, n_sims, seed=11)
        ref_se = np.sqrt(exact * (1 - exact) / n_sims)
        assert np.all(np.abs(mc - exact) <= 3.5 * ref_se + 1e-12), (p_c, p_t, sizes, mc, exact)
        assert np.allclose(se, np.sqrt(mc * (1 - mc) / n_sims))


@pytest.mark.parametrize("test", TESTS)
def test_null_type_one_error(test):
    """Equal rates: exact power is the size of the test.  Fisher is conservative
    (<= alpha); the large-sample tests are near alpha at 200 per arm."""
    design = Design(test, "two", 0.05, 1.0)
    size = exact_power(design, 0.34, 0.34, [200])[0]
    assert size <= 0.05 if test in ("fisher", "chi2_yates") else abs(size - 0.05) < 0.006
    mc, se = monte_carlo_power(design, 0.34, 0.34, [200], 50_000, seed=3)
    assert abs(mc[0] - size) <= 3.5 * np.sqrt(size * (1 - size) / 50_000)


def test_inversion_sampler_is_binomial_including_fallback():
    rng = np.random.default_rng(5)
    u = rng.random(400_000)
    n, p = 40, 0.3
    full = ArmSampler.build(n, p, (0, n)).counts(u)
    # a deliberately narrow tabulated range forces the fallback on ~20% of draws
    narrow = ArmSampler.build(n, p, (10, 14)).counts(u)
    assert np.array_equal(full, narrow)
    observed = np.bincount(full, minlength=n + 1)
    expected = stats.binom.pmf(np.arange(n + 1), n, p) * u.size
    keep = expected > 5
    chi2 = ((observed[keep] - expected[keep]) ** 2 / expected[keep]).sum()
    assert stats.chi2.sf(chi2, keep.sum() - 1) > 1e-4


def test_draws_outside_the_table_are_decided_directly(monkeypatch):
    """With a tail cut-off so large that many draws leave the tabulated range,
    the counts are the same as with the full table."""
    design = Design("fisher", "two", 0.05, 1.0)
    ref = monte_carlo_power(design, 0.6, 0.3, [30, 45], 20_000, seed=1)[0]
    import simulator.engines.design as d
    monkeypatch.setattr(d, "TAIL", 0.05)
    d.decision_table.cache_clear()
    try:
        cut = monte_carlo_power(design, 0.6, 0.3, [30, 45], 20_000, seed=1)[0]
    finally:
        d.decision_table.cache_clear()
    assert np.array_equal(ref, cut)


@pytest.mark.slow
def test_identical_results_for_any_number_of_jobs():
    design = Design("chi2_yates", "two", 0.05, 1.5)
    n_sims = 3 * montecarlo.CHUNK_SIZE + 123       # several chunks, a ragged last one
    one = monte_carlo_power(design, 0.5, 0.3, [40, 41, 80], n_sims, seed=99, jobs=1)
    two = monte_carlo_power(design, 0.5, 0.3, [40, 41, 80], n_sims, seed=99, jobs=2)
    assert json.dumps([a.tolist() for a in one]) == json.dumps([a.tolist() for a in two])


def test_memory_is_bounded_by_chunk_size():
    design = Design("z_pooled", "two", 0.05, 1.0)
    monte_carlo_power(design, 0.5, 0.3, [100], 1000, seed=1)     # warm caches

    def peak(n_sims):
        tracemalloc.start()
        monte_carlo_power(design, 0.5, 0.3, [100], n_sims, seed=1)
        top = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return top

    small, large = peak(2 * montecarlo.CHUNK_SIZE), peak(20 * montecarlo.CHUNK_SIZE)
    assert large < 1.5 * small


def test_common_random_numbers_make_neighbouring_sizes_share_trials():
    """The same simulated trial is re-used at every size: power at m and m+1
    differ by far less than two independent estimates would."""
    design = Design("z_pooled", "two", 0.05, 1.0)
    sizes = list(range(100, 140))
    mc, _ = monte_carlo_power(design, 0.45, 0.3, sizes, 10_000, seed=4)
    exact = exact_power(design, 0.45, 0.3, sizes)
    step_noise = np.std(np.diff(mc - exact))
    independent = np.sqrt(2 * 0.25 / 10_000)
    assert step_noise < 0.5 * independent
