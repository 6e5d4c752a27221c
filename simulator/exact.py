"""Exact power: every 2x2 outcome weighted by its binomial probability."""
from __future__ import annotations

from typing import Callable

import numpy as np
from scipy import stats

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
