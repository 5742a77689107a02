"""The states of a run and of its workers, as the store keeps them.

Like :class:`~keras_taylorglo.outcomes.Status` (the status of an attempt or a candidate), each
member is the text the store holds, so a state read back from the store compares equal to its
member (``RunState.FINISHED == "finished"``) and prints as its value.

This module is pure Python: it imports nothing of the search, the evaluator or TensorFlow.
"""

from __future__ import annotations

from enum import Enum

__all__ = ["RunState", "WorkerState"]


class RunState(str, Enum):
    """The state of a run (the store's ``meta.state``)."""

    # A str mixin's format() changed with Python 3.12; printing the value keeps it one word.
    __str__ = str.__str__

    RUNNING = "running"
    """A search holds the run's lock and is writing to it."""
    FINISHED = "finished"
    """The search ran to its end."""
    INTERRUPTED = "interrupted"
    """The search stopped before its end (Ctrl-C, a crash, a killed driver); it can be resumed."""


class WorkerState(str, Enum):
    """The state of a worker (the ``workers`` table's ``state``)."""

    __str__ = str.__str__

    STARTING = "starting"
    """Launched; not yet ready for work."""
    IDLE = "idle"
    """Ready, with no attempt to run."""
    BUSY = "busy"
    """Running an attempt."""
    DEAD = "dead"
    """Gone (crashed, killed, or the run ended)."""
