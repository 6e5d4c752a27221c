"""Scenario loading: defaults, bundled files, and one clear error per bad value."""
import pytest

from simulator import ScenarioError, bundled_scenarios, load_scenario
from simulator.scenario.rules import Rule
from simulator.scenario.schema import SCHEMA

MINIMAL = {"name": "m", "arms": {"control": {"rate": 0.2}, "treatment": {"rate": 0.5}}}


def test_only_name_and_arms_are_required_and_defaults_are_documented():
    sc = load_scenario(MINIMAL)
    assert (sc.analysis.test, sc.analysis.alpha, sc.analysis.sided) == ("fisher", 0.05, "two")
    assert (sc.target_power, sc.allocation, sc.dropout) == (0.90, 1.0, 0.0)
    assert (sc.simulation.method, sc.simulation.n_sims) == ("auto", 10_000)
    assert sc.simulation.seed == 20240216
    assert sc.sample_size.n_control is None and sc.sample_size.max_control == 5000


def test_every_schema_key_is_in_the_manual():
    from conftest import REPO
    docs = REPO / "docs"
    reference = (docs / "scenario-keys.md").read_text()

    def keys(schema, prefix=""):
        for k, v in schema.items():
            yield from keys(v, prefix + k + ".") if isinstance(v, dict) else [prefix + k]
    for key in keys(SCHEMA):
        assert f"| `{key}` |" in reference, key


@pytest.mark.parametrize("name,rates", [("severe", (0.20, 0.69)), ("overall", (0.34, 0.653)),
                                        ("moderate", (0.391, 0.60))])
def test_bundled_scenarios(name, rates):
    assert f"{name}.yaml" in bundled_scenarios()
    sc = load_scenario(f"{name}.yaml")
    assert (sc.control.rate, sc.treatment.rate) == rates
    assert (sc.analysis.test, sc.analysis.alpha, sc.analysis.sided) == ("fisher", 0.05, "two")
    assert (sc.target_power, sc.dropout) == (0.90, 0.10)
    assert "Peero" in sc.source and "doi:10.1038/s41598-024-54423-z" in sc.source
    assert load_scenario(name) == sc                    # ".yaml" may be left out


def with_value(path, value):
    raw = {"name": "m", "arms": {"control": {"rate": 0.2}, "treatment": {"rate": 0.5}}}
    node = raw
    parts = path.split(".")
    for p in parts[:-1]:
        node = node.setdefault(p, {})
    node[parts[-1]] = value
    return raw


@pytest.mark.parametrize("path,value,message", [
    ("arms.treatment.rate", 1.2, "must be a probability in [0, 1]; got 1.2"),
    ("arms.control.rate", "0.2", "must be a probability in [0, 1]; got '0.2'"),
    ("arms.control.rate", True, "must be a probability in [0, 1]; got True"),
    ("analysis.alpha", 0.0, "must be a level in (0, 0.5]; got 0.0"),
    ("analysis.alpha", "1e-3", "YAML reads 1e-3 as text"),
    ("analysis.test", "fischer",
     "must be one of fisher, boschloo, barnard, z_pooled, z_unpooled, chi2_yates, bayesian"),
    ("analysis.sided", 2, "must be one of two, one; got 2"),
    ("target_power", 1.0, "must be a probability in (0, 1); got 1.0"),
    ("target_power", 0.04, "must be above `analysis.alpha`"),
    ("dropout", 1.0, "must be a share in [0, 1); got 1.0"),
    ("allocation", 0, "must be a ratio in [0.05, 20]; got 0"),
    ("sample_size.n_control", 2.5, "must be a whole number from 1 to 100,000; got 2.5"),
    ("sample_size.max_control", 0, "must be a whole number from 1 to 100,000; got 0"),
    ("simulation.n_sims", 10**10, "must be a whole number from 100 to 100,000,000"),
    ("simulation.seed", -1, "must be a whole number from 0 to"),
    ("simulation.method", "mc", "must be one of auto, exact, monte_carlo"),
    ("simulation", [1], "must be a mapping; got [1]"),
])
def test_bad_values_name_the_field_the_rule_and_the_value(path, value, message):
    with pytest.raises(ScenarioError) as err:
        load_scenario(with_value(path, value))
    field = "target_power" if "alpha`" in message else path
    assert err.value.field == field
    assert str(err.value).startswith(f"`{field}` ")
    assert message in str(err.value)


@pytest.mark.parametrize("raw,field,message", [
    ({"arms": MINIMAL["arms"]}, "name", "is required"),
    ({"name": "m"}, "arms", "is required"),
    ({"name": "m", "arms": {"control": {"rate": 0.2}}}, "arms.treatment", "needs exactly one of `rate`"),
    ({**MINIMAL, "analyis": {}}, "analyis", "did you mean `analysis`?"),
    ({**MINIMAL, "arms": {**MINIMAL["arms"], "placebo": {"rate": 0.1}}}, "arms.placebo",
     "is not a known key"),
    ({**MINIMAL, "simulation": {"nsims": 5}}, "simulation.nsims", "did you mean `n_sims`?"),
    ({**MINIMAL, "name": "bad name!"}, "name", "must be an identifier"),
])
def test_structure_errors(raw, field, message):
    with pytest.raises(ScenarioError) as err:
        load_scenario(raw)
    assert err.value.field == field and message in str(err.value)


def test_overrides_are_validated_like_the_file():
    with pytest.raises(ScenarioError) as err:
        load_scenario("severe", {"simulation.n_sim": 5})
    assert err.value.field == "simulation.n_sim" and "did you mean `n_sims`" in str(err.value)
    with pytest.raises(ScenarioError, match=r"^severe.yaml \(value from the command line or overrides\): `simulation.n_sims` must be"):
        load_scenario("severe", {"simulation.n_sims": 5})


def test_file_errors_name_the_file(tmp_path):
    bad = tmp_path / "broken.yaml"
    bad.write_text("name: x\narms: {control: {rate: 0.2}\n")
    with pytest.raises(ScenarioError, match=r"^broken.yaml: YAML syntax error at line \d+"):
        load_scenario(bad)
    (tmp_path / "dup.yaml").write_text("name: a\nname: b\narms: {}\n")
    with pytest.raises(ScenarioError, match=r"^dup.yaml: YAML syntax error at line 2.*duplicate key 'name'"):
        load_scenario(tmp_path / "dup.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(ScenarioError, match="must be a mapping"):
        load_scenario(tmp_path / "list.yaml")
    with pytest.raises(ScenarioError, match="no such file"):
        load_scenario(tmp_path / "missing.yaml")
    with pytest.raises(ScenarioError, match="no bundled scenario of that name"):
        load_scenario("sever")


def test_schema_rules_all_have_documentation():
    def rules(schema):
        for v in schema.values():
            yield from rules(v) if isinstance(v, dict) else [v]
    assert all(isinstance(r, Rule) and r.doc for r in rules(SCHEMA))


def test_scenario_digest_is_the_sha256_of_the_validated_scenario():
    import hashlib
    import json
    sc = load_scenario("severe")
    blob = json.dumps(sc.to_dict(), sort_keys=True).encode()
    assert sc.digest == hashlib.sha256(blob).hexdigest()[:12]
    # defaults written out or left implicit give the same digest; any change alters it
    assert load_scenario({**MINIMAL, "analysis": {"test": "fisher"}}).digest == load_scenario(MINIMAL).digest
    assert load_scenario(MINIMAL, {"simulation.seed": 1}).digest != load_scenario(MINIMAL).digest
