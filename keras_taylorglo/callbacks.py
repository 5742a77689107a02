"""Callbacks that turn a Keras ``fit`` into a TaylorGLO fitness evaluation.

- :class:`PartialTraining` stops ``fit`` after an exact budget of steps or epochs.
- :class:`AbortBelowAccuracy` stops a hopeless run early (the paper's 0.15 at epoch 10 rule).
- :class:`TrainingProgress` feeds the training progress t to losses with a ``"progress"`` input.

Each resets its state in ``on_train_begin``, so one instance serves many ``fit`` calls.

Example:
    >>> from keras_taylorglo.callbacks import AbortBelowAccuracy, PartialTraining
    >>> budget, abort = PartialTraining(steps=2000), AbortBelowAccuracy(0.15, epoch=10)
    >>> model.fit(train, epochs=10**6, steps_per_epoch=100, validation_data=val,
    ...           callbacks=[budget, abort])  # doctest: +SKIP
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import keras

__all__ = ["AbortBelowAccuracy", "PartialTraining", "TrainingProgress", "find_taylorglo_losses"]


class _StepCounter(keras.callbacks.Callback):
    """Counts the train steps of the current ``fit`` (exact with ``steps_per_execution > 1``)."""

    def __init__(self) -> None:
        super().__init__()
        self.steps_done = 0
        self._begin_step = 0

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.steps_done = 0
        self._begin_step = 0

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        # Keras passes the first step index of this execution to *_begin and the last one to
        # *_end; their difference is the number of steps one call ran.
        self._begin_step = batch

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.steps_done += batch - self._begin_step + 1


class PartialTraining(_StepCounter):
    """Stops ``fit`` after exactly ``steps`` train steps or ``epochs`` epochs.

    Give ``fit`` enough epochs (or an infinite dataset and a large ``epochs``) for the budget to
    be reached. Keras checks ``stop_training`` after every train call, so with
    ``steps_per_execution > 1`` use a ``steps`` budget that is a multiple of it. The epoch in which
    the budget is reached still ends normally (validation and ``on_epoch_end`` run).

    Args:
        steps: the number of optimizer steps to train for.
        epochs: the number of epochs to train for.

    Attributes:
        steps_done: train steps run in the current (or last) ``fit``.
        epochs_done: epochs completed in the current (or last) ``fit``.
        budget_reached: whether the last ``fit`` was stopped by this budget.

    Raises:
        ValueError: unless exactly one of ``steps`` and ``epochs`` is a positive integer.

    Example:
        >>> budget = PartialTraining(steps=300)
        >>> model.fit(dataset.repeat(), epochs=1000, steps_per_epoch=50,
        ...           callbacks=[budget])  # doctest: +SKIP
        >>> int(model.optimizer.iterations)  # doctest: +SKIP
        300
    """

    def __init__(self, steps: int | None = None, epochs: int | None = None) -> None:
        super().__init__()
        if (steps is None) == (epochs is None):
            raise ValueError(
                f"give exactly one of steps and epochs; got steps={steps!r}, epochs={epochs!r}"
            )
        for label, value in (("steps", steps), ("epochs", epochs)):
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 1
            ):
                raise ValueError(f"{label} must be a positive integer; got {value!r}")
        self.steps = steps
        self.epochs = epochs
        self.epochs_done = 0
        self.budget_reached = False

    def on_train_begin(self, logs: dict | None = None) -> None:
        """Resets the counters, so one instance serves many ``fit`` calls."""
        super().on_train_begin(logs)
        self.epochs_done = 0
        self.budget_reached = False

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        """Counts the steps just run and stops training once the step budget is spent."""
        super().on_train_batch_end(batch, logs)
        if self.steps is not None and self.steps_done >= self.steps:
            self.budget_reached = True
            self.model.stop_training = True

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        """Counts the epoch and stops training once the epoch budget is spent."""
        self.epochs_done += 1
        if self.epochs is not None and self.epochs_done >= self.epochs:
            self.budget_reached = True
            self.model.stop_training = True


class AbortBelowAccuracy(keras.callbacks.Callback):
    """Stops training when the monitored accuracy is below a threshold at a given epoch.

    The check happens once, at the end of the ``epoch``-th epoch of the ``fit`` call (1-based:
    ``epoch=10`` checks after the tenth epoch). A NaN value counts as below the threshold. A
    missing log key (e.g. no validation data) warns and does not abort.

    Args:
        threshold: the accuracy below which the run is aborted (the paper uses 0.15).
        epoch: the 1-based epoch at whose end the check happens (the paper uses 10).
        monitor: the log key to read, e.g. ``"val_accuracy"``.

    Attributes:
        aborted: whether the last ``fit`` was aborted by this callback.
        value: the monitored value seen at the check (``None`` before it / if missing).

    Raises:
        ValueError: for a non-positive ``epoch`` or a non-finite ``threshold``.

    Example:
        >>> abort = AbortBelowAccuracy(threshold=0.15, epoch=10)
        >>> model.fit(x, y, epochs=20, validation_split=0.1, callbacks=[abort])  # doctest: +SKIP
        >>> abort.aborted  # doctest: +SKIP
        False
    """

    def __init__(
        self, threshold: float = 0.15, epoch: int = 10, monitor: str = "val_accuracy"
    ) -> None:
        super().__init__()
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 1:
            raise ValueError(f"epoch must be a positive integer (1-based); got {epoch!r}")
        if not math.isfinite(float(threshold)):
            raise ValueError(f"threshold must be a finite number; got {threshold!r}")
        self.threshold = float(threshold)
        self.epoch = epoch
        self.monitor = monitor
        self.aborted = False
        self.value: float | None = None
        self._epochs_seen = 0

    def on_train_begin(self, logs: dict | None = None) -> None:
        """Resets ``aborted`` and the epoch count, so one instance serves many ``fit`` calls."""
        self.aborted = False
        self.value = None
        self._epochs_seen = 0

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        """At the end of the ``epoch``-th epoch, aborts if the monitored value is too low."""
        self._epochs_seen += 1
        if self._epochs_seen != self.epoch:
            return
        logs = logs or {}
        if self.monitor not in logs:
            warnings.warn(
                f"AbortBelowAccuracy: {self.monitor!r} is not in the logs at epoch {self.epoch} "
                f"(available: {sorted(logs)}); not checking. Pass validation data or change "
                "monitor.",
                stacklevel=2,
            )
            return
        self.value = float(logs[self.monitor])
        # `not >=` so that NaN aborts too.
        if not self.value >= self.threshold:
            self.aborted = True
            self.model.stop_training = True


def find_taylorglo_losses(model: Any) -> list[Any]:
    """Finds the :class:`~keras_taylorglo.TaylorGLOLoss` objects a model was compiled with.

    Args:
        model: a compiled Keras model; ``model.loss`` may be one loss, a list or a dict.

    Returns:
        The TaylorGLO losses, in ``keras.tree.flatten`` order (empty if none).

    Example:
        >>> find_taylorglo_losses(model)  # doctest: +SKIP
        [TaylorGLOLoss(...)]
    """
    from .losses import TaylorGLOLoss

    structure = getattr(model, "loss", None)
    if structure is None:
        return []
    return [item for item in keras.tree.flatten(structure) if isinstance(item, TaylorGLOLoss)]


class TrainingProgress(_StepCounter):
    """Feeds the training progress t = steps done / ``total_steps`` to TaylorGLO losses.

    Before each train step, every :class:`~keras_taylorglo.TaylorGLOLoss` in ``model.loss`` that
    has a ``"progress"`` input gets ``t = min(steps done, total_steps) / total_steps``, so t is 0
    for the first step and approaches 1 at the end of the budget. The count restarts at 0 with
    every ``fit``. With ``steps_per_execution > 1`` t is constant within one execution. On the
    JAX backend compile the model with ``jit_compile=False`` (a jitted JAX step reads t once).

    Args:
        total_steps: the training budget in steps (t reaches 1 after that many steps).

    Attributes:
        losses: the losses being fed (found in ``on_train_begin``).
        t: the last progress value set.

    Raises:
        ValueError: for a non-positive ``total_steps``.

    Example:
        >>> loss = TaylorGLOLoss(inputs=("label", "prediction", "progress"))
        >>> model.compile(optimizer="sgd", loss=loss)  # doctest: +SKIP
        >>> progress = TrainingProgress(total_steps=500)
        >>> model.fit(x, y, epochs=5, callbacks=[progress])  # doctest: +SKIP
    """

    def __init__(self, total_steps: int) -> None:
        super().__init__()
        if isinstance(total_steps, bool) or not isinstance(total_steps, int) or total_steps < 1:
            raise ValueError(f"total_steps must be a positive integer; got {total_steps!r}")
        self.total_steps = total_steps
        self.losses: list[Any] = []
        self.t = 0.0

    def on_train_begin(self, logs: dict | None = None) -> None:
        """Finds the losses to feed and sets t = 0."""
        super().on_train_begin(logs)
        self.losses = [loss for loss in find_taylorglo_losses(self.model) if loss.has_progress]
        if not self.losses:
            warnings.warn(
                "TrainingProgress: the model has no TaylorGLOLoss with a 'progress' input "
                "(model.loss); it does nothing.",
                stacklevel=2,
            )
        elif keras.backend.backend() == "jax" and getattr(self.model, "jit_compile", False):
            # A jitted JAX train step captures variables outside the model's state as constants.
            warnings.warn(
                "TrainingProgress: on the JAX backend a jit-compiled train step reads the loss's "
                "progress only once; compile the model with jit_compile=False for t to advance.",
                stacklevel=2,
            )
        self._set(0.0)

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        """Sets t = steps done / total_steps (at most 1) before the step runs."""
        super().on_train_batch_begin(batch, logs)
        self._set(min(self.steps_done, self.total_steps) / self.total_steps)

    def _set(self, t: float) -> None:
        self.t = t
        for loss in self.losses:
            loss.set_progress(t)
