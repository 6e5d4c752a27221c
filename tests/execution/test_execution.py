"""Where chunks run and what is kept: the dask backend gives the loky backend's
results bit for bit, a chunk cache lets a killed run resume with identical
results and never serves a chunk of another scenario, and a sweep's
simulating points share rounds of one flat list of chunk tasks."""
import logging
import os
import signal
import subprocess
import sys
import time

import joblib
import numpy as np
import pytest
from conftest import REPO, run_cli
from simulator import ScenarioError, load_scenario, run, sensitivity
from simulator.execution import backends as execution
from simulator.report import tables as report

pytestmark = pytest.mark.cluster

distributed = pytest.importorskip("distributed")        # the `dask` extra (CI installs it)
Client, LocalCluster, get_task_stream = (distributed.Client, distributed.LocalCluster,
                                         distributed.get_task_stream)

# one scenario per engine path, small enough for a test
ENGINES = {
    "2x2 power": ("severe", {"simulation.method": "monte_carlo", "simulation.n_sims": 200_000}),
    "assurance": ("severe_prior", {"simulation.method": "monte_carlo",
                                   "simulation.n_sims": 20_000}),
    "sequential": ("severe_sequential", {"simulation.method": "monte_carlo",
                                         "simulation.n_sims": 20_000}),
    "patient-level": ("multicentre", {"simulation.n_sims": 2_000,
                                      "sample_size.n_control": 100}),
}


def as_cli(name, overrides):
    flags = {"simulation.method": "--method", "simulation.n_sims": "--n-sims",
             "sample_size.n_control": "--n-control"}
    return ["--scenario", name, "--format", "json",
            *[x for key, value in overrides.items() for x in (flags[key], str(value))]]


@pytest.fixture(scope="module")
def cluster():
    """A dask cluster of two single-threaded worker processes on 127.0.0.1."""
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=":0", silence_logs=logging.CRITICAL) as local, \
            Client(local) as client:
        yield local.scheduler_address, client


@pytest.fixture(scope="module")
def loky_json():
    """Each engine's JSON from the default backend, two jobs, no cache."""
    return {engine: run_cli(*as_cli(*spec), "--jobs", "2", check_rc=0).stdout
            for engine, spec in ENGINES.items()}


# -- dask ----------------------------------------------------------------------------------

@pytest.mark.parametrize("engine", ENGINES)
def test_dask_cluster_gives_the_loky_json_bit_for_bit(engine, cluster, loky_json):
    address, client = cluster
    with get_task_stream(client) as stream:
        proc = run_cli(*as_cli(*ENGINES[engine]), "--backend", "dask", "--scheduler", address,
                       check_rc=0)
    assert proc.stdout == loky_json[engine]
    workers = {task["worker"] for task in stream.data}
    assert len(stream.data) >= 2 and len(workers) == 2      # the chunks ran on the cluster


def test_dask_without_scheduler_starts_a_local_cluster(loky_json):
    proc = run_cli(*as_cli(*ENGINES["2x2 power"]), "--backend", "dask", "--jobs", "2",
                   check_rc=0)
    assert proc.stdout == loky_json["2x2 power"] and proc.stderr == ""
    with execution.configured("dask", None, 2) as cores:
        backend, _ = joblib.parallel.get_active_backend()
        assert cores == 2 and type(backend).__name__ == "DaskDistributedBackend"
        assert set(backend.client.run(os.getpid).values()).isdisjoint({os.getpid()})


def test_workers_running_other_code_are_refused(cluster, monkeypatch):
    monkeypatch.setattr(execution, "_source_digest", lambda: "another version")
    with pytest.raises(ScenarioError, match="run another version") as err:
        run(load_scenario("severe"), backend="dask", scheduler=cluster[0])
    assert err.value.field == "scheduler"


def test_dask_from_the_library_and_a_sweep_on_the_cluster(cluster):
    address, client = cluster
    scenario = load_scenario("severe", {"simulation.method": "monte_carlo",
                                        "simulation.n_sims": 20_000})
    grid = {"arms.treatment.rate": [0.6, 0.69]}
    local = sensitivity(scenario, grid, jobs=2)
    with get_task_stream(client) as stream:
        remote = sensitivity(scenario, grid, backend="dask", scheduler=address)
        single = run(scenario, backend="dask", scheduler=address)
    assert report.to_json(remote) == report.to_json(local)
    assert report.to_json(single) == report.to_json(run(scenario))
    assert len({task["worker"] for task in stream.data}) == 2


def test_backend_errors_are_one_line_and_exit_2(monkeypatch, tmp_path):
    proc = run_cli("--scheduler", "tcp://127.0.0.1:1", check_rc=2)
    assert proc.stderr.startswith("simulate: error: `--scheduler` ") and "dask" in proc.stderr
    assert len(proc.stderr.splitlines()) == 1
    proc = run_cli("--backend", "spark", check_rc=2)
    assert "--backend" in proc.stderr and "loky" in proc.stderr
    (tmp_path / "file").write_text("x")
    proc = run_cli("--cache", tmp_path / "file" / "sub", check_rc=2)
    assert proc.stderr.startswith("simulate: error: `--cache` cannot use") and proc.stdout == ""
    # unreachable scheduler, and dask not installed: library errors name the field
    scenario = load_scenario("severe")
    with pytest.raises(ScenarioError, match="cannot reach the dask scheduler") as err:
        run(scenario, backend="dask", scheduler="tcp://127.0.0.1:1")
    assert err.value.field == "scheduler"
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(ScenarioError, match=r"pip install 'ivig-trial-simulator\[dask\]'"):
        run(scenario, backend="dask")
    with pytest.raises(ValueError, match="jobs"):
        run(scenario, jobs=0)


# -- chunk cache ---------------------------------------------------------------------------

def cached_run(scenario, directory, jobs=1):
    """The result and (chunks reused, chunks in all) of a run with the cache."""
    with execution.configured(jobs=jobs, cache=directory) as workers:
        result = run(scenario, jobs=workers)
        cache = execution.active_cache()
        return report.to_json(result), (cache.reused, cache.chunks)


def chunk_files(directory):
    return sorted(p for p in directory.rglob("*.npz") if not p.name.startswith("."))


@pytest.mark.parametrize("engine", ENGINES)
def test_every_engine_reuses_its_cached_chunks_with_identical_results(engine, tmp_path,
                                                                      loky_json):
    scenario = load_scenario(*ENGINES[engine])
    first, (reused, total) = cached_run(scenario, tmp_path, jobs=2)
    stored = len(chunk_files(tmp_path))     # (a chunk asked for twice in a run is read back)
    assert stored > 0 and reused + stored == total
    again, (reused, total_again) = cached_run(scenario, tmp_path)
    assert reused == total_again == total            # nothing computed the second time
    assert first == again == loky_json[engine]


def test_a_changed_scenario_seed_or_version_never_reuses_chunks(tmp_path, monkeypatch):
    name, overrides = ENGINES["2x2 power"]
    base = load_scenario(name, {**overrides, "simulation.n_sims": 100_000})
    cached_run(base, tmp_path)
    for change in ({"arms.treatment.rate": 0.68}, {"simulation.seed": 1},
                   {"title": "another title"}, {"analysis.test": "z_pooled"}):
        changed = base.override(change)
        result, (reused, total) = cached_run(changed, tmp_path)
        assert reused == 0 and total > 0, change
        assert result == report.to_json(run(changed)), change
    monkeypatch.setattr(execution, "__version__", "0.0.0-other")
    assert cached_run(base, tmp_path)[1][0] == 0


def test_a_damaged_chunk_file_is_computed_again(tmp_path):
    scenario = load_scenario("severe", {"simulation.method": "monte_carlo",
                                        "simulation.n_sims": 100_000})
    expected, _ = cached_run(scenario, tmp_path)
    files = chunk_files(tmp_path)
    files[0].write_bytes(b"not a chunk")
    files[1].write_bytes(files[1].read_bytes()[:20])
    result, (reused, total) = cached_run(scenario, tmp_path)
    assert result == expected and reused < total
    cache = execution.ChunkCache(tmp_path)
    assert all(cache.load(path.stem, 10 ** 9) is not None for path in files[:2])   # replaced


def test_opening_the_cache_removes_the_temporary_files_of_dead_writers_only(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    (tmp_path / "ab").mkdir()
    orphan = tmp_path / "ab" / f".tmp-{dead}-x1.npz"
    writing = tmp_path / "ab" / f".tmp-{os.getpid()}-x2.npz"     # a live writer's
    for path in (orphan, writing):
        path.write_bytes(b"half a chunk")
    execution.ChunkCache(tmp_path)
    assert not orphan.exists() and writing.exists()


def test_a_run_killed_midway_resumes_from_its_chunks_bit_for_bit(tmp_path):
    cache = tmp_path / "cache"
    args = ["--scenario", "severe", "--method", "monte_carlo", "--n-sims", "4000000",
            "--format", "json", "--cache", str(cache)]
    proc = subprocess.Popen([sys.executable, "-m", "cli", *args, "--jobs", "2"], cwd=REPO,
                            env=dict(os.environ, PYTHONPATH=str(REPO)),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while len(chunk_files(cache)) < 20 and time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 143 and stdout == "", stderr
    kept = {path: path.stat().st_mtime_ns for path in chunk_files(cache)}
    opened = execution.ChunkCache(cache)              # whole chunk files only
    assert all(opened.load(path.stem, 10 ** 9) is not None for path in kept)
    assert opened.recomputed == 0 and not list(cache.rglob(".tmp-*"))   # no orphans
    resumed = run_cli(*args, check_rc=0)              # one job this time
    reused, total = map(lambda s: int(s.replace(",", "")),
                        resumed.stderr.split(": ")[-1].split(" chunks")[0].split(" of "))
    assert len(kept) <= reused < total
    assert all(path.stat().st_mtime_ns == mtime for path, mtime in kept.items())
    fresh = run_cli(*args[:-2], "--jobs", "2", check_rc=0)
    assert resumed.stdout == fresh.stdout


# -- sweeps: flat rounds -------------------------------------------------------------------

def test_a_sweep_on_a_cluster_runs_its_points_chunks_as_flat_rounds(monkeypatch, cluster):
    rates_per_call = []      # treatment rates whose chunks each parallel call ran

    class Recording(joblib.Parallel):
        def __call__(self, iterable):
            tasks = list(iterable)          # (_tagged, (i, _apply_each, (partial, chunks), {}))
            calls = [args[2] if fn is execution._tagged else args for fn, args, _ in tasks]
            rates_per_call.append({call[0].args[1][0][0].rate for call in calls})
            time.sleep(0.1)                 # slow workers: the other points' tasks queue up
            return super().__call__(tasks)

    scenario = load_scenario("severe", {"simulation.method": "monte_carlo",
                                        "simulation.n_sims": 20_000})
    grid = {"arms.treatment.rate": [0.55, 0.6, 0.65, 0.69]}
    expected = sensitivity(scenario, grid, jobs=2)
    monkeypatch.setattr(joblib, "Parallel", Recording)
    result = sensitivity(scenario, grid, backend="dask", scheduler=cluster[0])
    assert report.to_json(result) == report.to_json(expected)
    # while one list of tasks runs, the other points' tasks queue up and go out together
    assert max(len(rates) for rates in rates_per_call) >= 3
    for point, values in zip(result.sweep, grid["arms.treatment.rate"]):
        alone = run(scenario.override({"arms.treatment.rate": values,
                                       "sample_size.n_control": None}))
        assert point.n_control == alone.sample_size.answer.n_control


def test_a_sweep_point_error_on_a_cluster_is_raised(monkeypatch, cluster):
    from simulator.planning import sweep

    def failing(values, scenario, planned):
        if values["arms.treatment.rate"] == 0.6:
            raise RuntimeError("boom")
        return real(values, scenario, planned)
    real = sweep._evaluate_point
    monkeypatch.setattr(sweep, "_evaluate_point", failing)
    scenario = load_scenario("severe", {"simulation.method": "monte_carlo",
                                        "simulation.n_sims": 20_000})
    with pytest.raises(RuntimeError, match="boom"):
        sensitivity(scenario, {"arms.treatment.rate": [0.55, 0.6, 0.65]}, backend="dask",
                    scheduler=cluster[0])


def test_chunk_results_round_trip_through_the_cache(tmp_path):
    cache = execution.ChunkCache(tmp_path)
    single = np.arange(5, dtype=np.int64)
    pair = (np.ones((2, 3), dtype=np.int64), np.zeros(4, dtype=np.int64))
    cache.store("ab" * 32, single)
    cache.store("cd" * 32, pair)
    assert np.array_equal(cache.load("ab" * 32, 4), single)
    loaded = cache.load("cd" * 32, 1)
    assert isinstance(loaded, tuple) and all(np.array_equal(a, b) for a, b in zip(loaded, pair))
    assert cache.load("ef" * 32, 10) is None
    # a count above what the chunk can hold is refused (and recomputed)
    assert cache.load("ab" * 32, 3) is None and cache.recomputed == 1


@pytest.mark.parametrize("backend, jobs", [("loky", 1), ("loky", 2), ("dask", 2)])
def test_a_sweep_resumes_from_the_cache(tmp_path, backend, jobs, cluster):
    scenario = load_scenario("severe", {"simulation.method": "monte_carlo",
                                        "simulation.n_sims": 20_000})
    grid = {"arms.treatment.rate": [0.6, 0.69]}
    expected = report.to_json(sensitivity(scenario, grid, jobs=2))
    scheduler = cluster[0] if backend == "dask" else None
    for attempt in range(2):
        with execution.configured(backend, scheduler, jobs, tmp_path) as workers:
            assert report.to_json(sensitivity(scenario, grid, jobs=workers)) == expected
            cache = execution.active_cache()
            assert (cache.reused == cache.chunks) == (attempt == 1) and cache.chunks > 0


def test_a_chunk_that_cannot_be_stored_is_a_one_line_error(tmp_path):
    for i in range(256):                     # every chunk's subdirectory name taken by a file
        (tmp_path / f"{i:02x}").write_text("")
    scenario = load_scenario("severe", {"simulation.method": "monte_carlo",
                                        "simulation.n_sims": 1_000})
    with pytest.raises(ScenarioError, match="cannot store a chunk") as err:
        run(scenario, cache=tmp_path)
    assert err.value.field == "cache"


def test_the_table_caches_are_safe_across_threads():
    from concurrent.futures import ThreadPoolExecutor
    from simulator.engines.design import bounded_cache

    @bounded_cache(max_entries=8, max_bytes=10 ** 6)
    def table(n):
        return np.full(50, n)

    def hammer(seed):
        rng = np.random.default_rng(seed)
        return all(table(int(n))[0] == n for n in rng.integers(0, 32, 5_000))

    with ThreadPoolExecutor(8) as pool:
        assert all(pool.map(hammer, range(8)))
