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

from . import SOFTWARE
from .citations import references
from .justification import justification, sweep_sentence
from .report import (assumptions, headline, interim_plan, assurance_lines, diff,
                     patient_lines, rate_rows)
from .results import PlanResult
from .sweep import sweep_table


@dataclass(frozen=True)
class Table:
    header: list[str]
    rows: list[list[str]]
    numeric: tuple[bool, ...] = ()      # right-aligned columns


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
}


def build(result: PlanResult, figures=()) -> Document:
    """The report's sections; ``figures``: the stems of the figures available."""
    s = result.scenario
    exact = result.method == "exact"
    figs = set(figures)

    def figure(stem):
        return [Figure(stem, FIGURE_CAPTIONS[stem])] if stem in figs else []

    sections = [
        Section("summary", "Summary", [Bullets(headline(result))]),
        Section("justification", "Sample-size justification", [justification(result)]),
        Section("assumptions", "Assumptions",
                [Table(["Item", "Value"], [list(row) for row in assumptions(result)])]),
        Section("power-curve", "Power curve", figure("power_curve") + [_curve_table(result)]
                + ([] if exact else ["Power is estimated by simulation; MC SE is its Monte "
                                     "Carlo standard error, and the band of the figure is the "
                                     "pointwise 95% interval."])),
    ]
    if result.assurance is not None:
        sections.append(Section("assurance", "Priors and assurance", [
            Bullets([f"{k}: {v}" for k, v in rate_rows(result)] + assurance_lines(result))]))
    if result.sequential is not None:
        sections.append(Section("interim", "Interim analyses", [
            interim_plan(result) + ".", *figure("boundaries"), _looks_table(result),
            "Stopping probabilities at each look (efficacy / futility); the null has both "
            "arms at the control rate.", _operating_table(result)]))
    if result.patient is not None:
        sections.append(Section("patient-level", "Patient-level simulation",
                                [Code("\n".join(patient_lines(result)))]))
    if "recruitment" in figs:
        sections.append(Section("recruitment", "Recruitment", figure("recruitment")))
    if result.sweep is not None:
        sections.append(Section("sensitivity", "Sensitivity analysis", [
            sweep_sentence(result), *figure("sensitivity"), _sweep_table(result)]))
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
    return "" if v is None else f"{v:.4g}" if isinstance(v, float) else str(v)


def _sweep_table(result: PlanResult) -> Table:
    """The sweep table without its empty columns (assurance ones without
    priors, errors where every point has an answer); sweep.csv has them all."""
    header, *rows = sweep_table(result.sweep)
    keep = [i for i in range(len(header)) if any(r[i] is not None for r in rows)]
    return Table([header[i] for i in keep], [[_cell(r[i]) for i in keep] for r in rows],
                 tuple(not isinstance(rows[0][i], str) for i in keep))


def _curve_table(result: PlanResult) -> Table:
    prior = result.assurance is not None
    exact, a_exact = result.method == "exact", prior and result.assurance.method == "exact"
    header = ["Control", "Treatment", "Total", "Power", "MC SE"] + (
        ["Assurance", "MC SE"] if prior else [])
    rows = []
    for p in result.power_curve:
        row = [str(p.n_control), str(p.n_treatment), str(p.n_total), f"{p.power:.4f}",
               "exact" if exact else f"{p.power_se:.4f}"]
        if prior:
            row += [f"{p.assurance:.4f}", "exact" if a_exact else f"{p.assurance_se:.4f}"]
        rows.append(row)
    return Table(header, rows, (True,) * len(header))


def _looks_table(result: PlanResult) -> Table:
    sq = result.sequential
    bayes = sq.statistic == "bayesian"
    header = ["Look", "Information", "Control", "Treatment"] + (
        ["Posterior >=", "Predictive <"] if bayes else ["Efficacy z", "Futility z", "Alpha spent"]
    ) + ["Efficacy difference (points)", "Futility difference (points)"]
    rows = []
    for row in sq.looks:
        bounds = [row["efficacy_printed"] or "-", row["futility_printed"] or "-"]
        if not bayes:
            bounds.append(f"{row['alpha_spent']:.5f}")
        rows.append([str(row["look"]), f"{row['information']:.3f}",
                     str(row["n_per_arm"]["control"]), str(row["n_per_arm"]["treatment"]),
                     *bounds, diff(row["efficacy_difference"]),
                     diff(row["futility_difference"])])
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
    for name, oc in sq.operating.items():
        value = oc["favourable"] if name == "prior" else oc["power"]
        se = "" if oc["method"] == "exact" else f" ± {oc['power_se']:.4f}"
        rows.append([names[name], *(f"{e:.3f} / {f:.3f}" for e, f in
                                    zip(oc["efficacy"], oc["futility"])),
                     f"{value:.4f}{se}", f"{oc['expected_n_total']:.1f}", str(oc["max_n_total"])])
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
                out += ["| " + " | ".join(map(_md_cell, r)) + " |" for r in block.rows]
            elif isinstance(block, Figure):
                out.append(f"![{block.caption}]({block.stem}.png)")
            elif isinstance(block, Bullets):
                out += [f"- {_md_text(item)}" for item in block.items]
            elif isinstance(block, Numbered):
                out += [f"{i}. {_md_text(item)}" for i, item in enumerate(block.items, 1)]
            elif isinstance(block, Code):
                out += ["```", block.text, "```"]
            out.append("")
    return "\n".join(out)


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
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1em 0; }
figure img { max-width: 100%; height: auto; }
figcaption { font-size: 0.9em; color: #444; }
pre { background: #f6f6f6; padding: 0.6em; overflow-x: auto; font-size: 0.85em;
      white-space: pre-wrap; }
code { font-size: 0.92em; }
@page { margin: 18mm; }
@media print {
  body { max-width: none; margin: 0; font-size: 10pt; }
  h2 { break-after: avoid; }
  figure, table, pre, li { break-inside: avoid; }
}
"""


def _inline(text: str) -> str:
    """Escaped text with `code` spans."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(str(text), quote=False))


def to_html(doc: Document, images: dict[str, bytes]) -> str:
    """One self-contained HTML file: ``images`` (stem -> PNG bytes) embedded as
    data URIs, the style inline, nothing fetched from elsewhere."""
    out = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
           f"<title>{html.escape(doc.title)}</title>", f"<style>{STYLE}</style>", "</head>",
           "<body>", f"<h1>{_inline(doc.title)}</h1>",
           f'<p class="subtitle">{_inline(doc.subtitle)}</p>']
    for section in doc.sections:
        out.append(f'<section id="{section.id}">')
        out.append(f"<h2>{_inline(section.title)}</h2>")
        for block in section.blocks:
            if isinstance(block, str):
                out.append(f"<p>{_inline(block)}</p>")
            elif isinstance(block, Table):
                def cls(i):
                    return ' class="num"' if i < len(block.numeric) and block.numeric[i] else ""
                out.append("<table><thead><tr>" + "".join(
                    f"<th{cls(i)}>{_inline(h)}</th>" for i, h in enumerate(block.header))
                    + "</tr></thead><tbody>")
                out += ["<tr>" + "".join(f"<td{cls(i)}>{_inline(c)}</td>" for i, c in enumerate(r))
                        + "</tr>" for r in block.rows]
                out.append("</tbody></table>")
            elif isinstance(block, Figure):
                data = base64.b64encode(images[block.stem]).decode("ascii")
                out.append(f'<figure id="figure-{block.stem}"><img alt="{html.escape(block.caption)}" '
                           f'src="data:image/png;base64,{data}"><figcaption>'
                           f"{_inline(block.caption)}</figcaption></figure>")
            elif isinstance(block, (Bullets, Numbered)):
                tag = "ul" if isinstance(block, Bullets) else "ol"
                out.append(f"<{tag}>" + "".join(f"<li>{_inline(i)}</li>" for i in block.items)
                           + f"</{tag}>")
            elif isinstance(block, Code):
                out.append(f"<pre>{html.escape(block.text, quote=False)}</pre>")
        out.append("</section>")
    out += ["</body>", "</html>", ""]
    return "\n".join(out)


def markdown(result: PlanResult) -> str:
    """The Markdown report without figures (for callers that write no PNGs)."""
    return to_markdown(build(result))

