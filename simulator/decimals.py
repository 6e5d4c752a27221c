"""Numbers as printed: a decision threshold shown with as many decimals as it
takes for the printed rule to be the computed one.

A test statistic (a z value, a posterior probability) takes finitely many
values at a given size, so a rule "stop when the statistic is at or above c"
makes the same decision on every attainable table for any c in the gap
``(largest value that does not stop, smallest value that stops]``.  Printing
c rounded to a fixed number of decimals can leave that gap and put a table on
the other side; :func:`decimal_in` rounds to the fewest decimals (at least
``min_digits``) that stay inside it.
"""
from __future__ import annotations

from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, Decimal

MAX_DIGITS = 17         # beyond, every double has its own shortest decimal (repr)


def decimal_in(value: float | None, below: float, above: float, min_digits: int,
               closed: str = "above") -> str:
    """A decimal inside the gap between ``below`` and ``above``:
    ``(below, above]`` when ``closed="above"`` (a rule "at or above"),
    ``[below, above)`` when ``closed="below"`` (a rule "at or below").
    ``value`` (in the gap) is rounded to the fewest decimals, ``min_digits``
    at least, that stay inside; with ``value=None`` the result is the
    shortest decimal in the gap (the smallest of that many decimals), for a
    threshold that is anywhere in it.  ``below`` may be ``-inf`` and ``above``
    ``inf`` (no attainable value on that side).  Falls back to the shortest
    decimal of ``value`` (or ``above``) itself, Python's repr."""
    def inside(x: float) -> bool:
        if closed == "above":
            return below < x <= above
        return below <= x < above
    for digits in range(min_digits, MAX_DIGITS + 1):
        step = Decimal(1).scaleb(-digits)
        if value is None:       # the smallest multiple of step above `below`
            start = Decimal(repr(float(below)))
            shown = (start / step).to_integral_value(rounding=ROUND_FLOOR) * step
            if closed == "above" or float(shown) < below:
                shown += step
        else:
            shown = Decimal(repr(float(value))).quantize(step, rounding=ROUND_HALF_EVEN)
        if inside(float(shown)):
            return _plain(shown)
    return repr(float(above if value is None else value))


def _plain(d: Decimal) -> str:
    """A Decimal as fixed-point text (never exponent notation)."""
    return format(d, "f")

