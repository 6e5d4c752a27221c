"""The smallest treatment rate a fixed 2x2 design detects at a given size.

At fixed arm sizes (n_t, n_c) and control rate p_c, exact power is a
polynomial in the treatment rate p:

    power(p) = sum_x Binom(x; n_t, p) v[x],
    v[x] = P(reject | x_t = x) = sum_y Binom(y; n_c, p_c) reject[x, y],

so it is smooth in p (the saw-tooth of a discrete test is in the size, not
in the rate); the decision table is tabulated once for the size.  In the
Bernstein basis of degree n_t the coefficients of power(p) - target are
``v[x] - target``, and the basis is variation diminishing (Descartes' rule of
signs for Bernstein polynomials): power crosses the target on (0, 1) at most
as many times as those coefficients change sign.  Power at the control rate
is the test's size, below the target, and power at rate 1 is v[n_t]; so when
the coefficients change sign once (a one-sided test: v rises with x), or
twice with v[0] above the target (a two-sided test, whose other-direction
rejections make v high at x = 0: one crossing lies below the control rate),
exactly one crossing p* lies above the control rate, power is below the
target on (p_c, p*) and at or above it on [p*, 1], and bisection finds p*.
The rejections in the other direction make power fall just above p_c for a
two-sided test, so power is not monotone there; but it never comes back to
the target once it has reached it.

Definition: the detectable rate is the smallest rate p* > p_c such that power
is at least the target at p* and at every rate above it.  When the
coefficients change sign more often (no usual test was seen to), power is
evaluated on a grid of ``FALLBACK_GRID`` rates above p_c, and p* is bisected
above the last grid rate whose power is below the target: the definition
then holds up to the grid's resolution, and the result says that the single
crossing was not proved (``single_crossing`` false).

The rate returned is the upper end of the final bracket, within ``TOLERANCE``
of p*, so that its power is at least the target.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .design import Design, decision_table, support

TOLERANCE = 1e-6            # in the treatment rate
FALLBACK_GRID = 2001


@dataclass(frozen=True)
class DetectableRate:
    """The smallest treatment rate reaching ``target`` power at (n_t, n_c)."""
    rate: float | None          # None: even a rate of 1 does not reach the target
    power: float                # exact power at ``rate`` (at rate 1 when None)
    power_at_one: float         # exact power when every treated woman has a live birth
    single_crossing: bool       # one crossing of the target above p_c, proved (see above)


def conditional_rejection(design: Design, n_t: int, n_c: int, rate_control: float) -> np.ndarray:
    """``v[x]``, x = 0..n_t: the probability that the test rejects in favour
    of either arm given x treatment events, the control events binomial."""
    from scipy import stats
    c_range = support(n_c, rate_control)
    table = decision_table(design, n_t, n_c, (0, n_t), c_range)
    pmf_c = stats.binom.pmf(np.arange(c_range[0], c_range[1] + 1), n_c, rate_control)
    return np.minimum(table @ pmf_c, 1.0)


def power_in_rate(v: np.ndarray, rates) -> np.ndarray:
    """Exact power at each treatment rate (shape of ``rates``) from ``v``."""
    from scipy import stats
    rates = np.atleast_1d(np.asarray(rates, dtype=float))
    n_t = len(v) - 1
    pmf = stats.binom.pmf(np.arange(n_t + 1)[None, :], n_t, rates[:, None])
    return np.minimum(pmf @ v, 1.0)


def sign_changes(values: np.ndarray, slack: float = 1e-12) -> list[int]:
    """The signs (+1 / -1) of ``values`` in order, zeros (within ``slack``)
    left out, with repeats merged."""
    signs = [1 if x > 0 else -1 for x in values if abs(x) > slack]
    return [s for i, s in enumerate(signs) if i == 0 or s != signs[i - 1]]


def detectable_rate(design: Design, n_control: int, rate_control: float,
                    target: float) -> DetectableRate:
    """The detectable rate at control-arm size ``n_control`` (see the module)."""
    n_t, n_c = design.sizes(n_control)
    v = conditional_rejection(design, n_t, n_c, rate_control)

    def power(p: float) -> float:
        return float(power_in_rate(v, [p])[0])
    at_one = float(v[-1])
    if at_one < target:
        return DetectableRate(None, at_one, at_one, True)
    pattern = sign_changes(v - target)
    single = pattern == [-1, 1] or pattern == [1, -1, 1]
    lo, hi = float(rate_control), 1.0
    if power(lo) >= target:         # (a test whose size exceeds the target: no such test)
        return DetectableRate(lo, power(lo), at_one, single)
    if not single:
        grid = np.linspace(lo, 1.0, FALLBACK_GRID)
        below = np.flatnonzero(power_in_rate(v, grid) < target)
        lo, hi = float(grid[below[-1]]), float(grid[min(below[-1] + 1, len(grid) - 1)])
    # bisection: power(lo) < target <= power(hi)
    while hi - lo > TOLERANCE:
        mid = 0.5 * (lo + hi)
        if power(mid) >= target:
            hi = mid
        else:
            lo = mid
    return DetectableRate(hi, power(hi), at_one, single)
