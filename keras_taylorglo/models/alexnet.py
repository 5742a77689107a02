"""AlexNet for 32×32 images, as in the TensorFlow CIFAR-10 tutorial the GLO papers used."""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers

from ._init import Initializers


def alexnet(
    input_shape: Sequence[int],
    num_classes: int,
    filters: Sequence[int] = (64, 64),
    dense: Sequence[int] = (384, 192),
    dropout: float = 0.0,
    seed: int | None = None,
) -> keras.Model:
    """Two 5×5 conv blocks (conv → ReLU → 3×3/2 max-pool → batch norm), then two dense layers.

    Args:
        input_shape: ``(height, width, channels)``.
        num_classes: Output classes (softmax).
        filters: Filters of the two conv blocks.
        dense: Units of the hidden dense layers.
        dropout: Dropout after each hidden dense layer (0 = none).
        seed: Seed of the initial weights.

    Returns:
        An uncompiled model with softmax outputs.
    """
    init = Initializers(seed)
    inputs = keras.Input(tuple(input_shape))
    x = inputs
    for f in filters:
        x = layers.Conv2D(f, 5, padding="same", activation="relu", kernel_initializer=init.he())(x)
        x = layers.MaxPooling2D(3, strides=2, padding="same")(x)
        # Batch norm stands in for the original's local response normalisation.
        x = layers.BatchNormalization()(x)
    x = layers.Flatten()(x)
    for units in dense:
        x = layers.Dense(units, activation="relu", kernel_initializer=init.he())(x)
        if dropout:
            x = layers.Dropout(dropout, seed=init.seed())(x)
    outputs = init.softmax_output(num_classes)(x)
    return keras.Model(inputs, outputs, name="alexnet")
