"""The TaylorGLO loss in NumPy: per-sample values, the loss shapes, the invariant pre-screen.

Each function takes the expansion either as an :class:`ExpansionSpec` (``spec=``) or as the four
settings ``order``, ``inputs``, ``trim`` and ``convention`` one by one (the older spelling, kept
for scripts). Pure NumPy (no TensorFlow), so plots, the monitor and the search's pre-screen can
use it cheaply.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .spec import ExpansionSpec, resolve_spec
from .terms import DEFAULT_INPUTS, check_int, evaluate

__all__ = [
    "SHAPE_POINTS",
    "expansion_settings",
    "invariant_check",
    "loss_shape",
    "loss_value",
    "shifted_loss_shape",
]

SHAPE_POINTS = 101
"""How many ``y0`` values :func:`shifted_loss_shape` samples (0, 0.01, ..., 1)."""


def loss_value(
    theta: Sequence[float] | np.ndarray,
    label_onehot: np.ndarray,
    probs: np.ndarray,
    progress: float | None = None,
    order: int = 3,
    trim: bool = True,
    convention: str = "paper",
    inputs: Sequence[str] = DEFAULT_INPUTS,
    *,
    spec: ExpansionSpec | None = None,
) -> np.ndarray:
    """The TaylorGLO loss per sample, in NumPy (the reference for the Keras loss).

    ``paper``: ``-(1/n) Σ_classes f``; ``lossferatu``: ``-Σ_classes f`` (n = number of classes,
    the last axis).

    Args:
        theta: centres then coefficients.
        label_onehot: one-hot labels, shape ``[..., n]``.
        probs: predicted probabilities, same shape.
        progress: training progress t in [0, 1]; required when ``"progress"`` is in ``inputs``.
        order: the Taylor order.
        trim: whether terms independent of the prediction are dropped.
        convention: ``"paper"`` or ``"lossferatu"``.
        inputs: the input names in θ order.
        spec: the expansion as one value; replaces the four settings above.

    Returns:
        The loss per sample, shape ``[...]`` (the class axis reduced).

    Raises:
        ValueError: for a θ of the wrong length, mismatched shapes or a missing progress.

    Example:
        >>> theta = [0, 0, 1, 0, 0, 0, 0, 0]  # f = y: loss = -mean(y) = -1/n
        >>> loss_value(theta, np.eye(2), np.full((2, 2), 0.5)).tolist()
        [-0.5, -0.5]
    """
    spec = resolve_spec(spec, order, inputs, trim, convention)
    names = spec.inputs
    x = np.asarray(label_onehot, dtype=np.float64)
    y = np.asarray(probs, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(
            f"label_onehot and probs must have the same shape; got {x.shape} and {y.shape}"
        )
    if spec.has_progress and progress is None:
        raise ValueError(f"inputs {names} include 'progress', so progress must be given")
    by_name = {"label": x, "prediction": y, "progress": np.float64(progress or 0.0)}
    f = evaluate(
        theta,
        [by_name[name] for name in names],
        spec.order,
        spec.trim,
        spec.convention,
        prediction_axis=spec.prediction_axis,
    )
    f = np.broadcast_to(f, y.shape)
    if spec.convention == "paper":
        return -np.mean(f, axis=-1)
    return -np.sum(f, axis=-1)


def loss_shape(
    theta: Sequence[float] | np.ndarray,
    y0: np.ndarray | None = None,
    order: int = 3,
    inputs: Sequence[str] = DEFAULT_INPUTS,
    trim: bool = True,
    convention: str = "paper",
    progress: float = 1.0,
    num_classes: int = 2,
    *,
    spec: ExpansionSpec | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The loss in the paper's binary modality (Fig. 3a): true class 0, prediction ``y0``.

    The prediction is ``[y0, 1 - y0]`` for two classes; with more classes the remaining
    probability ``1 - y0`` is spread evenly over the other classes.

    Args:
        theta: centres then coefficients.
        y0: predicted probabilities of the true class; defaults to ``np.linspace(0, 1, 101)``.
        order: the Taylor order.
        inputs: the input names in θ order.
        trim: whether terms independent of the prediction are dropped.
        convention: ``"paper"`` or ``"lossferatu"``.
        progress: the training progress t used when ``"progress"`` is an input.
        num_classes: number of classes n (>= 2).
        spec: the expansion as one value; replaces ``order``, ``inputs``, ``trim`` and
            ``convention``.

    Returns:
        ``(y0, loss)``, two 1-D arrays of the same length.

    Example:
        >>> from keras_taylorglo.presets import PAPER_MNIST
        >>> y0, loss = loss_shape(PAPER_MNIST)
        >>> bool(0.7 <= y0[loss.argmin()] <= 0.95)
        True
    """
    num_classes = check_int("num_classes", num_classes, 2)
    spec = resolve_spec(spec, order, inputs, trim, convention)
    grid = np.linspace(0.0, 1.0, SHAPE_POINTS) if y0 is None else np.asarray(y0, dtype=np.float64)
    grid = np.atleast_1d(grid)
    rest = (1.0 - grid)[:, None] / (num_classes - 1)
    probs = np.concatenate([grid[:, None], np.repeat(rest, num_classes - 1, axis=1)], axis=1)
    labels = np.zeros_like(probs)
    labels[:, 0] = 1.0
    loss = loss_value(theta, labels, probs, progress, spec=spec)
    return grid, loss


def expansion_settings(meta: Mapping[str, Any]) -> dict[str, Any]:
    """Reads how θ maps to a loss (order, inputs, trim, convention) from a run's meta.

    The keyword form of :meth:`ExpansionSpec.from_meta`: a missing or empty key takes the paper's
    value (order 3, label and prediction, trimmed).

    Args:
        meta: ``Store.meta()`` (any mapping with the keys ``order``, ``inputs``, ``trim`` and
            ``convention``).

    Returns:
        Keyword arguments for :func:`loss_shape` and :func:`shifted_loss_shape`.

    Raises:
        ValueError: if the meta holds invalid settings.

    Example:
        >>> expansion_settings({"order": 2})
        {'order': 2, 'inputs': ('label', 'prediction'), 'trim': True, 'convention': 'paper'}
    """
    return ExpansionSpec.from_meta(meta).as_dict()


def shifted_loss_shape(
    theta: Sequence[float] | np.ndarray,
    order: int = 3,
    inputs: Sequence[str] = DEFAULT_INPUTS,
    trim: bool = True,
    convention: str = "paper",
    points: int = SHAPE_POINTS,
    *,
    spec: ExpansionSpec | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The loss shape as the paper draws it (Fig. 3a), for plots and the monitor.

    The loss of two classes in the binary modality (:func:`loss_shape`: true class 0, prediction
    ``[y0, 1 - y0]``) at ``points`` evenly spaced ``y0`` from 0 to 1, shifted so that the loss at
    ``y0 = 1`` is exactly 0: only the shape matters to training, not the offset.

    Args:
        theta: centres then coefficients.
        order: the Taylor order.
        inputs: the input names in θ order (a ``"progress"`` input is taken at t = 1).
        trim: whether terms independent of the prediction are dropped.
        convention: ``"paper"`` or ``"lossferatu"``.
        points: how many ``y0`` values (>= 2).
        spec: the expansion as one value; replaces ``order``, ``inputs``, ``trim`` and
            ``convention``.

    Returns:
        ``(y0, loss)``, two 1-D arrays of ``points`` values; ``loss[-1] == 0``.

    Raises:
        ValueError: for a θ that does not fit the settings, or an unknown input or convention.

    Example:
        >>> from keras_taylorglo.presets import PAPER_MNIST
        >>> y0, loss = shifted_loss_shape(PAPER_MNIST)
        >>> len(y0), float(loss[-1]), bool(loss.min() < 0)
        (101, 0.0, True)
    """
    spec = resolve_spec(spec, order, inputs, trim, convention)
    y0, loss = loss_shape(theta, np.linspace(0.0, 1.0, points), num_classes=2, spec=spec)
    return y0, loss - loss[-1]


def invariant_check(
    theta: Sequence[float],
    order: int = 3,
    inputs: Sequence[str] = DEFAULT_INPUTS,
    trim: bool = True,
    convention: str = "paper",
    num_classes: int = 2,
    progress: float = 0.0,
    *,
    spec: ExpansionSpec | None = None,
) -> bool:
    """The invariant pre-screen: can gradient descent on this loss raise the true class?

    A network starts training with a nearly uniform softmax output ``p_i = 1/n``. The candidate
    passes if, at that point, the loss's gradient with respect to the true class's logit is
    negative, so that a gradient-descent step raises the true class's logit and (through the
    softmax) its probability. With ``g(x, y) = ∂f/∂y`` of the expansion and the paper's loss
    ``L = -(1/n) Σ_i f(x_i, y_i)`` this is ``g(1, 1/n) > g(0, 1/n)``; the check computes it
    numerically (central difference of :func:`loss_value` through a softmax), so it holds for
    every input set, order and convention. For two classes it is the check of the original
    TaylorGLO implementation (skipped there with ``ignoreInvariantCheck``; written out
    analytically for two inputs and order 3, and with a different right-hand side for more
    classes), except that a loss with zero slope difference fails here. A loss that fails it
    pushes the prediction away from the true class from the first step; a loss that is flat
    there (θ = 0) cannot train.

    Args:
        theta: the candidate's θ.
        order: the Taylor order.
        inputs: the input names in θ order.
        trim: whether terms independent of the prediction are dropped.
        convention: ``"paper"`` or ``"lossferatu"``.
        num_classes: n, the number of classes (2 = the binary modality of the loss-shape plots).
        progress: the training progress at which to check, when ``"progress"`` is an input (0 =
            the start of training, when the output is uniform).
        spec: the expansion as one value; replaces ``order``, ``inputs``, ``trim`` and
            ``convention``.

    Returns:
        True if the candidate passes (may be trained), False if it gets fitness 0 unseen.

    Raises:
        ValueError: for a θ of the wrong length or invalid expansion settings.

    Example:
        >>> from keras_taylorglo.presets import PAPER_MNIST
        >>> invariant_check(PAPER_MNIST), invariant_check([0.0] * 8)
        (True, False)
    """
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)):
        raise ValueError(f"num_classes must be an integer >= 2; got {num_classes!r}")
    if num_classes < 2:
        raise ValueError(f"num_classes must be an integer >= 2; got {num_classes!r}")
    spec = resolve_spec(spec, order, inputs, trim, convention)
    values = spec.check_theta(theta)
    if not np.all(np.isfinite(values)):
        return False
    step = 1e-4
    logits = np.zeros((2, num_classes))
    logits[0, 0] = step
    logits[1, 0] = -step
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    labels = np.zeros_like(probs)
    labels[:, 0] = 1.0
    loss = loss_value(values, labels, probs, progress, spec=spec)
    slope = (loss[0] - loss[1]) / (2 * step)
    # a relative tolerance keeps rounding noise of a flat loss (slope 0) from passing it
    scale = max(1.0, float(np.max(np.abs(loss))))
    return bool(slope < -1e-9 * scale)
