"""Checks of a data set's arrays, one line each: the loader's, the Python API's, the same code.

Every problem names the array and what is wrong with it, e.g.
``data: y_train: label 10 is out of range for num_classes=10 (expected class ids 0..9; 3 labels
are outside 0..9, e.g. 10 at index 17)``. Pure NumPy: importing this module imports no
TensorFlow (the Python API checks arrays in the driver, before any worker starts).

Example:
    >>> import numpy as np
    >>> x, y = np.zeros((4, 8, 8), np.uint8), np.array([0, 1, 2, 5])
    >>> arrays = check_arrays({"x_train": x, "y_train": y}, num_classes=3)
    Traceback (most recent call last):
    ...
    keras_taylorglo.errors.DataError: data: y_train: label 5 is out of range for num_classes=3 (expected class ids 0..2): 1 labels outside [0, 3), e.g. 5 at index 3
"""  # noqa: E501

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import DataError

__all__ = [
    "SPLITS",
    "absent_class_warnings",
    "check_arrays",
    "check_images",
    "check_labels",
    "check_num_classes",
    "check_pair",
    "check_split_sizes",
    "check_splits",
    "label_range",
]

SPLITS: tuple[str, ...] = ("train", "val", "test")
"""The splits, in the order they are checked (``x_train``/``y_train`` first)."""


def _name(where: str, array: str) -> str:
    return f"{where}: {array}" if array else where


def check_images(x: Any, where: str = "data", name: str = "x") -> np.ndarray:
    """Refuse what cannot be a batch of images: ragged lists, flat vectors, text, NaN or Inf.

    Args:
        x: The images, ``(n, height, width)`` or ``(n, height, width, channels)``.
        where: The first word of a message (``data``, or the API's argument).
        name: The array's name in messages (``x_train``; ``x`` for the API).

    Returns:
        ``x`` as an array (not copied when it is one).

    Raises:
        DataError: One line naming the array and the problem.
    """
    label = _name(where, name)
    if not isinstance(x, np.ndarray):
        try:
            x = np.asarray(x)
        except ValueError:  # NumPy >= 1.24 refuses ragged nested lists
            x = np.asarray(list(x), dtype=object)
    if x.dtype == object and x.ndim >= 1:
        shapes = [np.shape(item) for item in x]
        first = shapes[0] if shapes else ()
        other = next((i for i, s in enumerate(shapes) if s != first), None)
        if other is not None:
            raise DataError(
                f"{label}: the images differ in shape ({first} at index 0, {shapes[other]} at "
                f"index {other}; expected one (height, width[, channels]) for all)"
            )
    if x.ndim not in (3, 4):
        hint = "; flat vectors: reshape them" if x.ndim == 2 else ""
        raise DataError(
            f"{label} has shape {x.shape} (expected images (n, height, width) or "
            f"(n, height, width, channels){hint})"
        )
    if not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
        raise DataError(f"{label} has dtype {x.dtype} (expected numbers)")
    if np.issubdtype(x.dtype, np.inexact):
        bad = _first_nonfinite(x)
        if bad is not None:
            count, index, value = bad
            raise DataError(
                f"{label}: {count} pixels are NaN or infinite (e.g. {value} in image {index}; "
                "expected finite numbers)"
            )
    return x


def _first_nonfinite(x: np.ndarray, chunk: int = 4096) -> tuple[int, int, float] | None:
    """(count, first image, its value) of non-finite pixels; in chunks, no full-size mask."""
    count, first = 0, None
    for start in range(0, len(x), chunk):
        finite = np.isfinite(x[start : start + chunk])
        if not finite.all():
            per_image = (~finite).reshape(len(finite), -1).sum(axis=1)
            count += int(per_image.sum())
            if first is None:
                i = int(np.flatnonzero(per_image)[0])
                value = x[start + i][~finite[i]].flat[0]
                first = (start + i, float(value))
    return None if first is None else (count, *first)


def check_labels(y: Any, where: str = "data", name: str = "y") -> np.ndarray:
    """Refuse labels that are not integer class ids of shape ``(n,)`` (``(n, 1)`` is flattened).

    Args:
        y: The labels.
        where: The first word of a message.
        name: The array's name in messages (``y_train``; ``y`` for the API).

    Returns:
        The labels as ``int64`` of shape ``(n,)``.

    Raises:
        DataError: One line naming the array and the problem.
    """
    label = _name(where, name)
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y.reshape(-1)
    if y.ndim == 2:
        raise DataError(
            f"{label} has shape {y.shape}: one-hot labels? (expected integer class ids of "
            "shape (n,), e.g. y.argmax(axis=1))"
        )
    if y.ndim != 1:
        raise DataError(f"{label} has shape {y.shape} (expected integer class ids of shape (n,))")
    if np.issubdtype(y.dtype, np.integer) or y.dtype == bool:
        return y.astype(np.int64)
    if np.issubdtype(y.dtype, np.floating) and np.all(np.isfinite(y)) and np.all(y % 1 == 0):
        return y.astype(np.int64)
    example = next((v for v in y.ravel()[:1000] if not _integral(v)), y.ravel()[0] if len(y) else 0)
    example = example.item() if isinstance(example, np.generic) else example
    raise DataError(
        f"{label} has dtype {y.dtype}, e.g. {example!r} (expected integer class ids "
        "0..num_classes-1; map other labels with np.unique(y, return_inverse=True))"
    )


def _integral(value: Any) -> bool:
    try:
        return float(value) % 1 == 0
    except (TypeError, ValueError):
        return False


def check_pair(
    x: Any, y: Any, where: str = "data", names: tuple[str, str] = ("x", "y"), split: str = ""
) -> tuple[np.ndarray, np.ndarray]:
    """One split: images, labels, one label per image, not empty.

    Args:
        x: The images.
        y: The labels.
        where: The first word of a message.
        names: The two arrays' names in messages.
        split: The split's name for an empty one (``train``, ``val``, ``test``).

    Returns:
        ``(x, y)`` checked, ``y`` as ``int64``.

    Raises:
        DataError: One line naming the array and the problem.
    """
    x, y = check_images(x, where, names[0]), check_labels(y, where, names[1])
    if len(x) != len(y):
        raise DataError(
            f"{where}: {names[0]} has {len(x)} examples but {names[1]} has {len(y)} "
            f"(expected one label per image); {names[1]} has shape {y.shape}"
        )
    if len(x) == 0:
        what = f"the {split} split" if split else names[0]
        raise DataError(f"{where}: {what} is empty ({names[0]} has no examples)")
    return x, y


def label_range(
    y: np.ndarray, num_classes: int | None, where: str = "data", name: str = "y"
) -> None:
    """Labels must be ``0..num_classes-1`` (``num_classes`` unknown: at least not negative).

    Args:
        y: Integer labels (from :func:`check_labels`).
        num_classes: The class count, or ``None`` when it is ``max(label) + 1``.
        where: The first word of a message.
        name: The array's name in messages (empty: ``where`` says it).

    Raises:
        DataError: One line with the first offending label, its index and how many there are.
    """
    prefix = f"{_name(where, name)}:"
    negative = np.flatnonzero(y < 0)
    if num_classes is None and len(negative):
        i = int(negative[0])
        raise DataError(
            f"{prefix} negative label {int(y[i])} (expected class ids 0..num_classes-1; map your "
            f"labels with np.unique(y, return_inverse=True)): {len(negative)} negative, the "
            f"first at index {i}"
        )
    if num_classes is None:
        return
    outside = np.flatnonzero((y < 0) | (y >= num_classes))
    if len(outside):
        i = int(outside[0])
        worst = int(y[outside].max()) if (y >= num_classes).any() else int(y[i])
        top = num_classes - 1
        raise DataError(
            f"{prefix} label {worst} is out of range for num_classes={num_classes} (expected "
            f"class ids 0..{top}): {len(outside)} labels outside [0, {num_classes}), e.g. "
            f"{int(y[i])} at index {i}"
        )


def check_num_classes(num_classes: Any, where: str = "num_classes") -> int | None:
    """``num_classes`` is ``None`` or an integer >= 2.

    Args:
        num_classes: The value given.
        where: Its name in messages.

    Returns:
        It, as an ``int`` (or ``None``).

    Raises:
        DataError: Not an integer >= 2.
    """
    if num_classes is None:
        return None
    if isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral):
        raise DataError(f"{where}: expected an integer >= 2 (got {num_classes!r})")
    if num_classes < 2:
        raise DataError(f"{where}: expected an integer >= 2 (got {num_classes})")
    return int(num_classes)


def check_arrays(
    arrays: Mapping[str, Any],
    num_classes: int | None = None,
    where: str = "data",
    names: Mapping[str, str] | None = None,
) -> dict[str, np.ndarray]:
    """Every split of a data set: each pair, one image shape for all, labels, two classes or more.

    Args:
        arrays: ``x_train``, ``y_train`` and any of ``x_val``/``y_val``, ``x_test``/``y_test``.
        num_classes: The class count, or ``None`` for ``max(label) + 1``.
        where: The first word of messages (``data``).
        names: How messages name each split's arrays: ``{"train": "data", ...}`` names the
            split (the API's arguments, then ``x``/``y``); default ``x_train``, ``y_train``, ….

    Returns:
        The checked arrays under the same keys (labels as ``int64``; images with no copy).

    Raises:
        DataError: One line naming the array and the problem.
    """
    num_classes = check_num_classes(num_classes)
    checked: dict[str, np.ndarray] = {}
    shapes: dict[str, tuple[int, ...]] = {}
    for split in SPLITS:
        if f"x_{split}" not in arrays and f"y_{split}" not in arrays:
            continue
        if f"x_{split}" not in arrays or f"y_{split}" not in arrays:
            raise DataError(f"{where}: give both x_{split} and y_{split}, or neither")
        here, pair = _names(split, where, names)
        x, y = check_pair(arrays[f"x_{split}"], arrays[f"y_{split}"], here, pair, split)
        shapes[here if names else pair[0]] = (
            tuple(x.shape[1:]) if x.ndim == 4 else (*x.shape[1:], 1)
        )
        checked[f"x_{split}"], checked[f"y_{split}"] = x, y
    if "x_train" not in checked:
        raise DataError(f"{where}: no training arrays (expected x_train and y_train)")
    if len(set(shapes.values())) > 1:
        shown = ", ".join(f"{k} {v}" for k, v in shapes.items())
        raise DataError(f"{where}: the images differ in shape ({shown}; expected one shape)")
    for split in SPLITS:
        if f"y_{split}" in checked:
            # The API's messages say "data: ..." for every split, as its arguments are checked.
            name = "" if names else f"y_{split}"
            label_range(checked[f"y_{split}"], num_classes, where, name)
    seen = np.unique(checked["y_train"])
    if len(seen) < 2 and (num_classes is None or len(seen) < num_classes):
        train = _names("train", where, names)
        shown = f"{train[0]}: {train[1][1]}" if names else f"{where}: y_train"
        raise DataError(
            f"{shown}: every label is {int(seen[0])} (expected at least 2 classes; a one-class "
            "data set gives nothing to learn)"
        )
    return checked


def check_split_sizes(
    name: str,
    num_train: int,
    validation_size: int | None,
    train_fraction: float,
    batch_size: int,
    where: str = "",
) -> int:
    """Whether the splits a recipe asks for fit a training split of ``num_train`` examples.

    The loader's own size checks, in the order it splits: the validation set out of the training
    split, then ``train_fraction`` of the rest, which must fill one batch. Pure arithmetic, so
    the driver can say it before any worker starts when it knows the size (the embedded sets).

    Args:
        name: The data set, as messages name it.
        num_train: Examples in the training split as given.
        validation_size: Examples held out of it for validation; ``None`` when the data gives
            its own validation split.
        train_fraction: Fraction of the rest used for training, in (0, 1].
        batch_size: Training batch size.
        where: The start of messages; default ``data set NAME``.

    Returns:
        The number of training examples kept.

    Raises:
        DataError: One line: what does not fit, and what would.

    Example:
        >>> check_split_sizes("digits", 1497, 300, 0.5, 32)
        598
    """
    where = where or f"data set {name}"
    if validation_size is not None:
        validation_size = int(validation_size)
        if not 1 <= validation_size < num_train:
            raise DataError(
                f"{where}: validation_size {validation_size} does not fit a training "
                f"split of {num_train} examples (expected 1..{num_train - 1})"
            )
        num_train -= validation_size
    if not 0.0 < float(train_fraction) <= 1.0:
        raise DataError(
            f"{where}: train_fraction {train_fraction} is out of range (expected (0, 1])"
        )
    keep = max(1, int(round(float(train_fraction) * num_train)))
    if keep // int(batch_size) < 1:
        raise DataError(
            f"{where}: {keep} training examples do not fill one batch of "
            f"{int(batch_size)} (raise train_fraction or lower batch_size)"
        )
    return keep


def _names(split: str, where: str, names: Mapping[str, str] | None) -> tuple[str, tuple[str, str]]:
    if names:
        return names.get(split, where), ("x", "y")
    return where, (f"x_{split}", f"y_{split}")


def check_splits(name: str, num_classes: int, *splits: tuple[np.ndarray, np.ndarray]) -> None:
    """Checks that train, validation and test share one image shape and hold valid labels.

    Args:
        name: The data set's name, for the message.
        num_classes: The class count; labels must be in ``[0, num_classes)``.
        *splits: ``(images, labels)`` of train, validation and test, in that order.

    Raises:
        DataError: Images of different shapes, or a label out of range (one line).
    """
    shapes = {x.shape[1:] for x, _ in splits}
    if len(shapes) != 1:
        raise DataError(
            f"data set {name}: train, validation and test images differ in shape "
            f"({sorted(shapes)}; expected one (height, width, channels))"
        )
    for split, (_, labels) in zip(("train", "validation", "test"), splits, strict=True):
        if labels.min() < 0 or labels.max() >= num_classes:
            raise DataError(
                f"data set {name}: {split} labels outside [0, {num_classes}) "
                f"(got {int(labels.min())}..{int(labels.max())}; expected integer class ids)"
            )


def absent_class_warnings(name: str, num_classes: int, labels: np.ndarray) -> tuple[str, ...]:
    """A warning when a class has no training label (labels numbered from 1, say).

    Args:
        name: The data set's name, for the message.
        num_classes: The class count.
        labels: The true training labels.

    Returns:
        One warning line, or none.
    """
    absent = sorted(set(range(num_classes)) - set(np.unique(labels).tolist()))
    if not absent:
        return ()
    shown = ", ".join(map(str, absent[:5])) + (", …" if len(absent) > 5 else "")
    return (
        f"data set {name}: no training label is {shown} (classes are 0..{num_classes - 1}"
        "; labels numbered from 1? num_classes is max(label) + 1 unless the data gives it)",
    )
