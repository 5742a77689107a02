"""The validate-time check of the functions a recipe names, without running them.

This module imports no TensorFlow or Keras (a checked module is read with ``ast`` where it can be).
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import importlib.util
import inspect
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..plugins import (
    CALLABLE_RE,
    did_you_mean,
    is_path_module,
    on_sys_path,
    resolve_callable,
)
from .checker import _Checker
from .schema import (
    _TFDS_RE,
    DEFAULT_FITNESS,
    MODEL_NAMES,
)
from .toml_out import toml_value

if TYPE_CHECKING:
    from .core import Recipe

#: How the package calls each recipe function: the positional arguments it passes (their names,
#: for messages). ``data.dataset`` functions without parameters are called with none.
_CALLED_WITH = {
    "data.dataset": ("seed",),
    "model.name": ("input_shape", "num_classes"),
    "evaluation.fitness": ("theta", "seed"),
}


def check_callables(recipe: Recipe, overrides: Sequence[str] = ()) -> None:
    """Check the functions a recipe names and the model's options, without running them.

    ``parse_recipe`` only checks that a ``module:function``'s module can be found. This goes
    further, the way ``keras-taylorglo validate`` and ``search`` need before any worker starts:
    the function must exist (a misspelt name gets a "did you mean"), accept the arguments the
    package passes (``data.dataset``: ``(seed)`` or nothing; ``model.name``: ``(input_shape,
    num_classes, **model.options)``; ``evaluation.fitness``: ``(theta, seed)``), and every
    ``model.options`` key must be an option of the model (built-in models: also of the type of
    its default). A module's source is read (``ast``), not run, when the function is a plain
    top-level ``def``, so a module that imports Keras costs no TensorFlow start-up; anything
    else (a class, a decorated or re-exported function) is imported. The modules a checked
    source imports at its top level must be installed.

    Args:
        recipe: A validated recipe.
        overrides: The ``--set`` strings it was loaded with, so that a problem they caused names
            ``--set`` instead of the file.

    Raises:
        RecipeError: One line naming the file (or ``--set``), the field and the problem.

    Example:
        >>> from keras_taylorglo.recipe import load_default_recipe
        >>> check_callables(load_default_recipe())  # built-in data set and model: options checked
    """
    checker = _Checker(recipe.source, Path(recipe.base_dir))
    for item in overrides:
        path = str(item).split("=", 1)[0]
        checker.overridden.add(".".join(p.strip() for p in path.strip().split(".")))
    if recipe.data is not None and not _TFDS_RE.match(recipe.data.dataset):
        _check_call(checker, "data.dataset", recipe.data.dataset, {})
    if recipe.model is not None:
        options = dict(recipe.model.options or {})
        if recipe.model.name in MODEL_NAMES:
            _check_builtin_options(checker, recipe.model.name, options)
        else:
            _check_call(checker, "model.name", recipe.model.name, options)
    if recipe.evaluation.fitness != DEFAULT_FITNESS:
        _check_call(checker, "evaluation.fitness", recipe.evaluation.fitness, {})


class _NoDefault:
    """A default the source does not spell as a literal (``seed=SEED``): present, value unknown."""

    def __repr__(self) -> str:
        return "…"


def _ast_signature(args: Any) -> inspect.Signature:
    """An :class:`inspect.Signature` from a parsed ``def``'s arguments (defaults as literals)."""

    def default(node: Any) -> Any:
        try:
            return ast.literal_eval(node)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            return _NoDefault()

    kind = inspect.Parameter
    positional = [*args.posonlyargs, *args.args]
    first_default = len(positional) - len(args.defaults)
    params = [
        kind(
            a.arg,
            kind.POSITIONAL_ONLY if i < len(args.posonlyargs) else kind.POSITIONAL_OR_KEYWORD,
            default=default(args.defaults[i - first_default]) if i >= first_default else kind.empty,
        )
        for i, a in enumerate(positional)
    ]
    if args.vararg is not None:
        params.append(kind(args.vararg.arg, kind.VAR_POSITIONAL))
    for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True):
        params.append(
            kind(a.arg, kind.KEYWORD_ONLY, default=kind.empty if d is None else default(d))
        )
    if args.kwarg is not None:
        params.append(kind(args.kwarg.arg, kind.VAR_KEYWORD))
    return inspect.Signature(params)


def _module_source(module: str, base_dir: Path) -> Path | None:
    """The ``.py`` file of a module, found without running it (None: not plain source)."""
    if is_path_module(module):
        path = Path(module).expanduser()
        return (path if path.is_absolute() else base_dir / path).resolve()
    if module in sys.modules:
        return None  # already imported: its real function is free to inspect
    try:
        with on_sys_path(base_dir):
            spec = importlib.util.find_spec(module)
    except Exception:  # noqa: BLE001 - parse_recipe reported what it could; importing will say
        return None
    origin = getattr(spec, "origin", None)
    return Path(origin) if origin and origin.endswith(".py") else None


def _bound_names(body: list[Any]) -> tuple[dict[str, Any], bool]:
    """Top-level names a module binds (also inside if/try/with), and whether it is dynamic."""
    names: dict[str, Any] = {}
    dynamic = False
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names[node.name] = node
            dynamic |= node.name == "__getattr__"
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name == "*":
                    dynamic = True
                else:
                    names[alias.asname or alias.name.split(".")[0]] = node
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for leaf in ast.walk(target):
                    if isinstance(leaf, ast.Name):
                        names[leaf.id] = node
        elif isinstance(node, (ast.If, ast.Try, ast.With, ast.For, ast.While)):
            blocks = [getattr(node, a, []) for a in ("body", "orelse", "finalbody")]
            blocks += [h.body for h in getattr(node, "handlers", [])]
            for block in blocks:
                inner, more = _bound_names(block)
                # a name bound only conditionally is "something else": the import decides
                names.update({k: node for k in inner})
                dynamic |= more
    return names, dynamic


def _missing_imports(body: list[Any], where: list[Path]) -> str | None:
    """The first top-level ``import`` of a module source that is not installed, if any."""
    for node in body:
        if isinstance(node, ast.Import):
            wanted = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            wanted = [node.module]
        else:
            continue
        for name in wanted:
            top = name.split(".")[0]
            if top in sys.modules or top == "__future__":
                continue
            try:
                with contextlib.ExitStack() as stack:
                    for directory in where:
                        stack.enter_context(on_sys_path(directory))
                    found = importlib.util.find_spec(top) is not None
            except (ImportError, ValueError):
                found = False
            if not found:
                return top
    return None


def _static_signature(
    checker: _Checker, field_name: str, spec: str
) -> tuple[str, inspect.Signature | None] | None:
    """``(name, signature)`` read from the module's source, or None when it must be imported.

    Raises:
        RecipeError: The source has a syntax error, imports a module that is not installed, or
            defines no such function.
    """
    match = CALLABLE_RE.match(spec)
    if match is None or "." in match["function"]:
        return None  # "module:Class.method": only importing can tell
    module, function = match["module"], match["function"]
    path = _module_source(module, checker.base_dir)
    if path is None or not path.is_file():
        return None
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except SyntaxError as error:
        raise checker.error(
            field_name,
            f"module '{module}' has a syntax error at line {error.lineno}: {error.msg}",
            spec,
        ) from None
    except (OSError, ValueError):
        return None
    names, dynamic = _bound_names(tree.body)
    missing = _missing_imports(tree.body, [path.parent, checker.base_dir])
    if missing is not None:
        raise checker.error(
            field_name,
            f"module '{module}' imports '{missing}', which is not installed",
            spec,
            f"'{missing}' importable from {checker.base_dir} or the Python path",
        )
    node = names.get(function)
    if node is None:
        if dynamic:
            return None
        public = [n for n in names if not n.startswith("_")]
        raise checker.error(
            field_name,
            f"module '{module}' has no attribute '{function}'{did_you_mean(function, public)}",
            spec,
            f"a function defined in {path.name}",
        )
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not node.decorator_list:
        return function, _ast_signature(node.args)
    return None


def _signature_of(checker: _Checker, field_name: str, spec: str) -> tuple[str, Any]:
    """The function's name and signature (None if it has none), statically or by importing."""
    found = _static_signature(checker, field_name, spec)
    if found is not None:
        return found
    origin = checker.origin(field_name)
    target = resolve_callable(spec, checker.base_dir, field_name, origin)
    try:
        signature = inspect.signature(target)
    except (TypeError, ValueError):  # some builtins and C extensions have none
        signature = None
    return spec.rsplit(":", 1)[1], signature


def _check_call(checker: _Checker, field_name: str, spec: str, options: dict[str, Any]) -> None:
    """The function exists and accepts the arguments (and options) the package passes."""
    name, signature = _signature_of(checker, field_name, spec)
    if signature is None:
        return
    args = _CALLED_WITH[field_name]
    if field_name == "data.dataset" and not signature.parameters:
        return  # called without arguments
    call = f"{name}({', '.join(args)}{', **model.options' if field_name == 'model.name' else ''})"
    accepts_any = any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values())
    keywords = [
        p.name
        for p in list(signature.parameters.values())[len(args) :]
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]
    if not accepts_any:
        for key in options:
            if key not in keywords:
                raise checker.error(
                    f"model.options.{key}",
                    f"not an option of {spec}{did_you_mean(key, keywords)}",
                    expected=(f"one of {', '.join(keywords)}" if keywords else "no options")
                    + ", or a builder taking **kwargs",
                )
    try:
        signature.bind(*args, **options)
    except TypeError as error:
        needed = re.search(r"missing a required (?:keyword-only )?argument: '(\w+)'", str(error))
        first = list(signature.parameters)[: len(args)]
        if needed and field_name == "model.name" and needed[1] not in first:
            raise checker.error(
                "model.options",
                f"{spec} needs option '{needed[1]}'",
                options,
                f"model.options with {needed[1]} (the parameters of {name}{signature})",
            ) from None
        raise checker.error(
            field_name,
            f"{name}{signature} cannot be called as {call}: {error}",
            spec,
            f"a function taking {call}",
        ) from None


def _option_type(default: Any) -> tuple[tuple[type, ...], str] | None:
    """The types a built-in model option accepts, judged from its default (None: any)."""
    if isinstance(default, bool):
        return (bool,), "true or false"
    if isinstance(default, int):
        return (int,), "an integer"
    if isinstance(default, float):
        return (int, float), "a number"
    if isinstance(default, (tuple, list)):
        return (list, tuple), "a list"
    if isinstance(default, str):
        return (str,), "a string"
    return None


def _check_builtin_options(checker: _Checker, model: str, options: dict[str, Any]) -> None:
    """Every option is a keyword of the built-in builder, of the type of its default."""
    from ..models import builder_source

    path = builder_source(model)
    tree = ast.parse(path.read_bytes(), filename=str(path))
    node = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == model)
    params = list(_ast_signature(node.args).parameters.values())[2:]
    allowed = {p.name: p.default for p in params if p.name != "seed"}
    for key, value in options.items():
        if key not in allowed:
            raise checker.error(
                f"model.options.{key}",
                f"not an option of {model}{did_you_mean(key, list(allowed))}",
                expected=f"one of {', '.join(allowed)}",
            )
        accepted = _option_type(allowed[key])
        if accepted is None:
            continue
        types, text = accepted
        if isinstance(value, bool) and bool not in types or not isinstance(value, types):
            raise checker.error(
                f"model.options.{key}",
                f"wrong type for {model}",
                value,
                f"{text}, like its default {_show_default(allowed[key])}",
            )


def _show_default(value: Any) -> str:
    if isinstance(value, tuple):
        value = list(value)
    return toml_value(value)
