"""The TaylorGLO expansion in pure NumPy: multi-indices, θ layout, parameter counts, loss values.

TaylorGLO (Gonzalez & Miikkulainen, 2020) parameterises a loss function as a multivariate Taylor
polynomial of order ``k`` in a few per-element inputs ``u = (u_1, ..., u_m)``: the one-hot label
``x``, the predicted probability ``y`` and, optionally, the training progress ``t`` in [0, 1]
(broadcast to every element). For each kept multi-index ``α = (α_1, ..., α_m)`` with
``|α| = Σ α_j ≤ k`` there is one coefficient ``c_α``, and there is one centre ``a_j`` per input::

    f(u) = Σ_α  s_α · c_α · Π_j (u_j - a_j) ** α_j

where ``s_α = 1 / α!`` with ``α! = Π_j α_j!`` in the paper's convention (``"paper"``) and
``s_α = 1`` in the original implementation's convention (``"lossferatu"``, which folds the
reciprocal factorials into the coefficients). The per-sample loss over ``n`` classes is::

    paper:       L = -(1/n) Σ_classes f(x_i, y_i, ...)
    lossferatu:  L = -      Σ_classes f(x_i, y_i, ...)

θ layout (the same everywhere in this project): the centres first, one per input in input order,
then one coefficient per kept multi-index in lexicographic order of (α_1, α_2, ...), where the
inputs are in the order given (canonically ``("label", "prediction", "progress")``). ``trim=True``
keeps only the multi-indices with ``α_prediction ≥ 1``: the other terms have zero derivative with
respect to the prediction and so cannot affect training. For the paper's Eq. 5 (inputs label and
prediction, order 3, trimmed) that is ``θ = (a_x, a_y, c_01, c_02, c_03, c_11, c_12, c_21)``::

    L(x, y) = -(1/n) Σ_i [ θ2 (y_i-θ1) + ½ θ3 (y_i-θ1)² + ⅙ θ4 (y_i-θ1)³ + θ5 (x_i-θ0)(y_i-θ1)
                           + ½ θ6 (x_i-θ0)(y_i-θ1)² + ½ θ7 (x_i-θ0)² (y_i-θ1) ]

:class:`ExpansionSpec` holds the four settings (order, inputs, trim, convention) as one validated
value; the functions below take either ``spec=`` or the four settings one by one.

The package has three rooms: :mod:`.terms` (input checks, multi-indices, θ layout, the polynomial
``f``), :mod:`.spec` (:class:`ExpansionSpec`) and :mod:`.shapes` (the loss per sample, the loss
shapes of Fig. 3a, the invariant pre-screen). It imports NumPy only (no TensorFlow, no Keras), so
plots, the monitor and the search's pre-screen can use it cheaply.
"""

from __future__ import annotations

from .shapes import (
    SHAPE_POINTS,
    expansion_settings,
    invariant_check,
    loss_shape,
    loss_value,
    shifted_loss_shape,
)
from .spec import ExpansionSpec, resolve_spec
from .terms import (
    CONVENTIONS,
    DEFAULT_INPUTS,
    INPUT_NAMES,
    check_convention,
    check_inputs,
    check_theta_length,
    evaluate,
    multi_indices,
    num_params,
    scales,
    theta_labels,
)

__all__ = [
    "CONVENTIONS",
    "DEFAULT_INPUTS",
    "INPUT_NAMES",
    "SHAPE_POINTS",
    "ExpansionSpec",
    "check_convention",
    "check_inputs",
    "check_theta_length",
    "evaluate",
    "expansion_settings",
    "invariant_check",
    "loss_shape",
    "loss_value",
    "multi_indices",
    "num_params",
    "resolve_spec",
    "scales",
    "shifted_loss_shape",
    "theta_labels",
]
