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

Fisher's test is in :mod:`.fisher` (its decisions are computed from critical
counts per margin, without every p-value).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import special

from . import fisher
from .unconditional import maximise

TESTS = ("fisher", "z_pooled", "z_unpooled", "chi2_yates", "boschloo", "barnard")
UNCONDITIONAL = ("boschloo", "barnard")
SIDES = ("two", "one")

# Boschloo's test: Fisher p-values within this relative distance count as
# equally extreme (as scipy.stats.boschloo_exact does).
BOSCHLOO_TIE_RTOL = 1e-13


def pvalues(test: str, sided: str, n_t: int, n_c: int, x_t, x_c) -> np.ndarray:
    """P-values of ``test`` for the tables with counts ``x_t`` (treatment events)
    and ``x_c`` (control events); arrays broadcast together."""
    x_t, x_c = np.broadcast_arrays(np.asarray(x_t, dtype=np.int64),
                                   np.asarray(x_c, dtype=np.int64))
    if test == "fisher":
        return fisher.pvalues(sided, n_t, n_c, x_t, x_c)
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
    if test == "fisher":                # critical counts per margin, not every p-value
        return fisher.rejects(sided, alpha, int(n_t), int(n_c), x_t, x_c)
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
    if test == "fisher":
        return fisher.rejection_grid(sided, alpha, int(n_t), int(n_c), t_range, c_range)
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
        higher = maximise(fisher.pvalues("one", n_t, n_c, x_t, x_c), n_t, n_c,
                          BOSCHLOO_TIE_RTOL, level)
        if sided == "one":
            table = higher
        else:           # the other direction: the arms swapped
            lower = maximise(fisher.pvalues("one", n_c, n_t, x_c, x_t), n_t, n_c,
                             BOSCHLOO_TIE_RTOL, level)
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
