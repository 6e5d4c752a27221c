"""Patient-level simulation: women randomised one by one, their strata,
covariates, centres, arms, crossover, outcomes and dropout, for a batch of
simulated trials at once; then the analyses of each trial
(:mod:`.patient_analysis`).

Randomness.  Trials come in blocks of ``BLOCK_TRIALS`` (fewer, for trials of
more than 4,096 women: :func:`block_trials`); block k draws each
ingredient from its own stream ``SeedSequence(seed, spawn_key=(k, j))``
(j: rates, strata, centres, ...), as arrays of shape (women, trials) filled
woman by woman.  So woman i of trial t has the same uniforms whatever the
trial's size, the other ingredients or the number of jobs: power at
neighbouring sizes is computed on nested trials (common random numbers), and
results are bit-identical for any number of jobs.  (Sizes above 4,096 women
use smaller blocks, so their trials are nested among themselves, by
powers-of-two ranges, but not with smaller sizes.)  Blocks are analysed in
batches of at most ``BATCH_WOMEN`` women in all (one trial, if a trial is
larger), which bounds memory whatever ``n_sims`` and the trial's size.
Nested sizes evaluated together share one draw of the women (:func:`_runs`):
what a woman is (:func:`_women`) is drawn once, for the largest, and each
size's trials are its first women, randomised and followed up
(:func:`_randomised`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial

import numpy as np
from scipy import special

from ..execution.backends import map_chunks
from ..models.population import PatientModel, category
from .patient_analysis import (ANALYSES, COUNTS, OUTCOME_COUNTS, Trials, analyse,
                               outcome_counts)

BLOCK_TRIALS = 256
BATCH_WOMEN = 2 ** 20
# sizes of one evaluation simulated together on one draw of the women (nested
# trials): at most RUN_SIZES, the largest with at most RUN_RATIO times the
# women of the smallest
RUN_SIZES = 8
RUN_RATIO = 1.35
_STREAMS = ("rates", "stratum", "centre", "centre_effect", "assignment", "blocks", "adherence",
            "outcome", "dropout", "miscarriage")


def _streams(seed: int, block: int, n_covariates: int) -> dict:
    names = _STREAMS + tuple(f"covariate{j}" for j in range(n_covariates))
    return {name: np.random.Generator(np.random.PCG64(
        np.random.SeedSequence(seed, spawn_key=(block, j)))) for j, name in enumerate(names)}


def simulate(model: PatientModel, n_t: int, n_c: int, seed: int, block: int, n_trials: int,
             rates: str = "planning") -> Trials:
    """One block of ``n_trials`` trials with ``n_t + n_c`` women randomised.

    ``rates``: "planning" (the strata's planning rates), "prior" (each trial's
    rates drawn from the strata's priors) or "null" (both arms at the control
    planning rate, for the type I error).
    """
    women = _women(model, n_t + n_c, seed, block, n_trials, rates)
    return _randomised(model, women, n_t, n_c, seed, block)


@dataclass
class _Women:
    """A block's women as they are whatever arm they are randomised to: arrays
    (women, trials), whose first n rows are the block's trials of n women
    (each stream is filled woman by woman), so that the trials of every
    smaller size are read off one draw; pairs hold (if treated, if control),
    for the women randomised to, or receiving, treatment and control."""
    stratum: np.ndarray
    covariates: list
    centre: np.ndarray
    keys: np.ndarray            # randomisation order within her group
    switch: tuple               # receives the other arm
    live_birth: tuple           # by the arm she *receives*
    observed: np.ndarray
    miscarriage: tuple | None   # among women without a live birth


def _women(model: PatientModel, n: int, seed: int, block: int, t: int, rates: str) -> _Women:
    rng = _streams(seed, block, len(model.covariates))
    shape = (n, t)
    planned = model.planning_rates                      # (strata, 2)
    if rates == "prior":
        drawn = np.empty((t, len(model.strata), 2))
        for s, stratum in enumerate(model.strata):
            drawn[:, s, 0], drawn[:, s, 1] = stratum.rates.draw(rng["rates"], t)
        intercept = model.intercept(drawn)                  # (trials, strata, 2)
    else:
        if rates == "null":
            planned = np.repeat(planned[:, 1:], 2, axis=1)
        intercept = model.intercept(planned)                # (strata, 2), every trial
    stratum = category(np.cumsum(model.shares)[:-1], rng["stratum"].random(shape))
    covariates = [c.draw(rng[f"covariate{j}"].random(shape))
                  for j, c in enumerate(model.covariates)]
    weights = np.asarray(model.centre_weights)
    centre = category(np.cumsum(weights / weights.sum())[:-1], rng["centre"].random(shape))
    keys = rng["assignment"].random(shape)
    u = rng["adherence"].random(shape)
    switch = (u < model.not_receiving, u < model.receiving_outside)
    trial = np.arange(t)
    # log-odds terms added to the intercept, in this order
    terms = [c.effect(values) for c, values in zip(model.covariates, covariates)]
    if model.centre_sd > 0:
        effects = model.centre_sd * rng["centre_effect"].standard_normal((len(weights), t))
        terms.append(effects[centre, trial])
    u = rng["outcome"].random(shape)
    live_birth = []
    for arm in (0, 1):                                  # receiving treatment, control
        eta = intercept[trial, stratum, arm] if rates == "prior" else intercept[:, arm][stratum]
        for term in terms:
            eta = eta + term
        live_birth.append(u < special.expit(eta))
    observed = rng["dropout"].random(shape) >= model.dropout
    miscarriage = None
    if model.miscarriage is not None:
        u = rng["miscarriage"].random(shape)
        miscarriage = (u < model.miscarriage[0], u < model.miscarriage[1])
    return _Women(stratum, covariates, centre, keys, switch, tuple(live_birth), observed,
                  miscarriage)


def _randomised(model: PatientModel, women: _Women, n_t: int, n_c: int, seed: int,
                block: int) -> Trials:
    """The block's trials of ``n_t + n_c`` women (the first of ``women``),
    randomised and followed up."""
    n = n_t + n_c

    def first(a):
        return a[:n]

    def by(treated, pair):                  # elementwise: pair[0] if treated else pair[1]
        return (treated & first(pair[0])) | (first(pair[1]) & ~treated)
    blocks = np.random.Generator(np.random.PCG64(np.random.SeedSequence(
        seed, spawn_key=(block, _STREAMS.index("blocks")))))
    treated = _assign(model, n_t, first(women.stratum), first(women.centre), first(women.keys),
                      blocks)
    received = treated ^ by(treated, women.switch)
    live_birth = by(received, women.live_birth)
    observed = first(women.observed)
    miscarriage = None
    if women.miscarriage is not None:
        miscarriage = ~live_birth & by(treated, women.miscarriage)
    if model.dropout_handling == "as_failure":
        live_birth = live_birth & observed
    return Trials(first(women.stratum).T, [first(v).T for v in women.covariates], treated.T,
                  live_birth.T, observed.T, None if miscarriage is None else miscarriage.T)


def _assign(model: PatientModel, n_t: int, stratum, centre, keys, blocks) -> np.ndarray:
    """Randomisation; arrays (women, trials).  Women are exchangeable (their
    characteristics are independent of their order of arrival), so a permuted
    block scheme is simulated by its treated count per randomisation group
    (complete blocks hold their exact share; the last, incomplete block a
    hypergeometric draw from its block), given to that many women of the group
    chosen at random: the first of her group in the order of their ``keys``
    (uniforms); ``blocks`` the generator of the block sizes."""
    if model.randomisation == "simple":
        return keys < model.allocation_share
    n, t = stratum.shape
    if model.randomisation == "stratified_block":
        groups = len(model.centre_weights) * len(model.strata)
        group = stratum * len(model.centre_weights) + centre
    else:
        groups, group = 1, np.zeros_like(stratum)
    size = np.bincount((np.arange(t) * groups + group).ravel(),
                       minlength=t * groups).reshape(t, groups)
    if model.randomisation == "fixed":
        quota = np.full((t, 1), n_t)
    else:
        quota = _block_quota(size, model, blocks)
    # rank of each woman within her group, in the random order of her key:
    # each trial's women sorted by group + key, a row per trial (contiguous)
    sort_key = np.ascontiguousarray((group + keys).T)           # (trials, women)
    order, tied = _stable_argsort(sort_key)
    # treated: the first quota of her group's places in the sorted row, i.e.
    # place < (where the group starts) + quota
    end = np.cumsum(size, axis=1) - size + quota                # (trials, groups)
    if tied:        # (almost never) each place's group read off the order
        sorted_group = np.take_along_axis(np.ascontiguousarray(group.T), order, axis=1)
        limit = end[np.arange(t)[:, None], sorted_group]
    else:
        # without equal keys a row is sorted group by group (group g's keys lie
        # in [g, g + 1], reaching g + 1 only by rounding, which would tie with
        # a key of g + 1), so group g holds size[g] places in a row
        limit = np.repeat(end.ravel(), size.ravel()).reshape(t, n)
    treated = np.empty((t, n), dtype=bool)
    np.put_along_axis(treated, order, np.arange(n) < limit, axis=1)
    return np.ascontiguousarray(treated.T)


def _stable_argsort(keys: np.ndarray) -> tuple[np.ndarray, bool]:
    """``np.argsort(keys, axis=1, kind="stable")`` and whether some row holds
    equal keys: by the (several times faster) default sort, whose order
    differs only among equal keys, unless some row holds a tie (random keys
    almost never do)."""
    order = np.argsort(keys, axis=1)
    ordered = np.take_along_axis(keys, order, axis=1)
    if (ordered[:, 1:] == ordered[:, :-1]).any():
        return np.argsort(keys, axis=1, kind="stable"), True
    return order, False


def _block_quota(size: np.ndarray, model: PatientModel, rng) -> np.ndarray:
    """Treated women per (trial, group) under permuted blocks of random size.
    Each round draws a block for every (trial, group), in C order, and uses
    those of the groups that still hold women (kept as flat indices)."""
    sizes = np.asarray(model.block_sizes)
    per_block = np.round(sizes * model.allocation_share).astype(np.int64)
    quota = np.zeros(size.size, dtype=size.dtype)
    active = np.flatnonzero(size > 0)
    remaining = size.ravel()[active]
    while active.size:
        pick = rng.integers(len(sizes), size=size.shape).ravel()[active]
        block, treated = sizes[pick], per_block[pick]
        full = block <= remaining
        quota[active[full]] += treated[full]
        last = ~full
        if last.any():
            quota[active[last]] += rng.hypergeometric(treated[last], (block - treated)[last],
                                                      remaining[last])
        more = full & (remaining > block)
        active, remaining = active[more], (remaining - block)[more]
    return quota.reshape(size.shape)


def block_trials(n_women: int) -> int:
    """Trials per random-number block: ``BLOCK_TRIALS`` up to 4,096 women per
    trial; for larger trials the largest power of two that keeps a block within
    ``BATCH_WOMEN`` women (at least one trial), so that memory stays bounded."""
    if n_women * BLOCK_TRIALS <= BATCH_WOMEN:
        return BLOCK_TRIALS
    return 2 ** max(0, int(math.log2(BATCH_WOMEN // n_women))) if n_women < BATCH_WOMEN else 1


def _batches(n_women: int, n_sims: int) -> list[list[tuple[int, int]]]:
    """Blocks (index, trials) grouped into batches of at most BATCH_WOMEN women
    (or one block of a trial larger than that), as few batches as that allows,
    of equal numbers of blocks (within one): the tasks of one size then
    finish together on as many workers (40 blocks in 2 batches of 20, not of
    27 and 13).  The batches depend only on the size and ``n_sims`` (a
    trial's p-value may differ in its last digits with its batch's other
    trials: docs/methods.md)."""
    size = block_trials(n_women)
    per_batch = max(1, BATCH_WOMEN // (n_women * size))
    blocks = [(k, min(size, n_sims - k * size)) for k in range(math.ceil(n_sims / size))]
    count = math.ceil(len(blocks) / per_batch)
    bounds = [i * len(blocks) // count for i in range(count + 1)]
    return [blocks[lo:hi] for lo, hi in zip(bounds, bounds[1:])]


def _concatenate(parts: list[Trials]) -> Trials:
    """Blocks of trials joined along the trials axis."""
    if len(parts) == 1:
        return parts[0]
    def cat(arrays):
        return np.concatenate(arrays)
    first = parts[0]
    return Trials(cat([p.stratum for p in parts]),
                  [cat([p.covariates[j] for p in parts]) for j in range(len(first.covariates))],
                  cat([p.treated for p in parts]), cat([p.live_birth for p in parts]),
                  cat([p.observed for p in parts]),
                  None if first.miscarriage is None else cat([p.miscarriage for p in parts]))


def _run_batch(model, seed, rates, test, sided, alpha, analyses, sizes, blocks):
    """Counts (RUN_SIZES, analyses, COUNTS) and outcomes (RUN_SIZES, 2 arms,
    OUTCOME_COUNTS) of the batch's trials at each (treatment, control) size of
    ``sizes``, in order (the rows after them zero, so that every task's
    arrays have one shape): the women are drawn once, for the largest size,
    and each size's trials are the first of them (nested, as drawn alone)."""
    n = max(n_t + n_c for n_t, n_c in sizes)
    women = [(k, _women(model, n, seed, k, m, rates)) for k, m in blocks]
    counts = np.zeros((RUN_SIZES, len(analyses), len(COUNTS)), dtype=np.int64)
    outcomes = np.zeros((RUN_SIZES, 2, len(OUTCOME_COUNTS)), dtype=np.int64)
    for i, (n_t, n_c) in enumerate(sizes):
        trials = _concatenate([_randomised(model, w, n_t, n_c, seed, k) for k, w in women])
        counts[i] = analyse(model, trials, test, sided, alpha, analyses)
        outcomes[i] = outcome_counts(model, trials)
    return counts, outcomes


def _runs(sizes: list[tuple[int, int]]) -> list[list[int]]:
    """Indices of ``sizes`` grouped into runs simulated together (on one draw
    of the women, for the run's largest size): at most RUN_SIZES sizes, the
    largest with at most RUN_RATIO times the women of the smallest (a
    smaller size wastes little of the draw) and the same blocks; a group of
    such sizes is split into runs of equal length (within one), for balance."""
    def women(i):
        return sum(sizes[i])
    groups: list[list[int]] = []
    for i in sorted(range(len(sizes)), key=lambda i: (-women(i), i)):
        if (groups and women(groups[-1][0]) <= RUN_RATIO * women(i)
                and block_trials(women(groups[-1][0])) == block_trials(women(i))):
            groups[-1].append(i)
        else:
            groups.append([i])
    runs = []
    for group in groups:
        count = -(-len(group) // RUN_SIZES)
        bounds = [j * len(group) // count for j in range(count + 1)]
        runs += [group[lo:hi] for lo, hi in zip(bounds, bounds[1:])]
    return runs


@dataclass(frozen=True)
class PatientCounts:
    """Summed counts at each evaluated size."""
    n_sims: int
    analyses: tuple[str, ...]
    counts: np.ndarray          # (sizes, analyses, COUNTS)
    outcomes: np.ndarray        # (sizes, 2 arms, OUTCOME_COUNTS)

    def rate(self, analysis: str, what: str = "rejected") -> tuple[np.ndarray, np.ndarray]:
        """Share of trials (and its binomial standard error) at each size."""
        x = self.counts[:, self.analyses.index(analysis), COUNTS.index(what)] / self.n_sims
        return x, np.sqrt(x * (1 - x) / self.n_sims)


def _most_women(chunk: tuple) -> int:
    """The largest count a batch can hold: every woman of every trial."""
    sizes, batch = chunk
    return max(n_t + n_c for n_t, n_c in sizes) * sum(trials for _, trials in batch)


def simulate_counts(model: PatientModel, sizes: list[tuple[int, int]], n_sims: int, seed: int,
                    test: str, sided: str, alpha: float, rates: str = "planning",
                    analyses=ANALYSES, jobs: int = 1) -> PatientCounts:
    """Simulate ``n_sims`` trials at each (treatment, control) size and count
    the analyses' decisions.  Tasks are (run of sizes, batch) pairs (see
    :func:`_runs`; batches of the run's largest size), spread over ``jobs``
    workers (or read from the chunk cache); integer counts make the sums
    independent of the order."""
    tasks = [(run, tuple(batch)) for run in _runs(sizes)
             for batch in _batches(sum(sizes[run[0]]), n_sims)]
    results = map_chunks(partial(_run_batch, model, seed, rates, test, sided, alpha,
                                 tuple(analyses)),
                         [(tuple(sizes[i] for i in run), batch) for run, batch in tasks],
                         [len(run) * sum(trials for _, trials in batch) for run, batch in tasks],
                         jobs, group=False, most=_most_women)
    counts = np.zeros((len(sizes), len(analyses), len(COUNTS)), dtype=np.int64)
    outcomes = np.zeros((len(sizes), 2, len(OUTCOME_COUNTS)), dtype=np.int64)
    for (run, _), (c, o) in zip(tasks, results):
        counts[run] += c[:len(run)]
        outcomes[run] += o[:len(run)]
    return PatientCounts(n_sims, tuple(analyses), counts, outcomes)
