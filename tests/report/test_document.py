"""The written report: every section present for the features a run has,
figures embedded in the HTML (no external resources) and beside the Markdown,
and the references naming the methods used."""
import base64
import json
import re
from html import unescape
from html.parser import HTMLParser

import pytest

from simulator import load_scenario, run, sensitivity
from simulator.citations import WORKS
from simulator.report.outputs import files, write

PNG = b"\x89PNG\r\n\x1a\n"
ALWAYS = ["summary", "justification", "details", "assumptions", "power-curve", "references",
          "reproducibility"]


class Structure(HTMLParser):
    """Sections, images and every attribute that could load something."""

    def __init__(self):
        super().__init__()
        self.sections, self.images, self.loads, self.tags = [], [], [], []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append(tag)
        if tag == "section":
            self.sections.append(a["id"])
        if tag == "img":
            self.images.append(a["src"])
        for name in ("src", "href", "srcset", "data", "poster", "background"):
            if name in a and tag != "img":
                self.loads.append((tag, name, a[name]))


def parse(html):
    s = Structure()
    s.feed(html)
    return s


CASES = {
    "severe": ({}, None, []),
    "severe_sweep": ({}, {"arms.treatment.rate": [0.5, 0.69], "arms.control.rate": [0.2, 0.3]},
                     ["sensitivity"]),
    "severe_prior": ({}, None, ["assurance"]),
    "severe_sequential": ({}, None, ["interim", "recruitment"]),
    "severe_capacity": ({"recruitment.per_centre_month": 7 / 12, "centres.number": 4,
                         "recruitment.target_months": 36}, None, ["feasibility", "recruitment"]),
    "multicentre": ({"simulation.n_sims": 400, "sample_size.n_control": 60}, None,
                    ["patient-level", "recruitment"]),
}
FIGURES = {"sensitivity": "sensitivity", "interim": "boundaries", "recruitment": "recruitment"}


@pytest.fixture(scope="module", params=[
    n if n == "severe" else pytest.param(n, marks=pytest.mark.slow) for n in CASES])
def case(request):
    overrides, grid, extra = CASES[request.param]
    name = request.param.replace("_sweep", "").replace("_capacity", "")
    scenario = load_scenario(name, overrides)
    result = sensitivity(scenario, grid) if grid else run(scenario)
    return result, files(result), extra


@pytest.mark.slow
def test_html_has_every_section_embedded_figures_and_nothing_external(case):
    result, out, extra = case
    html = out["report.html"].decode()
    s = parse(html)
    assert s.sections == [x for x in ["summary", "justification", "details", "assumptions",
                                      "power-curve",
                                      "assurance", "feasibility", "interim", "patient-level",
                                      "recruitment",
                                      "sensitivity", "references", "reproducibility"]
                          if x in ALWAYS + extra]
    expected = ["power_curve"] + [FIGURES[x] for x in extra if x in FIGURES]
    assert len(s.images) == len(expected)
    for src in s.images:            # each image is a PNG inside the file
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1]).startswith(PNG)
    for stem in expected:
        assert f'id="figure-{stem}"' in html
        assert out[f"{stem}.png"].startswith(PNG)
    assert s.loads == []            # no link, script, iframe or object loads anything
    assert not {"link", "script", "iframe", "object", "embed"} & set(s.tags)
    assert not re.search(r"url\(|@import|https?://", html.split("<body>")[0])   # the style
    assert "@media print" in html


def test_markdown_links_the_png_files_written_beside_it(case):
    result, out, extra = case
    md = out["report.md"].decode()
    linked = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert linked and all(name in out for name in linked)
    assert sorted(linked) == sorted(n for n in out if n.endswith(".png"))
    for title in ("## Summary", "## Sample-size justification", "## Assumptions",
                  "## Power curve", "## References", "## Reproducibility"):
        assert title in md


def test_results_json_and_csvs_are_the_run_and_the_paragraph_is_the_same_in_both(case):
    result, out, extra = case
    doc = json.loads(out["results.json"])
    assert doc == json.loads(json.dumps(result.to_dict()))
    paragraph = result.justification()
    assert paragraph in out["report.md"].decode()
    assert out["power_curve.csv"].decode().count("\n") == len(result.power_curve) + 1
    assert ("looks.csv" in out) == (result.sequential is not None)
    assert ("sweep.csv" in out) == (result.sweep is not None)


def test_references_cite_the_source_and_each_method_used(case):
    result, out, extra = case
    refs = json.loads(out["results.json"])["references"]
    assert refs[0].startswith("Peero EK")
    s = result.scenario
    test = {"fisher": "Fisher 1935", "z_pooled": "Fleiss et al. 2003"}[s.analysis.test]
    assert WORKS[test] in refs
    assert (WORKS["O'Hagan and Stevens 2001"] in refs) == (result.assurance is not None)
    sequential = result.sequential is not None and len(result.sequential.looks) > 1
    assert (WORKS["Lan and DeMets 1983"] in refs) == sequential
    assert (WORKS["O'Brien and Fleming 1979"] in refs) == sequential
    items = re.findall(r"<li>(.*?)</li>", out["report.html"].decode().split('id="references"')[1])
    assert [unescape(x) for x in items] == refs


@pytest.mark.slow
def test_write_replaces_outputs_of_an_earlier_run_and_nothing_else(tmp_path):
    """A run without a sweep removes the sweep table and figure that the
    previous run wrote, and never a file of the same name it did not write."""
    scenario = load_scenario("severe")
    write(sensitivity(scenario, {"arms.treatment.rate": [0.6, 0.69]}), tmp_path)
    assert (tmp_path / "sweep.csv").exists() and (tmp_path / "sensitivity.png").exists()
    (tmp_path / "notes.txt").write_text("mine")
    names = write(run(scenario), tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        names + ["notes.txt", ".simulate-outputs"])
    mine = tmp_path / "own"
    mine.mkdir()
    (mine / "sweep.csv").write_text("the user's own table")
    write(run(scenario), mine)
    assert (mine / "sweep.csv").read_text() == "the user's own table"
