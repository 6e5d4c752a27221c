"""Where the planning rates come from: the scenario's ``source`` and the
provenance of each arm's rate in the text.

``source`` is free text (a citation, as before) or a mapping that records
what the source study observed, so that the report can say it::

    source:
      citation: Peero et al. 2024 Sci Rep, doi:10.1038/s41598-024-54423-z
      design: the severe subgroup of a retrospective single-centre cohort
      observed:                          # live births / women, per arm
        control: {events: 5, n: 25}
        treatment: {events: 20, n: 29}
      effect: Wang et al. 2016 RBMO      # where `arms.treatment.effect` comes from

With ``population.strata`` the observed counts are given per stratum:
``observed: {severe: {control: {events, n}, treatment: {events, n}}, ...}``.

Each arm's planning rate then has one of these provenances (:func:`provenance`):

* ``observed``: a point rate equal to the source's observed proportion as the
  report prints rates, to 0.1 percentage point (0.69 is 20/29 = 68.97%);
* ``assumed``: a point rate that differs from the observed proportion, or
  one given with no counts to compare (then ``set`` when it was overridden on
  the command line or in the API, ``source`` when the scenario's free-text
  source is all there is);
* ``prior``: the mean of a design prior (or its ``planning_rate``), with the
  counts and discount a power prior was built from;
* ``effect``: the control rate with the treatment effect applied;
* ``strata``: the population average of per-stratum rates.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .rules import Bad, as_int, text, unknown_key

SOURCE_KEYS = ("citation", "design", "observed", "effect")
ARMS = ("control", "treatment")
ONE_LINE = text(rule="must be one line of text")


@dataclass(frozen=True)
class Source:
    """The validated ``source``: ``citation`` is the free text when no mapping
    was given (``structured`` False)."""
    citation: str
    design: str | None = None
    observed: dict | None = None          # arm -> (events, n), or stratum -> arm -> (events, n)
    effect: str | None = None
    structured: bool = False


def _counts(value: Any, sub: str) -> dict:
    if not isinstance(value, dict):
        raise Bad("must be `{events, n}`: live births among women observed", sub=sub,
                  value=value)
    for key in value:
        if key not in ("events", "n"):
            raise Bad(unknown_key(key, ["events", "n"]), sub=f"{sub}.{key}", got=False)
    try:
        n = as_int(value.get("n"))
        assert n >= 1
    except (Bad, AssertionError):
        raise Bad("must be a whole number of women, at least 1", sub=f"{sub}.n",
                  value=value.get("n")) from None
    try:
        events = as_int(value.get("events"))
        assert 0 <= events <= n
    except (Bad, AssertionError):
        raise Bad(f"must be a whole number from 0 to `n` ({n})", sub=f"{sub}.events",
                  value=value.get("events")) from None
    return {"events": events, "n": n}


def _observed(value: Any) -> dict:
    """Per arm, or per stratum and arm (checked against the strata later)."""
    if not isinstance(value, dict) or not value:
        raise Bad("must map `control` and/or `treatment` (or stratum names) to observed "
                  "counts `{events, n}`", sub="observed", value=value)
    out = {}
    for key, counts in value.items():
        key = str(key)
        if key in ARMS:
            out[key] = _counts(counts, f"observed.{key}")
            continue
        if not isinstance(counts, dict) or not counts or any(k not in ARMS for k in counts):
            raise Bad("must be `{control: {events, n}, treatment: {events, n}}` for a stratum "
                      "(or name an arm, `control` or `treatment`)", sub=f"observed.{key}",
                      value=counts)
        out[key] = {arm: _counts(c, f"observed.{key}.{arm}") for arm, c in counts.items()}
    return out


def source_value(value: Any):
    """Checker for ``source``: one line of text, or the mapping above."""
    if not isinstance(value, dict):
        try:
            return ONE_LINE(value)
        except Bad:
            raise Bad("must be one line of text (a citation), or a mapping with `citation`, "
                      "`design`, `observed`, `effect`") from None
    for key in value:
        if key not in SOURCE_KEYS:
            raise Bad(unknown_key(key, list(SOURCE_KEYS)), sub=str(key), got=False)
    if value.get("citation") is None:
        raise Bad("is required: the study the observed counts come from", sub="citation",
                  got=False)
    out = {}
    for key in ("citation", "design", "effect"):
        if value.get(key) is not None:
            try:
                out[key] = ONE_LINE(value[key])
            except Bad:
                raise Bad("must be one line of text", sub=key, value=value[key]) from None
    if value.get("observed") is not None:
        out["observed"] = _observed(value["observed"])
    return out


def source_of(value, strata_names) -> Source | None:
    """The Source of a validated ``source`` value; ``strata_names``: the
    scenario's strata (None without).  Raises Bad (with the sub-key) when
    the observed counts do not name what the scenario has."""
    if value is None:
        return None
    if isinstance(value, str):
        return Source(value)
    observed = value.get("observed")
    if observed is not None:
        for key in observed:
            if strata_names is None and key not in ARMS:
                raise Bad("is not an arm (`control`, `treatment`) and the scenario has no "
                          "strata", sub=f"observed.{key}", got=False)
            if strata_names is not None and key not in strata_names:
                raise Bad(f"must name a stratum of `population.strata` "
                          f"({', '.join(strata_names)})", sub=f"observed.{key}", got=False)
        observed = {k: ({a: (c["events"], c["n"]) for a, c in v.items()} if k not in ARMS
                        else (v["events"], v["n"])) for k, v in observed.items()}
    return Source(value["citation"], value.get("design"), observed, value.get("effect"), True)


def matches(rate: float, events: int, n: int) -> bool:
    """Is ``rate`` the observed proportion ``events / n`` as the report prints
    rates, to 0.1 percentage point?  0.69 is 20/29 (68.97%, printed 69.0%);
    0.39 is not 27/69 (39.13%, printed 39.1%)."""
    return f"{100 * rate:.1f}" == f"{100 * events / n:.1f}"


@dataclass(frozen=True)
class Provenance:
    """Where one arm's planning rate comes from (see the module docstring)."""
    kind: str                          # observed | assumed | set | source | prior | effect | strata
    rate: float
    observed: tuple[int, int] | None = None     # (events, n) the source observed for this arm
    prior: dict | None = None          # the arm's prior as given (counts, discount), if any
    effect: dict | None = None         # the treatment effect as given, if any

    def to_dict(self) -> dict:
        out = {"kind": self.kind, "rate": self.rate, "observed": None,
               "prior": self.prior, "effect": self.effect}
        if self.observed is not None:
            events, n = self.observed
            out["observed"] = {"events": events, "n": n, "rate": events / n}
        return out


def provenance(scenario) -> dict[str, Provenance]:
    """The provenance of each arm's planning rate, by arm name."""
    source = scenario.source_detail
    arms = scenario.to_dict()["arms"]
    out = {}
    for name in ARMS:
        arm = getattr(scenario, name)
        observed = None
        if source is not None and source.observed is not None:
            counts = source.observed.get(name)
            observed = counts if isinstance(counts, tuple) else None
        spec = arms[name]
        if arm.planning_from == "strata":
            kind = "strata"
        elif arm.planning_from == "effect":
            kind = "effect"
        elif arm.planning_from in ("prior mean", "planning_rate"):
            kind = "prior"
        elif observed is not None:
            kind = "observed" if matches(arm.rate, *observed) else "assumed"
        elif any(o == f"arms.{name}.rate" or o.startswith(f"arms.{name}.rate.")
                 or f"arms.{name}.rate".startswith(o + ".") for o in scenario.overridden):
            kind = "set"
        else:
            kind = "source" if source is not None else "assumed"
        out[name] = Provenance(kind, arm.rate, observed,
                               spec["rate"] if isinstance(spec.get("rate"), dict) else None,
                               spec.get("effect"))
    return out


def planned_on_observed_effect(scenario) -> bool:
    """Are both planning rates the source's observed ones (points, no prior)?"""
    return all(p.kind == "observed" for p in provenance(scenario).values())


def stratum_observed(scenario, stratum: str, arm: str) -> tuple[int, int] | None:
    """The counts the source observed in one stratum's arm, if it gives them."""
    source = scenario.source_detail
    if source is None or source.observed is None:
        return None
    counts = source.observed.get(stratum)
    return counts.get(arm) if isinstance(counts, dict) else None


def relative_effects(control: float, treatment: float) -> dict:
    """The difference (percentage points), risk ratio and odds ratio of two
    rates; a ratio is None where it is not defined (a rate of 0 or 1)."""
    rr = treatment / control if control > 0 else None
    odds = (lambda p: p / (1 - p) if 0 < p < 1 else None)
    o_c, o_t = odds(control), odds(treatment)
    return {"difference_points": 100 * (treatment - control), "risk_ratio": rr,
            "odds_ratio": o_t / o_c if o_c and o_t is not None else None}
