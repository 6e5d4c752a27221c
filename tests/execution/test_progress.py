"""The progress bar: counts the work the engines do, appears on a terminal
only, and never touches the results or stdout."""
import io
import json
import os
import pty
import struct
import termios
import fcntl
import subprocess
import sys

import pytest

from simulator import load_scenario, run, sensitivity

from simulator.execution import progress
from conftest import REPO




class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_bar_counts_every_simulated_trial_and_leaves_results_unchanged():
    scenario = load_scenario("severe", {"simulation.method": "monte_carlo",
                                        "simulation.n_sims": 20_000})
    bar = progress.Bar(Terminal(), delay=0)
    with progress.reporting(bar):
        shown = run(scenario, jobs=2)
    # each size of the curve is simulated once (memoised): n_sims trials per size
    assert bar.done == {"trials": 20_000 * len(shown.power_curve)}
    assert "simulating" in bar.stream.getvalue()
    assert shown.to_dict() == run(scenario).to_dict()


def test_sweep_counts_points_and_its_points_own_trials_stay_silent():
    scenario = load_scenario("severe", {"simulation.method": "monte_carlo",
                                        "simulation.n_sims": 2_000})
    bar = progress.Bar(Terminal(), delay=0)
    with progress.reporting(bar):
        result = sensitivity(scenario, {"arms.treatment.rate": [0.6, 0.69]})
    assert bar.done["points"] == 2
    # only the base run's trials are counted, not those of the points
    assert bar.done["trials"] == 2_000 * len(result.power_curve)


def test_no_reporter_means_no_output(capsys):
    run(load_scenario("severe", {"simulation.method": "monte_carlo",
                                 "simulation.n_sims": 2_000}))
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def _cli_on_terminal(*args):
    """Run the CLI with stderr on a pseudo-terminal, stdout on a pipe."""
    main, secondary = pty.openpty()
    # a terminal 100 columns wide (a new pseudo-terminal has no size)
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    env = dict(os.environ)
    proc = subprocess.Popen([sys.executable, "-m", "cli", *args], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=secondary)
    os.close(secondary)
    err = b""
    while True:
        try:
            chunk = os.read(main, 4096)
        except OSError:         # the terminal closed with the process
            break
        if not chunk:
            break
        err += chunk
    out = proc.stdout.read()
    proc.wait(timeout=120)
    os.close(main)
    return proc.returncode, out.decode(), err.decode(errors="replace")


LONG = ["--scenario", "severe", "--method", "monte_carlo", "--n-sims", "2000000",
        "--format", "json"]


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
@pytest.mark.slow
def test_bar_on_a_terminal_for_a_long_run_and_json_stays_clean():
    rc, out, err = _cli_on_terminal(*LONG)
    assert rc == 0
    assert "simulating" in err and "trials" in err
    json.loads(out)             # stdout is the JSON alone


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
@pytest.mark.slow
def test_quiet_turns_the_bar_off():
    rc, out, err = _cli_on_terminal(*LONG, "--quiet")
    assert rc == 0 and err == ""
    json.loads(out)


@pytest.mark.slow
def test_no_bar_when_stderr_is_not_a_terminal():
    proc = subprocess.run([sys.executable, "-m", "cli", *LONG], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0 and proc.stderr == ""
    json.loads(proc.stdout)
