"""The `simulate` command: parse options, call the library, render.

Every user error (bad scenario, bad option, unanswerable question) is one line
on stderr and exit status 2; never a traceback.
"""
from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import click

from simulator import ScenarioError, execution, load_scenario, outputs, progress, report, run
from simulator.scenario import DEFAULT_SCENARIO
from simulator.sweep import parse_set, parse_sweep, run_with_sweep


class OutputError(click.ClickException):
    """The output directory cannot take the results (exit status 2)."""
    exit_code = 2


class Terminated(Exception):
    """SIGTERM arrived: unwind (temporary files are removed) and exit 143."""


def _terminate(signum, frame):
    raise Terminated()


def check_out_dir(out_dir: Path, force: bool = False) -> None:
    """Before any computation, check that the output directory exists or can be
    created, that it holds nothing yet (or ``force``), and that every output
    file can be replaced; nothing is created until the results are ready, so a
    run that fails leaves no trace."""
    existing = out_dir
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    problem = None
    if not existing.is_dir():
        problem = f"{existing} is not a directory"
    elif not os.access(existing, os.W_OK | os.X_OK):
        problem = f"{existing} is not writable"
    elif existing == out_dir:
        if not force and any(out_dir.iterdir()):
            raise OutputError(f"`--out` {out_dir} exists and is not empty; add --force to "
                              "replace the outputs in it (files of other names are kept)")
        problem = next((f"{name} exists and is a directory" for name in outputs.KNOWN
                        if (out_dir / name).is_dir()), None)
    if problem:
        raise OutputError(f"`--out` {out_dir}: cannot write the results there ({problem})")


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--scenario", "scenario_spec", default=DEFAULT_SCENARIO, show_default=True,
              metavar="FILE|NAME",
              help="Scenario file; a bare name that is not a file names a bundled scenario.")
@click.option("--n-sims", type=int, help="Simulated trials per size (overrides simulation.n_sims).")
@click.option("--seed", type=int, help="Root seed (overrides simulation.seed).")
@click.option("--jobs", type=click.IntRange(min=-1), default=1, show_default=True,
              help="Parallel jobs for Monte Carlo chunks (-1: all cores).")
@click.option("--method", type=click.Choice(["auto", "exact", "monte_carlo"]),
              help="Engine (overrides simulation.method).")
@click.option("--n-control", type=int,
              help="Evaluate power at this control-arm size instead of searching.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table",
              show_default=True, help="What to print on stdout.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Directory for the report (report.html, report.md with its PNG figures), "
                   "results.json and the CSV tables.")
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE",
              help="Override any scenario value by its dotted key; VALUE is read as YAML "
                   "(repeatable), e.g. --set arms.treatment.rate.discount=0.3.")
@click.option("--sweep", "sweeps", multiple=True, metavar="KEY=START:STOP:STEP",
              help="Sensitivity analysis over a scenario value (repeatable, at most two keys: "
                   "a grid), e.g. --sweep arms.treatment.rate=0.30:0.70:0.05.")
@click.option("--force", is_flag=True,
              help="Write into an --out directory that is not empty, replacing the outputs "
                   "of an earlier run.")
@click.option("--backend", type=click.Choice(execution.BACKENDS), default="loky",
              show_default=True,
              help="Where chunks run: loky worker processes on this machine, or a dask "
                   "cluster (pip install '.[dask]'): the one at --scheduler, or a local "
                   "cluster of --jobs workers.")
@click.option("--scheduler", metavar="ADDRESS",
              help="Address of a running dask scheduler, e.g. tcp://10.0.0.5:8786 "
                   "(with --backend dask).")
@click.option("--cache", "cache_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Directory keeping each finished chunk of simulated trials; a run that was "
                   "interrupted and is started again with the same options reuses them.")
@click.option("--quiet", "-q", is_flag=True,
              help="No progress bar (it is shown on stderr, when stderr is a terminal, for "
                   "runs longer than a second).")
def simulate(scenario_spec, n_sims, seed, jobs, method, n_control, fmt, out_dir, settings,
             sweeps, force, backend, scheduler, cache_dir, quiet):
    """Power, assurance and sample size of a two-arm trial with a binary endpoint."""
    if jobs == 0:
        raise click.BadParameter("must be at least 1, or -1 for all cores", param_hint="'--jobs'")
    overrides = dict(parse_set(spec) for spec in settings)
    options = {"simulation.n_sims": n_sims, "simulation.seed": seed,
               "simulation.method": method, "sample_size.n_control": n_control}
    overrides.update({k: v for k, v in options.items() if v is not None})
    axes = [parse_sweep(spec) for spec in sweeps]
    scenario = load_scenario(scenario_spec, overrides)
    if out_dir is not None:
        check_out_dir(out_dir, force)
    bar = None if quiet or not sys.stderr.isatty() else progress.Bar(sys.stderr)
    with execution.configured(backend, scheduler, jobs, cache_dir) as workers, \
            progress.reporting(bar):
        if axes:
            result = run_with_sweep(scenario_spec, overrides, axes, jobs=workers)
        else:
            result = run(scenario, jobs=workers)
        cache = execution.active_cache()
        if cache is not None and not quiet:
            click.echo(f"simulate: cache {cache_dir}: {cache.reused:,} of {cache.chunks:,} "
                       "chunks reused", err=True)
    written = []
    if out_dir is not None:
        try:
            written = outputs.write(result, out_dir)
        except OSError as err:
            raise OutputError(f"`--out` {out_dir}: cannot write the results ({err})") from None
    if fmt == "json":
        click.echo(report.to_json(result), nl=False)
    elif fmt == "csv":
        click.echo(report.sweep_csv(result) if axes else report.curve_csv(result), nl=False)
    else:
        click.echo(report.table(result), nl=False)
        if written:
            click.echo(f"Wrote {', '.join(written)} to {out_dir}")


def main(argv=None) -> int:
    """Entry point: runs the command and turns errors into one line + exit 2."""
    signal.signal(signal.SIGTERM, _terminate)
    try:
        simulate.main(args=argv, prog_name="simulate", standalone_mode=False)
    except ScenarioError as err:
        click.echo(f"simulate: error: {err}", err=True)
        sys.exit(2)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as err:
        click.echo(f"simulate: error: {err.format_message()}", err=True)
        sys.exit(err.exit_code)
    except click.exceptions.Abort:
        click.echo("simulate: interrupted; no results written", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        click.echo("simulate: interrupted; no results written", err=True)
        sys.exit(130)
    except Terminated:
        click.echo("simulate: terminated (SIGTERM); no results written", err=True)
        sys.exit(143)
    sys.exit(0)


if __name__ == "__main__":
    main()
