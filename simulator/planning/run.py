"""Run a scenario: choose the engine, search or evaluate, collect results."""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial
from typing import Callable

import numpy as np

from ..version import __version__
from ..engines.design import Design
from ..errors import NoSolutionError, ScenarioError
from ..engines.exact import exact_power, maximum_over_rates, null_rejection, rate_grid
from ..execution.backends import configured, scope
from ..engines.montecarlo import monte_carlo_power
from ..engines.assurance import exact_assurance, monte_carlo_assurance, table_ranges
from . import patients as patient_plan
from ..scenario.priors import describe_effect, describe_rate
from ..results import (AssuranceResult, Confirmation, PlanResult, PowerCurve, PowerPoint,
                      SampleSizeResult, assurance_limit, randomised)
from ..scenario.build import MAX_ARM_SIZE, Scenario
from .search import REACH_TOLERANCE, find_sample_size, normal_approximation
from ..engines.sequential import simulate_oc
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


def power_function(scenario: Scenario, method: str, jobs: int = 1) -> Callable:
    """``power_at(control sizes) -> (power, se)`` for the scenario's design."""
    if scenario.patient is not None:
        return patient_plan.power_function(scenario, jobs)
    design = design_of(scenario)
    p_t, p_c = scenario.treatment.rate, scenario.control.rate
    if method == "exact":
        # with priors, tabulate once over the ranges assurance needs as well
        ranges = partial(table_ranges, scenario.rate_model) if scenario.has_prior else None

        def power_at(sizes):
            return exact_power(design, p_t, p_c, sizes, ranges), np.zeros(len(sizes))
    else:
        sim = scenario.simulation

        def power_at(sizes):
            return monte_carlo_power(design, p_t, p_c, sizes, sim.n_sims, sim.seed, jobs)
    return power_at


def _memoised(fn: Callable) -> Callable:
    """``fn(sizes) -> (values, se)`` computed once per size."""
    cache: dict[int, tuple[float, float]] = {}

    def at(sizes):
        todo = [int(m) for m in sizes if int(m) not in cache]
        if todo:
            values, se = fn(todo)
            cache.update({m: (float(v), float(e)) for m, v, e in zip(todo, values, se)})
        pairs = np.array([cache[int(m)] for m in sizes]).reshape(-1, 2)
        return pairs[:, 0], pairs[:, 1]
    return at


def _randomised(scenario: Scenario, n: int) -> int:
    """Women to randomise for ``n`` with an outcome, within the arm-size limit."""
    # the patient-level model simulates dropout: its sizes are women randomised
    dropout = scenario.dropout if scenario.patient is None else 0.0
    count = randomised(n, dropout)
    if count > MAX_ARM_SIZE:
        raise ScenarioError(f"= {dropout:.10g} asks to randomise {count:,} women in an arm for "
                            f"{n:,} with an outcome, above the limit of {MAX_ARM_SIZE:,}",
                            field="dropout", file=scenario.source_of("dropout"))
    return count


def _sample_size(found, design: Design, scenario: Scenario, point) -> SampleSizeResult:
    by_size = {int(m): point(m) for m in found.sizes}
    answer = by_size[found.first]
    return SampleSizeResult(
        answer=answer, stable=by_size.get(found.stable),
        interval_control=found.interval,
        interval_treatment=tuple(None if m is None else design.sizes(m)[0]
                                 for m in found.interval),
        randomised_control=_randomised(scenario, answer.n_control),
        randomised_treatment=_randomised(scenario, answer.n_treatment),
        checked_up_to=int(found.sizes[-1]))


def run(scenario: Scenario, jobs: int = 1, *, backend: str | None = None,
        scheduler: str | None = None, cache=None) -> PlanResult:
    """Answer the scenario's question (see :func:`_run`); an error found while
    running (bounds that do not fit together, no answer) names the file.

    ``jobs``: parallel workers for Monte Carlo chunks (``-1``: all cores).
    ``backend``: ``"loky"`` (processes on this machine, the default) or
    ``"dask"``: the dask.distributed cluster at ``scheduler``
    (``"tcp://host:8786"``), or a local cluster of ``jobs`` worker processes.
    ``cache``: a directory keeping every finished chunk, so that a run
    started again after an interruption reuses them.  Results are identical
    whatever the backend, jobs or cache."""
    with configured(backend, scheduler, jobs, cache) as workers, scope(scenario.digest):
        try:
            return _run(scenario, workers)
        except ScenarioError as err:
            if err.file is None and scenario.file is not None:
                raise err.in_file(scenario.source_of(err.field)) from None
            raise


@dataclass(frozen=True)
class Evaluators:
    """How one scenario's design is evaluated at any control-arm size: the
    engine, the power (and, with priors, the assurance) of the real design,
    fixed, sequential or Bayesian, 2x2 or patient-level, memoised per size.
    The run and every sweep point evaluate through it, so the numbers of a
    sweep point at the base values are the base run's."""
    method: str
    design: Design
    sequential: SequentialPlan | None
    power_at: Callable                  # control sizes -> (power, se)
    prior: "AssurancePlan | None"


def evaluators(scenario: Scenario, jobs: int = 1) -> Evaluators:
    method = choose_method(scenario)
    design = design_of(scenario)
    sequential = None
    if scenario.interim is not None:
        sequential = SequentialPlan(scenario, method, jobs)
        power_at = _memoised(sequential.power_at)
    else:
        power_at = _memoised(power_function(scenario, method, jobs))
    prior = None
    if scenario.has_prior:
        prior = AssurancePlan(scenario, design, method, jobs,
                              sequential.assurance_at if sequential else None)
    return Evaluators(method, design, sequential, power_at, prior)


def _run(scenario: Scenario, jobs: int = 1, ev: Evaluators | None = None,
         extras: bool = True) -> PlanResult:
    """Answer the scenario's question: the power at ``sample_size.n_control`` if
    given, else the smallest size that reaches ``target_power``; with priors,
    also assurance at every size and the smallest size that reaches
    ``target_assurance``.  ``jobs``: parallel workers for Monte Carlo chunks;
    ``ev``: the scenario's evaluators, when the caller has evaluated sizes already;
    ``extras`` false (a sweep point) leaves out what only the report uses: the
    maximum type I error over the common rate and the Monte Carlo check.

    Raises :class:`NoSolutionError` when the power search has no finite answer.
    """
    ev = ev or evaluators(scenario, jobs)
    method, design, sequential, power_at, prior = (ev.method, ev.design, ev.sequential,
                                                   ev.power_at, ev.prior)
    p_t, p_c = scenario.treatment.rate, scenario.control.rate
    if scenario.patient is not None:        # the rates the analysis sees, for the first guess
        p_t, p_c = scenario.patient.pooled_itt_rates
    smallest = design.smallest_control()
    bound = scenario.sample_size.max_control
    approx = None
    if p_t > p_c or (p_t < p_c and scenario.analysis.sided == "two"):
        approx = normal_approximation(p_t, p_c, scenario.allocation, scenario.analysis.alpha,
                                      scenario.analysis.sided, scenario.target_power)

    def point(m):
        n_t, n_c = design.sizes(int(m))
        (power,), (se,) = power_at([m])
        a = a_se = None
        if prior:
            (a,), (a_se,) = prior.assurance_at([m])
        return PowerPoint(n_control=n_c, n_treatment=n_t, power=float(power), power_se=float(se),
                          assurance=None if a is None else float(a),
                          assurance_se=None if a_se is None else float(a_se))

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
        sizes.update(range(max(smallest, m_eval - CURVE_HALF_WIDTH), m_eval + CURVE_HALF_WIDTH + 1))
        reported = m_eval
    else:
        try:
            _check_answerable(scenario, smallest, bound)
            found = find_sample_size(power_at, scenario.target_power, smallest, bound,
                                     guess=math.ceil(1.25 * approx) + 2)
        except NoSolutionError as err:
            raise err.in_file(scenario.source_of(err.field)) from None
        sizes.update(int(m) for m in found.sizes)
        sample_size = _sample_size(found, design, scenario, point)
        reported = sample_size.answer.n_control
    assurance = None
    if prior:
        prior.assurance_at(sorted(sizes))
        assurance = prior.result(reported, smallest, bound, point, sizes)
    proposed, reported = _proposal(scenario, sample_size, assurance, reported, bound,
                                   power_at, prior)
    _randomised(scenario, design.sizes(reported)[0])
    sizes.add(reported)
    if scenario.patient is None and sequential is None:
        # (a patient-level size is a long simulation; a sequential one may need
        # its bounds and calibration again)
        top = max(reported, sample_size.answer.n_control) if sample_size else reported
        sizes.update(overview_sizes(smallest, top, bound))
    # evaluate the curve's sizes in batches (one pass over the simulated trials each)
    power_at(sorted(sizes))
    if prior:
        prior.assurance_at(sorted(sizes))
    curve = PowerCurve(point(m) for m in sorted(sizes))
    evaluated = point(m_eval) if m_eval is not None else None

    # The size of the test at the proposed design, with both arms at the
    # control rate (large-sample tests can exceed alpha at small sizes), and
    # on the 2x2 table its maximum over that common rate, exactly.  The
    # patient-level model's is simulated, for every analysis.
    patient = interim = maximum = None
    if scenario.patient is not None:
        patient = patient_plan.summarise(scenario, reported, jobs)
        size = patient.analysis(scenario.patient.primary).type_one_error
    elif sequential is not None:
        fixed = None
        if len(scenario.interim.looks) > 1 and proposed == "power":    # the answer's inflation
            fixed = _fixed_size(sequential, smallest, bound, approx)
        interim = sequential.summarise(reported, fixed)
        size = interim.operating[interim.type_one_error_key]["power"]
        if extras:
            maximum = sequential.maximum_type_one_error(reported)
    else:
        n_t, n_c = design.sizes(reported)
        size = float(exact_power(design, p_c, p_c, [reported])[0])
        size_at = null_rejection(design, n_t, n_c) if extras else None
        if size_at is not None:
            maximum = maximum_over_rates(size_at, rate_grid(max(n_t, n_c)))
    confirmation = None
    if extras and method == "exact" and scenario.simulation.confirm:
        confirmation = _confirm(scenario, ev, reported, jobs)
    return PlanResult(
        scenario=scenario, method=method,
        n_sims=None if method == "exact" else scenario.simulation.n_sims,
        seed=scenario.simulation.seed, version=__version__,
        sample_size=sample_size, evaluated=evaluated, power_curve=curve,
        normal_approx_control=approx, type_one_error=size, assurance=assurance, patient=patient,
        sequential=interim, proposed=proposed, proposal=point(reported),
        type_one_error_max=maximum, confirmation=confirmation)


def _proposal(scenario: Scenario, power_ss, assurance, reported: int, bound: int, power_at,
              prior) -> tuple[str, int]:
    """The size proposed, and which: the size evaluated (`--n-control`); the
    power answer; the assurance answer (``propose: assurance``, when
    reached); or with ``propose: larger`` the smallest size from the larger of
    the two answers on at which power and assurance both reach their targets
    ("both" when that is neither answer: the saw-tooth of a discrete test can
    take one below its target at the other's answer)."""
    if power_ss is None:
        return "evaluated", reported
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


def _confirm(scenario: Scenario, ev: Evaluators, m: int, jobs: int) -> Confirmation:
    """The exact answer at control-arm size m simulated again: ``confirm``
    trials from the scenario's seed, power (and an exact assurance) with
    their Monte Carlo standard errors."""
    n_sims, seed = scenario.simulation.confirm, scenario.simulation.seed
    if ev.sequential is not None:
        sq = ev.sequential
        n_t, n_c = sq.sizes_of(m)
        oc = simulate_oc(sq.design_at(m), n_t, n_c, sq.planning_rates, n_sims, seed, jobs)
        power, power_se = oc.power, float(oc.se(oc.power))
    else:
        (power,), (power_se,) = monte_carlo_power(ev.design, scenario.treatment.rate,
                                                  scenario.control.rate, [m], n_sims, seed, jobs)
    a = a_se = None
    if ev.prior is not None and ev.prior.method == "exact":
        simulated = monte_carlo_assurance(ev.design, scenario.rate_model, [m], n_sims, seed, jobs)
        a, a_se = float(simulated.assurance[0]), float(simulated.se[0])
    return Confirmation(n_sims, seed, float(power), float(power_se), a, a_se)


def overview_sizes(smallest: int, reported: int, bound: int, points: int = 16) -> set[int]:
    """Control-arm sizes spread from a fifth to twice the reported size, so
    that the power curve shows how power builds up, not only the window
    around the answer."""
    lo, hi = max(smallest, reported // 5), min(bound, 2 * reported)
    return {int(m) for m in np.linspace(lo, hi, points).round()} if hi > lo else set()


def _fixed_size(sequential: SequentialPlan, smallest: int, bound: int,
                approx: float | None) -> int | None:
    """Control-arm size of the fixed design (one look) reaching the target
    power, for the inflation factor; None if the search bound misses it."""
    fixed = sequential.fixed()
    guess = smallest if approx is None else math.ceil(approx) + 2
    try:
        found = find_sample_size(_memoised(fixed.power_at), sequential.scenario.target_power,
                                 smallest, bound, guess=min(max(guess, smallest), bound))
    except NoSolutionError:
        return None
    return int(found.first)


class AssurancePlan:
    """Assurance of one scenario's design: evaluated (memoised) at any size,
    searched for ``target_assurance``."""

    DEFINITION = ("probability that the test rejects with the treatment's observed live-birth "
                  "rate above control's, averaged over the priors of the true rates")

    def __init__(self, scenario: Scenario, design: Design, method: str, jobs: int,
                 given: Callable | None = None):
        self.scenario, self.design, self.method = scenario, design, method
        self.model = scenario.rate_model
        self.integration_error = 0.0 if method == "exact" and given is None else None
        sim = scenario.simulation
        if scenario.patient:
            given = patient_plan.assurance_function(scenario, jobs)
        if given is not None:       # a simulated assurance (patient-level, sequential)
            self.method = "monte_carlo"

        def assurance(sizes):
            if given is not None:
                return given(sizes)
            if method == "exact":
                exact = exact_assurance(design, self.model, sizes)
                self.integration_error = max(self.integration_error, exact.integration_error)
                return exact.assurance, np.zeros(len(sizes))
            simulated = monte_carlo_assurance(design, self.model, sizes, sim.n_sims, sim.seed, jobs)
            return simulated.assurance, simulated.se
        self.assurance_at = _memoised(assurance)

    def result(self, reported: int, smallest: int, bound: int, point, sizes: set[int]):
        s = self.scenario
        if s.patient is not None:
            ceiling = patient_plan.probability_better(s)[0]
        else:
            ceiling = self.model.probability_difference_above(0.0)
        above_mcid = None if s.mcid is None else self.model.probability_difference_above(s.mcid)
        sample_size = unreachable = None
        target = s.target_assurance
        if target is not None:
            sample_size, unreachable = self._search(target, ceiling, reported, smallest, bound,
                                                    point, sizes)
        return AssuranceResult(
            method=self.method, definition=self.DEFINITION, target=target, ceiling=ceiling,
            at_reported=point(reported), sample_size=sample_size, unreachable=unreachable,
            integration_error=self.integration_error, mcid=s.mcid,
            probability_above_mcid=above_mcid, prior=self.describe(ceiling, above_mcid))

    def _search(self, target, ceiling, start, smallest, bound, point, sizes):
        reachable = assurance_limit(ceiling, self.scenario.analysis.alpha)
        if target >= reachable:
            return None, (f"the target assurance {target:g} is above what any size can give: "
                          f"assurance tends to {ceiling:.4f}, the prior probability that the "
                          f"treatment is better, and exceeds it by at most alpha times the rest "
                          f"(bound {reachable:.4f})")
        # double from the power answer until the target is reached, then search below
        guess = max(start, smallest)
        while guess < bound and self.assurance_at([guess])[0][0] < target + REACH_TOLERANCE:
            guess = min(2 * guess, bound)
        try:
            found = find_sample_size(self.assurance_at, target, smallest, bound, guess=guess)
        except NoSolutionError:
            (at_bound,), _ = self.assurance_at([bound])
            return None, (f"assurance at the search bound ({bound:,} per control arm) is "
                          f"{at_bound:.4f}, below the target {target:g} (it tends to "
                          f"{ceiling:.4f} as the trial grows); raise `sample_size.max_control` "
                          "or lower the target")
        sizes.update(int(m) for m in found.sizes)
        return _sample_size(found, self.design, self.scenario, point), None

    def describe(self, ceiling: float, above_mcid: float | None) -> dict:
        s = self.scenario
        inputs = s.to_dict()["arms"]

        def arm(a, spec):
            return {"label": a.label, "planning_rate": a.rate, "planning_from": a.planning_from,
                    "rate_prior": a.prior.to_dict() if a.prior else None,
                    "description": describe_rate(spec["rate"]) if spec.get("rate") is not None
                    else None}
        out = {"control": arm(s.control, inputs["control"]),
               "treatment": arm(s.treatment, inputs["treatment"]),
               "effect": None, "probability_treatment_better": ceiling,
               "mcid": s.mcid, "probability_above_mcid": above_mcid}
        if s.effect is not None:
            out["effect"] = dict(s.effect.to_dict(),
                                 description=describe_effect(inputs["treatment"]["effect"]))
        return out


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
