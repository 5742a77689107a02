"""ExpansionSpec: the four settings that say how θ maps to a loss, validated once.

An expansion is fixed by its Taylor order, its inputs (in θ order), whether the terms that do
not depend on the prediction are trimmed, and the convention (``"paper"`` or ``"lossferatu"``).
:class:`ExpansionSpec` holds the four together, checks them when it is made, and derives what
the rest of the project needs from them (the kept multi-indices, the length of θ, the names of
its entries), so that the losses, the plots, the monitor and the search's pre-screen pass one
value instead of four. Pure Python and NumPy (no TensorFlow).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from .terms import (
    DEFAULT_INPUTS,
    check_convention,
    check_inputs,
    check_int,
    check_theta_length,
    multi_indices,
    scales,
    theta_labels,
)

__all__ = ["ExpansionSpec", "resolve_spec"]

_DEFAULTS: dict[str, Any] = {
    "order": 3,
    "inputs": DEFAULT_INPUTS,
    "trim": True,
    "convention": "paper",
}


@dataclass(frozen=True)
class ExpansionSpec:
    """How θ maps to a TaylorGLO loss: order, inputs, trim and convention (validated).

    The defaults are the paper's Eq. 5: order 3, inputs label and prediction, trimmed, the
    paper's convention (8 parameters). Two specs with the same settings are equal and hash the
    same (the inputs are normalised to a tuple, the order to an ``int``).

    Args:
        order: the Taylor order k (an integer >= 1).
        inputs: distinct names from ``("label", "prediction", "progress")``, including
            ``"prediction"``; their order defines the θ layout.
        trim: keep only the terms that depend on the prediction (Eq. 5) or all of them (Eq. 4).
        convention: ``"paper"`` (``1/α!`` and a mean over classes) or ``"lossferatu"``.

    Raises:
        ValueError: for an order that is not an integer >= 1, an unknown, repeated or missing
            input name, a ``trim`` that is not true or false, or an unknown convention.

    Example:
        >>> spec = ExpansionSpec()
        >>> spec.num_params, spec.theta_labels[:3]
        (8, ('a_label', 'a_prediction', 'c_01'))
    """

    order: int = 3
    inputs: tuple[str, ...] = DEFAULT_INPUTS
    trim: bool = True
    convention: str = "paper"

    def __post_init__(self) -> None:
        # Normalised in place (the dataclass is frozen, hence object.__setattr__) so that a list
        # of names or a NumPy integer order make the same spec as a tuple and an int.
        object.__setattr__(self, "inputs", check_inputs(self.inputs))
        object.__setattr__(self, "order", check_int("order", self.order, 1))
        trim = self.trim
        if isinstance(trim, (np.bool_, np.integer, int)) and trim in (0, 1):
            trim = bool(trim)
        if not isinstance(trim, bool):
            raise ValueError(f"trim must be true or false; got {self.trim!r}")
        object.__setattr__(self, "trim", trim)
        object.__setattr__(self, "convention", check_convention(self.convention))

    def __reduce__(self) -> tuple[type[ExpansionSpec], tuple[Any, ...]]:
        # Pickled as its four settings (a worker or renderer process re-validates them), not
        # with the cached multi-indices and scales.
        return (type(self), (self.order, self.inputs, self.trim, self.convention))

    @classmethod
    def from_config(cls, section: Any) -> ExpansionSpec:
        """Builds the spec of a recipe's ``[loss]`` section.

        Args:
            section: the recipe's loss settings: an object with ``order``, ``inputs``, ``trim``
                and ``convention`` attributes (``recipe.loss``), or a mapping with those keys (the
                ``[loss]`` table as read from TOML). A missing setting takes the paper's value.

        Returns:
            The validated spec.

        Raises:
            ValueError: for invalid settings (see :class:`ExpansionSpec`).

        Example:
            >>> ExpansionSpec.from_config({"order": 2}).num_params
            5
        """
        if isinstance(section, Mapping):
            values = {name: section.get(name, default) for name, default in _DEFAULTS.items()}
        else:
            values = {name: getattr(section, name, d) for name, d in _DEFAULTS.items()}
        return cls(**values)

    @classmethod
    def from_meta(cls, meta: Mapping[str, Any]) -> ExpansionSpec:
        """Reads the spec of a run from its store's meta.

        A missing or empty key takes the paper's value (order 3, label and prediction, trimmed,
        paper convention), so a store written before a setting existed still reads.

        Args:
            meta: ``Store.meta()`` (any mapping with the keys ``order``, ``inputs``, ``trim`` and
                ``convention``; other keys are ignored).

        Returns:
            The validated spec.

        Raises:
            ValueError: if the meta holds invalid settings.

        Example:
            >>> ExpansionSpec.from_meta({"order": 2, "name": "x"}).order
            2
        """
        order = meta.get("order", 3)
        try:
            order = int(order)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"order must be an integer >= 1; got {order!r}") from exc
        return cls(
            order=order,
            inputs=tuple(meta.get("inputs") or DEFAULT_INPUTS),
            trim=bool(meta.get("trim", True)),
            convention=str(meta.get("convention", "paper")),
        )

    def as_dict(self) -> dict[str, Any]:
        """The four settings as keyword arguments (``order``, ``inputs``, ``trim``, ``convention``).

        Returns:
            A new dict; ``ExpansionSpec(**spec.as_dict()) == spec``.

        Example:
            >>> ExpansionSpec().as_dict()["inputs"]
            ('label', 'prediction')
        """
        return {
            "order": self.order,
            "inputs": self.inputs,
            "trim": self.trim,
            "convention": self.convention,
        }

    @property
    def num_inputs(self) -> int:
        """The number of inputs m (one centre each)."""
        return len(self.inputs)

    @property
    def prediction_axis(self) -> int:
        """The position of ``"prediction"`` among the inputs (its exponent decides trimming)."""
        return self.inputs.index("prediction")

    @property
    def has_progress(self) -> bool:
        """Whether the training progress t is an input."""
        return "progress" in self.inputs

    @cached_property
    def multi_indices(self) -> tuple[tuple[int, ...], ...]:
        """The kept multi-indices α in θ order (see :func:`multi_indices`)."""
        return tuple(multi_indices(self.num_inputs, self.order, self.trim, self.prediction_axis))

    @cached_property
    def scales(self) -> np.ndarray:
        """The constant factor of each kept term, ``1/α!`` or 1 (read-only array)."""
        values = scales(self.multi_indices, self.convention)
        values.setflags(write=False)  # cached and shared: nobody may change it in place
        return values

    @property
    def num_params(self) -> int:
        """The length of θ: one centre per input plus one coefficient per kept α."""
        return self.num_inputs + len(self.multi_indices)

    @cached_property
    def theta_labels(self) -> tuple[str, ...]:
        """Names of the θ entries (``a_<input>``, then ``c_<α>``), for tables and plots."""
        return tuple(theta_labels(self.inputs, self.order, self.trim))

    def check_theta(self, theta: Sequence[float] | np.ndarray | None) -> np.ndarray:
        """Converts θ to a float array and checks that it has :attr:`num_params` values.

        Args:
            theta: the parameters (``None`` means all zeros).

        Returns:
            θ as a 1-D float64 array.

        Raises:
            ValueError: for a θ of the wrong length or shape, or non-numbers (the message gives
                the expected length and why).

        Example:
            >>> ExpansionSpec(order=2).check_theta(None).tolist()
            [0.0, 0.0, 0.0, 0.0, 0.0]
        """
        return check_theta_length(theta, self.inputs, self.order, self.trim)


def resolve_spec(
    spec: ExpansionSpec | None,
    order: int = 3,
    inputs: Sequence[str] = DEFAULT_INPUTS,
    trim: bool = True,
    convention: str = "paper",
) -> ExpansionSpec:
    """The spec a function that takes ``spec=`` or the four settings one by one should use.

    Without ``spec`` the four settings make one. With ``spec`` they must be left at their
    defaults (or agree with it): a setting given both ways and differently is a mistake.

    Args:
        spec: the expansion, or ``None``.
        order: the Taylor order.
        inputs: the input names in θ order.
        trim: whether terms independent of the prediction are dropped.
        convention: ``"paper"`` or ``"lossferatu"``.

    Returns:
        The spec.

    Raises:
        ValueError: for invalid settings, or settings that contradict ``spec``.

    Example:
        >>> resolve_spec(None, order=2) == resolve_spec(ExpansionSpec(order=2))
        True
    """
    if spec is None:
        return ExpansionSpec(order, inputs, trim, convention)
    if not isinstance(spec, ExpansionSpec):
        raise ValueError(f"spec must be an ExpansionSpec; got {spec!r}")
    given = {"order": order, "inputs": inputs, "trim": trim, "convention": convention}
    for name, value in given.items():
        if name == "inputs" and not isinstance(value, str):
            value = tuple(value)
        if value != _DEFAULTS[name] and value != getattr(spec, name):
            raise ValueError(
                f"{name}={value!r} contradicts spec={spec!r}; give the expansion one way only"
            )
    return spec
