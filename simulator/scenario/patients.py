"""Scenario forms of the patient-level model: checkers for the values that are
mappings of the user's own names (strata, covariates) or take more than one
form (dropout, block sizes, outcome shares).  Each returns the normalised value
or raises :class:`~simulator.rules.Bad` naming the sub-key at fault.

::

    population:
      strata:                     # named strata; shares sum to 1
        moderate: {share: 0.62, control: 0.39, treatment: 0.60}
        severe:   {share: 0.38, control: 0.20, effect: {odds_ratio: 8.9}}
      covariates:                 # named prognostic covariates
        age: {distribution: truncated_normal, mean: 38, sd: 4, lower: 25, upper: 45,
              log_odds_per_unit: -0.08}
        embryo: {distribution: categorical, levels: [good, fair], probabilities: [0.7, 0.3],
                 log_odds: [0, -0.4]}
    dropout: 0.10                 # or {share: 0.10, handling: as_failure}
"""
from __future__ import annotations

import re
from typing import Any

from .priors import _keys, effect_value, rate_value
from .rules import Bad, as_number

IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_]*"
RESERVED = ("stratum", "arm", "centre", "intercept")
SHARE_TOLERANCE = 1e-6
DISTRIBUTIONS = ("normal", "truncated_normal", "categorical")
MAX_SD_EFFECT = 3.0         # |log-odds per unit| x sd of a continuous covariate
MAX_LEVEL_EFFECT = 5.0      # |log-odds| of a categorical level
MAX_LEVELS = 10_000         # recorded values of a covariate with a resolution


def _within(check, value, sub: str):
    """``check(value)``, with a :class:`Bad` it raises re-addressed below ``sub``."""
    try:
        return check(value)
    except Bad as bad:
        inner = value if bad.value is Bad._NO_VALUE else bad.value
        raise Bad(str(bad), sub=sub + (f".{bad.sub}" if bad.sub else ""), value=inner,
                  got=bad.got) from None


def _number(value, sub: str, rule: str, ok=lambda x: True) -> float:
    try:
        x = float(as_number(value))
    except Bad:
        raise Bad(rule, sub=sub, value=value) from None
    if not ok(x):
        raise Bad(rule, sub=sub, value=value)
    return x + 0.0


def _numbers(value, sub: str, rule: str, length: int | None = None, ok=lambda x: True) -> list:
    if not isinstance(value, list) or not value or (length is not None and len(value) != length):
        raise Bad(rule, sub=sub, value=value)
    return [_number(v, sub, rule, ok) for v in value]


def _name(name: Any, what: str) -> str:
    if not isinstance(name, str) or not re.fullmatch(IDENTIFIER, name) or name in RESERVED:
        raise Bad(f"{what} names must be identifiers (letters, digits, _; not "
                  f"{', '.join(RESERVED)})", sub=str(name), value=name)
    return name


def strata_value(value: Any) -> dict:
    """Checker for ``population.strata``."""
    if not isinstance(value, dict) or not value:
        raise Bad("must be a mapping of stratum names to {share, control, treatment | effect}")
    out = {}
    for name, spec in value.items():
        name = _name(name, "stratum")
        if not isinstance(spec, dict):
            raise Bad("must be a mapping {share, control, treatment | effect}", sub=name, value=spec)
        _keys(spec, ("share", "control", "treatment", "effect"), prefix=name + ".")
        share = _number(spec.get("share"), f"{name}.share", "must be a share in (0, 1]",
                        lambda x: 0 < x <= 1)
        if spec.get("control") is None:
            raise Bad("is required (the control arm's rate or prior in this stratum)",
                      sub=f"{name}.control", got=False)
        entry = {"share": share, "control": _within(rate_value, spec["control"], f"{name}.control")}
        if (spec.get("treatment") is None) == (spec.get("effect") is None):
            raise Bad("needs exactly one of `treatment` (a rate or prior) and `effect` "
                      "(relative to control)", sub=name, got=False)
        if spec.get("treatment") is not None:
            entry["treatment"] = _within(rate_value, spec["treatment"], f"{name}.treatment")
        else:
            entry["effect"] = _within(effect_value, spec["effect"], f"{name}.effect")
        out[name] = entry
    total = sum(e["share"] for e in out.values())
    if abs(total - 1.0) > SHARE_TOLERANCE:
        raise Bad(f"shares must sum to 1; they sum to {total:.6g}", got=False)
    return out


def _covariate(spec: Any, name: str) -> dict:
    if not isinstance(spec, dict):
        raise Bad("must be a mapping with `distribution` and its parameters", sub=name, value=spec)
    kind = spec.get("distribution")
    if kind not in DISTRIBUTIONS:
        raise Bad("must be one of " + ", ".join(DISTRIBUTIONS), sub=f"{name}.distribution",
                  value=kind)
    if kind == "categorical":
        _keys(spec, ("distribution", "levels", "probabilities", "log_odds"), prefix=name + ".")
        levels = spec.get("levels")
        if (not isinstance(levels, list) or len(levels) < 2
                or len(set(map(str, levels))) != len(levels)):
            raise Bad("must be a list of at least two distinct level names", sub=f"{name}.levels",
                      value=levels)
        k = len(levels)
        probs = _numbers(spec.get("probabilities"), f"{name}.probabilities",
                         f"must be {k} positive probabilities summing to 1, one per level "
                         "(a level nobody has cannot be estimated)", k, lambda x: 0 < x <= 1)
        if abs(sum(probs) - 1) > SHARE_TOLERANCE:
            raise Bad(f"must be {k} positive probabilities summing to 1, one per level "
                      "(a level nobody has cannot be estimated)",
                      sub=f"{name}.probabilities", value=spec["probabilities"])
        effects = _numbers(spec.get("log_odds"), f"{name}.log_odds",
                           f"must be {k} log-odds effects in [-{MAX_LEVEL_EFFECT:g}, "
                           f"{MAX_LEVEL_EFFECT:g}], one per level (the first is the reference, "
                           "usually 0)", k, lambda x: abs(x) <= MAX_LEVEL_EFFECT)
        return {"distribution": kind, "levels": [str(v) for v in levels],
                "probabilities": probs, "log_odds": effects}
    allowed = ("distribution", "mean", "sd", "log_odds_per_unit", "resolution")
    if kind == "truncated_normal":
        allowed += ("lower", "upper")
    _keys(spec, allowed, prefix=name + ".")
    out = {"distribution": kind,
           "mean": _number(spec.get("mean"), f"{name}.mean", "must be a finite number",
                           lambda x: abs(x) <= 1e6),
           "sd": _number(spec.get("sd"), f"{name}.sd", "must be a positive number",
                         lambda x: 0 < x <= 1e6),
           "log_odds_per_unit": _number(spec.get("log_odds_per_unit"),
                                        f"{name}.log_odds_per_unit",
                                        "must be a number: the change in log-odds of live birth "
                                        "per unit of the covariate",
                                        lambda x: abs(x) <= 1e3)}
    if spec.get("resolution") is not None:
        out["resolution"] = _number(spec["resolution"], f"{name}.resolution",
                                    "must be a positive number at most `sd` (values are "
                                    "recorded to this precision, e.g. 1 for whole years)",
                                    lambda x: 0 < x <= out["sd"])
    if kind == "truncated_normal":
        if spec.get("lower") is None and spec.get("upper") is None:
            raise Bad("needs `lower` or `upper`, or both (with neither it is the normal "
                      "distribution: use `distribution: normal`)", sub=f"{name}.lower",
                      got=False)
        # a bound left out is effectively none (finite, so the JSON stays valid)
        lo = -1e300 if spec.get("lower") is None else _number(
            spec["lower"], f"{name}.lower", "must be a number below `upper`")
        hi = 1e300 if spec.get("upper") is None else _number(
            spec["upper"], f"{name}.upper", "must be a number above `lower`")
        if not lo < hi:
            raise Bad("must be a number above `lower`", sub=f"{name}.upper", value=spec.get("upper"))
        # at least 1e-6 of the normal's mass between the bounds, or sampling is meaningless
        from scipy.special import ndtr
        m, s = out["mean"], out["sd"]
        if ndtr((hi - m) / s) - ndtr((lo - m) / s) < 1e-6:
            raise Bad("must leave some of the normal distribution between `lower` and `upper` "
                      "(less than 1e-6 of it lies there)", sub=f"{name}.upper", value=spec.get("upper"))
        out.update(lower=lo, upper=hi)
    if out.get("resolution") is not None:
        lo = max(out.get("lower", -1e300), out["mean"] - 9 * out["sd"])
        hi = min(out.get("upper", 1e300), out["mean"] + 9 * out["sd"])
        if (hi - lo) / out["resolution"] > MAX_LEVELS:
            raise Bad(f"must leave at most {MAX_LEVELS:,} recorded values (the range, within "
                      "9 SD of the mean, divided by the resolution)",
                      sub=f"{name}.resolution", value=spec["resolution"])
        if hi - lo < out["resolution"]:
            raise Bad("must leave at least two recorded values between `lower` and `upper`",
                      sub=f"{name}.resolution", value=spec["resolution"])
    if abs(out["log_odds_per_unit"] * out["sd"]) > MAX_SD_EFFECT:
        raise Bad(f"times `sd` must be at most {MAX_SD_EFFECT:g} on the log-odds scale (an odds "
                  "ratio of 20 per SD; a covariate that decides the outcome is not a "
                  "prognostic factor)",
                  sub=f"{name}.log_odds_per_unit", value=spec.get("log_odds_per_unit"))
    return out


def covariates_value(value: Any) -> dict:
    """Checker for ``population.covariates``."""
    if not isinstance(value, dict) or not value:
        raise Bad("must be a mapping of covariate names to {distribution, ...}")
    if len(value) > 10:
        raise Bad("may name at most 10 covariates", got=False)
    return {_name(name, "covariate"): _covariate(spec, str(name)) for name, spec in value.items()}


def dropout_value(value: Any) -> dict:
    """Checker for ``dropout``: a share, or ``{share, handling}``."""
    rule = "must be a share in [0, 1)"
    if not isinstance(value, dict):
        return {"share": _number(value, None, rule, lambda x: 0 <= x < 1),
                "handling": "complete_case"}
    _keys(value, ("share", "handling"))
    share = _number(value.get("share"), "share", rule, lambda x: 0 <= x < 1)
    handling = value.get("handling", "complete_case")
    if handling not in ("complete_case", "as_failure"):
        raise Bad("must be one of complete_case, as_failure", sub="handling", value=handling)
    return {"share": share, "handling": handling}


def arm_shares_value(value: Any) -> dict:
    """Checker for ``outcomes.miscarriage``: ``{control: p, treatment: p}``."""
    if not isinstance(value, dict):
        raise Bad("must be a mapping {control: p, treatment: p}")
    _keys(value, ("control", "treatment"))
    return {arm: _number(value.get(arm), arm, "must be a probability in [0, 1]",
                         lambda x: 0 <= x <= 1) for arm in ("control", "treatment")}


def names_value(value: Any) -> list:
    """Checker for ``analysis.adjust``: a list of names (checked against the
    model's strata and covariates when the scenario is built)."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise Bad("must be a list of names: `stratum` and covariate names")
    if len(set(value)) != len(value):
        raise Bad("must not name anything twice")
    return list(value)


def positive_numbers_value(value: Any) -> list:
    """Checker for ``centres.relative_rates``."""
    return _numbers(value, None, "must be a list of positive numbers, one per centre",
                    ok=lambda x: 0 < x <= 1e6)


def block_sizes_value(value: Any) -> list:
    """Checker for ``randomisation.block_sizes`` (the allocation check is done
    when the scenario is built)."""
    rule = "must be a list of whole block sizes from 2 to 100"
    if not isinstance(value, list) or not value:
        raise Bad(rule)
    out = []
    for v in value:
        x = _number(v, None, rule, lambda x: x.is_integer() and 2 <= x <= 100)
        out.append(int(x))
    if len(set(out)) != len(out):
        raise Bad("must not repeat a block size")
    return out
