"""Render a PlanResult: text table, CSV, Markdown report.  Pure functions that
return strings; the command line decides where they go."""
from __future__ import annotations

import csv
import io
import json

from .results import PlanResult

TEST_NAMES = {
    "fisher": "Fisher's exact test",
    "z_pooled": "two-proportion z test (pooled variance)",
    "z_unpooled": "two-proportion z test (unpooled variance)",
    "chi2_yates": "chi-square test with Yates' continuity correction",
}


def to_json(result: PlanResult) -> str:
    return json.dumps(result.to_dict(), indent=2) + "\n"


def curve_csv(result: PlanResult) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["n_control", "n_treatment", "n_total", "power", "power_se"])
    for p in result.power_curve:
        w.writerow([p.n_control, p.n_treatment, p.n_total, repr(p.power), repr(p.power_se)])
    return buf.getvalue()


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _power(p, exact: bool) -> str:
    return f"{p.power:.4f}" if exact else f"{p.power:.4f} ± {p.power_se:.4f}"


def assumptions(result: PlanResult) -> list[tuple[str, str]]:
    s = result.scenario
    a = s.analysis
    sided = "two-sided" if a.sided == "two" else "one-sided (treatment better)"
    if result.method == "exact":
        method = "exact enumeration of every 2x2 outcome (no Monte Carlo error)"
    else:
        method = f"Monte Carlo, {result.n_sims:,} simulated trials per size"
    return [
        ("Scenario", f"{s.name}" + (f": {s.title}" if s.title else "")),
        ("Endpoint", s.endpoint),
        ("Source", s.source or "not stated"),
        (f"{s.control.label} rate", f"{s.control.rate:g}"),
        (f"{s.treatment.label} rate", f"{s.treatment.rate:g}"),
        ("Allocation (treatment:control)", f"{s.allocation:g}:1"),
        ("Test", f"{TEST_NAMES[a.test]}, {sided}, alpha {a.alpha:g}"),
        ("Target power", f"{s.target_power:g}"),
        ("Dropout", _pct(s.dropout)),
        ("Method", method),
        ("Seed", str(result.seed)),
        ("Scenario SHA-256", s.digest),
    ]


def _size_range(interval, bound, sep=" to "):
    lo, hi = interval
    return f"{lo}{sep}{hi}" if hi is not None else f"{lo}{sep}more than {bound} (the bound)"


def _curve_rows(result: PlanResult, around: int, half: int = 6):
    rows = [p for p in result.power_curve if abs(p.n_control - around) <= half]
    return rows


def table(result: PlanResult) -> str:
    s = result.scenario
    a = s.analysis
    exact = result.method == "exact"
    out = []
    width = max(len(k) for k, _ in assumptions(result))
    for k, v in assumptions(result):
        out.append(f"{k:<{width}}  {v}")
    ss = result.sample_size
    around = result.reported.n_control
    out.append("")
    out.append("Power curve (per-arm sizes control/treatment)")
    out.append(f"{'control':>8} {'treatment':>9} {'total':>6}  power")
    for p in _curve_rows(result, around):
        mark = "  <- answer" if ss and p.n_control == ss.answer.n_control else ""
        if result.evaluated and p.n_control == result.evaluated.n_control:
            mark = "  <- evaluated"
        out.append(f"{p.n_control:>8} {p.n_treatment:>9} {p.n_total:>6}  {_power(p, exact)}{mark}")
    out.append("")
    if ss:
        ans = ss.answer
        out.append(f"Required size: {ans.n_control} {s.control.label} + {ans.n_treatment} "
                   f"{s.treatment.label} = {ans.n_total} women with the outcome "
                   f"(power {_power(ans, exact)}, target {s.target_power:g})")
        if not exact:
            out.append("Monte Carlo range of the control-arm size (pointwise 95% limits of "
                       f"power): {_size_range(ss.interval_control, ss.checked_up_to)}")
        if ss.stable is None:
            out.append(f"Power falls below the target again at the search bound "
                       f"{ss.checked_up_to} (saw-tooth of a discrete test); raise the bound")
        elif ss.stable.n_control != ans.n_control:
            out.append(f"Power stays at or above target from {ss.stable.n_control} per control "
                       f"arm ({ss.stable.n_total} in total) on, checked up to "
                       f"{ss.checked_up_to} (saw-tooth of a discrete test)")
        out.append(f"To randomise with {_pct(s.dropout)} dropout: {ss.randomised_control} + "
                   f"{ss.randomised_treatment} = {ss.n_total_randomised} women")
    else:
        e = result.evaluated
        out.append(f"Power at {e.n_control} {s.control.label} + {e.n_treatment} "
                   f"{s.treatment.label} = {e.n_total}: {_power(e, exact)}")
    reported = result.reported
    out.append(f"Type I error at {reported.n_control} + {reported.n_treatment} (exact, both arms "
               f"at rate {s.control.rate:g}): {result.type_one_error:.4f}"
               + ("  ** above alpha **" if result.type_one_error > a.alpha else ""))
    if result.normal_approx_control is not None:
        nc = result.normal_approx_control
        out.append(f"Normal approximation (z test, no continuity correction): "
                   f"{nc:.1f} control + {s.allocation * nc:.1f} treatment")
    return "\n".join(out) + "\n"


def justification(result: PlanResult) -> str:
    """The sample-size justification paragraph, generated from the results."""
    s = result.scenario
    a = s.analysis
    ss = result.sample_size
    sided = "two-sided" if a.sided == "two" else "one-sided"
    ratio = "1:1" if s.allocation == 1 else f"{s.allocation:g}:1 (treatment:control)"
    parts = [
        f"The primary endpoint is {s.endpoint}. "
        f"Assuming live-birth rates of {_pct(s.control.rate)} with {s.control.label.lower()} "
        f"and {_pct(s.treatment.rate)} with {s.treatment.label}"
        + (f" ({s.source})" if s.source else "") + ", ",
    ]
    if ss:
        ans = ss.answer
        parts.append(
            f"{ans.n_control} women in the {s.control.label.lower()} arm and {ans.n_treatment} "
            f"in the {s.treatment.label} arm ({ans.n_total} in total, randomised {ratio}) give "
            f"{_pct(ans.power)} power to detect the difference with {TEST_NAMES[a.test]} at "
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
        if s.dropout > 0:
            parts.append(
                f"Allowing for {_pct(s.dropout)} of women without a primary outcome, "
                f"{ss.n_total_randomised} women will be randomised "
                f"({ss.randomised_control} and {ss.randomised_treatment}). ")
    else:
        e = result.evaluated
        parts.append(
            f"{e.n_control} women in the {s.control.label.lower()} arm and {e.n_treatment} in the "
            f"{s.treatment.label} arm ({e.n_total} in total, randomised {ratio}) give "
            f"{_pct(e.power)} power with {TEST_NAMES[a.test]} at {sided} alpha {a.alpha:g}. ")
    if result.method == "exact":
        parts.append("Power was computed exactly by enumerating every possible trial outcome")
    else:
        se = (ss.answer if ss else result.evaluated).power_se
        parts.append(f"Power was estimated from {result.n_sims:,} simulated trials per sample "
                     f"size (Monte Carlo standard error {se:.4f})")
    parts.append(f" with simulator {result.version} (seed {result.seed}, scenario SHA-256 "
                 f"{s.digest}).")
    return "".join(parts)


def markdown(result: PlanResult) -> str:
    s = result.scenario
    lines = [f"# Sample size: {s.title or s.name}", "", "## Assumptions", "",
             "| item | value |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in assumptions(result)]
    exact = result.method == "exact"
    lines += ["", "## Power curve", "",
              "| control | treatment | total | power | MC SE |", "|---:|---:|---:|---:|---:|"]
    for p in result.power_curve:
        lines.append(f"| {p.n_control} | {p.n_treatment} | {p.n_total} | {p.power:.4f} | "
                     f"{'exact' if exact else f'{p.power_se:.4f}'} |")
    lines += ["", "## Sample-size justification", "", justification(result), ""]
    return "\n".join(lines)
