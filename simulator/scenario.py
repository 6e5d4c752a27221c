"""Scenario files: load, validate, and hold as frozen dataclasses.

The schema is declared once, as data (``SCHEMA``), and drives validation,
defaults, unknown-key suggestions and the README's scenario reference.  Every
rule violation raises :class:`ScenarioError` with the dotted field path.
"""
from __future__ import annotations

import copy
import difflib
import hashlib
import json
import math
import os
import re
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Mapping

import yaml

from .errors import ScenarioError

DEFAULT_SCENARIO = "severe.yaml"
MAX_FILE_BYTES = 1_000_000
MAX_N_SIMS = 100_000_000
MAX_CONTROL_LIMIT = 100_000
MAX_ARM_SIZE = 1_000_000
DEFAULT_SEED = 20240216


# --------------------------------------------------------------------------- rules
@dataclass(frozen=True)
class Rule:
    """One scalar key: its default (``REQUIRED`` if none), a description for the
    README, and a checker that returns the normalised value or raises."""
    default: Any
    doc: str
    check: Callable[[Any], Any]


REQUIRED = object()


class _Bad(Exception):
    """Raised by checkers with the rule text; the loader adds field and value."""


def _describe(value: Any) -> str:
    if isinstance(value, str):
        hint = ""
        try:
            float(value)
            if re.fullmatch(r"[-+]?\d+[eE][-+]?\d+", value.strip()):
                hint = f" (a string: YAML reads {value} as text; write it with a decimal point, e.g. 1.0e-3)"
            else:
                hint = " (a string; write the number without quotes)"
        except ValueError:
            pass
        return f"{value!r}{hint}"
    if isinstance(value, (dict, list)):
        return f"a {'mapping' if isinstance(value, dict) else 'list'}"
    return repr(value)


def _as_number(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _Bad("must be a number")
    if not math.isfinite(value):
        raise _Bad("must be a finite number")
    return value


def _as_int(value):
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Bad("must be a whole number")
    return value


def number(lo: float, hi: float, lo_open=False, hi_open=False, what="a number"):
    left, right = "(" if lo_open else "[", ")" if hi_open else "]"
    rule = f"must be {what} in {left}{lo:g}, {hi:g}{right}"

    def check(value):
        try:
            v = float(_as_number(value))
        except _Bad:
            raise _Bad(rule)
        if v < lo or v > hi or (lo_open and v == lo) or (hi_open and v == hi):
            raise _Bad(rule)
        return v + 0.0          # -0.0 becomes 0.0
    return check


def integer(lo: int, hi: int):
    rule = f"must be a whole number from {lo:,} to {hi:,}"

    def check(value):
        try:
            v = _as_int(value)
        except _Bad:
            raise _Bad(rule)
        if not lo <= v <= hi:
            raise _Bad(rule)
        return v
    return check


def optional(check):
    def inner(value):
        return None if value is None else check(value)
    return inner


def choice(*options: str):
    rule = "must be one of " + ", ".join(options)

    def check(value):
        if isinstance(value, str) and value in options:
            return value
        raise _Bad(rule)
    return check


def text(pattern: str | None = None, rule: str = "must be text"):
    def check(value):
        if isinstance(value, (int, float)) and not isinstance(value, bool) and pattern is None:
            value = str(value)
        if not isinstance(value, str) or (pattern and not re.fullmatch(pattern, value)):
            raise _Bad(rule)
        return value
    return check


PROBABILITY = number(0.0, 1.0, what="a probability")


def _arm(label: str) -> dict:
    return {
        "label": Rule(label, "name of the arm in tables and the report", optional(text())),
        "rate": Rule(REQUIRED, "true live-birth rate per woman randomised (planning value)",
                     PROBABILITY),
    }


SCHEMA: dict = {
    "name": Rule(REQUIRED, "identifier (letters, digits, `_`, `-`, `.`)",
                 text(r"[A-Za-z0-9_.\-]+", "must be an identifier of letters, digits, _ . -")),
    "title": Rule(None, "one-line title", optional(text())),
    "source": Rule(None, "where the planning rates come from (citation and counts)",
                   optional(text())),
    "endpoint": Rule("live birth per woman randomised", "primary endpoint wording",
                     text()),
    "arms": {
        "control": _arm("Control"),
        "treatment": _arm("Treatment"),
    },
    "allocation": Rule(1.0, "treatment:control ratio; treatment size = round(allocation x control size)",
                       number(0.05, 20.0, what="a ratio")),
    "analysis": {
        "test": Rule("fisher", "fisher | z_pooled | z_unpooled | chi2_yates",
                     choice("fisher", "z_pooled", "z_unpooled", "chi2_yates")),
        "alpha": Rule(0.05, "significance level (for the chosen sidedness)",
                      number(0.0, 0.5, lo_open=True, what="a level")),
        "sided": Rule("two", "two | one (one-sided: treatment better than control)",
                      choice("two", "one")),
    },
    "target_power": Rule(0.90, "power the sample size must reach",
                         number(0.0, 1.0, lo_open=True, hi_open=True, what="a probability")),
    "dropout": Rule(0.0, "share of randomised women with no primary outcome",
                    number(0.0, 1.0, hi_open=True, what="a share")),
    "sample_size": {
        "n_control": Rule(None, "evaluate power at this control-arm size instead of searching",
                          optional(integer(1, MAX_CONTROL_LIMIT))),
        "max_control": Rule(5000, "upper bound of the control-arm size search",
                            integer(1, MAX_CONTROL_LIMIT)),
    },
    "simulation": {
        "method": Rule("auto", "auto | exact | monte_carlo", choice("auto", "exact", "monte_carlo")),
        "n_sims": Rule(10_000, "simulated trials per evaluated size (Monte Carlo)",
                       integer(100, MAX_N_SIMS)),
        "seed": Rule(DEFAULT_SEED, "root seed of numpy's SeedSequence",
                     integer(0, 2**63 - 1)),
    },
}


# --------------------------------------------------------------------- dataclasses
@dataclass(frozen=True)
class Arm:
    label: str
    rate: float


@dataclass(frozen=True)
class Analysis:
    test: str
    alpha: float
    sided: str


@dataclass(frozen=True)
class SampleSize:
    n_control: int | None
    max_control: int


@dataclass(frozen=True)
class Simulation:
    method: str
    n_sims: int
    seed: int


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str | None
    source: str | None
    endpoint: str
    control: Arm
    treatment: Arm
    allocation: float
    analysis: Analysis
    target_power: float
    dropout: float
    sample_size: SampleSize
    simulation: Simulation
    file: str | None = None

    def to_dict(self) -> dict:
        """The validated scenario in the file's own shape (defaults filled in)."""
        d = asdict(self)
        d.pop("file")
        d["arms"] = {"control": d.pop("control"), "treatment": d.pop("treatment")}
        return d

    @property
    def digest(self) -> str:
        """SHA-256 (first 12 hex digits) of the validated scenario: what reproduces a run."""
        blob = json.dumps(self.to_dict(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:12]


# -------------------------------------------------------------------------- loading
def bundled_scenarios() -> list[str]:
    """File names of the scenarios shipped with the package."""
    root = resources.files("scenarios")
    return sorted(p.name for p in root.iterdir() if p.name.endswith(".yaml"))


def resolve_path(spec: str | os.PathLike) -> Path:
    """A path that exists is read as a path; a bare name (with or without
    ``.yaml``) that is not one names a bundled scenario."""
    path = Path(spec)
    if path.exists():
        return path
    name = str(spec)
    if os.sep not in name and "/" not in name:
        candidate = name if name.endswith((".yaml", ".yml")) else name + ".yaml"
        bundled = resources.files("scenarios") / candidate
        if bundled.is_file():
            return Path(str(bundled))
        known = ", ".join(bundled_scenarios())
        raise ScenarioError(f"no such file, and no bundled scenario of that name "
                            f"(bundled: {known})", file=name)
    raise ScenarioError("no such file", file=name)


class _SafeLoaderNoDuplicates(yaml.SafeLoader):
    """``yaml.safe_load``'s loader, except that a key given twice in one mapping
    is an error instead of the last value silently winning."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, float, bool)):
                continue        # unhashable keys: the base loader reports them
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: Path) -> Any:
    label = path.name
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ScenarioError(f"file is larger than {MAX_FILE_BYTES:,} bytes", file=label)
        text_ = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ScenarioError(f"cannot read the file: {err}", file=label) from None
    try:
        return yaml.load(text_, Loader=_SafeLoaderNoDuplicates)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or "invalid YAML"
        raise ScenarioError(f"YAML syntax error{where}: {problem}", file=label) from None


def load_scenario(source: str | os.PathLike | Mapping = DEFAULT_SCENARIO,
                  overrides: Mapping[str, Any] | None = None) -> Scenario:
    """Load and validate a scenario.

    ``source`` is a path, a bundled scenario's name, or a mapping in the file's
    shape.  ``overrides`` maps dotted keys (``"simulation.n_sims"``) to values
    that replace the file's before validation.
    """
    if isinstance(source, Mapping):
        raw, label = copy.deepcopy(dict(source)), None
    else:
        path = resolve_path(source)
        raw, label = read_yaml(path), path.name
    try:
        if not isinstance(raw, dict):
            raise ScenarioError("must be a mapping of keys to values at the top level; "
                                f"got {_describe(raw) if raw is not None else 'an empty file'}")
        for key, value in (overrides or {}).items():
            _set_dotted(raw, key, value)
        return _build(_validate(raw, SCHEMA, ""), label)
    except ScenarioError as err:
        if overrides and err.field in overrides:
            label = f"{label or 'scenario'} (value from the command line or overrides)"
        raise err.in_file(label) if label else err


def _set_dotted(raw: dict, dotted: str, value: Any) -> None:
    node, schema = raw, SCHEMA
    parts = dotted.split(".")
    for i, part in enumerate(parts):
        path = ".".join(parts[: i + 1])
        if not isinstance(schema, dict) or part not in schema:
            options = list(schema) if isinstance(schema, dict) else []
            raise ScenarioError(_unknown(part, options), field=path)
        schema = schema[part]
        if i == len(parts) - 1:
            node[part] = value
        else:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise ScenarioError(f"must be a mapping; got {_describe(child)}", field=path)
            node = child


def _unknown(key: Any, options: list[str]) -> str:
    near = difflib.get_close_matches(str(key), options, n=1, cutoff=0.5)
    hint = f"; did you mean `{near[0]}`?" if near else f"; known keys: {', '.join(options)}"
    return f"is not a known key{hint}"


def _validate(raw: Any, schema: dict, prefix: str) -> dict:
    out = {}
    for key in raw:
        if key not in schema:
            raise ScenarioError(_unknown(key, list(schema)), field=prefix + str(key))
    for key, spec in schema.items():
        path = prefix + key
        if isinstance(spec, dict):
            value = raw.get(key)
            if value is None:
                if key == "arms":
                    raise ScenarioError("is required (a mapping with `control` and `treatment`)",
                                        field=path)
                value = {}
            if not isinstance(value, dict):
                raise ScenarioError(f"must be a mapping; got {_describe(value)}", field=path)
            out[key] = _validate(value, spec, path + ".")
            continue
        if key not in raw or (raw[key] is None and spec.default is not REQUIRED):
            if spec.default is REQUIRED:
                raise ScenarioError("is required", field=path)
            out[key] = spec.default
            continue
        try:
            out[key] = spec.check(raw[key])
        except _Bad as bad:
            raise ScenarioError(f"{bad}; got {_describe(raw[key])}", field=path) from None
    return out


def _build(v: dict, label: str | None) -> Scenario:
    if v["target_power"] <= v["analysis"]["alpha"]:
        raise ScenarioError(f"must be above `analysis.alpha` ({v['analysis']['alpha']:g}); "
                            f"got {v['target_power']:g}", field="target_power")
    for key in ("n_control", "max_control"):
        m = v["sample_size"][key]
        if m is not None and round(v["allocation"] * m) > MAX_ARM_SIZE:
            raise ScenarioError(f"gives a treatment arm of round({v['allocation']:g} x {m:,}) "
                                f"women, above the limit of {MAX_ARM_SIZE:,}",
                                field=f"sample_size.{key}")
    return Scenario(
        name=v["name"], title=v["title"], source=v["source"], endpoint=v["endpoint"],
        control=Arm(**v["arms"]["control"]), treatment=Arm(**v["arms"]["treatment"]),
        allocation=v["allocation"], analysis=Analysis(**v["analysis"]),
        target_power=v["target_power"], dropout=v["dropout"],
        sample_size=SampleSize(**v["sample_size"]), simulation=Simulation(**v["simulation"]),
        file=label,
    )
