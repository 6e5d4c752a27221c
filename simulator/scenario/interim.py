"""Scenario keys of interim analyses and of the Bayesian decision rule, and
their checks across keys.  The values become an :class:`Interim` (what the
planner asked for); :mod:`simulator.sequential_plan` turns it into bounds."""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import ScenarioError
from .rules import Bad, Rule, as_number, choice, number, optional
from ..stats.boundaries import CLASSICAL, SPENDING

MAX_LOOKS = 10
MIN_SEQUENTIAL_ALPHA = 1e-12    # z bounds up to about 7, well inside the integration grid
EFFICACY = CLASSICAL + ("spending", "posterior", "none")
FUTILITY = ("none", "beta_spending", "z", "conditional_power", "predictive")


def looks_value(value):
    rule = (f"must be a list of 1 to {MAX_LOOKS} information fractions, increasing, in (0, 1] "
            "and ending at 1, e.g. [0.5, 0.75, 1]")
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_LOOKS:
        raise Bad(rule)
    try:
        looks = [float(as_number(t)) for t in value]
    except Bad:
        raise Bad(rule)
    if looks[-1] != 1.0 or any(not a < b for a, b in zip([0.0] + looks, looks)):
        raise Bad(rule)
    return tuple(looks)


def z_value(value):
    rule = "must be a number or a list of numbers (one per interim look), between -10 and 10"
    values = value if isinstance(value, list) else [value]
    try:
        out = [float(as_number(v)) for v in values]
    except Bad:
        raise Bad(rule)
    if not out or any(abs(v) > 10 for v in out):
        raise Bad(rule)
    return tuple(out)


def boolean(value):
    if not isinstance(value, bool):
        raise Bad("must be true or false")
    return value


def prior_pair(value):
    rule = ("must be `vague` (Beta(1, 1) for each arm), `design` (the arms' Beta priors) or "
            "`{control: [a, b], treatment: [a, b]}` with a, b > 0")
    if value in ("vague", "design"):
        return value
    if not isinstance(value, dict) or set(value) != {"control", "treatment"}:
        raise Bad(rule)
    out = {}
    for arm, pair in value.items():
        ok = (isinstance(pair, list) and len(pair) == 2
              and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                      and math.isfinite(v) and 0 < v <= 1e6 for v in pair))
        if not ok:
            raise Bad(rule, sub=arm, value=pair)
        out[arm] = (float(pair[0]), float(pair[1]))
    return out


def threshold_value(value):
    if value == "calibrate":
        return value
    return number(0.5, 1.0, hi_open=True, what="`calibrate` or a probability")(value)


OPEN_PROBABILITY = number(0.0, 1.0, lo_open=True, hi_open=True, what="a probability")
GAMMA = number(-40.0, 40.0, what="a number")

BAYESIAN = {
    "prior": Rule("vague", "test `bayesian`: the analysis's Beta priors: `vague` (Beta(1, 1) "
                  "for each arm), `design` (the arms' Beta priors given in `arms`, e.g. the "
                  "study's counts discounted), or `{control: [a, b], treatment: [a, b]}`",
                  prior_pair, nested=True),
    "threshold": Rule("calibrate", "test `bayesian`: success when the posterior probability "
                      "that the treatment rate is higher reaches this; `calibrate`: the "
                      "smallest threshold whose one-sided type I error (both arms at the "
                      "control rate) is at most `analysis.alpha`, at each size",
                      threshold_value),
}

INTERIM = {
    "looks": Rule(None, "information fractions of the analyses, increasing and ending at 1 "
                  "(e.g. `[0.5, 0.75, 1]`): look k analyses that share of the maximum "
                  "sample size", optional(looks_value)),
    "efficacy": {
        "type": Rule(None, "obrien_fleming | pocock (classical Wang-Tsiatis bounds) | "
                     "spending (alpha spending, `interim.efficacy.spending`) | posterior "
                     "(test `bayesian`: posterior probability) | none; default: spending, or "
                     "posterior with the bayesian test", optional(choice(*EFFICACY))),
        "spending": Rule("ld_obrien_fleming", "alpha-spending function: ld_obrien_fleming | "
                         "ld_pocock (Lan-DeMets) | hsd (Hwang-Shih-DeCani)", choice(*SPENDING)),
        "gamma": Rule(-4.0, "HSD parameter of the alpha spending (`spending: hsd`)", GAMMA),
        "threshold": Rule(None, "type `posterior`: posterior probability that the treatment "
                          "rate is higher needed to stop at an interim look (default: the "
                          "final threshold)", optional(threshold_value)),
    },
    "futility": {
        "type": Rule("none", "none | beta_spending | z (a z threshold) | conditional_power | "
                     "predictive (test `bayesian`: predictive probability of success)",
                     choice(*FUTILITY)),
        "spending": Rule("hsd", "beta_spending: the beta-spending function, ld_obrien_fleming "
                         "| ld_pocock | hsd", choice(*SPENDING)),
        "gamma": Rule(-2.0, "beta_spending: HSD parameter (`spending: hsd`)", GAMMA),
        "beta": Rule(None, "beta_spending: type II error spent (default 1 - `target_power`)",
                     optional(OPEN_PROBABILITY)),
        "z": Rule(None, "z: stop for futility when Z <= this at an interim look; one number "
                  "for every interim look or a list with one per interim look",
                  optional(z_value)),
        "threshold": Rule(None, "conditional_power / predictive: stop when the conditional "
                          "(predictive) probability of success at the last look is below "
                          "this", optional(OPEN_PROBABILITY)),
        "assumed": Rule("design", "conditional_power: the effect assumed for the rest of the "
                        "trial: `design` (the effect the design is powered for) | `trend` "
                        "(the current estimate)", choice("design", "trend")),
        "binding": Rule(False, "true: the efficacy bounds allow for the futility stops (which "
                        "must then be obeyed); false (non-binding): they ignore them, so the "
                        "type I error holds even if a futility stop is overruled", boolean),
    },
}


@dataclass(frozen=True)
class Interim:
    """The validated interim plan (or a single-look Bayesian rule)."""
    looks: tuple[float, ...]
    efficacy: str                         # EFFICACY
    spending: str
    gamma: float
    efficacy_threshold: float | str | None
    futility: str                         # FUTILITY
    beta_spending: str
    beta_gamma: float
    beta: float
    futility_z: tuple[float, ...] | None
    futility_threshold: float | None
    assumed: str
    binding: bool
    bayes_prior: object = None            # (treatment, control) Beta pairs for `bayesian`
    bayes_threshold: float | str | None = None

    @property
    def interim_looks(self) -> int:
        return len(self.looks) - 1


# The keys of an interim section that apply only with some types: key ->
# (applies(efficacy, futility), what it needs).  One table for the check that a
# key given in vain is an error (interim_of) and for pruning the keys that do
# nothing from the scenario as printed (build._applicable).
APPLIES = {
    "interim.efficacy.spending": (lambda e, f: e["type"] == "spending",
                                  "`interim.efficacy.type: spending`"),
    "interim.efficacy.gamma": (lambda e, f: e["type"] == "spending" and e["spending"] == "hsd",
                               "`interim.efficacy.spending: hsd`"),
    "interim.efficacy.threshold": (lambda e, f: e["type"] == "posterior",
                                   "`interim.efficacy.type: posterior`"),
    "interim.futility.spending": (lambda e, f: f["type"] == "beta_spending",
                                  "`interim.futility.type: beta_spending`"),
    "interim.futility.beta": (lambda e, f: f["type"] == "beta_spending",
                              "`interim.futility.type: beta_spending`"),
    "interim.futility.z": (lambda e, f: f["type"] == "z", "`interim.futility.type: z`"),
    "interim.futility.threshold": (lambda e, f: f["type"] in ("conditional_power", "predictive"),
                                   "`interim.futility.type: conditional_power or predictive`"),
    "interim.futility.assumed": (lambda e, f: f["type"] == "conditional_power",
                                 "`interim.futility.type: conditional_power`"),
    "interim.futility.gamma": (lambda e, f: f["type"] == "beta_spending"
                               and f["spending"] == "hsd", "`interim.futility.spending: hsd`"),
    "interim.futility.binding": (lambda e, f: f["type"] != "none",
                                 "a futility rule (`interim.futility.type`)"),
}


def resolved_efficacy(eff: dict, bayesian: bool) -> dict:
    """The efficacy section with its type as it runs: left out, it is
    `posterior` with the bayesian test and `spending` otherwise."""
    if eff["type"] is None:
        return dict(eff, type="posterior" if bayesian else "spending")
    return eff


def _fail(message: str, field: str):
    raise ScenarioError(message, field=field)


def interim_of(v: dict, arms, given: frozenset = frozenset()) -> Interim | None:
    """The interim plan of the validated mapping ``v`` (``arms``: the control
    and treatment :class:`scenario.Arm`), or None for a fixed frequentist
    design.  ``given``: the dotted keys the scenario gives; a key given where
    it does nothing is an error (it would be ignored without a word).  Raises
    ScenarioError for keys that do not fit together."""
    spec, an = v["interim"], v["analysis"]
    eff, fut = spec["efficacy"], spec["futility"]
    bayesian = an["test"] == "bayesian"
    looks = spec["looks"]
    set_keys = [key for key in given if key.startswith(("interim.efficacy", "interim.futility"))]
    set_keys.sort(key=lambda k: (-k.count("."), k))    # the most specific key first
    if looks is None:
        if set_keys:
            _fail("needs `interim.looks`", set_keys[0])
        if "interim" in given:
            _fail("is given without `looks` (an empty or null section does nothing): give "
                  "`interim.looks`, or remove the section", "interim")
    elif len(looks) == 1 and set_keys:
        _fail("applies only with an interim look before 1 in `interim.looks`", set_keys[0])
    eff = resolved_efficacy(eff, bayesian)
    if not bayesian:
        for key in sorted((k for k in given if k.startswith("analysis.bayesian")),
                          key=lambda k: (-k.count("."), k)):
            _fail("applies to `analysis.test: bayesian`", key)
    if looks is None:
        if not bayesian:
            return None
        looks = (1.0,)
        eff = dict(eff, type="none")
    if an["test"] in ("fisher", "chi2_yates", "boschloo", "barnard"):
        _fail(f"must be z_pooled, z_unpooled or bayesian with interim looks (group-sequential "
              f"bounds are on the z scale); got {an['test']!r}", "analysis.test")
    if not bayesian and an["alpha"] < MIN_SEQUENTIAL_ALPHA:
        _fail(f"must be at least {MIN_SEQUENTIAL_ALPHA:g} with interim looks (the boundaries' "
              f"numerical integration covers z up to about 7); got {an['alpha']:g}",
              "analysis.alpha")
    if bayesian and an["sided"] != "one":
        _fail("must be `one` for the bayesian test (its posterior probability is that the "
              "treatment rate is higher)", "analysis.sided")
    frequentist_only = ("obrien_fleming", "pocock", "spending")
    if bayesian and eff["type"] in frequentist_only:
        _fail(f"must be posterior or none with `analysis.test: bayesian`; got {eff['type']!r}",
              "interim.efficacy.type")
    if not bayesian and eff["type"] == "posterior":
        _fail("needs `analysis.test: bayesian`", "interim.efficacy.type")
    if bayesian and fut["type"] in ("beta_spending", "z", "conditional_power"):
        _fail(f"must be predictive or none with `analysis.test: bayesian`; got "
              f"{fut['type']!r}", "interim.futility.type")
    if not bayesian and fut["type"] == "predictive":
        _fail("needs `analysis.test: bayesian`", "interim.futility.type")
    if fut["type"] != "none" and an["sided"] == "two":
        _fail("needs a one-sided test (`analysis.sided: one`; a two-sided design at alpha "
              "0.05 is one-sided at 0.025)", "interim.futility.type")
    for key, (applies, what) in APPLIES.items():
        if key in given and not applies(eff, fut):
            section = key.rsplit(".", 1)[0]
            _fail(f"applies only with {what} (to change the type of `{section}`, set the "
                  f"section whole: `{section}={{type: ...}}`)", key)
    if fut["type"] == "z":
        if fut["z"] is None:
            _fail("is required with `interim.futility.type: z`", "interim.futility.z")
        if len(fut["z"]) not in (1, len(looks) - 1):
            _fail(f"must give one number, or one per interim look ({len(looks) - 1}); got "
                  f"{len(fut['z'])}", "interim.futility.z")
    if fut["type"] in ("conditional_power", "predictive") and fut["threshold"] is None:
        _fail(f"is required with `interim.futility.type: {fut['type']}`",
              "interim.futility.threshold")
    if fut["type"] == "beta_spending" and fut["binding"]:
        _fail("must be false with beta_spending (binding beta-spending bounds are not "
              "available)", "interim.futility.binding")
    z = fut["z"]
    return Interim(
        looks=looks, efficacy=eff["type"], spending=eff["spending"], gamma=eff["gamma"],
        efficacy_threshold=eff["threshold"], futility=fut["type"],
        beta_spending=fut["spending"], beta_gamma=fut["gamma"],
        beta=fut["beta"] if fut["beta"] is not None else round(1 - v["target_power"], 12),
        futility_z=None if z is None else (z * (len(looks) - 1) if len(z) == 1 else z),
        futility_threshold=fut["threshold"], assumed=fut["assumed"], binding=fut["binding"],
        bayes_prior=_bayes_prior(an["bayesian"]["prior"], arms) if bayesian else None,
        bayes_threshold=an["bayesian"]["threshold"] if bayesian else None)


def _bayes_prior(prior, arms):
    """(treatment, control) Beta parameters of the analysis."""
    if prior == "vague":
        return (1.0, 1.0), (1.0, 1.0)
    if prior == "design":
        pairs = []
        for name, arm in (("treatment", arms[1]), ("control", arms[0])):
            p = arm.prior
            if p is None or len(p.weights) != 1:
                _fail(f"`design` needs a single Beta prior on `arms.{name}.rate` (a point "
                      "rate, a mixture or an `effect` has none)", "analysis.bayesian.prior")
            pairs.append((float(p.a[0]), float(p.b[0])))
        return tuple(pairs)
    return prior["treatment"], prior["control"]
