"""Exact power: every 2x2 outcome weighted by its binomial probability."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy import optimize, stats

from .design import Design, decision_table, support


def exact_power(design: Design, rate_treatment: float, rate_control: float,
                n_controls, count_ranges: Callable | None = None) -> np.ndarray:
    """Power at each control-arm size in ``n_controls`` (shape ``(k,)``).

    power = sum over (x_t, x_c) of Binom(x_t; n_t, p_t) Binom(x_c; n_c, p_c)
    [test rejects], over the supports of :func:`design.support`, or over the
    ranges ``count_ranges(n_t, n_c)`` (which must contain those supports: with
    priors, the ranges assurance tabulates, so both share one decision table).
    """
    out = np.empty(len(n_controls))
    for i, m in enumerate(n_controls):
        n_t, n_c = design.sizes(int(m))
        if count_ranges is None:
            t_range, c_range = support(n_t, rate_treatment), support(n_c, rate_control)
        else:
            t_range, c_range = count_ranges(n_t, n_c)
        pmf_t = stats.binom.pmf(np.arange(t_range[0], t_range[1] + 1), n_t, rate_treatment)
        pmf_c = stats.binom.pmf(np.arange(c_range[0], c_range[1] + 1), n_c, rate_control)
        table = decision_table(design, n_t, n_c, t_range, c_range)
        out[i] = min(float(pmf_t @ table @ pmf_c), 1.0)
    return out


# The common rate (the nuisance parameter under the null) is searched over
# this range: a 1-point grid, then a bounded search around the best grid points.
NUISANCE_RANGE = (0.01, 0.99)
NUISANCE_GRID = 99
NUISANCE_REFINED = 3


@dataclass(frozen=True)
class MaximumSize:
    """The largest type I error over the common rate of both arms."""
    value: float
    rate: float                         # where it is reached
    low: float = NUISANCE_RANGE[0]      # the range searched
    high: float = NUISANCE_RANGE[1]

    def to_dict(self) -> dict:
        return {"value": self.value, "rate": self.rate, "over": [self.low, self.high],
                "method": "exact"}


def maximum_over_rates(size_at: Callable[[float], float]) -> MaximumSize:
    """The maximum of ``size_at(rate)`` (the exact rejection probability
    with both arms at ``rate``) over ``NUISANCE_RANGE``: every point of a
    99-point grid, then a bounded scalar search between the neighbours of the
    three best grid points (the size is a smooth polynomial in the rate)."""
    low, high = NUISANCE_RANGE
    grid = np.linspace(low, high, NUISANCE_GRID)
    values = np.array([size_at(float(p)) for p in grid])
    best = int(np.argmax(values))
    rate, value = float(grid[best]), float(values[best])
    for i in np.argsort(values)[-NUISANCE_REFINED:]:
        lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, NUISANCE_GRID - 1)]
        found = optimize.minimize_scalar(lambda p: -size_at(float(p)), bounds=(lo, hi),
                                         method="bounded", options={"xatol": 1e-6})
        if -found.fun > value:
            rate, value = float(found.x), float(-found.fun)
    return MaximumSize(value, rate)


def null_rejection(design: Design, n_t: int, n_c: int) -> Callable[[float], float]:
    """``size_at(rate)``: the exact rejection probability of the fixed 2x2
    design at (n_t, n_c) with both arms at ``rate``, from one decision table
    over every outcome (each rate sums its binomial supports' block)."""
    table = decision_table(design, n_t, n_c, (0, n_t), (0, n_c))

    def size_at(rate: float) -> float:
        (t_lo, t_hi), (c_lo, c_hi) = support(n_t, rate), support(n_c, rate)
        pmf_t = stats.binom.pmf(np.arange(t_lo, t_hi + 1), n_t, rate)
        pmf_c = stats.binom.pmf(np.arange(c_lo, c_hi + 1), n_c, rate)
        return float(pmf_t @ table[t_lo:t_hi + 1, c_lo:c_hi + 1] @ pmf_c)
    return size_at
