"""What a feasible trial can detect: the detectable rate at a given size.

It is for the fixed design analysed on its 2x2 table, where exact power at
a size is a polynomial in the treatment rate (``engines.detectable``).  With
interim looks, the bayesian test or the patient-level model, power at each
rate would have to be enumerated look by look or simulated again for every
step of the bisection: ``--detectable`` is refused there, with the sweep that
answers the same question named in the message.
"""
from __future__ import annotations

from dataclasses import replace

from ..engines.detectable import TOLERANCE, detectable_rate
from ..errors import ScenarioError
from ..results import Detectable, PlanResult
from ..scenario.build import Scenario

FIELD = "detectable"        # the option's field: `--detectable` on the command line


def check_detectable(scenario: Scenario) -> None:
    """Before anything runs: ``--detectable`` needs a fixed 2x2 design and a
    size (``sample_size.n_control``)."""
    if scenario.patient is not None or scenario.interim is not None:
        kind = ("the patient-level model simulates its power" if scenario.patient is not None
                else "with interim looks or the bayesian test power is enumerated look by look")
        raise ScenarioError(
            f"is for a fixed design analysed on its 2x2 table, whose exact power at a size is "
            f"a polynomial in the treatment rate; {kind} at every rate, which a bisection "
            f"would repeat: evaluate rates with `--sweep arms.treatment.rate=START:STOP:STEP` "
            f"at `--n-control M` instead", field=FIELD)
    if scenario.sample_size.n_control is None:
        raise ScenarioError(
            "needs a size: `--n-control M` (women with an outcome per control arm)",
            field=FIELD)


def detectable_at(planner, m: int) -> Detectable:
    """The detectable rate at control-arm size ``m`` (None as the rate when
    not even a rate of 1 reaches the target power), with the assurance there."""
    s = planner.scenario
    found = detectable_rate(planner.design, m, s.control.rate, s.target_power)
    n_t, n_c = planner.design.sizes(m)
    a = a_se = None
    if planner.prior is not None:
        point = planner.point(m)
        a, a_se = point.assurance, point.assurance_se
    return Detectable(n_control=n_c, n_treatment=n_t, control_rate=s.control.rate,
                      treatment_rate=found.rate, power=found.power,
                      target_power=s.target_power, power_at_rate_one=found.power_at_one,
                      tolerance=TOLERANCE, single_crossing=found.single_crossing,
                      assurance=a, assurance_se=a_se)


def nothing_detectable(d: Detectable) -> str:
    """Why no rate is detectable at a size, in words."""
    return (f"at {d.n_control:,} + {d.n_treatment:,} women with an outcome no treatment rate "
            f"reaches power {d.target_power:g}: even a rate of 100% gives "
            f"{d.power_at_rate_one:.4f} (control rate {100 * d.control_rate:.1f}%)")


def extend(planner, result: PlanResult, detectable: bool = False) -> PlanResult:
    """``result`` with, when asked, the detectable rate at
    ``sample_size.n_control``; an error when that size detects nothing."""
    if not detectable:
        return result
    found = detectable_at(planner, result.evaluated.n_control)
    if found.treatment_rate is None:
        raise ScenarioError(f"{nothing_detectable(found)}; give a larger size", field=FIELD)
    return replace(result, detectable=found)
