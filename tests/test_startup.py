"""Start-up cost: importing the command does not import ``scipy.stats``
(most of a second), which only some runs need (issue 18)."""
import subprocess
import sys


def test_the_command_does_not_import_scipy_stats():
    code = "import sys, simulator.cli; print('scipy.stats' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
