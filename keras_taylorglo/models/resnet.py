"""Pre-activation residual networks for 32×32 images.

PreResNet (He et al. 2016) and Wide ResNet (Zagoruyko & Komodakis 2016).
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers

from ..errors import TaylorGLOError
from ._init import Initializers


def _preact_block(
    x: keras.KerasTensor, filters: int, strides: int, dropout: float, init: Initializers
) -> keras.KerasTensor:
    """BN → ReLU → conv3×3 → (dropout) → BN → ReLU → conv3×3, plus a projected shortcut."""
    out = layers.ReLU()(layers.BatchNormalization()(x))
    shortcut = x
    if strides != 1 or x.shape[-1] != filters:
        # The projection takes the pre-activated input, as in the reference implementations.
        shortcut = layers.Conv2D(
            filters, 1, strides=strides, use_bias=False, kernel_initializer=init.he()
        )(out)
    out = layers.Conv2D(
        filters, 3, strides=strides, padding="same", use_bias=False, kernel_initializer=init.he()
    )(out)
    out = layers.ReLU()(layers.BatchNormalization()(out))
    if dropout:
        out = layers.Dropout(dropout, seed=init.seed())(out)
    out = layers.Conv2D(filters, 3, padding="same", use_bias=False, kernel_initializer=init.he())(
        out
    )
    return layers.Add()([out, shortcut])


def _resnet(
    input_shape: Sequence[int],
    num_classes: int,
    blocks: int,
    widths: Sequence[int],
    first: int,
    dropout: float,
    seed: int | None,
    name: str,
) -> keras.Model:
    init = Initializers(seed)
    inputs = keras.Input(tuple(input_shape))
    x = layers.Conv2D(first, 3, padding="same", use_bias=False, kernel_initializer=init.he())(
        inputs
    )
    for stage, filters in enumerate(widths):
        for block in range(blocks):
            strides = 2 if stage > 0 and block == 0 else 1
            x = _preact_block(x, filters, strides, dropout, init)
    x = layers.ReLU()(layers.BatchNormalization()(x))
    x = layers.GlobalAveragePooling2D()(x)
    outputs = init.softmax_output(num_classes)(x)
    return keras.Model(inputs, outputs, name=name)


def preact_resnet20(
    input_shape: Sequence[int], num_classes: int, depth: int = 20, seed: int | None = None
) -> keras.Model:
    """Pre-activation ResNet for CIFAR (16/32/64 filters, (depth − 2)/6 blocks per stage).

    Args:
        input_shape: ``(height, width, channels)``.
        num_classes: Output classes (softmax).
        depth: 6n + 2 (20 by default).
        seed: Seed of the initial weights.

    Returns:
        An uncompiled model with softmax outputs.

    Raises:
        TaylorGLOError: ``depth`` is not of the form 6n + 2.
    """
    if depth < 8 or (depth - 2) % 6:
        raise TaylorGLOError(
            f"model.options.depth: preact_resnet20 needs depth = 6n + 2 (got {depth}; "
            "expected 8, 14, 20, 26, …)"
        )
    return _resnet(
        input_shape,
        num_classes,
        (depth - 2) // 6,
        (16, 32, 64),
        16,
        0.0,
        seed,
        f"preact_resnet{depth}",
    )


def wide_resnet(
    input_shape: Sequence[int],
    num_classes: int,
    depth: int = 16,
    width: int = 8,
    dropout: float = 0.0,
    seed: int | None = None,
) -> keras.Model:
    """Wide ResNet WRN-depth-width with pre-activation blocks and dropout between the convs.

    Args:
        input_shape: ``(height, width, channels)``.
        num_classes: Output classes (softmax).
        depth: 6n + 4 (16 for WRN-16-8, 28 for WRN-28-5).
        width: The widening factor k (filters 16k, 32k, 64k).
        dropout: Dropout between the two convs of each block (0.3 CIFAR, 0.4 SVHN).
        seed: Seed of the initial weights.

    Returns:
        An uncompiled model with softmax outputs.

    Raises:
        TaylorGLOError: ``depth`` is not of the form 6n + 4, or ``width`` < 1.
    """
    if depth < 10 or (depth - 4) % 6:
        raise TaylorGLOError(
            f"model.options.depth: wide_resnet needs depth = 6n + 4 (got {depth}; "
            "expected 10, 16, 22, 28, …)"
        )
    if width < 1:
        raise TaylorGLOError(f"model.options.width: must be >= 1 (got {width})")
    return _resnet(
        input_shape,
        num_classes,
        (depth - 4) // 6,
        (16 * width, 32 * width, 64 * width),
        16,
        dropout,
        seed,
        f"wrn_{depth}_{width}",
    )
