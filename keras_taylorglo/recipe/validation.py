"""Validation: the raw (overridden) TOML dict into the schema's dataclasses, driven by the schema.

Every section is checked field by field from its dataclass (:mod:`.schema`): a field's type and
its :func:`~keras_taylorglo.recipe.schema.spec` limits pick the check, or its named ``rule``
does (:data:`_RULES`, for values such as ``execution.devices`` that need more than a type and a
range). A key the table leaves out is checked as if its default had been written, so defaults
and given values go the same way. The rules that tie fields together (a budget is one of
``steps`` / ``epochs``, ``workers_per_gpu`` with ``gpus_per_worker``, ``[data]`` and ``[model]``
being required) are explicit checks after the per-field pass.

This module imports no TensorFlow or Keras.
"""

from __future__ import annotations

import dataclasses
import functools
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..errors import RecipeError
from ..plugins import did_you_mean
from .checker import _Checker
from .schema import (
    _NAME_RE,
    _REQUIRED,
    _SECTION_KEYS,
    _SECTION_TYPES,
    _TFDS_RE,
    DEFAULT_FITNESS,
    INPUT_NAMES,
    JIT_COMPILE_AUTO,
    MODEL_NAMES,
    SECTIONS,
    Budget,
    ExecutionConfig,
    LossConfig,
)
from .toml_out import plain_values

#: A named check: ``rule(checker, field_path, value, sections)`` returns the field's value;
#: ``sections`` holds the sections already built (``[loss]`` before ``[evolution]``).
Rule = Callable[[_Checker, str, Any, Mapping[str, Any]], Any]
_RULES: dict[str, Rule] = {}
# Checked after the section's other fields, as the validator always has: when a table holds
# two problems, the order decides which one the one-line error names.
_LATE_RULES = frozenset({"budget"})
# The checker method for each plain field type (a field with `choices` uses `choice`).
_TYPE_CHECKS = {bool: "boolean", int: "integer", float: "number", str: "string"}


def build_sections(
    raw: dict[str, Any],
    checker: _Checker,
    default_name: str | None,
) -> dict[str, Any]:
    """Validate the raw (overridden) TOML dict section by section.

    Returns:
        The :class:`~keras_taylorglo.recipe.Recipe` keyword arguments, one per section.
    """
    for key, value in raw.items():
        if key in SECTIONS:
            continue
        if isinstance(value, dict):
            problem = f"unknown section{did_you_mean(key, SECTIONS)}"
        else:
            owners = [s for s in SECTIONS if key in _SECTION_KEYS[s]]
            hint = f"; did you mean '{owners[0]}.{key}'?" if owners else ""
            problem = f"unknown top-level key (keys belong in a [section]){hint}"
        raise checker.error(key, problem, expected=f"sections {', '.join(SECTIONS)}")

    tables = {name: checker.table(name, raw.get(name, {})) for name in SECTIONS}
    for name in SECTIONS:
        checker.keys(name, tables[name], _SECTION_KEYS[name])
    if default_name:
        # a file's stem names the run when the file does not (a copy: `raw` stays as given)
        tables["experiment"] = {"name": default_name, **tables["experiment"]}

    sections: dict[str, Any] = {}
    # [evaluation] goes second: its fitness decides whether [data] and [model] are required
    for name in ("experiment", "evaluation"):
        sections[name] = _section(_SECTION_TYPES[name], tables[name], checker, name, sections)
    custom_fitness = sections["evaluation"].fitness != DEFAULT_FITNESS
    for name in _REQUIRED:
        if name not in raw and not custom_fitness:
            raise RecipeError(
                checker.file,
                name,
                f"missing required section [{name}]",
                expected=f"a [{name}] table (optional only when evaluation.fitness is "
                '"module:function")',
            )
    for name, cls in _SECTION_TYPES.items():
        if name in sections:
            continue
        absent = name in _REQUIRED and name not in raw
        sections[name] = None if absent else _section(cls, tables[name], checker, name, sections)
    _check_execution(checker, sections["execution"])
    return sections


def _section(
    cls: type, table: Mapping[str, Any], c: _Checker, path: str, sections: Mapping[str, Any]
) -> Any:
    """Check each field of ``cls`` in ``table`` (a table with known keys); build the ``cls``."""
    hints = _type_hints(cls)
    ordered = sorted(dataclasses.fields(cls), key=lambda f: f.metadata.get("rule") in _LATE_RULES)
    values = {}
    for f in ordered:
        value = table[f.name] if f.name in table else plain_values(_default(f))
        values[f.name] = _field(c, f"{path}.{f.name}", value, f, hints[f.name], sections)
    return cls(**values)


def _field(
    c: _Checker,
    path: str,
    value: Any,
    f: dataclasses.Field[Any],
    hint: Any,
    sections: Mapping[str, Any],
) -> Any:
    """One field's value, checked by its rule, as a nested table, or by its type and limits."""
    limits = dict(f.metadata)
    rule = limits.pop("rule", None)
    if rule is not None:
        return _RULES[rule](c, path, value, sections)
    if dataclasses.is_dataclass(hint):
        table = c.table(path, value)
        c.keys(path, table, [g.name for g in dataclasses.fields(hint)])
        return _section(hint, table, c, path, sections)
    check = "choice" if "choices" in limits else _TYPE_CHECKS.get(hint)
    if check is None:  # a schema mistake, found by the tests, never a user's
        raise TypeError(f"{path}: no check for type {hint!r}; give its spec(...) a rule")
    return getattr(c, check)(path, value, **limits)


@functools.cache
def _type_hints(cls: type) -> dict[str, Any]:
    # the schema uses `from __future__ import annotations`: the field types are strings there
    return typing.get_type_hints(cls)


def _default(f: dataclasses.Field[Any]) -> Any:
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return f.default


def _rule(name: str) -> Callable[[Rule], Rule]:
    """Register a named check for ``spec(..., rule=name)``."""

    def register(check: Rule) -> Rule:
        _RULES[name] = check
        return check

    return register


def _deep_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value


# --- the named rules -----------------------------------------------------------------------------


@_rule("run_name")
def _run_name(c: _Checker, path: str, value: Any, sections: Mapping[str, Any]) -> str:
    name = c.string(path, value)
    if not _NAME_RE.match(name):
        raise c.error(
            path,
            "empty" if not name else "not usable as a directory name",
            name,
            "1-100 letters, digits, '.', '_' or '-', starting with a letter or digit",
        )
    return name


@_rule("dataset")
def _dataset(c: _Checker, path: str, value: Any, sections: Mapping[str, Any]) -> str:
    expected = (
        "a data set name (digits, mnist, cifar10, svhn_cropped or any TFDS name) "
        'or "module:function"'
    )
    dataset = c.string(path, value, expected)
    if not dataset.strip():
        raise c.error(path, "empty", dataset, expected)
    if not _TFDS_RE.match(dataset):
        dataset = c.callable_spec(
            path, dataset, "digits, mnist, cifar10, svhn_cropped, a TFDS name"
        )
    return dataset


@_rule("directory")
def _directory(c: _Checker, path: str, value: Any, sections: Mapping[str, Any]) -> str:
    directory = c.string(path, value, 'a directory path or ""')
    if directory:
        resolved = Path(directory).expanduser()
        directory = str(resolved if resolved.is_absolute() else (c.base_dir / resolved).resolve())
    return directory


@_rule("model_name")
def _model_name(c: _Checker, path: str, value: Any, sections: Mapping[str, Any]) -> str:
    expected = "one of " + ", ".join(MODEL_NAMES) + ' or "module:function"'
    name = c.string(path, value, expected)
    if name not in MODEL_NAMES:
        if ":" not in name:
            raise c.error(path, f"unknown model{did_you_mean(name, MODEL_NAMES)}", name, expected)
        name = c.callable_spec(path, name, "one of " + ", ".join(MODEL_NAMES))
    return name


@_rule("options")
def _options(c: _Checker, path: str, value: Any, sections: Mapping[str, Any]) -> dict[str, Any]:
    return _deep_copy(c.table(path, value))


@_rule("budget")
def _budget(c: _Checker, path: str, value: Any, sections: Mapping[str, Any]) -> Budget:
    expected = f"{{ steps = N }} or {{ epochs = N }} with N >= 1, e.g. {path} = {{ steps = 300 }}"
    table = c.table(path, value)
    c.keys(path, table, [f.name for f in dataclasses.fields(Budget)])
    if ("steps" in table) == ("epochs" in table):
        problem = "set both steps and epochs" if table else "set neither steps nor epochs"
        raise c.error(path, f"{problem}; a budget needs exactly one", table, expected)
    key = "steps" if "steps" in table else "epochs"
    return Budget(**{key: c.integer(f"{path}.{key}", table[key], minimum=1)})


@_rule("decay_epochs")
def _decay_epochs(
    c: _Checker, path: str, value: Any, sections: Mapping[str, Any]
) -> tuple[int, ...]:
    expected = "a list of strictly increasing integers >= 1, e.g. [80, 120]"
    if not isinstance(value, list):
        raise c.error(path, "must be a list", value, expected)
    for i, epoch in enumerate(value):
        c.integer(f"{path}[{i}]", epoch, minimum=1)
        if i and epoch <= value[i - 1]:
            raise c.error(path, "not strictly increasing", value, expected)
    return tuple(value)


@_rule("jit_compile")
def _jit_compile(c: _Checker, path: str, value: Any, sections: Mapping[str, Any]) -> str | bool:
    if not isinstance(value, bool) and value != JIT_COMPILE_AUTO:
        raise c.error(
            path,
            "unknown value",
            value,
            f'"{JIT_COMPILE_AUTO}" (XLA on a single GPU, not on CPU), true or false',
        )
    return value


@_rule("inputs")
def _inputs(c: _Checker, path: str, value: Any, sections: Mapping[str, Any]) -> tuple[str, ...]:
    expected = (
        'a list of unique names from "label", "prediction", "progress" with label and prediction'
    )
    if not isinstance(value, list):
        raise c.error(path, "must be a list", value, expected)
    for i, name in enumerate(value):
        if not isinstance(name, str) or name not in INPUT_NAMES:
            raise c.error(
                f"{path}[{i}]",
                "unknown input"
                + (did_you_mean(name, INPUT_NAMES) if isinstance(name, str) else ""),
                name,
                expected,
            )
    if len(set(value)) != len(value):
        raise c.error(path, "duplicate input", value, expected)
    for required in ("label", "prediction"):
        if required not in value:
            raise c.error(path, f'must contain "{required}"', value, expected)
    return tuple(value)


@_rule("initial")
def _initial(
    c: _Checker, path: str, value: Any, sections: Mapping[str, Any]
) -> str | tuple[float, ...]:
    # the number of θ values comes from [loss], validated before [evolution]
    loss: LossConfig = sections["loss"]
    n = loss.num_params
    why = (
        f"{len(loss.inputs)} inputs, order {loss.order}, {'trimmed' if loss.trim else 'untrimmed'}"
    )
    expected = f'"zeros" or a list of {n} numbers ({why})'
    if isinstance(value, str):
        if value != "zeros":
            raise c.error(path, "unknown initial point", value, expected)
        return value
    if not isinstance(value, list):
        raise c.error(path, 'must be "zeros" or a list', value, expected)
    if len(value) != n:
        raise c.error(path, f"wrong length {len(value)}, need {n}", value, expected)
    return tuple(c.number(f"{path}[{i}]", v) for i, v in enumerate(value))


@_rule("fitness")
def _fitness(c: _Checker, path: str, value: Any, sections: Mapping[str, Any]) -> str:
    expected = f'"{DEFAULT_FITNESS}" or "module:function"'
    fitness = c.string(path, value, expected)
    if fitness != DEFAULT_FITNESS:
        if ":" not in fitness:
            raise c.error(
                path,
                f"unknown fitness{did_you_mean(fitness, [DEFAULT_FITNESS])}",
                fitness,
                expected,
            )
        fitness = c.callable_spec(path, fitness, f'"{DEFAULT_FITNESS}"')
    return fitness


@_rule("devices")
def _devices(
    c: _Checker, path: str, value: Any, sections: Mapping[str, Any]
) -> str | tuple[int, ...]:
    expected = '"auto", "cpu" or a non-empty list of unique GPU indices, e.g. [0, 1]'
    if isinstance(value, str):
        if value not in ("auto", "cpu"):
            raise c.error(
                path,
                f"unknown device setting{did_you_mean(value, ['auto', 'cpu'])}",
                value,
                expected,
            )
        return value
    if not isinstance(value, list):
        raise c.error(path, "must be a string or a list", value, expected)
    if not value:
        raise c.error(path, "empty list", value, expected)
    for i, index in enumerate(value):
        c.integer(f"{path}[{i}]", index, minimum=0)
    if len(set(value)) != len(value):
        raise c.error(path, "duplicate GPU index", value, expected)
    return tuple(value)


# --- checks across fields ------------------------------------------------------------------------


def _check_execution(c: _Checker, execution: ExecutionConfig) -> None:
    """GPUs split evenly into worker groups, and only single-GPU workers share a GPU."""
    devices, gpus_per_worker = execution.devices, execution.gpus_per_worker
    if isinstance(devices, tuple) and len(devices) % gpus_per_worker:
        raise c.error(
            "execution.gpus_per_worker",
            f"{len(devices)} listed GPUs cannot be split into groups of {gpus_per_worker}",
            gpus_per_worker,
            f"a divisor of {len(devices)} (the length of execution.devices)",
        )
    if execution.workers_per_gpu > 1 and gpus_per_worker > 1:
        raise c.error(
            "execution.workers_per_gpu",
            f"workers cannot share GPUs when each worker has {gpus_per_worker} of them "
            "(gpus_per_worker)",
            execution.workers_per_gpu,
            "1 with gpus_per_worker > 1",
        )
