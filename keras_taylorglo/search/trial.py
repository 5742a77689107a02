"""The fitness rules of a TaylorGLO search: how training runs become the one fitness CMA-ES is told.

This docstring is where the rules are written down; the engine, the finalist stage, the store's
summaries and the README all follow (and link to) it.

**Words.** A *trial* is one candidate θ of one generation. It is scored on ``evaluation.seeds``
*seed slots*: k partial trainings from different seeds. Each slot is filled by one or more
*attempts* (a training run with a derived seed); the attempt numbers of a slot count from 0.

**After an attempt**, by its status:

========== ============================================ ===================================
status     meaning                                      what happens next
========== ============================================ ===================================
ok         training finished                            the slot's fitness = its validation
                                                        accuracy at the end
aborted    validation accuracy below                    ``paper``: retried with a new seed
           ``evaluation.abort.threshold`` at            while the slot has attempts left;
           ``evaluation.abort.epoch``                   ``every_attempt``: counts as it is,
                                                        at its accuracy at the abort
failed     the evaluation (or a custom fitness          like ``aborted``, but its fitness is
           function) raised                             0 when it counts
diverged   NaN/Inf loss or weights (custom fitness NaN) the slot's fitness is 0, no retry:
                                                        divergence is a property of θ
infra      the worker died, ran out of memory or timed  the SAME attempt (same seed) runs
           out: not the candidate's fault               again on a healthy worker, at most
                                                        :data:`MAX_INFRA_RERUNS` times; after
                                                        that it counts as ``failed``
screened   rejected by the invariant pre-screen         the candidate's fitness is 0, no
           (``evolution.invariant_check``)              training at all
========== ============================================ ===================================

**The two rules** (``evaluation.rule``, :data:`RULES`):

- ``paper``: an aborted or failed attempt is retried with a new seed, up to
  ``evaluation.attempts`` attempts per slot, and the attempt that ends the slot stands. This is
  the paper's rule (and its code's: a shell loop around the trainer). It is faithful, and it lets
  a loss that collapses on one seed in five pass three tries 99 % of the time with no penalty.
  The paper's recipes keep it.
- ``every_attempt``: every attempt a candidate makes counts. Nothing is retried with a new seed
  (``evaluation.attempts`` is not used); an aborted attempt counts at its validation accuracy at
  the abort, a failed one at 0. A loss that fails on some seeds ranks below one that never fails:
  what a user who trains the winner on seeds the search never saw needs.

**A candidate's fitness** aggregates its slots' fitnesses (``evaluation.aggregate``,
:data:`AGGREGATES`): ``mean`` (the default: every training counts, and the mean's standard error
shrinks as 1/√k), ``median`` (one lucky or unlucky seed of three moves it less) or ``min`` (the
worst seed: the most pessimistic, for losses that must never fail). Its status is the worst of
its slots' (``diverged``, then ``failed``, ``aborted``, ``ok``).

**Seeds.** Every candidate of a generation trains slot j, attempt a from the same seed,
:func:`attempt_seed` of (experiment seed, generation, j, a): common random numbers, so two
candidates are compared on the same initial weights and data order (fewer ranking errors), and
every generation draws new seeds. Runs made before seed slots existed derived a seed per
candidate, (experiment seed, generation, candidate, attempt); they resume with that scheme.
Either way any evaluation can be replayed on its own.

**Finalists** (``evolution.finalists``). After the last generation the top ``count`` distinct
candidates (by fitness; ties: the earliest) and the CMA-ES mean are each trained again on
``seeds`` new seeds (:func:`finalist_seed`, the same for every finalist) on the validation split,
at the ``partial`` or ``full`` budget; every finalist training counts (the ``every_attempt`` rule,
no retries) and aggregates as above. The chosen loss is the finalist with the best aggregate
(ties: the better-ranked one); the best single evaluation stays recorded beside it. Without
finalists (``count = 0``, or a run made before they existed) the chosen loss is the best single
evaluation.

**CMA-ES** minimises, so it is told ``1 - fitness`` (:func:`tell_value`); a missing or NaN fitness
is told as fitness 0, never as NaN (pycma would replace NaN with the median, which makes a failure
look average).

This module imports no TensorFlow.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..outcomes import FINAL_STATUSES, Outcome, Status, derive_seed

__all__ = [
    "AGGREGATES",
    "MAX_INFRA_RERUNS",
    "RULES",
    "Attempt",
    "Decision",
    "FitnessRules",
    "Trial",
    "aggregate",
    "attempt_fitness",
    "attempt_seed",
    "decide",
    "finalist_seed",
    "tell_value",
]

RULES: tuple[str, ...] = ("paper", "every_attempt")
"""``evaluation.rule`` values: how aborted and failed attempts count (see the module docstring)."""
AGGREGATES: tuple[str, ...] = ("mean", "median", "min")
"""``evaluation.aggregate`` values: how a candidate's seed slots make its fitness."""
MAX_INFRA_RERUNS = 3
"""How many times one attempt is re-run after infrastructure failures before it counts as failed."""

# The worst status first: a candidate's status is the worst of its slots'.
_SEVERITY = (Status.DIVERGED, Status.FAILED, Status.ABORTED, Status.OK)
# Tags that keep the seed streams apart from each other and from derive_seed's.
_COMMON_SEED_TAG = 0x43524E  # "CRN": common random numbers of a generation
_FINALIST_SEED_TAG = 0x46494E  # "FIN"


def _seed(*parts: int) -> int:
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1)[0]) % 2**31


def attempt_seed(
    experiment_seed: int,
    generation: int,
    candidate: int,
    seed_index: int,
    attempt: int,
    common: bool = True,
) -> int:
    """The seed of one attempt of one candidate.

    Args:
        experiment_seed: ``experiment.seed``.
        generation: The generation, from 0.
        candidate: The candidate's index; not used with ``common`` seeds.
        seed_index: The seed slot, from 0.
        attempt: The attempt number within the slot, from 0.
        common: The same seeds for every candidate of a generation (common random numbers);
            ``False`` for runs made before seed slots existed (one seed per candidate, and
            ``seed_index`` must be 0).

    Returns:
        An int in ``[0, 2**31)``.

    Raises:
        ValueError: A negative part, or a seed slot other than 0 without ``common`` seeds.

    Example:
        >>> same_generation = attempt_seed(0, 3, 1, 0, 0) == attempt_seed(0, 3, 5, 0, 0)
        >>> same_generation, attempt_seed(0, 3, 1, 0, 0) == attempt_seed(0, 4, 1, 0, 0)
        (True, False)
    """
    if not common:
        if seed_index != 0:
            raise ValueError(f"per-candidate seeds have one slot; got seed_index {seed_index}")
        return derive_seed(experiment_seed, generation, candidate, attempt)
    derive_seed(experiment_seed, generation, seed_index, attempt)  # the same argument checks
    return _seed(experiment_seed, _COMMON_SEED_TAG, generation, seed_index, attempt)


def finalist_seed(experiment_seed: int, seed_index: int) -> int:
    """The seed of finalist seed slot ``seed_index``: the same for every finalist, new to the run.

    Args:
        experiment_seed: ``experiment.seed``.
        seed_index: The slot, from 0.

    Returns:
        An int in ``[0, 2**31)``, apart from every search attempt's seed.

    Example:
        >>> finalist_seed(0, 0) != finalist_seed(0, 1)
        True
    """
    derive_seed(experiment_seed, 0, 0, seed_index)  # the same argument checks
    return _seed(experiment_seed, _FINALIST_SEED_TAG, seed_index)


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
        fitness: Higher is better; ``None``, NaN and ±Inf count as fitness 0.

    Returns:
        ``1 - fitness`` (so a missing fitness is told as 1.0).

    Example:
        >>> tell_value(0.75), tell_value(float("nan")), tell_value(None)
        (0.25, 1.0, 1.0)
    """
    return 1.0 - _clean_fitness(fitness)


def attempt_fitness(outcome: Outcome) -> float:
    """What an attempt contributes when it counts.

    ``ok`` and ``aborted`` keep the attempt's fitness (its validation accuracy, at the end or at
    the abort); ``diverged``, ``failed``, ``infra`` and ``screened`` give 0. NaN becomes 0.

    Args:
        outcome: The attempt's outcome.

    Returns:
        A finite float.

    Example:
        >>> aborted, diverged = Outcome(Status.ABORTED, 0.11), Outcome(Status.DIVERGED, 0.5)
        >>> attempt_fitness(aborted), attempt_fitness(diverged)
        (0.11, 0.0)
    """
    if outcome.status in (Status.OK, Status.ABORTED):
        return _clean_fitness(outcome.fitness)
    return 0.0


def aggregate(values: Sequence[float], how: str = "mean") -> float:
    """A candidate's fitness from its slots' fitnesses.

    Args:
        values: One finite fitness per seed slot (at least one).
        how: One of :data:`AGGREGATES`.

    Returns:
        The mean, median or minimum of ``values``.

    Raises:
        ValueError: No values, or an unknown ``how``.

    Example:
        >>> aggregate([0.7, 0.1, 0.7]), aggregate([0.7, 0.1, 0.7], "median")
        (0.5, 0.7)
    """
    if not values:
        raise ValueError("a fitness needs at least one seed slot's value")
    numbers = [float(v) for v in values]
    if how == "mean":
        return math.fsum(numbers) / len(numbers)
    if how == "median":
        return float(statistics.median(numbers))
    if how == "min":
        return min(numbers)
    raise ValueError(f"aggregate must be one of {AGGREGATES}; got {how!r}")


@dataclass(frozen=True)
class FitnessRules:
    """The settings the rules apply (``[evaluation]``'s ``rule``, ``attempts``, ``seeds``, …).

    Attributes:
        rule: One of :data:`RULES`.
        attempts: Attempts per seed slot under the ``paper`` rule (>= 1).
        seeds: Seed slots per candidate (>= 1).
        aggregate: How the slots make the fitness, one of :data:`AGGREGATES`.
        max_infra_reruns: Infra re-runs of one attempt before it counts as failed.

    Raises:
        ValueError: For a value out of range.

    Example:
        >>> FitnessRules("every_attempt", seeds=3).retries_allowed(0)
        False
    """

    rule: str = "paper"
    attempts: int = 3
    seeds: int = 1
    aggregate: str = "mean"
    max_infra_reruns: int = MAX_INFRA_RERUNS

    def __post_init__(self) -> None:
        if self.rule not in RULES:
            raise ValueError(f"rule must be one of {RULES}; got {self.rule!r}")
        if self.aggregate not in AGGREGATES:
            raise ValueError(f"aggregate must be one of {AGGREGATES}; got {self.aggregate!r}")
        if self.attempts < 1:
            raise ValueError(f"attempts must be >= 1; got {self.attempts!r}")
        if self.seeds < 1:
            raise ValueError(f"seeds must be >= 1; got {self.seeds!r}")

    @classmethod
    def of(cls, evaluation: Any) -> FitnessRules:
        """The rules of a recipe's ``[evaluation]`` section.

        Args:
            evaluation: A :class:`~keras_taylorglo.recipe.EvaluationConfig`.

        Returns:
            The rules.
        """
        return cls(evaluation.rule, evaluation.attempts, evaluation.seeds, evaluation.aggregate)

    def retries_allowed(self, attempt: int) -> bool:
        """Whether a slot whose attempt ``attempt`` was aborted or failed gets another one."""
        return self.rule == "paper" and attempt + 1 < self.attempts


@dataclass(frozen=True)
class Decision:
    """What happens after an attempt ends (see :func:`decide`).

    Attributes:
        action: ``"rerun"`` (same attempt, same seed, after an infra failure), ``"retry"`` (next
            attempt of the slot, new seed) or ``"done"`` (the slot has its fitness).
        attempt: The attempt number to run next (``rerun``/``retry``) or the slot's last attempt
            (``done``).
        status: The slot's final status when ``done``, else the outcome's status.
        fitness: The slot's fitness when ``done`` (finite), else 0.0.
    """

    action: str
    attempt: int
    status: str
    fitness: float


def decide(outcome: Outcome, attempt: int, rules: FitnessRules, infra_reruns: int = 0) -> Decision:
    """Applies the rules to one attempt's outcome, for its seed slot.

    Args:
        outcome: The outcome of attempt number ``attempt``.
        attempt: Its number within its slot, from 0.
        rules: The rules in force.
        infra_reruns: Infra re-runs this attempt has already had before ``outcome``.

    Returns:
        The :class:`Decision`.

    Raises:
        ValueError: For a negative attempt number.

    Example:
        >>> decide(Outcome(Status.ABORTED, 0.1), 0, FitnessRules("paper", attempts=3))
        Decision(action='retry', attempt=1, status='aborted', fitness=0.0)
        >>> decide(Outcome(Status.ABORTED, 0.1), 0, FitnessRules("every_attempt"))
        Decision(action='done', attempt=0, status='aborted', fitness=0.1)
        >>> decide(Outcome(Status.INFRA, 0.0), 1, FitnessRules(attempts=3), infra_reruns=3)
        Decision(action='retry', attempt=2, status='failed', fitness=0.0)
    """
    if attempt < 0:
        raise ValueError(f"attempt numbers start at 0; got {attempt!r}")
    if outcome.status == Status.INFRA and infra_reruns < rules.max_infra_reruns:
        return Decision("rerun", attempt, Status.INFRA, 0.0)
    status = Status.FAILED if outcome.status == Status.INFRA else outcome.status
    if status in (Status.ABORTED, Status.FAILED) and rules.retries_allowed(attempt):
        return Decision("retry", attempt + 1, status, 0.0)
    return Decision("done", attempt, status, attempt_fitness(Outcome(status, outcome.fitness)))


@dataclass
class Attempt:
    """One attempt of one candidate's seed slot, as the engine records it.

    Attributes:
        number: The attempt number within its slot, from 0.
        seed: The seed it trains with.
        outcome: Its outcome, ``None`` while it runs.
        infra_reruns: How many infra re-runs of this attempt came before this record.
        worker: The worker id that ran it.
        seed_index: Its seed slot, from 0.
    """

    number: int
    seed: int
    outcome: Outcome | None = None
    infra_reruns: int = 0
    worker: str = ""
    seed_index: int = 0

    @property
    def status(self) -> str:
        """The outcome's status, or ``running`` while there is none."""
        return Status.RUNNING if self.outcome is None else self.outcome.status


@dataclass
class _Slot:
    next_attempt: int = 0
    status: str | None = None
    fitness: float | None = None


@dataclass
class Trial:
    """One candidate θ with its attempts and, once every seed slot is done, its fitness.

    Attributes:
        generation: Its generation, from 0 (``None`` for a finalist).
        index: Its index within the generation (or among the finalists), from 0.
        theta: The candidate's θ.
        rules: The :class:`FitnessRules` in force.
        status: :data:`Status.PENDING`, :data:`Status.RUNNING` or one of :data:`FINAL_STATUSES`.
        fitness: The aggregate fitness once done, else ``None``.
        attempts: The attempt records, in the order they ended (infra re-runs included).

    Example:
        >>> trial = Trial(0, 2, [0.0] * 8, FitnessRules("every_attempt", seeds=2))
        >>> trial.record(Attempt(0, seed=5, outcome=Outcome(Status.ABORTED, 0.1))).action
        'done'
        >>> trial.next_attempts()
        [(1, 0)]
        >>> _ = trial.record(Attempt(0, seed=6, outcome=Outcome(Status.OK, 0.9), seed_index=1))
        >>> trial.status, round(trial.fitness, 2), trial.done
        ('aborted', 0.5, True)
    """

    generation: int | None
    index: int
    theta: list[float]
    rules: FitnessRules = field(default_factory=FitnessRules)
    status: str = Status.PENDING
    fitness: float | None = None
    attempts: list[Attempt] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._slots = [_Slot() for _ in range(self.rules.seeds)]

    @property
    def done(self) -> bool:
        """Whether the trial has its final fitness."""
        return self.status in FINAL_STATUSES

    def infra_reruns(self, seed_index: int, number: int) -> int:
        """How many infrastructure failures attempt ``number`` of slot ``seed_index`` has had."""
        return sum(
            1
            for a in self.attempts
            if a.seed_index == seed_index and a.number == number and a.status == Status.INFRA
        )

    def next_attempts(self) -> list[tuple[int, int]]:
        """The ``(seed_index, attempt)`` pairs to run next: one per slot without a result."""
        if self.done:
            return []
        return [(i, s.next_attempt) for i, s in enumerate(self._slots) if s.status is None]

    def finish_without_training(self, status: str, fitness: float) -> None:
        """Give the trial its final result without an attempt (the invariant pre-screen)."""
        self.status, self.fitness = status, fitness

    def record(self, attempt: Attempt) -> Decision:
        """Adds a finished attempt and applies the rules to its slot.

        Args:
            attempt: The finished attempt (its ``outcome`` set).

        Returns:
            The slot's :class:`Decision`. When the last slot is done, the trial's status and
            fitness are set.

        Raises:
            ValueError: The attempt has no outcome, its slot does not exist or is done, or the
                trial is done.
        """
        if attempt.outcome is None:
            raise ValueError(f"attempt {attempt.number} has no outcome yet; record it when it ends")
        if self.done:
            raise ValueError(f"trial {self.generation}/{self.index} is already {self.status!r}")
        if not 0 <= attempt.seed_index < len(self._slots):
            raise ValueError(
                f"seed slot {attempt.seed_index} of a trial with {len(self._slots)} slot(s)"
            )
        slot = self._slots[attempt.seed_index]
        if slot.status is not None:
            raise ValueError(f"seed slot {attempt.seed_index} is already done ({slot.status!r})")
        self.attempts.append(attempt)
        decision = decide(attempt.outcome, attempt.number, self.rules, attempt.infra_reruns)
        if decision.action == "done":
            slot.status, slot.fitness = decision.status, decision.fitness
        else:
            slot.next_attempt = decision.attempt
        if all(s.status is not None for s in self._slots):
            statuses = {s.status for s in self._slots}
            self.status = next(s for s in _SEVERITY if s in statuses)
            self.fitness = aggregate([s.fitness or 0.0 for s in self._slots], self.rules.aggregate)
        else:
            self.status = Status.RUNNING
        return decision
