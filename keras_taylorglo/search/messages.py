"""What the driver, its executors and their workers say to each other: small typed records.

Two layers, both frozen dataclasses (pickled over a worker's pipe, or returned by a Ray actor):

- driver → worker: :class:`Evaluate` (a search's attempt, or an analysis's training with its
  ``loss``/``select`` options) and :class:`Stop`; worker → driver: :class:`Ready` (the
  evaluator is built; facts of its data), :class:`StartFailed` (it cannot be built: a recipe or
  data problem no retry fixes), :class:`Result` (an outcome) and :class:`Failed` (the evaluator
  raised, out of memory and the like: an infrastructure failure, re-run elsewhere).
- executor → engine or analysis: :class:`WorkerUp`, :class:`TaskDone`, :class:`TaskLost`,
  :class:`WorkerDown` and :class:`Fatal`, about the :data:`AnyTask` it was given: a search's
  :class:`Task` or an analysis's :class:`Training`.

:class:`Executor` is the contract the job runner (:mod:`.jobs`) drives; :class:`~.executors.
LocalPool` and :class:`~.ray_executor.RayExecutor` implement it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "Evaluate",
    "Executor",
    "Failed",
    "Fatal",
    "FinalistTask",
    "Ready",
    "Result",
    "StartFailed",
    "Stop",
    "AnyTask",
    "Task",
    "TaskDone",
    "TaskLost",
    "Training",
    "WorkerDown",
    "WorkerUp",
]

# ------------------------------------------------------------------ executor -> engine events


@dataclass(frozen=True)
class Task:
    """One attempt of one candidate of the search, as dispatched to a worker.

    Attributes:
        task_id: Unique per dispatch (an infra re-run of the same attempt gets a new id).
        generation: Generation index.
        candidate: Candidate index within the generation.
        attempt: Attempt number within its seed slot (0-based).
        seed: The attempt's seed (see :func:`~.trial.attempt_seed`).
        theta: The candidate's parameters.
        seed_index: The attempt's seed slot (0-based).
    """

    task_id: int
    generation: int
    candidate: int
    attempt: int
    seed: int
    theta: tuple[float, ...]
    seed_index: int = 0

    def options(self) -> dict[str, str]:
        """The evaluate() keywords this task carries beyond (θ, seed): none for an attempt.

        Returns:
            ``{}``: a search worker scores with its own loss, at the last epoch.
        """
        return {}


@dataclass(frozen=True)
class Training:
    """One full training of the analysis, as dispatched to an analysis worker.

    Attributes:
        task_id: Unique per dispatch (a re-run of the same training gets a new id).
        run_index: Which repetition of its loss (run i of every loss shares its seed).
        rerun: Re-runs of this training before this one (after an exception or a lost worker).
        seed: The training's seed.
        theta: The TaylorGLO θ to train with; empty for a baseline.
        loss: The baseline to train (``"gce:0.7"``, ...); ``""`` for θ or cross-entropy.
        select: The epoch scored: ``"last"`` or ``"best_validation"``.
    """

    task_id: int
    run_index: int
    rerun: int
    seed: int
    theta: tuple[float, ...]
    loss: str = ""
    select: str = "last"

    def options(self) -> dict[str, str]:
        """The evaluate() keywords this training carries beyond (θ, seed).

        Returns:
            ``{}`` for the worker's default loss scored at the last epoch, else
            ``{"loss": ..., "select": ...}``.
        """
        if not self.loss and self.select == "last":
            return {}
        return {"loss": self.loss, "select": self.select}


@dataclass(frozen=True)
class FinalistTask:
    """One training of a finalist of the search (:mod:`.finalists`), as dispatched to a worker.

    Attributes:
        task_id: Unique per dispatch.
        finalist: The finalist's rank.
        seed_index: Its seed slot, from 0.
        seed: The slot's seed (:func:`~.trial.finalist_seed`, the same for every finalist).
        theta: The finalist's θ.
        budget: ``"partial"`` or ``"full"`` (``evolution.finalists.budget``).
    """

    task_id: int
    finalist: int
    seed_index: int
    seed: int
    theta: tuple[float, ...]
    budget: str = "partial"

    def options(self) -> dict[str, str]:
        """The evaluate() keywords beyond (θ, seed): the budget, when it is not the partial one.

        Returns:
            ``{}`` or ``{"budget": "full"}``.
        """
        return {} if self.budget == "partial" else {"budget": self.budget}


AnyTask = Task | Training | FinalistTask
"""What an executor runs: a search's attempt, a finalist's training or an analysis's training."""


@dataclass(frozen=True)
class WorkerUp:
    """A worker finished building its evaluator and is ready.

    ``info`` holds facts of the data the worker built, e.g. ``{"label_noise": {...}}`` (see
    :attr:`keras_taylorglo.data.DataBundle.label_noise`); empty when it has none.
    """

    worker_id: str
    device: str
    pid: int
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TaskDone:
    """A task finished with an outcome (any candidate status, including failed)."""

    task: AnyTask
    worker_id: str
    outcome: dict[str, Any]
    received: float = 0.0
    finished: float = 0.0


@dataclass(frozen=True)
class TaskLost:
    """A task did not finish for reasons outside the candidate (worker died, timeout, OOM)."""

    task: AnyTask
    worker_id: str
    reason: str


@dataclass(frozen=True)
class WorkerDown:
    """A worker process ended unexpectedly; the pool starts a replacement."""

    worker_id: str
    reason: str


@dataclass(frozen=True)
class Fatal:
    """The evaluator cannot be built (a recipe or data problem): the search must stop."""

    message: str


# ------------------------------------------------------------------- driver <-> worker messages


@dataclass(frozen=True)
class Evaluate:
    """Driver → worker: score one attempt.

    Attributes:
        task_id: The dispatch's id (answers carry it back; a stale one is ignored).
        theta: The candidate's parameters.
        seed: The attempt's seed.
        options: More ``evaluate`` keywords (an analysis task's ``loss`` and ``select``).
    """

    task_id: int
    theta: tuple[float, ...]
    seed: int
    options: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, task: AnyTask) -> Evaluate:
        """The request for ``task``."""
        return cls(task.task_id, tuple(task.theta), task.seed, task.options())


@dataclass(frozen=True)
class Stop:
    """Driver → worker: return from the loop (the driver kills anything that does not)."""


@dataclass(frozen=True)
class Ready:
    """Worker → driver: the evaluator is built.

    Attributes:
        pid: The worker's process id.
        device: Where it runs, for people (``"cpu"``, ``"gpu:0@10.0.0.7"``).
        data: Facts of the data it built (label noise, warnings), see ``data_facts``.
    """

    pid: int
    device: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StartFailed:
    """Worker → driver: the evaluator cannot be built (``message`` is one line)."""

    message: str


@dataclass(frozen=True)
class Result:
    """Worker → driver: an attempt ended with an outcome (any candidate status).

    Attributes:
        task_id: The :class:`Evaluate` answered.
        outcome: ``Outcome.to_dict()``.
        received: Wall-clock time the request arrived (for the dispatch-latency benchmark).
        finished: Wall-clock time the outcome was ready.
    """

    task_id: int
    outcome: dict[str, Any]
    received: float = 0.0
    finished: float = 0.0

    def event(self, task: AnyTask, worker_id: str) -> TaskDone:
        """The executor's event for this answer to ``task``."""
        return TaskDone(task, worker_id, self.outcome, self.received, self.finished)


@dataclass(frozen=True)
class Failed:
    """Worker → driver: the evaluator raised (out of memory and the like), in one line."""

    task_id: int
    reason: str

    def event(self, task: AnyTask, worker_id: str) -> TaskLost:
        """The executor's event for this answer to ``task``: an infrastructure failure."""
        return TaskLost(task, worker_id, self.reason)


# ------------------------------------------------------------------------------ the contract


@runtime_checkable
class Executor(Protocol):
    """What runs attempts: a pool of warm workers the job runner hands tasks to.

    An executor never decides what to try (the engine and the oracle do). ``poll`` returns the
    events above; a worker that dies is replaced by the executor itself and its task comes back
    as :class:`TaskLost`.
    """

    @property
    def workers(self) -> dict[str, dict[str, Any]]:
        """Worker id → a description for the store (``device``, ``ready``, ...)."""
        ...

    def start(self) -> None:
        """Start the workers (they build their evaluators in parallel)."""
        ...

    def idle_workers(self) -> list[str]:
        """Workers that are ready and have no task."""
        ...

    def submit(self, task: AnyTask, worker_id: str) -> None:
        """Hand ``task`` to an idle worker."""
        ...

    def poll(self, timeout: float = 1.0) -> list[Any]:
        """Wait up to ``timeout`` seconds; the events that happened meanwhile."""
        ...

    def shutdown(self, kill: bool = False) -> None:
        """Stop every worker (``kill``: at once, without waiting for a task to end)."""
        ...
