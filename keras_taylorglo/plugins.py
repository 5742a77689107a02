"""The plugin loader: the functions a recipe names as ``"module:function"``.

A recipe may name its own model builder, data set, fitness or baseline as
``"module:function"``, ``"pkg.module:function"`` or ``"path/to/file.py:function"``; this module
finds and imports them (:func:`resolve_callable`). It sits on the ground floor so that both the
recipe's validation and the model zoo use it without importing each other.

This module imports no TensorFlow (the named module may, when it is imported).

Example:
    >>> import pathlib
    >>> resolve_callable("os.path:join", pathlib.Path("."), "model.name", "r.toml")("a", "b")
    'a/b'
"""

from __future__ import annotations

import contextlib
import difflib
import importlib
import importlib.util
import os
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from .errors import RecipeError

__all__ = [
    "CALLABLE_RE",
    "did_you_mean",
    "is_callable_spec",
    "is_path_module",
    "locate_module",
    "on_sys_path",
    "resolve_callable",
]

# "module:function", "pkg.mod:function", "path/to/file.py:function" (function may be dotted:
# "module:Class.method"). The function part must be an identifier, which keeps it apart from a
# TFDS name with a version such as "mnist:3.0.1".
CALLABLE_RE = re.compile(r"^(?P<module>[^:\s]+):(?P<function>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)$")
"""The shape of a ``"module:function"`` recipe value (groups ``module`` and ``function``)."""


def did_you_mean(word: str, candidates: Sequence[str], prefix: str = "") -> str:
    """A ``"; did you mean 'x'?"`` hint for an error message, or ``""`` if nothing is close.

    Args:
        word: the unknown word the user wrote.
        candidates: the words that are allowed.
        prefix: put before the suggestion (``"loss."`` for a key of the loss section).

    Returns:
        The hint, starting with ``"; "``, or an empty string.

    Example:
        >>> did_you_mean("ordr", ["order", "inputs"])
        "; did you mean 'order'?"
    """
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f"; did you mean '{prefix}{close[0]}'?" if close else ""


def is_callable_spec(value: str) -> bool:
    """Whether ``value`` looks like ``"module:function"`` or ``"path/file.py:function"``.

    Args:
        value: A recipe value such as ``model.name``.

    Returns:
        True for callable specs, False for plain names (``"wide_resnet"``, ``"mnist:3.0.1"``).

    Example:
        >>> is_callable_spec("my_models:tiny_cnn"), is_callable_spec("wide_resnet")
        (True, False)
    """
    return isinstance(value, str) and CALLABLE_RE.match(value) is not None


def is_path_module(module: str) -> bool:
    """Whether the module part of a spec is a file path (``"lib/fns.py"``) rather than a name."""
    return module.endswith(".py") or "/" in module or os.sep in module


@contextlib.contextmanager
def on_sys_path(directory: Path) -> Iterator[None]:
    """Put ``directory`` first on ``sys.path`` for the duration (recipe modules win)."""
    entry = str(directory)
    sys.path.insert(0, entry)
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(entry)


def locate_module(module: str, base_dir: Path) -> str | None:
    """A problem description if ``module`` cannot be found, else None. Does not run the module.

    Args:
        module: a module name or a ``.py`` path (relative to ``base_dir``).
        base_dir: the recipe's directory, searched first.

    Returns:
        None if the module can be imported, else one line saying why not.
    """
    if is_path_module(module):
        path = Path(module).expanduser()
        path = path if path.is_absolute() else base_dir / path
        return None if path.is_file() else f"module file {str(path)!r} not found"
    if module in sys.modules:
        return None
    try:
        with on_sys_path(base_dir):
            spec = importlib.util.find_spec(module)
    except (ImportError, ValueError) as error:
        return f"module '{module}' cannot be found ({error})"
    except Exception as error:  # the parent package's __init__ raised while being imported
        return f"importing the package of module '{module}' failed: {type(error).__name__}: {error}"
    return None if spec is not None else f"module '{module}' not found"


def resolve_callable(spec: str, base_dir: Path, field: str, file: str) -> Callable[..., Any]:
    """Import the function a ``"module:function"`` recipe value names.

    The module is looked up in ``base_dir`` (the recipe's directory) first, then on
    ``sys.path``; ``"relative/path.py:function"`` loads that file (relative to ``base_dir``).
    A module already imported under the same name is reused.

    Args:
        spec: ``"module:function"``, ``"pkg.module:function"`` or ``"path/file.py:function"``.
        base_dir: The recipe's directory.
        field: The recipe field, for error messages (``"model.name"``).
        file: The recipe file, for error messages.

    Returns:
        The callable.

    Raises:
        RecipeError: Malformed spec, module not importable, or no such callable in it.

    Example:
        >>> import pathlib
        >>> resolve_callable("os.path:join", pathlib.Path("."), "model.name", "r.toml")("a", "b")
        'a/b'
    """
    match = CALLABLE_RE.match(spec) if isinstance(spec, str) else None
    expected = '"module:function" or "path/to/file.py:function"'
    if match is None:
        raise RecipeError(file, field, "not a module:function", spec, expected)
    module_name, function_name = match["module"], match["function"]
    base_dir = Path(base_dir)
    try:
        if is_path_module(module_name):
            module = _import_file(module_name, base_dir, field, file)
        else:
            with on_sys_path(base_dir):
                module = importlib.import_module(module_name)
    except RecipeError:
        raise
    except ModuleNotFoundError as error:
        if error.name and module_name.startswith(error.name):
            raise RecipeError(
                file,
                field,
                f"module '{module_name}' not found",
                spec,
                f"a module in {base_dir} or on the Python path",
            ) from None
        raise RecipeError(
            file, field, f"importing '{module_name}' failed: {error}", spec, expected
        ) from None
    except Exception as error:
        raise RecipeError(
            file,
            field,
            f"importing '{module_name}' failed: {type(error).__name__}: {error}",
            spec,
            expected,
        ) from None
    target: Any = module
    for part in function_name.split("."):
        if not hasattr(target, part):
            public = [n for n in dir(module) if not n.startswith("_")]
            raise RecipeError(
                file,
                field,
                f"module '{module_name}' has no attribute '{function_name}'"
                f"{did_you_mean(function_name, public)}",
                spec,
                expected,
            )
        target = getattr(target, part)
    if not callable(target):
        raise RecipeError(file, field, f"'{function_name}' is not callable", spec, expected)
    return target


def _import_file(module_path: str, base_dir: Path, field: str, file: str) -> Any:
    path = Path(module_path).expanduser()
    path = (path if path.is_absolute() else base_dir / path).resolve()
    if not path.is_file():
        raise RecipeError(file, field, f"module file '{path}' not found", module_path)
    # a stable, unique module name per file, so importing twice reuses the module
    name = "_taylorglo_recipe_" + re.sub(r"\W", "_", str(path.with_suffix("")))
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise RecipeError(file, field, f"cannot load '{path}' as a Python module", module_path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        with on_sys_path(path.parent):  # the file may import its neighbours
            spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module
