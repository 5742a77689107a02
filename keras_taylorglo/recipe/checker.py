"""The validator's error context and its typed field checks (:class:`_Checker`).

Every problem becomes one :class:`~keras_taylorglo.errors.RecipeError` line naming the file
(or ``--set``), the field, the value and what is allowed.

This module imports no TensorFlow or Keras.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import RecipeError
from ..plugins import (
    CALLABLE_RE,
    did_you_mean,
    locate_module,
)
from .schema import (
    _MISSING,
    SECTIONS,
)


class _Checker:
    """Carries the error context: which file, and which fields came from ``--set``."""

    def __init__(self, file: str, base_dir: Path) -> None:
        self.file = file
        self.base_dir = base_dir
        self.overridden: set[str] = set()

    def origin(self, field_name: str) -> str:
        """``--set`` if an override set this field (or a table containing it), else the file."""
        for path in self.overridden:
            if field_name == path or field_name.startswith(path + "."):
                return "--set"
            if path.startswith(field_name + "."):
                return "--set"
        return self.file

    def error(
        self, field_name: str, problem: str, got: Any = _MISSING, expected: str | None = None
    ) -> RecipeError:
        kwargs: dict[str, Any] = {"expected": expected}
        if got is not _MISSING:
            kwargs["got"] = got
        return RecipeError(self.origin(field_name), field_name, problem, **kwargs)

    # --- typed getters -------------------------------------------------------------------------

    def table(self, name: str, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.error(name, "must be a table", value, f"a table, e.g. {name} = {{ ... }}")
        return value

    def keys(self, name: str, table: Mapping[str, Any], allowed: Sequence[str]) -> None:
        for key in table:
            if key not in allowed:
                hint = did_you_mean(key, allowed, prefix=name + ".")
                if not hint and key in SECTIONS:
                    # `training = {...}` written below a [model] header lands inside [model]
                    hint = f"; '{key}' is a section: write it as a [{key}] header"
                raise self.error(
                    f"{name}.{key}",
                    f"unknown key{hint}",
                    expected=f"one of {', '.join(allowed)}",
                )

    def boolean(self, name: str, value: Any) -> bool:
        if not isinstance(value, bool):
            raise self.error(name, "must be a boolean", value, "true or false")
        return value

    def integer(
        self, name: str, value: Any, minimum: int | None = None, maximum: int | None = None
    ) -> int:
        expected = _int_range(minimum, maximum)
        if isinstance(value, bool) or not isinstance(value, int):
            problem = "must be an integer"
            if isinstance(value, bool):
                problem += ", not a boolean"
            raise self.error(name, problem, value, expected)
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            raise self.error(name, "out of range", value, expected)
        return value

    def number(
        self,
        name: str,
        value: Any,
        low: float | None = None,
        high: float | None = None,
        low_open: bool = False,
        high_open: bool = False,
    ) -> float:
        expected = _float_range(low, high, low_open, high_open)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            problem = "must be a number"
            if isinstance(value, bool):
                problem += ", not a boolean"
            raise self.error(name, problem, value, expected)
        number = float(value)
        if not math.isfinite(number):
            raise self.error(name, "must be finite", value, expected)
        too_low = low is not None and (number <= low if low_open else number < low)
        too_high = high is not None and (number >= high if high_open else number > high)
        if too_low or too_high:
            raise self.error(name, "out of range", value, expected)
        return number

    def string(self, name: str, value: Any, expected: str = "a string") -> str:
        if not isinstance(value, str):
            raise self.error(name, "must be a string", value, expected)
        return value

    def choice(self, name: str, value: Any, choices: Sequence[str]) -> str:
        expected = "one of " + ", ".join(f'"{c}"' for c in choices)
        value = self.string(name, value, expected)
        if value not in choices:
            raise self.error(name, f"unknown value{did_you_mean(value, choices)}", value, expected)
        return value

    def callable_spec(self, name: str, value: str, builtin: str) -> str:
        """Check the syntax of a ``module:function`` and that its module can be found."""
        match = CALLABLE_RE.match(value)
        expected = (
            f'{builtin} or "module:function" (module in the recipe\'s directory or on sys.path)'
        )
        if match is None:
            raise self.error(name, "not a known name or a module:function", value, expected)
        problem = locate_module(match["module"], self.base_dir)
        if problem is not None:
            raise self.error(name, problem, value, expected)
        return value


def _int_range(minimum: int | None, maximum: int | None) -> str:
    if minimum is not None and maximum is not None:
        return f"an integer from {minimum} to {maximum}"
    if minimum is not None:
        return f"an integer >= {minimum}"
    if maximum is not None:
        return f"an integer <= {maximum}"
    return "an integer"


def _float_range(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    def fmt(x: float) -> str:
        return f"{x:g}"

    if low is not None and high is not None:
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        return f"a number in {left}{fmt(low)}, {fmt(high)}{right}"
    if low is not None:
        return f"a number {'>' if low_open else '>='} {fmt(low)}"
    if high is not None:
        return f"a number {'<' if high_open else '<='} {fmt(high)}"
    return "a number"
