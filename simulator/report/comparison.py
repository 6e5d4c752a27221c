"""Render a comparison (``simulate compare``): the designs side by side as a
text table (one column per design, as nQuery's and PASS's column view), CSV,
the paragraph saying which design needs the fewest women and what it gives
up, and the comparison report (every design's power curve on one figure,
each design's own justification paragraph)."""
from __future__ import annotations

import json

import yaml

from ..citations import references
from ..models.costs import money
from ..names import SHORT_TEST_NAMES
from ..planning.compare import Comparison, fewest, summary_rows
from ..version import SOFTWARE
from .document import Bullets, Code, Document, Figure, Numbered, Section, Table
from .justification import justification_text
from .tables import _csv, above_alpha, pct


# ------------------------------------------------------------------------ table

def _power_cell(value, se) -> str:
    if value is None:
        return "-"
    return f"{value:.4f}" if not se else f"{value:.3f} ± {se:.3f}"


def _cells(row: dict) -> list[tuple[str, str]]:
    """(quantity, cell) for one design, in the table's order; a quantity no
    design has is dropped by the caller."""
    months = row["months_to_enrol"]
    interval = row["months_to_enrol_interval80"]
    max_t1 = row["type_one_error_max"]
    t1 = f"{row['type_one_error']:.4f}"
    if row["type_one_error_se"]:
        t1 += f" ± {row['type_one_error_se']:.4f}"
    return [
        ("Kind of design", row["kind"]),
        ("Test", SHORT_TEST_NAMES[row["test"]]),
        ("Alpha", f"{row['alpha']:g}, {row['sided']}-sided"),
        ("Rates (control vs IVIg)", f"{pct(row['control_rate'])} vs {pct(row['treatment_rate'])}"),
        ("Target power", pct(row["target_power"])),
        ("Dropout", pct(row["dropout"])),
        ("Size per arm (control + IVIg)", f"{row['n_control']} + {row['n_treatment']}"),
        ("Women with an outcome", f"{row['n_total']}" if row["model"] == "table" else ""),
        ("Women to randomise", f"{row['n_total_randomised']}"
         + (" at most" if row["expected_randomised_planning"] is not None else "")),
        ("Power", _power_cell(row["power"], row["power_se"])),
        ("Assurance", _power_cell(row["assurance"], row["assurance_se"])
         if row["assurance"] is not None else ""),
        ("Expected to randomise, planning rates",
         f"{row['expected_randomised_planning']:.1f}"
         if row["expected_randomised_planning"] is not None else ""),
        ("Expected to randomise, null", f"{row['expected_randomised_null']:.1f}"
         if row["expected_randomised_null"] is not None else ""),
        ("Type I error at the control rate", t1),
        ("Type I error, maximum over the common rate",
         f"{max_t1:.4f} (at {pct(row['type_one_error_max_rate'])})" if max_t1 is not None
         else ""),
        ("Months to enrol (median, 80% interval)",
         f"{months:.1f} ({interval[0]:.1f}-{interval[1]:.1f})" if months is not None else ""),
        ("Months to the last outcome (median)", f"{row['months_to_last_outcome']:.1f}"
         if row["months_to_last_outcome"] is not None else ""),
        ("Centres needed to enrol in time",
         "" if row["target_months"] is None else
         f"{row['centres_needed'] or 'over 1,000'} (within {row['target_months']:g} months, "
         f"probability {row['target_probability']:g})"),
        ("Cost", "" if row["cost"] is None else money(row["cost"], row["currency"])
         + ("" if row["expected_cost_planning"] is None else
            f" at most; expected {money(row['expected_cost_planning'], row['currency'])}")),
    ]


# the rows of _cells that are a design's assumptions (said once when shared)
ASSUMED = ("Kind of design", "Test", "Alpha", "Rates (control vs IVIg)", "Target power",
           "Dropout")


def side_by_side(comparison: Comparison) -> tuple[list[str], list[list[str]], list[str]]:
    """Header (the letters), rows (quantity, one cell per design) and the
    assumptions every design shares ("Target power 90.0%"): an assumption
    row is shown only where the designs differ, and a quantity no design has
    is left out."""
    rows = summary_rows(comparison)
    columns = [_cells(r) for r in rows]
    body, common = [], []
    for i, (name, _) in enumerate(columns[0]):
        cells = [c[i][1] for c in columns]
        if name in ASSUMED and len(set(cells)) == 1:
            common.append(f"{name}: {cells[0]}")
        elif any(cells):
            body.append([name] + [cell or "-" for cell in cells])
    return [""] + [r["design"] for r in rows], body, common


def table(comparison: Comparison) -> str:
    """The text table: the designs' letters and labels, what they share, then
    one column per design, then the paragraph."""
    header, body, common = side_by_side(comparison)
    out = ["Designs compared"]
    out += [f"  {d.letter}  {d.label}" for d in comparison.designs]
    if common:
        out += ["", "In every design: " + "; ".join(common)]
    out.append("")
    widths = [max(len(r[i]) for r in [header] + body) for i in range(len(header))]
    for r in [header] + body:
        out.append("  ".join([r[0].ljust(widths[0])]
                             + [c.rjust(w) for c, w in zip(r[1:], widths[1:])]).rstrip())
    out += ["", paragraph(comparison)]
    return "\n".join(out) + "\n"


def to_json(comparison: Comparison) -> str:
    """results.json of a comparison: strict JSON (see :meth:`Comparison.to_dict`)."""
    return json.dumps(comparison.to_dict(), indent=2, allow_nan=False) + "\n"


def to_csv(comparison: Comparison) -> str:
    rows = summary_rows(comparison)
    keys = list(rows[0])
    return _csv([keys] + [[(" to ".join(map(repr, r[k])) if isinstance(r[k], list) else r[k])
                           for k in keys] for r in rows])


# -------------------------------------------------------------------- paragraph

def _names(letters: list[str]) -> str:
    return letters[0] if len(letters) == 1 else ", ".join(letters[:-1]) + " and " + letters[-1]


def _per_side(row: dict) -> float:
    """alpha per side: one-sided 0.025 and two-sided 0.05 are the same level
    for the question of benefit."""
    return row["alpha"] if row["sided"] == "one" else row["alpha"] / 2


def _gives_up(best: dict, other: dict) -> list[str]:
    """What ``best`` gives up against ``other``: the differences a reviewer
    would weigh, each a phrase."""
    out = []
    level, other_level = _per_side(best), _per_side(other)
    if level > other_level + 1e-12:
        out.append(f"a {best['sided']}-sided alpha of {best['alpha']:g} instead of "
                   f"{other['sided']}-sided {other['alpha']:g}")
    elif best["sided"] == "one" and other["sided"] == "two":
        out.append(f"the two-sided test (one-sided {best['alpha']:g} tests benefit only, at "
                   "the same level per side)")
    if best["target_power"] < other["target_power"]:
        out.append(f"a target power of {pct(best['target_power'])} instead of "
                   f"{pct(other['target_power'])}")
    if best["power"] < other["power"] - 1e-4:
        out.append(f"power {best['power']:.3f} at its size against {other['power']:.3f}")
    if (best["assurance"] is not None and other["assurance"] is not None
            and best["assurance"] < other["assurance"] - 1e-4):
        out.append(f"assurance {best['assurance']:.3f} against {other['assurance']:.3f}")
    bm, om = best["type_one_error_max"], other["type_one_error_max"]
    if bm is not None and bm > best["alpha"]:
        out.append(f"its type I error reaches {bm:.4f} over the common rate, above alpha "
                   f"{best['alpha']:g}")
    elif above_alpha(best["type_one_error"], best["type_one_error_se"], best["alpha"]):
        out.append(f"its type I error is {best['type_one_error']:.4f}, above alpha "
                   f"{best['alpha']:g}")
    elif bm is not None and om is not None and bm > om + 1e-4:
        out.append(f"less margin below alpha (type I error at most {bm:.4f} against "
                   f"{om:.4f})")
    if (best["expected_randomised_planning"] is None
            and other["expected_randomised_planning"] is not None
            and other["expected_randomised_planning"] < best["n_total_randomised"]):
        out.append(f"the chance to stop early ({other['design']} expects "
                   f"{other['expected_randomised_planning']:.0f} women under the planning "
                   "rates)")
    if best["dropout"] < other["dropout"]:
        out.append(f"a dropout assumption of {pct(best['dropout'])} instead of "
                   f"{pct(other['dropout'])}")
    if best["treatment_rate"] - best["control_rate"] > other["treatment_rate"] - \
            other["control_rate"] + 1e-12:
        out.append(f"a larger assumed effect ({pct(best['control_rate'])} vs "
                   f"{pct(best['treatment_rate'])} instead of {pct(other['control_rate'])} vs "
                   f"{pct(other['treatment_rate'])})")
    return out


def paragraph(comparison: Comparison) -> str:
    """Which design needs the fewest women, against the next one, and what it
    gives up for it; designs that are not valid at their level are named."""
    rows = summary_rows(comparison)
    label = {d.letter: d.label for d in comparison.designs}
    best = fewest(comparison)
    first = next(r for r in rows if r["design"] == best[0])
    n = first["n_total_randomised"]
    at_most = " at most" if first["expected_randomised_planning"] is not None else ""
    if len(best) == len(rows):
        every = "Both designs" if len(rows) == 2 else f"All {len(rows)} designs"
        bounded = [f"{r['design']} at most, expecting {r['expected_randomised_planning']:.1f} "
                   "under the planning rates" for r in rows
                   if r["expected_randomised_planning"] is not None]
        text = (f"{every} randomise the same number of women, {n}"
                + (f" ({'; '.join(bounded)})" if bounded else "") + ".")
    else:
        who = _names([f"{b} ({label[b]})" for b in best])
        text = (f"Of the {len(rows)} designs compared, {who} need{'s' if len(best) == 1 else ''}"
                f" the fewest women: {first['n_control_randomised']} + "
                f"{first['n_treatment_randomised']} = {n} to randomise{at_most}.")
        nxt = min((r for r in rows if r["design"] not in best),
                  key=lambda r: (r["n_total_randomised"], r["design"]))
        text += (f" The next, {nxt['design']} ({label[nxt['design']]}), needs "
                 f"{nxt['n_total_randomised']} ({nxt['n_total_randomised'] - n} more).")
        parts = []
        for b in best:
            given = _gives_up(next(r for r in rows if r["design"] == b), nxt)
            parts.append(f"{b} gives up " + "; ".join(given) if given else
                         f"{b} gives up nothing measured here (power, type I error, alpha, "
                         "the assumed rates and dropout)")
        text += f" Against {nxt['design']}, " + "; and ".join(parts) + "."
        if first["cost"] is not None and nxt["cost"] is not None:
            saved = nxt["cost"] - first["cost"]
            text += (f" At the unit costs given, {best[0]} costs {money(first['cost'], first['currency'])}"
                     f", {money(abs(saved), first['currency'])} "
                     f"{'less' if saved >= 0 else 'more'} than {nxt['design']}.")
    others = [r for r in rows if _invalid(r)
              and (r["design"] not in best or len(best) == len(rows))]
    if others:
        text += (" The type I error exceeds alpha at some common rate for " + _names(
            [f"{r['design']} ({_worst(r):.4f} against {r['alpha']:g})" for r in others]) + ".")
    return text


def _worst(row: dict) -> float:
    """The largest type I error known for a design."""
    m = row["type_one_error_max"]
    return max(row["type_one_error"], m if m is not None else 0.0)


def _invalid(row: dict) -> bool:
    m = row["type_one_error_max"]
    return (m is not None and m > row["alpha"]) or above_alpha(
        row["type_one_error"], row["type_one_error_se"], row["alpha"])


# ------------------------------------------------------------------------ report

def build(comparison: Comparison, figures=()) -> Document:
    """The comparison report: the paragraph, the table, the power curves, and
    each design's own justification paragraph and scenario."""
    header, body, common = side_by_side(comparison)
    sections = [
        Section("summary", "Summary", [paragraph(comparison), Bullets(
            [f"{d.letter}: {d.label}" for d in comparison.designs])]),
        Section("side-by-side", "Designs side by side", [
            *(["In every design: " + "; ".join(common) + "."] if common else []),
            Table(["Quantity"] + header[1:], body, numeric=(False,) + (True,) * len(header[1:])),
            "Sizes are those each design proposes; power and type I error at that size "
            "(exact where the design allows, else simulated, ± one Monte Carlo standard "
            "error). comparison.csv has every figure."]),
    ]
    if "power_curves" in figures:
        sections.append(Section("power-curves", "Power curves", [Figure(
            "power_curves", "Power against the women to randomise (both arms, after dropout), "
            "every design; each design's proposed size is marked with its letter")]))
    sections += [Section(f"design-{d.letter}", f"{d.letter}: {d.label}",
                         [justification_text(r).paragraph]) for d, r in comparison]
    cited = []
    for _, r in comparison:
        cited += [c for c in references(r) if c not in cited]
    sections.append(Section("references", "References", [Numbered(cited)]))
    repro = [f"Computed with {SOFTWARE} {comparison.results[0].version}. Each design below is "
             "the validated scenario that ran (its seed inside); `simulate --scenario` on it "
             "gives the same numbers as its column."]
    for d, r in comparison:
        repro += [f"{d.letter}: {d.label} (SHA-256 {r.scenario.digest})",
                  Code(yaml.safe_dump(r.scenario.to_dict(), sort_keys=False,
                                      allow_unicode=True).rstrip())]
    sections.append(Section("reproducibility", "Reproducibility", repro))
    names = sorted({d.scenario.name for d in comparison.designs})
    return Document("Designs compared: " + ", ".join(names),
                    f"{len(comparison.designs)} designs, {SOFTWARE} "
                    f"{comparison.results[0].version}", sections)
