"""Sensitivity analyses: the required size and the power at the planned size
over a grid of one or two scenario values.

Every point is the base scenario with its values overridden, validated like a
file before anything runs.  Points run in parallel (joblib, one point per
task, no backend hard-coded) and share the base seed, so Monte Carlo points
use the same simulated trials (common random numbers): each trial keeps its
count uniforms at every point, so neighbouring points of a rate, size or test
differ by the change in the value, not by simulation noise.  (Rates drawn from
priors come from the same stream at every point, but numpy's Beta generator
does not couple draws across different prior parameters; sweeps run exactly,
without Monte Carlo error, unless `simulation.method` asks for simulation.)
"""
from __future__ import annotations

import itertools
import math
import numbers
from dataclasses import dataclass, replace
from typing import Any, Mapping


from ..errors import NoSolutionError, ScenarioError
from ..execution.backends import (Rounds, active_cache, configured, delayed, exit_with_parent,
                                  on_cluster, run_tasks, scope)
from .feasibility import capacity_at
from .planners import choose_method, planner_for
from .run import run
from ..execution.progress import reporter_for_tasks
from ..results import PlanResult, frame
from ..scenario.build import Scenario, load_scenario
from ..scenario.reading import parse_yaml

MAX_AXES = 2
MAX_POINTS = 10_000


@dataclass(frozen=True)
class SweepAxis:
    key: str                    # dotted scenario key
    values: tuple               # numbers, in order


def _number(text: str):
    try:
        value = parse_yaml(text)
    except ScenarioError:
        raise ValueError(text) from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(text)
    return value


def _finite(value):
    """A finite number (numpy's too) as int or float; ValueError otherwise."""
    if (isinstance(value, bool) or not isinstance(value, numbers.Real)
            or not math.isfinite(value)):
        raise ValueError(value)
    return int(value) if isinstance(value, numbers.Integral) else float(value)


def parse_sweep(spec: str) -> SweepAxis:
    """``KEY=START:STOP:STEP`` (STOP included when the steps land on it)."""
    key, sep, rng = spec.partition("=")
    parts = rng.split(":")
    rule = "must be KEY=START:STOP:STEP with numbers, START <= STOP and STEP > 0"
    if not sep or not key.strip() or len(parts) != 3:
        raise ScenarioError(f"{rule}; got {spec!r}", field="--sweep")
    try:
        start, stop, step = (_number(p) for p in parts)
    except ValueError:
        raise ScenarioError(f"{rule}; got {spec!r}", field="--sweep") from None
    if step <= 0 or start > stop:
        raise ScenarioError(f"{rule}; got {spec!r}", field="--sweep")
    count = math.floor((stop - start) / step + 1e-9) + 1
    if count > MAX_POINTS:
        raise ScenarioError(f"gives {count:,} points, more than {MAX_POINTS:,}; got {spec!r}",
                            field="--sweep")
    whole = all(isinstance(x, int) for x in (start, stop, step))
    values = tuple(start + i * step if whole else round(start + i * step, 12)
                   for i in range(count))
    return SweepAxis(key.strip(), values)


def parse_set(spec: str) -> tuple[str, Any]:
    """``KEY=VALUE``; the value is read as YAML (a number, text, list or mapping)."""
    key, sep, text = spec.partition("=")
    if not sep or not key.strip():
        raise ScenarioError(f"must be KEY=VALUE; got {spec!r}", field="--set")
    try:
        return key.strip(), parse_yaml(text)
    except ScenarioError as err:
        shown = text if len(text) <= 80 else text[:77] + "..."
        raise ScenarioError(f"value of {key.strip()} is not valid YAML ({err.message}); "
                            f"got {shown!r}", field="--set") from None


@dataclass(frozen=True)
class SweepPoint:
    """One point of a sensitivity grid."""
    values: dict                        # key -> value at this point
    planned_control: int                # the planned design's control-arm size
    planned_treatment: int
    power_at_planned: float | None      # None: the planned size is not a design at this point
    power_at_planned_se: float | None
    assurance_at_planned: float | None
    assurance_at_planned_se: float | None
    n_control: int | None               # required size for target_power (None: no answer)
    n_treatment: int | None
    power: float | None                 # its power
    n_total_randomised: int | None
    assurance_n_control: int | None     # size for target_assurance, where reached
    error: str | None                   # why there is no required size
    assurance_unreachable: str | None = None   # why there is no size for target_assurance
    probability_treatment_better: float | None = None   # prior probabilities (priors only)
    probability_above_mcid: float | None = None
    capacity: object = None             # results.Capacity: a fixed design with target_months

    def capacity_row(self) -> list:
        """The feasibility columns (``CAPACITY_COLUMNS``) at this point."""
        c = self.capacity
        if c is None:
            return [None] * len(CAPACITY_COLUMNS)
        d, found = c.design, c.detectable
        return [c.n_women, None if d is None else d.n_control,
                None if d is None else d.n_treatment, None if d is None else d.power,
                None if d is None else d.assurance,
                None if found is None else found.treatment_rate, c.centres_needed]

    @property
    def n_total(self) -> int | None:
        return None if self.n_control is None else self.n_control + self.n_treatment

    def to_dict(self) -> dict:
        return {
            "values": self.values,
            "n_per_arm": None if self.n_control is None else
            {"control": self.n_control, "treatment": self.n_treatment},
            "n_total": self.n_total, "power": self.power,
            "n_total_randomised": self.n_total_randomised,
            "planned_n_per_arm": {"control": self.planned_control,
                                  "treatment": self.planned_treatment},
            "power_at_planned": self.power_at_planned,
            "power_at_planned_se": self.power_at_planned_se,
            "assurance_at_planned": self.assurance_at_planned,
            "assurance_at_planned_se": self.assurance_at_planned_se,
            "assurance_n_control": self.assurance_n_control,
            "assurance_unreachable": self.assurance_unreachable,
            "probability_treatment_better": self.probability_treatment_better,
            "probability_above_mcid": self.probability_above_mcid,
            "error": self.error,
            "capacity": None if self.capacity is None else dict(
                zip(CAPACITY_COLUMNS, self.capacity_row()), note=self.capacity.note),
        }


# a sweep of a fixed design with `recruitment.target_months`: the feasibility curve
CAPACITY_COLUMNS = ["capacity_n_women", "capacity_n_control", "capacity_n_treatment",
                    "power_at_capacity", "assurance_at_capacity", "detectable_rate_at_capacity",
                    "centres_needed"]


def sweep_scenarios(source, overrides: Mapping[str, Any] | None,
                    axes: list[SweepAxis]) -> list[tuple[dict, Scenario]]:
    """Every grid point's values and validated scenario (raises on the first
    invalid one, before anything runs)."""
    if len(axes) > MAX_AXES:
        raise ScenarioError(f"at most {MAX_AXES} keys can be swept; got {len(axes)}",
                            field="--sweep")
    if len({a.key for a in axes}) != len(axes):
        raise ScenarioError("the same key is swept twice", field="--sweep")
    if any(a.key == "sample_size.n_control" for a in axes):
        raise ScenarioError("cannot sweep `sample_size.n_control`: every point searches its own "
                            "required size and reports the power at the planned size",
                            field="--sweep")
    total = math.prod(len(a.values) for a in axes)
    if total > MAX_POINTS:
        raise ScenarioError(f"the grid has {total:,} points, more than {MAX_POINTS:,}",
                            field="--sweep")
    out = []
    for combo in itertools.product(*(a.values for a in axes)):
        values = {a.key: v for a, v in zip(axes, combo)}
        search = {"sample_size.n_control": None}
        out.append((values, load_scenario(source, {**(overrides or {}), **values, **search})))
    return out


def _point(values: dict, scenario: Scenario, planned: int) -> SweepPoint:
    with scope(scenario.digest):
        return _evaluate_point(values, scenario, planned)


def _evaluate_point(values: dict, scenario: Scenario, planned: int) -> SweepPoint:
    """One point, evaluated with the point's own design (fixed, sequential,
    Bayesian or patient-level): the power and assurance at the planned size
    and the run's answers come from the same planner."""
    planner = planner_for(scenario)
    n_t_planned = planner.design.sizes(planned)[0]
    power = se = a = a_se = None
    n_c = n_t = req_power = randomised = a_size = None
    errors, unreachable, better, above = [], None, None, None
    if n_t_planned >= 1:        # (a swept allocation can empty the treatment arm)
        try:
            (power,), (se,) = planner.power_at([planned])
            if planner.prior is not None:
                (a,), (a_se,) = planner.assurance_at([planned])
        except NoSolutionError as err:      # e.g. no Bayesian threshold at the planned size
            errors.append(f"at the planned size: {err.in_file(None)}")
    else:
        errors.append(f"the planned control-arm size {planned} gives an empty treatment arm "
                      "at this allocation")
    try:
        result = planner.result(extras=False)
        ans = result.sample_size.answer
        n_c, n_t, req_power = ans.n_control, ans.n_treatment, ans.power
        randomised = result.sample_size.n_total_randomised
        if result.assurance:
            better = result.assurance.ceiling
            above = result.assurance.probability_above_mcid
            if result.assurance.sample_size:
                a_size = result.assurance.sample_size.answer.n_control
            else:
                unreachable = result.assurance.unreachable
    except NoSolutionError as err:
        errors.insert(0, str(err.in_file(None)))
        if planner.prior is not None:       # no run to take the prior probabilities from
            better, above = planner.prior.probabilities()
    capacity = None
    if scenario.target_months is not None and n_t_planned >= 1:
        capacity = capacity_at(planner, planner.point(planned))   # (None unless fixed)
    as_float = (lambda x: None if x is None else float(x))
    return SweepPoint(values, planned, n_t_planned, as_float(power), as_float(se), as_float(a),
                      as_float(a_se), n_c, n_t, req_power, randomised, a_size,
                      "; ".join(errors) or None, unreachable, better, above, capacity)


def _point_of(args: tuple) -> SweepPoint:
    return _point(*args)


def run_sweep(points: list[tuple[dict, Scenario]], planned_control: int,
              jobs: int = 1) -> Sweep:
    """Evaluate every point; ``planned_control`` is the control-arm size of the
    planned design (the base scenario's answer).  On one machine each point is
    one task (its chunks run in-process, with no dispatch to pay).  On a dask
    cluster, points that simulate (the method and the patient model cannot be
    swept, so all or none do) run side by side in threads, and the chunk tasks
    they ask for go out together as one flat list per round
    (``execution.Rounds``): the workers share out every point's chunks, and a
    slow point does not hold the others."""
    args = [(values, scenario, planned_control) for values, scenario in points]
    if points and on_cluster() and choose_method(points[0][1]) == "monte_carlo":
        with reporter_for_tasks([1] * len(points), "points") as advance:
            return Sweep(Rounds(jobs).map(_point_of, args, advance))
    cache = active_cache()
    # worker processes of this machine open the cache themselves; a cluster's
    # workers may not see its directory (exact points store no chunks anyway)
    directory = None if cache is None or on_cluster() else cache.directory
    tasks = (delayed(_point_task)(a, directory) for a in args)
    done = run_tasks(tasks, min(jobs, max(len(points), 1)), [1] * len(points), "points")
    if cache is not None:
        cache.count(sum(counts[0] for _, counts in done), sum(counts[1] for _, counts in done))
        cache.recomputed += sum(counts[2] for _, counts in done)
    return Sweep(point for point, _ in done)


def _point_task(args: tuple, cache_directory) -> tuple[SweepPoint, tuple[int, int, int]]:
    """One point as a task of its own (in a worker process, which has no
    cache unless given its directory), with the cache's (reused, chunks,
    recomputed)."""
    exit_with_parent()
    with configured(cache=cache_directory):
        point, cache = _point(*args), active_cache()
        return point, ((0, 0, 0) if cache is None
                       else (cache.reused, cache.chunks, cache.recomputed))


class Sweep(tuple):
    """The points of a sensitivity analysis (``result.sweep`` of
    ``sensitivity``): a tuple of SweepPoint, one per grid point, with
    ``to_frame()``.

    Examples
    --------
    >>> import simulator
    >>> r = simulator.sensitivity(simulator.load_scenario("severe"),
    ...                           {"arms.treatment.rate": [0.6, 0.69]})
    >>> [p.n_control for p in r.sweep]
    [33, 24]
    """

    def to_frame(self):
        """One row per point: the swept values, then the columns of sweep.csv.

        Returns
        -------
        pandas.DataFrame
            Needs pandas (``pip install '.[notebook]'``).
        """
        rows = sweep_table(self)
        return frame(rows[0], rows[1:])


def sweep_table(points: tuple[SweepPoint, ...]) -> list[list]:
    """Rows for the CSV and the text table: the swept values, then the answers."""
    keys = list(points[0].values) if points else []
    header = keys + ["n_control", "n_treatment", "n_total", "power", "n_total_randomised",
                     "planned_n_control", "power_at_planned", "power_at_planned_se",
                     "assurance_at_planned", "assurance_at_planned_se", "assurance_n_control",
                     "probability_treatment_better", "probability_above_mcid", "error",
                     "assurance_unreachable"]
    feasible = any(p.capacity is not None for p in points)
    rows = [header + (CAPACITY_COLUMNS if feasible else [])]
    for p in points:
        rows.append([p.values[k] for k in keys] + [
            p.n_control, p.n_treatment, p.n_total, p.power, p.n_total_randomised,
            p.planned_control, p.power_at_planned, p.power_at_planned_se,
            p.assurance_at_planned, p.assurance_at_planned_se, p.assurance_n_control,
            p.probability_treatment_better, p.probability_above_mcid, p.error,
            p.assurance_unreachable] + (p.capacity_row() if feasible else []))
    return rows


def run_with_sweep(source, overrides: Mapping[str, Any] | None, axes: list[SweepAxis],
                   jobs: int = 1, base: Scenario | None = None, detectable: bool = False,
                   **execution) -> PlanResult:
    """The base scenario's result with ``sweep`` filled in: every point is
    validated first, then the base runs (its proposed size, or its
    ``sample_size.n_control``, is the planned size), then the points.
    ``base``: the base scenario when the caller holds it (what overrides
    set stays known); ``detectable`` and ``execution`` (``backend``,
    ``scheduler``, ``cache``) as for :func:`run`."""
    points = sweep_scenarios(source, overrides, axes)
    base = base or load_scenario(source, overrides)
    with configured(jobs=jobs, **execution) as workers:
        result = run(base, jobs=workers, detectable=detectable)
        return replace(result, sweep=run_sweep(points, result.reported.n_control, workers))


def sensitivity(scenario: Scenario, grid: Mapping[str, Any], jobs: int = 1, *,
                backend: str | None = None, scheduler: str | None = None,
                cache=None) -> PlanResult:
    """The scenario's result with a sensitivity analysis (``--sweep``): the
    plan again at every point of a grid of one or two scenario values.

    Parameters
    ----------
    scenario : Scenario
        The base scenario; its proposed size is the planned size at which
        every point's power is also given.
    grid : dict of str to list of float
        One or two dotted keys, each with the values to try, e.g.
        ``{"arms.treatment.rate": [0.5, 0.6, 0.69]}`` (two keys: every
        combination).  Same rules as ``--sweep``.
    jobs : int, default 1
        Parallel workers.
    backend, scheduler, cache
        As for ``run``.

    Returns
    -------
    PlanResult
        The base result with ``sweep`` (a ``Sweep``) filled in.

    Examples
    --------
    >>> import simulator
    >>> r = simulator.sensitivity(simulator.load_scenario("severe"),
    ...                           {"arms.treatment.rate": [0.5, 0.6, 0.69]})
    >>> [(p.values["arms.treatment.rate"], p.n_control) for p in r.sweep]
    [(0.5, 58), (0.6, 33), (0.69, 24)]
    """
    if not isinstance(grid, Mapping) or not 1 <= len(grid) <= MAX_AXES:
        raise ScenarioError(f"must map one or two dotted keys to lists of numbers; got {grid!r}",
                            field="grid")
    axes = []
    for key, values in grid.items():
        try:
            numbers = tuple(_finite(v) for v in values)
        except (TypeError, ValueError):
            numbers = ()
        if not numbers or isinstance(values, (str, bytes, Mapping)):
            raise ScenarioError(f"must be a non-empty list of finite numbers; got {values!r}",
                                field=f"grid.{key}")
        axes.append(SweepAxis(str(key), numbers))
    return run_with_sweep(scenario.to_dict(), None, axes, jobs=jobs, base=scenario,
                          backend=backend, scheduler=scheduler, cache=cache)
