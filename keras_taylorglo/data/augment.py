"""Training-set augmentation as stateless TensorFlow ops: flip, crop with padding, Cutout.

Every op takes one image ``(height, width, channels)`` and a ``seed`` (an integer tensor of shape
``[2]``) and is a pure function of both, so a ``tf.data`` pipeline that derives the seed from a
pipeline seed and the element's position yields the same augmented stream on every run, in every
process, whatever the global TensorFlow seed is. The ops run inside ``tf.data`` ``map`` functions
(graph mode) and eagerly.

The loader applies them after normalisation, so the zero padding of the crop and the zeroed
Cutout patch hold the training mean (as in DeVries & Taylor's Cutout code, which runs after
``Normalize``).

Example:
    >>> import tensorflow as tf
    >>> image = tf.ones((32, 32, 3))
    >>> out = augment_image(image, tf.constant([1, 2]), flip=True, crop_padding=4, cutout_size=16)
    >>> out.shape
    TensorShape([32, 32, 3])
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import tensorflow as tf

__all__ = ["augment_image", "cutout", "make_augment_fn", "random_crop", "random_flip"]


def random_flip(image: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """Flip an image left-right with probability 1/2.

    Args:
        image: ``(height, width, channels)`` tensor.
        seed: Integer tensor of shape ``[2]``; the same seed gives the same decision.

    Returns:
        The image, flipped or not.

    Example:
        >>> random_flip(tf.reshape(tf.range(4.0), (1, 4, 1)), tf.constant([0, 0])).shape
        TensorShape([1, 4, 1])
    """
    return tf.image.stateless_random_flip_left_right(image, seed=seed)


def random_crop(image: tf.Tensor, padding: int, seed: tf.Tensor) -> tf.Tensor:
    """Zero-pad an image by ``padding`` pixels on every side, then crop it back at random.

    Args:
        image: ``(height, width, channels)`` tensor with a static shape.
        padding: Pixels of zero padding per side (0 returns the image unchanged).
        seed: Integer tensor of shape ``[2]``; the same seed gives the same offset.

    Returns:
        A tensor of the input's shape: the image shifted by up to ``padding`` pixels in each
        direction, the uncovered border zero.

    Example:
        >>> random_crop(tf.ones((8, 8, 1)), 2, tf.constant([3, 4])).shape
        TensorShape([8, 8, 1])
    """
    if padding <= 0:
        return image
    height, width, channels = image.shape
    padded = tf.pad(image, [[padding, padding], [padding, padding], [0, 0]])
    return tf.image.stateless_random_crop(padded, size=[height, width, channels], seed=seed)


def cutout(image: tf.Tensor, size: int, seed: tf.Tensor) -> tf.Tensor:
    """Zero a square patch of side ``size`` centred at a uniformly random pixel (Cutout).

    As in DeVries & Taylor (2017), the centre may lie anywhere in the image and the patch is
    clipped at the borders, so near an edge fewer than ``size * size`` pixels are zeroed. The
    patch covers rows ``cy - size // 2 .. cy - size // 2 + size - 1`` (and likewise columns).

    Args:
        image: ``(height, width, channels)`` tensor with a static shape.
        size: Side of the patch in pixels (0 returns the image unchanged).
        seed: Integer tensor of shape ``[2]``; the same seed gives the same patch.

    Returns:
        The image with the patch set to zero in every channel.

    Example:
        >>> out = cutout(tf.ones((8, 8, 1)), 2, tf.constant([5, 6]))
        >>> 1 <= int(tf.reduce_sum(1 - out)) <= 4
        True
    """
    if size <= 0:
        return image
    height, width = image.shape[0], image.shape[1]
    centre = tf.random.stateless_uniform(
        [2], seed=seed, minval=0, maxval=tf.int32.max, dtype=tf.int32
    ) % tf.constant([height, width])
    top = centre[0] - size // 2
    left = centre[1] - size // 2
    rows = tf.range(height)
    cols = tf.range(width)
    in_rows = (rows >= top) & (rows < top + size)
    in_cols = (cols >= left) & (cols < left + size)
    patch = tf.logical_and(in_rows[:, None], in_cols[None, :])  # (height, width)
    keep = tf.cast(tf.logical_not(patch), image.dtype)[:, :, None]
    return image * keep


def augment_image(
    image: tf.Tensor,
    seed: tf.Tensor,
    flip: bool = False,
    crop_padding: int = 0,
    cutout_size: int = 0,
) -> tf.Tensor:
    """Apply crop with padding, then flip, then Cutout, each with its own derived seed.

    Args:
        image: ``(height, width, channels)`` float tensor with a static shape.
        seed: Integer tensor of shape ``[2]``.
        flip: Random horizontal flips.
        crop_padding: Padding of the random crop in pixels (0 = off).
        cutout_size: Side of the Cutout patch in pixels (0 = off); the recipe's
            ``augment.cutout``.

    Returns:
        The augmented image, same shape and dtype.

    Example:
        >>> augment_image(tf.ones((8, 8, 1)), tf.constant([0, 1]), flip=True).shape
        TensorShape([8, 8, 1])
    """
    # Independent streams per op: reusing one seed would correlate flip and crop decisions.
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), num=3)
    if crop_padding:
        image = random_crop(image, int(crop_padding), seeds[0])
    if flip:
        image = random_flip(image, seeds[1])
    if cutout_size:
        image = cutout(image, int(cutout_size), seeds[2])
    return image


def make_augment_fn(augment: Any) -> Callable[[tf.Tensor, tf.Tensor], tf.Tensor] | None:
    """Turn an augmentation config into ``fn(image, seed) -> image``, or ``None`` when all off.

    Args:
        augment: Any object with ``flip``, ``crop_padding`` and ``cutout`` attributes (the
            recipe's ``AugmentConfig``); ``None`` means no augmentation.

    Returns:
        The function, or ``None`` if no augmentation is switched on.

    Raises:
        ValueError: ``crop_padding`` or ``cutout`` is negative.

    Example:
        >>> from types import SimpleNamespace
        >>> make_augment_fn(SimpleNamespace(flip=False, crop_padding=0, cutout=0)) is None
        True
    """
    if augment is None:
        return None
    flip = bool(getattr(augment, "flip", False))
    crop_padding = int(getattr(augment, "crop_padding", 0))
    size = int(getattr(augment, "cutout", 0))
    if crop_padding < 0 or size < 0:
        raise ValueError(
            f"augment.crop_padding and augment.cutout must be >= 0, "
            f"got crop_padding={crop_padding}, cutout={size}"
        )
    if not (flip or crop_padding or size):
        return None

    def augment_fn(image: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
        return augment_image(image, seed, flip=flip, crop_padding=crop_padding, cutout_size=size)

    return augment_fn
