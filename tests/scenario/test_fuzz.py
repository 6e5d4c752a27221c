"""Property-based tests of the scenario loader: whatever it is given (random
text and bytes as a YAML file, random names, random JSON-like structures,
mutations of the bundled scenarios, random dotted overrides), it returns a
valid :class:`Scenario` or raises the one documented error,
:class:`ScenarioError`, with a one-line message; never anything else.

Examples are derandomised (the same inputs on every run) and no example
database is written, so a run in CI is reproducible.
"""
from __future__ import annotations

import copy
import json
import math

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator import Scenario, ScenarioError, load_scenario
from simulator.scenario.schema import SCHEMA
from conftest import REPO


pytestmark = pytest.mark.slow

SETTINGS = dict(derandomize=True, database=None, deadline=None, print_blob=False,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.filter_too_much])


def bundled(name: str) -> dict:
    return yaml.safe_load((REPO / "scenarios" / f"{name}.yaml").read_text())


BUNDLED = {path.stem: bundled(path.stem) for path in sorted((REPO / "scenarios").glob("*.yaml"))}
# the bundled multicentre scenario takes 0.2 s to build (age recorded in whole
# years times 48 centre nodes); its fuzzed variants have a two-level covariate
LIGHT = dict(BUNDLED)
LIGHT["multicentre"] = copy.deepcopy(BUNDLED["multicentre"])
LIGHT["multicentre"]["population"]["covariates"] = {"embryo": {
    "distribution": "categorical", "levels": ["good", "fair"], "probabilities": [0.7, 0.3],
    "log_odds": [0, -0.4]}}
LIGHT["multicentre"]["analysis"]["adjust"] = ["stratum", "embryo"]
LIGHT["bayesian"] = {"name": "bayes", "arms": {"control": {"rate": {"events": 5, "n": 25}},
                                               "treatment": {"rate": 0.6}},
                     "analysis": {"test": "bayesian", "sided": "one",
                                  "bayesian": {"prior": "design", "threshold": 0.95}}}
LIGHT["mixture"] = {"name": "mix", "arms": {
    "control": {"rate": {"mixture": [{"events": 5, "n": 25}, {"beta": [1, 1]}],
                         "weights": [0.8, 0.2]}, "planning_rate": 0.2},
    "treatment": {"effect": {"risk_difference": 0.3, "ci95": [0.1, 0.5], "shrink": 0.5}}},
    "target_assurance": 0.5, "mcid": 0.1}


def schema_keys(schema=SCHEMA, prefix=""):
    for key, spec in schema.items():
        if isinstance(spec, dict):
            yield prefix + key
            yield from schema_keys(spec, prefix + key + ".")
        else:
            yield prefix + key


DOTTED = sorted(schema_keys()) + [
    "arms.control.rate.events", "arms.control.rate.n", "arms.control.rate.discount",
    "arms.control.rate.initial_beta", "arms.treatment.rate.beta", "arms.control.rate.mixture",
    "arms.control.rate.mixture.0", "arms.control.rate.mixture.1.beta",
    "arms.control.rate.mixture.0.events", "arms.control.rate.weights",
    "arms.treatment.effect.odds_ratio", "arms.treatment.effect.risk_ratio",
    "arms.treatment.effect.risk_difference", "arms.treatment.effect.ci95",
    "arms.treatment.effect.shrink", "dropout.share", "dropout.handling",
    "population.strata.moderate.share", "population.strata.severe.effect",
    "population.covariates.age.sd", "population.covariates.embryo.levels",
    "outcomes.miscarriage.control", "analysis.bayesian.prior.control",
    "interim.futility.z", "arms.control.rate.mixture.²", "arms.control.rate.mixture.99"]
WORDS = sorted({part for key in DOTTED for part in key.split(".")} | {
    "beta", "mixture", "weights", "events", "n", "discount", "initial_beta", "odds_ratio",
    "risk_ratio", "risk_difference", "ci95", "shrink", "share", "control", "treatment",
    "effect", "handling", "distribution", "mean", "sd", "lower", "upper", "resolution",
    "log_odds_per_unit", "levels", "probabilities", "log_odds", "moderate", "severe", "age"})

# values at the edges of the rules, and the kinds a YAML file or a notebook gives
EDGE_NUMBERS = [0, 1, -1, 2, 0.0, 1.0, -0.0, 0.5, 0.05, 0.95, 1e-10, 1e-300, 5e-324,
                0.999999999, 1.000000001, 20, 20.000001, 0.049999, 100, 99, 50, 1000, 1001,
                10**5, 10**5 + 1, 10**6, 10**8, 10**8 + 1, 10**9, 10**12, 10**18, 2**63 - 1,
                2**63, 2**64, 10**307, 10**400, -(10**400), 1e308, 1.7976931348623157e308,
                math.inf, -math.inf, math.nan]
EDGE_TEXT = ["", " ", "0.5", "1e-3", "1.0e-3", "0x10", "true", "null", "~", "NaN", ".inf",
             "fisher", "z_pooled", "bayesian", "one", "two", "vague", "design", "calibrate",
             "exact", "monte_carlo", "block", "stratified_block", "simple", "as_failure",
             "complete_case", "spending", "posterior", "predictive", "hsd", "normal",
             "truncated_normal", "categorical", "stratum", "age", "a\nb", "a\x00b", "\u202e",
             "é" * 200, "x" * 5000]
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=12),
    st.sampled_from(EDGE_NUMBERS), st.sampled_from(EDGE_TEXT),
    st.floats(min_value=0.0, max_value=1.0), st.integers(min_value=0, max_value=200))
keys = st.one_of(st.sampled_from(WORDS), st.sampled_from(WORDS), st.text(max_size=8),
                 st.integers(-3, 3), st.sampled_from([None, True, 1.5, 10**400]))
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(keys, inner, max_size=4)),
    max_leaves=12)
# values of the kinds the rules take, at and near their bounds (so that more
# mutated scenarios stay valid and reach the checks across keys)
plausible = st.one_of(
    st.floats(0.0, 1.0), st.floats(0.0, 1.0), st.sampled_from(EDGE_NUMBERS),
    st.integers(0, 200), st.sampled_from(EDGE_TEXT[:35]),
    st.lists(st.floats(0.0, 1.0), min_size=1, max_size=4),
    st.lists(st.integers(1, 60), min_size=1, max_size=4),
    st.lists(st.floats(0.0, 1.0), min_size=2, max_size=2).map(sorted),
    st.fixed_dictionaries({"events": st.integers(0, 40), "n": st.integers(1, 40)},
                          optional={"discount": st.floats(0, 1)}),
    st.fixed_dictionaries({"beta": st.lists(st.floats(0.01, 100), min_size=2, max_size=2)}),
    st.sampled_from(["odds_ratio", "risk_ratio", "risk_difference"]).flatmap(
        lambda scale: st.fixed_dictionaries(
            {scale: st.floats(-0.5, 4.0)},
            optional={"ci95": st.lists(st.floats(-0.9, 9.0), min_size=2, max_size=2).map(sorted),
                      "shrink": st.floats(0.0, 1.0)})),
)


def check(source, overrides=None) -> Scenario | None:
    """The property: a Scenario (which round-trips through ``to_dict``) or a
    one-line ScenarioError; any other exception fails the test."""
    try:
        scenario = load_scenario(source, overrides)
    except ScenarioError as err:
        text = str(err)
        assert text and "\n" not in text and "\r" not in text, repr(text)
        assert len(text) < 1000, text
        return None
    assert isinstance(scenario, Scenario)
    inputs = scenario.to_dict()
    json.dumps(inputs, allow_nan=False)                 # finite, plain JSON
    assert 100 <= scenario.simulation.n_sims <= 100_000_000
    assert 0 <= scenario.control.rate <= 1 and 0 <= scenario.treatment.rate <= 1
    again = load_scenario(inputs)
    assert again.digest == scenario.digest and again.to_dict() == inputs
    return scenario


# ------------------------------------------------------------------ text as a file
TOKENS = ["name: x\n", "arms:\n", "  control: {rate: 0.2}\n", "  treatment: {rate: 0.5}\n",
          "analysis: ", "simulation:\n  n_sims: ", "title: ", "references: ", "x: ", "- ",
          "  ", "\n", "\t", "[", "]", "{", "}", ", ", ": ", "? ", "&a ", "&b ", "*a", "*b",
          "<<: ", "<<: *a\n", "!!python/object:os.system ", "!!python/name:os.system ",
          "!!binary ", "!!timestamp ", "!!float ", "!!int ", "!!set ", "!!omap ", "!!str ",
          "!custom ", "2024-13-45", "2024-02-30 25:61:61", "1:20:30", "0x1F", "0o17",
          "0b101", "1_000", "9" * 400, "9" * 4400, "1.0e+400", ".nan", "-.inf", "~", "yes",
          "off", "'", '"', "\\", "|\n", ">-\n", "#", "---\n", "...\n", "%YAML 1.1\n",
          "%TAG ! tag:x,2024:\n", "\ufeff", "\x85", "\u2028", "é", "\U0001F600", "\x00", "\x07"]
yaml_texts = st.one_of(
    st.text(max_size=200),
    st.lists(st.sampled_from(TOKENS) | st.text(max_size=4), max_size=30).map("".join),
    # a bundled file with a few characters changed
    st.tuples(st.sampled_from(sorted(BUNDLED)), st.integers(0, 2000), st.integers(0, 40),
              st.text(max_size=12) | st.sampled_from(TOKENS)).map(
        lambda t: _splice((REPO / "scenarios" / f"{t[0]}.yaml").read_text(), *t[1:])),
    # deep flow collections
    st.tuples(st.integers(1, 200), st.sampled_from(["[", "{a: ", "- "])).map(
        lambda t: "name: " + t[1] * t[0] + "1" + {"[": "]", "{a: ": "}", "- ": ""}[t[1]] * t[0]),
)


def _splice(text: str, at: int, cut: int, new: str) -> str:
    at %= len(text) + 1
    return text[:at] + new + text[at + cut:]


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz") / "scenario.yaml"


@settings(max_examples=1500, **SETTINGS)
@given(text=yaml_texts)
def test_random_yaml_text_loads_or_raises_scenario_error(scratch, text):
    scratch.write_text(text, encoding="utf-8")
    check(scratch)


@settings(max_examples=200, **SETTINGS)
@given(data=st.binary(max_size=200))
def test_random_bytes_load_or_raise_scenario_error(scratch, data):
    scratch.write_bytes(data)
    check(scratch)


@settings(max_examples=300, **SETTINGS)
@given(name=st.one_of(st.text(max_size=40), st.sampled_from(
    ["severe", "severe.yml", "SEVERE", "../scenarios/severe", "a" * 300, "/dev/null", ".",
     "tests", "", "scenarios", "README.md", "a\x00b"])))
def test_random_names_load_or_raise_scenario_error(name):
    check(name)


# -------------------------------------------------------- structures as a mapping
@settings(max_examples=1000, **SETTINGS)
@given(raw=st.dictionaries(keys, values, max_size=6),
       shaped=st.fixed_dictionaries(
           {"name": st.sampled_from(["x", "a.b-c_1"]) | scalars,
            "arms": st.fixed_dictionaries({"control": st.dictionaries(
                st.sampled_from(["rate", "label", "planning_rate"]), plausible | values),
                "treatment": st.dictionaries(
                st.sampled_from(["rate", "label", "planning_rate", "effect"]),
                plausible | values)})},
           optional={key: plausible | values for key in SCHEMA if key not in ("name", "arms")}))
def test_random_structures_load_or_raise_scenario_error(raw, shaped):
    check(raw)
    check(shaped)


# ------------------------------------------------- mutations of valid scenarios
def places(node, path=()):
    """Every (container, key, path) below ``node``."""
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in list(items):
        yield node, key, path + (key,)
        if isinstance(value, (dict, list)):
            yield from places(value, path + (key,))


def containers(node):
    yield node
    for parent, key, _ in places(node):
        if isinstance(parent[key], (dict, list)):
            yield parent[key]


def set_path(raw: dict, dotted: str, value) -> None:
    node = raw
    parts = dotted.split(".")
    for part in parts[:-1]:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    node[parts[-1]] = value


@settings(max_examples=1500, **SETTINGS)
@given(data=st.data())
def test_mutated_bundled_scenarios_load_or_raise_scenario_error(data):
    raw = copy.deepcopy(LIGHT[data.draw(st.sampled_from(sorted(LIGHT)), label="base")])
    for _ in range(data.draw(st.sampled_from([1, 1, 1, 2, 3]), label="mutations")):
        op = data.draw(st.sampled_from(["replace", "replace", "delete", "insert", "schema",
                                        "schema", "schema"]))
        # deepest first: Hypothesis favours the first choices, and the
        # top-level keys (name, title, ...) are the least interesting
        spots = sorted(places(raw), key=lambda spot: -len(spot[2]))
        if op == "schema" or not spots:
            set_path(raw, data.draw(st.sampled_from(DOTTED)), data.draw(plausible | values))
        elif op == "replace":
            node, key, _ = data.draw(st.sampled_from(spots))
            node[key] = data.draw(plausible | values)
        elif op == "delete":
            node, key, _ = data.draw(st.sampled_from(spots))
            del node[key]
        else:
            node = data.draw(st.sampled_from(list(containers(raw))))
            if isinstance(node, dict):
                node[data.draw(keys)] = data.draw(values)
            else:
                node.insert(data.draw(st.integers(0, len(node))), data.draw(values))
    check(raw)


@settings(max_examples=1000, **SETTINGS)
@given(name=st.sampled_from(sorted(LIGHT)),
       overrides=st.dictionaries(
           st.one_of(st.sampled_from(DOTTED),
                     st.lists(st.sampled_from(WORDS + ["0", "1", "-1", "²", ""]), min_size=1,
                              max_size=5).map(".".join),
                     st.text(max_size=12)),
           plausible | values, max_size=3))
def test_random_overrides_load_or_raise_scenario_error(name, overrides):
    check(LIGHT[name], overrides)
    # and the same through Scenario.override, as the notebook API does
    try:
        base = load_scenario(LIGHT[name])
    except ScenarioError:
        return
    try:
        base.override(overrides)
    except ScenarioError as err:
        assert "\n" not in str(err)


def test_bundled_scenarios_round_trip():
    for name, raw in BUNDLED.items():
        scenario = check(raw)
        assert scenario is not None, name
        assert check(scenario.to_dict()).digest == scenario.digest == load_scenario(name).digest


# ------------------------------------------------ regressions: what the fuzzing found
# Each raised something other than ScenarioError before (named in the comment).
@pytest.mark.parametrize("text,message", [
    ("name: 2024-13-45\n",                              # ValueError: month must be in 1..12
     "cannot read '2024-13-45' as a date (month must be in 1..12) (at line 1, column 7)"),
    ("name: !!timestamp x\n", "cannot read 'x' as a date (at line 1"),   # AttributeError
    ("name: !!bool maybe\n", "cannot read 'maybe' as true or false"),    # KeyError
    ("name: !!int 12a\n", "cannot read '12a' as a whole number"),
    ("\x1f", "YAML syntax error"),                      # ReaderError raised outside the try
    ("name: x\nallocation: " + "9" * 5000 + "\n",      # ValueError: int of > 4300 digits
     "has a whole number too large to read (at line 2, column 13)"),
    ("name: x\nallocation: " + "9" * 400 + "\n",       # OverflowError: int too large for a float
     "`allocation` is a whole number of about 400 digits"),
    ("name: " + "[" * 5000 + "]" * 5000 + "\n",        # RecursionError in PyYAML's composer
     "nests values more than 50 levels deep (at line 1"),
    ("name: &a [*a]\n", "`name.0` contains itself"),   # a recursive list (RecursionError later)
])
def test_yaml_that_crashed_the_loader_is_one_scenario_error(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    assert str(err.value).startswith("bad.yaml: ") and message in str(err.value), str(err.value)


MINIMAL = {"name": "m", "arms": {"control": {"rate": 0.2}, "treatment": {"rate": 0.5}}}


@pytest.mark.parametrize("source,overrides,message", [
    (dict(MINIMAL, allocation=10**400), None,          # OverflowError in math.isfinite
     "`allocation` is a whole number of about 400 digits"),
    (dict(MINIMAL, title=10**5000), None,              # ValueError in str() of the int
     "`title` is a whole number of about 5,000 digits"),
    (dict(MINIMAL, **{"x": 1}), {"name": 10**5000},    # ValueError in repr() for the message
     "`name` is a whole number of about 5,000 digits"),
    ({**MINIMAL, 10**5000: 1}, None, "is a whole number of about 5,000 digits"),
    (MINIMAL, {1: 2}, "`overrides` keys must be dotted keys (text); got 1"),   # AttributeError
    (MINIMAL, [("name", "x")], "`overrides` must map dotted keys to values"),  # AttributeError
    ({"name": "m", "arms": {"control": {"rate": {"mixture": [{"beta": [1, 1]}],
                                                 "weights": [1]}},
                            "treatment": {"rate": 0.5}}},
     {"arms.control.rate.mixture.²": 1},                # ValueError: int('²')
     "`arms.control.rate.mixture.²` must be an index from 0 to 0 of the list"),
    (MINIMAL, {"analysis.bayesian.prior": np.array([1, 2])},   # ValueError: truth value of
     "`analysis.bayesian.prior` must be `vague`"),             # an array is ambiguous
    (MINIMAL, {"analysis.bayesian.threshold": np.array([0.9, 0.95])},
     "`analysis.bayesian.threshold` must be `calibrate` or a probability"),
    ("a" * 300, None, "cannot be used as a file name"),        # OSError: name too long
    ("/dev/zero", None, "is not a regular file"),    # a device: never opened
])
def test_inputs_that_crashed_the_loader_are_one_scenario_error(source, overrides, message):
    with pytest.raises(ScenarioError) as err:
        load_scenario(source, overrides)
    assert message in str(err.value) and "\n" not in str(err.value), str(err.value)


def test_numpy_values_and_tuples_read_as_their_python_values():
    plain = load_scenario(MINIMAL, {"sample_size.n_control": 50, "interim.looks": [0.5, 1],
                                    "analysis.test": "z_pooled"})
    numpy = load_scenario(MINIMAL, {"sample_size.n_control": np.int64(50),
                                    "interim.looks": np.array([0.5, 1.0]),
                                    "analysis.test": np.str_("z_pooled")})
    assert numpy.digest == plain.digest
    assert load_scenario(MINIMAL, {"sample_size.n_control": 50.0, "interim.looks": (0.5, 1),
                                   "analysis.test": "z_pooled"}).digest == plain.digest


def test_long_values_are_shortened_in_the_one_line_message():
    with pytest.raises(ScenarioError) as err:
        load_scenario(dict(MINIMAL, name="not an identifier " * 10_000))
    assert len(str(err.value)) < 300 and "(text of 180,000 characters)" in str(err.value)
