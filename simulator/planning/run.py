"""Run a scenario: its planner (chosen once, from its kind of design) under
the configured backend, jobs and cache."""
from __future__ import annotations

from ..errors import ScenarioError
from ..execution.backends import configured, scope
from ..results import PlanResult
from ..scenario.build import Scenario
from .feasibility import check_detectable, extend
from .planners import planner_for


def run(scenario: Scenario, jobs: int = 1, *, backend: str | None = None,
        scheduler: str | None = None, cache=None, detectable: bool = False) -> PlanResult:
    """Answer the scenario's question (see :meth:`~.planners.Planner.result`);
    an error found while running (bounds that do not fit together, no
    answer) names the file.  A fixed design with a recruitment model also
    gets its recruitment time and capacity (``capacity``).

    ``detectable``: also the smallest treatment rate that reaches the target
    power at ``sample_size.n_control`` (or, without one, at the capacity of
    the recruitment within ``recruitment.target_months``): see
    :mod:`.feasibility`.

    ``jobs``: parallel workers for Monte Carlo chunks (``-1``: all cores).
    ``backend``: ``"loky"`` (processes on this machine, the default) or
    ``"dask"``: the dask.distributed cluster at ``scheduler``
    (``"tcp://host:8786"``), or a local cluster of ``jobs`` worker processes.
    ``cache``: a directory keeping every finished chunk, so that a run
    started again after an interruption reuses them.  Results are identical
    whatever the backend, jobs or cache."""
    if detectable:
        check_detectable(scenario)
    with configured(backend, scheduler, jobs, cache) as workers, scope(scenario.digest):
        try:
            planner = planner_for(scenario, workers)
            return extend(planner, planner.result(), detectable)
        except ScenarioError as err:
            if err.file is None and scenario.file is not None:
                raise err.in_file(scenario.source_of(err.field)) from None
            raise
