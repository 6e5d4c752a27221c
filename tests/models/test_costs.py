"""The `costs` key: the trial's cost, item by item, from the numbers the run
itself reports (women to randomise, the arms' shares, the centres)."""
import pytest

from simulator.errors import ScenarioError
from simulator.planning.run import run
from simulator.report import tables
from simulator.scenario.build import load_scenario

COSTS = {"costs.per_woman": 5000, "costs.per_course": 9000, "costs.courses_per_woman": 2,
         "costs.per_centre": 20000, "costs.currency": "CAD"}


def test_the_cost_of_a_fixed_design_is_its_women_courses_and_centre():
    result = run(load_scenario("severe", {**COSTS, "simulation.confirm": 0}))
    d = result.to_dict()
    women = d["sample_size"]["n_total_randomised"]
    on_ivig = d["sample_size"]["n_per_arm_randomised"]["treatment"]
    assert d["cost"]["total"] == 5000 * women + 9000 * 2 * on_ivig + 20000 * 1
    assert (women, on_ivig) == (54, 27)
    assert "Cost: CAD 776,000 (54 women x 5,000 + 54 IVIg courses x 9,000 + 1 centre x " \
           "20,000)" in tables.table(result)


@pytest.mark.slow
def test_a_sequential_design_costs_its_maximum_and_its_expected_women():
    result = run(load_scenario("severe_sequential", {**COSTS, "simulation.confirm": 0}))
    d = result.to_dict()
    r_c, r_t = randomised = [d["sequential"]["looks"][-1]["n_per_arm_randomised"][arm]
                             for arm in ("control", "treatment")]
    centres = d["inputs"]["centres"]["number"]
    assert d["cost"]["total"] == 5000 * sum(randomised) + 18000 * r_t + 20000 * centres
    for name in ("planning", "null"):
        # overrunning included: every woman is randomised before the first look
        n = d["sequential"]["calendar"][f"expected_randomised_{name}"]
        expected = 5000 * n + 18000 * n * r_t / (r_c + r_t) + 20000 * centres
        assert d["cost"][f"expected_total_{name}"] == pytest.approx(expected, rel=1e-12)
        assert d["cost"][f"expected_total_{name}"] == pytest.approx(d["cost"]["total"])
    # without a recruitment model, the women needed at the look where it stops
    result = run(load_scenario("severe_sequential", {**COSTS, "simulation.confirm": 0,
                                                     "recruitment": None, "centres": None}))
    d = result.to_dict()
    n = d["sequential"]["operating_characteristics"]["planning"]["expected_n_total_needed"]
    assert d["cost"]["expected_total_planning"] == pytest.approx(
        5000 * n + 18000 * n / 2 + 20000, rel=1e-12)
    assert d["cost"]["expected_total_planning"] < d["cost"]["total"]


def test_without_costs_there_is_no_cost_and_the_scenario_is_unchanged():
    plain, costed = load_scenario("severe"), load_scenario("severe", {"costs.per_woman": 1})
    assert plain.costs is None and "costs" not in plain.to_dict()
    assert costed.to_dict()["costs"] == {"per_woman": 1}
    assert load_scenario(costed.to_dict()).digest == costed.digest     # it reruns


@pytest.mark.parametrize("overrides,field,words", [
    ({"costs": {}}, "costs", "gives no cost"),
    ({"costs.currency": "CAD"}, "costs", "gives no cost"),
    ({"costs.per_woman": 1, "costs.courses_per_woman": 2}, "costs.courses_per_woman",
     "needs `costs.per_course`"),
    ({"costs.per_woman": -1}, "costs.per_woman", "must be"),
    ({"costs.per_woman": 1, "costs.currency": "C\x1b[2J"}, "costs.currency", ""),
    ({"costs.per_women": 1}, "costs.per_women", "per_woman"),
    ({"costs.per_woman": 0, "costs.per_centre": 0}, "costs", "are all 0"),
])
def test_bad_costs_are_refused_naming_the_key(overrides, field, words):
    with pytest.raises(ScenarioError) as err:
        load_scenario("severe", overrides)
    assert err.value.field == field and words in err.value.message
