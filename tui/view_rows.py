"""The monitor's view records: small frozen dataclasses, each what one panel shows.

:mod:`tui.reader` builds them from the store; the widgets only display them. :func:`from_row`
fills a record's fields from the store row's columns of the same names, so only the fields the
monitor renames or computes are written out.

This module imports NumPy and :mod:`keras_taylorglo.expansion` only (no TensorFlow).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from keras_taylorglo.expansion import ExpansionSpec, shifted_loss_shape

__all__ = [
    "AttemptRow",
    "CandidateRow",
    "EventRow",
    "GenerationDetail",
    "GenerationRow",
    "LossSettings",
    "MonitorSnapshot",
    "RunSummary",
    "WorkerRow",
    "from_row",
]

R = TypeVar("R")


def from_row(record: type[R], row: Mapping[str, Any], **computed: Any) -> R:
    """Builds a view record from a store row.

    Args:
        record: the record's dataclass.
        row: the store's row (``Store.generations()``, ``attempts()``, ``events()``, ...).
        **computed: the fields the monitor renames or computes; every other field takes the
            row's value of the same name.

    Returns:
        The record.

    Raises:
        KeyError: if the row lacks a column for a field not in ``computed``.

    Example:
        >>> from_row(EventRow, {"id": 1, "time": 0.0, "kind": "info", "message": "hi",
        ...                     "generation": 3, "candidate": None}).about
        'g3'
    """
    names = [f.name for f in fields(record) if f.name not in computed]
    return record(**{name: row[name] for name in names}, **computed)


@dataclass(frozen=True)
class LossSettings:
    """How θ maps to a loss (from the run's meta), for the monitor's labels and loss plots.

    Args:
        spec: the run's expansion (order, inputs, trim, convention), or ``None`` if its meta
            holds settings that do not make one (the monitor then still shows the run, with
            plain ``θ0, θ1, ...`` labels and no loss plot).
    """

    spec: ExpansionSpec | None = field(default_factory=ExpansionSpec)

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> LossSettings:
        """Reads the loss settings from a store's meta (defaults for missing keys).

        Args:
            meta: ``Store.meta()``.

        Returns:
            The settings (``spec=None`` for settings that are not valid).
        """
        try:
            return cls(ExpansionSpec.from_meta(meta))
        except ValueError:  # a damaged or foreign meta must not stop the monitor
            return cls(None)

    def labels(self, num_params: int) -> list[str]:
        """Names of the θ entries (``θ0``, ``θ1``, ... if the settings do not match θ).

        Args:
            num_params: the length of θ.

        Returns:
            One label per θ entry.
        """
        names = [] if self.spec is None else list(self.spec.theta_labels)
        if len(names) != num_params:
            return [f"θ{i}" for i in range(num_params)]
        return names

    def shifted_shape(self, theta: Sequence[float]) -> tuple[np.ndarray, np.ndarray] | None:
        """The loss in the binary modality, shifted so that the loss at ``y0 = 1`` is zero.

        Args:
            theta: the candidate's θ.

        Returns:
            ``(y0, loss)`` of :func:`keras_taylorglo.expansion.shifted_loss_shape`, or ``None``
            if θ does not fit these settings or the loss is not finite (nothing to draw).
        """
        if self.spec is None:
            return None
        try:
            y0, loss = shifted_loss_shape(theta, spec=self.spec)
        except ValueError:
            return None
        if not np.all(np.isfinite(loss)):
            return None
        return y0, loss


@dataclass(frozen=True)
class GenerationRow:
    """One generation as the table and the plots show it.

    Args:
        index: generation index (from 0).
        population: candidates in it.
        evaluations: candidates with a final result.
        best: best fitness so far in it (``None`` before any result).
        mean: mean fitness of the finished candidates.
        sigma: CMA-ES step size after this generation (``None`` until it finishes).
        retries: retry attempts (after aborts or failures).
        candidate_failures: aborted, diverged or failed attempts.
        infra_failures: attempts lost to the infrastructure.
        running: attempts running now.
        new_best: whether it set a new all-time best.
        finished: whether the generation was told to CMA-ES.
        best_candidate: index of its best candidate.
        best_theta: that candidate's θ.
        all_time_best: the best fitness of this and all earlier generations.
        started: start time; ``ended``: finish time (``None`` while running).
        ended: see ``started``.
    """

    index: int
    population: int
    evaluations: int
    best: float | None
    mean: float | None
    sigma: float | None
    retries: int
    candidate_failures: int
    infra_failures: int
    running: int
    new_best: bool
    finished: bool
    best_candidate: int | None
    best_theta: tuple[float, ...] | None
    all_time_best: float | None
    started: float | None = None
    ended: float | None = None


@dataclass(frozen=True)
class WorkerRow:
    """One worker as the workers panel shows it.

    Args:
        worker: its id.
        device: its device (group).
        state: ``starting`` | ``idle`` | ``busy`` | ``dead``.
        task: ``"g3 c5 a0"`` while busy, else ``""``.
        for_seconds: how long it has been in this state.
        last: the last result, e.g. ``"ok 0.9310"``.
    """

    worker: str
    device: str
    state: str
    task: str
    for_seconds: float | None
    last: str


@dataclass(frozen=True)
class EventRow:
    """One journaled event.

    Args:
        id: the event id.
        time: POSIX time.
        kind: one of :data:`keras_taylorglo.store.EVENT_KINDS`.
        message: one line.
        generation: the generation it is about, if any.
        candidate: the candidate it is about, if any.
    """

    id: int
    time: float
    kind: str
    message: str
    generation: int | None = None
    candidate: int | None = None

    @property
    def about(self) -> str:
        """``"g3 c5"`` (``"g3"`` for a generation, ``""`` for the run), as the other panels say."""
        if self.generation is None:
            return ""
        return f"g{self.generation}" + ("" if self.candidate is None else f" c{self.candidate}")


@dataclass(frozen=True)
class MonitorSnapshot:
    """Everything the main screen shows, from one consistent read of the store.

    Args:
        name: experiment name.
        recipe: the recipe file the run was started from.
        state: ``running`` | ``finished`` | ``interrupted``.
        now: the clock's time at the read.
        elapsed: seconds since the run was created (until it finished or last wrote).
        evaluations: candidates with a final result.
        planned: planned evaluations (population × generations).
        eta: estimated seconds to the end (``None`` when unknown or not running).
        best: ``{"theta", "fitness", "generation", "candidate"}`` or ``None``.
        generations: the generations in order.
        workers: the workers.
        events: the latest events, oldest first.
        loss: the loss settings.
        shapes: generation index -> shifted loss shape of its best θ (``(y0, loss)``).
        label_noise: the run's label noise as its workers realised it (the store's meta, see
            :func:`format_label_noise`), or ``None``.
    """

    name: str
    recipe: str
    state: str
    now: float
    elapsed: float | None
    evaluations: int
    planned: int
    eta: float | None
    best: dict[str, Any] | None
    generations: list[GenerationRow]
    workers: list[WorkerRow]
    events: list[EventRow]
    loss: LossSettings
    shapes: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    label_noise: dict[str, Any] | None = None


@dataclass(frozen=True)
class AttemptRow:
    """One attempt (training run) of a candidate.

    Args:
        attempt: attempt number (from 0).
        rerun: infrastructure re-runs of this attempt before this one.
        status: the attempt's status.
        fitness: its fitness, if it ended with one.
        seconds: wall time.
        worker: the worker that ran it.
        device: the worker's device.
        error: error text, if any.
    """

    attempt: int
    rerun: int
    status: str
    fitness: float | None
    seconds: float | None
    worker: str
    device: str
    error: str


@dataclass(frozen=True)
class CandidateRow:
    """One candidate of a generation with its attempts.

    Args:
        index: candidate index.
        theta: its θ.
        status: its status (final or ``running``/``pending``).
        fitness: its final fitness.
        attempts: its attempts, oldest first.
    """

    index: int
    theta: tuple[float, ...]
    status: str
    fitness: float | None
    attempts: tuple[AttemptRow, ...]

    @property
    def attempts_text(self) -> str:
        """The attempts as one short line, e.g. ``"aborted → ok"``."""
        return " → ".join(a.status for a in self.attempts) or "—"


@dataclass(frozen=True)
class GenerationDetail:
    """One generation with all its candidates (the candidates screen).

    Args:
        generation: the generation's row.
        candidates: its candidates in order.
        loss: the loss settings.
    """

    generation: GenerationRow
    candidates: list[CandidateRow]
    loss: LossSettings


@dataclass(frozen=True)
class RunSummary:
    """One run directory, as the picker lists it.

    Args:
        path: the run directory.
        name: the experiment name.
        state: ``running`` | ``finished`` | ``interrupted``.
        generations: generations begun.
        best: the best fitness so far.
    """

    path: Path
    name: str
    state: str
    generations: int
    best: float | None
