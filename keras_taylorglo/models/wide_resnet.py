"""Wide ResNet WRN-d-k (Zagoruyko & Komodakis, 2016) with pre-activation blocks.

A 3x3 convolution with 16 filters, three groups of ``(depth - 4) / 6`` pre-activation blocks with
``16k``, ``32k`` and ``64k`` filters (stride 1, 2, 2), dropout between the two convolutions of a
block, then BN-ReLU, global average pooling and softmax. WRN-16-8 has 11.0M parameters, WRN-28-5
9.1M (with 10 classes).

Example:
    >>> wide_resnet((32, 32, 3), 10, depth=16, width=8).output_shape
    (None, 10)
"""

from __future__ import annotations

from collections.abc import Sequence

import keras

from .preact_resnet import _bn, _conv, preact_block

__all__ = ["wide_resnet"]


def wide_resnet(
    input_shape: Sequence[int],
    num_classes: int,
    *,
    depth: int = 16,
    width: int = 8,
    dropout: float = 0.0,
) -> keras.Model:
    """Build WRN-``depth``-``width``.

    Args:
        input_shape: ``(height, width, channels)``.
        num_classes: Size of the softmax output.
        depth: Total depth; ``(depth - 4) % 6 == 0`` (10, 16, 22, 28, 40, ...).
        width: Widening factor k (filters 16k, 32k, 64k).
        dropout: Dropout rate inside every block (paper: 0.3 on CIFAR, 0.4 on SVHN).

    Returns:
        An uncompiled functional model with softmax outputs.

    Raises:
        ValueError: ``depth`` is not ``6n + 4``, ``width`` < 1 or ``dropout`` outside [0, 1).

    Example:
        >>> wide_resnet((32, 32, 3), 10, depth=10, width=1).output_shape
        (None, 10)
    """
    depth, width = int(depth), int(width)
    if depth < 10 or (depth - 4) % 6:
        raise ValueError(
            f"wide_resnet: depth must be 6n + 4 with n >= 1 (10, 16, 22, 28, 40, ...), got {depth}"
        )
    if width < 1:
        raise ValueError(f"wide_resnet: width must be an integer >= 1, got {width}")
    if not 0.0 <= float(dropout) < 1.0:
        raise ValueError(f"wide_resnet: dropout must be in [0, 1), got {dropout}")
    blocks = (depth - 4) // 6
    inputs = keras.Input(shape=tuple(input_shape))
    x = _conv(16, 3)(inputs)
    for group in range(3):
        for block in range(blocks):
            strides = 2 if group > 0 and block == 0 else 1
            x = preact_block(x, 16 * width * 2**group, strides, dropout=float(dropout))
    x = keras.layers.ReLU()(_bn()(x))
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs, name=f"wide_resnet_{depth}_{width}")
