"""Monte Carlo engine: simulated trials in chunks, decisions looked up.

Randomness.  Chunk k of every evaluation draws from
``SeedSequence(seed, spawn_key=(k,))``, the k-th child numpy's
``SeedSequence(seed).spawn`` would give, whatever the sizes, rates or number of
jobs.  Each simulated trial owns one uniform per arm, and its event counts are
the binomial quantiles of those uniforms (inversion).  So the same trial is
re-used at every size and every rate (common random numbers): power curves are
smooth up to the test's own saw-tooth, and neighbouring designs are compared
on the same simulated trials.  Chunks hold at most ``CHUNK_SIZE`` trials, so
memory does not grow with ``n_sims``; the reject counts are integers, so their
sum, and every reported number, is identical for any number of jobs or any
joblib backend.
"""
from __future__ import annotations

import math

import numpy as np
from joblib import Parallel, delayed
from scipy import stats

from .design import Design, decision_table, support

CHUNK_SIZE = 50_000


def chunk_rng(seed: int, chunk: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(chunk,))))


def binomial_by_inversion(u: np.ndarray, n: int, rate: float,
                          count_range: tuple[int, int]) -> np.ndarray:
    """Binomial(n, rate) counts, the quantiles of the uniforms ``u``: the
    smallest x with P(X <= x) > u.  Tabulated CDF over ``count_range``; the
    rare uniform beyond it is inverted with scipy."""
    lo, hi = count_range
    cdf = stats.binom.cdf(np.arange(lo, hi + 1), n, rate)
    x = lo + np.searchsorted(cdf, u, side="right")
    below = stats.binom.cdf(lo - 1, n, rate) if lo > 0 else 0.0
    outside = (u < below) | (x > hi)
    if outside.any():
        x[outside] = stats.binom.ppf(u[outside], n, rate).astype(x.dtype)
    return x


def _chunk_reject_counts(design: Design, rate_treatment: float, rate_control: float,
                         n_controls: tuple[int, ...], seed: int, chunk: int,
                         n_trials: int) -> np.ndarray:
    """Rejections among the ``n_trials`` trials of one chunk, at each size."""
    rng = chunk_rng(seed, chunk)
    u_t = rng.random(n_trials)
    u_c = rng.random(n_trials)
    counts = np.zeros(len(n_controls), dtype=np.int64)
    for i, m in enumerate(n_controls):
        n_t, n_c = design.sizes(m)
        t_range, c_range = support(n_t, rate_treatment), support(n_c, rate_control)
        x_t = binomial_by_inversion(u_t, n_t, rate_treatment, t_range)
        x_c = binomial_by_inversion(u_c, n_c, rate_control, c_range)
        table = decision_table(design, n_t, n_c, t_range, c_range)
        i_t, i_c = x_t - t_range[0], x_c - c_range[0]
        inside = (i_t >= 0) & (i_t < table.shape[0]) & (i_c >= 0) & (i_c < table.shape[1])
        if inside.all():
            counts[i] = np.count_nonzero(table[i_t, i_c])
        else:
            counts[i] = (np.count_nonzero(table[i_t[inside], i_c[inside]])
                         + np.count_nonzero(design.reject(n_t, n_c, x_t[~inside], x_c[~inside])))
    return counts


def monte_carlo_power(design: Design, rate_treatment: float, rate_control: float,
                      n_controls, n_sims: int, seed: int, jobs: int = 1):
    """Estimated power and its standard error at each control-arm size.

    Returns ``(power, se)``, arrays of shape ``(len(n_controls),)``; se is the
    binomial standard error sqrt(p (1 - p) / n_sims).
    """
    sizes = tuple(int(m) for m in n_controls)
    n_chunks = math.ceil(n_sims / CHUNK_SIZE)
    tasks = (delayed(_chunk_reject_counts)(
        design, rate_treatment, rate_control, sizes, seed, k,
        min(CHUNK_SIZE, n_sims - k * CHUNK_SIZE)) for k in range(n_chunks))
    per_chunk = Parallel(n_jobs=min(jobs, n_chunks))(tasks)
    rejections = np.sum(per_chunk, axis=0)
    power = rejections / n_sims
    return power, np.sqrt(power * (1.0 - power) / n_sims)
