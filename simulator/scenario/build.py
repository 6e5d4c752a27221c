"""Scenario files: load, validate, and hold as frozen dataclasses.

The schema is declared once, as data (``SCHEMA``), and drives validation,
defaults, unknown-key suggestions and the README's scenario reference.  Every
rule violation raises :class:`ScenarioError` with the dotted field path.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import yaml

from ..errors import ScenarioError
from .interim import APPLIES, BAYESIAN, INTERIM, Interim, interim_of, resolved_efficacy
from .patients import (arm_shares_value, block_sizes_value, covariates_value,
                           dropout_value, names_value, positive_numbers_value, strata_value)
from ..models.population import Covariate, PatientModel, Stratum
from .priors import effect_of, effect_value, prior_of, rate_value
from ..models.priors import BetaMixture, Effect, RateModel
from ..models.recruitment import Recruitment
from .source import Source, source_of, source_value
from .rules import (PROBABILITY, REQUIRED, Bad, Rule, choice, describe, integer, number,
                    optional, text, texts, unknown_key as _unknown)

DEFAULT_SCENARIO = "severe.yaml"
MAX_FILE_BYTES = 1_000_000
MAX_N_SIMS = 100_000_000
MAX_CONTROL_LIMIT = 100_000
MAX_ARM_SIZE = 1_000_000
MIN_ALPHA = 1e-16           # below, 1 - alpha is 1 in double precision
MAX_DEPTH = 50              # levels of nested mappings and lists
MAX_VALUES = 100_000        # values (scalars, mappings, lists), each use of an anchor counted
DEFAULT_SEED = 20240216
MIN_CONFIRM = 1_000         # fewer simulated trials confirm nothing


def confirm_value(value):
    rule = f"must be 0 (no confirmation) or a whole number from {MIN_CONFIRM:,} to {MAX_N_SIMS:,}"
    try:
        count = integer(0, MAX_N_SIMS)(value)
    except Bad:
        raise Bad(rule) from None
    if 0 < count < MIN_CONFIRM:
        raise Bad(rule)
    return count


def _arm(label: str, relative: bool) -> dict:
    arm = {
        "label": Rule(label, "name of the arm in tables and the report", optional(text())),
        "rate": Rule(None, "true live-birth rate per woman randomised: a probability (point "
                     "planning value) or a prior (`{events, n, discount, initial_beta}`, "
                     "`{beta: [a, b]}`, `{mixture: [...], weights: [...]}`); required unless "
                     "`population.strata` gives the rates", optional(rate_value), nested=True),
        "planning_rate": Rule(None, "planning value used for power when `rate` or `effect` is a "
                              "prior (default: the prior mean)", optional(PROBABILITY)),
    }
    if relative:
        arm["effect"] = Rule(None, "instead of `rate`: the treatment relative to control, "
                             "`{odds_ratio | risk_ratio | risk_difference: x, ci95: [lo, hi], "
                             "shrink: s}`", optional(effect_value), nested=True)
    return arm


SCHEMA: dict = {
    "name": Rule(REQUIRED, "identifier (letters, digits, `_`, `-`, `.`)",
                 text(r"[A-Za-z0-9_.\-]+", "must be an identifier of letters, digits, _ . -")),
    "title": Rule(None, "one-line title", optional(text())),
    "source": Rule(None, "where the planning rates come from: one line of text (a citation), "
                   "or `{citation, design, observed, effect}`: the study, its design in words "
                   "(`a retrospective single-centre cohort`), the live births it observed per "
                   "arm (`observed: {control: {events, n}, treatment: {events, n}}`, per "
                   "stratum with `population.strata`) and where `arms.treatment.effect` comes "
                   "from; the report then says of each rate whether it is observed, assumed "
                   "or a prior", optional(source_value), nested=True),
    "references": Rule((), "full citations of the sources, listed first in the report's "
                       "references", texts("must be a list of citations (text)")),
    "endpoint": Rule("live birth per woman randomised", "primary endpoint wording",
                     text()),
    "arms": {
        "control": _arm("Control", relative=False),
        "treatment": _arm("Treatment", relative=True),
    },
    "allocation": Rule(1.0, "treatment:control ratio; treatment size = round(allocation x control size)",
                       number(0.05, 20.0, what="a ratio")),
    "analysis": {
        "test": Rule("fisher", "fisher | z_pooled | z_unpooled | chi2_yates | bayesian "
                     "(posterior probability that the treatment rate is higher, "
                     "`analysis.bayesian`)",
                     choice("fisher", "z_pooled", "z_unpooled", "chi2_yates", "bayesian")),
        "alpha": Rule(0.05, "significance level (for the chosen sidedness)",
                      number(0.0, 0.5, lo_open=True, what="a level")),
        "sided": Rule("two", "two | one (one-sided: treatment better than control)",
                      choice("two", "one")),
        "primary": Rule("pooled", "patient-level model: the analysis the sample size is for, "
                        "`pooled` (`analysis.test` on the pooled 2x2 table) | `cmh` "
                        "(Cochran-Mantel-Haenszel by stratum) | `logistic` (regression on arm "
                        "and `analysis.adjust`)", choice("pooled", "cmh", "logistic")),
        "adjust": Rule(None, "patient-level model: what the logistic regression adjusts for "
                       "besides the arm, `stratum` and covariate names (default: all of them)",
                       optional(names_value)),
        "logistic_test": Rule("wald", "wald | likelihood_ratio: the logistic regression's test "
                              "of the arm", choice("wald", "likelihood_ratio")),
        "bayesian": BAYESIAN,
    },
    "interim": INTERIM,
    "model": Rule("table", "table | patient: `table` analyses the trial on its 2x2 table, "
                  "exactly where it can; `patient` simulates women one by one (strata, "
                  "covariates, centres, randomisation, recruitment, adherence, outcomes, "
                  "dropout as failure, adjusted analyses), which those keys need",
                  choice("table", "patient")),
    "target_power": Rule(0.90, "power the sample size must reach",
                         number(0.0, 1.0, lo_open=True, hi_open=True, what="a probability")),
    "target_assurance": Rule(None, "assurance (power averaged over the priors) the sample size "
                             "should reach; needs a prior", optional(
                                 number(0.0, 1.0, lo_open=True, hi_open=True, what="a probability"))),
    "mcid": Rule(None, "minimal clinically important difference in live-birth rates (treatment "
                 "minus control): report its prior probability", optional(
                     number(0.0, 1.0, lo_open=True, hi_open=True, what="a risk difference"))),
    "dropout": Rule(0.0, "share of randomised women with no primary outcome, or `{share, "
                    "handling}` with handling `complete_case` (analysed without them; the sizes "
                    "are inflated to randomise) or `as_failure` (intention to treat: counted "
                    "as no live birth; patient-level model)", dropout_value, nested=True),
    "population": {
        "strata": Rule(None, "named strata, `{name: {share, control, treatment | effect}}`: "
                       "population-average live-birth rates (numbers or priors) per stratum, "
                       "shares summing to 1; replaces the arms' rates", optional(strata_value),
                       nested=True),
        "covariates": Rule(None, "named prognostic covariates, `{name: {distribution: normal | "
                           "truncated_normal | categorical, ...}}` with their effect on the "
                           "log-odds of live birth", optional(covariates_value), nested=True),
    },
    "randomisation": {
        "method": Rule("fixed", "`fixed` (exactly the planned arm sizes) | `simple` (a coin "
                       "per woman) | `block` (permuted blocks) | `stratified_block` (permuted "
                       "blocks within each stratum and centre)",
                       choice("fixed", "simple", "block", "stratified_block")),
        "block_sizes": Rule(None, "block sizes, one drawn at random for each block (default: "
                            "the smallest block that holds the allocation, and twice it)",
                            optional(block_sizes_value)),
    },
    "centres": {
        "number": Rule(1, "number of centres", integer(1, 1000)),
        "relative_rates": Rule(None, "relative recruitment rate of each centre, one per centre "
                               "(default: equal)", optional(positive_numbers_value)),
        "sd_log_odds": Rule(0.0, "between-centre SD of the log-odds of live birth (random "
                            "intercepts)", number(0.0, 3.0, what="a standard deviation")),
    },
    "recruitment": {
        "per_centre_month": Rule(None, "women randomised per month at an average centre at full "
                                 "rate (Poisson)", optional(number(0.0, 1e4, lo_open=True,
                                                                   what="a rate"))),
        "ramp_up_months": Rule(0.0, "months of linear ramp-up from the start to the full rate",
                               number(0.0, 600.0, what="a duration")),
        "follow_up_months": Rule(0.0, "months from randomisation to the primary outcome",
                                 number(0.0, 600.0, what="a duration")),
        "target_months": Rule(None, "enrolment should be complete within this many months: "
                              "report the centres needed", optional(
                                  number(0.0, 6000.0, lo_open=True, what="a duration"))),
        "target_probability": Rule(0.8, "probability with which enrolment must finish within "
                                   "`recruitment.target_months`",
                                   number(0.0, 1.0, lo_open=True, hi_open=True,
                                          what="a probability")),
    },
    "adherence": {
        "treatment_not_receiving": Rule(0.0, "share of the treatment arm not receiving IVIg "
                                        "(analysed as randomised)",
                                        number(0.0, 1.0, hi_open=True, what="a share")),
        "control_receiving": Rule(0.0, "share of the control arm receiving IVIg outside the "
                                  "trial (analysed as randomised)",
                                  number(0.0, 1.0, hi_open=True, what="a share")),
    },
    "outcomes": {
        "miscarriage": Rule(None, "`{control: p, treatment: p}`: probability that a woman "
                            "without a live birth had a miscarriage (the rest: transfer "
                            "failure); reports the three outcomes' rates per arm",
                            optional(arm_shares_value), nested=True),
    },
    "sample_size": {
        "n_control": Rule(None, "evaluate power at this control-arm size instead of searching",
                          optional(integer(1, MAX_CONTROL_LIMIT))),
        "max_control": Rule(5000, "upper bound of the control-arm size search",
                            integer(1, MAX_CONTROL_LIMIT)),
        "propose": Rule(None, "power | assurance | larger: the size the report proposes when "
                        "both targets are set: the power answer, the assurance answer, or the "
                        "larger of the two, which meets both targets (default: larger when "
                        "`target_assurance` is given, else power)",
                        optional(choice("power", "assurance", "larger"))),
    },
    "simulation": {
        "method": Rule("auto", "auto | exact | monte_carlo", choice("auto", "exact", "monte_carlo")),
        "n_sims": Rule(10_000, "simulated trials per evaluated size (Monte Carlo)",
                       integer(100, MAX_N_SIMS)),
        "seed": Rule(DEFAULT_SEED, "root seed of numpy's SeedSequence",
                     integer(0, 2**63 - 1)),
        "confirm": Rule(100_000, "simulated trials that confirm an exact answer at the "
                        f"proposed size (0: none; else {MIN_CONFIRM:,} to {MAX_N_SIMS:,})",
                        confirm_value),
    },
}


# --------------------------------------------------------------------- dataclasses
@dataclass(frozen=True)
class Arm:
    label: str
    rate: float                       # planning value: the point rate, `planning_rate`,
                                      # or the prior mean (median effect for `effect`)
    prior: BetaMixture | None = None  # design prior of the rate; None: a point rate
    planning_from: str = "point"      # point | planning_rate | prior mean | effect


@dataclass(frozen=True)
class Analysis:
    test: str
    alpha: float
    sided: str
    primary: str = "pooled"
    adjust: tuple | None = None
    logistic_test: str = "wald"


@dataclass(frozen=True)
class SampleSize:
    n_control: int | None
    max_control: int
    propose: str = "power"          # power | assurance | larger (the default resolved)


@dataclass(frozen=True)
class Simulation:
    method: str
    n_sims: int
    seed: int
    confirm: int = 0                # simulated trials confirming an exact answer (0: none)


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
    effect: Effect | None = None          # treatment relative to control, if so given
    target_assurance: float | None = None
    mcid: float | None = None
    inputs: str = "{}"                    # the validated mapping, canonical JSON
    overridden: tuple = ()                # dotted keys whose values came from overrides
    patient: PatientModel | None = None   # the patient-level model, if the scenario needs one
    interim: Interim | None = None        # interim looks or a Bayesian rule (2x2 table)
    recruitment: Recruitment | None = None    # with `interim`: when the looks happen
    references: tuple[str, ...] = ()      # full citations of the sources
    source_detail: Source | None = None   # `source` as given: citation, design, observed counts

    def source_of(self, field: str | None) -> str | None:
        """How an error about ``field`` names its origin (see :func:`_source_label`)."""
        return _source_label(self.file, self.overridden, field)

    def to_dict(self) -> dict:
        """The validated scenario in the file's own shape (defaults filled in)."""
        return json.loads(self.inputs)

    def override(self, overrides: Mapping[str, Any]) -> "Scenario":
        """This scenario with values replaced by dotted key (as ``--set``),
        validated again: ``s.override({"arms.control.rate": 0.25})``."""
        if not isinstance(overrides, Mapping):
            raise ScenarioError(f"must map dotted keys to values; got {overrides!r}",
                                field="overrides")
        new = load_scenario(self.to_dict(), overrides)
        # what earlier overrides set stays theirs (the report says so of a rate)
        return replace(new, overridden=tuple(dict.fromkeys(self.overridden + new.overridden)))

    @property
    def rate_model(self) -> RateModel:
        return RateModel(self.control.rate, self.control.prior, self.treatment.rate,
                         self.treatment.prior, self.effect)

    @property
    def has_prior(self) -> bool:
        """Whether any rate is uncertain (a prior), so that assurance differs from power."""
        if self.patient is not None:
            return not self.patient.is_point
        return not self.rate_model.is_point

    @property
    def digest(self) -> str:
        """SHA-256 (first 12 hex digits) of the validated scenario: what reproduces a run."""
        blob = json.dumps(self.to_dict(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:12]


# -------------------------------------------------------------------------- loading
def _bundled_root():
    """The bundled scenarios: package data ``simulator.scenarios`` when
    installed (setuptools maps the repository's ``scenarios/`` there), the
    repository's ``scenarios/`` when the package runs from a checkout."""
    try:
        return resources.files("simulator.scenarios")
    except ModuleNotFoundError:
        return Path(__file__).resolve().parents[2] / "scenarios"


def bundled_scenarios() -> list[str]:
    """File names of the scenarios shipped with the package."""
    root = _bundled_root()
    return sorted(p.name for p in root.iterdir() if p.name.endswith(".yaml"))


def resolve_path(spec: str | os.PathLike) -> Path:
    """A path that exists is read as a path; a bare name (with or without
    ``.yaml``) that is not one names a bundled scenario."""
    name = str(spec)
    shown = name if len(name) <= 100 else name[:97] + "..."
    try:
        path = Path(spec)
        if path.exists():
            return path
        if os.sep not in name and "/" not in name:
            candidate = name if name.endswith((".yaml", ".yml")) else name + ".yaml"
            bundled = _bundled_root() / candidate
            if bundled.is_file():
                return Path(str(bundled))
            known = ", ".join(bundled_scenarios())
            raise ScenarioError(f"no such file, and no bundled scenario of that name "
                                f"(bundled: {known})", file=shown)
    except ScenarioError:
        raise
    except (OSError, ValueError, TypeError) as err:   # a name too long, a NUL character
        raise ScenarioError(f"cannot be used as a file name ({err})", file=shown) from None
    raise ScenarioError("no such file", file=shown)


class _Refused(yaml.MarkedYAMLError):
    """Valid YAML that no scenario can be: too deep, too large, a value Python
    cannot build."""


_TAG_WORDS = {"int": "a whole number", "float": "a number", "bool": "true or false",
              "timestamp": "a date", "null": "null", "binary": "binary data"}


class _SafeLoaderNoDuplicates(yaml.SafeLoader):
    """``yaml.safe_load``'s loader, except that a key given twice in one mapping
    is an error instead of the last value silently winning, nesting deeper
    than ``MAX_DEPTH`` stops the parse (before Python's recursion limit), and
    a value Python cannot build (a date like 2024-13-45, a whole number of
    thousands of digits) is a YAML error at its line.  Composing stops after
    ``MAX_VALUES`` nodes; aliases are counted by :func:`_check_size`."""

    _depth = 0
    _nodes = 0

    def compose_node(self, parent, index):
        self._depth += 1
        self._nodes += 1
        try:
            if self._depth > MAX_DEPTH + 1:     # + 1: the scalars inside the deepest list
                raise _Refused(None, None, f"nests values more than {MAX_DEPTH} levels deep",
                               self.peek_event().start_mark)
            if self._nodes > MAX_VALUES:        # stop parsing early (see _check_size)
                raise _Refused(None, None, f"has more than {MAX_VALUES:,} values, far more "
                               "than a scenario needs", self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_object(self, node, deep=False):
        try:
            return super().construct_object(node, deep=deep)
        except yaml.YAMLError:
            raise
        except Exception as err:     # PyYAML's constructors: `!!timestamp x`, `!!bool x`, ...
            if not isinstance(node, yaml.ScalarNode):
                raise
            shown = node.value if isinstance(node.value, str) else ""
            shown = shown if len(shown) <= 40 else shown[:37] + "..."
            kind = node.tag.rsplit(":", 1)[-1]
            kind = _TAG_WORDS.get(kind, f"`{node.tag}`")
            detail = f" ({err})" if kind == "a date" and isinstance(err, ValueError) else ""
            problem = ("has a whole number too large to read" if "digits" in str(err)
                       else f"cannot read {shown!r} as {kind}{detail}")
            raise _Refused(None, None, problem, node.start_mark) from None

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue        # `<<: *anchor`: merged by the base loader, explicit keys win
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, float, bool)):
                continue        # unhashable keys: the base loader reports them
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _check_size(root, children, where) -> None:
    """Refuse a value graph (YAML nodes or Python containers) that contains
    itself, nests deeper than ``MAX_DEPTH`` or holds more than ``MAX_VALUES``
    values when every shared part (a YAML alias, a Python object referenced
    twice) is counted each time it occurs: the expanded size, computed once
    per distinct part so that an alias bomb is measured, never expanded.
    ``children(x)`` lists a container's (label, part) pairs (None for a
    scalar); ``where(path)`` turns a dotted path into the error's field."""
    done: dict[int, tuple[int, int]] = {}       # id -> (expanded values, height)
    active: set[int] = set()

    def too_big(path):
        raise ScenarioError(f"has more than {MAX_VALUES:,} values (each use of a YAML anchor "
                            "or a shared object counts its values again); a scenario needs "
                            "far fewer", field=where(path))

    first = children(root)
    if first is None:
        return
    stack = [[root, "", iter(first), 1, 1]]      # object, path, parts left, values, height
    active.add(id(root))
    while stack:
        frame = stack[-1]
        obj, path, parts = frame[0], frame[1], frame[2]
        part = next(parts, _END)
        if part is _END:
            stack.pop()
            active.discard(id(obj))
            done[id(obj)] = (frame[3], frame[4])
            if stack:
                stack[-1][3] += frame[3]
                stack[-1][4] = max(stack[-1][4], frame[4] + 1)
                if stack[-1][3] > MAX_VALUES:
                    too_big(stack[-1][1])
            continue
        label, child = part
        sub = f"{path}.{label}" if path else str(label)
        parts_of = children(child)
        if parts_of is None:
            frame[3] += 1
        elif id(child) in active:
            raise ScenarioError("contains itself (a YAML alias inside its own anchor, or a "
                                "mapping or list that holds itself)", field=where(sub))
        elif id(child) in done:
            values, height = done[id(child)]
            frame[3] += values
            frame[4] = max(frame[4], height + 1)
            if len(stack) + height > MAX_DEPTH:
                raise ScenarioError(f"nests values more than {MAX_DEPTH} levels deep",
                                    field=where(sub))
        else:
            if len(stack) + 1 > MAX_DEPTH:
                raise ScenarioError(f"nests values more than {MAX_DEPTH} levels deep",
                                    field=where(sub))
            active.add(id(child))
            stack.append([child, sub, iter(parts_of), 1, 1])
            continue
        if frame[3] > MAX_VALUES:
            too_big(path)


_END = object()


def _node_parts(node):
    """Parts of a composed YAML node: (label, node) pairs, keys included."""
    if isinstance(node, yaml.MappingNode):
        out = []
        for key, value in node.value:
            label = key.value if isinstance(key, yaml.ScalarNode) else "?"
            out += [(label, key), (label, value)]
        return out
    if isinstance(node, yaml.SequenceNode):
        return list(enumerate(node.value))
    return None


def _python_parts(obj):
    """Parts of a Python value: (label, value) pairs, keys included."""
    if isinstance(obj, Mapping):
        out = []
        for key, value in obj.items():
            label = key if isinstance(key, str) else _scalar_label(key)
            out += [(label, key), (label, value)]
        return out
    if isinstance(obj, (list, tuple, set, frozenset)):
        return list(enumerate(obj))
    if isinstance(obj, np.ndarray):
        return enumerate(obj.flat)
    return None


def _scalar_label(key) -> str:
    if isinstance(key, int) and not isinstance(key, bool) and key.bit_length() > 64:
        return "<a large whole number>"
    return repr(key) if isinstance(key, (tuple, frozenset)) else str(key)


def _top(path: str) -> str | None:
    """The field an error about a whole value graph names: its first two keys."""
    return ".".join(path.split(".")[:2]) or None


def _check_numbers(root, prefix: str = "") -> None:
    """Refuse whole numbers beyond the range of a float anywhere (as keys or
    values): no scenario value is that large, and Python cannot even print
    one of more than 4,300 digits.  Called after :func:`_check_size`."""
    stack = [(prefix, root)]
    seen: set[int] = set()
    while stack:
        path, obj = stack.pop()
        if isinstance(obj, int) and not isinstance(obj, bool):
            if obj.bit_length() > 1024:
                raise ScenarioError(f"is a whole number of about "
                                    f"{int(obj.bit_length() * 0.30103):,} digits, beyond any "
                                    "scenario value (at most 308 digits)", field=path or None)
            continue
        parts = _python_parts(obj)
        if parts is None or id(obj) in seen:
            continue
        seen.add(id(obj))
        stack += [(f"{path}.{label}" if path else str(label), child) for label, child in parts]


def _check_value(value, prefix: str = "") -> None:
    """:func:`_check_size` and :func:`_check_numbers` of a Python value (a
    scenario mapping or an override's value)."""
    _check_size(value, _python_parts,
                lambda path: _top(f"{prefix}.{path}" if prefix and path else prefix or path))
    _check_numbers(value, prefix)


def _plain(value):
    """A copy of a checked Python value (:func:`_check_value`) in the shapes a
    YAML file gives: mappings as dicts, tuples and numpy arrays as lists,
    numpy scalars as Python numbers (``np.int64(500)`` is a whole number)."""
    if isinstance(value, Mapping):
        return {k.item() if isinstance(k, np.generic) else k: _plain(v)
                for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    return value            # a scalar (or something the rules refuse): never modified


def read_yaml(path: Path) -> Any:
    label = path.name
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):      # a FIFO or a device would block or never end
            raise ScenarioError("is not a regular file (a directory, FIFO or device); give a "
                                "scenario file", file=label)
        if info.st_size > MAX_FILE_BYTES:
            raise ScenarioError(f"file is larger than {MAX_FILE_BYTES:,} bytes", file=label)
        with path.open(encoding="utf-8") as handle:     # bounded: /dev/zero is not a file
            text_ = handle.read(MAX_FILE_BYTES + 1)
        if len(text_) > MAX_FILE_BYTES:
            raise ScenarioError(f"file is larger than {MAX_FILE_BYTES:,} bytes", file=label)
    except (OSError, UnicodeDecodeError) as err:
        raise ScenarioError(f"cannot read the file: {err}", file=label) from None
    try:
        return parse_yaml(text_)
    except ScenarioError as err:
        raise err.in_file(label) from None


def parse_yaml(text_: str) -> Any:
    """A YAML document as Python values, as ``yaml.safe_load`` reads it but
    hardened: duplicate keys, nesting deeper than ``MAX_DEPTH``, more than
    ``MAX_VALUES`` values with aliases expanded (an alias bomb, also through
    merge keys `<<`), an alias inside its own anchor and values PyYAML cannot
    build (`2024-13-45`) are :class:`ScenarioError`, raised before anything
    is expanded.  For scenario files and ``--set`` / ``--sweep`` values."""
    loader = None
    try:
        loader = _SafeLoaderNoDuplicates(text_)     # the reader refuses control characters
        node = loader.get_single_node()
        if node is None:
            return None
        _check_size(node, _node_parts, _top)
        return loader.construct_document(node)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or "invalid YAML"
        if isinstance(err, _Refused):
            raise ScenarioError(f"{problem}{where.replace(' at', ' (at', 1)}"
                                f"{')' * bool(where)}") from None
        raise ScenarioError(f"YAML syntax error{where}: {problem}") from None
    finally:
        if loader is not None:
            loader.dispose()


def load_scenario(source: str | os.PathLike | Mapping = DEFAULT_SCENARIO,
                  overrides: Mapping[str, Any] | None = None) -> Scenario:
    """Load and validate a scenario.

    ``source`` is a path, a bundled scenario's name, or a mapping in the file's
    shape.  ``overrides`` maps dotted keys (``"simulation.n_sims"``) to values
    that replace the file's before validation.

    Whatever the input, the only error is :class:`ScenarioError`: a value graph
    that contains itself, nests more than ``MAX_DEPTH`` levels or holds more
    than ``MAX_VALUES`` values (YAML aliases counted each time they are used)
    is refused before anything walks it.
    """
    if overrides is not None:
        if not isinstance(overrides, Mapping):
            raise ScenarioError(f"must map dotted keys to values; got {describe(overrides)}",
                                field="overrides")
        for key in overrides:
            if not isinstance(key, str):
                raise ScenarioError(f"keys must be dotted keys (text); got {describe(key)}",
                                    field="overrides")
    overrides = overrides or {}
    label = None
    try:
        for key, value in overrides.items():
            _check_value(value, key)
        if isinstance(source, Mapping):
            _check_value(source)
            raw = _plain(source)
        else:
            path = resolve_path(source)
            raw, label = read_yaml(path), path.name
            _check_numbers(raw)
        if not isinstance(raw, dict):
            raise ScenarioError("must be a mapping of keys to values at the top level; "
                                f"got {describe(raw) if raw is not None else 'an empty file'}")
        for key, value in overrides.items():
            _set_dotted(raw, key, _plain(value))
        given = frozenset(_given(raw, SCHEMA, ""))
        return _build(_validate(raw, SCHEMA, ""), label, tuple(overrides), given)
    except ScenarioError as err:
        if err.file is not None:            # the file's own errors (reading, YAML)
            raise
        blamed = _source_label(label, tuple(overrides), err.field)
        raise err.in_file(blamed) if blamed else err


def _set_dotted(raw: dict, dotted: str, value: Any) -> None:
    node, schema = raw, SCHEMA
    parts = dotted.split(".")
    for i, part in enumerate(parts):
        path = ".".join(parts[: i + 1])
        inside_prior = isinstance(schema, Rule) and schema.nested
        if not inside_prior and (not isinstance(schema, dict) or part not in schema):
            options = list(schema) if isinstance(schema, dict) else []
            raise ScenarioError(_unknown(part, options), field=path)
        if not inside_prior:
            schema = schema[part]
        key: Any = part
        if isinstance(node, list):          # inside a prior: a mixture component by index
            if not re.fullmatch(r"[0-9]{1,9}", part) or int(part) >= len(node):
                raise ScenarioError(f"must be an index from 0 to {len(node) - 1} of the list",
                                    field=path)
            key = int(part)
        if i == len(parts) - 1:
            if value is None and inside_prior and isinstance(node, dict):
                node.pop(key, None)         # null removes a key inside a prior
            else:
                node[key] = value
        else:
            child = node[key] if isinstance(node, list) else node.get(key)
            if child is None:
                child = node[key] = {}
            if not isinstance(child, (dict, list)) or (isinstance(child, list) and not inside_prior):
                raise ScenarioError(f"must be a mapping for `{dotted}` to be set inside it; "
                                    f"got {describe(child)}", field=path)
            node = child


def _given(raw: Any, schema: dict, prefix: str):
    """The dotted keys the scenario gives (defaults aside): a key with a value
    that is not null, or a section even when empty or null (an empty section
    does nothing, which is an error where it would switch something off)."""
    if not isinstance(raw, dict):
        return
    for key, value in raw.items():
        if key not in schema:
            continue
        path = prefix + key
        if isinstance(schema[key], dict):
            yield path
            yield from _given(value, schema[key], path + ".")
        elif value is not None:
            yield path


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
                raise ScenarioError(f"must be a mapping; got {describe(value)}", field=path)
            out[key] = _validate(value, spec, path + ".")
            continue
        if key not in raw or (raw[key] is None and spec.default is not REQUIRED):
            if spec.default is REQUIRED:
                raise ScenarioError("is required", field=path)
            out[key] = spec.default
            continue
        try:
            out[key] = spec.check(raw[key])
        except Bad as bad:
            value = raw[key] if bad.value is Bad._NO_VALUE else bad.value
            field = f"{path}.{bad.sub}" if bad.sub else path
            message = f"{bad}; got {describe(value)}" if bad.got else str(bad)
            raise ScenarioError(message, field=field) from None
    return out


def _source_label(file: str | None, overridden: tuple, field: str | None) -> str | None:
    """The file, or the file and "value from the command line or overrides"
    when an override set ``field`` (or a key inside it, or one it lies inside)."""
    if field and any(field == key or field.startswith(key + ".") or key.startswith(field + ".")
                     for key in overridden):
        return f"{file or 'scenario'} (value from the command line or overrides)"
    return file


def _build(v: dict, label: str | None, overridden: tuple = (),
           given: frozenset = frozenset()) -> Scenario:
    alpha = v["analysis"]["alpha"]
    if alpha < MIN_ALPHA:
        raise ScenarioError(f"must be at least {MIN_ALPHA:g} (a smaller level is lost in double "
                            f"precision, where 1 - alpha rounds to 1); got {alpha:g}",
                            field="analysis.alpha")
    if v["target_power"] <= v["analysis"]["alpha"]:
        raise ScenarioError(f"must be above `analysis.alpha` ({v['analysis']['alpha']:g}); "
                            f"got {v['target_power']:g}", field="target_power")
    for key in ("n_control", "max_control"):
        m = v["sample_size"][key]
        if m is not None and round(v["allocation"] * m) > MAX_ARM_SIZE:
            raise ScenarioError(f"gives a treatment arm of round({v['allocation']:g} x {m:,}) "
                                f"women, above the limit of {MAX_ARM_SIZE:,}",
                                field=f"sample_size.{key}")
    v["dropout"] = dropout_value(v["dropout"])
    strata = _strata(v)
    if strata is None:
        control, treatment, effect = _arms(v["arms"])
        point = RateModel(control.rate, control.prior, treatment.rate, treatment.prior,
                          effect).is_point
    else:
        control, treatment, effect = _pooled_arms(v["arms"], strata)
        point = all(st.rates.is_point for st in strata)
        if v["mcid"] is not None:
            raise ScenarioError("is reported for the arms' rates; with `population.strata` "
                                "remove it", field="mcid")
    interim = interim_of(v, (control, treatment), given)
    recruitment = None
    _check_model(v, given, interim is not None)
    if interim is None:
        patient = _patient_model(v, strata, given) if v["model"] == "patient" else None
    else:
        patient, recruitment = None, _recruitment(v["recruitment"], _centre_weights(v["centres"]),
                                                  given)
    for key in ("target_assurance", "mcid"):
        if v[key] is not None and point:
            raise ScenarioError("needs a prior on a rate or on the effect (with point rates, "
                                "assurance is the power and the difference is known); give a "
                                "prior or remove the key", field=key)
    if v["target_assurance"] is not None and v["target_assurance"] <= v["analysis"]["alpha"]:
        raise ScenarioError(f"must be above `analysis.alpha` ({v['analysis']['alpha']:g}); "
                            f"got {v['target_assurance']:g}", field="target_assurance")
    propose = v["sample_size"]["propose"]
    if propose in ("assurance", "larger") and v["target_assurance"] is None:
        raise ScenarioError(f"= {propose} needs `target_assurance`", field="sample_size.propose")
    if propose is None:
        propose = "larger" if v["target_assurance"] is not None else "power"
    try:
        source = source_of(v["source"], None if strata is None else [s.name for s in strata])
    except Bad as bad:
        raise ScenarioError(str(bad), field=f"source.{bad.sub}") from None
    return Scenario(
        name=v["name"], title=v["title"], source=source and source.citation,
        source_detail=source, endpoint=v["endpoint"],
        control=control, treatment=treatment,
        allocation=v["allocation"], analysis=Analysis(**{
            k: x for k, x in v["analysis"].items() if k not in ("bayesian", "adjust")},
            adjust=patient and patient.adjust),
        target_power=v["target_power"], dropout=v["dropout"]["share"],
        sample_size=SampleSize(**dict(v["sample_size"], propose=propose)),
        simulation=Simulation(**v["simulation"]),
        file=label, effect=effect, target_assurance=v["target_assurance"], mcid=v["mcid"],
        inputs=json.dumps(_applicable(v, interim), sort_keys=True), overridden=overridden,
        patient=patient,
        interim=interim, recruitment=recruitment, references=tuple(v["references"]),
    )


def _strata(v: dict) -> tuple[Stratum, ...] | None:
    """The strata of ``population.strata``, each with its rate model."""
    spec = v["population"]["strata"]
    if spec is None:
        return None
    arms = v["arms"]
    for arm, keys in (("control", ("rate", "planning_rate")),
                      ("treatment", ("rate", "effect", "planning_rate"))):
        for key in keys:
            if arms[arm].get(key) is not None:
                raise ScenarioError("must be left out when `population.strata` gives the rates "
                                    "of each stratum", field=f"arms.{arm}.{key}")
    strata = []
    for name, st in spec.items():
        c_prior = prior_of(st["control"])
        c_rate = c_prior.mean if c_prior is not None else st["control"]
        if "effect" in st:
            effect = effect_of(st["effect"])
            if effect.scale != "risk_difference" and not 0.0 < c_rate < 1.0:
                raise ScenarioError(f"must be strictly between 0 and 1 when the treatment is "
                                    f"given as an {effect.scale.replace('_', ' ')}; got "
                                    f"{c_rate:g}", field=f"population.strata.{name}.control")
            model = RateModel(c_rate, c_prior, float(effect.treatment_rate(c_rate)), None, effect)
        else:
            t_prior = prior_of(st["treatment"])
            t_rate = t_prior.mean if t_prior is not None else st["treatment"]
            model = RateModel(c_rate, c_prior, t_rate, t_prior)
        strata.append(Stratum(name, st["share"], model))
    return tuple(strata)


def _pooled_arms(arms: dict, strata) -> tuple[Arm, Arm, None]:
    """Arms whose planning rates are the share-weighted rates of the strata."""
    def pooled(attr):
        return float(sum(s.share * getattr(s.rates, attr) for s in strata))
    return (Arm(arms["control"]["label"], pooled("control_rate"), None, "strata"),
            Arm(arms["treatment"]["label"], pooled("treatment_rate"), None, "strata"), None)


def _applicable(v: dict, interim) -> dict:
    """The validated mapping without the keys that do nothing in this scenario
    (their defaults would otherwise stand in it): what `inputs`, `to_dict()`
    and the report's scenario hold, so that loading them again, where a key
    given in vain is an error, gives the same scenario."""
    v = json.loads(json.dumps(v))           # a deep copy
    an, spec = v["analysis"], v["interim"]
    if an["test"] != "bayesian":
        del an["bayesian"]
    if spec["looks"] is None:
        del v["interim"]
    else:
        eff = resolved_efficacy(spec["efficacy"], an["test"] == "bayesian")
        for key, (applies, _) in APPLIES.items():
            _, section, name = key.split(".")
            if not applies(eff, spec["futility"]):
                del spec[section][name]
    rec = v["recruitment"]
    if v["model"] == "table":
        for section in ("population", "randomisation", "adherence", "outcomes"):
            del v[section]
        for key in ("primary", "adjust", "logistic_test"):
            del an[key]
        del v["centres"]["sd_log_odds"]
        del rec["target_months"], rec["target_probability"]
        if interim is None or rec["per_centre_month"] is None:
            del v["centres"], v["recruitment"]
    if "recruitment" in v and rec["per_centre_month"] is None:
        del v["recruitment"]
    elif "recruitment" in v and rec.get("target_months") is None:
        rec.pop("target_probability", None)
    return v


# Keys of the patient-level model (`model: patient`); of them, the centres and
# the recruitment rate also say when interim looks happen (their calendar).
PATIENT_KEYS = (
    "population.strata", "population.covariates", "randomisation.method",
    "randomisation.block_sizes", "centres.number", "centres.relative_rates",
    "centres.sd_log_odds", "recruitment.per_centre_month", "recruitment.ramp_up_months",
    "recruitment.follow_up_months", "recruitment.target_months",
    "recruitment.target_probability", "adherence.treatment_not_receiving",
    "adherence.control_receiving", "outcomes.miscarriage", "analysis.primary",
    "analysis.adjust", "analysis.logistic_test")
TIMING_KEYS = ("centres.number", "centres.relative_rates", "recruitment.per_centre_month",
               "recruitment.ramp_up_months", "recruitment.follow_up_months")


def _check_model(v: dict, given: frozenset, interim: bool) -> None:
    """Which model runs is said, never switched silently: the patient-level
    keys need `model: patient` (interim designs take only the centres and
    the recruitment rate, for their calendar); `model: patient` is not for
    interim designs, which are analysed on the 2x2 table."""
    patient = v["model"] == "patient"
    if patient and interim:
        raise ScenarioError("must be `table` with interim looks or the bayesian test (they are "
                            "analysed on the 2x2 table)", field="model")
    if patient:
        return
    as_failure = v["dropout"]["handling"] == "as_failure"
    for key in PATIENT_KEYS + ("dropout.handling",) * as_failure:
        if key in given or (key == "dropout.handling" and as_failure):
            if interim and key in TIMING_KEYS:
                continue
            if interim:
                raise ScenarioError("is not available with interim looks or the bayesian test "
                                    "(they are analysed on the 2x2 table); remove it", field=key)
            raise ScenarioError("needs the patient-level model: add `model: patient` (without it "
                                "the trial is analysed on its 2x2 table, exactly)"
                                + (", or interim looks, for whose calendar it counts"
                                   if key in TIMING_KEYS else ""), field=key)


def _patient_model(v: dict, strata, given: frozenset) -> PatientModel:
    """The patient-level model (``model: patient``)."""
    pop, rnd, cen, rec = v["population"], v["randomisation"], v["centres"], v["recruitment"]
    adh, an, drop = v["adherence"], v["analysis"], v["dropout"]
    if v["simulation"]["method"] == "exact":
        raise ScenarioError("exact enumeration covers trials analysed on their 2x2 table; the "
                            "patient-level model (strata, covariates, centres, recruitment, "
                            "adherence, outcomes, dropout as failure, adjusted analyses) is "
                            "simulated: use monte_carlo or auto", field="simulation.method")
    if strata is None:
        arms = _arms(v["arms"])
        strata = (Stratum("all", 1.0, RateModel(arms[0].rate, arms[0].prior, arms[1].rate,
                                                arms[1].prior, arms[2])),)
    covariates = tuple(Covariate.of(k, c) for k, c in (pop["covariates"] or {}).items())
    names = ["stratum"] * (len(strata) > 1) + [c.name for c in covariates]
    adjust = an["adjust"] if an["adjust"] is not None else names
    for name in adjust:
        if name not in names:
            raise ScenarioError(f"names {name!r}, which is not " + (
                f"one of {', '.join(names)}" if names else "in the model (there are no strata "
                "or covariates to adjust for)"), field="analysis.adjust")
    weights = _centre_weights(cen)
    share = v["allocation"] / (1 + v["allocation"])

    def holds(b):           # a block of b women holds the allocation exactly
        return abs(b * share - round(b * share)) <= 1e-9 and 0 < round(b * share) < b
    blocks = rnd["block_sizes"]
    if rnd["method"] in ("block", "stratified_block"):
        if blocks is None:
            smallest = next((b for b in range(2, 51) if holds(b)), None)
            if smallest is None:
                raise ScenarioError(f"{v['allocation']:g}:1 fits no block of 50 women or fewer; "
                                    "give `randomisation.block_sizes` or another allocation",
                                    field="allocation")
            blocks = [smallest, 2 * smallest]
        for b in blocks:
            if not holds(b):
                raise ScenarioError(f"must hold the allocation {v['allocation']:g}:1 exactly "
                                    f"(a block of {b} would hold {b * share:g} treated women)",
                                    field="randomisation.block_sizes")
    elif blocks is not None:
        raise ScenarioError("applies only to `block` and `stratified_block` randomisation",
                            field="randomisation.block_sizes")
    recruitment = _recruitment(rec, weights, given)
    if adh["treatment_not_receiving"] + adh["control_receiving"] >= 1:
        raise ScenarioError("shares must add up to less than 1 (at 1 the arms receive the same "
                            "mix and the randomised comparison has no effect; above, it is "
                            "reversed)", field="adherence")
    for c in covariates:
        if c.discrete and len(c.grid()[0]) < 2:
            raise ScenarioError("leaves fewer than two values: the covariate is constant",
                                field=f"population.covariates.{c.name}")
    mis = v["outcomes"]["miscarriage"]
    model = PatientModel(
        strata=strata, covariates=covariates, centre_weights=tuple(weights),
        centre_sd=cen["sd_log_odds"], randomisation=rnd["method"], block_sizes=tuple(blocks or ()),
        dropout=drop["share"], dropout_handling=drop["handling"],
        not_receiving=adh["treatment_not_receiving"], receiving_outside=adh["control_receiving"],
        miscarriage=None if mis is None else (mis["treatment"], mis["control"]),
        recruitment=recruitment, target_months=rec["target_months"],
        target_probability=rec["target_probability"], primary=an["primary"],
        adjust=tuple(adjust), logistic_test=an["logistic_test"], allocation_share=share)
    # every planning rate must be reachable: the intercepts cover the log-odds
    # -25 to 25 around the covariates' and centres' contribution
    rates = model.planning_rates
    inner = (rates > 0) & (rates < 1)
    reached = model.marginal_rate(model.intercept(rates))
    if np.any(np.abs(reached - rates)[inner] > 1e-6):
        raise ScenarioError("make some stratum's planning rate unreachable (the covariates' "
                            "effects push every woman's chance towards 0 or 1); use smaller "
                            "effects", field="population.covariates")
    return model


def _centre_weights(cen: dict) -> list:
    weights = cen["relative_rates"] or [1.0] * cen["number"]
    if len(weights) != cen["number"]:
        raise ScenarioError(f"must give one rate per centre ({cen['number']}); got "
                            f"{len(weights)}", field="centres.relative_rates")
    return weights


def _recruitment(rec: dict, weights, given: frozenset) -> Recruitment | None:
    for key in ("ramp_up_months", "follow_up_months", "target_months", "target_probability"):
        if f"recruitment.{key}" in given and rec["per_centre_month"] is None:
            raise ScenarioError("needs `recruitment.per_centre_month`", field=f"recruitment.{key}")
    if "recruitment.target_probability" in given and rec["target_months"] is None:
        raise ScenarioError("needs `recruitment.target_months` (the probability of enrolling "
                            "within it)", field="recruitment.target_probability")
    if rec["per_centre_month"] is None:
        return None
    return Recruitment(rec["per_centre_month"], tuple(weights), rec["ramp_up_months"],
                       rec["follow_up_months"])


def _arms(arms: dict) -> tuple[Arm, Arm, Effect | None]:
    """Planning values and priors of both arms (the planning treatment rate of
    an `effect` is the median effect applied to the control planning rate)."""
    def planned(spec, prior):
        if spec["planning_rate"] is not None:
            return spec["planning_rate"], "planning_rate"
        if prior is not None:
            return prior.mean, "prior mean"
        return spec["rate"], "point"

    c, t = arms["control"], arms["treatment"]
    if c["rate"] is None:
        raise ScenarioError("is required (or give the rates by stratum in `population.strata`)",
                            field="arms.control.rate")
    c_prior = prior_of(c["rate"])
    uncertain_t = prior_of(t["rate"]) is not None or (t["effect"] is not None and (
        c_prior is not None or "ci95" in t["effect"]))
    for arm, uncertain in (("control", c_prior is not None), ("treatment", uncertain_t)):
        if arms[arm]["planning_rate"] is not None and not uncertain:
            raise ScenarioError("applies only when the arm's rate is uncertain (a prior); with a "
                                "point rate the rate itself is the planning value",
                                field=f"arms.{arm}.planning_rate")
    c_rate, c_from = planned(c, c_prior)
    control = Arm(c["label"], c_rate, c_prior, c_from)
    if (t["rate"] is None) == (t["effect"] is None):
        raise ScenarioError("needs exactly one of `rate` (the treatment arm's own rate or prior) "
                            "and `effect` (relative to control)"
                            + ("; got both" if t["rate"] is not None else ""),
                            field="arms.treatment")
    if t["effect"] is None:
        t_prior = prior_of(t["rate"])
        t_rate, t_from = planned(t, t_prior)
        return control, Arm(t["label"], t_rate, t_prior, t_from), None
    effect = effect_of(t["effect"])
    if effect.scale != "risk_difference" and not 0.0 < c_rate < 1.0:
        raise ScenarioError(f"must be strictly between 0 and 1 when the treatment is given as "
                            f"an {effect.scale.replace('_', ' ')}; got {c_rate:g}",
                            field="arms.control.planning_rate" if c_from == "planning_rate"
                            else "arms.control.rate")
    if t["planning_rate"] is not None:
        t_rate, t_from = t["planning_rate"], "planning_rate"
    else:
        t_rate, t_from = float(effect.treatment_rate(c_rate)), "effect"
    return control, Arm(t["label"], t_rate, None, t_from), effect
