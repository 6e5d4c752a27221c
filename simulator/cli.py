"""The `simulate` command: parse options, call the library, render.

Every user error (bad scenario, bad option, unanswerable question) is one line
on stderr and exit status 2; a run that fails for a reason outside the
scenario (the dask cluster, a full disk, a closed stdout) is one line and exit
status 1; never a traceback.  Text that reaches the terminal never carries a
control character of its own: escape sequences in a file name or a value are
shown escaped.
"""
from __future__ import annotations

import os
import re
import signal
import sys
import warnings
from pathlib import Path

import click

from .errors import OPTION_FIELDS, RunFailed, ScenarioError
from .execution import backends as execution
from .execution import progress, threads
from .planning.compare import compare, designs, parse_vary
from .planning.feasibility import check_detectable
from .planning.run import default_jobs, run
from .planning.sweep import parse_set, parse_sweep, run_with_sweep
from .report import comparison as compared, outputs
from .report import tables as report
from .scenario.build import DEFAULT_SCENARIO, bundled_scenarios, load_scenario
from .scenario.reference import template
from .version import __version__


class OutputError(click.ClickException):
    """The output directory cannot take the results (exit status 2)."""
    exit_code = 2


class WriteError(Exception):
    """The results could not be written to stdout (exit status 1)."""


class Terminated(Exception):
    """SIGTERM arrived: unwind (temporary files are removed) and exit 143."""


class Interrupted(Exception):
    """SIGINT arrived: unwind and exit 130 (not KeyboardInterrupt, which
    click answers with a blank line on stderr)."""


# once the outputs are in place the run has succeeded: a late signal is ignored
_state = {"committed": False}


def _terminate(signum, frame):
    if not _state["committed"]:
        raise Terminated()


def _interrupt(signum, frame):
    if not _state["committed"]:
        raise Interrupted()


def _commit() -> None:
    _state["committed"] = True


_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str, newlines: bool = True) -> str:
    """``text`` with every control character shown as an escape (``\\x1b``),
    so that nothing printed can move the cursor, retitle the terminal or
    reach the clipboard; ``newlines`` false escapes line breaks too."""
    text = _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)
    return text if newlines else text.replace("\n", "\\n").replace("\t", "\\t")


def check_out_dir(out_dir: Path, force: bool = False, cache_dir: Path | None = None) -> None:
    """Before any computation, check that the output directory exists or can be
    created, that it holds nothing yet (or ``force``; a chunk cache inside it
    does not count), and that every output file, the manifest included, can be
    replaced; nothing is created until the results are ready, so a run that
    fails leaves no trace."""
    existing = out_dir
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    problem = None
    if not existing.is_dir():
        problem = f"{existing} is not a directory"
    elif not os.access(existing, os.W_OK | os.X_OK):
        problem = f"{existing} is not writable"
    elif existing == out_dir:
        cache = cache_dir.resolve() if cache_dir is not None else None
        others = [p for p in out_dir.iterdir() if cache is None or p.resolve() != cache]
        if not force and others:
            raise OutputError(f"`--out` {out_dir} exists and is not empty; add --force to "
                              "replace the outputs in it (files of other names are kept)")
        problem = next((f"{name} exists and is not a regular file"
                        for name in (*outputs.KNOWN, outputs.MANIFEST)
                        if (out_dir / name).exists() and not (out_dir / name).is_file()), None)
    if problem:
        raise OutputError(f"`--out` {out_dir}: cannot write the results there ({problem})")


def _echo(text: str) -> None:
    """Write to stdout now, so that a full device or a closed stdout is an
    error of the run, not lost output with exit status 0."""
    if sys.stdout is None:
        raise WriteError("stdout is closed")
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except (OSError, ValueError) as err:
        raise WriteError(getattr(err, "strerror", None) or str(err)) from None


def _list_scenarios(ctx, param, value):
    """``--list``: each bundled scenario's name and title, one line each."""
    if not value or ctx.resilient_parsing:
        return
    names = [name.removesuffix(".yaml") for name in bundled_scenarios()]
    width = max(map(len, names))
    _echo("".join(f"{name:<{width}}  {printable(load_scenario(name).title or '', False)}\n"
                  for name in names))
    ctx.exit(0)


def _write_template(ctx, param, value):
    """``--template FILE``: a commented scenario to start from (``-``: stdout);
    an existing file is never overwritten."""
    if value is None or ctx.resilient_parsing:
        return
    text = template()
    if value == "-":
        _echo(text)
        ctx.exit(0)
    path = Path(value)
    try:
        with open(path, "x", encoding="utf-8") as handle:
            handle.write(text)
    except FileExistsError:
        raise ScenarioError("exists; the template never replaces a file: choose a new name",
                            field="--template") from None
    except OSError as err:
        raise ScenarioError(f"cannot be written ({err.strerror or err})",
                            field="--template") from None
    click.echo(f"simulate: wrote {printable(str(path), False)}; edit it, then run "
               f"simulate --scenario {printable(str(path), False)}", err=True)
    ctx.exit(0)


def _options(*options):
    """Apply click options in the order listed (as a stack of decorators would)."""
    def decorate(f):
        for option in reversed(options):
            f = option(f)
        return f
    return decorate


# the options of a run, shared by `simulate` and `simulate compare`
RUN_OPTIONS = _options(
    click.option("--n-sims", type=int,
                 help="Simulated trials per size (overrides simulation.n_sims)."),
    click.option("--seed", type=int, help="Root seed (overrides simulation.seed)."),
    click.option("--jobs", type=int,
                 help=f"Parallel jobs: Monte Carlo chunks, sweep points or compared designs "
                      f"(-1: all cores; at most {execution.JOBS_PER_CORE} per core).  [default: "
                      "all cores for the patient-level model, else 1]"),
    click.option("--method", type=click.Choice(["auto", "exact", "monte_carlo"]),
                 help="Engine (overrides simulation.method)."))
OUTPUT_OPTIONS = _options(
    click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]),
                 default="table", show_default=True, help="What to print on stdout."),
    click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
                 help="Directory for the report (report.html, report.md with its PNG figures, "
                      "report.docx), results.json and the CSV tables."),
    click.option("--set", "settings", multiple=True, metavar="KEY=VALUE",
                 help="Override any scenario value by its dotted key; VALUE is read as YAML "
                      "(repeatable), e.g. --set arms.treatment.rate.discount=0.3."))
EXECUTION_OPTIONS = _options(
    click.option("--force", is_flag=True,
                 help="Write into an --out directory that is not empty, replacing the outputs "
                      "of an earlier run."),
    click.option("--backend", type=click.Choice(execution.BACKENDS), default="loky",
                 show_default=True,
                 help="Where chunks run: loky worker processes on this machine, or a dask "
                      "cluster (pip install '.[dask]'): the one at --scheduler, or a local "
                      "cluster of --jobs workers."),
    click.option("--scheduler", metavar="ADDRESS",
                 help="Address of a running dask scheduler, e.g. tcp://10.0.0.5:8786 "
                      "(with --backend dask)."),
    click.option("--scheduler-timeout", type=float, default=execution.SCHEDULER_TIMEOUT,
                 show_default=True, metavar="SECONDS",
                 help="Seconds to reach the dask scheduler, to see its first worker, and to "
                      "reconnect to it during the run."),
    click.option("--cache", "cache_dir", type=click.Path(file_okay=False, path_type=Path),
                 help="Directory keeping each finished chunk of simulated trials; a run that "
                      "was interrupted and is started again with the same options reuses "
                      "them."),
    click.option("--quiet", "-q", is_flag=True,
                 help="No progress bar (it is shown on stderr, when stderr is a terminal, for "
                      "runs longer than a second)."))


def _overrides(settings, n_sims, seed, method, n_control=None) -> dict:
    """--set values, then the options that stand for scenario keys."""
    overrides = dict(parse_set(spec) for spec in settings)
    options = {"simulation.n_sims": n_sims, "simulation.seed": seed,
               "simulation.method": method, "sample_size.n_control": n_control}
    overrides.update({k: v for k, v in options.items() if v is not None})
    return overrides


def _computed(compute, jobs, backend, scheduler, scheduler_timeout, cache_dir, quiet):
    """``compute(workers)`` under the configured backend, jobs, cache and
    progress bar; says on stderr how much of the cache was reused."""
    bar = None if quiet or not sys.stderr.isatty() else progress.Bar(sys.stderr)
    with execution.configured(backend, scheduler, jobs, cache_dir,
                              scheduler_timeout) as workers, progress.reporting(bar):
        result = compute(workers)
        cache = execution.active_cache()
        if cache is not None and not quiet:
            click.echo(f"simulate: cache {printable(str(cache_dir), False)}: {cache.reused:,} of "
                       f"{cache.chunks:,} chunks reused"
                       + (f"; {cache.recomputed:,} recomputed (damaged, or not the chunk their "
                          "name says)" if cache.recomputed else ""), err=True)
    return result


def _written(result, out_dir) -> list[str]:
    if out_dir is None:
        return []
    try:
        return outputs.write(result, out_dir, on_commit=_commit)
    except OSError as err:
        raise OutputError(f"`--out` {out_dir}: cannot write the results ({err})") from None


def _show_table(text: str, written: list[str], out_dir) -> None:
    _echo(printable(text))
    if written:
        _echo(printable(f"Wrote {', '.join(written)} to {out_dir}\n"))


@click.command(context_settings={"help_option_names": ["-h", "--help"]},
               epilog="Several designs side by side: simulate compare --help.  A web page "
                      "for the same: simulate serve --help.")
@click.version_option(__version__, "--version", prog_name="simulate",
                      message="%(prog)s (ivig-trial-simulator) %(version)s")
@click.option("--list", "list_scenarios", is_flag=True, expose_value=False, is_eager=True,
              callback=_list_scenarios, help="List the bundled scenarios, one line each, and exit.")
@click.option("--template", metavar="FILE", expose_value=False, is_eager=True,
              callback=_write_template,
              help="Write a commented scenario to start from to FILE (- for stdout) and exit.")
@click.option("--scenario", "scenario_spec", default=DEFAULT_SCENARIO, show_default=True,
              metavar="FILE|NAME",
              help="Scenario file; a bare name that is not a file names a bundled scenario.")
@RUN_OPTIONS
@click.option("--n-control", type=int,
              help="Evaluate power at this control-arm size instead of searching.")
@click.option("--detectable", is_flag=True,
              help="Also the smallest treatment rate that reaches the target power at "
                   "--n-control (or at the capacity of the recruitment within "
                   "recruitment.target_months): exact, fixed 2x2 designs.")
@OUTPUT_OPTIONS
@click.option("--sweep", "sweeps", multiple=True, metavar="KEY=START:STOP:STEP",
              help="Sensitivity analysis over a scenario value (repeatable, at most two keys: "
                   "a grid), e.g. --sweep arms.treatment.rate=0.30:0.70:0.05.")
@EXECUTION_OPTIONS
def simulate(scenario_spec, n_sims, seed, jobs, method, n_control, detectable, fmt, out_dir,
             settings, sweeps, force, backend, scheduler, scheduler_timeout, cache_dir, quiet):
    """Power, assurance and sample size of a two-arm trial with a binary endpoint."""
    overrides = _overrides(settings, n_sims, seed, method, n_control)
    axes = [parse_sweep(spec) for spec in sweeps]
    scenario = load_scenario(scenario_spec, overrides)
    if detectable:
        if axes:
            raise ScenarioError("is for one run, not a sweep: `--sweep recruitment.target_months"
                                "=...` or `--sweep centres.number=...` gives the detectable "
                                "rate at each point's capacity", field="--detectable")
        check_detectable(scenario)
    if jobs is None:
        jobs = default_jobs(scenario)
    if out_dir is not None:
        check_out_dir(out_dir, force, cache_dir)

    def compute(workers):
        if axes:
            return run_with_sweep(scenario_spec, overrides, axes, jobs=workers,
                                  detectable=detectable)
        return run(scenario, jobs=workers, detectable=detectable)
    result = _computed(compute, jobs, backend, scheduler, scheduler_timeout, cache_dir, quiet)
    written = _written(result, out_dir)
    if fmt == "json":
        _echo(report.to_json(result))
    elif fmt == "csv":
        _echo(report.sweep_csv(result) if axes else report.curve_csv(result))
    else:
        _show_table(report.table(result), written, out_dir)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("scenarios", nargs=-1, metavar="FILE|NAME...")
@click.option("--vary", "variations", multiple=True, metavar="KEY=V1,V2,...",
              help="Plan each scenario with each of these values of a key (read as YAML; "
                   "null removes the key; a section such as interim takes on,off). "
                   "Repeatable: every combination. E.g. --vary analysis.test=fisher,boschloo.")
@RUN_OPTIONS
@OUTPUT_OPTIONS
@EXECUTION_OPTIONS
def compare_command(scenarios, variations, n_sims, seed, jobs, method, fmt, out_dir, settings,
                    force, backend, scheduler, scheduler_timeout, cache_dir, quiet):
    """Several designs planned in one run and shown side by side: scenario
    files, and variants of them (--vary).  Each design's column is its single
    run (simulate --scenario FILE --set KEY=VALUE)."""
    overrides = _overrides(settings, n_sims, seed, method)
    candidates = designs(list(scenarios) or [DEFAULT_SCENARIO],
                         [parse_vary(spec) for spec in variations], overrides)
    if out_dir is not None:
        check_out_dir(out_dir, force, cache_dir)
    if jobs is None:
        jobs = min(default_jobs(c.scenario) for c in candidates)     # -1: every core
    result = _computed(lambda workers: compare(candidates, jobs=workers), jobs, backend,
                       scheduler, scheduler_timeout, cache_dir, quiet)
    written = _written(result, out_dir)
    if fmt == "json":
        _echo(compared.to_json(result))
    elif fmt == "csv":
        _echo(compared.to_csv(result))
    else:
        _show_table(compared.table(result), written, out_dir)


WEB_LIBRARIES = {"starlette", "uvicorn", "jinja2", "multipart", "python_multipart"}


class ServeError(click.ClickException):
    """`simulate serve` cannot start: the web extra is missing, or the port is taken (exit status 2)."""
    exit_code = 2


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              help="Port to listen on (0: any free port; the URL is printed).")
@click.option("--host", metavar="ADDRESS",
              help="Listen on this interface instead of 127.0.0.1 (this computer only); "
                   "another (0.0.0.0: every interface) lets other machines run plans here: "
                   "only on a network you trust.")
@click.option("--open", "open_browser", is_flag=True, help="Open the page in the web browser.")
def serve_command(port, host, open_browser):
    """A local web page that plans, compares and downloads as the command
    does, for people who will not write YAML (pip install '.[web]')."""
    try:
        from .web.server import serve
    except ImportError as err:
        if (err.name or "").split(".")[0] not in WEB_LIBRARIES:
            raise
        raise ServeError(f"`simulate serve` needs the web extra ({err.name} is not "
                           "installed): pip install '.[web]'") from None
    try:
        serve(host, port, open_browser)
    except (Interrupted, Terminated):     # uvicorn stopped, then passed the signal on
        click.echo("simulate: the web page has stopped", err=True)
    except OSError as err:
        raise ServeError(f"cannot listen on {host or '127.0.0.1'}:{port} "
                           f"({err.strerror or err})") from None


def _error(message: str) -> None:
    """One line on stderr (escaped), whatever stderr is."""
    try:
        click.echo(f"simulate: error: {printable(message, newlines=False)}", err=True)
    except (OSError, ValueError):
        pass


def _option_name(err: ScenarioError) -> ScenarioError:
    """An error about an option of the run names it as the command does."""
    if err.field in OPTION_FIELDS and not err.file:
        return type(err)(err.message, "--" + err.field.replace("_", "-"))
    return err


def _quiet_stdout() -> None:
    """After a failed write, point stdout at /dev/null so that Python's own
    flush at exit does not print a second error."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
    except OSError:
        pass


RESOURCE_TRACKER = "joblib.externals.loky.backend.resource_tracker"


def main(argv=None) -> int:
    """Entry point: runs the command and turns errors into one line and an
    exit status (2: the scenario or an option; 1: the run failed; 130 and 143:
    interrupted)."""
    _state["committed"] = False
    threads.one_blas_thread()
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, _interrupt)
    # joblib's warnings about workers stopped by a signal: the run says it itself
    warnings.filterwarnings("ignore", category=UserWarning, module="joblib")
    # and those of loky's resource tracker, a process of its own started with
    # this environment, about the semaphores it cleans up after a signal
    os.environ["PYTHONWARNINGS"] = ",".join(filter(None, [
        os.environ.get("PYTHONWARNINGS"), f"ignore::UserWarning:{RESOURCE_TRACKER}"]))
    status = 0
    try:
        args = sys.argv[1:] if argv is None else list(argv)
        if args[:1] == ["compare"]:
            compare_command.main(args=args[1:], prog_name="simulate compare",
                                 standalone_mode=False)
        elif args[:1] == ["serve"]:
            serve_command.main(args=args[1:], prog_name="simulate serve",
                               standalone_mode=False)
        else:
            simulate.main(args=args, prog_name="simulate", standalone_mode=False)
    except RunFailed as err:
        _error(str(_option_name(err)))
        status = 1
    except ScenarioError as err:
        _error(str(_option_name(err)))
        status = 2
    except WriteError as err:
        _error(f"cannot write the results to stdout ({err})")
        _quiet_stdout()
        status = 1
    except click.exceptions.Exit as exc:
        status = exc.exit_code
    except click.ClickException as err:
        _error(err.format_message())
        status = err.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt, Interrupted):
        _error_line("simulate: interrupted; no results written")
        status = 130
    except Terminated:
        _error_line("simulate: terminated (SIGTERM); no results written")
        status = 143
    sys.exit(status)


def _error_line(line: str) -> None:
    try:
        click.echo(line, err=True)
    except (OSError, ValueError):
        pass


if __name__ == "__main__":
    main()
