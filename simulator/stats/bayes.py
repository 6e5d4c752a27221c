"""Exact Bayesian quantities for a two-arm binary trial, tabulated over every 2x2 outcome.

Treatment (t) and control (c) rates have independent Beta priors ``(a, b)``; after ``x``
events in ``n`` women an arm's posterior is ``Beta(a + x, b + n - x)``.  For X ~ Beta(α, β),
Y ~ Beta(γ, δ) independent, h(α, β, γ, δ) = P(X > Y) obeys (J. D. Cook, "Exact
calculation of beta inequalities", 2005; signs checked numerically)::

    h(α+1, β, γ, δ) = h + g/α      h(α, β+1, γ, δ) = h - g/β
    h(α, β, γ+1, δ) = h - g/γ      h(α, β, γ, δ+1) = h + g/δ
    g(α, β, γ, δ) = B(α+γ, β+δ) / (B(α, β) B(γ, δ)).

Hence one more treatment event (α+1, β-1) adds, and one more control event (γ+1, δ-1)
subtracts, u / α (resp. u / γ) with u = B(α+γ, β+δ-1) / (B(α, β) B(γ, δ)) > 0.
One quadrature at the priors gives h(a_t, b_t, a_c, b_c); the β and δ recurrences carry
it to the table's corner [0, 0]; cumulative sums of the positive steps (in log space;
B(α+γ, β+δ-1) depends on x_t + x_c only) fill row 0, then every column.  Absolute error:
~1e-15 from the quadrature plus the rounding of scipy's log-beta values (~n 1e-15),
about 3e-12 for arms of 2000.  The table is monotone: increasing in x_t, decreasing in x_c.

Predictive probability of success at an interim look with x of n_k in an arm: future
events y of the remaining n - n_k are BetaBinomial(n - n_k, a + x, b + n_k - x),
independent between arms, so P = A_t @ success @ A_c.T with A[x, x + y] = pmf(y).
"""
from __future__ import annotations

import math
import operator

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import special

_QUANTILES = np.array([1e-15, 1e-10, 1e-6, 1e-3, 0.02, 0.15, 0.5, 0.85, 0.98,
                       1 - 1e-3, 1 - 1e-6, 1 - 1e-10, 1 - 1e-15])


def _size(value, name: str) -> int:
    try:
        if not isinstance(value, bool) and operator.index(value) >= 0:
            return operator.index(value)
    except TypeError:
        pass
    raise ValueError(f"`{name}` must be an integer >= 0; got {value!r}")


def _prior(value, name: str) -> tuple[float, float]:
    try:
        a, b = (float(v) for v in value)
        if 0 < a < math.inf and 0 < b < math.inf:
            return a, b
    except (TypeError, ValueError):
        pass
    raise ValueError(f"`{name}` must be two numbers > 0; got {value!r}")


def _g(a, b, c, d):
    """Cook's g(a, b, c, d) = B(a + c, b + d) / (B(a, b) B(c, d)), vectorised."""
    return np.exp(special.betaln(a + c, b + d) - special.betaln(a, b) - special.betaln(c, d))


def _superiority(a: float, b: float, c: float, d: float) -> float:
    """P(X > Y), X ~ Beta(a, b), Y ~ Beta(c, d): quadrature of f_X F_Y with every parameter
    raised to >= 2 by whole steps (a smooth integrand), then Cook's recurrences back down."""
    from scipy import integrate, stats      # (slow to import: only when needed)
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
        return math.exp((a - 1) * math.log(x) + (b - 1) * math.log1p(-x) - log_norm) \
            * special.betainc(c, d, x)

    cuts = np.unique(np.concatenate(([0.0, 1.0], stats.beta.ppf(_QUANTILES, a, b),
                                     stats.beta.ppf(_QUANTILES, c, d))))
    return math.fsum(integrate.quad(integrand, lo, hi, epsabs=1e-15, epsrel=1e-13, limit=200)[0]
                     for lo, hi in zip(cuts[:-1], cuts[1:]))


def posterior_superiority(n_t: int, n_c: int, prior_t: tuple[float, float],
                          prior_c: tuple[float, float]) -> np.ndarray:
    """P(p_t > p_c | x_t of n_t, x_c of n_c): shape (n_t + 1, n_c + 1), indexed [x_t, x_c]."""
    n_t, n_c = _size(n_t, "n_t"), _size(n_c, "n_c")
    (a_t, b_t), (a_c, b_c) = _prior(prior_t, "prior_t"), _prior(prior_c, "prior_c")
    # [0, 0] = h(a_t, b_t + n_t, a_c, b_c + n_c): from the priors raise b (- g/b), then d (+ g/d)
    k_t, k_c = np.arange(n_t), np.arange(n_c)
    h00 = (_superiority(a_t, b_t, a_c, b_c) - math.fsum(_g(a_t, b_t + k_t, a_c, b_c) / (b_t + k_t))
           + math.fsum(_g(a_t, b_t + n_t, a_c, b_c + k_c) / (b_c + k_c)))
    alpha, gamma = a_t + np.arange(n_t + 1), a_c + np.arange(n_c + 1)
    log_bt = special.betaln(alpha, b_t + n_t - np.arange(n_t + 1))
    log_bc = special.betaln(gamma, b_c + n_c - np.arange(n_c + 1))
    s = np.arange(n_t + n_c)            # log B(α+γ, β+δ-1) at x_t + x_c = s, padded with 0
    log_joint = np.append(special.betaln(a_t + a_c + s, b_t + b_c + n_t + n_c - 1 - s), 0.0)
    h = np.empty((n_t + 1, n_c + 1))
    h[0, 0] = h00                       # row x_t = 0: each control event subtracts u / γ
    h[0, 1:] = h00 - np.cumsum(np.exp(log_joint[:n_c] - log_bt[0] - log_bc[:-1]
                                      - np.log(gamma[:-1])))
    # every column: each treatment event adds u / α; step[i, j] takes x_t = i to i + 1
    step = sliding_window_view(log_joint, n_c + 1)[:n_t] - (log_bt + np.log(alpha))[:-1, None]
    step -= log_bc
    np.exp(step, out=step)
    h[1:] = h[0] + np.cumsum(step, axis=0, out=step)
    # rounding (~1e-12) can break the decrease in x_c; a running minimum restores it, keeps
    # the increase in x_t and, the exact table being monotone, does not add to the error
    np.minimum.accumulate(h, axis=1, out=h)
    return np.clip(h, 0.0, 1.0, out=h)


def predictive_success(n_t_k: int, n_c_k: int, success: np.ndarray, prior_t: tuple[float, float],
                       prior_c: tuple[float, float]) -> np.ndarray:
    """Predictive probability that the final analysis succeeds, at an interim look after
    n_t_k, n_c_k women: shape (n_t_k + 1, n_c_k + 1), indexed by the interim [x_t, x_c].

    ``success`` (shape (n_t + 1, n_c + 1), bool or 0/1) marks the final [x_t, x_c] that succeed.
    """
    from scipy import stats
    success = np.asarray(success, dtype=float)
    if success.ndim != 2:
        raise ValueError(f"`success` must be a 2-d table over [x_t, x_c]; "
                         f"got shape {success.shape}")
    n_t_k, n_c_k = _size(n_t_k, "n_t_k"), _size(n_c_k, "n_c_k")
    if n_t_k >= success.shape[0] or n_c_k >= success.shape[1]:
        raise ValueError(f"`n_t_k`, `n_c_k` must be at most the final sizes n_t, n_c (`success` "
                         f"has shape {success.shape}); got {n_t_k}, {n_c_k}")
    transitions = []
    for n_k, n, name, prior in ((n_t_k, success.shape[0] - 1, "prior_t", prior_t),
                                (n_c_k, success.shape[1] - 1, "prior_c", prior_c)):
        a, b = _prior(prior, name)
        x, y = np.arange(n_k + 1)[:, None], np.arange(n - n_k + 1)
        A = np.zeros((n_k + 1, n + 1))
        A[x, x + y] = stats.betabinom.pmf(y, n - n_k, a + x, b + n_k - x)
        transitions.append(A)
    p = transitions[0] @ success @ transitions[1].T
    return np.clip(p, 0.0, 1.0, out=p)
