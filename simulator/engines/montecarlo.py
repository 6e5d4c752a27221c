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
sum, and every reported number, is identical for any number of jobs, any
joblib backend, and whichever chunks a chunk cache supplied.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial

import numpy as np

from .design import Design, count_decided, decision_table, support
from ..stats.binomial import binom_cdf, binom_ppf
from ..execution.backends import map_chunks

CHUNK_SIZE = 50_000


def chunk_rng(seed: int, chunk: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(chunk,))))


@dataclass(frozen=True)
class ArmSampler:
    """Binomial(n, rate) by inversion: the CDF tabulated over ``count_range``
    (the enumerated support), and P(X < range start) for the rare uniform
    below it."""
    n: int
    rate: float
    count_range: tuple[int, int]
    cdf: np.ndarray
    below: float

    @classmethod
    def build(cls, n: int, rate: float, count_range: tuple[int, int] | None = None):
        lo, hi = count_range or support(n, rate)
        cdf = binom_cdf(np.arange(lo, hi + 1), n, rate)
        below = float(binom_cdf(lo - 1, n, rate)) if lo > 0 else 0.0
        return cls(n, rate, (lo, hi), cdf, below)

    def counts(self, u: np.ndarray) -> np.ndarray:
        """The binomial quantiles of the uniforms ``u``: for each, the smallest
        x with P(X <= x) > u."""
        lo, hi = self.count_range
        x = lo + np.searchsorted(self.cdf, u, side="right")
        outside = (u < self.below) | (x > hi)
        if outside.any():
            # (ppf(0) is -1 in scipy's convention; u = 0 means the count 0)
            x[outside] = np.maximum(binom_ppf(u[outside], self.n, self.rate), 0).astype(x.dtype)
        return x


def sum_over_chunks(chunk_counts, args: tuple, seed: int, n_sims: int, jobs: int,
                    n_sizes: int = 1) -> np.ndarray:
    """``chunk_counts(*args, seed, chunk, n_trials)`` (integer counts over one
    chunk's trials) summed over all chunks of ``n_sims`` trials, computed by
    ``jobs`` workers (or read from the chunk cache).  ``n_sizes``: sizes each
    trial is evaluated at, for the progress count."""
    n_chunks = math.ceil(n_sims / CHUNK_SIZE)
    chunks = [(k, min(CHUNK_SIZE, n_sims - k * CHUNK_SIZE)) for k in range(n_chunks)]
    counts = map_chunks(partial(chunk_counts, *args, seed), chunks,
                        [n_sizes * trials for _, trials in chunks], jobs,
                        most=lambda chunk: chunk[1])        # counts of the chunk's trials
    return np.sum(counts, axis=0)


def _chunk_reject_counts(design: Design, samplers: tuple[tuple[ArmSampler, ArmSampler], ...],
                         seed: int, chunk: int, n_trials: int) -> np.ndarray:
    """Rejections among the ``n_trials`` trials of one chunk, at each size
    (one (treatment, control) sampler pair per size)."""
    rng = chunk_rng(seed, chunk)
    u_t = rng.random(n_trials)
    u_c = rng.random(n_trials)
    counts = np.zeros(len(samplers), dtype=np.int64)
    for i, (arm_t, arm_c) in enumerate(samplers):
        x_t, x_c = arm_t.counts(u_t), arm_c.counts(u_c)
        table = decision_table(design, arm_t.n, arm_c.n, arm_t.count_range, arm_c.count_range)
        counts[i] = count_decided(table, arm_t.count_range, arm_c.count_range, x_t, x_c,
                                  partial(design.reject, arm_t.n, arm_c.n))
    return counts


def monte_carlo_power(design: Design, rate_treatment: float, rate_control: float,
                      n_controls, n_sims: int, seed: int, jobs: int = 1):
    """Estimated power and its standard error at each control-arm size.

    Returns ``(power, se)``, arrays of shape ``(len(n_controls),)``; se is the
    binomial standard error sqrt(p (1 - p) / n_sims).
    """
    samplers = []
    for m in n_controls:
        n_t, n_c = design.sizes(int(m))
        samplers.append((ArmSampler.build(n_t, rate_treatment), ArmSampler.build(n_c, rate_control)))
    samplers = tuple(samplers)
    rejections = sum_over_chunks(_chunk_reject_counts, (design, samplers), seed, n_sims, jobs,
                                 len(samplers))
    power = rejections / n_sims
    return power, np.sqrt(power * (1.0 - power) / n_sims)
