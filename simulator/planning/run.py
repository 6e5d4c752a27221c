"""Run a scenario: its planner (chosen once, from its kind of design) under
the configured backend, jobs and cache."""
from __future__ import annotations

from ..errors import ScenarioError
from ..execution.backends import configured, scope
from ..results import PlanResult
from ..scenario.build import Scenario
from .feasibility import check_detectable, extend
from .planners import planner_for


def default_jobs(scenario: Scenario) -> int:
    """The command's jobs when ``--jobs`` is not given: every core (-1) for
    the patient-level model, whose runs take seconds to minutes and whose
    results are the same for any number of jobs; one otherwise, where a run
    takes less than starting the worker processes would (about a second)."""
    return -1 if scenario.patient is not None else 1


def run(scenario: Scenario, jobs: int = 1, *, backend: str | None = None,
        scheduler: str | None = None, cache=None, detectable: bool = False) -> PlanResult:
    """Answer a scenario's question: what ``simulate --scenario FILE`` prints.

    The size for the target power (or the power at
    ``sample_size.n_control``), with priors the assurance, with interim
    looks the group-sequential plan, with ``model: patient`` the simulated
    multicentre trial; a fixed design with a recruitment model also gets its
    recruitment time and capacity (``capacity``).  An error found while
    running (bounds that do not fit together, no answer) names the file.

    Parameters
    ----------
    scenario : Scenario
        From ``load_scenario`` (a file, a bundled name or a mapping).
    jobs : int, default 1
        Parallel workers for Monte Carlo chunks (``-1``: all cores).
    backend : {"loky", "dask"}, optional
        ``loky``: processes on this machine (the default); ``dask``: the
        dask.distributed cluster at ``scheduler`` (``"tcp://host:8786"``),
        or a local cluster of ``jobs`` worker processes.
    scheduler : str, optional
        The dask scheduler's address.
    cache : str or path-like, optional
        A directory keeping every finished chunk, so that a run started
        again after an interruption reuses them.
    detectable : bool, default False
        Also the smallest treatment rate that reaches the target power at
        ``sample_size.n_control`` (or, without one, at the capacity of the
        recruitment within ``recruitment.target_months``), as
        ``--detectable``.

    Returns
    -------
    PlanResult
        Identical whatever the backend, jobs or cache.

    Raises
    ------
    ScenarioError
        A question without an answer (``NoSolutionError``: no size up to
        ``sample_size.max_control`` reaches the target).

    Examples
    --------
    >>> import simulator
    >>> r = simulator.run(simulator.load_scenario("severe"))
    >>> r.sample_size.answer.n_control, r.sample_size.n_total_randomised
    (24, 54)
    """
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
