"""All-CNN-C (Springenberg et al. 2015): only convolutions, strided instead of pooled."""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers

from ._init import Initializers


def allcnn_c(
    input_shape: Sequence[int],
    num_classes: int,
    width: Sequence[int] = (96, 192),
    input_dropout: float = 0.2,
    dropout: float = 0.5,
    batch_norm: bool = True,
    seed: int | None = None,
) -> keras.Model:
    """All-CNN-C: 3×3 convs, stride-2 convs in place of pooling, 1×1 convs, global average pool.

    Args:
        input_shape: ``(height, width, channels)``.
        num_classes: Output classes (softmax).
        width: Filters of the two stages (the paper: 96, 192).
        input_dropout: Dropout on the input (the paper: 0.2).
        dropout: Dropout after each strided conv (the paper: 0.5).
        batch_norm: Batch norm after each conv (not in the original; it makes SGD with the
            literature's learning rate reliable).
        seed: Seed of the initial weights.

    Returns:
        An uncompiled model with softmax outputs.
    """
    init = Initializers(seed)

    def conv(
        x: keras.KerasTensor, filters: int, size: int, strides: int = 1, padding: str = "same"
    ) -> keras.KerasTensor:
        x = layers.Conv2D(
            filters, size, strides=strides, padding=padding, kernel_initializer=init.he()
        )(x)
        if batch_norm:
            x = layers.BatchNormalization()(x)
        return layers.ReLU()(x)

    inputs = keras.Input(tuple(input_shape))
    x = layers.Dropout(input_dropout, seed=init.seed())(inputs) if input_dropout else inputs
    for filters in width:
        x = conv(x, filters, 3)
        x = conv(x, filters, 3)
        x = conv(x, filters, 3, strides=2)
        if dropout:
            x = layers.Dropout(dropout, seed=init.seed())(x)
    x = conv(x, width[-1], 3, padding="valid" if min(input_shape[:2]) >= 12 else "same")
    x = conv(x, width[-1], 1)
    x = layers.Conv2D(num_classes, 1, kernel_initializer=init.glorot())(x)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Softmax(dtype="float32")(x)  # float32 under a mixed policy too
    return keras.Model(inputs, outputs, name="allcnn_c")
