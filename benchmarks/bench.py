"""Benchmarks of the trial-planning simulator, measured in one run.

Run from the repository root::

    python benchmarks/bench.py [--quick] [--json [PATH]]

What is measured (wall time, ``time.perf_counter``, best of 3 repetitions
except where noted; a *cold* repetition empties the decision-table cache first;
design: two-sided alpha 0.05, control rate 0.34, treatment rate 0.50, 200 women
per arm):

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

Ratios above 1 in sections 1, 2 and 5 mean "faster"; in sections 3 and 4 they
mean "Monte Carlo takes that many times as long as exact".
"""
from __future__ import annotations

import argparse
import json
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
from simulator.design import Design, decision_table  # noqa: E402
from simulator.exact import exact_power  # noqa: E402
from simulator.montecarlo import monte_carlo_power  # noqa: E402

TESTS = ("fisher", "z_pooled", "z_unpooled", "chi2_yates")
P_T, P_C, N, ALPHA, SEED = 0.50, 0.34, 200, 0.05, 12345
SCENARIOS = ("severe", "overall", "moderate")
DEFAULT_JSON = ROOT / "benchmarks" / "results.json"


def timed(fn, *args, **kwargs):
    """(seconds, result) of one call."""
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - start, result


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
        t_cold, (p_cold, _) = best_of(3, cold(mc), design, n_sims)
        t_warm, (p_warm, _) = best_of(3, mc, design, n_sims)
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
    ex_cold, p_exact = best_of(3, cold(exact_power), design, P_T, P_C, [N])
    ex_warm, _ = best_of(3, exact_power, design, P_T, P_C, [N])
    rows.append(row("3 exact vs MC", "exact cold", ex_cold, note=f"power {p_exact[0]:.6f}"))
    rows.append(row("3 exact vs MC", "exact warm", ex_warm))
    for n_sims in (10_000, 1_000_000):
        t_cold, _ = best_of(3, cold(mc), design, n_sims)
        t_warm, (p, se) = best_of(3, mc, design, n_sims)
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
            seconds[method], result = best_of(3, cold(lambda: simulator.run(
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
    one, r1 = best_of(3, mc, design, n_sims, jobs=1)
    first, r2a = timed(mc, design, n_sims, jobs=2)
    two, r2 = best_of(3, mc, design, n_sims, jobs=2)
    same = all(np.array_equal(a, b) for r in (r2a, r2) for a, b in zip(r1, r))
    return [
        row("5 parallel", "jobs=1", one, n_sims),
        row("5 parallel", "jobs=2 first call", first, n_sims, one / first, "ratio = speed-up"),
        row("5 parallel", "jobs=2", two, n_sims, one / two,
            f"ratio = speed-up; identical results: {same}"),
    ], same


# ---------------------------------------------------------------------- output
def machine_info():
    return {"python": platform.python_version(), "numpy": np.__version__,
            "scipy": scipy.__version__, "cpu_count": os.cpu_count(),
            "platform": platform.platform(), "simulator": simulator.__version__}


def num(value):
    """Three or more significant digits, thousands separated."""
    if value is None:
        return ""
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


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
    args = parser.parse_args(argv)
    n_sims, n_loop, n_par = ((200_000, 500, 400_000) if args.quick
                             else (2_000_000, 2_000, 4_000_000))

    start = time.perf_counter()
    info = machine_info()
    print("Machine: " + ", ".join(f"{k} {v}" for k, v in info.items()))
    print(f"Mode: {'quick' if args.quick else 'full'}; engine n_sims {n_sims:,}, "
          f"loop trials {n_loop:,}, parallel n_sims {n_par:,}\n")
    rows = bench_engine_and_loop(n_sims, n_loop)
    rows += bench_exact_vs_mc()
    rows += bench_scenarios()
    par_rows, identical = bench_parallel(n_par)
    rows += par_rows
    total = time.perf_counter() - start

    print(markdown(rows))
    print(f"\nParallel results identical for jobs=1 and jobs=2: {identical}")
    print(f"Total benchmark time: {total:.1f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"machine": info, "quick": args.quick, "total_seconds": total,
             "parallel_identical": identical, "rows": rows}, indent=2) + "\n")
        print(f"JSON written to {args.json}")


if __name__ == "__main__":
    main()
