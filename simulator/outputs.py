"""Everything a run writes to an output directory, and the atomic writer.

``files(result)`` renders every output in memory (nothing touches the disk);
``write(result, out_dir)`` stages each in a temporary file inside ``out_dir``
and renames them into place, so that a reader never sees a half-written file
and a failure while rendering or staging leaves the previous outputs
untouched.  The names written are recorded in ``.simulate-outputs``; outputs
of the previous run recorded there that this run does not produce (a sweep's
table, a sequential design's figure) are removed, so the directory never
mixes two runs, and no file the tool did not write is ever removed."""
from __future__ import annotations

import contextlib
import os
import signal
import tempfile
from pathlib import Path

from . import document, report, word
from .results import PlanResult

MANIFEST = ".simulate-outputs"
# every file name a run can write (figures: <stem>.png)
KNOWN = ("results.json", "report.html", "report.md", "report.docx", "power_curve.csv",
         "assumptions.csv", "looks.csv", "sweep.csv", "power_curve.png", "sensitivity.png",
         "boundaries.png", "recruitment.png")


def files(result: PlanResult) -> dict[str, bytes]:
    """File name -> content of every output of ``result``."""
    from . import figures as figs       # (matplotlib is imported only when a report is made)
    images = {stem: figs.png_bytes(fig) for stem, fig in figs.figures(result).items()}
    doc = document.build(result, images)
    texts = {"results.json": report.to_json(result),
             "report.html": document.to_html(doc, images),
             "report.md": document.to_markdown(doc),
             "power_curve.csv": report.curve_csv(result),
             "assumptions.csv": report.assumptions_csv(result)}
    if result.sequential is not None:
        texts["looks.csv"] = report.looks_csv(result)
    if result.sweep is not None:
        texts["sweep.csv"] = report.sweep_csv(result)
    out = {name: text.encode("utf-8") for name, text in texts.items()}
    out["report.docx"] = word.to_docx(doc, images)
    out.update({f"{stem}.png": png for stem, png in images.items()})
    return out


@contextlib.contextmanager
def _signals_held():
    """Hold SIGINT and SIGTERM (delivered on exit from the block), where the
    platform and thread allow it."""
    held = {signal.SIGINT, signal.SIGTERM}
    try:
        old = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    except (AttributeError, ValueError, OSError):
        yield
        return
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def write(result: PlanResult, out_dir: str | os.PathLike) -> list[str]:
    """Write every output into ``out_dir`` (created if needed), atomically
    file by file; returns the names written.  Raises OSError."""
    out_dir = Path(out_dir)
    contents = files(result)
    try:
        previous = set((out_dir / MANIFEST).read_text(encoding="utf-8").split())
    except OSError:
        previous = set()
    contents[MANIFEST] = "".join(f"{name}\n" for name in contents).encode("utf-8")
    umask = os.umask(0)
    os.umask(umask)
    staged = {}
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        for name, data in contents.items():
            fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=f".{name}.", suffix=".tmp")
            staged[name] = tmp
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.chmod(tmp, 0o666 & ~umask)
        with _signals_held():       # an interrupt lands before or after the renames
            for name, tmp in staged.items():
                os.replace(tmp, out_dir / name)
            for name in previous & set(KNOWN) - set(contents):
                (out_dir / name).unlink(missing_ok=True)
    finally:
        for tmp in staged.values():
            Path(tmp).unlink(missing_ok=True)
    return [name for name in contents if name != MANIFEST]
