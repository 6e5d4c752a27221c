"""Result objects: frozen dataclasses with named fields and ``to_dict()``."""
from __future__ import annotations

import math
from fractions import Fraction
from dataclasses import dataclass

from .version import SOFTWARE
from .citations import references
from .scenario.build import Scenario
from .scenario.source import provenance, relative_effects


def strict(doc: dict) -> dict:
    """``doc`` with every non-finite float (NaN, infinity) replaced by None,
    and, when there were any, ``non_finite``: one ``{field, value, reason}``
    per value replaced (JSON has no NaN; a bare NaN makes a file no JSON
    parser accepts)."""
    notes = []

    def clean(node, path):
        if isinstance(node, dict):
            return {k: clean(v, f"{path}.{k}" if path else str(k)) for k, v in node.items()}
        if isinstance(node, (list, tuple)):
            return [clean(v, f"{path}[{i}]") for i, v in enumerate(node)]
        if isinstance(node, float) and not math.isfinite(node):
            notes.append({"field": path, "value": repr(node),
                          "reason": "not a finite number: the computation overflowed or was "
                                    "undefined for these inputs"})
            return None
        return node
    out = clean(doc, "")
    if notes:
        out["non_finite"] = notes
    return out


def randomised(n: int, dropout: float) -> int:
    """Women to randomise so that ``n`` are expected to have the outcome."""
    # In exact decimal arithmetic: 27 / (1 - 0.1) is 30, not the binary
    # 30.000000000000004 whose ceiling would be 31.
    return math.ceil(Fraction(n) / (1 - Fraction(repr(float(dropout)))))


@dataclass(frozen=True)
class PowerPoint:
    """Power (at the planning values) and, with priors, assurance at one design
    size: a row of the power curve.

    Attributes
    ----------
    n_control, n_treatment : int
        Women with an outcome per arm.
    power, power_se : float
        Power and its Monte Carlo standard error (0 when exact).
    assurance, assurance_se : float or None
        With priors; None without.

    Examples
    --------
    >>> import simulator
    >>> p = simulator.power(control=0.2, treatment=0.69, n_control=24).evaluated
    >>> print(f"{p.n_total} women, power {p.power:.4f} (standard error {p.power_se:g})")
    48 women, power 0.9200 (standard error 0)
    """
    n_control: int
    n_treatment: int
    power: float
    power_se: float     # Monte Carlo standard error; 0 for exact power
    assurance: float | None = None      # None: no prior (assurance is the power)
    assurance_se: float | None = None

    @property
    def n_total(self) -> int:
        return self.n_control + self.n_treatment

    def to_dict(self) -> dict:
        d = {"n_per_arm": {"control": self.n_control, "treatment": self.n_treatment},
             "n_total": self.n_total, "power": self.power, "power_se": self.power_se}
        if self.assurance is not None:
            d.update(assurance=self.assurance, assurance_se=self.assurance_se)
        return d


def frame(columns: list[str], rows: list[list]):
    """A pandas DataFrame (pandas is needed only here: `pip install pandas`)."""
    try:
        import pandas
    except ImportError:
        raise ImportError("to_frame() needs pandas: pip install pandas") from None
    return pandas.DataFrame(rows, columns=columns)


class PowerCurve(tuple):
    """The power curve: PowerPoint rows in increasing size, a tuple with
    ``to_frame()``.

    Examples
    --------
    >>> import simulator
    >>> curve = simulator.sample_size(control=0.2, treatment=0.69).power_curve
    >>> [f"{p.n_control}: {p.power:.4f}" for p in curve if 23 <= p.n_control <= 24]
    ['23: 0.8997', '24: 0.9200']
    """

    def to_frame(self):
        """One row per size: n_control, n_treatment, n_total, power, power_se,
        and assurance, assurance_se with priors.

        Returns
        -------
        pandas.DataFrame
            Needs pandas (``pip install '.[notebook]'``).
        """
        prior = any(p.assurance is not None for p in self)
        columns = ["n_control", "n_treatment", "n_total", "power", "power_se"] + (
            ["assurance", "assurance_se"] if prior else [])
        return frame(columns, [[p.n_control, p.n_treatment, p.n_total, p.power, p.power_se]
                               + ([p.assurance, p.assurance_se] if prior else []) for p in self])


@dataclass(frozen=True)
class SampleSizeResult:
    """The answer of the search, with the sizes to randomise after dropout.

    Attributes
    ----------
    answer : PowerPoint
        The smallest size whose power reaches the target.
    stable : PowerPoint or None
        The smallest size from which power stays at or above the target up
        to ``checked_up_to`` (exact power can dip again above the answer).
    interval_control, interval_treatment : tuple of int
        The Monte Carlo range of the answer (the answer twice when exact).
    randomised_control, randomised_treatment : int
        Women to randomise after dropout.

    Examples
    --------
    >>> import simulator
    >>> ss = simulator.sample_size(control=0.2, treatment=0.69, dropout=0.1).sample_size
    >>> ss.answer.n_control, ss.randomised_control, ss.n_total_randomised
    (24, 27, 54)
    """
    answer: PowerPoint            # smallest size whose power reaches the target
    stable: PowerPoint | None     # smallest size from which power stays >= target
                                  # up to `checked_up_to`; None if the bound misses
    interval_control: tuple[int, int | None]   # Monte Carlo range of answer.n_control;
    interval_treatment: tuple[int, int | None]  # None: beyond the search bound
    randomised_control: int
    randomised_treatment: int
    checked_up_to: int            # largest control-arm size evaluated

    @property
    def n_total_randomised(self) -> int:
        return self.randomised_control + self.randomised_treatment

    def to_dict(self) -> dict:
        d = self.answer.to_dict()
        stable = self.stable
        d.update({
            "n_per_arm_randomised": {"control": self.randomised_control,
                                     "treatment": self.randomised_treatment},
            "n_total_randomised": self.n_total_randomised,
            "n_per_arm_stable": None if stable is None else {
                "control": stable.n_control, "treatment": stable.n_treatment},
            "n_total_stable": None if stable is None else stable.n_total,
            "power_stable": None if stable is None else stable.power,
            "stable_checked_up_to_control": self.checked_up_to,
            "n_per_arm_interval": {"control": list(self.interval_control),
                                   "treatment": list(self.interval_treatment)},
        })
        return d


def assurance_limit(ceiling: float, alpha: float) -> float:
    """The most assurance can reach at any size: it tends to ``ceiling`` (the
    prior probability that the treatment is better) and exceeds it only through
    favourable rejections when the treatment is not better, at most alpha of
    the remaining prior mass for a level-alpha test."""
    return ceiling + alpha * (1.0 - ceiling)


@dataclass(frozen=True)
class ArmPrior:
    """One arm's planning rate, where it comes from, and its prior (the
    prior's ``to_dict()`` and description; None: a point rate)."""
    label: str
    planning_rate: float
    planning_from: str
    rate_prior: dict | None
    description: str | None

    def to_dict(self) -> dict:
        return {"label": self.label, "planning_rate": self.planning_rate,
                "planning_from": self.planning_from, "rate_prior": self.rate_prior,
                "description": self.description}


@dataclass(frozen=True)
class PriorSummary:
    """The priors and planning values, described: each arm, the effect prior
    (its ``to_dict()`` with a description; None without one), and the prior
    probabilities that the treatment is better and better by more than ``mcid``."""
    control: ArmPrior
    treatment: ArmPrior
    effect: dict | None
    probability_treatment_better: float
    mcid: float | None
    probability_above_mcid: float | None

    def to_dict(self) -> dict:
        return {"control": self.control.to_dict(), "treatment": self.treatment.to_dict(),
                "effect": self.effect,
                "probability_treatment_better": self.probability_treatment_better,
                "mcid": self.mcid, "probability_above_mcid": self.probability_above_mcid}


@dataclass(frozen=True)
class AssuranceResult:
    """Assurance of the design under the scenario's priors."""
    method: str                        # exact | monte_carlo
    definition: str
    target: float | None               # target_assurance
    ceiling: float                     # prior probability that the treatment rate is higher
    at_reported: PowerPoint            # the design the power answer (or --n-control) gives
    sample_size: SampleSizeResult | None   # size for target_assurance, where reached
    unreachable: str | None            # why there is no size for target_assurance
    integration_error: float | None    # exact route: estimated numerical integration error
    mcid: float | None
    probability_above_mcid: float | None
    prior: PriorSummary                # the priors and planning values, described

    def to_dict(self) -> dict:
        return {
            "method": self.method, "definition": self.definition, "target": self.target,
            "ceiling": self.ceiling,
            "at_reported_size": {"n_per_arm": {"control": self.at_reported.n_control,
                                               "treatment": self.at_reported.n_treatment},
                                 "assurance": self.at_reported.assurance,
                                 "assurance_se": self.at_reported.assurance_se},
            "sample_size": self.sample_size.to_dict() if self.sample_size else None,
            "reachable": None if self.target is None else self.sample_size is not None,
            "unreachable_reason": self.unreachable,
            "integration_error": self.integration_error,
        }


@dataclass(frozen=True)
class AnalysisResult:
    """One analysis of the patient-level model at the reported size."""
    name: str                   # pooled | cmh | logistic
    description: str
    power: float                # at the planning values
    power_se: float
    type_one_error: float       # null simulation: both arms at the control rates
    type_one_error_se: float
    assurance: float | None     # None: no prior
    assurance_se: float | None
    not_estimable: int          # simulated trials (of n_sims) counted as not significant
    not_estimable_null: int     # the same in the null simulation
    not_estimable_prior: int | None = None   # and with rates drawn from the priors

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class StratumSummary:
    """One stratum of the patient-level model: its share of women, the
    planning rates per arm (prior means when ``prior``)."""
    name: str
    share: float
    treatment_rate: float
    control_rate: float
    prior: bool                 # the stratum's rates have a prior

    def to_dict(self) -> dict:
        return {"name": self.name, "share": self.share,
                "planning_rates": {"treatment": self.treatment_rate,
                                   "control": self.control_rate},
                "prior": self.prior}


@dataclass(frozen=True)
class PatientModel:
    """The patient-level model in words and numbers, for the outputs."""
    strata: tuple[StratumSummary, ...]
    covariates: tuple[str, ...]         # names of the prognostic covariates
    centres: int
    centre_sd_log_odds: float
    randomisation: str
    block_sizes: tuple[int, ...]
    dropout: float                      # share of women without a primary outcome,
    dropout_handling: str               # and how they are analysed
    treatment_not_receiving: float      # non-adherence: treatment arm without it,
    control_receiving: float            # controls with it
    adjust: tuple[str, ...]             # covariates the logistic regression adjusts for
    logistic_test: str

    def to_dict(self) -> dict:
        return {
            "strata": [s.to_dict() for s in self.strata],
            "covariates": list(self.covariates),
            "centres": self.centres, "centre_sd_log_odds": self.centre_sd_log_odds,
            "randomisation": self.randomisation, "block_sizes": list(self.block_sizes),
            "dropout": {"share": self.dropout, "handling": self.dropout_handling},
            "adherence": {"treatment_not_receiving": self.treatment_not_receiving,
                          "control_receiving": self.control_receiving},
            "adjust": list(self.adjust), "logistic_test": self.logistic_test,
        }


@dataclass(frozen=True)
class PatientResult:
    """The patient-level model's answers at the reported size."""
    primary: str
    n_control: int
    n_treatment: int
    n_sims: int
    analyses: tuple[AnalysisResult, ...]
    expected_rates: dict        # intention-to-treat rates analysed, per arm (population average)
    outcomes: dict              # per arm: simulated live birth (and miscarriage, transfer
                                # failure) rates among women with an outcome
    duration: object | None     # recruitment.Duration at the reported size
    centres_needed: int | None
    target_months: float | None
    target_probability: float
    rule: str                   # how non-estimable trials are counted
    model: PatientModel

    def analysis(self, name: str) -> AnalysisResult:
        return next(a for a in self.analyses if a.name == name)

    def to_dict(self) -> dict:
        return {
            "primary": self.primary,
            "n_per_arm": {"control": self.n_control, "treatment": self.n_treatment},
            "n_sims": self.n_sims,
            "analyses": [a.to_dict() for a in self.analyses],
            "expected_itt_rates": self.expected_rates,
            "outcomes": self.outcomes,
            "recruitment": None if self.duration is None else dict(
                self.duration.to_dict(), centres_needed=self.centres_needed,
                target_months=self.target_months, target_probability=self.target_probability),
            "not_estimable_rule": self.rule,
            "model": self.model.to_dict(),
        }


@dataclass(frozen=True)
class Look:
    """One analysis of a sequential design: women analysed and randomised per
    arm; the rate differences (treatment minus control) that cross the
    efficacy and futility bounds; the bounds (None: no such stop), z bounds
    with the cumulative alpha spent for a z design, posterior and predictive
    thresholds for a Bayesian one, each also as printed."""
    look: int
    information: float
    n_control: int
    n_treatment: int
    randomised_control: int
    randomised_treatment: int
    efficacy_difference: float | None
    futility_difference: float | None
    efficacy_printed: str | None
    futility_printed: str | None
    bayesian: bool
    efficacy_z: float | None = None             # z designs
    futility_z: float | None = None
    alpha_spent: float | None = None
    efficacy_posterior: float | None = None     # Bayesian designs
    futility_predictive: float | None = None

    def to_dict(self) -> dict:
        d = {"look": self.look, "information": self.information,
             "n_per_arm": {"control": self.n_control, "treatment": self.n_treatment},
             "n_per_arm_randomised": {"control": self.randomised_control,
                                      "treatment": self.randomised_treatment},
             "efficacy_difference": self.efficacy_difference,
             "futility_difference": self.futility_difference}
        if self.bayesian:
            d.update(efficacy_posterior=self.efficacy_posterior,
                     futility_predictive=self.futility_predictive,
                     efficacy_printed=self.efficacy_printed,
                     futility_printed=self.futility_printed)
        else:
            d.update(efficacy_z=self.efficacy_z, futility_z=self.futility_z,
                     efficacy_printed=self.efficacy_printed,
                     futility_printed=self.futility_printed, alpha_spent=self.alpha_spent)
        return d


@dataclass(frozen=True)
class OperatingCharacteristics:
    """A sequential design's operating characteristics under one set of rates:
    how computed; the probabilities of stopping for efficacy and futility at
    each look, early and overall; power (rejection rate), its Monte Carlo
    standard error (0 exact) and the favourable rejections; the probability of
    stopping at each look; the expected and maximum women analysed and to
    randomise (both arms)."""
    method: str                     # exact | monte_carlo
    n_sims: int | None
    efficacy: tuple[float, ...]
    futility: tuple[float, ...]
    early_efficacy: float
    any_futility: float
    power: float
    power_se: float
    favourable: float
    stopping: tuple[float, ...]
    expected_n_total: float
    expected_n_total_needed: float
    max_n_total: int
    max_n_total_needed: int

    def to_dict(self) -> dict:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        d.update(efficacy=list(self.efficacy), futility=list(self.futility),
                 stopping=list(self.stopping))
        return d


@dataclass(frozen=True)
class FixedDesign:
    """The fixed design (one look) with the same test and power, and the
    sequential design's inflation of its size."""
    n_control: int
    n_treatment: int
    inflation_factor: float

    @property
    def n_total(self) -> int:
        return self.n_control + self.n_treatment

    def to_dict(self) -> dict:
        return {"n_per_arm": {"control": self.n_control, "treatment": self.n_treatment},
                "n_total": self.n_total, "inflation_factor": self.inflation_factor}


@dataclass(frozen=True)
class CalendarLook:
    """When a look is expected: the women whose outcomes it awaits, the month,
    and the women randomised by then."""
    look: int
    outcomes_due: int
    expected_month: float
    expected_randomised: float

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class Calendar:
    """The calendar of the looks under the recruitment model, and the expected
    end month and women randomised per operating scenario (by its name in
    ``SequentialResult.operating``)."""
    follow_up_months: float
    looks: tuple[CalendarLook, ...]
    expected_end_month: dict[str, float]
    expected_randomised: dict[str, float]

    def to_dict(self) -> dict:
        d = {"follow_up_months": self.follow_up_months,
             "looks": [lk.to_dict() for lk in self.looks]}
        for name, month in self.expected_end_month.items():
            d[f"expected_end_month_{name}"] = month
            d[f"expected_randomised_{name}"] = self.expected_randomised[name]
        return d


@dataclass(frozen=True)
class SequentialResult:
    """The interim plan at the reported size: bounds per look, operating
    characteristics under the planning values, the null (with and without
    futility stops) and the priors, the fixed design it is compared with, and
    the calendar of the looks."""
    looks: tuple[Look, ...]
    interim: object                  # the scenario's interim section
    statistic: str
    sided: str
    threshold: float | None          # Bayesian: the final posterior threshold
    calibrated: bool
    operating: dict[str, OperatingCharacteristics]   # by name: planning, null, ...
    fixed: FixedDesign | None        # the fixed design with the same test and power
    analytic_inflation: float | None   # z designs: normal-approximation inflation factor
    calendar: Calendar | None

    @property
    def type_one_error_key(self) -> str:
        """The null row that is the design's type I error: with non-binding
        futility, the one with every futility stop overruled."""
        ignored = "null_ignoring_futility"
        return ignored if ignored in self.operating and not self.interim.binding else "null"

    @property
    def prior_text(self) -> str | None:
        if self.interim.bayes_prior is None:
            return None
        (a_t, b_t), (a_c, b_c) = self.interim.bayes_prior
        return f"Beta({a_t:g}, {b_t:g}) treatment, Beta({a_c:g}, {b_c:g}) control"

    def to_dict(self) -> dict:
        i = self.interim
        return {"looks": [lk.to_dict() for lk in self.looks], "statistic": self.statistic,
                "sided": self.sided,
                "efficacy": {"type": i.efficacy, "spending": i.spending, "gamma": i.gamma},
                "futility": {"type": i.futility, "binding": i.binding},
                "posterior_threshold": self.threshold, "threshold_calibrated": self.calibrated,
                "analysis_prior": None if i.bayes_prior is None else {
                    "treatment": list(i.bayes_prior[0]), "control": list(i.bayes_prior[1])},
                "operating_characteristics": {name: oc.to_dict()
                                              for name, oc in self.operating.items()},
                "fixed_design": None if self.fixed is None else self.fixed.to_dict(),
                "analytic_inflation_factor": self.analytic_inflation,
                "calendar": None if self.calendar is None else self.calendar.to_dict()}


@dataclass(frozen=True)
class Confirmation:
    """An exact answer simulated again at the proposed size, as a check."""
    n_sims: int
    seed: int
    power: float
    power_se: float
    assurance: float | None = None      # with an exact assurance
    assurance_se: float | None = None

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


DETECTABLE_DEFINITION = (
    "the smallest treatment rate above the control rate at which exact power at this size "
    "reaches the target power and stays at or above it at every higher rate, the control "
    "rate held at its planning value; found by bisection on the rate")


@dataclass(frozen=True)
class Detectable:
    """The smallest treatment rate that a fixed 2x2 design detects with the
    target power at one size (exact; see ``engines.detectable``), and the
    assurance at that size with priors."""
    n_control: int
    n_treatment: int
    control_rate: float                 # the planning control rate
    treatment_rate: float | None        # None: not even a rate of 1 reaches the target
    power: float                        # exact power at treatment_rate (at 1 when None)
    target_power: float
    power_at_rate_one: float            # power when every treated woman has a live birth
    tolerance: float                    # of the rate: within this above the exact crossing
    single_crossing: bool               # one crossing of the target above control, proved
    assurance: float | None = None      # with priors, at this size
    assurance_se: float | None = None

    @property
    def n_total(self) -> int:
        return self.n_control + self.n_treatment

    def effects(self) -> dict:
        """``relative_effects`` of the detectable rate (None entries without one)."""
        if self.treatment_rate is None:
            return {"difference_points": None, "risk_ratio": None, "odds_ratio": None}
        return relative_effects(self.control_rate, self.treatment_rate)

    def to_dict(self) -> dict:
        e = self.effects()
        return {
            "n_per_arm": {"control": self.n_control, "treatment": self.n_treatment},
            "control_rate": self.control_rate, "treatment_rate": self.treatment_rate,
            "difference": None if self.treatment_rate is None
            else self.treatment_rate - self.control_rate,
            "difference_points": e["difference_points"], "risk_ratio": e["risk_ratio"],
            "odds_ratio": e["odds_ratio"], "power": self.power,
            "target_power": self.target_power, "power_at_rate_one": self.power_at_rate_one,
            "assurance": self.assurance, "assurance_se": self.assurance_se,
            "method": "exact", "tolerance": self.tolerance,
            "single_crossing": self.single_crossing, "definition": DETECTABLE_DEFINITION,
        }


@dataclass(frozen=True)
class Capacity:
    """A fixed design's recruitment: how long the proposed design takes, the
    centres it needs to enrol within the target months, and the capacity:
    the most women the given centres randomise within the target months with
    the target probability, the design that number allows (per arm, after
    allocation and dropout), its power, assurance and detectable rate."""
    recruitment: object                 # models.recruitment.Recruitment
    target_months: float | None
    target_probability: float
    planned: object                     # models.recruitment.Duration of the proposed design
    planned_within_target: float | None     # P(its women are randomised within target_months)
    centres_needed: int | None          # to enrol the proposed design within target_months
    n_women: int | None                 # the capacity (None without target_months)
    design: PowerPoint | None = None    # the design at capacity (analysed sizes), its power
    randomised_control: int | None = None
    randomised_treatment: int | None = None
    detectable: Detectable | None = None
    note: str | None = None             # why there is no design or no detectable rate

    def to_dict(self) -> dict:
        rec, d = self.recruitment, self.design
        return {
            "recruitment": {"per_centre_month": rec.per_centre_month,
                            "centres": len(rec.weights),
                            "ramp_up_months": rec.ramp_up_months,
                            "follow_up_months": rec.follow_up_months},
            "target_months": self.target_months, "target_probability": self.target_probability,
            "planned": dict(self.planned.to_dict(),
                            probability_within_target=self.planned_within_target,
                            centres_needed=self.centres_needed),
            "n_women": self.n_women,
            "n_per_arm_randomised": None if d is None else {
                "control": self.randomised_control, "treatment": self.randomised_treatment},
            "n_per_arm": None if d is None else {"control": d.n_control,
                                                 "treatment": d.n_treatment},
            "n_total": None if d is None else d.n_total,
            "power": None if d is None else d.power,
            "power_se": None if d is None else d.power_se,
            "assurance": None if d is None else d.assurance,
            "assurance_se": None if d is None else d.assurance_se,
            "detectable": None if self.detectable is None else self.detectable.to_dict(),
            "note": self.note,
        }


@dataclass(frozen=True)
class PlanResult:
    """Everything one run of a scenario answers.

    Returned by ``run``, ``sample_size``, ``power``,
    ``detectable``, ``solve`` and ``sensitivity``.  Its fields
    are named parts of the answer; ``to_dict()`` is the JSON that
    ``simulate --format json`` prints, ``summary()`` the table it prints.

    Attributes
    ----------
    scenario : Scenario
        The validated scenario that ran (``scenario.to_yaml()`` writes it).
    method : str
        ``"exact"`` or ``"monte_carlo"``: what ran (after ``auto``).
    sample_size : SampleSizeResult or None
        The smallest size reaching the target power; None when a size was
        given (``n_control``) and evaluated instead.
    evaluated : PowerPoint or None
        The power at the given size (``n_control``).
    reported : PowerPoint
        The proposed design: the size the paragraph is about, its power (and
        assurance).
    power_curve : PowerCurve
        Power (and assurance) at every size evaluated.
    assurance, sequential, patient, detectable, capacity
        The answers of priors, interim looks, the patient-level model,
        ``detectable`` and a recruitment model (None where they do not
        apply).

    Examples
    --------
    >>> import simulator
    >>> r = simulator.sample_size(control=0.20, treatment=0.69, dropout=0.1)
    >>> r
    <PlanResult trial: 24 + 24 with an outcome, power 0.920 (exact)>
    >>> r.sample_size.answer.n_control, r.sample_size.n_total_randomised
    (24, 54)
    >>> print(next(line for line in r.summary().splitlines() if line.startswith("Required")))
    Required size for power 90.0%: 24 Control + 24 Treatment = 48 women with a known outcome (power 0.9200)
    >>> r.to_dict()["sample_size"]["n_total"]
    48
    >>> sorted(r.plot())
    ['power_curve']
    """
    scenario: Scenario
    method: str                   # "exact" or "monte_carlo" (what ran, after `auto`)
    n_sims: int | None            # None for exact
    seed: int
    version: str
    sample_size: SampleSizeResult | None     # None when a size was given (no search)
    evaluated: PowerPoint | None             # power at scenario.sample_size.n_control
    power_curve: PowerCurve             # tuple of PowerPoint, with to_frame()
    normal_approx_control: float | None      # z test normal-approximation size (not rounded)
    type_one_error: float         # exact rejection rate at the reported size, both arms
                                  # at the control rate
    assurance: AssuranceResult | None = None    # None: point rates, no prior
    sweep: tuple | None = None    # SweepPoint rows of a sensitivity analysis, if one ran
    patient: PatientResult | None = None    # patient-level model: every analysis, recruitment
    sequential: SequentialResult | None = None  # interim looks, operating characteristics
    proposed: str = "power"       # which size is proposed: power | assurance | both | evaluated
    proposal: PowerPoint | None = None          # the proposed size's power (and assurance)
    type_one_error_max: object | None = None    # exact.MaximumSize over the common rate (2x2)
    confirmation: Confirmation | None = None    # the exact answer simulated again
    detectable: Detectable | None = None        # --detectable: the smallest rate detected
    capacity: Capacity | None = None            # a fixed design's recruitment and capacity

    def _size_method(self) -> str:
        if self.patient is not None:
            return "monte_carlo (null simulation of the primary analysis)"
        if self.sequential is not None:
            key = self.sequential.type_one_error_key
            return (self.sequential.operating[key].method
                    + (", futility stops ignored" if key != "null" else ""))
        return "exact"

    def __repr__(self) -> str:
        rep, exact = self.reported, self.method == "exact"
        seq = self.sequential is not None and len(self.sequential.looks) > 1
        size = (f"{'a maximum of ' if seq else ''}{rep.n_control:,} + {rep.n_treatment:,} "
                f"{'randomised' if self.patient is not None else 'with an outcome'}")
        power = f"power {rep.power:.3f}" + ("" if exact else f" \u00b1 {rep.power_se:.3f}")
        parts = [f"{size}, {power}" if self.sample_size else f"{power} at {size}"]
        if rep.assurance is not None:
            parts.append(f"assurance {rep.assurance:.3f}"
                         + ("" if not rep.assurance_se else f" \u00b1 {rep.assurance_se:.3f}"))
        d = self.detectable
        if d is not None:
            parts.append("detects no rate up to 1" if d.treatment_rate is None
                         else f"detects {d.treatment_rate:.1%} or more")
        if self.sweep is not None:
            parts.append(f"a sweep of {len(self.sweep):,} points")
        how = "exact" if exact else f"Monte Carlo, {self.n_sims:,} trials"
        return f"<PlanResult {self.scenario.name}: {', '.join(parts)} ({how})>"

    def summary(self) -> str:
        """The text table that ``simulate`` prints for this result.

        Returns
        -------
        str
            The assumptions, the power curve around the answer, the headline,
            and what applies (interim looks, the patient-level model, the
            detectable rate, a sweep).  A ``str`` that a notebook shows as
            printed text.

        Examples
        --------
        >>> import simulator
        >>> r = simulator.power(control=0.2, treatment=0.69, n_control=24)
        >>> print(next(line for line in r.summary().splitlines() if line.startswith("Power at")))
        Power at 24 Control + 24 Treatment = 48 women: 0.9200
        """
        from .report.notebook import summary
        return summary(self)

    def plot(self, *names: str) -> dict:
        """The report's figures: matplotlib ``Figure`` objects by name.

        Parameters
        ----------
        *names : str
            Only these figures (default: all that apply).

        Returns
        -------
        dict of str to matplotlib.figure.Figure
            ``power_curve`` always; ``sensitivity``, ``feasibility``,
            ``boundaries`` and ``recruitment`` where they apply.  The dict is
            shown in a notebook as the figures themselves; each can be edited
            or saved (``fig.savefig("power.pdf")``).  A bare ``Figure`` is
            drawn by Jupyter only once its inline backend is on (``import
            matplotlib.pyplot``), since the figures are built without pyplot.

        Examples
        --------
        >>> import simulator
        >>> figures = simulator.sample_size(control=0.2, treatment=0.69).plot()
        >>> figures["power_curve"].axes[0].get_ylabel()
        'Power'
        """
        from .report.notebook import plot
        return plot(self, names)

    def _repr_html_(self) -> str:
        """The headline, the paragraph and the figures: an HTML fragment, self-contained."""
        from .report.notebook import html_fragment
        return html_fragment(self)

    def justification(self) -> str:
        """The sample-size justification paragraph.

        Returns
        -------
        str
            The paragraph for the grant: the design, where each rate comes
            from, the size, its power and what it assumes.

        Examples
        --------
        >>> import simulator
        >>> text = simulator.sample_size(control=0.2, treatment=0.69).justification()
        >>> "24" in text
        True
        """
        from .report.justification import justification
        return justification(self)

    def figures(self) -> dict:
        """The report's figures as matplotlib Figure objects, by name (as ``plot()``)."""
        from .report.figures import figures
        return figures(self)

    def save(self, out_dir) -> list[str]:
        """Write the report (HTML, Markdown, Word and PNGs), results.json and
        the CSV tables into ``out_dir``, each file atomically.

        Parameters
        ----------
        out_dir : str or path-like
            The directory (created if needed), as ``simulate --out``.

        Returns
        -------
        list of str
            The names of the files written.

        Examples
        --------
        >>> import simulator, tempfile
        >>> r = simulator.sample_size(control=0.2, treatment=0.69)
        >>> "report.html" in r.save(tempfile.mkdtemp())
        True
        """
        from .report.outputs import write
        return write(self, out_dir)

    @property
    def centres(self) -> int:
        """Centres the trial opens: the patient-level model's, those of the
        looks' calendar, else one."""
        s = self.scenario
        if s.patient is not None:
            return len(s.patient.centre_weights)
        return len(s.recruitment.weights) if s.recruitment is not None else 1

    def to_randomise(self, point: PowerPoint) -> tuple[int, int]:
        """Women to randomise per arm (control, treatment) for a design of
        this run: its sizes after dropout (``randomised``), or the sizes
        themselves for the patient-level model, whose sizes are women
        randomised."""
        if self.patient is not None:
            return point.n_control, point.n_treatment
        d = self.scenario.dropout
        return randomised(point.n_control, d), randomised(point.n_treatment, d)

    @property
    def cost(self) -> dict | None:
        """The proposed design's cost (``costs``), item by item; a sequential
        design's at its maximum size, with the expected total under the
        planning rates and the null (None without ``costs``)."""
        s, rep = self.scenario, self.reported
        if s.costs is None:
            return None
        r_c, r_t = self.to_randomise(rep)
        out = s.costs.of(r_c, r_t, self.centres).to_dict()
        if self.sequential is not None and len(self.sequential.looks) > 1:
            share = r_t / (r_c + r_t)
            for name in ("planning", "null"):
                n = self.expected_randomised(name)
                out[f"expected_total_{name}"] = s.costs.of(n * (1 - share), n * share,
                                                           self.centres).total
        return out

    def expected_randomised(self, name: str) -> float | None:
        """A sequential design's expected number of women randomised under
        the operating scenario ``name`` (``planning``, ``null``): with a
        recruitment model, overrunning included (randomisation goes on while
        the outcomes of a look are awaited, so a trial that stops early may
        still have randomised everyone); without one, the women needed at
        the look where it stops.  None for a fixed design."""
        sq = self.sequential
        if sq is None or len(sq.looks) == 1:
            return None
        if sq.calendar is not None:
            return sq.calendar.expected_randomised[name]
        return sq.operating[name].expected_n_total_needed

    @property
    def reported(self) -> PowerPoint:
        """The proposed design, which the type I error, the interim plan and
        the paragraph are about: the power answer, the assurance answer, the
        smallest size meeting both targets (``sample_size.propose``), or the
        evaluated size."""
        if self.proposal is not None:
            return self.proposal
        return self.sample_size.answer if self.sample_size else self.evaluated

    @property
    def proposed_sample_size(self) -> SampleSizeResult | None:
        """The search result of the proposed size (None: a size was evaluated,
        or one beyond both answers)."""
        return {"power": self.sample_size, "assurance": getattr(self.assurance, "sample_size",
                                                                 None)}.get(self.proposed)

    def to_dict(self) -> dict:
        """Everything as JSON values: what ``simulate --format json`` prints.

        Returns
        -------
        dict
            Strict JSON values: a non-finite number is None and listed, with
            its field, in ``non_finite``.

        Examples
        --------
        >>> import simulator
        >>> d = simulator.sample_size(control=0.2, treatment=0.69).to_dict()
        >>> d["sample_size"]["n_per_arm"], d["method"]
        ({'control': 24, 'treatment': 24}, 'exact')
        """
        return strict(self._fields())

    def _fields(self) -> dict:
        s = self.scenario
        approx = None
        if self.normal_approx_control is not None:
            approx = {"n_control": self.normal_approx_control,
                      "n_treatment": s.allocation * self.normal_approx_control,
                      "formula": "two-proportion z test, pooled variance under H0, "
                                 "unpooled under H1, no continuity correction"}
            inflation = getattr(self.sequential, "analytic_inflation", None)
            if inflation is not None and len(self.sequential.looks) > 1:
                # the fixed design's size times the group-sequential inflation factor
                approx["maximum_n_control"] = self.normal_approx_control * inflation
                approx["maximum_n_treatment"] = s.allocation * approx["maximum_n_control"]
        return {
            "scenario": s.name,
            "title": s.title,
            "source": s.source,
            "endpoint": s.endpoint,
            "scenario_sha256": s.digest,
            "software": {"name": SOFTWARE, "version": self.version},
            "method": self.method,
            "model": "patient" if self.patient is not None else "table",
            "n_sims": self.n_sims,
            "seed": self.seed,
            "test": s.analysis.test,
            "alpha": s.analysis.alpha,
            "sided": s.analysis.sided,
            "target_power": s.target_power,
            "allocation": s.allocation,
            "dropout": s.dropout,
            "rates": {"control": s.control.rate, "treatment": s.treatment.rate},
            "planning_from": {"control": s.control.planning_from,
                              "treatment": s.treatment.planning_from},
            "labels": {"control": s.control.label, "treatment": s.treatment.label},
            "sample_size": self.sample_size.to_dict() if self.sample_size else None,
            "evaluated": self.evaluated.to_dict() if self.evaluated else None,
            "power_curve": [p.to_dict() for p in self.power_curve],
            "normal_approximation": approx,
            "proposed": self.proposed,
            "propose_rule": s.sample_size.propose,
            "proposed_n_per_arm": {"control": self.reported.n_control,
                                   "treatment": self.reported.n_treatment},
            "effect": relative_effects(s.control.rate, s.treatment.rate),
            "provenance": {arm: p.to_dict() for arm, p in provenance(s).items()},
            "type_one_error": {"value": self.type_one_error, "rate": s.control.rate,
                               "method": self._size_method(),
                               "maximum": None if self.type_one_error_max is None
                               else self.type_one_error_max.to_dict()},
            "confirmation": None if self.confirmation is None else self.confirmation.to_dict(),
            "prior": self.assurance.prior.to_dict() if self.assurance else None,
            "assurance": self.assurance.to_dict() if self.assurance else None,
            "sweep": None if self.sweep is None else [p.to_dict() for p in self.sweep],
            "patient_level": None if self.patient is None else self.patient.to_dict(),
            "sequential": None if self.sequential is None else self.sequential.to_dict(),
            "detectable": None if self.detectable is None else self.detectable.to_dict(),
            "capacity": None if self.capacity is None else self.capacity.to_dict(),
            "cost": self.cost,
            "references": references(self),
            "inputs": s.to_dict(),
        }
