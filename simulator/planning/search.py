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
   where guard = 5% of the size, within [10, 50].
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

from ..stats.boundaries import critical_z
from ..errors import NoSolutionError

Z95 = 1.959963984540054
# A size reaches the target when its power (or assurance) is at least the
# target plus this: exact values are computed to about 1e-12, so a value within
# rounding of the target (a prior whose assurance creeps up to it) never counts.
REACH_TOLERANCE = 1e-10
# The window of sizes checked around an answer grows until the saw-tooth has
# settled, but never beyond this many sizes (a curve that hovers at its target
# for thousands of sizes is reported as not settling, not searched for minutes).
MAX_WINDOW = 2000


@dataclass(frozen=True)
class SearchOutcome:
    first: int
    stable: int | None                  # None: the target is missed again at the bound
    interval: tuple[int, int | None]    # None: not reached by the lower bound up to the bound
    sizes: np.ndarray   # contiguous control-arm sizes evaluated around the answer
    power: np.ndarray
    se: np.ndarray


def guard_width(m: int) -> int:
    """How many sizes beyond an answer are checked: 5% of it, within [10, 50]
    (a saw-tooth's period is a few sizes; its teeth shrink as n grows)."""
    return max(10, min(50, math.ceil(0.05 * m)))


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
        return np.array([cache[m] for m in sizes]).reshape(-1, 2).T

    target = target + REACH_TOLERANCE   # (see REACH_TOLERANCE)
    lo, hi = smallest - 1, None         # power(hi) >= target; lo misses or is outside
    if guess is not None and smallest <= guess < bound:
        if evaluate([guess])[0, 0] >= target:
            hi = guess
        else:
            lo = guess
    if hi is None:
        hi = _reaching_near_bound(evaluate, target, lo, bound)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if evaluate([mid])[0, 0] >= target:
            hi = mid
        else:
            lo = mid

    guard = guard_width(hi)
    low, high = max(smallest, hi - guard), min(bound, hi + guard)
    while True:
        sizes = np.arange(low, high + 1)
        power, se = evaluate(sizes.tolist())
        upper, lower = power + Z95 * se, power - Z95 * se
        first_i = int(np.flatnonzero(upper >= target)[0])
        # enough sizes below the first upper-bound crossing, all missing?
        need_down = low > smallest and first_i < guard
        # enough sizes after the last lower-bound miss, all reaching?
        miss = np.flatnonzero(lower < target)
        stable_i = int(miss[-1]) + 1 if miss.size else 0
        need_up = high < bound and len(sizes) - stable_i < guard + 1
        if not (need_down or need_up) or len(sizes) >= MAX_WINDOW:
            unsettled = need_up         # capped before power settled above the target
            break
        if need_down:
            low = max(smallest, low - guard)
        if need_up:
            high = min(bound, high + guard)

    first = int(sizes[np.flatnonzero(power >= target)[0]])
    misses = np.flatnonzero(power < target)
    if not misses.size:
        stable = int(sizes[0])
    elif misses[-1] + 1 < len(sizes) and not unsettled:
        stable = int(sizes[misses[-1] + 1])
    else:
        stable = None                   # the last size checked misses the target
    reach_lower = np.flatnonzero(lower >= target)
    interval = (int(sizes[first_i]), int(sizes[reach_lower[0]]) if reach_lower.size else None)
    return SearchOutcome(first, stable, interval, sizes, power, se)


def _reaching_near_bound(evaluate, target: float, lo: int, bound: int) -> int:
    """A size in (lo, bound] whose power reaches the target.  The bound first;
    as power is a saw-tooth, a bound that misses may still have sizes just below
    it that reach, so the last ``2 * guard`` sizes are tried before giving up."""
    if evaluate([bound])[0, 0] >= target:
        return bound
    tail = np.arange(max(lo + 1, bound - 2 * guard_width(bound)), bound + 1)
    power = evaluate(tail.tolist())[0]
    if (power >= target).any():
        return int(tail[np.flatnonzero(power >= target)[-1]])
    raise NoSolutionError(
        f"= {bound:,} gives power {power[-1]:.4f}, below the target "
        f"{target - REACH_TOLERANCE:g}"
        + (f" (as do the {len(tail) - 1} sizes below it)" if len(tail) > 1 else "")
        + "; raise the bound",
        field="sample_size.max_control")


def normal_approximation(rate_treatment: float, rate_control: float, allocation: float,
                         alpha: float, sided: str, target: float) -> float:
    """Control-arm size (not rounded) of the two-proportion z test by the usual
    normal approximation, pooled variance under H0 and unpooled under H1
    (Fleiss 1981 without continuity correction; rpact and statsmodels'
    ``samplesize_proportions_2indep_onetail`` use the same formula)."""
    from scipy.special import ndtri     # scipy.stats.norm.ppf, without importing scipy.stats
    r = allocation
    d = abs(rate_treatment - rate_control)
    z_a = critical_z(alpha, sided)
    z_b = ndtri(target)
    p_bar = (rate_control + r * rate_treatment) / (1 + r)
    null_sd = math.sqrt(p_bar * (1 - p_bar) * (1 + 1 / r))
    alt_sd = math.sqrt(rate_treatment * (1 - rate_treatment) / r
                       + rate_control * (1 - rate_control))
    return ((z_a * null_sd + z_b * alt_sd) / d) ** 2


def memoised(fn: Callable) -> Callable:
    """``fn(sizes) -> (values, se)`` computed once per size."""
    cache: dict[int, tuple[float, float]] = {}

    def at(sizes):
        todo = [int(m) for m in sizes if int(m) not in cache]
        if todo:
            values, se = fn(todo)
            cache.update({m: (float(v), float(e)) for m, v, e in zip(todo, values, se)})
        pairs = np.array([cache[int(m)] for m in sizes]).reshape(-1, 2)
        return pairs[:, 0], pairs[:, 1]
    return at
