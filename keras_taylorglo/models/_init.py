"""Seeded initializers: the same seed gives the same weights, every layer its own stream."""

from __future__ import annotations

import itertools
from typing import Any

import keras


class Initializers:
    """Hands out initializers with distinct, reproducible seeds derived from one model seed.

    An unseeded Keras initializer called twice returns the same values, and a global seed makes
    weights depend on construction order across models; explicit per-layer seeds avoid both.

    Args:
        seed: The model's seed (``None`` = 0).
    """

    def __init__(self, seed: int | None) -> None:
        self._counter = itertools.count(int(seed or 0) * 10_007)

    def he(self) -> Any:
        """He-normal (fan-in) for ReLU convolutions and dense layers."""
        return keras.initializers.HeNormal(seed=next(self._counter))

    def glorot(self) -> Any:
        """Glorot-uniform, Keras's default, for output layers."""
        return keras.initializers.GlorotUniform(seed=next(self._counter))

    def seed(self) -> int:
        """A fresh seed for a stochastic layer (dropout)."""
        return next(self._counter)

    def softmax_output(self, num_classes: int) -> Any:
        """The output layer: a Glorot-initialised dense softmax, float32 under a mixed policy too.

        A half-precision softmax loses the small probabilities the losses need
        (docs/architecture.md §4).
        """
        return keras.layers.Dense(
            num_classes, activation="softmax", kernel_initializer=self.glorot(), dtype="float32"
        )
