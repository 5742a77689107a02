"""Load a data set for a recipe: TFDS or your own function, fixed splits, normalisation, pipelines.

:func:`load_dataset` is the one entry point the evaluator uses. It turns a recipe's ``[data]``
section into a :class:`DataBundle` of three ``tf.data`` pipelines plus the facts a model needs
(input shape, class count, steps per epoch).

Splits. The validation set is held out of the training split with a fixed permutation
(:data:`SPLIT_SEED`, not the run's seed), so every candidate, search and resumed run scores on
the same examples: :data:`PAPER_VALIDATION_SIZES` for the paper's data sets, else
``validation_size``. ``train_fraction`` then keeps a fixed prefix of the rest.

Label noise (``data.label_noise``, :mod:`keras_taylorglo.data.noise`) replaces a fraction of
the training labels, and of the validation labels unless ``validation = false``, by index and a
fixed seed (so nested across rates); never the test labels. :attr:`DataBundle.label_noise` holds
the realised rates.

Normalisation. Images are standardised per channel with the mean and standard deviation of the
training examples actually used (after the validation split and ``train_fraction``).

Pipelines. Images stay in memory as stored (``uint8``) and become ``float32`` on the fly.

- ``train`` is infinite: each epoch is a permutation drawn with a *stateless* shuffle seeded by
  ``(seed, epoch)``, and each example's augmentation is seeded by ``(seed, position)``. A fresh
  iterator over the same bundle therefore yields exactly the same batches, which
  ``Dataset.shuffle`` does not guarantee (its seed state is shared between iterators). Batches
  are ``batch_size`` with ``drop_remainder=True``; ``steps_per_epoch = num_train // batch_size``.
- ``validation`` and ``test`` are batched with ``batch_size`` and keep the partial last batch, so
  accuracy is measured on every example. The partial batch costs one extra trace of the
  evaluation step, once per process: the evaluation function stays traced across candidates.

Your own data: ``dataset = "module:function"`` returns a :class:`DataBundle` or a dict of arrays
(``x_train``, ``y_train``, ``x_test``, ``y_test``, optional ``x_val``, ``y_val``,
``num_classes``): see :func:`from_arrays`. TFDS data sets: :mod:`keras_taylorglo.data.tfds`.

Example:
    >>> from pathlib import Path
    >>> from types import SimpleNamespace
    >>> augment = SimpleNamespace(flip=False, crop_padding=0, cutout=0)
    >>> config = SimpleNamespace(dataset="digits", data_dir="/tmp/tfds", train_fraction=1.0,
    ...                          validation_size=300, batch_size=32, augment=augment)
    >>> bundle = load_dataset(config, Path("."), seed=0)
    >>> bundle.num_train, bundle.num_validation, bundle.num_test, bundle.input_shape
    (1197, 300, 300, (8, 8, 1))
"""

from __future__ import annotations

import inspect
import keyword
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from ..errors import DataError
from .augment import make_augment_fn
from .checks import absent_class_warnings, check_arrays, check_split_sizes, check_splits
from .names import DATASET_ALIASES, base_name
from .noise import NoiseSettings, noisy_labels
from .tfds import load_tfds_arrays, prepare_tfds_builder

__all__ = [
    "DATASET_ALIASES",
    "PAPER_VALIDATION_SIZES",
    "SPLIT_SEED",
    "DataBundle",
    "from_arrays",
    "load_dataset",
    "load_tfds_arrays",
    "prepare_tfds_builder",
]

PAPER_VALIDATION_SIZES: dict[str, int] = {"mnist": 5000, "cifar10": 5000, "svhn_cropped": 26032}
"""Validation examples held out of the training split for the paper's data sets (Table 1):
MNIST 55k/5k/10k, CIFAR-10 45k/5k/10k, SVHN 47,225/26,032/26,032. They override
``data.validation_size``."""


SPLIT_SEED = 0
"""Seed of the permutation that picks the validation examples: fixed, never the run's seed."""


@dataclass
class DataBundle:
    """Everything the evaluator needs from a data set, built once.

    Attributes:
        train: Infinite ``tf.data.Dataset`` of ``(images, labels)`` batches of ``batch_size``
            (shuffled per epoch, augmented, ``drop_remainder``, prefetched); deterministic given
            the seed, and every new iterator starts the same stream.
        validation: Finite dataset of batches (last batch may be partial).
        test: Finite dataset of batches (last batch may be partial).
        input_shape: ``(height, width, channels)``.
        num_classes: Number of classes; labels are integer ids in ``[0, num_classes)``.
        num_train: Training examples used.
        num_validation: Validation examples.
        num_test: Test examples.
        steps_per_epoch: ``num_train // batch_size``.
        name: The data set as the recipe names it.
        mean: Per-channel mean subtracted (in stored pixel units).
        std: Per-channel standard deviation divided by.
        label_noise: ``None`` without label noise, else ``{"rate", "kind", "validation",
            "realised_train", "realised_validation"}``: the fractions of the training examples
            used and of the validation examples whose label was replaced
            (``realised_validation`` is ``None`` for a clean validation set).
        warnings: What looked wrong but does not stop training, one line each (a class id in
            ``0..num_classes-1`` that no training label has: labels numbered from 1, say).

    Example:
        >>> images, labels = next(iter(bundle.train))  # doctest: +SKIP
        >>> images.shape  # doctest: +SKIP
        TensorShape([32, 8, 8, 1])
    """

    train: tf.data.Dataset
    validation: tf.data.Dataset
    test: tf.data.Dataset
    input_shape: tuple[int, ...]
    num_classes: int
    num_train: int
    num_validation: int
    num_test: int
    steps_per_epoch: int
    name: str
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()
    label_noise: dict[str, Any] | None = None
    warnings: tuple[str, ...] = ()


# ------------------------------------------------------------------------------------ entry point


def load_dataset(data: Any, base_dir: Path, seed: int, source: str = "<recipe>") -> DataBundle:
    """Build the :class:`DataBundle` a recipe's ``[data]`` section describes.

    Args:
        data: The recipe's ``DataConfig`` or any object with ``dataset``, ``data_dir``,
            ``train_fraction``, ``validation_size``, ``batch_size`` and ``augment`` (with
            ``flip``, ``crop_padding``, ``cutout``).
        base_dir: The recipe's directory: relative ``data_dir`` and ``module:function`` names
            resolve against it.
        seed: Seed of the training order and augmentation (the split does not depend on it).
        source: The recipe file, named in errors about a ``module:function``.

    Returns:
        The bundle.

    Raises:
        DataError: Unknown data set, not prepared and not downloadable, unsuitable features,
            or split sizes that do not fit.

    Example:
        >>> bundle = load_dataset(config, Path("."), seed=0)  # doctest: +SKIP
        >>> bundle.steps_per_epoch  # doctest: +SKIP
        37
    """
    name = str(data.dataset)
    base_dir = Path(base_dir)
    if _is_callable_spec(name):
        return _load_from_function(data, name, base_dir, seed, source)
    tfds_name = DATASET_ALIASES.get(name, name)
    data_dir = _resolve_data_dir(getattr(data, "data_dir", ""), base_dir)
    x_train, y_train, x_test, y_test, num_classes = load_tfds_arrays(tfds_name, data_dir)
    validation_size = PAPER_VALIDATION_SIZES.get(base_name(tfds_name), int(data.validation_size))
    return from_arrays(
        x_train,
        y_train,
        x_test,
        y_test,
        validation_size=validation_size,
        train_fraction=float(data.train_fraction),
        batch_size=int(data.batch_size),
        augment=getattr(data, "augment", None),
        seed=seed,
        name=name,
        num_classes=num_classes,
        label_noise=getattr(data, "label_noise", None),
    )


# --------------------------------------------------------------------------------------- arrays


def from_arrays(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    *,
    x_val: np.ndarray | None = None,
    y_val: np.ndarray | None = None,
    validation_size: int = 300,
    train_fraction: float = 1.0,
    batch_size: int = 32,
    augment: Any = None,
    seed: int = 0,
    name: str = "arrays",
    num_classes: int | None = None,
    label_noise: Any = None,
) -> DataBundle:
    """Split, normalise and wrap in-memory arrays into a :class:`DataBundle`.

    Args:
        x_train: Training images ``(n, h, w)`` or ``(n, h, w, c)``, any numeric dtype.
        y_train: Integer labels ``(n,)``.
        x_test: Test images.
        y_test: Test labels.
        x_val: Validation images; when omitted ``validation_size`` training examples (chosen
            with the fixed :data:`SPLIT_SEED`) become the validation set.
        y_val: Validation labels (with ``x_val``).
        validation_size: Examples to hold out when ``x_val`` is not given.
        train_fraction: Fraction in (0, 1] of the remaining training examples to keep.
        batch_size: Batch size of all three pipelines.
        augment: Augmentation config (``flip``, ``crop_padding``, ``cutout``) or ``None``.
        seed: Seed of the training order and augmentation.
        name: Name recorded in the bundle.
        num_classes: Class count; default ``max(label) + 1`` over all splits.
        label_noise: ``data.label_noise`` (``rate``, ``kind``, ``validation``) or ``None``;
            see the module docstring.

    Returns:
        The bundle.

    Raises:
        DataError: Inconsistent shapes, bad labels, or sizes that leave too little to train on.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> x, y = rng.integers(0, 255, (100, 8, 8), dtype=np.uint8), np.arange(100) % 10
        >>> bundle = from_arrays(x, y, x[:20], y[:20], validation_size=20, batch_size=16)
        >>> bundle.num_train, bundle.steps_per_epoch, bundle.input_shape
        (80, 5, (8, 8, 1))
    """
    # The same checks as the Python API's, one line naming the array: before any splitting.
    x_train, y_train, x_test, y_test, x_val, y_val = _checked_arrays(
        x_train, y_train, x_test, y_test, x_val, y_val, num_classes=num_classes
    )
    # Before any array is split: the sizes asked for must fit (the driver runs the same check).
    held_out = None if x_val is not None else validation_size
    check_split_sizes(name, len(x_train), held_out, train_fraction, batch_size)
    if num_classes is None:
        given_labels = [y for y in (y_train, y_val, y_test) if y is not None]
        num_classes = int(max(int(y.max()) for y in given_labels)) + 1
    noise = NoiseSettings.of(label_noise)
    true_train, true_val = y_train, y_val
    if noise.rate > 0:
        y_train = noisy_labels(y_train, int(num_classes), noise.rate, noise.kind, stream="train")
        if y_val is not None and noise.validation:
            y_val = noisy_labels(y_val, int(num_classes), noise.rate, noise.kind, stream="val")
    if x_val is None:
        x_val, y_val, true_val, train_idx = _hold_out(
            x_train, y_train, true_train, int(validation_size), noise.validation
        )
    else:
        train_idx = np.arange(len(x_train))
    keep = max(1, int(round(float(train_fraction) * len(train_idx))))
    # A prefix of the fixed permutation: a smaller fraction is a subset of a larger one.
    train_idx = np.sort(train_idx[:keep])
    x_train, y_train = x_train[train_idx], y_train[train_idx]
    true_train = true_train[train_idx]
    check_splits(name, int(num_classes), (x_train, y_train), (x_val, y_val), (x_test, y_test))
    batch_size = int(batch_size)
    mean, std = _channel_stats(x_train)
    return DataBundle(
        train=_train_pipeline(x_train, y_train, mean, std, batch_size, augment, seed),
        validation=_eval_pipeline(x_val, y_val, mean, std, batch_size),
        test=_eval_pipeline(x_test, y_test, mean, std, batch_size),
        input_shape=tuple(int(d) for d in x_train.shape[1:]),
        num_classes=int(num_classes),
        num_train=len(x_train),
        num_validation=len(x_val),
        num_test=len(x_test),
        steps_per_epoch=len(x_train) // batch_size,  # >= 1: check_split_sizes above
        name=name,
        mean=tuple(float(m) for m in mean),
        std=tuple(float(s) for s in std),
        warnings=absent_class_warnings(name, int(num_classes), true_train),
        label_noise=noise.realised(y_train, true_train, y_val, true_val),
    )


def _checked_arrays(*arrays: np.ndarray | None, num_classes: int | None) -> list[Any]:
    """``x_train, y_train, x_test, y_test, x_val, y_val`` checked; images get a channel axis."""
    names = ("x_train", "y_train", "x_test", "y_test", "x_val", "y_val")
    given = {n: a for n, a in zip(names, arrays, strict=True) if a is not None}
    checked = check_arrays(given, num_classes)
    return [
        None
        if n not in checked
        else _with_channel(checked[n])
        if n.startswith("x")
        else checked[n].astype(np.int32)
        for n in names
    ]


def _hold_out(
    x_train: np.ndarray, y_train: np.ndarray, true_train: np.ndarray, size: int, noisy: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Holds out validation images, labels and true labels (fixed :data:`SPLIT_SEED`).

    Returns the three, and the training indices left in the permutation's order.
    """
    order = np.random.default_rng(SPLIT_SEED).permutation(len(x_train))
    val_idx, train_idx = np.sort(order[:size]), order[size:]
    # Held-out examples carry the noisy label unless a clean validation set is asked for.
    y_val = (y_train if noisy else true_train)[val_idx]
    return x_train[val_idx], y_val, true_train[val_idx], train_idx


def _with_channel(x: np.ndarray) -> np.ndarray:
    return x[..., None] if x.ndim == 3 else x  # grey images without a channel axis


def _channel_stats(x: np.ndarray, chunk: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std in float64, in chunks (no full float copy of the images)."""
    channels = x.shape[-1]
    total = np.zeros(channels)
    squares = np.zeros(channels)
    for start in range(0, len(x), chunk):
        part = x[start : start + chunk].astype(np.float64).reshape(-1, channels)
        total += part.sum(axis=0)
        squares += np.square(part).sum(axis=0)
    count = x.size // channels
    mean = total / count
    std = np.sqrt(np.maximum(squares / count - mean**2, 0.0))
    std[std < 1e-8] = 1.0  # a constant channel: nothing to scale
    return mean.astype(np.float32), std.astype(np.float32)


# ------------------------------------------------------------------------------------ pipelines


def _seed_keys(seed: int) -> tuple[int, int]:
    """Two independent 32-bit keys (shuffle, augmentation) from the run's seed."""
    state = np.random.SeedSequence([int(seed) & 0xFFFFFFFF, 0xDA7A]).generate_state(2)
    return int(state[0]), int(state[1])


def _train_pipeline(
    x: np.ndarray,
    y: np.ndarray,
    mean: np.ndarray,
    std: np.ndarray,
    batch_size: int,
    augment: Any,
    seed: int,
) -> tf.data.Dataset:
    count = len(x)
    images, labels = tf.constant(x), tf.constant(y)
    mean_t, std_t = tf.constant(mean), tf.constant(std)
    shuffle_key, augment_key = _seed_keys(seed)
    augment_fn = make_augment_fn(augment)

    def epoch_order(epoch: tf.Tensor) -> tf.data.Dataset:
        # Stateless: the permutation of epoch e depends only on (seed, e), never on how many
        # iterators came before (Dataset.shuffle's seed state is shared between iterators).
        seed_pair = tf.stack([tf.constant(shuffle_key, tf.int64), epoch])
        permutation = tf.random.experimental.stateless_shuffle(
            tf.range(count, dtype=tf.int64), seed=seed_pair
        )
        return tf.data.Dataset.from_tensor_slices(permutation)

    def example(position: tf.Tensor, index: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        image = (tf.cast(tf.gather(images, index), tf.float32) - mean_t) / std_t
        if augment_fn is not None:
            image = augment_fn(image, tf.stack([tf.constant(augment_key, tf.int64), position]))
        return image, tf.gather(labels, index)

    dataset = tf.data.Dataset.counter().flat_map(epoch_order).enumerate()
    dataset = dataset.map(example, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return dataset.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def _eval_pipeline(
    x: np.ndarray, y: np.ndarray, mean: np.ndarray, std: np.ndarray, batch_size: int
) -> tf.data.Dataset:
    mean_t, std_t = tf.constant(mean), tf.constant(std)

    def normalise(images: tf.Tensor, labels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        return (tf.cast(images, tf.float32) - mean_t) / std_t, labels

    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size)
    # The stored images are already in memory; caching the float copy would double it.
    dataset = dataset.map(normalise, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return dataset.prefetch(tf.data.AUTOTUNE)


def _resolve_data_dir(data_dir: Any, base_dir: Path) -> str | None:
    if data_dir is None or str(data_dir) == "":
        return None  # TFDS's default (honours TFDS_DATA_DIR)
    path = Path(os.path.expanduser(str(data_dir)))
    return str(path if path.is_absolute() else base_dir / path)


# ------------------------------------------------------------------------------ module:function


def _is_callable_spec(name: str) -> bool:
    """``"pkg.mod:make_data"`` is a function; ``"mnist:3.0.1"`` is a TFDS name and version."""
    if ":" not in name:
        return False
    function = name.rsplit(":", 1)[1]
    return function.isidentifier() and not keyword.iskeyword(function)


def _load_from_function(data: Any, spec: str, base_dir: Path, seed: int, source: str) -> DataBundle:
    from ..plugins import resolve_callable

    function = resolve_callable(spec, base_dir, "data.dataset", source)
    try:
        takes_seed = len(inspect.signature(function).parameters) > 0
    except (TypeError, ValueError):  # builtins without a signature
        takes_seed = True
    result = function(seed) if takes_seed else function()
    if isinstance(result, DataBundle):
        noise = getattr(data, "label_noise", None)
        if noise is not None and float(getattr(noise, "rate", 0.0)) > 0:
            raise DataError(
                f"data set {spec} returned a DataBundle, to which data.label_noise cannot be "
                "applied (return a dict of arrays instead, or set data.label_noise.rate = 0)"
            )
        return result
    if not isinstance(result, Mapping):
        raise DataError(
            f"data set {spec} returned {type(result).__name__} (expected a DataBundle or a dict "
            f"with x_train, y_train, x_test, y_test and optionally x_val, y_val, num_classes)"
        )
    required = ("x_train", "y_train", "x_test", "y_test")
    allowed = (*required, "x_val", "y_val", "num_classes")
    missing = [key for key in required if key not in result]
    unknown = [key for key in result if key not in allowed]
    if missing or unknown:
        problem = f"lacks {', '.join(missing)}" if missing else f"has unknown {', '.join(unknown)}"
        raise DataError(f"data set {spec}: the returned dict {problem} (expected keys {allowed})")
    return from_arrays(
        result["x_train"],
        result["y_train"],
        result["x_test"],
        result["y_test"],
        x_val=result.get("x_val"),
        y_val=result.get("y_val"),
        validation_size=int(data.validation_size),
        train_fraction=float(data.train_fraction),
        batch_size=int(data.batch_size),
        augment=getattr(data, "augment", None),
        seed=seed,
        name=spec,
        num_classes=result.get("num_classes"),
        label_noise=getattr(data, "label_noise", None),
    )
