"""All-CNN-C (Springenberg et al., 2015, "Striving for Simplicity: The All Convolutional Net").

Only convolutions: dropout 0.2 on the input; 3x3 conv 96, 3x3 conv 96, 3x3 conv 96 stride 2;
dropout 0.5; 3x3 conv 192, 3x3 conv 192, 3x3 conv 192 stride 2; dropout 0.5; 3x3 conv 192
(``valid``), 1x1 conv 192, 1x1 conv ``num_classes``; global average pooling; softmax. ReLU after
every convolution but the last. Strided convolutions use ``same`` padding; the last 3x3 is
``valid`` as in the paper unless the feature map is smaller than 3x3 (tiny inputs), then ``same``.

Example:
    >>> allcnn_c((32, 32, 3), 10).output_shape
    (None, 10)
"""

from __future__ import annotations

from collections.abc import Sequence

import keras

__all__ = ["allcnn_c"]


def allcnn_c(
    input_shape: Sequence[int],
    num_classes: int,
    *,
    filters: Sequence[int] = (96, 192),
    input_dropout: float = 0.2,
    dropout: float = 0.5,
    batch_norm: bool = False,
) -> keras.Model:
    """Build All-CNN-C.

    Args:
        input_shape: ``(height, width, channels)``.
        num_classes: Number of classes (filters of the last 1x1 convolution).
        filters: Filters of the first and of the later blocks (paper: 96, 192).
        input_dropout: Dropout rate on the input images (paper: 0.2).
        dropout: Dropout rate after each strided convolution (paper: 0.5).
        batch_norm: Batch normalisation after each hidden convolution (not in the paper; it
            makes the net trainable with higher learning rates).

    Returns:
        An uncompiled functional model with softmax outputs.

    Raises:
        ValueError: An option is out of range.

    Example:
        >>> allcnn_c((8, 8, 1), 10, filters=(8, 16)).output_shape
        (None, 10)
    """
    filters = tuple(int(f) for f in filters)
    if len(filters) != 2 or min(filters) < 1:
        raise ValueError(f"allcnn_c: filters must be two positive integers, got {filters}")
    for label, rate in (("input_dropout", input_dropout), ("dropout", dropout)):
        if not 0.0 <= float(rate) < 1.0:
            raise ValueError(f"allcnn_c: {label} must be in [0, 1), got {rate}")
    layers = keras.layers

    def conv(x, count: int, kernel: int, strides: int = 1, padding: str = "same"):
        x = layers.Conv2D(count, kernel, strides=strides, padding=padding)(x)
        if batch_norm:
            x = layers.BatchNormalization(momentum=0.9, epsilon=1e-5)(x)
        return layers.ReLU()(x)

    inputs = keras.Input(shape=tuple(input_shape))
    x = layers.Dropout(float(input_dropout))(inputs) if float(input_dropout) else inputs
    small, large = filters
    x = conv(x, small, 3)
    x = conv(x, small, 3)
    x = conv(x, small, 3, strides=2)
    x = layers.Dropout(float(dropout))(x) if float(dropout) else x
    x = conv(x, large, 3)
    x = conv(x, large, 3)
    x = conv(x, large, 3, strides=2)
    x = layers.Dropout(float(dropout))(x) if float(dropout) else x
    side = min(d for d in x.shape[1:3] if d is not None) if any(x.shape[1:3]) else 0
    x = conv(x, large, 3, padding="valid" if side >= 3 else "same")
    x = conv(x, large, 1)
    x = layers.Conv2D(num_classes, 1)(x)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Softmax()(x)
    return keras.Model(inputs, outputs, name="allcnn_c")
