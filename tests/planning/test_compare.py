"""`simulate compare`: each design's entry is its single run, bit for bit; the
variants, the side-by-side table, the paragraph and the errors."""
import csv
import io
import itertools
import json
import math
import re
from fractions import Fraction

import numpy as np
import pytest

from simulator.errors import ScenarioError
from simulator.planning.compare import MAX_DESIGNS, compare, designs, parse_vary
from simulator.planning.run import run
from simulator.report import comparison as compared
from simulator.report import tables
from simulator.report.figures import comparison_curves
from simulator.scenario.build import REMOVED, bundled_scenarios, load_scenario

BUNDLED = [name.removesuffix(".yaml") for name in bundled_scenarios()]
# the same cheap settings for the comparison and the single runs: one size
# evaluated, no confirmation, few simulated trials where a design simulates
CHEAP = {"sample_size.n_control": 30, "simulation.confirm": 0, "simulation.n_sims": 400}


@pytest.fixture(scope="module")
def singles():
    """Each bundled scenario's single run, as `simulate --format json` prints it."""
    return {name: tables.to_json(run(load_scenario(name, CHEAP))) for name in BUNDLED}


@pytest.mark.slow
@pytest.mark.parametrize("pair", list(itertools.combinations(BUNDLED, 2)),
                         ids="-".join)
def test_every_entry_of_every_bundled_pair_is_its_single_run_bit_for_bit(singles, pair):
    comparison = compare(designs(pair, overrides=CHEAP))
    document = json.loads(compared.to_json(comparison))
    for name, entry in zip(pair, document["designs"]):
        assert json.dumps(entry, indent=2) + "\n" == singles[name]


@pytest.fixture(scope="module")
def tests_compared():
    """The severe scenario planned with three tests (a search each, exact)."""
    return compare(designs(["severe"], [parse_vary("analysis.test=fisher,boschloo,z_pooled")]))


def test_a_variant_is_the_single_run_with_that_value_set(tests_compared):
    for value, result in zip(("fisher", "boschloo", "z_pooled"), tests_compared.results):
        single = run(load_scenario("severe", {"analysis.test": value}))
        assert tables.to_json(result) == tables.to_json(single)


def test_the_table_rows_are_the_designs_own_figures(tests_compared):
    rows = list(csv.DictReader(io.StringIO(compared.to_csv(tests_compared))))
    assert [r["design"] for r in rows] == ["A", "B", "C"]
    for row, result in zip(rows, tests_compared.results):
        single = result.to_dict()
        size = single["sample_size"]
        assert int(row["n_control"]) == size["n_per_arm"]["control"]
        assert int(row["n_total_randomised"]) == size["n_total_randomised"]
        assert float(row["power"]) == size["power"]
        assert float(row["type_one_error"]) == single["type_one_error"]["value"]
        assert float(row["type_one_error_max"]) == single["type_one_error"]["maximum"]["value"]


def test_the_paragraph_names_the_smallest_valid_design_and_what_it_trades(tests_compared):
    rows = compared.summary_rows(tests_compared)
    valid = [r for r in rows if max(r["type_one_error"], r["type_one_error_max"]) <= 0.05]
    assert [r["design"] for r in valid] == ["A", "B"]        # the z test exceeds alpha
    least = min(r["n_total_randomised"] for r in valid)
    fewest = [r["design"] for r in valid if r["n_total_randomised"] == least]
    assert fewest == compared.fewest(tests_compared) == ["B"]        # Boschloo: 48
    text = compared.paragraph(tests_compared)
    b, a, z = rows[1], rows[0], rows[2]
    assert (f"B (severe, analysis.test=boschloo) needs the fewest women among those that keep "
            f"the type I error within alpha: 24 + 24 = {least} women to randomise "
            "(21 + 21 with an outcome)") in text
    assert f"needs {a['n_total_randomised']} ({a['n_total_randomised'] - least} more)" in text
    assert (f"B uses more of alpha 0.05 (type I error at most {b['type_one_error_max']:.4f} "
            f"against {a['type_one_error_max']:.4f})") in text
    assert (f"C (severe, analysis.test=z_pooled) would need {z['n_total_randomised']}, but its "
            f"type I error exceeds alpha at some common rate ({z['type_one_error_max']:.4f} "
            "against 0.05)") in text


def test_assumptions_are_not_traded_and_ties_are_described():
    """A smaller dropout is an assumption the size rests on, not something a
    design gives up; designs of the same size are set out side by side."""
    dropout = compare(designs(["severe"], [parse_vary("dropout=0.1,0.15")],
                              {"simulation.confirm": 0}))
    text = compared.paragraph(dropout)
    assert "A's size also rests on its assumptions: 10.0% dropout (against 15.0%)" in text
    assert "gives up" not in text
    one_sided = load_scenario("severe", {"analysis.sided": "one", "analysis.alpha": 0.025,
                                         "name": "one_sided"}).to_dict()
    alpha = compare(designs(["severe", one_sided], (), {"simulation.confirm": 0}))
    a, b = compared.summary_rows(alpha)       # Fisher: the same size either way
    assert a["n_total_randomised"] == b["n_total_randomised"] == 54
    assert compared.paragraph(alpha) == (
        f"Both designs randomise the same number of women, 54. A: power {a['power']:.3f}, "
        f"type I error at most {a['type_one_error_max']:.4f}; B: power {b['power']:.3f}, "
        f"type I error at most {b['type_one_error_max']:.4f}.")


def test_the_figure_has_each_designs_power_curve(tests_compared):
    fig = comparison_curves(tests_compared)
    lines = {line.get_gid(): line for line in fig.axes[0].get_lines()}
    for d, result in tests_compared:
        x, y = lines[f"design_{d.letter}"].get_data()
        keep = ~np.isnan(np.asarray(x, float))
        points = sorted(result.power_curve, key=lambda p: p.n_total)
        women = [2 * math.ceil(Fraction(p.n_control) / Fraction(9, 10)) for p in points]  # 10%
        assert np.array_equal(np.asarray(x)[keep], women)
        assert np.array_equal(np.asarray(y)[keep], [p.power for p in points])
        px, py = lines[f"proposed_{d.letter}"].get_data()
        assert (px[0], py[0]) == (result.to_dict()["sample_size"]["n_total_randomised"],
                                  result.reported.power)


@pytest.mark.parametrize("spec,values", [
    ("analysis.test=fisher,boschloo", ("fisher", "boschloo")),
    ("dropout=0.1, 0.15", (0.1, 0.15)),
    ("mcid=null,0.2", (REMOVED, 0.2)),
    ("interim=on,off", (True, REMOVED)),
    ("arms.treatment.rate={beta: [20, 9]},0.69", ({"beta": [20, 9]}, 0.69)),
])
def test_vary_reads_each_value_as_yaml(spec, values):
    assert parse_vary(spec).values == values


@pytest.mark.parametrize("spec,words", [
    ("analysis.test", "must be KEY=V1,V2"),
    ("analysis.test=", "must be KEY=V1,V2"),
    ("dropout=0.1,[", "not valid YAML"),
    ("dropout=0.1,0.1", "gives a value of dropout twice"),
    ("interim=0.5", "is a section: vary it with on,off"),
])
def test_bad_vary_is_one_line_naming_the_option(spec, words):
    with pytest.raises(ScenarioError) as err:
        parse_vary(spec)
    assert err.value.field == "--vary" and words in err.value.message


def test_interim_off_removes_the_looks():
    candidates = designs(["severe_sequential"], [parse_vary("interim=on,off")])
    assert [d.label for d in candidates] == ["severe_sequential, interim on",
                                              "severe_sequential, interim off"]
    on, off = (d.scenario for d in candidates)
    assert on.interim is not None and off.interim is None
    assert off.to_dict() == load_scenario({k: v for k, v in on.to_dict().items()
                                           if k != "interim"}).to_dict()


def test_a_removed_key_is_labelled_as_removed():
    candidates = designs(["severe_prior"], [parse_vary("mcid=null,0.2")])
    assert [d.label for d in candidates] == ["severe_prior, mcid removed",
                                              "severe_prior, mcid=0.2"]
    assert candidates[0].scenario.mcid is None and candidates[1].scenario.mcid == 0.2


def test_a_variant_that_fails_validation_names_the_design_and_the_key():
    with pytest.raises(ScenarioError) as err:
        designs(["severe"], [parse_vary("dropout=0.1,1.5")])
    assert "design B (severe, dropout=1.5)" in str(err.value)
    assert "`dropout`" in str(err.value)


@pytest.mark.parametrize("sources,variations,overrides,words", [
    (["severe"], [], None, "compares two designs or more"),
    (["severe"], ["allocation=" + ",".join(str(1 + i / 10) for i in range(MAX_DESIGNS + 1))],
     None, f"more than {MAX_DESIGNS}"),
    (["severe"], ["dropout=0.1,0.2"], {"dropout": 0.3}, "vary it or set it, not both"),
    (["severe"], ["dropout=0.1", "dropout=0.2"], None, "varies `dropout` twice"),
    (["severe", "severe"], [], None, "designs A (severe) and B (severe) are the same design"),
    (["severe"], ["interim=on,off"], None, "are the same design"),
    (["nosuchfile"], [], None, "nosuchfile"),
])
def test_what_cannot_be_compared_is_refused(sources, variations, overrides, words):
    with pytest.raises(ScenarioError, match=re.escape(words)):
        designs(sources, [parse_vary(v) for v in variations], overrides)


@pytest.mark.slow
def test_the_command_prints_table_json_csv_and_writes_the_report(cli, tmp_path):
    args = ["compare", "severe", "overall", "--set", "simulation.confirm=0"]
    table = cli(*args, check_rc=0).stdout
    assert table.startswith("Designs compared\n  A  severe\n  B  overall\n")
    document = json.loads(cli(*args, "--format", "json", check_rc=0).stdout)
    assert [d["scenario"] for d in document["designs"]] == ["severe", "overall"]
    assert document["comparison"]["fewest_women"] == ["A"]
    rows = list(csv.DictReader(io.StringIO(cli(*args, "--format", "csv", check_rc=0).stdout)))
    assert [r["label"] for r in rows] == ["severe", "overall"]
    out = tmp_path / "out"
    cli(*args, "--out", out, check_rc=0)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [".simulate-outputs", "results.json", "report.html", "report.md", "report.docx",
         "comparison.csv", "power_curves.png"])
    html = (out / "report.html").read_text()
    assert "Designs side by side" in html and "A: severe" in html


@pytest.mark.slow
@pytest.mark.parametrize("args,words", [
    (["compare", "severe"], "compares two designs or more"),
    (["compare", "severe", "--vary", "dropout=0.1,2"], "design B (severe, dropout=2)"),
    (["compare", "severe", "nosuchfile.yaml"], "nosuchfile"),
    (["compare", "severe", "overall", "--vary", "interim=maybe"], "is a section"),
])
def test_command_errors_are_one_line_and_exit_status_2(cli, args, words):
    proc = cli(*args)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == "" and len(proc.stderr.splitlines()) == 1 and words in proc.stderr


def test_designs_listed_one_by_one_vary_the_keys_in_which_they_differ():
    """The web page's list: two designs of one file differing in a key are
    the designs of `--vary KEY=V1,V2` (letters, labels, varied values,
    scenarios); keys set alike are applied, not labelled."""
    from simulator.planning.compare import listed
    got = listed([("severe", {"dropout": 0.2}),
                  ("severe", {"dropout": 0.2, "analysis.test": "boschloo"})])
    want = designs(["severe"], [parse_vary("analysis.test=fisher,boschloo")],
                   {"dropout": 0.2})
    assert [(c.letter, c.label, c.source, c.varied, c.scenario.digest) for c in got] == [
        (c.letter, c.label, c.source, c.varied, c.scenario.digest) for c in want]
    off = listed([("severe_sequential", {}), ("severe_sequential", {"interim": REMOVED})])
    assert [c.label for c in off] == ["severe_sequential, interim on",
                                      "severe_sequential, interim off"]
    with pytest.raises(ScenarioError, match="are the same design"):
        listed([("severe", {}), ("severe", {"analysis.test": "fisher"})])
