"""The sample-size justification paragraph and its Details, generated from the
results (never written per scenario): every number in them is a value of
results.json, checked in tests/report/test_justification.py.

The paragraph is what goes into a grant: the endpoint, each rate with where it
comes from, the effect as a difference, risk ratio and odds ratio, one
proposed size with its power (and assurance), the women to randomise, and
how the numbers were obtained.  It is kept short, at most ``WORD_LIMIT``
words (``WORD_LIMIT_RICH`` with interim looks, priors or the patient-level
model): sentences beyond the essentials join it in order of importance while
they fit, and the rest go to the Details that follow it in the report.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..version import SOFTWARE
from ..citations import OVERSTATED, interim_cites, test_cite
from ..models.priors import SCALES
from .tables import (TEST_NAMES, above_alpha, effect_text, interim_rules, pct as _pct,
                     ratio_words, size_range as _size_range)
from ..results import PlanResult, assurance_limit, randomised
from ..scenario.source import matches, planned_on_observed_effect, provenance, stratum_observed

WORD_LIMIT = 250
WORD_LIMIT_RICH = 320


@dataclass(frozen=True)
class Text:
    """The paragraph and the Details sentences that did not fit in it or
    belong after it."""
    paragraph: str
    details: list[str]


@dataclass(frozen=True)
class Sentence:
    """A sentence of the paragraph: ``place`` orders the paragraph's
    sentences; ``rank`` is its importance when the word limit forces a choice
    (None: always in the paragraph; lower ranks are kept first)."""
    text: str
    place: int
    rank: int | None = None


# where each kind of sentence stands in the paragraph, and (second) how
# important it is when the paragraph must be shortened; None: always kept
ENDPOINT, RATES, CAVEAT, DESIGN, SAWTOOTH, MC_RANGE, STABLE, ASSURANCE, INTERIM, STOPPING, \
    PATIENT, CEILING, TYPE_ONE, DROPOUT, DETECTABLE, CAPACITY, SWEEP, METHOD = range(18)
# the detectable rate and the capacity were asked for (`--detectable`, `recruitment`):
# kept before anything optional
RANK = {ENDPOINT: None, RATES: None, DESIGN: None, PATIENT: None, DROPOUT: None, METHOD: None,
        DETECTABLE: 0, CAPACITY: 0, TYPE_ONE: 1, INTERIM: 2, CAVEAT: 3, SAWTOOTH: 4,
        ASSURANCE: 5, STOPPING: 6, CEILING: 7, MC_RANGE: 8, SWEEP: 9, STABLE: 10}


def _caveat_sentence(result: PlanResult) -> str:
    """Why an observed effect is a risky planning value, and where to look."""
    where = ("the sensitivity analysis gives the power at smaller effects" if result.sweep
             else "the power at smaller effects (a sensitivity sweep) or design priors "
                  "(assurance) show how much that matters")
    return (f"Effects observed in small or non-randomised studies tend to overstate the true "
            f"effect ({'; '.join(OVERSTATED)}): {where}.")


def _said(text: str, place: int) -> Sentence:
    return Sentence(text, place, RANK[place])


def justification(result: PlanResult) -> str:
    """The sample-size justification paragraph, generated from the results."""
    return justification_text(result).paragraph


def word_limit(result: PlanResult) -> int:
    rich = (result.sequential is not None and len(result.sequential.looks) > 1
            or result.assurance is not None or result.patient is not None)
    return WORD_LIMIT_RICH if rich else WORD_LIMIT


def words(text: str) -> int:
    return len(text.split())


def justification_text(result: PlanResult) -> Text:
    """The paragraph (the sentences always said, then the others by rank
    while the paragraph stays within its word limit, in their places) and
    the Details (the sentences left out, then those that belong there).
    The sentences always said are never dropped: only an unusually long
    citation or study design in the scenario makes the paragraph longer
    than its limit."""
    sentences, details = _sentences(result)
    limit = word_limit(result)
    kept = [x for x in sentences if x.rank is None]
    left_out = []
    for sentence in sorted((x for x in sentences if x.rank is not None), key=lambda x: x.rank):
        if words(" ".join(x.text for x in kept + [sentence])) <= limit:
            kept.append(sentence)
        else:
            left_out.append(sentence)
    paragraph = " ".join(x.text for x in sorted(kept, key=lambda x: x.place))
    return Text(paragraph, [x.text for x in sorted(left_out, key=lambda x: x.place)] + details)


# ------------------------------------------------------------------ the pieces
def _n(k: int) -> str:
    return f"{k:,}"


def _arm_label(result: PlanResult, arm: str) -> str:
    a = getattr(result.scenario, arm)
    return a.label.lower() if arm == "control" else a.label


def _sizes(result: PlanResult, n_c: int, n_t: int) -> str:
    """"24 women per arm (48 in total, randomised 1:1)", or each arm named."""
    s = result.scenario
    if n_c == n_t:
        head = f"{_n(n_c)} women per arm"
    else:
        head = (f"{_n(n_c)} women with {_arm_label(result, 'control')} and {_n(n_t)} with "
                f"{_arm_label(result, 'treatment')}")
    ratio = ("1:1" if s.allocation == 1 else
             f"{s.allocation:g}:1, {s.treatment.label} to {_arm_label(result, 'control')}")
    return f"{head} ({_n(n_c + n_t)} in total, randomised {ratio})"


def _where(source) -> str:
    """"the severe subgroup of a retrospective cohort (Peero et al. 2024 ...)"."""
    return (f"{source.design} ({source.citation})" if source.design
            else f"the source study ({source.citation})")


def _counts(observed) -> str:
    events, n = observed
    return f"{events}/{n}"


def _prior_origin(prov) -> tuple[str, float] | None:
    """For a prior built from counts (a power prior): ("5/25", discount);
    None otherwise."""
    spec = prov.prior
    if not spec or "events" not in spec:
        return None
    return f"{spec['events']}/{spec['n']}", spec["discount"]


def _rates_sentence(result: PlanResult) -> str:
    """The rates, each with its provenance, and the effect they imply."""
    s = result.scenario
    source = s.source_detail
    prov = provenance(s)
    c, t = prov["control"], prov["treatment"]
    rates = (f"{_pct(c.rate)} with {_arm_label(result, 'control')} and {_pct(t.rate)} with "
             f"{_arm_label(result, 'treatment')}")
    if c.kind == "strata":
        text = f"We assume population-average live-birth rates of {rates} ({_strata(result)})"
    elif c.kind == t.kind == "observed":
        text = (f"We assume live-birth rates of {rates}, as observed ({_counts(c.observed)} and "
                f"{_counts(t.observed)} live births) in {_where(source)}")
    elif c.kind == t.kind == "source":
        text = f"We assume live-birth rates of {rates} ({source.citation})"
    elif c.kind == t.kind == "prior" and _same_power_prior(result, c, t):
        (counts_c, discount), (counts_t, _) = _prior_origin(c), _prior_origin(t)
        text = (f"We assume live-birth rates of {rates}, the means of design priors built from "
                f"the {counts_c} and {counts_t} live births "
                + (f"observed in {_where(source)}" if _from_source(c) and _from_source(t)
                   else "given in the scenario")
                + _discount(discount))
    else:
        cited = []
        text = ("We assume a live-birth rate of "
                + f"{_pct(c.rate)} with {_arm_label(result, 'control')}"
                + _arm_provenance(result, "control", c, cited)
                + f", and of {_pct(t.rate)} with {_arm_label(result, 'treatment')}"
                + _arm_provenance(result, "treatment", t, cited))
    return text + f": a difference of {effect_text(result, sign='')}."


def _same_power_prior(result: PlanResult, c, t) -> bool:
    """Both rates the means of power priors with one discount."""
    oc, ot = c.prior or {}, t.prior or {}
    means = all(getattr(result.scenario, arm).planning_from == "prior mean"
                for arm in ("control", "treatment"))
    return (means and "events" in oc and "events" in ot and oc["discount"] == ot["discount"]
            and oc["discount"] < 1)


def _from_source(prov) -> bool:
    """Are the counts of a power prior the ones the source observed?"""
    return prov.observed is not None and prov.prior is not None and (
        prov.prior["events"], prov.prior["n"]) == tuple(prov.observed)


def _discount(discount: float) -> str:
    return (f", each with discount weight {discount:g} (power priors; Ibrahim and Chen 2000)"
            if discount < 1 else "")


def _arm_provenance(result: PlanResult, arm: str, prov, cited: list) -> str:
    """", as observed (5/25) in ..." and the like, for one arm; ``cited``
    remembers that the source was named already ("observed there")."""
    s = result.scenario
    source = s.source_detail
    where = "there" if cited else f"in {_where(source)}" if source else ""
    if prov.kind == "observed":
        cited.append(True)
        return f", as observed ({_counts(prov.observed)}) {where}"
    if prov.kind == "assumed" and prov.observed is not None:
        cited.append(True)
        events, n = prov.observed
        side = "below" if prov.rate < events / n else "above"
        return (f", an assumption of the planners, {side} the {_pct(events / n)} "
                f"({events}/{n}) observed {where}")
    if prov.kind == "assumed":
        return ", an assumption of the planners"
    if prov.kind == "set":
        return ", an assumption of the planners, not taken from the cited source"
    if prov.kind == "source":
        cited.append(True)
        return f" ({source.citation})" if len(cited) == 1 else ", from the same source"
    if prov.kind == "prior":
        origin = _prior_origin(prov)
        planning = getattr(s, arm).planning_from == "planning_rate"
        head = (", the planning value within a design prior" if planning
                else ", the mean of a design prior")
        if origin is None:
            return head
        counts, discount = origin
        text = f"{head} built from {counts} live births"
        if _from_source(prov):
            cited.append(True)
            text += f" observed {where}"
        return text + (f" with discount weight {discount:g} (a power prior; Ibrahim and Chen "
                       f"2000)" if discount < 1 else "")
    return _effect_provenance(result)


def _effect_provenance(result: PlanResult) -> str:
    """", the standard care rate with an odds ratio of 1.91, the median of a
    design prior built from <source.effect>, shrunk towards no effect by the
    factor 0.5": the treatment rate an `effect` gives."""
    s = result.scenario
    spec = s.to_dict()["arms"]["treatment"]["effect"]
    scale = next(k for k in SCALES if k in spec)
    name = "risk difference" if scale == "risk_difference" else scale.replace("_", " ")
    median = s.effect.to_dict()["value"]
    value = f"{100 * median:.1f} percentage points" if scale == "risk_difference" else \
        f"{median:.3g}"
    origin = s.source_detail.effect if s.source_detail is not None else None
    if _overridden(s, "arms.treatment.effect"):
        origin = None               # not the effect the source describes
    article = "an" if name[0] in "aeiou" else "a"
    text = f", the {_arm_label(result, 'control')} rate with {article} {name} of {value}"
    if "ci95" in spec:
        text += ", the median of a design prior" + (f" built from {origin}" if origin else "")
    elif origin:
        text += f" ({origin})"
    if origin is None:
        text += ", an assumption of the planners"
    if spec["shrink"] != 1:
        text += (f", the {'difference' if scale == 'risk_difference' else 'log ' + name} "
                 f"multiplied by {spec['shrink']:g} towards no effect")
    return text


def _overridden(scenario, key: str) -> bool:
    """Was ``key`` (or a key inside it, or one it lies inside) set by an override?"""
    return any(o == key or o.startswith(key + ".") or key.startswith(o + ".")
               for o in scenario.overridden)


def _strata(result: PlanResult) -> str:
    """"by stratum, as observed in <source>: moderate, 62.0% of women, 39.0%
    (27/69) vs 60.0% (12/20); ...": each stratum's rates, with the counts
    the source observed where the rates are those counts."""
    s = result.scenario
    parts, observed = [], True
    for st in result.patient.model.strata:
        rates = (st.control_rate, st.treatment_rate)
        seen = [None if st.prior else stratum_observed(s, st.name, arm)
                for arm in ("control", "treatment")]
        shown = [_pct(rate) + (f" ({_counts(obs)})" if obs and matches(rate, *obs) else "")
                 for rate, obs in zip(rates, seen)]
        observed &= all(obs and matches(rate, *obs) for rate, obs in zip(rates, seen))
        parts.append(f"{st.name}, {_pct(st.share)} of women, {shown[0]} vs {shown[1]}")
    source = s.source_detail
    where = ""
    if source is not None:
        where = f", as observed in {_where(source)}" if observed else f" ({source.citation})"
    return f"by stratum{where}: " + "; ".join(parts)


def _test_words(result: PlanResult) -> str:
    """The test (or the patient-level primary analysis) with its citation."""
    pr, a = result.patient, result.scenario.analysis
    test = TEST_NAMES[a.test]
    if pr is not None:
        test = next(x.description for x in pr.analyses if x.name == pr.primary)
    if test.startswith(("two-", "chi-")):
        test = "a " + test
    cite = test_cite(result)
    if cite:
        test = test[:-1] + f"; {cite})" if test.endswith(")") else test + f" ({cite})"
    sided = "two-sided" if a.sided == "two" else "one-sided"
    return f"{test} at {sided} alpha {a.alpha:g}"


def _design_sentences(result: PlanResult) -> list[Sentence]:
    """The proposed size with its power (and assurance), the saw-tooth and
    Monte Carlo caveats of its search."""
    s = result.scenario
    rep = result.reported
    seq = result.sequential is not None and len(result.sequential.looks) > 1
    sizes = _sizes(result, rep.n_control, rep.n_treatment)
    maximum = "a maximum of " if seq else ""
    test = _test_words(result)
    if seq:
        k = len(result.sequential.looks) - 1
        test += f" and {_count(k)} interim analys{'is' if k == 1 else 'es'}"
    verb = "gives" if seq else "give"
    power = _pct(rep.power)
    out = []
    if result.proposed == "evaluated":
        out.append(_said(f"With {test}, {maximum}{sizes} {verb} {power} power to detect this "
                         f"difference.", DESIGN))
    elif result.proposed == "power":
        out.append(_said(f"With {test}, {maximum}{sizes} {verb} {power} power to detect this "
                         f"difference (target {_pct(s.target_power)}).", DESIGN))
    else:
        ar = result.assurance
        met = rep.power >= s.target_power and rep.assurance >= ar.target
        which = ("the smallest size that meets the assurance target"
                 if s.sample_size.propose == "assurance" else
                 "the smallest size from the larger of the power and assurance answers on "
                 "that meets both targets" if met else
                 "the larger of the power and assurance answers")
        first = [f"power first reached at {_n(result.sample_size.answer.n_control)}"]
        if result.proposed == "both":
            first.append(f"assurance at {_n(ar.sample_size.answer.n_control)}")
        out.append(_said(
            f"We propose {maximum}{sizes}, {which}: its assurance, the probability of a "
            f"significant benefit averaged over the design priors (O'Hagan and Stevens 2001), "
            f"is {_pct(rep.assurance)} (target {_pct(ar.target)}), and with {test} it gives "
            f"{power} power at the planning rates (target {_pct(s.target_power)}; "
            f"{' and '.join(first)} {_per_arm(result)}).", DESIGN))
    ss = result.proposed_sample_size
    if ss is not None:
        what = "assurance" if result.proposed == "assurance" else "power"
        top = _n(ss.checked_up_to)
        if ss.stable is None:
            out.append(_said(f"Being saw-toothed in the sample size (a discrete test), {what} "
                             f"falls below the target again at {top} {_per_arm(result)}, the "
                             "last size checked.", SAWTOOTH))
        elif ss.stable.n_control != ss.answer.n_control:
            out.append(_said(f"Being saw-toothed in the sample size (a discrete test), {what} "
                             f"stays at or above the target only from "
                             f"{_n(ss.stable.n_control)} {_per_arm(result)} (checked up to "
                             f"{top}).", SAWTOOTH))
        else:
            out.append(_said(f"{what.capitalize()} stays at or above the target at every "
                             f"larger size checked (up to {top} {_per_arm(result)}); with counts, "
                             f"it need not rise smoothly with the size.", STABLE))
        if result.method != "exact" and what == "power":
            out.append(_said(f"Allowing for Monte Carlo error (pointwise 95% limits of power), "
                             f"the control-arm size lies between "
                             f"{_size_range(ss.interval_control, ss.checked_up_to, ' and ')}.",
                             MC_RANGE))
    if result.assurance is not None and result.proposed in ("power", "evaluated"):
        # essential when the scenario asked for the assurance target and it was not reached
        wanted = s.sample_size.propose != "power" and result.assurance.sample_size is None
        out.append(Sentence(_assurance_at_proposed(result), ASSURANCE,
                            None if wanted else RANK[ASSURANCE]))
    return out


def _per_arm(result: PlanResult) -> str:
    """"per arm" with equal arms, else "per control arm" (sizes are control-arm sizes)."""
    return "per arm" if result.scenario.allocation == 1 else "per control arm"


def _count(k: int) -> str:
    return ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine")[k - 1] \
        if 1 <= k <= 9 else f"{k:,}"


def _assurance_at_proposed(result: PlanResult) -> str:
    ar, rep = result.assurance, result.reported
    text = (f"Averaged over the design priors, the probability of a significant benefit "
            f"(assurance; O'Hagan and Stevens 2001) is {_pct(rep.assurance)} at this size")
    if ar.target is not None and ar.sample_size is not None:
        a = ar.sample_size.answer.n_control
        text += (f" (target {_pct(ar.target)}, first reached at {_n(a)} {_per_arm(result)})"
                 if a <= rep.n_control else
                 f"; the target assurance {_pct(ar.target)} would need {_n(a)} {_per_arm(result)}")
    elif ar.target is not None:
        text += f"; the target assurance {_pct(ar.target)} is not reached at any size searched"
    return text + "."


def _ceiling_sentence(result: PlanResult) -> str:
    ar = result.assurance
    return (f"As the trial grows, assurance tends to {_pct(ar.ceiling)}, the prior probability "
            f"that {result.scenario.treatment.label} is better.")


def _dropout_sentence(result: PlanResult) -> str | None:
    s, rep = result.scenario, result.reported
    if s.dropout <= 0 or result.patient is not None:
        return None
    control, treatment = randomised(rep.n_control, s.dropout), randomised(rep.n_treatment,
                                                                          s.dropout)
    seq = result.sequential is not None and len(result.sequential.looks) > 1
    each = (f"{_n(control)} per arm" if control == treatment else
            f"{_n(control)} with {_arm_label(result, 'control')} and {_n(treatment)} with "
            f"{_arm_label(result, 'treatment')}")
    return (f"Allowing for {_pct(s.dropout)} of women without a primary outcome, we will "
            f"randomise {'at most ' if seq else ''}{_n(control + treatment)} women ({each}).")


def type_one_error_words(result: PlanResult) -> str:
    """"0.0260 at a control rate of 20.0%, at most 0.0294 (at 50.0%) over
    common rates from 1% to 99%"."""
    s = result.scenario
    text = f"{result.type_one_error:.4f} at a control rate of {_pct(s.control.rate)}"
    m = result.type_one_error_max
    if m is not None:
        text += (f", and at most {m.value:.4f} (at {_pct(m.rate)}) whatever rate the two arms "
                 f"share, from {100 * m.low:.0f}% to {100 * m.high:.0f}%")
    return text


def _type_one_sentences(result: PlanResult) -> tuple[str | None, str]:
    """(the paragraph's sentence when the test exceeds alpha, the Details one)."""
    alpha = result.scenario.analysis.alpha
    if result.patient is not None:
        return None, ""
    m = result.type_one_error_max
    if result.sequential is not None:
        sq = result.sequential
        reported = sq.operating[sq.type_one_error_key]
        se = reported.power_se
        obeyed = sq.operating["null"].power
        simulated = reported.method != "exact"
        above = above_alpha(result.type_one_error, se, alpha)
        overruled = obeyed != result.type_one_error
        text = (("With every futility stop overruled, the" if overruled else "The")
                + f" type I error is {type_one_error_words(result)}"
                + (f" (simulated at the control rate, Monte Carlo standard error {se:.4f})"
                   if simulated else "")
                + (f" ({obeyed:.4f} at the control rate when the stops are obeyed)"
                   if overruled else "")
                + _exceeds(above, m, alpha) + ".")
        return (text if _exceeds(above, m, alpha) else None), text
    above = result.type_one_error > alpha
    detail = f"The exact type I error of the test at this size is {type_one_error_words(result)}."
    if not _exceeds(above, m, alpha):
        return None, detail
    return detail[:-1] + _exceeds(above, m, alpha) + ".", detail


def _exceeds(above: bool, maximum, alpha: float) -> str:
    """What a type I error above alpha means, in words ("" when it is not)."""
    if above:
        return f", above the nominal {alpha:g}: the test is approximate at this size"
    if maximum is not None and maximum.value > alpha:
        return (f"; alpha {alpha:g} holds at the planning control rate but not at every rate "
                "the two arms might share")
    return ""


def _interim_sentences(result: PlanResult) -> list[Sentence]:
    """The interim plan (or a single look's Bayesian rule) and its operating
    characteristics."""
    sq = result.sequential
    if len(sq.looks) == 1:
        return [_said(_bayes_rule_sentence(result), INTERIM)]
    pl, null = sq.operating["planning"], sq.operating["null"]
    stops = " and ".join(_n(row.n_control) if row.n_control == row.n_treatment else
                         f"{_n(row.n_control)} + {_n(row.n_treatment)}"
                         for row in sq.looks[:-1])
    shares = " and ".join(f"{100 * row.information:.0f}%" for row in sq.looks[:-1])
    equal = all(r.n_control == r.n_treatment for r in sq.looks[:-1])
    cites = interim_cites(result)
    one = len(sq.looks) == 2
    plan = (f"{'An interim analysis is' if one else 'Interim analyses are'} planned when {stops} "
            f"women {'per arm ' if equal else ''}have an outcome ({shares} of the maximum), with "
            f"these rules: {interim_rules(result)}" + (f" ({'; '.join(cites)})" if cites else "")
            + ".")
    futility = result.scenario.interim.futility != "none"
    oc = (f"At the planning rates the trial stops early for efficacy with probability "
          f"{_pct(pl.early_efficacy)}"
          + (f" and for futility with probability {_pct(pl.any_futility)}" if futility
             else "")
          + f", and analyses about {pl.expected_n_total:.0f} women on average (of "
          f"{_n(pl.max_n_total)}); under the null it "
          + (f"stops for futility with probability {_pct(null.any_futility)} and "
             if futility else "")
          + f"analyses about {null.expected_n_total:.0f} women.")
    if sq.calendar is not None and _all_randomised_by_first_look(sq):
        oc = oc[:-1] + (f"; but all {_n(pl.max_n_total_needed)} women are expected to be "
                        f"randomised before the first interim analysis, so stopping early "
                        f"shortens the trial without sparing women treatment.")
    return [_said(plan, INTERIM), _said(oc, STOPPING)]


def _bayes_rule_sentence(result: PlanResult) -> str:
    """A single-look Bayesian rule as a sentence."""
    s, sq = result.scenario, result.sequential
    (a_t, b_t), (a_c, b_c) = s.interim.bayes_prior
    priors = (f"Beta({a_t:g}, {b_t:g}) analysis priors for both arms" if (a_t, b_t) == (a_c, b_c)
              else f"analysis priors Beta({a_t:g}, {b_t:g}) for {s.treatment.label} and "
                   f"Beta({a_c:g}, {b_c:g}) for {_arm_label(result, 'control')}")
    return (f"The trial succeeds if the posterior probability that the live-birth rate is "
            f"higher with {s.treatment.label} is at least {sq.looks[-1].efficacy_printed} "
            f"({priors}" + (f"; the threshold is calibrated so that the type I error is at most "
                            f"{s.analysis.alpha:g})." if sq.calibrated else ")."))


def _all_randomised_by_first_look(sq) -> bool:
    needed = sq.operating["planning"].max_n_total_needed
    return sq.calendar.looks[0].expected_randomised >= needed - 0.5


def _patient_sentence(result: PlanResult) -> str:
    """What the patient-level simulation assumed, in one sentence."""
    s, pr = result.scenario, result.patient
    m = pr.model
    said = [f"{m.randomisation.replace('_', ' ')} randomisation"
            + (f" at {m.centres} centres (between-centre standard deviation "
               f"{m.centre_sd_log_odds:g} on the log-odds scale)" if m.centres > 1 else "")]
    if m.covariates:
        said.append(f"{', '.join(m.covariates)} as prognostic covariate"
                    + ("s" if len(m.covariates) > 1 else ""))
    if s.dropout > 0:
        said.append(f"{_pct(s.dropout)} of women without a primary outcome, "
                    + ("counted as without a live birth" if m.dropout_handling == "as_failure"
                       else "left out of the analysis"))
    if m.treatment_not_receiving or m.control_receiving:
        said.append(f"{_pct(m.treatment_not_receiving)} of the {s.treatment.label} arm not "
                    f"receiving it and {_pct(m.control_receiving)} of controls receiving "
                    "it, analysed as randomised")
    return ("The sizes are women randomised in a patient-level simulation with "
            + "; ".join(said) + ".")


def _patient_details(result: PlanResult) -> list[str]:
    s, pr = result.scenario, result.patient
    out = []
    others = [x for x in pr.analyses if x.name != pr.primary]
    primary = pr.analysis(pr.primary)
    out.append(("At this size, " + " and ".join(
        f"{x.description} would have {_pct(x.power)} power" for x in others) + "; " if others
        else "") + f"the simulated type I error of the primary analysis is "
        f"{primary.type_one_error:.4f} (Monte Carlo standard error "
        f"{primary.type_one_error_se:.4f})"
        + (", above the nominal alpha" if above_alpha(primary.type_one_error,
                                                  primary.type_one_error_se,
                                                  s.analysis.alpha) else "") + ".")
    failed = [(n, what) for n, what in ((primary.not_estimable, "at the planning rates"),
                                        (primary.not_estimable_null, "under the null"),
                                        (primary.not_estimable_prior, "under the priors"))
              if n]
    if failed:
        out.append("Simulated trials whose primary analysis could not be estimated (separation "
                   "or non-convergence) were counted as not significant: " + ", ".join(
                       f"{n:,} of {pr.n_sims:,} {what}" for n, what in failed) + ".")
    if pr.duration is not None:
        d, rec = pr.duration, s.patient.recruitment
        lo, hi = d.enrol_interval80
        text = (f"Recruiting {rec.per_centre_month:g} women per centre per month at "
                f"{len(rec.weights)} centres, enrolment takes a median of "
                f"{d.enrol_median:.1f} months (80% interval {lo:.1f} to {hi:.1f}) and the "
                f"last primary outcome is expected at {d.last_outcome_median:.1f} months")
        if pr.centres_needed is not None:
            text += (f"; enrolment within {pr.target_months:g} months with probability "
                     f"{_pct(pr.target_probability)} needs {pr.centres_needed} centres")
        out.append(text + ".")
    return out


def _sequential_details(result: PlanResult) -> list[str]:
    sq = result.sequential
    out = []
    if sq.fixed is not None:
        f = sq.fixed
        exact = (f"A fixed design with the same test would need {_n(f.n_total)} women "
                 f"(inflation factor {f.inflation_factor:.3f} on the test's discrete sizes")
        out.append(exact + (f"; the normal approximation's is {sq.analytic_inflation:.3f})."
                            if sq.analytic_inflation is not None else ")."))
    if sq.calendar is not None:
        c, pl = sq.calendar, sq.operating["planning"]
        months = [f"{x.expected_month:.1f}" for x in c.looks]
        looks = ", ".join(months[:-1]) + " and " + months[-1] if len(months) > 1 else months[0]
        first = c.looks[0].expected_randomised
        by_then = (f"all {_n(pl.max_n_total_needed)} women" if _all_randomised_by_first_look(sq)
                   else f"about {first:.0f} of the {_n(pl.max_n_total_needed)} women")
        rec = result.scenario.recruitment
        out.append(f"With the recruitment assumed ({rec.per_centre_month:g} women per month at an "
                   f"average centre, {len(rec.weights)} centre{'s' if len(rec.weights) > 1 else ''}"
                   f", outcome {rec.follow_up_months:g} months after randomisation), the analyses "
                   f"are expected at months {looks}, and the trial is expected to end at month "
                   f"{c.expected_end_month['planning']:.1f} at the planning rates; by the first "
                   f"analysis {by_then} are expected to have been randomised, since "
                   f"randomisation goes on while outcomes are awaited.")
    return out


def _prior_details(result: PlanResult) -> list[str]:
    s, ar = result.scenario, result.assurance
    prior = ar.prior
    said = []
    for arm, described in (("control", prior.control), ("treatment", prior.treatment)):
        if described.rate_prior:
            said.append(f"for {_arm_label(result, arm)} a {described.description}")
    if prior.effect:
        said.append(f"for {s.treatment.label} relative to {_arm_label(result, 'control')} the "
                    f"{prior.effect['description']}")
    out = ["The design priors are: " + "; ".join(said) + "."]
    if prior.mcid is not None:
        out.append(f"The prior probability that the true live-birth rate is higher with "
                   f"{s.treatment.label} by more than {100 * prior.mcid:.1f} percentage "
                   f"points (the planners' minimal clinically important difference, `mcid`) is "
                   f"{_pct(prior.probability_above_mcid)}.")
    if ar.target is not None and ar.sample_size is None:
        if ar.target >= assurance_limit(ar.ceiling, s.analysis.alpha):
            out.append(f"The target assurance of {_pct(ar.target)} cannot be reached at any "
                       f"size: assurance tends to {_pct(ar.ceiling)} as the trial grows and "
                       f"exceeds it by at most alpha times the rest.")
        else:
            out.append(f"The target assurance of {_pct(ar.target)} is not reached by "
                       f"{_n(s.sample_size.max_control)} women per control arm, the bound of the "
                       f"search.")
    elif ar.sample_size is not None:
        a_ss = ar.sample_size
        if not a_ss.answer.n_control == result.reported.n_control:
            a = a_ss.answer
            out.append(f"An assurance of {_pct(ar.target)} first needs {_n(a.n_control)} and "
                       f"{_n(a.n_treatment)} women ({_n(a.n_total)} in total, "
                       f"{_n(a_ss.n_total_randomised)} randomised), giving assurance "
                       f"{_pct(a.assurance)}.")
        if ar.method != "exact":
            out.append(f"Allowing for Monte Carlo error, the control-arm size for the target "
                       f"assurance lies between "
                       f"{_size_range(a_ss.interval_control, a_ss.checked_up_to, ' and ')}.")
    return out


def _method_sentence(result: PlanResult) -> str:
    s, rep, conf = result.scenario, result.reported, result.confirmation
    exact_assurance = result.assurance is not None and result.assurance.method == "exact"
    what = "Power and assurance were" if exact_assurance else "Power was"
    if result.method == "exact":
        text = f"{what} computed exactly, by enumerating every possible trial outcome"
        if conf is not None:
            if conf.assurance is not None:
                text += (f", and confirmed by simulating {conf.n_sims:,} trials (power "
                         f"{_pct(conf.power)}, assurance {_pct(conf.assurance)}; Monte Carlo "
                         f"standard errors {conf.power_se:.4f} and {conf.assurance_se:.4f})")
            else:
                text += (f", and confirmed by simulating {conf.n_sims:,} trials "
                         f"({_pct(conf.power)}, Monte Carlo standard error "
                         f"{conf.power_se:.4f})")
    else:
        text = (f"Power was estimated from {result.n_sims:,} simulated trials per sample size "
                f"(Monte Carlo standard error {rep.power_se:.4f})")
    if result.assurance is not None and not exact_assurance:
        text += (f"; assurance was estimated from {s.simulation.n_sims:,} simulated trials whose "
                 f"true rates were drawn from the priors (Monte Carlo standard error "
                 f"{rep.assurance_se:.4f})")
    return (text + f", with {SOFTWARE} {result.version} (seed {result.seed}, scenario SHA-256 "
            f"{s.digest}).")


def _sentences(result: PlanResult) -> tuple[list[Sentence], list[str]]:
    """The paragraph's candidate sentences, and the Details' own."""
    s = result.scenario
    sentences = [_said(f"The primary endpoint is {s.endpoint}.", ENDPOINT),
                 _said(_rates_sentence(result), RATES), *_design_sentences(result),
                 _said(_method_sentence(result), METHOD)]
    details: list[str] = []
    if result.sequential is not None:
        sentences += _interim_sentences(result)
        details += _sequential_details(result)
    if result.patient is not None:
        sentences.append(_said(_patient_sentence(result), PATIENT))
        details += _patient_details(result)
    if result.assurance is not None:
        sentences.append(_said(_ceiling_sentence(result), CEILING))
        details += _prior_details(result)
    exceeds, type_one = _type_one_sentences(result)
    if exceeds:
        sentences.append(_said(exceeds, TYPE_ONE))
    elif type_one:
        details.insert(0, type_one)
    dropout = _dropout_sentence(result)
    if dropout:
        sentences.append(_said(dropout, DROPOUT))
    if result.normal_approx_control is not None and result.patient is None:
        details.append(_normal_sentence(result))
    if result.detectable is not None and result.detectable is not getattr(
            result.capacity, "detectable", None):
        sentences.append(_said(_detectable_sentence(result), DETECTABLE))
    if result.capacity is not None:
        capacity, more = _capacity_sentences(result)
        if capacity:
            sentences.append(_said(capacity, CAPACITY))
        details += more
    if result.sweep:
        sentences.append(_said(sweep_sentence(result), SWEEP))
    if planned_on_observed_effect(s):
        sentences.append(_said(_caveat_sentence(result), CAVEAT))
    return sentences, details


def _normal_sentence(result: PlanResult) -> str:
    nc, s = result.normal_approx_control, result.scenario
    text = (f"The normal approximation for a fixed design (two-proportion z test, no "
            f"continuity correction) gives {nc:.1f} per control arm and "
            f"{s.allocation * nc:.1f} per treatment arm")
    sq = result.sequential
    if sq is not None and sq.analytic_inflation is not None and len(sq.looks) > 1:
        text += (f"; the group-sequential design's inflation factor "
                 f"{sq.analytic_inflation:.3f} makes that a maximum of "
                 f"{nc * sq.analytic_inflation:.1f} per control arm")
    return text + "."


def _swept(result: PlanResult, key: str, values: list) -> str:
    """A swept key and its range in words (a rate as percentages)."""
    lo, hi = min(values), max(values)
    for arm in ("control", "treatment"):
        if key == f"arms.{arm}.rate":
            return (f"the live-birth rate with {_arm_label(result, arm)} from {_pct(lo)} to "
                    f"{_pct(hi)}")
    return f"`{key}` from {lo:g} to {hi:g}"


def sweep_sentence(result: PlanResult) -> str:
    points = result.sweep
    keys = list(points[0].values)
    ranges = " and ".join(_swept(result, k, [p.values[k] for p in points]) for k in keys)
    sizes = [p.n_total for p in points if p.n_total is not None]
    power = [p.power_at_planned for p in points if p.power_at_planned is not None]
    missing = len(points) - len(sizes)
    what = "values" if len(keys) == 1 else "combinations"
    text = f"In a sensitivity analysis over {ranges} ({len(points)} {what}), the required size "
    if not sizes:
        text += "had no finite value at any point"
    elif min(sizes) < max(sizes):
        text += f"ranged from {_n(min(sizes))} to {_n(max(sizes))} women in total"
    else:
        text += f"was {_n(sizes[0])} women in total at every point"
    if sizes and missing:
        text += (f" where the target can be reached (at {missing} point"
                 f"{'s' if missing > 1 else ''} no size reaches it)")
    if power:
        planned = f"the planned size of {_n(points[0].planned_control)} {_per_arm(result)}"
        text += (f", and power at {planned} was {_pct(power[0])} at every point"
                 if min(power) == max(power) else
                 f", and power at {planned} ranged from {_pct(min(power))} to {_pct(max(power))}")
    return text + "."


def _improvement(result: PlanResult, d) -> str:
    """"90.0% power to detect an improvement in the live-birth rate from 20.0%
    with standard care to at least 62.9% with IVIg (risk ratio 3.14, odds
    ratio 6.78)"."""
    return (f"{_pct(d.target_power)} power to detect an improvement in the live-birth rate "
            f"from {_pct(d.control_rate)} with {_arm_label(result, 'control')} to at least "
            f"{_pct(d.treatment_rate)} with {_arm_label(result, 'treatment')}"
            + ratio_words(d.effects()))


def _women_per_arm(result: PlanResult, n_c: int, n_t: int) -> str:
    return (f"{_n(n_c)} women per arm" if n_c == n_t else
            f"{_n(n_c)} women with {_arm_label(result, 'control')} and {_n(n_t)} with "
            f"{_arm_label(result, 'treatment')}")


def _detectable_sentence(result: PlanResult) -> str:
    """What the evaluated size detects, in a sentence a reviewer can check."""
    d = result.detectable
    text = (f"With {_women_per_arm(result, d.n_control, d.n_treatment)} with a known outcome, "
            f"the trial has {_improvement(result, d)}, the smallest such rate by exact "
            f"enumeration")
    if d.assurance is not None:
        text += f"; its assurance at this size is {_pct(d.assurance)}"
    return text + "."


def _capacity_sentences(result: PlanResult) -> tuple[str | None, list[str]]:
    """The capacity of the recruitment (paragraph) and the recruitment time
    of the proposed design (Details)."""
    cap, s = result.capacity, result.scenario
    rec, p = cap.recruitment, cap.planned
    centres = len(rec.weights)
    where = (f"{centres} centre{'s' if centres > 1 else ''} each randomising "
             f"{rec.per_centre_month:.3g} women per month at full rate"
             + (f" (after a ramp-up of {rec.ramp_up_months:g} months)" if rec.ramp_up_months
                else ""))
    lo, hi = p.enrol_interval80
    details = [f"With {where}, the {_n(p.n_women)} women of the proposed design are randomised "
               f"in a median of {p.enrol_median:.1f} months (80% interval {lo:.1f} to {hi:.1f}), "
               f"and the last primary outcome is expected at {p.last_outcome_median:.1f} months"
               + (f"; enrolment within {cap.target_months:g} months with probability "
                  f"{_pct(cap.target_probability)} needs {cap.centres_needed} centres"
                  if cap.centres_needed is not None else "") + "."]
    if cap.n_women is None:
        return None, details
    head = (f"With {where}, {_n(cap.n_women)} women can be randomised within "
            f"{cap.target_months:g} months with probability {_pct(cap.target_probability)}")
    c, d = cap.design, cap.detectable
    if c is None or d is None or d.treatment_rate is None:
        return head + f"; {cap.note}.", details
    text = (f"{head}: {_women_per_arm(result, c.n_control, c.n_treatment)} with a known outcome "
            f"after {_pct(s.dropout)} dropout, with power {_pct(c.power)} at the planning rates"
            + (f" and assurance {_pct(c.assurance)}" if c.assurance is not None else "")
            + f", and {_improvement(result, d)}.")
    if cap.n_women < p.n_women:
        text += (f" That is fewer than the {_n(p.n_women)} women the proposed design "
                 f"randomises: they are randomised within {cap.target_months:g} months with "
                 f"probability {_pct(cap.planned_within_target)} only"
                 + (f", and {cap.centres_needed} centres are needed to reach "
                    f"{_pct(cap.target_probability)}" if cap.centres_needed is not None else "")
                 + ".")
        if d.treatment_rate > s.treatment.rate:
            text += (f" The feasible trial does not reach {_pct(s.target_power)} power even at "
                     f"the planning rate of {_pct(s.treatment.rate)} with "
                     f"{s.treatment.label}.")
    return text, details
