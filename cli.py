"""The `simulate` command: parse options, call the library, render.

Every user error (bad scenario, bad option, unanswerable question) is one line
on stderr and exit status 2; never a traceback.
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import click

from simulator import ScenarioError, load_scenario, run
from simulator import report
from simulator.scenario import DEFAULT_SCENARIO


def _write_atomic(path: Path, text: str) -> None:
    """Write via a temporary file in the same directory, then rename: a reader
    never sees a half-written file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_outputs(result, out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {"results.json": report.to_json(result),
             "power_curve.csv": report.curve_csv(result),
             "report.md": report.markdown(result)}
    for name, text in files.items():
        _write_atomic(out_dir / name, text)
    return [out_dir / name for name in files]


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
              help="Directory for results.json, power_curve.csv and report.md.")
def simulate(scenario_spec, n_sims, seed, jobs, method, n_control, fmt, out_dir):
    """Power and sample size of a two-arm trial with a binary endpoint."""
    if jobs == 0:
        raise click.BadParameter("must be at least 1, or -1 for all cores", param_hint="'--jobs'")
    overrides = {"simulation.n_sims": n_sims, "simulation.seed": seed,
                 "simulation.method": method, "sample_size.n_control": n_control}
    overrides = {k: v for k, v in overrides.items() if v is not None}
    scenario = load_scenario(scenario_spec, overrides)
    result = run(scenario, jobs=os.cpu_count() if jobs == -1 else jobs)
    if out_dir is not None:
        write_outputs(result, out_dir)
    if fmt == "json":
        click.echo(report.to_json(result), nl=False)
    elif fmt == "csv":
        click.echo(report.curve_csv(result), nl=False)
    else:
        click.echo(report.table(result), nl=False)
        if out_dir is not None:
            click.echo(f"Wrote results.json, power_curve.csv and report.md to {out_dir}")


def main(argv=None) -> int:
    """Entry point: runs the command and turns errors into one line + exit 2."""
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
    sys.exit(0)


if __name__ == "__main__":
    main()
