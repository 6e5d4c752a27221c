"""The sample-size justification paragraph and the references, generated from
the results (never written per scenario): every number in the paragraph is a
value of results.json, checked in tests/test_report.py."""
from __future__ import annotations

from . import SOFTWARE
from .citations import interim_cites, test_cite
from .report import TEST_NAMES, interim_rules, pct as _pct, size_range as _size_range
from .results import PlanResult, assurance_limit, randomised


def justification(result: PlanResult) -> str:
    """The sample-size justification paragraph, generated from the results."""
    s = result.scenario
    a = s.analysis
    ss = result.sample_size
    sided = "two-sided" if a.sided == "two" else "one-sided"
    ratio = "1:1" if s.allocation == 1 else f"{s.allocation:g}:1, treatment to control"
    pr = result.patient
    test = TEST_NAMES[a.test]
    if pr is not None:
        test = next(x.description for x in pr.analyses if x.name == pr.primary)
    if test.startswith(("two-", "chi-")):
        test = "a " + test
    if test_cite(result):
        test = (test[:-1] + f"; {test_cite(result)})" if test.endswith(")")
                else test + f" ({test_cite(result)})")
    strata = pr.model["strata"] if pr is not None and len(pr.model["strata"]) > 1 else None
    by_stratum = "" if strata is None else " (by stratum: " + "; ".join(
        f"{st['name']}, {_pct(st['share'])} of women, {_pct(st['planning_rates']['control'])} "
        f"vs {_pct(st['planning_rates']['treatment'])}" for st in strata) + ")"
    parts = [
        f"The primary endpoint is {s.endpoint}. "
        f"Assuming {'population-average ' if strata else ''}live-birth rates of "
        f"{_pct(s.control.rate)} with {s.control.label.lower()} "
        f"and {_pct(s.treatment.rate)} with {s.treatment.label}{by_stratum}"
        + (f" ({s.source})" if s.source else "") + ", ",
    ]
    if ss:
        ans = ss.answer
        parts.append(
            f"{ans.n_control} women in the {s.control.label.lower()} arm and {ans.n_treatment} "
            f"in the {s.treatment.label} arm ({ans.n_total} in total, randomised {ratio}) give "
            f"{_pct(ans.power)} power to detect the difference with {test} at "
            f"{sided} alpha {a.alpha:g} (target {_pct(s.target_power)}). ")
        top = ss.checked_up_to
        if ss.stable is None:
            parts.append(f"This is the smallest such size, but power falls below the target "
                         f"again at {top} per control arm, the bound of the search. ")
        elif ss.stable.n_control == ans.n_control:
            parts.append(f"This is the smallest such size, and power stays at or above the "
                         f"target at every larger size checked (up to {top} per control arm). ")
        else:
            parts.append(f"Power of a discrete test is saw-toothed in the sample size: it first "
                         f"reaches the target at {ans.n_control} per control arm and stays at or "
                         f"above it from {ss.stable.n_control} (checked up to {top}). ")
        if result.method != "exact":
            parts.append(f"Allowing for Monte Carlo error (pointwise 95% limits of power), the "
                         f"control-arm size lies between "
                         f"{_size_range(ss.interval_control, top, ' and ')}. ")
        if s.dropout > 0 and pr is None:
            parts.append(_dropout_sentence(s.dropout, ss.randomised_control,
                                           ss.randomised_treatment))
    else:
        e = result.evaluated
        parts.append(
            f"{e.n_control} women in the {s.control.label.lower()} arm and {e.n_treatment} in the "
            f"{s.treatment.label} arm ({e.n_total} in total, randomised {ratio}) give "
            f"{_pct(e.power)} power with {test} at {sided} alpha {a.alpha:g}. ")
        if s.dropout > 0 and pr is None:
            parts.append(_dropout_sentence(s.dropout, randomised(e.n_control, s.dropout),
                                           randomised(e.n_treatment, s.dropout)))
    if pr is None and result.sequential is None and result.type_one_error > a.alpha:
        parts.append(f"The exact type I error of this test at this size is "
                     f"{result.type_one_error:.4f}, above the nominal {a.alpha:g}: the test is "
                     f"approximate at this size. ")
    if pr is not None:
        parts.append(_patient_sentences(result))
    if result.sequential is not None:
        parts.append(_sequential_sentences(result))
    if result.method == "exact":
        parts.append("Power was computed exactly by enumerating every possible trial outcome")
    else:
        se = (ss.answer if ss else result.evaluated).power_se
        parts.append(f"Power was estimated from {result.n_sims:,} simulated trials per sample "
                     f"size (Monte Carlo standard error {se:.4f})")
    parts.append(f" with {SOFTWARE} {result.version} (seed {result.seed}, scenario SHA-256 "
                 f"{s.digest}).")
    if result.assurance:
        parts.append(" " + _prior_sentences(result))
    if result.sweep:
        parts.append(" " + sweep_sentence(result))
    return "".join(parts)


def _dropout_sentence(dropout: float, control: int, treatment: int) -> str:
    return (f"Allowing for {_pct(dropout)} of women without a primary outcome, "
            f"{control + treatment} women will be randomised ({control} and {treatment}). ")


def _above(value: float, se: float, alpha: float) -> bool:
    """Is a type I error above alpha: exactly, or beyond its Monte Carlo noise
    (the lower 95% limit above alpha)?"""
    return value - 1.96 * se > alpha


def _sequential_sentences(result: PlanResult) -> str:
    """The interim plan, its operating characteristics and calendar."""
    sq = result.sequential
    pl, null = sq.operating["planning"], sq.operating["null"]
    out = []
    if len(sq.looks) > 1:
        stops = " and ".join(f"{row['n_per_arm']['control']} + {row['n_per_arm']['treatment']}"
                             for row in sq.looks[:-1])
        shares = " and ".join(f"{100 * row['information']:.0f}%" for row in sq.looks[:-1])
        out.append(f"The sizes are maximum sizes of a group-sequential design with interim "
                   f"analyses when {stops} women have an outcome ({shares} of the maximum); "
                   f"{interim_rules(result)} ({'; '.join(interim_cites(result))}). ")
        futility = result.scenario.interim.futility != "none"
        out.append(f"At the planning rates the trial stops early for efficacy with probability "
                   f"{_pct(pl['early_efficacy'])}"
                   + (f" and for futility with probability {_pct(pl['any_futility'])}"
                      if futility else "")
                   + f", and analyses {pl['expected_n_total']:.1f} women on average (of "
                   f"{pl['max_n_total']}); under the null it "
                   + (f"stops for futility with probability {_pct(null['any_futility'])} and "
                      if futility else "")
                   + f"analyses {null['expected_n_total']:.1f} on average. ")
    else:
        out.append(f"The decision rule is {interim_rules(result)}. ")
    size, alpha = result.type_one_error, result.scenario.analysis.alpha
    reported = sq.operating[sq.type_one_error_key]
    se = reported["power_se"]
    obeyed = null["power"]
    out.append(f"The type I error is {size:.4f}"
               + ("" if reported["method"] == "exact" else
                  f" (simulated, Monte Carlo standard error {se:.4f})")
               + (f" with every futility stop overruled ({obeyed:.4f} when they are obeyed)"
                  if obeyed != size else "")
               + (f", above the nominal {alpha:g}: the test is approximate at this size"
                  if _above(size, se, alpha) else "") + ". ")
    if sq.fixed is not None:
        f = sq.fixed
        out.append(f"A fixed design with the same test would need {f['n_total']} women "
                   f"(inflation factor {f['inflation_factor']:.3f}). ")
    if sq.calendar is not None:
        c = sq.calendar
        months = [f"{x['expected_month']:.1f}" for x in c["looks"]]
        looks = ", ".join(months[:-1]) + " and " + months[-1] if len(months) > 1 else months[0]
        first = c["looks"][0]["expected_randomised"]
        out.append(f"With the recruitment assumed, the analyses are expected at months {looks}, "
                   f"and the trial is expected to end at month "
                   f"{c['expected_end_month_planning']:.1f} at the planning rates; by the first "
                   f"interim analysis {first:.1f} of the {pl['max_n_total_needed']} women "
                   f"are expected to have been randomised, since randomisation goes on while "
                   f"outcomes are awaited. ")
    return "".join(out)


def _patient_sentences(result: PlanResult) -> str:
    """What the patient-level simulation assumed and what adjustment buys."""
    s, pr = result.scenario, result.patient
    m = pr.model
    said = [f"Each simulated trial randomises women one by one ({m['randomisation'].replace('_', ' ')} "
            f"randomisation"
            + (f" at {m['centres']} centres with a between-centre standard deviation of "
               f"{m['centre_sd_log_odds']:g} on the log-odds scale" if m["centres"] > 1 else "")
            + (f", with {', '.join(m['covariates'])} as prognostic covariate"
               + ("s" if len(m["covariates"]) > 1 else "") if m["covariates"] else "") + ")"]
    if s.dropout > 0:
        said.append(f"{_pct(s.dropout)} of women have no primary outcome and are "
                    + ("counted as without a live birth (intention to treat)"
                       if m["dropout"]["handling"] == "as_failure"
                       else "left out of the analysis (complete case)"))
    adh = m["adherence"]
    if adh["treatment_not_receiving"] or adh["control_receiving"]:
        said.append(f"{_pct(adh['treatment_not_receiving'])} of the {s.treatment.label} arm do "
                    f"not receive it and {_pct(adh['control_receiving'])} of controls receive it "
                    "outside the trial, all analysed as randomised")
    text = "; ".join(said) + ", so the sizes above are numbers of women randomised. "
    others = [x for x in pr.analyses if x.name != pr.primary]
    primary = pr.analysis(pr.primary)
    text += ("At this size, " + " and ".join(
        f"{x.description} would have {_pct(x.power)} power" for x in others)
             + "; the simulated type I error of the primary analysis is "
             f"{_pct(primary.type_one_error)} (Monte Carlo standard error "
             f"{primary.type_one_error_se:.4f})"
             + (", above the nominal alpha" if _above(
                 primary.type_one_error, primary.type_one_error_se, s.analysis.alpha) else "")
             + ". ")
    primary = pr.analysis(pr.primary)
    failed = [(n, what) for n, what in ((primary.not_estimable, "at the planning rates"),
                                        (primary.not_estimable_null, "under the null"),
                                        (primary.not_estimable_prior, "under the priors"))
              if n]
    if failed:
        text += ("Simulated trials whose primary analysis could not be estimated (separation "
                 "or non-convergence) were counted as not significant: " + ", ".join(
                     f"{n:,} of {pr.n_sims:,} {what}" for n, what in failed) + ". ")
    if pr.duration is not None:
        d, rec = pr.duration, s.patient.recruitment
        lo, hi = d.enrol_interval80
        text += (f"Recruiting {rec.per_centre_month:g} women per centre per month at "
                 f"{len(rec.weights)} centres, enrolment takes a median of "
                 f"{d.enrol_median:.1f} months (80% interval {lo:.1f} to {hi:.1f}) and the "
                 f"last primary outcome is expected at {d.last_outcome_median:.1f} months")
        if pr.centres_needed is not None:
            text += (f"; enrolment within {pr.target_months:g} months with probability "
                     f"{_pct(pr.target_probability)} needs {pr.centres_needed} centres")
        text += ". "
    return text


def _prior_sentences(result: PlanResult) -> str:
    s, ar = result.scenario, result.assurance
    prior = ar.prior
    exact = ar.method == "exact"        # a sequential design's assurance is simulated
    said = []
    for arm, a in (("control", s.control), ("treatment", s.treatment)):
        if prior[arm]["rate_prior"]:
            said.append(f"for {a.label.lower() if arm == 'control' else a.label} a "
                        f"{prior[arm]['description']}")
    if prior["effect"]:
        said.append(f"for {s.treatment.label} relative to {s.control.label.lower()} the "
                    f"{prior['effect']['description']}")
    text = ("The uncertainty about the true rates was expressed as design priors: "
            + "; ".join(said) + ". ")
    at = ar.at_reported
    how = "computed exactly" if exact else (f"estimated from {s.simulation.n_sims:,} simulated trials "
                                            f"whose true rates were drawn from the priors, "
                                            f"Monte Carlo standard error {at.assurance_se:.4f}")
    text += (f"Averaged over these priors, the probability of a significant result in favour of "
             f"{s.treatment.label} (assurance; O'Hagan and Stevens 2001) is {_pct(at.assurance)} "
             f"with {at.n_control} and {at.n_treatment} women ({how}); as the trial grows it "
             f"tends to {_pct(ar.ceiling)}, the prior probability that {s.treatment.label} is "
             f"better. ")
    if prior["mcid"] is not None:
        text += (f"The prior probability that the true live-birth rate is higher with "
                 f"{s.treatment.label} by more than {100 * prior['mcid']:.1f} percentage points "
                 f"is {_pct(prior['probability_above_mcid'])}. ")
    if ar.target is not None:
        a_ss = ar.sample_size
        if a_ss:
            a = a_ss.answer
            text += (f"An assurance of {_pct(ar.target)} first needs {a.n_control} and "
                     f"{a.n_treatment} women ({a.n_total} in total, {a_ss.n_total_randomised} "
                     f"randomised), giving assurance {_pct(a.assurance)}")
            if a_ss.stable is not None and a_ss.stable.n_control != a.n_control:
                text += (f"; assurance stays at or above the target from "
                         f"{a_ss.stable.n_control} per control arm (checked up to "
                         f"{a_ss.checked_up_to})")
            elif a_ss.stable is None:
                text += (f", but falls below it again at {a_ss.checked_up_to} per control arm, "
                         "the bound of the search")
            if not exact:
                text += (f"; allowing for Monte Carlo error the control-arm size lies between "
                         f"{_size_range(a_ss.interval_control, a_ss.checked_up_to, ' and ')}")
            text += "."
        else:
            if ar.target >= assurance_limit(ar.ceiling, s.analysis.alpha):
                text += (f"The target assurance of {_pct(ar.target)} cannot be reached at any "
                         f"size: assurance tends to {_pct(ar.ceiling)} as the trial grows and "
                         f"exceeds it by at most alpha times the rest.")
            else:
                text += (f"The target assurance of {_pct(ar.target)} is not reached by "
                         f"{s.sample_size.max_control} women per control arm, the bound of the "
                         f"search.")
    return text.strip()


def _swept(result: PlanResult, key: str, values: list) -> str:
    """A swept key and its range in words (a rate as percentages)."""
    lo, hi = min(values), max(values)
    for arm in ("control", "treatment"):
        if key == f"arms.{arm}.rate":
            label = getattr(result.scenario, arm).label
            return (f"the live-birth rate with {label.lower() if arm == 'control' else label} "
                    f"from {_pct(lo)} to {_pct(hi)}")
    return f"`{key}` from {lo:g} to {hi:g}"


def sweep_sentence(result: PlanResult) -> str:
    points = result.sweep
    keys = list(points[0].values)
    ranges = " and ".join(_swept(result, k, [p.values[k] for p in points]) for k in keys)
    sizes = [p.n_total for p in points if p.n_total is not None]
    power = [p.power_at_planned for p in points if p.power_at_planned is not None]
    missing = len(points) - len(sizes)
    text = f"In a sensitivity analysis over {ranges} ({len(points)} points), the required size "
    if not sizes:
        text += "had no finite value at any point"
    elif min(sizes) < max(sizes):
        text += f"ranged from {min(sizes)} to {max(sizes)} women in total"
    else:
        text += f"was {sizes[0]} women in total at every point"
    if sizes and missing:
        text += (f" where the target can be reached (at {missing} point"
                 f"{'s' if missing > 1 else ''} no size reaches it)")
    if power:
        planned = f"the planned size of {points[0].planned_control} per control arm"
        text += (f", and power at {planned} was {_pct(power[0])} at every point"
                 if min(power) == max(power) else
                 f", and power at {planned} ranged from {_pct(min(power))} to {_pct(max(power))}")
    return text + "."
