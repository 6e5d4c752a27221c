"""Scenario forms of priors: checkers for an arm's ``rate`` (a number or a
prior) and the treatment arm's ``effect``, and their conversion to
:mod:`simulator.priors` objects.

``rate`` forms (normalised with their defaults filled in)::

    0.20                                          a point planning value
    {events: 20, n: 29, discount: 0.5, initial_beta: [1, 1]}
        power prior: Beta(a0 + discount * events, b0 + discount * (n - events))
    {beta: [a, b]}                                a Beta prior given directly
    {mixture: [<events/n or beta form>, ...], weights: [...]}
        a robust mixture, e.g. 0.8 informative + 0.2 Beta(1, 1)

``effect`` (treatment arm only)::

    {odds_ratio | risk_ratio | risk_difference: x, ci95: [lo, hi], shrink: s}
        a point, or with ci95 a normal prior on the log scale (ratios) or the
        difference scale, sd = (g(hi) - g(lo)) / (2 x 1.959964); shrink in
        [0, 1] multiplies the prior mean g(x) (a skeptical prior), the sd kept.
"""
from __future__ import annotations

import math
from typing import Any

from ..models.priors import SCALES, Z975, BetaMixture, Effect
from .rules import Bad, as_int, as_number, unknown_key

WEIGHT_TOLERANCE = 1e-9
# A Beta parameter is a number of (pseudo-)women: below 0.001 the prior is two
# point masses at 0 and 1, above ten million a point; neither means anything a
# planner could have meant, and both break the numerics (NaN, long searches).
MIN_BETA, MAX_BETA = 1e-3, 1e7
MAX_RATIO = 1e6             # odds and risk ratios (and their ci95) within [1e-6, 1e6]: the
                            # prior's interval stays within floating point on the ratio scale
COUNT_FORM = ("events", "n", "discount", "initial_beta")


def _keys(value: dict, allowed, prefix: str = "") -> None:
    for key in value:
        if key not in allowed:
            raise Bad(unknown_key(key, list(allowed)), sub=prefix + str(key), got=False)


def _positive(value, sub: str, rule: str) -> float:
    """A Beta parameter: within [``MIN_BETA``, ``MAX_BETA``]."""
    try:
        v = float(as_number(value))
    except Bad:
        raise Bad(rule, sub=sub, value=value) from None
    if not MIN_BETA <= v <= MAX_BETA:
        raise Bad(rule, sub=sub, value=value)
    return v


def _pair(value, sub: str, rule: str) -> list:
    if not isinstance(value, list) or len(value) != 2:
        raise Bad(rule, sub=sub, value=value)
    return value


def _component(value: Any, prefix: str) -> dict:
    """One Beta: the power-prior posterior of counts, or ``beta: [a, b]``."""
    if not isinstance(value, dict):
        raise Bad("must be a mapping with `events` and `n`, or `beta: [a, b]`",
                  sub=prefix.rstrip(".") or None, value=value)
    if "beta" in value:
        _keys(value, ("beta",), prefix)
        rule = f"must be [a, b], two numbers from {MIN_BETA:g} to {MAX_BETA:,.0f}"
        a, b = _pair(value["beta"], prefix + "beta", rule)
        return {"beta": [_positive(a, prefix + "beta", rule), _positive(b, prefix + "beta", rule)]}
    _keys(value, COUNT_FORM + ("beta",), prefix)
    for key in ("events", "n"):
        if key not in value:
            raise Bad("is required (historical events out of `n` women), or give `beta: [a, b]`",
                      sub=prefix + key, got=False)
    try:
        n = as_int(value["n"])
        assert 1 <= n <= MAX_BETA
    except (Bad, AssertionError):
        raise Bad(f"must be a whole number of women from 1 to {MAX_BETA:,.0f}", sub=prefix + "n",
                  value=value["n"]) from None
    try:
        events = as_int(value["events"])
        assert 0 <= events <= n
    except (Bad, AssertionError):
        raise Bad(f"must be a whole number from 0 to `n` ({n})", sub=prefix + "events",
                  value=value["events"]) from None
    discount = value.get("discount", 1.0)
    try:
        discount = float(as_number(discount))
        assert 0.0 <= discount <= 1.0
    except (Bad, AssertionError):
        raise Bad("must be a discount (power-prior weight) in [0, 1]", sub=prefix + "discount",
                  value=value.get("discount")) from None
    rule = (f"must be [a0, b0], two numbers from {MIN_BETA:g} to {MAX_BETA:,.0f} (the initial "
            "Beta)")
    a0, b0 = _pair(value.get("initial_beta", [1.0, 1.0]), prefix + "initial_beta", rule)
    initial = [_positive(a0, prefix + "initial_beta", rule),
               _positive(b0, prefix + "initial_beta", rule)]
    return {"events": events, "n": n, "discount": discount + 0.0, "initial_beta": initial}


def rate_value(value: Any):
    """Checker for ``arms.<arm>.rate``: a probability, or a prior mapping."""
    if not isinstance(value, dict):
        try:
            v = float(as_number(value))
        except Bad:
            raise Bad("must be a probability in [0, 1]" + (
                ", or a prior mapping: {events, n}, {beta: [a, b]} or {mixture, weights}"
                if isinstance(value, list) else "")) from None
        if not 0.0 <= v <= 1.0:
            raise Bad("must be a probability in [0, 1]")
        return v + 0.0
    if "mixture" not in value:
        return _component(value, "")
    _keys(value, ("mixture", "weights"))
    comps = value["mixture"]
    if not isinstance(comps, list) or not comps:
        raise Bad("must be a non-empty list of priors ({events, n} or {beta: [a, b]})",
                  sub="mixture", value=comps)
    out = [_component(c, f"mixture.{i}.") for i, c in enumerate(comps)]
    weights = value.get("weights")
    rule = f"must be {len(comps)} non-negative numbers summing to 1, one per mixture component"
    if not isinstance(weights, list) or len(weights) != len(comps):
        raise Bad(rule, sub="weights", value=weights)
    try:
        weights = [float(as_number(w)) for w in weights]
    except Bad:
        raise Bad(rule, sub="weights", value=value["weights"]) from None
    if min(weights) < 0 or abs(sum(weights) - 1.0) > WEIGHT_TOLERANCE:
        raise Bad(rule, sub="weights", value=value["weights"])
    return {"mixture": out, "weights": weights}


def _beta_parameters(component: dict) -> tuple[float, float]:
    if "beta" in component:
        return tuple(component["beta"])
    a0, b0 = component["initial_beta"]
    d = component["discount"]
    return a0 + d * component["events"], b0 + d * (component["n"] - component["events"])


def prior_of(rate) -> BetaMixture | None:
    """The prior a normalised ``rate`` value describes (None: a point rate)."""
    if not isinstance(rate, dict):
        return None
    comps = rate["mixture"] if "mixture" in rate else [rate]
    weights = rate.get("weights", [1.0])
    a, b = zip(*(_beta_parameters(c) for c in comps))
    return BetaMixture(tuple(float(w) for w in weights), tuple(a), tuple(b))


def describe_rate(rate) -> str:
    """Words for the report: where a prior comes from."""
    if not isinstance(rate, dict):
        return f"{rate:g} (point)"
    comps = rate["mixture"] if "mixture" in rate else [rate]
    words = []
    for c in comps:
        if "beta" in c:
            words.append(f"Beta({c['beta'][0]:g}, {c['beta'][1]:g})")
            continue
        a0, b0 = c["initial_beta"]
        how = (f"power prior from {c['events']}/{c['n']} with discount weight {c['discount']:g} "
               f"(as if {100 * c['discount']:g}% of those women had been observed)"
               if c["discount"] < 1 else f"posterior from {c['events']}/{c['n']}")
        a, b = _beta_parameters(c)
        words.append(f"{how} (Beta({a:g}, {b:g}), initial Beta({a0:g}, {b0:g}))")
    if "mixture" not in rate:
        return words[0]
    return "mixture of " + " and ".join(f"{w:g} x {t}" for w, t in zip(rate["weights"], words))


def effect_value(value: Any) -> dict:
    """Checker for ``arms.treatment.effect``."""
    if not isinstance(value, dict):
        raise Bad("must be a mapping with one of odds_ratio, risk_ratio, risk_difference")
    _keys(value, SCALES + ("ci95", "shrink"))
    given = [k for k in SCALES if k in value]
    if len(given) != 1:
        raise Bad("must give exactly one of odds_ratio, risk_ratio, risk_difference",
                  value=value)
    scale = given[0]
    ratio = scale != "risk_difference"
    what = ("a positive ratio from 0.000001 to 1,000,000" if ratio
            else "a risk difference in (-1, 1)")

    def checked(v, sub):
        try:
            x = float(as_number(v))
            assert (1 / MAX_RATIO <= x <= MAX_RATIO) if ratio else (-1 < x < 1)
        except (Bad, AssertionError):
            raise Bad(f"must be {what}", sub=sub, value=v) from None
        return x + 0.0

    estimate = checked(value[scale], scale)
    out = {scale: estimate}
    if value.get("ci95") is not None:
        both = ("positive ratios from 0.000001 to 1,000,000" if ratio
                else "risk differences in (-1, 1)")
        rule = f"must be [lower, upper], {both} with lower < {scale} < upper"
        lo, hi = _pair(value["ci95"], "ci95", rule)
        lo, hi = checked(lo, "ci95"), checked(hi, "ci95")
        if not lo < estimate < hi:
            raise Bad(rule, sub="ci95", value=value["ci95"])
        out["ci95"] = [lo, hi]
    shrink = value.get("shrink", 1.0)
    try:
        shrink = float(as_number(shrink))
        assert 0.0 <= shrink <= 1.0
    except (Bad, AssertionError):
        raise Bad("must be a shrinkage factor in [0, 1] (applied to the effect on its analysis scale)",
                  sub="shrink", value=value.get("shrink")) from None
    out["shrink"] = shrink + 0.0
    return out


def effect_of(spec: dict) -> Effect:
    scale = next(k for k in SCALES if k in spec)
    g = (lambda x: x) if scale == "risk_difference" else math.log
    sd = 0.0
    if "ci95" in spec:
        lo, hi = spec["ci95"]
        sd = (g(hi) - g(lo)) / (2.0 * Z975)
    return Effect(scale, spec["shrink"] * g(spec[scale]) + 0.0, sd)


def describe_effect(spec: dict) -> str:
    """Words for the report, stating the prior actually used."""
    scale = next(k for k in SCALES if k in spec)
    name = scale.replace("_", " ")
    words = f"{name} {spec[scale]:g}"
    effect = effect_of(spec)
    if "ci95" in spec:
        words += (f" (95% CI {spec['ci95'][0]:g} to {spec['ci95'][1]:g}) as a normal prior on the "
                  f"{'difference' if scale == 'risk_difference' else 'log'} scale")
    if spec["shrink"] != 1:
        words += (f", its {'mean' if 'ci95' in spec else 'value'} shrunk towards no effect by "
                  f"the factor {spec['shrink']:g} on that scale")
        if "ci95" in spec:
            words += " and its spread kept"
    if spec["shrink"] != 1 or "ci95" in spec:
        d = effect.to_dict()
        words += f" (prior median {name} {d['value']:.3g}"
        if "interval95" in d:
            lo, hi = d["interval95"]
            words += f", 95% prior interval {lo:.3g} to {hi:.3g}"
        words += ")"
    return words
