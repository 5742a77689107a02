"""TaylorGLOLoss: the TaylorGLO Taylor-polynomial loss as a Keras 3 loss (``keras.ops`` only).

The maths is the plain function :func:`taylorglo`; :class:`TaylorGLOLoss` is a thin
``keras.losses.Loss`` that holds θ (and the training progress t) in non-trainable variables, so
that a compiled model can be re-used with a new θ without retracing. Written with ``keras.ops``
only (tested on the TensorFlow and JAX backends).

On the JAX backend a jit-compiled train step captures θ and t as constants (Keras's JAX trainer
threads only the model's own variables through ``jax.jit``): after ``set_theta`` call
``model.make_train_function(force=True)`` (one retrace), or compile with ``jit_compile=False``.

Example:
    >>> import keras
    >>> from keras_taylorglo import TaylorGLOLoss
    >>> loss = TaylorGLOLoss.from_preset("paper-mnist")
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    >>> model.compile(optimizer="sgd", loss=loss, metrics=["accuracy"])
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
from keras import ops

from .expansion import DEFAULT_INPUTS, ExpansionSpec, resolve_spec
from .presets import get_preset

__all__ = ["TaylorGLOLoss", "taylorglo"]


def _labels_like(y_true: Any, y_pred: Any) -> Any:
    """Turns sparse integer labels into one-hot labels shaped like ``y_pred``; casts dense ones."""
    true_rank, pred_rank = len(y_true.shape), len(y_pred.shape)
    num_classes = y_pred.shape[-1]
    sparse = true_rank == pred_rank - 1 or (
        true_rank == pred_rank and y_true.shape[-1] == 1 and num_classes not in (None, 1)
    )
    if not sparse:
        return ops.cast(y_true, y_pred.dtype)
    if num_classes is None:
        raise ValueError(
            "sparse labels need a static number of classes (the last dimension of y_pred); "
            f"got y_pred with shape {y_pred.shape}"
        )
    if true_rank == pred_rank:
        y_true = ops.squeeze(y_true, axis=-1)
    # Loss.__call__ hands labels over as floats; one_hot needs integers.
    return ops.one_hot(ops.cast(y_true, "int32"), num_classes, dtype=y_pred.dtype)


def taylorglo(
    y_true: Any,
    y_pred: Any,
    theta: Any,
    progress: Any = None,
    order: int = 3,
    inputs: Sequence[str] = DEFAULT_INPUTS,
    trim: bool = True,
    convention: str = "paper",
    from_logits: bool = False,
    spec: ExpansionSpec | None = None,
) -> Any:
    """Computes the TaylorGLO loss per sample with ``keras.ops``.

    With ``f(u) = Σ_α s_α c_α Π_j (u_j - a_j)^α_j`` over the per-element inputs ``u`` (label,
    prediction and optionally the progress t broadcast to every element)::

        paper:       loss = -(1/n) Σ_classes f    with s_α = 1/α!   (n = number of classes)
        lossferatu:  loss = -      Σ_classes f    with s_α = 1

    Args:
        y_true: one-hot labels ``[..., n]`` or integer class ids ``[...]`` / ``[..., 1]``.
        y_pred: probabilities ``[..., n]`` (or logits with ``from_logits=True``).
        theta: centres then coefficients (tensor, variable or sequence); see
            :mod:`keras_taylorglo.expansion` for the layout.
        progress: scalar training progress t in [0, 1]; used only when ``"progress"`` is an input.
        order: the Taylor order.
        inputs: input names in θ order, from ``("label", "prediction", "progress")``.
        trim: whether θ omits the terms that do not depend on the prediction.
        convention: ``"paper"`` or ``"lossferatu"``.
        from_logits: apply a softmax over the last axis to ``y_pred`` first.
        spec: the expansion as one :class:`~keras_taylorglo.expansion.ExpansionSpec`; replaces
            ``order``, ``inputs``, ``trim`` and ``convention`` (which must then be left at their
            defaults or agree with it).

    Returns:
        The loss per sample, shape ``y_pred.shape[:-1]``; float32 for float16 or bfloat16
        predictions (mixed precision), else ``y_pred``'s float dtype.

    Raises:
        ValueError: for an unknown convention or input name, a missing progress, or settings
            that contradict ``spec``.

    Example:
        >>> import numpy as np
        >>> from keras_taylorglo.presets import PAPER_MNIST
        >>> values = taylorglo(np.array([0, 1]), np.array([[0.8, 0.2], [0.3, 0.7]]), PAPER_MNIST)
        >>> tuple(values.shape)
        (2,)
    """
    spec = resolve_spec(spec, order, inputs, trim, convention)
    names = spec.inputs
    y_pred = ops.convert_to_tensor(y_pred)
    if not keras.backend.is_float_dtype(y_pred.dtype):
        y_pred = ops.cast(y_pred, keras.config.floatx())
    if keras.backend.standardize_dtype(y_pred.dtype) in ("float16", "bfloat16"):
        # Mixed precision: a polynomial with large θ overflows float16 (max 65504) and bfloat16
        # keeps 3 significant digits; the loss always computes in float32.
        y_pred = ops.cast(y_pred, "float32")
    dtype = y_pred.dtype
    if from_logits:
        y_pred = ops.softmax(y_pred, axis=-1)
    y_true = _labels_like(ops.convert_to_tensor(y_true), y_pred)
    theta = ops.cast(ops.convert_to_tensor(theta), dtype)

    by_name = {"label": y_true, "prediction": y_pred}
    if spec.has_progress:
        if progress is None:
            raise ValueError(f"inputs {names} include 'progress', so progress must be given")
        by_name["progress"] = ops.cast(ops.convert_to_tensor(progress), dtype)

    m = spec.num_inputs
    alphas = spec.multi_indices
    factors = spec.scales
    diffs = [by_name[name] - theta[j] for j, name in enumerate(names)]
    # powers[j][p] = diffs[j] ** p, shared by all terms (p = 0 is never used).
    powers = [[None, d] for d in diffs]
    for j in range(m):
        for _ in range(2, spec.order + 1):
            powers[j].append(powers[j][-1] * diffs[j])

    total = None
    for i, alpha in enumerate(alphas):
        term = theta[m + i]
        if factors[i] != 1.0:
            term = term * float(factors[i])
        for j, a in enumerate(alpha):
            if a:
                term = term * powers[j][a]
        total = term if total is None else total + term
    # Some α always has α_prediction >= 1, so total has y_pred's shape (a scalar progress or
    # constant term broadcasts into it).
    if spec.convention == "paper":
        return -ops.mean(total, axis=-1)
    return -ops.sum(total, axis=-1)


def _finite_theta(values: np.ndarray) -> np.ndarray:
    if not np.all(np.isfinite(values)):
        raise ValueError(f"theta must be finite; got {values.tolist()}")
    return values.astype(np.float32)


@keras.saving.register_keras_serializable(package="keras_taylorglo")
class TaylorGLOLoss(keras.losses.Loss):
    """The TaylorGLO loss: a Taylor polynomial in label, prediction (and progress), Keras 3.

    Per sample, with ``f(u) = Σ_α s_α c_α Π_j (u_j - a_j)^α_j``::

        convention="paper":       loss = -(1/n) Σ_classes f,  s_α = 1/α!  (paper Eq. 4/5)
        convention="lossferatu":  loss = -      Σ_classes f,  s_α = 1     (original code)

    θ holds the centres ``a_j`` (one per input, in input order), then one coefficient ``c_α`` per
    kept multi-index α in lexicographic order. With the defaults that is the paper's Eq. 5,
    ``θ = (a_x, a_y, c_01, c_02, c_03, c_11, c_12, c_21)``.

    θ lives in the non-trainable variable :attr:`theta`: :meth:`set_theta` changes it and a
    compiled model's next ``fit`` uses the new value without retracing. The training progress t
    lives in :attr:`progress` (fed by :class:`keras_taylorglo.callbacks.TrainingProgress`).
    Both hold for the TensorFlow backend; on JAX see the module docstring.

    Args:
        theta: the parameters; ``None`` means all zeros (the search's unbiased start).
        order: the Taylor order k (>= 1).
        inputs: input names in θ order, from ``("label", "prediction", "progress")``;
            ``"prediction"`` is required.
        trim: drop the terms that do not depend on the prediction (Eq. 5) or keep all (Eq. 4).
        convention: ``"paper"`` or ``"lossferatu"`` (see above).
        from_logits: ``y_pred`` holds logits; a softmax is applied first.
        name: the loss's name.
        reduction: Keras reduction over the per-sample values; ``None`` returns them.
        spec: the expansion as one :class:`~keras_taylorglo.expansion.ExpansionSpec`; replaces
            ``order``, ``inputs``, ``trim`` and ``convention`` (which must then be left at their
            defaults or agree with it). :meth:`get_config` still writes the four settings, so
            saved models load the same either way.

    Raises:
        ValueError: for a θ of the wrong length (the message gives the expected length and why),
            a non-finite θ, an unknown input name or convention, or settings that contradict
            ``spec``.

    Example:
        >>> loss = TaylorGLOLoss([11.9039, -4.0240, 6.9796, 8.5834, -1.6677, 11.6064,
        ...                       12.6684, -3.4674])
        >>> model.compile(optimizer="sgd", loss=loss)  # doctest: +SKIP
        >>> loss.set_theta([0.0] * 8)  # the next fit uses it, no retrace
    """

    def __init__(
        self,
        theta: Sequence[float] | np.ndarray | None = None,
        order: int = 3,
        inputs: Sequence[str] = DEFAULT_INPUTS,
        trim: bool = True,
        convention: str = "paper",
        from_logits: bool = False,
        name: str = "taylorglo",
        reduction: str | None = "sum_over_batch_size",
        spec: ExpansionSpec | None = None,
    ) -> None:
        super().__init__(name=name, reduction=reduction)
        # int() and bool() as before the spec existed: a config may hold 3.0 or 1
        self.spec = resolve_spec(spec, int(order), inputs, bool(trim), convention)
        self.from_logits = bool(from_logits)
        values = _finite_theta(self.spec.check_theta(theta))
        # Variables, not Python floats: a float would be baked into the traced train step and a
        # later change would silently do nothing. autocast=False keeps them float32 under mixed
        # precision; the maths casts them to the computation dtype.
        self.theta = keras.Variable(
            values, trainable=False, dtype="float32", autocast=False, name="theta"
        )
        self.progress = keras.Variable(
            0.0, trainable=False, dtype="float32", autocast=False, name="progress"
        )

    @property
    def order(self) -> int:
        """The Taylor order (from :attr:`spec`)."""
        return self.spec.order

    @property
    def inputs(self) -> tuple[str, ...]:
        """The input names in θ order (from :attr:`spec`)."""
        return self.spec.inputs

    @property
    def trim(self) -> bool:
        """Whether the terms independent of the prediction are dropped (from :attr:`spec`)."""
        return self.spec.trim

    @property
    def convention(self) -> str:
        """``"paper"`` or ``"lossferatu"`` (from :attr:`spec`)."""
        return self.spec.convention

    @property
    def has_progress(self) -> bool:
        """Whether the expansion uses the training-progress input."""
        return self.spec.has_progress

    @property
    def num_params(self) -> int:
        """The length of θ."""
        return int(self.theta.shape[0])

    def set_theta(self, values: Sequence[float] | np.ndarray) -> None:
        """Assigns new θ values in place (a compiled model's next step uses them, no retrace).

        Args:
            values: the new parameters, same length as now.

        Raises:
            ValueError: for a wrong length or non-finite values.

        Example:
            >>> loss = TaylorGLOLoss()
            >>> loss.set_theta([1.0] * 8)
        """
        arr = _finite_theta(self.spec.check_theta(values))
        self.theta.assign(arr)

    def set_progress(self, t: float) -> None:
        """Sets the training progress t in [0, 1] used by a ``"progress"`` input.

        Args:
            t: steps done / total steps.

        Raises:
            ValueError: if t is not a finite number in [0, 1].

        Example:
            >>> loss = TaylorGLOLoss(inputs=("label", "prediction", "progress"))
            >>> loss.set_progress(0.5)
        """
        value = float(t)
        if not (math.isfinite(value) and 0.0 <= value <= 1.0):
            raise ValueError(f"progress must be a number in [0, 1]; got {t!r}")
        self.progress.assign(value)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        """Returns the per-sample loss (a scalar would be double-counted under a strategy).

        Args:
            y_true: one-hot labels or integer class ids.
            y_pred: probabilities (or logits with ``from_logits=True``).

        Returns:
            The loss per sample, shape ``y_pred.shape[:-1]``.
        """
        return taylorglo(
            y_true,
            y_pred,
            self.theta,
            progress=self.progress if self.has_progress else None,
            from_logits=self.from_logits,
            spec=self.spec,
        )

    def get_config(self) -> dict[str, Any]:
        """Returns the base config plus exactly the constructor arguments (θ's current value).

        Returns:
            A JSON-serialisable dict; ``TaylorGLOLoss.from_config(config)`` rebuilds the loss.
        """
        config = super().get_config()
        config.update(
            {
                # str() of a float32 is its shortest round-trip form: 11.9039, not 11.90390014...
                "theta": [float(str(v)) for v in self.theta.numpy()],
                # the four settings, not the spec: configs saved before the spec still load
                **self.spec.as_dict(),
                "inputs": list(self.inputs),
                "from_logits": self.from_logits,
            }
        )
        return config

    @classmethod
    def from_preset(cls, name: str, **kwargs: Any) -> TaylorGLOLoss:
        """Builds a loss from a published θ (see :mod:`keras_taylorglo.presets`).

        Args:
            name: the preset's name, e.g. ``"paper-mnist"``.
            **kwargs: constructor arguments that override or extend the preset (e.g.
                ``from_logits=True``).

        Returns:
            A new loss.

        Raises:
            ValueError: for an unknown preset name.

        Example:
            >>> loss = TaylorGLOLoss.from_preset("paper-mnist", from_logits=True)
        """
        settings = get_preset(name)
        settings.update(kwargs)
        return cls(**settings)

    def __repr__(self) -> str:
        try:
            theta = np.array2string(self.theta.numpy(), precision=4, separator=", ")
        except Exception:  # inside a traced function the value cannot be read
            theta = f"<{self.num_params} values>"
        return (
            f"TaylorGLOLoss(theta={theta}, order={self.order}, inputs={self.inputs}, "
            f"trim={self.trim}, convention={self.convention!r}, from_logits={self.from_logits})"
        )
