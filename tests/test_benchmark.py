"""The benchmark script keeps running (its figures are in docs/performance.md).
Only that it runs and that its parallel results agree is checked here: speed
is measured by the script, never asserted in a test."""
import json
import subprocess
import sys

import pytest
from conftest import REPO

pytestmark = pytest.mark.slow


def test_the_quick_benchmark_runs_every_section(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench.py"), "--quick",
                           "--json", str(out)], cwd=tmp_path, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = json.loads(out.read_text())
    sections = {row["section"].split()[0] for row in doc["rows"]}
    assert sections == {str(i) for i in range(1, 16)}
    assert doc["parallel_identical"] is True and doc["quick"] is True
