"""Label noise: replace a fraction of the labels, deterministically and nested across rates.

Pure NumPy (no TensorFlow), so it can be used and tested anywhere. The loader
(:func:`keras_taylorglo.data.from_arrays`) applies it to the training split and, unless a clean
validation set is asked for, to the validation labels; never to the test split.

Example:
    >>> import numpy as np
    >>> y = np.zeros(1000, dtype=np.int32)
    >>> noisy = noisy_labels(y, 10, 0.4)
    >>> 0.35 < float(np.mean(noisy != y)) < 0.45
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import DataError

__all__ = ["NOISE_KINDS", "NOISE_SEED", "NoiseSettings", "noisy_labels"]

NOISE_SEED = 0x4E015E
"""Seed of the label-noise draws: fixed, never the run's seed (the noisy labels are data)."""

NOISE_KINDS = ("symmetric", "pairflip")
"""``symmetric``: a flipped label becomes a uniformly chosen other class; ``pairflip``: class
``c`` becomes ``(c + 1) mod n`` (the usual asymmetric benchmark)."""

_STREAMS = {"train": 0, "val": 1}  # a separately given validation set draws on its own


def noisy_labels(
    labels: np.ndarray,
    num_classes: int,
    rate: float,
    kind: str = "symmetric",
    stream: str = "train",
) -> np.ndarray:
    """Replace a fraction ``rate`` of ``labels``, deterministically and nested across rates.

    Example ``i`` draws ``u_i`` uniform in [0, 1) and an offset ``o_i`` in ``1..n-1`` from a
    generator seeded by (:data:`NOISE_SEED`, ``stream``); it flips when ``u_i < rate``, so the
    examples flipped at a lower rate are flipped, to the same class, at every higher one.

    Args:
        labels: Integer class ids ``(n,)``, in their data set's order.
        num_classes: ``n``; at least 2.
        rate: Fraction to replace, in [0, 1).
        kind: ``"symmetric"`` (to class ``(c + o_i) mod n``, a uniformly chosen other class) or
            ``"pairflip"`` (to ``(c + 1) mod n``).
        stream: ``"train"`` (the training split) or ``"val"`` (a separately given validation
            set), so the two sets draw independently.

    Returns:
        A new ``int32`` array of labels.

    Raises:
        DataError: For an unknown kind, a rate outside [0, 1) or fewer than two classes.

    Example:
        >>> y = np.arange(10) % 10
        >>> noisy = noisy_labels(y, 10, 0.5, "pairflip")
        >>> bool(np.all((noisy == y) | (noisy == (y + 1) % 10)))
        True
    """
    labels = np.asarray(labels)
    if kind not in NOISE_KINDS:
        raise DataError(f"label noise kind {kind!r} is unknown (expected symmetric or pairflip)")
    if not 0.0 <= float(rate) < 1.0:
        raise DataError(f"label noise rate {rate} is out of range (expected [0, 1))")
    if num_classes < 2:
        raise DataError(f"label noise needs at least 2 classes (got {num_classes})")
    rng = np.random.default_rng([NOISE_SEED, _STREAMS[stream]])
    u = rng.random(len(labels))
    offsets = rng.integers(1, num_classes, size=len(labels))
    step = offsets if kind == "symmetric" else 1
    flipped = (labels.astype(np.int64) + step) % num_classes
    return np.where(u < float(rate), flipped, labels).astype(np.int32)


@dataclass(frozen=True)
class NoiseSettings:
    """A recipe's ``data.label_noise`` as plain values (no noise: rate 0).

    Args:
        rate: The fraction of labels flipped.
        kind: One of :data:`NOISE_KINDS`.
        validation: Whether the validation labels are as noisy as the training labels.
    """

    rate: float = 0.0
    kind: str = "symmetric"
    validation: bool = True

    @classmethod
    def of(cls, label_noise: Any) -> NoiseSettings:
        """The settings of ``data.label_noise`` (``None``: no noise).

        Args:
            label_noise: The recipe's ``data.label_noise`` or ``None``.

        Returns:
            The settings.
        """
        return cls(
            float(getattr(label_noise, "rate", 0.0) or 0.0),
            str(getattr(label_noise, "kind", "symmetric")),
            bool(getattr(label_noise, "validation", True)),
        )

    def realised(
        self, y_train: np.ndarray, true_train: np.ndarray, y_val: np.ndarray, true_val: np.ndarray
    ) -> dict[str, Any] | None:
        """The settings and the noise the labels really have, or ``None`` without noise.

        Args:
            y_train: The training labels used.
            true_train: Their true labels.
            y_val: The validation labels used.
            true_val: Their true labels.

        Returns:
            ``{"rate", "kind", "validation", "realised_train", "realised_validation"}`` (the
            :class:`~keras_taylorglo.data.DataBundle`'s ``label_noise``), or ``None``.
        """
        if self.rate <= 0:
            return None
        return {
            "rate": self.rate,
            "kind": self.kind,
            "validation": self.validation,
            "realised_train": float(np.mean(y_train != true_train)),
            "realised_validation": float(np.mean(y_val != true_val)) if self.validation else None,
        }
