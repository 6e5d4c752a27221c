"""Where the chunks of a run are computed, and what is kept of them.

Every parallel evaluation is a list of independent tasks run by joblib
(:func:`run_tasks`): by default on loky worker processes; under
:func:`configured` with ``backend="dask"``, on a dask.distributed cluster
through joblib's dask backend (an existing scheduler, or a local cluster
started for the run).  Monte Carlo engines hand their chunks to
:func:`map_chunks`, which groups them into tasks and, when a chunk cache is
active (``cache=DIR``), computes only the chunks the cache does not hold and
stores each one as its task finishes, so that a run killed part-way starts
again where it stopped.  Counts are integers summed in any order, so the
results are identical whatever the backend, the number of workers, or which
chunks came from the cache.

On a dask cluster, a sweep's points that simulate run in threads of the
calling process; the chunk tasks they ask for are gathered into one flat list
per round (:class:`Rounds`), so the workers share out the chunks of every
point and a slow point does not hold the others.
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import os
import tempfile
import threading
import zipfile
from contextvars import ContextVar, copy_context
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import joblib
import numpy as np
import scipy
from joblib import Parallel, delayed

from . import SOFTWARE, __version__
from .errors import ScenarioError
from .progress import reporter_for_tasks

BACKENDS = ("loky", "dask")
TASKS_PER_WORKER = 4         # runs of chunks per worker, for balance
ROUND_THREADS = 64           # sweep points in flight at once
SCHEDULER_TIMEOUT = "30s"    # to connect to a scheduler and to see its first worker

_cache: ContextVar["ChunkCache | None"] = ContextVar("simulator_cache", default=None)
_scope: ContextVar[str | None] = ContextVar("simulator_cache_scope", default=None)
_rounds: ContextVar["Rounds | None"] = ContextVar("simulator_rounds", default=None)
_cluster_cores: ContextVar[int | None] = ContextVar("simulator_cluster_cores", default=None)


# -- running tasks -------------------------------------------------------------------------

def run_tasks(calls: Iterable, n_jobs: int, work: Sequence[int], unit: str = "trials") -> list:
    """``joblib.Parallel(n_jobs)(calls)``, results in the order of ``calls``;
    ``work[i]`` is how much work call i does, reported when it finishes."""
    return list(iterate_tasks(calls, n_jobs, work, unit))


def iterate_tasks(calls: Iterable, n_jobs: int, work: Sequence[int],
                  unit: str = "trials") -> Iterator:
    """:func:`run_tasks` as results become available, in order.  Inside a
    sweep's round (see :class:`Rounds`) the calls join the round's flat list."""
    rounds = _rounds.get()
    if rounds is not None:
        yield from rounds.submit(list(calls))
        return
    with reporter_for_tasks(work, unit) as advance:
        outputs = Parallel(n_jobs=n_jobs, return_as="generator")(calls)
        for result, amount in zip(outputs, work, strict=True):
            advance(amount)
            yield result


def _apply_each(function: Callable, chunks: list) -> list:
    return [function(*chunk) for chunk in chunks]


def _runs(indices: list[int], jobs: int, group: bool) -> list[list[int]]:
    """``indices`` split into runs of consecutive entries, one per task: a
    chunk is a few milliseconds of work, so each worker gets a run (a few runs
    per job, for balance) and dispatch costs little; one job, or ``group``
    false (heavy chunks), gives one task per chunk, so that progress and the
    cache advance chunk by chunk.  Which chunks a task holds never changes
    what a chunk computes."""
    n_tasks = len(indices) if jobs == 1 or not group else min(len(indices), TASKS_PER_WORKER * jobs)
    bounds = np.linspace(0, len(indices), n_tasks + 1).round().astype(int)
    return [indices[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


def map_chunks(function: Callable, chunks: Sequence[tuple], work: Sequence[int], jobs: int,
               group: bool = True) -> list:
    """``[function(*chunk) for chunk in chunks]`` computed by ``jobs`` workers
    (``work[i]``: trials in chunk i, for progress).  ``function`` is a
    module-level function with its fixed arguments bound (``functools.partial``),
    so that it and its arguments identify what a chunk computes; with a cache
    active, chunks already stored are read back instead of computed."""
    results: list = [None] * len(chunks)
    cache, keys = _cache.get(), None
    if cache is not None:
        keys = cache.keys(function, chunks)
        for i, key in enumerate(keys):
            results[i] = cache.load(key)
    todo = [i for i, r in enumerate(results) if r is None]
    runs = _runs(todo, jobs, group)
    if runs:
        calls = (delayed(_apply_each)(function, [chunks[i] for i in run]) for run in runs)
        outputs = iterate_tasks(calls, min(jobs, len(runs)),
                                [sum(work[i] for i in run) for run in runs])
        with contextlib.closing(outputs):
            for run, output in zip(runs, outputs, strict=True):
                for i, result in zip(run, output, strict=True):
                    results[i] = result
                    if cache is not None:
                        cache.store(keys[i], result)
    if cache is not None:
        cache.count(len(chunks) - len(todo), len(chunks))
    return results


# -- the chunk cache -----------------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def _source_digest() -> str:
    """SHA-256 of the package's source files: a chunk computed by other code is
    never reused, even within one version number.  Read once per process (a
    loky sweep opens the cache once per point)."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _worker_code() -> tuple[str, str, str]:
    """Run on each dask worker (and here, to compare): the digest of the
    package it imports and its numpy and scipy versions (all in the cache key)."""
    return _source_digest(), np.__version__, scipy.__version__


class ChunkCache:
    """Finished chunks on disk, one ``.npz`` file each under ``directory``,
    named by the SHA-256 of everything that determines the chunk: the
    package's name, version and source, the scenario's digest, the function
    and its arguments (design, sizes, rates, seed) and the chunk itself (index
    and trials).  Files are written to a temporary name and renamed, so a
    killed run leaves whole files or none; an unreadable file is recomputed."""

    def __init__(self, directory: os.PathLike | str):
        self.directory = Path(directory)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            probe = tempfile.NamedTemporaryFile(dir=self.directory, prefix=".probe-")
            probe.close()
        except OSError as err:
            raise ScenarioError(f"cannot use {self.directory} as a chunk cache ({err})",
                                field="cache") from None
        self.code = _source_digest()
        self.reused = 0
        self.chunks = 0
        self._lock = threading.Lock()

    def keys(self, function: Callable, chunks: Sequence[tuple]) -> list[str]:
        prefix = joblib.hash((SOFTWARE, __version__, self.code, np.__version__,
                              scipy.__version__, _scope.get(), function), hash_name="sha1")
        return [hashlib.sha256(f"{prefix}:{tuple(chunk)!r}".encode()).hexdigest()
                for chunk in chunks]

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.npz"

    def load(self, key: str):
        path = self._path(key)
        if not path.exists():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                parts = tuple(data[f"part{i}"] for i in range(int(data["parts"])))
                return parts if bool(data["is_tuple"]) else parts[0]
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            return None                  # damaged: computed again and replaced

    def store(self, key: str, result) -> None:
        parts = result if isinstance(result, tuple) else (result,)
        path = self._path(key)
        temporary = None
        try:
            path.parent.mkdir(exist_ok=True)
            fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".npz")
            with os.fdopen(fd, "wb") as handle:
                np.savez(handle, parts=len(parts), is_tuple=isinstance(result, tuple),
                         **{f"part{i}": np.asarray(p) for i, p in enumerate(parts)})
            os.replace(temporary, path)
        except BaseException as err:
            if temporary is not None:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)
            if isinstance(err, OSError):
                raise ScenarioError(f"cannot store a chunk in {self.directory} ({err}); the "
                                    "chunks stored so far are kept", field="cache") from None
            raise

    def count(self, reused: int, chunks: int) -> None:
        with self._lock:
            self.reused += reused
            self.chunks += chunks


@contextlib.contextmanager
def scope(digest: str):
    """Chunks computed inside the block belong to the scenario of this digest
    (part of their cache key)."""
    token = _scope.set(digest)
    try:
        yield
    finally:
        _scope.reset(token)


# -- backends ------------------------------------------------------------------------------

@contextlib.contextmanager
def _dask(scheduler: str | None, jobs: int):
    """joblib's dask backend on the cluster at ``scheduler``, or on a local
    cluster of ``jobs`` single-threaded worker processes; yields the cluster's
    cores (worker threads)."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ScenarioError("dask is an optional extra: pip install "
                            f"'{SOFTWARE}[dask]'", field="backend") from None
    with contextlib.ExitStack() as stack:
        if scheduler is None:
            n_workers = (os.cpu_count() or 1) if jobs == -1 else jobs
            try:
                address = stack.enter_context(LocalCluster(
                    n_workers=n_workers, threads_per_worker=1, processes=True,
                    host="127.0.0.1", dashboard_address=":0", silence_logs=logging.CRITICAL))
            except (OSError, RuntimeError) as err:
                raise ScenarioError(f"cannot start a local dask cluster: {err}",
                                    field="backend") from None
        else:
            address = scheduler
        field, where = ("scheduler", f"the dask scheduler at {scheduler}") if scheduler else \
            ("backend", "the local dask cluster")
        try:
            client = stack.enter_context(Client(address, timeout=SCHEDULER_TIMEOUT,
                                                set_as_default=False))
            client.wait_for_workers(1, timeout=SCHEDULER_TIMEOUT)
            codes = client.run(_worker_code, on_error="return")
        except (OSError, TimeoutError, ValueError) as err:
            raise ScenarioError(f"cannot use {where}: {str(err) or type(err).__name__}",
                                field=field) from None
        stale = sorted(worker for worker, code in codes.items() if code != _worker_code())
        if stale:
            raise ScenarioError(f"the workers {', '.join(stale)} of {where} run another "
                                f"version of {SOFTWARE} (or of numpy or scipy) than this "
                                "process, or cannot import it; install the same on every "
                                "worker", field=field)
        cores = sum(client.ncores().values())
        stack.enter_context(joblib.parallel_config(backend="dask", client=client))
        token = _cluster_cores.set(cores)
        stack.callback(_cluster_cores.reset, token)
        yield cores


@contextlib.contextmanager
def configured(backend: str | None = None, scheduler: str | None = None, jobs: int = 1,
               cache: os.PathLike | str | None = None):
    """Run the block with ``backend`` (``"loky"``, the default, or ``"dask"``:
    the cluster at ``scheduler``, or a local one of ``jobs`` workers) and, if
    ``cache`` names a directory, the chunk cache there.  Yields the number of
    workers to plan tasks for: ``jobs`` (``-1``: all cores), or the dask
    cluster's cores.  Left at None, backend and cache are those already in
    force (nested runs inherit them)."""
    if isinstance(jobs, bool) or not isinstance(jobs, int) or (jobs < 1 and jobs != -1):
        raise ValueError(f"`jobs` must be a whole number >= 1, or -1 for all cores; got {jobs!r}")
    if backend not in (None, *BACKENDS):
        raise ScenarioError(f"must be one of {', '.join(BACKENDS)}; got {backend!r}",
                            field="backend")
    if scheduler is not None and backend != "dask":
        raise ScenarioError("a scheduler address needs the dask backend (backend='dask', "
                            "or --backend dask)", field="scheduler")
    with contextlib.ExitStack() as stack:
        if cache is not None:
            token = _cache.set(ChunkCache(cache))
            stack.callback(_cache.reset, token)
        if backend == "dask":
            jobs = stack.enter_context(_dask(scheduler, jobs))
        elif backend == "loky":
            stack.enter_context(joblib.parallel_config(backend="loky"))
        if jobs == -1:
            jobs = _cluster_cores.get() or os.cpu_count() or 1
        yield jobs


def active_cache() -> ChunkCache | None:
    return _cache.get()


def on_cluster() -> bool:
    """Whether the dask backend is in force (see :func:`configured`)."""
    return _cluster_cores.get() is not None


# -- sweeps: rounds of flat chunk lists ----------------------------------------------------

class _Request:
    def __init__(self, calls: list):
        self.calls = calls
        self.results: list | None = None


class Cancelled(Exception):
    """The round that a thread waited for will not run (the run is unwinding)."""


class Rounds:
    """Runs ``work(item)`` for every item in threads of this process.  The task
    lists the threads ask for (through :func:`iterate_tasks`) are gathered into
    one flat list and run on ``jobs`` workers by the calling thread (the one
    that receives signals): a round starts as soon as tasks wait and the
    previous round is over, and each thread gets its results as soon as its
    own tasks are done."""

    def __init__(self, jobs: int):
        self.jobs = jobs
        self._cond = threading.Condition()
        self._finished = 0
        self._error: BaseException | None = None     # the first item that failed
        self._waiting: list[_Request] = []
        self._closed = False

    def submit(self, calls: list) -> list:          # in a worker thread
        request = _Request(calls)
        with self._cond:
            if self._closed:
                raise Cancelled()
            self._waiting.append(request)
            self._cond.notify_all()
            while request.results is None and not self._closed:
                self._cond.wait()
            if request.results is None:
                raise Cancelled()
        return request.results

    def _thread_body(self, work: Callable, item):
        _rounds.set(self)
        try:
            return work(item)
        except BaseException as err:
            with self._cond:
                self._error = self._error or err
            raise
        finally:
            with self._cond:
                self._finished += 1
                self._cond.notify_all()

    def map(self, work: Callable, items: list, on_done: Callable[[int], None]) -> list:
        """``[work(x) for x in items]``; ``on_done(n)`` is told, in this
        thread, as n more items finish."""
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=max(1, min(ROUND_THREADS, len(items)))) as pool:
            futures = []
            try:
                futures += [pool.submit(copy_context().run, self._thread_body, work, x)
                            for x in items]
                self._serve(len(items), on_done)
            except BaseException:
                with self._cond:
                    self._closed = True         # waiting threads raise Cancelled
                    self._cond.notify_all()
                for future in futures:
                    future.cancel()
                raise
        return [f.result() for f in futures]

    def _serve(self, n_items: int, on_done) -> None:
        reported = 0
        while True:
            with self._cond:
                while not (self._waiting or self._finished == n_items or self._error):
                    self._cond.wait()
                batch, self._waiting = self._waiting, []
                finished, error = self._finished, self._error
            on_done(finished - reported)
            reported = finished
            if error is not None:
                raise error
            if not batch:
                return                   # every item finished
            self._run(batch)

    def _run(self, batch: list[_Request]) -> None:
        """One flat list of every waiting request's tasks; each request gets its
        results as soon as its own tasks are done, in whatever order the
        tasks finish."""
        owner, results = [], []
        for r, request in enumerate(batch):
            owner += [r] * len(request.calls)
            results.append([None] * len(request.calls))
        left = [len(request.calls) for request in batch]
        tagged = ((_tagged, (i, *call), {})
                  for i, call in enumerate(c for request in batch for c in request.calls))
        offsets = np.cumsum([0] + left[:-1])
        for i, result in Parallel(n_jobs=self.jobs, return_as="generator_unordered")(tagged):
            r = owner[i]
            results[r][i - offsets[r]] = result
            left[r] -= 1
            if left[r] == 0:
                with self._cond:
                    batch[r].results = results[r]
                    self._cond.notify_all()


def _tagged(index: int, function: Callable, args: tuple, kwargs: dict):
    return index, function(*args, **kwargs)
