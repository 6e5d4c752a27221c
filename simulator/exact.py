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
    [test rejects], over the supports of :func:`design.support`, or over
    wider ranges ``count_ranges(n_t, n_c)`` (so that power and assurance share
    one table of decisions).
    """
    out = np.empty(len(n_controls))
    for i, m in enumerate(n_controls):
        n_t, n_c = design.sizes(int(m))
        t_range, c_range = support(n_t, rate_treatment), support(n_c, rate_control)
        if count_ranges is not None:
            wide_t, wide_c = count_ranges(n_t, n_c)
            t_range = (min(t_range[0], wide_t[0]), max(t_range[1], wide_t[1]))
            c_range = (min(c_range[0], wide_c[0]), max(c_range[1], wide_c[1]))
        pmf_t = stats.binom.pmf(np.arange(t_range[0], t_range[1] + 1), n_t, rate_treatment)
        pmf_c = stats.binom.pmf(np.arange(c_range[0], c_range[1] + 1), n_c, rate_control)
        table = decision_table(design, n_t, n_c, t_range, c_range)
        out[i] = min(float(pmf_t @ table @ pmf_c), 1.0)
    return out
