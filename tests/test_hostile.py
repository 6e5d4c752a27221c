"""Hostile input and faults, each run as a user would: the command in a fresh
process under a timeout, checked for its exit status, exactly one line on
stderr naming the key or the resource at fault, nothing written, and the time
it took.  The dask cases run against a scheduler started on 127.0.0.1 and a
silent listener there, nothing else.

``CASES`` lists the simple ones by class; the tests after it build what the
others need (a FIFO, a forged cache, a cluster to kill)."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO

pytestmark = pytest.mark.slow

PYTHON = [sys.executable, "-m", "cli"]
ENV = dict(os.environ, PYTHONPATH=str(REPO))


def simulate(*args, cwd, timeout=120, stdout=subprocess.PIPE, **popen):
    """(exit status, stdout, stderr lines, seconds) of one run of the command."""
    start = time.monotonic()
    proc = subprocess.run([*PYTHON, *map(str, args)], cwd=cwd, env=ENV, stdout=stdout,
                          stderr=subprocess.PIPE, text=True, timeout=timeout, **popen)
    lines = [x for x in proc.stderr.splitlines() if x.strip()]
    return proc.returncode, proc.stdout, lines, time.monotonic() - start


def one_line(lines, *needles):
    assert len(lines) == 1, lines
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f]", lines[0]), lines[0]


# (class, arguments, exit status, what the one line must name, most seconds)
CASES = [
    # the scheduler's address
    ("scheduler address", ["--backend", "dask", "--scheduler", "garbage"], 2, "`--scheduler`", 15),
    ("scheduler address", ["--backend", "dask", "--scheduler", ""], 2, "`--scheduler` is empty", 15),
    ("scheduler address", ["--backend", "dask", "--scheduler", "foo://127.0.0.1:8786"], 2,
     "`--scheduler`", 15),
    ("scheduler address", ["--backend", "dask", "--scheduler", "tcp://127.0.0.1"], 2,
     "`--scheduler`", 15),
    ("scheduler address", ["--backend", "dask", "--scheduler", "inproc://x"], 2,
     "`--scheduler`", 15),
    ("scheduler address", ["--backend", "dask", "--scheduler", "tls://127.0.0.1:1"], 2,
     "`--scheduler`", 15),
    ("scheduler address", ["--backend", "dask", "--scheduler", "tcp://127.0.0.1:1"], 2,
     "cannot reach", 15),
    ("scheduler address", ["--scheduler", "tcp://127.0.0.1:1"], 2, "`--scheduler`", 15),
    ("scheduler address", ["--backend", "dask", "--scheduler", "tcp://127.0.0.1:8786",
                           "--scheduler-timeout", "0"], 2, "`--scheduler-timeout`", 15),
    # options that would start too many processes
    ("jobs", ["--jobs", "1000"], 2, "`--jobs`", 15),
    ("jobs", ["--jobs", "0"], 2, "`--jobs`", 15),
    ("jobs", ["--backend", "dask", "--jobs", "1000"], 2, "`--jobs`", 15),
    # one-line text fields: newlines, escape sequences, carriage returns
    ("control characters", ["--set", "title=\"a\\n```\\n<script>x</script>\""], 2, "`title`", 15),
    ("control characters", ["--set", "arms.control.label=\"\\e]52;c;aGVsbG8=\\a\""], 2,
     "`arms.control.label`", 15),
    ("control characters", ["--set", "arms.treatment.label=\"ok\\rIVIg\""], 2,
     "`arms.treatment.label`", 15),
    ("control characters", ["--set", "endpoint=\"live\\tbirth\""], 2, "`endpoint`", 15),
    ("control characters", ["--set", "source=\"Peero\\e[2J\""], 2, "`source`", 15),
    ("control characters", ["--set", "references=[\"ok\", \"a\\nb\"]"], 2, "`references`", 15),
    # values that cannot mean anything
    ("bounds", ["--scenario", "severe_prior", "--set", "arms.treatment.rate={beta: [1e154, 2e154]}"],
     2, "`arms.treatment.rate.beta`", 15),
    ("bounds", ["--scenario", "severe_prior", "--set", "arms.treatment.rate={beta: [1.0e-300, 1.0e-300]}",
                "--set", "target_assurance=0.5"], 2, "`arms.treatment.rate.beta`", 15),
    ("bounds", ["--set", "dropout=0.9999995"], 2, "`dropout`", 30),
    ("bounds", ["--scenario", "severe_prior", "--set", "arms.control.rate={events: 5, n: 100000000}"],
     2, "`arms.control.rate.n`", 15),
    # keys that do nothing, and model switches that must be explicit
    ("key that does nothing", ["--scenario", "severe_sequential", "--set",
                               "interim.futility={spending: hsd, gamma: -2, binding: false}"],
     2, "`interim.futility.", 15),
    ("key that does nothing", ["--scenario", "severe_sequential", "--set", "interim={}"], 2,
     "`interim`", 15),
    ("key that does nothing", ["--scenario", "severe_sequential", "--set", "interim=null"], 2,
     "`interim`", 15),
    ("key that does nothing", ["--set", "analysis.bayesian={prior: vague}"], 2,
     "`analysis.bayesian.prior`", 15),
    ("key that does nothing", ["--scenario", "multicentre", "--set",
                               "recruitment.target_months=null", "--set",
                               "recruitment.target_probability=0.9"], 2,
     "`recruitment.target_probability`", 15),
    ("key that does nothing", ["--scenario", "multicentre", "--set",
                               "population.covariates.age={distribution: truncated_normal, "
                               "mean: 37, sd: 4, log_odds_per_unit: -0.08}"], 2,
     "`population.covariates.age.lower`", 15),
    ("key that does nothing", ["--scenario", "severe_sequential", "--set",
                               "interim.efficacy.gamma=-2"], 2, "`interim.efficacy.gamma`", 15),
    ("key that does nothing", ["--set", "randomisation.block_sizes=[4]"], 2,
     "`randomisation.block_sizes`", 15),
    ("model switch", ["--set", "analysis.primary=logistic"], 2, "`analysis.primary`", 15),
    ("model switch", ["--set", "analysis.logistic_test=likelihood_ratio"], 2,
     "`analysis.logistic_test`", 15),
    ("model switch", ["--set", "centres.number=3"], 2, "`centres.number`", 15),
    ("model switch", ["--scenario", "severe_sequential", "--set", "model=patient"], 2,
     "`model`", 15),
]


@pytest.mark.parametrize("kind, args, status, needle, seconds", CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_a_hostile_case_is_one_line_promptly_and_writes_nothing(tmp_path, kind, args, status,
                                                                needle, seconds):
    code, out, lines, took = simulate(*args, "--out", tmp_path / "out", "--cache",
                                      tmp_path / "cache", cwd=tmp_path, timeout=seconds + 60)
    assert code == status, (code, lines)
    one_line(lines, needle)
    assert took < seconds, took
    assert not (tmp_path / "out").exists() and out == ""
    assert not any((tmp_path / "cache").rglob("*.npz"))


# -- files that are not files --------------------------------------------------------------

def test_a_fifo_as_the_scenario_is_refused_before_it_is_opened(tmp_path):
    fifo = tmp_path / "scenario.yaml"
    os.mkfifo(fifo)
    code, _, lines, took = simulate("--scenario", fifo, cwd=tmp_path, timeout=60)
    assert code == 2 and took < 15
    one_line(lines, "scenario.yaml", "not a regular file")


def test_an_escape_sequence_in_a_file_name_is_shown_escaped(tmp_path):
    code, out, lines, _ = simulate("--scenario", "no\x1b]0;pwned\x07such", cwd=tmp_path)
    assert code == 2
    one_line(lines, "\\x1b", "\\x07")


# -- outputs and the terminal --------------------------------------------------------------

def test_a_full_device_is_one_line_and_a_failure(tmp_path):
    with open("/dev/full", "w") as full:
        code, _, lines, _ = simulate("--format", "json", cwd=tmp_path, stdout=full)
    assert code == 1
    one_line(lines, "stdout", "No space left on device")


def test_a_closed_stdout_is_one_line_and_a_failure(tmp_path):
    start = time.monotonic()
    proc = subprocess.run([*PYTHON, "--format", "json"], cwd=tmp_path, env=ENV,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                          timeout=60, preexec_fn=lambda: os.close(1))
    lines = proc.stderr.splitlines()
    assert proc.returncode == 1 and time.monotonic() - start < 30
    one_line(lines, "stdout is closed")


def test_the_manifest_is_checked_before_the_run(tmp_path):
    (tmp_path / "out" / ".simulate-outputs").mkdir(parents=True)
    code, _, lines, _ = simulate("--out", tmp_path / "out", "--force", cwd=tmp_path)
    assert code == 2
    one_line(lines, ".simulate-outputs", "not a regular file")
    assert [p.name for p in (tmp_path / "out").iterdir()] == [".simulate-outputs"]


def test_a_cache_inside_the_output_directory_does_not_make_it_not_empty(tmp_path):
    args = ["--method", "monte_carlo", "--n-sims", "1000", "--out", tmp_path / "x",
            "--cache", tmp_path / "x" / "cache", "--quiet"]
    code, _, lines, _ = simulate(*args, "--set", "sample_size.max_control=3", cwd=tmp_path)
    assert code == 2 and "`sample_size.max_control`" in lines[0]
    code, _, lines, _ = simulate(*args, cwd=tmp_path)
    assert code == 0, lines
    assert (tmp_path / "x" / "report.docx").is_file()


def test_force_keeps_a_file_the_user_put_in_place_of_an_earlier_output(tmp_path):
    out = tmp_path / "out"
    assert simulate("--out", out, "--sweep", "arms.treatment.rate=0.5:0.6:0.1", "--quiet",
                    cwd=tmp_path)[0] == 0
    (out / "sweep.csv").write_text("my own table\n")
    assert simulate("--out", out, "--force", "--quiet", cwd=tmp_path)[0] == 0
    assert (out / "sweep.csv").read_text() == "my own table\n"
    # an output it wrote and nobody changed is removed when not produced again
    assert simulate("--out", out, "--force", "--scenario", "severe_sequential", "--quiet",
                    cwd=tmp_path)[0] == 0
    assert (out / "looks.csv").exists()
    assert simulate("--out", out, "--force", "--quiet", cwd=tmp_path)[0] == 0
    assert not (out / "looks.csv").exists() and (out / "sweep.csv").exists()


def test_a_failed_write_leaves_no_empty_directory(tmp_path, monkeypatch):
    from simulator import load_scenario, run
    from simulator.report import outputs
    result = run(load_scenario("severe", {"simulation.confirm": 0}))

    def fail(*args, **kwargs):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(outputs.tempfile, "mkstemp", fail)
    with pytest.raises(OSError):
        outputs.write(result, tmp_path / "new" / "out")
    assert not (tmp_path / "new" / "out").exists()


SIGNAL_AFTER_COMMIT = """
import os, signal, sys
sys.argv = ["simulate", "--out", sys.argv[1], "--quiet"]
import cli
from simulator.report import outputs
write = outputs.write
def late(result, out_dir, on_commit=None):
    def commit():
        on_commit()
        os.kill(os.getpid(), signal.{name})     # held until the outputs are in place
    return write(result, out_dir, on_commit=commit)
outputs.write = late
cli.main()
"""


@pytest.mark.parametrize("name", ["SIGTERM", "SIGINT"])
def test_a_signal_once_the_outputs_are_in_place_does_not_fail_the_run(tmp_path, name):
    proc = subprocess.run([sys.executable, "-c", SIGNAL_AFTER_COMMIT.replace("{name}", name),
                           str(tmp_path / "out")], cwd=REPO, env=ENV, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert (tmp_path / "out" / "report.html").is_file()


@pytest.mark.parametrize("sig, status, word", [(signal.SIGTERM, 143, "terminated"),
                                               (signal.SIGINT, 130, "interrupted")])
def test_a_signal_during_a_two_job_run_is_one_line(tmp_path, sig, status, word):
    proc = subprocess.Popen([*PYTHON, "--method", "monte_carlo", "--n-sims", "50000000",
                             "--jobs", "2", "--quiet", "--out", tmp_path / "out"],
                            cwd=tmp_path, env=ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    time.sleep(5)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == status
    assert err.splitlines() == [f"simulate: {word}"
                                f"{' (SIGTERM)' if sig == signal.SIGTERM else ''}; "
                                "no results written"], err
    assert not (tmp_path / "out").exists()


# -- the chunk cache is never trusted blindly -----------------------------------------------

CACHED = ["--method", "monte_carlo", "--n-sims", "200000", "--format", "json"]


@pytest.fixture(scope="module")
def cached_run(tmp_path_factory):
    """A cache of 4 chunks, and the JSON of the run that stored them."""
    root = tmp_path_factory.mktemp("cache")
    code, out, lines, _ = simulate(*CACHED, "--cache", root / "cache", cwd=root)
    assert code == 0, lines
    return root / "cache", out


def chunk_files(cache: Path) -> list[Path]:
    return sorted(cache.rglob("*.npz"))


def forge(path: Path, how: str, other: Path) -> None:
    """Replace a stored chunk with a valid .npz of the wrong content."""
    with np.load(path) as data:
        parts = {k: data[k] for k in data.files}
    counts = parts["part0"]
    if how == "copy":
        shutil.copyfile(other, path)
        return
    if how == "fifo":
        path.unlink()
        os.mkfifo(path)
        return
    forged = {"negated": -counts, "zeros": np.zeros_like(counts),
              "nan": np.full(counts.shape, np.nan), "shape": np.zeros((3, 7), np.int64),
              "float": counts.astype(float), "huge": counts + 10 ** 9}[how]
    parts["part0"] = forged
    np.savez(path, **parts)


@pytest.mark.parametrize("how", ["negated", "zeros", "nan", "shape", "float", "huge", "copy",
                                 "fifo"])
def test_a_forged_chunk_is_recomputed_and_said(tmp_path, cached_run, how):
    cache, expected = cached_run
    copy = tmp_path / "cache"
    shutil.copytree(cache, copy)
    files = chunk_files(copy)
    forge(files[0], how, files[1])
    code, out, lines, took = simulate(*CACHED, "--cache", copy, cwd=tmp_path, timeout=120)
    assert code == 0, lines
    assert json.loads(out) == json.loads(expected)
    one_line(lines, "1 recomputed")
    reused, total = map(int, re.search(r"([\d,]+) of ([\d,]+) chunks", lines[0]).groups())
    assert reused == total - 1
    assert took < 60
    code, out, lines, _ = simulate(*CACHED, "--cache", copy, cwd=tmp_path)     # repaired
    one_line(lines, f"{total} of {total} chunks reused")


def test_cache_errors_are_not_blamed_on_the_scenario_file(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    for i in range(256):            # where each chunk's directory would go, a file
        (cache / f"{i:02x}").write_text("")
    code, _, lines, _ = simulate("--method", "monte_carlo", "--cache", cache, cwd=tmp_path)
    assert code == 2
    one_line(lines, "`--cache`", "cannot store a chunk")
    assert "severe.yaml" not in lines[0]


# -- workers stop with their parent ---------------------------------------------------------

def children_of(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-eo", "pid,ppid"], capture_output=True, text=True).stdout
    pairs = [tuple(map(int, line.split())) for line in out.splitlines()[1:] if line.strip()]
    return [p for p, parent in pairs if parent == pid]


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split()[2] != "Z"          # a zombie has ended
    except OSError:
        return False


def test_kill_9_of_a_two_job_sweep_stops_its_workers_within_seconds(tmp_path):
    proc = subprocess.Popen([*PYTHON, "--method", "monte_carlo", "--n-sims", "2000000",
                             "--sweep", "arms.treatment.rate=0.4:0.7:0.05", "--jobs", "2",
                             "--quiet", "--cache", tmp_path / "cache"], cwd=tmp_path, env=ENV,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    workers = []
    while len(workers) < 2 and time.monotonic() < deadline:
        time.sleep(0.5)
        workers = children_of(proc.pid)
    assert workers, "no worker started"
    time.sleep(3)                       # the workers are computing sweep points
    proc.kill()
    proc.wait()
    time.sleep(3)
    assert not [pid for pid in workers if alive(pid)]


# -- dask: a silent listener, and a cluster that dies during the run ----------------------

def test_a_silent_listener_is_given_up_after_the_timeout(tmp_path):
    pytest.importorskip("distributed")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    try:
        code, _, lines, took = simulate("--backend", "dask", "--scheduler",
                                        f"tcp://127.0.0.1:{port}", "--scheduler-timeout", "3",
                                        "--out", tmp_path / "out", cwd=tmp_path, timeout=60)
    finally:
        listener.close()
    assert code == 2 and took < 15
    one_line(lines, "`--scheduler`", "did not answer within 3 s")
    assert not (tmp_path / "out").exists()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def scheduler(tmp_path):
    """A dask scheduler and one worker (no nanny) on 127.0.0.1, as processes
    of their own that a test may kill."""
    pytest.importorskip("distributed")
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    logs = open(tmp_path / "dask.log", "w")
    sched = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host",
                              "127.0.0.1", "--port", str(port), "--no-dashboard"],
                             stdout=logs, stderr=logs, env=ENV)
    worker = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address,
                               "--nthreads", "1", "--no-dashboard", "--no-nanny"],
                              stdout=logs, stderr=logs, env=ENV)
    deadline = time.monotonic() + 60
    while "Starting established connection" not in (tmp_path / "dask.log").read_text():
        assert time.monotonic() < deadline, (tmp_path / "dask.log").read_text()
        time.sleep(0.3)
    yield address, sched, worker
    for proc in (worker, sched):
        proc.kill()
        proc.wait()
    logs.close()


@pytest.mark.parametrize("victim, needle", [("scheduler", "stopped answering"),
                                            ("worker", "has no worker left")])
def test_a_cluster_that_dies_during_the_run_is_one_line_and_keeps_the_cache(
        tmp_path, scheduler, victim, needle):
    address, sched, worker = scheduler
    proc = subprocess.Popen([*PYTHON, "--method", "monte_carlo", "--n-sims", "100000000",
                             "--backend", "dask", "--scheduler", address,
                             "--scheduler-timeout", "5", "--quiet", "--cache",
                             tmp_path / "cache", "--out", tmp_path / "out"], cwd=tmp_path,
                            env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not chunk_files(tmp_path / "cache") and time.monotonic() < deadline:
        time.sleep(0.3)
    stored = len(chunk_files(tmp_path / "cache"))
    assert stored, "no chunk was stored"
    (sched if victim == "scheduler" else worker).kill()
    killed = time.monotonic()
    out, err = proc.communicate(timeout=120)
    lines = [x for x in err.splitlines() if x.strip()]
    assert proc.returncode == 1, err
    one_line(lines, "`--scheduler`", needle, "kept in the cache")
    assert time.monotonic() - killed < 60
    assert len(chunk_files(tmp_path / "cache")) >= stored and out == ""
    assert not (tmp_path / "out").exists()


# -- strict JSON, and searches that cannot crawl ---------------------------------------------

def test_results_are_strict_json_and_a_non_finite_value_is_null_with_a_reason():
    from simulator import load_scenario, run
    from simulator.report.tables import to_json
    from simulator.results import strict

    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")
    for name in ("severe", "severe_prior", "severe_sequential"):
        json.loads(to_json(run(load_scenario(name))), parse_constant=refuse)
    doc = strict({"a": 1.0, "b": [float("nan"), 2], "c": {"d": float("-inf")}})
    assert doc["b"] == [None, 2] and doc["c"]["d"] is None
    assert [n["field"] for n in doc["non_finite"]] == ["b[0]", "c.d"]
    assert all(n["reason"] for n in doc["non_finite"])
