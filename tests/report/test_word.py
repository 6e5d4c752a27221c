"""report.docx, read back with python-docx: the same text as report.md, block
for block, the same tables, every figure, and the same bytes every time."""
import dataclasses
import io
import re

import docx
import pytest

from simulator import load_scenario, run
from simulator.report import figures as F
from simulator.report.document import Bullets, Code, Figure, Numbered, Table, build, to_markdown
from simulator.report.justification import justification
from simulator.report.outputs import files
from simulator.planning.sweep import SweepAxis, run_with_sweep
from simulator.report.word import plain, to_docx


@pytest.fixture(scope="module", params=[
    "severe_prior", *(pytest.param(n, marks=pytest.mark.slow)
                      for n in ("severe_sweep", "severe_sequential"))])
def case(request):
    if request.param == "severe_sweep":
        result = run_with_sweep("severe", None, [SweepAxis("arms.treatment.rate", (0.5, 0.69))])
    else:
        result = run(load_scenario(request.param))
    images = {stem: F.png_bytes(fig) for stem, fig in F.figures(result).items()}
    return result, build(result, images), images


def expected_paragraphs(doc):
    """The document model's text, in order, as Word paragraphs hold it."""
    out = [plain(doc.title), plain(doc.subtitle)]
    for section in doc.sections:
        out.append(plain(section.title))
        for block in section.blocks:
            if isinstance(block, str):
                out.append(plain(block))
            elif isinstance(block, Figure):
                out += ["", plain(block.caption)]        # the picture's paragraph, its caption
            elif isinstance(block, (Bullets, Numbered)):
                out += [plain(item) for item in block.items]
            elif isinstance(block, Code):
                out.append(block.text)
    return out


@pytest.mark.slow
def test_the_word_report_has_report_md_text_block_for_block(case):
    result, doc, images = case
    word = docx.Document(io.BytesIO(to_docx(doc, images)))
    assert [p.text for p in word.paragraphs] == expected_paragraphs(doc)
    tables = [b for s in doc.sections for b in s.blocks if isinstance(b, Table)]
    assert len(word.tables) == len(tables)
    for table, model in zip(word.tables, tables):
        cells = [[cell.text for cell in row.cells] for row in table.rows]
        assert cells == [[plain(c) for c in row] for row in [model.header, *model.rows]]
        for i in model.highlight:           # the answer row: bold
            assert all(run.bold for cell in table.rows[i + 1].cells
                       for run in cell.paragraphs[0].runs)
    assert len(word.inline_shapes) == len(images)
    section = word.sections[0]
    assert (round(section.page_width.mm), round(section.page_height.mm)) == (210, 297)


def test_the_paragraph_in_word_is_the_one_in_report_md(case):
    result, doc, _ = case
    paragraph = justification(result)
    assert paragraph in [p.text for p in docx.Document(io.BytesIO(to_docx(doc, case[2]))).paragraphs]
    # the Markdown holds the same words (its escapes aside)
    md = to_markdown(doc)
    assert re.sub(r"\\(.)", r"\1", md).count(paragraph) == 1


@pytest.mark.slow
def test_the_word_report_is_written_and_reproducible(tmp_path):
    result = run(load_scenario("severe"))
    first, second = files(result)["report.docx"], files(result)["report.docx"]
    assert first == second
    written = result.save(tmp_path)
    assert "report.docx" in written
    assert (tmp_path / "report.docx").read_bytes() == first


def test_control_characters_do_not_stop_the_word_report():
    """Text a .docx cannot hold (C0 controls) is left out, not a crash that
    would lose every output.  Scenarios refuse such text; a scenario built
    around the checks (as a notebook could) is the way in."""
    result = run(load_scenario("severe"))
    scenario = dataclasses.replace(result.scenario, title="Severe\x0buRIF",
                                   endpoint="live\x01birth")
    result = dataclasses.replace(result, scenario=scenario)
    word = docx.Document(io.BytesIO(files(result)["report.docx"]))
    assert word.paragraphs[0].text == "Sample size: SevereuRIF"
