"""Operating characteristics of a group-sequential trial analysed on its 2x2
table, by simulation vectorised over trials.

Each simulated trial's data at an interim look are nested in its data at the
next: the event counts grow by binomial increments over the women added
between looks.  At look k, with cumulative arm sizes
``round(t_k * n)``, the two-proportion z statistic (pooled or unpooled
variance) is compared with the boundaries on the z scale: efficacy when
``Z_k >= upper_k`` (``|Z_k|`` if two-sided), futility when ``Z_k <= lower_k``.
Chunks and seeds as in :mod:`simulator.montecarlo`, so results are identical
for any number of jobs.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from joblib import Parallel, delayed

from .analysis import z_statistic
from .montecarlo import CHUNK_SIZE, chunk_rng, task_bounds


def look_sizes(n: int, looks) -> np.ndarray:
    """Cumulative sizes of one arm at each look: ``round(t_k n)``, at least 1,
    the last the whole arm."""
    sizes = np.maximum(np.round(np.asarray(looks, float) / looks[-1] * n), 1).astype(np.int64)
    sizes[-1] = n
    return np.maximum.accumulate(sizes)


@dataclass(frozen=True)
class SequentialOC:
    """Simulated operating characteristics; arrays have one entry per look."""
    n_sims: int
    efficacy: np.ndarray        # P(stop for efficacy at look k)
    futility: np.ndarray        # P(stop for futility at look k)
    sizes: np.ndarray           # total women (both arms) analysed at each look
    favourable: float           # P(efficacy stop with treatment better), any look

    @property
    def power(self) -> float:
        """P(the trial rejects H0 at some look)."""
        return float(self.efficacy.sum())

    @property
    def expected_size(self) -> float:
        stop = self.efficacy + self.futility
        stop = np.append(stop[:-1], 1.0 - stop[:-1].sum())     # the rest run to the end
        return float(stop @ self.sizes)

    def se(self, p) -> np.ndarray:
        p = np.asarray(p, float)
        return np.sqrt(p * (1 - p) / self.n_sims)


def _chunk(n_t, n_c, p_t, p_c, upper, lower, sided, pooled, seed, chunk, n_trials):
    rng = chunk_rng(seed, chunk)
    K = len(n_t)
    x_t = np.zeros(n_trials, dtype=np.int64)
    x_c = np.zeros(n_trials, dtype=np.int64)
    alive = np.ones(n_trials, dtype=bool)
    counts = np.zeros((3, K), dtype=np.int64)       # efficacy, futility, favourable
    prev_t = prev_c = 0
    for k in range(K):
        x_t += rng.binomial(n_t[k] - prev_t, p_t, n_trials)
        x_c += rng.binomial(n_c[k] - prev_c, p_c, n_trials)
        prev_t, prev_c = n_t[k], n_c[k]
        z = z_statistic(pooled, n_t[k], n_c[k], x_t, x_c)
        win = alive & ((np.abs(z) if sided == "two" else z) >= upper[k])
        lose = alive & ~win & (z <= lower[k]) if sided == "one" else np.zeros_like(win)
        counts[:, k] = (np.count_nonzero(win), np.count_nonzero(lose),
                        np.count_nonzero(win & (z > 0)))
        alive &= ~(win | lose)
    return counts


def _chunks(args, seed, n_sims, first, stop):
    return sum(_chunk(*args, seed, k, min(CHUNK_SIZE, n_sims - k * CHUNK_SIZE))
               for k in range(first, stop))


def simulate_sequential(n_treatment: int, n_control: int, rate_treatment: float,
                        rate_control: float, looks, upper, lower, sided: str = "one",
                        pooled: bool = True, n_sims: int = 100_000, seed: int = 0,
                        jobs: int = 1) -> SequentialOC:
    """Simulated probabilities of stopping at each look for efficacy and for
    futility (``lower`` ignored when two-sided; ``-inf`` for no futility
    stop), with the true rates given."""
    n_t, n_c = look_sizes(n_treatment, looks), look_sizes(n_control, looks)
    upper = np.asarray(upper, float)
    lower = np.full(len(n_t), -np.inf) if lower is None else np.asarray(lower, float)
    args = (n_t, n_c, rate_treatment, rate_control, upper, lower, sided, pooled)
    n_chunks = math.ceil(n_sims / CHUNK_SIZE)
    parts = Parallel(n_jobs=min(jobs, n_chunks))(
        delayed(_chunks)(args, seed, n_sims, a, b) for a, b in task_bounds(n_chunks, jobs))
    counts = np.sum(parts, axis=0)
    return SequentialOC(n_sims, counts[0] / n_sims, counts[1] / n_sims, n_t + n_c,
                        float(counts[2].sum() / n_sims))
