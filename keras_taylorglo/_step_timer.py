"""A Keras callback that measures the time spent inside train and validation steps."""

from __future__ import annotations

import time
from typing import Any

import keras


class StepTimer(keras.callbacks.Callback):
    """Accumulates wall time inside train batches and validation runs.

    The evaluator's overhead (weight re-initialisation, callbacks, Python between steps) is the
    rest of an evaluation's wall time; the benchmark reports it as a fraction.

    Attributes:
        seconds: Seconds spent inside train steps and validation passes so far.
    """

    def __init__(self) -> None:
        super().__init__()
        self.seconds = 0.0
        self._t0 = 0.0

    def _begin(self, *_: Any, **__: Any) -> None:
        self._t0 = time.perf_counter()

    def _end(self, *_: Any, **__: Any) -> None:
        self.seconds += time.perf_counter() - self._t0

    on_train_batch_begin = _begin
    on_train_batch_end = _end
    on_test_begin = _begin
    on_test_end = _end
