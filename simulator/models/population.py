"""The patient-level model of a trial: who is randomised, what determines her
chance of a live birth, who drops out or crosses over.

A woman in stratum s, at centre c, with covariates x, who *receives* arm r has
a live birth with probability

    expit(a[s, r] + sum_j f_j(x_j) + u_c),      u_c ~ N(0, centres.sd_log_odds^2),

where f_j is the covariate's effect on the log-odds (linear for continuous
covariates, one value per level for categorical ones) and u_c the centre's
random intercept, drawn once per simulated trial.  The stratum's rates in the
scenario are *population-average* rates (what the study observed): the
intercept a[s, r] is calibrated so that averaging over the covariates and
the centres gives exactly the stated rate, E[expit(a + Z)] = p with
Z = sum_j f_j(x_j) + u_c.  So adding a covariate or centre heterogeneity
changes who has a live birth, not how many: power differences between
analyses are what adjustment buys, not a changed effect.

The average is computed by quadrature over Z's distribution (Gauss-Hermite
for normal terms, Gauss-Legendre in the probability scale for truncated
normals, the levels for categorical ones), and inverted on a fine grid of
intercepts.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy import special

from .priors import RateModel
from .recruitment import Recruitment

_HERMITE = 48           # nodes per normal term
_LEGENDRE = 64          # nodes per truncated-normal term
_MAX_NODES = 1024       # Z's distribution is merged to at most this many atoms
# a category drawn among at most this many edges is counted by comparisons
_COMPARED_EDGES = 64
_GRID = np.linspace(-25.0, 25.0, 10001)     # intercepts tabulated, step 0.005


@dataclass(frozen=True)
class Covariate:
    name: str
    distribution: str               # normal | truncated_normal | categorical
    mean: float = 0.0
    sd: float = 1.0
    lower: float = -np.inf
    upper: float = np.inf
    log_odds_per_unit: float = 0.0
    resolution: float | None = None     # values recorded to this precision (rounded)
    levels: tuple = ()
    probabilities: tuple = ()
    log_odds: tuple = ()

    @classmethod
    def of(cls, name: str, spec: dict) -> "Covariate":
        spec = dict(spec)
        for key in ("levels", "probabilities", "log_odds"):
            if key in spec:
                spec[key] = tuple(spec[key])
        return cls(name, **spec)

    @property
    def categorical(self) -> bool:
        return self.distribution == "categorical"

    @property
    def discrete(self) -> bool:
        return self.categorical or self.resolution is not None

    def draw(self, u: np.ndarray) -> np.ndarray:
        """Values from uniforms ``u`` by inversion, so that woman i's value is
        fixed by her uniform; a discrete covariate (categorical, or recorded to
        a ``resolution``) gives level indices into :meth:`grid`."""
        if self.discrete:
            return category(np.cumsum(self.grid()[1])[:-1], u)
        lo, hi = self._bounds_probability()
        return self.mean + self.sd * special.ndtri(lo + u * (hi - lo))

    def grid(self) -> tuple[np.ndarray, np.ndarray]:
        """A discrete covariate's levels (level indices if categorical, else the
        recorded values) and their probabilities."""
        return self._grid

    @cached_property
    def _grid(self) -> tuple[np.ndarray, np.ndarray]:
        if self.categorical:
            return np.arange(len(self.levels)), np.asarray(self.probabilities, float)
        r = self.resolution
        lo = max(self.lower, self.mean - 9 * self.sd)
        hi = min(self.upper, self.mean + 9 * self.sd)
        values = r * np.arange(np.round(lo / r), np.round(hi / r) + 1)
        # P(value) = P(x within half a resolution of it), x the (truncated) normal
        edges = special.ndtr((np.append(values - r / 2, values[-1] + r / 2) - self.mean) / self.sd)
        a, b = self._bounds_probability()
        mass = np.diff(np.clip(edges, a, b))
        return values[mass > 0], mass[mass > 0] / mass.sum()

    def value(self, drawn: np.ndarray) -> np.ndarray:
        """The covariate's value (a level index if categorical) of what :meth:`draw` gave."""
        if self.discrete and not self.categorical:
            return self.grid()[0][drawn]
        return drawn

    def effect(self, drawn: np.ndarray) -> np.ndarray:
        """Contribution to the log-odds of live birth."""
        if self.categorical:
            return np.asarray(self.log_odds)[drawn]
        return self.log_odds_per_unit * (self.value(drawn) - self.mean)

    def nodes(self) -> tuple[np.ndarray, np.ndarray]:
        """Quadrature of the contribution's distribution: values and weights."""
        if self.discrete:
            probabilities = self.grid()[1]
            return self.effect(np.arange(len(probabilities))), probabilities
        if self.distribution == "normal":
            x, w = special.roots_hermitenorm(_HERMITE)
            return self.log_odds_per_unit * self.sd * x, w / w.sum()
        x, w = special.roots_legendre(_LEGENDRE)
        lo, hi = self._bounds_probability()
        values = self.mean + self.sd * special.ndtri(lo + (x + 1) / 2 * (hi - lo))
        return self.effect(values), w / 2

    def _bounds_probability(self) -> tuple[float, float]:
        if self.distribution == "normal":
            return 0.0, 1.0
        return (float(special.ndtr((self.lower - self.mean) / self.sd)),
                float(special.ndtr((self.upper - self.mean) / self.sd)))

    def columns(self, drawn: np.ndarray) -> list[np.ndarray]:
        """Regression columns: the value centred at the distribution's `mean`
        (only the intercept changes, and the fit is better conditioned), or an
        indicator per non-first level."""
        if self.categorical:
            return [(drawn == k).astype(float) for k in range(1, len(self.levels))]
        return [self.value(drawn).astype(float) - self.mean]


@dataclass(frozen=True)
class Stratum:
    name: str
    share: float
    rates: RateModel            # population-average rates (points or priors) in this stratum


@dataclass(frozen=True)
class PatientModel:
    strata: tuple[Stratum, ...]
    covariates: tuple[Covariate, ...] = ()
    centre_weights: tuple[float, ...] = (1.0,)
    centre_sd: float = 0.0
    randomisation: str = "fixed"            # fixed | simple | block | stratified_block
    block_sizes: tuple[int, ...] = ()
    dropout: float = 0.0
    dropout_handling: str = "complete_case"    # complete_case | as_failure
    not_receiving: float = 0.0              # treatment arm women not receiving IVIg
    receiving_outside: float = 0.0          # control women receiving it outside the trial
    miscarriage: tuple[float, float] | None = None      # (treatment, control), among failures
    recruitment: Recruitment | None = None
    target_months: float | None = None
    target_probability: float = 0.8
    primary: str = "pooled"                 # pooled | cmh | logistic
    adjust: tuple[str, ...] = ()            # `stratum` and covariate names
    logistic_test: str = "wald"
    allocation_share: float = 0.5           # treatment share of randomised women

    @property
    def shares(self) -> np.ndarray:
        return np.array([s.share for s in self.strata])

    @property
    def is_point(self) -> bool:
        return all(s.rates.is_point for s in self.strata)

    @property
    def planning_rates(self) -> np.ndarray:
        """Population-average rates, shape (strata, 2): columns treatment, control."""
        return np.array([[s.rates.treatment_rate, s.rates.control_rate] for s in self.strata])

    @cached_property
    def heterogeneity(self) -> tuple[np.ndarray, np.ndarray]:
        """Atoms and weights of Z, the covariates' and the centre's contribution
        to the log-odds."""
        z, w = np.zeros(1), np.ones(1)
        terms = [c.nodes() for c in self.covariates]
        if self.centre_sd > 0:
            x, wx = special.roots_hermitenorm(_HERMITE)
            terms.append((self.centre_sd * x, wx / wx.sum()))
        for values, weights in terms:
            z = (z[:, None] + values[None, :]).ravel()
            w = (w[:, None] * weights[None, :]).ravel()
            if z.size > _MAX_NODES:
                z, w = _merge(z, w, _MAX_NODES)
        return z, w

    @cached_property
    def _curve(self) -> tuple[np.ndarray, np.ndarray] | None:
        z, w = self.heterogeneity
        if z.size == 1 and z[0] == 0:
            return None
        # logit of the average, from both tails so that neither end saturates
        logit = np.concatenate([np.log(special.expit(a[:, None] + z) @ w)
                                - np.log(special.expit(-a[:, None] - z) @ w)
                                for a in np.array_split(_GRID, 64)])
        return logit, _GRID

    def intercept(self, rate) -> np.ndarray:
        """Intercept a with E[expit(a + Z)] = rate (elementwise); -inf / inf at 0 / 1."""
        rate = np.asarray(rate, dtype=float)
        with np.errstate(divide="ignore"):
            logit = special.logit(rate)
        if self._curve is None:
            return logit
        x, a = self._curve
        out = np.interp(logit, x, a)
        return np.where(np.isfinite(logit), out, logit)

    def marginal_rate(self, intercept) -> np.ndarray:
        """E[expit(a + Z)]: the population-average rate of an intercept."""
        z, w = self.heterogeneity
        return special.expit(np.asarray(intercept, float)[..., None] + z) @ w

    def itt_rates(self, rates: np.ndarray | None = None) -> np.ndarray:
        """Expected rates of the intention-to-treat analysis, shape (strata, 2):
        crossover mixes the arms' rates, and women analysed as failures after
        dropping out lower them.  ``rates``: (strata, 2) treatment, control."""
        p = self.planning_rates if rates is None else rates
        t = (1 - self.not_receiving) * p[:, 0] + self.not_receiving * p[:, 1]
        c = (1 - self.receiving_outside) * p[:, 1] + self.receiving_outside * p[:, 0]
        out = np.stack([t, c], axis=1)
        if self.dropout_handling == "as_failure":
            out = out * (1 - self.dropout)
        return out

    @property
    def pooled_itt_rates(self) -> tuple[float, float]:
        """(treatment, control): the share-weighted intention-to-treat rates."""
        t, c = self.shares @ self.itt_rates()
        return float(t), float(c)


def category(edges: np.ndarray, u: np.ndarray) -> np.ndarray:
    """``np.searchsorted(edges, u, side="right")``: the number of the sorted
    ``edges`` at or below each ``u`` (a category drawn by inversion, the edges
    being cumulative probabilities).  With few edges, by one comparison per
    edge on bytes (several times faster than a binary search per element, and
    equal to it: both count the edges <= u)."""
    edges = np.asarray(edges, dtype=float)
    if len(edges) == 0 or len(edges) > _COMPARED_EDGES:
        return np.searchsorted(edges, u, side="right")
    count = np.zeros(np.shape(u), dtype=np.uint8)
    for edge in edges:
        count += (u >= edge).view(np.uint8)
    return count.astype(np.intp)


def _merge(z: np.ndarray, w: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Merge atoms into ``k`` groups of consecutive values, equal in weight,
    each at its weighted mean (keeps the mean; expit's curvature over a group's
    tiny spread is negligible)."""
    order = np.argsort(z, kind="stable")
    z, w = z[order], w[order]
    group = np.minimum((np.cumsum(w) - w / 2) * k // w.sum(), k - 1).astype(int)
    weight = np.bincount(group, weights=w, minlength=k)
    keep = weight > 0
    mean = np.bincount(group, weights=w * z, minlength=k)[keep] / weight[keep]
    return mean, weight[keep]
