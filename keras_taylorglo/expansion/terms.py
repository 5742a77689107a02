"""The terms of a TaylorGLO expansion: input and convention checks, multi-indices, θ layout, f(u).

Pure NumPy (no TensorFlow, no Keras). See :mod:`keras_taylorglo.expansion` for the maths and the
θ layout; :class:`keras_taylorglo.expansion.ExpansionSpec` bundles the four settings these
functions take one by one.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np

INPUT_NAMES: tuple[str, ...] = ("label", "prediction", "progress")
"""The inputs a TaylorGLO expansion may use, in canonical order."""

CONVENTIONS: tuple[str, ...] = ("paper", "lossferatu")
"""``"paper"``: reciprocal factorials and a mean over classes; ``"lossferatu"``: neither."""

DEFAULT_INPUTS: tuple[str, ...] = ("label", "prediction")
"""The paper's inputs (Eq. 5): the one-hot label and the predicted probability."""


def check_int(name: str, value: int, minimum: int) -> int:
    """Validates an integer setting (``order``, ``num_inputs``, ...).

    Args:
        name: The setting's name, for the message.
        value: Its value.
        minimum: The smallest value allowed.

    Returns:
        The value as an ``int``.

    Raises:
        ValueError: For a bool, a non-integer or a value below ``minimum``.
    """
    # bool is an int to Python, but `order = true` is a mistake, not 1
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}")
    return int(value)


def check_convention(convention: str) -> str:
    """Validates a convention name.

    Args:
        convention: ``"paper"`` or ``"lossferatu"``.

    Returns:
        The convention, unchanged.

    Raises:
        ValueError: if ``convention`` is not one of :data:`CONVENTIONS`.
    """
    if convention not in CONVENTIONS:
        raise ValueError(f"convention must be one of {CONVENTIONS}; got {convention!r}")
    return convention


def check_inputs(inputs: Sequence[str]) -> tuple[str, ...]:
    """Validates the names of the inputs of an expansion.

    Args:
        inputs: distinct names from :data:`INPUT_NAMES`, including ``"prediction"`` (a loss that
            ignores the prediction cannot train anything). Their order defines the θ layout.

    Returns:
        The names as a tuple.

    Raises:
        ValueError: if a name is unknown or repeated, or ``"prediction"`` is missing.

    Example:
        >>> check_inputs(["label", "prediction"])
        ('label', 'prediction')
    """
    if isinstance(inputs, str):
        raise ValueError(
            f"inputs must be a sequence of names such as ('label', 'prediction'); got {inputs!r}"
        )
    names = tuple(inputs)
    unknown = [name for name in names if name not in INPUT_NAMES]
    if unknown:
        raise ValueError(f"unknown input(s) {unknown} in inputs {names}; allowed: {INPUT_NAMES}")
    if len(set(names)) != len(names):
        raise ValueError(f"inputs must not repeat a name; got {names}")
    if "prediction" not in names:
        raise ValueError(f"inputs must include 'prediction'; got {names}")
    return names


def _default_prediction_axis(num_inputs: int) -> int:
    # With one input it can only be the prediction; otherwise canonical order puts it second.
    return 0 if num_inputs == 1 else 1


def multi_indices(
    num_inputs: int, order: int, trim: bool = True, prediction_axis: int | None = None
) -> list[tuple[int, ...]]:
    """Lists the kept multi-indices α of an expansion, in θ order.

    All α with ``|α| ≤ order`` (including the constant term α = 0) in lexicographic order; with
    ``trim=True`` only those with ``α[prediction_axis] ≥ 1``.

    Args:
        num_inputs: number of inputs m (length of each α).
        order: the Taylor order k (>= 1).
        trim: keep only the terms that depend on the prediction.
        prediction_axis: position of the prediction among the inputs. Defaults to 1 (canonical
            order ``("label", "prediction", "progress")``), or 0 when there is a single input.

    Returns:
        The multi-indices as tuples of ints.

    Raises:
        ValueError: for a non-positive ``num_inputs`` or ``order`` or an out-of-range axis.

    Example:
        >>> multi_indices(2, 3)
        [(0, 1), (0, 2), (0, 3), (1, 1), (1, 2), (2, 1)]
    """
    num_inputs = check_int("num_inputs", num_inputs, 1)
    order = check_int("order", order, 1)
    if prediction_axis is None:
        prediction_axis = _default_prediction_axis(num_inputs)
    if not 0 <= prediction_axis < num_inputs:
        raise ValueError(
            f"prediction_axis must be in [0, {num_inputs - 1}] for {num_inputs} inputs; "
            f"got {prediction_axis!r}"
        )
    # itertools.product enumerates in lexicographic order, which is the θ layout.
    kept = []
    for alpha in itertools.product(range(order + 1), repeat=num_inputs):
        if sum(alpha) > order:
            continue
        if trim and alpha[prediction_axis] == 0:
            continue
        kept.append(alpha)
    return kept


def num_params(num_inputs: int = 2, order: int = 3, trim: bool = True) -> int:
    """Counts the θ values of an expansion: one centre per input plus one coefficient per α.

    Untrimmed this is ``m + C(m + k, k)`` (Eq. 4: 12 for m = 2, k = 3); trimmed it is
    ``m + C(m + k, k) - C(m - 1 + k, k)`` (Eq. 5: 8).

    Args:
        num_inputs: number of inputs m, or the sequence of input names.
        order: the Taylor order k.
        trim: whether terms independent of the prediction are dropped.

    Returns:
        The length θ must have.

    Example:
        >>> num_params(2, 3, trim=True), num_params(2, 3, trim=False)
        (8, 12)
    """
    if not isinstance(num_inputs, (int, np.integer)):
        num_inputs = len(check_inputs(num_inputs))
    return int(num_inputs) + len(multi_indices(num_inputs, order, trim))


def theta_labels(
    inputs: Sequence[str] = DEFAULT_INPUTS, order: int = 3, trim: bool = True
) -> list[str]:
    """Names each θ entry, for tables and plots.

    Args:
        inputs: the input names (their order defines the layout).
        order: the Taylor order.
        trim: whether terms independent of the prediction are dropped.

    Returns:
        ``"a_<input>"`` for each centre, then ``"c_<α>"`` (digits of α joined by commas when any
        exponent has two digits) for each coefficient.

    Example:
        >>> theta_labels(("label", "prediction"), 3)[:4]
        ['a_label', 'a_prediction', 'c_01', 'c_02']
    """
    names = check_inputs(inputs)
    alphas = multi_indices(len(names), order, trim, names.index("prediction"))
    sep = "," if order >= 10 else ""
    return [f"a_{name}" for name in names] + [
        "c_" + sep.join(str(a) for a in alpha) for alpha in alphas
    ]


def check_theta_length(
    theta: Sequence[float] | np.ndarray | None,
    num_inputs: int | Sequence[str] = DEFAULT_INPUTS,
    order: int = 3,
    trim: bool = True,
) -> np.ndarray:
    """Converts θ to a float array and checks its length against the expansion.

    Args:
        theta: the parameters (``None`` means all zeros).
        num_inputs: number of inputs, or the sequence of input names (gives a clearer message).
        order: the Taylor order.
        trim: whether terms independent of the prediction are dropped.

    Returns:
        θ as a 1-D float64 array.

    Raises:
        ValueError: if θ is not 1-D, has the wrong length or holds non-numbers; the message gives
            the expected length and why.

    Example:
        >>> check_theta_length([0.0] * 8).shape
        (8,)
    """
    if isinstance(num_inputs, (int, np.integer)):
        m = check_int("num_inputs", num_inputs, 1)
        described = f"{m} inputs"
    else:
        names = check_inputs(num_inputs)
        m = len(names)
        described = f"inputs {names}"
    expected = num_params(m, order, trim)
    if theta is None:
        return np.zeros(expected, dtype=np.float64)
    try:
        values = np.asarray(theta, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"theta must be a sequence of numbers; got {theta!r}") from exc
    if values.ndim != 1:
        raise ValueError(f"theta must be a flat sequence of numbers; got shape {values.shape}")
    if values.shape[0] != expected:
        raise ValueError(
            f"theta has {values.shape[0]} values; expected {expected} = {m} centres + "
            f"{expected - m} coefficients for {described}, order {order}, trim={trim}"
        )
    return values


def scales(alphas: Sequence[Sequence[int]], convention: str = "paper") -> np.ndarray:
    """The constant factor of each term: ``1/α!`` (paper) or 1 (lossferatu).

    Args:
        alphas: multi-indices as returned by :func:`multi_indices`.
        convention: ``"paper"`` or ``"lossferatu"``.

    Returns:
        One float per multi-index.

    Example:
        >>> scales([(0, 2), (1, 2)]).tolist()
        [0.5, 0.5]
    """
    check_convention(convention)
    if convention == "lossferatu":
        return np.ones(len(alphas))
    return np.array([1.0 / math.prod(math.factorial(a) for a in alpha) for alpha in alphas])


def evaluate(
    theta: Sequence[float] | np.ndarray,
    inputs: Sequence[np.ndarray | float],
    order: int = 3,
    trim: bool = True,
    convention: str = "paper",
    prediction_axis: int | None = None,
) -> np.ndarray:
    """Evaluates the polynomial ``f(u) = Σ_α s_α c_α Π_j (u_j - a_j)^α_j`` elementwise.

    This is the bare polynomial: it is NOT negated and NOT averaged or summed over classes (see
    :func:`loss_value` for the loss).

    Args:
        theta: centres then coefficients, in the layout of :func:`multi_indices`.
        inputs: one array (or scalar) per input, broadcastable against each other, in θ order.
        order: the Taylor order.
        trim: whether terms independent of the prediction are dropped.
        convention: ``"paper"`` (``s_α = 1/α!``) or ``"lossferatu"`` (``s_α = 1``).
        prediction_axis: position of the prediction among the inputs (see :func:`multi_indices`).

    Returns:
        ``f`` with the broadcast shape of the inputs.

    Raises:
        ValueError: for a θ of the wrong length or an unknown convention.

    Example:
        >>> theta = [0, 0, 1, 0, 0, 0, 0, 0]  # f = y
        >>> float(evaluate(theta, [1.0, 0.25]))
        0.25
    """
    arrays = [np.asarray(u, dtype=np.float64) for u in inputs]
    m = len(arrays)
    values = check_theta_length(theta, m, order, trim)
    alphas = multi_indices(m, order, trim, prediction_axis)
    factors = scales(alphas, convention)
    diffs = [u - values[j] for j, u in enumerate(arrays)]
    # Powers are shared between terms; index p holds diff ** p.
    powers = [[np.ones_like(d), d] for d in diffs]
    for j in range(m):
        for _ in range(2, order + 1):
            powers[j].append(powers[j][-1] * diffs[j])
    total = np.zeros(np.broadcast_shapes(*(d.shape for d in diffs)))
    for i, alpha in enumerate(alphas):
        term = values[m + i] * factors[i]
        for j, a in enumerate(alpha):
            if a:
                term = term * powers[j][a]
        total = total + term
    return total
