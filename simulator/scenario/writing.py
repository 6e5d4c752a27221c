"""Writing a validated scenario back as a YAML file (``Scenario.to_yaml``):
its keys in the schema's order (the order of the key reference and the
template), so that a scenario built in a notebook becomes a file a reader can
follow, and that ``load_scenario`` reads back to the same scenario."""
from __future__ import annotations

from typing import Any

import yaml

from ..version import SOFTWARE, __version__
from .rules import Rule
from .schema import SCHEMA


def schema_ordered(value: Any, schema: Any = SCHEMA) -> Any:
    """``value`` (a validated mapping) with its keys in the schema's order;
    inside a value the schema does not spell out (a prior, the strata) the
    order is kept."""
    if not isinstance(value, dict) or not isinstance(schema, dict):
        return value
    known = [k for k in schema if k in value] + [k for k in value if k not in schema]
    return {k: schema_ordered(value[k], schema.get(k) if not isinstance(schema.get(k), Rule)
                              else None) for k in known}


class _Dumper(yaml.SafeDumper):
    """Block style, except that a list of numbers is one line (``[0.5, 1.0]``)."""


def _list(dumper, value):
    flow = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=flow)


_Dumper.add_representer(list, _list)


def scenario_yaml(inputs: dict, name: str, title: str | None, digest: str) -> str:
    """The YAML text of a validated scenario (``inputs``: its ``to_dict()``),
    with a comment saying what wrote it."""
    header = (f"# {name}: {title}\n" if title else f"# {name}\n") + (
        f"# Written by {SOFTWARE} {__version__} from a validated scenario (SHA-256 {digest}, "
        "first 12 hex digits);\n# every default is filled in. Run it with: simulate "
        "--scenario FILE\n")
    body = yaml.dump(schema_ordered(inputs), Dumper=_Dumper, sort_keys=False,
                     allow_unicode=True, default_flow_style=False, width=92)
    return header + body
