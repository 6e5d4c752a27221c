"""The references of a report: the scenario's own sources, then the methods
that the run used (the test, the group-sequential design, the priors, the
recruitment model), each cited once."""
from __future__ import annotations

from .scenario.source import planned_on_observed_effect

# short form (cited in the text) -> full reference
WORKS = {
    "Fisher 1935": "Fisher RA. The Design of Experiments. Edinburgh: Oliver and Boyd; 1935.",
    "Boschloo 1970": "Boschloo RD. Raised conditional level of significance for the 2 x 2-table "
                     "when testing the equality of two probabilities. Stat Neerl. "
                     "1970;24(1):1-35.",
    "Barnard 1945": "Barnard GA. A new test for 2 x 2 tables. Nature. 1945;156:177.",
    "Yates 1934": "Yates F. Contingency tables involving small numbers and the chi-square test. "
                  "Suppl J R Stat Soc. 1934;1(2):217-235.",
    "Fleiss et al. 2003": "Fleiss JL, Levin B, Paik MC. Statistical Methods for Rates and "
                          "Proportions. 3rd ed. Hoboken: Wiley; 2003.",
    "Mantel and Haenszel 1959": "Mantel N, Haenszel W. Statistical aspects of the analysis of "
                                "data from retrospective studies of disease. J Natl Cancer Inst. "
                                "1959;22(4):719-748.",
    "Cook 2005": "Cook JD. Exact calculation of beta inequalities. Technical report, Department "
                 "of Biostatistics, University of Texas M. D. Anderson Cancer Center; 2005.",
    "Pocock 1977": "Pocock SJ. Group sequential methods in the design and analysis of clinical "
                   "trials. Biometrika. 1977;64(2):191-199.",
    "O'Brien and Fleming 1979": "O'Brien PC, Fleming TR. A multiple testing procedure for "
                                "clinical trials. Biometrics. 1979;35(3):549-556.",
    "Lan and DeMets 1983": "Lan KKG, DeMets DL. Discrete sequential boundaries for clinical "
                           "trials. Biometrika. 1983;70(3):659-663.",
    "Hwang et al. 1990": "Hwang IK, Shih WJ, De Cani JS. Group sequential designs using a family "
                         "of type I error probability spending functions. Stat Med. "
                         "1990;9(12):1439-1445.",
    "Pampallona et al. 2001": "Pampallona S, Tsiatis AA, Kim K. Interim monitoring of group "
                              "sequential trials using spending functions for the type I and "
                              "type II error probabilities. Drug Inf J. 2001;35(4):1113-1121.",
    "Lachin 2005": "Lachin JM. A review of methods for futility stopping based on conditional "
                   "power. Stat Med. 2005;24(18):2747-2764.",
    "Lee and Liu 2008": "Lee JJ, Liu DD. A predictive probability design for phase II cancer "
                        "clinical trials. Clin Trials. 2008;5(2):93-106.",
    "Jennison and Turnbull 2000": "Jennison C, Turnbull BW. Group Sequential Methods with "
                                  "Applications to Clinical Trials. Boca Raton: Chapman & "
                                  "Hall/CRC; 2000.",
    "O'Hagan and Stevens 2001": "O'Hagan A, Stevens JW. Bayesian assessment of sample size for "
                                "clinical trials of cost-effectiveness. Med Decis Making. "
                                "2001;21(3):219-230.",
    "Ibrahim and Chen 2000": "Ibrahim JG, Chen MH. Power prior distributions for regression "
                             "models. Stat Sci. 2000;15(1):46-60.",
    "Schmidli et al. 2014": "Schmidli H, Gsteiger S, Roychoudhury S, O'Hagan A, Spiegelhalter D, "
                            "Neuenschwander B. Robust meta-analytic-predictive priors in clinical "
                            "trials with historical control information. Biometrics. "
                            "2014;70(4):1023-1032.",
    "Ioannidis 2001": "Ioannidis JPA, Haidich AB, Pappa M, et al. Comparison of evidence of "
                      "treatment effects in randomized and nonrandomized studies. JAMA. "
                      "2001;286(7):821-830.",
    "Gelman and Carlin 2014": "Gelman A, Carlin J. Beyond power calculations: assessing type S "
                              "(sign) and type M (magnitude) errors. Perspect Psychol Sci. "
                              "2014;9(6):641-651.",
    "Anisimov and Fedorov 2007": "Anisimov VV, Fedorov VV. Modelling, prediction and adaptive "
                                 "adjustment of recruitment in multicentre trials. Stat Med. "
                                 "2007;26(27):4958-4975.",
}

# why an observed effect is a risky planning value
OVERSTATED = ("Ioannidis 2001", "Gelman and Carlin 2014")

TEST_CITES = {"fisher": "Fisher 1935", "chi2_yates": "Yates 1934", "z_pooled": "Fleiss et al. 2003",
              "boschloo": "Boschloo 1970", "barnard": "Barnard 1945",
              "z_unpooled": "Fleiss et al. 2003", "bayesian": "Cook 2005",
              "cmh": "Mantel and Haenszel 1959"}
EFFICACY_CITES = {"obrien_fleming": ("O'Brien and Fleming 1979",), "pocock": ("Pocock 1977",)}
SPENDING_CITES = {"ld_obrien_fleming": ("Lan and DeMets 1983", "O'Brien and Fleming 1979"),
                  "ld_pocock": ("Lan and DeMets 1983", "Pocock 1977"),
                  "hsd": ("Lan and DeMets 1983", "Hwang et al. 1990")}
FUTILITY_CITES = {"beta_spending": ("Pampallona et al. 2001",),
                  "conditional_power": ("Lachin 2005",), "predictive": ("Lee and Liu 2008",)}


def test_cite(result) -> str:
    """The short citation of the primary analysis's test."""
    pr = result.patient
    name = pr.primary if pr is not None and pr.primary != "pooled" else result.scenario.analysis.test
    return TEST_CITES.get(name, "")


def interim_cites(result) -> list[str]:
    """Short citations of a group-sequential design's methods (none for one look)."""
    s, i = result.scenario, result.scenario.interim
    if i is None or len(i.looks) == 1:
        return []
    cites = [] if s.analysis.test == "bayesian" else ["Jennison and Turnbull 2000"]
    cites += EFFICACY_CITES.get(i.efficacy, ())
    if i.efficacy == "spending":
        cites += SPENDING_CITES[i.spending]
    cites += FUTILITY_CITES.get(i.futility, ())
    if i.futility == "beta_spending":
        cites += SPENDING_CITES[i.beta_spending][1:]
    return list(dict.fromkeys(cites))


def method_cites(result) -> list[str]:
    """Short citations of the methods the run used, in the order they matter."""
    s = result.scenario
    cites = [test_cite(result)]
    if result.patient is not None:
        cites += [TEST_CITES.get(s.analysis.test if a.name == "pooled" else a.name, "")
                  for a in result.patient.analyses]
    cites += interim_cites(result)
    if result.assurance is not None:
        cites.append("O'Hagan and Stevens 2001")
        arms = list(_mappings(s.to_dict()["arms"]))
        if any(m.get("discount", 1) < 1 for m in arms):
            cites.append("Ibrahim and Chen 2000")
        if any("mixture" in m for m in arms):
            cites.append("Schmidli et al. 2014")
    if (s.recruitment is not None
            or (s.patient is not None and s.patient.recruitment is not None)):
        cites.append("Anisimov and Fedorov 2007")
    if planned_on_observed_effect(s):       # the paragraph's caveat cites them
        cites += OVERSTATED
    return list(dict.fromkeys(c for c in cites if c))


def _mappings(node):
    """Every mapping inside ``node`` (the scenario's priors), depth first."""
    if isinstance(node, dict):
        yield node
        node = list(node.values())
    if isinstance(node, list):
        for child in node:
            yield from _mappings(child)


def references(result) -> list[str]:
    """The full references: the scenario's sources, then the methods used."""
    return list(dict.fromkeys([*result.scenario.references,
                               *(WORKS[c] for c in method_cites(result))]))
