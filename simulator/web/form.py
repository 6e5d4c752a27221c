"""The scenario as a form: which keys the page shows, their values as text,
and a submitted form read back into the dotted overrides of ``--set``.

The form never builds a scenario itself: a submission becomes the overrides
that differ from the base scenario (a bundled one or an uploaded file), and
``load_scenario`` validates them exactly as it validates ``simulate
--scenario NAME --set KEY=VALUE``; an error is placed beside the input of
the key it names (or at the top of the form when no input holds it)."""
from __future__ import annotations

import hashlib
import re
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
    options, ``rate`` an arm's rate (see :func:`read_rate`).  ``plain`` is
    what it means in plain words; the hint is the key reference's
    description of the key."""
    key: str
    label: str
    kind: str = "value"
    names: Mapping[str, str] | None = None     # choice: option -> words shown
    plain: str = ""

    @property
    def hint(self) -> str:
        return _rule(self.key).doc

    @property
    def empty(self) -> str:
        """What an emptied input means: the key's default (``--set KEY=null``)."""
        default = _rule(self.key).default
        return "none" if default is None else f"the default ({as_text(default, self.kind)})"

    @property
    def placeholder(self) -> str:
        default = _rule(self.key).default
        return "empty: none" if default is None else f"default {as_text(default, self.kind)}"

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


RATE_PLAIN = ("the share of women randomised who have a live birth, as a proportion "
              "(0.45 for 45%)")
SCALES = {"risk_ratio": "risk ratio", "odds_ratio": "odds ratio",
          "risk_difference": "risk difference"}
SIDES = {"two": "two-sided", "one": "one-sided (treatment better than control)"}
GROUPS: tuple[tuple[str, tuple[Field, ...]], ...] = (
    ("Arms", (Field("arms.control.label", "Control arm", "text"),
              Field("arms.control.rate", "Control rate", "rate", plain=RATE_PLAIN),
              Field("arms.treatment.label", "Treatment arm", "text"),
              Field("arms.treatment.rate", "Treatment rate", "rate", plain=RATE_PLAIN),
              Field("allocation", "Allocation",
                    plain="women on treatment per woman on control (1: arms of equal size)"))),
    ("Analysis", (Field("analysis.test", "Test", "choice", TEST_NAMES),
                  Field("analysis.alpha", "Alpha (proportion)",
                        plain="the chance of a false positive accepted: a proportion, "
                              "0.05 for 5%"),
                  Field("analysis.sided", "Sidedness", "choice", SIDES))),
    ("The question", (Field("target_power", "Target power (proportion)",
                            plain="the power the size must reach: 0.9 for 90%"),
                      Field("target_assurance", "Target assurance (proportion)",
                            plain="the assurance the size must reach: 0.8 for 80% "
                                  "(needs a prior)"),
                      Field("sample_size.n_control", "Size to evaluate (women)",
                            plain="women in the control arm; instead of a target power"),
                      Field("dropout", "Dropout (proportion)",
                            plain="the share of women without an outcome: 0.1 for 10%"))),
    ("Interim looks", (Field("interim.looks", "Looks", "list",
                             plain="the share of the women analysed at each look, e.g. "
                                   "0.5, 1 (empty: no interim look)"),)),
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
EFFECT = "arms.treatment.effect"     # set by the treatment rate's input ("an effect")
KEYS = (*FIELDS, EFFECT)             # the keys the form sets


def _scalar(text: str, key: str) -> Any:
    """One small box of a rate's inputs, read as ``--set`` reads a value."""
    return Field(key, key).read(text)


def rate_ways(key: str) -> dict[str, str]:
    """How an arm's rate can be given on the form: option -> words shown."""
    ways = {"rate": "a rate", "counts": "a prior from counts"}
    if key == "arms.treatment.rate":
        ways["effect"] = "an effect against control"
    return ways


def read_rate(key: str, submitted: Mapping[str, str]) -> dict[str, Any]:
    """The values an arm's rate inputs give (the rate, and for the treatment
    its effect), by the way chosen in ``KEY:as``: ``rate`` the one box (a
    proportion), ``counts`` the events, n and discount boxes (``{events, n,
    discount}``), ``effect`` the scale, estimate, interval and shrinkage
    boxes (``arms.treatment.effect``), ``yaml`` the box of any other shape
    as YAML.  Nothing when the rates come from ``population.strata``."""
    way = submitted.get(key + ":as", "rate")
    treatment = key == "arms.treatment.rate"
    if way == "strata":
        return {}
    if way == "effect" and treatment:
        scale = submitted.get(EFFECT + ":scale", "risk_ratio")
        if scale not in SCALES:
            raise ScenarioError(f"must be one of {', '.join(SCALES)}; got {scale!r}",
                                field=EFFECT)
        effect = {scale: _scalar(submitted.get(EFFECT + ":value", ""), f"{EFFECT}.{scale}")}
        low, high = (_scalar(submitted.get(f"{EFFECT}:{end}", ""), EFFECT + ".ci95")
                     for end in ("lower", "upper"))
        if low is not None or high is not None:
            effect["ci95"] = [low, high]
        shrink = _scalar(submitted.get(EFFECT + ":shrink", ""), EFFECT + ".shrink")
        if shrink is not None:
            effect["shrink"] = shrink
        return {key: None, EFFECT: effect}
    if way == "counts":
        prior = {part: _scalar(submitted.get(f"{key}:{part}", ""), f"{key}.{part}")
                 for part in ("events", "n", "discount")}
        value = {k: v for k, v in prior.items() if v is not None}
    elif way == "yaml":
        value = FIELDS[key].read(submitted.get(key + ":yaml", ""))
    else:
        value = FIELDS[key].read(submitted.get(key, ""))
    return {key: value, EFFECT: None} if treatment else {key: value}


def rate_values(key: str, scenario_mapping: Mapping) -> dict[str, str]:
    """The text of an arm's rate inputs for a validated scenario, and the way
    (``KEY:as``) that shows it: ``strata`` when ``population.strata`` gives
    the rates (no input), ``yaml`` for a shape the simple inputs cannot show
    (a beta or mixture prior, counts with their own initial beta)."""
    value = lookup(scenario_mapping, key)
    effect = lookup(scenario_mapping, EFFECT) if key == "arms.treatment.rate" else None
    texts = {key: "", key + ":yaml": ""}
    if effect is not None:
        scale = next(k for k in SCALES if k in effect)
        low, high = effect.get("ci95") or ("", "")
        texts.update({key + ":as": "effect", EFFECT + ":scale": scale,
                      EFFECT + ":value": as_text(effect[scale]), EFFECT + ":lower": as_text(low),
                      EFFECT + ":upper": as_text(high),
                      EFFECT + ":shrink": as_text(effect.get("shrink"))})
    elif value is None and lookup(scenario_mapping, "population.strata"):
        texts[key + ":as"] = "strata"
    elif isinstance(value, Mapping) and set(value) <= {"events", "n", "discount",
                                                       "initial_beta"} \
            and value.get("initial_beta", [1.0, 1.0]) == [1.0, 1.0]:
        texts[key + ":as"] = "counts"
        texts.update({f"{key}:{part}": as_text(value.get(part))
                      for part in ("events", "n", "discount")})
    elif isinstance(value, Mapping):
        texts.update({key + ":as": "yaml", key + ":yaml": as_text(value)})
    else:
        texts.update({key + ":as": "rate", key: as_text(value)})
    return texts


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
    """Each input's text for a validated scenario's mapping (an arm's rate:
    each of its inputs, named ``KEY:PART``)."""
    values = {}
    for key, f in FIELDS.items():
        if f.kind == "rate":
            values.update(rate_values(key, scenario_mapping))
        else:
            values[key] = as_text(_shown_value(key, lookup(scenario_mapping, key)), f.kind)
    return values


def overrides_of(submitted: Mapping[str, str], source: str) -> tuple[dict, dict[str, str]]:
    """The overrides of a submitted form on the scenario ``source``: only
    the inputs that change the validated scenario (``0.20`` for ``0.2`` does
    not), so that a changed rate is exactly ``--set
    arms.treatment.rate=0.45``; and every input's error (key -> message):
    each changed input is read and validated alone (``load_scenario(source,
    {key: value})``, the treatment's rate and effect together), so that all
    the values that break a rule are shown at once.  An error a change gives
    about another key (a rule between keys) is left to the validation of
    the whole form.  An emptied interim section is removed."""
    base = load_scenario(source).to_dict()
    overrides, errors = {}, {}
    for key, f in FIELDS.items():
        try:
            if f.kind == "rate":
                if key + ":as" not in submitted:
                    continue
                changes = read_rate(key, submitted)
            elif key in submitted:
                changes = {key: f.read(submitted[key])}
            else:
                continue
        except ScenarioError as err:
            errors[key] = message(err)
            continue
        changes = {k: v for k, v in changes.items() if v != lookup(base, k)}
        if key == "interim.looks" and changes and changes[key] is None:
            changes = {"interim": REMOVED}
        if not changes:
            continue
        try:
            if load_scenario(source, changes).to_dict() == base:
                continue                # the same value written otherwise
        except ScenarioError as err:
            if field_of(err.field) == key:
                errors[key] = message(err)
        overrides.update(changes)
    return overrides, errors


PERCENT = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*%\s*")


def advice_for(submitted: Mapping[str, str], errors: Mapping[str, str]) -> dict[str, str]:
    """A plain hint beside an error whose input was typed as a percentage
    (``45%``): the page wants proportions, and does not convert silently."""
    advice = {}
    for name, text in submitted.items():
        base = name.partition(":")[0]
        owner = "arms.treatment.rate" if base == EFFECT else base
        found = PERCENT.fullmatch(text)
        if owner in errors and found:
            share = np.format_float_positional(float(found.group(1)) / 100, trim="-")
            advice[owner] = f"write {share} for {text.strip()}: the page wants proportions"
    return advice


def field_of(error_field: str | None) -> str | None:
    """The input an error is shown beside: the one whose key is the error's
    field or holds it (``arms.treatment.rate.discount``: the treatment rate;
    ``arms.treatment.effect`` and ``arms.treatment`` itself, "needs exactly
    one of rate and effect": the treatment rate, whose input gives both),
    else the first inside it; None: at the top of the form."""
    if not error_field:
        return None
    if error_field == EFFECT or error_field.startswith(EFFECT + "."):
        return "arms.treatment.rate"            # the effect is one way of giving that rate
    if error_field in ("arms.control", "arms.treatment"):
        return error_field + ".rate"            # an arm's errors are about its rate or effect
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


def set_text(value: Any) -> str:
    """A value as ``--set KEY=VALUE`` reads it back: text that YAML would
    read otherwise (``a (changed: b)``, ``yes``, ``0.5``) in single quotes."""
    if value is None:
        return "null"
    text = as_text(value)
    if isinstance(value, str):
        try:
            same = parse_yaml(text) == value
        except ScenarioError:
            same = False
        if not same:
            text = "'" + value.replace("'", "''") + "'"
    return text


def shell_quote(arg: str) -> str:
    """``shlex.quote``, but text with single quotes in double quotes when that is safe."""
    if "'" in arg and not any(c in arg for c in '"$`\\!'):
        return f'"{arg}"'
    return shlex.quote(arg)


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

    def changes(self) -> str:
        """The changed values in words: ``analysis.alpha=0.025, interim removed``."""
        return ", ".join(f"{k} removed" if v is REMOVED else
                         f"{k}={as_text(v) if v is not None else 'null'}"
                         for k, v in self.overrides.items() if k != "title")

    def variant(self) -> "Design":
        """The design planned: with changes, its title says it is a variant
        (``Severe uRIF ... (changed: analysis.alpha=0.025)``), so that the
        page's headline, the report and the downloaded YAML say so (and the
        command shown sets the same title)."""
        if not self.changes() or "title" in self.overrides:
            return self
        title = load_scenario(self.source).title or self.name
        return Design(self.source, self.name,
                      {**self.overrides, "title": f"{title} (changed: {self.changes()})"})

    def file_name(self) -> str:
        """The name of the design's YAML file: the scenario's name, and with
        changes a short hash of them, so that variants do not collide."""
        stem = self.name.removesuffix(".yaml").removesuffix(".yml")
        if not self.changes():
            return f"{stem}.yaml"
        digest = hashlib.sha256(self.changes().encode("utf-8")).hexdigest()[:8]
        return f"{stem}-{digest}.yaml"

    def command(self) -> str | None:
        """The ``simulate`` command that plans the same scenario (None when a
        change has no ``--set``: a section removed)."""
        if any(v is REMOVED for v in self.overrides.values()):
            return None
        sets = [f"--set {shell_quote(k + '=' + set_text(v))}" for k, v in self.overrides.items()]
        return " ".join(["simulate --scenario", shlex.quote(self.name), *sets])


def compare_command(designs: list[Design], candidates) -> str | None:
    """The ``simulate compare`` command that plans the same designs (their
    letters, labels and scenarios), when they are a grid of ``--vary``
    values of the same files; None when no command gives exactly them."""
    from ..planning.compare import REMOVED as GONE, Variation, designs as grid, shown
    names = {d.source: d.name for d in designs}
    sources = list(dict.fromkeys(c.source for c in candidates))
    keys = list(dict.fromkeys(k for c in candidates for k in c.varied))
    variations = [Variation(k, tuple({repr(c.varied[k]): c.varied[k] for c in candidates
                                      if k in c.varied}.values())) for k in keys]
    common = [d.overrides for d in designs]
    fixed = {k: v for k, v in common[0].items() if k not in keys
             and all(k in o and repr(o[k]) == repr(v) for o in common)}
    if any(set(o) - set(keys) - set(fixed) for o in common) or \
            any(v is REMOVED for v in fixed.values()):
        return None
    try:
        again = grid(sources, variations, fixed)
    except ScenarioError:
        return None
    if [(c.label, c.scenario.to_dict()) for c in again] != \
            [(c.label, c.scenario.to_dict()) for c in candidates]:
        return None

    def value(v, key):
        if v is GONE:
            return "off" if shown(v, key) == "off" else "null"
        return "on" if v is True else set_text(v)
    words = ["simulate compare", *(shell_quote(names.get(s, s)) for s in sources)]
    words += [f"--vary {shell_quote(v.key + '=' + ','.join(value(x, v.key) for x in v.values))}"
              for v in variations]
    words += [f"--set {shell_quote(k + '=' + set_text(v))}" for k, v in fixed.items()]
    return " ".join(words)

