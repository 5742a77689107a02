"""``--set section.key=value`` overrides, applied to the raw TOML dict before validation.

Each path an override sets is recorded on the checker, so that a problem it causes names
``--set`` instead of the recipe file.

This module imports no TensorFlow or Keras.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 only
    import tomli as tomllib

from ..errors import RecipeError
from ..plugins import (
    did_you_mean,
)
from .checker import _Checker
from .schema import (
    _BARE_KEY_RE,
    SECTIONS,
)


def _parse_override_value(text: str) -> Any:
    """A TOML value (``true``, ``3``, ``0.5``, ``[0, 1]``, ``"x"``, ``{steps = 5}``) or the text."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text  # a bare word such as `cpu` or `ray`: take it as a string


def apply_overrides(raw: dict[str, Any], overrides: Sequence[str], checker: _Checker) -> None:
    """Apply ``a.b.c=value`` strings to the raw TOML dict, recording which paths they set."""
    for override in overrides:
        if not isinstance(override, str) or "=" not in override:
            raise RecipeError(
                "--set",
                str(override),
                "malformed override",
                expected="SECTION.KEY=VALUE, e.g. evolution.population=4",
            )
        path_text, value_text = override.split("=", 1)
        parts = [p.strip() for p in path_text.strip().split(".")]
        dotted = ".".join(parts)
        if len(parts) < 2 or not all(_BARE_KEY_RE.match(p) for p in parts):
            raise RecipeError(
                "--set",
                dotted or "(empty)",
                "malformed override key",
                got=override,
                expected="SECTION.KEY=VALUE, e.g. training.partial.steps=50",
            )
        if parts[0] not in SECTIONS:
            raise RecipeError(
                "--set",
                dotted,
                f"unknown section '{parts[0]}'{did_you_mean(parts[0], SECTIONS)}",
                expected=f"one of {', '.join(SECTIONS)}",
            )
        value = _parse_override_value(value_text.strip())
        node = raw
        for depth, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            elif not isinstance(child, dict):
                where = ".".join(parts[: depth + 1])
                raise RecipeError(
                    "--set", dotted, f"'{where}' is not a table", got=child, expected="a table"
                )
            node = child
        leaf = parts[-1]
        # A budget holds exactly one of steps/epochs: setting one replaces the other, so that
        # `--set training.partial.steps=50` works on a recipe that counts epochs.
        if len(parts) == 3 and parts[0] == "training" and parts[1] in ("partial", "full"):
            other = {"steps": "epochs", "epochs": "steps"}.get(leaf)
            if other is not None:
                node.pop(other, None)
        node[leaf] = value
        checker.overridden.add(dotted)
