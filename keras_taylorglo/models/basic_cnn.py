"""The GLO paper's MNIST CNN (Gonzalez & Miikkulainen, 2020), sized from the input.

Two 5x5 convolutions (32 and 64 filters, ReLU, ``same`` padding) each followed by 2x2 max pooling,
a 1024-unit ReLU layer with dropout 0.4, and a softmax layer: the CNN of TensorFlow's "Deep MNIST"
tutorial that GLO and TaylorGLO train on MNIST. With ``same`` padding and ``same`` pooling it also
accepts small inputs such as the 8x8 digits (8 -> 4 -> 2).

Example:
    >>> model = basic_cnn((28, 28, 1), 10)
    >>> model.output_shape
    (None, 10)
"""

from __future__ import annotations

from collections.abc import Sequence

import keras

__all__ = ["basic_cnn"]


def basic_cnn(
    input_shape: Sequence[int],
    num_classes: int,
    *,
    filters: Sequence[int] = (32, 64),
    kernel_size: int = 5,
    dense: int = 1024,
    dropout: float = 0.4,
) -> keras.Model:
    """Build the GLO basic CNN.

    Args:
        input_shape: ``(height, width, channels)``.
        num_classes: Size of the softmax output.
        filters: Filters of each convolution (each followed by 2x2 max pooling).
        kernel_size: Side of the square convolution kernels.
        dense: Units of the hidden fully connected layer (0 = none).
        dropout: Dropout rate after the hidden layer (0 = none).

    Returns:
        An uncompiled functional model with softmax outputs.

    Raises:
        ValueError: An option is out of range.

    Example:
        >>> basic_cnn((8, 8, 1), 10, filters=(8, 16), dense=64).count_params() > 0
        True
    """
    filters = tuple(int(f) for f in filters)
    if not filters or min(filters) < 1:
        raise ValueError(f"basic_cnn: filters must be positive integers, got {filters}")
    if not 0.0 <= float(dropout) < 1.0:
        raise ValueError(f"basic_cnn: dropout must be in [0, 1), got {dropout}")
    if int(dense) < 0 or int(kernel_size) < 1:
        raise ValueError(
            f"basic_cnn: dense must be >= 0 and kernel_size >= 1, got {dense}, {kernel_size}"
        )
    inputs = keras.Input(shape=tuple(input_shape))
    x = inputs
    for count in filters:
        x = keras.layers.Conv2D(count, kernel_size, padding="same", activation="relu")(x)
        x = keras.layers.MaxPooling2D(2, padding="same")(x)
    x = keras.layers.Flatten()(x)
    if int(dense):
        x = keras.layers.Dense(int(dense), activation="relu")(x)
    if float(dropout):
        x = keras.layers.Dropout(float(dropout))(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="basic_cnn")
