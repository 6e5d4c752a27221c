"""How long recruitment takes: exact quantiles of the time to randomise N women.

Model.  The trial recruits at ``len(weights)`` centres, all opening at t = 0
(time in months).  Centre c recruits women as a Poisson process with rate
``per_centre_month * w_c * ramp(t)`` women per month, where ``w_c`` are the
relative centre rates ``weights`` normalised to mean 1 (so ``per_centre_month``
is the average centre's full rate) and ``ramp(t) = min(1, t / ramp_up_months)``
is a linear ramp-up from the trial's start (``ramp_up_months = 0``: full rate
from the start).  The pooled process is Poisson with cumulative intensity
H(t) = Lambda R(t), where Lambda = per_centre_month * centres is the total full
rate and R(t) = integral of ramp from 0 to t = t^2 / (2 r) for t <= r, else
t - r / 2 (r = ramp_up_months).  The time T_N to randomise N women satisfies
H(T_N) ~ Gamma(N, 1), so its quantiles are exact:
T_N(q) = H^-1(gamma.ppf(q, N)).  The last primary outcome is at
T_N + follow_up_months (the outcome is assessed a fixed time after
randomisation).  Each woman's centre is independent, with probability
w_c / sum(w) (valid because all centres share the ramp's shape).
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np


def _positive(name: str, value, allow_zero: bool = False) -> float:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"`{name}` must be a finite number {'>= 0' if allow_zero else '> 0'}; "
                         f"got {value!r}")
    return float(value)


def _count(name: str, value) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
        raise ValueError(f"`{name}` must be a whole number >= 1; got {value!r}")
    return int(value)


def _counts(name: str, value):
    """A whole number >= 1, or an array of them."""
    if np.ndim(value) == 0:
        return _count(name, value)
    n = np.asarray(value)
    if n.size == 0 or n.dtype.kind not in "iu" or not np.all(n >= 1):
        raise ValueError(f"`{name}` must be whole numbers >= 1; got {value!r}")
    return n


def _probability(name: str, value) -> np.ndarray:
    p = np.asarray(value, dtype=float)
    if p.size == 0 or not np.all((p > 0) & (p < 1)):
        raise ValueError(f"`{name}` must be a probability strictly between 0 and 1; got {value!r}")
    return p


@dataclass(frozen=True)
class Recruitment:
    """Recruitment at several centres; rates in women per month, times in months."""
    per_centre_month: float          # mean full-rate women per centre per month (> 0)
    weights: tuple[float, ...]       # relative rate of each centre (one per centre), > 0
    ramp_up_months: float = 0.0      # months from the start to full rate (0: none)
    follow_up_months: float = 0.0    # months from randomisation to the primary outcome

    def __post_init__(self):
        _positive("per_centre_month", self.per_centre_month)
        try:
            weights = tuple(self.weights)
        except TypeError:
            weights = None
        if not weights:
            raise ValueError(f"`weights` must list one relative rate > 0 per centre; "
                             f"got {self.weights!r}")
        object.__setattr__(self, "weights", tuple(_positive("weights", w) for w in weights))
        _positive("ramp_up_months", self.ramp_up_months, allow_zero=True)
        _positive("follow_up_months", self.follow_up_months, allow_zero=True)

    def total_rate(self) -> float:
        """Lambda: women per month at full rate, all centres together."""
        return self.per_centre_month * len(self.weights)

    def centre_probabilities(self) -> np.ndarray:
        """Probability that a randomised woman comes from each centre."""
        w = np.asarray(self.weights)
        return w / w.sum()

    def cumulative(self, t) -> np.ndarray:
        """H(t): the expected number of women randomised by month t."""
        t, r = np.maximum(np.asarray(t, dtype=float), 0.0), self.ramp_up_months
        ramp = np.where(t <= r, t * t / (2 * r) if r > 0 else 0.0, t - r / 2)
        return self.total_rate() * ramp

    def inverse_cumulative(self, h) -> np.ndarray:
        """H^-1: the time (months) at which the expected number of women reaches h."""
        h = np.asarray(h, dtype=float)
        if not np.all(h >= 0):
            raise ValueError(f"`h` must be >= 0; got {h!r}")
        u, r = h / self.total_rate(), self.ramp_up_months
        return np.where(u <= r / 2, np.sqrt(2 * r * np.minimum(u, r / 2)), u + r / 2)

    def months_to_enrol(self, n_women, q) -> np.ndarray:
        """Exact quantile(s) q of T_N, the months to randomise ``n_women`` women
        (a whole number, or an array of them broadcast against ``q``)."""
        from scipy.stats import gamma   # (imported when needed: it takes most of a second)
        n, q = _counts("n_women", n_women), _probability("q", q)
        return self.inverse_cumulative(gamma.ppf(q, n))

    def months_to_last_outcome(self, n_women: int, q) -> np.ndarray:
        """Exact quantile(s) q of the months until the last woman's primary outcome."""
        return self.months_to_enrol(n_women, q) + self.follow_up_months

    def draw_months_to_enrol(self, rng: np.random.Generator, n_women: int, size) -> np.ndarray:
        """T_N (months) for ``size`` simulated trials: H^-1 of Gamma(N, 1) draws."""
        n = _count("n_women", n_women)
        return self.inverse_cumulative(rng.gamma(n, 1.0, size))


@dataclass(frozen=True)
class Duration:
    """Months to randomise ``n_women`` women and to their last primary outcome:
    median and 80% interval (10th and 90th centiles), exact."""
    n_women: int
    enrol_median: float
    enrol_interval80: tuple[float, float]
    last_outcome_median: float
    last_outcome_interval80: tuple[float, float]

    def to_dict(self) -> dict:
        return {"n_women": self.n_women,
                "months_to_enrol": {"median": self.enrol_median,
                                    "interval80": list(self.enrol_interval80)},
                "months_to_last_outcome": {"median": self.last_outcome_median,
                                           "interval80": list(self.last_outcome_interval80)}}


def duration(recruitment: Recruitment, n_women: int) -> Duration:
    """Exact 10th, 50th and 90th centiles of the trial's duration (months)."""
    lo, mid, hi = (float(t) for t in recruitment.months_to_enrol(n_women, [0.1, 0.5, 0.9]))
    f = recruitment.follow_up_months
    return Duration(int(n_women), mid, (lo, hi), mid + f, (lo + f, hi + f))


def centres_needed(recruitment: Recruitment, n_women: int, target_months: float,
                   probability: float = 0.8, max_centres: int = 1000) -> int | None:
    """Smallest number k of centres, each recruiting at the average centre's rate
    (``per_centre_month``, same ramp-up; ``weights`` are ignored), such that
    P(T_N <= target_months) >= probability; None if no k <= max_centres does
    (always so when target_months <= 0).  With k centres H(t) = k m R(t), so
    P(T_N <= t) = gamma.cdf(k m R(t), N) and k = ceil(gamma.ppf(p, N) / (m R(t))),
    checked (and corrected for rounding) by direct evaluation."""
    from scipy.stats import gamma
    n = _count("n_women", n_women)
    p = float(_probability("probability", probability))
    top = _count("max_centres", max_centres)
    if not (isinstance(target_months, numbers.Real) and math.isfinite(target_months)):
        raise ValueError(f"`target_months` must be a finite number; got {target_months!r}")
    if target_months <= 0:
        return None
    rate = recruitment.per_centre_month
    r = recruitment.ramp_up_months
    t = float(target_months)
    ramp_integral = t * t / (2 * r) if t <= r else t - r / 2      # R(t), months
    reaches = lambda k: gamma.cdf(k * rate * ramp_integral, n) >= p
    need = gamma.ppf(p, n) / (rate * ramp_integral)
    if not math.isfinite(need) or need > top + 1:
        return None
    k = max(1, math.ceil(need))
    while k > 1 and reaches(k - 1):
        k -= 1
    while k <= top and not reaches(k):
        k += 1
    return k if k <= top else None


def probability_within(recruitment: Recruitment, n_women: int, months: float) -> float:
    """P(T_N <= months): the probability that ``n_women`` women are randomised
    within ``months``, ``gamma.cdf(H(months), N)`` (= P(Poisson(H) >= N))."""
    from scipy.stats import gamma
    n = _count("n_women", n_women)
    return float(gamma.cdf(float(recruitment.cumulative(months)), n))


def capacity(recruitment: Recruitment, months: float, probability: float = 0.8) -> int:
    """The largest number N of women randomised within ``months`` with at
    least ``probability``: P(T_N <= months) = P(Poisson(H(months)) >= N) >=
    probability (0 when not even one woman is).  P(Poisson(h) >= N) falls as
    N grows, so N is one less than the first count the Poisson's quantile
    function points at, checked (and corrected for rounding) by direct
    evaluation."""
    from scipy.stats import gamma, poisson
    p = float(_probability("probability", probability))
    if not (isinstance(months, numbers.Real) and math.isfinite(months)):
        raise ValueError(f"`months` must be a finite number; got {months!r}")
    h = float(recruitment.cumulative(months))
    if h <= 0:
        return 0

    def reaches(n):             # P(T_n <= months) >= p; always so for n = 0
        return n == 0 or gamma.cdf(h, n) >= p
    # P(Poisson(h) >= N) >= p  <=>  P(Poisson(h) <= N - 1) <= 1 - p
    n = max(0, int(poisson.ppf(1 - p, h)))
    while not reaches(n):
        n -= 1
    while reaches(n + 1):
        n += 1
    return n


def look_calendar(recruitment: Recruitment, due: int, total: int) -> tuple[float, float]:
    """A look held when the ``due``-th randomised woman reaches her primary
    outcome (``follow_up_months`` after randomisation), in a trial that
    randomises ``total`` women: the expected month of the look, and the
    expected number of women randomised by then (overrunning: randomisation
    goes on during follow-up, up to ``total``).  Given T_due = H^-1(G) with
    G ~ Gamma(due, 1), the women added in the follow-up are Poisson with mean
    H(T_due + f) - G; both expectations are integrals over G (scipy quad)."""
    from scipy import integrate, stats
    due, total = _count("due", due), _count("total", total)
    f = recruitment.follow_up_months
    g = stats.gamma(due)
    lo, hi = g.ppf(1e-15), g.isf(1e-15)

    def month(x):
        return float(recruitment.inverse_cumulative(x)) + f

    def randomised(x):
        extra = float(recruitment.cumulative(month(x))) - x
        cap = total - due            # E[min(X, cap)] = sum of P(X > i), i < cap
        return due + (float(stats.poisson.sf(np.arange(cap), extra).sum()) if cap else 0.0)

    def expect(fn):
        return integrate.quad(lambda x: fn(x) * g.pdf(x), lo, hi, limit=200,
                              epsabs=1e-10, epsrel=1e-10)[0]
    return expect(month), expect(randomised)
