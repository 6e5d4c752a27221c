"""Everything a run writes to an output directory, and the atomic writer.

``files(result)`` renders every output in memory (nothing touches the disk);
``write(result, out_dir)`` stages each in a temporary file inside ``out_dir``
and renames them into place, so that a reader never sees a half-written file
and a failure while rendering or staging leaves the previous outputs
untouched.  The names written are recorded in ``.simulate-outputs``; outputs
of the previous run recorded there that this run does not produce (a sweep's
table, a sequential design's figure) are removed, so the directory never
mixes two runs, and no file the tool did not write is ever removed: the
manifest keeps each output's SHA-256, and a file that no longer matches it
is the user's."""
from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import tempfile
from pathlib import Path
from typing import Callable

from . import document, tables as report, word
from ..results import PlanResult

MANIFEST = ".simulate-outputs"
# every file name a run can write (figures: <stem>.png)
KNOWN = ("results.json", "report.html", "report.md", "report.docx", "power_curve.csv",
         "assumptions.csv", "looks.csv", "sweep.csv", "power_curve.png", "sensitivity.png",
         "boundaries.png", "recruitment.png", "feasibility.png", "comparison.csv",
         "power_curves.png")


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


def comparison_files(comparison) -> dict[str, bytes]:
    """File name -> content of every output of a comparison: the report with
    every design's power curve on one figure, results.json (a ``designs``
    list of single-run results) and comparison.csv."""
    from . import comparison as compared, figures as figs
    images = {"power_curves": figs.png_bytes(figs.comparison_curves(comparison))}
    doc = compared.build(comparison, images)
    texts = {"results.json": compared.to_json(comparison),
             "report.html": document.to_html(doc, images),
             "report.md": document.to_markdown(doc),
             "comparison.csv": compared.to_csv(comparison)}
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


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _previous(out_dir: Path) -> dict[str, str | None]:
    """The outputs the last run recorded, with the SHA-256 of what it wrote
    (None in a manifest from before hashes were kept)."""
    try:
        lines = (out_dir / MANIFEST).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return {}
    out = {}
    for line in lines:
        name, _, digest = line.partition(" ")
        if name:
            out[name] = digest or None
    return out


def _unchanged(path: Path, digest: str | None) -> bool:
    """Is ``path`` a regular file still holding what this tool wrote there?"""
    try:
        if digest is None or not path.is_file() or path.is_symlink():
            return False
        return _digest(path.read_bytes()) == digest
    except OSError:
        return False


def write(result, out_dir: str | os.PathLike,
          on_commit: Callable[[], None] | None = None) -> list[str]:
    """Write every output of ``result`` (a PlanResult, or a Comparison of
    several) into ``out_dir`` (created if needed), atomically
    file by file; returns the names written.  Raises OSError.

    ``on_commit`` is called, with SIGINT and SIGTERM held, just before the
    outputs are renamed into place: from then on the run has succeeded (the
    command line ignores a late signal instead of failing a finished run).
    Outputs of the previous run that this run does not write are removed only
    if they still hold what the tool wrote (their hash is in the manifest): a
    file the user has put there since is kept.  A directory this call created
    is removed again if writing fails."""
    out_dir = Path(out_dir)
    contents = files(result) if isinstance(result, PlanResult) else comparison_files(result)
    previous = _previous(out_dir)
    contents[MANIFEST] = "".join(f"{name} {_digest(data)}\n"
                                 for name, data in contents.items()).encode("utf-8")
    umask = os.umask(0)
    os.umask(umask)
    staged = {}
    created = not out_dir.exists()
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        for name, data in contents.items():
            fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=f".{name}.", suffix=".tmp")
            staged[name] = tmp
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.chmod(tmp, 0o666 & ~umask)
        with _signals_held():       # an interrupt lands before or after the renames
            if on_commit is not None:
                on_commit()
            for name, tmp in staged.items():
                os.replace(tmp, out_dir / name)
            staged.clear()
            for name in set(previous) & set(KNOWN) - set(contents):
                if _unchanged(out_dir / name, previous[name]):
                    (out_dir / name).unlink(missing_ok=True)
    except BaseException:
        for tmp in staged.values():
            Path(tmp).unlink(missing_ok=True)
        if created:
            with contextlib.suppress(OSError):
                out_dir.rmdir()             # only if empty: nothing of ours is left
        raise
    return [name for name in contents if name != MANIFEST]
