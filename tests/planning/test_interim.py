"""Interim analyses from scenario files: validation, the maximum-size search
against rpact's analytic sample size, the Bayesian rule, the calendar of the
looks, and the bundled severe_sequential scenario."""
import json
import math

import numpy as np
import pytest
from scipy import optimize, stats

from simulator import load_scenario, run
from simulator.stats.boundaries import crossing, efficacy_bounds
from simulator.planning.planners import planner_for
from simulator.errors import NoSolutionError, ScenarioError
from simulator.models.recruitment import Recruitment, look_calendar
from simulator.report.justification import justification_text
from simulator.report.tables import table

RPACT = {
    "name": "rpact_example",
    "arms": {"control": {"rate": 0.4}, "treatment": {"rate": 0.6}},
    "analysis": {"test": "z_pooled", "alpha": 0.025, "sided": "one"},
    "interim": {"looks": [0.5, 0.75, 1], "efficacy": {"type": "obrien_fleming"},
                "futility": {"type": "z", "z": [0, 0.5]}},
    "target_power": 0.9,
}


def rpact_maximum_total():
    """rpact's getSampleSizeRates for the design of its vignette (OBF at 0.5 /
    0.75 / 1, futility 0 / 0.5, one-sided 0.025, power 0.9, 0.6 vs 0.4): the
    fixed normal-approximation size times the design's inflation factor.  The
    same formula gives rpact's expected size under H1, 198.3 (test_boundaries)."""
    t = np.array([0.5, 0.75, 1])
    upper, lower = efficacy_bounds(t, 0.025, "obrien_fleming"), np.array([0, 0.5, -np.inf])
    drift = optimize.brentq(lambda d: crossing(t, upper, lower, d)[0].sum() - 0.9, 1, 6)
    za, zb = stats.norm.ppf(0.975), stats.norm.ppf(0.9)
    fixed = 2 * ((za * np.sqrt(2 * 0.25) + zb * np.sqrt(0.48)) / 0.2) ** 2
    return (drift / (za + zb)) ** 2 * fixed


@pytest.mark.slow
def test_maximum_size_agrees_with_rpact_analytic_sample_size():
    n_max = rpact_maximum_total()
    assert n_max == pytest.approx(266.27, abs=0.01)
    exact = run(load_scenario(RPACT))
    per_arm = exact.sample_size.answer.n_control
    assert abs(per_arm - n_max / 2) <= 2          # discreteness of the exact z test
    assert exact.sequential.operating["planning"].expected_n_total == pytest.approx(
        198.3, rel=0.01)
    assert exact.sequential.analytic_inflation == pytest.approx(n_max / 258.5058, rel=1e-4)
    simulated = run(load_scenario(RPACT, {"simulation.method": "monte_carlo"}))
    lo, hi = simulated.sample_size.interval_control
    assert lo <= n_max / 2 <= hi                  # within Monte Carlo error


@pytest.mark.slow
def test_simulated_operating_characteristics_match_exact_ones():
    scenario = dict(RPACT, sample_size={"n_control": 120})
    exact = run(load_scenario(scenario)).sequential.operating
    sim = run(load_scenario(scenario, {"simulation.method": "monte_carlo",
                                       "simulation.n_sims": 40_000})).sequential.operating
    for name in ("planning", "null", "null_ignoring_futility"):
        for key in ("efficacy", "futility"):
            e, s = np.array(getattr(exact[name], key)), np.array(getattr(sim[name], key))
            assert np.all(np.abs(e - s) <= 3 * np.sqrt(e * (1 - e) / 40_000) + 1e-12), name
    assert sim["null_ignoring_futility"].power <= 0.025 + 3 * math.sqrt(0.025 * 0.975 / 40_000)


@pytest.mark.slow
def test_bayesian_rule_threshold_is_calibrated_to_alpha():
    scenario = {"name": "bayes", "arms": {"control": {"rate": 0.2}, "treatment": {"rate": 0.5}},
                "analysis": {"test": "bayesian", "alpha": 0.025, "sided": "one"}}
    result = run(load_scenario(scenario))
    sq = result.sequential
    assert 0.97 < sq.threshold < 1 and sq.calibrated
    assert result.type_one_error <= 0.025
    # a fixed Bayesian rule calibrated to alpha is about as powerful as Fisher's
    # test at the same level (both are exact; the rule is less conservative)
    fisher = run(load_scenario(dict(scenario, analysis={"test": "fisher", "alpha": 0.025,
                                                        "sided": "one"})))
    assert result.sample_size.answer.n_control <= fisher.sample_size.answer.n_control
    given = run(load_scenario(scenario, {"analysis.bayesian.threshold": 0.99,
                                         "sample_size.n_control": 60}))
    assert given.sequential.threshold == 0.99
    assert "P(treatment rate > control rate) >= 0.99," in table(given)


@pytest.mark.slow
def test_bayesian_interim_rule_with_design_priors():
    scenario = {"name": "bayes_seq",
                "arms": {"control": {"rate": {"events": 5, "n": 25, "discount": 0.5}},
                         "treatment": {"rate": {"events": 20, "n": 29, "discount": 0.5}}},
                "analysis": {"test": "bayesian", "alpha": 0.025, "sided": "one",
                             "bayesian": {"prior": "design"}},
                "interim": {"looks": [0.5, 1], "efficacy": {"type": "posterior"},
                            "futility": {"type": "predictive", "threshold": 0.05}},
                "sample_size": {"n_control": 30}}
    result = run(load_scenario(scenario))
    sq = result.sequential
    assert sq.to_dict()["analysis_prior"] == {"treatment": [11.0, 5.5], "control": [3.5, 11.0]}
    # the informative prior favours the treatment: the calibrated threshold is high
    assert result.type_one_error <= 0.025 and sq.threshold > 0.999
    assert sq.looks[0].efficacy_posterior == sq.threshold
    assert sq.looks[0].futility_predictive == 0.05
    assert "prior" in sq.operating and sq.operating["prior"].method == "monte_carlo"
    # a fixed interim threshold that alone spends more than alpha has no calibration
    with pytest.raises(NoSolutionError, match="interim.efficacy.threshold"):
        run(load_scenario(scenario, {"interim.efficacy.threshold": 0.999}))


@pytest.mark.slow
def test_look_calendar_matches_a_simulated_recruitment():
    rec = Recruitment(1.5, (2, 2, 1.5, 1, 1, 1, 0.75, 0.5), 6, 10)
    rng = np.random.default_rng(1)
    n = 100_000
    arrivals = rec.inverse_cumulative(np.cumsum(rng.exponential(size=(n, 260)), axis=1))
    for due, total in ((30, 200), (66, 66), (120, 200)):
        month, women = look_calendar(rec, due, total)
        look = arrivals[:, due - 1] + 10
        sim_month = look.mean()
        sim_women = np.minimum((arrivals <= look[:, None]).sum(axis=1), total)
        assert abs(month - sim_month) <= 3 * look.std() / math.sqrt(n)
        assert abs(women - sim_women.mean()) <= 3 * sim_women.std() / math.sqrt(n) + 1e-9


@pytest.mark.slow
def test_severe_sequential_scenario_reports_bounds_stops_and_calendar():
    result = run(load_scenario("severe_sequential.yaml"))
    d = json.loads(json.dumps(result.to_dict()))
    sq = d["sequential"]
    assert [row["look"] for row in sq["looks"]] == [1, 2, 3]
    for name, oc in sq["operating_characteristics"].items():
        assert sum(oc["stopping"]) == pytest.approx(1.0, abs=1e-9)
        assert oc["expected_n_total"] <= oc["max_n_total"] + 1e-9
    pl = sq["operating_characteristics"]["planning"]
    assert pl["power"] == d["sample_size"]["power"] >= 0.9
    assert sq["looks"][-1]["alpha_spent"] == pytest.approx(0.025, abs=1e-8)
    calendar = sq["calendar"]
    months = [x["expected_month"] for x in calendar["looks"]]
    assert months == sorted(months)
    assert months[0] <= calendar["expected_end_month_null"] <= months[-1]
    assert d["type_one_error"]["value"] == \
        sq["operating_characteristics"]["null_ignoring_futility"]["power"]     # non-binding
    said = justification_text(result)
    text = " ".join([said.paragraph, *said.details])
    assert f"type I error is {d['type_one_error']['value']:.4f}" in said.paragraph
    assert "(33% and 67% of the maximum)" in said.paragraph and "inflation factor" in text
    first = calendar["looks"][0]["expected_randomised"]
    assert first == pytest.approx(pl["max_n_total_needed"], abs=0.5)     # all, with overrunning
    assert f"by the first analysis all {pl['max_n_total_needed']} women" in text
    assert f"about {pl['expected_n_total']:.0f} women on average" in text


@pytest.mark.parametrize("overrides,field", [
    ({"interim.looks": [0.5, 0.4, 1]}, "interim.looks"),
    ({"interim.looks": [0.5, 0.9]}, "interim.looks"),
    ({"interim.looks": [0.5, 1]}, "analysis.test"),                     # fisher
    ({"interim.efficacy.type": "pocock"}, "interim.efficacy.type"),     # no looks
    ({"interim.looks": [0.5, 1], "analysis.test": "z_pooled",
      "interim.futility.type": "z", "interim.futility.z": 0}, "interim.futility.type"),  # two-sided
    ({"interim.looks": [0.5, 1], "analysis.test": "z_pooled", "analysis.sided": "one",
      "interim.futility.type": "z"}, "interim.futility.z"),
    ({"interim.looks": [0.5, 0.7, 1], "analysis.test": "z_pooled", "analysis.sided": "one",
      "interim.futility.type": "z", "interim.futility.z": [0, 1, 2]}, "interim.futility.z"),
    ({"interim.looks": [0.5, 1], "analysis.test": "z_pooled",
      "interim.efficacy.gamma": -2}, "interim.efficacy.gamma"),
    ({"interim.looks": [0.5, 1], "analysis.test": "z_pooled",
      "interim.efficacy.type": "posterior"}, "interim.efficacy.type"),
    ({"analysis.test": "bayesian"}, "analysis.sided"),
    ({"analysis.test": "bayesian", "analysis.sided": "one",
      "analysis.bayesian.prior": "design"}, "analysis.bayesian.prior"),
    ({"analysis.bayesian.threshold": 0.99}, "analysis.bayesian.threshold"),
    ({"analysis.test": "bayesian", "analysis.sided": "one",
      "analysis.bayesian.threshold": 1.0}, "analysis.bayesian.threshold"),
    ({"interim.looks": [0.5, 1], "analysis.test": "z_pooled", "analysis.sided": "one",
      "interim.futility.type": "beta_spending", "interim.futility.binding": True},
     "interim.futility.binding"),
    ({"interim.looks": [0.5, 1], "analysis.test": "z_pooled",
      "randomisation.method": "block"}, "randomisation.method"),
    ({"interim.looks": [0.5, 1], "analysis.test": "z_pooled",
      "interim.futility.binding": "yes"}, "interim.futility.binding"),
    ({"interim.looks": [1], "analysis.test": "z_pooled",
      "interim.efficacy.type": "pocock"}, "interim.efficacy.type"),
    ({"interim.looks": [1]}, "analysis.test"),                          # fisher, one look
])
def test_bad_interim_keys_are_refused_naming_the_field(overrides, field):
    with pytest.raises(ScenarioError) as err:
        load_scenario("severe.yaml", overrides)
    assert f"`{field}`" in str(err.value)


@pytest.mark.parametrize("overrides,field", [
    ({"interim.futility": {"type": "z", "z": 5}}, "interim.futility.z"),
    ({"interim.futility": {"type": "z", "z": 3, "binding": True}}, "interim.futility.z"),
    ({"interim.futility": {"type": "conditional_power", "threshold": 0.9, "assumed": "trend",
                           "binding": True}}, "interim.futility.threshold"),
])
def test_futility_bounds_above_the_efficacy_bounds_are_refused(overrides, field):
    with pytest.raises(ScenarioError) as err:
        run(load_scenario("severe_sequential.yaml", overrides))
    assert f"`{field}`" in str(err.value)


def test_bayesian_calibration_that_cannot_reach_alpha_names_alpha():
    scenario = load_scenario("severe.yaml", {"analysis.test": "bayesian", "analysis.sided": "one",
                                             "analysis.alpha": 1.0e-16,
                                             "sample_size.n_control": 50})
    with pytest.raises(NoSolutionError, match="analysis.alpha"):
        run(scenario)


@pytest.mark.parametrize("futility", [
    {"type": "z", "z": 0.0, "binding": True},
    {"type": "conditional_power", "threshold": 0.2, "binding": True},
    {"type": "conditional_power", "threshold": 0.1, "assumed": "trend", "binding": True},
])
@pytest.mark.slow
def test_binding_futility_spends_exactly_alpha_with_the_stops(futility):
    scenario = dict(RPACT, interim=dict(RPACT["interim"], futility=futility))

    def plan_at(overrides=None):
        """The interim plan at 150 per arm alone (a run would also evaluate
        the power curve around it, bounds solved again at every size)."""
        planner = planner_for(load_scenario(scenario, overrides))
        return planner.size_at(150, fixed_wanted=False, extras=False)
    result = plan_at()
    sq = result.sequential
    upper = [row.efficacy_z for row in sq.looks]
    lower = [row.futility_z for row in sq.looks[:-1]] + [-np.inf]
    up, _ = crossing([0.5, 0.75, 1], np.array(upper), np.array(lower), 0.0)
    # the fixed point stops when neither bound moves by 1e-9 on the z scale
    assert up.sum() == pytest.approx(0.025, abs=1e-7)
    assert sq.looks[-1].alpha_spent == pytest.approx(0.025, abs=1e-7)
    ops = sq.operating
    # the discrete data: the fixed one-sided z test at 150 per arm has 0.0259 itself
    assert result.size == ops["null"].power <= 0.025 * 1.08
    # binding bounds are lower: overruling a futility stop would inflate alpha
    assert ops["null_ignoring_futility"].power > ops["null"].power
    nonbinding = plan_at({"interim.futility.binding": False})
    assert nonbinding.sequential.looks[-1].efficacy_z > sq.looks[-1].efficacy_z
    assert nonbinding.size == nonbinding.sequential.operating["null_ignoring_futility"].power


@pytest.mark.parametrize("assumed", ["design", "trend"])
@pytest.mark.slow
def test_conditional_power_at_the_futility_bound_is_the_threshold(assumed):
    """Conditional power at Z_k = lower_k, by its definition (B-value with the
    drift of the planning rates at the reported size, or the trend)."""
    scenario = dict(RPACT, interim=dict(RPACT["interim"], futility={
        "type": "conditional_power", "threshold": 0.3, "assumed": assumed}))
    result = run(load_scenario(scenario))
    sq = result.sequential
    n = result.sample_size.answer.n_control
    theta = 0.2 / math.sqrt(0.6 * 0.4 / n + 0.4 * 0.6 / n)
    c = sq.looks[-1].efficacy_z
    for row in sq.looks[:-1]:
        t, z = row.information, row.futility_z
        drift = theta if assumed == "design" else z / math.sqrt(t)
        cp = stats.norm.sf((c - z * math.sqrt(t) - drift * (1 - t)) / math.sqrt(1 - t))
        assert cp == pytest.approx(0.3, abs=1e-9)


@pytest.mark.parametrize("overrides", [
    {"interim.efficacy": {"type": "none"}},
    {"interim.looks": [0.05, 1]},
    {"analysis.alpha": 1.0e-9},
])
@pytest.mark.slow
def test_beta_spending_with_no_efficacy_stop_at_a_look(overrides):
    result = run(load_scenario("severe_sequential.yaml", overrides))
    sq = result.sequential
    assert sq.looks[0].efficacy_z is None or sq.looks[0].efficacy_z > 5
    assert sum(sq.operating["planning"].stopping) == pytest.approx(1.0, abs=1e-9)


@pytest.mark.slow
def test_crossing_differences_are_the_first_tables_that_cross():
    result = run(load_scenario(RPACT, {"sample_size.n_control": 100}))
    for row in result.sequential.looks[:-1]:
        n = row.n_control
        x_c = round(0.4 * n)
        z = row.efficacy_z
        # the smallest treatment count whose pooled z reaches the bound, by brute force
        for x_t in range(n + 1):
            p = (x_t + x_c) / (2 * n)
            if (x_t - x_c) / n / math.sqrt(p * (1 - p) * 2 / n) >= z:
                break
        assert row.efficacy_difference == pytest.approx((x_t - x_c) / n)
        for x_t in range(n, -1, -1):
            p = (x_t + x_c) / (2 * n)
            if (x_t - x_c) / n / math.sqrt(p * (1 - p) * 2 / n) <= row.futility_z:
                break
        assert row.futility_difference == pytest.approx((x_t - x_c) / n)


@pytest.mark.parametrize("efficacy", [{"spending": "ld_pocock"},
                                      {"spending": "hsd", "gamma": -4},
                                      {"type": "spending", "spending": "hsd", "gamma": 1}])
def test_the_printed_scenario_keeps_the_efficacy_bound_when_its_type_is_left_out(efficacy):
    """`to_dict()` (the report's scenario, the digest) drops the keys that do
    nothing, judged on the type as it runs: a spending function given without
    `type` is kept, so the scenario loads back as the same design."""
    scenario = load_scenario("severe_sequential", {"interim.efficacy": efficacy})
    again = load_scenario(scenario.to_dict())
    assert again.interim == scenario.interim and again.to_dict() == scenario.to_dict()
    assert scenario.digest != load_scenario("severe_sequential").digest
