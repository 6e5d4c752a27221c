"""Plans and comparisons run in background threads, at most a few at once,
with their progress and their files kept in the server's temporary directory.

A job runs ``simulator.planning.run.run`` (or ``compare``) and renders its
outputs with ``simulator.report.outputs.files`` (or ``comparison_files``):
the files of ``simulate --out``, plus the scenario as YAML and the Markdown
report with its figures as one zip.  Progress comes from the library's own
reporting hook (``simulator.execution.progress``), as the command's bar
does.  A job that fails keeps its one-line error; nothing else is kept."""
from __future__ import annotations

import io
import itertools
import secrets
import shutil
import threading
import time
import zipfile
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..errors import ScenarioError
from ..execution import progress
from ..planning.compare import Comparison, compare
from ..planning.run import default_jobs, run
from ..report import comparison as compared, document, outputs
from ..scenario.build import Scenario

RUNNING = 2             # plans and comparisons computed at once; more are refused, politely
KEPT = 50               # finished jobs kept (their files); older ones are deleted
RESULT_SECTIONS = ("summary", "justification", "power-curve", "assurance", "feasibility",
                   "interim", "patient-level", "recruitment")


class Busy(Exception):
    """As many plans as the server runs at once are running already."""


class Cancelled(Exception):
    """The job was cancelled from its page."""


class Progress:
    """The reporter a job installs (``progress.reporting``): work scheduled and
    done in the current unit (simulated trials, sweep points or designs).

    It is also how a job is cancelled: the library calls ``scheduled`` and
    ``advance`` in the job's thread, before and after each chunk of simulated
    trials (or sweep point), so once ``cancel()`` is called the next of those
    raises ``Cancelled`` and the run unwinds (a chunk under way finishes
    first; an exact evaluation, which reports no chunks, runs to its end)."""

    def __init__(self):
        self.unit: str | None = None
        self.total = 0
        self.done = 0
        self.cancelled = threading.Event()

    def cancel(self) -> None:
        self.cancelled.set()

    def _check(self) -> None:
        if self.cancelled.is_set():
            raise Cancelled()

    def scheduled(self, amount: int, unit: str) -> None:
        self._check()
        if unit != self.unit:
            self.unit, self.total, self.done = unit, 0, 0
        self.total += amount

    def advance(self, amount: int) -> None:
        self.done += amount
        self._check()

    def close(self) -> None:
        pass


@dataclass
class Job:
    id: str
    kind: str                       # "plan" or "compare"
    title: str
    directory: Path
    design: object = None           # the form's Design (a plan), or the list (a comparison)
    state: str = "running"          # running | done | failed | cancelled
    progress: Progress = field(default_factory=Progress)
    started: float = field(default_factory=time.monotonic)
    seconds: float | None = None
    error: ScenarioError | None = None
    html: str = ""                  # the answer's sections, for the page
    files: tuple[str, ...] = ()     # names of the files to download

    def file(self, name: str) -> Path | None:
        return self.directory / name if name in self.files else None


def markdown_zip(made: dict[str, bytes]) -> bytes:
    """report.md and the PNG figures it shows, as one zip."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in ["report.md", *sorted(n for n in made if n.endswith(".png"))]:
            archive.writestr(name, made[name])
    return buffer.getvalue()


def scenarios_zip(candidates) -> bytes:
    """Each compared design's scenario as a YAML file (A-severe.yaml, ...), one zip:
    ``simulate --scenario`` of a file plans that design."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for c in candidates:
            archive.writestr(f"{c.letter}-{c.scenario.name}.yaml", c.scenario.to_yaml())
    return buffer.getvalue()


def _images(made: dict[str, bytes]) -> dict[str, bytes]:
    return {name.removesuffix(".png"): data for name, data in made.items()
            if name.endswith(".png")}


def plan(scenario: Scenario) -> tuple[dict[str, bytes], str]:
    """Run a scenario as ``simulate --scenario`` does; its files and the
    answer's sections as HTML (the report's own, with its figures)."""
    result = run(scenario, jobs=default_jobs(scenario))
    made = outputs.files(result)
    made["scenario.yaml"] = scenario.to_yaml().encode("utf-8")
    made["report-markdown.zip"] = markdown_zip(made)
    images = _images(made)
    html = document.to_html_fragment(document.build(result, images), images, RESULT_SECTIONS,
                                     headings=True)
    return made, html


def plan_comparison(candidates) -> tuple[dict[str, bytes], str]:
    """Compare designs as ``simulate compare`` does; its files and the
    paragraph, the designs side by side and their power curves as HTML."""
    comparison: Comparison = compare(candidates, jobs=min(default_jobs(c.scenario)
                                                          for c in candidates))
    made = outputs.comparison_files(comparison)
    made["report-markdown.zip"] = markdown_zip(made)
    made["scenarios.zip"] = scenarios_zip(candidates)
    images = _images(made)
    html = document.to_html_fragment(compared.build(comparison, images), images,
                                     ("summary", "side-by-side", "power-curves"), headings=True)
    return made, html


class Jobs:
    """The server's jobs: started in threads, at most ``running`` at once,
    the last ``kept`` kept with their files under ``root``."""

    def __init__(self, root: Path, running: int = RUNNING, kept: int = KEPT):
        self.root = Path(root)
        self.running = running
        self.kept = kept
        self._slots = threading.BoundedSemaphore(running)
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()
        self._numbers = itertools.count(1)
        self.stopped = False
        self.root.mkdir(parents=True, exist_ok=True)

    def stop(self) -> None:
        """The server stops: running jobs are cancelled, and one that still
        finishes writes nothing (the temporary directory is being removed)."""
        self.stopped = True
        with self._lock:
            for job in self._jobs.values():
                job.progress.cancel()

    def start(self, kind: str, title: str, work: Callable[[], tuple[dict, str]],
              design=None) -> Job:
        """Start ``work`` in a thread of its own; ``Busy`` when ``running``
        jobs are running already."""
        if not self._slots.acquire(blocking=False):
            raise Busy(f"{self.running} plans or comparisons are running already, the most this "
                       "page runs at once; wait until one has finished (or cancel one), then "
                       "run again")
        job_id = f"{next(self._numbers)}-{secrets.token_hex(6)}"
        job = Job(job_id, kind, title, self.root / job_id, design)
        with self._lock:
            self._jobs[job_id] = job
            self._forget_old()
        threading.Thread(target=self._run, args=(job, work), name=f"job {job_id}",
                         daemon=True).start()
        return job

    def _run(self, job: Job, work) -> None:
        try:
            with progress.reporting(job.progress):
                made, html = work()
            job.progress._check()           # cancelled after its last chunk: still cancelled
            if self.stopped:
                raise Cancelled()
            job.directory.mkdir()           # never its parents: gone once the server stopped
            for name, data in made.items():
                (job.directory / name).write_bytes(data)
            job.html, job.files = html, tuple(made)
            job.state = "done"
        except Cancelled:
            job.state = "cancelled"
        except ScenarioError as err:
            job.error, job.state = err, "failed"
        except Exception as err:            # noqa: BLE001 - the page must stay usable
            text = " ".join(str(err).split()) or type(err).__name__
            job.error, job.state = ScenarioError(f"the run failed: {text}"), "failed"
        finally:
            job.seconds = time.monotonic() - job.started
            self._slots.release()

    def _forget_old(self) -> None:
        finished = [j for j in self._jobs.values() if j.state != "running"]
        for job in finished[:max(0, len(self._jobs) - self.kept)]:
            del self._jobs[job.id]
            shutil.rmtree(job.directory, ignore_errors=True)

    def cancel(self, job_id: str) -> Job | None:
        """Ask a running job to stop (it stops at its next chunk)."""
        job = self.get(job_id)
        if job is not None and job.state == "running":
            job.progress.cancel()
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)
