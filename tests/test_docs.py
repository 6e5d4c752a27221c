"""The manual (docs/, a MkDocs site) and the README: the site builds with
--strict, the key reference is the schema's, and every code example and
command runs."""
import os
import re
import shlex
import subprocess
import sys

import pytest
from conftest import REPO

from simulator.scenario.reference import key_reference

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
# a cluster, the network, or a web server that runs until stopped
NOT_RUN = ("login1", "dask_jobqueue", "pip install", "simulate serve")


def blocks(language):
    for page in PAGES:
        for code in re.findall(rf"```{language}\n(.*?)```", page.read_text(), re.S):
            yield pytest.param(code, id=f"{page.name}:{code.splitlines()[0][:40]}")


@pytest.mark.slow
def test_the_site_builds_strictly(tmp_path):
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d",
                           str(tmp_path / "site")], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "site" / "scenario-keys" / "index.html").exists()


def test_the_key_reference_is_generated_from_the_schema():
    """Regenerate with: python -m simulator.scenario.reference > docs/scenario-keys.md"""
    assert (REPO / "docs" / "scenario-keys.md").read_text() == key_reference()


def test_the_readme_is_a_front_page():
    readme = (REPO / "README.md").read_text()
    assert len(readme.splitlines()) <= 300
    for page in (REPO / "docs").glob("*.md"):
        assert f"(docs/{page.name})" in readme, page.name      # the manual's index


@pytest.mark.parametrize("code", blocks("python"))
@pytest.mark.slow
def test_every_python_example_runs(code, tmp_path, monkeypatch):
    if any(word in code for word in NOT_RUN):
        pytest.skip("needs a cluster")
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "example", "exec"), {})


@pytest.mark.parametrize("code", blocks("sh"))
@pytest.mark.slow
def test_every_command_runs(code, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    first = re.search(r"## A first scenario.*?```yaml\n(.*?)```",
                      (REPO / "README.md").read_text(), re.S).group(1)
    ran = 0
    for line in code.replace("\\\n", " ").splitlines():
        command = shlex.split(line, comments=True)
        if not command or command[0] != "simulate" or any(w in line for w in NOT_RUN):
            continue
        if "--template" in command:
            (tmp_path / "my_trial.yaml").unlink(missing_ok=True)
        elif not (tmp_path / "my_trial.yaml").exists():
            (tmp_path / "my_trial.yaml").write_text(first)
        proc = subprocess.run([sys.executable, "-m", "cli", *command[1:]], cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=600)
        assert proc.returncode == 0, (line, proc.stderr)
        ran += 1
    if not ran:
        pytest.skip("no command to run here (installation or a cluster)")


@pytest.mark.slow
def test_the_readme_table_of_bundled_answers_is_what_the_runs_give():
    """The README's point-rate table: per arm, power and women to randomise,
    with Fisher's test as bundled and with Boschloo's."""
    from simulator import load_scenario, run
    readme = (REPO / "README.md").read_text()
    rows = re.findall(r"^\| `(\w+)\.yaml` \| [^|]+\| (\d+) \(power ([0-9.]+)\) \| "
                      r"(\d+) \+ \d+ = \d+ \| (\d+) \(power ([0-9.]+)\) \| (\d+) \+ \d+ = \d+ \|$",
                      readme, re.M)
    assert [r[0] for r in rows] == ["severe", "overall", "moderate"]
    for name, *numbers in rows:
        for test, (n, power, randomised) in (("fisher", numbers[:3]), ("boschloo", numbers[3:])):
            ss = run(load_scenario(name, {"analysis.test": test,
                                          "simulation.confirm": 0})).sample_size
            assert (ss.answer.n_control, f"{ss.answer.power:.3f}", ss.randomised_control) == (
                int(n), power, int(randomised)), (name, test)
