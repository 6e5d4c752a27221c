"""The scenario as a form: which keys the page shows, their values as text,
and a submitted form read back into the dotted overrides of ``--set``.

The form never builds a scenario itself: a submission becomes the overrides
that differ from the base scenario (a bundled one or an uploaded file), and
``load_scenario`` validates them exactly as it validates ``simulate
--scenario NAME --set KEY=VALUE``; an error is placed beside the input of
the key it names (or at the top of the form when no input holds it)."""
from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import yaml

from ..errors import ScenarioError
from ..names import TEST_NAMES
from ..scenario.build import REMOVED, Scenario, load_scenario
from ..scenario.reading import parse_yaml
from ..scenario.schema import SCHEMA


def _rule(key: str):
    node: Any = SCHEMA
    for part in key.split("."):
        node = node[part]
    return node


@dataclass(frozen=True)
class Field:
    """One input: the scenario key it sets, its label, and how its text is
    read: ``value`` as YAML (as ``--set`` reads it), ``text`` as typed,
    ``list`` as comma-separated YAML values, ``choice`` one of the schema's
    options.  The hint is the key reference's description of the key."""
    key: str
    label: str
    kind: str = "value"
    names: Mapping[str, str] | None = None     # choice: option -> words shown

    @property
    def hint(self) -> str:
        return _rule(self.key).doc

    @property
    def options(self) -> tuple[str, ...]:
        return _rule(self.key).check.options

    @property
    def id(self) -> str:
        return "f-" + self.key.replace(".", "-")

    def read(self, text: str) -> Any:
        """The value of the submitted ``text`` (empty: no value)."""
        text = text.strip()
        if not text:
            return None
        if self.kind in ("text", "choice"):
            return text
        try:
            return parse_yaml(f"[{text}]" if self.kind == "list" and not text.startswith("[")
                              else text)
        except ScenarioError as err:
            raise ScenarioError(f"is not valid YAML ({err.message}); got {text!r}",
                                field=self.key) from None


SIDES = {"two": "two-sided", "one": "one-sided (treatment better than control)"}
GROUPS: tuple[tuple[str, tuple[Field, ...]], ...] = (
    ("Arms", (Field("arms.control.label", "Control arm", "text"),
              Field("arms.control.rate", "Control rate"),
              Field("arms.treatment.label", "Treatment arm", "text"),
              Field("arms.treatment.rate", "Treatment rate"),
              Field("arms.treatment.effect", "or the treatment's effect"),
              Field("allocation", "Allocation"))),
    ("Analysis", (Field("analysis.test", "Test", "choice", TEST_NAMES),
                  Field("analysis.alpha", "Alpha"),
                  Field("analysis.sided", "Sidedness", "choice", SIDES))),
    ("The question", (Field("target_power", "Target power"),
                      Field("target_assurance", "Target assurance"),
                      Field("sample_size.n_control", "Size to evaluate"),
                      Field("dropout", "Dropout"))),
    ("Interim looks", (Field("interim.looks", "Looks", "list"),)),
    ("Recruitment", (Field("centres.number", "Centres"),
                     Field("recruitment.per_centre_month", "Women per centre-month"),
                     Field("recruitment.ramp_up_months", "Ramp-up months"),
                     Field("recruitment.follow_up_months", "Follow-up months"),
                     Field("recruitment.target_months", "Target months"))),
    ("Simulation", (Field("simulation.method", "Method", "choice"),
                    Field("simulation.n_sims", "Simulated trials"),
                    Field("simulation.seed", "Seed"))),
)
FIELDS = {f.key: f for _, group in GROUPS for f in group}


def lookup(mapping: Mapping, key: str) -> Any:
    """The value at a dotted key of a scenario mapping (None: not there)."""
    node: Any = mapping
    for part in key.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node


def as_text(value: Any, kind: str = "value") -> str:
    """A value as the form shows it, read back to the same value: floats in
    positional notation (YAML reads ``1e-05`` as text), mappings and lists as
    one line of flow YAML."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return np.format_float_positional(value, trim="-")
    if isinstance(value, (int, str)):
        return str(value)
    if kind == "list" and isinstance(value, list):
        return ", ".join(as_text(v) for v in value)
    return yaml.safe_dump(value, default_flow_style=True, width=10**6).strip().removesuffix(
        "\n...").strip()


def _shown_value(key: str, value: Any) -> Any:
    """A validated value as a person gives it: the dropout share alone when
    its handling is the default (the file's own ``dropout: 0.1``)."""
    if key == "dropout" and isinstance(value, Mapping) and set(value) == {"share", "handling"} \
            and value["handling"] == "complete_case":
        return value["share"]
    return value


def values_of(scenario_mapping: Mapping) -> dict[str, str]:
    """Each input's text for a validated scenario's mapping."""
    return {key: as_text(_shown_value(key, lookup(scenario_mapping, key)), f.kind)
            for key, f in FIELDS.items()}


def overrides_of(submitted: Mapping[str, str], source: str) -> tuple[dict, dict[str, str]]:
    """The overrides of a submitted form on the scenario ``source``: only
    the inputs that change the validated scenario (``0.20`` for ``0.2`` does
    not), so that a changed rate is exactly ``--set
    arms.treatment.rate=0.45``; and the inputs that could not be read (key
    -> message).  An emptied interim section is removed."""
    base = load_scenario(source).to_dict()
    overrides, errors = {}, {}
    for key, f in FIELDS.items():
        if key not in submitted:
            continue
        try:
            value = f.read(submitted[key])
        except ScenarioError as err:
            errors[key] = str(err)
            continue
        if value == lookup(base, key):
            continue
        try:
            if load_scenario(source, {key: value}).to_dict() == base:
                continue                # the same value written otherwise
        except ScenarioError:
            pass                        # (checked with the other changes, below)
        overrides[key] = value
    if "interim.looks" in overrides and overrides["interim.looks"] is None:
        del overrides["interim.looks"]
        overrides["interim"] = REMOVED
    return overrides, errors


def field_of(error_field: str | None) -> str | None:
    """The input an error is shown beside: the one whose key is the error's
    field or holds it (``arms.treatment.rate.discount``: the treatment rate),
    else the first inside it (``arms.treatment``: the treatment's rate);
    None: at the top of the form."""
    if not error_field:
        return None
    holding = [k for k in FIELDS if error_field == k or error_field.startswith(k + ".")]
    if holding:
        return max(holding, key=len)
    return next((k for k in FIELDS if k.startswith(error_field + ".")), None)


def message(err: ScenarioError) -> str:
    """An error as the page shows it: the command line's message, without
    the file it names (the page shows which scenario it started from)."""
    if err.field is None:
        return str(err)
    return str(ScenarioError(err.message, err.field))


@dataclass(frozen=True)
class Design:
    """What the page plans: a base scenario and the values changed on the form.

    ``source`` is what ``load_scenario`` reads (a bundled scenario's name or
    the path of an uploaded file inside the server's temporary directory,
    never a path a browser gave); ``name`` is how the page and the command
    line call it."""
    source: str
    name: str
    overrides: dict

    def scenario(self) -> Scenario:
        return load_scenario(self.source, self.overrides)

    def command(self) -> str | None:
        """The ``simulate`` command that plans the same scenario (None when a
        change has no ``--set``: a section removed)."""
        if any(v is REMOVED for v in self.overrides.values()):
            return None
        sets = [f"--set {shlex.quote(k + '=' + (as_text(v) if v is not None else 'null'))}"
                for k, v in self.overrides.items()]
        return " ".join(["simulate --scenario", shlex.quote(self.name), *sets])
