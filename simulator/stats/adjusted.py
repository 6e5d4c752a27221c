"""Covariate-adjusted analyses of simulated patient-level trials, vectorised over trials.

Logistic regression (Wald and likelihood-ratio tests of the arm) and the
Cochran-Mantel-Haenszel test, each on a batch of simulated trials along the
first axis at once: no Python loop over trials or women, only over Newton
iterations and blocks of trials sized to stay in cache.  The fit is batched
Newton-Raphson (= IRLS for the logit link) from 0, halving a step that would
lower the log-likelihood; stopped trials drop out of the working set.
``sided="one"`` always means "treatment odds higher than control" (coef > 0).

Estimability rule (separation / non-convergence).  A trial's logistic fit is
*not estimable* when any of the following holds:

1. the design is rank deficient among the analysed rows (weight > 0): the
   reciprocal condition number (smallest over largest eigenvalue) of X'X scaled
   to unit diagonal is below ``RCOND_MIN = 1e-12`` -- e.g. a column constant or
   all zero among the analysed women (a stratum nobody is in); the same check is
   applied to the information X' diag(mu (1 - mu)) X at the final coefficients;
2. Newton-Raphson does not converge within ``max_iter`` iterations; converged
   means the largest |step| is below ``tol``, or the Newton decrement
   g'H^-1 g / 2 (the predicted remaining gain of the log-likelihood) is below
   1e-12 (1 + |loglik|) and the largest |step| below 1e-5;
3. the data show complete or quasi-complete separation: some analysed row has
   |linear predictor| > ``ETA_MAX = 20`` (fitted probability within 2e-9 of 0
   or 1), or a coefficient other than the intercept (column 0, by convention)
   moves the linear predictor by more than ``COEF_MAX = 30`` on the logit scale
   (|coef_j| * max|x_j| > 30, i.e. |coef| > 30 for 0/1 columns).  Continuous
   covariates should be centred (the patient-level model centres them at their
   mean), or a large-valued one inflates max|x_j|.

A trial that is not estimable gets p-value 1: it never counts as a rejection.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

SIDES = ("two", "one")
LOGISTIC_TESTS = ("wald", "likelihood_ratio")

# Thresholds of the estimability rule (module docstring) and why:
# RCOND_MIN: scaled to unit diagonal, X'X of a full-rank planning design has
# rcond ~0.1 (centred age) or ~2e-3 (age uncentred, next to the intercept); an
# exactly collinear column leaves ~1e-16 of rounding; past 1e-12 a solve keeps
# < 4 of 16 digits.
RCOND_MIN = 1e-12
# DET_SURE: a scaled information whose determinant exceeds this passes the
# RCOND_MIN test without computing its eigenvalues (see _scaled): its
# reciprocal condition number is then above 3.6e-6 / p.
DET_SURE = 1e-5
# ETA_MAX: a fitted probability within expit(-20) = 2e-9 of 0 or 1 is never part
# of a finite MLE at planning sizes; it is what Newton produces along a
# separating direction, where it adds about 1 to |eta| per iteration for ever.
ETA_MAX = 20.0
# ETA_STOP: a trial stops iterating once |eta| > 30 (probability within 1e-13
# of 0 or 1) after a step that raised the log-likelihood: further steps change
# it by less than its rounding; the margin over ETA_MAX lets an overshoot return.
ETA_STOP = 30.0
# COEF_MAX: an odds ratio of exp(30) = 1e13 from one column is never a real
# effect, only a coefficient still growing along a (quasi-)separating direction.
COEF_MAX = 30.0
# Early convergence (Newton decrement < 1e-12 relative, |step| < 1e-5) happens
# only in the quadratic regime, where the coefficients after the step are off by
# ~|step|**2 <= 1e-10 (in tests, ~1e-11 relative to statsmodels at tol 1e-12);
# in most trials it saves the one more iteration that tol = 1e-10 needs.
LL_RTOL = 1e-12
STEP_LOOSE = 1e-5
MAX_HALVINGS = 30
BLOCK_BYTES = 1 << 21   # trials are fitted in blocks of ~2 MB of design, to stay in cache
LOG2 = np.log(2.0)


@dataclass(frozen=True)
class LogisticFit:
    """Batched logistic fit.  Where ``estimable`` is False, ``coef`` and ``loglik``
    hold the last iterate and ``se`` is nan: do not use them."""
    coef: np.ndarray        # (trials, p) maximum-likelihood coefficients, logit scale
    se: np.ndarray          # (trials, p) standard errors, inverse observed information at coef
    loglik: np.ndarray      # (trials,) log-likelihood at coef (natural log)
    estimable: np.ndarray   # (trials,) bool: False when the fit failed (module docstring)
    iterations: int         # Newton iterations taken (max over trials)


def _scaled(H):
    """``(Hs, d, good)``: H = d Hs d with Hs of unit diagonal; where H is not finite,
    has a zero diagonal or a reciprocal condition number below RCOND_MIN, ``good``
    is False and Hs is replaced by the identity so that batched solves never raise."""
    p = H.shape[-1]
    diag = np.diagonal(H, axis1=1, axis2=2)
    d = np.sqrt(np.where(diag > 0, diag, 1.0))
    Hs = H / (d[:, :, None] * d[:, None, :])
    good = np.all(diag > 0, axis=1) & np.all(np.isfinite(Hs), axis=(1, 2))
    Hs[~good] = np.eye(p)
    # The eigenvalues are needed only where the determinant does not already
    # settle the test: Hs is positive semi-definite (X'WX, W >= 0) with trace
    # p, so det(Hs) > DET_SURE makes it definite with, by the AM-GM
    # inequality on the other eigenvalues, lambda_min >= det / e and
    # lambda_max <= p: the reciprocal condition number is far above RCOND_MIN
    # (a determinant is several times cheaper than the eigenvalues).
    doubt = good & ~(np.linalg.det(Hs) > DET_SURE)
    if doubt.any():
        ev = np.linalg.eigvalsh(Hs[doubt])       # ascending
        good[doubt] = ev[:, 0] > RCOND_MIN * ev[:, -1]
    Hs[~good] = np.eye(p)
    return Hs, d, good


class _PerTrial:
    """Designs of their own per trial: Xt (b, p, n), zero on absent rows."""

    def __init__(self, Xt):
        self.Xt = Xt

    def times(self, c):                 # X c: (b, n)
        return np.matmul(c[:, None, :], self.Xt)[:, 0, :]

    def transposed_times(self, v):      # X'v: (b, p)
        return np.matmul(self.Xt, v[:, :, None])[:, :, 0]

    def information(self, v):           # X' diag(v) X: (b, p, p)
        return np.matmul(self.Xt * v[:, None, :], self.Xt.transpose(0, 2, 1))

    def scale(self, m):                 # largest |x_j| among analysed rows: (b, p)
        return np.maximum(self.Xt.max(axis=2), -self.Xt.min(axis=2))

    def keep(self, rows):
        return _PerTrial(self.Xt[rows])


class _Shared:
    """One design X (n, p) for every trial (grouped data: a trial's absent rows
    have m = 0): every product is one matrix product over all trials."""

    def __init__(self, X):
        self.X = X
        self.XX = (X[:, :, None] * X[:, None, :]).reshape(len(X), -1)

    def times(self, c):
        return c @ self.X.T

    def transposed_times(self, v):
        return v @ self.X

    def information(self, v):
        p = self.X.shape[1]
        return (v @ self.XX).reshape(len(v), p, p)

    def scale(self, m):
        # per column: |x| of the first analysed row in order of decreasing |x|
        out = np.empty((len(m), self.X.shape[1]))
        present = m > 0
        for j, column in enumerate(np.abs(self.X).T):
            order = np.argsort(-column, kind="stable")
            out[:, j] = column[order][np.argmax(present[:, order], axis=1)]
        return out

    def keep(self, rows):
        return self


def _evaluate(X, c, Xty, t, m):
    """At coefficients c (b, p): linear predictor (b, n), log-likelihood (b,),
    gradient (b, p) and information (b, p, p).  X a :class:`_PerTrial` or
    :class:`_Shared` design, m (b, n) the women of each row (0 if absent),
    Xty = X'y and t = X'(y - m) (b, p);
    ll = sum(y eta - m log(1 + exp(eta))) = c't + sum m log(mu)."""
    eta = X.times(c)
    # mu = 1 / (1 + exp(-eta)), and then the weights, computed in place: the
    # arrays are (trials, rows), the largest of a fit
    mu = np.negative(eta)
    np.exp(mu, out=mu)
    mu += 1.0
    np.divide(1.0, mu, out=mu)
    # log mu = -log(1 + exp(-eta)) is accurate in both tails
    work = np.log(mu)
    work *= m
    ll = np.sum(t * c, axis=1) + np.sum(work, axis=1)
    m_mu = m * mu
    g = Xty - X.transposed_times(m_mu)
    np.subtract(1.0, mu, out=work)
    work *= m_mu                                # m mu (1 - mu)
    H = X.information(work)
    return eta, ll, g, H


def _newton_step(H, g, check):
    """Solve H step = g, batched.  With ``check`` (or if some H is exactly
    singular) also return which H pass the RCOND_MIN test; the others get a
    harmless step instead of an exception."""
    if not check:
        try:
            return np.linalg.solve(H, g[:, :, None])[:, :, 0], np.ones(len(g), dtype=bool)
        except np.linalg.LinAlgError:
            pass
    Hs, d, good = _scaled(H)
    return np.linalg.solve(Hs, (g / d)[:, :, None])[:, :, 0] / d, good


def _largest_eta(eta, m, limit):
    """Largest |linear predictor| among the analysed rows (m > 0): an empty
    cell of grouped data is an extrapolation, not a fitted probability.  It
    is computed only for the trials where some row, analysed or not, is
    beyond ``limit`` (or nan), rarely; elsewhere the largest over every row
    stands for it: compared with ``limit``, the answer is the same."""
    largest = np.maximum(np.max(eta, axis=1), -np.min(eta, axis=1))
    check = ~(largest <= limit)
    if check.any():
        size = np.abs(eta[check])
        np.copyto(size, 0.0, where=m[check] <= 0)
        largest[check] = np.max(size, axis=1)
    return largest


def _fit_block(Xt, y, m, max_iter, tol):
    b, n = y.shape
    Xty, X1 = Xt.transposed_times(y), Xt.transposed_times(m)
    p = Xty.shape[1]
    coef, converged = np.zeros((b, p)), np.zeros(b, dtype=bool)
    # trials still iterating, and their state
    idx, Xa, na, Xtya, ta = np.arange(b), Xt, m, Xty, Xty - X1
    c, c_acc, s = np.zeros((b, p)), np.zeros((b, p)), np.zeros((b, p))
    ll_acc, halvings = np.full(b, -np.inf), np.zeros(b, dtype=int)
    iterations = 0
    for iterations in range(1, max_iter + 1 if b else 1):
        if iterations == 1:   # at coef 0: mu = 1/2, H = X'MX / 4; its rank is the design's
            ll, g = -m.sum(axis=1) * LOG2, Xty - 0.5 * X1
            H = 0.25 * Xt.information(m)
            runaway = np.zeros(b, dtype=bool)
        else:
            eta, ll, g, H = _evaluate(Xa, c, Xtya, ta, na)
            runaway = _largest_eta(eta, na, ETA_STOP) > ETA_STOP
        step, good = _newton_step(H, g, check=iterations == 1)
        # Step halving: a candidate that lowers the log-likelihood (or makes it
        # nan) is replaced by the midpoint with the last accepted coefficients.
        acc = ll >= ll_acc - LL_RTOL * (1.0 + np.abs(ll_acc))
        c_acc = np.where(acc[:, None], c, c_acc)
        ll_acc = np.where(acc, ll, ll_acc)
        halvings = np.where(acc, 0, halvings + 1)
        s = np.where(acc[:, None], step, 0.5 * s)
        c = c_acc + s
        big = np.max(np.abs(s), axis=1)
        decrement = 0.5 * np.sum(g * step, axis=1)
        small = (decrement <= LL_RTOL * (1.0 + np.abs(ll))) & (big < STEP_LOOSE)
        conv = acc & good & ((big < tol) | small)
        stop = conv | (acc & (runaway | ~good)) | (halvings > MAX_HALVINGS) | ~np.isfinite(big)
        if stop.any():
            coef[idx[stop]] = c[stop]
            converged[idx[conv]] = True
            keep = ~stop
            idx, Xa, na, Xtya, ta = idx[keep], Xa.keep(keep), na[keep], Xtya[keep], ta[keep]
            c, c_acc, s = c[keep], c_acc[keep], s[keep]
            ll_acc, halvings = ll_acc[keep], halvings[keep]
            if idx.size == 0:
                break
    coef[idx] = c                                # not converged within max_iter
    # Final pass at coef: log-likelihood, information, standard errors, checks.
    eta, ll, _, H = _evaluate(Xt, coef, Xty, Xty - X1, m)
    Hs, d, good = _scaled(H)
    se = np.sqrt(np.diagonal(np.linalg.inv(Hs), axis1=1, axis2=2)) / d
    scale = Xt.scale(m)                          # largest |x_j| among analysed rows
    estimable = (converged & good
                 & (_largest_eta(eta, m, ETA_MAX) <= ETA_MAX)
                 & (np.max(np.abs(coef[:, 1:]) * scale[:, 1:], axis=1, initial=0.0) <= COEF_MAX)
                 & np.all(np.isfinite(se) & np.isfinite(coef), axis=1))
    return coef, np.where(estimable[:, None], se, np.nan), ll, estimable, iterations


def fit_logistic(X, y, weight=None, max_iter=50, tol=1e-10) -> LogisticFit:
    """Logistic regression of ``y`` on ``X`` for every trial.

    X: (trials, n, p) design, or (n, p) shared by every trial; the caller
    includes the intercept column; y: (trials, n) outcomes; weight: (trials, n) or None (all 1).  Rows are either
    women (y 0/1, weight 0/1: a row with weight 0 is absent, a woman without an
    outcome analysed as complete case, and its X and y may hold anything, even
    nan) or groups of women sharing one row of X (y the live births among
    ``weight`` women): the likelihood, hence every estimate, is the same.
    ``tol`` bounds the largest |Newton step| at convergence (logit scale)."""
    X = np.asarray(X, dtype=float)
    if X.ndim not in (2, 3):
        raise ValueError(f"X must have shape (trials, n, p) or (n, p); got {X.shape}")
    y = np.asarray(y, dtype=float)
    (T, n), p = y.shape, X.shape[-1]
    m = np.ones((T, n)) if weight is None else np.asarray(weight, dtype=float)
    if weight is not None and not np.all((m >= 0) & (m == np.round(m))):
        raise ValueError("weight must hold whole numbers of women >= 0")
    # blocks of ~2 MB of per-trial design, or of ~8 MB of (trials, rows) arrays
    block = max(1, BLOCK_BYTES // (8 * n * p) if X.ndim == 3 else 4 * BLOCK_BYTES // (8 * n))
    out = []
    with np.errstate(all="ignore"):
        for lo in range(0, max(T, 1), block):
            sl = slice(lo, lo + block)
            absent = m[sl] == 0
            if X.ndim == 2:
                Xt = _Shared(X)
            else:
                Xt = np.ascontiguousarray(X[sl].transpose(0, 2, 1))     # (b, p, n)
                if absent.any():
                    np.copyto(Xt, 0.0, where=absent[:, None, :])
                Xt = _PerTrial(Xt)
            yb = np.where(absent, 0.0, y[sl])
            out.append(_fit_block(Xt, yb, m[sl], max_iter, tol))
    coef, se, ll, est, its = zip(*out)
    return LogisticFit(np.concatenate(coef), np.concatenate(se), np.concatenate(ll),
                       np.concatenate(est), max(its))


def logistic_pvalues(X, y, weight, column: int, sided: str, test: str = "wald"):
    """P-values for coefficient ``column`` (the treatment arm) of a logistic fit.

    Shapes as :func:`fit_logistic`.  ``test="wald"``: z = coef / se.
    ``test="likelihood_ratio"``: LR = 2 (ll_full - ll_without_column), two-sided
    p = chi2(1).sf(LR), one-sided p = norm.sf(sign(coef) sqrt(LR)).
    Returns ``(pvalue, estimable, coefficient)``, each of shape (trials,); where
    not estimable the p-value is 1.0."""
    _check("sided", sided, SIDES)
    _check("test", test, LOGISTIC_TESTS)
    X = np.asarray(X, dtype=float)
    full = fit_logistic(X, y, weight)
    coef = full.coef[:, column]
    estimable = full.estimable
    with np.errstate(all="ignore"):
        if test == "wald":
            z = coef / full.se[:, column]
            two = 2.0 * special.ndtr(-np.abs(z))
        else:
            reduced = fit_logistic(np.delete(X, column, axis=-1), y, weight)
            estimable = estimable & reduced.estimable
            lr = np.maximum(2.0 * (full.loglik - reduced.loglik), 0.0)
            z = np.sign(coef) * np.sqrt(lr)
            two = special.chdtrc(1, lr)
        pv = two if sided == "two" else special.ndtr(-z)
    estimable = estimable & np.isfinite(z)
    return np.where(estimable, np.minimum(pv, 1.0), 1.0), estimable, coef


def cmh_pvalues(x_t, n_t, x_c, n_c, sided: str):
    """Cochran-Mantel-Haenszel test of a common odds ratio of 1.

    Arrays broadcast to shape (trials, strata): events and women per arm per
    stratum (treatment t, control c).  No continuity correction, as statsmodels
    ``StratifiedTable.test_null_odds(correction=False)``.  Two-sided: chi2(1) of
    (sum (x_t - E x_t))**2 / sum var; one-sided (treatment odds higher):
    norm.sf of the signed root.  A stratum with fewer than 2 women, an empty arm,
    or no events / all events contributes nothing; a trial whose total variance
    is 0 is not estimable.  Returns ``(pvalue, estimable)`` of shape (trials,)."""
    _check("sided", sided, SIDES)
    diff, var = _cmh_score(x_t, n_t, x_c, n_c)
    estimable = var > 0
    var = np.where(estimable, var, 1.0)
    root = diff / np.sqrt(var)
    pv = special.chdtrc(1, root * root) if sided == "two" else special.ndtr(-root)
    return np.where(estimable, pv, 1.0), estimable


def _cmh_score(x_t, n_t, x_c, n_c):
    """``(sum over strata of x_t - E[x_t], sum of Var[x_t])`` under odds ratio 1,
    hypergeometric given the stratum margins; shape (trials,)."""
    x_t, n_t, x_c, n_c = np.broadcast_arrays(
        *(np.asarray(a, dtype=float) for a in (x_t, n_t, x_c, n_c)))
    n = n_t + n_c
    s = x_t + x_c
    informative = (n >= 2) & (s > 0) & (s < n) & (n_t > 0) & (n_c > 0)
    nn = np.where(informative, n, 2.0)
    diff = np.sum(np.where(informative, x_t - n_t * s / nn, 0.0), axis=-1)
    var = np.sum(np.where(informative, n_t * s * n_c * (n - s) / (nn * nn * (nn - 1.0)), 0.0),
                 axis=-1)
    return diff, var


def _check(name, value, allowed):
    if value not in allowed:
        raise ValueError(f"`{name}` must be one of {', '.join(allowed)}; got {value!r}")
