"""The store's frozen records: small frozen dataclasses, one per kind of row a reader gets back.

The read views (:mod:`.queries`, :mod:`.analysis_runs`) return these instead of raw rows, as
Optuna's storages return ``FrozenTrial``: readers use attributes (``gen.best_fitness``) and
cannot change what they were given by accident. Missing numbers are ``None`` (never NaN), θ and
histories are decoded (lists and dicts), so :meth:`Record.as_dict` is JSON-ready.

Records are read by attribute only: they are not mappings, and a record equals another record of
the same kind with the same fields, never a dict (:meth:`Record.as_dict` gives one).

This module is pure Python: it imports nothing of the search, the evaluator or TensorFlow.

Example:
    >>> best = BestRecord(theta=[0.5, -1.0], fitness=0.93, generation=2, candidate=4)
    >>> best.fitness, best.candidate
    (0.93, 4)
    >>> best.as_dict() == {"theta": [0.5, -1.0], "fitness": 0.93, "generation": 2, "candidate": 4}
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "AnalysisRunRecord",
    "AttemptRecord",
    "BestRecord",
    "CandidateRecord",
    "ChosenRecord",
    "EventRecord",
    "FinalistRecord",
    "FinalistRunRecord",
    "GenerationRecord",
    "ProgressSummary",
    "ResultRecord",
    "Record",
    "StoreSnapshot",
    "TrainingRecord",
    "WorkerRecord",
]


class Record:
    """The base of the store's records: frozen dataclasses, read by attribute.

    Subclasses are ``@dataclass(frozen=True)``: equal when of the same kind with equal fields.
    """

    __slots__ = ()
    __dataclass_fields__: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        """The fields as a new dict, in declaration order (shallow: θ lists are shared).

        Returns:
            ``{field: value}``, JSON-ready for every record but :class:`StoreSnapshot`.
        """
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass(frozen=True)
class GenerationRecord(Record):
    """One generation begun, with its summary and counts.

    A finished generation's ``best_fitness``, ``mean_fitness``, ``best_candidate`` and
    ``new_best`` are the ones ``finish_generation`` wrote; a generation in progress has them over
    the candidates done so far.

    Args:
        generation: index, from 0.
        started: when it was begun (POSIX seconds).
        finished: when it was told and checkpointed, ``None`` while in progress.
        population: candidates in it.
        mean: the distribution mean after its CMA-ES update (``None`` until finished).
        sigma: the step size after its update (``None`` until finished).
        best_fitness: its best fitness (``None`` before any result).
        mean_fitness: the mean fitness of its candidates with a result.
        best_candidate: the index of its best candidate (ties: the earliest).
        new_best: whether it set an all-time best.
        evaluations: candidates with a final result.
        screened: candidates rejected by the invariant pre-screen.
        attempts: training runs (infra re-runs included).
        retries: attempts after the first, infra re-runs not counted.
        running: attempts running now.
        candidate_failures: aborted, diverged or failed attempts.
        infra_failures: attempts lost to the infrastructure.
    """

    generation: int
    started: float
    finished: float | None
    population: int
    mean: list[float] | None
    sigma: float | None
    best_fitness: float | None
    mean_fitness: float | None
    best_candidate: int | None
    new_best: bool
    evaluations: int
    screened: int
    attempts: int
    retries: int
    running: int
    candidate_failures: int
    infra_failures: int


@dataclass(frozen=True)
class CandidateRecord(Record):
    """One candidate: its θ, status and fitness.

    Args:
        generation: its generation.
        candidate: its index in the generation.
        theta: its θ.
        status: one of :data:`~keras_taylorglo.outcomes.STATUSES`.
        fitness: its final fitness (``None`` until it has one).
        updated: when the row last changed.
    """

    generation: int
    candidate: int
    theta: list[float]
    status: str
    fitness: float | None
    updated: float


@dataclass(frozen=True)
class ResultRecord(Record):
    """A candidate's final result.

    Args:
        status: one of :data:`~keras_taylorglo.outcomes.FINAL_STATUSES`.
        fitness: its fitness (``None`` is stored for NaN).
    """

    status: str
    fitness: float | None


@dataclass(frozen=True)
class TrainingRecord(Record):
    """What every training run records: a search's attempt or a finalist's training.

    Args:
        id: the row id (journal order).
        seed_index: its seed slot, from 0 (0 for an attempt in a store made before seed slots).
        rerun: infra re-runs of this training before this one.
        seed: the training seed.
        worker: the worker id.
        device: the worker's device.
        started: when it started.
        ended: when it ended (``None`` while running).
        status: one of :data:`~keras_taylorglo.outcomes.STATUSES`.
        fitness: its fitness.
        val_accuracy: the last validation accuracy seen.
        steps: training steps run.
        seconds: wall time, end to end.
        train_seconds: time inside the train and validation steps.
        history: the metric lists per epoch end (``{}`` when none).
        error: the error text of a failed or infra training.
    """

    id: int
    seed_index: int
    rerun: int
    seed: int
    worker: str
    device: str
    started: float
    ended: float | None
    status: str
    fitness: float | None
    val_accuracy: float | None
    steps: int | None
    seconds: float | None
    train_seconds: float | None
    history: dict[str, list[float]]
    error: str


@dataclass(frozen=True)
class AttemptRecord(TrainingRecord):
    """One training run of a candidate (infra re-runs are attempts of their own).

    Its fields are those of :class:`TrainingRecord`, then:

    Args:
        generation: the candidate's generation.
        candidate: the candidate's index.
        attempt: the attempt number within its seed slot, from 0.
    """

    generation: int
    candidate: int
    attempt: int


@dataclass(frozen=True)
class FinalistRecord(Record):
    """One finalist: a candidate (or the CMA-ES mean) re-scored on new seeds after the search.

    Args:
        finalist: its rank among the finalists, from 0 (the search's best first, the mean last).
        theta: its θ.
        source: ``candidate`` or ``mean`` (the CMA-ES mean after the last generation).
        generation: the generation of the candidate it is (``None`` for the mean).
        candidate: that candidate's index (``None`` for the mean).
        search_fitness: that candidate's fitness in the search (``None`` for the mean).
        status: ``pending``, ``running`` or its final status over its seeds.
        fitness: the aggregate of its finalist trainings (``None`` until all ended).
        chosen: whether it is the chosen loss.
        updated: when the row last changed.
    """

    finalist: int
    theta: list[float]
    source: str
    generation: int | None
    candidate: int | None
    search_fitness: float | None
    status: str
    fitness: float | None
    chosen: bool
    updated: float


@dataclass(frozen=True)
class FinalistRunRecord(TrainingRecord):
    """One training of a finalist (as :class:`AttemptRecord`, for the finalist stage).

    Its fields are those of :class:`TrainingRecord`, then:

    Args:
        finalist: the finalist it trains.
    """

    finalist: int


@dataclass(frozen=True)
class ChosenRecord(Record):
    """The loss a run hands its user: the best finalist, or else the best single evaluation.

    Args:
        theta: its θ.
        fitness: what chose it: the finalist's aggregate over its seeds, or the candidate's
            fitness when there is no finalist stage (or it has not ended).
        source: ``finalist`` or ``best_evaluation``.
        generation: the generation of the candidate it is (``None`` for the CMA-ES mean).
        candidate: that candidate's index (``None`` for the CMA-ES mean).
        finalist: its finalist rank (``None`` for the best single evaluation).
        search_fitness: its fitness in the search (``None`` for the CMA-ES mean).
    """

    theta: list[float]
    fitness: float
    source: str
    generation: int | None
    candidate: int | None
    finalist: int | None
    search_fitness: float | None


@dataclass(frozen=True)
class WorkerRecord(Record):
    """One worker as the driver last saw it.

    Args:
        worker: the worker id.
        device: its device.
        pid: its process id.
        state: ``starting``, ``idle``, ``busy`` or ``dead``.
        generation: the generation of the attempt it runs.
        candidate: the candidate of the attempt it runs.
        attempt: the attempt it runs.
        since: since when it is in this state.
        last_status: the status of its last attempt.
        last_fitness: the fitness of its last attempt.
        updated: when the row last changed.
    """

    worker: str
    device: str
    pid: int | None
    state: str
    generation: int | None
    candidate: int | None
    attempt: int | None
    since: float | None
    last_status: str | None
    last_fitness: float | None
    updated: float


@dataclass(frozen=True)
class EventRecord(Record):
    """One event of the run's event log.

    Args:
        id: the event id (journal order).
        time: when it happened.
        kind: one of :data:`~keras_taylorglo.store.schema.EVENT_KINDS`.
        message: one line for people.
        generation: the generation it concerns, if any.
        candidate: the candidate it concerns, if any.
    """

    id: int
    time: float
    kind: str
    message: str
    generation: int | None
    candidate: int | None


@dataclass(frozen=True)
class BestRecord(Record):
    """The best candidate with a final result (ties: the earliest).

    Args:
        theta: its θ.
        fitness: its fitness.
        generation: its generation.
        candidate: its index in the generation.
    """

    theta: list[float]
    fitness: float
    generation: int
    candidate: int


@dataclass(frozen=True)
class ProgressSummary(Record):
    """Totals for a progress line.

    Args:
        generation: the index of the latest generation begun (-1 if none).
        evaluations: candidates with a final result.
        best: the best fitness (``None`` before any result).
        retries: retries over all generations.
        candidate_failures: aborted, diverged or failed attempts.
        infra_failures: attempts lost to the infrastructure.
        finalist_trainings: finalist trainings that ended with a result (0 before the finalist
            stage, or without one).
        finalist_planned: finalist trainings the stage plans (0 before it began).
    """

    generation: int
    evaluations: int
    best: float | None
    retries: int
    candidate_failures: int
    infra_failures: int
    finalist_trainings: int = 0
    finalist_planned: int = 0


@dataclass(frozen=True)
class AnalysisRunRecord(Record):
    """One full training of the analysis.

    Args:
        id: the row id.
        label: ``taylorglo``, ``baseline`` or a baseline spec (``gce:0.7``, …).
        theta: the θ trained with (``None`` for a baseline).
        theta_key: θ as the table's key.
        train_fraction: the fraction of the training set used.
        run_index: which repetition, from 0.
        seed: the training seed.
        status: ``running``, ``ok``, ``failed``, ``diverged`` or ``infra``.
        test_accuracy: the test-split accuracy.
        seconds: wall time.
        started: when it started.
        ended: when it ended.
        error: the error text of a failed run.
        worker: the worker id.
        device: the worker's device.
        history: the metric lists per epoch end (``None`` when none).
    """

    id: int
    label: str
    theta: list[float] | None
    theta_key: str
    train_fraction: float
    run_index: int
    seed: int
    status: str
    test_accuracy: float | None
    seconds: float | None
    started: float | None
    ended: float | None
    error: str
    worker: str
    device: str
    history: dict[str, list[float]] | None


@dataclass(frozen=True)
class StoreSnapshot(Record):
    """Everything the monitor shows, from one consistent read.

    Args:
        meta: the run's meta values, without ``recipe_text``.
        state: ``running``, ``finished`` or ``interrupted``.
        generations: every generation begun.
        best: the best candidate (``None`` before any result).
        workers: the workers, by id.
        events: the latest events, oldest first.
        evaluations: candidates with a final result.
    """

    meta: dict[str, Any]
    state: str
    generations: list[GenerationRecord]
    best: BestRecord | None
    workers: list[WorkerRecord]
    events: list[EventRecord]
    evaluations: int
