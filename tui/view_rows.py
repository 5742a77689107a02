"""The monitor's view records: small frozen dataclasses, each what one panel shows.

:mod:`keras_taylorglo_tui.reader` builds them from the store's frozen records; the widgets only
display them. :func:`from_record` fills a view row's fields from the store record's attributes
of the same names, so only the fields the monitor renames or computes are written out. Where the
monitor shows a record as it is (the events, the best candidate), it keeps the store's record.

This module imports NumPy, :mod:`keras_taylorglo.expansion` and the store's records only (no
TensorFlow).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from keras_taylorglo.expansion import ExpansionSpec, shifted_loss_shape
from keras_taylorglo.store.frozen import BestRecord, ChosenRecord, EventRecord

__all__ = [
    "AttemptRow",
    "CandidateRow",
    "FinalistRow",
    "GenerationDetail",
    "GenerationRow",
    "LossSettings",
    "MonitorSnapshot",
    "RunSummary",
    "WorkerRow",
    "from_record",
]

R = TypeVar("R")


def from_record(view: type[R], record: object, **computed: Any) -> R:
    """Builds a view row from a store record.

    Args:
        view: the view row's dataclass.
        record: the store's record (``Store.generations()``, ``attempts()``, ``workers()``, ...).
        **computed: the fields the monitor renames or computes; every other field takes the
            record's attribute of the same name.

    Returns:
        The view row.

    Raises:
        AttributeError: if the record lacks an attribute for a field not in ``computed``.

    Example:
        >>> from keras_taylorglo.store import WorkerRecord, WorkerState
        >>> worker = WorkerRecord(worker="w0", device="cpu:0", pid=7, state=WorkerState.IDLE,
        ...     generation=None, candidate=None, attempt=None, since=0.0, last_status=None,
        ...     last_fitness=None, updated=0.0)
        >>> from_record(WorkerRow, worker, task="", for_seconds=None, last="").device
        'cpu:0'
    """
    names = [f.name for f in fields(view) if f.name not in computed]
    return view(**{name: getattr(record, name) for name in names}, **computed)


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
class FinalistRow:
    """One finalist of the finalist stage, as the finalists panel shows it.

    Args:
        finalist: its rank (from 0).
        origin: where it came from: ``"g3 c5"`` (a candidate) or ``"CMA-ES mean"``.
        search_fitness: its fitness in the search (``None`` for the CMA-ES mean).
        status: the finalist's status (``pending``, ``running``, or its final status).
        done: its trainings on new seeds that ended with a result.
        planned: the trainings it gets (``evolution.finalists.seeds``).
        fitness: its aggregate over those trainings, once it has one.
        chosen: whether it is the chosen loss.
    """

    finalist: int
    origin: str
    search_fitness: float | None
    status: str
    done: int
    planned: int
    fitness: float | None
    chosen: bool


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
        best: the best candidate, or ``None`` before any result.
        generations: the generations in order.
        workers: the workers.
        events: the latest events, oldest first (the store's records, shown as they are).
        loss: the loss settings.
        shapes: generation index -> shifted loss shape of its best θ (``(y0, loss)``).
        label_noise: the run's label noise as its workers realised it (the store's meta, see
            :func:`format_label_noise`), or ``None``.
        run_dir: the run directory, as it was given to the monitor.
        finalists: the finalist stage's finalists in rank order (empty before it begins, and
            in a run without one).
        chosen: the chosen finalist once the stage has chosen (``None`` until then, and in a
            run without finalists: ``best`` is then the loss the run hands over).
        finalists_done: finalist trainings that ended with a result.
        finalists_planned: finalist trainings the stage plans (0 in a run without one).
    """

    name: str
    recipe: str
    state: str
    now: float
    elapsed: float | None
    evaluations: int
    planned: int
    eta: float | None
    best: BestRecord | None
    generations: list[GenerationRow]
    workers: list[WorkerRow]
    events: list[EventRecord]
    loss: LossSettings
    shapes: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    label_noise: dict[str, Any] | None = None
    run_dir: str = ""
    finalists: list[FinalistRow] = field(default_factory=list)
    chosen: ChosenRecord | None = None
    finalists_done: int = 0
    finalists_planned: int = 0


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
