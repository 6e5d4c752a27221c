"""The binomial's pmf, cdf, ppf and isf taken from scipy's ufuncs (so that a
run need not import ``scipy.stats``) are ``scipy.stats.binom``'s, bit for bit."""
import numpy as np
import pytest
from scipy import stats

from simulator.stats.binomial import binom_cdf, binom_isf, binom_pmf, binom_ppf, binomial_pmf


@pytest.mark.parametrize("n", [0, 1, 7, 250, 1999])
@pytest.mark.parametrize("p", [0.0, 1.0, 1e-4, 0.34, 0.5, 0.9999])
def test_same_as_scipy_stats(n, p):
    k = np.arange(n + 1)
    assert np.array_equal(binom_pmf(k, n, p), stats.binom.pmf(k, n, p))
    beyond = np.arange(-2, n + 3)
    assert np.array_equal(binom_cdf(beyond, n, p), stats.binom.cdf(beyond, n, p))
    assert float(binom_cdf(n // 2, n, p)) == float(stats.binom.cdf(n // 2, n, p))
    q = np.array([0.0, 1e-13, 0.1, 0.5, 0.9, 1 - 1e-13, 1.0])
    assert np.array_equal(binom_ppf(q, n, p), stats.binom.ppf(q, n, p))
    assert np.array_equal(binom_isf(q, n, p), stats.binom.isf(q, n, p))
    assert int(binom_ppf(1e-13, n, p)) == int(stats.binom.ppf(1e-13, n, p))


def test_clipped_rates_computed_once_give_the_same_rows():
    rates = np.array([0.2, 1.0, 0.7, 1.0, 0.0, 1.0, np.nan])
    counts = np.arange(30, 41)
    table = binomial_pmf(40, counts, rates)
    for row, rate in zip(table, rates):
        assert np.array_equal(row, binomial_pmf(40, counts, [rate])[0], equal_nan=True)


@pytest.mark.parametrize("n", [0, 1, 94, 1999])
@pytest.mark.parametrize("a, b", [(0.5, 0.5), (32.0, 62.0), (3.2, 1e-3), (4000.0, 7000.0)])
def test_beta_binomial_same_as_scipy_stats(n, a, b):
    from simulator.models.priors import _betabinom_pmf
    k = np.arange(n + 1)
    assert np.array_equal(_betabinom_pmf(k, n, a, b), stats.betabinom.pmf(k, n, a, b))
