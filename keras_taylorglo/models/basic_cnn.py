"""The GLO paper's MNIST CNN (Gonzalez & Miikkulainen 2020): two 5×5 conv+pool, dense, dropout."""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers

from ._init import Initializers


def basic_cnn(
    input_shape: Sequence[int],
    num_classes: int,
    filters: Sequence[int] = (32, 64),
    kernel_size: int = 5,
    dense: int = 1024,
    dropout: float = 0.4,
    seed: int | None = None,
) -> keras.Model:
    """Build the basic CNN: [conv k×k → ReLU → max-pool 2] per filter count → dense → dropout.

    Args:
        input_shape: ``(height, width, channels)``.
        num_classes: Output classes (softmax).
        filters: Filters of each conv block (the paper: 32, 64).
        kernel_size: Convolution size (the paper: 5).
        dense: Units of the hidden dense layer (the paper: 1024).
        dropout: Dropout rate before the output (the paper: 0.4).
        seed: Seed of the initial weights.

    Returns:
        An uncompiled model with softmax outputs.
    """
    init = Initializers(seed)
    inputs = keras.Input(tuple(input_shape))
    x = inputs
    for f in filters:
        x = layers.Conv2D(
            f, kernel_size, padding="same", activation="relu", kernel_initializer=init.he()
        )(x)
        x = layers.MaxPooling2D(2, padding="same")(x)
    x = layers.Flatten()(x)
    x = layers.Dense(dense, activation="relu", kernel_initializer=init.he())(x)
    x = layers.Dropout(dropout, seed=init.seed())(x)
    outputs = init.softmax_output(num_classes)(x)
    return keras.Model(inputs, outputs, name="basic_cnn")
