"""Fisher's decisions for every margin at once (critical counts per margin)
give exactly the decisions of the per-margin p-values, and scipy's."""
import numpy as np
import pytest
from scipy.stats import fisher_exact

from simulator.stats import binomial, fisher

SIDES = ("two", "one")


def reference_grid(sided, alpha, n_t, n_c, t_range=None, c_range=None):
    """Decisions ``p <= alpha`` from the per-margin p-values (the route used
    before decisions were vectorised across margins)."""
    t_lo, t_hi = t_range or (0, n_t)
    c_lo, c_hi = c_range or (0, n_c)
    x_t, x_c = np.meshgrid(np.arange(t_lo, t_hi + 1), np.arange(c_lo, c_hi + 1), indexing="ij")
    return fisher.pvalues(sided, n_t, n_c, x_t, x_c) <= alpha


@pytest.mark.parametrize("sided", SIDES)
def test_decision_tables_match_scipy_table_by_table(sided):
    """Small arms, equal and unequal, several levels: every table decided as
    scipy.stats.fisher_exact's p-value decides it (a p-value within 1e-9 of
    alpha, where two correct computations may round either way, is compared
    with our own p-value instead)."""
    alternative = "two-sided" if sided == "two" else "greater"
    for n_t, n_c in [(1, 1), (3, 5), (8, 8), (12, 7), (4, 19), (15, 15)]:
        ref = np.array([[fisher_exact([[a, n_t - a], [c, n_c - c]], alternative).pvalue
                         for c in range(n_c + 1)] for a in range(n_t + 1)])
        ours = reference_grid(sided, 1.0, n_t, n_c)         # every table: p <= 1
        assert ours.all()
        for alpha in (0.01, 0.025, 0.05, 0.1, 0.3):
            decided = fisher.rejection_grid(sided, alpha, n_t, n_c, (0, n_t), (0, n_c))
            clear = np.abs(ref - alpha) > 1e-9 * alpha
            assert np.array_equal(decided[clear], (ref <= alpha)[clear]), (n_t, n_c, alpha)
            assert np.array_equal(decided, reference_grid(sided, alpha, n_t, n_c))


@pytest.mark.parametrize("sided", SIDES)
def test_decision_tables_match_the_per_margin_p_values(sided):
    """Every table of unequal and equal arms (exact ties), at conventional and
    extreme levels and at levels equal to, just below and just above attained
    p-values (where ties and rounding decide), and rectangles of large arms."""
    rng = np.random.default_rng(11)
    for n_t, n_c in [(40, 40), (57, 23), (9, 130), (150, 150)]:
        x_t, x_c = np.meshgrid(np.arange(n_t + 1), np.arange(n_c + 1), indexing="ij")
        p = fisher.pvalues(sided, n_t, n_c, x_t, x_c)
        attained = rng.choice(np.unique(p[(p > 1e-12) & (p < 0.5)]), size=4, replace=False)
        levels = [0.05, 0.01, 1e-6, 1e-16, 0.5] + [a * f for a in attained
                                                   for f in (1.0, 1 - 1e-3, 1 + 1e-3)]
        for alpha in levels:
            decided = fisher.rejection_grid(sided, alpha, n_t, n_c, (0, n_t), (0, n_c))
            assert np.array_equal(decided, p <= alpha), (n_t, n_c, alpha)
    for n_t, n_c, t_range, c_range in [(1000, 1000, (440, 560), (300, 420)),
                                       (1200, 600, (300, 420), (120, 200))]:
        for alpha in (0.05, 0.001):
            decided = fisher.rejection_grid(sided, alpha, n_t, n_c, t_range, c_range)
            assert np.array_equal(decided,
                                  reference_grid(sided, alpha, n_t, n_c, t_range, c_range))


def test_scattered_tables_are_decided_as_the_reference():
    """Tables far apart (a few draws in the far tails): the margins present
    only, whatever their order and shape."""
    rng = np.random.default_rng(5)
    n_t, n_c = 700, 350
    x_t = rng.integers(0, n_t + 1, size=(7, 3))
    x_c = rng.integers(0, n_c + 1, size=(7, 3))
    for sided in SIDES:
        for alpha in (0.05, 0.2):
            assert np.array_equal(fisher.rejects(sided, alpha, n_t, n_c, x_t, x_c),
                                  fisher.pvalues(sided, n_t, n_c, x_t, x_c) <= alpha)
    assert fisher.rejects("two", 0.05, 5, 5, np.zeros(0, int), np.zeros(0, int)).shape == (0,)


def test_a_p_value_equal_to_alpha_is_decided_by_the_reference(monkeypatch):
    """alpha set to an attained p-value: that margin is handed to the
    per-margin p-values, which reject it (p <= alpha), as before."""
    n_t, n_c = 30, 30
    p = fisher.pvalues("two", n_t, n_c, np.array([20]), np.array([8]))[0]
    calls = []
    margin_pvalues = fisher.margin_pvalues
    monkeypatch.setattr(fisher, "margin_pvalues",
                        lambda *args: calls.append(args) or margin_pvalues(*args))
    decided = fisher.rejection_grid("two", p, n_t, n_c, (0, n_t), (0, n_c))
    assert decided[20, 8] and ("two", n_t, n_c, 28) in calls
    assert np.array_equal(decided, reference_grid("two", p, n_t, n_c))


def test_empty_margins_never_reject_and_levels_outside_the_range_use_p_values():
    grid = fisher.rejection_grid("two", 0.5, 6, 4, (0, 6), (0, 4))
    assert not grid[0, 0] and not grid[6, 4]
    assert fisher.rejection_grid("one", 1.0, 6, 4, (0, 6), (0, 4)).all()
    assert not fisher.rejection_grid("two", 0.0, 6, 4, (0, 6), (0, 4)).any()


def test_binomial_probabilities_on_a_grid_are_those_of_the_elementwise_formula():
    """``binomial_pmf`` takes each rate's logarithms once; the numbers are
    bit for bit those of the per-cell formula, rates of 0 and 1 included."""
    rng = np.random.default_rng(3)
    for n in (1, 7, 250, 2999):
        counts = np.arange(n + 1)
        rates = np.concatenate([rng.uniform(0, 1, 20), [0.0, 1.0, 1e-9, 1 - 1e-9]])
        expected = np.exp(binomial._log_pmf(n, counts.astype(float)[None, :], rates[:, None]))
        assert np.array_equal(binomial.binomial_pmf(n, counts, rates), expected)
