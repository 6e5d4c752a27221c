"""The report as a document: sections of paragraphs, tables and figures, built
once from a PlanResult and rendered as Markdown (figures as PNG files beside
it) or as one self-contained HTML file (figures embedded, no external
resources, printable to PDF)."""
from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass, field

import yaml

from ..version import SOFTWARE
from ..citations import references
from .justification import justification_text, sweep_sentence
from .tables import (RATE_KEYS, assumptions, assurance_lines, diff, feasibility_lines, headline,
                     interim_plan, looks_note, patient_lines, pct)
from ..results import PlanResult
from ..planning.sweep import sweep_table


@dataclass(frozen=True)
class Table:
    header: list[str]
    rows: list[list[str]]
    numeric: tuple[bool, ...] = ()      # right-aligned columns
    highlight: tuple[int, ...] = ()     # rows to emphasise (the answer)


@dataclass(frozen=True)
class Figure:
    stem: str                           # the PNG file's name without .png
    caption: str


@dataclass(frozen=True)
class Bullets:
    items: list[str]


@dataclass(frozen=True)
class Numbered:
    items: list[str]


@dataclass(frozen=True)
class Code:
    text: str


@dataclass
class Section:
    id: str
    title: str
    blocks: list = field(default_factory=list)


@dataclass(frozen=True)
class Document:
    title: str
    subtitle: str
    sections: list[Section]


FIGURE_CAPTIONS = {
    "power_curve": "Power against the sample size, with the target and the chosen size marked",
    "sensitivity": "Sensitivity of the required sample size to the swept assumptions",
    "boundaries": "Stopping boundaries of the group-sequential design, on the z scale and as "
                  "differences in live-birth rates",
    "recruitment": "Women randomised over time: median and 80% interval",
    "feasibility": "What the trial can do within the recruitment: power at the capacity and "
                   "the smallest treatment rate it detects, against the swept value",
}


def build(result: PlanResult, figures=()) -> Document:
    """The report's sections; ``figures``: the stems of the figures available."""
    s = result.scenario
    exact = result.method == "exact"
    figs = set(figures)

    def figure(stem):
        return [Figure(stem, FIGURE_CAPTIONS[stem])] if stem in figs else []

    text = justification_text(result)
    sections = [
        Section("summary", "Summary", [Bullets(headline(result))]),
        Section("justification", "Sample-size justification", [text.paragraph]),
        Section("details", "Details", [Bullets(text.details)] if text.details else
                ["Nothing beyond the paragraph."]),
        Section("assumptions", "Assumptions",
                [Table(["Item", "Value"], [list(row) for row in assumptions(result)])]),
        Section("power-curve", "Power curve", figure("power_curve") + [
            _curve_table(result),
            "The sizes around the answer and a coarse grid; power_curve.csv has every size "
            "evaluated." + ("" if exact else " Power is estimated by simulation; MC SE is its "
                            "Monte Carlo standard error, and the band of the figure is the "
                            "pointwise 95% interval.")]),
    ]
    if result.assurance is not None:        # (the priors are in the assumptions)
        sections.append(Section("assurance", "Assurance", [Bullets(assurance_lines(result))]))
    if result.detectable is not None or result.capacity is not None:
        sections.append(Section("feasibility", "What the trial can detect",
                                [Bullets(feasibility_lines(result))]))
    if result.sequential is not None:
        sections.append(Section("interim", "Interim analyses", [
            interim_plan(result) + ".", *figure("boundaries"), _looks_table(result),
            looks_note(result),
            "Stopping probabilities at each look (efficacy / futility; at the last look, "
            "success); the null has both arms at the control rate.",
            _operating_table(result)]))
    if result.patient is not None:
        sections.append(Section("patient-level", "Patient-level simulation",
                                [Code("\n".join(patient_lines(result)))]))
    if "recruitment" in figs:
        sections.append(Section("recruitment", "Recruitment", figure("recruitment")))
    if result.sweep is not None:
        table = _sweep_table(result)
        thinned = len(table.rows) < len(result.sweep)
        sections.append(Section("sensitivity", "Sensitivity analysis", [
            sweep_sentence(result), *figure("sensitivity"), *figure("feasibility"), table]
            + ([f"Every {-(-len(result.sweep) // MAX_SWEEP_ROWS)}th of the "
                f"{len(result.sweep):,} points; sweep.csv has them all."] if thinned else [])))
    sections += [
        Section("references", "References", [Numbered(references(result))]),
        Section("reproducibility", "Reproducibility", [
            f"Computed with {SOFTWARE} {result.version}, seed {result.seed}; the validated "
            f"scenario below has SHA-256 {s.digest} (first 12 hex digits). Running it again "
            "with the same version and seed gives the same numbers.",
            Code(yaml.safe_dump(s.to_dict(), sort_keys=False, allow_unicode=True).rstrip())]),
    ]
    return Document(f"Sample size: {s.title or s.name}",
                    f"Scenario {s.name}, {SOFTWARE} {result.version}", sections)


def _cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.4g}"
    return f"{v:,}" if isinstance(v, int) else str(v)


MAX_SWEEP_ROWS = 200    # a larger grid's table shows every k-th point (sweep.csv: all)
SWEEP_HEADERS = {
    "n_control": "{control} arm", "n_treatment": "{treatment} arm",
    "n_total": "Total with a known outcome", "power": "Power at required size",
    "n_total_randomised": "To randomise",
    "planned_n_control": "Planned {control} arm", "power_at_planned": "Power at planned size",
    "power_at_planned_se": "MC SE", "assurance_at_planned": "Assurance at planned size",
    "assurance_at_planned_se": "MC SE", "assurance_n_control": "{control} arm for target "
    "assurance", "probability_treatment_better": "P(treatment better)",
    "probability_above_mcid": "P(difference above MCID)", "error": "Why no size",
    "assurance_unreachable": "Why no size for the assurance target",
    "capacity_n_women": "Capacity (women randomised)", "capacity_n_control": "{control} arm "
    "at capacity", "capacity_n_treatment": "{treatment} arm at capacity",
    "power_at_capacity": "Power at capacity", "assurance_at_capacity": "Assurance at capacity",
    "detectable_rate_at_capacity": "Detectable {treatment} rate at capacity",
    "centres_needed": "Centres for the planned size"}


def _sweep_table(result: PlanResult) -> Table:
    """The sweep table with headers in words, swept rates as percentages, and
    without its empty columns (assurance ones without priors, errors where
    every point has an answer); sweep.csv has them all, by their keys."""
    s = result.scenario
    header, *rows = sweep_table(result.sweep)
    keys = list(result.sweep[0].values)
    labels = {"control": s.control.label, "treatment": s.treatment.label}
    words = [f"{labels[RATE_KEYS[h]]} rate" if h in RATE_KEYS else h if h in keys
             else SWEEP_HEADERS[h].format(**labels) for h in header]
    # no column that is empty, nor a standard error that is 0 throughout (exact),
    # nor the planned control arm when every point shares it (the text says it)
    # a feasibility curve (capacity columns): also not the required size's columns when they
    # are the same at every point (the sentence says so), nor the capacity's treatment arm
    # when it is its control arm: the table fits the page
    feasible = "capacity_n_women" in header
    constant = {"n_control", "n_treatment", "n_total", "power", "n_total_randomised",
                "power_at_planned"}
    keep = [i for i in range(len(header)) if any(r[i] is not None for r in rows)
            and not (header[i].endswith("_se") and not any(r[i] for r in rows))
            and not (header[i] == "planned_n_control" and len({r[i] for r in rows}) == 1)
            and not (feasible and header[i] in constant and len({r[i] for r in rows}) == 1)
            and not (header[i] == "capacity_n_treatment" and all(
                r[i] == r[header.index("capacity_n_control")] for r in rows))]

    def cell(i, v):
        if v is None:
            return ""
        if header[i] in RATE_KEYS or header[i] == "detectable_rate_at_capacity":
            return pct(v)
        if header[i].startswith(("power", "assurance_at", "probability")):
            return f"{v:.4f}"
        return _cell(v)
    shown = rows[::-(-len(rows) // MAX_SWEEP_ROWS)]
    return Table([words[i] for i in keep], [[cell(i, r[i]) for i in keep] for r in shown],
                 tuple(not isinstance(rows[0][i], str) for i in keep))


NEIGHBOURHOOD = 3       # sizes either side of an answer shown in the report's table
COARSE_ROWS = 8         # other sizes of the curve shown, spread over it


def curve_rows(result: PlanResult) -> list:
    """The power curve's points for the report's table: every size within
    ``NEIGHBOURHOOD`` of the proposed size (and of the power and assurance
    answers), and about ``COARSE_ROWS`` others spread over the curve."""
    curve = list(result.power_curve)
    answers = {result.reported.n_control}
    if result.sample_size:
        answers.add(result.sample_size.answer.n_control)
    if result.assurance and result.assurance.sample_size:
        answers.add(result.assurance.sample_size.answer.n_control)
    near = [p for p in curve if any(abs(p.n_control - m) <= NEIGHBOURHOOD for m in answers)]
    rest = [p for p in curve if p not in near]
    step = max(1, -(-len(rest) // COARSE_ROWS))
    coarse = rest[::step]
    return sorted(near + coarse, key=lambda p: p.n_control)


def _curve_table(result: PlanResult) -> Table:
    """The power curve's table (standard-error columns only for simulated values)."""
    prior = result.assurance is not None
    exact, a_exact = result.method == "exact", prior and result.assurance.method == "exact"
    seq = result.sequential is not None and len(result.sequential.looks) > 1
    header = (["Control", "Treatment", "Total (maximum)" if seq else "Total", "Power"]
              + ([] if exact else ["Power MC SE"])
              + (["Assurance"] + ([] if a_exact else ["Assurance MC SE"]) if prior else []))
    rows, highlight = [], []
    for i, p in enumerate(curve_rows(result)):
        row = [f"{p.n_control:,}", f"{p.n_treatment:,}", f"{p.n_total:,}", f"{p.power:.4f}"]
        row += [] if exact else [f"{p.power_se:.4f}"]
        if prior:
            row += [f"{p.assurance:.4f}"] + ([] if a_exact else [f"{p.assurance_se:.4f}"])
        rows.append(row)
        if p.n_control == result.reported.n_control:
            highlight.append(i)
    return Table(header, rows, (True,) * len(header), tuple(highlight))


def _looks_table(result: PlanResult) -> Table:
    sq = result.sequential
    bayes = sq.statistic == "bayesian"
    header = ["Look", "Information", "Control", "Treatment"] + (
        ["Posterior >=", "Predictive <"] if bayes
        else ["Efficacy z", "Futility z", "Alpha spent (cumulative)"]
    ) + ["Efficacy difference (points)", "Futility difference (points)"]
    rows = []
    for row in sq.looks:
        bounds = [row.efficacy_printed or "-", row.futility_printed or "-"]
        if not bayes:
            bounds.append(f"{row.alpha_spent:.5f}")
        rows.append([str(row.look), f"{row.information:.3f}",
                     str(row.n_control), str(row.n_treatment),
                     *bounds, diff(row.efficacy_difference), diff(row.futility_difference)])
    return Table(header, rows, (True,) * len(header))


def _operating_table(result: PlanResult) -> Table:
    sq = result.sequential
    names = {"planning": "Planning rates", "null": "Null", "prior": "Priors (simulated)",
             "null_ignoring_futility": "Null, futility overruled"}
    if sq.type_one_error_key != "null":
        names["null"] = "Null, futility obeyed"
    header = ["Scenario"] + [f"Look {k + 1}" for k in range(len(sq.looks))] + [
        "Rejects", "Expected women analysed", "Maximum"]
    rows = []
    last = len(sq.looks) - 1
    for name, oc in sq.operating.items():
        value = oc.favourable if name == "prior" else oc.power
        se = "" if oc.method == "exact" else f" ± {oc.power_se:.4f}"
        # at the last look a trial succeeds or not: no futility stop there
        rows.append([names[name], *(f"{e:.3f} / {f:.3f}" if k < last else f"{e:.3f} / -"
                                    for k, (e, f) in enumerate(zip(oc.efficacy, oc.futility))),
                     f"{value:.4f}{se}", f"{oc.expected_n_total:.1f}", str(oc.max_n_total)])
    return Table(header, rows, (False,) + (True,) * (len(header) - 1))


# ----------------------------------------------------------------------- Markdown

_MD_ENTITY = re.compile(r"&(?=#?[A-Za-z0-9]+;)")
_MD_LINK = re.compile(r"\](?=[(\[:])")


def _md_text(text: str) -> str:
    """Text made inert in Markdown by backslash escapes, not HTML entities
    (the file stays readable as text: "P(a > b)", "Hwang & Shih"): no raw
    HTML or autolink (``<``), no character reference (``&`` before a name and
    ``;``), no link, image or link definition (every one needs ``](``,
    ``][`` or ``]:``), no line breaks."""
    text = str(text).replace("\\", "\\\\").replace("<", "\\<")
    text = _MD_LINK.sub(r"\\]", _MD_ENTITY.sub(r"\\&", text))
    return " ".join(text.splitlines())


def _md_cell(text: str) -> str:
    return _md_text(text).replace("|", "\\|").replace("\n", " ")


def to_markdown(doc: Document) -> str:
    """Markdown; a figure is an image link to ``<stem>.png`` beside the file."""
    out = [f"# {_md_text(doc.title)}", "", f"*{_md_text(doc.subtitle)}*", ""]
    for section in doc.sections:
        out += [f"## {section.title}", ""]
        for block in section.blocks:
            if isinstance(block, str):
                out.append(_md_text(block))
            elif isinstance(block, Table):
                align = [("---:" if i < len(block.numeric) and block.numeric[i] else "---")
                         for i in range(len(block.header))]
                out += ["| " + " | ".join(map(_md_cell, block.header)) + " |",
                        "|" + "|".join(align) + "|"]
                out += ["| " + " | ".join(
                    f"**{_md_cell(c)}**" if i in block.highlight and c else _md_cell(c)
                    for c in r) + " |" for i, r in enumerate(block.rows)]
            elif isinstance(block, Figure):
                out.append(f"![{block.caption}]({block.stem}.png)")
            elif isinstance(block, Bullets):
                out += [f"- {_md_text(item)}" for item in block.items]
            elif isinstance(block, Numbered):
                out += [f"{i}. {_md_text(item)}" for i, item in enumerate(block.items, 1)]
            elif isinstance(block, Code):
                fence = code_fence(block.text)
                out += [fence, block.text, fence]
            out.append("")
    return "\n".join(out)


def code_fence(text: str) -> str:
    """A Markdown code fence longer than any run of backticks in ``text``, so
    that nothing inside can close it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


# --------------------------------------------------------------------------- HTML

STYLE = """
body { font-family: "Helvetica Neue", Arial, sans-serif; font-size: 11pt; line-height: 1.45;
       color: #111; max-width: 50em; margin: 2em auto; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.25em; border-bottom: 1px solid #bbb; padding-bottom: 0.15em; margin-top: 1.6em; }
.subtitle { color: #555; margin-top: 0; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.5em; vertical-align: top; }
th { background: #f2f2f2; }
tr.answer td { background: #fff3c4; font-weight: bold; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1em 0; }
figure img { max-width: 100%; height: auto; }
figcaption { font-size: 0.9em; color: #444; }
pre { background: #f6f6f6; padding: 0.6em; overflow-x: auto; font-size: 0.85em;
      white-space: pre-wrap; }
code { font-size: 0.92em; }
@page { size: A4; margin: 18mm 16mm; }
@media print {
  body { max-width: none; margin: 0; font-size: 10pt; }
  h1, h2 { break-after: avoid; page-break-after: avoid; }
  .keep { break-inside: avoid; page-break-inside: avoid; }
  figure, table, pre, li, tr { break-inside: avoid; page-break-inside: avoid; }
  tr.answer td { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"""


def _inline(text: str) -> str:
    """Escaped text with `code` spans."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(str(text), quote=False))


def _table_html(block: Table, inline: bool = False) -> list[str]:
    """A table; ``inline``: its style in attributes (a fragment has no style sheet)."""
    cell = ' style="border:1px solid #ccc;padding:0.2em 0.5em;vertical-align:top' if inline else ""

    def attrs(i, head=False):
        num = i < len(block.numeric) and block.numeric[i]
        if not inline:
            return ' class="num"' if num else ""
        return cell + (";text-align:right" if num else ";text-align:left") + (
            ";background:#f2f2f2" if head else "") + '"'
    out = [("<table style=\"border-collapse:collapse;margin:0.8em 0;font-size:0.9em\">"
            if inline else "<table>") + "<thead><tr>" + "".join(
        f"<th{attrs(i, True)}>{_inline(h)}</th>" for i, h in enumerate(block.header))
        + "</tr></thead><tbody>"]
    out += [("<tr class=\"answer\">" if k in block.highlight and not inline else "<tr>")
            + "".join(f"<td{attrs(i)}>{_inline(c)}</td>" for i, c in enumerate(r))
            + "</tr>" for k, r in enumerate(block.rows)]
    out.append("</tbody></table>")
    return out


def _block_html(block, images: dict[str, bytes], inline: bool = False) -> list[str]:
    """One block of a section as HTML lines; figures embedded as data URIs."""
    if isinstance(block, str):
        return [f"<p>{_inline(block)}</p>"]
    if isinstance(block, Table):
        return _table_html(block, inline)
    if isinstance(block, Figure):
        data = base64.b64encode(images[block.stem]).decode("ascii")
        style = ' style="max-width:100%;height:auto"' if inline else ""
        return [f'<figure id="figure-{block.stem}"><img alt="{html.escape(block.caption)}" '
                f'src="data:image/png;base64,{data}"{style}><figcaption>'
                f"{_inline(block.caption)}</figcaption></figure>"]
    if isinstance(block, (Bullets, Numbered)):
        tag = "ul" if isinstance(block, Bullets) else "ol"
        return [f"<{tag}>" + "".join(f"<li>{_inline(i)}</li>" for i in block.items)
                + f"</{tag}>"]
    if isinstance(block, Code):
        return [f"<pre>{html.escape(block.text, quote=False)}</pre>"]
    return []


def to_html(doc: Document, images: dict[str, bytes]) -> str:
    """One self-contained HTML file: ``images`` (stem -> PNG bytes) embedded as
    data URIs, the style inline, nothing fetched from elsewhere."""
    out = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
           f"<title>{html.escape(doc.title)}</title>", f"<style>{STYLE}</style>", "</head>",
           "<body>", f"<h1>{_inline(doc.title)}</h1>",
           f'<p class="subtitle">{_inline(doc.subtitle)}</p>']
    for section in doc.sections:
        out.append(f'<section id="{section.id}">')
        # a heading is kept on the page of what follows it (print)
        out.append(f'<div class="keep"><h2>{_inline(section.title)}</h2>')
        for number, block in enumerate(section.blocks):
            if number == 1:
                out.append("</div>")
            out += _block_html(block, images)
        if len(section.blocks) <= 1:
            out.append("</div>")
        out.append("</section>")
    out += ["</body>", "</html>", ""]
    return "\n".join(out)


FRAGMENT_STYLE = ("font-family:'Helvetica Neue',Arial,sans-serif;line-height:1.45;"
                  "max-width:50em")


def to_html_fragment(doc: Document, images: dict[str, bytes], sections=None,
                     note: str | None = None, only_figures=(), headings: bool = False) -> str:
    """The document's ``sections`` (ids; None: all) as an HTML fragment for a
    notebook or the web page: no ``<html>`` or ``<head>``, every style in an
    attribute, figures as data URIs, no script and nothing fetched from
    elsewhere.  Of the sections in ``only_figures``, only the figures are
    shown; ``headings``: each section under its title (after the first)."""
    out = [f'<div class="simulator-result" style="{FRAGMENT_STYLE}">',
           f'<p style="font-size:1.2em;font-weight:bold;margin-bottom:0.2em">'
           f"{_inline(doc.title)}</p>"]
    for section in doc.sections:
        if sections is not None and section.id not in sections:
            continue
        if headings and section is not doc.sections[0]:
            out.append(f'<h3 id="section-{section.id}">{_inline(section.title)}</h3>')
        for block in section.blocks:
            if section.id not in only_figures or isinstance(block, Figure):
                out += _block_html(block, images, inline=True)
    if note:
        out.append(f'<p style="color:#555;font-size:0.9em">{_inline(note)}</p>')
    out.append("</div>")
    return "\n".join(out)


def markdown(result: PlanResult) -> str:
    """The Markdown report without figures (for callers that write no PNGs)."""
    return to_markdown(build(result))

