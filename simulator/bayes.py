"""Exact Bayesian quantities for a two-arm binary trial, tabulated over every 2x2 outcome.

Treatment (t) and control (c) rates have independent Beta priors ``(a, b)``; after
``x`` events in ``n`` women an arm's posterior is ``Beta(a + x, b + n - x)``.

Posterior superiority.  For X ~ Beta(α, β), Y ~ Beta(γ, δ) independent,
h(α, β, γ, δ) = P(X > Y) obeys (J. D. Cook, "Exact calculation of beta
inequalities", 2005; signs checked numerically)::

    h(α+1, β, γ, δ) = h + g/α      h(α, β+1, γ, δ) = h - g/β
    h(α, β, γ+1, δ) = h - g/γ      h(α, β, γ, δ+1) = h + g/δ
    g(α, β, γ, δ) = B(α+γ, β+δ) / (B(α, β) B(γ, δ)).

Combining two of them, one more treatment event (α+1, β-1) adds, and one more
control event (γ+1, δ-1) subtracts, the positive amount

    u = B(α+γ, β+δ-1) / (B(α, β) B(γ, δ)),  divided by α (resp. by γ).

One quadrature, at the priors, gives h(a_t, b_t, a_c, b_c); Cook's recurrences in
β and δ carry it to the table's corner [0, 0], and cumulative sums of the positive
steps u (in log space; B(α+γ, β+δ-1) depends on x_t + x_c only) fill row 0 and
then every column.  Error: ~1e-15 from the quadrature plus the rounding of
log-beta values of size ~n in the sums, ~1e-12 absolute for arms of thousands.

Predictive probability of success at an interim look with x of n_k in an arm:
future events y of the remaining m = n - n_k are BetaBinomial(m, a + x, b + n_k - x),
independent between arms, so P = A_t @ success @ A_c.T with A[x, x + y] = pmf(y).
"""
from __future__ import annotations

import math
import operator

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import integrate, special, stats

_QUANTILES = np.array([1e-15, 1e-10, 1e-6, 1e-3, 0.02, 0.15, 0.5, 0.85, 0.98,
                       1 - 1e-3, 1 - 1e-6, 1 - 1e-10, 1 - 1e-15])


def _size(value, name: str) -> int:
    try:
        size = operator.index(value)
    except TypeError:
        size = -1
    if isinstance(value, bool) or size < 0:
        raise ValueError(f"`{name}` must be an integer >= 0; got {value!r}")
    return size


def _prior(value, name: str) -> tuple[float, float]:
    try:
        a, b = (float(v) for v in value)
    except (TypeError, ValueError):
        a = b = math.nan
    if not (0 < a < math.inf and 0 < b < math.inf):
        raise ValueError(f"`{name}` must be two numbers > 0; got {value!r}")
    return a, b


def _g(a, b, c, d):
    """Cook's g(a, b, c, d) = B(a + c, b + d) / (B(a, b) B(c, d)), vectorised."""
    return np.exp(special.betaln(a + c, b + d) - special.betaln(a, b) - special.betaln(c, d))


def _superiority(a: float, b: float, c: float, d: float) -> float:
    """P(X > Y), X ~ Beta(a, b), Y ~ Beta(c, d): quadrature of f_X F_Y with every parameter
    raised to >= 2 by whole steps (a smooth integrand), then Cook's recurrences back down."""
    raise_by = [max(0, math.ceil(2 - p)) for p in (a, b, c, d)]
    if any(raise_by):
        up = [p + r for p, r in zip((a, b, c, d), raise_by)]
        h = _superiority(*up)
        for k, sign in enumerate((-1, 1, 1, -1)):      # undo the raise of a, then b, c, d
            for r in reversed(range(raise_by[k])):
                up[k] = (a, b, c, d)[k] + r
                h += sign * _g(*up) / up[k]
        return h
    log_norm = special.betaln(a, b)

    def integrand(x: float) -> float:
        if not 0.0 < x < 1.0:
            return 0.0
        log_f = (a - 1) * math.log(x) + (b - 1) * math.log1p(-x) - log_norm
        return math.exp(log_f) * special.betainc(c, d, x)

    cuts = np.unique(np.concatenate(([0.0, 1.0], stats.beta.ppf(_QUANTILES, a, b),
                                     stats.beta.ppf(_QUANTILES, c, d))))
    return math.fsum(integrate.quad(integrand, lo, hi, epsabs=1e-16, epsrel=1e-14, limit=200)[0]
                     for lo, hi in zip(cuts[:-1], cuts[1:]))


def posterior_superiority(n_t: int, n_c: int, prior_t: tuple[float, float],
                          prior_c: tuple[float, float]) -> np.ndarray:
    """P(p_t > p_c | x_t of n_t, x_c of n_c): array of shape (n_t + 1, n_c + 1) over [x_t, x_c]."""
    n_t, n_c = _size(n_t, "n_t"), _size(n_c, "n_c")
    (a_t, b_t), (a_c, b_c) = _prior(prior_t, "prior_t"), _prior(prior_c, "prior_c")
    # [0, 0] = h(a_t, b_t + n_t, a_c, b_c + n_c): from the prior, raise b (h - g/b), then d (h + g/d)
    k_t, k_c = np.arange(n_t), np.arange(n_c)
    h00 = (_superiority(a_t, b_t, a_c, b_c) - math.fsum(_g(a_t, b_t + k_t, a_c, b_c) / (b_t + k_t))
           + math.fsum(_g(a_t, b_t + n_t, a_c, b_c + k_c) / (b_c + k_c)))
    alpha, beta = a_t + np.arange(n_t + 1), b_t + n_t - np.arange(n_t + 1)
    gamma, delta = a_c + np.arange(n_c + 1), b_c + n_c - np.arange(n_c + 1)
    log_bt, log_bc = special.betaln(alpha, beta), special.betaln(gamma, delta)
    # log B(α+γ, β+δ-1) on s = x_t + x_c = 0 .. n_t + n_c - 1, padded with an unused 0
    s = np.arange(n_t + n_c)
    log_joint = np.append(special.betaln(a_t + a_c + s, b_t + b_c + n_t + n_c - 1 - s), 0.0)
    h = np.empty((n_t + 1, n_c + 1))
    # row x_t = 0: one more control event subtracts u / γ
    h[0, 0] = h00
    h[0, 1:] = h00 - np.cumsum(np.exp(log_joint[:n_c] - log_bt[0] - log_bc[:n_c] - np.log(gamma[:n_c])))
    # every column: one more treatment event adds u / α; step[i, j] takes x_t = i to i + 1
    step = sliding_window_view(log_joint, n_c + 1)[:n_t] - (log_bt + np.log(alpha))[:n_t, None]
    step -= log_bc
    np.exp(step, out=step)
    np.cumsum(step, axis=0, out=step)
    h[1:] = h[0] + step
    return np.clip(h, 0.0, 1.0, out=h)


def _transition(n_k: int, n: int, a: float, b: float) -> np.ndarray:
    """A[x, x + y] = BetaBinomial(y; n - n_k, a + x, b + n_k - x): shape (n_k + 1, n + 1)."""
    x, y = np.arange(n_k + 1)[:, None], np.arange(n - n_k + 1)[None, :]
    A = np.zeros((n_k + 1, n + 1))
    A[x, x + y] = stats.betabinom.pmf(y, n - n_k, a + x, b + n_k - x)
    return A


def predictive_success(n_t_k: int, n_c_k: int, success: np.ndarray, prior_t: tuple[float, float],
                       prior_c: tuple[float, float]) -> np.ndarray:
    """Predictive probability of final success at an interim look with n_t_k, n_c_k women.

    ``success`` (shape (n_t + 1, n_c + 1), bool or 0/1) marks the final outcomes
    [x_t, x_c] that succeed.  Returns shape (n_t_k + 1, n_c_k + 1) over interim [x_t, x_c].
    """
    success = np.asarray(success, dtype=float)
    if success.ndim != 2:
        raise ValueError(f"`success` must be a 2-d table over [x_t, x_c]; got shape {success.shape}")
    n_t, n_c = success.shape[0] - 1, success.shape[1] - 1
    n_t_k, n_c_k = _size(n_t_k, "n_t_k"), _size(n_c_k, "n_c_k")
    if n_t_k > n_t or n_c_k > n_c:
        raise ValueError(f"`n_t_k`, `n_c_k` must be at most the final sizes {n_t}, {n_c} "
                         f"(from `success`); got {n_t_k}, {n_c_k}")
    (a_t, b_t), (a_c, b_c) = _prior(prior_t, "prior_t"), _prior(prior_c, "prior_c")
    p = _transition(n_t_k, n_t, a_t, b_t) @ success @ _transition(n_c_k, n_c, a_c, b_c).T
    return np.clip(p, 0.0, 1.0, out=p)
