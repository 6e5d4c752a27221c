"""Progress of long runs, for a bar on stderr.

The library never prints.  Every parallel evaluation (``execution.run_tasks``)
goes through :func:`reporter_for_tasks`, which tells the reporter installed by :func:`reporting`
(none by default) how much work it has scheduled and finished: simulated
trials (one per trial per size), or the points of a sensitivity sweep.  The
total grows as a search discovers the sizes it needs, so the bar counts work
done and its rate rather than promising an end it cannot know.

Only the outermost evaluation reports: work run inside a task (a sweep
point's own simulations, in-process with one job or in a worker process) is
silent, so the counts never mix units.
"""
from __future__ import annotations

import contextlib
import sys
from contextvars import ContextVar
from typing import Sequence

_reporter: ContextVar = ContextVar("simulator_progress", default=None)


class Bar:
    """A tqdm bar on ``stream`` that appears only once a run has taken
    ``delay`` seconds, one line per unit of work (trials, then sweep points)."""

    def __init__(self, stream=None, delay: float = 1.0):
        self.stream = sys.stderr if stream is None else stream
        self.delay = delay
        self._bar = None
        self.done: dict[str, int] = {}      # work finished, by unit (what the bar counted)

    def scheduled(self, amount: int, unit: str) -> None:
        from tqdm import tqdm
        if self._bar is not None and self._bar.unit != unit:
            self.close()
        if self._bar is None:
            self._bar = tqdm(total=0, unit=unit, unit_scale=unit == "trials", delay=self.delay,
                             file=self.stream, dynamic_ncols=True, leave=False,
                             desc="simulating" if unit == "trials" else "sweep")
        self._bar.total += amount

    def advance(self, amount: int) -> None:
        self._bar.update(amount)
        self.done[self._bar.unit] = self.done.get(self._bar.unit, 0) + amount

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


@contextlib.contextmanager
def reporting(bar: Bar | None):
    """Report the progress of everything run inside the block to ``bar``
    (None: nothing)."""
    token = _reporter.set(bar)
    try:
        yield bar
    finally:
        _reporter.reset(token)
        if bar is not None:
            bar.close()


@contextlib.contextmanager
def reporter_for_tasks(work: Sequence[int], unit: str = "trials"):
    """Around one parallel evaluation of tasks doing ``work[i]`` each: tells
    the reporter (if any) the work scheduled, and yields ``advance(amount)``
    to report a task's work done.  Evaluations run inside the block (a task's
    own, in-process) stay silent."""
    reporter = _reporter.get()
    if reporter is None:
        yield lambda amount: None
        return
    reporter.scheduled(int(sum(work)), unit)
    token = _reporter.set(None)
    try:
        yield lambda amount: reporter.advance(int(amount))
    finally:
        _reporter.reset(token)
