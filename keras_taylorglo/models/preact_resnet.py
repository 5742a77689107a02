"""Pre-activation ResNet for CIFAR (He et al., 2016, "Identity Mappings in Deep Residual Networks").

A 3x3 convolution with 16 filters, then three stages of ``(depth - 2) / 6`` basic pre-activation
blocks (BN-ReLU-conv3x3-BN-ReLU-conv3x3 plus the shortcut) with 16, 32 and 64 filters, the
second and third stage starting with stride 2 and a 1x1 projection shortcut taken from the
pre-activated input; a final BN-ReLU, global average pooling and softmax. Depth 20 is the paper's
PreResNet-20 (0.27M parameters).

Example:
    >>> preact_resnet20((32, 32, 3), 10).output_shape
    (None, 10)
"""

from __future__ import annotations

from collections.abc import Sequence

import keras

__all__ = ["preact_block", "preact_resnet", "preact_resnet20"]


def _bn() -> keras.layers.Layer:
    # PyTorch's BatchNorm defaults (momentum 0.1 there = 0.9 here): short partial trainings need
    # running statistics that catch up within a few hundred steps.
    return keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5)


def _conv(filters: int, kernel: int, strides: int = 1) -> keras.layers.Layer:
    return keras.layers.Conv2D(
        filters,
        kernel,
        strides=strides,
        padding="same",
        use_bias=False,
        kernel_initializer="he_normal",
    )


def preact_block(x, filters: int, strides: int = 1, dropout: float = 0.0):
    """One basic pre-activation residual block (shared by the PreResNet and the Wide ResNet).

    Args:
        x: Input tensor ``(batch, h, w, c)``.
        filters: Output filters.
        strides: Stride of the first convolution (2 halves the spatial size).
        dropout: Dropout rate between the two convolutions (Wide ResNet; 0 = none).

    Returns:
        The block's output tensor.

    Example:
        >>> inputs = keras.Input((8, 8, 16))
        >>> preact_block(inputs, 32, strides=2).shape
        (None, 4, 4, 32)
    """
    layers = keras.layers
    activated = layers.ReLU()(_bn()(x))
    if strides != 1 or x.shape[-1] != filters:
        shortcut = _conv(filters, 1, strides)(activated)
    else:
        shortcut = x
    y = _conv(filters, 3, strides)(activated)
    y = layers.ReLU()(_bn()(y))
    if dropout:
        y = layers.Dropout(float(dropout))(y)
    y = _conv(filters, 3)(y)
    return layers.Add()([y, shortcut])


def preact_resnet(
    input_shape: Sequence[int],
    num_classes: int,
    *,
    depth: int = 20,
    base_filters: int = 16,
) -> keras.Model:
    """Build a CIFAR pre-activation ResNet of the given depth.

    Args:
        input_shape: ``(height, width, channels)``.
        num_classes: Size of the softmax output.
        depth: Total depth; ``(depth - 2) % 6 == 0`` (20, 32, 44, 56, 110, ...).
        base_filters: Filters of the first stage (doubled per stage).

    Returns:
        An uncompiled functional model with softmax outputs.

    Raises:
        ValueError: ``depth`` is not ``6n + 2`` or ``base_filters`` < 1.

    Example:
        >>> preact_resnet((32, 32, 3), 10, depth=8).output_shape
        (None, 10)
    """
    depth = int(depth)
    if depth < 8 or (depth - 2) % 6:
        raise ValueError(
            f"preact_resnet: depth must be 6n + 2 with n >= 1 (8, 14, 20, 32, ...), got {depth}"
        )
    if int(base_filters) < 1:
        raise ValueError(f"preact_resnet: base_filters must be >= 1, got {base_filters}")
    blocks = (depth - 2) // 6
    inputs = keras.Input(shape=tuple(input_shape))
    x = _conv(int(base_filters), 3)(inputs)
    for stage in range(3):
        for block in range(blocks):
            strides = 2 if stage > 0 and block == 0 else 1
            x = preact_block(x, int(base_filters) * 2**stage, strides)
    x = keras.layers.ReLU()(_bn()(x))
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs, name=f"preact_resnet{depth}")


def preact_resnet20(
    input_shape: Sequence[int],
    num_classes: int,
    *,
    depth: int = 20,
    base_filters: int = 16,
) -> keras.Model:
    """Build PreResNet-20 (the paper's Table 1 row); same options as :func:`preact_resnet`.

    Args:
        input_shape: ``(height, width, channels)``.
        num_classes: Size of the softmax output.
        depth: Total depth (default 20).
        base_filters: Filters of the first stage.

    Returns:
        An uncompiled functional model with softmax outputs.

    Example:
        >>> preact_resnet20((32, 32, 3), 10).count_params() < 300_000
        True
    """
    return preact_resnet(input_shape, num_classes, depth=depth, base_filters=base_filters)
