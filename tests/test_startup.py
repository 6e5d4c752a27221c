"""Start-up cost: importing the command does not import ``scipy.stats``
(most of a second), ``scipy.integrate`` or ``joblib`` (a tenth of a second
each), which only some runs need (issue 18)."""
import subprocess
import sys


SLOW_TO_IMPORT = ("scipy.stats", "scipy.integrate", "joblib")


def test_the_command_does_not_import_what_only_some_runs_need():
    code = f"import sys, simulator.cli; print([m for m in {SLOW_TO_IMPORT!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_an_exact_run_in_one_process_does_not_import_joblib():
    """With one job, tasks run in this process, as joblib would run them."""
    code = ("import sys, simulator; simulator.run(simulator.load_scenario('severe_prior')); "
            "print('joblib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
