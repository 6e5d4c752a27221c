"""Two-arm 2x2 tests, vectorised over tables.

A table is ``[[x_t, n_t - x_t], [x_c, n_c - x_c]]``: treatment events and non-events
in the first row, control in the second.  Every function here takes the arm sizes
``n_t`` and ``n_c`` (scalars) and arrays of event counts, and returns p-values of
the same shape.  ``sided="one"`` always means the alternative "treatment rate is
higher than control".

Conventions shared by all tests:

* A table with an empty margin (no events at all, or nothing but events) has
  p-value 1: it never rejects.
* The decision is ``p <= alpha``.
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from scipy import special

from .unconditional import maximise

TESTS = ("fisher", "z_pooled", "z_unpooled", "chi2_yates", "boschloo", "barnard")
UNCONDITIONAL = ("boschloo", "barnard")
SIDES = ("two", "one")

# Relative tolerance when deciding that two hypergeometric probabilities are
# tied in the two-sided Fisher p-value.  The probabilities are built by
# multiplying term ratios outward from the mode, so each carries a relative
# error of at most a few ulps per step (below 1e-11 for the sizes accepted);
# exact ties (e.g. equal arms) therefore fall well inside 1e-10, while distinct
# probabilities closer than that are about a thousand times rarer than at R's
# 1e-7, at which unequal arms of a few hundred already give false ties.  scipy
# uses 1e-14 on its own (boost) probabilities; decisions are checked against it.
FISHER_TIE_RTOL = 1e-10
# Boschloo's test: Fisher p-values within this relative distance count as
# equally extreme (as scipy.stats.boschloo_exact does).
BOSCHLOO_TIE_RTOL = 1e-13


def pvalues(test: str, sided: str, n_t: int, n_c: int, x_t, x_c) -> np.ndarray:
    """P-values of ``test`` for the tables with counts ``x_t`` (treatment events)
    and ``x_c`` (control events); arrays broadcast together."""
    x_t, x_c = np.broadcast_arrays(np.asarray(x_t, dtype=np.int64),
                                   np.asarray(x_c, dtype=np.int64))
    if test == "fisher":
        return _fisher(sided, n_t, n_c, x_t, x_c)
    if test == "chi2_yates":
        return _chi2_yates(sided, n_t, n_c, x_t, x_c)
    if test in ("z_pooled", "z_unpooled"):
        return _ztest(test == "z_pooled", sided, n_t, n_c, x_t, x_c)
    if test in UNCONDITIONAL:
        return unconditional_table(test, sided, int(n_t), int(n_c))[x_t, x_c]
    raise ValueError(f"`test` must be one of {', '.join(TESTS)}; got {test!r}")


def rejects(test: str, sided: str, alpha: float, n_t: int, n_c: int, x_t, x_c) -> np.ndarray:
    """Decisions ``p <= alpha`` for the tables with counts ``x_t`` and ``x_c``.
    The same as comparing :func:`pvalues`, but an unconditional test's
    supremum is refined only where the comparison could change."""
    x_t, x_c = np.broadcast_arrays(np.asarray(x_t, dtype=np.int64),
                                   np.asarray(x_c, dtype=np.int64))
    if test in UNCONDITIONAL:
        return unconditional_table(test, sided, int(n_t), int(n_c), alpha)[x_t, x_c] <= alpha
    return pvalues(test, sided, n_t, n_c, x_t, x_c) <= alpha


def pvalue_grid(test: str, sided: str, n_t: int, n_c: int,
                t_range: tuple[int, int], c_range: tuple[int, int]) -> np.ndarray:
    """P-values on the rectangle of tables ``t_lo <= x_t <= t_hi``,
    ``c_lo <= x_c <= c_hi`` (inclusive); shape ``(t_hi - t_lo + 1, c_hi - c_lo + 1)``."""
    x_t = np.arange(t_range[0], t_range[1] + 1)[:, None]
    x_c = np.arange(c_range[0], c_range[1] + 1)[None, :]
    return pvalues(test, sided, n_t, n_c, x_t, x_c)


def rejection_grid(test: str, sided: str, alpha: float, n_t: int, n_c: int,
                   t_range: tuple[int, int], c_range: tuple[int, int]) -> np.ndarray:
    """Decisions on the rectangle of tables ``t_lo <= x_t <= t_hi``,
    ``c_lo <= x_c <= c_hi`` (inclusive); shape ``(t_hi - t_lo + 1, c_hi - c_lo + 1)``."""
    x_t = np.arange(t_range[0], t_range[1] + 1)[:, None]
    x_c = np.arange(c_range[0], c_range[1] + 1)[None, :]
    return rejects(test, sided, alpha, n_t, n_c, x_t, x_c)


# An unconditional test tabulates every table of the two arm sizes: about 1 s
# at 300 per arm (90,601 tables), 7.5 s at 500 (the limit; Boschloo two-sided).
MAX_UNCONDITIONAL_TABLES = 251_001


@lru_cache(maxsize=64)
def unconditional_table(test: str, sided: str, n_t: int, n_c: int,
                        alpha: float | None = None) -> np.ndarray:
    """P-values ``p[x_t, x_c]`` of every table of Boschloo's or Barnard's
    unconditional exact test (:mod:`.unconditional`), read-only, computed
    once per process.  With ``alpha``, only ``p <= alpha`` is exact: the
    supremum is refined where that comparison could change (a decision
    table).

    * Boschloo (1970): ordered by Fisher's one-sided p-value (ties within
      ``BOSCHLOO_TIE_RTOL``); two-sided, twice the smaller of the two
      one-sided p-values (at most 1), as scipy's ``boschloo_exact``.
    * Barnard (1945), in the form of scipy's ``barnard_exact`` (pooled
      variance, also called Suissa and Shuster's z-pooled test): ordered by the
      pooled z statistic; two-sided, by its absolute value.

    A table with an empty margin gets p-value 1 as in every test here (its
    region is every table, which has probability 1 at a rate of 0 or 1)."""
    if (n_t + 1) * (n_c + 1) > MAX_UNCONDITIONAL_TABLES:
        raise ValueError(f"{test}: {n_t + 1:,} x {n_c + 1:,} tables are more than the "
                         f"{MAX_UNCONDITIONAL_TABLES:,} tabulated (about 500 per arm)")
    level = alpha
    if alpha is not None and test == "boschloo" and sided == "two":
        level = alpha / 2               # twice the smaller one-sided p-value
    x_t = np.arange(n_t + 1, dtype=np.int64)[:, None]
    x_c = np.arange(n_c + 1, dtype=np.int64)[None, :]
    x_t, x_c = np.broadcast_arrays(x_t, x_c)
    if test == "boschloo":
        higher = maximise(_fisher("one", n_t, n_c, x_t, x_c), n_t, n_c, BOSCHLOO_TIE_RTOL, level)
        if sided == "one":
            table = higher
        else:           # the other direction: the arms swapped
            lower = maximise(_fisher("one", n_c, n_t, x_c, x_t), n_t, n_c, BOSCHLOO_TIE_RTOL,
                             level)
            table = np.minimum(2.0 * np.minimum(higher, lower), 1.0)
    elif test == "barnard":
        z = z_statistic(True, n_t, n_c, x_t, x_c)
        table = maximise(-z if sided == "one" else -np.abs(z), n_t, n_c, 0.0, level)
    else:
        raise ValueError(f"not an unconditional test: {test!r}")
    table.setflags(write=False)
    return table


def _empty_margin(n_t, n_c, x_t, x_c):
    s = x_t + x_c
    return (s == 0) | (s == n_t + n_c)


def _ztest(pooled, sided, n_t, n_c, x_t, x_c):
    z = z_statistic(pooled, n_t, n_c, x_t, x_c)
    if sided == "two":
        pv = 2.0 * special.ndtr(-np.abs(z))
    else:
        pv = special.ndtr(-z)
    pv = np.minimum(pv, 1.0)
    return np.where(_empty_margin(n_t, n_c, x_t, x_c), 1.0, pv)


def z_statistic(pooled: bool, n_t, n_c, x_t, x_c) -> np.ndarray:
    """Two-proportion z statistic (treatment minus control), pooled or
    unpooled variance; 0 for a table with an empty margin, +-inf when the
    unpooled variance is 0 but the proportions differ."""
    p_t = x_t / n_t
    p_c = x_c / n_c
    diff = p_t - p_c
    if pooled:
        p = (x_t + x_c) / (n_t + n_c)
        var = p * (1 - p) * (1 / n_t + 1 / n_c)
    else:
        var = p_t * (1 - p_t) / n_t + p_c * (1 - p_c) / n_c
    with np.errstate(divide="ignore", invalid="ignore"):
        # Zero unpooled variance with a non-zero difference (every woman of one
        # arm has the event, none of the other): z is taken as its limit, +-inf.
        z = np.where(var > 0, diff / np.sqrt(np.where(var > 0, var, 1.0)),
                     np.sign(diff) * np.inf)
    return np.where(_empty_margin(n_t, n_c, x_t, x_c), 0.0, z)


def _chi2_yates(sided, n_t, n_c, x_t, x_c):
    # As scipy.stats.chi2_contingency(correction=True): every |observed -
    # expected| of a 2x2 table is the same d; Yates moves each cell by
    # min(0.5, d) towards its expectation.
    n = n_t + n_c
    s = x_t + x_c
    empty = _empty_margin(n_t, n_c, x_t, x_c)
    d = np.abs(x_t - n_t * s / n)
    d = d - np.minimum(0.5, d)
    with np.errstate(divide="ignore", invalid="ignore"):
        inv_expected = (1.0 / (n_t * s / n) + 1.0 / (n_t * (n - s) / n)
                        + 1.0 / (n_c * s / n) + 1.0 / (n_c * (n - s) / n))
        stat = np.where(empty, 0.0, d * d * inv_expected)
    pv = special.chdtrc(1, stat)
    if sided == "one":
        higher = x_t * n_c > x_c * n_t
        pv = np.where(higher, pv / 2.0, 1.0)
    return np.where(empty, 1.0, pv)


def _fisher(sided, n_t, n_c, x_t, x_c):
    """Fisher's exact test.  Given the total number of events s, x_t is
    hypergeometric; one pass per distinct s fills a lookup table ``p[s, x_t]``
    restricted to the counts present, then every table gathers its p-value."""
    n = n_t + n_c
    s_all = x_t + x_c
    if s_all.size == 0:
        return np.ones(x_t.shape)
    s_min, s_max = int(s_all.min()), int(s_all.max())
    t_min, t_max = int(x_t.min()), int(x_t.max())
    lookup = np.ones((s_max - s_min + 1, t_max - t_min + 1))
    for s in range(max(s_min, 1), min(s_max, n - 1) + 1):  # s = 0 or n: p = 1
        lo, hi = max(0, s - n_c), min(s, n_t)
        w = _hypergeometric_weights(n_t, n_c, s, lo, hi)
        total = w.sum()
        if sided == "two":
            # p(y) = P(W <= w(y)): every table at most as probable, ties included.
            # Only the non-underflowed core (contiguous: w is unimodal) is
            # sorted; a table whose w underflowed to 0 has p below 1e-300.
            core = np.flatnonzero(w)
            first, stop = core[0], core[-1] + 1
            rank = np.argsort(w[first:stop], kind="stable")
            ordered = w[first:stop][rank]
            cum = np.cumsum(ordered)
            # sorted queries: searchsorted walks them in order
            k = np.searchsorted(ordered, ordered * (1.0 + FISHER_TIE_RTOL), side="right")
            p_of_y = np.zeros_like(w)
            p_of_y[first + rank] = cum[k - 1] / total
        else:
            # P(X >= y), summed from the top so that small tails keep precision.
            p_of_y = np.cumsum(w[::-1])[::-1] / total
        a, b = max(lo, t_min), min(hi, t_max)
        if a <= b:
            lookup[s - s_min, a - t_min:b - t_min + 1] = p_of_y[a - lo:b - lo + 1]
    return np.minimum(lookup[s_all - s_min, x_t - t_min], 1.0)


def _hypergeometric_weights(n_t, n_c, s, lo, hi):
    """Probabilities of x_t = lo..hi given s events, up to a common factor:
    1 at the mode, then products of the term ratios
    w(y + 1) / w(y) = (n_t - y)(s - y) / ((y + 1)(n_c - s + y + 1)) outward.
    Relative error grows by a few ulps per step (log-factorial differences
    would lose ~1e-10 at thousands per arm).  Only a band of 45 standard
    deviations around the mode is computed: beyond it the weights underflow
    to 0 anyway (checked: if the band's edge has not underflowed, the whole
    support is computed)."""
    n = n_t + n_c
    mode = min(max((s + 1) * (n_t + 1) // (n + 2), lo), hi)
    sd = math.sqrt(n_t * n_c * s * (n - s) / (n * n * max(n - 1, 1)))
    half = int(45 * sd) + 20
    a, b = max(lo, mode - half), min(hi, mode + half)
    w = np.zeros(hi - lo + 1)
    w[a - lo:b - lo + 1] = _weights_from_mode(n_t, n_c, s, a, b, mode)
    if (a > lo and w[a - lo] > 0) or (b < hi and w[b - lo] > 0):
        w = _weights_from_mode(n_t, n_c, s, lo, hi, mode)
    return w


def _weights_from_mode(n_t, n_c, s, a, b, mode):
    y = np.arange(a, b, dtype=float)
    ratio = (n_t - y) * (s - y) / ((y + 1.0) * (n_c - s + y + 1.0))
    m = mode - a
    w = np.empty(b - a + 1)
    w[m] = 1.0
    w[m + 1:] = np.cumprod(ratio[m:])
    w[:m] = np.cumprod(1.0 / ratio[:m][::-1])[::-1]
    return w
