"""One planner per kind of design, chosen once when a scenario is planned
(:func:`planner_for`).

Every planner has the same small interface, so that the run, the sweeps and
whatever compares designs never ask which kind they hold:

- ``power_at(sizes)`` and ``assurance_at(sizes)``: ``(values, standard
  errors)`` at control-arm sizes, memoised per size (the priors are a layer
  on any kind, :class:`~simulator.planning.assurance.AssurancePlan`, at
  ``prior``);
- ``search(target)``: the smallest size reaching a target power;
- ``point(m)``: power and assurance at one size;
- ``result()``: the :class:`~simulator.results.PlanResult` of the scenario.

What differs by kind is what the kinds override: how power is computed, the
rates the analysis sees, what dropout means for the sizes, which sizes the
power curve shows, how the type I error and its maximum are found
(``size_at``) and how an exact answer is simulated again (``confirm``).
:class:`FixedPlanner` is the fixed design on its 2x2 table (exact or
simulated, frequentist or Bayesian), :class:`SequentialPlanner` the design
with interim looks, :class:`PatientPlanner` the patient-level model.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial
from typing import Callable

import numpy as np

from ..engines.assurance import table_ranges
from ..engines.design import Design
from ..engines.exact import exact_power, maximum_over_rates, null_rejection, rate_grid
from ..engines.montecarlo import monte_carlo_power
from ..engines.sequential import simulate_oc
from ..errors import NoSolutionError, ScenarioError
from ..results import (Confirmation, PlanResult, PowerCurve, PowerPoint, SampleSizeResult,
                       randomised)
from ..version import __version__
from ..scenario.build import Scenario
from ..scenario.schema import MAX_ARM_SIZE
from . import patients as patient_plan
from .assurance import AssurancePlan
from .search import REACH_TOLERANCE, find_sample_size, memoised, normal_approximation
from .sequential import SequentialPlan

# Half-width of the power curve reported around an evaluated size.
CURVE_HALF_WIDTH = 10


def choose_method(scenario: Scenario) -> str:
    """``auto`` rule: exact whenever the trial is analysed on its 2x2 table, with
    point rates or priors.  Exact enumeration then costs one tabulated decision
    per size, which simulation needs as well, so it is never slower and has no
    Monte Carlo error (assurance sums beta-binomial predictives over the table,
    or integrates an effect prior numerically); simulation is kept for what
    enumeration cannot do (patient-level models) and to check the exact route."""
    method = scenario.simulation.method
    if method == "auto":
        return "monte_carlo" if scenario.patient is not None else "exact"
    return method


def design_of(scenario: Scenario) -> Design:
    a = scenario.analysis
    return Design(test=a.test, sided=a.sided, alpha=a.alpha, allocation=scenario.allocation)


@dataclass(frozen=True)
class NullSummary:
    """The type I error at the proposed size (at the control rate), its
    maximum over the common rate when computed exactly, and the kind's own
    summary at that size (patient-level analyses or the interim plan)."""
    size: float
    maximum: object = None
    patient: object = None
    sequential: object = None


class Planner:
    """What every kind shares: the engine, the design, memoised power, the
    priors layer, the search and the result; the kinds below say what
    differs."""

    def __init__(self, scenario: Scenario, jobs: int = 1):
        self.scenario, self.jobs = scenario, jobs
        self.method = choose_method(scenario)
        self.design = design_of(scenario)
        self.smallest = self.design.smallest_control()
        self.bound = scenario.sample_size.max_control
        self.power_at = memoised(self._power_function())
        self.prior = (AssurancePlan(scenario, self.design, self.method, jobs,
                                    self._assurance_function(), self._probability_better)
                      if scenario.has_prior else None)
        # the normal approximation to the size (a first guess, and reported)
        p_t, p_c = self.analysis_rates
        a = scenario.analysis
        self.approximation = None
        if p_t > p_c or (p_t < p_c and a.sided == "two"):
            self.approximation = normal_approximation(p_t, p_c, scenario.allocation, a.alpha,
                                                      a.sided, scenario.target_power)

    # -- what differs by kind -------------------------------------------------
    def _power_function(self) -> Callable:
        """``power_at(control sizes) -> (power, se)``, not memoised."""
        raise NotImplementedError

    def _assurance_function(self) -> Callable | None:
        """A simulated assurance of the kind's own, or None for the 2x2
        table's (exact or simulated), which the priors layer computes."""
        return None

    def _probability_better(self) -> float:
        """Prior probability that treatment is better: what assurance tends to."""
        return self.scenario.rate_model.probability_difference_above(0.0)

    @property
    def analysis_rates(self) -> tuple[float, float]:
        """(treatment, control) rates the analysis sees."""
        return self.scenario.treatment.rate, self.scenario.control.rate

    @property
    def dropout(self) -> float:
        """Share of randomised women without an outcome that the sizes leave out."""
        return self.scenario.dropout

    def overview_sizes(self, top: int) -> set[int]:
        """Sizes of the power curve beyond the window around the answer: none
        where each size is costly."""
        return set()

    def size_at(self, reported: int, *, fixed_wanted: bool, extras: bool) -> NullSummary:
        """The type I error at control-arm size ``reported``; ``extras``: also
        its exact maximum over the common rate; ``fixed_wanted``: the fixed
        design reaching the target power, to compare with."""
        raise NotImplementedError

    def confirm(self, m: int, n_sims: int, seed: int) -> tuple[float, float]:
        """The exact power at control-arm size m simulated again: the estimate
        and its Monte Carlo standard error."""
        raise NotImplementedError(f"{type(self).__name__} has no exact answer to confirm")

    # -- the same for every kind ---------------------------------------------
    def assurance_at(self, sizes):
        """``(assurance, se)`` at control-arm sizes (with priors only)."""
        if self.prior is None:
            raise ValueError("assurance needs priors on the rates or the effect")
        return self.prior.assurance_at(sizes)

    def search(self, target: float | None = None):
        """The power search (:func:`~.search.find_sample_size`) for ``target``
        (the scenario's ``target_power`` by default); raises
        :class:`NoSolutionError`, naming the file, when it has no answer."""
        scenario = self.scenario
        target = scenario.target_power if target is None else target
        try:
            _check_answerable(scenario, self.smallest, self.bound)
            return find_sample_size(self.power_at, target, self.smallest, self.bound,
                                    guess=math.ceil(1.25 * self.approximation) + 2)
        except NoSolutionError as err:
            raise err.in_file(scenario.source_of(err.field)) from None

    def randomised(self, n: int) -> int:
        """Women to randomise for ``n`` with an outcome, within the arm-size limit."""
        count = randomised(n, self.dropout)
        if count > MAX_ARM_SIZE:
            raise ScenarioError(f"= {self.dropout:.10g} asks to randomise {count:,} women in an "
                                f"arm for {n:,} with an outcome, above the limit of "
                                f"{MAX_ARM_SIZE:,}",
                                field="dropout", file=self.scenario.source_of("dropout"))
        return count

    def point(self, m: int) -> PowerPoint:
        """Power (and assurance) at control-arm size m."""
        n_t, n_c = self.design.sizes(int(m))
        (power,), (se,) = self.power_at([m])
        a = a_se = None
        if self.prior:
            (a,), (a_se,) = self.prior.assurance_at([m])
        return PowerPoint(n_control=n_c, n_treatment=n_t, power=float(power), power_se=float(se),
                          assurance=None if a is None else float(a),
                          assurance_se=None if a_se is None else float(a_se))

    def result(self, extras: bool = True) -> PlanResult:
        """Answer the scenario's question: the power at ``sample_size.n_control``
        if given, else the smallest size that reaches ``target_power``; with
        priors, also assurance at every size and the smallest size that
        reaches ``target_assurance``; the size proposed, its type I error and
        the Monte Carlo check of an exact answer.  ``extras`` false (a sweep
        point) leaves out what only the report uses: the maximum type I error
        over the common rate and the Monte Carlo check.

        Raises :class:`NoSolutionError` when the power search has no finite answer.
        """
        scenario, prior, point = self.scenario, self.prior, self.point
        smallest, bound = self.smallest, self.bound
        sample_size = None
        sizes: set[int] = set()
        m_eval = scenario.sample_size.n_control
        if m_eval is not None:
            if m_eval < smallest:
                raise ScenarioError(
                    f"= {m_eval} gives an empty treatment arm (round({scenario.allocation:g} x "
                    f"{m_eval}) = 0); the smallest feasible control-arm size is {smallest}",
                    field="sample_size.n_control",
                    file=scenario.source_of("sample_size.n_control"))
            sizes.update(range(max(smallest, m_eval - CURVE_HALF_WIDTH),
                               m_eval + CURVE_HALF_WIDTH + 1))
            reported = m_eval
        else:
            found = self.search()
            sizes.update(int(m) for m in found.sizes)
            sample_size = self._sample_size(found)
            reported = sample_size.answer.n_control
        assurance = None
        if prior:
            prior.assurance_at(sorted(sizes))
            assurance = prior.result(reported, smallest, bound, point, sizes, self._sample_size)
        proposed, reported = self._proposal(sample_size, assurance, reported)
        self.randomised(self.design.sizes(reported)[0])
        sizes.add(reported)
        sizes.update(self.overview_sizes(
            max(reported, sample_size.answer.n_control) if sample_size else reported))
        # evaluate the curve's sizes in batches (one pass over the simulated trials each)
        self.power_at(sorted(sizes))
        if prior:
            prior.assurance_at(sorted(sizes))
        curve = PowerCurve(point(m) for m in sorted(sizes))
        evaluated = point(m_eval) if m_eval is not None else None

        # The size of the test at the proposed design, with both arms at the
        # control rate (large-sample tests can exceed alpha at small sizes), and
        # on the 2x2 table its maximum over that common rate, exactly.  The
        # patient-level model's is simulated, for every analysis.
        null = self.size_at(reported, fixed_wanted=proposed == "power", extras=extras)
        confirmation = None
        if extras and self.method == "exact" and scenario.simulation.confirm:
            confirmation = self._confirmation(reported)
        return PlanResult(
            scenario=scenario, method=self.method,
            n_sims=None if self.method == "exact" else scenario.simulation.n_sims,
            seed=scenario.simulation.seed, version=__version__,
            sample_size=sample_size, evaluated=evaluated, power_curve=curve,
            normal_approx_control=self.approximation, type_one_error=null.size,
            assurance=assurance, patient=null.patient, sequential=null.sequential,
            proposed=proposed, proposal=point(reported), type_one_error_max=null.maximum,
            confirmation=confirmation)

    def _proposal(self, power_ss, assurance, reported: int) -> tuple[str, int]:
        """The size proposed, and which: the size evaluated (`--n-control`); the
        power answer; the assurance answer (``propose: assurance``, when
        reached); or with ``propose: larger`` the smallest size from the larger of
        the two answers on at which power and assurance both reach their targets
        ("both" when that is neither answer: the saw-tooth of a discrete test can
        take one below its target at the other's answer)."""
        if power_ss is None:
            return "evaluated", reported
        scenario, power_at, prior, bound = self.scenario, self.power_at, self.prior, self.bound
        rule = scenario.sample_size.propose
        a_ss = assurance.sample_size if assurance is not None else None
        if rule == "power" or a_ss is None:
            return "power", reported
        by_assurance = a_ss.answer.n_control
        if rule == "assurance":
            return "assurance", by_assurance

        def meets_both(m):
            return (power_at([m])[0][0] >= scenario.target_power + REACH_TOLERANCE
                    and prior.assurance_at([m])[0][0] >= scenario.target_assurance + REACH_TOLERANCE)
        start = max(reported, by_assurance)
        m = start
        while m < bound and not meets_both(m):
            m += 1
        if not meets_both(m):           # not within the search bound: the larger answer
            m = start
        kind = ("power" if m == reported else "assurance" if m == by_assurance else "both")
        return kind, m

    def _confirmation(self, m: int) -> Confirmation:
        """The exact answer at control-arm size m simulated again: ``confirm``
        trials from the scenario's seed, power (and an exact assurance) with
        their Monte Carlo standard errors."""
        n_sims, seed = self.scenario.simulation.confirm, self.scenario.simulation.seed
        power, power_se = self.confirm(m, n_sims, seed)
        a = a_se = None
        if self.prior is not None and self.prior.method == "exact":
            a, a_se = self.prior.confirm(m, n_sims, seed)
        return Confirmation(n_sims, seed, power, power_se, a, a_se)

    def _sample_size(self, found) -> SampleSizeResult:
        self.power_at(found.sizes)          # every size in one batch (threads, chunks)
        if self.prior:
            self.prior.assurance_at(found.sizes)
        by_size = {int(m): self.point(m) for m in found.sizes}
        answer = by_size[found.first]
        return SampleSizeResult(
            answer=answer, stable=by_size.get(found.stable),
            interval_control=found.interval,
            interval_treatment=tuple(None if m is None else self.design.sizes(m)[0]
                                     for m in found.interval),
            randomised_control=self.randomised(answer.n_control),
            randomised_treatment=self.randomised(answer.n_treatment),
            checked_up_to=int(found.sizes[-1]))


class FixedPlanner(Planner):
    """The fixed design on its 2x2 table: one analysis at the end, by any test
    (Bayesian rules included), exact or simulated."""

    def _power_function(self) -> Callable:
        scenario, design = self.scenario, self.design
        p_t, p_c = scenario.treatment.rate, scenario.control.rate
        if self.method == "exact":
            # with priors, tabulate once over the ranges assurance needs as well
            ranges = partial(table_ranges, scenario.rate_model) if scenario.has_prior else None

            def power_at(sizes):
                return exact_power(design, p_t, p_c, sizes, ranges), np.zeros(len(sizes))
            return power_at
        sim = scenario.simulation

        def simulated(sizes):
            return monte_carlo_power(design, p_t, p_c, sizes, sim.n_sims, sim.seed, self.jobs)
        return simulated

    def overview_sizes(self, top: int) -> set[int]:
        """Sizes spread from a fifth to twice the answer, so that the power
        curve shows how power builds up, not only the window around it."""
        lo, hi = max(self.smallest, top // 5), min(self.bound, 2 * top)
        return {int(m) for m in np.linspace(lo, hi, 16).round()} if hi > lo else set()

    def size_at(self, reported: int, *, fixed_wanted: bool, extras: bool) -> NullSummary:
        n_t, n_c = self.design.sizes(reported)
        p_c = self.scenario.control.rate
        size = float(exact_power(self.design, p_c, p_c, [reported])[0])
        maximum = None
        if extras:
            maximum = maximum_over_rates(null_rejection(self.design, n_t, n_c),
                                         rate_grid(max(n_t, n_c)))
        return NullSummary(size, maximum)

    def confirm(self, m: int, n_sims: int, seed: int) -> tuple[float, float]:
        s = self.scenario
        (power,), (se,) = monte_carlo_power(self.design, s.treatment.rate, s.control.rate, [m],
                                            n_sims, seed, self.jobs)
        return float(power), float(se)


class SequentialPlanner(Planner):
    """A design with interim looks (or a Bayesian rule applied at looks): its
    operating characteristics at any maximum size, bounds and calibrated
    thresholds per size."""

    def __init__(self, scenario: Scenario, jobs: int = 1):
        self.sequential = SequentialPlan(scenario, choose_method(scenario), jobs)
        super().__init__(scenario, jobs)

    def _power_function(self) -> Callable:
        return self.sequential.power_at

    def _assurance_function(self) -> Callable:
        return self.sequential.assurance_at

    def size_at(self, reported: int, *, fixed_wanted: bool, extras: bool) -> NullSummary:
        fixed = None
        if len(self.scenario.interim.looks) > 1 and fixed_wanted:    # the answer's inflation
            fixed = self._fixed_size()
        interim = self.sequential.summarise(reported, fixed)
        size = interim.operating[interim.type_one_error_key].power
        maximum = self.sequential.maximum_type_one_error(reported) if extras else None
        return NullSummary(size, maximum, sequential=interim)

    def _fixed_size(self) -> int | None:
        """Control-arm size of the fixed design (one look) reaching the target
        power, for the inflation factor; None if the search bound misses it."""
        fixed = self.sequential.fixed()
        smallest, bound, approx = self.smallest, self.bound, self.approximation
        guess = smallest if approx is None else math.ceil(approx) + 2
        try:
            found = find_sample_size(memoised(fixed.power_at), self.scenario.target_power,
                                     smallest, bound, guess=min(max(guess, smallest), bound))
        except NoSolutionError:
            return None
        return int(found.first)

    def confirm(self, m: int, n_sims: int, seed: int) -> tuple[float, float]:
        sq = self.sequential
        n_t, n_c = sq.sizes_of(m)
        oc = simulate_oc(sq.design_at(m), n_t, n_c, sq.planning_rates, n_sims, seed, self.jobs)
        return float(oc.power), float(oc.se(oc.power))


class PatientPlanner(Planner):
    """The patient-level model: every woman simulated (strata, centres,
    covariates, dropout, adherence), the primary analysis searched; sizes are
    women randomised."""

    def _power_function(self) -> Callable:
        return patient_plan.power_function(self.scenario, self.jobs)

    def _assurance_function(self) -> Callable:
        return patient_plan.assurance_function(self.scenario, self.jobs)

    def _probability_better(self) -> float:
        return patient_plan.probability_better(self.scenario)[0]

    @property
    def analysis_rates(self) -> tuple[float, float]:
        return self.scenario.patient.pooled_itt_rates

    @property
    def dropout(self) -> float:
        return 0.0      # the model simulates dropout: its sizes are women randomised

    def size_at(self, reported: int, *, fixed_wanted: bool, extras: bool) -> NullSummary:
        patient = patient_plan.summarise(self.scenario, reported, self.jobs)
        size = patient.analysis(self.scenario.patient.primary).type_one_error
        return NullSummary(size, patient=patient)



def planner_for(scenario: Scenario, jobs: int = 1) -> Planner:
    """The scenario's planner: chosen once, from its kind of design."""
    if scenario.patient is not None:
        return PatientPlanner(scenario, jobs)
    if scenario.interim is not None:
        return SequentialPlanner(scenario, jobs)
    return FixedPlanner(scenario, jobs)


def _check_answerable(scenario: Scenario, smallest: int, bound: int) -> None:
    p_t, p_c = scenario.treatment.rate, scenario.control.rate
    # blame the key that set the treatment's planning rate
    field = {"planning_rate": "arms.treatment.planning_rate",
             "effect": "arms.treatment.effect"}.get(scenario.treatment.planning_from,
                                                    "arms.treatment.rate")
    if p_t == p_c:
        raise NoSolutionError(
            f"equal rates ({p_t:g} in both arms): power never exceeds alpha, so no "
            "sample size reaches the target; give different rates or evaluate a size with "
            "`sample_size.n_control`", field=field)
    if scenario.analysis.sided == "one" and p_t < p_c:
        raise NoSolutionError(
            f"({p_t:g}) is below the control rate ({p_c:g}) and the test is one-sided for "
            "treatment better than control: power stays below alpha at every size",
            field=field)
    if bound < smallest:
        raise NoSolutionError(f"= {bound} is below the smallest feasible size {smallest}",
                              field="sample_size.max_control")
