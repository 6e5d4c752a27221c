"""Run a scenario: choose the engine, search or evaluate, collect results."""
from __future__ import annotations

import math
import os
from typing import Callable

import numpy as np

from . import __version__
from .design import Design
from .errors import NoSolutionError, ScenarioError
from .exact import exact_power
from .montecarlo import monte_carlo_power
from .results import PlanResult, PowerPoint, SampleSizeResult, randomised
from .scenario import Scenario
from .search import find_sample_size, normal_approximation

# Half-width of the power curve reported around an evaluated size.
CURVE_HALF_WIDTH = 10


def choose_method(scenario: Scenario) -> str:
    """``auto`` rule: exact whenever the trial is analysed on its 2x2 table with
    point rates.  Exact enumeration then costs one tabulated decision per size,
    which simulation needs as well, so it is never slower and has no Monte Carlo
    error; simulation is kept for what enumeration cannot do (rates drawn from
    priors per trial, patient-level models)."""
    method = scenario.simulation.method
    return "exact" if method == "auto" else method


def design_of(scenario: Scenario) -> Design:
    a = scenario.analysis
    return Design(test=a.test, sided=a.sided, alpha=a.alpha, allocation=scenario.allocation)


def power_function(scenario: Scenario, method: str, jobs: int = 1) -> Callable:
    """``power_at(control sizes) -> (power, se)`` for the scenario's design."""
    design = design_of(scenario)
    p_t, p_c = scenario.treatment.rate, scenario.control.rate
    if method == "exact":
        def power_at(sizes):
            return exact_power(design, p_t, p_c, sizes), np.zeros(len(sizes))
    else:
        sim = scenario.simulation

        def power_at(sizes):
            return monte_carlo_power(design, p_t, p_c, sizes, sim.n_sims, sim.seed, jobs)
    return power_at


def run(scenario: Scenario, jobs: int = 1) -> PlanResult:
    """Answer the scenario's question: the power at ``sample_size.n_control`` if
    given, else the smallest size that reaches ``target_power``.  ``jobs``:
    parallel workers for Monte Carlo chunks (``-1``: all cores).

    Raises :class:`NoSolutionError` when the search has no finite answer.
    """
    if jobs == -1:
        jobs = os.cpu_count() or 1
    if not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"`jobs` must be a whole number >= 1, or -1 for all cores; got {jobs!r}")
    method = choose_method(scenario)
    design = design_of(scenario)
    power_at = power_function(scenario, method, jobs)
    p_t, p_c = scenario.treatment.rate, scenario.control.rate
    smallest = design.smallest_control()
    bound = scenario.sample_size.max_control
    approx = None
    if p_t > p_c or (p_t < p_c and scenario.analysis.sided == "two"):
        approx = normal_approximation(p_t, p_c, scenario.allocation, scenario.analysis.alpha,
                                      scenario.analysis.sided, scenario.target_power)

    def point(m, power, se):
        n_t, n_c = design.sizes(int(m))
        return PowerPoint(n_control=n_c, n_treatment=n_t, power=float(power), power_se=float(se))

    evaluated = sample_size = None
    m_eval = scenario.sample_size.n_control
    if m_eval is not None:
        if m_eval < smallest:
            raise ScenarioError(
                f"= {m_eval} gives an empty treatment arm (round({scenario.allocation:g} x "
                f"{m_eval}) = 0); the smallest feasible control-arm size is {smallest}",
                field="sample_size.n_control", file=scenario.file)
        sizes = np.arange(max(smallest, m_eval - CURVE_HALF_WIDTH), m_eval + CURVE_HALF_WIDTH + 1)
        power, se = power_at(sizes.tolist())
        curve = tuple(point(m, p, s) for m, p, s in zip(sizes, power, se))
        evaluated = next(pt for pt in curve if pt.n_control == m_eval)
    else:
        try:
            _check_answerable(scenario, smallest, bound)
            found = find_sample_size(power_at, scenario.target_power, smallest, bound,
                                     guess=math.ceil(1.25 * approx) + 2)
        except NoSolutionError as err:
            raise err.in_file(scenario.file) from None
        curve = tuple(point(m, p, s) for m, p, s in zip(found.sizes, found.power, found.se))
        by_size = {pt.n_control: pt for pt in curve}
        answer = by_size[found.first]
        interval_treatment = tuple(None if m is None else design.sizes(m)[0]
                                   for m in found.interval)
        sample_size = SampleSizeResult(
            answer=answer, stable=by_size.get(found.stable),
            interval_control=found.interval, interval_treatment=interval_treatment,
            randomised_control=randomised(answer.n_control, scenario.dropout),
            randomised_treatment=randomised(answer.n_treatment, scenario.dropout),
            checked_up_to=int(found.sizes[-1]))

    # The size of the test at the reported design, exactly, with both arms at
    # the control rate: large-sample tests can exceed alpha at small sizes.
    reported = sample_size.answer if sample_size else evaluated
    size = float(exact_power(design, p_c, p_c, [reported.n_control])[0])
    return PlanResult(
        scenario=scenario, method=method,
        n_sims=None if method == "exact" else scenario.simulation.n_sims,
        seed=scenario.simulation.seed, version=__version__,
        sample_size=sample_size, evaluated=evaluated, power_curve=curve,
        normal_approx_control=approx, type_one_error=size)


def _check_answerable(scenario: Scenario, smallest: int, bound: int) -> None:
    p_t, p_c = scenario.treatment.rate, scenario.control.rate
    if p_t == p_c:
        raise NoSolutionError(
            f"equal rates ({p_t:g} in both arms): power never exceeds alpha, so no sample "
            "size reaches the target; give different rates or evaluate a size with "
            "`sample_size.n_control`", field="arms.treatment.rate")
    if scenario.analysis.sided == "one" and p_t < p_c:
        raise NoSolutionError(
            f"({p_t:g}) is below the control rate ({p_c:g}) and the test is one-sided for "
            "treatment better than control: power stays below alpha at every size",
            field="arms.treatment.rate")
    if bound < smallest:
        raise NoSolutionError(f"= {bound} is below the smallest feasible size {smallest}",
                              field="sample_size.max_control")
