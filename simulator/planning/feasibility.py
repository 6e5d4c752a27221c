"""What a feasible trial can detect: the detectable rate at a given size, and
a fixed design's recruitment time and capacity (the women its centres can
randomise within the target months), with the power, assurance and
detectable rate at that number.

Both are for the fixed design analysed on its 2x2 table, where exact power at
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
from ..models.recruitment import capacity as capacity_of, centres_needed, duration
from ..models.recruitment import probability_within
from ..results import Capacity, Detectable, PlanResult, PowerPoint, randomised
from ..scenario.build import Scenario

FIELD = "detectable"        # the option's field: `--detectable` on the command line


def check_detectable(scenario: Scenario) -> None:
    """Before anything runs: ``--detectable`` needs a fixed 2x2 design and a
    size (``sample_size.n_control``, or the capacity of its recruitment)."""
    if scenario.patient is not None or scenario.interim is not None:
        kind = ("the patient-level model simulates its power" if scenario.patient is not None
                else "with interim looks or the bayesian test power is enumerated look by look")
        raise ScenarioError(
            f"is for a fixed design analysed on its 2x2 table, whose exact power at a size is "
            f"a polynomial in the treatment rate; {kind} at every rate, which a bisection "
            f"would repeat: evaluate rates with `--sweep arms.treatment.rate=START:STOP:STEP` "
            f"at `--n-control M` instead", field=FIELD)
    if scenario.treatment.rate <= scenario.control.rate:
        raise ScenarioError(
            f"looks for the smallest {scenario.treatment.label} rate above the control rate "
            f"that reaches the target power; the planning rates have {scenario.treatment.label} "
            f"at or below control ({scenario.treatment.rate:g} against "
            f"{scenario.control.rate:g})", field=FIELD)
    if scenario.sample_size.n_control is None and (scenario.recruitment is None
                                                   or scenario.target_months is None):
        raise ScenarioError(
            "needs a size: `--n-control M` (women with an outcome per control arm), or "
            "`recruitment.per_centre_month` with `recruitment.target_months` (the women the "
            "centres can randomise in that time)", field=FIELD)


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


def design_for(planner, women: int) -> int | None:
    """The largest control-arm size (women with an outcome) whose two arms,
    randomised after dropout, take at most ``women`` in all; None when not even
    the smallest design fits."""
    dropout, sizes = planner.dropout, planner.design.sizes

    def total(m):
        n_t, n_c = sizes(m)
        return randomised(n_c, dropout) + randomised(n_t, dropout)
    m = max(planner.smallest, int(women * (1 - dropout) / (1 + planner.scenario.allocation)))
    while m > planner.smallest and total(m) > women:
        m -= 1
    while total(m + 1) <= women:
        m += 1
    return m if total(m) <= women else None


def capacity_at(planner, reported: PowerPoint) -> Capacity | None:
    """The recruitment view of a fixed design (None without a recruitment model)."""
    s = planner.scenario
    rec = s.recruitment
    if rec is None or s.interim is not None or s.patient is not None:
        return None
    dropout = planner.dropout
    planned_women = (randomised(reported.n_control, dropout)
                     + randomised(reported.n_treatment, dropout))
    target, probability = s.target_months, s.target_probability
    within = need = women = None
    if target is not None:
        within = probability_within(rec, planned_women, target)
        need = centres_needed(rec, planned_women, target, probability)
        women = capacity_of(rec, target, probability)
    out = Capacity(rec, target, probability, duration(rec, planned_women), within, need, women)
    if women is None:
        return out
    m = design_for(planner, women) if women > 0 else None
    if m is None:
        return replace(out, note=f"{women:,} women randomised within {target:g} months "
                                 "do not make a design with at least one woman with an "
                                 "outcome per arm")
    try:
        point = planner.point(m)
        detectable = detectable_at(planner, m)
    except ScenarioError as err:        # (an unconditional test beyond its table limit)
        return replace(out, note=f"no design evaluated at capacity: {err}")
    n_t, n_c = planner.design.sizes(m)
    return replace(out, design=point, randomised_control=randomised(n_c, dropout),
                   randomised_treatment=randomised(n_t, dropout), detectable=detectable,
                   note=None if detectable.treatment_rate is not None
                   else nothing_detectable(detectable))


def extend(planner, result: PlanResult, detectable: bool = False) -> PlanResult:
    """``result`` with its capacity (a fixed design with a recruitment model)
    and, when asked, the detectable rate at ``sample_size.n_control`` or at
    the capacity; an error when that size detects nothing."""
    capacity = capacity_at(planner, result.reported)
    found = None
    if detectable:
        if result.evaluated is not None:
            found = detectable_at(planner, result.evaluated.n_control)
        elif capacity is not None and capacity.design is not None:
            found = capacity.detectable
        else:
            raise ScenarioError(f"has no size to work at: {capacity.note}", field=FIELD)
        if found.treatment_rate is None:
            raise ScenarioError(f"{nothing_detectable(found)}; give a larger size",
                                field=FIELD)
    if capacity is None and found is None:
        return result
    return replace(result, capacity=capacity, detectable=found)
