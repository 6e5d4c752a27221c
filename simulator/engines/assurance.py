"""Assurance: the probability of a significant result in favour of treatment,
averaged over the design priors (O'Hagan and Stevens 2001; for two binomial
arms with priors on both rates, Ciarleglio and Arendt 2017).

"Success" is the test rejecting with the treatment's observed rate above the
control's, so that a two-sided test counts only the favourable rejections and
assurance tends, as the trial grows, to the prior probability that the
treatment is better (its limit, reported as ``ceiling``; favourable rejections
when the treatment is not better can take it slightly above).

Two routes that must agree:

* exact: with the arms' rates independent (Beta mixtures or points), each arm's
  prior-predictive count is a (mixture of) beta-binomial, and assurance is the
  finite sum of their product over the tabulated successes.  With the treatment
  given relative to control (an effect prior), the joint predictive is
  integrated numerically: Gauss-Jacobi nodes over the control prior, Gauss-
  Hermite nodes over the normal effect prior, the orders doubled until the
  answer changes by less than ``QUADRATURE_TOLERANCE``; the last change is
  reported as the integration error.
* Monte Carlo: each simulated trial draws its true rates from the priors
  (once, with numpy's Beta and normal generators), then its counts by
  binomial inversion of its own count uniforms at every size (common random
  numbers across sizes, see :mod:`simulator.binomial`), and the same table of
  successes is looked up.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache, partial

import numpy as np

from .design import TAIL, Design, count_decided, decision_table, support
from ..errors import ScenarioError
from .montecarlo import ArmSampler, chunk_rng, sum_over_chunks
from ..execution.threads import map_threads
from ..stats.binomial import RateGrid, binomial_pmf, grid_of
from ..models.priors import BetaMixture, RateModel

QUADRATURE_START = 32
QUADRATURE_MAX = 512
QUADRATURE_TOLERANCE = 1e-7
ROW_BLOCK = 256             # rows of a decision table converted to float at a time
EFFECT_RANGE_SD = 7.0       # the count ranges cover the effect prior to +-7 sd (mass < 3e-12)


def success_table(design: Design, n_t: int, n_c: int,
                  t_range: tuple[int, int], c_range: tuple[int, int]) -> np.ndarray:
    """``decision_table`` restricted to tables whose treatment proportion is
    higher than control's: a significant result in favour of treatment.  (Not
    cached: the decision table is, and the mask costs one pass over it.)"""
    x_t = np.arange(t_range[0], t_range[1] + 1)[:, None]
    x_c = np.arange(c_range[0], c_range[1] + 1)[None, :]
    return decision_table(design, n_t, n_c, t_range, c_range) & (x_t * n_c > x_c * n_t)


def _table_times(table: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """``table @ matrix`` for a boolean table, converting ``ROW_BLOCK`` rows to
    float at a time (a whole large table as float would need 8 bytes a cell)."""
    out = np.empty((table.shape[0],) + matrix.shape[1:])
    for start in range(0, table.shape[0], ROW_BLOCK):
        out[start:start + ROW_BLOCK] = table[start:start + ROW_BLOCK].astype(float) @ matrix
    return out


def _succeeds(design: Design, n_t: int, n_c: int, x_t, x_c) -> np.ndarray:
    """Significant in favour of treatment, for tables beyond the tabulated ranges."""
    return design.reject(n_t, n_c, x_t, x_c) & (np.asarray(x_t) * n_c > np.asarray(x_c) * n_t)


def _predictive_range(prior: BetaMixture, n: int) -> tuple[tuple[int, int], np.ndarray]:
    """Counts enumerated for a prior arm (between its predictive 1e-13 and
    1 - 1e-13 quantiles) and their predictive probabilities."""
    pmf = prior.predictive_pmf(n, np.arange(n + 1))
    cdf = np.cumsum(pmf)
    lo = int(np.searchsorted(cdf, TAIL, side="right"))
    hi = int(n - np.searchsorted(np.cumsum(pmf[::-1]), TAIL, side="right"))
    lo, hi = min(lo, hi), max(lo, hi)
    return (lo, hi), pmf[lo:hi + 1]


@lru_cache(maxsize=256)
def count_ranges(model: RateModel, n_t: int, n_c: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """Ranges of event counts tabulated for a design under the model: where
    the predictive probability (or, for an effect prior, the binomial mass at
    every effect within 7 sd of its mean) is not negligible."""
    if model.control_prior is None:
        c_range = support(n_c, model.control_rate)
        c_lo = c_hi = model.control_rate
    else:
        c_range = _predictive_range(model.control_prior, n_c)[0]
        c_lo, c_hi = model.control_prior.ppf(TAIL), model.control_prior.ppf(1 - TAIL)
    if model.effect is not None:
        e = model.effect
        lo = float(e.treatment_rate(c_lo, e.mean - EFFECT_RANGE_SD * e.sd))
        hi = float(e.treatment_rate(c_hi, e.mean + EFFECT_RANGE_SD * e.sd))
        t_range = (support(n_t, lo)[0], support(n_t, hi)[1])
    elif model.treatment_prior is not None:
        t_range = _predictive_range(model.treatment_prior, n_t)[0]
    else:
        t_range = support(n_t, model.treatment_rate)
    return t_range, c_range


def table_ranges(model: RateModel, n_t: int, n_c: int):
    """:func:`count_ranges` widened to the binomial supports at the planning
    rates: the ranges of the decision table that assurance and, with priors,
    exact power share."""
    (t_lo, t_hi), (c_lo, c_hi) = count_ranges(model, n_t, n_c)
    s_t, s_c = support(n_t, model.treatment_rate), support(n_c, model.control_rate)
    return (min(t_lo, s_t[0]), max(t_hi, s_t[1])), (min(c_lo, s_c[0]), max(c_hi, s_c[1]))


def _arm_predictive(prior: BetaMixture | None, rate: float, n: int, count_range) -> np.ndarray:
    counts = np.arange(count_range[0], count_range[1] + 1)
    if prior is None:
        return binomial_pmf(n, counts, [rate])[0]
    return prior.predictive_pmf(n, counts)


def _effect_integral(model: RateModel, table: np.ndarray, n_t: int, n_c: int,
                     t_range, c_range, order: int, given: dict) -> float:
    """E over (control rate, effect) of the success probability, by product
    quadrature of the given order in each uncertain dimension.  ``given``
    keeps the table times the control pmfs by control nodes, for the next
    order (a point control rate has the same single node at every order)."""
    p_c, w_c = model.control_nodes(order)
    theta, w_e = model.effect.nodes(order)
    x_t = np.arange(t_range[0], t_range[1] + 1)
    x_c = np.arange(c_range[0], c_range[1] + 1)
    # success probability given the control count, for each control node: (L_t, N_c)
    key = p_c.tobytes()
    if key not in given:
        given[key] = _table_times(table, binomial_pmf(n_c, x_c, p_c).T)
    given_c = given[key]
    total = 0.0
    for i in range(len(p_c)):
        pmf_t = binomial_pmf(n_t, x_t, model.effect.treatment_rate(p_c[i], theta))
        total += w_c[i] * float(w_e @ (pmf_t @ given_c[:, i]))
    return total


@dataclass(frozen=True)
class ExactAssurance:
    assurance: np.ndarray        # per size
    integration_error: float     # 0 for the closed form (beta-binomial); else the last change


def exact_assurance(design: Design, model: RateModel, n_controls) -> ExactAssurance:
    """Assurance at each control-arm size in ``n_controls``, without Monte Carlo error."""
    def at(m) -> tuple[float, float]:
        """(assurance, the last change of the quadrature) at control-arm size m."""
        n_t, n_c = design.sizes(int(m))
        t_range, c_range = table_ranges(model, n_t, n_c)
        table = success_table(design, n_t, n_c, t_range, c_range)
        if model.effect is None:
            pmf_t = _arm_predictive(model.treatment_prior, model.treatment_rate, n_t, t_range)
            pmf_c = _arm_predictive(model.control_prior, model.control_rate, n_c, c_range)
            return float(pmf_t @ _table_times(table, pmf_c)), 0.0
        order, given = QUADRATURE_START, {}
        value = _effect_integral(model, table, n_t, n_c, t_range, c_range, order, given)
        while True:
            order *= 2
            finer = _effect_integral(model, table, n_t, n_c, t_range, c_range, order, given)
            change, value = abs(finer - value), finer
            if change < QUADRATURE_TOLERANCE or order >= QUADRATURE_MAX:
                return value, change
    values = np.array(map_threads(at, n_controls), dtype=float).reshape(-1, 2)
    out, error = values[:, 0], float(values[:, 1].max(initial=0.0))
    if not np.all(np.isfinite(out)):
        raise ScenarioError("numerical integration over the priors failed (a non-finite "
                            "assurance); use `simulation.method: monte_carlo`")
    return ExactAssurance(np.clip(out, 0.0, 1.0), error)


# ------------------------------------------------------------------- Monte Carlo
PILOT_SEED = 0x5EED    # the grid only speeds inversion up; it never changes a count


@lru_cache(maxsize=32)
def _grids(model: RateModel) -> tuple[tuple, tuple]:
    """Rate grids of the treatment and control arms, from pilot draws."""
    rng = np.random.Generator(np.random.PCG64(PILOT_SEED))
    p_t, p_c = model.draw(rng, 2 ** 15)
    return grid_of(p_t), grid_of(p_c)


@dataclass(frozen=True)
class _SizePlan:
    """What a chunk needs at one size, prepared once per call: the arm sizes,
    the tabulated ranges, and an inversion sampler for an arm with a fixed rate."""
    n_t: int
    n_c: int
    t_range: tuple[int, int]
    c_range: tuple[int, int]
    fixed_t: ArmSampler | None
    fixed_c: ArmSampler | None


def _size_plans(design: Design, model: RateModel, n_controls) -> tuple[_SizePlan, ...]:
    fixed_t = model.treatment_prior is None and (
        model.effect is None or (model.effect.is_point and model.control_prior is None))
    fixed_c = model.control_prior is None
    plans = []
    for m in n_controls:
        n_t, n_c = design.sizes(int(m))
        plans.append(_SizePlan(
            n_t, n_c, *table_ranges(model, n_t, n_c),
            ArmSampler.build(n_t, model.treatment_rate) if fixed_t else None,
            ArmSampler.build(n_c, model.control_rate) if fixed_c else None))
    return tuple(plans)


def _chunk_counts(design: Design, model: RateModel, plans: tuple[_SizePlan, ...],
                  mcid: float | None, seed: int, chunk: int, n_trials: int) -> np.ndarray:
    """Successes at each size among one chunk's trials, then (last two
    entries) how many drew a better treatment rate and a difference above
    ``mcid``."""
    rng = chunk_rng(seed, chunk)
    u_t = rng.random(n_trials)          # count uniforms first, as the point engine
    u_c = rng.random(n_trials)
    p_t, p_c = model.draw(rng, n_trials)
    grid_t, grid_c = _grids(model)
    arm_t = None if plans[0].fixed_t else RateGrid.build(u_t, p_t, grid_t)
    arm_c = None if plans[0].fixed_c else RateGrid.build(u_c, p_c, grid_c)
    counts = np.zeros(len(plans) + 2, dtype=np.int64)
    for i, plan in enumerate(plans):
        x_t = plan.fixed_t.counts(u_t) if plan.fixed_t else arm_t.counts(plan.n_t)
        x_c = plan.fixed_c.counts(u_c) if plan.fixed_c else arm_c.counts(plan.n_c)
        table = success_table(design, plan.n_t, plan.n_c, plan.t_range, plan.c_range)
        counts[i] = count_decided(table, plan.t_range, plan.c_range, x_t, x_c,
                                  partial(_succeeds, design, plan.n_t, plan.n_c))
    counts[-2] = np.count_nonzero(p_t > p_c)
    counts[-1] = np.count_nonzero(p_t - p_c > mcid) if mcid is not None else 0
    return counts


@dataclass(frozen=True)
class SimulatedAssurance:
    assurance: np.ndarray              # per size
    se: np.ndarray
    probability_better: float          # share of trials whose drawn treatment rate is higher
    probability_above_mcid: float | None


def monte_carlo_assurance(design: Design, model: RateModel, n_controls, n_sims: int, seed: int,
                          jobs: int = 1, mcid: float | None = None) -> SimulatedAssurance:
    """Assurance by simulation at each size, with its binomial standard error."""
    plans = _size_plans(design, model, n_controls)
    counts = sum_over_chunks(_chunk_counts, (design, model, plans, mcid), seed, n_sims, jobs,
                             len(plans))
    share = counts / n_sims
    assurance = share[:-2]
    return SimulatedAssurance(assurance, np.sqrt(assurance * (1 - assurance) / n_sims),
                              float(share[-2]), float(share[-1]) if mcid is not None else None)
