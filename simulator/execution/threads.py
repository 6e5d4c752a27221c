"""Threads for exact evaluations at several sizes (or rates) at once.

An exact power or assurance at one size is a pure function of the size (a
decision table, binomial probabilities, a quadrature), as is the type I error
at one common rate: they are independent, and numpy releases the GIL for the
array work, so a search's window of sizes, or the grid of common rates, is
shared out between threads.  The values are the same whatever the number of
threads: each is computed alone, exactly as on one thread.

How many: ``SIMULATOR_THREADS`` if set (as ``OMP_NUM_THREADS`` sets BLAS's),
else every core this process may use; one in a worker process of a parallel
run (its siblings use the other cores), and never more than the sizes.
"""
from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ThreadPoolExecutor
from contextvars import copy_context
from typing import Callable, Sequence

from ..errors import ScenarioError

ENVIRONMENT = "SIMULATOR_THREADS"
# a user's own setting of BLAS's threads, which the command leaves as it is
BLAS_ENVIRONMENT = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "BLIS_NUM_THREADS")


def cores() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:                      # (not on Linux)
        return os.cpu_count() or 1


def thread_count() -> int:
    """Threads for an exact evaluation (see the module's description)."""
    given = os.environ.get(ENVIRONMENT)
    if given is not None:
        try:
            count = int(given)
        except ValueError:
            count = 0
        if count < 1:
            raise ScenarioError(f"must be a whole number of threads, 1 or more (unset: every "
                                f"core); got {given!r}", field=ENVIRONMENT)
        return count
    if multiprocessing.parent_process() is not None:
        return 1                                # a worker of a parallel run
    return cores()


def map_threads(function: Callable, items: Sequence) -> list:
    """``[function(item) for item in items]``, the items (sizes, rates)
    shared out between threads."""
    threads = min(thread_count(), len(items))
    if threads <= 1:
        return [function(item) for item in items]
    context = copy_context()            # (the caller's context variables, in every thread)
    with ThreadPoolExecutor(threads, thread_name_prefix="simulator-size") as pool:
        return list(pool.map(lambda item: context.copy().run(function, item), items))


def one_blas_thread() -> None:
    """BLAS on one thread from now on, unless the environment sets its threads.
    The matrix products here are small (a decision table times a pmf, a
    logistic fit's few parameters): BLAS's own threads gain nothing on them,
    and OpenBLAS's, which spin after each call, take the cores from the
    threads of :func:`map_threads` (and joblib gives its worker processes
    one BLAS thread each already).  The values are the same: each product's
    entries are summed whole by one thread either way."""
    if any(name in os.environ for name in BLAS_ENVIRONMENT):
        return
    from threadpoolctl import threadpool_limits
    threadpool_limits(limits=1, user_api="blas")
