"""Exact evaluations shared out between threads (issue 18): the values are
those of one thread, bit for bit, whatever the number of threads; workers of
a parallel run use one; ``SIMULATOR_THREADS`` is checked before a run."""
import os
import threading

import pytest
from conftest import run_cli
from simulator import ScenarioError, load_scenario, run
from simulator.engines import design as design_module
from simulator.execution import threads
from simulator.report import tables as report


def test_map_threads_keeps_the_order(monkeypatch):
    items = list(range(50))
    for count in ("1", "3"):
        monkeypatch.setenv(threads.ENVIRONMENT, count)
        assert threads.map_threads(lambda m: m * m, items) == [m * m for m in items]
    assert threads.map_threads(str, []) == []


@pytest.mark.parametrize("name, overrides", [
    # an effect prior (quadrature over the risk ratio), at sizes that keep it quick
    ("skeptical", {"sample_size.n_control": 60}),
    # beta priors on both rates, and the power search with its windows of sizes
    ("severe_prior", {}),
])
def test_exact_results_are_the_same_on_one_thread_and_on_several(monkeypatch, name, overrides):
    names = []
    table = design_module.decision_table

    def recording(*args):
        names.append(threading.current_thread().name)
        return table(*args)
    scenario = load_scenario(name, overrides)
    outputs = {}
    for count in ("1", "3"):
        monkeypatch.setenv(threads.ENVIRONMENT, count)
        design_module.decision_table.cache_clear()
        monkeypatch.setattr("simulator.engines.exact.decision_table", recording)
        monkeypatch.setattr("simulator.engines.assurance.decision_table", recording)
        outputs[count] = report.to_json(run(scenario))
        used = {n.startswith("simulator-size") for n in names}
        assert used == ({False} if count == "1" else {True, False}), (count, used)
        names.clear()
    assert outputs["1"] == outputs["3"]


@pytest.mark.parametrize("value", ["0", "-2", "two", "1.5", ""])
def test_a_bad_thread_count_is_one_line_naming_the_variable(monkeypatch, value):
    monkeypatch.setenv(threads.ENVIRONMENT, value)
    with pytest.raises(ScenarioError, match="whole number of threads") as err:
        threads.thread_count()
    assert err.value.field == threads.ENVIRONMENT


@pytest.mark.slow
def test_the_command_checks_the_thread_count_before_running(monkeypatch):
    monkeypatch.setenv(threads.ENVIRONMENT, "0")
    proc = run_cli("--scenario", "severe", "-q", check_rc=2)
    assert proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [
        "simulate: error: `SIMULATOR_THREADS` must be a whole number of threads, 1 or more "
        "(unset: every core); got '0'"]


@pytest.mark.slow
def test_a_worker_process_of_a_parallel_run_uses_one_thread(monkeypatch):
    import joblib
    monkeypatch.delenv(threads.ENVIRONMENT, raising=False)
    counts = joblib.Parallel(n_jobs=2)(joblib.delayed(threads.thread_count)() for _ in range(2))
    assert counts == [1, 1]
    assert threads.thread_count() == threads.cores()


@pytest.mark.slow
@pytest.mark.parametrize("setting, expected", [({}, 1), ({"OPENBLAS_NUM_THREADS": "2"}, 2)])
def test_the_command_runs_blas_on_one_thread_unless_told(monkeypatch, setting, expected):
    """BLAS's own threads only compete with the threads of exact evaluations;
    a user's OPENBLAS_NUM_THREADS (or OMP_, MKL_, BLIS_) is left as it is."""
    import subprocess
    import sys
    from conftest import REPO
    env = {k: v for k, v in os.environ.items() if k not in threads.BLAS_ENVIRONMENT}
    env.update(setting, PYTHONPATH=str(REPO))
    code = ("import threadpoolctl, simulator.cli as c; c.threads.one_blas_thread(); "
            "print(sorted({i['num_threads'] for i in threadpoolctl.threadpool_info() "
            "if i['user_api'] == 'blas'}))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == f"[{expected}]"
