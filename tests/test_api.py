"""The notebook API: load from a file or a dict, override, run, named fields,
pandas frames, matplotlib figures, and the files written."""
import json
import re

import pytest
from matplotlib.figure import Figure

from simulator import (PowerCurve, ScenarioError, Sweep, load_scenario, run, sensitivity)
from conftest import REPO


SCENARIO = {
    "name": "notebook",
    "arms": {"control": {"label": "Standard care", "rate": 0.2},
             "treatment": {"label": "IVIg", "rate": 0.69}},
    "analysis": {"test": "fisher", "alpha": 0.05, "sided": "two"},
    "dropout": 0.1,
}


def test_a_dict_and_the_bundled_file_with_the_same_content_give_the_same_answer():
    from_dict = run(load_scenario(SCENARIO))
    from_file = run(load_scenario("severe"))
    assert from_dict.sample_size.answer == from_file.sample_size.answer
    assert from_dict.sample_size.n_total_randomised == 54


def test_override_returns_a_new_validated_scenario():
    base = load_scenario("severe")
    lower = base.override({"arms.treatment.rate": 0.6, "dropout": 0.2})
    assert base.treatment.rate == 0.69 and lower.treatment.rate == 0.6
    assert lower.digest != base.digest
    assert lower.to_dict() == load_scenario("severe", {"arms.treatment.rate": 0.6,
                                                       "dropout": 0.2}).to_dict()
    with pytest.raises(ScenarioError, match="arms.treatment.rate"):
        base.override({"arms.treatment.rate": 1.5})


def test_power_curve_frame_has_the_result_rows():
    result = run(load_scenario("severe_prior"))
    assert isinstance(result.power_curve, PowerCurve)
    frame = result.power_curve.to_frame()
    assert list(frame.columns) == ["n_control", "n_treatment", "n_total", "power", "power_se",
                                   "assurance", "assurance_se"]
    assert frame["power"].tolist() == [p.power for p in result.power_curve]
    assert frame["assurance"].tolist() == [p.assurance for p in result.power_curve]
    answer = result.sample_size.answer
    row = frame.set_index("n_control").loc[answer.n_control]
    assert row["power"] == answer.power


def test_sensitivity_frame_matches_the_sweep_and_the_cli_table():
    scenario = load_scenario("severe")
    result = sensitivity(scenario, {"arms.treatment.rate": [0.5, 0.6, 0.69]})
    assert isinstance(result.sweep, Sweep)
    frame = result.sweep.to_frame()
    assert frame["arms.treatment.rate"].tolist() == [0.5, 0.6, 0.69]
    assert frame["n_control"].tolist() == [p.n_control for p in result.sweep]
    # the last point is the base scenario itself
    assert frame["n_control"].iloc[-1] == run(scenario).sample_size.answer.n_control
    with pytest.raises(ScenarioError, match="arms.treatment.rate"):
        sensitivity(scenario, {"arms.treatment.rate": 0.5})


def test_figures_are_matplotlib_objects_and_save_writes_the_report(tmp_path):
    result = run(load_scenario("severe"))
    figures = result.figures()
    assert list(figures) == ["power_curve"] and isinstance(figures["power_curve"], Figure)
    names = result.save(tmp_path / "report")
    assert {"report.html", "report.md", "results.json", "power_curve.png"} <= set(names)
    saved = json.loads((tmp_path / "report" / "results.json").read_text())
    assert saved["sample_size"]["n_total"] == 48
    assert result.justification() in (tmp_path / "report" / "report.md").read_text()


@pytest.mark.slow
def test_the_python_api_page_example_runs(tmp_path, monkeypatch):
    page = (REPO / "docs" / "python-api.md").read_text()
    code = re.search(r"```python\n(.*?)```", page, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    namespace = {}
    exec(compile(code, "python-api.md", "exec"), namespace)
    assert (tmp_path / "report_dir" / "report.html").exists()
    assert len(namespace["swept"].sweep.to_frame()) == 6
