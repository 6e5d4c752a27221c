"""Planning with the patient-level model: power and assurance of the primary
analysis at any size (for the search), and at the reported size every
analysis side by side, its type I error by a null simulation, the outcome
rates and the recruitment time."""
from __future__ import annotations

import numpy as np

from ..names import TEST_NAMES
from ..engines.design import Design
from ..engines.patients import ANALYSES, PatientCounts, simulate_counts
from ..models.recruitment import centres_needed, duration
from ..results import AnalysisResult, PatientModel, PatientResult, StratumSummary
from ..scenario.build import Scenario

ANALYSIS_LABELS = {
    "pooled": "{test} on the pooled 2x2 table",
    "cmh": "the Cochran-Mantel-Haenszel test stratified by {strata}",
    "logistic": "logistic regression on arm{adjust} ({wald} test of the arm)",
}
SEPARATION_RULE = (
    "a simulated trial whose logistic regression does not converge in 50 Newton steps, has a "
    "singular information matrix (a category nobody is in), or shows complete or "
    "quasi-complete separation (a fitted probability within 2e-9 of 0 or 1, or a "
    "coefficient beyond 30 on the log-odds scale), or whose stratified tables carry no "
    "information (CMH), is counted as not significant and reported as not estimable")
# draws for P(treatment better) when strata make it a sum of several differences
CEILING_DRAWS = 2 ** 20


def _sizes(scenario: Scenario, controls) -> list[tuple[int, int]]:
    """(treatment, control) sizes, by the 2x2 path's rule (:meth:`Design.sizes`)."""
    design = Design(scenario.analysis.test, scenario.analysis.sided, scenario.analysis.alpha,
                    scenario.allocation)
    return [design.sizes(int(m)) for m in controls]


def counts(scenario: Scenario, controls, rates: str, analyses, jobs: int) -> PatientCounts:
    sim, an = scenario.simulation, scenario.analysis
    return simulate_counts(scenario.patient, _sizes(scenario, controls), sim.n_sims, sim.seed,
                           an.test, an.sided, an.alpha, rates, tuple(analyses), jobs)


def power_function(scenario: Scenario, jobs: int):
    """``power_at(control sizes) -> (power, se)`` of the primary analysis."""
    primary = scenario.patient.primary

    def power_at(controls):
        return counts(scenario, controls, "planning", (primary,), jobs).rate(primary)
    return power_at


def assurance_function(scenario: Scenario, jobs: int):
    """``assurance_at(control sizes) -> (assurance, se)``: the primary analysis
    rejects in favour of treatment, rates drawn from the strata's priors."""
    primary = scenario.patient.primary

    def assurance_at(controls):
        return counts(scenario, controls, "prior", (primary,), jobs).rate(primary, "favourable")
    return assurance_at


def probability_better(scenario: Scenario) -> tuple[float, float]:
    """Prior probability that the population-average treatment rate exceeds
    control's, and its Monte Carlo standard error (0 when exact: one stratum)."""
    strata = scenario.patient.strata
    if len(strata) == 1:
        return strata[0].rates.probability_difference_above(0.0), 0.0
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(
        scenario.simulation.seed, spawn_key=(2 ** 32 - 1,))))
    difference = np.zeros(CEILING_DRAWS)
    for s in strata:
        p_t, p_c = s.rates.draw(rng, CEILING_DRAWS)
        difference += s.share * (p_t - p_c)
    p = float(np.mean(difference > 0))
    return p, float(np.sqrt(p * (1 - p) / CEILING_DRAWS))


def describe_analysis(scenario: Scenario, name: str) -> str:
    model = scenario.patient
    adjust = " and ".join(filter(None, [", ".join(model.adjust[:-1]), model.adjust[-1]])) \
        if model.adjust else ""
    return ANALYSIS_LABELS[name].format(
        test=TEST_NAMES[scenario.analysis.test],
        strata=" and ".join(s.name for s in model.strata) if len(model.strata) > 1
        else "a single stratum (no strata given)",
        adjust=f" adjusted for {adjust}" if adjust else " (unadjusted)",
        wald="Wald" if model.logistic_test == "wald" else "likelihood-ratio")


def summarise(scenario: Scenario, n_control: int, jobs: int) -> PatientResult:
    """Every analysis at one design size, with the null simulation, the
    outcome rates and the recruitment time."""
    model = scenario.patient
    n_t, n_c = _sizes(scenario, [n_control])[0]
    planning = counts(scenario, [n_control], "planning", ANALYSES, jobs)
    null = counts(scenario, [n_control], "null", ANALYSES, jobs)
    prior = counts(scenario, [n_control], "prior", ANALYSES, jobs) if scenario.has_prior else None
    rows = []
    for name in ANALYSES:
        power, power_se = (float(x[0]) for x in planning.rate(name))
        size, size_se = (float(x[0]) for x in null.rate(name))
        a = a_se = None
        if prior is not None:
            a, a_se = (float(x[0]) for x in prior.rate(name, "favourable"))
        i = ANALYSES.index(name)
        failed = [int(c.counts[0, i, 2]) if c is not None else None
                  for c in (planning, null, prior)]
        rows.append(AnalysisResult(name, describe_analysis(scenario, name), power, power_se,
                                   size, size_se, a, a_se, *failed))
    outcomes = {}
    for a, arm in enumerate(("treatment", "control")):
        seen, births, miscarriages = (int(x) for x in planning.outcomes[0, a])

        def share(x):
            return x / seen if seen else None     # no woman with an outcome at all
        rates = {"live_birth": share(births)}
        if model.miscarriage is not None:
            rates.update(miscarriage=share(miscarriages),
                         transfer_failure=share(seen - births - miscarriages))
        outcomes[arm] = dict(rates, women_with_outcome_per_trial=seen / planning.n_sims)
    expected = dict(zip(("treatment", "control"), model.pooled_itt_rates))
    rec = model.recruitment
    time = centres = None
    if rec is not None:
        time = duration(rec, n_t + n_c)
        if model.target_months is not None:
            centres = centres_needed(rec, n_t + n_c, model.target_months,
                                     model.target_probability)
    return PatientResult(
        primary=model.primary, n_control=n_c, n_treatment=n_t, n_sims=planning.n_sims,
        analyses=tuple(rows), expected_rates=expected, outcomes=outcomes,
        duration=time, centres_needed=centres, target_months=model.target_months,
        target_probability=model.target_probability, rule=SEPARATION_RULE,
        model=describe_model(scenario))


def describe_model(scenario: Scenario) -> PatientModel:
    """The patient-level model in words and numbers, for the outputs."""
    m = scenario.patient
    return PatientModel(
        strata=tuple(StratumSummary(s.name, s.share, s.rates.treatment_rate,
                                    s.rates.control_rate, not s.rates.is_point)
                     for s in m.strata),
        covariates=tuple(c.name for c in m.covariates),
        centres=len(m.centre_weights), centre_sd_log_odds=m.centre_sd,
        randomisation=m.randomisation, block_sizes=tuple(m.block_sizes),
        dropout=m.dropout, dropout_handling=m.dropout_handling,
        treatment_not_receiving=m.not_receiving, control_receiving=m.receiving_outside,
        adjust=tuple(m.adjust), logistic_test=m.logistic_test)
