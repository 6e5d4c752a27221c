"""Unconditional exact p-values of every 2x2 table of two arm sizes at once.

Given an ordering of the tables (a key per table, smaller = more extreme),
the p-value of a table x is the largest, over the common rate pi of both arms
(the nuisance parameter), of the probability of the tables at least as
extreme:

    p(x) = sup_pi f_x(pi),   f_x(pi) = sum_{y: key(y) <= key(x)} Bin(y_t; n_t, pi) Bin(y_c; n_c, pi).

Boschloo's test orders by Fisher's one-sided p-value, Barnard's by the
pooled z (score) statistic; :mod:`.analysis` builds the keys.

The supremum, in two steps:

1. a grid of rates (0 and 1 included, spaced at most a quarter of the
   binomial standard deviation at a rate of one half), where every table's
   f is evaluated at once: the tables sorted by key, one cumulative sum per
   rate;
2. from every grid peak that could hold the supremum (its value, raised by
   what the curvature there allows between grid rates, reaches the table's
   best grid value), safeguarded Newton steps on f'(pi) = 0 within the two
   grid cells around it, every table at its own rate.  A table's region is,
   in each row of treatment counts, a run of the smallest and a run of the
   largest control counts (a row's keys rise, then fall), so f and its first
   two derivatives are sums over rows of binomial tail sums, at a cost of
   one row per table and rate.  Where rounding of a few ulps makes a row
   misread (f at the start differs from the grid's), the table is refined
   by bisection through the sorted tables instead.

The result is the largest f found at any rate evaluated, a lower bound of
the supremum that converges quadratically (tests compare with a dense grid
of rates and with scipy).  Tables whose f is within ``SETTLED`` of 0 or 1 at
the grid are not refined, and with ``level`` only the tables whose p-value
could cross it.
"""
from __future__ import annotations

import math

import numpy as np
from .binomial import binomial_pmf

NEWTON_STEPS = 12          # at most, per table and start
CONVERGED = 1e-10           # a step this small ends a table's Newton iteration
EDGE = 1e-12                # rates kept this far inside (0, 1)
SETTLED = 1e-12             # grid values this close to 0 or 1 are final
CHUNK_ENTRIES = 2 ** 22     # rates x tables (grid) or tables x counts (Newton) at once


def _pmf(n: int, rates: np.ndarray) -> np.ndarray:
    """Bin(x; n, rate) for x = 0..n, one row per rate (0 and 1 exact)."""
    return binomial_pmf(n, np.arange(n + 1), rates)


def grid_of(n_t: int, n_c: int) -> np.ndarray:
    """Rates 0..1 at most a quarter of the pooled proportion's standard
    deviation at one half apart (129 at least)."""
    sd = 0.5 / math.sqrt(n_t + n_c)
    points = max(129, int(math.ceil(4.0 / sd)) + 1)
    return np.linspace(0.0, 1.0, points)


def maximise(key: np.ndarray, n_t: int, n_c: int, tie_rtol: float = 0.0,
             level: float | None = None) -> np.ndarray:
    """P-values ``p[x_t, x_c]`` from ``key[x_t, x_c]`` (shape (n_t + 1, n_c + 1)):
    the tables with ``key <= key(x) * (1 + tie_rtol)`` (keys >= 0 when
    ``tie_rtol`` is not 0) count as at least as extreme as x.

    ``level``: only the comparison ``p <= level`` is wanted, so only the
    tables whose grid value is at most ``level`` and could reach it between
    grid rates are refined; elsewhere p is the grid value (above ``level``
    already, or below it by more than the curvature allows)."""
    flat = key.ravel()
    bound = flat * (1.0 + tie_rtol) if tie_rtol else flat

    # 1. the grid, every table at each rate, in blocks of rates (each block
    # with one rate of overlap either side, to tell its peaks)
    order = np.argsort(flat, kind="stable")
    end = np.searchsorted(flat[order], bound, side="right") - 1     # x's region: order[:end + 1]
    x_t, x_c = np.divmod(order, n_c + 1)
    grid = grid_of(n_t, n_c)
    best = np.zeros(flat.size)
    peaks = []          # (rate index, table, value, reach) of every grid peak
    step = max(3, CHUNK_ENTRIES // flat.size)
    for first in range(0, grid.size, step - 2):
        index = np.arange(max(first - 1, 0), min(first + step - 1, grid.size))
        rates = grid[index]
        prob = _pmf(n_t, rates)[:, x_t] * _pmf(n_c, rates)[:, x_c]
        values = np.cumsum(prob, axis=1)[:, end]
        best = np.maximum(best, values.max(axis=0))
        padded = np.pad(values, ((1, 1), (0, 0)), constant_values=-1.0)
        left, right = padded[:-2], padded[2:]
        # interior rows only: the block's edge rows are judged in the next block
        inner = np.zeros(len(index), dtype=bool)
        inner[(index >= first) & (index < first + step - 2)] = True
        peak = (values >= left) & (values >= right) & inner[:, None]
        # between grid rates a peak rises above its grid value by at most an
        # eighth of the curvature there: 8 times that is allowed for
        rows, tables = np.nonzero(peak)
        value = values[rows, tables]
        reach = 2.0 * value + value - np.maximum(left[rows, tables], 0) \
            - np.maximum(right[rows, tables], 0)
        keep = reach >= best[tables]
        peaks.append((index[rows[keep]], tables[keep], value[keep], reach[keep]))
        if first + step - 2 >= grid.size:
            break
    rate_index, tables, value, reach = (np.concatenate(part) for part in zip(*peaks))

    # 2. Newton from every grid peak that may lie next to the supremum
    todo = (best > SETTLED) & (best < 1.0 - SETTLED)
    if level is not None:
        top_reach = np.zeros(flat.size)
        np.maximum.at(top_reach, tables, reach)
        todo &= (best <= level) & (top_reach >= level)
    start = (reach >= best[tables]) & todo[tables]
    if start.any():
        found = _refine(key, bound, tables[start], grid[rate_index[start]], value[start],
                        grid[1] - grid[0], n_t, n_c, (x_t, x_c, end))
        np.maximum.at(best, tables[start], found)
    return np.minimum(best, 1.0).reshape(key.shape)


def _refine(key, bound, tables, start, grid_value, h, n_t, n_c, sorted_tables):
    """The largest f found by Newton from each (table, start rate) pair
    (``grid_value``: f there)."""
    found = np.empty(tables.size)
    chunk = max(1, CHUNK_ENTRIES // (n_t + n_c + 2))
    for i in range(0, tables.size, chunk):
        sel = slice(i, i + chunk)
        low, high = _row_runs(key, bound[tables[sel]])
        # the runs must give the grid's value at the start (else a tie of a
        # few ulps across the bound was misread: those go through the sorted
        # tables instead)
        value = _region_sum(start[sel], low, high, n_t, n_c)
        same = np.abs(value - grid_value[sel]) <= 1e-13
        out = np.empty(same.size)
        out[same] = _newton(start[sel][same], grid_value[sel][same], h, low[same], high[same],
                            n_t, n_c)
        out[~same] = _bisect(tables[sel][~same], start[sel][~same], grid_value[sel][~same], h,
                             n_t, n_c, *sorted_tables)
        found[sel] = out
    return found


def _sorted_sum(rates, tables, n_t, n_c, x_t, x_c, end):
    """f of each table at its rate, through the tables sorted by key."""
    out = np.empty(tables.size)
    for rate in np.unique(rates):
        pick = rates == rate
        prob = _pmf(n_t, np.array([rate]))[0, x_t] * _pmf(n_c, np.array([rate]))[0, x_c]
        out[pick] = np.cumsum(prob)[end[tables[pick]]]
    return out


def _bisect(tables, at, best, h, n_t, n_c, x_t, x_c, end, rounds=30):
    """Tables whose region the row runs misread: rates half a step either
    side of the best, halving the step each round, through the sorted tables."""
    at, best = at.copy(), best.copy()
    for _ in range(rounds):
        h /= 2
        for sign in (-1.0, 1.0):
            rate = np.clip(at + sign * h, 0.0, 1.0)
            value = _sorted_sum(rate, tables, n_t, n_c, x_t, x_c, end)
            move = value > best
            best = np.where(move, value, best)
            at = np.where(move, rate, at)
    return best


def _row_runs(key: np.ndarray, bounds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each bound and each row x_t: how many of the row's smallest control
    counts (``low``) and of its largest (``high``) have key <= bound; shape
    (bounds, rows).  A row's keys rise to their maximum and fall after it,
    up to rounding (a few ulps: those are smoothed here, and a table whose
    region this misreads is found by :func:`maximise`'s check)."""
    rows, cols = key.shape
    peak = key.argmax(axis=1)
    low = np.empty((bounds.size, rows), dtype=np.int32)
    high = np.empty((bounds.size, rows), dtype=np.int32)
    for r in range(rows):
        rising = np.maximum.accumulate(key[r, :peak[r] + 1])
        falling = np.maximum.accumulate(key[r, peak[r] + 1:][::-1])
        low[:, r] = np.searchsorted(rising, bounds, side="right")
        high[:, r] = np.searchsorted(falling, bounds, side="right")
    return low, high


def _region_sum(rate, low, high, n_t, n_c):
    """f at one rate per table, from the row runs."""
    bt, bc = _pmf(n_t, rate), _pmf(n_c, rate)
    prefix = np.zeros((bc.shape[0], n_c + 2))
    np.cumsum(bc, axis=1, out=prefix[:, 1:])
    tables = np.arange(rate.size)[:, None]
    c0 = prefix[tables, low] + prefix[:, -1:] - prefix[tables, n_c + 1 - high]
    return np.sum(bt * c0, axis=1)


def _newton(start, best, h, low, high, n_t, n_c):
    """Safeguarded Newton steps on f' = 0 for each table at its own rate,
    kept within [start - h, start + h] and (0, 1), until the step is below
    ``CONVERGED`` (or ``NEWTON_STEPS``); returns the largest f seen (with
    ``best``)."""
    best = best.copy()
    lo, hi = np.clip(start - h, 0.0, 1.0), np.clip(start + h, 0.0, 1.0)
    rate = np.clip(start, EDGE, 1.0 - EDGE)
    active = np.arange(start.size)
    for _ in range(NEWTON_STEPS):
        r = rate[active]
        m0, first, second = _moments(r, low[active], high[active], n_t, n_c)
        best[active] = np.maximum(best[active], m0)
        # Newton where f is concave and the step stays inside, else half-way
        # to the bracket's end uphill
        newton = r - first / np.where(second < 0, second, -1.0)
        a, b = lo[active], hi[active]
        uphill = np.where(first > 0, (r + b) / 2, (r + a) / 2)
        proposal = np.where((second < 0) & (newton > a) & (newton < b), newton, uphill)
        lo[active] = np.where(first > 0, np.maximum(a, r), a)
        hi[active] = np.where(first < 0, np.minimum(b, r), b)
        rate[active] = np.clip(proposal, EDGE, 1.0 - EDGE)
        active = active[np.abs(proposal - r) > CONVERGED]
        if active.size == 0:
            break
    return np.maximum(best, _region_sum(rate, low, high, n_t, n_c))


def _moments(rate, low, high, n_t, n_c):
    """f, f' and f'' at one rate per table: with d = s - N pi (s events in
    all, N women) and u = pi (1 - pi), f' = sum b d / u and
    f'' = sum b (d^2 - (1 - 2 pi) d) / u^2 - N f / u, the sums over the
    region, each a sum over rows of control tail sums weighted by 1, e_c and
    e_c^2 (e = x - n pi per arm, d = e_t + e_c)."""
    r = rate[:, None]
    bt, bc = _pmf(n_t, rate), _pmf(n_c, rate)
    et, ec = np.arange(n_t + 1) - n_t * r, np.arange(n_c + 1) - n_c * r
    tables = np.arange(rate.size)[:, None]
    c = []
    for weight in (bc, bc * ec, bc * ec * ec):
        prefix = np.zeros((rate.size, n_c + 2))
        np.cumsum(weight, axis=1, out=prefix[:, 1:])
        c.append(prefix[tables, low] + prefix[:, -1:] - prefix[tables, n_c + 1 - high])
    c0, c1, c2 = c
    m0 = np.sum(bt * c0, axis=1)
    m1 = np.sum(bt * (et * c0 + c1), axis=1)
    m2 = np.sum(bt * (et * et * c0 + 2.0 * et * c1 + c2), axis=1)
    u = rate * (1.0 - rate)
    return m0, m1 / u, (m2 - (1.0 - 2.0 * rate) * m1) / (u * u) - (n_t + n_c) * m0 / u
