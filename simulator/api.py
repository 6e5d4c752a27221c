"""The keyword API: the common questions asked with keyword arguments, as
statsmodels' ``solve_power`` and rpact's ``getSampleSizeRates`` are asked.

Each function builds a scenario from its arguments (alone, or on top of a
base ``scenario``), validates it as a scenario file is validated, and runs it
through ``simulator.planning.run.run`` or
``simulator.planning.compare.compare``: a front door onto the same
planning, never a second implementation.  The scenario is kept on the result
(``result.scenario.to_yaml()``), so every answer here is also a scenario file
for the command line, and every key of a file is reachable here (the
scenario's own sections as keyword arguments: ``interim={...}``).

An error is the ``simulator.errors.ScenarioError`` of the scenario,
naming the argument (``treatment.discount``) instead of the key it went to
(``arms.treatment.rate.discount``).
"""
from __future__ import annotations

import copy
import os
from typing import Any, Mapping, Sequence

from .errors import ScenarioError
from .planning.compare import Comparison, Variation, compare as compare_designs, designs
from .planning.run import run
from .results import PlanResult
from .scenario.build import REMOVED, Scenario, load_scenario
from .scenario.rules import unknown_key
from .scenario.schema import SCHEMA

# argument -> the scenario key it sets
ARGUMENTS = {
    "control": "arms.control.rate", "treatment": "arms.treatment.rate",
    "test": "analysis.test", "alpha": "analysis.alpha", "sided": "analysis.sided",
    "power": "target_power", "allocation": "allocation", "dropout": "dropout",
    "n_control": "sample_size.n_control", "method": "simulation.method",
    "n_sims": "simulation.n_sims", "seed": "simulation.seed",
}
DEFAULT_NAME = "trial"


def _targets(arguments: Mapping[str, Any]) -> dict[str, str]:
    """The scenario key of each argument; an argument that is neither one of
    ``ARGUMENTS`` nor a top-level scenario key is an error."""
    out = {}
    for name in arguments:
        if name in ARGUMENTS:
            out[name] = ARGUMENTS[name]
        elif name in SCHEMA:
            out[name] = name
        else:
            raise ScenarioError(unknown_key(name, list(dict.fromkeys([*ARGUMENTS, *SCHEMA])))
                                .replace("a known key", "an argument or a scenario key"),
                                field=name)
    return out


def _inside(section: Any, dotted: str) -> bool:
    node = section
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return False
        node = node[part]
    return True


def _overrides(arguments: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The dotted overrides of the given arguments (sections first, so that a
    named argument lands inside a section given whole) and the key of each."""
    given = {k: v for k, v in arguments.items() if v is not None}
    targets = _targets(given)
    for name, key in targets.items():
        for other, section in targets.items():
            if other != name and key == section:
                raise ScenarioError(f"and `{other}` set the same key ({key}): give one",
                                    field=name)
            if other != name and key.startswith(section + ".") and _inside(
                    given[other], key[len(section) + 1:]):
                raise ScenarioError(f"is also given inside `{other}`: give it once",
                                    field=name)
    order = sorted(given, key=lambda n: targets[n].count("."))
    return {targets[n]: given[n] for n in order}, targets


def _renamed(err: ScenarioError, targets: Mapping[str, str]) -> ScenarioError:
    """The error naming the argument whose value it is about (``treatment.discount``
    for ``arms.treatment.rate.discount``), not attributed to a file."""
    field = err.field or ""
    best = max((n for n, k in targets.items() if field == k or field.startswith(k + ".")),
               key=lambda n: len(targets[n]), default=None)
    if best is None:
        return err
    return type(err)(err.message, best + field[len(targets[best]):], None)


def _put(raw: dict, dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    node = raw
    for i, part in enumerate(parents):
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ScenarioError("must be a mapping of its keys", field=".".join(parents[:i + 1]))
    node[last] = value


def build_scenario(scenario: str | os.PathLike | Mapping | Scenario | None = None, **arguments) -> Scenario:
    """The validated scenario of keyword arguments, as the keyword functions
    build it.

    Parameters
    ----------
    scenario : str, path-like, mapping or Scenario, optional
        A base: a scenario file, a bundled scenario's name, a mapping in the
        file's shape, or a ``Scenario``; the arguments replace its
        values (as ``--set`` does).  Without one, the arguments are the whole
        scenario (``name`` defaults to ``"trial"``) and every other key has
        its default.
    **arguments
        ``control``, ``treatment``, ``test``, ``alpha``, ``sided``, ``power``,
        ``allocation``, ``dropout``, ``n_control``, ``method``, ``n_sims``,
        ``seed``, and any top-level scenario key (``interim={...}``,
        ``model="patient"``, ``name="severe"``).  None leaves a value as the
        base scenario (or the default) has it.

    Returns
    -------
    Scenario

    Raises
    ------
    ScenarioError
        Naming the argument: ``treatment.discount`` for a bad discount in
        ``treatment={"events": 20, "n": 29, "discount": 2}``.

    Examples
    --------
    >>> from simulator.api import build_scenario
    >>> s = build_scenario(control=0.2, treatment=0.69, test="boschloo")
    >>> s.analysis.test, s.treatment.rate, s.name
    ('boschloo', 0.69, 'trial')
    >>> build_scenario(control=0.2, treatment={"events": 20, "n": 29, "discount": 2})
    Traceback (most recent call last):
    ...
    simulator.errors.ScenarioError: `treatment.discount` must be a discount (power-prior weight) in [0, 1]; got 2
    """
    overrides, targets = _overrides(arguments)
    if scenario is not None:
        targets = {n: k for n, k in targets.items() if arguments.get(n) is not None}
    else:
        targets = {**ARGUMENTS, **targets}
    try:
        if isinstance(scenario, Scenario):
            return scenario.override(overrides)
        if scenario is not None:
            return load_scenario(scenario, overrides)
        raw: dict = {"name": DEFAULT_NAME}
        for key, value in overrides.items():
            _put(raw, key, copy.deepcopy(value))        # the caller's mappings stay as they are
        return load_scenario(raw)
    except ScenarioError as err:
        raise _renamed(err, targets) from None


def _built(scenario, arguments: dict) -> tuple[Scenario, dict[str, str]]:
    """The scenario and the key of each argument (for naming errors)."""
    built = build_scenario(scenario, **arguments)
    _, targets = _overrides(arguments)
    return built, targets


def _run(built: Scenario, targets: dict, jobs: int, detectable: bool = False) -> PlanResult:
    """``run``, errors naming the arguments."""
    try:
        return run(built, jobs=jobs, detectable=detectable)
    except ScenarioError as err:
        raise _renamed(err, targets) from None


def _common(control, treatment, test, alpha, sided, power, allocation, dropout, method,
            n_sims, seed, keys) -> dict:
    return dict(control=control, treatment=treatment, test=test, alpha=alpha, sided=sided,
                power=power, allocation=allocation, dropout=dropout, method=method,
                n_sims=n_sims, seed=seed, **keys)


def sample_size(control=None, treatment=None, *, test=None, alpha=None, sided=None, power=None,
                allocation=None, dropout=None, method=None, n_sims=None, seed=None,
                scenario: str | os.PathLike | Mapping | Scenario | None = None, jobs: int = 1, **keys) -> PlanResult:
    """The smallest sample size that reaches the target power (and, with
    priors, the target assurance).

    Parameters
    ----------
    control, treatment : float or dict
        The live-birth rates per woman randomised: a probability, or a design
        prior in the scenario file's form (``{"beta": [20, 9]}``,
        ``{"events": 20, "n": 29, "discount": 0.5}``, a mixture); for the
        treatment also an effect through ``arms={"treatment": {"effect":
        ...}}``.
    test : str, default "fisher"
        ``fisher``, ``boschloo``, ``barnard``, ``z_pooled``, ``z_unpooled``,
        ``chi2_yates`` or ``bayesian``.
    alpha : float, default 0.05
        Significance level, for ``sided``.
    sided : {"two", "one"}, default "two"
    power : float, default 0.9
        The target power.
    allocation : float, default 1
        Treatment:control ratio.
    dropout : float or dict, default 0
        Share of randomised women without an outcome (or ``{"share": ...,
        "handling": ...}``); the sizes to randomise are inflated for it.
    method : {"auto", "exact", "monte_carlo"}, default "auto"
    n_sims, seed : int
        Simulated trials per size and the root seed (Monte Carlo).
    scenario : str, path-like, mapping or Scenario, optional
        A base scenario whose values the arguments replace (a file, a bundled
        name such as ``"severe"``, a mapping, a ``Scenario``).
    jobs : int, default 1
        Parallel workers for Monte Carlo chunks (``-1``: all cores).
    **keys
        Any other top-level scenario key: ``interim={...}``,
        ``model="patient"``, ``population={...}``, ``centres={...}``,
        ``recruitment={...}``, ``costs={...}``, ``target_assurance=0.8``,
        ``mcid=0.1``, ``arms={...}`` (labels), ``name=...``, ``title=...``.

    Returns
    -------
    PlanResult
        ``result.sample_size.answer`` (the size and its power), the sizes to
        randomise, the power curve; ``to_dict()`` is the command's JSON.

    Raises
    ------
    ScenarioError
        A value breaking a rule, naming the argument (``treatment.discount``).

    See Also
    --------
    power, detectable, solve, run

    Examples
    --------
    >>> import simulator
    >>> r = simulator.sample_size(control=0.20, treatment=0.69, power=0.9, dropout=0.1)
    >>> r.sample_size.answer.n_control, r.sample_size.n_total_randomised
    (24, 54)
    >>> r = simulator.sample_size(control=0.20, treatment=0.69, test="boschloo")
    >>> print(f"{r.sample_size.answer.n_control} per arm, power {r.sample_size.answer.power:.3f}")
    21 per arm, power 0.911
    """
    if "n_control" in keys:
        raise ScenarioError("is for power() (the power at a size); sample_size() searches for "
                            "the size", field="n_control")
    built, targets = _built(scenario, _common(control, treatment, test, alpha, sided, power,
                                              allocation, dropout, method, n_sims, seed, keys))
    return _run(built, targets, jobs)


def power(control=None, treatment=None, *, n_control=None, test=None, alpha=None, sided=None,
          power=None, allocation=None, dropout=None, method=None, n_sims=None, seed=None,
          scenario: str | os.PathLike | Mapping | Scenario | None = None, jobs: int = 1, **keys) -> PlanResult:
    """The power (and, with priors, the assurance) at a given size.

    Parameters
    ----------
    control, treatment : float or dict
        Rates or design priors, as in ``sample_size``.
    n_control : int
        Women with an outcome in the control arm (the treatment arm is
        ``round(allocation * n_control)``).  Required, unless the base
        ``scenario`` has ``sample_size.n_control``.
    test, alpha, sided, power, allocation, dropout, method, n_sims, seed, scenario, jobs, **keys
        As in ``sample_size`` (``power`` is the target the report
        compares with).

    Returns
    -------
    PlanResult
        ``result.evaluated``: the size, its power (and assurance), with the
        Monte Carlo standard error (0 when exact).

    Raises
    ------
    ScenarioError

    Examples
    --------
    >>> import simulator
    >>> r = simulator.power(control=0.20, treatment=0.69, n_control=24)
    >>> print(f"{r.evaluated.power:.3f}")
    0.920
    >>> r = simulator.power(control=0.2, treatment={"events": 20, "n": 29, "discount": 0.5},
    ...                     n_control=24)
    >>> print(f"power {r.evaluated.power:.3f}, assurance {r.evaluated.assurance:.3f}")
    power 0.889, assurance 0.826
    """
    arguments = _common(control, treatment, test, alpha, sided, power, allocation, dropout,
                        method, n_sims, seed, keys)
    return _power(scenario, dict(arguments, n_control=n_control), jobs)


def _power(scenario, arguments: dict, jobs: int) -> PlanResult:
    built, targets = _built(scenario, arguments)
    if built.sample_size.n_control is None:
        raise ScenarioError("is required: the women with an outcome per control arm at which "
                            "to compute the power (sample_size() searches for it)",
                            field="n_control")
    return _run(built, targets, jobs)


def _detectable(scenario, arguments: dict, jobs: int) -> PlanResult:
    """``--detectable``; without a treatment rate, the run at the rate found
    (so that ``result.scenario`` is the design at its detectable rate)."""
    solve_rate = arguments.get("treatment") is None and scenario is None
    if solve_rate:
        arguments = dict(arguments, treatment=1.0)      # a placeholder: the rate is solved for
    built, targets = _built(scenario, arguments)
    if built.patient is not None or built.interim is not None:
        raise ScenarioError("is for a fixed design analysed on its 2x2 table (exact power is a "
                            "polynomial in the treatment rate); with interim looks, the "
                            "bayesian test or the patient-level model, compute power() over a "
                            "range of treatment rates instead",
                            field="model" if built.patient is not None else "interim")
    if built.sample_size.n_control is None and (built.recruitment is None
                                                or built.target_months is None):
        raise ScenarioError("is required: the women with an outcome per control arm (or give "
                            "`recruitment` with `per_centre_month` and `target_months`: the "
                            "women the centres can randomise in that time)", field="n_control")
    result = _run(built, targets, jobs, detectable=True)
    found = _rate_found(result)
    if solve_rate and found is not None:
        arguments["treatment"] = found
        result = _run(build_scenario(scenario, **arguments), targets, jobs, detectable=True)
    return result


def _rate_found(result: PlanResult):
    if result.detectable is not None:
        return result.detectable.treatment_rate
    cap = result.capacity
    return None if cap is None or cap.detectable is None else cap.detectable.treatment_rate


def detectable(control=None, treatment=None, *, n_control=None, test=None, alpha=None,
               sided=None, power=None, allocation=None, dropout=None, scenario: str | os.PathLike | Mapping | Scenario | None = None,
               jobs: int = 1, **keys) -> PlanResult:
    """The smallest treatment rate that a size detects with the target power
    (``simulate --detectable``): exact, for a fixed design on its 2x2 table.

    Parameters
    ----------
    control : float or dict
        The control rate (or its prior: the planning value is held).
    treatment : float or dict, optional
        A planning treatment rate for the rest of the answer (power at it);
        None: the result is the design at the detectable rate itself.
    n_control : int
        Women with an outcome per control arm; or, without it, the capacity
        of ``recruitment={"per_centre_month": ..., "target_months": ...}``.
    test, alpha, sided, power, allocation, dropout, scenario, jobs, **keys
        As in ``sample_size`` (``power``: the target power to detect with).

    Returns
    -------
    PlanResult
        ``result.detectable.treatment_rate`` (None when not even a rate of 1
        reaches the target), its risk ratio, odds ratio and power.

    Raises
    ------
    ScenarioError

    Examples
    --------
    >>> import simulator
    >>> r = simulator.detectable(control=0.20, n_control=30)
    >>> print(f"{r.detectable.treatment_rate:.3f}")
    0.629
    >>> r = simulator.detectable(control=0.20, n_control=30, test="boschloo")
    >>> print(f"{r.detectable.treatment_rate:.3f}")
    0.600
    """
    arguments = _common(control, treatment, test, alpha, sided, power, allocation, dropout,
                        None, None, None, keys)
    arguments["n_control"] = n_control
    return _detectable(scenario, arguments, jobs)


def solve(control=None, treatment=None, *, n_control=None, power=None, test=None, alpha=None,
          sided=None, allocation=None, dropout=None, method=None, n_sims=None, seed=None,
          jobs: int = 1, **keys) -> PlanResult:
    """Solve for the one of ``n_control``, ``power`` and ``treatment`` that is
    None, as statsmodels' ``solve_power`` solves for the argument left None.

    Parameters
    ----------
    control : float or dict
        The control rate (or prior).
    treatment : float, dict or None
        The treatment rate (or prior); None: solve for the smallest rate the
        size detects with the target power (``detectable``).
    n_control : int or None
        Women with an outcome per control arm; None: solve for the size
        reaching ``power`` (``sample_size``).
    power : float or None
        The target power; None: solve for the power at ``n_control``
        (``power``).
    test, alpha, sided, allocation, dropout, method, n_sims, seed, jobs, **keys
        As in ``sample_size``.

    Returns
    -------
    PlanResult
        The answer in the command's JSON shape: ``sample_size`` (the size
        solved for), ``evaluated.power`` (the power), or
        ``detectable.treatment_rate`` (the rate).

    Raises
    ------
    ScenarioError
        Unless exactly one of the three is None.

    Examples
    --------
    >>> import simulator
    >>> simulator.solve(control=0.2, treatment=0.69, n_control=None, power=0.9).sample_size.answer.n_control
    24
    >>> r = simulator.solve(control=0.2, treatment=0.69, n_control=24, power=None)
    >>> print(f"{r.evaluated.power:.3f}")
    0.920
    >>> r = simulator.solve(control=0.2, treatment=None, n_control=30, power=0.9)
    >>> print(f"{r.detectable.treatment_rate:.3f}")
    0.629
    """
    unknown = [n for n, v in (("treatment", treatment), ("n_control", n_control),
                              ("power", power)) if v is None]
    if len(unknown) != 1:
        raise ScenarioError(
            "solve: exactly one of `treatment`, `n_control` and `power` must be None (the one "
            "solved for); " + ("all three are given" if not unknown else
                               " and ".join(f"`{n}`" for n in unknown) + " are None"))
    common = dict(control=control, test=test, alpha=alpha, sided=sided, allocation=allocation,
                  dropout=dropout, **keys)
    sim = dict(method=method, n_sims=n_sims, seed=seed)
    if treatment is None:
        return _detectable(None, dict(common, n_control=n_control, power=power, **sim), jobs)
    if n_control is None:
        return sample_size(treatment=treatment, power=power, jobs=jobs, **common, **sim)
    return _power(None, dict(common, treatment=treatment, n_control=n_control, **sim), jobs)


def _variation(key: str, values: Sequence) -> Variation:
    """One ``vary`` entry as ``--vary KEY=V1,V2`` reads it: None removes the
    key; a section takes True (as given), False or None (off) or a mapping."""
    if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, Sequence) \
            or not values:
        raise ScenarioError(f"must map each key to a list of values; got {values!r} for {key}",
                            field="vary")
    section = isinstance(SCHEMA.get(key.split(".")[0]), dict) and "." not in key
    out = [REMOVED if v is None or (section and v is False) else v for v in values]
    if len(set(map(repr, out))) != len(out):
        raise ScenarioError(f"gives a value of {key} twice", field="vary")
    return Variation(key, tuple(out))


def compare(*scenarios, vary: Mapping[str, Sequence] | None = None, jobs: int = 1,
            **arguments) -> Comparison:
    """Several designs planned in one run and laid side by side (``simulate
    compare``).

    Parameters
    ----------
    *scenarios : str, path-like, mapping or Scenario
        The designs: scenario files, bundled names (``"severe"``), mappings or
        scenarios.  None given: the one scenario of the keyword ``arguments``.
    vary : dict of str to list, optional
        Dotted key -> values; each design is planned with each value (several
        keys: every combination), as ``--vary KEY=V1,V2``.  None removes a
        key; a section (``interim``) takes True (as given) and False (off).
    jobs : int, default 1
        Designs planned at a time.
    **arguments
        As in ``sample_size``; with ``scenarios``, values set in every
        design (as ``--set``).

    Returns
    -------
    Comparison
        ``results`` (each design's ``PlanResult``, bit for bit its single
        run), ``summary()``, ``to_dict()`` (the command's JSON), ``plot()``.

    Raises
    ------
    ScenarioError

    Examples
    --------
    >>> import simulator
    >>> c = simulator.compare(control=0.2, treatment=0.69,
    ...                       vary={"analysis.test": ["fisher", "boschloo"]})
    >>> [(d.label, r.reported.n_control) for d, r in c]
    [('trial, analysis.test=fisher', 24), ('trial, analysis.test=boschloo', 21)]
    """
    variations = [_variation(k, v) for k, v in (vary or {}).items()]
    overrides, targets = _overrides(arguments)
    if scenarios:
        sources = [s.to_dict() if isinstance(s, Scenario) else s for s in scenarios]
        candidates = designs(sources, variations, overrides)
    else:
        candidates = designs([build_scenario(**arguments).to_dict()], variations)
    try:
        return compare_designs(candidates, jobs=jobs)
    except ScenarioError as err:
        raise _renamed(err, targets) from None
