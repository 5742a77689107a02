"""Label noise: realised rate, symmetric and pair-flip maps, nesting, determinism, splits."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from keras_taylorglo.data.noise import NOISE_KINDS, noisy_labels
from keras_taylorglo.errors import DataError

ROOT = Path(__file__).parent.parent
N, CLASSES = 20_000, 10
LABELS = np.random.default_rng(1).integers(0, CLASSES, N).astype(np.int32)


@pytest.mark.parametrize("kind", NOISE_KINDS)
@pytest.mark.parametrize("rate", [0.05, 0.2, 0.4, 0.6, 0.9])
def test_realised_rate_is_within_binomial_tolerance(kind: str, rate: float) -> None:
    noisy = noisy_labels(LABELS, CLASSES, rate, kind)
    realised = float(np.mean(noisy != LABELS))
    sigma = np.sqrt(rate * (1 - rate) / N)
    assert abs(realised - rate) < 4 * sigma, (realised, rate)
    assert noisy.dtype == np.int32 and noisy.min() >= 0 and noisy.max() < CLASSES


def test_rate_zero_changes_nothing() -> None:
    np.testing.assert_array_equal(noisy_labels(LABELS, CLASSES, 0.0), LABELS)


def test_symmetric_never_keeps_the_true_class_and_spreads_uniformly() -> None:
    noisy = noisy_labels(LABELS, CLASSES, 0.5, "symmetric")
    flipped = noisy != LABELS
    # a flip draws an offset in 1..n-1: the new class is never the old one, and every other
    # class is equally likely (offsets are uniform)
    offsets = (noisy[flipped] - LABELS[flipped]) % CLASSES
    assert offsets.min() == 1 and offsets.max() == CLASSES - 1
    counts = np.bincount(offsets, minlength=CLASSES)[1:]
    expected = flipped.sum() / (CLASSES - 1)
    assert np.all(np.abs(counts - expected) < 5 * np.sqrt(expected))


def test_pairflip_maps_each_class_to_the_next() -> None:
    noisy = noisy_labels(LABELS, CLASSES, 0.3, "pairflip")
    flipped = noisy != LABELS
    np.testing.assert_array_equal(noisy[flipped], (LABELS[flipped] + 1) % CLASSES)
    assert set(np.unique(LABELS[flipped])) == set(range(CLASSES))  # 9 -> 0 included


@pytest.mark.parametrize("kind", NOISE_KINDS)
def test_noise_is_nested_across_rates(kind: str) -> None:
    low = noisy_labels(LABELS, CLASSES, 0.2, kind)
    high = noisy_labels(LABELS, CLASSES, 0.4, kind)
    flipped_low = low != LABELS
    assert flipped_low.sum() > 0
    # every example flipped at 0.2 is flipped at 0.4, to the same class
    np.testing.assert_array_equal(high[flipped_low], low[flipped_low])
    assert np.all((high != LABELS)[flipped_low])
    assert (high != LABELS).sum() > flipped_low.sum()


def test_train_and_validation_streams_differ() -> None:
    train = noisy_labels(LABELS, CLASSES, 0.4, stream="train") != LABELS
    val = noisy_labels(LABELS, CLASSES, 0.4, stream="val") != LABELS
    assert not np.array_equal(train, val)


def test_identical_in_another_process() -> None:
    here = hashlib.sha256(noisy_labels(LABELS, CLASSES, 0.4).tobytes()).hexdigest()
    code = (
        "import hashlib, numpy as np; from keras_taylorglo.data.noise import noisy_labels; "
        "y = np.random.default_rng(1).integers(0, 10, 20000).astype(np.int32); "
        "print(hashlib.sha256(noisy_labels(y, 10, 0.4).tobytes()).hexdigest())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == here


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((1.2, "symmetric"), "rate 1.2 is out of range"),
        ((0.2, "random"), "kind 'random' is unknown"),
    ],
)
def test_bad_values_are_one_line_data_errors(args, message) -> None:
    with pytest.raises(DataError, match=message):
        noisy_labels(LABELS, CLASSES, *args)


# ---------------------------------------------------------------------- through the loader


def _bundle_labels(dataset) -> np.ndarray:
    return np.concatenate([labels.numpy() for _, labels in dataset])


def _arrays():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, (1000, 8, 8), dtype=np.uint8)
    y = (np.arange(1000) % 10).astype(np.int32)
    return x, y, x[:200].copy(), y[:200].copy()


@pytest.mark.parametrize("validation", [True, False])
def test_loader_noises_train_and_validation_never_test(validation: bool) -> None:
    from keras_taylorglo.data import SPLIT_SEED, from_arrays

    x, y, x_test, y_test = _arrays()
    noise = SimpleNamespace(rate=0.4, kind="symmetric", validation=validation)
    bundle = from_arrays(
        x, y, x_test, y_test, validation_size=200, batch_size=50, label_noise=noise
    )
    clean = from_arrays(x, y, x_test, y_test, validation_size=200, batch_size=50)
    assert clean.label_noise is None
    np.testing.assert_array_equal(_bundle_labels(bundle.test), y_test)  # the truth, untouched
    noisy_all = noisy_labels(y, 10, 0.4)
    order = np.random.default_rng(SPLIT_SEED).permutation(len(y))
    val_idx = np.sort(order[:200])
    expected_val = (noisy_all if validation else y)[val_idx]
    np.testing.assert_array_equal(_bundle_labels(bundle.validation), expected_val)
    facts = bundle.label_noise
    assert facts["rate"] == 0.4 and facts["kind"] == "symmetric"
    assert facts["validation"] is validation
    train_idx = np.sort(order[200:])
    assert facts["realised_train"] == pytest.approx(np.mean(noisy_all[train_idx] != y[train_idx]))
    if validation:
        assert facts["realised_validation"] == pytest.approx(np.mean(expected_val != y[val_idx]))
    else:
        assert facts["realised_validation"] is None


def test_loader_noise_follows_the_example_across_train_fractions() -> None:
    from keras_taylorglo.data import from_arrays

    x, y, x_test, y_test = _arrays()
    noise = SimpleNamespace(rate=0.3, kind="pairflip", validation=True)
    # the images identify examples: a smaller fraction keeps a subset, with the same labels
    x = np.arange(1000, dtype=np.float32).reshape(1000, 1, 1).repeat(8, 1).repeat(8, 2)
    labels = {}
    for fraction in (1.0, 0.5):
        bundle = from_arrays(
            x,
            y,
            x[:200],
            y_test,
            validation_size=200,
            batch_size=10,
            train_fraction=fraction,
            label_noise=noise,
        )
        images, ys = [], []
        for batch_x, batch_y in bundle.train.take(bundle.steps_per_epoch):
            images.append(batch_x.numpy()[:, 0, 0, 0])
            ys.append(batch_y.numpy())
        ids = np.round(np.concatenate(images) * bundle.std[0] + bundle.mean[0]).astype(int)
        labels[fraction] = dict(zip(ids.tolist(), np.concatenate(ys).tolist(), strict=True))
    small, large = labels[0.5], labels[1.0]
    assert set(small) <= set(large) and len(small) == 400
    assert all(large[i] == label for i, label in small.items())


def test_a_function_returning_a_bundle_cannot_take_noise(tmp_path: Path) -> None:
    from keras_taylorglo.data import load_dataset

    (tmp_path / "bundle_data.py").write_text(
        "import numpy as np\n"
        "from keras_taylorglo.data import from_arrays\n"
        "def make():\n"
        "    x = np.zeros((100, 4, 4), np.uint8); y = np.arange(100) % 2\n"
        "    return from_arrays(x, y, x, y, validation_size=10, batch_size=10)\n"
    )
    config = SimpleNamespace(
        dataset="bundle_data:make",
        data_dir="",
        train_fraction=1.0,
        validation_size=10,
        batch_size=10,
        augment=None,
        label_noise=SimpleNamespace(rate=0.2, kind="symmetric", validation=True),
    )
    with pytest.raises(DataError, match="returned a DataBundle, to which data.label_noise"):
        load_dataset(config, tmp_path, seed=0)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            "data.label_noise.rate=1.2",
            "data.label_noise.rate: out of range (got 1.2; expected a number in [0, 1))",
        ),
        (
            'data.label_noise.kind="random"',
            'data.label_noise.kind: unknown value (got "random"; expected one of "symmetric", '
            '"pairflip")',
        ),
        ("data.label_noise.validation=1", "data.label_noise.validation: must be a boolean"),
    ],
)
def test_bad_recipe_values_are_one_line_exit_2(override: str, message: str) -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "keras_taylorglo",
            "validate",
            str(ROOT / "recipes/digits.toml"),
            "--set",
            override,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert message in out.stderr and out.stderr.count("\n") == 1, out.stderr
