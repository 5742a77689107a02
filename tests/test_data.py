"""Data: the offline digits TFDS builder, splits, normalisation, pipelines, augmentation, errors."""

from __future__ import annotations

import os
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402
import tensorflow_datasets as tfds  # noqa: E402

from keras_taylorglo.data import (  # noqa: E402
    DataBundle,
    augment_image,
    cutout,
    from_arrays,
    load_dataset,
    loading,  # noqa: E402
    random_crop,
    random_flip,
)
from keras_taylorglo.data import tfds as tfds_loading  # noqa: E402
from keras_taylorglo.errors import DataError  # noqa: E402

NO_AUGMENT = SimpleNamespace(flip=False, crop_padding=0, cutout=0)


def data_config(dataset="digits", data_dir="", augment=NO_AUGMENT, **overrides):
    values = dict(train_fraction=1.0, validation_size=300, batch_size=32)
    values.update(overrides)
    return SimpleNamespace(dataset=dataset, data_dir=str(data_dir), augment=augment, **values)


@pytest.fixture(scope="module")
def tfds_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("tfds")


@pytest.fixture(scope="module")
def digits(tfds_dir):
    return load_dataset(data_config(data_dir=tfds_dir), Path("."), seed=0)


def indexed_arrays(n=100, test=20):
    """Images whose every pixel holds the example's index: identity survives normalisation."""
    x = np.broadcast_to(np.arange(n, dtype=np.float32)[:, None, None, None], (n, 4, 4, 1)).copy()
    y = np.arange(n) % 10
    return x, y, x[:test].copy(), y[:test].copy()


def first_pixels(bundle, dataset, batches=None):
    """The index of each example in a pipeline (inverts the normalisation)."""
    out = []
    for images, _ in dataset.take(batches) if batches else dataset:
        pixel = images.numpy()[:, 0, 0, 0] * bundle.std[0] + bundle.mean[0]
        out.extend(np.rint(pixel).astype(int).tolist())
    return out


# --------------------------------------------------------------------------------------- digits


def test_digits_builder_prepares_offline_and_tfds_load_reads_it(digits, tfds_dir):
    train, info = tfds.load(
        "taylorglo_digits", split="train", data_dir=str(tfds_dir), with_info=True
    )
    test = tfds.load("taylorglo_digits", split="test", data_dir=str(tfds_dir), batch_size=-1)
    assert info.splits["train"].num_examples == 1497
    assert info.splits["test"].num_examples == 300
    assert info.features["image"].shape == (8, 8, 1)
    assert info.features["label"].num_classes == 10
    labels = test["label"].numpy()
    assert np.bincount(labels, minlength=10).tolist() == [30] * 10  # class-balanced test split
    images = test["image"].numpy()
    assert images.dtype == np.uint8 and images.max() == 16  # scikit-learn's intensities, exact
    # Every stored test image is one of scikit-learn's digits, with its label.
    from sklearn.datasets import load_digits

    sk = load_digits()
    pairs = zip(sk.images.astype(np.uint8), sk.target, strict=True)
    known = {(img.tobytes(), int(t)) for img, t in pairs}
    stored = zip(images[..., 0], labels, strict=True)
    assert all((img.tobytes(), int(t)) in known for img, t in stored)
    assert sum(1 for _ in train) == 1497


@pytest.mark.slow
def test_workers_preparing_digits_at_once_on_a_fresh_machine_all_succeed(tmp_path):
    """Every search worker prepares the data set on first use: they must not race (TFDS's final
    rename fails for all but the first otherwise, which broke `make demo` on a fresh machine)."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from keras_taylorglo.data.loading import prepare_tfds_builder\n"
        "b = prepare_tfds_builder('taylorglo_digits', sys.argv[1])\n"
        "print(b.info.splits['train'].num_examples)\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(tmp_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    results = [p.communicate(timeout=240) + (p.returncode,) for p in procs]
    for out, err, rc in results:
        assert rc == 0, err[-1500:]
        assert out.strip().splitlines()[-1] == "1497"
        assert "Generating" not in err and "Shuffling" not in err  # no TFDS progress bars
    prepared = [d.name for d in (tmp_path / "taylorglo_digits").iterdir()]
    assert prepared == ["1.0.0"]  # no incomplete.* leftovers


def test_a_builder_made_while_a_sibling_was_preparing_is_not_returned(tmp_path, monkeypatch):
    """The race behind the test above, made certain: a worker builds its TFDS builder while a
    sibling is still preparing (its info has no splits yet), and the folder is complete by the
    time it checks. What it returns must read the prepared folder."""
    import tensorflow_datasets as tfds

    from keras_taylorglo.data import digits  # noqa: F401 - registers the builder with TFDS
    from keras_taylorglo.data.loading import prepare_tfds_builder

    stale = tfds.builder("taylorglo_digits", data_dir=str(tmp_path))
    assert not stale.info.splits  # built before the preparation
    prepare_tfds_builder("taylorglo_digits", str(tmp_path))  # the sibling's, done
    real_builder = tfds.builder
    made = iter([stale])
    monkeypatch.setattr(tfds, "builder", lambda *a, **k: next(made, None) or real_builder(*a, **k))
    builder = prepare_tfds_builder("taylorglo_digits", str(tmp_path))
    assert builder.info.splits["train"].num_examples == 1497


def test_digits_bundle_sizes(digits):
    assert isinstance(digits, DataBundle)
    assert (digits.num_train, digits.num_validation, digits.num_test) == (1197, 300, 300)
    assert digits.steps_per_epoch == 1197 // 32 == 37
    assert digits.input_shape == (8, 8, 1)
    assert digits.num_classes == 10
    assert digits.name == "digits"
    assert sum(int(labels.shape[0]) for _, labels in digits.validation) == 300
    assert sum(int(labels.shape[0]) for _, labels in digits.test) == 300


def test_digits_normalised_on_training_split(digits):
    images = np.concatenate([x.numpy() for x, _ in digits.train.take(digits.steps_per_epoch)])
    assert images.dtype == np.float32
    assert abs(images.mean()) < 0.02
    assert abs(images.std() - 1.0) < 0.02
    # The raw digits mean is about 4.9 of 16: the statistics really come from the data.
    assert 4.5 < digits.mean[0] < 5.3 and 5.5 < digits.std[0] < 6.5


def test_train_fraction_reduces_the_training_split(tfds_dir):
    half = load_dataset(data_config(data_dir=tfds_dir, train_fraction=0.5), Path("."), seed=0)
    assert half.num_train == round(0.5 * 1197)
    assert half.num_validation == 300 and half.num_test == 300
    assert half.steps_per_epoch == half.num_train // 32


# ------------------------------------------------------------------------------------- splits


def test_validation_split_is_fixed_disjoint_and_independent_of_seed():
    x, y, xt, yt = indexed_arrays(100)
    a = from_arrays(x, y, xt, yt, validation_size=20, batch_size=10, seed=0)
    b = from_arrays(x, y, xt, yt, validation_size=20, batch_size=10, seed=7)
    val_a, val_b = first_pixels(a, a.validation), first_pixels(b, b.validation)
    assert val_a == val_b and len(set(val_a)) == 20
    train_a = set(first_pixels(a, a.train, a.steps_per_epoch))
    assert len(train_a) == 80 and not train_a & set(val_a)
    assert train_a | set(val_a) == set(range(100))


def test_smaller_train_fraction_is_a_subset():
    x, y, xt, yt = indexed_arrays(100)
    full = from_arrays(x, y, xt, yt, validation_size=20, batch_size=4, train_fraction=0.5)
    part = from_arrays(x, y, xt, yt, validation_size=20, batch_size=4, train_fraction=0.25)
    assert (full.num_train, part.num_train) == (40, 20)
    assert set(first_pixels(part, part.train, 5)) < set(first_pixels(full, full.train, 10))


def test_paper_validation_sizes():
    assert loading.PAPER_VALIDATION_SIZES == {"mnist": 5000, "cifar10": 5000, "svhn_cropped": 26032}
    assert 73257 - loading.PAPER_VALIDATION_SIZES["svhn_cropped"] == 47225


def test_explicit_validation_arrays_are_used():
    x, y, xt, yt = indexed_arrays(60)
    bundle = from_arrays(x[:40], y[:40], xt, yt, x_val=x[40:], y_val=y[40:], batch_size=8)
    assert (bundle.num_train, bundle.num_validation) == (40, 20)
    assert sorted(first_pixels(bundle, bundle.validation)) == list(range(40, 60))


# ----------------------------------------------------------------------------------- pipelines


def test_train_epochs_are_permutations_and_every_iterator_repeats_the_stream():
    x, y, xt, yt = indexed_arrays(84)
    bundle = from_arrays(x, y, xt, yt, validation_size=20, batch_size=16, seed=3)
    assert bundle.steps_per_epoch == 4
    for images, labels in bundle.train.take(3):
        assert images.shape == (16, 4, 4, 1) and labels.shape == (16,)
        assert labels.dtype == tf.int32
    first = first_pixels(bundle, bundle.train, 8)  # 128 examples: two epochs of 64
    again = first_pixels(bundle, bundle.train, 8)
    assert first == again  # a fresh iterator starts the same stream (unlike Dataset.shuffle)
    assert sorted(first[:64]) == sorted(first[64:]) and len(set(first[:64])) == 64
    assert first[:64] != first[64:]  # each epoch has its own order
    other = from_arrays(x, y, xt, yt, validation_size=20, batch_size=16, seed=4)
    assert first_pixels(other, other.train, 8) != first


def test_training_order_ignores_the_global_tensorflow_seed():
    x, y, xt, yt = indexed_arrays(84)
    tf.random.set_seed(1)
    a = from_arrays(x, y, xt, yt, validation_size=20, batch_size=16, seed=3)
    tf.random.set_seed(2)
    b = from_arrays(x, y, xt, yt, validation_size=20, batch_size=16, seed=3)
    assert first_pixels(a, a.train, 4) == first_pixels(b, b.train, 4)


def test_batch_size_larger_than_training_set_is_a_data_error():
    x, y, xt, yt = indexed_arrays(30)
    with pytest.raises(DataError, match="do not fill one batch of 64"):
        from_arrays(x, y, xt, yt, validation_size=10, batch_size=64)


def test_bad_arrays_give_one_line_errors():
    x, y, xt, yt = indexed_arrays(30)
    with pytest.raises(DataError, match=r"y_train has shape \(29,\)"):
        from_arrays(x, y[:29], xt, yt, validation_size=5, batch_size=4)
    with pytest.raises(DataError, match="validation_size 30 does not fit"):
        from_arrays(x, y, xt, yt, validation_size=30, batch_size=4)
    with pytest.raises(DataError, match=r"labels outside \[0, 5\)"):
        from_arrays(x, y, xt, yt, validation_size=5, batch_size=4, num_classes=5)


# -------------------------------------------------------------------------------- augmentation


def test_flip_and_crop_are_deterministic_and_do_what_they_say():
    image = tf.reshape(tf.range(1.0, 17.0), (4, 4, 1))
    flips = [random_flip(image, tf.constant([s, 0])) for s in range(20)]
    assert all(np.array_equal(f, image) or np.array_equal(f, image[:, ::-1]) for f in flips)
    assert 0 < sum(np.array_equal(f, image[:, ::-1]) for f in flips) < 20
    assert np.array_equal(random_flip(image, tf.constant([5, 0])), flips[5])
    for s in range(20):
        crop = random_crop(image, 2, tf.constant([s, 1])).numpy()[..., 0]
        assert crop.shape == (4, 4)
        # A shifted copy: the non-zero pixels form one window of the original, the rest is zero.
        padded = np.pad(image.numpy()[..., 0], 2)
        windows = [padded[r : r + 4, c : c + 4] for r in range(5) for c in range(5)]
        assert any(np.array_equal(crop, w) for w in windows)
    assert np.array_equal(
        random_crop(image, 2, tf.constant([9, 1])), random_crop(image, 2, tf.constant([9, 1]))
    )


def test_cutout_zeroes_exactly_one_clipped_square_in_every_channel():
    image = tf.ones((10, 10, 3))
    sizes = []
    for s in range(60):
        out = cutout(image, 4, tf.constant([s, 2])).numpy()
        zero = out == 0
        assert np.array_equal(zero[..., 0], zero[..., 1]) and np.array_equal(
            zero[..., 0], zero[..., 2]
        )
        rows, cols = np.nonzero(zero[..., 0])
        assert zero.any()
        # a full rectangle: its bounding box is all zeros, nothing else touched
        r0, r1, c0, c1 = rows.min(), rows.max(), cols.min(), cols.max()
        assert zero[r0 : r1 + 1, c0 : c1 + 1, 0].all()
        assert zero[..., 0].sum() == (r1 - r0 + 1) * (c1 - c0 + 1)
        assert r1 - r0 + 1 <= 4 and c1 - c0 + 1 <= 4
        sizes.append(zero[..., 0].sum())
        assert np.all(out[~zero] == 1.0)
    assert max(sizes) == 16  # interior centres give the full 4x4 patch
    assert min(sizes) < 16  # centres near a border are clipped
    assert np.array_equal(
        cutout(image, 4, tf.constant([3, 2])), cutout(image, 4, tf.constant([3, 2]))
    )


def test_augmented_pipeline_is_deterministic_and_keeps_shapes(tfds_dir):
    augment = SimpleNamespace(flip=True, crop_padding=2, cutout=3)
    a = load_dataset(data_config(data_dir=tfds_dir, augment=augment), Path("."), seed=1)
    plain = load_dataset(data_config(data_dir=tfds_dir), Path("."), seed=1)
    batch_a = [x.numpy() for x, _ in a.train.take(2)]
    batch_again = [x.numpy() for x, _ in a.train.take(2)]
    batch_plain = [x.numpy() for x, _ in plain.train.take(2)]
    assert batch_a[0].shape == (32, 8, 8, 1)
    assert all(np.array_equal(p, q) for p, q in zip(batch_a, batch_again, strict=True))
    assert not np.array_equal(batch_a[0], batch_plain[0])
    labels_a = [y.numpy() for _, y in a.train.take(2)]
    labels_plain = [y.numpy() for _, y in plain.train.take(2)]
    # augmentation does not change the order
    assert all(np.array_equal(p, q) for p, q in zip(labels_a, labels_plain, strict=True))
    # validation and test are never augmented
    va = np.concatenate([x.numpy() for x, _ in a.validation])
    vp = np.concatenate([x.numpy() for x, _ in plain.validation])
    assert np.array_equal(va, vp)


def test_augment_image_composes_all_three():
    out = augment_image(
        tf.ones((8, 8, 1)), tf.constant([0, 1]), flip=True, crop_padding=2, cutout_size=3
    )
    assert out.shape == (8, 8, 1) and float(tf.reduce_min(out)) == 0.0


# -------------------------------------------------------------------------------------- errors


def test_missing_mnist_offline_is_one_fast_line(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_TAYLORGLO_OFFLINE", "1")  # as on a machine without network
    start = time.perf_counter()
    with pytest.raises(DataError) as info:
        load_dataset(data_config("mnist", data_dir=tmp_path), Path("."), seed=0)
    assert time.perf_counter() - start < 10
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"mnist is not prepared in {tmp_path}")
    assert f"`tfds build mnist --data_dir {tmp_path}`" in message


def test_failed_download_becomes_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(tfds_loading, "_network_reachable", lambda: True)

    def refuse(self, **kwargs):
        raise ConnectionError("Max retries exceeded\nwith url: /cvdf-datasets/mnist")

    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", refuse)
    with pytest.raises(DataError) as info:
        load_dataset(data_config("mnist", data_dir=tmp_path), Path("."), seed=0)
    assert "\n" not in str(info.value)
    assert "could not be downloaded" in str(info.value)
    assert "(ConnectionError: Max retries exceeded)" in str(info.value)


def test_unknown_dataset_lists_close_matches(tmp_path):
    with pytest.raises(DataError, match=r"'cifar_10' is not known to TFDS; did you mean cifar10"):
        load_dataset(data_config("cifar_10", data_dir=tmp_path), Path("."), seed=0)
    with pytest.raises(DataError, match="did you mean digits"):
        load_dataset(data_config("digts", data_dir=tmp_path), Path("."), seed=0)


def test_tfds_versions_are_not_mistaken_for_functions():
    assert not loading._is_callable_spec("mnist:3.0.1")
    assert not loading._is_callable_spec("cifar10")
    assert loading._is_callable_spec("my_data:make")
    assert loading._is_callable_spec("pkg.sub:make_data")


# ------------------------------------------------------------------------------ module:function


def test_module_function_dataset(tmp_path):
    (tmp_path / "my_data.py").write_text(
        "import numpy as np\n"
        "def make(seed):\n"
        "    rng = np.random.default_rng(123)\n"
        "    x = rng.integers(0, 255, (120, 6, 6), dtype=np.uint8)\n"
        "    y = np.arange(120) % 3\n"
        "    return {'x_train': x[:100], 'y_train': y[:100],\n"
        "            'x_test': x[100:], 'y_test': y[100:]}\n"
        "def with_val():\n"
        "    d = make(0)\n"
        "    return dict(d, x_val=d['x_test'], y_val=d['y_test'], num_classes=5)\n"
        "def wrong(seed):\n"
        "    return {'x_train': 1}\n"
    )
    bundle = load_dataset(
        data_config("my_data:make", validation_size=10, batch_size=8), tmp_path, seed=0
    )
    assert (bundle.num_train, bundle.num_validation, bundle.num_test) == (90, 10, 20)
    assert bundle.input_shape == (6, 6, 1) and bundle.num_classes == 3
    assert bundle.name == "my_data:make"
    images, labels = next(iter(bundle.train))
    assert images.shape == (8, 6, 6, 1) and labels.shape == (8,)
    given = load_dataset(data_config("my_data:with_val", batch_size=8), tmp_path, seed=0)
    assert (given.num_train, given.num_validation, given.num_classes) == (100, 20, 5)
    with pytest.raises(DataError, match="lacks y_train, x_test, y_test"):
        load_dataset(data_config("my_data:wrong"), tmp_path, seed=0)


def test_a_misspelt_data_function_names_the_recipe_file(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from keras_taylorglo.data import load_dataset
    from keras_taylorglo.errors import TaylorGLOError

    (tmp_path / "my_data.py").write_text("def make_data():\n    return {}\n")
    config = SimpleNamespace(
        dataset="my_data:make_dat",
        data_dir="",
        train_fraction=1.0,
        validation_size=10,
        batch_size=10,
        augment=None,
    )
    with pytest.raises(TaylorGLOError) as info:
        load_dataset(config, tmp_path, seed=0, source="recipes/mine.toml")
    message = str(info.value)
    assert message.startswith("recipes/mine.toml: data.dataset:"), message
    assert "make_data" in message  # did you mean


def test_a_class_that_never_occurs_is_a_warning_not_silence() -> None:
    from keras_taylorglo.data import from_arrays

    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, (200, 4, 4), dtype=np.uint8)
    y = 1 + np.arange(200) % 10  # numbered from 1: class 0 is empty, num_classes becomes 11
    bundle = from_arrays(x, y, x[:20], y[:20], validation_size=20, batch_size=10, name="mine")
    assert bundle.num_classes == 11
    assert bundle.warnings == (
        "data set mine: no training label is 0 (classes are 0..10; labels numbered from 1? "
        "num_classes is max(label) + 1 unless the data gives it)",
    )
    clean = from_arrays(x, y - 1, x[:20], y[:20] - 1, validation_size=20, batch_size=10)
    assert clean.warnings == ()
