"""The justification paragraph a reviewer reads: short, every rate with its
provenance, the effect on three scales, one proposed size, whole women, and
how the numbers were obtained; every number in it and in its Details a value
of results.json."""
import json
import re

import pytest
from scipy import stats

from simulator import bundled_scenarios, load_scenario, run
from simulator.report.justification import (WORD_LIMIT, WORD_LIMIT_RICH, justification,
                                     justification_text, word_limit, words)
from simulator.scenario.source import matches

BUNDLED = [n.removesuffix(".yaml") for n in bundled_scenarios()]
FAST = {"multicentre": {"simulation.n_sims": 2000}}

# designs that stack every optional part: priors, interim looks, a sweep
PRIORS_AND_LOOKS = ("severe_prior", {
    "analysis.test": "z_pooled", "analysis.alpha": 0.025, "analysis.sided": "one",
    "interim.looks": [0.333, 0.667, 1],
    "interim.futility": {"type": "beta_spending", "spending": "hsd", "gamma": -2,
                         "binding": False},
    "centres.number": 8, "recruitment.per_centre_month": 1.5,
    "recruitment.follow_up_months": 10})


# what a size detects (--detectable), and the capacity of a recruitment with priors
DETECTABLE = ("severe", {"sample_size.n_control": 30})
CAPACITY = ("severe_prior", {"recruitment.per_centre_month": 7 / 12, "centres.number": 4,
                             "recruitment.ramp_up_months": 6, "recruitment.follow_up_months": 10,
                             "recruitment.target_months": 36})
EXTRA = {"priors_and_looks": PRIORS_AND_LOOKS, "detectable": DETECTABLE, "capacity": CAPACITY}


# severe alone in the fast selection (-m "not slow"); the rest take seconds each
@pytest.fixture(scope="module", params=[
    n if n == "severe" else pytest.param(n, marks=pytest.mark.slow)
    for n in BUNDLED + list(EXTRA)])
def bundled(request):
    if request.param in EXTRA:
        name, overrides = EXTRA[request.param]
    else:
        name, overrides = request.param, FAST.get(request.param, {})
    result = run(load_scenario(name, overrides),
                 detectable=request.param in ("detectable", "capacity"))
    return result, json.loads(json.dumps(result.to_dict()))


@pytest.mark.slow
def test_the_paragraph_keeps_its_word_limit(bundled):
    result, _ = bundled
    text = justification_text(result)
    rich = (result.assurance is not None or result.patient is not None
            or (result.sequential is not None and len(result.sequential.looks) > 1))
    assert word_limit(result) == (WORD_LIMIT_RICH if rich else WORD_LIMIT)
    assert words(text.paragraph) <= word_limit(result), text.paragraph
    assert text.paragraph.endswith(f"scenario SHA-256 {result.scenario.digest}).")


def test_the_effect_is_a_difference_a_risk_ratio_and_an_odds_ratio(bundled):
    result, doc = bundled
    c, t = doc["rates"]["control"], doc["rates"]["treatment"]
    rr, odds = t / c, (t / (1 - t)) / (c / (1 - c))
    assert (f"a difference of {100 * (t - c):.1f} percentage points (risk ratio {rr:.2f}, "
            f"odds ratio {odds:.2f})") in justification(result)


def test_whole_women_only(bundled):
    """No fractional women ("208.0 of the 254 women"): expected numbers are
    rounded and said as expected ("about 208")."""
    result, _ = bundled
    text = justification_text(result)
    for part in [text.paragraph, *text.details]:
        assert not re.search(r"\d\.\d+ (?:of the [\d,]+ )?women(?! per)", part), part
        assert not re.search(r"\d\.\d+ on average", part), part


def test_the_paragraph_says_how_power_was_obtained(bundled):
    result, doc = bundled
    paragraph = justification(result)
    if doc["method"] == "exact":
        conf = doc["confirmation"]
        assert "computed exactly, by enumerating every possible trial outcome" in paragraph
        assert f"confirmed by simulating {conf['n_sims']:,} trials" in paragraph
        assert f"{conf['power_se']:.4f}" in paragraph
    else:
        assert f"estimated from {doc['n_sims']:,} simulated trials per sample size" in paragraph


def test_one_proposed_size_and_its_power(bundled):
    result, doc = bundled
    paragraph = justification(result)
    n = doc["proposed_n_per_arm"]
    point = next(p for p in doc["power_curve"] if p["n_per_arm"] == n)
    assert f"{n['control']:,} women per arm" in paragraph
    assert f"{100 * point['power']:.1f}% power" in paragraph
    if doc["proposed"] == "assurance":
        assert "We propose" in paragraph and f"is {100 * point['assurance']:.1f}%" in paragraph


# ------------------------------------------------------------------- provenance
def test_a_rate_the_study_never_reported_is_an_assumption_beside_the_observed_one():
    """The defect: --set arms.treatment.rate=0.45 was credited to the study
    ("Peero et al. 2024 ...; 20/29 vs 5/25 live births")."""
    result = run(load_scenario("severe", {"arms.treatment.rate": 0.45}))
    paragraph = justification(result)
    assert ("and of 45.0% with IVIg, an assumption of the planners, below the 69.0% (20/29) "
            "observed there") in paragraph
    assert "20.0% with standard care, as observed (5/25)" in paragraph
    prov = result.to_dict()["provenance"]
    assert prov["treatment"]["kind"] == "assumed" and prov["control"]["kind"] == "observed"
    assert prov["treatment"]["observed"] == {"events": 20, "n": 29, "rate": 20 / 29}


def test_observed_counts_follow_the_sentence_order():
    paragraph = justification(run(load_scenario("severe")))
    assert ("live-birth rates of 20.0% with standard care and 69.0% with IVIg, as observed "
            "(5/25 and 20/29 live births) in the severe subgroup") in paragraph
    # the bundled sources' counts give the rates they stand beside
    for name in ("severe", "moderate", "overall"):
        s = load_scenario(name)
        for arm in ("control", "treatment"):
            assert matches(getattr(s, arm).rate, *s.source_detail.observed[arm]), (name, arm)


def test_a_free_text_source_still_works_and_an_override_is_not_credited_to_it():
    kept = justification(run(load_scenario("severe", {"source": "Peero et al. 2024"})))
    assert "69.0% with IVIg (Peero et al. 2024)" in kept
    changed = justification(run(load_scenario("severe", {"source": "Peero et al. 2024",
                                                         "arms.treatment.rate": 0.45})))
    assert "45.0% with IVIg, an assumption of the planners, not taken from the cited source" \
        in changed
    no_source = justification(run(load_scenario("severe", {"source": None})))
    assert "an assumption of the planners" in no_source


def test_priors_name_the_counts_and_the_discount():
    paragraph = justification(run(load_scenario("severe_prior")))
    assert ("the means of design priors built from the 5/25 and 20/29 live births observed in "
            "the severe subgroup") in paragraph
    assert "each with discount weight 0.5 (power priors; Ibrahim and Chen 2000)" in paragraph


@pytest.mark.slow
def test_an_effect_names_its_source_and_its_prior_median():
    paragraph = justification(run(load_scenario("rct_evidence")))
    assert "42.5% with IVIg, the standard care rate with a risk ratio of 1.25" in paragraph
    assert "built from the meta-analysis of randomised trials" in paragraph
    skeptical = justification(run(load_scenario("skeptical")))
    assert "an odds ratio of 1.91, the median of a design prior" in skeptical
    assert "the log odds ratio multiplied by 0.5 towards no effect" in skeptical


@pytest.mark.slow
def test_strata_rates_carry_their_counts():
    result = run(load_scenario("multicentre", {"simulation.n_sims": 1000,
                                               "sample_size.n_control": 60}))
    paragraph = justification(result)
    assert "moderate, 62.0% of women, 39.1% (27/69) vs 60.0% (12/20)" in paragraph
    assert "severe, 38.0% of women, 20.0% (5/25) vs 69.0% (20/29)" in paragraph


@pytest.mark.parametrize("rate, events, n, expected", [
    (0.69, 20, 29, True), (0.391, 27, 69, True), (0.39, 27, 69, False), (0.653, 32, 49, True),
    (0.2, 5, 25, True), (0.34, 32, 94, True), (0.7, 20, 29, False), (0.45, 20, 29, False),
    (0.6897, 20, 29, True), (0.6906, 20, 29, False)])
def test_a_rate_is_observed_when_it_is_the_proportion_as_printed(
        rate, events, n, expected):
    assert matches(rate, events, n) is expected


# ------------------------------------------------------------------ proposal
@pytest.mark.slow
def test_the_scenario_says_which_size_is_proposed():
    by_assurance = run(load_scenario("severe_prior", {"sample_size.propose": "assurance"}))
    by_power = run(load_scenario("severe_prior", {"sample_size.propose": "power"}))
    assert by_assurance.proposed == "assurance" and by_power.proposed == "power"
    assert by_assurance.reported.n_control == by_assurance.assurance.sample_size.answer.n_control
    assert by_power.reported.n_control == by_power.sample_size.answer.n_control
    assert by_assurance.reported.n_control != by_power.reported.n_control
    # the type I error is the proposed design's: enumerated here with scipy's Fisher test
    for result in (by_assurance, by_power):
        n = result.reported.n_control
        p = result.scenario.control.rate
        size = sum(stats.binom.pmf(x_t, n, p) * stats.binom.pmf(x_c, n, p)
                   for x_t in range(n + 1) for x_c in range(n + 1)
                   if stats.fisher_exact([[x_t, n - x_t], [x_c, n - x_c]])[1] <= 0.05)
        assert result.type_one_error == pytest.approx(size, abs=1e-9)
    assert "We propose 32 women per arm" in justification(by_assurance)
    by_larger = run(load_scenario("severe_prior"))              # the default: larger
    assert by_larger.scenario.sample_size.propose == "larger"
    assert by_larger.reported.n_control == max(by_assurance.reported.n_control,
                                               by_power.reported.n_control)
    assert "31 women per arm (62 in total, randomised 1:1) give" in justification(by_power)


def test_proposing_assurance_needs_a_target_assurance():
    from simulator import ScenarioError
    with pytest.raises(ScenarioError, match="sample_size.propose"):
        load_scenario("severe", {"sample_size.propose": "assurance"})


# ------------------------------------------------------------ numbers checked
def _numbers_of(node):
    """Every number of a JSON document, and the numbers written inside its texts."""
    if isinstance(node, dict):
        for v in node.values():
            yield from _numbers_of(v)
    elif isinstance(node, list):
        for v in node:
            yield from _numbers_of(v)
    elif isinstance(node, bool) or node is None:
        return
    elif isinstance(node, (int, float)):
        yield node
    elif isinstance(node, str):
        yield from re.findall(r"\d[\d,.:]*\d%?|\d%?", node)


def _renderings(x):
    """The ways the text may write the value ``x`` of results.json."""
    if isinstance(x, str):
        return {x.rstrip(".,")}
    out = {f"{x:g}", f"{x:.4f}", f"{x:.3f}", f"{x:.2f}", f"{x:.1f}", f"{100 * x:.1f}%",
           f"{100 * x:.0f}%", f"{100 * x:.1f}", f"{x:.0f}", f"{x:.3g}"}
    if float(x).is_integer():
        out |= {str(int(x)), f"{int(x):,}"}
    return out


def _phrases(doc):
    """(phrase pattern, the value of results.json it must state), tied by
    position, so that a number taken from the wrong field fails even when it
    appears elsewhere."""
    n = doc["proposed_n_per_arm"]
    point = next(p for p in doc["power_curve"] if p["n_per_arm"] == n)
    c, t = doc["rates"]["control"], doc["rates"]["treatment"]
    out = [(r"rates? of (\S+) with", f"{100 * c:.1f}%"),
           (r"(?:and|and of) (\S+) with " + re.escape(doc["labels"]["treatment"]),
            f"{100 * t:.1f}%"),
           (r"give[s]? (\S+) power", f"{100 * point['power']:.1f}%"),
           (r"we will randomise (?:at most )?(\S+) women",
            f"{point['n_total'] if doc['dropout'] == 0 else None}"),
           (r"\(([\d,]+) in total", f"{point['n_total']:,}"),
           (r"difference of (\S+) percentage points", f"{100 * (t - c):.1f}")]
    if doc["dropout"] > 0 and doc["patient_level"] is None:
        from simulator.results import randomised
        total = (randomised(n["control"], doc["dropout"])
                 + randomised(n["treatment"], doc["dropout"]))
        out[3] = (r"we will randomise (?:at most )?(\S+) women", f"{total:,}")
    else:
        out.pop(3)
    if doc["confirmation"]:
        out.append((r"confirmed by simulating ([\d,]+) trials",
                    f"{doc['confirmation']['n_sims']:,}"))
    sq = doc["sequential"]
    if sq and len(sq["looks"]) > 1:
        oc = sq["operating_characteristics"]
        out += [(r"stops early for efficacy with probability (\S+?)[ ,]",
                 f"{100 * oc['planning']['early_efficacy']:.1f}%"),
                (r"analyses about (\d+) women on average",
                 f"{oc['planning']['expected_n_total']:.0f}"),
                (r"[Tt]ype I error is ([\d.]+)", f"{doc['type_one_error']['value']:.4f}")]
    if doc["assurance"] and doc["proposed"] == "assurance":
        out.append((r"its assurance, .*?, is (\S+) \(target", f"{100 * point['assurance']:.1f}%"))
    if doc["assurance"]:
        out.append((r"assurance tends to (\S+?),", f"{100 * doc['assurance']['ceiling']:.1f}%"))
    return out


def test_every_number_in_the_paragraph_and_its_details_is_a_value_of_results_json(bundled):
    """For every bundled scenario (fixed, priors, patient-level, sequential)
    and a design with priors and looks: each statement about a field states
    that field's value (checked by position), and every other number is a
    value of results.json (outside the power curve, but the proposed size's
    row), as the report formats it, or an interval level it names."""
    result, doc = bundled
    text = justification_text(result)
    paragraph = text.paragraph
    said = " ".join([paragraph, *text.details])     # a sentence may be left to the Details
    for pattern, value in _phrases(doc):
        found = re.search(pattern, said)
        assert found, (pattern, said)
        assert found.group(1).rstrip(".,;)") == value, (pattern, value, said)
    allowed = {"95%", "80%", "1:1", "1%", "99%"}
    proposed = next(p for p in doc["power_curve"] if p["n_per_arm"] == doc["proposed_n_per_arm"])
    for key, node in doc.items():
        if key != "power_curve":
            for x in _numbers_of(node):
                allowed |= _renderings(x)
    for x in _numbers_of(proposed):
        allowed |= _renderings(x)
    if doc["proposed"] == "evaluated" and doc["patient_level"] is None:
        # the women to randomise for an evaluated size: derived from its row and `dropout`
        from simulator.results import randomised
        n = doc["proposed_n_per_arm"]
        arms = [randomised(n[arm], doc["dropout"]) for arm in ("control", "treatment")]
        allowed |= {str(arms[0]), str(arms[1]), f"{sum(arms):,}"}
    for part in [paragraph, *text.details]:
        stripped = part.replace(doc["scenario_sha256"], "").replace("SHA-256", "")
        for token in re.findall(r"\d[\d,.:/]*\d%?|\d%?", stripped):
            token = token.rstrip(".,")
            for piece in token.split("/") if "/" in token and ":" not in token else [token]:
                assert piece in allowed, (piece, part)
    for needed in (f"alpha {doc['alpha']:g}", f"{doc['software']['name']} "
                   f"{doc['software']['version']}", f"seed {doc['seed']}",
                   f"SHA-256 {doc['scenario_sha256']}"):
        assert needed in paragraph, needed


def test_proposing_the_larger_size_checks_that_both_targets_hold_there():
    """The saw-tooth can take power below its target at the assurance answer:
    the proposal is then the smallest size from the larger answer on where
    both hold, and the paragraph says which targets hold."""
    overrides = {"target_power": 0.8339, "target_assurance": 0.745}
    result = run(load_scenario("severe_prior", overrides))
    s, rep = result.scenario, result.reported
    assert rep.power >= s.target_power and rep.assurance >= s.target_assurance
    start = max(result.sample_size.answer.n_control,
                result.assurance.sample_size.answer.n_control)
    for p in result.power_curve:
        if start <= p.n_control < rep.n_control:
            assert p.power < s.target_power or p.assurance < s.target_assurance
    assert "that meets both targets" in justification(result)


@pytest.mark.slow
def test_provenance_review_cases():
    # a planning value inside power priors is not "the means of design priors"
    text = justification(run(load_scenario("severe_prior",
                                           {"arms.treatment.planning_rate": 0.5})))
    assert "means of design priors" not in text
    assert "50.0% with IVIg, the planning value within a design prior" in text
    # a rate set by an earlier override stays an assumption after another one
    s = load_scenario("severe", {"source": "Peero et al. 2024"})
    twice = s.override({"arms.treatment.rate": 0.5}).override({"target_power": 0.8})
    assert "not taken from the cited source" in justification(run(twice))
    # an effect set for the run is not credited to the source's effect
    effect = run(load_scenario("skeptical", {"arms.treatment.effect": {"risk_difference": 0.2},
                                             "target_assurance": None, "mcid": None}))
    text = justification(effect)
    assert "adjusted odds ratio" not in text and "an assumption of the planners" in text
    # counts for one arm only: the other rate still says where it comes from
    one_arm = {"citation": "Peero et al. 2024", "observed": {"control": {"events": 5, "n": 25}}}
    text = justification(run(load_scenario("severe", {"source": one_arm})))
    assert "69.0% with IVIg, from the same source" in text
