"""Design priors: what is believed about the true live-birth rates before the trial.

Two kinds, both immutable and vectorised:

* :class:`BetaMixture`, a prior on one arm's rate: a mixture of Beta
  distributions (one component for a plain Beta, the power-prior posterior of
  historical counts, or a robust mixture with a vague component).
* :class:`Effect`, the treatment arm given relative to control: an odds ratio,
  risk ratio or risk difference, as a point or as a normal prior on its
  analysis scale (log odds ratio, log risk ratio, risk difference).

Each offers what the engines need: the mean (a planning value), quadrature
nodes for exact integration, draws for simulation (numpy's Beta and normal
generators, once per simulated trial, so that a trial keeps its rates at
every size), and the prior predictive distribution of an arm's event count.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import special


def _betabinom_pmf(k, n: int, a: float, b: float) -> np.ndarray:
    """``scipy.stats.betabinom.pmf(k, n, a, b)`` for counts 0 <= k <= n and
    a, b > 0: scipy's own formula, term for term, without importing
    ``scipy.stats``."""
    k = np.floor(np.asarray(k))
    combiln = -np.log(n + 1) - special.betaln(n - k + 1, k + 1)
    return np.clip(np.exp(combiln + special.betaln(k + a, n - k + b) - special.betaln(a, b)),
                   0, 1)


@lru_cache(maxsize=64)
def _hermite(order: int) -> tuple[np.ndarray, np.ndarray]:
    """``special.roots_hermitenorm(order)``, computed once per order (an
    eigenvalue problem; assurance asks for the same orders at every size)."""
    t, w = special.roots_hermitenorm(order)
    t.setflags(write=False)
    w.setflags(write=False)
    return t, w


@lru_cache(maxsize=256)
def _jacobi(order: int, alpha: float, beta: float) -> tuple[np.ndarray, np.ndarray]:
    """``special.roots_jacobi(order, alpha, beta)``, computed once."""
    t, v = special.roots_jacobi(order, alpha, beta)
    t.setflags(write=False)
    v.setflags(write=False)
    return t, v


SCALES = ("odds_ratio", "risk_ratio", "risk_difference")
JACOBI_MAX = 2000.0         # Beta components with a + b above this use quantile-scale nodes
DIFFERENCE_TOLERANCE = 1e-12    # "p_t - p_c > d" means more than d + 1e-12 (exact ties are no excess)
Z975 = 1.959963984540054


@dataclass(frozen=True)
class BetaMixture:
    """Mixture of Beta(a_k, b_k) with weights w_k (summing to 1)."""
    weights: tuple[float, ...]
    a: tuple[float, ...]
    b: tuple[float, ...]

    @classmethod
    def beta(cls, a: float, b: float) -> "BetaMixture":
        return cls((1.0,), (float(a),), (float(b),))

    @property
    def mean(self) -> float:
        return float(sum(w * a / (a + b) for w, a, b in zip(self.weights, self.a, self.b)))

    @property
    def sd(self) -> float:
        second = sum(w * a * (a + 1) / ((a + b) * (a + b + 1))
                     for w, a, b in zip(self.weights, self.a, self.b))
        return math.sqrt(max(second - self.mean ** 2, 0.0))

    def cdf(self, x) -> np.ndarray:
        x = np.clip(np.asarray(x, dtype=float), 0.0, 1.0)
        return sum(w * special.betainc(a, b, x) for w, a, b in zip(self.weights, self.a, self.b))

    def ppf(self, q: float) -> float:
        """Quantile (by root finding on the mixture CDF)."""
        if len(self.weights) == 1:
            return float(special.betaincinv(self.a[0], self.b[0], q))
        from scipy.optimize import brentq
        return float(brentq(lambda x: self.cdf(x) - q, 0.0, 1.0, xtol=1e-12))

    def nodes(self, order: int) -> tuple[np.ndarray, np.ndarray]:
        """Nodes and weights (summing to 1) for E[f(p)], per component:
        Gauss-Jacobi, exact for polynomials in p of degree below 2 * order (the
        power of a trial with n women in the arm is a polynomial of degree n in
        the arm's rate); for a concentrated component (a + b above
        ``JACOBI_MAX``, where scipy's Jacobi weights overflow) Gauss-Legendre
        on the component's quantile scale, p = F^-1(u)."""
        xs, ws = [], []
        for w, a, b in zip(self.weights, self.a, self.b):
            x = v = None
            if a + b <= JACOBI_MAX:
                with np.errstate(all="ignore"):
                    t, v = _jacobi(order, b - 1.0, a - 1.0)
                x = (1.0 + t) / 2.0
            if v is None or not (np.all(np.isfinite(v)) and np.all(np.isfinite(x))
                                 and v.sum() > 0):
                t, v = special.roots_legendre(order)
                x = special.betaincinv(a, b, (1.0 + t) / 2.0)
            xs.append(x)
            ws.append(w * v / v.sum())
        return np.concatenate(xs), np.concatenate(ws)

    def draw(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """``size`` rates: the component by the weights, then numpy's Beta draw."""
        a, b = np.asarray(self.a), np.asarray(self.b)
        if len(self.weights) > 1:
            k = np.searchsorted(np.cumsum(self.weights)[:-1], rng.random(size), side="right")
            a, b = a[k], b[k]
        return rng.beta(a, b, size)

    def predictive_pmf(self, n: int, counts: np.ndarray) -> np.ndarray:
        """Prior predictive probability of each event count among n women: a
        mixture of beta-binomial distributions."""
        return sum(w * _betabinom_pmf(counts, n, a, b)
                   for w, a, b in zip(self.weights, self.a, self.b))

    def to_dict(self) -> dict:
        lo, hi = self.ppf(0.025), self.ppf(0.975)
        comps = [{"weight": w, "beta": [a, b]} for w, a, b in zip(self.weights, self.a, self.b)]
        return {"distribution": "beta" if len(comps) == 1 else "beta_mixture",
                "components": comps, "mean": self.mean, "sd": self.sd,
                "interval95": [lo, hi]}

    def describe(self) -> str:
        parts = [f"Beta({a:.4g}, {b:.4g})" for a, b in zip(self.a, self.b)]
        if len(parts) == 1:
            return parts[0]
        return " + ".join(f"{w:g} x {p}" for w, p in zip(self.weights, parts))


@dataclass(frozen=True)
class Effect:
    """The treatment rate relative to control's: on its analysis scale theta
    (log odds ratio, log risk ratio, or risk difference), a point (sd = 0)
    or a normal prior N(mean, sd^2)."""
    scale: str
    mean: float
    sd: float = 0.0

    @property
    def is_point(self) -> bool:
        return self.sd == 0.0

    def treatment_rate(self, rate_control, theta=None):
        """Treatment rate for control rate(s) and effect(s) theta (default:
        the mean).  Risk ratios and differences that would leave [0, 1] are
        clipped to it (the treatment rate cannot pass 1, nor fall below 0)."""
        p = np.asarray(rate_control, dtype=float)
        t = np.asarray(self.mean if theta is None else theta, dtype=float)
        if self.scale == "odds_ratio":
            odds = np.exp(t)
            with np.errstate(invalid="ignore"):
                out = np.where(p >= 1.0, 1.0, p * odds / (1.0 - p + p * odds))
        elif self.scale == "risk_ratio":
            out = np.minimum(p * np.exp(t), 1.0)
        else:
            out = np.clip(p + t, 0.0, 1.0)
        return out

    def threshold(self, rate_control, difference: float) -> np.ndarray:
        """theta at which the treatment rate is ``rate_control + difference``
        (+inf where that is 1 or more: no effect reaches it)."""
        p = np.asarray(rate_control, dtype=float)
        q = p + difference
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.scale == "odds_ratio":
                out = np.log(q * (1.0 - p)) - np.log(p * (1.0 - q))
            elif self.scale == "risk_ratio":
                out = np.log(q / p)
            else:
                out = np.full(p.shape, float(difference))
        return np.where(q >= 1.0, np.inf, out)

    def nodes(self, order: int) -> tuple[np.ndarray, np.ndarray]:
        """Gauss-Hermite nodes and weights (summing to 1) for E[f(theta)]."""
        if self.is_point:
            return np.array([self.mean]), np.array([1.0])
        t, w = _hermite(order)
        return self.mean + self.sd * t, w / w.sum()

    def draw(self, rng: np.random.Generator, size: int) -> np.ndarray:
        if self.is_point:
            return np.full(size, self.mean)
        return self.mean + self.sd * rng.standard_normal(size)

    @property
    def natural(self) -> float:
        """The planning (prior median) effect on its natural scale (OR, RR, RD)."""
        return self.mean if self.scale == "risk_difference" else math.exp(self.mean)

    def to_dict(self) -> dict:
        d = {"scale": self.scale, "value": self.natural,
             "distribution": "point" if self.is_point else "normal",
             "analysis_scale": "risk difference" if self.scale == "risk_difference"
             else f"log {self.scale.replace('_', ' ')}",
             "mean": self.mean, "sd": self.sd}
        if not self.is_point:
            lo, hi = self.mean - Z975 * self.sd, self.mean + Z975 * self.sd
            d["interval95"] = [lo, hi] if self.scale == "risk_difference" else \
                [math.exp(lo), math.exp(hi)]
        return d


@dataclass(frozen=True)
class RateModel:
    """What the trial's true rates are believed to be: each arm a point rate or
    a prior; the treatment arm either its own (independent of control) or
    relative to control through an :class:`Effect`."""
    control_rate: float                       # planning value
    control_prior: BetaMixture | None
    treatment_rate: float                     # planning value
    treatment_prior: BetaMixture | None = None
    effect: Effect | None = None

    @property
    def is_point(self) -> bool:
        return (self.control_prior is None and self.treatment_prior is None
                and (self.effect is None or self.effect.is_point))

    def control_nodes(self, order: int):
        if self.control_prior is None:
            return np.array([self.control_rate]), np.array([1.0])
        return self.control_prior.nodes(order)

    def draw(self, rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
        """(treatment, control) true rates of ``size`` simulated trials, drawn
        from the priors in a fixed order (control, then treatment or effect)."""
        p_c = (np.full(size, self.control_rate) if self.control_prior is None
               else self.control_prior.draw(rng, size))
        if self.effect is not None:
            p_t = self.effect.treatment_rate(p_c, self.effect.draw(rng, size))
        elif self.treatment_prior is not None:
            p_t = self.treatment_prior.draw(rng, size)
        else:
            p_t = np.full(size, self.treatment_rate)
        return p_t, p_c

    def probability_difference_above(self, difference: float) -> float:
        """Prior probability that p_treatment - p_control > difference.

        Closed forms where the event is a set of control rates (point rates,
        or a point effect: the difference is unimodal in the control rate, so
        the set is an interval whose ends are found by root finding); otherwise
        adaptive quadrature over the control prior's quantile scale of a
        smooth integrand (requested error 1e-9).  A difference equal to
        ``difference`` up to 1e-12 does not count as above it."""
        d = float(difference) + DIFFERENCE_TOLERANCE
        effect = self.effect
        if self.control_prior is None:
            p_c = self.control_rate
            if effect is not None and not effect.is_point:
                theta = float(effect.threshold(p_c, d))
                return float(special.ndtr((effect.mean - theta) / effect.sd))
            if self.treatment_prior is not None:
                return float(1.0 - self.treatment_prior.cdf(p_c + d))
            return float(self.treatment_rate - p_c > d)
        prior = self.control_prior
        if effect is None and self.treatment_prior is None:
            return float(prior.cdf(self.treatment_rate - d)) if self.treatment_rate > d else 0.0
        if effect is not None and effect.is_point:
            return float(sum(float(prior.cdf(hi) - prior.cdf(lo))
                             for lo, hi in _intervals_above(
                                 lambda p: effect.treatment_rate(p) - p, d)))

        def given_control(p_c: float) -> float:
            if effect is not None:
                theta = float(effect.threshold(p_c, d))
                return float(special.ndtr((effect.mean - theta) / effect.sd))
            return float(1.0 - self.treatment_prior.cdf(p_c + d))

        from scipy.integrate import quad     # (a tenth of a second to import: only here)
        total = 0.0
        for w, a, b in zip(prior.weights, prior.a, prior.b):
            value, _ = quad(lambda u: given_control(float(special.betaincinv(a, b, u))),
                            0.0, 1.0, epsabs=1e-9, epsrel=1e-9, limit=500)
            total += w * value
        return float(min(max(total, 0.0), 1.0))


def _intervals_above(difference, d: float, points: int = 4001) -> list[tuple[float, float]]:
    """Intervals of control rates in [0, 1] where ``difference(p) > d``: signs on
    a fine grid, each change refined by root finding (the difference of a point
    effect is unimodal in p, so there is at most one interval)."""
    from scipy.optimize import brentq
    grid = np.linspace(0.0, 1.0, points)
    above = np.asarray(difference(grid)) > d
    out, start = [], None
    for i in range(points):
        if above[i] and start is None:
            start = 0.0 if i == 0 else brentq(lambda p: float(difference(p)) - d,
                                               grid[i - 1], grid[i], xtol=1e-14)
        if start is not None and (not above[i] or i == points - 1):
            end = 1.0 if above[i] else brentq(lambda p: float(difference(p)) - d,
                                              grid[i - 1], grid[i], xtol=1e-14)
            out.append((start, end))
            start = None
    return out
