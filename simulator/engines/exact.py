"""Exact power: every 2x2 outcome weighted by its binomial probability."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy import optimize

from .design import Design, decision_table, support
from ..execution.threads import map_threads
from ..stats.binomial import binom_pmf


def exact_power(design: Design, rate_treatment: float, rate_control: float,
                n_controls, count_ranges: Callable | None = None) -> np.ndarray:
    """Power at each control-arm size in ``n_controls`` (shape ``(k,)``).

    power = sum over (x_t, x_c) of Binom(x_t; n_t, p_t) Binom(x_c; n_c, p_c)
    [test rejects], over the supports of :func:`design.support`, or over the
    ranges ``count_ranges(n_t, n_c)`` (which must contain those supports: with
    priors, the ranges assurance tabulates, so both share one decision table).
    The sizes are shared out between threads (:func:`~..execution.threads.map_threads`).
    """
    def power(m) -> float:
        n_t, n_c = design.sizes(int(m))
        if count_ranges is None:
            t_range, c_range = support(n_t, rate_treatment), support(n_c, rate_control)
        else:
            t_range, c_range = count_ranges(n_t, n_c)
        pmf_t = binom_pmf(np.arange(t_range[0], t_range[1] + 1), n_t, rate_treatment)
        pmf_c = binom_pmf(np.arange(c_range[0], c_range[1] + 1), n_c, rate_control)
        table = decision_table(design, n_t, n_c, t_range, c_range)
        return min(float(pmf_t @ table @ pmf_c), 1.0)
    return np.array(map_threads(power, n_controls), dtype=float)


# The common rate (the nuisance parameter) is searched over this range, on a
# grid uniform on the arcsine scale, where the binomial proportion's standard
# deviation is 1 / (2 sqrt(n)) whatever the rate: GRID_PER_SD points per
# standard deviation of the larger arm (at least GRID_MIN points, at most
# GRID_MAX), then a bounded search around the highest local maxima of the grid.
NUISANCE_RANGE = (0.01, 0.99)
GRID_PER_SD = 4
GRID_MIN, GRID_MAX = 99, 2000
SEQUENTIAL_GRID_MAX = 400   # a sequential design's rates cost a look-by-look enumeration each
REFINED_PEAKS = 10          # the highest local maxima of the grid searched between neighbours
BAND_SD = 8                 # the band of tables a common rate reaches: +-8 sd
MAX_BAND_CELLS = 60_000_000     # beyond (arms of about 30,000), no maximum is computed


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


def rate_grid(n: int, most: int = GRID_MAX) -> np.ndarray:
    """Common rates over ``NUISANCE_RANGE``, uniform on the arcsine scale:
    ``GRID_PER_SD`` points per standard deviation of an arm of ``n``, at
    least ``GRID_MIN`` and at most ``most``."""
    lo, hi = (math.asin(math.sqrt(p)) for p in NUISANCE_RANGE)
    points = int(np.clip(math.ceil((hi - lo) * 2 * math.sqrt(n) * GRID_PER_SD), GRID_MIN, most))
    return np.sin(np.linspace(lo, hi, points)) ** 2


def maximum_over_rates(size_at: Callable[[float], float], grid: np.ndarray) -> MaximumSize:
    """The maximum of ``size_at(rate)`` (the exact rejection probability
    with both arms at ``rate``) over the ``grid`` of common rates, refined by a
    bounded scalar search between the neighbours of each of the
    ``REFINED_PEAKS`` highest local maxima of the grid (the size is smooth in
    the rate, but has many local maxima)."""
    values = np.array(map_threads(lambda p: size_at(float(p)), grid))
    best = int(np.argmax(values))
    rate, value = float(grid[best]), float(values[best])
    last = len(grid) - 1
    peaks = [i for i in range(len(grid)) if (i == 0 or values[i] >= values[i - 1])
             and (i == last or values[i] >= values[i + 1])]

    def refined(i):
        return optimize.minimize_scalar(lambda p: -size_at(float(p)),
                                        bounds=(grid[max(i - 1, 0)], grid[min(i + 1, last)]),
                                        method="bounded", options={"xatol": 1e-7})
    for found in map_threads(refined, sorted(peaks, key=lambda i: -values[i])[:REFINED_PEAKS]):
        if -found.fun > value:
            rate, value = float(found.x), float(-found.fun)
    return MaximumSize(value, rate)


def null_rejection(design: Design, n_t: int, n_c: int) -> Callable[[float], float] | None:
    """``size_at(rate)``: the exact rejection probability of the fixed 2x2
    design at (n_t, n_c) with both arms at ``rate``.  The decisions are
    tabulated once on the band of tables that a common rate reaches (the
    control count within ``BAND_SD`` standard deviations of its expected value
    given the treatment count), so memory grows as n^1.5, not n^2; None when
    that band exceeds ``MAX_BAND_CELLS``."""
    half = int(math.ceil(BAND_SD * 0.5 * math.sqrt(n_c + n_c ** 2 / n_t))) + 1
    width = 2 * half + 1
    if (n_t + 1) * width > MAX_BAND_CELLS:
        return None
    x_t = np.arange(n_t + 1)
    start = np.rint(x_t * n_c / n_t).astype(np.int64) - half    # a row's first control count
    band = np.zeros((n_t + 1, width), dtype=bool)
    rows = max(1, 500_000 // width)         # rows at a time: p-values bounded in memory
    for a in range(0, n_t + 1, rows):
        x_c = start[a:a + rows, None] + np.arange(width)[None, :]
        inside = (x_c >= 0) & (x_c <= n_c)
        decided = design.reject(n_t, n_c, np.broadcast_to(x_t[a:a + rows, None], x_c.shape),
                                np.clip(x_c, 0, n_c))
        band[a:a + rows] = decided & inside
    columns = np.arange(width)

    def size_at(rate: float) -> float:
        t_lo, t_hi = support(n_t, rate)
        c_lo, c_hi = support(n_c, rate)
        pmf_t = binom_pmf(np.arange(t_lo, t_hi + 1), n_t, rate)
        # the control pmf over its support, 0 elsewhere, gathered along each row
        pmf_c = np.zeros(n_c + 1 + 2 * width)
        pmf_c[width + c_lo:width + c_hi + 1] = binom_pmf(np.arange(c_lo, c_hi + 1), n_c,
                                                              rate)
        counts = np.clip(start[t_lo:t_hi + 1, None] + columns[None, :] + width, 0,
                         len(pmf_c) - 1)
        return float(pmf_t @ np.where(band[t_lo:t_hi + 1], pmf_c[counts], 0.0).sum(axis=1))
    return size_at
