"""Sensitivity sweeps and --set overrides, from the library and the command line."""
import csv
import io
import json

import pytest

from simulator import ScenarioError, bundled_scenarios, load_scenario, run
from simulator.engines.exact import exact_power
from simulator.planning.planners import design_of
from simulator.planning.sweep import parse_set, parse_sweep, run_with_sweep


def test_parse_sweep_includes_stop_and_keeps_whole_numbers():
    assert parse_sweep("arms.treatment.rate=0.30:0.70:0.05").values == tuple(
        round(0.30 + 0.05 * i, 12) for i in range(9))
    assert parse_sweep("sample_size.max_control=10:30:10").values == (10, 20, 30)
    assert parse_sweep("dropout=0:0.25:0.1").values == (0.0, 0.1, 0.2)


@pytest.mark.parametrize("spec", ["dropout", "dropout=0:1", "dropout=1:0:0.1", "dropout=0:1:0",
                                  "dropout=a:1:0.1", "=0:1:0.1", "dropout=0:1e9:1"])
def test_bad_sweeps_are_errors_naming_the_option(spec):
    with pytest.raises(ScenarioError) as err:
        parse_sweep(spec)
    assert err.value.field == "--sweep"


def test_parse_set_reads_yaml_values():
    assert parse_set("arms.treatment.rate={events: 20, n: 29}") == (
        "arms.treatment.rate", {"events": 20, "n": 29})
    assert parse_set("arms.treatment.rate=null") == ("arms.treatment.rate", None)
    assert parse_set("analysis.test=z_pooled") == ("analysis.test", "z_pooled")
    with pytest.raises(ScenarioError):
        parse_set("novalue")


@pytest.mark.slow
def test_each_point_is_the_scenario_run_at_that_value():
    result = run_with_sweep("severe", {}, [parse_sweep("arms.treatment.rate=0.45:0.75:0.15")])
    planned = result.sample_size.answer.n_control
    for point in result.sweep:
        value = point.values["arms.treatment.rate"]
        alone = run(load_scenario("severe", {"arms.treatment.rate": value}))
        assert point.n_control == alone.sample_size.answer.n_control
        assert point.n_total_randomised == alone.sample_size.n_total_randomised
        sc = load_scenario("severe", {"arms.treatment.rate": value})
        expected = exact_power(design_of(sc), sc.treatment.rate, sc.control.rate, [planned])
        assert point.power_at_planned == expected[0]
        assert point.planned_control == planned


@pytest.mark.slow
def test_a_point_at_the_base_value_reproduces_the_base_run_and_overrides_are_not_mutated():
    base = {"arms.control.rate": {"events": 5, "n": 25, "discount": 0.5},
            "arms.treatment.rate": {"events": 20, "n": 29, "discount": 0.5}}
    snapshot = json.dumps(base, sort_keys=True)
    result = run_with_sweep("severe", base, [parse_sweep("arms.treatment.rate.discount=0:1:0.5")])
    assert json.dumps(base, sort_keys=True) == snapshot
    middle = result.sweep[1]
    assert middle.values == {"arms.treatment.rate.discount": 0.5}
    assert middle.n_control == result.sample_size.answer.n_control
    assert middle.assurance_at_planned == result.assurance.at_reported.assurance


@pytest.mark.slow
def test_two_keys_make_a_grid_and_points_without_an_answer_say_why():
    result = run_with_sweep("severe", {}, [parse_sweep("arms.treatment.rate=0.1:0.3:0.1"),
                                           parse_sweep("arms.control.rate=0.1:0.2:0.1")])
    assert [tuple(p.values.values()) for p in result.sweep] == [
        (0.1, 0.1), (0.1, 0.2), (0.2, 0.1), (0.2, 0.2), (0.3, 0.1), (0.3, 0.2)]
    equal = [p for p in result.sweep if p.values["arms.treatment.rate"] ==
             p.values["arms.control.rate"]]
    assert equal and all(p.n_control is None and "equal rates" in p.error for p in equal)
    # sizes shrink as the effect grows (two-sided: 0.1 vs 0.2 is found too)
    assert all(p.n_control for p in result.sweep if p not in equal)


def test_sweep_limits():
    with pytest.raises(ScenarioError, match="at most 2"):
        run_with_sweep("severe", {}, [parse_sweep("dropout=0:0.1:0.1"),
                                      parse_sweep("mcid=0.1:0.2:0.1"),
                                      parse_sweep("allocation=1:2:1")])
    with pytest.raises(ScenarioError, match="cannot sweep"):
        run_with_sweep("severe", {}, [parse_sweep("sample_size.n_control=10:20:5")])
    with pytest.raises(ScenarioError, match="must be a probability") as err:
        run_with_sweep("severe", {}, [parse_sweep("arms.treatment.rate=0.5:1.5:0.5")])
    assert "command line" in str(err.value)


@pytest.mark.slow
def test_cli_sweep_json_csv_and_files(cli, tmp_path):
    out = tmp_path / "res"
    args = ["--scenario", "severe_prior", "--sweep", "arms.treatment.rate.discount=0.25:1:0.25"]
    doc = json.loads(cli(*args, "--format", "json", "--out", out, check_rc=0).stdout)
    assert len(doc["sweep"]) == 4 and doc["prior"] and doc["assurance"]
    assert sorted(p.name for p in out.iterdir()) == [
        ".simulate-outputs", "assumptions.csv", "power_curve.csv", "power_curve.png", "report.docx",
        "report.html", "report.md",
        "results.json", "sensitivity.png", "sweep.csv"]
    rows = list(csv.DictReader(io.StringIO((out / "sweep.csv").read_text())))
    assert [float(r["arms.treatment.rate.discount"]) for r in rows] == [0.25, 0.5, 0.75, 1.0]
    assert [int(r["n_control"]) for r in rows] == [p["n_per_arm"]["control"] for p in doc["sweep"]]
    printed = cli(*args, "--format", "csv", check_rc=0).stdout
    assert printed == (out / "sweep.csv").read_text()
    report = (out / "report.md").read_text()
    assert "## Sensitivity analysis" in report and "sensitivity analysis over" in report


@pytest.mark.slow
def test_cli_sweep_identical_with_one_or_two_jobs(cli):
    args = ["--scenario", "severe_prior", "--method", "monte_carlo", "--n-sims", "2000",
            "--sweep", "arms.control.rate.discount=0.5:1:0.5", "--format", "json"]
    assert cli(*args, "--jobs", "1", check_rc=0).stdout == cli(*args, "--jobs", "2",
                                                                check_rc=0).stdout


@pytest.mark.slow
def test_cli_set_overrides_and_errors(cli):
    doc = json.loads(cli("--set", "arms.treatment.rate={events: 20, n: 29, discount: 0.5}",
                         "--set", "target_assurance=0.7", "--format", "json", check_rc=0).stdout)
    assert doc["prior"]["treatment"]["rate_prior"]["components"][0]["beta"] == [11.0, 5.5]
    assert doc["assurance"]["target"] == 0.7
    proc = cli("--set", "arms.treatment.rate.discount=0.3")
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert "command line" in proc.stderr and "must be a mapping" in proc.stderr
    proc = cli("--set", "arms.treatment.rate={events: 20, n: 29, discount: 2}")
    assert proc.returncode == 2
    assert "`arms.treatment.rate.discount` must be a discount" in proc.stderr
    proc = cli("--sweep", "dropout=0:1:0")
    assert proc.returncode == 2 and "`--sweep` must be KEY=START:STOP:STEP" in proc.stderr


def test_mixture_components_can_be_set_and_swept_by_index():
    mixture = {"mixture": [{"events": 20, "n": 29}, {"beta": [1, 1]}], "weights": [0.8, 0.2]}
    result = run_with_sweep("severe", {"arms.treatment.rate": mixture},
                            [parse_sweep("arms.treatment.rate.mixture.0.discount=0.5:1:0.5")])
    alone = run(load_scenario("severe", {"arms.treatment.rate": mixture,
                                         "arms.treatment.rate.mixture.0.discount": 0.5}))
    assert result.sweep[0].n_control == alone.sample_size.answer.n_control
    with pytest.raises(ScenarioError, match="index from 0 to 1"):
        load_scenario("severe", {"arms.treatment.rate": mixture,
                                 "arms.treatment.rate.mixture.2.n": 3})


def test_a_swept_allocation_that_empties_the_planned_treatment_arm_says_so():
    result = run_with_sweep("severe", {"sample_size.n_control": 5},
                            [parse_sweep("allocation=0.05:0.15:0.05")])
    first = result.sweep[0]
    assert first.planned_treatment == 0 and first.power_at_planned is None
    assert "empty treatment arm" in first.error
    assert result.sweep[2].power_at_planned is not None


@pytest.mark.slow
def test_command_line_values_are_blamed_for_unanswerable_plans_and_null_removes_inside_a_prior(cli):
    proc = cli("--scenario", "skeptical", "--set", "arms.treatment.effect.shrink=0")
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert "(value from the command line or overrides): `arms.treatment.effect` equal rates" \
        in proc.stderr
    sc = load_scenario("skeptical", {"arms.treatment.effect.ci95": None,
                                     "target_assurance": None, "mcid": None})
    assert "ci95" not in sc.to_dict()["arms"]["treatment"]["effect"] and not sc.has_prior


# A sweep point is the base scenario at one value of the grid: at the base's
# own value it must give the base run's numbers back exactly, for every kind
# of design (fixed, priors, sequential, Bayesian, patient-level).  The
# patient-level scenario runs with fewer simulated trials (the same in both).
OWN_VALUE_OVERRIDES = {"multicentre": {"simulation.n_sims": 1000}}


@pytest.mark.parametrize("name", [n.removesuffix(".yaml") for n in bundled_scenarios()]
                         + ["bayesian"])
@pytest.mark.slow
def test_a_sweep_at_the_base_values_gives_the_base_run_back_exactly(name):
    overrides = dict(OWN_VALUE_OVERRIDES.get(name, {}))
    if name == "bayesian":      # a fixed Bayesian rule with a calibrated threshold
        name = "severe"
        overrides.update({"analysis.test": "bayesian", "analysis.alpha": 0.025,
                          "analysis.sided": "one", "arms.treatment.rate": 0.5})
    base = load_scenario(name, overrides)
    result = run_with_sweep(name, overrides,
                            [parse_sweep(f"target_power={base.target_power}:"
                                         f"{base.target_power}:1")])
    (point,) = result.sweep
    planned = result.reported
    at_planned = next(p for p in result.power_curve if p.n_control == planned.n_control)
    assert point.error is None
    assert point.planned_control == planned.n_control
    assert point.power_at_planned == at_planned.power
    assert point.power_at_planned_se == at_planned.power_se
    assert point.assurance_at_planned == at_planned.assurance
    assert (point.n_control, point.power, point.n_total_randomised) == (
        result.sample_size.answer.n_control, result.sample_size.answer.power,
        result.sample_size.n_total_randomised)
    if result.assurance is not None and result.assurance.sample_size is not None:
        assert point.assurance_n_control == result.assurance.sample_size.answer.n_control


@pytest.mark.slow
def test_a_sequential_sweep_reports_the_sequential_power_not_the_fixed_designs():
    """The bug this guards against: severe_sequential's planned size 21 + 21
    has power 0.9036 with its interim looks, 0.9157 as a fixed design."""
    result = run_with_sweep("severe_sequential", {},
                            [parse_sweep("arms.treatment.rate=0.6:0.69:0.09")])
    at_base = next(p for p in result.sweep if p.values["arms.treatment.rate"] == 0.69)
    assert at_base.power_at_planned == pytest.approx(0.9036, abs=5e-5)
    fixed = load_scenario("severe", {"analysis.test": "z_pooled", "analysis.alpha": 0.025,
                                     "analysis.sided": "one"})
    power = exact_power(design_of(fixed), fixed.treatment.rate, fixed.control.rate, [21])
    assert power[0] == pytest.approx(0.9157, abs=5e-5)     # what it used to report
