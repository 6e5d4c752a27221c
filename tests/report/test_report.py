"""The report as a reader sees it: its sections, the answer's row highlighted,
the power table trimmed to the answer's neighbourhood and a coarse grid,
sweep tables in words, Markdown that reads as text (no HTML entities) and
cannot be broken out of, A4 print rules.  (The paragraph's numbers are
checked in test_justification.py.)"""
import re

import pytest

from simulator import load_scenario, run, sensitivity
from simulator.report.document import (COARSE_ROWS, NEIGHBOURHOOD, Table, build, code_fence, markdown,
                                to_html)
from simulator.report.tables import curve_csv, table

BAYES = {"analysis.test": "bayesian", "analysis.alpha": 0.025, "analysis.sided": "one",
         "arms.treatment.rate": 0.5}


def test_markdown_report_has_its_sections_and_the_answer_in_bold_once():
    result = run(load_scenario("severe"))
    md = markdown(result)
    for section in ("## Summary", "## Sample-size justification", "## Details",
                    "## Assumptions", "## Power curve"):
        assert section in md
    assert md.index("## Sample-size justification") < md.index("## Details") < md.index(
        "## Assumptions")
    assert md.count("| **24** | **24** | **48** | **0.9200** |") == 1
    assert "MC SE" not in md                      # exact: no standard-error column


def test_the_power_table_is_the_answers_neighbourhood_and_a_coarse_grid():
    result = run(load_scenario("overall_prior"))
    answers = {result.reported.n_control, result.sample_size.answer.n_control,
               result.assurance.sample_size.answer.n_control}
    (curve,) = [b for s in build(result).sections if s.id == "power-curve" for b in s.blocks
                if isinstance(b, Table)]
    shown = [int(row[0].replace(",", "")) for row in curve.rows]
    for m in answers:
        for k in range(m - NEIGHBOURHOOD, m + NEIGHBOURHOOD + 1):
            if any(p.n_control == k for p in result.power_curve):
                assert k in shown
    near = {k for m in answers for k in range(m - NEIGHBOURHOOD, m + NEIGHBOURHOOD + 1)}
    assert len([k for k in shown if k not in near]) <= COARSE_ROWS
    assert len(shown) < len(result.power_curve)
    # the CSV keeps every size evaluated
    assert len(curve_csv(result).splitlines()) == len(result.power_curve) + 1
    assert [shown[i] for i in curve.highlight] == [result.reported.n_control]


def test_markdown_reads_as_text_and_user_text_stays_inert():
    hostile = "IVIg <script>alert(1)</script> &amp; co ![x](http://e.example/a.png) ```"
    result = run(load_scenario("severe", {**BAYES, "title": hostile}))
    md = markdown(result)
    text, scenario = md.split("## Reproducibility")      # the scenario is a literal code block
    assert ">= 0.9" in text                      # the rule, not "&gt;="
    assert not re.search(r"&(gt|lt);", text)
    assert not re.search(r"(?<!\\)&amp;", text)          # the user's "&amp;" made literal
    assert not re.search(r"(?<!\\)<script>", text) and "\\<script>" in text
    assert not re.search(r"(?<!\\)\]\(", text) and "\\](http" in text
    # the scenario in the Reproducibility section is fenced by more backticks than it holds
    fence = code_fence(hostile)
    assert fence == "````" and f"{fence}\n" in md
    html = to_html(build(result), {})
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_html_prints_on_a4_with_headings_kept_and_the_answer_row_marked():
    result = run(load_scenario("severe"))
    html = to_html(build(result), {})
    assert "@page { size: A4;" in html
    assert ".keep { break-inside: avoid" in html
    assert html.count('<div class="keep"><h2>') == len(build(result).sections)
    assert html.count('<tr class="answer">') == 1


def test_sweep_tables_have_headers_in_words_and_rates_in_percent():
    result = sensitivity(load_scenario("severe"), {"arms.treatment.rate": [0.5, 0.69]})
    (sweep,) = [b for s in build(result).sections if s.id == "sensitivity" for b in s.blocks
                if isinstance(b, Table)]
    assert sweep.header[0] == "IVIg rate"
    assert not any("_" in h for h in sweep.header), sweep.header
    assert [row[0] for row in sweep.rows] == ["50.0%", "69.0%"]


@pytest.mark.slow
def test_the_table_uses_thousands_separators_and_percentages_for_rates():
    text = table(run(load_scenario("rct_evidence")))
    assert "1,025 Standard care + 1,025 IVIg = 2,050 women" in text
    assert "Standard care rate" in text and "34.0% (observed: 32/94)" in text
    assert re.search(r"at a control rate of 34\.0%", text)
    assert not re.search(r"\b\d{4,} (?:women|per|Standard|IVIg|\+|=)", text), text
