"""Group-sequential boundaries by numerical integration.

The standardised statistics Z_1..Z_K at information fractions t_1 < ... < t_K = 1
(or any t_K) follow the canonical joint distribution: Z_k = S(t_k) / sqrt(t_k)
with S a Brownian motion with drift, E S(t) = drift * t, Var S(t) = t, so
``drift`` is the mean of Z at information 1.  Crossing probabilities are
computed by the recursive integration of Armitage, McPherson and Rowe (1969),
as in Jennison and Turnbull (2000, ch. 19): the sub-density of S_k on the
continuation region is carried from look to look on a grid (composite
Simpson's rule), and the probability of crossing at look k is its integral
against the normal tail of the increment.  Bounds are found by root finding on
these probabilities, never by simulation.

Conventions.  Upper bounds reject H0 for efficacy (treatment better).  A
two-sided design is symmetric: it rejects at look k when |Z_k| >= upper_k and
spends alpha in total over both tails.  Lower (futility) bounds apply to
one-sided designs; ``-inf`` means no futility stop at that look.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import optimize, special

GRID = 801              # Simpson points on each look's continuation region (odd)
SPAN = 10.0             # an unbounded region is cut at this many SDs around its mean
SPENDING = ("ld_obrien_fleming", "ld_pocock", "hsd")
CLASSICAL = ("obrien_fleming", "pocock")


_NORMAL_PDF_C = math.sqrt(2 * math.pi)


def normal_pdf(x: np.ndarray, loc: float = 0.0, scale: float = 1.0) -> np.ndarray:
    """``scipy.stats.norm.pdf(x, loc, scale)`` for scale > 0, the same numbers
    bit for bit (its formula, ``exp(-z**2/2) / sqrt(2 pi) / scale``, without
    the per-call handling of arguments, which took most of the time of the
    recursive integration's ~1,400 calls)."""
    z = np.asarray((np.asarray(x, dtype=float) - loc) / scale)
    return np.exp(-z**2/2.0) / _NORMAL_PDF_C / scale


def critical_z(alpha: float, sided: str = "one") -> float:
    """The fixed design's critical value: z_(1 - alpha), or z_(1 - alpha/2) two-sided."""
    return float(-special.ndtri(alpha / 2 if sided == "two" else alpha))


def spent(kind: str, t, alpha: float, gamma: float = -4.0) -> np.ndarray:
    """Cumulative error spent by information fraction ``t`` (clipped to [0, 1]).

    ld_obrien_fleming: 2 - 2 Phi(z_{1-alpha/2} / sqrt(t)) (Lan and DeMets 1983);
    ld_pocock: alpha log(1 + (e - 1) t); hsd: alpha (1 - exp(-gamma t)) /
    (1 - exp(-gamma)) (Hwang, Shih and DeCani 1990), alpha t when gamma = 0."""
    t = np.clip(np.asarray(t, dtype=float), 0.0, 1.0)
    if kind == "ld_obrien_fleming":
        with np.errstate(divide="ignore"):
            # 2 Phi(-x) rather than 2 - 2 Phi(x): no cancellation at early looks
            return np.where(t > 0, 2.0 * special.ndtr(
                -special.ndtri(1 - alpha / 2) / np.sqrt(np.maximum(t, 1e-300))), 0.0)
    if kind == "ld_pocock":
        return alpha * np.log1p((math.e - 1.0) * t)
    if kind == "hsd":
        if gamma == 0:
            return alpha * t
        return alpha * (1.0 - np.exp(-gamma * t)) / (1.0 - math.exp(-gamma))
    raise ValueError(f"`kind` must be one of {', '.join(SPENDING)}; got {kind!r}")


def bracketed_root(f, lo: float, hi: float, xtol: float, wide_lo: float,
                   wide_hi: float) -> float:
    """Brent's root of ``f`` on [lo, hi], or, where ``f`` has the same sign at
    both ends, on the stretch of [wide_lo, wide_hi] beyond one of them (a
    one-sided alpha near 0.5 needs a bound below 0; beta spent almost all at
    the first look needs a larger drift).  The usual bracket is tried first,
    so designs it solves get the same bounds to the last digit."""
    try:
        return optimize.brentq(f, lo, hi, xtol=xtol)
    except ValueError:
        pass
    for a, b in ((wide_lo, lo), (hi, wide_hi)):
        if a < b:
            try:
                return optimize.brentq(f, a, b, xtol=xtol)
            except ValueError:
                continue
    raise ValueError(f"no root between {wide_lo:g} and {wide_hi:g}")


def _simpson(a: float, b: float, n: int = GRID) -> tuple[np.ndarray, np.ndarray]:
    x = np.linspace(a, b, n)
    w = np.ones(n)
    w[1:-1:2], w[2:-1:2] = 4.0, 2.0
    return x, w * (b - a) / (3.0 * (n - 1))


class _Recursion:
    """Sub-densities of S_k on the continuation regions of looks 1..k, built
    look by look; ``cross(k, upper, lower)`` gives the probabilities of
    crossing each bound at look k (not earlier)."""

    def __init__(self, t, drift: float):
        self.t = np.asarray(t, dtype=float)
        self.drift = drift
        self.grids: list[tuple[np.ndarray, np.ndarray]] = []    # (points, weights x density)

    def _increment(self, k):
        dt = self.t[k] - (self.t[k - 1] if k else 0.0)
        return self.drift * dt, math.sqrt(dt)

    def cross(self, k: int, upper: float, lower: float) -> tuple[float, float]:
        """P(S_k >= upper sqrt(t_k), continuing before) and P(S_k <= lower sqrt(t_k), ...)."""
        mean, sd = self._increment(k)
        hi, lo = upper * math.sqrt(self.t[k]), lower * math.sqrt(self.t[k])
        if k == 0:
            return (float(special.ndtr((mean - hi) / sd)), float(special.ndtr((lo - mean) / sd)))
        u, mass = self.grids[k - 1]
        return (float(mass @ special.ndtr((u + mean - hi) / sd)),
                float(mass @ special.ndtr((lo - u - mean) / sd)))

    def advance(self, k: int, upper: float, lower: float) -> None:
        """Carry the sub-density to look k's continuation region (lower, upper)."""
        mean, sd = self._increment(k)
        centre = self.drift * self.t[k]
        spread = SPAN * math.sqrt(self.t[k])
        hi = min(upper * math.sqrt(self.t[k]), centre + spread)
        lo = max(lower * math.sqrt(self.t[k]), centre - spread)
        if not lo < hi:
            self.grids.append((np.zeros(1), np.zeros(1)))
            return
        s, w = _simpson(lo, hi)
        if k == 0:
            density = normal_pdf(s, mean, sd)
        else:
            u, mass = self.grids[k - 1]
            density = mass @ normal_pdf((s[None, :] - u[:, None] - mean) / sd) / sd
        self.grids.append((s, w * density))


def _normal_pdf(z):
    """The standard normal density, as scipy's ``norm.pdf`` computes it (the
    same operations, so the same bits) without its per-call argument
    checks, which cost more than the density on these grids."""
    return np.exp(-z**2 / 2.0) / _SQRT_2PI


_SQRT_2PI = math.sqrt(2 * math.pi)


def crossing(t, upper, lower, drift: float, sided: str = "one") -> tuple[np.ndarray, np.ndarray]:
    """Probabilities of stopping at each look for efficacy and for futility,
    with the standardised drift ``drift`` (the mean of Z at information 1).
    Two-sided: efficacy is |Z| >= upper (both tails), no futility."""
    rec = _Recursion(t, drift)
    up, down = np.zeros(len(t)), np.zeros(len(t))
    for k in range(len(t)):
        lo = -upper[k] if sided == "two" else lower[k]
        a, b = rec.cross(k, upper[k], lo)
        up[k], down[k] = (a + b, 0.0) if sided == "two" else (a, b)
        rec.advance(k, upper[k], lo)
    return up, down


def efficacy_bounds(t, alpha: float, kind: str, sided: str = "one", gamma: float = -4.0,
                    lower=None) -> np.ndarray:
    """Efficacy bounds for cumulative alpha spending (``SPENDING``) or the
    classical Wang-Tsiatis shapes (``CLASSICAL``: O'Brien-Fleming C/sqrt(t),
    Pocock a constant, C chosen to spend exactly alpha).  ``lower``: binding
    futility bounds the efficacy bounds account for (None: non-binding, the
    bounds are computed without futility)."""
    t = np.asarray(t, dtype=float)
    K = len(t)
    low = np.full(K, -np.inf) if lower is None else np.asarray(lower, dtype=float)
    if kind in CLASSICAL:
        shape = t ** -0.5 if kind == "obrien_fleming" else np.ones(K)
        shape = shape / shape[-1] if kind == "obrien_fleming" else shape

        def excess(c):
            return crossing(t, c * shape, low, 0.0, sided)[0].sum() - alpha
        c = bracketed_root(excess, 0.5, 10.0, 1e-10, -10.0, 40.0)
        return c * shape
    targets = np.diff(np.concatenate([[0.0], spent(kind, t / t[-1], alpha, gamma)]))
    rec = _Recursion(t, 0.0)
    bounds = np.empty(K)
    for k in range(K):
        lo = low[k]

        def excess(b):
            a, c = rec.cross(k, b, -b if sided == "two" else lo)
            return (a + c if sided == "two" else a) - targets[k]
        if targets[k] <= 0:
            bounds[k] = np.inf
        else:
            bounds[k] = bracketed_root(excess, 0.0, 40.0, 1e-10, -40.0, 40.0)
        rec.advance(k, bounds[k], -bounds[k] if sided == "two" else lo)
    return bounds


def futility_bounds(t, upper, beta: float, kind: str, drift: float,
                    gamma: float = -2.0) -> np.ndarray:
    """Futility bounds by beta spending: at look k the probability, under the
    drift of the alternative, of stopping for futility there (not having
    stopped before) is beta(t_k) - beta(t_{k-1}), with ``kind`` a spending
    function of ``SPENDING`` applied to beta.  The last bound is the last
    efficacy bound (the trial ends there)."""
    t = np.asarray(t, dtype=float)
    targets = np.diff(np.concatenate([[0.0], spent(kind, t / t[-1], beta, gamma)]))
    rec = _Recursion(t, drift)
    lower = np.empty(len(t))
    for k in range(len(t) - 1):
        def excess(b):
            return rec.cross(k, upper[k], b)[1] - targets[k]
        top = min(upper[k], 40.0)           # no efficacy stop here: upper is inf
        lower[k] = -np.inf if targets[k] <= 0 else optimize.brentq(
            excess, -40.0, top, xtol=1e-10) if excess(top) > 0 else top
        rec.advance(k, upper[k], lower[k])
    lower[-1] = upper[-1]
    return lower


def beta_spending_design(t, upper, alpha: float, beta: float, futility: str,
                         gamma_beta: float = -2.0):
    """Non-binding beta-spending futility bounds for the one-sided efficacy
    bounds ``upper``: the drift (mean of Z at information 1) is found so that
    the futility and efficacy bounds meet at the last look, as gsDesign does
    (``test.type = 4``).  Returns (lower, drift)."""
    z = special.ndtri(1 - alpha) + special.ndtri(1 - beta)     # the fixed design's drift

    def power_gap(drift):
        lower = futility_bounds(t, upper, beta, futility, drift, gamma_beta)
        return crossing(t, upper, lower, drift)[0].sum() - (1 - beta)
    drift = bracketed_root(power_gap, z * 0.8, z * 2.0, 1e-9, 0.0, max(10.0 * z, 40.0))
    return futility_bounds(t, upper, beta, futility, drift, gamma_beta), drift


def drift_for_power(t, upper, lower, power: float, sided: str = "one") -> float:
    """The drift (mean of Z at information 1) at which the design rejects with
    probability ``power``."""
    def gap(drift):
        return crossing(t, upper, lower, drift, sided)[0].sum() - power
    hi = 1.0
    while gap(hi) < 0:
        hi *= 2
    return optimize.brentq(gap, 0.0, hi, xtol=1e-10)
