"""The analyses of a batch of simulated patient-level trials (made by
:mod:`.patients`): each analysis's decision counts (the pooled 2x2 test, the
Cochran-Mantel-Haenszel test, logistic regression on arm and the adjustment
covariates, its data grouped into cells where it can be) and the outcome
counts per arm."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..stats.adjusted import cmh_pvalues, logistic_pvalues
from ..stats.analysis import pvalues
from ..models.population import PatientModel

ANALYSES = ("pooled", "cmh", "logistic")
# per analysis: rejections, rejections favouring treatment, trials not estimable
COUNTS = ("rejected", "favourable", "not_estimable")
# per arm (treatment, control): women with an outcome, live births, miscarriages
OUTCOME_COUNTS = ("with_outcome", "live_birth", "miscarriage")


@dataclass
class Trials:
    """A batch of simulated trials; arrays of shape (trials, women)."""
    stratum: np.ndarray         # stratum index
    covariates: list            # one array per covariate (level index if categorical)
    treated: np.ndarray         # randomised to treatment
    live_birth: np.ndarray      # as analysed (a woman analysed as failure has False)
    observed: np.ndarray        # has a primary outcome (analysed, for complete case)
    miscarriage: np.ndarray | None


def _logistic_data(model: PatientModel, trials: Trials, weight):
    """``(X, y, m)`` of the logistic regression on arm and ``analysis.adjust``:
    design (trials, rows, columns) or (rows, columns) shared by the trials,
    live births and women per row (trials, rows).  When every
    regressor is discrete (arm, stratum, categorical covariates, covariates
    recorded to a ``resolution``), women sharing all regressors are grouped into
    one row: the likelihood, hence every estimate, is the same, and the fit
    costs a fraction (one design shared by every trial: each Newton step is a
    few matrix products over all trials), even with as many cells as women.
    Otherwise one row per woman (``m`` 0 for the absent)."""
    by_stratum = "stratum" in model.adjust and len(model.strata) > 1
    adjusted = [(j, c) for j, c in enumerate(model.covariates) if c.name in model.adjust]
    t, n = trials.treated.shape
    radix = [2] + [len(model.strata)] * by_stratum + [len(c.grid()[0]) for _, c in adjusted
                                                       if c.discrete]
    cells = int(np.prod(radix))
    if any(not c.discrete for _, c in adjusted) or cells > n:
        cols = [np.ones((t, n)), trials.treated.astype(float)]
        if by_stratum:
            cols += [(trials.stratum == s).astype(float) for s in range(1, len(model.strata))]
        for j, c in adjusted:
            cols += c.columns(trials.covariates[j])
        return np.stack(cols, axis=-1), trials.live_birth, weight
    # each woman's cell, in mixed radix: arm, stratum, then each covariate's
    # level; absent women go to a last, discarded cell; the outcome doubles it
    # (integers of the index type that bincount takes, in the arrays' own
    # memory order: the count does not depend on the order of the women)
    code = trials.treated.astype(np.intp)
    factor = 2
    if by_stratum:
        code += factor * trials.stratum
        factor *= len(model.strata)
    for j, c in adjusted:
        code += factor * trials.covariates[j]
        factor *= len(c.grid()[0])
    if weight is not None:
        code[~weight] = cells
    code += np.arange(0, t * (cells + 1), cells + 1, dtype=np.intp)[:, None]
    code *= 2
    code += trials.live_birth
    tally = np.bincount(code.ravel(order="K"), minlength=2 * t * (cells + 1)
                        ).reshape(t, cells + 1, 2)
    births = tally[:, :cells, 1]
    women = tally[:, :cells, 0] + births     # (a sum over the last axis of 2 is slower)
    # the regressors of each cell
    rest = np.arange(cells)
    cols = [np.ones(cells), (rest % 2).astype(float)]
    rest = rest // 2
    if by_stratum:
        cols += [(rest % len(model.strata) == s).astype(float)
                 for s in range(1, len(model.strata))]
        rest = rest // len(model.strata)
    for j, c in adjusted:
        levels = len(c.grid()[0])
        cols += c.columns(rest % levels)
        rest = rest // levels
    return np.stack(cols, axis=-1), births.astype(float), women.astype(float)


def analyse(model: PatientModel, trials: Trials, test: str, sided: str, alpha: float,
            analyses=ANALYSES) -> np.ndarray:
    """Counts (analyses, COUNTS) over the batch's trials."""
    weight = trials.observed if model.dropout_handling == "complete_case" else None
    analysed = trials.observed if weight is not None else np.ones_like(trials.observed)
    out = np.zeros((len(analyses), len(COUNTS)), dtype=np.int64)
    for i, name in enumerate(analyses):
        if name == "logistic":
            p, ok, estimate = logistic_pvalues(*_logistic_data(model, trials, weight), 1, sided,
                                               model.logistic_test)
            better = ok & (estimate > 0)
        else:
            counts = _stratified_counts(model, trials, analysed, pooled=name == "pooled")
            x_t, n_t, x_c, n_c = counts
            if name == "pooled":
                p = _pooled_pvalues(test, sided, *(c[:, 0] for c in counts))
                ok = np.ones(len(p), dtype=bool)
                better = x_t[:, 0] * n_c[:, 0] > x_c[:, 0] * n_t[:, 0]
            else:
                p, ok = cmh_pvalues(x_t, n_t, x_c, n_c, sided)
                total = n_t + n_c
                with np.errstate(invalid="ignore", divide="ignore"):
                    expected = np.where(total > 0, n_t * (x_t + x_c) / np.maximum(total, 1), 0)
                better = (x_t - expected).sum(axis=1) > 0
        rejected = ok & (p <= alpha)
        out[i] = (np.count_nonzero(rejected), np.count_nonzero(rejected & better),
                  np.count_nonzero(~ok))
    return out


def _stratified_counts(model, trials: Trials, analysed, pooled: bool):
    """Events and women analysed per trial, stratum and arm: four arrays of
    shape (trials, strata) (one column when ``pooled``)."""
    t = trials.treated.shape[0]
    k = 1 if pooled else len(model.strata)
    cell = np.arange(t)[:, None] * k + (np.zeros_like(trials.stratum) if pooled
                                        else trials.stratum)

    def count(mask):
        return np.bincount(cell[mask], minlength=t * k).reshape(t, k)
    arm_t, arm_c = trials.treated & analysed, ~trials.treated & analysed
    return (count(arm_t & trials.live_birth), count(arm_t),
            count(arm_c & trials.live_birth), count(arm_c))


def _pooled_pvalues(test, sided, x_t, n_t, x_c, n_c) -> np.ndarray:
    """The 2x2 test on each trial's pooled table; arm sizes may differ between
    trials (simple randomisation, complete-case dropout): trials are grouped
    by their pair of sizes."""
    p = np.ones(len(x_t))
    pairs, which = np.unique(np.stack([n_t, n_c], axis=1), axis=0, return_inverse=True)
    which = which.ravel()
    for j, (a, b) in enumerate(pairs):
        rows = which == j
        if a > 0 and b > 0:
            p[rows] = pvalues(test, sided, int(a), int(b), x_t[rows], x_c[rows])
    return p


def outcome_counts(model: PatientModel, trials: Trials) -> np.ndarray:
    """(arm: treatment, control) x OUTCOME_COUNTS summed over the batch."""
    out = np.zeros((2, len(OUTCOME_COUNTS)), dtype=np.int64)
    for a, arm in enumerate((trials.treated, ~trials.treated)):
        seen = arm & trials.observed
        out[a] = (np.count_nonzero(seen), np.count_nonzero(seen & trials.live_birth),
                  0 if trials.miscarriage is None
                  else np.count_nonzero(seen & trials.miscarriage))
    return out
