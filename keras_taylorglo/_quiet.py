"""Import TensorFlow without its C++ start-up chatter on the terminal.

TensorFlow 2.21 logs through absl before absl is initialised, so ``TF_CPP_MIN_LOG_LEVEL`` does
not silence the oneDNN / CUDA-stub / cuInit lines it prints at import and at device
initialisation. They are harmless and repeat in every worker, burying the search's progress.
Only those two moments run with file descriptor 2 pointed at /dev/null; Python exceptions are
raised after it is restored, so a real import failure is still reported. Set
``TF_CPP_MIN_LOG_LEVEL`` to 0 to see everything.

Level 1 ("no INFO") is silenced too: JAX sets it for the whole process when it is imported
(Keras imports JAX wherever it is installed), so a Python search's workers inherited it and
printed the very INFO lines that level 1 asks TensorFlow to hide.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any


@contextlib.contextmanager
def _stderr_silenced() -> Iterator[None]:
    if os.environ.get("TF_CPP_MIN_LOG_LEVEL", "3") == "0":
        yield
        return
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # no real stderr (pytest capture, notebooks)
        yield
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
        yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)
        os.close(devnull)


def import_tensorflow(configure: Callable[[Any], None] | None = None) -> Any:
    """Import TensorFlow (and initialise its devices) quietly.

    Args:
        configure: Called with the ``tensorflow`` module before the devices are initialised,
            e.g. to set thread counts, which cannot change afterwards.

    Returns:
        The ``tensorflow`` module.
    """
    if "tensorflow" in sys.modules and configure is None:
        return sys.modules["tensorflow"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with _stderr_silenced():
        import tensorflow as tf

        if configure is not None:
            configure(tf)
        tf.config.list_logical_devices()  # cuInit and friends log here
    return tf
