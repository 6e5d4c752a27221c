"""The report as a Word file (``report.docx``), from the same document model
as report.md and report.html, with python-docx (a well-kept library for
.docx; writing Office Open XML by hand would be the alternative).

The text is report.md's, block for block, without the Markdown markup: a
`code span` is set in a monospaced font instead of between backticks, the
highlighted row of a table is bold and shaded.  Figures are the same PNGs,
sized to the A4 text width.  The file is reproducible: its creation time is
fixed and the zip entries carry a fixed date, so the same results give the
same bytes.
"""
from __future__ import annotations

import datetime
import io
import re
import zipfile

from .document import Bullets, Code, Document, Figure, Numbered, Table

FIXED_TIME = datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc)
A4 = (210, 297)             # mm
MARGIN = 18                 # mm
SHADE = "FFF3C4"            # the highlighted row, as in report.html


# characters XML 1.0 (hence a .docx) cannot hold: C0 controls but tab, newline, return
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def plain(text: str) -> str:
    """A text block without its Markdown markup (the `code` backticks) and
    without the control characters a Word file cannot hold."""
    return _NOT_XML.sub("", re.sub(r"`([^`]+)`", r"\1", str(text)))


def to_docx(doc: Document, images: dict[str, bytes]) -> bytes:
    """The .docx file's bytes; ``images``: figure stem -> PNG bytes."""
    import docx
    from docx.shared import Mm, Pt

    word = docx.Document()
    page = word.sections[0]
    page.page_width, page.page_height = Mm(A4[0]), Mm(A4[1])
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(page, side, Mm(MARGIN))
    width = Mm(A4[0] - 2 * MARGIN)
    style = word.styles["Normal"]
    style.font.name, style.font.size = "Arial", Pt(10.5)
    props = word.core_properties
    props.title, props.author, props.last_modified_by = plain(doc.title), "", ""
    props.created = props.modified = FIXED_TIME.replace(tzinfo=None)
    props.revision = 1

    word.add_heading(plain(doc.title), level=0)
    word.add_paragraph(plain(doc.subtitle), style="Subtitle")
    for section in doc.sections:
        word.add_heading(plain(section.title), level=1).paragraph_format.keep_with_next = True
        for block in section.blocks:
            if isinstance(block, str):
                _runs(word.add_paragraph(), block)
            elif isinstance(block, Table):
                _table(word, block)
            elif isinstance(block, Figure):
                word.add_picture(io.BytesIO(images[block.stem]), width=width)
                word.paragraphs[-1].paragraph_format.keep_with_next = True
                word.add_paragraph(plain(block.caption), style="Caption")
            elif isinstance(block, (Bullets, Numbered)):
                kind = "List Bullet" if isinstance(block, Bullets) else "List Number"
                for item in block.items:
                    _runs(word.add_paragraph(style=kind), item)
            elif isinstance(block, Code):
                run = word.add_paragraph().add_run(_NOT_XML.sub("", block.text))
                run.font.name, run.font.size = "Courier New", Pt(8.5)
    buf = io.BytesIO()
    word.save(buf)
    return _fixed_dates(buf.getvalue())


def _runs(paragraph, text: str) -> None:
    """The text as runs: `code` spans in a monospaced font, the rest plain."""
    for i, part in enumerate(re.split(r"`([^`]+)`", _NOT_XML.sub("", str(text)))):
        if part:
            run = paragraph.add_run(part)
            if i % 2:
                run.font.name = "Courier New"


def _table(word, block: Table) -> None:
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Pt

    table = word.add_table(rows=1 + len(block.rows), cols=len(block.header))
    table.style = "Table Grid"
    # row by row: table.cell(r, c) walks every cell of the table each time
    for r, (row, values) in enumerate(zip(table.rows, [block.header, *block.rows])):
        for c, (cell, value) in enumerate(zip(row.cells, values)):
            paragraph = cell.paragraphs[0]
            _runs(paragraph, value)
            if c < len(block.numeric) and block.numeric[c]:
                paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT
            bold = r == 0 or (r - 1) in block.highlight
            for run in paragraph.runs:
                run.bold = bold
                run.font.size = Pt(8 if len(block.header) > 6 else 9)
            if r > 0 and (r - 1) in block.highlight:
                shading = OxmlElement("w:shd")
                shading.set(qn("w:val"), "clear")
                shading.set(qn("w:fill"), SHADE)
                cell._tc.get_or_add_tcPr().append(shading)


def _fixed_dates(blob: bytes) -> bytes:
    """The zip rewritten with every entry dated 1980-01-01, in the same order:
    the same document gives the same bytes."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(blob)) as source, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = info.external_attr
            target.writestr(fixed, source.read(info.filename))
    return out.getvalue()
