"""scikit-learn's 8x8 handwritten digits as a TFDS data set that prepares itself offline.

Importing this module registers the builder :class:`TaylorgloDigits` with TensorFlow Datasets
under the name ``"taylorglo_digits"``. Its ``download_and_prepare`` reads
:func:`sklearn.datasets.load_digits`, whose data ships inside the scikit-learn package, so
``tfds.load("taylorglo_digits", data_dir=...)`` works without network access and goes through
exactly the same TFDS code path as MNIST, CIFAR-10 and SVHN.

The split is fixed: for each of the 10 classes, 30 examples chosen with
``numpy.random.RandomState(0)`` form the ``test`` split (300 examples, class-balanced); the other
1,497 examples form the ``train`` split. Pixel values are scikit-learn's integer intensities
0..16, stored unchanged as ``uint8`` (normalisation happens in the loader).

Example:
    >>> import tensorflow_datasets as tfds
    >>> import keras_taylorglo.data.digits  # registers the builder
    >>> builder = tfds.builder("taylorglo_digits", data_dir="/tmp/tfds")
    >>> builder.download_and_prepare()  # offline, about a second
    >>> builder.info.splits["train"].num_examples
    1497
"""

from __future__ import annotations

import numpy as np
import tensorflow_datasets as tfds

from .builders import OfflineImageBuilder, class_balanced_split
from .names import DIGITS_BUILDER_NAME

__all__ = ["DIGITS_BUILDER_NAME", "TEST_PER_CLASS", "TaylorgloDigits", "digits_split_indices"]

TEST_PER_CLASS = 30
"""Test examples per class: 10 classes x 30 = 300 test examples, 1,497 for training."""


def digits_split_indices(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the fixed (train, test) index arrays of the digits split.

    Args:
        labels: scikit-learn's digit labels (``load_digits().target``).

    Returns:
        ``(train_indices, test_indices)``, each sorted ascending; the test part holds
        :data:`TEST_PER_CLASS` examples of every class (see
        :func:`~keras_taylorglo.data.builders.class_balanced_split`).

    Raises:
        DataError: A class has fewer than :data:`TEST_PER_CLASS` examples.

    Example:
        >>> from sklearn.datasets import load_digits
        >>> train, test = digits_split_indices(load_digits().target)
        >>> len(train), len(test)
        (1497, 300)
    """
    return class_balanced_split(labels, TEST_PER_CLASS, "digits")


class TaylorgloDigits(OfflineImageBuilder):
    """TFDS builder of scikit-learn's digits (1,797 8x8 grey images, 10 classes), offline.

    Features: ``image`` (``uint8``, shape ``(8, 8, 1)``, values 0..16) and ``label``
    (``ClassLabel`` with 10 classes). Splits: ``train`` (1,497) and ``test`` (300), see
    :func:`digits_split_indices`.

    Example:
        >>> import tensorflow_datasets as tfds
        >>> ds = tfds.load("taylorglo_digits", split="test", data_dir="/tmp/tfds")
    """

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "scikit-learn digits, fixed class-balanced 1497/300 split."}
    IMAGE_SHAPE = (8, 8, 1)
    DESCRIPTION = (
        "scikit-learn's copy of the UCI optical recognition of handwritten digits test "
        "set: 1,797 8x8 images with intensities 0..16."
    )
    HOMEPAGE = "https://scikit-learn.org/stable/datasets/toy_dataset.html#digits-dataset"

    def _read(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        # The data ships inside scikit-learn.
        from sklearn.datasets import load_digits

        digits = load_digits()
        images = digits.images.astype(np.uint8)[..., None]  # exact: values are integers 0..16
        labels = digits.target.astype(np.int64)
        return images, labels, *digits_split_indices(labels)
