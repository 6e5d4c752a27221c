"""Reading scenario input safely: YAML hardened against what no scenario can
be (duplicate keys, alias bombs, deep nesting, values Python cannot build,
oversized or endless files), the same size, depth and number checks for a
Python mapping or an override's value, and plain copies of such values."""
from __future__ import annotations

import stat
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import yaml

from ..errors import ScenarioError

MAX_FILE_BYTES = 1_000_000
MAX_DEPTH = 50              # levels of nested mappings and lists
MAX_VALUES = 100_000        # values (scalars, mappings, lists), each use of an anchor counted


class _Refused(yaml.MarkedYAMLError):
    """Valid YAML that no scenario can be: too deep, too large, a value Python
    cannot build."""


_TAG_WORDS = {"int": "a whole number", "float": "a number", "bool": "true or false",
              "timestamp": "a date", "null": "null", "binary": "binary data"}


class _SafeLoaderNoDuplicates(yaml.SafeLoader):
    """``yaml.safe_load``'s loader, except that a key given twice in one mapping
    is an error instead of the last value silently winning, nesting deeper
    than ``MAX_DEPTH`` stops the parse (before Python's recursion limit), and
    a value Python cannot build (a date like 2024-13-45, a whole number of
    thousands of digits) is a YAML error at its line.  Composing stops after
    ``MAX_VALUES`` nodes; aliases are counted by :func:`_check_size`."""

    _depth = 0
    _nodes = 0

    def compose_node(self, parent, index):
        self._depth += 1
        self._nodes += 1
        try:
            if self._depth > MAX_DEPTH + 1:     # + 1: the scalars inside the deepest list
                raise _Refused(None, None, f"nests values more than {MAX_DEPTH} levels deep",
                               self.peek_event().start_mark)
            if self._nodes > MAX_VALUES:        # stop parsing early (see _check_size)
                raise _Refused(None, None, f"has more than {MAX_VALUES:,} values, far more "
                               "than a scenario needs", self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_object(self, node, deep=False):
        try:
            return super().construct_object(node, deep=deep)
        except yaml.YAMLError:
            raise
        except Exception as err:     # PyYAML's constructors: `!!timestamp x`, `!!bool x`, ...
            if not isinstance(node, yaml.ScalarNode):
                raise
            shown = node.value if isinstance(node.value, str) else ""
            shown = shown if len(shown) <= 40 else shown[:37] + "..."
            kind = node.tag.rsplit(":", 1)[-1]
            kind = _TAG_WORDS.get(kind, f"`{node.tag}`")
            detail = f" ({err})" if kind == "a date" and isinstance(err, ValueError) else ""
            problem = ("has a whole number too large to read" if "digits" in str(err)
                       else f"cannot read {shown!r} as {kind}{detail}")
            raise _Refused(None, None, problem, node.start_mark) from None

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue        # `<<: *anchor`: merged by the base loader, explicit keys win
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, float, bool)):
                continue        # unhashable keys: the base loader reports them
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _check_size(root, children, where) -> None:
    """Refuse a value graph (YAML nodes or Python containers) that contains
    itself, nests deeper than ``MAX_DEPTH`` or holds more than ``MAX_VALUES``
    values when every shared part (a YAML alias, a Python object referenced
    twice) is counted each time it occurs: the expanded size, computed once
    per distinct part so that an alias bomb is measured, never expanded.
    ``children(x)`` lists a container's (label, part) pairs (None for a
    scalar); ``where(path)`` turns a dotted path into the error's field."""
    done: dict[int, tuple[int, int]] = {}       # id -> (expanded values, height)
    active: set[int] = set()

    def too_big(path):
        raise ScenarioError(f"has more than {MAX_VALUES:,} values (each use of a YAML anchor "
                            "or a shared object counts its values again); a scenario needs "
                            "far fewer", field=where(path))

    first = children(root)
    if first is None:
        return
    stack = [[root, "", iter(first), 1, 1]]      # object, path, parts left, values, height
    active.add(id(root))
    while stack:
        frame = stack[-1]
        obj, path, parts = frame[0], frame[1], frame[2]
        part = next(parts, _END)
        if part is _END:
            stack.pop()
            active.discard(id(obj))
            done[id(obj)] = (frame[3], frame[4])
            if stack:
                stack[-1][3] += frame[3]
                stack[-1][4] = max(stack[-1][4], frame[4] + 1)
                if stack[-1][3] > MAX_VALUES:
                    too_big(stack[-1][1])
            continue
        label, child = part
        sub = f"{path}.{label}" if path else str(label)
        parts_of = children(child)
        if parts_of is None:
            frame[3] += 1
        elif id(child) in active:
            raise ScenarioError("contains itself (a YAML alias inside its own anchor, or a "
                                "mapping or list that holds itself)", field=where(sub))
        elif id(child) in done:
            values, height = done[id(child)]
            frame[3] += values
            frame[4] = max(frame[4], height + 1)
            if len(stack) + height > MAX_DEPTH:
                raise ScenarioError(f"nests values more than {MAX_DEPTH} levels deep",
                                    field=where(sub))
        else:
            if len(stack) + 1 > MAX_DEPTH:
                raise ScenarioError(f"nests values more than {MAX_DEPTH} levels deep",
                                    field=where(sub))
            active.add(id(child))
            stack.append([child, sub, iter(parts_of), 1, 1])
            continue
        if frame[3] > MAX_VALUES:
            too_big(path)


_END = object()


def _node_parts(node):
    """Parts of a composed YAML node: (label, node) pairs, keys included."""
    if isinstance(node, yaml.MappingNode):
        out = []
        for key, value in node.value:
            label = key.value if isinstance(key, yaml.ScalarNode) else "?"
            out += [(label, key), (label, value)]
        return out
    if isinstance(node, yaml.SequenceNode):
        return list(enumerate(node.value))
    return None


def _python_parts(obj):
    """Parts of a Python value: (label, value) pairs, keys included."""
    if isinstance(obj, Mapping):
        out = []
        for key, value in obj.items():
            label = key if isinstance(key, str) else _scalar_label(key)
            out += [(label, key), (label, value)]
        return out
    if isinstance(obj, (list, tuple, set, frozenset)):
        return list(enumerate(obj))
    if isinstance(obj, np.ndarray):
        return enumerate(obj.flat)
    return None


def _scalar_label(key) -> str:
    if isinstance(key, int) and not isinstance(key, bool) and key.bit_length() > 64:
        return "<a large whole number>"
    return repr(key) if isinstance(key, (tuple, frozenset)) else str(key)


def _top(path: str) -> str | None:
    """The field an error about a whole value graph names: its first two keys."""
    return ".".join(path.split(".")[:2]) or None


def check_numbers(root, prefix: str = "") -> None:
    """Refuse whole numbers beyond the range of a float anywhere (as keys or
    values): no scenario value is that large, and Python cannot even print
    one of more than 4,300 digits.  Called after :func:`_check_size`."""
    stack = [(prefix, root)]
    seen: set[int] = set()
    while stack:
        path, obj = stack.pop()
        if isinstance(obj, int) and not isinstance(obj, bool):
            if obj.bit_length() > 1024:
                raise ScenarioError(f"is a whole number of about "
                                    f"{int(obj.bit_length() * 0.30103):,} digits, beyond any "
                                    "scenario value (at most 308 digits)", field=path or None)
            continue
        parts = _python_parts(obj)
        if parts is None or id(obj) in seen:
            continue
        seen.add(id(obj))
        stack += [(f"{path}.{label}" if path else str(label), child) for label, child in parts]


def check_value(value, prefix: str = "") -> None:
    """:func:`_check_size` and :func:`check_numbers` of a Python value (a
    scenario mapping or an override's value)."""
    _check_size(value, _python_parts,
                lambda path: _top(f"{prefix}.{path}" if prefix and path else prefix or path))
    check_numbers(value, prefix)


def plain(value):
    """A copy of a checked Python value (:func:`check_value`) in the shapes a
    YAML file gives: mappings as dicts, tuples and numpy arrays as lists,
    numpy scalars as Python numbers (``np.int64(500)`` is a whole number)."""
    if isinstance(value, Mapping):
        return {k.item() if isinstance(k, np.generic) else k: plain(v)
                for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return plain(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    return value            # a scalar (or something the rules refuse): never modified


def read_yaml(path: Path) -> Any:
    label = path.name
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):      # a FIFO or a device would block or never end
            raise ScenarioError("is not a regular file (a directory, FIFO or device); give a "
                                "scenario file", file=label)
        if info.st_size > MAX_FILE_BYTES:
            raise ScenarioError(f"file is larger than {MAX_FILE_BYTES:,} bytes", file=label)
        with path.open(encoding="utf-8") as handle:     # bounded: /dev/zero is not a file
            text_ = handle.read(MAX_FILE_BYTES + 1)
        if len(text_) > MAX_FILE_BYTES:
            raise ScenarioError(f"file is larger than {MAX_FILE_BYTES:,} bytes", file=label)
    except (OSError, UnicodeDecodeError) as err:
        raise ScenarioError(f"cannot read the file: {err}", file=label) from None
    try:
        return parse_yaml(text_)
    except ScenarioError as err:
        raise err.in_file(label) from None


def parse_yaml(text_: str) -> Any:
    """A YAML document as Python values, as ``yaml.safe_load`` reads it but
    hardened: duplicate keys, nesting deeper than ``MAX_DEPTH``, more than
    ``MAX_VALUES`` values with aliases expanded (an alias bomb, also through
    merge keys `<<`), an alias inside its own anchor and values PyYAML cannot
    build (`2024-13-45`) are :class:`ScenarioError`, raised before anything
    is expanded.  For scenario files and ``--set`` / ``--sweep`` values."""
    loader = None
    try:
        loader = _SafeLoaderNoDuplicates(text_)     # the reader refuses control characters
        node = loader.get_single_node()
        if node is None:
            return None
        _check_size(node, _node_parts, _top)
        return loader.construct_document(node)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or "invalid YAML"
        if isinstance(err, _Refused):
            raise ScenarioError(f"{problem}{where.replace(' at', ' (at', 1)}"
                                f"{')' * bool(where)}") from None
        raise ScenarioError(f"YAML syntax error{where}: {problem}") from None
    finally:
        if loader is not None:
            loader.dispose()
