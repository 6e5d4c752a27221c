"""Declarative rules for scenario values: a checker per key that returns the
normalised value or raises :class:`Bad` with the rule's text (the loader adds
the dotted field and the value)."""
from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass
from typing import Any, Callable

import yaml


@dataclass(frozen=True)
class Rule:
    """One key: its default (``REQUIRED`` if none), a description for the
    README, and a checker that returns the normalised value or raises.
    ``nested``: the value may be a mapping that the checker validates itself
    (a prior), so dotted overrides may reach inside it."""
    default: Any
    doc: str
    check: Callable[[Any], Any]
    nested: bool = False


REQUIRED = object()


class Bad(Exception):
    """Raised by checkers with the rule text; the loader adds field and value.
    A checker of a nested value names the offending ``sub``-key (dotted, below
    the rule's own) and the ``value`` there."""

    _NO_VALUE = object()

    def __init__(self, rule: str, sub: str | None = None, value: Any = _NO_VALUE,
                 got: bool = True):
        super().__init__(rule)
        self.sub = sub
        self.value = value
        self.got = got          # False: the rule says it all (an unknown key)


MAX_SHOWN = 80      # characters of a text value quoted in an error


def describe(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 256:
        return f"a whole number of about {int(value.bit_length() * 0.30103):,} digits"
    if isinstance(value, str) and len(value) > MAX_SHOWN:
        return f"{value[:MAX_SHOWN - 3]!r}... (text of {len(value):,} characters)"
    if isinstance(value, str):
        hint = ""
        try:
            float(value)
            hint = " (a string; write the number without quotes)"
            if re.search(r"[eE]", value) and isinstance(yaml.safe_load(value.strip()), str):
                hint = f" (a string: YAML reads {value.strip()} as text; {_as_yaml_float(value)})"
        except (ValueError, yaml.YAMLError):
            pass
        return f"{value!r}{hint}"
    if isinstance(value, (dict, list)):
        shown = _short_repr(value, 60)
        if shown is not None:
            return shown
        return f"a {'mapping' if isinstance(value, dict) else 'list'}"
    shown = repr(value)
    return shown if len(shown) <= MAX_SHOWN else shown[:MAX_SHOWN - 3] + "..."


def _as_yaml_float(text: str) -> str:
    """The advice for a number in e-notation that YAML 1.1 reads as text (it
    wants a decimal point and a signed exponent): ``1e12`` -> ``write
    1.0e+12, or the digits 1000000000000``."""
    mantissa, _, exponent = text.strip().partition("e" if "e" in text else "E")
    if "." not in mantissa:
        mantissa += ".0"
    elif mantissa.endswith("."):
        mantissa += "0"
    if exponent[:1] not in "+-":
        exponent = "+" + exponent
    advice = f"write {mantissa}e{exponent} (a decimal point and a signed exponent)"
    number = float(text)
    if number.is_integer() and abs(number) < 1e18:
        advice += f", or the digits {int(number)}"
    return advice


def _short_repr(value, limit: int) -> str | None:
    """``repr(value)`` if it is at most ``limit`` characters, else None, without
    building the repr of a large (or shared, alias-expanded) structure."""
    budget = [limit]

    def size(x, depth=0) -> bool:        # False once more than the budget would be printed
        budget[0] -= 2
        if budget[0] < 0 or depth > 20:
            return False
        if isinstance(x, dict):
            return all(size(k, depth + 1) and size(v, depth + 1) for k, v in x.items())
        if isinstance(x, (list, tuple)):
            return all(size(v, depth + 1) for v in x)
        if isinstance(x, str):
            budget[0] -= len(x)
        elif isinstance(x, int) and not isinstance(x, bool):
            budget[0] -= x.bit_length() // 3
        return budget[0] >= 0
    if not size(value):
        return None
    shown = repr(value)
    return shown if len(shown) <= limit else None


def as_number(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Bad("must be a number")
    try:
        finite = math.isfinite(value)
    except OverflowError:           # a whole number beyond the range of a float
        finite = False
    if not finite:
        raise Bad("must be a finite number")
    return value


def as_int(value):
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise Bad("must be a whole number")
    return value


def number(lo: float, hi: float, lo_open=False, hi_open=False, what="a number"):
    left, right = "(" if lo_open else "[", ")" if hi_open else "]"
    rule = f"must be {what} in {left}{lo:g}, {hi:g}{right}"

    def check(value):
        try:
            v = float(as_number(value))
        except Bad:
            raise Bad(rule)
        if v < lo or v > hi or (lo_open and v == lo) or (hi_open and v == hi):
            raise Bad(rule)
        return v + 0.0          # -0.0 becomes 0.0
    return check


def integer(lo: int, hi: int):
    rule = f"must be a whole number from {lo:,} to {hi:,}"

    def check(value):
        try:
            v = as_int(value)
        except Bad:
            raise Bad(rule)
        if not lo <= v <= hi:
            raise Bad(rule)
        return v
    return check


def optional(check):
    def inner(value):
        return None if value is None else check(value)
    return inner


def choice(*options: str):
    rule = "must be one of " + ", ".join(options)

    def check(value):
        if isinstance(value, str) and value in options:
            return value
        raise Bad(rule)
    check.options = options             # what a form offers (the web page's lists)
    return check


# C0 and C1 control characters (newlines, tabs, escape sequences): never in a
# one-line text, which reaches table cells, Markdown headings and the terminal
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
ONE_LINE = ("must be one line of text, without control characters (newlines, tabs, "
            "escape sequences)")


def text(pattern: str | None = None, rule: str = "must be text"):
    """One line of text (a number is read as its text)."""
    def check(value):
        if isinstance(value, (int, float)) and not isinstance(value, bool) and pattern is None:
            try:
                value = str(value)
            except ValueError:      # a whole number of more digits than Python prints
                raise Bad(rule) from None
        if not isinstance(value, str) or (pattern and not re.fullmatch(pattern, value)):
            raise Bad(rule)
        if CONTROL.search(value):
            raise Bad(ONE_LINE)
        return value
    return check


def texts(rule: str = "must be a list of text entries"):
    """A list of non-empty one-line strings (a single string is a list of one)."""
    def check(value):
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip()
                                                   for v in value):
            raise Bad(rule)
        if any(CONTROL.search(v) for v in value):
            raise Bad(f"{rule}, each {ONE_LINE[8:]}")
        return [v.strip() for v in value]
    return check


PROBABILITY = number(0.0, 1.0, what="a probability")


def unknown_key(key: Any, options: list[str]) -> str:
    """Message for a key that is not in ``options``, with the nearest suggested."""
    near = difflib.get_close_matches(str(key), options, n=1, cutoff=0.5)
    hint = f"; did you mean `{near[0]}`?" if near else f"; known keys: {', '.join(options)}"
    return f"is not a known key{hint}"
