"""The keyword API (simulator.sample_size, power, detectable, solve, compare):
each gives what the command gives for the same scenario, its errors name the
argument, and its results show themselves (summary, HTML, figures, YAML)."""
import json
from html.parser import HTMLParser

import pytest
import yaml
from matplotlib.figure import Figure

import simulator
from simulator import ScenarioError, load_scenario, run
from simulator.report import tables

POINT = {"control": 0.20, "treatment": 0.69}
PRIOR = {"control": {"events": 5, "n": 25, "discount": 0.5},
         "treatment": {"events": 20, "n": 29, "discount": 0.5}}
INTERIM = {"looks": [0.5, 1], "efficacy": {"type": "spending", "spending": "ld_obrien_fleming"}}

# each case: the keyword arguments, and the same scenario written as a file by hand
CASES = {
    "point rates": (dict(POINT, dropout=0.1),
                    {"arms": {"control": {"rate": 0.2}, "treatment": {"rate": 0.69}},
                     "dropout": 0.1}),
    "priors": (dict(PRIOR, target_assurance=0.8, mcid=0.1),
               {"arms": {"control": {"rate": PRIOR["control"]},
                         "treatment": {"rate": PRIOR["treatment"]}},
                "target_assurance": 0.8, "mcid": 0.1}),
    "interim looks": (dict(POINT, test="z_pooled", alpha=0.025, sided="one", interim=INTERIM),
                      {"arms": {"control": {"rate": 0.2}, "treatment": {"rate": 0.69}},
                       "analysis": {"test": "z_pooled", "alpha": 0.025, "sided": "one"},
                       "interim": INTERIM}),
    "patient-level model": (dict(POINT, model="patient", n_sims=400, seed=7,
                                 centres={"number": 3, "sd_log_odds": 0.2}),
                            {"arms": {"control": {"rate": 0.2}, "treatment": {"rate": 0.69}},
                             "model": "patient", "simulation": {"n_sims": 400, "seed": 7},
                             "centres": {"number": 3, "sd_log_odds": 0.2}}),
}


def command_json(cli, tmp_path, spec: dict, *options) -> dict:
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump({"name": "trial", **spec}))
    proc = cli("--scenario", path, "--format", "json", *options, check_rc=0)
    return json.loads(proc.stdout)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.slow
def test_sample_size_and_power_give_the_command_json_for_the_same_scenario(case, cli, tmp_path):
    keywords, spec = CASES[case]
    assert simulator.sample_size(**keywords).to_dict() == command_json(cli, tmp_path, spec)
    at = 20
    assert simulator.power(n_control=at, **keywords).to_dict() == command_json(
        cli, tmp_path, spec, "--n-control", at)


@pytest.mark.parametrize("case", ["point rates", "priors"])
@pytest.mark.slow
def test_detectable_gives_the_command_json_for_the_same_scenario(case, cli, tmp_path):
    keywords, spec = CASES[case]
    result = simulator.detectable(n_control=30, **keywords)
    assert result.to_dict() == command_json(cli, tmp_path, spec, "--n-control", 30,
                                            "--detectable")


@pytest.mark.slow
def test_solving_for_the_rate_gives_the_command_json_at_the_rate_found(cli, tmp_path):
    result = simulator.solve(control=0.2, treatment=None, n_control=30, power=0.9)
    rate = result.detectable.treatment_rate
    assert 0.62 < rate < 0.64 and result.scenario.treatment.rate == rate
    spec = {"arms": {"control": {"rate": 0.2}, "treatment": {"rate": rate}}}
    assert result.to_dict() == command_json(cli, tmp_path, spec, "--n-control", 30,
                                            "--detectable")


@pytest.mark.slow
def test_compare_gives_the_command_json(cli):
    ours = simulator.compare("severe", vary={"analysis.test": ["fisher", "boschloo"]})
    proc = cli("compare", "severe", "--vary", "analysis.test=fisher,boschloo", "--format",
               "json", check_rc=0)
    assert ours.to_dict() == json.loads(proc.stdout)


def test_solve_answers_what_sample_size_power_and_detectable_answer():
    size = simulator.solve(control=0.2, treatment=0.69, n_control=None, power=0.9)
    assert size.to_dict() == simulator.sample_size(control=0.2, treatment=0.69,
                                                   power=0.9).to_dict()
    assert size.sample_size.answer.n_control == 24
    at = simulator.solve(control=0.2, treatment=0.69, n_control=24, power=None)
    assert at.to_dict() == simulator.power(control=0.2, treatment=0.69, n_control=24).to_dict()
    assert at.evaluated.power == size.sample_size.answer.power
    rate = simulator.solve(control=0.2, treatment=None, n_control=30, power=0.9)
    assert rate.to_dict() == simulator.detectable(control=0.2, n_control=30).to_dict()


def test_a_base_scenario_takes_the_arguments_as_overrides():
    ours = simulator.sample_size(scenario="severe", treatment=0.6, test="boschloo")
    theirs = run(load_scenario("severe", {"arms.treatment.rate": 0.6,
                                          "analysis.test": "boschloo"}))
    assert ours.to_dict() == theirs.to_dict()
    base = load_scenario("severe")
    assert simulator.power(scenario=base, n_control=24).evaluated.power == pytest.approx(0.92,
                                                                                         abs=1e-3)


@pytest.mark.parametrize("call, field, words", [
    (lambda: simulator.sample_size(control=0.2, treatment={"events": 20, "n": 29,
                                                           "discount": 2}),
     "treatment.discount", "in [0, 1]; got 2"),
    (lambda: simulator.sample_size(control=1.2, treatment=0.5), "control", "probability"),
    (lambda: simulator.sample_size(treatment=0.5), "control", "is required"),
    (lambda: simulator.power(control=0.2, treatment=0.5), "n_control", "is required"),
    (lambda: simulator.power(control=0.2, treatment=0.5, n_control=0), "n_control", "got 0"),
    (lambda: simulator.sample_size(control=0.2, treatment=0.5, tset="boschloo"), "tset",
     "did you mean `test`"),
    (lambda: simulator.sample_size(control=0.2, treatment=0.5, test="fisher",
                                   analysis={"test": "boschloo"}), "test", "inside `analysis`"),
    (lambda: simulator.sample_size(control=0.2, treatment=0.5, interim={"looks": [0.5, 0.9]}),
     "interim.looks", "ending at 1"),
    (lambda: simulator.sample_size(control=0.2, treatment=0.5, seed=-1), "seed", "got -1"),
    (lambda: simulator.sample_size(scenario="severe", treatment=1.5), "treatment", "got 1.5"),
    (lambda: simulator.detectable(control=0.2, n_control=30, model="patient"), "model",
     "fixed design"),
    (lambda: simulator.detectable(control=0.2), "n_control", "is required"),
    (lambda: simulator.compare("severe", vary={"analysis.test": "fisher"}), "vary", "list"),
])
def test_every_error_is_the_scenario_error_naming_the_argument(call, field, words):
    with pytest.raises(ScenarioError) as caught:
        call()
    assert caught.value.field == field, str(caught.value)
    assert words in str(caught.value) and "\n" not in str(caught.value)
    assert caught.value.file is None


@pytest.mark.parametrize("given", [{}, {"treatment": 0.69, "n_control": 24, "power": 0.9},
                                   {"treatment": 0.69}])
def test_solve_needs_exactly_one_none(given):
    keywords = dict({"treatment": None, "n_control": None, "power": None}, **given)
    with pytest.raises(ScenarioError, match="exactly one of `treatment`, `n_control` and "
                                            "`power` must be None"):
        simulator.solve(control=0.2, **keywords)


def test_the_caller_s_mappings_are_not_changed():
    arms = {"control": {"label": "Standard care"}, "treatment": {"label": "IVIg"}}
    prior = {"events": 20, "n": 29, "discount": 0.5}
    for _ in range(2):
        s = simulator.api.build_scenario(control=0.2, treatment=prior, arms=arms)
    assert arms == {"control": {"label": "Standard care"}, "treatment": {"label": "IVIg"}}
    assert prior == {"events": 20, "n": 29, "discount": 0.5}
    assert s.control.label == "Standard care" and s.treatment.prior is not None


def test_results_have_a_short_repr_and_summary_is_the_command_table():
    result = simulator.sample_size(control=0.2, treatment=0.69)
    assert repr(result) == "<PlanResult trial: 24 + 24 with an outcome, power 0.920 (exact)>"
    assert repr(result.scenario).startswith("<Scenario trial: 0.2 vs 0.69, fisher")
    assert result.summary() == tables.table(result)
    assert repr(result.summary()) == tables.table(result)      # a notebook shows it as text
    figures = result.plot()
    assert list(figures) == ["power_curve"] and isinstance(figures["power_curve"], Figure)
    with pytest.raises(ScenarioError, match="no figure 'boundaries'"):
        result.plot("boundaries")


@pytest.mark.parametrize("name", simulator.bundled_scenarios())
def test_to_yaml_reads_back_to_the_same_scenario(name, tmp_path):
    scenario = load_scenario(name)
    path = tmp_path / "written.yaml"
    text = scenario.to_yaml(path)
    assert path.read_text(encoding="utf-8") == text
    again = load_scenario(path)
    assert again.digest == scenario.digest and again.to_dict() == scenario.to_dict()
    assert list(yaml.safe_load(text))[:2] == ["name", "title"]       # the schema's order


class Parts(HTMLParser):
    """Tags, attributes and text of an HTML fragment."""

    def __init__(self):
        super().__init__()
        self.tags, self.attributes, self.text = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes += attrs

    def handle_data(self, data):
        self.text.append(data)


def self_contained(fragment: str) -> Parts:
    parts = Parts()
    parts.feed(fragment)
    assert not {"html", "head", "body", "script", "link", "iframe", "style", "object",
                "embed"} & set(parts.tags)
    for name, value in parts.attributes:
        assert not name.startswith("on"), name                  # no event handlers
        if name in ("src", "href", "srcset", "action"):
            assert value.startswith("data:image/png;base64,"), (name, value[:40])
    lowered = fragment.lower()
    assert "http:" not in lowered and "https:" not in lowered and "url(" not in lowered
    assert "@import" not in lowered
    return parts


@pytest.mark.slow
def test_the_notebook_html_is_self_contained_and_holds_the_answer():
    result = simulator.sample_size(control=0.2, treatment=0.69, dropout=0.1)
    parts = self_contained(result._repr_html_())
    text = " ".join(parts.text)
    assert "24 Control + 24 Treatment = 48 women with a known outcome (power 0.9200)" in text
    assert "27 + 27 = 54 women" in text
    assert result.justification().split(". ")[0].replace("`", "") in text    # the paragraph
    assert parts.tags.count("img") == 1                                       # the power curve
    compared = simulator.compare("severe", vary={"analysis.test": ["fisher", "boschloo"]})
    parts = self_contained(compared._repr_html_())
    assert "B (severe, analysis.test=boschloo) needs the fewest women" in " ".join(parts.text)
    assert parts.tags.count("img") == 1 and "table" in parts.tags
