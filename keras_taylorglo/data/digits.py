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

from collections.abc import Iterator
from typing import Any

import numpy as np
import tensorflow_datasets as tfds

__all__ = ["DIGITS_BUILDER_NAME", "TEST_PER_CLASS", "TaylorgloDigits", "digits_split_indices"]

DIGITS_BUILDER_NAME = "taylorglo_digits"
"""The TFDS name of the builder (TFDS derives it from the class name)."""

TEST_PER_CLASS = 30
"""Test examples per class: 10 classes x 30 = 300 test examples, 1,497 for training."""

_SPLIT_SEED = 0


def digits_split_indices(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the fixed (train, test) index arrays of the digits split.

    Args:
        labels: scikit-learn's digit labels (``load_digits().target``).

    Returns:
        ``(train_indices, test_indices)``, each sorted ascending; the test part holds
        :data:`TEST_PER_CLASS` examples of every class.

    Example:
        >>> from sklearn.datasets import load_digits
        >>> train, test = digits_split_indices(load_digits().target)
        >>> len(train), len(test)
        (1497, 300)
    """
    labels = np.asarray(labels)
    # RandomState's stream is frozen by NumPy's compatibility policy: the split never changes.
    rng = np.random.RandomState(_SPLIT_SEED)
    test = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        test.extend(rng.choice(members, size=TEST_PER_CLASS, replace=False).tolist())
    test_indices = np.sort(np.asarray(test, dtype=np.int64))
    train_mask = np.ones(len(labels), dtype=bool)
    train_mask[test_indices] = False
    return np.flatnonzero(train_mask).astype(np.int64), test_indices


class TaylorgloDigits(tfds.core.GeneratorBasedBuilder):
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

    def _info(self) -> tfds.core.DatasetInfo:
        return self.dataset_info_from_configs(
            description=(
                "scikit-learn's copy of the UCI optical recognition of handwritten digits test "
                "set: 1,797 8x8 images with intensities 0..16."
            ),
            features=tfds.features.FeaturesDict(
                {
                    "image": tfds.features.Image(shape=(8, 8, 1), dtype=np.uint8),
                    "label": tfds.features.ClassLabel(num_classes=10),
                }
            ),
            supervised_keys=("image", "label"),
            homepage="https://scikit-learn.org/stable/datasets/toy_dataset.html#digits-dataset",
        )

    def _split_generators(self, dl_manager: Any) -> dict[str, Iterator[tuple[int, dict]]]:
        # No download: the data ships inside scikit-learn, dl_manager is not used.
        from sklearn.datasets import load_digits

        digits = load_digits()
        images = digits.images.astype(np.uint8)[..., None]  # exact: values are integers 0..16
        labels = digits.target.astype(np.int64)
        train, test = digits_split_indices(labels)
        return {
            "train": self._generate_examples(images, labels, train),
            "test": self._generate_examples(images, labels, test),
        }

    def _generate_examples(
        self, images: np.ndarray, labels: np.ndarray, indices: np.ndarray
    ) -> Iterator[tuple[int, dict]]:
        for index in indices:
            yield int(index), {"image": images[index], "label": int(labels[index])}
