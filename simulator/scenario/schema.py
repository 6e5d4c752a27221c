"""The scenario's keys as data: every key's default, rule and description
(``SCHEMA``, which drives validation, defaults, unknown-key suggestions, the
key reference and the template), the limits, and the walk that validates a
mapping against it."""
from __future__ import annotations

from typing import Any

from ..errors import ScenarioError
from .interim import BAYESIAN, INTERIM
from .patients import (arm_shares_value, block_sizes_value, covariates_value,
                       dropout_value, names_value, positive_numbers_value, strata_value)
from .priors import effect_value, rate_value
from .rules import (PROBABILITY, REQUIRED, Bad, Rule, choice, describe, integer, number,
                    optional, text, texts, unknown_key as _unknown)
from .source import source_value

MAX_N_SIMS = 100_000_000
MAX_CONTROL_LIMIT = 100_000
MAX_ARM_SIZE = 1_000_000
MIN_ALPHA = 1e-16           # below, 1 - alpha is 1 in double precision
DEFAULT_SEED = 20240216
MIN_CONFIRM = 1_000         # fewer simulated trials confirm nothing


def confirm_value(value):
    rule = f"must be 0 (no confirmation) or a whole number from {MIN_CONFIRM:,} to {MAX_N_SIMS:,}"
    try:
        count = integer(0, MAX_N_SIMS)(value)
    except Bad:
        raise Bad(rule) from None
    if 0 < count < MIN_CONFIRM:
        raise Bad(rule)
    return count


def _arm(label: str, relative: bool) -> dict:
    arm = {
        "label": Rule(label, "name of the arm in tables and the report", optional(text())),
        "rate": Rule(None, "true live-birth rate per woman randomised: a probability (point "
                     "planning value) or a prior (`{events, n, discount, initial_beta}`, "
                     "`{beta: [a, b]}`, `{mixture: [...], weights: [...]}`); required unless "
                     "`population.strata` gives the rates", optional(rate_value), nested=True),
        "planning_rate": Rule(None, "planning value used for power when `rate` or `effect` is a "
                              "prior (default: the prior mean)", optional(PROBABILITY)),
    }
    if relative:
        arm["effect"] = Rule(None, "instead of `rate`: the treatment relative to control, "
                             "`{odds_ratio | risk_ratio | risk_difference: x, ci95: [lo, hi], "
                             "shrink: s}`", optional(effect_value), nested=True)
    return arm


SCHEMA: dict = {
    "name": Rule(REQUIRED, "identifier (letters, digits, `_`, `-`, `.`)",
                 text(r"[A-Za-z0-9_.\-]+", "must be an identifier of letters, digits, _ . -")),
    "title": Rule(None, "one-line title", optional(text())),
    "source": Rule(None, "where the planning rates come from: one line of text (a citation), "
                   "or `{citation, design, observed, effect}`: the study, its design in words "
                   "(`a retrospective single-centre cohort`), the live births it observed per "
                   "arm (`observed: {control: {events, n}, treatment: {events, n}}`, per "
                   "stratum with `population.strata`) and where `arms.treatment.effect` comes "
                   "from; the report then says of each rate whether it is observed, assumed "
                   "or a prior", optional(source_value), nested=True),
    "references": Rule((), "full citations of the sources, listed first in the report's "
                       "references", texts("must be a list of citations (text)")),
    "endpoint": Rule("live birth per woman randomised", "primary endpoint wording",
                     text()),
    "arms": {
        "control": _arm("Control", relative=False),
        "treatment": _arm("Treatment", relative=True),
    },
    "allocation": Rule(1.0, "treatment:control ratio; treatment size = round(allocation x control size)",
                       number(0.05, 20.0, what="a ratio")),
    "analysis": {
        "test": Rule("fisher", "fisher | boschloo | barnard | z_pooled | z_unpooled | "
                     "chi2_yates | bayesian (posterior probability that the treatment rate is "
                     "higher, `analysis.bayesian`); boschloo and barnard are exact "
                     "unconditional tests, on the 2x2 table of a fixed design",
                     choice("fisher", "boschloo", "barnard", "z_pooled", "z_unpooled",
                            "chi2_yates", "bayesian")),
        "alpha": Rule(0.05, "significance level (for the chosen sidedness)",
                      number(0.0, 0.5, lo_open=True, what="a level")),
        "sided": Rule("two", "two | one (one-sided: treatment better than control)",
                      choice("two", "one")),
        "primary": Rule("pooled", "patient-level model: the analysis the sample size is for, "
                        "`pooled` (`analysis.test` on the pooled 2x2 table) | `cmh` "
                        "(Cochran-Mantel-Haenszel by stratum) | `logistic` (regression on arm "
                        "and `analysis.adjust`)", choice("pooled", "cmh", "logistic")),
        "adjust": Rule(None, "patient-level model: what the logistic regression adjusts for "
                       "besides the arm, `stratum` and covariate names (default: all of them)",
                       optional(names_value)),
        "logistic_test": Rule("wald", "wald | likelihood_ratio: the logistic regression's test "
                              "of the arm", choice("wald", "likelihood_ratio")),
        "bayesian": BAYESIAN,
    },
    "interim": INTERIM,
    "model": Rule("table", "table | patient: `table` analyses the trial on its 2x2 table, "
                  "exactly where it can; `patient` simulates women one by one (strata, "
                  "covariates, centres, randomisation, recruitment, adherence, outcomes, "
                  "dropout as failure, adjusted analyses), which those keys need",
                  choice("table", "patient")),
    "target_power": Rule(0.90, "power the sample size must reach",
                         number(0.0, 1.0, lo_open=True, hi_open=True, what="a probability")),
    "target_assurance": Rule(None, "assurance (power averaged over the priors) the sample size "
                             "should reach; needs a prior", optional(
                                 number(0.0, 1.0, lo_open=True, hi_open=True, what="a probability"))),
    "mcid": Rule(None, "minimal clinically important difference in live-birth rates (treatment "
                 "minus control): report its prior probability", optional(
                     number(0.0, 1.0, lo_open=True, hi_open=True, what="a risk difference"))),
    "dropout": Rule(0.0, "share of randomised women with no primary outcome, or `{share, "
                    "handling}` with handling `complete_case` (analysed without them; the sizes "
                    "are inflated to randomise) or `as_failure` (intention to treat: counted "
                    "as no live birth; patient-level model)", dropout_value, nested=True),
    "population": {
        "strata": Rule(None, "named strata, `{name: {share, control, treatment | effect}}`: "
                       "population-average live-birth rates (numbers or priors) per stratum, "
                       "shares summing to 1; replaces the arms' rates", optional(strata_value),
                       nested=True),
        "covariates": Rule(None, "named prognostic covariates, `{name: {distribution: normal | "
                           "truncated_normal | categorical, ...}}` with their effect on the "
                           "log-odds of live birth", optional(covariates_value), nested=True),
    },
    "randomisation": {
        "method": Rule("fixed", "`fixed` (exactly the planned arm sizes) | `simple` (a coin "
                       "per woman) | `block` (permuted blocks) | `stratified_block` (permuted "
                       "blocks within each stratum and centre)",
                       choice("fixed", "simple", "block", "stratified_block")),
        "block_sizes": Rule(None, "block sizes, one drawn at random for each block (default: "
                            "the smallest block that holds the allocation, and twice it)",
                            optional(block_sizes_value)),
    },
    "centres": {
        "number": Rule(1, "number of centres", integer(1, 1000)),
        "relative_rates": Rule(None, "relative recruitment rate of each centre, one per centre "
                               "(default: equal)", optional(positive_numbers_value)),
        "sd_log_odds": Rule(0.0, "between-centre SD of the log-odds of live birth (random "
                            "intercepts)", number(0.0, 3.0, what="a standard deviation")),
    },
    "recruitment": {
        "per_centre_month": Rule(None, "women randomised per month at an average centre at full "
                                 "rate (Poisson): the recruitment time of the patient-level "
                                 "model, of interim looks' calendar, and of a fixed design "
                                 "(with its capacity)", optional(number(0.0, 1e4, lo_open=True,
                                                                   what="a rate"))),
        "ramp_up_months": Rule(0.0, "months of linear ramp-up from the start to the full rate",
                               number(0.0, 600.0, what="a duration")),
        "follow_up_months": Rule(0.0, "months from randomisation to the primary outcome",
                                 number(0.0, 600.0, what="a duration")),
        "target_months": Rule(None, "enrolment should be complete within this many months: "
                              "report the centres needed, and for a fixed design the capacity "
                              "(the most women the centres randomise in that time) with its "
                              "power and detectable rate", optional(
                                  number(0.0, 6000.0, lo_open=True, what="a duration"))),
        "target_probability": Rule(0.8, "probability with which enrolment must finish within "
                                   "`recruitment.target_months`",
                                   number(0.0, 1.0, lo_open=True, hi_open=True,
                                          what="a probability")),
    },
    "adherence": {
        "treatment_not_receiving": Rule(0.0, "share of the treatment arm not receiving IVIg "
                                        "(analysed as randomised)",
                                        number(0.0, 1.0, hi_open=True, what="a share")),
        "control_receiving": Rule(0.0, "share of the control arm receiving IVIg outside the "
                                  "trial (analysed as randomised)",
                                  number(0.0, 1.0, hi_open=True, what="a share")),
    },
    "outcomes": {
        "miscarriage": Rule(None, "`{control: p, treatment: p}`: probability that a woman "
                            "without a live birth had a miscarriage (the rest: transfer "
                            "failure); reports the three outcomes' rates per arm",
                            optional(arm_shares_value), nested=True),
    },
    "costs": {
        "per_woman": Rule(None, "cost of each woman randomised, either arm (screening, visits, "
                          "follow-up)", optional(number(0.0, 1e12, what="a cost"))),
        "per_course": Rule(None, "cost of one course of IVIg", optional(
            number(0.0, 1e12, what="a cost"))),
        "courses_per_woman": Rule(1.0, "IVIg courses per woman randomised to IVIg (all of them "
                                  "are counted, whatever the adherence)",
                                  number(0.0, 1000.0, what="a number of courses")),
        "per_centre": Rule(None, "cost of opening one centre (the centres of `centres.number`; "
                           "1 without it)", optional(number(0.0, 1e12, what="a cost"))),
        "currency": Rule(None, "label of the amounts in outputs, e.g. CAD", optional(
            text(r"[^\x00-\x1f\x7f]{1,12}", "must be a label of 1 to 12 characters"))),
    },
    "sample_size": {
        "n_control": Rule(None, "evaluate power at this control-arm size instead of searching",
                          optional(integer(1, MAX_CONTROL_LIMIT))),
        "max_control": Rule(5000, "upper bound of the control-arm size search",
                            integer(1, MAX_CONTROL_LIMIT)),
        "propose": Rule(None, "power | assurance | larger: the size the report proposes when "
                        "both targets are set: the power answer, the assurance answer, or the "
                        "larger of the two, which meets both targets (default: larger when "
                        "`target_assurance` is given, else power)",
                        optional(choice("power", "assurance", "larger"))),
    },
    "simulation": {
        "method": Rule("auto", "auto | exact | monte_carlo", choice("auto", "exact", "monte_carlo")),
        "n_sims": Rule(10_000, "simulated trials per evaluated size (Monte Carlo)",
                       integer(100, MAX_N_SIMS)),
        "seed": Rule(DEFAULT_SEED, "root seed of numpy's SeedSequence",
                     integer(0, 2**63 - 1)),
        "confirm": Rule(100_000, "simulated trials that confirm an exact answer at the "
                        f"proposed size (0: none; else {MIN_CONFIRM:,} to {MAX_N_SIMS:,})",
                        confirm_value),
    },
}


def given_keys(raw: Any, schema: dict, prefix: str):
    """The dotted keys the scenario gives (defaults aside): a key with a value
    that is not null, or a section even when empty or null (an empty section
    does nothing, which is an error where it would switch something off)."""
    if not isinstance(raw, dict):
        return
    for key, value in raw.items():
        if key not in schema:
            continue
        path = prefix + key
        if isinstance(schema[key], dict):
            yield path
            yield from given_keys(value, schema[key], path + ".")
        elif value is not None:
            yield path


def validate(raw: Any, schema: dict, prefix: str) -> dict:
    out = {}
    for key in raw:
        if key not in schema:
            raise ScenarioError(_unknown(key, list(schema)), field=prefix + str(key))
    for key, spec in schema.items():
        path = prefix + key
        if isinstance(spec, dict):
            value = raw.get(key)
            if value is None:
                if key == "arms":
                    raise ScenarioError("is required (a mapping with `control` and `treatment`)",
                                        field=path)
                value = {}
            if not isinstance(value, dict):
                raise ScenarioError(f"must be a mapping; got {describe(value)}", field=path)
            out[key] = validate(value, spec, path + ".")
            continue
        if key not in raw or (raw[key] is None and spec.default is not REQUIRED):
            if spec.default is REQUIRED:
                raise ScenarioError("is required", field=path)
            out[key] = spec.default
            continue
        try:
            out[key] = spec.check(raw[key])
        except Bad as bad:
            value = raw[key] if bad.value is Bad._NO_VALUE else bad.value
            field = f"{path}.{bad.sub}" if bad.sub else path
            message = f"{bad}; got {describe(value)}" if bad.got else str(bad)
            raise ScenarioError(message, field=field) from None
    return out
