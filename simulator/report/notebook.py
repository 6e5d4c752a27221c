"""What a result shows of itself in a notebook: ``summary()`` (the text table
the command prints), ``_repr_html_`` (the headline, the paragraph and the
figures as one self-contained HTML fragment) and ``plot()`` (the figures, a
dict that displays them).  The result objects import this module when one of
those is called, as statsmodels' ``summary()`` imports its rendering."""
from __future__ import annotations

import base64
import html

from ..errors import ScenarioError
from . import comparison as compared, document, tables
from .figures import comparison_curves, figures, png_bytes

NOTEBOOK_DPI = 100      # the report's PNGs are 150 dpi, for print; a screen needs less


class Text(str):
    """Text that a notebook shows as it prints (not as a quoted string with
    ``\\n``); otherwise a ``str``."""

    def __repr__(self) -> str:
        return str(self)

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(str(self))


class Figures(dict):
    """The figures by name (``matplotlib.figure.Figure`` values): a dict, shown
    in a notebook as the figures themselves."""

    def _repr_html_(self) -> str:
        return "\n".join(_img(fig, name) for name, fig in self.items())


def _img(fig, alt: str) -> str:
    data = base64.b64encode(png_bytes(fig, dpi=NOTEBOOK_DPI)).decode("ascii")
    return (f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}" '
            'style="max-width:100%;height:auto">')


def summary(result) -> Text:
    """The text table ``simulate`` prints for ``result``."""
    return Text(tables.table(result))


def plot(result, names=()) -> Figures:
    """The report's figures of ``result``, by name (``power_curve`` first);
    ``names``: only those."""
    made = figures(result)
    unknown = [n for n in names if n not in made]
    if unknown:
        raise ScenarioError(f"has no figure {unknown[0]!r} for this result; it has "
                            f"{', '.join(made)}", field="plot")
    return Figures({n: f for n, f in made.items() if not names or n in names})


def html_fragment(result) -> str:
    """The headline, the justification paragraph and the figures of
    ``result`` (the report's first sections) as an HTML fragment."""
    made = figures(result)
    images = {stem: png_bytes(fig, dpi=NOTEBOOK_DPI) for stem, fig in made.items()}
    doc = document.build(result, images)
    extra = [document.Figure(stem, document.FIGURE_CAPTIONS[stem]) for stem in images
             if stem != "power_curve"]
    doc.sections.insert(3, document.Section("figures", "Figures", extra))
    return document.to_html_fragment(
        doc, images, ("summary", "justification", "power-curve", "figures"),
        note="summary() prints the full table, save(directory) writes the report, "
             "to_dict() is the JSON.", only_figures=("power-curve",))


def comparison_summary(comparison) -> Text:
    """The text table ``simulate compare`` prints."""
    return Text(compared.table(comparison))


def comparison_plot(comparison) -> Figures:
    """Every design's power curve on one figure."""
    return Figures(power_curves=comparison_curves(comparison))


def comparison_html(comparison) -> str:
    """The paragraph, the designs side by side and their power curves as an
    HTML fragment."""
    images = {"power_curves": png_bytes(comparison_curves(comparison), dpi=NOTEBOOK_DPI)}
    doc = compared.build(comparison, images)
    return document.to_html_fragment(doc, images, ("summary", "side-by-side", "power-curves"),
                                     note="summary() prints the table, to_dict() is the JSON.")
