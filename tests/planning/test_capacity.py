"""A fixed design's recruitment and capacity: the recruitment keys apply to
the 2x2 design, the capacity is the design the most women randomised within
the target months allow (allocation and dropout), with its power, assurance
and detectable rate, and `--detectable` without a size works at it."""
import json

import pytest
from scipy import stats

from simulator import load_scenario, run
from simulator.engines.detectable import detectable_rate
from simulator.errors import ScenarioError
from simulator.models.recruitment import Recruitment, capacity, centres_needed
from simulator.results import randomised

SEVERE_CENTRES = {"recruitment.per_centre_month": 7 / 12, "centres.number": 4,
                  "recruitment.ramp_up_months": 6, "recruitment.follow_up_months": 10,
                  "recruitment.target_months": 36, "simulation.confirm": 0}


@pytest.fixture(scope="module")
def severe():
    return run(load_scenario("severe", SEVERE_CENTRES))


def test_the_capacity_design_uses_at_most_the_women_randomised(severe):
    cap = severe.capacity
    rec = Recruitment(7 / 12, (1, 1, 1, 1), 6.0, 10.0)
    assert cap.n_women == capacity(rec, 36, 0.8) == 70
    d = cap.design
    # the largest control arm whose randomised arms fit in the capacity (10% dropout, 1:1)
    assert (d.n_control, cap.randomised_control, cap.randomised_treatment) == (31, 35, 35)
    assert randomised(32, 0.1) * 2 > 70 >= randomised(31, 0.1) * 2
    assert cap.detectable.treatment_rate == pytest.approx(
        detectable_rate(severe_design(), 31, 0.2, 0.9).rate)
    # the proposed design (24 + 24, 54 randomised): its time and the centres it needs
    assert cap.planned.n_women == 54
    assert cap.centres_needed == centres_needed(rec, 54, 36, 0.8) == 4
    h = 4 * 7 / 12 * (36 - 3)
    assert cap.planned_within_target == pytest.approx(stats.poisson.sf(53, h), rel=1e-9)


def severe_design():
    from simulator.engines.design import Design
    return Design("fisher", "two", 0.05)


def test_json_has_the_capacity_with_its_power_and_detectable_rate(severe):
    doc = json.loads(json.dumps(severe.to_dict(), allow_nan=False))
    cap = doc["capacity"]
    assert cap["n_women"] == 70 and cap["n_per_arm"] == {"control": 31, "treatment": 31}
    assert cap["power"] == pytest.approx(0.9723, abs=1e-4)
    assert cap["detectable"]["treatment_rate"] == pytest.approx(0.618, abs=1e-3)
    assert cap["planned"]["centres_needed"] == 4
    assert doc["detectable"] is None                     # not asked for
    assert doc["inputs"]["recruitment"]["target_months"] == 36
    assert doc["inputs"]["centres"] == {"number": 4, "relative_rates": None}


def test_detectable_without_a_size_works_at_the_capacity():
    result = run(load_scenario("severe", SEVERE_CENTRES), detectable=True)
    assert result.detectable is result.capacity.detectable
    assert result.detectable.n_control == 31


def test_without_target_months_only_the_recruitment_time():
    overrides = {k: v for k, v in SEVERE_CENTRES.items() if k != "recruitment.target_months"}
    cap = run(load_scenario("severe", overrides)).capacity
    assert cap.n_women is None and cap.design is None and cap.centres_needed is None
    assert cap.planned.n_women == 54 and cap.planned.enrol_median > 0
    with pytest.raises(ScenarioError, match="needs a size"):
        run(load_scenario("severe", overrides), detectable=True)


@pytest.mark.parametrize("overrides, field", [
    ({"centres.number": 3}, "centres.number"),
    ({"recruitment.target_months": 36}, "recruitment.target_months"),
    ({"recruitment.per_centre_month": 1, "recruitment.target_probability": 0.9},
     "recruitment.target_probability"),
    ({"recruitment.per_centre_month": 1, "centres.sd_log_odds": 0.2}, "centres.sd_log_odds"),
])
def test_recruitment_keys_that_do_nothing_are_errors(overrides, field):
    with pytest.raises(ScenarioError) as err:
        load_scenario("severe", overrides)
    assert err.value.field == field


def test_a_capacity_too_small_for_any_design_says_so():
    result = run(load_scenario("severe", {**SEVERE_CENTRES, "recruitment.per_centre_month": 0.02,
                                          "recruitment.target_months": 12}))
    cap = result.capacity
    assert cap.n_women < 4 and cap.design is None and "do not make a design" in cap.note
    with pytest.raises(ScenarioError, match="has no size to work at"):
        run(load_scenario("severe", {**SEVERE_CENTRES, "recruitment.per_centre_month": 0.02,
                                     "recruitment.target_months": 12}), detectable=True)


@pytest.mark.slow
def test_a_sweep_of_the_centres_gives_the_feasibility_curve_point_by_point():
    """Each point's capacity, power and detectable rate are the run's at that value."""
    from simulator import sensitivity
    from simulator.report.figures import feasibility
    base = load_scenario("severe", SEVERE_CENTRES)
    result = sensitivity(base, {"centres.number": [2, 4, 6]})
    for p in result.sweep:
        alone = run(base.override({"centres.number": p.values["centres.number"]})).capacity
        assert p.capacity_row() == [alone.n_women, alone.design.n_control,
                                    alone.design.n_treatment, alone.design.power, None,
                                    alone.detectable.treatment_rate, alone.centres_needed]
    women = [p.capacity.n_women for p in result.sweep]
    assert women == sorted(women) and women[1] == 70
    doc = result.to_dict()["sweep"][1]["capacity"]
    assert doc["capacity_n_women"] == 70 and doc["note"] is None
    fig = feasibility(result)
    lines = {line.get_gid(): line for ax in fig.axes for line in ax.get_lines()}
    assert list(lines["power_at_capacity"].get_ydata()) == [p.capacity.design.power
                                                            for p in result.sweep]
    assert list(lines["detectable_rate"].get_ydata()) == [
        100 * p.capacity.detectable.treatment_rate for p in result.sweep]
