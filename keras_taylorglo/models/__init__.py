"""The model zoo: the architectures of the TaylorGLO paper's Table 1, as Keras functional models.

Every builder takes ``(input_shape, num_classes, **options, seed=None)`` and returns an
uncompiled model with softmax outputs; weight decay is not part of the model (the evaluator
applies it). A recipe may also name its own builder as ``"module:function"``: it receives
``(input_shape, num_classes, **options)`` and returns an uncompiled ``keras.Model``.

The builders (and :data:`MODELS`) are imported on first use (PEP 562), so that
``keras-taylorglo validate`` can read their options (:func:`builder_source`) without importing
Keras.

Example:
    >>> from keras_taylorglo.models import MODELS
    >>> model = MODELS["wide_resnet"]((32, 32, 3), 10, depth=16, width=8, dropout=0.4)
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..errors import TaylorGLOError

BUILDER_MODULES: dict[str, str] = {
    "basic_cnn": "basic_cnn",
    "alexnet": "alexnet",
    "allcnn_c": "allcnn_c",
    "preact_resnet20": "resnet",
    "wide_resnet": "resnet",
}
"""Built-in model name → the module of this package that defines its builder (same name)."""

__all__ = [
    "BUILDER_MODULES",
    "MODELS",
    "alexnet",
    "allcnn_c",
    "basic_cnn",
    "build_model",
    "builder_source",
    "preact_resnet20",
    "wide_resnet",
]


def _builder(name: str) -> Callable[..., Any]:
    module = importlib.import_module(f"{__name__}.{BUILDER_MODULES[name]}")
    return getattr(module, name)


def __getattr__(name: str) -> Any:
    """Imports the builders (and Keras) only when one is asked for."""
    if name == "MODELS":
        models = {n: _builder(n) for n in BUILDER_MODULES}
        globals()["MODELS"] = models
        return models
    if name in BUILDER_MODULES:
        return _builder(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def builder_source(name: str) -> Path:
    """The source file of a built-in model's builder, read without importing it.

    Args:
        name: A built-in model name (a key of :data:`BUILDER_MODULES`).

    Returns:
        The ``.py`` file whose top-level function ``name`` is the builder.

    Raises:
        KeyError: ``name`` is not a built-in model.

    Example:
        >>> builder_source("wide_resnet").name
        'resnet.py'
    """
    return Path(__file__).with_name(f"{BUILDER_MODULES[name]}.py")


def _allowed_options(builder: Callable[..., Any]) -> list[str]:
    params = list(inspect.signature(builder).parameters)
    return [p for p in params[2:] if p != "seed"]


def build_model(
    config: Any,
    input_shape: Sequence[int],
    num_classes: int,
    base_dir: Path | str = ".",
    seed: int | None = None,
    source: str = "<recipe>",
) -> Any:
    """Build the model a recipe's ``[model]`` section names, sized from the data set.

    Args:
        config: The recipe's ``[model]`` section (``name`` and ``options``).
        input_shape: ``(height, width, channels)`` of one example.
        num_classes: Number of classes.
        base_dir: The recipe's directory, searched first for ``module:function`` builders.
        seed: Seed of the initial weights; the same seed gives the same weights.
        source: The recipe file, for error messages.

    Returns:
        An uncompiled ``keras.Model`` whose output is ``(None, num_classes)``.

    Raises:
        TaylorGLOError: An unknown option, a bad option value, or a custom builder that does not
            return a fitting model (one line each).
    """
    import keras

    options = dict(config.options or {})
    if ":" in config.name:
        from ..plugins import resolve_callable

        builder = resolve_callable(config.name, Path(base_dir), field="model.name", file=source)
        if seed is not None:
            keras.utils.set_random_seed(seed)  # custom builders may not take a seed
        try:
            model = builder(tuple(input_shape), num_classes, **options)
        except TypeError as exc:
            raise TaylorGLOError(
                f"{source}: model.options: {config.name} refused them ({exc})"
            ) from None
        if not isinstance(model, keras.Model):
            raise TaylorGLOError(
                f"{source}: model.name: {config.name} returned {type(model).__name__} "
                "(expected an uncompiled keras.Model)"
            )
    else:
        if config.name not in BUILDER_MODULES:
            raise TaylorGLOError(
                f"{source}: model.name: unknown model (got {config.name!r}; expected one of "
                f"{', '.join(BUILDER_MODULES)} or 'module:function')"
            )
        builder = _builder(config.name)
        allowed = _allowed_options(builder)
        for key in options:
            if key not in allowed:
                raise TaylorGLOError(
                    f"{source}: model.options.{key}: not an option of {config.name} "
                    f"(expected one of {', '.join(allowed)})"
                )
        try:
            model = builder(tuple(input_shape), num_classes, seed=seed, **options)
        except TaylorGLOError as exc:  # e.g. "model.options.depth: … needs 6n + 4": name the file
            raise TaylorGLOError(f"{source}: {exc}") from None
        except (TypeError, ValueError) as exc:
            raise TaylorGLOError(
                f"{source}: model.options: {config.name} cannot be built with {options} ({exc})"
            ) from None
    if tuple(model.output_shape[1:]) != (num_classes,):
        raise TaylorGLOError(
            f"{source}: model.name: {config.name} outputs shape {model.output_shape} "
            f"(expected (None, {num_classes}) for {num_classes} classes)"
        )
    return model
