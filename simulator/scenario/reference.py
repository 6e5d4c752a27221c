"""The scenario's keys as documentation, generated from the schema (one
source of truth): the key reference of the manual (``docs/scenario-keys.md``,
checked by a test) and the commented template that ``simulate --template``
writes."""
from __future__ import annotations

import json

from .schema import SCHEMA
from .rules import REQUIRED, Rule


def _keys(schema: dict, prefix: str = ""):
    for key, value in schema.items():
        if isinstance(value, dict):
            yield from _keys(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def _default(rule: Rule) -> str:
    if rule.default is REQUIRED:
        return "required"
    if rule.default is None or rule.default == ():
        return "-"
    return f"`{json.dumps(rule.default)}`"


def key_reference() -> str:
    """Markdown: every key of the schema, its default and what it means."""
    lines = ["# Scenario keys", "",
             "Generated from the schema (`python -m simulator.scenario.reference > "
             "docs/scenario-keys.md`); a test fails when the two differ. Sections and "
             "examples: [Scenario files](scenarios.md).", "",
             "| key | default | meaning |", "|---|---|---|"]
    for key, rule in _keys(SCHEMA):
        doc = rule.doc.replace("|", "\\|").replace("\n", " ")
        lines.append(f"| `{key}` | {_default(rule)} | {doc} |")
    return "\n".join(lines) + "\n"


# what the template fills in (the severe subgroup's observed rates); every
# other key is written commented out at its default, with its meaning
_FILLED = {"name": "my_trial", "title": "My trial (edit the rates, test and targets)",
           "arms.control.rate": 0.20, "arms.treatment.rate": 0.69}


def _wrap(text: str, indent: str, width: int = 96) -> list[str]:
    words, lines, line = text.split(), [], ""
    for word in words:
        if line and len(indent) + 2 + len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return [f"{indent}# {x}" for x in lines + ([line] if line else [])]


def template() -> str:
    """A commented scenario to start from: it loads and runs as written
    (`simulate --scenario my_trial.yaml`), and lists every key."""
    out = ["# A scenario for `simulate --scenario FILE`.  Keys left commented out take the",
           "# default shown.  The full reference: docs/scenario-keys.md.  Rates below are",
           "# those observed in the severe subgroup of Peero et al. 2024 (5/25 vs 20/29):",
           "# replace them with your own planning values and say where they come from.", ""]

    def walk(schema: dict, prefix: str, depth: int) -> None:
        indent = "  " * depth
        for key, value in schema.items():
            dotted = f"{prefix}{key}"
            if isinstance(value, dict):
                filled = any(k.startswith(dotted + ".") for k in _FILLED)
                out.append(f"{indent}{key}:" if filled else f"{indent}# {key}:")
                walk(value, dotted + ".", depth + 1)
                continue
            out.extend(_wrap(value.doc, indent))
            if dotted in _FILLED:
                out.append(f"{indent}{key}: {json.dumps(_FILLED[dotted])}")
            else:
                shown = value.default
                shown = "null" if shown is None or shown is REQUIRED else json.dumps(
                    list(shown) if isinstance(shown, tuple) else shown)
                out.append(f"{indent}# {key}: {shown}")
    walk(SCHEMA, "", 0)
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    print(key_reference(), end="")
