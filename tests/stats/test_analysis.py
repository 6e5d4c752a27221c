"""Each vectorised test agrees with scipy / statsmodels on individual tables."""
import warnings

import numpy as np
import pytest
from scipy.stats import chi2_contingency, fisher_exact
from statsmodels.stats import proportion as sm_proportion

from simulator.stats.analysis import pvalue_grid, pvalues

SIZES = [(1, 1), (1, 4), (6, 6), (9, 14), (20, 20), (33, 17), (25, 50)]


def reference_pvalue(test, sided, n_t, n_c, x_t, x_c):
    table = [[x_t, n_t - x_t], [x_c, n_c - x_c]]
    s = x_t + x_c
    if test == "fisher":
        return fisher_exact(table, alternative="two-sided" if sided == "two" else "greater").pvalue
    if s in (0, n_t + n_c):          # empty margin: never rejects (documented rule)
        return 1.0
    if test == "chi2_yates":
        p = chi2_contingency(table, correction=True).pvalue
        if sided == "one":
            p = p / 2 if x_t / n_t > x_c / n_c else 1.0
        return p
    alternative = "two-sided" if sided == "two" else "larger"
    if test == "z_pooled":
        return sm_proportion.proportions_ztest([x_t, x_c], [n_t, n_c], alternative=alternative)[1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sm_proportion.test_proportions_2indep(x_t, n_t, x_c, n_c, method="wald", compare="diff",
                                       alternative=alternative, correction=False).pvalue


@pytest.mark.parametrize("test", ["fisher", "z_pooled", "z_unpooled", "chi2_yates"])
@pytest.mark.parametrize("sided", ["two", "one"])
@pytest.mark.slow
def test_every_table_matches_reference(test, sided):
    for n_t, n_c in SIZES:
        grid = pvalue_grid(test, sided, n_t, n_c, (0, n_t), (0, n_c))
        for x_t in range(n_t + 1):
            for x_c in range(n_c + 1):
                ref = reference_pvalue(test, sided, n_t, n_c, x_t, x_c)
                if np.isnan(ref):
                    # statsmodels' Wald test is undefined when both arms have
                    # zero variance; ours takes the limit (documented).
                    assert test == "z_unpooled"
                    continue
                assert grid[x_t, x_c] == pytest.approx(ref, rel=1e-9, abs=1e-14), (n_t, n_c, x_t, x_c)


@pytest.mark.parametrize("sided", ["two", "one"])
def test_fisher_matches_scipy_on_large_random_tables(sided):
    """Large arms, where the log-factorial probabilities and the tie tolerance matter;
    the decision at 0.05 and 0.01 must agree with scipy on every table."""
    rng = np.random.default_rng(7)
    for _ in range(400):
        n_t, n_c = rng.integers(50, 2000, size=2)
        if rng.random() < 0.3:
            n_c = n_t                               # symmetric designs have exact ties
        x_t = rng.binomial(n_t, rng.uniform(0.05, 0.95))
        x_c = rng.binomial(n_c, rng.uniform(0.05, 0.95))
        ours = pvalues("fisher", sided, n_t, n_c, x_t, x_c)[()]
        ref = reference_pvalue("fisher", sided, n_t, n_c, x_t, x_c)
        assert ours == pytest.approx(ref, rel=1e-11, abs=1e-300)
        for alpha in (0.05, 0.01):
            assert (ours <= alpha) == (ref <= alpha)


def test_empty_margin_never_rejects():
    for test in ["fisher", "z_pooled", "z_unpooled", "chi2_yates"]:
        for sided in ["two", "one"]:
            assert pvalues(test, sided, 10, 12, [0, 10], [0, 12]).tolist() == [1.0, 1.0]


def test_unpooled_zero_variance_takes_the_limit():
    # all events with treatment, none with control: z = +inf, rejects at any alpha
    assert pvalues("z_unpooled", "two", 5, 5, 5, 0)[()] == 0.0
    assert pvalues("z_unpooled", "one", 5, 5, 0, 5)[()] == 1.0


@pytest.mark.parametrize("n_t,n_c,x_t,x_c", [
    (1919, 701, 688, 222), (1288, 576, 321, 119), (923, 1787, 375, 657),
    (963, 1741, 335, 673), (1500, 1000, 176, 85)])
def test_fisher_near_ties_in_unequal_arms_are_not_taken_as_ties(n_t, n_c, x_t, x_c):
    """Tables found by review where another table's probability lies within 1e-7
    (relative) of the observed one without being equal; a loose tie tolerance
    adds it to the p-value and flips the decision."""
    ref = fisher_exact([[x_t, n_t - x_t], [x_c, n_c - x_c]]).pvalue
    assert pvalues("fisher", "two", n_t, n_c, x_t, x_c)[()] == pytest.approx(ref, rel=1e-11)
