"""Smallest control-arm size whose power reaches the target.

The search is engine-agnostic: it calls ``power_at(sizes) -> (power, se)`` on
batches of control-arm sizes.  With Monte Carlo the curve is a deterministic
function of the seed (common random numbers), so bisection is well defined.

1. Bisection on [smallest size, bound] for "power >= target", treating power as
   increasing; it lands on some size that reaches the target.
2. Power of a discrete test is a saw-tooth in n, so the whole neighbourhood is
   then evaluated, one size at a time, in a window extended until it holds
   ``guard`` consecutive sizes below the first crossing that all miss the
   target (even by their upper Monte Carlo bound), and ``guard`` consecutive
   sizes above the stable size that all reach it (even by their lower bound),
   where guard = max(10, 5% of the size).
3. Answers read off that window:
   * ``first``: the smallest size with power >= target;
   * ``stable``: the smallest size from which power stays >= target up to
     ``guard`` sizes beyond it;
   * Monte Carlo interval around ``first``: from the first size whose upper
     95% bound (power + 1.96 se) reaches the target to the first whose lower
     bound does.  For exact power it is ``first`` itself.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .errors import NoSolutionError

Z95 = 1.959963984540054


@dataclass(frozen=True)
class SearchOutcome:
    first: int
    stable: int
    interval: tuple[int, int]
    sizes: np.ndarray   # contiguous control-arm sizes evaluated around the answer
    power: np.ndarray
    se: np.ndarray


def guard_width(m: int) -> int:
    return max(10, math.ceil(0.05 * m))


def find_sample_size(power_at: Callable, target: float, smallest: int, bound: int,
                     guess: int | None = None) -> SearchOutcome:
    """``guess`` (optional) is tried first as the upper end of the bisection, so
    that the bound, often far larger, need not be evaluated."""
    cache: dict[int, tuple[float, float]] = {}

    def evaluate(sizes):
        todo = [m for m in sizes if m not in cache]
        if todo:
            p, s = power_at(todo)
            cache.update({m: (float(a), float(b)) for m, a, b in zip(todo, p, s)})
        return [cache[m] for m in sizes]

    lo, hi = smallest - 1, bound        # power(hi) >= target; lo below or outside
    if guess is not None and smallest <= guess < bound:
        (p_guess, _), = evaluate([guess])
        if p_guess >= target:
            hi = guess
        else:
            lo = guess
    if hi == bound:
        (p_bound, _), = evaluate([bound])
        if p_bound < target:
            raise NoSolutionError(
                f"= {bound:,} gives power {p_bound:.4f}, below the target {target:g}; "
                "raise the bound", field="sample_size.max_control")
    while hi - lo > 1:
        mid = (lo + hi) // 2
        (p, _), = evaluate([mid])
        if p >= target:
            hi = mid
        else:
            lo = mid

    guard = guard_width(hi)
    low, high = max(smallest, hi - guard), min(bound, hi + guard)
    while True:
        sizes = np.arange(low, high + 1)
        power, se = map(np.array, zip(*evaluate(sizes.tolist())))
        upper, lower = power + Z95 * se, power - Z95 * se
        reach = np.flatnonzero(upper >= target)
        first_i = int(reach[0])
        # enough misses below the first upper-bound crossing?
        need_down = low > smallest and first_i < guard
        # stable: after the last size whose lower bound misses, guard reaching sizes
        miss = np.flatnonzero(lower < target)
        stable_i = int(miss[-1]) + 1 if miss.size else 0
        need_up = high < bound and len(sizes) - stable_i < guard + 1
        if not (need_down or need_up):
            break
        if need_down:
            low = max(smallest, low - guard)
        if need_up:
            high = min(bound, high + guard)

    first = int(sizes[np.flatnonzero(power >= target)[0]])
    misses = np.flatnonzero(power < target)
    stable = int(sizes[misses[-1] + 1]) if misses.size else int(sizes[0])
    reach_lower = np.flatnonzero(lower >= target)
    interval = (int(sizes[first_i]), int(sizes[reach_lower[0]]))
    return SearchOutcome(first, stable, interval, sizes, power, se)


def normal_approximation(rate_treatment: float, rate_control: float, allocation: float,
                         alpha: float, sided: str, target: float) -> float:
    """Control-arm size (not rounded) of the two-proportion z test by the usual
    normal approximation, pooled variance under H0 and unpooled under H1
    (Fleiss 1981 without continuity correction; rpact and statsmodels'
    ``samplesize_proportions_2indep_onetail`` use the same formula)."""
    from scipy.stats import norm
    r = allocation
    d = abs(rate_treatment - rate_control)
    z_a = norm.isf(alpha / 2 if sided == "two" else alpha)
    z_b = norm.ppf(target)
    p_bar = (rate_control + r * rate_treatment) / (1 + r)
    null_sd = math.sqrt(p_bar * (1 - p_bar) * (1 + 1 / r))
    alt_sd = math.sqrt(rate_treatment * (1 - rate_treatment) / r
                       + rate_control * (1 - rate_control))
    return ((z_a * null_sd + z_b * alt_sd) / d) ** 2
