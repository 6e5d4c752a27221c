"""The priors layer on any planner: assurance of the real design at any size
(memoised), the search for ``target_assurance``, and the prior block of the
result."""
from __future__ import annotations

from typing import Callable

import numpy as np

from ..engines.assurance import exact_assurance, monte_carlo_assurance
from ..engines.design import Design
from ..errors import NoSolutionError
from ..results import ArmPrior, AssuranceResult, PriorSummary, assurance_limit
from ..scenario.build import Scenario
from ..scenario.priors import describe_effect, describe_rate
from .search import REACH_TOLERANCE, find_sample_size, memoised


class AssurancePlan:
    """Assurance of one scenario's design: evaluated (memoised) at any size,
    searched for ``target_assurance``.  ``given``: the planner's own
    simulated assurance (sequential, patient-level), else the 2x2 table's,
    exact or simulated; ``probability_better``: what assurance tends to."""

    DEFINITION = ("probability that the test rejects with the treatment's observed live-birth "
                  "rate above control's, averaged over the priors of the true rates")

    def __init__(self, scenario: Scenario, design: Design, method: str, jobs: int,
                 given: Callable | None, probability_better: Callable[[], float]):
        self.scenario, self.design, self.method = scenario, design, method
        self.model = scenario.rate_model
        self.probability_better = probability_better
        self.integration_error = 0.0 if method == "exact" and given is None else None
        self.jobs = jobs
        sim = scenario.simulation
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
        self.assurance_at = memoised(assurance)

    def confirm(self, m: int, n_sims: int, seed: int) -> tuple[float, float]:
        """The exact assurance at control-arm size m simulated again: the
        estimate and its Monte Carlo standard error."""
        simulated = monte_carlo_assurance(self.design, self.model, [m], n_sims, seed, self.jobs)
        return float(simulated.assurance[0]), float(simulated.se[0])

    def probabilities(self) -> tuple[float, float | None]:
        """Prior probabilities that treatment is better (what assurance tends
        to) and that the difference exceeds ``mcid`` (None without one)."""
        mcid = self.scenario.mcid
        above = None if mcid is None else self.model.probability_difference_above(mcid)
        return self.probability_better(), above

    def result(self, reported: int, smallest: int, bound: int, point, sizes: set[int],
               sample_size_of: Callable):
        """The assurance part of the result; ``point(m)``: the curve's point at
        size m; ``sample_size_of(found)``: a search's answer as a result."""
        s = self.scenario
        ceiling, above_mcid = self.probabilities()
        sample_size = unreachable = None
        target = s.target_assurance
        if target is not None:
            sample_size, unreachable = self._search(target, ceiling, reported, smallest, bound,
                                                    sizes, sample_size_of)
        return AssuranceResult(
            method=self.method, definition=self.DEFINITION, target=target, ceiling=ceiling,
            at_reported=point(reported), sample_size=sample_size, unreachable=unreachable,
            integration_error=self.integration_error, mcid=s.mcid,
            probability_above_mcid=above_mcid, prior=self.describe(ceiling, above_mcid))

    def _search(self, target, ceiling, start, smallest, bound, sizes, sample_size_of):
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
        return sample_size_of(found), None

    def describe(self, ceiling: float, above_mcid: float | None) -> PriorSummary:
        s = self.scenario
        inputs = s.to_dict()["arms"]

        def arm(a, spec):
            return ArmPrior(a.label, a.rate, a.planning_from,
                            a.prior.to_dict() if a.prior else None,
                            describe_rate(spec["rate"]) if spec.get("rate") is not None
                            else None)
        effect = None
        if s.effect is not None:
            effect = dict(s.effect.to_dict(),
                          description=describe_effect(inputs["treatment"]["effect"]))
        return PriorSummary(control=arm(s.control, inputs["control"]),
                            treatment=arm(s.treatment, inputs["treatment"]), effect=effect,
                            probability_treatment_better=ceiling, mcid=s.mcid,
                            probability_above_mcid=above_mcid)
