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
import socket
import stat
import tempfile
import threading
import time
import zipfile
from contextvars import ContextVar, copy_context
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np
import scipy

from ..version import SOFTWARE, __version__
from ..errors import RunFailed, ScenarioError
from .progress import reporter_for_tasks
from .threads import thread_count

BACKENDS = ("loky", "dask")
TASKS_PER_WORKER = 4         # runs of chunks per worker, for balance
ROUND_THREADS = 64           # sweep points in flight at once
SCHEDULER_TIMEOUT = 10.0     # seconds to reach a scheduler, see its first worker, reconnect
JOBS_PER_CORE = 4            # more workers than this many per core only cost memory
SCHEMES = ("tcp", "ws")      # scheduler addresses taken (tls:// and wss:// need certificates)

_cache: ContextVar["ChunkCache | None"] = ContextVar("simulator_cache", default=None)
_scope: ContextVar[str | None] = ContextVar("simulator_cache_scope", default=None)
_rounds: ContextVar["Rounds | None"] = ContextVar("simulator_rounds", default=None)
_cluster_cores: ContextVar[int | None] = ContextVar("simulator_cluster_cores", default=None)
_cluster: ContextVar[tuple | None] = ContextVar("simulator_cluster", default=None)
_loky: ContextVar[bool] = ContextVar("simulator_loky", default=False)
_DRIVER = {"pid": None}      # the process that configured the run (workers are others)
_WRITING: set[str] = set()   # temporary chunk files this process is writing


# -- running tasks -------------------------------------------------------------------------

def delayed(function: Callable) -> Callable:
    """``joblib.delayed``: ``delayed(f)(*args, **kwargs)`` is the task
    ``(f, args, kwargs)`` (joblib itself is imported only when tasks run in
    parallel: a tenth of a second of every command's start)."""
    def task(*args, **kwargs):
        return function, args, kwargs
    return task


def _parallel(n_jobs: int, return_as: str):
    """``joblib.Parallel``, under the loky backend if :func:`configured` asked
    for it by name (else the backend in force: dask's, or the caller's)."""
    import joblib
    with joblib.parallel_config(backend="loky") if _loky.get() else contextlib.nullcontext():
        return joblib.Parallel(n_jobs=n_jobs, return_as=return_as)


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
    with reporter_for_tasks(work, unit) as advance, cluster_guard():
        if n_jobs == 1 and not on_cluster():     # in this process, as joblib would
            outputs = (function(*args, **kwargs) for function, args, kwargs in calls)
        else:
            outputs = _parallel(n_jobs, "generator")(calls)
        for result, amount in zip(outputs, work, strict=True):
            advance(amount)
            yield result


def _apply_each(function: Callable, chunks: list) -> list:
    exit_with_parent()
    return [function(*chunk) for chunk in chunks]


def exit_with_parent() -> None:
    """In a worker process (not the one that configured the run): a daemon
    thread ends the process within a second of its parent's death.  Without
    it, ``kill -9`` of the command leaves loky workers computing their task
    (a whole sweep point) for minutes."""
    if _DRIVER["pid"] == os.getpid() or _DRIVER.get("watching"):
        return
    _DRIVER["watching"] = True
    parent = os.getppid()

    def watch():
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:          # re-parented: the parent is gone
                _drop_writing()
                os._exit(1)
    threading.Thread(target=watch, daemon=True, name="simulator-parent-watch").start()


def _drop_writing() -> None:
    for temporary in list(_WRITING):
        with contextlib.suppress(OSError):
            os.unlink(temporary)


def _writer_gone(name: str) -> bool:
    """Whether the process that named the temporary chunk file ``name``
    (``.tmp-PID-...``) is no longer running."""
    try:
        pid = int(name.split("-")[1])
        os.kill(pid, 0)
    except (ValueError, IndexError):
        return True                             # not named by a writer of this version
    except ProcessLookupError:
        return True
    except OSError:
        return False                            # alive, someone else's
    return False


@contextlib.contextmanager
def cluster_guard():
    """On a dask cluster, a failure of the cluster itself (the scheduler
    gone, no worker left, a worker dying on a task again and again) becomes
    one :class:`RunFailed` naming what failed; errors of the computation
    pass through."""
    cluster = _cluster.get()
    if cluster is None:
        yield
        return
    client, where, field = cluster
    try:
        yield
    except ScenarioError:
        raise
    except Exception as err:
        lost = client.status not in ("running", "connecting")
        kind = type(err).__name__
        if not (lost or isinstance(err, (OSError, TimeoutError))
                or type(err).__module__.split(".")[0] in ("distributed", "tornado", "joblib")
                or kind in ("KilledWorker", "CancelledError", "FutureCancelledError")):
            raise
        cache = _cache.get()
        kept = (f"; the chunks finished so far are kept in the cache {cache.directory}"
                if cache is not None else "")
        if lost:
            what = f"{where} stopped answering"
        elif "no worker" in str(err):
            what = f"{where} has no worker left"
        elif kind == "KilledWorker":
            what = f"{where} lost workers on the same task again and again"
        else:
            what = f"{where} failed ({kind}: {_first_line(err).split('. ')[0]})"
        raise RunFailed(f"{what} during the run{kept}", field=field) from None


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0][:200] if text else "no message"


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
               group: bool = True, most: Callable[[tuple], int] | None = None) -> list:
    """``[function(*chunk) for chunk in chunks]`` computed by ``jobs`` workers
    (``work[i]``: trials in chunk i, for progress).  ``function`` is a
    module-level function with its fixed arguments bound (``functools.partial``),
    so that it and its arguments identify what a chunk computes; with a cache
    active, chunks already stored are read back instead of computed, if they
    pass the cache's checks: their checksum ties them to their key, and their
    counts are whole numbers from 0 to ``most(chunk)`` (default: the chunk's
    ``work``) in arrays shaped as every other chunk's of the call."""
    results: list = [None] * len(chunks)
    cache, keys = _cache.get(), None
    if cache is not None:
        keys = cache.keys(function, chunks)
        for i, key in enumerate(keys):
            results[i] = cache.load(key, most(chunks[i]) if most else work[i])
        results = cache.consistent(results)
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
        cache.consistent(results, strict=True)
    return results


# -- the chunk cache -----------------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def _source_digest() -> str:
    """SHA-256 of the package's source files: a chunk computed by other code is
    never reused, even within one version number.  Read once per process (a
    loky sweep opens the cache once per point)."""
    digest = hashlib.sha256()
    package = Path(__file__).resolve().parents[1]
    for path in sorted(package.rglob("*.py")):
        name = path.relative_to(package).as_posix()
        digest.update(name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _worker_code() -> tuple[str, str, str]:
    """Run on each dask worker (and here, to compare): the digest of the
    package it imports and its numpy and scipy versions (all in the cache key)."""
    return _source_digest(), np.__version__, scipy.__version__


def _payload(key: str, parts: tuple) -> str:
    """SHA-256 of a chunk's key and its arrays (dtype, shape and bytes): what
    ties a stored chunk to the chunk it is."""
    digest = hashlib.sha256(key.encode())
    for part in parts:
        part = np.ascontiguousarray(part)
        digest.update(f"{part.dtype.str}{part.shape}".encode() + part.tobytes())
    return digest.hexdigest()


def _signature(result) -> tuple:
    parts = result if isinstance(result, tuple) else (result,)
    return tuple((np.asarray(p).dtype.str, np.asarray(p).shape) for p in parts)


class ChunkCache:
    """Finished chunks on disk, one ``.npz`` file each under ``directory``,
    named by the SHA-256 of everything that determines the chunk: the
    package's name, version and source, the scenario's digest, the function
    and its arguments (design, sizes, rates, seed) and the chunk itself (index
    and trials).  Files are written to a temporary name (``.tmp-PID-...``)
    and renamed, so a killed run leaves whole files or none; the temporary
    files of writers killed mid-write are removed when the cache is next
    opened.  Nothing read is trusted blindly: a
    file that is not a regular file, cannot be read, does not carry the
    checksum of its own key and content (a file copied over another's, or
    edited), holds anything but whole numbers from 0 to the chunk's largest
    possible count, or is shaped unlike the other chunks of its call is
    computed again and replaced (``recomputed`` counts them)."""

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
        self._remove_orphans()
        self.reused = 0
        self.chunks = 0
        self.recomputed = 0
        self._lock = threading.Lock()

    def _remove_orphans(self) -> None:
        """Remove the temporary files of writers that died mid-write (a worker
        killed with ``kill -9``); those of running writers stay."""
        for temporary in self.directory.glob("??/.tmp-*"):
            if _writer_gone(temporary.name):
                with contextlib.suppress(OSError):
                    temporary.unlink()

    def keys(self, function: Callable, chunks: Sequence[tuple]) -> list[str]:
        import joblib
        prefix = joblib.hash((SOFTWARE, __version__, self.code, np.__version__,
                              scipy.__version__, _scope.get(), function), hash_name="sha1")
        return [hashlib.sha256(f"{prefix}:{tuple(chunk)!r}".encode()).hexdigest()
                for chunk in chunks]

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.npz"

    def _reject(self) -> None:
        with self._lock:
            self.recomputed += 1

    def load(self, key: str, most: int):
        """The stored chunk of ``key``, or None: not stored, or failing a check
        (then it is computed again and replaced)."""
        path = self._path(key)
        try:
            info = os.stat(path)
        except OSError:
            return None                         # not stored
        if not stat.S_ISREG(info.st_mode):      # (a FIFO would block the read)
            self._reject()
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                parts = tuple(data[f"part{i}"] for i in range(int(data["parts"])))
                checksum, is_tuple = str(data["checksum"]), bool(data["is_tuple"])
        except (OSError, ValueError, KeyError, EOFError, TypeError, zipfile.BadZipFile):
            self._reject()
            return None
        if checksum != _payload(key, parts) or not all(
                p.dtype.kind in "iu" and p.size and p.min() >= 0 and p.max() <= most
                for p in parts):
            self._reject()
            return None
        return parts if is_tuple else parts[0]

    def consistent(self, results: list, strict: bool = False) -> list:
        """``results`` with the loaded chunks shaped unlike the first one
        dropped (None: to compute); ``strict``: every chunk is in and must
        agree (a forged shape cannot reach the sums)."""
        signatures = [_signature(r) for r in results if r is not None]
        if not signatures:
            return results
        expected = signatures[0]
        if strict:
            if any(sig != expected for sig in signatures):
                raise ScenarioError(f"chunks in {self.directory} disagree in shape with those "
                                    "computed now; remove the cache directory",
                                    field="cache")
            return results
        out = []
        for r in results:
            if r is not None and _signature(r) != expected:
                self._reject()
                r = None
            out.append(r)
        return out

    def store(self, key: str, result) -> None:
        parts = result if isinstance(result, tuple) else (result,)
        path = self._path(key)
        temporary = None
        try:
            path.parent.mkdir(exist_ok=True)
            fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".tmp-{os.getpid()}-",
                                             suffix=".npz")
            _WRITING.add(temporary)
            with os.fdopen(fd, "wb") as handle:
                arrays = {f"part{i}": np.asarray(p) for i, p in enumerate(parts)}
                np.savez(handle, parts=len(parts), is_tuple=isinstance(result, tuple),
                         checksum=_payload(key, tuple(arrays.values())), **arrays)
            os.replace(temporary, path)
        except BaseException as err:
            if temporary is not None:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)
            if isinstance(err, OSError):
                raise ScenarioError(f"cannot store a chunk in {self.directory} ({err}); the "
                                    "chunks stored so far are kept", field="cache") from None
            raise
        finally:
            _WRITING.discard(temporary)

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

def scheduler_address(address: str) -> tuple[str, str, int]:
    """``(address, host, port)`` of a dask scheduler address, checked: one
    line naming ``scheduler`` for anything that is not ``tcp://HOST:PORT``
    (or ``ws://``; a bare ``HOST:PORT`` is tcp)."""
    text = str(address).strip()
    if not text:
        raise ScenarioError("is empty: give the scheduler's address, e.g. tcp://10.0.0.5:8786",
                            field="scheduler")
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest = "tcp", text
    if scheme in ("tls", "wss"):
        raise ScenarioError(f"{text!r} needs TLS certificates, which the command cannot pass: "
                            "use a tcp:// address (on a trusted network)", field="scheduler")
    if scheme not in SCHEMES:
        raise ScenarioError(f"must be tcp://HOST:PORT; got {text!r} (scheme {scheme!r})",
                            field="scheduler")
    host, colon, port = rest.rpartition(":")
    host = host.strip("[]")
    if not colon or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ScenarioError(f"must be {scheme}://HOST:PORT with a port from 1 to 65535; got "
                            f"{text!r}", field="scheduler")
    return f"{scheme}://{rest}", host, int(port)


def _check_scheduler(address: str, host: str, port: int, timeout: float) -> None:
    """Reach the scheduler and have it say it is one, within ``timeout``
    seconds, before any ``Client`` exists (a failed ``Client`` blocks its
    finaliser for a minute; a listener that never answers would block it for
    ever)."""
    import asyncio

    from distributed.comm import connect

    where = f"the dask scheduler at {address}"
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except socket.timeout:
        raise ScenarioError(f"cannot reach {where}: no connection within {timeout:g} s",
                            field="scheduler") from None
    except OSError as err:
        raise ScenarioError(f"cannot reach {where}: {err.strerror or err}",
                            field="scheduler") from None

    async def identity():
        comm = await connect(address, timeout=timeout)
        try:
            await comm.write({"op": "identity", "reply": True})
            return await comm.read()
        finally:
            await comm.close()
    try:
        info = asyncio.run(asyncio.wait_for(identity(), timeout))
    except (asyncio.TimeoutError, TimeoutError):
        raise ScenarioError(f"{where} did not answer within {timeout:g} s (is it a dask "
                            "scheduler?)", field="scheduler") from None
    except Exception as err:        # a comm error, a protocol it does not speak, ...
        raise ScenarioError(f"{where} did not answer as a dask scheduler ({type(err).__name__})",
                            field="scheduler") from None
    if not isinstance(info, dict) or info.get("type") != "Scheduler":
        raise ScenarioError(f"{where} is not a dask scheduler", field="scheduler")


@contextlib.contextmanager
def _dask(scheduler: str | None, jobs: int, timeout: float):
    """joblib's dask backend on the cluster at ``scheduler``, or on a local
    cluster of ``jobs`` single-threaded worker processes; yields the cluster's
    cores (worker threads)."""
    try:
        import dask
        from distributed import Client, LocalCluster
    except ImportError:
        raise ScenarioError("dask is an optional extra: pip install "
                            f"'{SOFTWARE}[dask]'", field="backend") from None
    if scheduler is not None:
        address, host, port = scheduler_address(scheduler)
        _check_scheduler(address, host, port, timeout)
    with contextlib.ExitStack() as stack:
        # a lost scheduler is given up after `timeout`, not the default 30 s
        stack.enter_context(dask.config.set({"distributed.comm.timeouts.connect":
                                             f"{timeout}s"}))
        # distributed logs its own account of a failure; the run says it in one line
        for name in ["distributed"] + [n for n in logging.root.manager.loggerDict
                                       if n.startswith("distributed.")]:
            logger = logging.getLogger(name)
            stack.callback(logger.setLevel, logger.level)
            logger.setLevel(logging.CRITICAL + 1)
        if scheduler is None:
            n_workers = (os.cpu_count() or 1) if jobs == -1 else jobs
            try:
                address = stack.enter_context(LocalCluster(
                    n_workers=n_workers, threads_per_worker=1, processes=True,
                    host="127.0.0.1", dashboard_address=":0", silence_logs=logging.CRITICAL))
            except (OSError, RuntimeError) as err:
                raise ScenarioError(f"cannot start a local dask cluster: {err}",
                                    field="backend") from None
        field, where = ("scheduler", f"the dask scheduler at {address}") if scheduler else \
            ("backend", "the local dask cluster")
        try:
            client = stack.enter_context(Client(address, timeout=timeout, set_as_default=False))
            client.wait_for_workers(1, timeout=timeout)
            codes = client.run(_worker_code, on_error="return")
        except Exception as err:
            raise ScenarioError(f"cannot use {where}: {_first_line(err) or type(err).__name__}",
                                field=field) from None
        stale = sorted(worker for worker, code in codes.items() if code != _worker_code())
        if stale:
            raise ScenarioError(f"the workers {', '.join(stale)} of {where} run another "
                                f"version of {SOFTWARE} (or of numpy or scipy) than this "
                                "process, or cannot import it; install the same on every "
                                "worker", field=field)
        cores = sum(client.ncores().values())
        import joblib
        stack.enter_context(joblib.parallel_config(backend="dask", client=client,
                                                   wait_for_workers_timeout=timeout))
        for var, value in ((_cluster_cores, cores), (_cluster, (client, where, field))):
            token = var.set(value)
            stack.callback(var.reset, token)
        yield cores


@contextlib.contextmanager
def configured(backend: str | None = None, scheduler: str | None = None, jobs: int = 1,
               cache: os.PathLike | str | None = None, timeout: float = SCHEDULER_TIMEOUT):
    """Run the block with ``backend`` (``"loky"``, the default, or ``"dask"``:
    the cluster at ``scheduler``, or a local one of ``jobs`` workers) and, if
    ``cache`` names a directory, the chunk cache there.  Yields the number of
    workers to plan tasks for: ``jobs`` (``-1``: all cores), or the dask
    cluster's cores.  Left at None, backend and cache are those already in
    force (nested runs inherit them).  ``timeout``: seconds to reach the
    scheduler, to see its first worker, and to reconnect to it during the run.
    ``jobs`` may be at most ``JOBS_PER_CORE`` times the cores of this machine."""
    most = JOBS_PER_CORE * (os.cpu_count() or 1)
    if (isinstance(jobs, bool) or not isinstance(jobs, int) or (jobs < 1 and jobs != -1)
            or jobs > most):
        raise ScenarioError(f"must be a whole number from 1 to {most} ({JOBS_PER_CORE} per core "
                            f"of this machine's {os.cpu_count() or 1}), or -1 for all cores; got "
                            f"{jobs!r}", field="jobs")
    if (isinstance(timeout, bool) or not isinstance(timeout, (int, float))
            or not 0 < timeout <= 3600):
        raise ScenarioError(f"must be a number of seconds in (0, 3600]; got {timeout!r}",
                            field="scheduler_timeout")
    thread_count()                      # SIMULATOR_THREADS, if set, is checked before the run
    _DRIVER["pid"] = os.getpid()
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
            jobs = stack.enter_context(_dask(scheduler, jobs, timeout))
        elif backend == "loky":
            token = _loky.set(True)
            stack.callback(_loky.reset, token)
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
        with cluster_guard():
            self._collect(tagged, owner, offsets, left, results, batch)

    def _collect(self, tagged, owner, offsets, left, results, batch) -> None:
        for i, result in _parallel(self.jobs, "generator_unordered")(tagged):
            r = owner[i]
            results[r][i - offsets[r]] = result
            left[r] -= 1
            if left[r] == 0:
                with self._cond:
                    batch[r].results = results[r]
                    self._cond.notify_all()


def _tagged(index: int, function: Callable, args: tuple, kwargs: dict):
    return index, function(*args, **kwargs)
