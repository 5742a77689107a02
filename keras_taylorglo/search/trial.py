"""The fitness rules of a TaylorGLO search, and the trial and attempt records they apply to.

A *trial* is one candidate θ of one generation. It is evaluated by one or more *attempts*
(partial trainings with derived seeds). The rules that turn attempt outcomes into the one fitness
CMA-ES is told live here, as plain functions, so that the engine and the tests share them. The
statuses, :class:`~keras_taylorglo.outcomes.Outcome` and
:func:`~keras_taylorglo.outcomes.derive_seed` live on the ground floor
(:mod:`keras_taylorglo.outcomes`, shared with the store and the evaluator) and are re-exported here:

========== ============================================ ===================================
status     meaning                                      what happens next
========== ============================================ ===================================
ok         training finished                            done: fitness = validation accuracy
aborted    validation accuracy below the abort          retried with a new seed (attempt + 1)
           threshold at the abort epoch                 up to ``attempts`` in all; the last
                                                        attempt's result stands (its
                                                        fitness = its accuracy at abort)
diverged   NaN/Inf loss or weights (custom fitness NaN) done: fitness 0, no retry
failed     exception in the evaluation or the custom    retried like an abort; if the last
           fitness function                             attempt fails, fitness 0
infra      the worker died, ran out of memory or timed  the SAME attempt (same seed) is
           out: not the candidate's fault               re-run on a healthy worker, at most
                                                        ``max_infra_reruns`` times; after
                                                        that it counts as ``failed``
screened   rejected by the invariant pre-screen         done: fitness 0, no training
========== ============================================ ===================================

CMA-ES minimises, so it is told ``1 - fitness`` (:func:`tell_value`); a missing or NaN fitness is
told as fitness 0, never as NaN (pycma would replace NaN with the median, which makes a failure
look average).

Attempts are numbered from 0, like generations and candidates. Seeds derive from (experiment
seed, generation, candidate, attempt) (:func:`derive_seed`), so any evaluation can be replayed
on its own.

This module imports no TensorFlow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# The records live on the ground floor (the store and the evaluator use them too); they are
# re-exported here so that ``from keras_taylorglo.search.trial import Outcome`` keeps working.
from ..outcomes import (
    FINAL_STATUSES,
    OUTCOME_STATUSES,
    STATUSES,
    Outcome,
    Status,
    derive_seed,
)

__all__ = [
    "FINAL_STATUSES",
    "MAX_INFRA_RERUNS",
    "OUTCOME_STATUSES",
    "STATUSES",
    "Attempt",
    "Decision",
    "Outcome",
    "Trial",
    "decide",
    "derive_seed",
    "final_fitness",
    "load_trials",
    "should_rerun",
    "should_retry",
    "tell_value",
]

MAX_INFRA_RERUNS = 3
"""How many times one attempt is re-run after infrastructure failures before it counts as failed."""


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _clean_fitness(fitness: float | None) -> float:
    """Maps a missing or non-finite fitness to 0 (the worst a candidate can do)."""
    if fitness is None or not _is_number(fitness) or not math.isfinite(float(fitness)):
        return 0.0
    return float(fitness)


def tell_value(fitness: float | None) -> float:
    """The value CMA-ES is told for a fitness: ``1 - fitness``, never NaN.

    Args:
        fitness: higher is better; ``None``, NaN and ±Inf count as fitness 0.

    Returns:
        ``1 - fitness`` (so a missing fitness is told as 1.0).

    Example:
        >>> tell_value(0.75), tell_value(float("nan")), tell_value(None)
        (0.25, 1.0, 1.0)
    """
    return 1.0 - _clean_fitness(fitness)


def final_fitness(outcome: Outcome) -> float:
    """The fitness a candidate gets when ``outcome`` is its last attempt.

    ``ok`` and ``aborted`` keep the attempt's fitness (its validation accuracy, at the end or at
    the abort); ``diverged``, ``failed``, ``infra`` and ``screened`` give 0. NaN becomes 0.

    Args:
        outcome: the last attempt's outcome.

    Returns:
        A finite float.

    Example:
        >>> aborted, diverged = Outcome(Status.ABORTED, 0.11), Outcome(Status.DIVERGED, math.nan)
        >>> final_fitness(aborted), final_fitness(diverged)
        (0.11, 0.0)
    """
    if outcome.status in (Status.OK, Status.ABORTED):
        return _clean_fitness(outcome.fitness)
    return 0.0


def should_retry(outcome: Outcome, attempt: int, attempts: int) -> bool:
    """Whether the candidate gets another attempt with a new seed after ``outcome``.

    Aborted and failed attempts are retried while ``attempt + 1 < attempts``. Diverged, ok and
    screened outcomes are final. An ``infra`` outcome is not retried with a new seed: it is
    re-run as the same attempt (see :func:`should_rerun`).

    Args:
        outcome: the outcome of attempt number ``attempt``.
        attempt: the attempt number that produced it, from 0.
        attempts: how many attempts a candidate may have in all (``evaluation.attempts``).

    Returns:
        True if attempt ``attempt + 1`` should run.

    Raises:
        ValueError: if ``attempt`` is negative or ``attempts`` is below 1.

    Example:
        >>> aborted = Outcome(Status.ABORTED, 0.1)
        >>> should_retry(aborted, 0, 3), should_retry(aborted, 2, 3)
        (True, False)
    """
    _check_attempt(attempt, attempts)
    return outcome.status in (Status.ABORTED, Status.FAILED) and attempt + 1 < attempts


def should_rerun(
    outcome: Outcome, infra_reruns: int, max_infra_reruns: int = MAX_INFRA_RERUNS
) -> bool:
    """Whether an infrastructure failure is re-run as the same attempt (same seed).

    Args:
        outcome: the outcome just received.
        infra_reruns: how many times this attempt has already been re-run after infra failures.
        max_infra_reruns: the bound; after that many re-runs an infra outcome counts as failed.

    Returns:
        True if ``outcome`` is ``infra`` and the bound is not reached.

    Example:
        >>> should_rerun(Outcome(Status.INFRA, 0.0), 0), should_rerun(Outcome(Status.INFRA, 0.0), 3)
        (True, False)
    """
    return outcome.status == Status.INFRA and infra_reruns < max_infra_reruns


@dataclass(frozen=True)
class Decision:
    """What the engine does after an attempt ends (see :func:`decide`).

    Attributes:
        action: ``"rerun"`` (same attempt, same seed, after an infra failure), ``"retry"`` (next
            attempt, new seed) or ``"done"`` (the candidate has its fitness).
        attempt: the attempt number to run next (``rerun``/``retry``) or the last attempt
            (``done``).
        status: the candidate's final status when ``done``, else the outcome's status.
        fitness: the candidate's final fitness when ``done`` (finite), else 0.0.
    """

    action: str
    attempt: int
    status: str
    fitness: float


def _check_attempt(attempt: int, attempts: int) -> None:
    if attempts < 1:
        raise ValueError(f"attempts must be >= 1; got {attempts!r}")
    if attempt < 0:
        raise ValueError(f"attempt numbers start at 0; got {attempt!r}")


def decide(
    outcome: Outcome,
    attempt: int,
    attempts: int,
    infra_reruns: int = 0,
    max_infra_reruns: int = MAX_INFRA_RERUNS,
) -> Decision:
    """Applies the fitness rules to one attempt's outcome.

    Args:
        outcome: the outcome of attempt number ``attempt``.
        attempt: its number, from 0.
        attempts: attempts allowed per candidate (``evaluation.attempts``).
        infra_reruns: infra re-runs this attempt has already had before ``outcome``.
        max_infra_reruns: bound on infra re-runs per attempt; beyond it infra counts as failed.

    Returns:
        The :class:`Decision`.

    Raises:
        ValueError: for a negative attempt number or ``attempts < 1``.

    Example:
        >>> decide(Outcome(Status.ABORTED, 0.1), 0, 3)
        Decision(action='retry', attempt=1, status=<Status.ABORTED: 'aborted'>, fitness=0.0)
        >>> decide(Outcome(Status.ABORTED, 0.12), 2, 3)
        Decision(action='done', attempt=2, status=<Status.ABORTED: 'aborted'>, fitness=0.12)
        >>> decide(Outcome(Status.INFRA, 0.0), 1, 3, infra_reruns=3)
        Decision(action='retry', attempt=2, status=<Status.FAILED: 'failed'>, fitness=0.0)
    """
    _check_attempt(attempt, attempts)
    if should_rerun(outcome, infra_reruns, max_infra_reruns):
        return Decision("rerun", attempt, Status.INFRA, 0.0)
    status = Status.FAILED if outcome.status == Status.INFRA else outcome.status
    if status in (Status.ABORTED, Status.FAILED) and attempt + 1 < attempts:
        return Decision("retry", attempt + 1, status, 0.0)
    fitness = final_fitness(Outcome(status, outcome.fitness))
    return Decision("done", attempt, status, fitness)


@dataclass
class Attempt:
    """One attempt of one candidate, as the engine and the store record it.

    Attributes:
        number: attempt number, from 0.
        seed: the derived seed it trains with.
        outcome: its outcome, ``None`` while it runs.
        infra_reruns: how many infra re-runs of this attempt came before this record.
        worker: the worker id that ran it.
        device: the device (group) it ran on, e.g. ``"GPU:0"`` or ``"CPU"``.
        started: POSIX start time.
        ended: POSIX end time, ``None`` while it runs.
    """

    number: int
    seed: int
    outcome: Outcome | None = None
    infra_reruns: int = 0
    worker: str = ""
    device: str = ""
    started: float | None = None
    ended: float | None = None

    @property
    def status(self) -> str:
        """The outcome's status, or ``running`` while there is none."""
        return Status.RUNNING if self.outcome is None else self.outcome.status


@dataclass
class Trial:
    """One candidate θ of one generation, with its attempts and (once done) its fitness.

    Attributes:
        generation: generation index, from 0.
        index: candidate index within the generation, from 0.
        theta: the candidate's θ.
        status: :data:`Status.PENDING`, :data:`Status.RUNNING` or one of :data:`FINAL_STATUSES`.
        fitness: the final fitness once done, else ``None``.
        attempts: the attempt records, in the order they ran (infra re-runs included).

    Example:
        >>> trial = Trial(0, 2, [0.0] * 8)
        >>> aborted = Outcome(Status.ABORTED, 0.1)
        >>> trial.record(Attempt(0, seed=5, outcome=aborted), attempts=3).action
        'retry'
        >>> trial.record(Attempt(1, seed=6, outcome=Outcome(Status.OK, 0.9)), attempts=3).action
        'done'
        >>> trial.status, trial.fitness, trial.done
        (<Status.OK: 'ok'>, 0.9, True)
    """

    generation: int
    index: int
    theta: list[float]
    status: str = Status.PENDING
    fitness: float | None = None
    attempts: list[Attempt] = field(default_factory=list)
    next_attempt: int = 0

    @property
    def done(self) -> bool:
        """Whether the trial has its final fitness."""
        return self.status in FINAL_STATUSES

    def infra_reruns(self, number: int) -> int:
        """How many infrastructure failures attempt ``number`` has had so far."""
        return sum(1 for a in self.attempts if a.number == number and a.status == Status.INFRA)

    def finish_without_training(self, status: str, fitness: float) -> None:
        """Give the trial its final result without an attempt (the invariant pre-screen)."""
        self.status, self.fitness = status, fitness

    def record(
        self, attempt: Attempt, attempts: int, max_infra_reruns: int = MAX_INFRA_RERUNS
    ) -> Decision:
        """Adds a finished attempt and applies the fitness rules.

        Args:
            attempt: the finished attempt (its ``outcome`` set).
            attempts: attempts allowed per candidate.
            max_infra_reruns: bound on infra re-runs per attempt.

        Returns:
            The :class:`Decision`; when it is ``done`` the trial's status and fitness are set.

        Raises:
            ValueError: if the attempt has no outcome or the trial is already done.
        """
        if attempt.outcome is None:
            raise ValueError(f"attempt {attempt.number} has no outcome yet; record it when it ends")
        if self.done:
            raise ValueError(
                f"trial {self.generation}/{self.index} is already done with status {self.status!r}"
            )
        self.attempts.append(attempt)
        decision = decide(
            attempt.outcome, attempt.number, attempts, attempt.infra_reruns, max_infra_reruns
        )
        if decision.action == "done":
            self.status = decision.status
            self.fitness = decision.fitness
        else:
            self.status = Status.RUNNING
            self.next_attempt = decision.attempt
        return decision


def load_trials(store: Any, generation: int) -> list[Trial]:
    """A generation's candidates, read back from a store, as :class:`Trial` records.

    The store journals rows; this rebuilds the records from them (it lives here, not in the
    store, so that the store imports nothing of the search).

    Args:
        store: an open :class:`~keras_taylorglo.store.Store`.
        generation: the generation index.

    Returns:
        Trials with their finished attempts (outcomes rebuilt from the rows).
    """
    trials = [
        Trial(
            generation,
            c["candidate"],
            c["theta"],
            c["status"],
            c["fitness"] if c["status"] in FINAL_STATUSES else None,
        )
        for c in store.candidates(generation)
    ]
    for a in store.finished_attempts(generation):
        outcome = Outcome(
            a["status"],
            float("nan") if a["fitness"] is None else a["fitness"],
            a["val_accuracy"],
            a["steps"] or 0,
            a["seconds"] or 0.0,
            a["history"] or {},
            a["error"],
            a["train_seconds"] or 0.0,
        )
        trials[a["candidate"]].attempts.append(
            Attempt(
                a["attempt"],
                a["seed"],
                outcome,
                a["rerun"],
                a["worker"],
                a["device"],
                a["started"],
                a["ended"],
            )
        )
    return trials
