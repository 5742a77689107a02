"""AlexNet for 32x32 images, as in the CIFAR-10 model zoos the TaylorGLO paper's baselines match.

Krizhevsky et al.'s five convolutions scaled to CIFAR-10 (the widely used ``pytorch-classification``
variant, about 77% CIFAR-10 accuracy, matching the paper's cross-entropy baseline of 0.7770):
conv 11x11/4 64 -> max pool -> conv 5x5 192 -> max pool -> conv 3x3 384 -> conv 3x3 256 ->
conv 3x3 256 -> max pool -> softmax. ReLU throughout, ``same`` padding so that small inputs work.

Example:
    >>> alexnet((32, 32, 3), 10).output_shape
    (None, 10)
"""

from __future__ import annotations

from collections.abc import Sequence

import keras

__all__ = ["alexnet"]


def alexnet(
    input_shape: Sequence[int],
    num_classes: int,
    *,
    width: float = 1.0,
    dropout: float = 0.0,
) -> keras.Model:
    """Build the CIFAR AlexNet.

    Args:
        input_shape: ``(height, width, channels)``.
        num_classes: Size of the softmax output.
        width: Multiplier of every layer's filter count (1.0 = 64, 192, 384, 256, 256).
        dropout: Dropout rate before the classifier (0 = none, as the reference).

    Returns:
        An uncompiled functional model with softmax outputs.

    Raises:
        ValueError: An option is out of range.

    Example:
        >>> alexnet((28, 28, 1), 10, width=0.25).output_shape
        (None, 10)
    """
    if float(width) <= 0:
        raise ValueError(f"alexnet: width must be > 0, got {width}")
    if not 0.0 <= float(dropout) < 1.0:
        raise ValueError(f"alexnet: dropout must be in [0, 1), got {dropout}")

    def n(filters: int) -> int:
        return max(1, int(round(filters * float(width))))

    layers = keras.layers
    inputs = keras.Input(shape=tuple(input_shape))
    x = layers.Conv2D(n(64), 11, strides=4, padding="same", activation="relu")(inputs)
    x = layers.MaxPooling2D(2, padding="same")(x)
    x = layers.Conv2D(n(192), 5, padding="same", activation="relu")(x)
    x = layers.MaxPooling2D(2, padding="same")(x)
    x = layers.Conv2D(n(384), 3, padding="same", activation="relu")(x)
    x = layers.Conv2D(n(256), 3, padding="same", activation="relu")(x)
    x = layers.Conv2D(n(256), 3, padding="same", activation="relu")(x)
    x = layers.MaxPooling2D(2, padding="same")(x)
    x = layers.Flatten()(x)
    if float(dropout):
        x = layers.Dropout(float(dropout))(x)
    outputs = layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="alexnet")
