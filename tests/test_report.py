"""The report's numbers come from the results: checked against results.json."""
import json
import re

import pytest

from simulator import bundled_scenarios

from simulator import load_scenario, run
from simulator.document import markdown
from simulator.justification import justification


def numbers(text):
    return re.findall(r"\d[\d,]*(?:\.\d+)?", text)


def design_numbers(doc):
    """The numbers of results.json that any justification paragraph may state."""
    ss = doc["sample_size"]
    return {
        f"{100 * doc['rates']['control']:.1f}%", f"{100 * doc['rates']['treatment']:.1f}%",
        str(ss["n_per_arm"]["control"]), str(ss["n_per_arm"]["treatment"]), str(ss["n_total"]),
        f"{100 * ss['power']:.1f}%", f"{100 * doc['target_power']:.1f}%", f"{doc['alpha']:g}",
        f"{100 * doc['dropout']:.1f}%", str(ss["n_total_randomised"]),
        str(ss["n_per_arm_randomised"]["control"]), str(ss["n_per_arm_randomised"]["treatment"]),
        str(ss["stable_checked_up_to_control"]), str(doc["seed"]), doc["software"]["version"],
        "1:1", *reference_years(doc),
    }


def reference_years(doc):
    """Years of the cited works (the paragraph cites them as "Fisher 1935")."""
    return set(re.findall(r"\b(?:19|20)\d\d\b", " ".join(doc["references"])))


@pytest.mark.parametrize("name", ["severe", "overall", "moderate"])
@pytest.mark.parametrize("method", ["exact", "monte_carlo"])
def test_every_number_in_the_justification_is_in_the_results(name, method):
    result = run(load_scenario(name, {"simulation.method": method}))
    doc = result.to_dict()
    ss = doc["sample_size"]
    paragraph = justification(result)
    allowed = design_numbers(doc) | {str(ss["n_per_arm_stable"]["control"]),
                                     *map(str, ss["n_per_arm_interval"]["control"])}
    if method == "monte_carlo":
        allowed |= {f"{doc['n_sims']:,}", f"{ss['power_se']:.4f}", "95%"}  # 95%: interval level
    stripped = (paragraph.replace(doc["source"], "").replace(doc["scenario_sha256"], "")
                .replace("SHA-256", ""))
    for token in re.findall(r"\d[\d,.:]*\d%?|\d%?", stripped):
        token = token.rstrip(".,")
        assert token in allowed or token + "%" in allowed, (token, paragraph)
    assert doc["source"] in paragraph and doc["scenario_sha256"] in paragraph


def test_markdown_report_has_assumptions_curve_and_paragraph():
    result = run(load_scenario("severe"))
    md = markdown(result)
    for section in ("## Assumptions", "## Power curve", "## Sample-size justification"):
        assert section in md
    assert md.count("| 24 | 24 | 48 | 0.9200 | exact |") == 1


@pytest.mark.parametrize("name", ["severe_prior", "overall_prior", "skeptical", "rct_evidence"])
def test_prior_justification_numbers_come_from_the_results(name):
    """Every number of the paragraph is a value of results.json (rates, sizes,
    assurance, ceiling, the priors' own descriptions), and it names the
    discounting or shrinkage and the assurance method."""
    result = run(load_scenario(name))
    doc = result.to_dict()
    paragraph = justification(result)
    ss, ar, prior = doc["sample_size"], doc["assurance"], doc["prior"]
    allowed = design_numbers(doc) | {
        f"{100 * ar['at_reported_size']['assurance']:.1f}%",
        f"{100 * ar['ceiling']:.1f}%", f"{100 * prior['mcid']:.1f}%",
        f"{100 * prior['probability_above_mcid']:.1f}%", f"{100 * ar['target']:.1f}%",
        "2001",                                                    # O'Hagan and Stevens 2001
    }
    if ss["n_per_arm_stable"]:
        allowed.add(str(ss["n_per_arm_stable"]["control"]))
    a_ss = ar["sample_size"]
    allowed |= {str(a_ss["n_per_arm"]["control"]), str(a_ss["n_per_arm"]["treatment"]),
                str(a_ss["n_total"]), str(a_ss["n_total_randomised"]),
                f"{100 * a_ss['assurance']:.1f}%"}
    described = " ".join(p["description"] for p in (prior["control"], prior["treatment"],
                                                    prior["effect"] or {}) if p.get("description"))
    allowed |= set(re.findall(r"\d+(?:\.\d+)?%?", described)) | {"95%"}  # 95%: the CI level
    stripped = (paragraph.replace(doc["source"], "").replace(doc["scenario_sha256"], "")
                .replace("SHA-256", ""))
    for token in re.findall(r"\d[\d,.:/]*\d%?|\d%?", stripped):
        token = token.rstrip(".,")
        parts = token.split("/") if "/" in token else [token]
        for part in parts:
            assert part in allowed or part + "%" in allowed, (part, paragraph)
    assert "assurance" in paragraph and "O'Hagan and Stevens 2001" in paragraph
    inputs = doc["inputs"]["arms"]
    if "discount" in str(inputs):
        assert "discount weight 0.5" in paragraph
    if "shrink" in str(inputs) and inputs["treatment"]["effect"]["shrink"] != 1:
        assert "shrunk towards no effect by the factor 0.5" in paragraph
        assert "prior median odds ratio 1.91" in paragraph


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
    """The ways the paragraph may write the value ``x`` of results.json."""
    if isinstance(x, str):
        return {x.rstrip(".,")}
    out = {f"{x:g}", f"{x:.4f}", f"{x:.3f}", f"{x:.1f}", f"{100 * x:.1f}%", f"{100 * x:.0f}%",
           f"{100 * x:.1f}"}
    if float(x).is_integer():
        out |= {str(int(x)), f"{int(x):,}"}
    return out


@pytest.fixture(scope="module", params=bundled_scenarios())
def bundled_result(request):
    return run(load_scenario(request.param))


def _pct(x):
    return f"{100 * x:.1f}%"


def _phrases(doc):
    """(phrase pattern, the value of results.json it must state) for each
    statement the paragraph makes about a field: tied by position, so a number
    taken from the wrong field fails even when it appears elsewhere."""
    ss = doc["sample_size"]
    c, t = doc["labels"]["control"], doc["labels"]["treatment"]
    out = [(rf"rates of (\S+) with {re.escape(c.lower())}", _pct(doc["rates"]["control"])),
           (rf"and (\S+) with {re.escape(t)}\b", _pct(doc["rates"]["treatment"])),
           (r"give (\S+) power", _pct(ss["power"])),
           (r"(\d+) women in the", str(ss["n_per_arm"]["control"])),
           (r"in the \S+ arm and (\d+) in the", str(ss["n_per_arm"]["treatment"])),
           (r"\((\d+) in total", str(ss["n_total"])),
           (r"(\S+) women will be randomised", str(ss["n_total_randomised"])),
           (r"Monte Carlo standard error ([\d.]+)\)? with", f"{ss['power_se']:.4f}"),
           (r"from ([\d,]+) simulated trials per sample", f"{doc['n_sims'] or 0:,}")]
    sq = doc["sequential"]
    if sq and len(sq["looks"]) > 1:
        oc = sq["operating_characteristics"]
        out += [(r"stops early for efficacy with probability (\S+?)[ ,]",
                 _pct(oc["planning"]["early_efficacy"])),
                (r"analyses ([\d.]+) women on average", f"{oc['planning']['expected_n_total']:.1f}"),
                (r"under the null it (?:stops for futility with probability \S+ and )?analyses "
                 r"([\d.]+) on average", f"{oc['null']['expected_n_total']:.1f}"),
                (r"The type I error is ([\d.]+)", f"{doc['type_one_error']['value']:.4f}")]
        out.append((r"for futility with probability (\S+?), and analyses",
                    _pct(oc["planning"]["any_futility"])))
        if sq["calendar"]:
            out.append((r"expected to end at month ([\d.]+)",
                        f"{sq['calendar']['expected_end_month_planning']:.1f}"))
    if doc["assurance"]:
        a = doc["assurance"]["at_reported_size"]
        out.append((r"\(assurance; O'Hagan and Stevens 2001\) is (\S+)", _pct(a["assurance"])))
        out.append((r"as the trial grows it tends to (\S+?),", _pct(doc["assurance"]["ceiling"])))
    pl = doc["patient_level"]
    if pl:
        primary = next(x for x in pl["analyses"] if x["name"] == pl["primary"])
        out.append((r"type I error of the primary analysis is (\S+)",
                    _pct(primary["type_one_error"])))
    return out


def test_every_number_in_each_bundled_justification_is_a_value_of_results_json(bundled_result):
    """For every bundled scenario (fixed, priors, patient-level, sequential):
    each statement about a field states that field's value (checked by
    position), and every other number is a value of results.json (outside the
    power curve) as the report formats it, or one of the interval levels it
    names (95%, 80%)."""
    doc = json.loads(json.dumps(bundled_result.to_dict()))
    paragraph = justification(bundled_result)
    for pattern, value in _phrases(doc):        # the first statement of each kind
        found = re.search(pattern, paragraph)
        if found:
            assert found.group(1).rstrip(".,;)") == value, (pattern, value, paragraph)
    allowed = {"95%", "80%", "1:1"}
    for key, node in doc.items():
        if key != "power_curve":
            for x in _numbers_of(node):
                allowed |= _renderings(x)
    stripped = paragraph.replace(doc["scenario_sha256"], "").replace("SHA-256", "")
    for token in re.findall(r"\d[\d,.:/]*\d%?|\d%?", stripped):
        token = token.rstrip(".,")
        for part in token.split("/") if "/" in token and ":" not in token else [token]:
            assert part in allowed, (part, paragraph)
    # the items the paragraph must state, each as results.json has it
    ss = doc["sample_size"]
    for needed in (f"{ss['n_per_arm']['control']} women in the", f"({ss['n_total']} in total",
                   f"alpha {doc['alpha']:g}", f"target {100 * doc['target_power']:.1f}%",
                   f"{doc['software']['name']} {doc['software']['version']}",
                   f"seed {doc['seed']}", f"SHA-256 {doc['scenario_sha256']}"):
        assert needed in paragraph, needed
    if doc["source"]:
        assert doc["source"] in paragraph
    if doc["dropout"] > 0 and doc["patient_level"] is None:
        assert f"{ss['n_total_randomised']} women will be randomised" in paragraph
    if doc["method"] == "exact":
        assert "computed exactly" in paragraph
    else:
        assert f"{doc['n_sims']:,} simulated trials" in paragraph
    if doc["assurance"]:
        assert "O'Hagan and Stevens 2001" in paragraph
    if doc["sequential"] and len(doc["sequential"]["looks"]) > 1:
        assert "interim analyses" in paragraph and "Lan and DeMets 1983" in paragraph
