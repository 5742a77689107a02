"""What a Python search writes for its workers: the recipe, the pickled functions, the arrays."""

from __future__ import annotations

import json
import math
import numbers
import os
import re
import sys
import sysconfig
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import RecipeError, TaylorGLOError

INPUTS_DIR = "inputs"
INPUTS_MODULE = "taylorglo_inputs.py"
MODEL_SPEC = f"{INPUTS_DIR}/{INPUTS_MODULE}:model"
DATA_SPEC = f"{INPUTS_DIR}/{INPUTS_MODULE}:data"
__all__ = [
    "DATA_SPEC",
    "INPUTS_DIR",
    "INPUTS_MODULE",
    "MODEL_SPEC",
    "base_recipe",
    "describe_function",
    "dump_function",
    "flatten_section",
    "inputs_module_source",
    "rebased_recipe",
    "toml_value",
    "write_atomic",
]

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_SPEC = re.compile(r"^(?P<module>[^:\s]+):(?P<function>[A-Za-z_][\w.]*)$")


def base_recipe(recipe: Any) -> Any:
    """The recipe a ``Search`` starts from.

    Args:
        recipe: ``None`` (the default recipe), a ``Recipe``, a TOML file path or TOML text.

    Returns:
        The validated recipe.

    Raises:
        TaylorGLOError: For another type, or a recipe that does not validate (one line).
    """
    from ..recipe import Recipe, load_default_recipe, load_recipe, parse_recipe

    if recipe is None:
        return load_default_recipe()
    if isinstance(recipe, Recipe):
        return recipe
    if isinstance(recipe, str) and ("\n" in recipe or "[" in recipe):
        return parse_recipe(recipe, source="<recipe text>")
    if isinstance(recipe, str | os.PathLike):
        return load_recipe(recipe)
    raise TaylorGLOError(
        f"recipe: got {type(recipe).__name__} (expected a Recipe, a TOML file path, a shipped "
        "recipe's name or TOML text)"
    )


def flatten_section(prefix: str, table: Mapping[str, Any]) -> list[str]:
    """A keyword section as overrides: nested dicts set nested keys (``model.options`` whole).

    Args:
        prefix: The section (or key path) the table is under.
        table: The section's values.

    Returns:
        ``section.key=value`` overrides, e.g. ``{"partial": {"steps": 5}}`` under ``training``
        gives ``["training.partial.steps=5"]``.

    Raises:
        RecipeError: A value that cannot be a recipe value.
    """
    items = []
    for key, value in table.items():
        path = f"{prefix}.{key}"
        if isinstance(value, Mapping) and value and path != "model.options":
            items += flatten_section(path, value)
        else:
            items.append(f"{path}={toml_value(value, path)}")
    return items


def toml_value(value: Any, where: str) -> str:
    """``value`` as a TOML literal (strings quoted, tables inline), for ``with_overrides``.

    Args:
        value: A string, number, boolean, list, tuple, array or dict.
        where: The key it is for, named in the message.

    Returns:
        The TOML text.

    Raises:
        RecipeError: For any other type.
    """
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        number = float(value)
        if math.isnan(number):
            return "nan"
        if math.isinf(number):
            return "inf" if number > 0 else "-inf"
        return repr(number)
    if isinstance(value, str | os.PathLike):
        return json.dumps(os.fspath(value), ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, Mapping):
        parts = []
        for key, item in value.items():
            name = str(key) if _BARE_KEY.match(str(key)) else toml_value(str(key), where)
            parts.append(f"{name} = {toml_value(item, f'{where}.{key}')}")
        return "{ " + ", ".join(parts) + " }" if parts else "{}"
    if isinstance(value, list | tuple | np.ndarray):
        return "[" + ", ".join(toml_value(item, where) for item in value) + "]"
    raise RecipeError(
        "Search",
        where,
        f"a {type(value).__name__} cannot be a recipe value",
        expected="a string, number, boolean, list or dict",
    )


def rebased_recipe(recipe: Any, run_dir: Path) -> Any:
    """The recipe with its relative ``module:function`` names made absolute (base_dir moves).

    Args:
        recipe: The recipe.
        run_dir: The run directory, its new base directory.

    Returns:
        The recipe (the same one if nothing names a file relative to its base directory).
    """
    old = Path(recipe.base_dir).resolve()
    if old == run_dir:
        return recipe
    items = []
    for field, value in (
        ("model.name", recipe.model.name if recipe.model else ""),
        ("data.dataset", recipe.data.dataset if recipe.data else ""),
        ("evaluation.fitness", recipe.evaluation.fitness),
    ):
        match = _SPEC.match(value)
        if match is None or value in (MODEL_SPEC, DATA_SPEC):
            continue
        module = match["module"]
        if module.endswith(".py") or "/" in module:
            path = Path(module).expanduser()
            file = path if path.is_absolute() else old / path
        else:
            file = old / (module.replace(".", "/") + ".py")
            if not file.is_file():
                continue  # found on sys.path, not next to the recipe
        spec = f"{file}:{match['function']}"
        items.append(f"{field}={toml_value(spec, field)}")
    return recipe.with_overrides(items) if items else recipe


def describe_function(function: Any) -> str:
    """A function's name for messages: ``module.qualname`` (just the name in ``__main__``).

    Args:
        function: Any callable.

    Returns:
        The name.
    """
    name = getattr(function, "__qualname__", None) or type(function).__name__
    module = getattr(function, "__module__", None)
    return f"{module}.{name}" if module and module != "__main__" else name


def dump_function(function: Any, path: Path, arg: str) -> None:
    """Pickle ``function`` with cloudpickle: by value for your own modules (a complete run dir).

    Args:
        function: The model or data function (or model).
        path: The file to write.
        arg: The ``Search`` argument it came in, for the message.

    Raises:
        TaylorGLOError: If cloudpickle cannot save it (one line).
    """
    import cloudpickle

    module = sys.modules.get(getattr(function, "__module__", None) or "")
    by_value = (
        module is not None
        and _is_own_module(module)
        and module.__name__ not in cloudpickle.list_registry_pickle_by_value()
    )
    if by_value:
        cloudpickle.register_pickle_by_value(module)
    try:
        blob = cloudpickle.dumps(function)
    except Exception as exc:
        raise TaylorGLOError(
            f"{arg}: {describe_function(function)} cannot be saved with cloudpickle "
            f"({type(exc).__name__}: {exc}); define it at the top level of a module or cell, "
            "without references to open files, locks or built models"
        ) from None
    finally:
        if by_value:
            cloudpickle.unregister_pickle_by_value(module)
    path.write_bytes(blob)


def _is_own_module(module: Any) -> bool:
    """A module of yours (not ``__main__``, not installed, not this package)."""
    name, file = module.__name__, getattr(module, "__file__", None)
    if name == "__main__" or name.split(".")[0] == "keras_taylorglo" or not file:
        return False
    where = Path(file).resolve()
    if "site-packages" in where.parts or "dist-packages" in where.parts:
        return False
    roots = {sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    return not any(where.is_relative_to(Path(r).resolve()) for r in roots)


_MODULE_HEAD = '''\
"""Inputs of a search started from Python (written by keras_taylorglo.api; do not edit).

The recipe next to this directory names these functions as model.name and data.dataset, so that
every worker, `keras-taylorglo resume/analyze` and `ktg.resume` rebuild the same model and data.
"""

import functools
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


@functools.lru_cache(maxsize=None)
def _unpickle(name):
    import cloudpickle

    try:
        return cloudpickle.loads((HERE / name).read_bytes())
    except Exception as exc:
        raise RuntimeError(
            f"{HERE / name} cannot be loaded here (Python {sys.version.split()[0]}; it was written"
            f" by Python {PYTHON}): {type(exc).__name__}: {exc}"
        ) from None
'''

_MODEL_FUNCTION = '''

def model(input_shape, num_classes, **options):
    """Your model function, as given to ktg.Search."""
    return _unpickle("model.pkl")(tuple(input_shape), num_classes, **options)
'''

_MODEL_INSTANCE = '''

def model(input_shape, num_classes):
    """A clone of your keras.Model, with fresh weights."""
    import keras

    saved = keras.models.load_model(HERE / "model.keras", compile=False)
    return keras.models.clone_model(saved)
'''

_DATA_ARRAYS = '''

def data(seed=0):
    """Your arrays, memory-mapped (written once by ktg.Search)."""
    import numpy as np

    def load(name):
        return np.load(HERE / f"{name}.npy", mmap_mode="r")

    out = {"x_train": load("x_train"), "y_train": load("y_train")}
    if (HERE / "x_val.npy").exists():
        out["x_val"], out["y_val"] = load("x_val"), load("y_val")
    # Without test_data the validation split stands in for it (ktg.analyze warns).
    test = "test" if (HERE / "x_test.npy").exists() else "val"
    out["x_test"], out["y_test"] = load(f"x_{test}"), load(f"y_{test}")
    if NUM_CLASSES is not None:
        out["num_classes"] = NUM_CLASSES
    return out
'''

_DATA_FUNCTION = '''

def data(seed=0):
    """Your data function, as given to ktg.Search."""
    import inspect

    function = _unpickle("data.pkl")
    try:
        takes_seed = len(inspect.signature(function).parameters) > 0
    except (TypeError, ValueError):
        takes_seed = True
    return function(seed) if takes_seed else function()
'''


def inputs_module_source(functions: dict[str, str], num_classes: int | None) -> str:
    """The source of ``RUN_DIR/inputs/taylorglo_inputs.py``, the workers' model and data.

    Args:
        functions: ``{"model": "function" | "instance", "data": "arrays" | "function"}``,
            the entries a run from Python needs.
        num_classes: The class count, or ``None``.

    Returns:
        The module's text.
    """
    text = _MODULE_HEAD + f"\nPYTHON = {sys.version.split()[0]!r}\n"
    text += f"NUM_CLASSES = {None if num_classes is None else int(num_classes)!r}\n"
    if functions.get("model") == "function":
        text += _MODEL_FUNCTION
    elif functions.get("model") == "instance":
        text += _MODEL_INSTANCE
    if functions.get("data") == "arrays":
        text += _DATA_ARRAYS
    elif functions.get("data") == "function":
        text += _DATA_FUNCTION
    return text


def write_atomic(path: Path, text: str) -> None:
    """Writes ``text`` to ``path`` through a temporary file: never half-written.

    Args:
        path: The file.
        text: Its new content.
    """
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)
