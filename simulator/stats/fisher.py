"""Fisher's exact test: p-values margin by margin, and decisions for every
margin at once.

Given the total number of events s (the margin), the treatment count x_t of a
2x2 table is hypergeometric.  The one-sided p-value is P(X >= x_t); the
two-sided one sums every table of the margin at most as probable as the
observed one (ties within ``FISHER_TIE_RTOL``).

Two routes, which give the same decisions:

* :func:`pvalues`, the reference: one pass per margin, every p-value.
* :func:`rejects`, for decisions ``p <= alpha`` only.  Per margin the
  rejected tables are a tail (one-sided) or two tails (two-sided: the p-value
  grows with the table's probability, which rises to the mode and falls after
  it), so two critical counts per margin decide every table
  (:func:`critical_counts`).  They are computed for all margins at once, on a
  2-D array of margins by counts: a band around each margin's mode, wide
  enough that the probability left outside is below ``BAND_MASS * alpha``.
  The weights in the band are the reference's, bit for bit (so ties are
  judged alike); the sums differ by their rounding and by what lies outside
  the band, together far below 1e-6 of alpha.  A margin with a p-value within
  ``NEAR_ALPHA`` (relative) of alpha, or with a tie reaching further back
  than ``TIE_PROBE`` entries, is decided by the reference's p-values instead,
  so that a p-value equal to alpha up to rounding is decided as the reference
  decides it.
"""
from __future__ import annotations

import math

import numpy as np

# Relative tolerance when deciding that two hypergeometric probabilities are
# tied in the two-sided Fisher p-value.  The probabilities are built by
# multiplying term ratios outward from the mode, so each carries a relative
# error of at most a few ulps per step (below 1e-11 for the sizes accepted);
# exact ties (e.g. equal arms) therefore fall well inside 1e-10, while distinct
# probabilities closer than that are about a thousand times rarer than at R's
# 1e-7, at which unequal arms of a few hundred already give false ties.  scipy
# uses 1e-14 on its own (boost) probabilities; decisions are checked against it.
FISHER_TIE_RTOL = 1e-10
# A margin's band leaves out at most this times alpha of its probability.
BAND_MASS = 1e-9
# A margin with a p-value this close to alpha (relative) is decided by the
# reference's p-values: far above the band's and the sums' errors (1e-9).
NEAR_ALPHA = 1e-6
# Levels below this (far below any trial's) are decided on the p-values.
MIN_ALPHA = 1e-100
# Entries before the end of a margin's rejected tables checked for a tie with
# the first one after it.
TIE_PROBE = 4
# Cells (margins x counts) of one block of the 2-D arrays: 1 MB each.
BLOCK_CELLS = 2 ** 17


# ------------------------------------------------------------- the reference
def pvalues(sided: str, n_t: int, n_c: int, x_t: np.ndarray, x_c: np.ndarray) -> np.ndarray:
    """P-values of the tables with counts ``x_t`` and ``x_c`` (int arrays of
    one shape).  One pass per distinct margin fills a lookup table
    ``p[s, x_t]`` restricted to the counts present, then every table gathers
    its p-value."""
    n = n_t + n_c
    s_all = x_t + x_c
    if s_all.size == 0:
        return np.ones(x_t.shape)
    s_min, s_max = int(s_all.min()), int(s_all.max())
    t_min, t_max = int(x_t.min()), int(x_t.max())
    lookup = np.ones((s_max - s_min + 1, t_max - t_min + 1))
    for s in range(max(s_min, 1), min(s_max, n - 1) + 1):  # s = 0 or n: p = 1
        lo, p_of_y = margin_pvalues(sided, n_t, n_c, s)
        hi = lo + len(p_of_y) - 1
        a, b = max(lo, t_min), min(hi, t_max)
        if a <= b:
            lookup[s - s_min, a - t_min:b - t_min + 1] = p_of_y[a - lo:b - lo + 1]
    return np.minimum(lookup[s_all - s_min, x_t - t_min], 1.0)


def margin_pvalues(sided: str, n_t: int, n_c: int, s: int) -> tuple[int, np.ndarray]:
    """(lo, p): the p-values of the margin's tables x_t = lo, lo + 1, ...,
    min(s, n_t), for 0 < s < n_t + n_c (not clipped at 1)."""
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
    return lo, p_of_y


def _mode(n_t, n_c, s, lo, hi):
    return np.minimum(np.maximum((s + 1) * (n_t + 1) // (n_t + n_c + 2), lo), hi)


def _sd(n_t, n_c, s):
    n = n_t + n_c
    return np.sqrt(n_t * n_c * s * (n - s) / (n * n * max(n - 1, 1)))


def _hypergeometric_weights(n_t, n_c, s, lo, hi):
    """Probabilities of x_t = lo..hi given s events, up to a common factor:
    1 at the mode, then products of the term ratios
    w(y + 1) / w(y) = (n_t - y)(s - y) / ((y + 1)(n_c - s + y + 1)) outward.
    Relative error grows by a few ulps per step (log-factorial differences
    would lose ~1e-10 at thousands per arm).  Only a band of 45 standard
    deviations around the mode is computed: beyond it the weights underflow
    to 0 anyway (checked: if the band's edge has not underflowed, the whole
    support is computed)."""
    mode = int(_mode(n_t, n_c, s, lo, hi))
    half = int(45 * float(_sd(n_t, n_c, s))) + 20
    a, b = max(lo, mode - half), min(hi, mode + half)
    w = np.zeros(hi - lo + 1)
    w[a - lo:b - lo + 1] = _weights_from_mode(n_t, n_c, s, a, b, mode)
    if (a > lo and w[a - lo] > 0) or (b < hi and w[b - lo] > 0):
        w = _weights_from_mode(n_t, n_c, s, lo, hi, mode)
    return w


def _ratio(n_t, n_c, s, y):
    """w(y + 1) / w(y), y float (an expression the band repeats bit for bit)."""
    return (n_t - y) * (s - y) / ((y + 1.0) * (n_c - s + y + 1.0))


def _band_ratios(n_t, n_c, s, first, columns):
    """:func:`_ratio` at y = first + j (j < ``columns``) for each margin s
    (rows), bit for bit: (n_t - y)(s - y) / ((y + 1)(n_c - s + y + 1)), both
    products exact on integers.  The four factors are read from windows of
    1-D arrays (two along y, two along x_c = s - y), not computed per cell."""
    y_lo = int(first.min())
    y = np.arange(y_lo, int(first.max()) + columns, dtype=float)
    x_first = s - first                                  # x_c at the first column (falling)
    x_hi = int(x_first.max())
    x = np.arange(x_hi, int(x_first.min()) - columns, -1, dtype=float)
    along_y, along_x = first - y_lo, x_hi - x_first
    window = np.lib.stride_tricks.sliding_window_view
    numerator = window(n_t - y, columns)[along_y]
    numerator *= window(x, columns)[along_x]
    denominator = window(y + 1.0, columns)[along_y]
    denominator *= window((n_c + 1.0) - x, columns)[along_x]
    numerator /= denominator
    return numerator


def _weights_from_mode(n_t, n_c, s, a, b, mode):
    ratio = _ratio(n_t, n_c, s, np.arange(a, b, dtype=float))
    m = mode - a
    w = np.empty(b - a + 1)
    w[m] = 1.0
    w[m + 1:] = np.cumprod(ratio[m:])
    w[:m] = np.cumprod(1.0 / ratio[:m][::-1])[::-1]
    return w


# ------------------------------------------------- decisions, every margin at once
def rejects(sided: str, alpha: float, n_t: int, n_c: int, x_t: np.ndarray,
            x_c: np.ndarray) -> np.ndarray:
    """Decisions ``p <= alpha`` for the tables with counts ``x_t`` and ``x_c``
    (int arrays of one shape), the same as comparing :func:`pvalues`."""
    if not MIN_ALPHA <= alpha < 1.0:   # nothing to gain: compare the p-values
        return pvalues(sided, n_t, n_c, x_t, x_c) <= alpha
    s = x_t + x_c
    if s.size == 0:
        return np.zeros(s.shape, dtype=bool)
    s_lo, s_hi = int(s.min()), int(s.max())
    if s.size < s_hi - s_lo + 1:        # a few tables over many margins
        margins, index = np.unique(s, return_inverse=True)
        index = index.reshape(s.shape)
    else:
        margins, index = np.arange(s_lo, s_hi + 1), s - s_lo
    low, high = critical_counts(sided, alpha, n_t, n_c, margins)
    return (x_t <= low[index]) | (x_t >= high[index])


def rejection_grid(sided: str, alpha: float, n_t: int, n_c: int, t_range: tuple[int, int],
                   c_range: tuple[int, int]) -> np.ndarray:
    """Decisions on the rectangle of tables ``t_lo <= x_t <= t_hi``,
    ``c_lo <= x_c <= c_hi``, shape ``(t_hi - t_lo + 1, c_hi - c_lo + 1)``:
    the critical counts of each margin, read along the anti-diagonals."""
    x_t = np.arange(t_range[0], t_range[1] + 1, dtype=np.int64)[:, None]
    x_c = np.arange(c_range[0], c_range[1] + 1, dtype=np.int64)[None, :]
    if not MIN_ALPHA <= alpha < 1.0:
        return rejects(sided, alpha, n_t, n_c, *np.broadcast_arrays(x_t, x_c))
    low, high = critical_counts(sided, alpha, n_t, n_c,
                                np.arange(t_range[0] + c_range[0], t_range[1] + c_range[1] + 1))
    # row i of a window view is margins t_lo + c_lo + i .. + width - 1: x_t + x_c
    width = x_c.shape[1]
    return ((x_t <= np.lib.stride_tricks.sliding_window_view(low, width))
            | (x_t >= np.lib.stride_tricks.sliding_window_view(high, width)))


def critical_counts(sided: str, alpha: float, n_t: int, n_c: int,
                    margins: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) per margin s in ``margins``: the table of margin s with
    treatment count x_t has ``p <= alpha`` exactly when ``x_t <= low`` or
    ``x_t >= high`` (one-sided, ``low`` is -1).  For ``MIN_ALPHA <= alpha < 1``."""
    margins = np.asarray(margins, dtype=np.int64)
    n = n_t + n_c
    low = np.full(margins.shape, -1, dtype=np.int64)
    high = np.full(margins.shape, n_t + 1, dtype=np.int64)   # s = 0 or n: p = 1
    inner = np.flatnonzero((margins > 0) & (margins < n))
    if inner.size == 0:
        return low, high
    # half-width of the band in standard deviations: beyond sqrt(2 log(1/eps))
    # a normal tail holds less than eps; wider (checked below) where a
    # margin's tail is heavier
    k = math.sqrt(2 * math.log(1 / (BAND_MASS * alpha)))
    half = min(int(math.ceil(k * float(_sd(n_t, n_c, margins[inner]).max()))) + 8, n_t + 1)
    rows = max(1, BLOCK_CELLS // (2 * half + 1))
    near = []
    for start in range(0, inner.size, rows):
        at = inner[start:start + rows]
        block_low, block_high, block_near = _band_critical(sided, alpha, n_t, n_c,
                                                           margins[at], half)
        low[at], high[at] = block_low, block_high
        near.extend(at[block_near])
    for i in near:                      # a p-value at alpha up to rounding: the reference's
        s = int(margins[i])
        lo, p = margin_pvalues(sided, n_t, n_c, s)
        rejected = np.minimum(p, 1.0) <= alpha
        tail = len(p) - (np.flatnonzero(~rejected)[-1] + 1 if not rejected.all() else 0)
        high[i] = lo + len(p) - tail
        if sided == "two":
            head = np.flatnonzero(~rejected)[0] if not rejected.all() else len(p)
            low[i] = lo + head - 1
    return low, high


def _band_critical(sided, alpha, n_t, n_c, s, half):
    """:func:`critical_counts` for margins ``s`` (0 < s < n), on bands of
    ``half`` counts either side of each mode (widened until the probability
    outside is below ``BAND_MASS * alpha``); also which margins have a
    p-value within ``NEAR_ALPHA`` of alpha."""
    lo, hi = np.maximum(0, s - n_c), np.minimum(s, n_t)
    mode = _mode(n_t, n_c, s, lo, hi)
    while True:
        width = 2 * half + 1
        # ratios w(y + 1) / w(y) at y = mode - half - 1 .. mode + half (one
        # beyond each edge, for the bound on what lies outside)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = _band_ratios(n_t, n_c, s, mode - half - 1, width + 1)
            w = np.empty((len(s), width))
            w[:, half] = 1.0
            np.cumprod(ratio[:, half + 1:-1], axis=1, out=w[:, half + 1:])
            # left of the mode: the reciprocals multiplied from the mode outward
            np.cumprod(np.reciprocal(ratio[:, half:0:-1]), axis=1, out=w[:, half - 1::-1])
        # beyond the support the products are 0 (the ratio at its end is 0 or
        # infinite); a margin's whole support may lie in the band
        total = w.sum(axis=1)
        # outside the band the weights fall at least geometrically, by the
        # ratio at the edge (the ratios decrease along y)
        right, left = ratio[:, -1], 1.0 / ratio[:, 0]
        with np.errstate(divide="ignore", invalid="ignore"):
            outside = (np.where(mode + half < hi, w[:, -1] * right / (1.0 - right), 0.0)
                       + np.where(mode - half > lo, w[:, 0] * left / (1.0 - left), 0.0))
        if half > n_t or np.all(outside <= BAND_MASS * alpha * total):
            break
        half = min(half + half // 2, n_t + 1)
    bound = alpha * total
    rows = np.arange(len(s))
    if sided == "one":
        tail = np.cumsum(w[:, ::-1], axis=1)                 # P(X >= y) times total, from the top
        count = (tail <= bound[:, None]).sum(axis=1)         # a tail: the last columns
        high = mode + half + 1 - count
        low = np.full(len(s), -1, dtype=np.int64)
        long_tie = np.zeros(len(s), dtype=bool)
        edge = np.clip(count, 1, width - 1)
    else:
        ordered = np.sort(w, axis=1, kind="stable")           # two sorted runs: fast
        tail = np.cumsum(ordered, axis=1)                    # p times total, ascending
        count = (tail <= bound[:, None]).sum(axis=1)         # a prefix of the sorted order
        # Ties: an entry's p-value sums on to the last entry within
        # FISHER_TIE_RTOL above it, so an entry just before the prefix's end
        # that ties with the first entry after it is not rejected.  The last
        # TIE_PROBE entries of the prefix are checked; a tie reaching further
        # back (never seen: exact ties come in pairs) is left to the reference.
        after = ordered[rows, np.minimum(count, width - 1)][:, None]
        probe = count[:, None] + np.arange(-TIE_PROBE, 0)[None, :]
        before = ordered[rows[:, None], np.maximum(probe, 0)]
        tied = (probe >= 0) & (before > 0) & (after <= before * (1.0 + FISHER_TIE_RTOL))
        tied &= (count < width)[:, None]
        long_tie = tied[:, 0]
        # (tied entries' p-values are at least the first one's after the prefix)
        edge = np.clip(count, 1, width - 1)
        count = count - tied.sum(axis=1)
        # the rejected tables: those at most as probable as the last one rejected
        largest = np.where(count > 0, ordered[rows, np.maximum(count - 1, 0)], -1.0)[:, None]
        low = mode - half - 1 + (w[:, :half] <= largest).sum(axis=1)
        high = mode + half + 1 - (w[:, half + 1:] <= largest).sum(axis=1)
        everything = count == width                          # the mode too: every table
        low, high = np.where(everything, hi, low), np.where(everything, lo, high)
    # the p-values either side of alpha (the last rejected, the first not)
    near = ((np.abs(tail[rows, edge - 1] - bound) <= NEAR_ALPHA * bound)
            | (np.abs(tail[rows, edge] - bound) <= NEAR_ALPHA * bound) | long_tie)
    return low, high, near
