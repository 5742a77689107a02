"""What an attempt ends with: its :class:`Status`, its :class:`Outcome`, and its seed.

Every layer shares these: the evaluator produces an :class:`Outcome`, the search engine applies the
fitness rules to it (:mod:`keras_taylorglo.search.trial`), the store journals it, the monitor and
the status command read the statuses back. They live on the ground floor so that the store and
the evaluator need nothing of :mod:`keras_taylorglo.search`.

The statuses (:class:`Status`; see :mod:`keras_taylorglo.search.trial` for what happens after
each): ``ok``, ``aborted``, ``diverged``, ``failed``, ``infra``, ``screened`` end an attempt;
``running``, ``pending`` and ``interrupted`` describe one that has not ended. Each member is the
text the store holds. The states of a run and of a worker are the store's
(:mod:`keras_taylorglo.store.states`).

Seeds derive from (experiment seed, generation, candidate, attempt) (:func:`derive_seed`), so any
evaluation can be replayed on its own.

This module imports NumPy only (no TensorFlow).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from enum import Enum
from typing import Any

import numpy as np

__all__ = [
    "FINAL_STATUSES",
    "OUTCOME_STATUSES",
    "STATUSES",
    "Outcome",
    "Status",
    "derive_seed",
]


class Status(str, Enum):
    """The status of an attempt or a candidate; each value is the text the store holds.

    A member is the string it stands for (``Status.OK == "ok"``), so a status read back from
    the store compares equal to its member and prints as its value.
    """

    # A str mixin's format() changed with Python 3.12; printing the value keeps it one word.
    __str__ = str.__str__

    OK = "ok"
    """The attempt trained to the end of its budget; fitness is its validation accuracy."""
    ABORTED = "aborted"
    """Validation accuracy fell below the abort threshold at the abort epoch; retried."""
    DIVERGED = "diverged"
    """The loss or the weights became NaN/Inf (or a custom fitness returned NaN); fitness 0."""
    FAILED = "failed"
    """The evaluation (or a custom fitness function) raised; retried like an abort."""
    INFRA = "infra"
    """The worker died, ran out of memory or timed out; the same attempt is re-run elsewhere."""
    SCREENED = "screened"
    """Rejected by the invariant pre-screen: fitness 0 without training."""
    RUNNING = "running"
    """An attempt (or a candidate) that has started and not yet ended."""
    PENDING = "pending"
    """A candidate that is journaled but has no attempt running yet."""
    INTERRUPTED = "interrupted"
    """An attempt that was running when the driver stopped; resume re-runs it with the same seed."""


STATUSES: tuple[Status, ...] = tuple(Status)
"""Every status a candidate or an attempt can have in the store."""
FINAL_STATUSES: tuple[Status, ...] = (
    Status.OK,
    Status.ABORTED,
    Status.DIVERGED,
    Status.FAILED,
    Status.SCREENED,
)
"""The statuses a candidate can end with (``infra`` never ends a candidate)."""
OUTCOME_STATUSES: tuple[Status, ...] = (
    Status.OK,
    Status.ABORTED,
    Status.DIVERGED,
    Status.FAILED,
    Status.INFRA,
    Status.SCREENED,
)
"""The statuses an :class:`Outcome` can have."""


@dataclass
class Outcome:
    """What one attempt (one partial training of one candidate) produced.

    Args:
        status: one of :data:`OUTCOME_STATUSES`.
        fitness: the attempt's fitness (higher is better): the validation accuracy at the end (or
            at the abort), the custom fitness value, or 0 for diverged/failed/infra/screened.
        val_accuracy: the last validation accuracy seen, if any.
        steps: training steps run.
        seconds: wall time of the attempt, end to end.
        history: metric lists as Keras reports them at each of its epoch ends (the evaluator
            makes those chunks of data epochs), e.g. ``{"val_accuracy": [...]}``.
        error: the error text of a failed or infra attempt (one line or a traceback).
        train_seconds: time inside the train and validation steps (for the overhead benchmark).

    Raises:
        ValueError: for an unknown status.

    Example:
        >>> outcome = Outcome(Status.OK, 0.93, val_accuracy=0.93, steps=300)
        >>> Outcome.from_dict(outcome.to_dict()) == outcome
        True
    """

    status: Status
    fitness: float
    val_accuracy: float | None = None
    steps: int = 0
    seconds: float = 0.0
    history: dict[str, list[float]] = field(default_factory=dict)
    error: str = ""
    train_seconds: float = 0.0

    def __post_init__(self) -> None:
        if self.status not in OUTCOME_STATUSES:
            allowed = tuple(status.value for status in OUTCOME_STATUSES)
            raise ValueError(f"Outcome status must be one of {allowed}; got {self.status!r}")
        self.status = Status(self.status)

    def to_dict(self) -> dict[str, Any]:
        """Returns the outcome as a JSON-serialisable dict (NaN fitness stays a float NaN).

        Returns:
            A dict with exactly the dataclass fields.
        """
        data = asdict(self)
        data["history"] = {str(k): [float(v) for v in values] for k, values in self.history.items()}
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Outcome:
        """Rebuilds an outcome from :meth:`to_dict`'s dict; unknown keys are ignored.

        Args:
            data: a dict with at least ``status`` and ``fitness``.

        Returns:
            The outcome.

        Raises:
            ValueError: if ``status`` or ``fitness`` is missing or the status is unknown.
        """
        if "status" not in data or "fitness" not in data:
            raise ValueError(
                f"an Outcome dict needs 'status' and 'fitness'; got keys {sorted(data)}"
            )
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["history"] = dict(values.get("history") or {})
        fitness = values["fitness"]
        values["fitness"] = float("nan") if fitness is None else float(fitness)
        return cls(**values)


def derive_seed(experiment_seed: int, generation: int, candidate: int, attempt: int) -> int:
    """A seed for one attempt, stable across runs, platforms and Python versions.

    ``numpy.random.SeedSequence([seed, generation, candidate, attempt]).generate_state(1)[0]``
    modulo 2**31 (so it fits every framework's seed argument).

    Args:
        experiment_seed: ``experiment.seed`` (>= 0).
        generation: generation index, from 0.
        candidate: candidate index within the generation, from 0.
        attempt: attempt number, from 0 (infra re-runs reuse the attempt's seed).

    Returns:
        An int in ``[0, 2**31)``.

    Raises:
        ValueError: if any part is negative or not an integer.

    Example:
        >>> derive_seed(0, 0, 0, 0) == derive_seed(0, 0, 0, 0) != derive_seed(0, 0, 0, 1)
        True
    """
    parts = (experiment_seed, generation, candidate, attempt)
    names = ("experiment_seed", "generation", "candidate", "attempt")
    for name, value in zip(names, parts, strict=True):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"{name} must be an integer >= 0; got {value!r}")
    state = np.random.SeedSequence([int(p) for p in parts]).generate_state(1)[0]
    return int(state) % 2**31
