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
from ..planning.compare import Comparison, exceeds_alpha, fewest, shown, summary_rows
from ..version import SOFTWARE
from .document import Bullets, Code, Document, Figure, Numbered, Section, Table
from .justification import justification_text
from .tables import _csv, pct


# ------------------------------------------------------------------------ table

def _power_cell(value, se) -> str:
    if value is None:
        return "-"
    return f"{value:.4f}" if not se else f"{value:.3f} ± {se:.3f}"


def _sized_for(row: dict) -> str:
    power = f"power {pct(row['target_power'])}"
    if row["target_assurance"] is None:
        return power
    assurance = f"assurance {pct(row['target_assurance'])}"
    return {"assurance": assurance, "both": f"{power} and {assurance}",
            "evaluated": "a given size"}.get(row["proposed"], power)


def _rates(row: dict) -> str:
    rates = f"{pct(row['control_rate'])} vs {pct(row['treatment_rate'])}"
    return rates if row["rates_from"] == "point" else f"{rates} from priors"


def _both(n_c, n_t) -> str:
    return f"{n_c} + {n_t} = {n_c + n_t}"


def _cells(row: dict, varied: dict) -> list[tuple[str, str]]:
    """(quantity, cell) for one design, in the table's order; a quantity no
    design has is dropped by the caller."""
    months = row["months_to_enrol"]
    max_t1 = row["type_one_error_max"]
    t1 = f"{row['type_one_error']:.4f}"
    if row["type_one_error_se"]:
        t1 += f" ± {row['type_one_error_se']:.4f}"
    if row["futility_overruled"]:
        t1 += " (futility stops overruled)"
    most = " at most" if row["expected_randomised_planning"] is not None else ""
    return [
        *((key, value) for key, value in varied.items()),
        ("Kind of design", row["kind"]),
        ("Test", SHORT_TEST_NAMES[row["test"]]),
        ("Alpha", f"{row['alpha']:g}, {row['sided']}-sided"),
        ("Rates (control vs IVIg)", _rates(row)),
        ("Sized for", _sized_for(row)),
        ("Dropout", pct(row["dropout"])),
        ("Women with an outcome (control + IVIg)",
         _both(row["n_control"], row["n_treatment"]) if row["model"] == "table" else ""),
        ("Women to randomise (control + IVIg)",
         _both(row["n_control_randomised"], row["n_treatment_randomised"]) + most),
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
         f"{months:.1f} ({row['months_to_enrol_low80']:.1f}-{row['months_to_enrol_high80']:.1f})"
         if months is not None else ""),
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
ASSUMED = ("Kind of design", "Test", "Alpha", "Rates (control vs IVIg)", "Sized for",
           "Dropout")


def side_by_side(comparison: Comparison) -> tuple[list[str], list[list[str]], list[str]]:
    """Header (the letters), rows (quantity, one cell per design) and the
    assumptions every design shares ("target power 90.0%"): an assumption
    row is shown only where the designs differ, and a quantity no design has
    is left out.  The varied keys come first, one row each."""
    rows = summary_rows(comparison)
    keys = list(dict.fromkeys(k for d in comparison.designs for k in d.varied))
    columns = [_cells(r, {k: shown(d.varied[k], k) if k in d.varied else "" for k in keys})
               for r, d in zip(rows, comparison.designs)]
    body, common = [], []
    for i, (name, _) in enumerate(columns[0]):
        cells = [c[i][1] for c in columns]
        if name in ASSUMED and len(set(cells)) == 1:
            common.append(f"{name[0].lower()}{name[1:]} {cells[0]}")
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
    return _csv([keys] + [[r[k] for k in keys] for r in rows])


# -------------------------------------------------------------------- paragraph

def _names(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _per_side(row: dict) -> float:
    """alpha per side: one-sided 0.025 and two-sided 0.05 are the same level
    for the question of benefit."""
    return row["alpha"] if row["sided"] == "one" else row["alpha"] / 2


def _trades(best: dict, other: dict) -> list[str]:
    """What ``best`` trades against ``other`` by its design: a larger alpha or
    a lower target, clearly less power at its size, less margin below the
    same alpha, no early stop; each a phrase."""
    out = []
    if _per_side(best) > _per_side(other) + 1e-12:
        out.append(f"accepts a {best['sided']}-sided alpha of {best['alpha']:g} instead of "
                   f"{other['sided']}-sided {other['alpha']:g}")
    elif best["sided"] == "one" and other["sided"] == "two":
        out.append(f"tests benefit only (one-sided {best['alpha']:g}, the same level per side "
                   f"as two-sided {other['alpha']:g})")
    if best["target_power"] < other["target_power"]:
        out.append(f"aims at power {pct(best['target_power'])} instead of "
                   f"{pct(other['target_power'])}")
    if best["power"] < other["power"] - 0.01:
        out.append(f"has power {best['power']:.3f} at its size against {other['power']:.3f}")
    if (best["assurance"] is not None and other["assurance"] is not None
            and best["assurance"] < other["assurance"] - 0.01):
        out.append(f"has assurance {best['assurance']:.3f} against {other['assurance']:.3f}")
    bm, om = best["type_one_error_max"], other["type_one_error_max"]
    if (bm is not None and om is not None and best["alpha"] == other["alpha"]
            and best["sided"] == other["sided"] and bm > om + 1e-4):
        out.append(f"uses more of alpha {best['alpha']:g} (type I error at most {bm:.4f} "
                   f"against {om:.4f})")
    if (best["expected_randomised_planning"] is None
            and other["expected_randomised_planning"] is not None
            and other["expected_randomised_planning"] < best["n_total_randomised"] - 0.5):
        out.append(f"cannot stop early ({other['design']} expects to randomise "
                   f"{other['expected_randomised_planning']:.1f} women under the planning "
                   "rates)")
    return out


def _assumes(best: dict, other: dict) -> list[str]:
    """Where the smaller design's size comes from its assumptions, not its
    design: a larger effect, less dropout, other planning rates."""
    out = []
    if (best["control_rate"], best["treatment_rate"], best["rates_from"]) != \
            (other["control_rate"], other["treatment_rate"], other["rates_from"]):
        out.append(f"rates of {_rates(best)} (against {_rates(other)})")
    if best["dropout"] < other["dropout"]:
        out.append(f"{pct(best['dropout'])} dropout (against {pct(other['dropout'])})")
    if _sized_for(best) != _sized_for(other):
        out.append(f"a size for {_sized_for(best)} (against {_sized_for(other)})")
    return out


def _randomise(row: dict) -> str:
    text = (f"{row['n_control_randomised']} + {row['n_treatment_randomised']} = "
            f"{row['n_total_randomised']} women to randomise")
    if row["expected_randomised_planning"] is not None:
        text += " at most"
    if row["model"] == "table":
        text += f" ({row['n_control']} + {row['n_treatment']} with an outcome)"
    return text


def paragraph(comparison: Comparison) -> str:
    """Which design needs the fewest women among those that keep alpha, the
    next one, what the smaller design trades for it by its design and what
    it assumes; designs whose type I error exceeds alpha are named."""
    rows = summary_rows(comparison)
    by = {r["design"]: r for r in rows}
    label = {d.letter: d.label for d in comparison.designs}
    best = fewest(comparison)
    first = by[best[0]]
    n = first["n_total_randomised"]
    invalid = [r for r in rows if exceeds_alpha(r)]
    screened = len(invalid) < len(rows)         # some designs keep alpha: only they rank
    rest = sorted((r for r in rows if r["design"] not in best
                   and not (screened and r in invalid)),
                  key=lambda r: (r["n_total_randomised"], r["design"]))
    every = "Both designs" if len(rows) == 2 else f"All {len(rows)} designs"
    if not rest and not (screened and invalid):
        text = f"{every} randomise the same number of women, {n}."
        text += " " + "; ".join(
            f"{r['design']}: power {r['power']:.3f}"
            + (f", type I error at most {_worst(r):.4f}" if _worst(r) else "")
            + (f", expecting {r['expected_randomised_planning']:.1f} randomised under the "
               "planning rates" if r["expected_randomised_planning"] is not None else "")
            for r in rows) + "."
    else:
        who = _names([f"{b} ({label[b]})" for b in best])
        text = (f"Of the {len(rows)} designs compared, {who} "
                f"need{'s' if len(best) == 1 else ''} the fewest women"
                + (" among those that keep the type I error within alpha"
                   if screened and invalid else "")
                + f": {_randomise(first)}.")
        if rest:
            nxt = rest[0]
            text += (f" The next, {nxt['design']} ({label[nxt['design']]}), needs "
                     f"{nxt['n_total_randomised']} ({nxt['n_total_randomised'] - n} more).")
            for b in best:
                trades, assumes = _trades(by[b], nxt), _assumes(by[b], nxt)
                if trades:
                    text += f" Against {nxt['design']}, {b} " + "; ".join(trades) + "."
                if assumes:
                    text += (f" {b}'s size also rests on its assumptions: "
                             + "; ".join(assumes) + ".")
                if not trades and not assumes:
                    text += (f" {b} gives up nothing measured here against {nxt['design']}: "
                             "alpha, power, type I error and the assumptions are alike.")
        elif len(best) > 1:
            text += " " + "; ".join(f"{b}: power {by[b]['power']:.3f}" for b in best) + "."
    if invalid:
        worst = "; ".join(f"{_worst(r):.4f} against {r['alpha']:g}" for r in invalid)
        if screened:
            many = len(invalid) > 1
            needs = [f"{r['design']} ({label[r['design']]})" for r in invalid]
            text += (f" {needs[0]} would need {invalid[0]['n_total_randomised']}"
                     + "".join(f", {who} {r['n_total_randomised']}"
                               for who, r in zip(needs[1:], invalid[1:]))
                     + f", but {'their type I errors exceed' if many else 'its type I error exceeds'}"
                     f" alpha at some common rate ({worst}).")
        else:
            text += (" The type I error exceeds alpha at some common rate for "
                     + _names([r["design"] for r in invalid]) + f" ({worst}).")
    if first["cost"] is not None and rest and rest[0]["cost"] is not None:
        saved = rest[0]["cost"] - first["cost"]
        if saved:
            text += (f" At the unit costs given, {best[0]} costs "
                     f"{money(first['cost'], first['currency'])}, "
                     f"{money(abs(saved), first['currency'])} {'less' if saved > 0 else 'more'}"
                     f" than {rest[0]['design']}.")
    return text


def _worst(row: dict) -> float:
    """The largest type I error known for a design."""
    m = row["type_one_error_max"]
    return max(row["type_one_error"], m if m is not None else 0.0)


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
            "power_curves", "Power against the women to randomise (both arms, after dropout; "
            "the maximum for a sequential design), every design at the sizes evaluated; "
            "each design's proposed size is marked with its letter")]))
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
    names = list(dict.fromkeys(d.scenario.name for d in comparison.designs))
    return Document("Designs compared: " + ", ".join(names),
                    f"{len(comparison.designs)} designs, {SOFTWARE} "
                    f"{comparison.results[0].version}", sections)
