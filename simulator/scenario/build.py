"""Scenarios: load a file, a bundled name or a mapping, apply overrides,
validate against the schema (:mod:`.schema`), check keys against each other,
and hold the result as frozen dataclasses.  Every violation raises
:class:`ScenarioError` with the dotted field path."""
from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ..errors import ScenarioError
from ..models.population import Covariate, PatientModel, Stratum
from ..models.priors import BetaMixture, Effect, RateModel
from ..models.costs import Costs
from ..models.recruitment import Recruitment
from .interim import APPLIES, Interim, interim_of, resolved_efficacy
from .priors import effect_of, prior_of
from .reading import check_numbers, check_value, plain, read_yaml
from .patients import dropout_value
from .rules import Bad, Rule, describe, unknown_key as _unknown
from .schema import MAX_ARM_SIZE, MIN_ALPHA, SCHEMA, given_keys, validate
from .source import Source, source_of
from .writing import scenario_yaml

DEFAULT_SCENARIO = "severe.yaml"


class _Removed:
    """An override value that removes the key from the scenario (its default
    applies; a removed section is off), as ``simulate compare --vary`` does
    for ``null`` and ``off``."""

    def __repr__(self) -> str:
        return "REMOVED"


REMOVED = _Removed()


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
    """A validated scenario: what one run answers (frozen; build it with
    ``load_scenario``, or from keyword arguments through the keyword
    functions, whose results keep it as ``result.scenario``).

    Attributes
    ----------
    name, title : str
    control, treatment : Arm
        Each arm's label, planning ``rate`` and ``prior`` (None: a point rate).
    analysis : Analysis
        ``test``, ``alpha``, ``sided``.
    allocation, target_power, dropout : float
    sample_size, simulation
        ``sample_size.n_control`` (a size to evaluate), ``simulation.method``,
        ``n_sims``, ``seed``.
    interim, patient, recruitment, costs
        The sections that apply (None where not given).
    digest : str
        SHA-256 of the validated scenario (first 12 hex digits).

    Examples
    --------
    >>> import simulator
    >>> s = simulator.load_scenario("severe")
    >>> s
    <Scenario severe: 0.2 vs 0.69, fisher, alpha 0.05 two-sided; sha256 e3d99782efba>
    >>> s.override({"analysis.test": "boschloo"}).analysis.test
    'boschloo'
    """
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
    recruitment: Recruitment | None = None    # with `interim`: when the looks happen; in a
                                              # fixed 2x2 design: time and capacity
    target_months: float | None = None        # fixed 2x2 design: enrolment within this many
    target_probability: float = 0.8           # months with this probability (capacity)
    references: tuple[str, ...] = ()      # full citations of the sources
    source_detail: Source | None = None   # `source` as given: citation, design, observed counts
    costs: Costs | None = None            # unit costs: the trial's cost for every plan

    def source_of(self, field: str | None) -> str | None:
        """How an error about ``field`` names its origin (see :func:`_source_label`)."""
        return _source_label(self.file, self.overridden, field)

    def to_dict(self) -> dict:
        """The validated scenario in the file's own shape (defaults filled in).

        Returns
        -------
        dict
            Plain values (numbers, text, lists, mappings), as a JSON or YAML
            file holds them; ``load_scenario`` reads it back to this scenario.

        Examples
        --------
        >>> import simulator
        >>> simulator.load_scenario("severe").to_dict()["arms"]["treatment"]
        {'effect': None, 'label': 'IVIg', 'planning_rate': None, 'rate': 0.69}
        """
        return json.loads(self.inputs)

    def to_yaml(self, path: str | os.PathLike | None = None) -> str:
        """The validated scenario as a YAML scenario file, every default filled
        in, keys in the order of the key reference.

        Parameters
        ----------
        path : str or path-like, optional
            Also write the text to this file (UTF-8; an existing file is
            replaced).

        Returns
        -------
        str
            The YAML text; ``load_scenario`` reads it back to a scenario with
            the same ``digest``, so a notebook exploration becomes a scenario
            file (``simulate --scenario FILE`` gives the same numbers).

        Examples
        --------
        >>> import simulator
        >>> s = simulator.load_scenario("severe", {"arms.treatment.rate": 0.6})
        >>> print(s.to_yaml().splitlines()[2])
        # every default is filled in. Run it with: simulate --scenario FILE
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "mine.yaml")
        >>> _ = s.to_yaml(path)
        >>> simulator.load_scenario(path).digest == s.digest
        True
        """
        text = scenario_yaml(self.to_dict(), self.name, self.title, self.digest)
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    def __repr__(self) -> str:
        kind = (", patient-level" if self.patient is not None else
                f", {len(self.interim.looks)} looks" if self.interim is not None
                and len(self.interim.looks) > 1 else "")
        rates = f"{self.control.rate:.4g} vs {self.treatment.rate:.4g}"
        if self.has_prior:
            rates += " (planning values of priors)"
        return (f"<Scenario {self.name}: {rates}, {self.analysis.test}, alpha "
                f"{self.analysis.alpha:g} {self.analysis.sided}-sided{kind}; "
                f"sha256 {self.digest}>")

    def override(self, overrides: Mapping[str, Any]) -> "Scenario":
        """This scenario with values replaced by dotted key (as ``--set``),
        validated again.

        Parameters
        ----------
        overrides : dict
            Dotted keys to values: ``{"arms.control.rate": 0.25}``.

        Returns
        -------
        Scenario
            A new scenario (this one is unchanged).

        Examples
        --------
        >>> import simulator
        >>> simulator.load_scenario("severe").override({"arms.control.rate": 0.25}).control.rate
        0.25
        """
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
    """File names of the scenarios shipped with the package.

    Returns
    -------
    list of str
        Each a name ``load_scenario`` accepts (with or without ``.yaml``).

    Examples
    --------
    >>> import simulator
    >>> "severe.yaml" in simulator.bundled_scenarios()
    True
    """
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


def load_scenario(source: str | os.PathLike | Mapping = DEFAULT_SCENARIO,
                  overrides: Mapping[str, Any] | None = None) -> Scenario:
    """Load and validate a scenario.

    Parameters
    ----------
    source : str, path-like or mapping, default "severe.yaml"
        A scenario file, a bundled scenario's name (``"severe"``), or a
        mapping in the file's shape.
    overrides : dict, optional
        Dotted keys (``"arms.treatment.rate"``) to values that replace the
        file's before validation, as ``--set``.

    Returns
    -------
    Scenario
        Frozen and validated: every key checked, defaults filled in.

    Raises
    ------
    ScenarioError
        The only error, whatever the input, naming the dotted key and the
        file: a value graph that contains itself, nests more than
        ``MAX_DEPTH`` levels or holds more than ``MAX_VALUES`` values (YAML
        aliases counted each time they are used) is refused before anything
        walks it.

    Examples
    --------
    >>> import simulator
    >>> s = simulator.load_scenario("severe", {"arms.treatment.rate": 0.6})
    >>> s.control.rate, s.treatment.rate, s.analysis.test
    (0.2, 0.6, 'fisher')
    >>> simulator.load_scenario("severe", {"arms.treatment.rate": 1.2})
    Traceback (most recent call last):
    ...
    simulator.errors.ScenarioError: severe.yaml (value from the command line or overrides): `arms.treatment.rate` must be a probability in [0, 1]; got 1.2
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
            if value is not REMOVED:
                check_value(value, key)
        if isinstance(source, Mapping):
            check_value(source)
            raw = plain(source)
        else:
            path = resolve_path(source)
            raw, label = read_yaml(path), path.name
            check_numbers(raw)
        if not isinstance(raw, dict):
            raise ScenarioError("must be a mapping of keys to values at the top level; "
                                f"got {describe(raw) if raw is not None else 'an empty file'}")
        for key, value in overrides.items():
            _set_dotted(raw, key, value if value is REMOVED else plain(value))
        given = frozenset(given_keys(raw, SCHEMA, ""))
        return _build(validate(raw, SCHEMA, ""), label, tuple(overrides), given)
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
            if value is REMOVED:
                if isinstance(node, dict):
                    node.pop(key, None)
                else:
                    raise ScenarioError("cannot be removed (it is an item of a list)", field=path)
            elif value is None and inside_prior and isinstance(node, dict):
                node.pop(key, None)         # null removes a key inside a prior
            else:
                node[key] = value
        else:
            child = node[key] if isinstance(node, list) else node.get(key)
            if child is None and value is REMOVED:
                return                      # nothing there to remove
            if child is None:
                child = node[key] = {}
            if not isinstance(child, (dict, list)) or (isinstance(child, list) and not inside_prior):
                raise ScenarioError(f"must be a mapping for `{dotted}` to be set inside it; "
                                    f"got {describe(child)}", field=path)
            node = child


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
    if v["model"] == "patient":
        patient = _patient_model(v, strata, given)
    else:       # the looks' calendar, or a fixed design's recruitment time and capacity
        patient, recruitment = None, _recruitment(v["recruitment"], _centre_weights(v["centres"]),
                                                  given)
        if recruitment is None and interim is None:
            for key in ("centres.number", "centres.relative_rates"):
                if key in given:
                    raise ScenarioError("needs `recruitment.per_centre_month` (the centres "
                                        "recruit at that rate: the trial's recruitment time "
                                        "and capacity), or `model: patient` (centres in the "
                                        "patient-level simulation)", field=key)
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
        target_months=v["recruitment"]["target_months"] if patient is None else None,
        target_probability=v["recruitment"]["target_probability"],
        costs=_costs(v["costs"], given),
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
    if all(v["costs"][k] is None for k in COSTS):
        del v["costs"]
    else:
        if v["costs"]["per_course"] is None:
            del v["costs"]["courses_per_woman"]
        v["costs"] = {k: x for k, x in v["costs"].items() if x is not None}
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
        if interim is not None:
            del rec["target_months"], rec["target_probability"]
        if rec["per_centre_month"] is None:
            del v["centres"], v["recruitment"]
    if "recruitment" in v and rec["per_centre_month"] is None:
        del v["recruitment"]
    elif "recruitment" in v and rec.get("target_months") is None:
        rec.pop("target_probability", None)
    return v


# Keys of the patient-level model (`model: patient`); of them, the centres and
# the recruitment rate also say when interim looks happen (their calendar), and
# in a fixed 2x2 design how long recruitment takes and how many women it can
# randomise within `recruitment.target_months` (its capacity).
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
CAPACITY_KEYS = TIMING_KEYS + ("recruitment.target_months", "recruitment.target_probability")


def _check_model(v: dict, given: frozenset, interim: bool) -> None:
    """Which model runs is said, never switched silently: the patient-level
    keys need `model: patient` (interim designs take only the centres and
    the recruitment rate, for their calendar; a fixed 2x2 design takes them
    and the target months, for its recruitment time and capacity);
    `model: patient` is not for interim designs, which are analysed on the
    2x2 table."""
    patient = v["model"] == "patient"
    if patient and v["analysis"]["test"] in ("boschloo", "barnard"):
        raise ScenarioError(f"= {v['analysis']['test']} is tabulated over every 2x2 table of "
                            "the planned arm sizes, which the patient-level model does not fix "
                            "(simple randomisation, dropout): use fisher, z_pooled, z_unpooled "
                            "or chi2_yates with `model: patient`", field="analysis.test")
    if patient and interim:
        raise ScenarioError("must be `table` with interim looks or the bayesian test (they are "
                            "analysed on the 2x2 table)", field="model")
    if patient:
        return
    as_failure = v["dropout"]["handling"] == "as_failure"
    for key in PATIENT_KEYS + ("dropout.handling",) * as_failure:
        if key in given or (key == "dropout.handling" and as_failure):
            if key in (TIMING_KEYS if interim else CAPACITY_KEYS):
                continue
            if interim:
                raise ScenarioError("is not available with interim looks or the bayesian test "
                                    "(they are analysed on the 2x2 table); remove it", field=key)
            raise ScenarioError("needs the patient-level model: add `model: patient` (without it "
                                "the trial is analysed on its 2x2 table, exactly)", field=key)


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


COSTS = ("per_woman", "per_course", "per_centre")


def _costs(costs: dict, given: frozenset) -> Costs | None:
    """The unit costs, or None; a cost key that would do nothing is refused."""
    if all(costs[k] is None for k in COSTS):
        if "costs" in given:
            raise ScenarioError("gives no cost: set `per_woman`, `per_course` or `per_centre`",
                                field="costs")
        return None
    if not any(costs[k] for k in COSTS):
        raise ScenarioError("are all 0: give a cost above 0, or remove the section",
                            field="costs")
    if "costs.courses_per_woman" in given and costs["per_course"] is None:
        raise ScenarioError("needs `costs.per_course` (the cost of a course)",
                            field="costs.courses_per_woman")
    return Costs(**{k: (0.0 if costs[k] is None and k in COSTS else v)
                    for k, v in costs.items()})


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
