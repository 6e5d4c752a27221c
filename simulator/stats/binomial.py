"""Binomial counts of simulated trials whose true rate varies from trial to
trial (drawn from a prior), by inversion of each trial's own uniform: the
smallest x with P(X <= x) > u.  Inversion keeps a trial's uniform at every
size, so the counts at neighbouring sizes are coupled (common random numbers).

The exact inversion (:func:`binomial_quantile`) costs a few evaluations of the
binomial CDF per trial.  :class:`RateGrid` makes most trials cost two table
look-ups instead: the binomial CDF is tabulated once per size at a grid of
rates (quantiles of the prior), and since P(X <= x) falls as the rate rises, a
trial whose rate lies between two grid rates p_j <= p < p_j+1 has count k
whenever P(X <= k - 1 | p_j) <= u < P(X <= k | p_j+1).  The few trials for
which the grid cannot decide (a rate outside it, a guess k that is off, or a
uniform within 1e-12 of a tabulated value) are inverted exactly.  The result
is identical to :func:`binomial_quantile` for every trial.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import special
from scipy.special import _ufuncs

GRID_CELLS = 1024           # the grid: 1,025 quantiles of 32,768 pilot draws of the rate
MAX_TABLE_ENTRIES = 2 ** 19  # 4 MB a table: larger arms use every 2nd, 4th, ... grid rate
TABLES_CACHED = 64           # so at most 256 MB of tables per process
DECISION_MARGIN = 1e-12      # uniforms this close to a tabulated CDF value are inverted exactly


def _log_pmf(n: int, k: np.ndarray, p: np.ndarray) -> np.ndarray:
    """log P(X = k) for X ~ Binomial(n, p), elementwise (rates of 0 and 1 exact)."""
    return (special.gammaln(n + 1.0) - special.gammaln(k + 1.0) - special.gammaln(n - k + 1.0)
            + special.xlogy(k, p) + special.xlog1py(n - k, -p))


def binomial_pmf(n: int, counts: np.ndarray, rates: np.ndarray) -> np.ndarray:
    """Binomial(n, rate) probabilities, shape ``(len(rates), len(counts))``.

    The same numbers as ``exp(_log_pmf(...))`` on the outer grid, bit for
    bit, with the logarithms taken once per rate rather than per cell:
    ``xlogy(k, p)`` is ``k * log(p)`` (0 at k = 0), and with 0 < p < 1 that
    product is the same whether log(p) is taken inside or outside."""
    k = np.asarray(counts, dtype=float)[None, :]
    p = np.asarray(rates, dtype=float)[:, None]
    with np.errstate(invalid="ignore"):
        log = (special.gammaln(n + 1.0) - special.gammaln(k + 1.0)
               - special.gammaln(n - k + 1.0) + k * special.xlogy(1.0, p))
        log += (n - k) * special.xlog1py(1.0, -p)
    edge = ~((p[:, 0] > 0.0) & (p[:, 0] < 1.0))     # rates of 0 or 1 (or nan): per cell
    if edge.any():
        # (rates clipped at 1 come many at once: each distinct one computed once)
        rates, where = np.unique(p[edge, 0], return_inverse=True)
        log[edge] = _log_pmf(n, k, rates[:, None])[where.reshape(-1)]
    return np.exp(log, out=log)


def binom_pmf(k, n, p):
    """``scipy.stats.binom.pmf(k, n, p)`` for counts 0 <= k <= n and
    0 <= p <= 1: the same numbers (scipy's own ufunc, clipped to [0, 1] as
    scipy does), without its argument checks or importing ``scipy.stats``
    (most of a second)."""
    return np.clip(_ufuncs._binom_pmf(k, n, p), 0, 1)


def binom_cdf(k, n, p):
    """``scipy.stats.binom.cdf(k, n, p)`` for whole k and 0 <= p <= 1 (1 from
    k = n on and 0 below 0, as scipy has it)."""
    k = np.asarray(k)
    inner = np.clip(_ufuncs._binom_cdf(np.floor(k), n, p), 0, 1)
    return np.where(k >= n, 1.0, np.where(k < 0, 0.0, inner))


def binom_ppf(q, n, p):
    """``scipy.stats.binom.ppf(q, n, p)`` for 0 <= q <= 1 and 0 <= p <= 1
    (-1 at q = 0 and n at q = 1, as scipy has it)."""
    q = np.asarray(q, dtype=float)
    inner = _ufuncs._binom_ppf(q, n, p)
    return np.where(q == 0, -1.0, np.where(q == 1, float(n), inner))


def binom_isf(q, n, p):
    """``scipy.stats.binom.isf(q, n, p)`` for 0 <= q <= 1 and 0 <= p <= 1
    (n at q = 0 and -1 at q = 1, as scipy has it)."""
    q = np.asarray(q, dtype=float)
    inner = _ufuncs._binom_isf(q, n, p)
    return np.where(q == 1, -1.0, np.where(q == 0, float(n), inner))


def _normal_scores(u: np.ndarray) -> np.ndarray:
    return special.ndtri(np.clip(u, 1e-300, 1.0 - 1e-16))


def _first_guess(n: int, p: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Cornish-Fisher guess of the Binomial(n, p) quantile at normal score z
    (right for about 99.6% of trials; the callers correct the rest)."""
    guess = n * p + np.sqrt(n * p * (1.0 - p)) * z + (1.0 - 2.0 * p) * (z * z - 1.0) / 6.0 - 0.5
    return np.clip(np.ceil(guess), 0, n)


def binomial_quantile(u: np.ndarray, n: int, p: np.ndarray) -> np.ndarray:
    """Binomial(n, p) quantiles of uniforms u, with a rate per element: for
    each, the smallest x with P(X <= x) > u.

    A normal (Cornish-Fisher) guess k, one evaluation of the CDF there with
    scipy's ``bdtr``, then steps of one probability mass until
    P(X <= k - 1) <= u < P(X <= k); vectorised, no loop over trials.
    """
    u = np.asarray(u, dtype=float)
    p = np.broadcast_to(np.asarray(p, dtype=float), u.shape)
    k = _first_guess(n, p, _normal_scores(u))
    cdf = special.bdtr(k, n, p)
    # up: while P(X <= k) <= u, k += 1 (P(X <= n) = 1 > u ends it)
    idx = np.flatnonzero(cdf <= u)
    while idx.size:
        k[idx] += 1
        cdf[idx] += np.exp(_log_pmf(n, k[idx], p[idx]))
        idx = idx[(cdf[idx] <= u[idx]) & (k[idx] < n)]
    # down: while k > 0 and P(X <= k - 1) = P(X <= k) - P(X = k) > u, k -= 1
    idx = np.flatnonzero(k > 0)
    while idx.size:
        below = cdf[idx] - np.exp(_log_pmf(n, k[idx], p[idx]))
        step = below > u[idx]
        idx = idx[step]
        k[idx] -= 1
        cdf[idx] = below[step]
        idx = idx[k[idx] > 0]
    return k.astype(np.int64)


def grid_of(pilot: np.ndarray) -> tuple:
    """Grid rates: ``GRID_CELLS + 1`` quantiles of pilot draws of the arm's rate
    (non-decreasing; equal neighbours make empty cells, which is harmless)."""
    return tuple(np.quantile(pilot, np.linspace(0.0, 1.0, GRID_CELLS + 1)))


@lru_cache(maxsize=TABLES_CACHED)
def _cdf_table(grid: tuple, n: int) -> np.ndarray:
    """P(X <= x) for X ~ Binomial(n, rate) at each grid rate: shape
    ``(len(grid) * (n + 1),)``, row by row."""
    pmf = binomial_pmf(n, np.arange(n + 1), np.array(grid))
    return np.cumsum(pmf, axis=1).ravel()


@dataclass(frozen=True)
class RateGrid:
    """Rates of one arm in one chunk of trials, prepared for fast inversion at
    any size."""
    u: np.ndarray           # the trials' count uniforms
    rate: np.ndarray        # their true rates
    z: np.ndarray           # standard normal quantiles of u (for the first guess)
    grid: tuple             # grid rates, increasing
    cell: np.ndarray        # index j with grid[j] <= rate < grid[j + 1]; -1 if outside

    @classmethod
    def build(cls, u: np.ndarray, rate: np.ndarray, grid: tuple) -> "RateGrid":
        cell = np.searchsorted(np.array(grid), rate, side="right") - 1
        cell[(cell < 0) | (cell >= GRID_CELLS)] = -1
        return cls(u, rate, _normal_scores(u), grid, cell)

    def counts(self, n: int) -> np.ndarray:
        u, p = self.u, self.rate
        # a coarser grid (every 2nd, 4th, ... rate) keeps the table within
        # MAX_TABLE_ENTRIES; a trial's coarse cell is its fine cell >> shift
        shift = 0
        while ((GRID_CELLS >> shift) + 1) * (n + 1) > MAX_TABLE_ENTRIES and shift < 10:
            shift += 1
        if (GRID_CELLS >> shift) < 2:
            return binomial_quantile(u, n, p)
        table = _cdf_table(self.grid[::1 << shift], n)
        k = _first_guess(n, p, self.z).astype(np.int64)
        row = (np.maximum(self.cell, 0) >> shift) * (n + 1)
        lower = (k == 0) | (table[row + np.maximum(k - 1, 0)] <= u - DECISION_MARGIN)
        upper = table[row + (n + 1) + k] > u + DECISION_MARGIN
        undecided = np.flatnonzero(~(lower & upper) | (self.cell < 0))
        if undecided.size:
            k[undecided] = binomial_quantile(u[undecided], n, p[undecided])
        return k
