"""The report's numbers come from the results: checked against results.json."""
import re

import pytest

from simulator import load_scenario, report, run


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
        "1:1",
    }


@pytest.mark.parametrize("name", ["severe", "overall", "moderate"])
@pytest.mark.parametrize("method", ["exact", "monte_carlo"])
def test_every_number_in_the_justification_is_in_the_results(name, method):
    result = run(load_scenario(name, {"simulation.method": method}))
    doc = result.to_dict()
    ss = doc["sample_size"]
    paragraph = report.justification(result)
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
    md = report.markdown(result)
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
    paragraph = report.justification(result)
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
