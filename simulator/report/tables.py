"""Render a PlanResult: text table, CSV, Markdown report.  Pure functions that
return strings; the command line decides where they go."""
from __future__ import annotations

import csv
import io
import json

from ..models.costs import money
from ..results import PlanResult, randomised
from ..names import TEST_NAMES
from ..planning.search import MAX_WINDOW
from ..scenario.source import provenance, relative_effects
from ..planning.sweep import sweep_table

RATE_KEYS = {"arms.control.rate": "control", "arms.treatment.rate": "treatment"}  # swept rates
SPENDING_NAMES = {"ld_obrien_fleming": "Lan-DeMets O'Brien-Fleming",
                  "ld_pocock": "Lan-DeMets Pocock", "hsd": "Hwang-Shih-DeCani"}


def to_json(result: PlanResult) -> str:
    """results.json: strict JSON (see :meth:`PlanResult.to_dict`)."""
    return json.dumps(result.to_dict(), indent=2, allow_nan=False) + "\n"


def _csv(rows) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    for r in rows:
        w.writerow(["" if v is None else repr(v) if isinstance(v, float) else v for v in r])
    return buf.getvalue()


def curve_csv(result: PlanResult) -> str:
    prior = result.assurance is not None
    rows = [["n_control", "n_treatment", "n_total", "power", "power_se"]
            + (["assurance", "assurance_se"] if prior else [])]
    for p in result.power_curve:
        rows.append([p.n_control, p.n_treatment, p.n_total, p.power, p.power_se]
                    + ([p.assurance, p.assurance_se] if prior else []))
    return _csv(rows)


def sweep_csv(result: PlanResult) -> str:
    return _csv(sweep_table(result.sweep))


def assumptions_csv(result: PlanResult) -> str:
    return _csv([["item", "value"], *assumptions(result)])


def looks_csv(result: PlanResult) -> str:
    """One row per look of a sequential design: sizes, bounds, crossing differences."""
    looks = [lk.to_dict() for lk in result.sequential.looks]
    keys = [k for k in looks[0] if k not in ("n_per_arm", "n_per_arm_randomised")]
    rows = [["look", "n_control", "n_treatment", "n_control_randomised",
             "n_treatment_randomised"] + keys[1:]]
    for row in looks:
        rows.append([row["look"], row["n_per_arm"]["control"], row["n_per_arm"]["treatment"],
                     row["n_per_arm_randomised"]["control"],
                     row["n_per_arm_randomised"]["treatment"]] + [row[k] for k in keys[1:]])
    return _csv(rows)


def pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _power(p, exact: bool) -> str:
    return f"{p.power:.4f}" if exact else f"{p.power:.4f} ± {p.power_se:.4f}"


def n_(k: int) -> str:
    """A count of women with thousands separators."""
    return f"{k:,}"


def above_alpha(value: float, se: float, alpha: float) -> bool:
    """Is a type I error above alpha: exactly (se 0), or beyond its Monte Carlo
    noise (the lower 95% limit above alpha)?"""
    return value - 1.96 * se > alpha


def method_text(result: PlanResult) -> str:
    """Which numbers are exact and which simulated, and how."""
    s, conf = result.scenario, result.confirmation
    parts = []
    if result.patient is not None:
        parts.append(f"power simulated (patient-level model, {result.n_sims:,} trials per size)")
    elif result.method == "exact":
        parts.append("power exact (every 2x2 outcome enumerated" + (
            ", look by look)" if result.sequential is not None else ")"))
    else:
        parts.append(f"power simulated ({result.n_sims:,} trials per size)")
    if conf is not None:
        parts[-1] += (f", confirmed by {conf.n_sims:,} simulated trials at the proposed size")
    ar = result.assurance
    if ar is not None:
        if ar.method == "exact":
            parts.append("assurance exact (" + ("numerical integration over the effect prior"
                                                 if s.effect is not None
                                                 else "beta-binomial sums") + ")")
        else:
            parts.append(f"assurance simulated ({s.simulation.n_sims:,} trials, true rates "
                         "drawn from the priors)")
    if result.patient is not None:
        parts.append(f"type I error simulated ({result.n_sims:,} trials with both arms at the "
                     "control rates)")
    else:
        sq = result.sequential
        simulated = sq is not None and sq.operating[sq.type_one_error_key].method != "exact"
        parts.append(("type I error simulated at the control rate, its maximum over common "
                      "rates exact" if simulated else "type I error exact"))
    return "; ".join(parts)


def assumptions(result: PlanResult) -> list[tuple[str, str]]:
    s = result.scenario
    a = s.analysis
    sided = "two-sided" if a.sided == "two" else "one-sided (treatment better)"
    source = s.source_detail
    return [
        ("Scenario", f"{s.name}" + (f": {s.title}" if s.title else "")),
        ("Endpoint", s.endpoint),
        ("Model", "patient-level simulation of each woman (`model: patient`)"
         if result.patient is not None else
         "the trial's 2x2 table of live births per arm (`model: table`)"),
        ("Source", s.source or "not stated"),
        *([("Source study", source.design)] if source is not None and source.design else []),
        *rate_rows(result),
        ("Effect", effect_text(result)),
        ("Allocation (treatment:control)", f"{s.allocation:g}:1"),
        ("Test" + (" (pooled 2x2 analysis)" if result.patient is not None else ""),
         f"{TEST_NAMES[a.test]}, {sided}, alpha {a.alpha:g}"),
        *_patient_rows(result),
        *([("Interim plan" if len(s.interim.looks) > 1 else "Decision rule",
            interim_plan(result))] if result.sequential else []),
        *_recruitment_rows(result),
        ("Target power", pct(s.target_power)),
        ("Dropout", pct(s.dropout) + _dropout_handling(result)),
        *([("Unit costs", unit_costs(s.costs, result.centres))] if s.costs else []),
        ("Method", method_text(result)),
        ("Seed", str(result.seed)),
        ("Scenario SHA-256", s.digest),
    ]


def unit_costs(costs, centres: int) -> str:
    """The `costs` section in words."""
    def m(x):
        return money(x, costs.currency)
    parts = []
    if costs.per_woman:
        parts.append(f"{m(costs.per_woman)} per woman randomised")
    if costs.per_course:
        parts.append(f"{m(costs.per_course)} per IVIg course, {costs.courses_per_woman:g} "
                     f"course{'s' if costs.courses_per_woman != 1 else ''} per woman on IVIg")
    if costs.per_centre:
        parts.append(f"{m(costs.per_centre)} per centre ({centres} "
                     f"centre{'s' if centres != 1 else ''})")
    return "; ".join(parts)


def cost_line(result: PlanResult) -> str | None:
    """"Cost: CAD 832,000 (48 women x 5,000 + ...)" for the proposed design."""
    c = result.cost
    if c is None:
        return None
    costs = result.scenario.costs
    m = (lambda x: money(x, None))
    items = []
    if costs.per_woman:
        items.append(f"{c['women']:,} women x {m(costs.per_woman)}")
    if costs.per_course:
        items.append(f"{c['courses']:,g} IVIg courses x {m(costs.per_course)}")
    if costs.per_centre:
        items.append(f"{c['centres']} centre{'s' if c['centres'] != 1 else ''} x "
                     f"{m(costs.per_centre)}")
    line = f"Cost: {money(c['total'], costs.currency)} ({' + '.join(items)})"
    if "expected_total_planning" in c:
        line = (line.replace("Cost:", "Cost at the maximum size:")
                + f"; expected {money(c['expected_total_planning'], costs.currency)} under the "
                f"planning rates, {money(c['expected_total_null'], costs.currency)} under the "
                "null")
    return line


def effect_text(result: PlanResult, sign: str = "+") -> str:
    """The planning rates' effect: "+49.0 percentage points (risk ratio 3.45,
    odds ratio 8.90)" (``sign=""``: no plus sign)."""
    s = result.scenario
    e = relative_effects(s.control.rate, s.treatment.rate)
    ratios = [f"{name} {value:.2f}" for name, value in (("risk ratio", e["risk_ratio"]),
                                                        ("odds ratio", e["odds_ratio"]))
              if value is not None]
    return (f"{e['difference_points']:{sign}.1f} percentage points"
            + (f" ({', '.join(ratios)})" if ratios else ""))


PROVENANCE = {"observed": "observed", "assumed": "assumed by the planners",
              "set": "set for this run, not taken from the source", "source": "from the source",
              "prior": "prior mean", "effect": "median effect applied to control",
              "strata": "population average over the strata"}


def rate_provenance(result: PlanResult, arm: str) -> str:
    """"20.0% (observed: 5/25)", "45.0% (assumed by the planners; observed
    69.0%, 20/29)", "24.1% (prior mean; from 5/25 observed, discount 0.5)"."""
    s = result.scenario
    prov = provenance(s)[arm]
    words = PROVENANCE[prov.kind]
    if prov.kind == "prior" and getattr(s, arm).planning_from == "planning_rate":
        words = "planning value (`planning_rate`) within a prior"
    if prov.observed is not None:
        events, n = prov.observed
        words += (f": {events}/{n}" if prov.kind == "observed" else
                  f"; observed {pct(events / n)}, {events}/{n}")
    if prov.prior and "events" in prov.prior:
        p = prov.prior
        words += f"; power prior from {p['events']}/{p['n']}, discount {p['discount']:g}"
    return f"{pct(prov.rate)} ({words})"


def _recruitment_rows(result: PlanResult) -> list[tuple[str, str]]:
    """The recruitment assumed for the looks' calendar (interim designs; the
    patient-level model has its own rows)."""
    rec = result.scenario.recruitment
    if rec is None or result.patient is not None:
        return []
    return [("Recruitment (assumed)", f"{rec.per_centre_month:g} women per centre per month "
             f"(average centre), {len(rec.weights)} centre{'s' if len(rec.weights) > 1 else ''}, "
             f"{rec.ramp_up_months:g} months' ramp-up, outcome {rec.follow_up_months:g} months "
             "after randomisation")]


def _dropout_handling(result: PlanResult) -> str:
    if result.patient is None:
        return ""
    handling = result.patient.model.dropout_handling
    return (" (simulated; analysed as failures, intention to treat)" if handling == "as_failure"
            else " (simulated; complete-case analysis)")


def _patient_rows(result: PlanResult) -> list[tuple[str, str]]:
    """The patient-level model in the assumptions table."""
    if result.patient is None:
        return []
    m = result.patient.model
    model = result.scenario.patient
    rows = [("Primary analysis", next(a.description for a in result.patient.analyses
                                      if a.name == result.patient.primary))]
    if len(m.strata) > 1:
        rows.append(("Strata (share: control vs treatment rate)", "; ".join(
            f"{st.name} {pct(st.share)}: {st.control_rate:.3g} vs "
            f"{st.treatment_rate:.3g}" + (" (prior means)" if st.prior else "")
            for st in m.strata)))
    for c in model.covariates:
        if c.categorical:
            what = ", ".join(f"{lv} {p:g} (log-odds {e:+g})" for lv, p, e in
                             zip(c.levels, c.probabilities, c.log_odds))
        else:
            what = (f"{c.distribution.replace('_', ' ')} mean {c.mean:g}, SD {c.sd:g}"
                    + (f", within [{c.lower:g}, {c.upper:g}]"
                       if c.distribution == "truncated_normal" else "")
                    + (f", recorded to {c.resolution:g}" if c.resolution else "")
                    + f"; {c.log_odds_per_unit:+g} log-odds per unit")
        rows.append((f"Covariate {c.name}", what))
    rows.append(("Centres", f"{m.centres}, between-centre SD {m.centre_sd_log_odds:g} "
                            "on the log-odds scale"))
    rand = m.randomisation + (f", blocks of {' or '.join(map(str, m.block_sizes))}"
                              if m.block_sizes else "")
    rows.append(("Randomisation", rand))
    if m.treatment_not_receiving or m.control_receiving:
        rows.append(("Non-adherence (analysed as randomised)",
                     f"{pct(m.treatment_not_receiving)} of the treatment arm without "
                     f"IVIg, {pct(m.control_receiving)} of controls with it"))
    rec = model.recruitment
    if rec is not None:
        rows.append(("Recruitment", f"{rec.per_centre_month:g} women per centre per month "
                     f"(average centre), {rec.ramp_up_months:g} months' ramp-up, outcome "
                     f"{rec.follow_up_months:g} months after randomisation"))
    return rows


def rate_rows(result: PlanResult) -> list[tuple[str, str]]:
    s = result.scenario
    rows = [(f"{getattr(s, arm).label} rate", rate_provenance(result, arm))
            for arm in ("control", "treatment")]
    if result.assurance is None:
        return rows
    prior = result.assurance.prior
    for arm in (prior.control, prior.treatment):
        if arm.description and arm.rate_prior:
            p = arm.rate_prior
            lo, hi = p["interval95"]
            rows.append((f"{arm.label} prior",
                         f"{arm.description}; mean {pct(p['mean'])}, "
                         f"95% interval {pct(lo)} to {pct(hi)}"))
    if prior.effect:
        rows.append((f"{s.treatment.label} effect prior", prior.effect["description"]))
    rows.append(("P(treatment better) under the prior", f"{prior.probability_treatment_better:.4f}"))
    if prior.mcid is not None:
        rows.append((f"P(difference > {100 * prior.mcid:.1f} points) under the prior",
                     f"{prior.probability_above_mcid:.4f}"))
    if s.target_assurance is not None:
        rows.append(("Target assurance", pct(s.target_assurance)))
    return rows


def size_range(interval, bound, sep=" to "):
    lo, hi = interval
    return (f"{lo:,}{sep}{hi:,}" if hi is not None
            else f"{lo:,}{sep}more than {bound:,} (the bound)")


def _curve_rows(result: PlanResult, around: set[int], half: int = 6):
    return [p for p in result.power_curve if any(abs(p.n_control - m) <= half for m in around)]


def _assurance_cell(p, exact: bool) -> str:
    if p.assurance is None:
        return ""
    return f"  {p.assurance:.4f}" if exact else f"  {p.assurance:.4f} ± {p.assurance_se:.4f}"


def table(result: PlanResult) -> str:
    exact = result.method == "exact"
    out = []
    width = max(len(k) for k, _ in assumptions(result))
    for k, v in assumptions(result):
        out.append(f"{k:<{width}}  {v}")
    ss = result.sample_size
    ar = result.assurance
    a_ss = ar.sample_size if ar else None
    around = {result.reported.n_control} | ({a_ss.answer.n_control} if a_ss else set())
    out.append("")
    out.append("Power curve (per-arm sizes control/treatment"
               + ("; power at the planning values, assurance over the priors)" if ar else ")"))
    out.append(f"{'control':>8} {'treatment':>9} {'total':>6}  power" + ("     assurance" if ar else ""))
    for p in _curve_rows(result, around):
        marks = []
        if ss and p.n_control == ss.answer.n_control:
            marks.append("answer (power)")
        if a_ss and p.n_control == a_ss.answer.n_control:
            marks.append("answer (assurance)")
        if result.evaluated and p.n_control == result.evaluated.n_control:
            marks.append("evaluated")
        mark = f"  <- {', '.join(marks)}" if marks else ""
        out.append(f"{p.n_control:>8} {p.n_treatment:>9} {p.n_total:>6}  {_power(p, exact)}"
                   f"{_assurance_cell(p, ar is not None and ar.method == 'exact')}{mark}")
    out += ["", *headline(result)]
    if result.patient is not None:
        out += ["", *patient_lines(result)]
    elif result.sequential is not None:
        out += ["", *_sequential_lines(result)]
    if result.detectable is not None or result.capacity is not None:
        out += ["", *feasibility_lines(result)]
    if result.sweep is not None:
        out += ["", *_sweep_lines(result)]
    return "\n".join(out) + "\n"


def _arms(result: PlanResult, p, what: str = "") -> str:
    """"24 Standard care + 24 IVIg = 48 women<what>"."""
    s = result.scenario
    return (f"{n_(p.n_control)} {s.control.label} + {n_(p.n_treatment)} {s.treatment.label} = "
            f"{n_(p.n_total)} women{what}")


def headline(result: PlanResult) -> list[str]:
    """The answer in lines: the required (or evaluated) size with its power and
    Monte Carlo range, the size for the assurance target, the size proposed and
    the women to randomise, the type I error and its maximum over the common
    rate, the Monte Carlo check of an exact answer, and the normal
    approximation."""
    s = result.scenario
    exact = result.method == "exact"
    ss = result.sample_size
    what = " randomised" if result.patient else " with a known outcome"
    seq = result.sequential is not None and len(result.sequential.looks) > 1
    out = []
    if ss:
        ans = ss.answer
        out.append(f"Required {'maximum ' if seq else ''}size for power {pct(s.target_power)}: "
                   f"{_arms(result, ans, what)} (power {_power(ans, exact)})")
        out += _search_caveats(ss, "power", exact)
    else:
        e = result.evaluated
        out.append(f"Power at {_arms(result, e)}: {_power(e, exact)}")
    if result.assurance:
        out += assurance_lines(result)
    rep = result.reported
    if result.proposed in ("assurance", "both"):
        why = (f"the size for assurance {pct(s.target_assurance)}" if result.proposed ==
               "assurance" else "the smallest size from the larger answer on where power and "
               "assurance both reach their targets")
        out.append(f"Proposed: {_arms(result, rep, what)} (power {_power(rep, exact)}, "
                   f"assurance {rep.assurance:.4f}), {why} (`sample_size.propose`)")
    if result.patient is None:
        r_c, r_t = randomised(rep.n_control, s.dropout), randomised(rep.n_treatment, s.dropout)
        out.append(f"To randomise with {pct(s.dropout)} dropout: {n_(r_c)} + {n_(r_t)} = "
                   f"{n_(r_c + r_t)} women" + (" at most" if seq else ""))
    if result.cost is not None:
        out.append(cost_line(result))
    out += type_one_error_lines(result)
    conf = result.confirmation
    if conf is not None:
        def check(simulated, se, exact_value, name):
            apart = abs(simulated - exact_value) / se if se > 0 else 0.0
            return (f"{name} {simulated:.4f} ± {se:.4f} against exact {exact_value:.4f} "
                    f"({apart:.1f} standard errors apart)")
        checks = [check(conf.power, conf.power_se, rep.power, "power")]
        if conf.assurance is not None:
            checks.append(check(conf.assurance, conf.assurance_se, rep.assurance, "assurance"))
        out.append(f"Monte Carlo check at {n_(rep.n_control)} + {n_(rep.n_treatment)} "
                   f"({conf.n_sims:,} simulated trials): " + "; ".join(checks))
    if result.normal_approx_control is not None:
        nc = result.normal_approx_control
        line = (f"Normal approximation{' for the fixed design' if seq else ''} (z test, no "
                f"continuity correction): {nc:.1f} control + {s.allocation * nc:.1f} treatment")
        sq = result.sequential
        if seq and sq.analytic_inflation is not None:
            f = sq.analytic_inflation
            line += (f"; times this design's inflation factor {f:.3f}: a maximum of "
                     f"{nc * f:.1f} + {s.allocation * nc * f:.1f}")
        out.append(line)
    return out


def type_one_error_lines(result: PlanResult) -> list[str]:
    """The type I error at the proposed size, at the planning control rate and
    at its worst over the common rate, flagged when above alpha (a simulated
    one only beyond its Monte Carlo error)."""
    s, rep = result.scenario, result.reported
    alpha, size, se = s.analysis.alpha, result.type_one_error, 0.0
    how = "exact"
    if result.patient is not None:
        primary = result.patient.analysis(result.patient.primary)
        se = primary.type_one_error_se
        how = f"simulated, primary analysis, ± {se:.4f}"
    elif result.sequential is not None:
        key = result.sequential.type_one_error_key
        oc = result.sequential.operating[key]
        se = oc.power_se
        how = (oc.method.replace("_", " ") + ("" if oc.method == "exact" else f" ± {se:.4f}")
               + (", futility stops overruled" if key != "null" else ""))
    line = (f"Type I error at {n_(rep.n_control)} + {n_(rep.n_treatment)} ({how}): {size:.4f} "
            f"at a control rate of {pct(s.control.rate)}")
    m = result.type_one_error_max
    if m is not None:
        line += (f"; at most {m.value:.4f} (exact, at {pct(m.rate)}) over common rates "
                 f"{100 * m.low:.0f}% to {100 * m.high:.0f}%")
    if above_alpha(size, se, alpha):
        line += "  <- above alpha"
    elif m is not None and m.value > alpha:
        line += "  <- maximum above alpha"
    return [line]


def patient_lines(result: PlanResult) -> list[str]:
    """Every analysis side by side at the reported size, and the recruitment time."""
    pr = result.patient
    prior = any(a.assurance is not None for a in pr.analyses)
    out = [f"Analyses at {n_(pr.n_control)} + {n_(pr.n_treatment)} women randomised ({pr.n_sims:,} "
           "simulated trials each; type I error: both arms at the control rates)",
           f"{'analysis':<9} {'power':>15}" + (f" {'assurance':>15}" if prior else "")
           + f" {'type I error':>15}  not estimable (planning / null"
           + (" / prior)" if prior else ")")]
    for a in pr.analyses:
        cells = [f"{a.power:.4f} ± {a.power_se:.4f}"]
        if prior:
            cells.append(f"{a.assurance:.4f} ± {a.assurance_se:.4f}")
        cells.append(f"{a.type_one_error:.4f} ± {a.type_one_error_se:.4f}")
        mark = "  <- primary" if a.name == pr.primary else ""
        failed = [a.not_estimable, a.not_estimable_null] + ([a.not_estimable_prior] if prior
                                                            else [])
        out.append(f"{a.name:<9} " + " ".join(f"{c:>15}" for c in cells)
                   + "  " + " / ".join(f"{x:,}" for x in failed) + mark)
    out += [f"  {a.name}: {a.description}" for a in pr.analyses]
    out.append(f"Not estimable: {pr.rule}.")
    for arm, label in (("control", result.scenario.control.label),
                       ("treatment", result.scenario.treatment.label)):
        o = pr.outcomes[arm]
        if o["live_birth"] is None:
            out.append(f"Outcomes with {label}: no simulated woman had a primary outcome")
            continue
        out.append(f"Outcomes with {label} (simulated, women with an outcome): live birth "
                   f"{pct(o['live_birth'])}" + (
                       f", miscarriage {pct(o['miscarriage'])}, transfer failure "
                       f"{pct(o['transfer_failure'])}" if "miscarriage" in o else ""))
    if pr.duration is not None:
        d = pr.duration
        lo, hi = d.enrol_interval80
        lo2, hi2 = d.last_outcome_interval80
        out.append(f"Recruitment of {d.n_women} women: {d.enrol_median:.1f} months (80% "
                   f"interval {lo:.1f} to {hi:.1f}); last primary outcome at "
                   f"{d.last_outcome_median:.1f} months ({lo2:.1f} to {hi2:.1f})")
        if pr.target_months is not None:
            need = (f"{pr.centres_needed} centres recruiting like the average one are needed"
                    if pr.centres_needed is not None else "more than 1,000 centres are needed")
            out.append(f"To enrol within {pr.target_months:g} months with probability "
                       f"{pr.target_probability:g}: {need}")
    return out


def interim_plan(result: PlanResult) -> str:
    """One line: the looks, the efficacy and the futility rules."""
    looks = " / ".join(f"{100 * t:.0f}%" for t in result.scenario.interim.looks)
    rules = interim_rules(result)
    if len(result.scenario.interim.looks) == 1:
        return rules
    return f"{len(result.scenario.interim.looks)} analyses at {looks} of the maximum size; {rules}"


def interim_rules(result: PlanResult) -> str:
    """The efficacy and futility rules (and the Bayesian rule), in words."""
    i, sq = result.scenario.interim, result.sequential
    rule = ""
    if sq.statistic == "bayesian":
        rule = (f"success when P(treatment rate > control rate) >= {sq.looks[-1].efficacy_printed}"
                + (" (calibrated to the type I error)" if sq.calibrated else "")
                + f", priors {sq.prior_text}")
    if len(i.looks) == 1:
        return rule
    eff = {"obrien_fleming": "O'Brien-Fleming bounds", "pocock": "Pocock bounds",
           "spending": f"{SPENDING_NAMES[i.spending]} alpha spending"
                       + (f" (gamma {i.gamma:g})" if i.spending == "hsd" else ""),
           "posterior": "posterior probability", "none": "none"}[i.efficacy]
    if i.futility == "beta_spending":
        fut = (f"{SPENDING_NAMES[i.beta_spending]} beta spending"
               + (f" (gamma {i.beta_gamma:g})" if i.beta_spending == "hsd" else "")
               + f", beta {i.beta:g}")
    elif i.futility == "z":
        fut = "Z at or below " + " / ".join(f"{z:g}" for z in i.futility_z)
    elif i.futility == "conditional_power":
        fut = (f"conditional power below {i.futility_threshold:g} (assuming the {i.assumed} "
               "effect)")
    elif i.futility == "predictive":
        fut = f"predictive probability of success below {i.futility_threshold:g}"
    else:
        fut = "none"
    if i.futility != "none":
        fut += ", binding" if i.binding else ", non-binding"
    return f"efficacy: {eff}; futility: {fut}" + (f"; {rule}" if rule else "")


def diff(x) -> str:
    return "-" if x is None else f"{100 * x:+.1f}"


def _sequential_lines(result: PlanResult) -> list[str]:
    """Bounds per look, stopping probabilities, expected sizes, the fixed
    design and the calendar."""
    s, sq = result.scenario, result.sequential
    bayes = sq.statistic == "bayesian"
    out = [f"Interim plan: {interim_plan(result)}"]
    head = ("post >=  pred <" if bayes else "eff z   fut z  alpha spent")
    out.append(f"{'look':>4} {'info':>5} {'control':>7} {'treat':>6}  {head}  "
               "crossing difference, points (eff / fut)")
    for row in sq.looks:
        e, f = row.efficacy_printed or "-", row.futility_printed or "-"
        if bayes:
            bounds = f"{e:>7} {f:>7}"
        else:
            bounds = f"{e:>5} {f:>7} {row.alpha_spent:>12.5f}"
        out.append(f"{row.look:>4} {row.information:>5.2f} {row.n_control:>7} "
                   f"{row.n_treatment:>6}  {bounds}  "
                   f"{diff(row.efficacy_difference)} / {diff(row.futility_difference)}")
    out.append(f"({looks_note(result)[:-1].lower()})")
    reported = sq.type_one_error_key
    names = {"planning": "planning rates",
             "null": "null" + ("" if reported == "null" else ", futility obeyed"),
             "null_ignoring_futility": "null, futility overruled", "prior": "priors (simulated)"}
    out.append("Stopping probabilities by look, efficacy / futility (null: both arms at the "
               "control rate):")
    for name, oc in sq.operating.items():
        by_look = "  ".join(f"{e:.3f}/{f:.3f}" for e, f in zip(oc.efficacy, oc.futility))
        what = {"planning": "power", "prior": "assurance",
                reported: "type I error"}.get(name, "rejects")
        value = oc.favourable if name == "prior" else oc.power
        se = "" if oc.method == "exact" else f" ± {oc.power_se:.4f}"
        if name == reported and value > s.analysis.alpha:
            se += "  <- above alpha"
        out.append(f"  {names[name]:<26} {by_look}  {what} {value:.4f}{se}; "
                   f"E[N] {oc.expected_n_total:.1f} of {oc.max_n_total} analysed")
    needed = sq.operating["planning"].max_n_total_needed
    out.append(f"(E[N]: women analysed, averaged over where the trial stops; the women "
               f"randomised are {needed} at most"
               + (", all of them already randomised by the first look (see the calendar)"
                  if sq.calendar and sq.calendar.looks[0].expected_randomised >= needed - 0.05
                  else "")
               + ")")
    if sq.fixed is not None:
        f = sq.fixed
        out.append(f"Fixed design with the same test and power: {f.n_control} + "
                   f"{f.n_treatment} = {f.n_total}; inflation factor "
                   f"{f.inflation_factor:.3f}"
                   + (f" (normal approximation {sq.analytic_inflation:.3f})"
                      if sq.analytic_inflation else ""))
    if sq.calendar is not None:
        c = sq.calendar
        looks = "; ".join(f"look {x.look} at month {x.expected_month:.1f} "
                          f"(about {x.expected_randomised:,.0f} randomised)" for x in c.looks)
        out.append(f"Calendar (expected): {looks}")
        out.append(f"Expected end: month {c.expected_end_month['planning']:.1f} at the planning "
                   f"rates (about {c.expected_randomised['planning']:,.0f} women randomised, "
                   f"overrunning included), {c.expected_end_month['null']:.1f} under the null")
    return out


def looks_note(result: PlanResult) -> str:
    """What the crossing differences of the looks table are."""
    return ("Differences in live-birth rates (treatment minus control, percentage points) "
            "that cross a bound when the control arm has its expected live births at "
            f"{pct(result.scenario.control.rate)}; other control counts cross at other "
            "differences, so a look may stop although no difference is shown.")


def _search_caveats(ss, what: str, exact: bool) -> list[str]:
    """The Monte Carlo range and the saw-tooth of a size search, in words."""
    out = []
    if not exact:
        out.append(f"Monte Carlo range of the control-arm size (pointwise 95% limits of {what}): "
                   f"{size_range(ss.interval_control, ss.checked_up_to)}")
    if ss.stable is None:
        out.append(f"{what.capitalize()} falls below the target again at "
                   f"{n_(ss.checked_up_to)} per control arm, the last size checked (saw-tooth "
                   f"of a discrete test; the check stops at the search bound or "
                   f"{MAX_WINDOW:,} sizes past the answer)")
    elif ss.stable.n_control != ss.answer.n_control:
        out.append(f"{what.capitalize()} stays at or above target from {n_(ss.stable.n_control)} "
                   f"per control arm ({n_(ss.stable.n_total)} in total) on, checked up to "
                   f"{n_(ss.checked_up_to)} (saw-tooth of a discrete test)")
    return out


def assurance_lines(result: PlanResult) -> list[str]:
    s, ar = result.scenario, result.assurance
    exact = ar.method == "exact"        # a sequential design's assurance is simulated
    at = ar.at_reported
    how = (("numerical integration over the effect prior, estimated error "
            f"{ar.integration_error:.1e}: the change when the nodes were doubled")
           if s.effect is not None else "exact, beta-binomial sums") if exact \
        else f"Monte Carlo, {s.simulation.n_sims:,} trials with rates drawn from the priors"
    out = [f"Assurance at {n_(at.n_control)} + {n_(at.n_treatment)} ({how}): "
           f"{_assurance_cell(at, exact).strip()} (it tends to {ar.ceiling:.4f}, the prior "
           f"probability that {s.treatment.label} is better, as the trial grows)"]
    if ar.target is not None:
        a_ss = ar.sample_size
        if a_ss:
            a = a_ss.answer
            out.append(f"Size for assurance {pct(ar.target)}: {n_(a.n_control)} + "
                       f"{n_(a.n_treatment)} = {n_(a.n_total)} women "
                       + ("randomised" if result.patient else "with a known outcome") + " (assurance "
                       f"{_assurance_cell(a, exact).strip()}, power {a.power:.4f})")
            out += _search_caveats(a_ss, "assurance", exact)
        else:
            out.append(f"Target assurance {pct(ar.target)} not reachable: {ar.unreachable}")
    return out


def _sweep_lines(result: PlanResult) -> list[str]:
    points = result.sweep
    keys = list(points[0].values)
    prior = any(p.assurance_at_planned is not None for p in points)
    planned = result.reported
    out = [f"Sensitivity: required size, and power at the planned size {n_(planned.n_control)} + "
           f"{n_(planned.n_treatment)}"
           + (" (the treatment arm follows each point's allocation)" if "allocation" in keys
              else "")]
    widths = [max(len(k), 8) for k in keys]
    head = ["n_control", "n_total", "randomised", "power@planned"] + (
        ["assurance@planned", "n_control@assurance"] if prior else [])
    out.append("  ".join(f"{k:>{w}}" for k, w in zip(keys, widths)) + "  "
               + "  ".join(f"{h:>{len(h)}}" for h in head))
    for p in points:
        cells = [f"{v:>{w}g}" for v, w in zip(p.values.values(), widths)]
        req = ([f"{p.n_control:>9}", f"{p.n_total:>7}", f"{p.n_total_randomised:>10}"]
               if p.n_control is not None else [f"{'none':>9}", f"{'':>7}", f"{'':>10}"])
        cells += req + [f"{p.power_at_planned:>13.4f}" if p.power_at_planned is not None
                        else f"{'none':>13}"]
        if prior:
            cells.append(f"{p.assurance_at_planned:>17.4f}" if p.assurance_at_planned is not None
                         else f"{'none':>17}")
            cells.append(f"{p.assurance_n_control if p.assurance_n_control else 'none':>19}")
        out.append("  ".join(cells))
    if any(p.capacity is not None for p in points):
        out.append("Feasibility: the capacity within `recruitment.target_months` (women "
                   "randomised), the design it allows, its power and detectable rate")
        out.append("  ".join(f"{k:>{w}}" for k, w in zip(keys, widths)) + "  capacity  "
                   "per arm  power@capacity  detectable  centres for planned")
        for p in points:
            n, m, _, power, _, rate, need = p.capacity_row()
            cells = [f"{v:>{w}g}" for v, w in zip(p.values.values(), widths)]
            cells += [f"{'none' if n is None else n:>8}", f"{'none' if m is None else m:>7}",
                      f"{'none' if power is None else f'{power:.4f}':>14}",
                      f"{'none' if rate is None else pct(rate):>10}",
                      f"{'none' if need is None else need:>19}"]
            out.append("  ".join(cells))
    if any(p.error or p.assurance_unreachable for p in points):
        out.append("none: no size reaches the target, or no planned design, at that point (the "
                   "reason is in the JSON and sweep.csv)")
    return out


def detectable_text(result: PlanResult, d) -> str:
    """"73.8% or more with IVIg against 20.0% with Standard care: +53.8
    percentage points (risk ratio 3.69, odds ratio 11.26), power 0.9000 there"."""
    s = result.scenario
    e = d.effects()
    return (f"{pct(d.treatment_rate)} or more with {s.treatment.label} against "
            f"{pct(d.control_rate)} with {s.control.label}: {e['difference_points']:+.1f} "
            f"percentage points{ratio_words(e)}, exact power {d.power:.4f} there")


def ratio_words(effects: dict) -> str:
    """" (risk ratio 3.14, odds ratio 6.78)", leaving out a ratio that a rate
    of 0 or 1 leaves undefined; "" when neither is defined."""
    ratios = [f"{name} {effects[key]:.2f}" for name, key in (("risk ratio", "risk_ratio"),
                                                             ("odds ratio", "odds_ratio"))
              if effects[key] is not None]
    return f" ({', '.join(ratios)})" if ratios else ""


def _detectable_lines(result: PlanResult, d, where: str) -> list[str]:
    if d.treatment_rate is None:
        return []
    out = [f"Detectable with power {pct(d.target_power)} {where}: {detectable_text(result, d)}"]
    if d.assurance is not None:
        out.append(f"  assurance at this size {d.assurance:.4f}"
                   + ("" if not d.assurance_se else f" ± {d.assurance_se:.4f}")
                   + f" (power at the planning rates {_power_at(result, d.n_control)})")
    return out


def _power_at(result: PlanResult, m: int) -> str:
    point = next((p for p in result.power_curve if p.n_control == m), None)
    if point is None and result.capacity is not None and result.capacity.design is not None:
        point = result.capacity.design
    return "?" if point is None else f"{point.power:.4f}"


def feasibility_lines(result: PlanResult) -> list[str]:
    """The detectable rate (``--detectable``) and a fixed design's recruitment
    time, centres needed and capacity with what it can detect."""
    out = []
    d = result.detectable
    if d is not None:
        out += _detectable_lines(result, d, f"at {n_(d.n_control)} + {n_(d.n_treatment)} "
                                            "women with an outcome")
        out.append("(the smallest treatment rate at which, and above which, exact power reaches "
                   "the target, the control rate held at its planning value; bisection on the "
                   f"rate to {d.tolerance:g}"
                   + ("" if d.single_crossing else "; one crossing not proved, checked on a grid")
                   + ")")
    cap = result.capacity
    if cap is None:
        return out
    rec, p = cap.recruitment, cap.planned
    lo, hi = p.enrol_interval80
    lo2, hi2 = p.last_outcome_interval80
    rep = result.reported
    out.append(f"Recruitment of the {n_(p.n_women)} women to randomise for {n_(rep.n_control)} + "
               f"{n_(rep.n_treatment)}: {p.enrol_median:.1f} months (80% interval {lo:.1f} to "
               f"{hi:.1f}); last primary outcome at {p.last_outcome_median:.1f} months "
               f"({lo2:.1f} to {hi2:.1f})")
    if cap.target_months is None:
        return out
    t, q = cap.target_months, cap.target_probability
    centres = len(rec.weights)
    need = (f"{cap.centres_needed} centres recruiting like the average one are needed"
            if cap.centres_needed is not None else "more than 1,000 centres are needed")
    out.append(f"Within {t:g} months: the {n_(p.n_women)} women are randomised with probability "
               f"{cap.planned_within_target:.3f} at {centres} centre{'s' if centres > 1 else ''}; "
               f"with probability {q:g}, {need}")
    head = (f"Capacity: {n_(cap.n_women)} women randomised within {t:g} months with "
            f"probability {q:g} at {centres} centre{'s' if centres > 1 else ''}")
    if cap.design is None:
        return out + [f"{head}; {cap.note}"]
    c = cap.design
    out.append(f"{head}: {_arms(result, c, ' with an outcome')} ({n_(cap.randomised_control)} + "
               f"{n_(cap.randomised_treatment)} randomised, {pct(result.scenario.dropout)} "
               f"dropout), power {_power(c, result.method == 'exact')}"
               + ("" if c.assurance is None else f", assurance {c.assurance:.4f}"))
    said = d is not None and (d.n_control, d.n_treatment) == (c.n_control, c.n_treatment)
    if cap.detectable is not None and cap.detectable.treatment_rate is not None and not said:
        out.append("  detectable there: " + detectable_text(result, cap.detectable))
    elif cap.note:
        out.append(f"  {cap.note}")
    return out
