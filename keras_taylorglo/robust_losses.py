"""Robust-loss baselines as Keras 3 losses: GCE, the Baikal loss and label smoothing.

These are what ``keras-taylorglo analyze --baselines ...`` trains against TaylorGLO, with the
noisy-label losses of :mod:`keras_taylorglo.noisy_label_losses` (which reuse the helpers here).
They are written the way :mod:`keras_taylorglo.losses` is: the maths is a plain function with
``keras.ops``; the class is a thin, serialisable ``keras.losses.Loss`` whose ``call`` returns
per-sample values (a scalar would be counted once per replica under a distribution strategy).
Labels may be integer class ids (``[...]`` or ``[..., 1]``) or one-hot; predictions are
probabilities unless ``from_logits=True``.

All three compute in float32 even when the predictions are bfloat16 or float16 (mixed
precision): ``log``, ``1/y`` and ``p**q`` near the clipping floor ``keras.config.epsilon()`` are
not representable in half precision.

Example:
    >>> import keras
    >>> from keras_taylorglo.robust_losses import GCELoss
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    >>> model.compile(optimizer="sgd", loss=GCELoss(q=0.7), metrics=["accuracy"])
"""

from __future__ import annotations

import math
from typing import Any

import keras
from keras import ops

from .losses import _labels_like

__all__ = [
    "BaikalLoss",
    "GCELoss",
    "LabelSmoothingCrossentropy",
    "baikal",
    "gce",
    "label_smoothing_crossentropy",
]


def _check_q(q: float) -> float:
    value = float(q)
    if not (math.isfinite(value) and 0.0 < value <= 1.0):
        raise ValueError(f"q must be a number in (0, 1]; got {q!r}")
    return value


def _check_label_smoothing(label_smoothing: float) -> float:
    value = float(label_smoothing)
    if not (math.isfinite(value) and 0.0 <= value < 1.0):
        raise ValueError(f"label_smoothing must be a number in [0, 1); got {label_smoothing!r}")
    return value


def _predictions_and_labels(y_true: Any, y_pred: Any, from_logits: bool) -> tuple[Any, Any]:
    """Returns ``(one-hot labels, probabilities)``, both at least float32."""
    y_pred = ops.convert_to_tensor(y_pred)
    # Half precision (and integers) go up to float32; float32/float64 stay as they are.
    if keras.backend.standardize_dtype(y_pred.dtype) not in ("float32", "float64"):
        y_pred = ops.cast(y_pred, "float32")
    if from_logits:
        y_pred = ops.softmax(y_pred, axis=-1)
    return _labels_like(ops.convert_to_tensor(y_true), y_pred), y_pred


def gce(y_true: Any, y_pred: Any, q: float = 0.7, from_logits: bool = False) -> Any:
    """Computes the generalised cross-entropy (Zhang & Sabuncu, NeurIPS 2018) per sample.

    ``loss = (1 - p_y ** q) / q`` with ``p_y`` the predicted probability of the true class,
    clipped to ``[epsilon, 1]`` first (``q - 1 < 0`` makes the gradient infinite at 0).
    ``q → 0`` approaches cross-entropy; ``q = 1`` is the mean absolute error up to a factor.

    Args:
        y_true: one-hot labels ``[..., n]`` or integer class ids ``[...]`` / ``[..., 1]``.
        y_pred: probabilities ``[..., n]`` (or logits with ``from_logits=True``).
        q: the exponent, in (0, 1].
        from_logits: apply a softmax over the last axis to ``y_pred`` first.

    Returns:
        The loss per sample, shape ``y_pred.shape[:-1]``, float32 (float64 for float64 input).

    Raises:
        ValueError: if q is not in (0, 1].

    Example:
        >>> import numpy as np
        >>> values = gce(np.array([0, 1]), np.array([[0.8, 0.2], [0.3, 0.7]]), q=0.7)
        >>> tuple(values.shape)
        (2,)
    """
    q = _check_q(q)
    y_true, y_pred = _predictions_and_labels(y_true, y_pred, from_logits)
    p_true = ops.sum(y_true * y_pred, axis=-1)
    p_true = ops.clip(p_true, keras.config.epsilon(), 1.0)
    return (1.0 - ops.power(p_true, q)) / q


def baikal(y_true: Any, y_pred: Any, from_logits: bool = False) -> Any:
    """Computes the Baikal loss found by GLO (Gonzalez & Miikkulainen, 2020) per sample.

    ``loss = -(1/n) Σ_i (log y_i - x_i / y_i)`` over the n classes, with x the one-hot label and
    y the prediction clipped to ``[epsilon, 1]``.

    Args:
        y_true: one-hot labels ``[..., n]`` or integer class ids ``[...]`` / ``[..., 1]``.
        y_pred: probabilities ``[..., n]`` (or logits with ``from_logits=True``).
        from_logits: apply a softmax over the last axis to ``y_pred`` first.

    Returns:
        The loss per sample, shape ``y_pred.shape[:-1]``, float32 (float64 for float64 input).

    Example:
        >>> import numpy as np
        >>> values = baikal(np.array([0, 1]), np.array([[0.8, 0.2], [0.3, 0.7]]))
        >>> tuple(values.shape)
        (2,)
    """
    y_true, y_pred = _predictions_and_labels(y_true, y_pred, from_logits)
    y_pred = ops.clip(y_pred, keras.config.epsilon(), 1.0)
    return -ops.mean(ops.log(y_pred) - y_true / y_pred, axis=-1)


class _FunctionLoss(keras.losses.Loss):
    """A ``Loss`` around a per-sample function, as Keras's own ``LossFunctionWrapper``.

    The keyword arguments are the function's settings: they become attributes, are passed on
    every call, and are exactly what ``get_config`` adds to the base config.
    """

    def __init__(self, fn: Any, name: str, reduction: str | None, **settings: Any) -> None:
        super().__init__(name=name, reduction=reduction)
        self._fn = fn
        self._settings = settings
        for key, value in settings.items():
            setattr(self, key, value)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        """Returns the per-sample loss (a scalar would be double-counted under a strategy).

        Args:
            y_true: one-hot labels or integer class ids.
            y_pred: probabilities (or logits with ``from_logits=True``).

        Returns:
            The loss per sample, shape ``y_pred.shape[:-1]``.
        """
        return self._fn(y_true, y_pred, **self._settings)

    def get_config(self) -> dict[str, Any]:
        """Returns the base config plus exactly the constructor arguments.

        Returns:
            A JSON-serialisable dict; ``cls.from_config(config)`` rebuilds the loss.
        """
        return {**super().get_config(), **self._settings}


def label_smoothing_crossentropy(
    y_true: Any, y_pred: Any, label_smoothing: float = 0.1, from_logits: bool = False
) -> Any:
    """Keras's categorical cross-entropy with label smoothing, per sample, for sparse labels too.

    Args:
        y_true: one-hot labels or integer class ids.
        y_pred: probabilities (or logits with ``from_logits=True``).
        label_smoothing: ε, in [0, 1): the target is ``(1 - ε) x + ε / n``.
        from_logits: ``y_pred`` holds logits (Keras applies the softmax).

    Returns:
        The loss per sample, shape ``y_pred.shape[:-1]``.

    Example:
        >>> import numpy as np
        >>> values = label_smoothing_crossentropy(np.array([0]), np.array([[0.8, 0.2]]))
        >>> tuple(values.shape)
        (1,)
    """
    # The softmax (if any) is Keras's, inside categorical_crossentropy.
    y_true, y_pred = _predictions_and_labels(y_true, y_pred, from_logits=False)
    return keras.losses.categorical_crossentropy(
        y_true, y_pred, from_logits=from_logits, label_smoothing=label_smoothing
    )


@keras.saving.register_keras_serializable(package="keras_taylorglo")
class GCELoss(_FunctionLoss):
    """Generalised cross-entropy ``(1 - p_y ** q) / q`` (Zhang & Sabuncu, NeurIPS 2018).

    Robust to label noise for q near 1, close to cross-entropy for small q.

    Args:
        q: the exponent, in (0, 1].
        from_logits: ``y_pred`` holds logits; a softmax is applied first.
        name: the loss's name.
        reduction: Keras reduction over the per-sample values; ``None`` returns them.

    Raises:
        ValueError: if q is not in (0, 1].

    Example:
        >>> loss = GCELoss(q=0.7)
        >>> model.compile(optimizer="sgd", loss=loss)  # doctest: +SKIP
    """

    def __init__(
        self,
        q: float = 0.7,
        from_logits: bool = False,
        name: str = "gce",
        reduction: str | None = "sum_over_batch_size",
    ) -> None:
        super().__init__(gce, name, reduction, q=_check_q(q), from_logits=bool(from_logits))


@keras.saving.register_keras_serializable(package="keras_taylorglo")
class BaikalLoss(_FunctionLoss):
    """The Baikal loss ``-(1/n) Σ_i (log y_i - x_i / y_i)`` found by GLO (Gonzalez 2020).

    Args:
        from_logits: ``y_pred`` holds logits; a softmax is applied first.
        name: the loss's name.
        reduction: Keras reduction over the per-sample values; ``None`` returns them.

    Example:
        >>> loss = BaikalLoss()
        >>> model.compile(optimizer="sgd", loss=loss)  # doctest: +SKIP
    """

    def __init__(
        self,
        from_logits: bool = False,
        name: str = "baikal",
        reduction: str | None = "sum_over_batch_size",
    ) -> None:
        super().__init__(baikal, name, reduction, from_logits=bool(from_logits))


@keras.saving.register_keras_serializable(package="keras_taylorglo")
class LabelSmoothingCrossentropy(_FunctionLoss):
    """Keras's categorical cross-entropy with label smoothing, for sparse or one-hot labels.

    ``keras.losses.SparseCategoricalCrossentropy`` has no ``label_smoothing``; this one-hots
    integer labels and calls ``keras.losses.categorical_crossentropy``, so the values are exactly
    Keras's: the target is ``(1 - ε) x + ε / n``.

    Args:
        label_smoothing: ε, in [0, 1).
        from_logits: ``y_pred`` holds logits.
        name: the loss's name.
        reduction: Keras reduction over the per-sample values; ``None`` returns them.

    Raises:
        ValueError: if label_smoothing is not in [0, 1).

    Example:
        >>> loss = LabelSmoothingCrossentropy(label_smoothing=0.1)
        >>> model.compile(optimizer="sgd", loss=loss)  # doctest: +SKIP
    """

    def __init__(
        self,
        label_smoothing: float = 0.1,
        from_logits: bool = False,
        name: str = "label_smoothing_crossentropy",
        reduction: str | None = "sum_over_batch_size",
    ) -> None:
        super().__init__(
            label_smoothing_crossentropy,
            name,
            reduction,
            label_smoothing=_check_label_smoothing(label_smoothing),
            from_logits=bool(from_logits),
        )
