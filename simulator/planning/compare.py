"""Several designs planned in one run, to be laid side by side
(``simulate compare``).

A design is a scenario file, or a variant of one: the file with some of its
values replaced (``--vary KEY=V1,V2,...``; several ``--vary`` give every
combination).  Every design is validated before anything runs, then each is
planned exactly as ``simulate --scenario FILE --set KEY=VALUE ...`` would plan
it (its own planner, seed and engine), so that each entry of a comparison is,
bit for bit, the single run of that design.  Designs run in parallel, one per
task; a design that simulates runs its chunks in its own task (results do not
depend on the number of jobs).
"""
from __future__ import annotations

import functools
import itertools
import string
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import yaml

from ..errors import ScenarioError
from ..execution.backends import (active_cache, configured, delayed, exit_with_parent, on_cluster,
                                  run_tasks)
from ..models.recruitment import centres_needed, duration
from ..results import PlanResult
from ..scenario.build import REMOVED, Scenario, load_scenario
from ..scenario.reading import parse_yaml
from ..scenario.schema import SCHEMA
from .run import run

MAX_DESIGNS = 12
LETTERS = string.ascii_uppercase[:MAX_DESIGNS]


@dataclass(frozen=True)
class Variation:
    """``--vary``: a dotted key and the values to try, in order (``REMOVED``:
    the key removed, its default applying; for a section, ``off``)."""
    key: str
    values: tuple


def _section(key: str) -> bool:
    node: Any = SCHEMA
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return isinstance(node, dict)


def parse_vary(spec: str) -> Variation:
    """``KEY=V1,V2,...``: each value read as YAML (``[V1,V2,...]`` as a flow
    list, so a value may itself be a list or mapping); ``null`` removes the
    key; a section (``interim``) takes ``on`` (as in the file) and ``off``."""
    key, sep, text = spec.partition("=")
    key = key.strip()
    rule = "must be KEY=V1,V2,... (values read as YAML)"
    if not sep or not key or not text.strip():
        raise ScenarioError(f"{rule}; got {spec!r}", field="--vary")
    try:
        values = parse_yaml(f"[{text}]")
    except ScenarioError as err:
        raise ScenarioError(f"{rule}; the values of {key} are not valid YAML ({err.message})",
                            field="--vary") from None
    if not isinstance(values, list) or not values:
        raise ScenarioError(f"{rule}; got {spec!r}", field="--vary")
    if _section(key):
        if not all(isinstance(v, bool) for v in values):
            raise ScenarioError(f"{key} is a section: vary it with on,off (off removes it); "
                                f"got {text.strip()!r}", field="--vary")
        values = [True if v else REMOVED for v in values]
    else:
        values = [REMOVED if v is None else v for v in values]
    if len(set(map(repr, values))) != len(values):
        raise ScenarioError(f"gives a value of {key} twice; got {text.strip()!r}",
                            field="--vary")
    return Variation(key, tuple(values))


def shown(value, key: str = "") -> str:
    """A varied value of ``key`` as the labels and the table show it."""
    if value is REMOVED:
        return "off" if _section(key) else "removed"
    if value is True:
        return "on"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, str):
        return value
    return yaml.safe_dump(value, default_flow_style=True, width=10**6).strip().removesuffix(
        "\n...").strip()           # a list or mapping as one line of flow YAML


@dataclass(frozen=True)
class Candidate:
    """One design of a comparison: its letter, its label, the file it comes
    from, the values it varies and the validated scenario."""
    letter: str
    label: str
    source: str
    varied: dict            # dotted key -> value (REMOVED shown as null / off)
    scenario: Scenario

    def varied_json(self) -> dict:
        return {k: (None if v is REMOVED else v) for k, v in self.varied.items()}


def designs(sources: Sequence, variations: Sequence[Variation] = (),
            overrides: Mapping[str, Any] | None = None) -> list[Candidate]:
    """Every design: each source (a file, a bundled name, or a mapping) with
    every combination of the variations, validated now; an invalid one is an
    error naming the design and the key."""
    sources = list(sources)
    if not sources:
        raise ScenarioError("needs at least one scenario file", field="compare")
    keys = [v.key for v in variations]
    twice = sorted({k for k in keys if keys.count(k) > 1})
    if twice:
        raise ScenarioError(f"varies `{twice[0]}` twice: give its values in one --vary",
                            field="--vary")
    overridden = set(overrides or {})
    for key in keys:
        if any(key == k or key.startswith(k + ".") or k.startswith(key + ".")
               for k in overridden):
            raise ScenarioError(f"`{key}` is also set with --set: vary it or set it, not "
                                "both", field="--vary")
    combos = list(itertools.product(*(v.values for v in variations)))
    count = len(sources) * len(combos)
    if count > MAX_DESIGNS:
        raise ScenarioError(f"gives {count} designs, more than {MAX_DESIGNS} (a table of more "
                            "columns cannot be read): compare fewer", field="compare")
    return _candidates([(source, overrides or {}, dict(zip(keys, combo)))
                        for source, combo in itertools.product(sources, combos)])


def listed(entries: Sequence[tuple[Any, Mapping[str, Any]]]) -> list[Candidate]:
    """Designs given one by one, each a source and its own overrides (the
    web page's list): the keys whose values differ between the designs are
    the ones they vary, labelled and applied as ``--vary`` does, so that two
    designs of one file differing in a key are ``simulate compare FILE
    --vary KEY=V1,V2`` bit for bit."""
    entries = list(entries)
    if len(entries) > MAX_DESIGNS:
        raise ScenarioError(f"gives {len(entries)} designs, more than {MAX_DESIGNS} (a table "
                            "of more columns cannot be read): compare fewer", field="compare")
    bases: dict[str, dict] = {}

    def value(source, overrides, key):
        if key in overrides:
            return overrides[key]
        if str(source) not in bases:
            bases[str(source)] = load_scenario(source).to_dict()
        found = _value_at(bases[str(source)], key)
        return True if _section(key) and found is not REMOVED else found   # `on`: as in the file

    keys = list(dict.fromkeys(k for _, overrides in entries for k in overrides))
    values = {k: [value(source, overrides, k) for source, overrides in entries] for k in keys}
    differ = [k for k in keys if len({repr(v) for v in values[k]}) > 1]
    return _candidates([(source, {k: v for k, v in overrides.items() if k not in differ},
                         {k: values[k][i] for k in differ})
                        for i, (source, overrides) in enumerate(entries)])


def _value_at(mapping: Mapping, key: str) -> Any:
    node: Any = mapping
    for part in key.split("."):
        node = node.get(part) if isinstance(node, Mapping) else None
    return REMOVED if node is None else node


def _candidates(designs_: list[tuple[Any, Mapping[str, Any], dict]]) -> list[Candidate]:
    """Each (source, overrides, varied values) validated as a design; an
    invalid one is an error naming the design and the key."""
    out = []
    for source, overrides, varied in designs_:
        letter = LETTERS[len(out)]
        changes = {k: v for k, v in varied.items() if v is not True}    # `on`: as in the file
        described = ", ".join(f"{k} {shown(v, k)}" if _section(k) or v is REMOVED
                              else f"{k}={shown(v, k)}" for k, v in varied.items())
        name = source if isinstance(source, str) else (source.get("name") or "scenario")
        try:
            scenario = load_scenario(source, {**overrides, **changes})
        except ScenarioError as err:
            raise ScenarioError(f"design {letter} ({name}{', ' + described if described else ''})"
                                f": {err}", field=None) from None
        label = scenario.name + (f", {described}" if described else "")
        same = next((c for c in out if c.scenario.digest == scenario.digest), None)
        if same is not None:
            raise ScenarioError(f"designs {same.letter} ({same.label}) and {letter} ({label}) "
                                "are the same design: nothing to compare", field="compare")
        out.append(Candidate(letter, label, str(name), varied, scenario))
    if len(out) < 2:
        raise ScenarioError("compares two designs or more: give a second scenario file or "
                            "--vary KEY=V1,V2", field="compare")
    return out


@dataclass(frozen=True)
class Comparison:
    """The designs compared and each one's result (in the same order).

    Returned by ``compare``; ``to_dict()`` is the JSON of ``simulate
    compare --format json`` and ``summary()`` its table.

    Attributes
    ----------
    designs : tuple of Candidate
        Each design's letter (``A``, ``B``, ...), label, source, the values
        it varies and its validated ``scenario``.
    results : tuple of PlanResult
        Each design's result: bit for bit its single run.

    Examples
    --------
    >>> import simulator
    >>> c = simulator.compare("severe", vary={"analysis.test": ["fisher", "boschloo"]})
    >>> c
    <Comparison of 2 designs: A 24 + 24 (analysis.test=fisher); B 21 + 21 (analysis.test=boschloo); fewest women: B>
    >>> [r.reported.n_control for r in c.results]
    [24, 21]
    >>> c.to_dict()["comparison"]["fewest_women"]
    ['B']
    """
    designs: tuple[Candidate, ...]
    results: tuple[PlanResult, ...]

    def __iter__(self):
        return iter(zip(self.designs, self.results))

    @functools.cached_property
    def rows(self) -> list[dict]:
        """Each design's figures as a flat mapping (:func:`design_row`)."""
        return [design_row(d.letter, d.label, r) for d, r in self]

    def __repr__(self) -> str:
        parts = [f"{d.letter} {r.reported.n_control:,} + {r.reported.n_treatment:,} "
                 f"({', '.join(f'{k}={shown(v, k)}' for k, v in d.varied.items()) or d.label})"
                 for d, r in self]
        return (f"<Comparison of {len(self.designs)} designs: {'; '.join(parts)}; fewest "
                f"women: {', '.join(fewest(self))}>")

    def summary(self) -> str:
        """The text table ``simulate compare`` prints: the designs side by
        side and the paragraph saying which needs the fewest women.

        Examples
        --------
        >>> import simulator
        >>> c = simulator.compare("severe", vary={"dropout": [0.1, 0.2]})
        >>> print(c.summary().splitlines()[0])
        Designs compared
        """
        from ..report.notebook import comparison_summary
        return comparison_summary(self)

    def plot(self) -> dict:
        """Every design's power curve on one figure.

        Returns
        -------
        dict
            ``{"power_curves": matplotlib.figure.Figure}``, shown in a
            notebook as the figure.
        """
        from ..report.notebook import comparison_plot
        return comparison_plot(self)

    def _repr_html_(self) -> str:
        """The paragraph, the table and the power curves: a self-contained HTML fragment."""
        from ..report.notebook import comparison_html
        return comparison_html(self)

    def save(self, out_dir) -> list[str]:
        """Write the comparison's report, results.json and comparison.csv into
        ``out_dir`` (as ``simulate compare --out``); returns the names."""
        from ..report.outputs import write
        return write(self, out_dir)

    def to_dict(self) -> dict:
        """``designs``: each design's results as its single run gives them;
        ``comparison``: the letters, labels and varied values, the rows
        of the side-by-side table and the paragraph."""
        from ..report.comparison import paragraph
        return {"comparison": {
                    "designs": [{"design": d.letter, "label": d.label, "source": d.source,
                                 "varied": d.varied_json()} for d in self.designs],
                    "fewest_women": fewest(self),
                    "table": [dict(row) for row in summary_rows(self)],
                    "paragraph": paragraph(self)},
                "designs": [r.to_dict() for r in self.results]}


def _design_task(scenario: Scenario, cache_directory) -> tuple[PlanResult, tuple[int, int, int]]:
    """One design in a task of its own (a worker process opens the cache itself)."""
    exit_with_parent()
    with configured(cache=cache_directory):
        result, cache = run(scenario), active_cache()
        return result, ((0, 0, 0) if cache is None
                        else (cache.reused, cache.chunks, cache.recomputed))


def compare(candidates: Sequence[Candidate], jobs: int = 1, **execution) -> Comparison:
    """Plan every design; ``jobs`` designs at a time on this machine (on a dask
    cluster, one after the other, each spreading its chunks over the
    cluster).  ``execution``: ``backend``, ``scheduler``, ``cache`` as for
    :func:`~.run.run`."""
    candidates = list(candidates)
    with configured(jobs=jobs, **execution) as workers:
        if on_cluster():
            results = [run(c.scenario, jobs=workers) for c in candidates]
        else:
            cache = active_cache()
            directory = None if cache is None else cache.directory
            tasks = (delayed(_design_task)(c.scenario, directory) for c in candidates)
            done = run_tasks(tasks, min(workers, len(candidates)), [1] * len(candidates),
                             "designs")
            if cache is not None:
                cache.count(sum(c[0] for _, c in done), sum(c[1] for _, c in done))
                cache.recomputed += sum(c[2] for _, c in done)
            results = [r for r, _ in done]
    return Comparison(tuple(candidates), tuple(results))


# ------------------------------------------------------------ the designs' figures

def _recruitment(result: PlanResult):
    """(recruitment model, target months, target probability) of a design, or Nones."""
    s = result.scenario
    holder = s.patient if s.patient is not None else s
    return holder.recruitment, holder.target_months, holder.target_probability


def _kind(result: PlanResult) -> str:
    if result.patient is not None:
        return "patient-level"
    sq = result.sequential
    if sq is not None and len(sq.looks) > 1:
        return f"group-sequential, {len(sq.looks)} looks"
    return "fixed"


def _type_one(result: PlanResult) -> tuple[float, float]:
    """The type I error at the proposed size and its Monte Carlo standard error."""
    if result.patient is not None:
        primary = result.patient.analysis(result.patient.primary)
        return result.type_one_error, primary.type_one_error_se
    if result.sequential is not None:
        oc = result.sequential.operating[result.sequential.type_one_error_key]
        return result.type_one_error, oc.power_se
    return result.type_one_error, 0.0


def design_row(letter: str, label: str, result: PlanResult) -> dict:
    """One design's figures as a flat mapping (a row of comparison.csv, an
    entry of the JSON's ``comparison.table``)."""
    s, rep = result.scenario, result.reported
    r_c, r_t = result.to_randomise(rep)
    t1, t1_se = _type_one(result)
    m = result.type_one_error_max
    row = {"design": letter, "label": label, "scenario": s.name, "model": "table" if s.patient is None else "patient",
           "kind": _kind(result), "test": s.analysis.test, "sided": s.analysis.sided,
           "alpha": s.analysis.alpha, "control_rate": s.control.rate,
           "treatment_rate": s.treatment.rate, "target_power": s.target_power,
           "rates_from": "point" if s.control.planning_from == s.treatment.planning_from
           == "point" else f"{s.control.planning_from}, {s.treatment.planning_from}",
           "dropout": s.dropout, "method": result.method,
           "proposed": result.proposed, "target_assurance": s.target_assurance,
           "futility_overruled": result.sequential is not None
           and result.sequential.type_one_error_key != "null",
           "n_control": rep.n_control, "n_treatment": rep.n_treatment,
           "n_total": rep.n_control + rep.n_treatment,
           "n_control_randomised": r_c, "n_treatment_randomised": r_t,
           "n_total_randomised": r_c + r_t,
           "power": rep.power, "power_se": rep.power_se,
           "assurance": rep.assurance, "assurance_se": rep.assurance_se,
           "expected_randomised_planning": None, "expected_randomised_null": None,
           "type_one_error": t1, "type_one_error_se": t1_se,
           "type_one_error_max": None if m is None else m.value,
           "type_one_error_max_rate": None if m is None else m.rate,
           "months_to_enrol": None, "months_to_enrol_low80": None, "months_to_enrol_high80": None,
           "months_to_last_outcome": None, "target_months": None,
           "target_probability": None, "centres_needed": None,
           "cost": None, "expected_cost_planning": None, "expected_cost_null": None,
           "currency": None}
    cost = result.cost
    if cost is not None:
        row.update(cost=cost["total"], expected_cost_planning=cost.get("expected_total_planning"),
                   expected_cost_null=cost.get("expected_total_null"), currency=cost["currency"])
    row["expected_randomised_planning"] = result.expected_randomised("planning")
    row["expected_randomised_null"] = result.expected_randomised("null")
    rec, months, probability = _recruitment(result)
    if rec is not None:
        d = duration(rec, r_c + r_t)
        row.update(months_to_enrol=d.enrol_median,
                   months_to_enrol_low80=d.enrol_interval80[0],
                   months_to_enrol_high80=d.enrol_interval80[1],
                   months_to_last_outcome=d.last_outcome_median)
        if months is not None:
            row.update(target_months=months, target_probability=probability)
            row["centres_needed"] = centres_needed(rec, r_c + r_t, months, probability)
    return row


def summary_rows(comparison: Comparison) -> list[dict]:
    """Every design's row, in column order (computed once per comparison)."""
    return comparison.rows


def exceeds_alpha(row: dict) -> bool:
    """Does a design's type I error exceed its alpha: its maximum over the
    common rate, or at the control rate beyond its Monte Carlo error?"""
    m, se = row["type_one_error_max"], row["type_one_error_se"]
    return ((m is not None and m > row["alpha"])
            or row["type_one_error"] - 1.96 * se > row["alpha"])


def fewest(comparison: Comparison) -> list[str]:
    """The letters of the designs that randomise the fewest women (at most),
    among those that keep their type I error within alpha (all, if none
    does)."""
    rows = summary_rows(comparison)
    valid = [r for r in rows if not exceeds_alpha(r)] or rows
    least = min(r["n_total_randomised"] for r in valid)
    return [r["design"] for r in valid if r["n_total_randomised"] == least]
