"""The report's figures: the plotted data are the result's numbers."""
import subprocess
import sys

import numpy as np
import pytest
from matplotlib.text import Text

from simulator import load_scenario, run
from simulator.report import figures as F
from simulator.planning.sweep import SweepAxis, run_with_sweep
from conftest import REPO

# every test draws from one fixture of nine runs (about 10 s)
pytestmark = pytest.mark.slow


BAYESIAN = {"analysis.test": "bayesian", "interim.efficacy": {"type": "posterior"},
            "interim.futility": {"type": "predictive", "threshold": 0.1},
            "analysis.bayesian.threshold": 0.975}


@pytest.fixture(scope="module")
def results():
    return {
        "severe": run(load_scenario("severe")),
        "monte_carlo": run(load_scenario("severe", {"simulation.method": "monte_carlo",
                                                    "simulation.n_sims": 2000})),
        "prior": run(load_scenario("severe_prior")),
        "sequential": run(load_scenario("severe_sequential")),
        "bayesian": run(load_scenario("severe_sequential", BAYESIAN)),
        "patient": run(load_scenario("multicentre", {"simulation.n_sims": 500,
                                                     "sample_size.n_control": 60})),
        "sweep1": run_with_sweep("severe", None, [
            SweepAxis("arms.treatment.rate", (0.2, 0.4, 0.6, 0.69))]),
        "dropout": run_with_sweep("severe", None, [SweepAxis("dropout", (0.0, 0.2))]),
        "sweep2": run_with_sweep("severe", None, [
            SweepAxis("arms.treatment.rate", (0.2, 0.5, 0.6, 0.69)),
            SweepAxis("arms.control.rate", (0.2, 0.3))]),
    }


def artists(fig, gid):
    return [a for ax in fig.axes for a in ax.get_children() if a.get_gid() == gid]


def one(fig, gid):
    found = artists(fig, gid)
    assert len(found) == 1, (gid, found)
    return found[0]


def has_vertex(collection, x, y):
    vertices = np.concatenate([p.vertices for p in collection.get_paths()])
    return bool(np.any(np.isclose(vertices[:, 0], x) & np.isclose(vertices[:, 1], y)))


def nan_none(values, factor=1.0):
    return np.array([np.nan if v is None else v * factor for v in values])


def evaluated(line):
    """A curve's plotted points without the gaps (NaN) between sizes not evaluated."""
    x, y = np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)
    keep = ~np.isnan(x)
    return list(x[keep]), y[keep]


def test_power_curve_exact(results):
    r = results["severe"]
    fig = F.power_curve(r)
    line = one(fig, "power")
    points = sorted(r.power_curve, key=lambda p: p.n_total)
    x, y = evaluated(line)
    assert x == [p.n_total for p in points]
    np.testing.assert_allclose(y, [p.power for p in points])
    assert "exact" in line.get_label()
    assert not artists(fig, "power_band")
    assert list(one(fig, "target_power").get_ydata()) == [r.scenario.target_power] * 2
    chosen = one(fig, "chosen_size")
    assert list(chosen.get_xdata()) == [r.reported.n_total] * 2
    assert chosen.get_ydata()[1] == pytest.approx(r.reported.power)
    assert fig.axes[0].get_ylim() == (0, 1)
    assert "analysed" in fig.axes[0].get_xlabel()
    assert not artists(fig, "assurance")


def test_the_curve_is_not_drawn_across_sizes_not_evaluated(results):
    """A line joins consecutive control-arm sizes only: between the answer's
    window and the coarse grid around it there is a gap (NaN), and every
    size evaluated is a dot."""
    r = results["severe"]
    line = one(F.power_curve(r), "power")
    x = np.asarray(line.get_xdata(), float)
    controls = sorted(p.n_control for p in r.power_curve)
    gaps = sum(b - a > 1 for a, b in zip(controls, controls[1:]))
    assert gaps > 0 and np.isnan(x).sum() == gaps
    for stretch in np.split(x, np.flatnonzero(np.isnan(x))):
        stretch = stretch[~np.isnan(stretch)]
        assert np.all(np.diff(stretch) == 2)        # 1:1, one woman more per arm
    assert line.get_marker() == "o"


def test_power_band_monte_carlo(results):
    r = results["monte_carlo"]
    fig = F.power_curve(r)
    band = one(fig, "power_band")
    for p in r.power_curve:
        lo, hi = np.clip([p.power - 1.96 * p.power_se, p.power + 1.96 * p.power_se], 0, 1)
        assert has_vertex(band, p.n_total, lo) and has_vertex(band, p.n_total, hi)
    assert "Monte Carlo" in one(fig, "power").get_label()


def test_assurance_beside_power(results):
    r = results["prior"]
    fig = F.power_curve(r)
    points = sorted(r.power_curve, key=lambda p: p.n_total)
    np.testing.assert_allclose(evaluated(one(fig, "assurance"))[1], [p.assurance for p in points])
    np.testing.assert_allclose(evaluated(one(fig, "power"))[1], [p.power for p in points])
    assert list(one(fig, "target_assurance").get_ydata()) == [r.scenario.target_assurance] * 2
    answer = r.assurance.sample_size.answer
    marker = one(fig, "assurance_size")
    assert list(marker.get_xdata()) == [answer.n_total] * 2
    assert marker.get_ydata()[1] == pytest.approx(answer.assurance)
    assert not artists(fig, "assurance_band")       # exact assurance


def test_sequential_and_patient_size_labels(results):
    assert F.power_curve(results["sequential"]).axes[0].get_xlabel().startswith("Maximum")
    fig = F.power_curve(results["patient"])
    assert "randomised" in fig.axes[0].get_xlabel()
    assert one(fig, "chosen_size").get_xdata()[0] == 120
    assert artists(fig, "power_band")


@pytest.mark.parametrize("name,scale", [("sequential", ("efficacy_z", "futility_z")),
                                        ("bayesian", ("efficacy_posterior",
                                                      "futility_predictive"))])
def test_boundaries(results, name, scale):
    r = results[name]
    looks = r.sequential.looks
    fig = F.boundaries(r)
    totals = [lk.n_control + lk.n_treatment for lk in looks]
    expected = {k: nan_none([getattr(lk, k) for lk in looks]) for k in scale}
    expected.update({k: nan_none([getattr(lk, k) for lk in looks], 100)
                     for k in ("efficacy_difference", "futility_difference")})
    for gid, values in expected.items():
        line = one(fig, gid)
        assert list(line.get_xdata()) == totals
        np.testing.assert_allclose(line.get_ydata(), values, equal_nan=True)
    for ax in fig.axes:
        assert list(ax.get_xticks()) == totals
    assert len(artists(fig, "continue")) == (1 if name == "bayesian" else 2)


def check_enrolment(fig, model, total):
    median = one(fig, "enrolment_median")
    band = one(fig, "enrolment_band")
    assert list(median.get_ydata()) == list(range(1, total + 1))
    for n in (1, total // 3, total):
        lo, mid, hi = model.months_to_enrol(n, [0.1, 0.5, 0.9])
        assert median.get_xdata()[n - 1] == pytest.approx(mid)
        assert has_vertex(band, lo, n) and has_vertex(band, hi, n)
    np.testing.assert_allclose(one(fig, "outcome_median").get_xdata(),
                               median.get_xdata() + model.follow_up_months)
    assert list(one(fig, "total").get_ydata()) == [total] * 2


def test_recruitment_sequential(results):
    r = results["sequential"]
    fig = F.recruitment(r)
    total = r.sequential.operating["planning"].max_n_total_needed
    check_enrolment(fig, r.scenario.recruitment, total)
    segments = one(fig, "looks").get_segments()
    calendar = r.sequential.calendar.looks
    np.testing.assert_allclose([s[0][0] for s in segments],
                               [lk.expected_month for lk in calendar])
    np.testing.assert_allclose([s[1][1] for s in segments],
                               [lk.outcomes_due for lk in calendar])
    assert not artists(fig, "target_months")


def test_recruitment_patient(results):
    r = results["patient"]
    fig = F.recruitment(r)
    check_enrolment(fig, r.scenario.patient.recruitment, r.patient.duration.n_women)
    assert list(one(fig, "target_months").get_xdata()) == [r.patient.target_months] * 2
    assert not artists(fig, "looks")


def test_sensitivity_one_key(results):
    r = results["sweep1"]
    fig = F.sensitivity(r)
    rates = [100 * p.values["arms.treatment.rate"] for p in r.sweep]
    required = one(fig, "required_size")
    np.testing.assert_allclose(required.get_xdata(), rates)
    np.testing.assert_allclose(required.get_ydata(), nan_none([p.n_total for p in r.sweep]),
                               equal_nan=True)
    assert r.sweep[0].n_total is None
    assert list(one(fig, "no_answer").get_xdata()) == [20]
    np.testing.assert_allclose(one(fig, "power_at_planned").get_ydata(),
                               [p.power_at_planned for p in r.sweep])
    assert fig.axes[0].get_xlabel() == "Live-birth rate, IVIg (%)"
    np.testing.assert_allclose(one(fig, "required_randomised").get_ydata(),
                               nan_none([p.n_total_randomised for p in r.sweep]), equal_nan=True)


def test_sensitivity_dropout_randomised(results):
    r = results["dropout"]
    fig = F.sensitivity(r)
    assert list(one(fig, "required_size").get_xdata()) == [0.0, 0.2]
    assert list(one(fig, "required_randomised").get_ydata()) == [
        p.n_total_randomised for p in r.sweep]
    assert r.sweep[0].n_total_randomised == r.sweep[0].n_total      # no dropout
    assert r.sweep[1].n_total_randomised > r.sweep[1].n_total
    assert not artists(F.sensitivity(results["sweep2"]), "required_randomised")   # a heat map
    assert fig.axes[0].get_xlabel() == "dropout"


def test_sensitivity_two_keys(results):
    r = results["sweep2"]
    fig = F.sensitivity(r)
    image = one(fig, "required_size")
    cells = image.get_array()
    xs, ys = (0.2, 0.5, 0.6, 0.69), (0.2, 0.3)
    texts = {(round(t.get_position()[0]), round(t.get_position()[1])): t.get_text()
             for t in artists(fig, "required_size_text")}
    for p in r.sweep:
        i, j = xs.index(p.values["arms.treatment.rate"]), ys.index(p.values["arms.control.rate"])
        if p.n_total is None:
            assert cells.mask[j, i] and texts[i, j] == "none"
        else:
            assert cells[j, i] == p.n_total and texts[i, j] == str(p.n_total)
    assert sum(p.n_total is None for p in r.sweep) == 1
    ax = fig.axes[0]
    assert ax.get_xlabel() == "Live-birth rate, IVIg (%)"
    assert ax.get_ylabel() == "Live-birth rate, Standard care (%)"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["20", "50", "60", "69"]
    colorbar = next(a for a in fig.axes if a is not ax)
    assert "power" in colorbar.get_ylabel()
    # the base scenario (IVIg 69%, control 20%) is a cell of this grid: outlined
    base = one(fig, "base")
    assert base.get_xy() == (3 - 0.5, 0 - 0.5) and "IVIg 69%" in base.get_label()


def test_the_base_between_swept_values_is_marked_where_it_lies():
    r = run_with_sweep("severe", None, [SweepAxis("arms.treatment.rate", (0.6, 0.7)),
                                        SweepAxis("arms.control.rate", (0.1, 0.3))])
    base = one(F.sensitivity(r), "base")
    assert base.get_xdata()[0] == pytest.approx(0.9) and base.get_ydata()[0] == pytest.approx(0.5)
    assert "between the cells" in base.get_label()


def test_no_label_is_clipped(results):
    """Everything drawn, the colour bar's label included, lies inside the
    saved image: the tight box of the drawn artists is inside the figure."""
    for name in ("sweep2", "sequential", "patient", "prior"):
        for stem, fig in F.figures(results[name]).items():
            F.png_bytes(fig)                            # lays the figure out
            tight = fig.get_tightbbox(fig.canvas.get_renderer())     # inches
            width, height = fig.get_size_inches()
            assert (tight.x0 >= -0.01 and tight.y0 >= -0.01 and tight.x1 <= width + 0.01
                    and tight.y1 <= height + 0.01), (name, stem, tight)


def test_which_figures_apply(results):
    r = results["severe"]
    assert F.sensitivity(r) is None and F.boundaries(r) is None and F.recruitment(r) is None
    assert list(F.figures(r)) == ["power_curve"]
    assert list(F.figures(results["sequential"])) == ["power_curve", "boundaries", "recruitment"]
    assert list(F.figures(results["sweep2"])) == ["power_curve", "sensitivity"]
    assert list(F.figures(results["patient"])) == ["power_curve", "recruitment"]


def test_every_figure_readable(results):
    for result in results.values():
        for name, fig in F.figures(result).items():
            width, height = fig.get_size_inches()
            assert width <= 7 and 3.5 <= height <= 4.2, name
            for ax in fig.axes:
                if ax.get_label() == "<colorbar>":
                    assert ax.get_ylabel()
                    continue
                assert ax.get_xlabel() and ax.get_ylabel(), name
            small = [t.get_text() for t in fig.findobj(Text)
                     if t.get_text() and t.get_fontsize() < 8]
            assert not small, (name, small)


def test_png_bytes_reproducible(results):
    fig = F.power_curve(results["prior"])
    first = F.png_bytes(fig)
    assert first.startswith(b"\x89PNG\r\n\x1a\n")
    assert F.png_bytes(fig) == first
    assert F.png_bytes(F.power_curve(results["prior"])) == first


def test_no_pyplot():
    code = ("import sys; from simulator import load_scenario, run; from simulator.report import figures; "
            "figures.png_bytes(figures.power_curve(run(load_scenario('severe')))); "
            "assert 'matplotlib.pyplot' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)


def test_two_sided_boundaries_mirror_the_efficacy_bound():
    result = run(load_scenario("severe_sequential", {
        "analysis.sided": "two", "analysis.alpha": 0.05, "interim.futility": {"type": "none"}}))
    fig = F.boundaries(result)
    upper = [lk.efficacy_z for lk in result.sequential.looks]
    assert np.allclose(one(fig, "efficacy_z").get_ydata(), upper)
    assert np.allclose(one(fig, "efficacy_z_lower").get_ydata(), -np.array(upper))
    assert artists(fig, "futility_z") == [] and artists(fig, "futility_difference") == []
