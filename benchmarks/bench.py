"""Benchmarks of the trial-planning simulator, measured in one run.

Run from the repository root::

    python benchmarks/bench.py [--quick] [--json [PATH]] [--sections N,N,...]

What is measured (wall time, ``time.perf_counter``, best of 3 repetitions
except where noted; a *cold* repetition empties the decision-table cache first;
design: two-sided alpha 0.05, control rate 0.34, treatment rate 0.50, 200 women
per arm; sections 6 and 7 use design priors instead of the two rates):

1. ``engine``: Monte Carlo throughput (simulated trials per second, one core)
   of ``monte_carlo_power`` for each test.  *cold* is the first call after
   ``decision_table.cache_clear()`` (after one unrelated warm-up call), so it
   includes tabulating the test's decisions; *warm* is a call with the table
   cached.  ``ratio`` = cold seconds / warm seconds: the table's share of a
   cold call (1.0x: negligible; differences of a few % are timing noise).
2. ``loop``: the obvious alternative, a per-trial Python loop drawing two
   binomial counts with numpy and calling scipy / statsmodels on each table.
   ``ratio`` = engine trials/s divided by loop trials/s (how many times faster
   the engine is), against the cold and the warm engine.
3. ``exact vs MC``: seconds for ``exact_power`` against Monte Carlo with 10,000
   and 1,000,000 trials (Fisher).  ``ratio`` = Monte Carlo seconds divided by
   exact seconds in the same cache state (above 1: exact is faster).
4. ``scenario``: wall time of ``run(load_scenario(name))`` for the bundled
   scenarios with method exact and monte_carlo (10,000 trials), decision-table
   cache cleared before each.  ``ratio`` on the Monte Carlo row = its seconds
   divided by the exact row's.
5. ``parallel``: ``jobs=1`` against ``jobs=2`` (Fisher, cache warm in the
   parent).  ``ratio`` = jobs=1 seconds / jobs=2 seconds (the speed-up); the
   first jobs=2 call (single timing) includes starting joblib's worker
   processes and filling their own decision-table caches; the best of the
   next 3 does not.

6. ``assurance exact``: wall time of ``exact_assurance`` at 200 per arm
   (Fisher, two-sided 0.05) for three rate models: (a) independent Beta
   priors, Beta(11, 5.5) treatment against Beta(3.5, 11) control (the
   severe_prior scenario; closed form, beta-binomial); (b) a normal prior on
   the log odds ratio, N(log 3.64, 0.3726^2), with a Beta(17, 32) control
   prior (product quadrature); (c) the same effect prior with a point control
   rate 0.34.  *cold* empties the decision-table, success-table and
   count-range caches first; *warm* has them filled.  Each model's *point
   power* row is ``exact_power`` at its planning rates (the prior means; for
   an effect, the median effect at the control mean), cold.  ``ratio`` =
   assurance seconds / point-power seconds in the same cache state (cold /
   cold, warm / warm): the cost of assurance relative to point power.  The
   note says whether assurance took under 1 s (the issue's target).
7. ``assurance MC``: throughput of ``monte_carlo_assurance`` (one size,
   ``jobs=1``, tables warm) for models (a) and (b), against
   ``monte_carlo_power`` at the same model's planning rates with the same
   number of trials in the same run.  ``ratio`` on the assurance row =
   assurance trials/s / point-power trials/s (1.0: the same cost per trial,
   the issue's target).  The ``loop`` row is the obvious alternative: a
   per-trial Python loop drawing the two rates from the priors with numpy
   (``Generator.beta``, ``normal``), two binomial counts, and calling
   ``scipy.stats.fisher_exact``, counting significant results in favour of
   treatment; ``ratio`` on ``engine / loop`` = engine trials/s / loop
   trials/s.  The ``21 sizes`` rows evaluate a search window (21 consecutive
   sizes around 200 per arm) on the same simulated trials, where the rates
   are drawn once and only the counts and decisions are per size; ``ratio``
   = point-power seconds / assurance seconds.

8. ``patient-level``: the batched logistic regression against a per-trial
   loop of statsmodels ``Logit(y, X).fit(disp=0)`` (its default Newton fit,
   then ``.pvalues``) on the same simulated trials: 400 women (200 per arm),
   two strata (62% / 38%) and maternal age (truncated normal 37 +- 4, 25 to
   45), design intercept + arm + stratum + age.  Two versions of age: exact
   (continuous: one row per woman) and recorded in whole years (every
   regressor discrete: women grouped into 84 cells, the same likelihood).
   The batched throughput includes building the regression data from the
   simulated women (grouping included), fitting and the Wald p-values (best of
   3); the loop fits each trial's own arrays.  ``ratio`` on the ``batched /
   loop`` rows = batched trials/s / loop trials/s.  Then the whole
   patient-level engine on ``multicentre`` at 200 per arm (simulation of the
   women plus all three analyses), jobs=1 and jobs=2 (``ratio`` = speed-up,
   results identical), and the peak resident memory (``VmHWM`` of a fresh
   process) of 100,000 trials at 2,000 women (1,000 per arm), all three
   analyses, one size.

9. ``sequential``: simulated operating characteristics of a 3-look design
   (looks at 0.5 / 0.75 / 1, O'Brien-Fleming efficacy bounds from recursive
   integration, futility at z 0 / 0.5) at 200 women per arm, 0.50 vs 0.34,
   100,000 trials, one core, against a per-trial Python loop doing the same
   (binomial increments with numpy, the z statistic, the bounds); ``ratio``
   = engine trials/s / loop trials/s.  The engine's time includes building
   the decision tables of the looks.  The boundary computation and the exact
   enumeration of the same design (no Monte Carlo error) are timed on their
   own.

10. ``scaling``: the same work on loky with 1 and 2 jobs and on a local dask
   cluster (``LocalCluster``, two single-threaded worker processes on
   127.0.0.1, started and warmed before timing; best of 3): the 2x2 engine
   of section 5 with ten times its trials, and the patient-level engine of
   section 8.  ``ratio`` =
   jobs=1 seconds / these seconds (the speed-up); the ``dask / loky per
   worker`` rows give dask's trials/s per worker over loky's (1.0: the
   cluster costs nothing).  Then the peak resident memory (``VmHWM``) of a
   fresh process (one job) simulating 100,000, 1,000,000 and 10,000,000
   trials of the 2x2 engine, and 100,000 and 1,000,000 patient-level trials
   of 40 women with the logistic analysis: chunks bound it, so it does not
   grow with the number of trials.

11. ``report extras``: what a run adds for the report.  (a) The maximum
   type I error over the common rate of both arms (decisions tabulated once
   on the band a common rate reaches, an arcsine grid of four points per
   standard deviation, refined at the ten highest peaks) against the obvious
   alternative, ``exact_power`` at every rate of a uniform grid of step
   0.0001 from 0.01 to 0.99 (9,801 rates, each its own support block);
   ``ratio`` = grid seconds / ours, and the note compares the two maxima.
   (b) The calibration of a Bayesian threshold (the issue's example: 0.20 vs
   0.50, 37 per arm, one-sided 0.025, vague priors) by a search over the
   posterior steps against the bisection on the threshold it replaced (to
   1e-12, 60 halvings at most); ``ratio`` = bisection seconds / ours, with
   the number of exact type I error evaluations of each.  (c) The Monte Carlo
   check of an exact answer, 100,000 trials at severe's answer.  (d) Writing
   every output of ``severe_sequential`` (three figures, HTML, Markdown,
   Word, JSON, CSV) in memory, and the Word file alone.

12. ``unconditional tests``: the decision table of Boschloo's and Barnard's
   tests (every 2x2 table of the arm sizes, the supremum over the common rate
   refined where p could cross alpha = 0.05) at 20, 100 and 300 per arm,
   cold, and the table of every p-value refined (``p-values``), against the
   obvious alternative: scipy's ``boschloo_exact`` / ``barnard_exact`` (32
   sampling points, their default) table by table, timed on 40 tables and
   scaled to all of them; ``ratio`` = scipy's estimated seconds / ours.
13. ``whole process``: wall time of the command as a user runs it, ``python
   cli.py --scenario NAME -q`` in a fresh process (interpreter start, imports,
   reading the scenario, the run with every extra: the type I error's maximum
   over the common rate, the Monte Carlo check, and the printed table), for
   every bundled scenario, best of 3 (multicentre, the patient-level model,
   once, with the command's default jobs: every core); and ``python -c "import
   simulator.cli"``, the part of every run that is only starting up.  The
   package's bytecode is compiled first, as ``pip install`` leaves it.  The
   section runs before the others.  No ratio.  ``--quick``: severe and
   severe_prior, once.

14. ``Fisher's decision table``: ``rejection_grid`` for Fisher's test
   (critical counts of every margin at once) against the p-value of every
   table by the per-margin reference (``fisher.pvalues``, how the table was
   built before) compared with alpha, two-sided and one-sided 0.05, on the
   count ranges exact power enumerates at 24 and 200 per arm (0.50 vs 0.34)
   and on rct_evidence's range at 859 per arm (its priors widen the treatment
   counts to 86..850, the control counts 193..396); best of 3.  ``ratio`` =
   reference seconds / ours; the note says whether the decisions agree.

15. ``comparison``: ``simulate compare`` of six designs (the severe scenario
   with Fisher's, Boschloo's and the pooled z test, at 10% and 15% dropout;
   two with --quick) as one process with ``--jobs 2``, against the obvious
   alternative, one ``simulate --scenario severe --set ...`` process per
   design, one after the other (one measurement each; processes start cold,
   as a user's would); ``ratio`` = the separate processes' seconds / the
   comparison's.

Ratios above 1 in sections 1, 2, 5, 7's engine / loop rows, 8, 9, 10, 11, 12, 14 and 15 mean "faster";
in sections 3 and 4 they mean "Monte Carlo takes that many times as long as
exact"; in section 6, "assurance costs that many times as much as point
power" (above 1: slower); on section 7's assurance rows, the share of point
power's speed that assurance reaches (1.0: the same cost per trial, below 1:
slower).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import scipy  # noqa: E402
from scipy import stats  # noqa: E402
from statsmodels.stats.proportion import proportions_ztest, test_proportions_2indep  # noqa: E402

import simulator  # noqa: E402
from simulator.engines import assurance  # noqa: E402
from simulator.engines.assurance import exact_assurance, monte_carlo_assurance  # noqa: E402
from simulator.engines.design import Design, decision_table, support  # noqa: E402
from simulator.engines.exact import exact_power  # noqa: E402
from simulator.engines.montecarlo import monte_carlo_power  # noqa: E402
from simulator.models.priors import BetaMixture, Effect, RateModel  # noqa: E402

TESTS = ("fisher", "z_pooled", "z_unpooled", "chi2_yates")
P_T, P_C, N, ALPHA, SEED = 0.50, 0.34, 200, 0.05, 12345
SCENARIOS = ("severe", "overall", "moderate")
WHOLE_PROCESS = ("severe", "overall", "moderate", "skeptical", "rct_evidence", "severe_prior",
                 "overall_prior", "severe_sequential", "multicentre")
DEFAULT_JSON = ROOT / "benchmarks" / "results.json"


def _assurance_models():
    """The rate models of sections 6 and 7, with their planning rates."""
    beta_t, beta_c = BetaMixture.beta(11, 5.5), BetaMixture.beta(3.5, 11)
    effect, control = Effect("odds_ratio", math.log(3.64), 0.3726), BetaMixture.beta(17, 32)
    return {
        "(a) Beta priors": RateModel(beta_c.mean, beta_c, beta_t.mean, beta_t),
        "(b) OR prior, Beta control": RateModel(
            control.mean, control, float(effect.treatment_rate(control.mean)), None, effect),
        "(c) OR prior, point control": RateModel(
            0.34, None, float(effect.treatment_rate(0.34)), None, effect),
    }


ASSURANCE_MODELS = _assurance_models()


def timed(fn, *args, **kwargs):
    """(seconds, result) of one call."""
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - start, result


# timings are the best of this many calls (1 with --quick, which only checks that
# every section runs)
REPEATS = 3
UNIFORM_RATES = 9801        # section 11's uniform grid of common rates (981 with --quick)


def best_of(reps, fn, *args, **kwargs):
    """(best seconds, result of the last call) over ``reps`` calls."""
    runs = [timed(fn, *args, **kwargs) for _ in range(reps)]
    return min(t for t, _ in runs), runs[-1][1]


def mc(design, n_sims, jobs=1):
    return monte_carlo_power(design, P_T, P_C, [N], n_sims, SEED, jobs=jobs)


def cold(fn):
    """``fn`` run after emptying the decision-table cache."""
    def call(*args, **kwargs):
        decision_table.cache_clear()
        support.cache_clear()
        return fn(*args, **kwargs)
    return call


def cold_all(fn):
    """``fn`` run after emptying every table cache assurance uses."""
    def call(*args, **kwargs):
        decision_table.cache_clear()
        support.cache_clear()
        assurance.count_ranges.cache_clear()
        return fn(*args, **kwargs)
    return call


# ------------------------------------------------------------ per-trial loops
def _fisher(x_t, x_c):
    return stats.fisher_exact([[x_t, N - x_t], [x_c, N - x_c]])[1]


def _z_pooled(x_t, x_c):
    return proportions_ztest([x_t, x_c], [N, N])[1]


def _z_unpooled(x_t, x_c):
    return test_proportions_2indep(x_t, N, x_c, N, method="wald", compare="diff",
                                   correction=False).pvalue


def _chi2_yates(x_t, x_c):
    return stats.chi2_contingency([[x_t, N - x_t], [x_c, N - x_c]], correction=True)[1]


LOOP_PVALUE = {"fisher": _fisher, "z_pooled": _z_pooled,
               "z_unpooled": _z_unpooled, "chi2_yates": _chi2_yates}


def loop_power(test, n_trials):
    """Power by the plain loop: one binomial pair and one library call per trial."""
    rng, pvalue, rejections = np.random.default_rng(SEED), LOOP_PVALUE[test], 0
    for _ in range(n_trials):
        x_t, x_c = int(rng.binomial(N, P_T)), int(rng.binomial(N, P_C))
        rejections += pvalue(x_t, x_c) <= ALPHA
    return rejections / n_trials


def _draw_rates(model, rng):
    """(treatment, control) true rates of one trial, drawn with numpy (single
    Beta components only, as in the benchmarked models)."""
    def beta(prior):
        return rng.beta(prior.a[0], prior.b[0])
    p_c = model.control_rate if model.control_prior is None else beta(model.control_prior)
    if model.effect is not None and model.effect.scale == "odds_ratio":
        odds = math.exp(rng.normal(model.effect.mean, model.effect.sd))
        p_t = p_c * odds / (1.0 - p_c + p_c * odds)
    elif model.effect is not None:
        e = model.effect
        p_t = float(e.treatment_rate(p_c, rng.normal(e.mean, e.sd)))
    elif model.treatment_prior is not None:
        p_t = beta(model.treatment_prior)
    else:
        p_t = model.treatment_rate
    return p_t, p_c


def loop_assurance(model, n_trials):
    """Assurance by the plain loop: rates from the priors, one binomial pair
    and one ``fisher_exact`` call per trial; success = significant (two-sided)
    with the treatment's count above control's (equal arms)."""
    rng, successes = np.random.default_rng(SEED), 0
    for _ in range(n_trials):
        p_t, p_c = _draw_rates(model, rng)
        x_t, x_c = int(rng.binomial(N, p_t)), int(rng.binomial(N, p_c))
        successes += x_t > x_c and _fisher(x_t, x_c) <= ALPHA
    return successes / n_trials


# --------------------------------------------------------------------- sections
def row(section, case, seconds=None, trials=None, ratio=None, note=""):
    return {"section": section, "case": case, "seconds": seconds,
            "trials_per_s": trials / seconds if trials and seconds else None,
            "ratio": ratio, "note": note}


def bench_engine_and_loop(n_sims, n_loop):
    # One-off process costs (scipy's lazy set-up on first use) are paid here,
    # on another design, so that "cold" below measures the table build only.
    mc(Design("fisher", "one", 0.025, 1.0), 1_000)
    rows = []
    for test in TESTS:
        design = Design(test, "two", ALPHA, 1.0)
        t_cold, (p_cold, _) = best_of(REPEATS, cold(mc), design, n_sims)
        t_warm, (p_warm, _) = best_of(REPEATS, mc, design, n_sims)
        assert p_cold[0] == p_warm[0]
        loop, p_loop = timed(loop_power, test, n_loop)
        cold_rate, warm_rate, loop_rate = n_sims / t_cold, n_sims / t_warm, n_loop / loop
        rows += [
            row("1 engine", f"{test} cold (incl. table)", t_cold, n_sims,
                note=f"power {p_cold[0]:.4f}"),
            row("1 engine", f"{test} warm", t_warm, n_sims, t_cold / t_warm,
                "ratio = cold s / warm s"),
            row("2 loop", f"{test} per-trial loop", loop, n_loop, note=f"power {p_loop:.3f}"),
            row("2 loop", f"{test} engine cold / loop", ratio=cold_rate / loop_rate,
                note="trials/s ratio"),
            row("2 loop", f"{test} engine warm / loop", ratio=warm_rate / loop_rate,
                note="trials/s ratio"),
        ]
    return rows


def bench_exact_vs_mc():
    design, rows = Design("fisher", "two", ALPHA, 1.0), []
    ex_cold, p_exact = best_of(REPEATS, cold(exact_power), design, P_T, P_C, [N])
    ex_warm, _ = best_of(REPEATS, exact_power, design, P_T, P_C, [N])
    rows.append(row("3 exact vs MC", "exact cold", ex_cold, note=f"power {p_exact[0]:.6f}"))
    rows.append(row("3 exact vs MC", "exact warm", ex_warm))
    for n_sims in (10_000, 1_000_000):
        t_cold, _ = best_of(REPEATS, cold(mc), design, n_sims)
        t_warm, (p, se) = best_of(REPEATS, mc, design, n_sims)
        rows.append(row("3 exact vs MC", f"MC {n_sims:,} cold", t_cold, n_sims, t_cold / ex_cold,
                        "ratio = MC s / exact s (cold)"))
        rows.append(row("3 exact vs MC", f"MC {n_sims:,} warm", t_warm, n_sims, t_warm / ex_warm,
                        f"ratio vs exact warm; power {p[0]:.4f} +- {se[0]:.4f}"))
    return rows


def bench_scenarios():
    rows = []
    for name in SCENARIOS:
        seconds = {}
        for method in ("exact", "monte_carlo"):
            overrides = {"simulation.method": method, "simulation.n_sims": 10_000}
            seconds[method], result = best_of(REPEATS, cold(lambda: simulator.run(
                simulator.load_scenario(name, overrides=overrides))))
            answer = (result.sample_size.answer if result.sample_size else result.evaluated)
            ratio = seconds[method] / seconds["exact"] if method == "monte_carlo" else None
            rows.append(row("4 scenario", f"{name} {method}", seconds[method], ratio=ratio,
                            note=f"n_control {answer.n_control}, "
                                 f"{len(result.power_curve)} curve points"))
    return rows


def bench_parallel(n_sims):
    design = Design("fisher", "two", ALPHA, 1.0)
    mc(design, 10_000)  # warm the parent's decision-table cache
    one, r1 = best_of(REPEATS, mc, design, n_sims, jobs=1)
    first, r2a = timed(mc, design, n_sims, jobs=2)
    two, r2 = best_of(REPEATS, mc, design, n_sims, jobs=2)
    same = all(np.array_equal(a, b) for r in (r2a, r2) for a, b in zip(r1, r))
    return [
        row("5 parallel", "jobs=1", one, n_sims),
        row("5 parallel", "jobs=2 first call", first, n_sims, one / first, "ratio = speed-up"),
        row("5 parallel", "jobs=2", two, n_sims, one / two,
            f"ratio = speed-up; identical results: {same}"),
    ], same


def bench_assurance_exact():
    design, rows = Design("fisher", "two", ALPHA, 1.0), []
    for name, model in ASSURANCE_MODELS.items():
        p_t, p_c = model.treatment_rate, model.control_rate
        pw_cold, power = best_of(REPEATS, cold_all(exact_power), design, p_t, p_c, [N])
        pw_warm, _ = best_of(REPEATS, exact_power, design, p_t, p_c, [N])
        as_cold, result = best_of(REPEATS, cold_all(exact_assurance), design, model, [N])
        as_warm, _ = best_of(REPEATS, exact_assurance, design, model, [N])
        value, error = result.assurance[0], result.integration_error
        rows += [
            row("6 assurance exact", f"{name}: point power cold", pw_cold,
                note=f"p_t {p_t:.4f}, p_c {p_c:.4f}; power {power[0]:.6f}; "
                     f"warm {pw_warm * 1e3:.3g} ms"),
            row("6 assurance exact", f"{name}: assurance cold", as_cold, ratio=as_cold / pw_cold,
                note=f"assurance {value:.6f} (integration error {error:.1g}); "
                     f"under 1 s: {'yes' if as_cold < 1.0 else 'NO'}; ratio = cold s / point cold s"),
            row("6 assurance exact", f"{name}: assurance warm", as_warm, ratio=as_warm / pw_warm,
                note=f"under 1 s: {'yes' if as_warm < 1.0 else 'NO'}; "
                     "ratio = warm s / point warm s"),
        ]
    return rows


def bench_assurance_mc(n_sims, n_loop):
    design, rows = Design("fisher", "two", ALPHA, 1.0), []
    for name in list(ASSURANCE_MODELS)[:2]:
        model = ASSURANCE_MODELS[name]
        p_t, p_c = model.treatment_rate, model.control_rate
        # fill the tables (and any lazy set-up) before timing: both rows are warm
        monte_carlo_assurance(design, model, [N], 10_000, SEED)
        monte_carlo_power(design, p_t, p_c, [N], 10_000, SEED)
        t_point, (power, _) = best_of(REPEATS, monte_carlo_power, design, p_t, p_c, [N], n_sims, SEED)
        t_assur, res = best_of(REPEATS, monte_carlo_assurance, design, model, [N], n_sims, SEED)
        exact = exact_assurance(design, model, [N]).assurance[0]
        loop, a_loop = timed(loop_assurance, model, n_loop)
        point_rate, assur_rate, loop_rate = n_sims / t_point, n_sims / t_assur, n_loop / loop
        rows += [
            row("7 assurance MC", f"{name}: point power", t_point, n_sims,
                note=f"power {power[0]:.5f} at p_t {p_t:.4f}, p_c {p_c:.4f}"),
            row("7 assurance MC", f"{name}: assurance", t_assur, n_sims, assur_rate / point_rate,
                f"ratio = assurance trials/s / point trials/s; assurance "
                f"{res.assurance[0]:.5f} +- {res.se[0]:.5f} (exact {exact:.5f})"),
            row("7 assurance MC", f"{name}: per-trial loop", loop, n_loop,
                note=f"assurance {a_loop:.3f}"),
            row("7 assurance MC", f"{name}: engine / loop", ratio=assur_rate / loop_rate,
                note="trials/s ratio"),
        ]
        # a search window: 21 consecutive sizes on the same trials (rates drawn once)
        window, trials = list(range(N - 10, N + 11)), n_sims // 5
        monte_carlo_assurance(design, model, window, 10_000, SEED)
        monte_carlo_power(design, p_t, p_c, window, 10_000, SEED)
        t_point, _ = best_of(REPEATS, monte_carlo_power, design, p_t, p_c, window, trials, SEED)
        t_assur, _ = best_of(REPEATS, monte_carlo_assurance, design, model, window, trials, SEED)
        rows += [
            row("7 assurance MC", f"{name}: point power, 21 sizes", t_point, trials * 21,
                note="trials/s counts trial-sizes"),
            row("7 assurance MC", f"{name}: assurance, 21 sizes", t_assur, trials * 21,
                t_point / t_assur, "ratio = point s / assurance s (1.0 = same cost)"),
        ]
    return rows


# ---------------------------------------------------------------------- output
PATIENT_BASE = {
    "name": "bench", "model": "patient", "arms": {}, "analysis": {"primary": "logistic"},
    "population": {"strata": {"moderate": {"share": 0.62, "control": 0.39, "treatment": 0.60},
                              "severe": {"share": 0.38, "control": 0.20, "treatment": 0.69}},
                   "covariates": {"age": {"distribution": "truncated_normal", "mean": 37,
                                          "sd": 4, "lower": 25, "upper": 45,
                                          "log_odds_per_unit": -0.08}}}}
MEMORY_SCRIPT = """
import sys
sys.path.insert(0, {root!r})
from simulator import load_scenario
from simulator.planning.patients import counts
from simulator.engines.patients import ANALYSES
sc = load_scenario("multicentre", {{"simulation.n_sims": {n_sims}}})
c = counts(sc, [1000], "planning", ANALYSES, 1)
# VmHWM: this process's peak resident memory (ru_maxrss would include the
# forked benchmark process's peak, which survives exec on Linux)
peak = next(line for line in open("/proc/self/status") if line.startswith("VmHWM"))
print(int(peak.split()[1]) / 1024, c.rate("logistic")[0][0])
"""


def bench_patient(n_batch, n_loop, n_engine, n_memory):
    import copy
    import subprocess
    import warnings
    import statsmodels.api as sm
    from simulator.stats.adjusted import logistic_pvalues
    from simulator.planning.patients import counts as patient_counts
    from simulator.engines.patient_analysis import _logistic_data
    from simulator.engines.patients import ANALYSES, simulate
    rows = []
    for label, resolution in (("age exact (one row per woman)", None),
                              ("age in whole years (grouped)", 1)):
        raw = copy.deepcopy(PATIENT_BASE)
        if resolution:
            raw["population"]["covariates"]["age"]["resolution"] = resolution
        model = simulator.load_scenario(raw).patient
        trials = simulate(model, N, N, SEED, 0, n_batch)

        def batched():
            return logistic_pvalues(*_logistic_data(model, trials, None), 1, "two")
        seconds, (p, ok, _) = best_of(REPEATS, batched)
        age = model.covariates[0].value(trials.covariates[0])
        X = np.stack([np.ones(age.shape), trials.treated, trials.stratum == 1, age - 37.0],
                     axis=-1).astype(float)
        y = trials.live_birth.astype(float)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            loop, loop_p = timed(lambda: [sm.Logit(y[i], X[i]).fit(disp=0).pvalues[1]
                                          for i in range(n_loop)])
        agree = float(np.max(np.abs(np.asarray(loop_p) / p[:n_loop] - 1)))
        rows += [
            row("8 patient-level", f"batched logistic, {label}", seconds, n_batch,
                note=f"{int(ok.sum())} of {n_batch} estimable"),
            row("8 patient-level", f"statsmodels Logit loop, {label}", loop, n_loop,
                note=f"p-values agree to {agree:.1e} relative"),
            row("8 patient-level", f"batched / loop, {label}",
                ratio=(n_batch / seconds) / (n_loop / loop), note="trials/s ratio"),
        ]
    sc = simulator.load_scenario("multicentre", {"simulation.n_sims": n_engine})
    one, c1 = best_of(REPEATS, patient_counts, sc, [N], "planning", ANALYSES, 1)
    two, c2 = best_of(REPEATS, patient_counts, sc, [N], "planning", ANALYSES, 2)
    same = bool(np.array_equal(c1.counts, c2.counts))
    rows += [row("8 patient-level", "multicentre engine, 3 analyses, jobs=1", one, n_engine,
                 note=f"logistic power {c1.rate('logistic')[0][0]:.4f}"),
             row("8 patient-level", "multicentre engine, 3 analyses, jobs=2", two, n_engine,
                 one / two, f"ratio = speed-up; identical results: {same}")]
    out = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT.format(root=str(ROOT),
                                                                     n_sims=n_memory)],
                         capture_output=True, text=True, check=True).stdout.split()
    seconds_note = f"{n_memory:,} trials x 2,000 women, one size"
    rows.append(row("8 patient-level", "peak memory (MiB)", ratio=float(out[0]),
                    note=f"{seconds_note}; ratio column = peak resident MiB"))
    return rows


def bench_sequential(n_sims, n_loop):
    from simulator.stats.boundaries import efficacy_bounds
    from simulator.engines.sequential import (SequentialDesign, decision_tables, exact_oc, look_sizes,
                                      simulate_oc)
    looks, lower = (0.5, 0.75, 1.0), (0.0, 0.5, -math.inf)
    t_bounds, upper = best_of(REPEATS, efficacy_bounds, looks, 0.025, "obrien_fleming")
    design = SequentialDesign(looks, "z_pooled", "one", tuple(upper), lower)

    def fresh(engine, *args, **kwargs):      # decision tables built inside the timing
        decision_tables.cache_clear()
        return engine(design, N, N, *args, **kwargs)
    fresh(simulate_oc, (P_T, P_C), 1_000, SEED)      # warm-up
    seconds, oc = best_of(REPEATS, fresh, simulate_oc, (P_T, P_C), n_sims, SEED)
    t_exact, exact = best_of(REPEATS, fresh, exact_oc, P_T, P_C)
    sizes = look_sizes(N, looks)

    def loop():
        rng, wins = np.random.default_rng(SEED), 0
        for _ in range(n_loop):
            x_t = x_c = prev = 0
            for k, n in enumerate(sizes):
                x_t += rng.binomial(n - prev, P_T)
                x_c += rng.binomial(n - prev, P_C)
                prev = n
                p = (x_t + x_c) / (2 * n)
                z = (x_t - x_c) / n / math.sqrt(p * (1 - p) * 2 / n) if 0 < p < 1 else 0.0
                if z >= upper[k]:
                    wins += 1
                    break
                if z <= lower[k]:
                    break
        return wins / n_loop
    t_loop, p_loop = timed(loop)
    return [
        row("9 sequential", "boundaries (3 looks, OBF)", t_bounds,
            note=" / ".join(f"{b:.3f}" for b in upper)),
        row("9 sequential", f"engine, 3 looks, {2 * N} women", seconds, n_sims,
            note=f"power {oc.power:.4f}, E[N] {oc.expected_size:.1f}"),
        row("9 sequential", "exact enumeration, same design", t_exact,
            note=f"power {exact.power:.4f}, E[N] {exact.expected_size:.1f}"),
        row("9 sequential", "per-trial loop", t_loop, n_loop, note=f"power {p_loop:.3f}"),
        row("9 sequential", "engine / loop", ratio=(n_sims / seconds) / (n_loop / t_loop),
            note="trials/s ratio"),
    ]


def machine_info():
    return {"python": platform.python_version(), "numpy": np.__version__,
            "scipy": scipy.__version__, "cpu_count": os.cpu_count(),
            "platform": platform.platform(), "simulator": simulator.__version__}


def num(value):
    """Three or more significant digits, thousands separated."""
    if value is None:
        return ""
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


SCALING_MEMORY_SCRIPT = """
import sys
sys.path.insert(0, {root!r})
from simulator import load_scenario
from simulator.engines.design import Design
from simulator.engines.montecarlo import monte_carlo_power
from simulator.planning.patients import counts
if {patient!r}:
    sc = load_scenario("multicentre", {{"simulation.n_sims": {n_sims}}})
    result = counts(sc, [20], "planning", ("logistic",), 1).rate("logistic")[0][0]
else:
    result = monte_carlo_power(Design("fisher", "two", 0.05), 0.5, 0.34, [200], {n_sims}, 1)[0][0]
peak = next(line for line in open("/proc/self/status") if line.startswith("VmHWM"))
print(int(peak.split()[1]) / 1024, result)
"""


def _peak_memory(n_sims, patient):
    import subprocess
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", SCALING_MEMORY_SCRIPT.format(
        root=str(ROOT), n_sims=n_sims, patient=patient)],
        capture_output=True, text=True, check=True).stdout.split()
    return float(out[0]), time.perf_counter() - start


def bench_scaling(n_sims, n_patient, n_memory):
    """Section 10: the dask backend against loky, and memory against trials."""
    import logging
    from distributed import LocalCluster
    from simulator.execution import backends as execution
    from simulator.planning.patients import counts as patient_counts
    from simulator.engines.patients import ANALYSES
    design = Design("fisher", "two", ALPHA)
    sc = simulator.load_scenario("multicentre", {"simulation.n_sims": n_patient})
    work = {"2x2 Monte Carlo": (n_sims, lambda jobs: mc(design, n_sims, jobs)[0]),
            "patient-level": (n_patient, lambda jobs: patient_counts(
                sc, [N], "planning", ANALYSES, jobs).counts)}
    rows = []
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=":0", silence_logs=logging.ERROR) as cluster:
        for name, (trials, fn) in work.items():
            one, r1 = best_of(REPEATS, fn, 1)
            loky, r2 = best_of(REPEATS, fn, 2)
            with execution.configured("dask", cluster.scheduler_address) as cores:
                fn(cores)                                   # warm the workers
                dask, r3 = best_of(REPEATS, fn, cores)
            same = bool(np.array_equal(r1, r2) and np.array_equal(r1, r3))
            rows += [
                row("10 scaling", f"{name}, loky jobs=1", one, trials),
                row("10 scaling", f"{name}, loky jobs=2", loky, trials, one / loky,
                    "ratio = speed-up over jobs=1"),
                row("10 scaling", f"{name}, dask local cluster, 2 workers", dask, trials,
                    one / dask, f"ratio = speed-up over jobs=1; identical results: {same}"),
                row("10 scaling", f"{name}, dask / loky per worker", ratio=loky / dask,
                    note="trials/s per worker, dask / loky (2 workers each)"),
            ]
    for label, patient, sizes in (("2x2 engine (one size, 400 women)", False,
                                   (n_memory // 10, n_memory, 10 * n_memory)),
                                  ("patient-level (40 women, logistic)", True,
                                   (n_memory // 10, n_memory))):
        for n in sizes:
            mib, seconds = _peak_memory(n, patient)
            rows.append(row("10 scaling", f"peak memory (MiB), {label}, {n:,} trials",
                            seconds, n, mib, "ratio column = peak resident MiB; "
                            "seconds include starting Python"))
    return rows


def bench_report_extras():
    from simulator.engines.exact import maximum_over_rates, null_rejection, rate_grid
    from simulator.engines.sequential import (BayesRule, SequentialDesign, calibrate_threshold,
                                      exact_oc)
    from simulator.report import outputs
    from simulator.report import word
    from simulator.report import figures
    from simulator.report import document
    rows = []
    for test, n in (("fisher", 24), ("z_pooled", 200)):
        design = Design(test, "two", ALPHA, 1.0)

        def ours():
            decision_table.cache_clear()
            return maximum_over_rates(null_rejection(design, n, n), rate_grid(n))

        def uniform():
            decision_table.cache_clear()
            grid = np.linspace(0.01, 0.99, UNIFORM_RATES)
            values = [exact_power(design, p, p, [n])[0] for p in grid]
            return max(values)
        fast, found = best_of(REPEATS, ours)
        slow, reference = timed(uniform)
        rows.append(row("11 report extras", f"maximum type I error, {test}, {n} per arm",
                        fast, ratio=slow / fast,
                        note=f"ours {found.value:.6f} at {found.rate:.4f}; a "
                             f"{0.98 / (UNIFORM_RATES - 1):g} grid with "
                             f"exact_power at each rate {reference:.6f} in {slow:.1f} s"))
    rule = BayesRule((1.0, 1.0), (1.0, 1.0), 0.5)
    bayes = SequentialDesign((1.0,), "bayesian", bayes=rule)
    calls = [0]

    def size(d):
        calls[0] += 1
        return exact_oc(d, 37, 37, 0.2, 0.2).power
    steps_seconds, threshold = best_of(REPEATS, calibrate_threshold, bayes, 0.025, size, 37, 37)
    by_steps = calls[0] // 3

    def bisection():
        lo, hi = 0.5, 1.0 - 1e-12
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            lo, hi = (lo, mid) if size(bayes.with_threshold(mid)) <= 0.025 else (mid, hi)
            if hi - lo < 1e-12:
                break
        return hi
    calls[0] = 0
    bisect_seconds, old = best_of(REPEATS, bisection)
    rows.append(row("11 report extras", "Bayesian threshold, 37 per arm", steps_seconds,
                    ratio=bisect_seconds / steps_seconds,
                    note=f"steps: {by_steps} exact type I errors, threshold {threshold!r}; "
                         f"bisection: {calls[0] // 3}, threshold {old!r}"))
    scenario = simulator.load_scenario("severe")
    design = Design("fisher", "two", 0.05, 1.0)
    seconds, _ = best_of(REPEATS, monte_carlo_power, design, 0.69, 0.20, [24], 100_000,
                         scenario.simulation.seed)
    rows.append(row("11 report extras", "Monte Carlo check, 100,000 trials at 24 per arm",
                    seconds, 100_000))
    result = simulator.run(simulator.load_scenario("severe_sequential"))
    seconds, written = best_of(REPEATS, outputs.files, result)
    images = {stem: figures.png_bytes(fig) for stem, fig in figures.figures(result).items()}
    doc = document.build(result, images)
    docx_seconds, _ = best_of(REPEATS, word.to_docx, doc, images)
    rows.append(row("11 report extras", "every output of severe_sequential", seconds,
                    note=f"{len(written)} files; report.docx alone {docx_seconds:.2f} s"))
    return rows


def bench_unconditional(sizes):
    from scipy import stats as scipy_stats
    from simulator.stats.analysis import unconditional_table
    rows = []
    reference = {"boschloo": scipy_stats.boschloo_exact, "barnard": scipy_stats.barnard_exact}
    rng = np.random.default_rng(1)
    for test in ("boschloo", "barnard"):
        for n in sizes:
            unconditional_table.cache_clear()
            decisions, _ = timed(unconditional_table, test, "two", n, n, ALPHA)
            unconditional_table.cache_clear()
            every, _ = timed(unconditional_table, test, "two", n, n)
            sample = rng.integers(0, n + 1, size=(40, 2))
            start = time.perf_counter()
            for a, c in sample:
                reference[test]([[a, c], [n - a, n - c]], alternative="two-sided")
            per_table = (time.perf_counter() - start) / len(sample)
            tables = (n + 1) ** 2
            rows.append(row("12 unconditional tests", f"{test} decision table, {n} per arm",
                            decisions, ratio=per_table * tables / decisions,
                            note=f"{tables:,} tables; every p-value refined {every:.2f} s; "
                                 f"scipy {1000 * per_table:.0f} ms a table, "
                                 f"{per_table * tables:,.0f} s for all"))
    return rows


def bench_comparison(quick):
    import subprocess
    tests = ("fisher", "boschloo") if quick else ("fisher", "boschloo", "z_pooled")
    dropouts = ("0.1",) if quick else ("0.1", "0.15")
    command = [sys.executable, "-m", "cli"]

    def process(*args):
        start = time.perf_counter()
        subprocess.run([*command, *args], cwd=ROOT, capture_output=True, check=True)
        return time.perf_counter() - start
    together = process("compare", "severe", "--vary", "analysis.test=" + ",".join(tests),
                       "--vary", "dropout=" + ",".join(dropouts), "--jobs", "2")
    apart = sum(process("--scenario", "severe", "--set", f"analysis.test={t}", "--set",
                        f"dropout={d}") for t in tests for d in dropouts)
    designs = len(tests) * len(dropouts)
    return [row("15 comparison", f"simulate compare, {designs} designs, --jobs 2", together),
            row("15 comparison", f"{designs} separate simulate processes", apart,
                ratio=apart / together, note="ratio = separate s / compare s")]


def bench_whole_process(names, reps):
    """Section 13: the command in a fresh process, as a user runs it."""
    import compileall
    import subprocess
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    # the bytecode compiled, as `pip install` leaves an installed package (a
    # checkout run with PYTHONDONTWRITEBYTECODE would compile every module on
    # every start: about a tenth of a second more)
    compileall.compile_dir(str(ROOT / "simulator"), quiet=1)
    compileall.compile_file(str(ROOT / "cli.py"), quiet=1)

    def command(args):
        def call():
            subprocess.run([sys.executable, *args], cwd=ROOT, env=env, check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return call
    seconds, _ = best_of(reps, command(["-c", "import simulator.cli"]))
    rows = [row("13 whole process", "import simulator.cli", seconds,
                note="starting Python and importing the package: part of every run")]
    for name in names:
        patient = name == "multicentre"
        seconds, _ = best_of(1 if patient else reps,
                             command([str(ROOT / "cli.py"), "--scenario", name, "-q"]))
        target = "15 s" if patient else "2 s"
        rows.append(row("13 whole process", f"simulate --scenario {name} -q", seconds,
                        note=(f"{'every core (the default jobs); ' if patient else ''}"
                              f"the issue's target: under {target}")))
    return rows


def bench_fisher_table(cases):
    """Section 14: Fisher's decision table, critical counts against every p-value."""
    from simulator.stats import fisher
    rows = []
    for n, t_range, c_range in cases:
        x_t, x_c = np.meshgrid(np.arange(t_range[0], t_range[1] + 1),
                               np.arange(c_range[0], c_range[1] + 1), indexing="ij")
        for sided in ("two", "one"):
            ours, table = best_of(REPEATS, fisher.rejection_grid, sided, ALPHA, n, n,
                                  t_range, c_range)
            before, reference = best_of(REPEATS, lambda: fisher.pvalues(sided, n, n, x_t, x_c)
                                        <= ALPHA)
            rows.append(row("14 Fisher's decision table", f"{n} per arm, {sided}-sided", ours,
                            ratio=before / ours,
                            note=f"{x_t.size:,} tables ({x_t.shape[0]} x {x_t.shape[1]}); "
                                 f"per-margin p-values {before * 1000:.1f} ms; identical "
                                 f"decisions: {np.array_equal(table, reference)}"))
    return rows


FISHER_TABLES = ((24, support(24, P_T), support(24, P_C)), (200, support(200, P_T),
                 support(200, P_C)), (859, (86, 850), (193, 396)))


def markdown(rows):
    lines = ["| section | case | seconds | trials/s | ratio | note |",
             "|---|---|---:|---:|---:|---|"]
    for r in sorted(rows, key=lambda r: r["section"]):  # stable: keeps order within a section
        lines.append(f"| {r['section']} | {r['case']} | {num(r['seconds'])} | "
                     f"{num(r['trials_per_s'])} | {num(r['ratio'])} | {r['note']} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (smoke test)")
    parser.add_argument("--json", metavar="PATH", nargs="?", const=str(DEFAULT_JSON),
                        help=f"also write the results as JSON (default PATH: {DEFAULT_JSON})")
    parser.add_argument("--sections", metavar="N,N,...",
                        type=lambda text: [int(k) for k in text.split(",")],
                        help="only these sections (1 and 2 run together), e.g. 4,13,14")
    args = parser.parse_args(argv)
    global REPEATS, UNIFORM_RATES
    if args.quick:
        REPEATS, UNIFORM_RATES = 1, 981
    n_sims, n_loop, n_par = ((50_000, 200, 100_000) if args.quick
                             else (2_000_000, 2_000, 4_000_000))
    n_assur, n_assur_loop = (50_000, 100) if args.quick else (1_000_000, 2_000)
    n_patient = (1_280, 100, 2_500, 2_500) if args.quick else (10_240, 1_000, 20_000, 100_000)

    start = time.perf_counter()
    info = machine_info()
    print("Machine: " + ", ".join(f"{k} {v}" for k, v in info.items()))
    print(f"Mode: {'quick' if args.quick else 'full'}; engine n_sims {n_sims:,}, "
          f"loop trials {n_loop:,}, parallel n_sims {n_par:,}, "
          f"assurance n_sims {n_assur:,}, assurance loop trials {n_assur_loop:,}\n")
    sections = {
        1: lambda: bench_engine_and_loop(n_sims, n_loop),     # sections 1 and 2
        3: bench_exact_vs_mc,
        4: bench_scenarios,
        5: lambda: bench_parallel(n_par),
        6: bench_assurance_exact,
        7: lambda: bench_assurance_mc(n_assur, n_assur_loop),
        8: lambda: bench_patient(*n_patient),
        9: lambda: bench_sequential(20_000 if args.quick else 100_000,
                                    500 if args.quick else 20_000),
        10: lambda: bench_scaling(10 * n_par, n_patient[2], 20_000 if args.quick else 1_000_000),
        11: bench_report_extras,
        12: lambda: bench_unconditional((20, 50) if args.quick else (20, 100, 300)),
        13: lambda: bench_whole_process(("severe", "severe_prior") if args.quick
                                        else WHOLE_PROCESS, REPEATS),
        14: lambda: bench_fisher_table(FISHER_TABLES[:2] if args.quick else FISHER_TABLES),
        15: lambda: bench_comparison(args.quick)}
    chosen = set(sections) if args.sections is None else {
        1 if k == 2 else k for k in args.sections}
    unknown = chosen - set(sections)
    if unknown:
        parser.error(f"--sections: no section {', '.join(map(str, sorted(unknown)))}")
    rows, identical = [], None
    # the whole commands first, on the rested machine: after the other sections
    # have kept both cores busy for minutes, this VM runs slower for a while
    # (rct_evidence 2.2 s right after section 10, 1.6 to 1.9 s otherwise)
    for key, bench in sorted(sections.items(), key=lambda item: item[0] != 13):
        if key in chosen:
            done = bench()
            if key == 5:
                done, identical = done
            rows += done
    total = time.perf_counter() - start

    print(markdown(rows))
    if identical is not None:
        print(f"\nParallel results identical for jobs=1 and jobs=2: {identical}")
    print(f"Total benchmark time: {total:.1f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"machine": info, "quick": args.quick, "total_seconds": total,
             "sections": sorted(chosen),
             "parallel_identical": identical, "rows": rows}, indent=2) + "\n")
        print(f"JSON written to {args.json}")


if __name__ == "__main__":
    main()
