"""The design of a two-arm trial analysed on its 2x2 table, and the tables
both engines share: binomial supports and tabulated test decisions."""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache, wraps

import numpy as np

from ..errors import ScenarioError
from ..stats.analysis import MAX_UNCONDITIONAL_TABLES, UNCONDITIONAL, rejection_grid, rejects
from ..stats.binomial import binom_isf, binom_ppf

# Each arm's event count is enumerated between its 1e-13 and 1 - 1e-13
# quantiles; the mass left out is below 2e-13 per arm, so an "exact" power is
# exact to better than 4e-13.  Monte Carlo draws outside that range (about one
# in 5e12) are decided by computing their p-value directly.
TAIL = 1e-13


@dataclass(frozen=True)
class Design:
    """Analysis plan of a two-arm trial with a binary endpoint."""
    test: str
    sided: str
    alpha: float
    allocation: float = 1.0

    def sizes(self, n_control: int) -> tuple[int, int]:
        """(treatment, control) sizes for a control-arm size; the treatment size
        is Python's ``round(allocation * n_control)`` (halves to even)."""
        return round(self.allocation * n_control), int(n_control)

    def check_size(self, n_t: int, n_c: int) -> None:
        """An unconditional test tabulates every table of the arm sizes: beyond
        ``MAX_UNCONDITIONAL_TABLES`` it is an error naming the test."""
        if self.test in UNCONDITIONAL and (n_t + 1) * (n_c + 1) > MAX_UNCONDITIONAL_TABLES:
            raise ScenarioError(
                f"= {self.test} is tabulated over every 2x2 table of the arm sizes, up to "
                f"{MAX_UNCONDITIONAL_TABLES:,} tables (about 500 women per arm); the run "
                f"reached {n_c:,} + {n_t:,}: use fisher for a trial this large (the "
                "unconditional test's advantage shrinks as the arms grow)",
                field="analysis.test")

    def smallest_control(self) -> int:
        """Smallest control-arm size that gives both arms at least one woman."""
        m = 1
        while self.sizes(m)[0] < 1:
            m += 1
        return m

    def reject(self, n_t: int, n_c: int, x_t, x_c) -> np.ndarray:
        """Decisions for arbitrary tables (no tabulation)."""
        self.check_size(n_t, n_c)
        return rejects(self.test, self.sided, self.alpha, n_t, n_c, x_t, x_c)


@lru_cache(maxsize=4096)
def support(n: int, rate: float) -> tuple[int, int]:
    """Inclusive range of event counts enumerated for Binomial(n, rate)
    (cached: every exact evaluation asks again, and scipy's quantile
    functions take a fraction of a millisecond)."""
    if rate <= 0.0:
        return 0, 0
    if rate >= 1.0:
        return n, n
    lo = int(binom_ppf(TAIL, n, rate))
    hi = int(binom_isf(TAIL, n, rate))
    return max(lo, 0), min(hi, n)


def _nbytes(value) -> int:
    return sum(map(_nbytes, value)) if isinstance(value, tuple) else value.nbytes


def bounded_cache(max_entries: int, max_bytes: int):
    """Like ``functools.lru_cache`` for functions returning arrays, bounded both
    in entries and in the arrays' total bytes (tables over a prior's whole
    predictive range can be large).  Thread-safe (a sweep's points run in
    threads): the value is computed outside the lock."""
    def decorate(fn):
        entries: OrderedDict = OrderedDict()
        lock = threading.Lock()

        @wraps(fn)
        def cached(*args):
            with lock:
                if args in entries:
                    entries.move_to_end(args)
                    return entries[args]
            value = fn(*args)
            with lock:
                entries[args] = value
                while len(entries) > max_entries or (
                        len(entries) > 1 and sum(map(_nbytes, entries.values())) > max_bytes):
                    entries.popitem(last=False)
            return value

        def cache_clear():
            with lock:
                entries.clear()
        cached.cache_clear = cache_clear
        return cached
    return decorate


# 1,024 tables (a few searches: their windows and bisections, the curve), 512 MB at most in all.
@bounded_cache(max_entries=1024, max_bytes=512 * 2 ** 20)
def decision_table(design: Design, n_t: int, n_c: int,
                   t_range: tuple[int, int], c_range: tuple[int, int]) -> np.ndarray:
    """Boolean table ``reject[x_t - t_lo, x_c - c_lo]`` over the given count ranges."""
    design.check_size(n_t, n_c)
    table = rejection_grid(design.test, design.sided, design.alpha, n_t, n_c, t_range, c_range)
    table.setflags(write=False)
    return table


def count_decided(table: np.ndarray, t_range: tuple[int, int], c_range: tuple[int, int],
                  x_t: np.ndarray, x_c: np.ndarray, decide) -> int:
    """How many of the tables with counts ``(x_t, x_c)`` the tabulated decisions
    mark true; counts beyond the tabulated ranges (rare draws in the far tails)
    are decided by ``decide(x_t, x_c)`` directly."""
    i_t, i_c = x_t - t_range[0], x_c - c_range[0]
    inside = (i_t >= 0) & (i_t < table.shape[0]) & (i_c >= 0) & (i_c < table.shape[1])
    if inside.all():
        return int(np.count_nonzero(table[i_t, i_c]))
    outside = ~inside
    return int(np.count_nonzero(table[i_t[inside], i_c[inside]])
               + np.count_nonzero(decide(x_t[outside], x_c[outside])))
