"""Operating characteristics of a group-sequential trial analysed on its 2x2
table: exactly, by enumeration, and by simulation vectorised over trials.

Decision tables.  At look k the arms hold ``round(t_k n)`` women each
(``look_sizes``), and the decision depends only on the events seen so far,
``(x_t, x_c)``: it is tabulated once per look as ``STOP_EFFICACY`` (1),
``CONTINUE`` (0) or ``STOP_FUTILITY`` (-1); at the last look 1 is success
and everything else failure.  A z design compares the two-proportion z
statistic (pooled or unpooled variance) with its bounds: efficacy when
``Z_k >= upper_k`` (``|Z_k|`` if two-sided), futility when ``Z_k <= lower_k``.
A Bayesian design (:class:`BayesRule`) stops for efficacy when the posterior
probability that the treatment rate is higher reaches a threshold and for
futility when the predictive probability of success at the last look is below
one.

Exact enumeration carries the probabilities of the trials still running, a
matrix over (x_t, x_c), from look to look: stopped tables are removed, and the
events of the women added in between are binomial, so the next look's matrix
is ``T_t' M T_c`` with ``T[i, j] = Binom(j - i; added women, rate)``.  Counts
are kept within each look's binomial support (:func:`design.support`), so the
mass left out is below 1e-12.

Simulation nests each trial's interim data in its final data: the events grow
by binomial increments, and the tables are looked up.  Rates are the planning
values or drawn per trial from a :class:`priors.RateModel` (assurance).
Chunks and seeds as in :mod:`simulator.montecarlo`: results are identical for
any number of jobs.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from ..stats.analysis import z_statistic
from ..stats.bayes import posterior_superiority, predictive_success
from ..decimals import decimal_in
from .design import bounded_cache, support
from .montecarlo import chunk_rng, sum_over_chunks

STOP_EFFICACY, CONTINUE, STOP_FUTILITY = 1, 0, -1


def look_sizes(n: int, looks) -> np.ndarray:
    """Cumulative sizes of one arm at each look: ``round(t_k n)``, at least 1,
    the last the whole arm."""
    sizes = np.maximum(np.round(np.asarray(looks, float) / looks[-1] * n), 1).astype(np.int64)
    sizes[-1] = n
    return np.maximum.accumulate(sizes)


@dataclass(frozen=True)
class BayesRule:
    """Beta priors of the analysis, per arm, and the decision thresholds:
    success at the last look when P(p_t > p_c | data) >= ``threshold``; at
    interim look k, efficacy when it is >= ``efficacy[k]`` and futility when
    the predictive probability of success at the last look is < ``futility``."""
    prior_treatment: tuple[float, float]
    prior_control: tuple[float, float]
    threshold: float
    efficacy: tuple[float, ...] | None = None    # per interim look; None: no efficacy stop
    futility: float | None = None                # None: no futility stop
    efficacy_at_final: bool = False              # interim efficacy at ``threshold``

    def interim_efficacy(self, k: int) -> float | None:
        """The posterior threshold for efficacy at interim look k (None: no stop)."""
        if self.efficacy_at_final:
            return self.threshold
        return None if self.efficacy is None else self.efficacy[k]


@dataclass(frozen=True)
class SequentialDesign:
    """A group-sequential (or single-look) design on the 2x2 table.  z designs:
    ``upper`` and ``lower`` on the z scale, one per look (``inf`` / ``-inf``:
    no stop there; ``lower`` is not used at the last look nor two-sided).
    Bayesian designs: ``bayes`` instead."""
    looks: tuple[float, ...]
    statistic: str                   # z_pooled | z_unpooled | bayesian
    sided: str = "one"
    upper: tuple[float, ...] = ()
    lower: tuple[float, ...] = ()
    bayes: BayesRule | None = None

    @property
    def n_looks(self) -> int:
        return len(self.looks)

    def without_futility(self) -> "SequentialDesign":
        """The same design with its futility stops ignored (non-binding futility)."""
        if self.bayes is not None:
            return replace(self, bayes=replace(self.bayes, futility=None))
        return replace(self, lower=tuple(-math.inf for _ in self.lower))

    def with_threshold(self, threshold: float) -> "SequentialDesign":
        return replace(self, bayes=replace(self.bayes, threshold=float(threshold)))


@bounded_cache(max_entries=64, max_bytes=512 * 2 ** 20)
def decision_tables(design: SequentialDesign, n_t: int, n_c: int) -> tuple[np.ndarray, ...]:
    """One int8 table per look over all outcomes, shape ``(n_tk + 1, n_ck + 1)``,
    with entries ``STOP_EFFICACY``, ``CONTINUE`` or ``STOP_FUTILITY``."""
    sizes_t, sizes_c = look_sizes(n_t, design.looks), look_sizes(n_c, design.looks)
    tables = []
    if design.bayes is not None:
        rule = design.bayes
        prob = [_posterior(int(a), int(b), rule.prior_treatment, rule.prior_control)
                for a, b in zip(sizes_t, sizes_c)]
        slack = step_tolerance(n_t, n_c)         # a table at the threshold reaches it
        final = prob[-1] >= rule.threshold - slack
        for k, (a, b) in enumerate(zip(sizes_t[:-1], sizes_c[:-1])):
            table = np.zeros(prob[k].shape, dtype=np.int8)
            if rule.futility is not None:
                pp = predictive_success(int(a), int(b), final, rule.prior_treatment,
                                        rule.prior_control)
                table[pp < rule.futility] = STOP_FUTILITY
            if rule.interim_efficacy(k) is not None:
                table[prob[k] >= rule.interim_efficacy(k) - slack] = STOP_EFFICACY
            tables.append(table)
        tables.append(final.astype(np.int8))
    else:
        for k, (a, b) in enumerate(zip(sizes_t, sizes_c)):
            x_t, x_c = np.arange(a + 1)[:, None], np.arange(b + 1)[None, :]
            z = z_statistic(design.statistic == "z_pooled", a, b, x_t, x_c)
            table = np.zeros(z.shape, dtype=np.int8)
            if design.sided == "one" and k < design.n_looks - 1:
                table[z <= design.lower[k]] = STOP_FUTILITY
            table[(np.abs(z) if design.sided == "two" else z) >= design.upper[k]] = STOP_EFFICACY
            tables.append(table)
    for table in tables:
        table.setflags(write=False)
    return tuple(tables)


def printed_z_bounds(design: SequentialDesign, n_t: int, n_c: int, k: int) -> tuple[str | None, str | None]:
    """Look k's efficacy and futility z bounds as printed: the bound rounded
    to the fewest decimals (3 at least) that decide every attainable table of
    that look as the bound itself does (:func:`decimals.decimal_in`); None
    where the look has no such stop."""
    a = int(look_sizes(n_t, design.looks)[k])
    b = int(look_sizes(n_c, design.looks)[k])
    z = z_statistic(design.statistic == "z_pooled", a, b, np.arange(a + 1)[:, None],
                    np.arange(b + 1)[None, :])
    eff = fut = None
    upper = design.upper[k]
    if math.isfinite(upper):
        stat = np.abs(z) if design.sided == "two" else z
        stops = stat >= upper
        eff = decimal_in(upper, stat[~stops].max(initial=-math.inf),
                         stat[stops].min(initial=math.inf), 3)
    if design.sided == "one" and k < design.n_looks - 1 and math.isfinite(design.lower[k]):
        lower = design.lower[k]
        stops = z <= lower
        fut = decimal_in(lower, z[stops].max(initial=-math.inf), z[~stops].min(initial=math.inf),
                         3, "below")
    return eff, fut


@bounded_cache(max_entries=16, max_bytes=256 * 2 ** 20)
def _posterior(n_t, n_c, prior_t, prior_c):
    return posterior_superiority(n_t, n_c, prior_t, prior_c)


@dataclass(frozen=True)
class SequentialOC:
    """Operating characteristics; arrays have one entry per look.  ``n_sims``
    is None when they are exact."""
    n_sims: int | None
    efficacy: np.ndarray        # P(stop for efficacy at look k); at the last look, success
    futility: np.ndarray        # P(stop for futility at look k); 0 at the last look
    sizes: np.ndarray           # total women (both arms) analysed at each look
    favourable: float           # P(efficacy with the treatment observed better), any look

    @property
    def power(self) -> float:
        """P(the trial rejects H0 at some look)."""
        return float(self.efficacy.sum())

    @property
    def stopping(self) -> np.ndarray:
        """P(the trial ends at look k), for whatever reason."""
        stop = self.efficacy + self.futility
        return np.append(stop[:-1], 1.0 - stop[:-1].sum())

    @property
    def expected_size(self) -> float:
        return float(self.stopping @ self.sizes)

    def se(self, p) -> np.ndarray:
        """Monte Carlo standard error of the probabilities ``p`` (0 if exact)."""
        p = np.clip(np.asarray(p, float), 0.0, 1.0)
        return np.zeros_like(p) if self.n_sims is None else np.sqrt(p * (1 - p) / self.n_sims)


def _transition(lo_hi_from, lo_hi_to, added: int, rate: float) -> np.ndarray:
    from scipy import stats
    i = np.arange(lo_hi_from[0], lo_hi_from[1] + 1)[:, None]
    j = np.arange(lo_hi_to[0], lo_hi_to[1] + 1)[None, :]
    return stats.binom.pmf(j - i, added, rate)


def exact_oc(design: SequentialDesign, n_t: int, n_c: int, rate_treatment: float,
             rate_control: float) -> SequentialOC:
    """Exact stopping probabilities at each look, with the true rates given."""
    from scipy import stats
    tables = decision_tables(design, n_t, n_c)
    sizes_t, sizes_c = look_sizes(n_t, design.looks), look_sizes(n_c, design.looks)
    K = design.n_looks
    efficacy, futility = np.zeros(K), np.zeros(K)
    favourable = 0.0
    mass = prev_t = prev_c = None
    for k in range(K):
        r_t, r_c = support(int(sizes_t[k]), rate_treatment), support(int(sizes_c[k]), rate_control)
        if k == 0:
            mass = np.outer(stats.binom.pmf(np.arange(r_t[0], r_t[1] + 1), sizes_t[0],
                                            rate_treatment),
                            stats.binom.pmf(np.arange(r_c[0], r_c[1] + 1), sizes_c[0],
                                            rate_control))
        else:
            mass = (_transition(prev_t, r_t, int(sizes_t[k] - sizes_t[k - 1]), rate_treatment).T
                    @ mass @ _transition(prev_c, r_c, int(sizes_c[k] - sizes_c[k - 1]),
                                         rate_control))
        table = tables[k][r_t[0]:r_t[1] + 1, r_c[0]:r_c[1] + 1]
        win = table == STOP_EFFICACY
        efficacy[k] = mass[win].sum()
        futility[k] = mass[table == STOP_FUTILITY].sum()
        better = (np.arange(r_t[0], r_t[1] + 1)[:, None] * sizes_c[k]
                  > np.arange(r_c[0], r_c[1] + 1)[None, :] * sizes_t[k])
        favourable += mass[win & better].sum()
        mass = np.where(table == CONTINUE, mass, 0.0)
        prev_t, prev_c = r_t, r_c
    return SequentialOC(None, np.minimum(efficacy, 1.0), np.minimum(futility, 1.0),
                        sizes_t + sizes_c, min(float(favourable), 1.0))


def _chunk(design, n_t, n_c, rates, seed, chunk, n_trials):
    rng = chunk_rng(seed, chunk)
    tables = decision_tables(design, n_t, n_c)
    sizes_t, sizes_c = look_sizes(n_t, design.looks), look_sizes(n_c, design.looks)
    if isinstance(rates, tuple):
        p_t, p_c = rates
    else:                                   # a RateModel: rates drawn per trial
        p_t, p_c = rates.draw(rng, n_trials)
    x_t = np.zeros(n_trials, dtype=np.int64)
    x_c = np.zeros(n_trials, dtype=np.int64)
    alive = np.ones(n_trials, dtype=bool)
    counts = np.zeros((3, design.n_looks), dtype=np.int64)     # efficacy, futility, favourable
    prev_t = prev_c = 0
    for k, table in enumerate(tables):
        x_t += rng.binomial(sizes_t[k] - prev_t, p_t, n_trials)
        x_c += rng.binomial(sizes_c[k] - prev_c, p_c, n_trials)
        prev_t, prev_c = sizes_t[k], sizes_c[k]
        decision = table[x_t, x_c]
        win = alive & (decision == STOP_EFFICACY)
        lose = alive & (decision == STOP_FUTILITY)
        counts[:, k] = (np.count_nonzero(win), np.count_nonzero(lose),
                        np.count_nonzero(win & (x_t * sizes_c[k] > x_c * sizes_t[k])))
        alive &= decision == CONTINUE
    return counts


def simulate_oc(design: SequentialDesign, n_t: int, n_c: int, rates, n_sims: int,
                seed: int, jobs: int = 1) -> SequentialOC:
    """Simulated stopping probabilities at each look.  ``rates``: the true
    (treatment, control) rates, or a :class:`priors.RateModel` to draw them
    from for each trial."""
    counts = sum_over_chunks(_chunk, (design, n_t, n_c, rates), seed, n_sims, jobs)
    sizes = look_sizes(n_t, design.looks) + look_sizes(n_c, design.looks)
    return SequentialOC(n_sims, counts[0] / n_sims, counts[1] / n_sims, sizes,
                        float(counts[2].sum() / n_sims))


def step_tolerance(n_t: int, n_c: int) -> float:
    """Posterior probabilities closer than this are one value: they are
    computed to about 1e-12 at arms of 2,000, the error growing with the
    arms (see bayes.py), and tables that are mirror images under vague priors,
    (x_t, x_c) and (n - x_c, n - x_t) with equal arms, or tables with equal
    counts (posterior 0.5), have equal posteriors that rounding separates.
    Thresholds are compared with this slack (a table at the threshold, up to
    rounding, reaches it), and a calibrated threshold never splits such a
    group."""
    return max(1e-10, 1e-14 * (n_t + n_c))


def threshold_steps(design: SequentialDesign, n_t: int, n_c: int) -> tuple[np.ndarray, np.ndarray]:
    """Where a Bayesian design's decisions can change as its final threshold
    moves: the distinct posterior probabilities of the final look's tables
    (and of the interim looks' when they stop at the final threshold),
    grouped within :func:`step_tolerance`.  Returns each group's smallest and
    largest value, in increasing order."""
    rule = design.bayes
    sizes_t, sizes_c = look_sizes(n_t, design.looks), look_sizes(n_c, design.looks)
    looks = range(design.n_looks) if rule.efficacy_at_final else [design.n_looks - 1]
    values = np.unique(np.concatenate([
        _posterior(int(sizes_t[k]), int(sizes_c[k]), rule.prior_treatment,
                   rule.prior_control).ravel() for k in looks]))
    starts = np.flatnonzero(np.diff(values, prepend=-np.inf) > step_tolerance(n_t, n_c))
    ends = np.append(starts[1:], len(values)) - 1
    return values[starts], values[ends]


TOP_THRESHOLD = 1.0 - 1e-12     # above, posteriors are 1 up to rounding


def calibrate_threshold(design: SequentialDesign, alpha: float, type_one_error, n_t: int,
                        n_c: int) -> float | None:
    """The final posterior threshold at arms (n_t, n_c) whose type I error,
    ``type_one_error(design)`` (exact, under the null), is at most ``alpha``
    with as many tables on the success side as possible.  Type I error falls
    as the threshold rises (efficacy needs more and futility stops more), and
    changes only at the steps of :func:`threshold_steps`: a search over them
    finds the first step that keeps alpha, and the threshold returned is the
    shortest decimal (4 decimals at least) in the gap between the previous
    step's largest value (plus the comparison's slack) and that step's
    smallest, so that the rule as printed decides every table as the rule
    computed.  0.5 when that already keeps alpha; None when no threshold
    below 1 does (interim efficacy stops at a fixed threshold can spend more
    than alpha on their own)."""
    def keeps(c):
        return type_one_error(design.with_threshold(c)) <= alpha
    if keeps(0.5):
        return 0.5
    if not keeps(TOP_THRESHOLD):
        return None
    low, high = threshold_steps(design, n_t, n_c)
    tolerance = step_tolerance(n_t, n_c)
    use = (low > 0.5 + tolerance) & (low < TOP_THRESHOLD)
    low, high = np.append(low[use], TOP_THRESHOLD), np.append(high[use], TOP_THRESHOLD)
    lo, hi = -1, len(low) - 1           # step lo exceeds alpha, step hi keeps it
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if keeps(float(low[mid])) else (mid, hi)
    below = max(float(high[lo]), 0.5) if lo >= 0 else 0.5
    return float(decimal_in(None, below + tolerance, float(low[hi]), 4))


def crossing_difference(table: np.ndarray, n_t: int, n_c: int, rate_control: float,
                        efficacy: bool) -> float | None:
    """The observed difference in rates (treatment minus control) that just
    crosses a look's boundary when the control arm has its expected events
    ``round(n_c * rate_control)``: the smallest difference with the treatment
    ahead that stops for efficacy (``efficacy``), or the largest that stops for
    futility; None if none does."""
    x_c = int(round(n_c * rate_control))
    x_t = np.arange(n_t + 1)
    if efficacy:
        hits = x_t[(table[:, x_c] == STOP_EFFICACY) & (x_t * n_c > x_c * n_t)]
    else:
        hits = x_t[table[:, x_c] == STOP_FUTILITY]
    if hits.size == 0:
        return None
    chosen = hits.min() if efficacy else hits.max()
    return float(chosen / n_t - x_c / n_c)
