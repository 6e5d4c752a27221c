"""The typed parts of a result (looks, operating characteristics, fixed design,
calendar, patient-level model, priors): dataclasses with attribute access,
whose ``to_dict()`` is what results.json holds (its bytes are checked against
the committed examples by test_examples.py)."""
import json

import pytest

from simulator import load_scenario, run
from simulator.results import (ArmPrior, Calendar, CalendarLook, FixedDesign, Look,
                               OperatingCharacteristics, PatientModel, PriorSummary,
                               StratumSummary)

Z_LOOK = ["look", "information", "n_per_arm", "n_per_arm_randomised", "efficacy_difference",
          "futility_difference", "efficacy_z", "futility_z", "efficacy_printed",
          "futility_printed", "alpha_spent"]
BAYES_LOOK = ["look", "information", "n_per_arm", "n_per_arm_randomised",
              "efficacy_difference", "futility_difference", "efficacy_posterior",
              "futility_predictive", "efficacy_printed", "futility_printed"]


@pytest.mark.slow
def test_a_sequential_result_is_typed_and_its_dict_is_the_json():
    result = run(load_scenario("severe_sequential"))
    sq = result.sequential
    assert all(isinstance(lk, Look) and not lk.bayesian for lk in sq.looks)
    assert isinstance(sq.operating["planning"], OperatingCharacteristics)
    assert set(sq.operating) == {"planning", "null", "null_ignoring_futility"}
    assert isinstance(sq.fixed, FixedDesign)
    assert sq.fixed.n_total == sq.fixed.n_control + sq.fixed.n_treatment
    assert isinstance(sq.calendar, Calendar)
    assert all(isinstance(lk, CalendarLook) for lk in sq.calendar.looks)
    d = json.loads(json.dumps(result.to_dict()))["sequential"]
    assert [list(row) for row in d["looks"]] == [Z_LOOK] * len(sq.looks)
    assert d["looks"][0]["n_per_arm"] == {"control": sq.looks[0].n_control,
                                          "treatment": sq.looks[0].n_treatment}
    assert list(d["operating_characteristics"]["planning"]) == list(
        OperatingCharacteristics.__dataclass_fields__)
    assert d["operating_characteristics"]["planning"]["power"] == sq.operating["planning"].power
    assert d["fixed_design"]["n_total"] == sq.fixed.n_total
    assert list(d["calendar"]) == [
        "follow_up_months", "looks", "expected_end_month_planning",
        "expected_randomised_planning", "expected_end_month_null", "expected_randomised_null"]
    assert d["calendar"]["expected_end_month_null"] == sq.calendar.expected_end_month["null"]


def test_a_bayesian_look_has_thresholds_and_no_alpha_spent():
    scenario = {"name": "bayes", "arms": {"control": {"rate": 0.2}, "treatment": {"rate": 0.5}},
                "analysis": {"test": "bayesian", "alpha": 0.025, "sided": "one",
                             "bayesian": {"threshold": 0.99}},
                "sample_size": {"n_control": 60}}
    sq = run(load_scenario(scenario)).sequential
    (look,) = sq.looks
    assert look.bayesian and look.alpha_spent is None and look.efficacy_posterior == 0.99
    assert list(look.to_dict()) == BAYES_LOOK
    assert sq.fixed is None and sq.calendar is None
    assert json.loads(json.dumps(sq.to_dict()))["fixed_design"] is None


@pytest.mark.slow
def test_the_patient_model_and_the_priors_are_typed_and_their_dicts_are_the_json():
    result = run(load_scenario("multicentre", {
        "simulation.n_sims": 400, "sample_size.n_control": 60,
        "population.strata.moderate.treatment": {"events": 12, "n": 20}}))
    model = result.patient.model
    assert isinstance(model, PatientModel)
    assert all(isinstance(st, StratumSummary) for st in model.strata)
    assert [st.prior for st in model.strata] == [True, False]
    prior = result.assurance.prior
    assert isinstance(prior, PriorSummary)
    assert isinstance(prior.control, ArmPrior) and isinstance(prior.treatment, ArmPrior)
    d = json.loads(json.dumps(result.to_dict()))
    assert d["patient_level"]["model"] == json.loads(json.dumps(model.to_dict()))
    assert d["patient_level"]["model"]["strata"][0]["planning_rates"] == {
        "treatment": model.strata[0].treatment_rate, "control": model.strata[0].control_rate}
    assert d["patient_level"]["model"]["dropout"] == {"share": model.dropout,
                                                      "handling": model.dropout_handling}
    assert list(d["prior"]) == ["control", "treatment", "effect",
                                "probability_treatment_better", "mcid", "probability_above_mcid"]
    assert d["prior"]["control"]["label"] == prior.control.label
    assert d["prior"]["probability_treatment_better"] == prior.probability_treatment_better
