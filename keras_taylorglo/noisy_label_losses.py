"""Noisy-label baselines as Keras 3 losses: symmetric CE, NCE+RCE and Poly-1.

The losses a reviewer of a noisy-label result asks for after GCE, written as
:mod:`keras_taylorglo.robust_losses` writes its own: the maths is a plain function with
``keras.ops``; the class is a thin, serialisable ``keras.losses.Loss`` whose ``call`` returns
per-sample values; labels may be integer class ids or one-hot; predictions are probabilities
unless ``from_logits=True``; everything is computed in float32 (float64 stays float64) even
under mixed precision.

The reverse cross-entropy ``RCE = -Σ_k p_k log q_k`` (p the prediction, q the label) needs
``log 0``: it is set to the constant ``A = log_zero`` (default -4, the value the SCE paper
states), so that for a one-hot label ``RCE = -A (1 - p_y)``. The authors' code (SCE's Keras code
and the NCE+RCE PyTorch code) instead clamps the one-hot label at 1e-4 before a natural log,
which is ``A = log(1e-4) ≈ -9.21``: pass ``log_zero=math.log(1e-4)`` to reproduce it exactly.
Predictions are clamped to ``[epsilon, 1]`` first, as in the authors' code; NCE's ``log p`` is
the log-softmax of the logits when they are at hand, as in theirs (see :func:`nce_rce`).

Example:
    >>> import keras
    >>> from keras_taylorglo.noisy_label_losses import SCELoss
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    >>> model.compile(optimizer="sgd", loss=SCELoss(alpha=0.1, beta=1.0), metrics=["accuracy"])
"""

from __future__ import annotations

import math
from typing import Any

import keras
from keras import ops

from .robust_losses import _FunctionLoss, _predictions_and_labels

__all__ = [
    "DEFAULT_LOG_ZERO",
    "NCEAndRCELoss",
    "Poly1Loss",
    "SCELoss",
    "nce_rce",
    "poly1",
    "sce",
]

DEFAULT_LOG_ZERO = -4.0
"""A, the value given to ``log 0`` in the reverse cross-entropy (Wang et al. 2019, §3.3)."""


def _check_weights(alpha: float, beta: float) -> tuple[float, float]:
    a, b = float(alpha), float(beta)
    for name, value, given in (("alpha", a, alpha), ("beta", b, beta)):
        if not (math.isfinite(value) and value >= 0.0):
            raise ValueError(f"{name} must be a finite number >= 0; got {given!r}")
    if a == 0.0 and b == 0.0:
        raise ValueError("alpha and beta cannot both be 0 (the loss would be constant)")
    return a, b


def _check_log_zero(log_zero: float) -> float:
    value = float(log_zero)
    if not (math.isfinite(value) and value < 0.0):
        raise ValueError(f"log_zero must be a finite number < 0; got {log_zero!r}")
    return value


def _check_epsilon(epsilon: float) -> float:
    value = float(epsilon)
    if not (math.isfinite(value) and value >= -1.0):
        raise ValueError(f"epsilon must be a finite number >= -1; got {epsilon!r}")
    return value


def _exact_log_softmax(y_pred: Any, from_logits: bool) -> Any:
    """``log p`` from the logits, if they are at hand; ``None`` otherwise.

    With ``from_logits`` they are ``y_pred``; a Keras softmax (a model's softmax output layer)
    keeps its input as ``_keras_logits``, which Keras's own categorical cross-entropy uses in
    the same way. Then ``log p`` is exact where p underflows, as in Ma et al.'s code
    (``log_softmax`` of the logits); clamping p would leave no gradient there.
    """
    logits = y_pred if from_logits else getattr(y_pred, "_keras_logits", None)
    if logits is None:
        return None
    logits = ops.convert_to_tensor(logits)
    if keras.backend.standardize_dtype(logits.dtype) not in ("float32", "float64"):
        logits = ops.cast(logits, "float32")
    return ops.log_softmax(logits, axis=-1)


def _reverse_crossentropy(y_true: Any, y_pred: Any, log_zero: float) -> Any:
    """``-Σ_k p_k log q_k`` with p clamped to [epsilon, 1] and ``log q`` to ``[A, 0]``."""
    y_pred = ops.clip(y_pred, keras.config.epsilon(), 1.0)
    log_label = ops.log(ops.clip(y_true, math.exp(log_zero), 1.0))
    return -ops.sum(y_pred * log_label, axis=-1)


def sce(
    y_true: Any,
    y_pred: Any,
    alpha: float = 0.1,
    beta: float = 1.0,
    log_zero: float = DEFAULT_LOG_ZERO,
    from_logits: bool = False,
) -> Any:
    """Computes the symmetric cross-entropy (Wang et al., ICCV 2019) per sample.

    ``loss = α·CE + β·RCE`` with ``CE = -Σ_k q_k log p_k`` (p clamped to ``[epsilon, 1]``) and
    ``RCE = -Σ_k p_k log q_k`` with ``log 0 = A`` (``log_zero``), i.e. ``-A (1 - p_y)`` for a
    one-hot label. α = 0.1, β = 1 are the paper's CIFAR-10 settings.

    Args:
        y_true: one-hot labels ``[..., n]`` or integer class ids ``[...]`` / ``[..., 1]``.
        y_pred: probabilities ``[..., n]`` (or logits with ``from_logits=True``).
        alpha: weight of the cross-entropy, >= 0.
        beta: weight of the reverse cross-entropy, >= 0 (not both 0).
        log_zero: A, the value of ``log 0`` in the reverse term, < 0.
        from_logits: apply a softmax over the last axis to ``y_pred`` first.

    Returns:
        The loss per sample, shape ``y_pred.shape[:-1]``, float32 (float64 for float64 input).

    Raises:
        ValueError: for a negative or non-finite weight, both weights 0, or ``log_zero >= 0``.

    Example:
        >>> import numpy as np
        >>> values = sce(np.array([0, 1]), np.array([[0.8, 0.2], [0.3, 0.7]]))
        >>> tuple(values.shape)
        (2,)
    """
    alpha, beta = _check_weights(alpha, beta)
    log_zero = _check_log_zero(log_zero)
    y_true, y_pred = _predictions_and_labels(y_true, y_pred, from_logits)
    log_pred = ops.log(ops.clip(y_pred, keras.config.epsilon(), 1.0))
    ce = -ops.sum(y_true * log_pred, axis=-1)
    return alpha * ce + beta * _reverse_crossentropy(y_true, y_pred, log_zero)


def nce_rce(
    y_true: Any,
    y_pred: Any,
    alpha: float = 1.0,
    beta: float = 1.0,
    log_zero: float = DEFAULT_LOG_ZERO,
    from_logits: bool = False,
) -> Any:
    """Computes normalised cross-entropy + reverse cross-entropy (Ma et al., ICML 2020).

    ``loss = α·NCE + β·RCE`` with ``NCE = (-Σ_k q_k log p_k) / (-Σ_k log p_k)`` (for a one-hot
    label, ``log p_y / Σ_k log p_k``) and RCE as in :func:`sce`. ``log p`` is the log-softmax of
    the logits when they are at hand (``from_logits``, or the output of a Keras softmax, as the
    authors' code and Keras's own cross-entropy do), else ``log`` of p clamped to
    ``[epsilon, 1]``. α = β = 1 are the paper's CIFAR-10 settings. Needs at least two classes.

    Args:
        y_true: one-hot labels ``[..., n]`` or integer class ids ``[...]`` / ``[..., 1]``.
        y_pred: probabilities ``[..., n]`` (or logits with ``from_logits=True``).
        alpha: weight of the normalised cross-entropy, >= 0.
        beta: weight of the reverse cross-entropy, >= 0 (not both 0).
        log_zero: A, the value of ``log 0`` in the reverse term, < 0.
        from_logits: apply a softmax over the last axis to ``y_pred`` first.

    Returns:
        The loss per sample, shape ``y_pred.shape[:-1]``, float32 (float64 for float64 input).

    Raises:
        ValueError: for a negative or non-finite weight, both weights 0, or ``log_zero >= 0``.

    Example:
        >>> import numpy as np
        >>> values = nce_rce(np.array([0, 1]), np.array([[0.8, 0.2], [0.3, 0.7]]))
        >>> tuple(values.shape)
        (2,)
    """
    alpha, beta = _check_weights(alpha, beta)
    log_zero = _check_log_zero(log_zero)
    log_pred = _exact_log_softmax(y_pred, from_logits)
    y_true, y_pred = _predictions_and_labels(y_true, y_pred, from_logits)
    if log_pred is None:  # bare probabilities: clamped, as everywhere else
        log_pred = ops.log(ops.clip(y_pred, keras.config.epsilon(), 1.0))
    nce = ops.sum(y_true * log_pred, axis=-1) / ops.sum(log_pred, axis=-1)
    return alpha * nce + beta * _reverse_crossentropy(y_true, y_pred, log_zero)


def poly1(y_true: Any, y_pred: Any, epsilon: float = 1.0, from_logits: bool = False) -> Any:
    """Computes the Poly-1 loss (Leng et al., ICLR 2022) per sample.

    ``loss = CE + ε (1 - p_y)``: Keras's own ``categorical_crossentropy`` plus ε times the first
    term of its Taylor expansion in ``1 - p_y`` (``p_y = Σ_k q_k p_k``).

    Args:
        y_true: one-hot labels ``[..., n]`` or integer class ids ``[...]`` / ``[..., 1]``.
        y_pred: probabilities ``[..., n]`` (or logits with ``from_logits=True``).
        epsilon: ε, >= -1 (ε = -1 drops the first polynomial term of cross-entropy).
        from_logits: ``y_pred`` holds logits (Keras's cross-entropy takes them directly).

    Returns:
        The loss per sample, shape ``y_pred.shape[:-1]``, float32 (float64 for float64 input).

    Raises:
        ValueError: if epsilon is below -1 or not finite.

    Example:
        >>> import numpy as np
        >>> values = poly1(np.array([0, 1]), np.array([[0.8, 0.2], [0.3, 0.7]]))
        >>> tuple(values.shape)
        (2,)
    """
    epsilon = _check_epsilon(epsilon)
    y_true, y_pred = _predictions_and_labels(y_true, y_pred, from_logits=False)
    ce = keras.losses.categorical_crossentropy(y_true, y_pred, from_logits=from_logits)
    probs = ops.softmax(y_pred, axis=-1) if from_logits else y_pred
    return ce + epsilon * (1.0 - ops.sum(y_true * probs, axis=-1))


class _PlusReverseCrossentropy(_FunctionLoss):
    """``α·(a cross-entropy) + β·RCE``: SCE and NCE+RCE take and check the same settings."""

    def __init__(
        self,
        fn: Any,
        name: str,
        reduction: str | None,
        alpha: float,
        beta: float,
        log_zero: float,
        from_logits: bool,
    ) -> None:
        alpha, beta = _check_weights(alpha, beta)
        super().__init__(
            fn,
            name,
            reduction,
            alpha=alpha,
            beta=beta,
            log_zero=_check_log_zero(log_zero),
            from_logits=bool(from_logits),
        )


@keras.saving.register_keras_serializable(package="keras_taylorglo")
class SCELoss(_PlusReverseCrossentropy):
    """Symmetric cross-entropy ``α·CE + β·RCE`` (Wang et al., ICCV 2019).

    Args:
        alpha: weight of the cross-entropy, >= 0 (0.1: the paper's CIFAR-10 setting).
        beta: weight of the reverse cross-entropy, >= 0, not both 0 (1.0: CIFAR-10).
        log_zero: A, the value of ``log 0`` in the reverse term (-4 as in the paper's text;
            ``math.log(1e-4)`` as in the authors' code).
        from_logits: ``y_pred`` holds logits; a softmax is applied first.
        name: the loss's name.
        reduction: Keras reduction over the per-sample values; ``None`` returns them.

    Raises:
        ValueError: for a negative or non-finite weight, both weights 0, or ``log_zero >= 0``.

    Example:
        >>> loss = SCELoss(alpha=0.1, beta=1.0)
        >>> model.compile(optimizer="sgd", loss=loss)  # doctest: +SKIP
    """

    def __init__(
        self,
        alpha: float = 0.1,
        beta: float = 1.0,
        log_zero: float = DEFAULT_LOG_ZERO,
        from_logits: bool = False,
        name: str = "sce",
        reduction: str | None = "sum_over_batch_size",
    ) -> None:
        super().__init__(sce, name, reduction, alpha, beta, log_zero, from_logits)


@keras.saving.register_keras_serializable(package="keras_taylorglo")
class NCEAndRCELoss(_PlusReverseCrossentropy):
    """Normalised cross-entropy + reverse cross-entropy ``α·NCE + β·RCE`` (Ma et al., 2020).

    An "active-passive" pair of robust losses from "Normalized Loss Functions for Deep Learning
    with Noisy Labels" (ICML 2020).

    Args:
        alpha: weight of the normalised cross-entropy, >= 0 (1: the paper's CIFAR-10 setting).
        beta: weight of the reverse cross-entropy, >= 0, not both 0 (1: CIFAR-10).
        log_zero: A, the value of ``log 0`` in the reverse term (see :class:`SCELoss`).
        from_logits: ``y_pred`` holds logits; a softmax is applied first.
        name: the loss's name.
        reduction: Keras reduction over the per-sample values; ``None`` returns them.

    Raises:
        ValueError: for a negative or non-finite weight, both weights 0, or ``log_zero >= 0``.

    Example:
        >>> loss = NCEAndRCELoss(alpha=1.0, beta=1.0)
        >>> model.compile(optimizer="sgd", loss=loss)  # doctest: +SKIP
    """

    def __init__(
        self,
        alpha: float = 1.0,
        beta: float = 1.0,
        log_zero: float = DEFAULT_LOG_ZERO,
        from_logits: bool = False,
        name: str = "nce_rce",
        reduction: str | None = "sum_over_batch_size",
    ) -> None:
        super().__init__(nce_rce, name, reduction, alpha, beta, log_zero, from_logits)


@keras.saving.register_keras_serializable(package="keras_taylorglo")
class Poly1Loss(_FunctionLoss):
    """Poly-1 ``CE + ε (1 - p_y)`` (Leng et al., "PolyLoss", ICLR 2022).

    Args:
        epsilon: ε, >= -1 (1: the paper's default for classification).
        from_logits: ``y_pred`` holds logits.
        name: the loss's name.
        reduction: Keras reduction over the per-sample values; ``None`` returns them.

    Raises:
        ValueError: if epsilon is below -1 or not finite.

    Example:
        >>> loss = Poly1Loss(epsilon=1.0)
        >>> model.compile(optimizer="sgd", loss=loss)  # doctest: +SKIP
    """

    def __init__(
        self,
        epsilon: float = 1.0,
        from_logits: bool = False,
        name: str = "poly1",
        reduction: str | None = "sum_over_batch_size",
    ) -> None:
        super().__init__(
            poly1,
            name,
            reduction,
            epsilon=_check_epsilon(epsilon),
            from_logits=bool(from_logits),
        )
