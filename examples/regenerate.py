"""Regenerate the example reports in this directory (run from anywhere):

    python examples/regenerate.py

Each example is the `simulate` command below with `--out examples/<name>`;
tests/test_examples.py checks that the committed results.json files are what
these commands produce today."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

EXAMPLES = {
    # the default scenario, with the sensitivity of the size to both planning rates
    # (a grid through the base rates, 69% and 20%)
    "severe": ["--scenario", "severe", "--sweep", "arms.treatment.rate=0.44:0.69:0.05",
               "--sweep", "arms.control.rate=0.15:0.35:0.05"],
    # design priors: assurance beside power
    "severe_prior": ["--scenario", "severe_prior"],
    # interim analyses: boundaries, stopping probabilities and the calendar of the looks
    "severe_sequential": ["--scenario", "severe_sequential"],
}


def regenerate(out_root: Path = HERE, names=None) -> None:
    for name in names or EXAMPLES:
        command = [sys.executable, "-m", "cli", *EXAMPLES[name], "--out", str(out_root / name),
                   "--quiet", "--force", "--jobs", "2"]
        subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)


if __name__ == "__main__":
    regenerate()
