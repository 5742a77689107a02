"""The model zoo of the TaylorGLO paper, and :func:`build_model` for recipes.

Every model is a Keras functional model sized from the input shape and class count, with softmax
outputs, uncompiled, and without weight decay (the optimizer applies it).

========================  =================================================================
``basic_cnn``             the GLO paper's MNIST CNN (options: filters, kernel_size, dense,
                          dropout)
``alexnet``               AlexNet for 32x32 images (options: width, dropout)
``allcnn_c``              All-CNN-C (options: filters, input_dropout, dropout, batch_norm)
``preact_resnet20``       pre-activation ResNet-20 (options: depth, base_filters)
``wide_resnet``           WRN-d-k with pre-activation blocks (options: depth, width, dropout)
``"module:function"``     your own: ``function(input_shape, num_classes, **options)`` returns
                          an uncompiled ``keras.Model`` with ``num_classes`` outputs
========================  =================================================================

Example:
    >>> from types import SimpleNamespace
    >>> from pathlib import Path
    >>> config = SimpleNamespace(name="basic_cnn", options={"filters": (8, 16), "dense": 64})
    >>> build_model(config, (8, 8, 1), 10, Path("."), seed=0).output_shape
    (None, 10)
"""

from __future__ import annotations

import contextlib
import inspect
import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import keras

from ..errors import TaylorGLOError
from .alexnet import alexnet
from .allcnn_c import allcnn_c
from .basic_cnn import basic_cnn
from .preact_resnet import preact_resnet, preact_resnet20
from .wide_resnet import wide_resnet

__all__ = [
    "MODELS",
    "ModelError",
    "alexnet",
    "allcnn_c",
    "basic_cnn",
    "build_model",
    "model_options",
    "preact_resnet",
    "preact_resnet20",
    "seeded",
    "wide_resnet",
]

MODELS: dict[str, Callable[..., keras.Model]] = {
    "basic_cnn": basic_cnn,
    "alexnet": alexnet,
    "allcnn_c": allcnn_c,
    "preact_resnet20": preact_resnet20,
    "wide_resnet": wide_resnet,
}
"""Recipe model name -> ``builder(input_shape, num_classes, **options)``."""


class ModelError(TaylorGLOError, ValueError):
    """A model cannot be built as the recipe asks (unknown option, bad value, wrong output).

    It is a :class:`~keras_taylorglo.errors.TaylorGLOError` (one line for the command line) and a
    ``ValueError`` (for Python callers).

    Example:
        >>> str(ModelError("model wide_resnet: depth must be 6n + 4"))
        'model wide_resnet: depth must be 6n + 4'
    """


def model_options(name: str) -> tuple[str, ...]:
    """Return the option names a zoo model accepts.

    Args:
        name: A key of :data:`MODELS`.

    Returns:
        The keyword-only parameter names of its builder, in order.

    Raises:
        ModelError: ``name`` is not a zoo model.

    Example:
        >>> model_options("wide_resnet")
        ('depth', 'width', 'dropout')
    """
    if name not in MODELS:
        raise ModelError(f"unknown model {name!r} (expected one of {', '.join(MODELS)})")
    parameters = inspect.signature(MODELS[name]).parameters.values()
    return tuple(p.name for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY)


@contextlib.contextmanager
def seeded(seed: int | None) -> Iterator[None]:
    """Make every layer created inside the block draw its initializer seed from ``seed``.

    Keras 3 gives each unseeded initializer (and each dropout seed generator) a seed drawn from
    Python's ``random`` module when the layer is created. Seeding that module for the duration of
    the block makes the weights a function of ``seed`` alone, layer by layer, without touching
    the NumPy or TensorFlow global generators that other parts of a run rely on; the previous
    state of ``random`` is restored afterwards. ``None`` leaves everything as it is.

    Args:
        seed: The seed, or ``None`` for no seeding.

    Yields:
        Nothing.

    Example:
        >>> with seeded(1):
        ...     first = keras.layers.Dense(2)
        >>> with seeded(1):
        ...     second = keras.layers.Dense(2)
        >>> first.kernel_initializer.seed == second.kernel_initializer.seed
        True
    """
    if seed is None:
        yield
        return
    state = random.getstate()
    random.seed(int(seed))
    try:
        yield
    finally:
        random.setstate(state)


def build_model(
    config: Any,
    input_shape: Sequence[int],
    num_classes: int,
    base_dir: Path,
    seed: int | None = None,
) -> keras.Model:
    """Build the model a recipe's ``[model]`` section names, with seeded initial weights.

    Args:
        config: The recipe's ``ModelConfig`` or any object with ``name`` and ``options``.
        input_shape: ``(height, width, channels)`` of the data set.
        num_classes: Class count of the data set.
        base_dir: The recipe's directory (``module:function`` names resolve against it first).
        seed: Same seed, same initial weights; different seeds, different weights. ``None``
            draws from Python's current ``random`` state.

    Returns:
        An uncompiled ``keras.Model`` whose output is ``(None, num_classes)`` probabilities.

    Raises:
        ModelError: Unknown option (with the allowed ones), a bad option value, or a
            ``module:function`` that does not return a fitting ``keras.Model``.
        keras_taylorglo.errors.RecipeError: The ``module:function`` cannot be imported.

    Example:
        >>> from types import SimpleNamespace
        >>> config = SimpleNamespace(name="wide_resnet", options={"depth": 10, "width": 1})
        >>> build_model(config, (32, 32, 3), 10, Path("."), seed=3).output_shape
        (None, 10)
    """
    name = str(config.name)
    options = dict(getattr(config, "options", None) or {})
    input_shape = tuple(int(d) for d in input_shape)
    num_classes = int(num_classes)
    if name in MODELS:
        allowed = model_options(name)
        for option in options:
            if option not in allowed:
                raise ModelError(
                    f"model {name} has no option {option!r} (expected one of {', '.join(allowed)})"
                )
        try:
            with seeded(seed):
                return MODELS[name](input_shape, num_classes, **options)
        except (ValueError, TypeError) as error:
            message = str(error)
            prefix = "" if message.startswith(name) else f"{name}: "
            raise ModelError(f"model {prefix}{message} (options {options})") from error
    if ":" not in name:
        raise ModelError(
            f"unknown model {name!r} (expected one of {', '.join(MODELS)} or "
            + '"module:function")'
        )
    return _build_custom(name, options, input_shape, num_classes, Path(base_dir), seed)


def _build_custom(
    spec: str,
    options: Mapping[str, Any],
    input_shape: tuple[int, ...],
    num_classes: int,
    base_dir: Path,
    seed: int | None,
) -> keras.Model:
    from ..recipe import resolve_callable

    function = resolve_callable(spec, base_dir, "model.name", "recipe")
    try:
        with seeded(seed):
            model = function(input_shape, num_classes, **options)
    except TypeError as error:
        raise ModelError(
            f"model {spec} rejected its arguments (input_shape={input_shape}, "
            f"num_classes={num_classes}, options {dict(options)}): {error}"
        ) from error
    if not isinstance(model, keras.Model):
        raise ModelError(
            f"model {spec} returned {type(model).__name__} (expected an uncompiled keras.Model)"
        )
    try:
        output_shape = tuple(model.output_shape)
    except (AttributeError, ValueError) as error:
        raise ModelError(f"model {spec} has no single defined output ({error})") from error
    if len(output_shape) != 2 or output_shape[-1] != num_classes:
        raise ModelError(
            f"model {spec} outputs shape {output_shape} (expected (None, {num_classes}): one "
            f"probability per class)"
        )
    return model
