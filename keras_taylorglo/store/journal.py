"""The engine's writes: the journal of a search, each method one transaction.

Run state and meta, generations (begun with the oracle state before ``ask``, finished with the
state after ``tell``), candidates, attempts (started and finished as they happen, so a resume
never redoes a finished one), workers and events. Only the engine calls these.

This module imports no TensorFlow.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
from collections.abc import Sequence
from typing import Any

from ..errors import StoreError
from ..outcomes import FINAL_STATUSES, STATUSES, Outcome, Status
from .base import StoreBase
from .schema import (
    EVENT_KINDS,
    RUN_STATES,
    WORKER_STATES,
    _finite_or_none,
    _json_list,
    _now,
    generation_summary,
)
from .states import RunState, WorkerState

__all__ = ["Journal", "record_run_end"]


def record_run_end(
    conn: sqlite3.Connection, table: str, row_id: int, outcome: Outcome, ended: float
) -> sqlite3.Row | None:
    """Writes a training run's end (``attempts`` or ``finalist_runs``) and frees its worker.

    Args:
        conn: The connection, inside a write transaction.
        table: ``"attempts"`` or ``"finalist_runs"``.
        row_id: The run's row id.
        outcome: What the run produced.
        ended: The end time.

    Returns:
        The run's row as it was before (its ``worker`` and keys), or ``None`` for no such row.
    """
    row = conn.execute(f"SELECT * FROM {table} WHERE id = ?", (row_id,)).fetchone()
    if row is None:
        return None
    conn.execute(
        f"UPDATE {table} SET ended = ?, status = ?, fitness = ?, val_accuracy = ?, steps = ?, "
        "seconds = ?, train_seconds = ?, history = ?, error = ? WHERE id = ?",
        (
            ended,
            outcome.status,
            _finite_or_none(outcome.fitness),
            _finite_or_none(outcome.val_accuracy),
            int(outcome.steps),
            float(outcome.seconds),
            float(outcome.train_seconds),
            json.dumps(outcome.to_dict()["history"]),
            outcome.error or "",
            row_id,
        ),
    )
    if row["worker"]:
        conn.execute(
            "UPDATE workers SET state = CASE WHEN state = ? THEN state ELSE ? END, "
            "generation = NULL, candidate = NULL, attempt = NULL, since = ?, last_status = ?, "
            "last_fitness = ?, updated = ? WHERE worker = ?",
            (
                WorkerState.DEAD,
                WorkerState.IDLE,
                ended,
                outcome.status,
                _finite_or_none(outcome.fitness),
                ended,
                row["worker"],
            ),
        )
    return row


class Journal(StoreBase):
    """The search engine's writes to the store (one transaction per method)."""

    # -- writers: run ----------------------------------------------------------------------

    def set_state(self, state: str, **meta: Any) -> None:
        """Sets the run's state (and any other meta values) in one transaction.

        Args:
            state: ``running``, ``finished`` or ``interrupted``.
            **meta: more meta values, e.g. ``pid=..., host=...``.

        Raises:
            ValueError: for an unknown state.
        """
        if state not in RUN_STATES:
            allowed = tuple(s.value for s in RUN_STATES)
            raise ValueError(f"state must be one of {allowed}; got {state!r}")
        values = {"state": state, **meta, "updated": _now()}
        if state == RunState.RUNNING:
            values.setdefault("pid", os.getpid())
            values.setdefault("host", socket.gethostname())
        if state == RunState.FINISHED:
            values["finished"] = values["updated"]
        with self._write() as conn:
            self._set_meta(conn, values)

    def update_meta(self, **values: Any) -> None:
        """Sets meta values (JSON-serialisable) in one transaction.

        Args:
            **values: the keys and values.
        """
        with self._write() as conn:
            self._set_meta(conn, values)

    # -- writers: generations, candidates, attempts ----------------------------------------

    def begin_generation(
        self,
        generation: int,
        state_before: bytes,
        candidates: Sequence[Sequence[float]],
        started: float | None = None,
    ) -> None:
        """Journals a generation: its row, the oracle state before ``ask`` and every candidate.

        Args:
            generation: the generation index (from 0).
            state_before: ``Oracle.get_state()`` taken before ``ask``.
            candidates: the θ of each candidate, in ``ask`` order.
            started: the start time (default now).

        Raises:
            StoreError: if the generation is already journaled.
        """
        started = _now() if started is None else started
        try:
            with self._write() as conn:
                conn.execute(
                    "INSERT INTO generations(generation, started, population, state_before) "
                    "VALUES (?, ?, ?, ?)",
                    (generation, started, len(candidates), sqlite3.Binary(state_before)),
                )
                self._insert_candidates(conn, generation, candidates, started)
        except sqlite3.IntegrityError as exc:
            raise StoreError(
                f"generation {generation} is already journaled in {self.path} ({exc})"
            ) from exc

    @staticmethod
    def _insert_candidates(
        conn: sqlite3.Connection,
        generation: int,
        candidates: Sequence[Sequence[float]],
        started: float,
    ) -> None:
        # a separate step so tests can break the transaction between the two inserts
        conn.executemany(
            "INSERT INTO candidates(generation, candidate, theta, status, updated) "
            "VALUES (?, ?, ?, ?, ?)",
            [
                (generation, i, _json_list(t), Status.PENDING, started)
                for i, t in enumerate(candidates)
            ],
        )

    def start_attempt(
        self,
        generation: int,
        candidate: int,
        attempt: int,
        seed: int,
        worker: str = "",
        device: str = "",
        rerun: int | None = None,
        started: float | None = None,
        seed_index: int = 0,
    ) -> int:
        """Journals the start of an attempt; marks the candidate (and the worker) running.

        Args:
            generation: generation index.
            candidate: candidate index.
            attempt: attempt number within its seed slot, from 0.
            seed: the attempt's derived seed.
            worker: the worker id that runs it.
            device: the worker's device (group).
            rerun: infra re-runs of this attempt before this one; by default counted from the
                store (finished rows of the same attempt with status ``infra``).
            started: the start time (default now).
            seed_index: the attempt's seed slot, from 0.

        Returns:
            The attempt's row id, for :meth:`finish_attempt`.
        """
        started = _now() if started is None else started
        with self._write() as conn:
            if rerun is None:
                rerun = conn.execute(
                    "SELECT COUNT(*) FROM attempts WHERE generation = ? AND candidate = ? "
                    "AND seed_index = ? AND attempt = ? AND status = ?",
                    (generation, candidate, seed_index, attempt, Status.INFRA),
                ).fetchone()[0]
            cursor = conn.execute(
                "INSERT INTO attempts(generation, candidate, seed_index, attempt, rerun, seed, "
                "worker, device, started, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    generation,
                    candidate,
                    seed_index,
                    attempt,
                    rerun,
                    seed,
                    worker,
                    device,
                    started,
                    Status.RUNNING,
                ),
            )
            conn.execute(
                "UPDATE candidates SET status = ?, updated = ? "
                "WHERE generation = ? AND candidate = ?",
                (Status.RUNNING, started, generation, candidate),
            )
            if worker:
                conn.execute(
                    "UPDATE workers SET state = ?, generation = ?, candidate = ?, "
                    "attempt = ?, since = ?, updated = ? WHERE worker = ?",
                    (WorkerState.BUSY, generation, candidate, attempt, started, started, worker),
                )
            return int(cursor.lastrowid)

    def finish_attempt(
        self,
        attempt_id: int,
        outcome: Outcome,
        ended: float | None = None,
        candidate_status: str | None = None,
        candidate_fitness: float | None = None,
    ) -> None:
        """Journals the end of an attempt (and optionally its candidate's final result).

        Args:
            attempt_id: the id from :meth:`start_attempt`.
            outcome: what the attempt produced.
            ended: the end time (default now).
            candidate_status: when given, the candidate's final status, in the same transaction.
            candidate_fitness: the candidate's final fitness with ``candidate_status``.

        Raises:
            StoreError: for an unknown attempt id.
        """
        ended = _now() if ended is None else ended
        with self._write() as conn:
            row = record_run_end(conn, "attempts", attempt_id, outcome, ended)
            if row is None:
                raise StoreError(f"no attempt with id {attempt_id} in {self.path}")
            if candidate_status is not None:
                self._set_candidate(
                    conn, row["generation"], row["candidate"], candidate_status, candidate_fitness
                )

    @staticmethod
    def _set_candidate(
        conn: sqlite3.Connection, generation: int, candidate: int, status: str, fitness: Any
    ) -> None:
        if status not in STATUSES:
            allowed = tuple(s.value for s in STATUSES)
            raise ValueError(f"candidate status must be one of {allowed}; got {status!r}")
        cursor = conn.execute(
            "UPDATE candidates SET status = ?, fitness = ?, updated = ? "
            "WHERE generation = ? AND candidate = ?",
            (status, _finite_or_none(fitness), _now(), generation, candidate),
        )
        if cursor.rowcount != 1:
            raise StoreError(f"no candidate {candidate} of generation {generation} is journaled")

    def set_candidate_result(
        self, generation: int, candidate: int, status: str, fitness: float | None
    ) -> None:
        """Sets a candidate's status and fitness (its final result, or ``running``).

        Args:
            generation: generation index.
            candidate: candidate index.
            status: one of :data:`~keras_taylorglo.outcomes.STATUSES`.
            fitness: the final fitness (NaN/None are stored as NULL).

        Raises:
            ValueError: for an unknown status.
            StoreError: if the candidate is not journaled.
        """
        with self._write() as conn:
            self._set_candidate(conn, generation, candidate, status, fitness)

    def close_interrupted_attempts(self, ended: float | None = None) -> int:
        """Marks attempts still ``running`` (the driver died under them) as ``interrupted``.

        Call it on resume, before re-running them; interrupted attempts count neither as
        candidate failures nor as infrastructure failures.

        Args:
            ended: the time to record (default now).

        Returns:
            How many attempts were closed.
        """
        ended = _now() if ended is None else ended
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE attempts SET status = ?, ended = ?, "
                "error = 'the driver stopped before this attempt ended' WHERE status = ?",
                (Status.INTERRUPTED, ended, Status.RUNNING),
            )
            closed = cursor.rowcount
            if self.schema_version >= 2:
                closed += conn.execute(
                    "UPDATE finalist_runs SET status = ?, ended = ?, "
                    "error = 'the driver stopped before this training ended' WHERE status = ?",
                    (Status.INTERRUPTED, ended, Status.RUNNING),
                ).rowcount
            conn.execute(
                "UPDATE workers SET state = ?, updated = ? WHERE state != ?",
                (WorkerState.DEAD, ended, WorkerState.DEAD),
            )
            return closed

    def finish_generation(
        self,
        generation: int,
        state_after: bytes,
        mean: Sequence[float],
        sigma: float,
        finished: float | None = None,
    ) -> dict[str, Any]:
        """Checkpoints a told generation: oracle state after ``tell`` and its summary.

        Best and mean fitness, the best candidate and the new-best flag are computed from the
        candidates' results inside the same transaction, once: ``generations()`` reads them back
        for a finished generation rather than computing them again.

        Args:
            generation: the generation index.
            state_after: ``Oracle.get_state()`` after ``tell``.
            mean: the distribution mean after the update.
            sigma: the step size after the update.
            finished: the time (default now).

        Returns:
            ``{"best_fitness", "mean_fitness", "best_candidate", "new_best"}``.

        Raises:
            StoreError: if the generation is not journaled or a candidate has no final result.
        """
        finished = _now() if finished is None else finished
        with self._write() as conn:
            rows = conn.execute(
                "SELECT candidate, status, fitness FROM candidates WHERE generation = ? "
                "ORDER BY candidate",
                (generation,),
            ).fetchall()
            if not rows:
                raise StoreError(f"generation {generation} is not journaled in {self.path}")
            open_ = [r["candidate"] for r in rows if r["status"] not in FINAL_STATUSES]
            if open_:
                raise StoreError(
                    f"generation {generation} cannot finish: candidates {open_} have no result"
                )
            best, mean_fitness, best_candidate = generation_summary(
                [(r["candidate"], r["fitness"]) for r in rows]
            )
            previous = conn.execute(
                "SELECT MAX(best_fitness) FROM generations WHERE generation < ? "
                "AND finished IS NOT NULL",
                (generation,),
            ).fetchone()[0]
            new_best = previous is None or best > previous
            summary = {
                "best_fitness": best,
                "mean_fitness": mean_fitness,
                "best_candidate": best_candidate,
                "new_best": bool(new_best),
            }
            conn.execute(
                "UPDATE generations SET finished = ?, state_after = ?, mean = ?, sigma = ?, "
                "best_fitness = ?, mean_fitness = ?, best_candidate = ?, new_best = ? "
                "WHERE generation = ?",
                (
                    finished,
                    sqlite3.Binary(state_after),
                    _json_list(mean),
                    float(sigma),
                    summary["best_fitness"],
                    summary["mean_fitness"],
                    best_candidate,
                    int(new_best),
                    generation,
                ),
            )
        return summary

    # -- writers: workers and events -------------------------------------------------------

    def update_worker(self, worker: str, **fields: Any) -> None:
        """Creates or updates a worker's row (only the fields given change).

        Args:
            worker: the worker id.
            **fields: any of ``device``, ``pid``, ``state`` (``starting`` | ``idle`` | ``busy`` |
                ``dead``), ``generation``, ``candidate``, ``attempt``, ``since``,
                ``last_status``, ``last_fitness``. A new ``state`` resets ``since`` to now
                unless ``since`` is given.

        Raises:
            ValueError: for an unknown field or state.
        """
        allowed = {
            "device",
            "pid",
            "state",
            "generation",
            "candidate",
            "attempt",
            "since",
            "last_status",
            "last_fitness",
        }
        unknown = sorted(set(fields) - allowed)
        if unknown:
            raise ValueError(f"unknown worker field(s) {unknown}; allowed: {sorted(allowed)}")
        if "state" in fields and fields["state"] not in WORKER_STATES:
            allowed_states = tuple(s.value for s in WORKER_STATES)
            raise ValueError(
                f"worker state must be one of {allowed_states}; got {fields['state']!r}"
            )
        now = _now()
        if "state" in fields:
            fields.setdefault("since", now)
            if fields["state"] in (WorkerState.IDLE, WorkerState.DEAD):
                for key in ("generation", "candidate", "attempt"):
                    fields.setdefault(key, None)
        if "last_fitness" in fields:
            fields["last_fitness"] = _finite_or_none(fields["last_fitness"])
        with self._write() as conn:
            conn.execute(
                "INSERT INTO workers(worker, state, since, updated) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(worker) DO NOTHING",
                (worker, WorkerState.STARTING, now, now),
            )
            if fields:
                assignments = ", ".join(f"{key} = ?" for key in fields)
                conn.execute(
                    f"UPDATE workers SET {assignments}, updated = ? WHERE worker = ?",
                    (*fields.values(), now, worker),
                )
            else:
                conn.execute("UPDATE workers SET updated = ? WHERE worker = ?", (now, worker))

    def add_event(
        self,
        kind: str,
        message: str,
        generation: int | None = None,
        candidate: int | None = None,
        when: float | None = None,
    ) -> int:
        """Journals an event for the monitor's event log.

        Args:
            kind: one of :data:`EVENT_KINDS`.
            message: one line for people.
            generation: the generation it concerns, if any.
            candidate: the candidate it concerns, if any.
            when: the event's time (default now).

        Returns:
            The event id.

        Raises:
            ValueError: for an unknown kind.
        """
        if kind not in EVENT_KINDS:
            raise ValueError(f"event kind must be one of {EVENT_KINDS}; got {kind!r}")
        with self._write() as conn:
            cursor = conn.execute(
                "INSERT INTO events(time, kind, message, generation, candidate) "
                "VALUES (?, ?, ?, ?, ?)",
                (_now() if when is None else when, kind, str(message), generation, candidate),
            )
            return int(cursor.lastrowid)
