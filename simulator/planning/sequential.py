"""Plan a trial with interim looks (or a Bayesian decision rule) on its 2x2
table: the bounds, power at any maximum size for the search, and the
operating characteristics at the reported size."""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
from scipy import special

from ..stats.boundaries import (beta_spending_design, bracketed_root, critical_z, crossing,
                         drift_for_power, efficacy_bounds)
from ..engines.design import Design
from ..errors import NoSolutionError, ScenarioError
from ..engines.exact import SEQUENTIAL_GRID_MAX, MaximumSize, maximum_over_rates, rate_grid
from ..models.recruitment import look_calendar
from ..results import (Calendar, CalendarLook, FixedDesign, Look, OperatingCharacteristics,
                       SequentialResult, randomised)
from ..engines.sequential import (BayesRule, SequentialDesign, SequentialOC, calibrate_threshold,
                         crossing_difference, decision_tables, exact_oc, look_sizes,
                         printed_z_bounds, simulate_oc)

BINDING_ITERATIONS = 50


def _final_only(t, alpha, sided, lower):
    """Bounds with no interim efficacy stop: the last bound spends alpha."""
    K = len(t)
    if lower is None:
        return np.append(np.full(K - 1, np.inf), critical_z(alpha, sided))

    def excess(c):
        return crossing(t, np.append(np.full(K - 1, np.inf), c), lower, 0.0, sided)[0].sum() - alpha
    final = bracketed_root(excess, 0.0, 20.0, 1e-12, -20.0, 40.0)
    return np.append(np.full(K - 1, np.inf), final)


def z_bounds(interim, alpha: float, sided: str, target_power: float,
             theta: float | None = None):
    """Efficacy and futility bounds on the z scale, one per look (``inf`` /
    ``-inf``: no stop).  ``theta``: the drift (mean of Z at the last look)
    conditional power assumes with ``assumed: design``; None: the drift at
    which the efficacy bounds alone give ``target_power``.  Raises
    ScenarioError when a futility bound reaches the efficacy bound."""
    t = np.asarray(interim.looks)
    K = len(t)
    field = {"z": "interim.futility.z", "conditional_power": "interim.futility.threshold"}.get(
        interim.futility, "interim.futility.type")

    def upper_for(lower):
        if interim.efficacy == "none":
            return _final_only(t, alpha, sided, lower)
        kind = interim.spending if interim.efficacy == "spending" else interim.efficacy
        return efficacy_bounds(t, alpha, kind, sided, interim.gamma, lower)

    def lower_for(upper):
        low = np.full(K, -np.inf)
        if interim.futility == "z":
            low[:-1] = interim.futility_z
        elif interim.futility == "conditional_power":
            # CP(z_k) = 1 - Phi((c_K - z_k sqrt(t_k) - theta (1 - t_k)) / sqrt(1 - t_k)),
            # with theta the design's drift or the trend z_k / sqrt(t_k); solved for z_k
            tk, c, q = t[:-1], upper[-1], special.ndtri(1 - interim.futility_threshold)
            if interim.assumed == "design":
                drift = theta if theta is not None else drift_for_power(
                    t, upper, np.full(K, -np.inf), target_power, sided)
                low[:-1] = (c - drift * (1 - tk) - q * np.sqrt(1 - tk)) / np.sqrt(tk)
            else:
                low[:-1] = np.sqrt(tk) * (c - q * np.sqrt(1 - tk))
        if np.any(low[:-1] >= upper[:-1]):
            k = int(np.argmax(low[:-1] >= upper[:-1]))
            raise ScenarioError(
                f"gives a futility bound (z {low[k]:.3f}) at or above the efficacy bound "
                f"(z {upper[k]:.3f}) at look {k + 1}: every trial would stop there; lower it",
                field=field)
        return low

    if interim.futility == "beta_spending":
        upper = upper_for(None)
        lower, _ = beta_spending_design(t, upper, alpha, interim.beta, interim.beta_spending,
                                        interim.beta_gamma)
        lower[-1] = -np.inf
        return upper, lower
    upper = upper_for(None)
    lower = lower_for(upper)
    if interim.binding and interim.futility != "none":
        for _ in range(BINDING_ITERATIONS):
            try:
                new_upper = upper_for(lower)
            except ValueError:          # no bound spends alpha with these futility stops
                raise ScenarioError("leaves no efficacy bound that spends alpha with these "
                                    "binding futility stops; lower them", field=field) from None
            new_lower = lower_for(new_upper)
            done = np.allclose(new_upper, upper, atol=1e-9) and np.allclose(
                new_lower, lower, atol=1e-9)
            upper, lower = new_upper, new_lower
            if done:
                break
        else:
            raise ScenarioError(f"binding bounds did not converge in {BINDING_ITERATIONS} "
                                "iterations; use non-binding futility",
                                field="interim.futility.binding")
    return upper, lower


def sequential_design(scenario) -> SequentialDesign:
    """The scenario's design, with the final Bayesian threshold as given (or
    0.5 as a placeholder when it is calibrated at each size)."""
    interim, a = scenario.interim, scenario.analysis
    if a.test == "bayesian":
        prior_t, prior_c = interim.bayes_prior
        final = 0.5 if interim.bayes_threshold == "calibrate" else interim.bayes_threshold
        at_final = interim.efficacy == "posterior" and interim.efficacy_threshold in (
            None, "calibrate")
        efficacy = None
        if interim.efficacy == "posterior" and not at_final:
            efficacy = (interim.efficacy_threshold,) * interim.interim_looks
        rule = BayesRule(prior_t, prior_c, final, efficacy,
                         interim.futility_threshold if interim.futility == "predictive" else None,
                         at_final)
        return SequentialDesign(interim.looks, "bayesian", "one", bayes=rule)
    upper, lower = z_bounds(interim, a.alpha, a.sided, scenario.target_power)
    return SequentialDesign(interim.looks, a.test, a.sided, tuple(map(float, upper)),
                            tuple(map(float, lower)))


class SequentialPlan:
    """Operating characteristics of the scenario's design at any control-arm
    size, exact or simulated, with Bayesian thresholds calibrated per size."""

    def __init__(self, scenario, method: str, jobs: int = 1,
                 design: SequentialDesign | None = None):
        self.scenario, self.method, self.jobs = scenario, method, jobs
        self.design = design or sequential_design(scenario)
        self.sizes_of = Design("z_pooled", "one", 0.05, scenario.allocation).sizes
        self.calibrate = (scenario.analysis.test == "bayesian"
                          and scenario.interim.bayes_threshold == "calibrate")
        # conditional power under the design's effect: the planning effect at each size
        self.per_size = (design is None and scenario.interim.futility == "conditional_power"
                         and scenario.interim.assumed == "design")
        self._designs: dict[int, SequentialDesign] = {}

    def oc(self, design: SequentialDesign, m: int, rates, method: str | None = None) -> SequentialOC:
        n_t, n_c = self.sizes_of(m)
        sim = self.scenario.simulation
        if (method or self.method) == "exact" and isinstance(rates, tuple):
            return exact_oc(design, n_t, n_c, *rates)
        return simulate_oc(design, n_t, n_c, rates, sim.n_sims, sim.seed, self.jobs)

    @property
    def null_rates(self) -> tuple[float, float]:
        return (self.scenario.control.rate,) * 2

    @property
    def planning_rates(self) -> tuple[float, float]:
        return self.scenario.treatment.rate, self.scenario.control.rate

    def fixed(self) -> "SequentialPlan":
        """The fixed design it is compared with: one look, the same test and
        level (the same Bayesian rule, without interim stops)."""
        d, a = self.design, self.scenario.analysis
        if d.bayes is not None:
            single = replace(d, looks=(1.0,), bayes=replace(d.bayes, efficacy=None, futility=None,
                                                            efficacy_at_final=False))
        else:
            single = replace(d, looks=(1.0,), upper=(critical_z(a.alpha, d.sided),),
                             lower=(-math.inf,))
        return SequentialPlan(self.scenario, self.method, self.jobs, single)

    def design_at(self, m: int) -> SequentialDesign:
        """The design at control-arm size m: conditional-power futility bounds
        under the planning effect at that size, the Bayesian threshold
        calibrated there."""
        if not (self.calibrate or self.per_size):
            return self.design
        if m not in self._designs:
            design = self.design
            if self.per_size:
                s, (p_t, p_c) = self.scenario, self.planning_rates
                n_t, n_c = self.sizes_of(m)
                theta = (p_t - p_c) / math.sqrt(p_t * (1 - p_t) / n_t + p_c * (1 - p_c) / n_c)
                upper, lower = z_bounds(s.interim, s.analysis.alpha, s.analysis.sided,
                                        s.target_power, theta)
                design = replace(design, upper=tuple(map(float, upper)),
                                 lower=tuple(map(float, lower)))
            if self.calibrate:
                design = self._calibrated(design, m)
            self._designs[m] = design
        return self._designs[m]

    def _calibrated(self, design: SequentialDesign, m: int) -> SequentialDesign:
        # non-binding futility may be overruled: calibrate without it.  Always
        # by exact enumeration (the null is a point; a simulated calibration
        # would select the threshold on the very trials that then report its
        # type I error, biased low)
        binding = self.scenario.interim.binding
        n_t, n_c = self.sizes_of(m)

        def size(d):
            return self.oc(d if binding else d.without_futility(), m, self.null_rates,
                           "exact").power
        c = calibrate_threshold(design, self.scenario.analysis.alpha, size, n_t, n_c)
        if c is None:
            top = size(design.with_threshold(1.0))
            if design.bayes.efficacy is not None:
                raise NoSolutionError(
                    f"= {design.bayes.efficacy[0]:g} alone gives a type I error of {top:.4f} "
                    f"at {n_c} + {n_t} women, above `analysis.alpha` "
                    f"({self.scenario.analysis.alpha:g}), whatever the final threshold: raise "
                    "it (or leave it out to stop at the final threshold)",
                    field="interim.efficacy.threshold")
            raise NoSolutionError(
                f"= {self.scenario.analysis.alpha:g}: no posterior threshold below 1 keeps the "
                f"type I error this small at {n_c} + {n_t} women", field="analysis.alpha")
        return design.with_threshold(c)

    def maximum_type_one_error(self, m: int) -> MaximumSize:
        """The exact type I error at control-arm size m (futility stops
        overruled when non-binding, as the reported type I error) at its
        largest over the common rate of both arms (a grid of at most
        ``SEQUENTIAL_GRID_MAX`` rates, refined)."""
        design = self.design_at(m)
        if not self.scenario.interim.binding:
            design = design.without_futility()
        n_t, n_c = self.sizes_of(m)
        return maximum_over_rates(lambda rate: exact_oc(design, n_t, n_c, rate, rate).power,
                                  rate_grid(max(n_t, n_c), SEQUENTIAL_GRID_MAX))

    def power_at(self, sizes):
        ocs = [self.oc(self.design_at(int(m)), int(m), self.planning_rates) for m in sizes]
        return (np.array([o.power for o in ocs]), np.array([o.se(o.power) for o in ocs]))

    def assurance_at(self, sizes):
        ocs = [self.oc(self.design_at(int(m)), int(m), self.scenario.rate_model,
                       "monte_carlo") for m in sizes]
        return (np.array([o.favourable for o in ocs]),
                np.array([o.se(o.favourable) for o in ocs]))

    def summarise(self, m: int, fixed_control: int | None) -> SequentialResult:
        s = self.scenario
        design = self.design_at(m)
        n_t, n_c = self.sizes_of(m)
        sizes_t, sizes_c = look_sizes(n_t, design.looks), look_sizes(n_c, design.looks)
        tables = decision_tables(design, n_t, n_c)
        # women to randomise for each look's analysed sizes, dropout included
        rand_t = [randomised(int(x), s.dropout) for x in sizes_t]
        rand_c = [randomised(int(x), s.dropout) for x in sizes_c]
        needed = np.add(rand_t, rand_c)
        spent = [None] * design.n_looks
        if design.bayes is None:
            t = np.asarray(design.looks)
            # the alpha the bounds spend: with the futility stops when binding
            low = np.asarray(design.lower) if s.interim.binding else np.full(len(t), -np.inf)
            up, _ = crossing(t, np.asarray(design.upper), low, 0.0, design.sided)
            spent = [float(x) for x in np.cumsum(up)]
        looks = []
        p_c = s.control.rate
        for k in range(design.n_looks):
            a, b = int(sizes_t[k]), int(sizes_c[k])
            common = dict(
                look=k + 1, information=design.looks[k], n_control=b, n_treatment=a,
                randomised_control=rand_c[k], randomised_treatment=rand_t[k],
                efficacy_difference=crossing_difference(tables[k], a, b, p_c, True),
                futility_difference=crossing_difference(tables[k], a, b, p_c, False))
            # the rules as printed decide every table as the rules computed: z
            # bounds with the decimals that takes; Bayesian thresholds are
            # the printed decimals themselves (a calibrated one is chosen so)
            if design.bayes is None:
                eff_printed, fut_printed = printed_z_bounds(design, n_t, n_c, k)
                looks.append(Look(
                    **common, efficacy_printed=eff_printed, futility_printed=fut_printed,
                    bayesian=False, efficacy_z=_finite(design.upper[k]),
                    futility_z=(_finite(design.lower[k])
                                if k < design.n_looks - 1 and design.sided == "one" else None),
                    alpha_spent=spent[k]))
            else:
                rule = design.bayes
                last = k == design.n_looks - 1
                eff = rule.threshold if last else rule.interim_efficacy(k)
                fut = None if last else rule.futility
                looks.append(Look(
                    **common, efficacy_printed=None if eff is None else repr(float(eff)),
                    futility_printed=None if fut is None else repr(float(fut)),
                    bayesian=True, efficacy_posterior=eff, futility_predictive=fut))
        scenarios = {"planning": (self.planning_rates, None),
                     "null": (self.null_rates, None)}
        if s.interim.futility != "none":
            scenarios["null_ignoring_futility"] = (self.null_rates, "no futility")
        if s.has_prior:
            scenarios["prior"] = (s.rate_model, None)
        ocs = {}
        for name, (rates, note) in scenarios.items():
            d = design.without_futility() if note else design
            method = "monte_carlo" if name == "prior" else self.method
            ocs[name] = _describe(self.oc(d, m, rates, method), needed)
        fixed = None
        if fixed_control is not None:
            f_t, f_c = self.sizes_of(fixed_control)
            fixed = FixedDesign(f_c, f_t, (n_t + n_c) / (f_t + f_c))
        analytic = None
        if design.bayes is None:
            t = np.asarray(design.looks)
            drift = drift_for_power(t, np.asarray(design.upper), np.asarray(design.lower),
                                    s.target_power, design.sided)
            z_a = critical_z(s.analysis.alpha, design.sided)
            analytic = (drift / (z_a + special.ndtri(s.target_power))) ** 2
        calendar = None
        if s.recruitment is not None:
            calendar = self._calendar(needed, ocs)
        return SequentialResult(
            looks=tuple(looks), interim=s.interim, statistic=design.statistic,
            sided=design.sided, threshold=None if design.bayes is None else design.bayes.threshold,
            calibrated=self.calibrate, operating=ocs, fixed=fixed, analytic_inflation=analytic, calendar=calendar)

    def _calendar(self, needed, ocs: dict[str, OperatingCharacteristics]) -> Calendar:
        rec = self.scenario.recruitment
        due = [int(j) for j in needed]
        total = due[-1]
        times = [look_calendar(rec, j, total) for j in due]
        looks = tuple(CalendarLook(k + 1, j, m, r)
                      for k, (j, (m, r)) in enumerate(zip(due, times)))
        months = np.array([m for m, _ in times])
        women = np.array([r for _, r in times])
        end_month, randomised_by_end = {}, {}
        for name, oc in ocs.items():
            if name == "null_ignoring_futility":
                continue
            stop = np.asarray(oc.stopping)
            end_month[name] = float(stop @ months)
            randomised_by_end[name] = float(stop @ women)
        return Calendar(rec.follow_up_months, looks, end_month, randomised_by_end)


def _describe(oc: SequentialOC, needed) -> OperatingCharacteristics:
    """Operating characteristics as output; ``needed``: women to randomise for
    each look (both arms)."""
    return OperatingCharacteristics(
        method="exact" if oc.n_sims is None else "monte_carlo",
        n_sims=oc.n_sims,
        efficacy=tuple(oc.efficacy.tolist()), futility=tuple(oc.futility.tolist()),
        early_efficacy=float(oc.efficacy[:-1].sum()),
        any_futility=float(oc.futility.sum()),
        power=oc.power, power_se=float(oc.se(oc.power)),
        favourable=oc.favourable,
        stopping=tuple(oc.stopping.tolist()),
        expected_n_total=oc.expected_size,
        expected_n_total_needed=float(oc.stopping @ needed),
        max_n_total=int(oc.sizes[-1]),
        max_n_total_needed=int(needed[-1]))


def _finite(x: float) -> float | None:
    return None if not math.isfinite(x) else float(x)
