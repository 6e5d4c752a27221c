"""Input limits and edge cases, each against an independent reference.

* YAML alias bombs, merge-key bombs, aliases inside their own anchor, deep
  nesting and cyclic or shared Python structures get one ScenarioError, fast
  and with bounded memory (the expanded size is measured, never built);
* absurd sizes (n_sims, arm sizes, huge or non-finite numbers, booleans and
  strings for numbers) get one ScenarioError naming the field, from the
  library and from the command line;
* rates of exactly 0 or 1, one woman per arm, extreme allocation ratios and a
  tiny alpha give the exact answer (Fisher's test by scipy.stats.fisher_exact
  or exact fractions, the pooled z test and group-sequential crossing
  probabilities by direct computation) or a one-line error.
"""
from __future__ import annotations

import itertools
import json
import math
import re
import time
import tracemalloc
from fractions import Fraction

import numpy as np
import pytest
from scipy import integrate, stats

from simulator import NoSolutionError, ScenarioError, load_scenario, run
from simulator.scenario.reading import MAX_DEPTH, MAX_VALUES, parse_yaml
from simulator.scenario.schema import MAX_ARM_SIZE, MAX_N_SIMS

BASE = {"name": "edge", "arms": {"control": {"rate": 0.2}, "treatment": {"rate": 0.69}}}


def scenario(c=0.2, t=0.69, **keys):
    """BASE with the rates and dotted keys (``__`` for ``.``) set."""
    raw = json.loads(json.dumps(BASE))
    raw["arms"]["control"]["rate"], raw["arms"]["treatment"]["rate"] = c, t
    return load_scenario(raw, {k.replace("__", "."): v for k, v in keys.items()})


def one_line_error(proc, *expected):
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("simulate: error: "), proc.stderr
    for text in expected:
        assert text in lines[0], lines[0]
    return lines[0]


# ------------------------------------------------------------------- YAML bombs
def billion_laughs(levels=10, width=10) -> str:
    """``levels`` anchors, each a list of ``width`` aliases of the one before:
    width ** levels values once expanded (10 ** 10 by default)."""
    lines = ["name: bomb", "arms: {control: {rate: 0.2}, treatment: {rate: 0.5}}",
             "title: &a0 [" + ", ".join(["lol"] * width) + "]"]
    for i in range(1, levels):
        lines.append(f"x{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


def merge_bomb(levels=40) -> str:
    """Merge keys that double a mapping's entries at each level (2 ** 40)."""
    lines = ["name: bomb", "m0: &m0 {k: 1}"]
    for i in range(1, levels):
        lines.append(f"m{i}: &m{i} {{<<: [*m{i - 1}, *m{i - 1}]}}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("text,message", [
    (billion_laughs(), f"has more than {MAX_VALUES:,} values"),
    (billion_laughs(levels=30, width=2), f"has more than {MAX_VALUES:,} values"),
    (merge_bomb(), f"has more than {MAX_VALUES:,} values"),
    ("name: &a [x, *a]\n", "`name.1` contains itself"),
    ("name: x\ntitle: &t {a: {b: *t}}\n", "`title.a` contains itself"),
    ("name: " + "[" * 100_000 + "]" * 100_000 + "\n", f"nests values more than {MAX_DEPTH}"),
    ("name: " + "{a: " * 60 + "1" + "}" * 60 + "\n", f"nests values more than {MAX_DEPTH}"),
    ("name: x\ntitle: [" + "0, " * 400_000 + "0]\n", "file is larger than"),
], ids=["billion-laughs", "deep-aliases", "merge-keys", "self-alias", "self-alias-nested",
        "deep-lists", "deep-mappings", "file-size"])
@pytest.mark.slow
def test_yaml_bombs_and_deep_nesting_fail_fast_with_bounded_memory(tmp_path, text, message):
    path = tmp_path / "bomb.yaml"
    path.write_text(text)
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(ScenarioError) as err:
            load_scenario(path)
        elapsed = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert message in str(err.value) and str(err.value).startswith("bomb.yaml: ")
    assert "\n" not in str(err.value)
    assert elapsed < 15, elapsed               # tracemalloc slows the parse several times
    assert peak < 100e6, peak                  # the bomb expands to 10 ** 10 values


def test_a_bomb_file_takes_under_two_seconds(tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text(billion_laughs())
    start = time.perf_counter()
    with pytest.raises(ScenarioError, match="more than 100,000 values"):
        load_scenario(path)
    assert time.perf_counter() - start < 2.0


@pytest.mark.slow
def test_parsing_stops_after_the_value_limit(tmp_path):
    path = tmp_path / "flat.yaml"
    path.write_text("name: x\ntitle: [" + "0, " * 300_000 + "0]\n")    # 900 kB, 300,000 values
    start = time.perf_counter()
    with pytest.raises(ScenarioError, match=f"^flat.yaml: has more than {MAX_VALUES:,} values"):
        load_scenario(path)
    assert time.perf_counter() - start < 5.0       # about 2.5 s alone: a third of the file is parsed


@pytest.mark.slow
def test_the_command_line_refuses_a_bomb_in_one_line(cli, tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text(billion_laughs())
    start = time.perf_counter()
    proc = cli("--scenario", path, "--out", tmp_path / "out")
    assert time.perf_counter() - start < 30
    one_line_error(proc, "bomb.yaml: ", "more than 100,000 values")
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_a_bomb_as_a_set_value_is_refused(cli):
    anchors = ["&a0 [" + ", ".join(["1"] * 10) + "]"] + [
        f"&a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 10)]
    proc = cli("--scenario", "severe", "--set", "title=[" + ", ".join(anchors) + "]")
    one_line_error(proc, "`--set` value of title", "more than 100,000 values")


def test_anchors_aliases_and_merge_keys_of_a_normal_size_still_work(tmp_path):
    path = tmp_path / "anchors.yaml"
    path.write_text("name: anchors\nmodel: patient\n"
                    "arms:\n"
                    "  control: &arm {label: Standard care, rate: 0.2}\n"
                    "  treatment: {<<: *arm, label: IVIg, rate: 0.69}\n"
                    "centres: {number: 3, relative_rates: &r [1, 2, 1]}\n"
                    "references: [&ref Peero 2024, *ref]\n")
    sc = load_scenario(path)
    assert (sc.control.label, sc.control.rate) == ("Standard care", 0.2)
    assert (sc.treatment.label, sc.treatment.rate) == ("IVIg", 0.69)
    assert sc.patient.centre_weights == (1.0, 2.0, 1.0)
    assert sc.references == ("Peero 2024", "Peero 2024")


def test_python_structures_that_contain_themselves_or_nest_deeply_are_refused():
    raw = json.loads(json.dumps(BASE))
    raw["title"] = raw                                  # a mapping that holds itself
    with pytest.raises(ScenarioError, match="^`title` contains itself"):
        load_scenario(raw)
    deep = inner = []
    for _ in range(10_000):                            # copy.deepcopy would hit the recursion limit
        inner.append([])
        inner = inner[0]
    with pytest.raises(ScenarioError, match="nests values more than 50 levels deep"):
        load_scenario(BASE, {"title": deep})
    shared = ["x"] * 10
    for _ in range(9):                                  # 10 ** 10 values, shared, not built
        shared = [shared] * 10
    start = time.perf_counter()
    with pytest.raises(ScenarioError, match="more than 100,000 values"):
        load_scenario(dict(BASE, references=shared))
    assert time.perf_counter() - start < 1.0


# ---------------------------------------------------------------- absurd sizes
@pytest.mark.parametrize("key,value,message", [
    ("simulation.n_sims", 10**12, "must be a whole number from 100 to 100,000,000"),
    ("simulation.n_sims", MAX_N_SIMS + 1, "must be a whole number from 100 to 100,000,000"),
    ("simulation.n_sims", True, "got True"),
    ("simulation.n_sims", "10000", "a string; write the number without quotes"),
    ("simulation.n_sims", 1e400, "got inf"),
    ("simulation.n_sims", 10**400, "is a whole number of about 400 digits"),
    ("simulation.n_sims", 2.5e3 + 0.5, "got 2500.5"),
    ("sample_size.n_control", 10**9, "must be a whole number from 1 to 100,000"),
    ("sample_size.n_control", 0, "must be a whole number from 1 to 100,000"),
    ("sample_size.max_control", 10**9, "must be a whole number from 1 to 100,000"),
    ("allocation", 1e6, "must be a ratio in [0.05, 20]"),
    ("allocation", float("nan"), "must be a ratio in [0.05, 20]; got nan"),
    ("allocation", 10**400, "is a whole number of about 400 digits"),
    ("simulation.seed", 2**63, "must be a whole number from 0 to"),
    ("simulation.seed", -1, "must be a whole number from 0 to"),
    ("centres.number", 10**6, "must be a whole number from 1 to 1,000"),
])
def test_absurd_sizes_are_one_error_naming_the_field(key, value, message):
    start = time.perf_counter()
    with pytest.raises(ScenarioError) as err:
        load_scenario(BASE, {key: value})
    assert time.perf_counter() - start < 1.0
    text = str(err.value)
    assert f"`{key}`" in text and message in text and "\n" not in text, text


def test_the_treatment_arm_limit_applies_to_allocation_times_size():
    assert load_scenario(BASE, {"allocation": 10, "sample_size.n_control": 100_000})
    with pytest.raises(ScenarioError, match=r"`sample_size.n_control` gives a treatment arm of "
                                            r"round\(20 x 100,000\) women, above the limit of "
                                            r"1,000,000"):
        load_scenario(BASE, {"allocation": 20, "sample_size.n_control": 100_000})
    assert MAX_ARM_SIZE == 1_000_000


@pytest.mark.parametrize("args,expected", [
    (["--n-sims", "1000000000000"], "`simulation.n_sims` must be a whole number from 100 to "
                                    "100,000,000; got 1000000000000"),
    (["--n-control", "1000000000"], "`sample_size.n_control` must be a whole number from 1 to "
                                    "100,000; got 1000000000"),
    (["--set", "simulation.n_sims=true"], "`simulation.n_sims` must be a whole number"),
    (["--set", "allocation=1.0e+400"], "`allocation` must be a ratio in [0.05, 20]; got inf"),
    (["--set", "sample_size.n_control=1e9"], "YAML reads 1e9 as text"),
    (["--set", "simulation.n_sims=" + "9" * 400], "is a whole number of about 400 digits"),
    (["--seed", "-1"], "`simulation.seed` must be a whole number from 0"),
])
@pytest.mark.slow
def test_absurd_sizes_on_the_command_line_are_one_line(cli, args, expected):
    start = time.perf_counter()
    proc = cli("--scenario", "severe", *args)
    assert time.perf_counter() - start < 30
    one_line_error(proc, "(value from the command line or overrides)", expected)


# --------------------------------------------------------- independent references
def binomial(n, p):
    return stats.binom.pmf(np.arange(n + 1), n, p)


def exact_power(n_t, n_c, p_t, p_c, rejects) -> float:
    """Sum of P(table) over the tables the test rejects (every table)."""
    pt, pc = binomial(n_t, p_t), binomial(n_c, p_c)
    return float(sum(pt[x] * pc[y] for x, y in itertools.product(range(n_t + 1), range(n_c + 1))
                     if pt[x] * pc[y] > 0 and rejects(x, y)))


def fisher_rejects(n_t, n_c, alpha, alternative="two-sided"):
    def rejects(x, y):
        table = [[x, n_t - x], [y, n_c - y]]
        return stats.fisher_exact(table, alternative=alternative).pvalue <= alpha
    return rejects


def pooled_z_rejects(n_t, n_c, alpha):
    crit = stats.norm.isf(alpha / 2)

    def rejects(x, y):
        pooled = (x + y) / (n_t + n_c)
        if pooled in (0.0, 1.0):
            return False
        z = (x / n_t - y / n_c) / math.sqrt(pooled * (1 - pooled) * (1 / n_t + 1 / n_c))
        return abs(z) >= crit
    return rejects


def evaluated_power(sc) -> float:
    return run(sc).to_dict()["evaluated"]["power"]


# ----------------------------------------------------------------- rates 0 and 1
def test_rates_zero_and_one_give_the_smallest_size_fisher_rejects_at():
    # 0/n vs n/n is one table: two-sided p = 2 / C(2n, n), one-sided 1 / C(2n, n)
    alpha = Fraction(5, 100)
    two = next(n for n in itertools.count(1) if Fraction(2, math.comb(2 * n, n)) <= alpha)
    one = next(n for n in itertools.count(1) if Fraction(1, math.comb(2 * n, n)) <= alpha)
    assert (two, one) == (4, 3)
    for c, t, sided, n in ((0, 1, "two", two), (1, 0, "two", two), (0, 1, "one", one)):
        result = run(scenario(c, t, analysis__sided=sided)).to_dict()
        assert result["sample_size"]["n_per_arm"] == {"control": n, "treatment": n}
        assert result["sample_size"]["power"] == 1.0
        assert result["type_one_error"]["value"] == 0.0    # at the control rate: one table
    assert stats.fisher_exact([[4, 0], [0, 4]]).pvalue == pytest.approx(2 / 70)
    assert stats.fisher_exact([[3, 0], [0, 3]]).pvalue > 0.05


def test_monte_carlo_agrees_exactly_when_the_outcome_is_certain():
    result = run(scenario(0, 1, simulation__method="monte_carlo",
                          simulation__n_sims=1000)).to_dict()
    assert result["sample_size"]["n_per_arm"]["control"] == 4
    assert (result["sample_size"]["power"], result["sample_size"]["power_se"]) == (1.0, 0.0)


def test_a_treatment_worse_for_certain_has_no_one_sided_answer():
    with pytest.raises(NoSolutionError, match="`arms.treatment.rate` \\(0\\) is below the "
                                              "control rate \\(1\\)"):
        run(scenario(1, 0, analysis__sided="one"))


@pytest.mark.parametrize("rate", [0, 1])
def test_equal_certain_rates_have_no_answer_and_zero_power(rate):
    with pytest.raises(NoSolutionError, match=f"equal rates \\({rate} in both arms\\)"):
        run(scenario(rate, rate))
    # every trial gives the same table, which no test rejects (scipy: p = 1)
    result = run(scenario(rate, rate, sample_size__n_control=10)).to_dict()
    assert result["evaluated"]["power"] == 0.0 and result["type_one_error"]["value"] == 0.0
    assert stats.fisher_exact([[10 * rate, 10 - 10 * rate]] * 2).pvalue == 1.0


@pytest.mark.parametrize("c,t", [(0, 0.5), (0.5, 1), (0.2, 0)])
def test_one_certain_arm_has_fishers_exact_power(c, t):
    reference = exact_power(10, 10, t, c, fisher_rejects(10, 10, 0.05))
    assert evaluated_power(scenario(c, t, sample_size__n_control=10)) == pytest.approx(
        reference, abs=1e-12)


# ----------------------------------------------------------------- one per arm
def test_one_woman_per_arm():
    # Fisher: 1/1 vs 0/1 is as extreme as a 2x2 table with one per arm gets, p = 1
    assert stats.fisher_exact([[1, 0], [0, 1]]).pvalue == 1.0
    assert evaluated_power(scenario(sample_size__n_control=1)) == 0.0
    # the unpooled z test rejects every table with different outcomes (its SE is 0):
    # power P(x_t != x_c), type I error 2 p (1 - p) at the control rate
    result = run(scenario(sample_size__n_control=1, analysis__test="z_unpooled")).to_dict()
    assert result["evaluated"]["power"] == pytest.approx(0.69 * 0.8 + 0.31 * 0.2, abs=1e-12)
    assert result["type_one_error"]["value"] == pytest.approx(2 * 0.2 * 0.8, abs=1e-12)
    with pytest.raises(NoSolutionError, match="`sample_size.max_control` = 1 gives power 0.0000"):
        run(scenario(0, 1, sample_size__max_control=1))


@pytest.mark.slow
def test_one_woman_per_arm_on_the_command_line(cli):
    doc = json.loads(cli("--scenario", "severe", "--n-control", "1", "--format", "json",
                         check_rc=0).stdout)
    assert doc["evaluated"]["n_per_arm"] == {"control": 1, "treatment": 1}
    assert doc["evaluated"]["power"] == 0.0


# ------------------------------------------------------------ allocation extremes
def test_an_allocation_that_empties_the_treatment_arm_names_the_smallest_size():
    # round(0.05 x 10) = 0 women, round(0.05 x 11) = 1
    for n in (1, 10):
        with pytest.raises(ScenarioError, match=rf"`sample_size.n_control` = {n} gives an empty "
                                                r"treatment arm \(round\(0.05 x .*\) = 0\); the "
                                                r"smallest feasible control-arm size is 11"):
            run(scenario(allocation=0.05, sample_size__n_control=n))


@pytest.mark.parametrize("allocation,n_control", [(0.05, None), (20, 1), (20, None)])
@pytest.mark.slow
def test_extreme_allocations_have_fishers_exact_power(allocation, n_control):
    result = run(scenario(allocation=allocation, sample_size__n_control=n_control)).to_dict()
    point = result["sample_size"] if n_control is None else result["evaluated"]
    n_c, n_t = point["n_per_arm"]["control"], point["n_per_arm"]["treatment"]
    assert n_t == round(allocation * n_c) >= 1
    reference = exact_power(n_t, n_c, 0.69, 0.2, fisher_rejects(n_t, n_c, 0.05))
    assert point["power"] == pytest.approx(reference, abs=1e-9)
    if n_control is None:
        assert point["power"] >= 0.9


# -------------------------------------------------------------------- tiny alpha
@pytest.mark.slow
def test_alpha_1e_10_has_exact_power():
    sc = scenario(analysis__alpha=1e-10, analysis__test="z_pooled", sample_size__n_control=60)
    reference = exact_power(60, 60, 0.69, 0.2, pooled_z_rejects(60, 60, 1e-10))
    assert evaluated_power(sc) == pytest.approx(reference, abs=1e-12)
    sc = scenario(0.05, 0.95, analysis__alpha=1e-10)
    answer = run(sc).sample_size.answer
    n = answer.n_control
    assert answer.power == pytest.approx(
        exact_power(n, n, 0.95, 0.05, fisher_rejects(n, n, 1e-10)), abs=1e-9)
    assert exact_power(n - 1, n - 1, 0.95, 0.05, fisher_rejects(n - 1, n - 1, 1e-10)) < 0.9


def test_alpha_below_the_floor_is_refused():
    assert scenario(analysis__alpha=1e-16).analysis.alpha == 1e-16
    for alpha in (1e-17, 5e-324):
        with pytest.raises(ScenarioError, match="`analysis.alpha` must be at least 1e-16"):
            scenario(analysis__alpha=alpha)
    with pytest.raises(ScenarioError, match="`analysis.alpha` must be at least 1e-12 with "
                                            "interim looks"):
        load_scenario("severe_sequential", {"analysis.alpha": 1e-13})


def null_crossing(t1: float, u1: float, u2: float) -> float:
    """P(Z_1 >= u1 or Z_2 >= u2) under H0 for two looks, Z_1 at information
    t1 and Z_2 at 1 (correlation sqrt(t1)), by one-dimensional quadrature."""
    rho = math.sqrt(t1)

    def continuing(z):
        return stats.norm.pdf(z) * stats.norm.sf((u2 - rho * z) / math.sqrt(1 - rho * rho))
    rest, _ = integrate.quad(continuing, -40.0, u1, epsabs=0.0, epsrel=1e-12, limit=500)
    return float(stats.norm.sf(u1) + rest)


@pytest.mark.parametrize("alpha,efficacy,looks,tolerance", [
    (1e-12, {"type": "spending"}, [0.5, 1], 1e-3),        # the floor
    (1e-9, {"type": "spending"}, [0.5, 1], 1e-6),
    # crashed before (a bound below the bracket's 0.5); looks 0.001 apart are integrated
    # on a grid coarser than the increment's SD, to about 2e-6
    (0.4, {"type": "obrien_fleming"}, [0.999, 1], 1e-5),
    (0.5, {"type": "pocock"}, [0.999, 1], 1e-5),
    (0.5, {"type": "spending", "spending": "ld_pocock"}, [0.999, 1], 1e-6),
])
@pytest.mark.slow
def test_group_sequential_bounds_spend_alpha_at_the_extremes(alpha, efficacy, looks, tolerance):
    result = run(load_scenario("severe_sequential", {
        "analysis.alpha": alpha, "interim.efficacy": efficacy, "interim.looks": looks,
        "interim.futility": {"type": "none"}, "target_power": 0.95}))
    u1, u2 = (row.efficacy_z for row in result.sequential.looks)
    assert null_crossing(looks[0], u1, u2) == pytest.approx(alpha, rel=tolerance)


@pytest.mark.slow
def test_beta_spent_almost_all_at_the_first_look_is_solved():
    # HSD gamma 40 spends beta (1 - e^-20) / (1 - e^-40) at the half-way look: the
    # drift bracket around the fixed design's drift did not hold it (a ValueError)
    result = run(load_scenario("severe_sequential", {
        "interim.looks": [0.5, 1], "interim.efficacy": {"type": "none"},
        "interim.futility": {"type": "beta_spending", "spending": "hsd", "gamma": 40}}))
    (first, last), beta = result.sequential.looks, 0.1
    low, up, t1 = first.futility_z, last.efficacy_z, 0.5
    # the drift theta at which the first look stops for futility with probability beta_1,
    # then (independently) the probability of rejecting at the last look at that drift
    beta_1 = beta * (1 - math.exp(-20)) / (1 - math.exp(-40))
    theta = (low - stats.norm.ppf(beta_1)) / math.sqrt(t1)

    def rejecting(z):
        mean = theta * (1 - t1) + math.sqrt(t1) * z
        return stats.norm.pdf(z - theta * math.sqrt(t1)) * stats.norm.sf(
            (up - mean) / math.sqrt(1 - t1))
    power, _ = integrate.quad(rejecting, low, 60.0, epsabs=0.0, epsrel=1e-10, limit=500)
    assert power == pytest.approx(1 - beta, abs=1e-6)
    assert up == pytest.approx(stats.norm.isf(0.025), abs=1e-12)   # no interim efficacy stop
    assert result.sample_size.answer.power >= 0.9


def test_ratio_effects_beyond_a_million_are_refused():
    with pytest.raises(ScenarioError, match=r"`arms.treatment.effect.risk_ratio` must be a "
                                            r"positive ratio from 0.000001 to 1,000,000"):
        load_scenario("rct_evidence", {"arms.treatment.effect": {"risk_ratio": 1e300,
                                                                 "ci95": [1, 1e301]}})
    wide = load_scenario("rct_evidence", {"arms.treatment.effect": {
        "risk_ratio": 1e3, "ci95": [1e-6, 1e6]}})
    assert run(wide).to_dict()["prior"]      # the prior's 95% interval is finite


def test_a_number_yaml_reads_as_text_gets_advice_that_works(cli):
    """YAML 1.1 reads 1e12 and 1.0e12 as text (a float needs a decimal point
    and a signed exponent): the advice is the spelling it reads as a number."""
    proc = cli("--scenario", "severe", "--set", "simulation.n_sims=1.0e12")
    one_line_error(proc, "(value from the command line or overrides)",
                   "got '1.0e12' (a string: YAML reads 1.0e12 as text; write 1.0e+12 (a decimal "
                   "point and a signed exponent), or the digits 1000000000000)")
    for text, advice in (("1e12", "write 1.0e+12"), ("5e3", "write 5.0e+3"),
                         ("1e-3", "write 1.0e-3 (a decimal point and a signed exponent))")):
        with pytest.raises(ScenarioError, match=re.escape(advice)):
            load_scenario(BASE, {"simulation.n_sims": text})
    with pytest.raises(ScenarioError) as advised:          # the advice is read as a number
        load_scenario(BASE, {"simulation.n_sims": parse_yaml("1.0e+12")})
    assert "a string" not in str(advised.value)
    assert load_scenario(BASE, {"simulation.n_sims": parse_yaml("5.0e+3")}).simulation.n_sims \
        == 5000
