"""Run a scenario: its planner (chosen once, from its kind of design) under
the configured backend, jobs and cache."""
from __future__ import annotations

from ..errors import ScenarioError
from ..execution.backends import configured, scope
from ..results import PlanResult
from ..scenario.build import Scenario
from .planners import planner_for


def default_jobs(scenario: Scenario) -> int:
    """The command's jobs when ``--jobs`` is not given: every core (-1) for
    the patient-level model, whose runs take seconds to minutes and whose
    results are the same for any number of jobs; one otherwise, where a run
    takes less than starting the worker processes would (about a second)."""
    return -1 if scenario.patient is not None else 1


def run(scenario: Scenario, jobs: int = 1, *, backend: str | None = None,
        scheduler: str | None = None, cache=None) -> PlanResult:
    """Answer the scenario's question (see :meth:`~.planners.Planner.result`);
    an error found while running (bounds that do not fit together, no
    answer) names the file.

    ``jobs``: parallel workers for Monte Carlo chunks (``-1``: all cores).
    ``backend``: ``"loky"`` (processes on this machine, the default) or
    ``"dask"``: the dask.distributed cluster at ``scheduler``
    (``"tcp://host:8786"``), or a local cluster of ``jobs`` worker processes.
    ``cache``: a directory keeping every finished chunk, so that a run
    started again after an interruption reuses them.  Results are identical
    whatever the backend, jobs or cache."""
    with configured(backend, scheduler, jobs, cache) as workers, scope(scenario.digest):
        try:
            return planner_for(scenario, workers).result()
        except ScenarioError as err:
            if err.file is None and scenario.file is not None:
                raise err.in_file(scenario.source_of(err.field)) from None
            raise
