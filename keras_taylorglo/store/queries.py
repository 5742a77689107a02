"""The store's read views: what the status command, the monitor, resume and the analysis read.

Every view reads inside one transaction (a consistent snapshot, never blocking the writer) and
returns the frozen records of :mod:`.frozen` (no NaN: missing numbers are ``None``).
:meth:`Queries.status_json` is the ``keras-taylorglo status --json`` contract, plain dicts.

This module imports no TensorFlow.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from ..errors import StoreError
from ..outcomes import FINAL_STATUSES, Status
from .finalists import Finalists
from .frozen import (
    AttemptRecord,
    BestRecord,
    CandidateRecord,
    ChosenRecord,
    EventRecord,
    GenerationRecord,
    ResultRecord,
    WorkerRecord,
)
from .lock import is_locked
from .schema import CANDIDATE_FAILURES, generation_summary
from .states import RunState

__all__ = ["Queries"]


class Queries(Finalists):
    """The read views of a store (the finalist stage's own views come from :class:`Finalists`)."""

    def meta(self) -> dict[str, Any]:
        """All meta values (``recipe_text`` included) as a dict."""
        with self._read() as conn:
            rows = conn.execute("SELECT key, value FROM meta").fetchall()
        return {r["key"]: json.loads(r["value"]) for r in rows}

    def recipe_text(self) -> str:
        """The resolved recipe TOML the run was started with."""
        with self._read():
            return str(self._meta_value("recipe_text", ""))

    def state(self) -> RunState:
        """The run's real state: ``running`` only while a live process holds the run's lock.

        Returns:
            ``finished`` if the search finished; ``running`` if meta says so and the lock is
            held; otherwise ``interrupted``.
        """
        with self._read():
            recorded = self._meta_value("state", RunState.INTERRUPTED)
        if recorded == RunState.FINISHED:
            return RunState.FINISHED
        if recorded == RunState.RUNNING and is_locked(self.run_dir):
            return RunState.RUNNING
        return RunState.INTERRUPTED

    def generations(self) -> list[GenerationRecord]:
        """Every generation begun, with its summary and counts (also for the one in progress).

        A finished generation's best and mean fitness, best candidate and new-best flag are
        read as :meth:`finish_generation` wrote them, not recomputed; only the generation in
        progress has them computed here, over its candidates done so far.

        Returns:
            One :class:`~.frozen.GenerationRecord` per generation, in order.
        """
        finals = ", ".join("?" for _ in FINAL_STATUSES)
        with self._read() as conn:
            gens = conn.execute(
                "SELECT generation, started, finished, population, mean, sigma, best_fitness, "
                "mean_fitness, best_candidate, new_best FROM generations ORDER BY generation"
            ).fetchall()
            done = conn.execute(
                "SELECT generation, COUNT(*) AS n, SUM(status = ?) AS screened FROM candidates "
                f"WHERE status IN ({finals}) GROUP BY generation",
                (Status.SCREENED, *FINAL_STATUSES),
            ).fetchall()
            # the one generation in progress (at most one): its results so far
            live = conn.execute(
                "SELECT c.generation, c.candidate, c.fitness FROM candidates AS c "
                "JOIN generations AS g ON g.generation = c.generation "
                f"WHERE g.finished IS NULL AND c.status IN ({finals}) "
                "ORDER BY c.generation, c.candidate",
                FINAL_STATUSES,
            ).fetchall()
            atts = conn.execute(
                "SELECT generation, status, attempt > 0 AND rerun = 0 AS retry, COUNT(*) AS n "
                "FROM attempts GROUP BY generation, status, retry"
            ).fetchall()
        counts = {r["generation"]: (r["n"], r["screened"]) for r in done}
        results: dict[int, list[tuple[int, float | None]]] = {}
        for c in live:
            results.setdefault(c["generation"], []).append((c["candidate"], c["fitness"]))
        tallies: dict[int, dict[str, int]] = {}
        for a in atts:
            tally = tallies.setdefault(a["generation"], dict.fromkeys(_TALLIES, 0))
            tally["attempts"] += a["n"]
            if a["retry"]:
                tally["retries"] += a["n"]
            if a["status"] == Status.RUNNING:
                tally["running"] += a["n"]
            elif a["status"] == Status.INFRA:
                tally["infra_failures"] += a["n"]
            elif a["status"] in CANDIDATE_FAILURES:
                tally["candidate_failures"] += a["n"]
        best_so_far: float | None = None
        records = []
        for g in gens:
            index = g["generation"]
            evaluations, screened = counts.get(index, (0, 0))
            if g["finished"] is not None:
                best, mean_fitness = g["best_fitness"], g["mean_fitness"]
                best_candidate, new_best = g["best_candidate"], bool(g["new_best"])
            else:
                best, mean_fitness, best_candidate = generation_summary(results.get(index, []))
                new_best = best is not None and (best_so_far is None or best > best_so_far)
            if best is not None and (best_so_far is None or best > best_so_far):
                best_so_far = best
            records.append(
                GenerationRecord(
                    generation=index,
                    started=g["started"],
                    finished=g["finished"],
                    population=g["population"],
                    mean=None if g["mean"] is None else json.loads(g["mean"]),
                    sigma=g["sigma"],
                    best_fitness=best,
                    mean_fitness=mean_fitness,
                    best_candidate=best_candidate,
                    new_best=new_best,
                    evaluations=evaluations,
                    screened=screened or 0,
                    **tallies.get(index, dict.fromkeys(_TALLIES, 0)),
                )
            )
        return records

    def candidates(self, generation: int | None = None) -> list[CandidateRecord]:
        """Candidates with θ, status and fitness.

        Args:
            generation: only this generation's (default: all).

        Returns:
            :class:`~.frozen.CandidateRecord` s in (generation, candidate) order.
        """
        sql = "SELECT generation, candidate, theta, status, fitness, updated FROM candidates"
        args: tuple[Any, ...] = ()
        if generation is not None:
            sql += " WHERE generation = ?"
            args = (generation,)
        with self._read() as conn:
            rows = conn.execute(sql + " ORDER BY generation, candidate", args).fetchall()
        loads = json.loads
        return [CandidateRecord(r[0], r[1], loads(r[2]), r[3], r[4], r[5]) for r in rows]

    def generation_candidates(self, generation: int) -> list[list[float]] | None:
        """The θ journaled for a generation, or ``None`` if it was not begun.

        Args:
            generation: the generation index.

        Returns:
            The candidates' θ in order, or ``None``.
        """
        rows = self.candidates(generation)
        return [r.theta for r in rows] if rows else None

    def candidate_result(self, generation: int, candidate: int) -> ResultRecord | None:
        """A candidate's final result, or ``None`` if it has none yet (or is not journaled).

        Args:
            generation: generation index.
            candidate: candidate index.

        Returns:
            The :class:`~.frozen.ResultRecord` of a candidate with a final status, else
            ``None``.
        """
        with self._read() as conn:
            row = conn.execute(
                "SELECT status, fitness FROM candidates WHERE generation = ? AND candidate = ?",
                (generation, candidate),
            ).fetchone()
        if row is None or row["status"] not in FINAL_STATUSES:
            return None
        return ResultRecord(status=row["status"], fitness=row["fitness"])

    def attempts(
        self, generation: int | None = None, candidate: int | None = None
    ) -> list[AttemptRecord]:
        """Attempt rows (every training run, infra re-runs included), oldest first.

        Args:
            generation: only this generation's.
            candidate: only this candidate's (with ``generation``).

        Returns:
            :class:`~.frozen.AttemptRecord` s (``history`` decoded, ``{}`` when none).
        """
        sql = f"SELECT {self._attempt_columns()} FROM attempts"
        clauses, args = [], []
        if generation is not None:
            clauses.append("generation = ?")
            args.append(generation)
        if candidate is not None:
            clauses.append("candidate = ?")
            args.append(candidate)
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        with self._read() as conn:
            rows = conn.execute(sql + " ORDER BY id", args).fetchall()
        return [_attempt_record(r) for r in rows]

    def _attempt_columns(self) -> str:
        # A schema-1 store read as it is: every attempt was in seed slot 0.
        if self.schema_version < 2:
            return _ATTEMPT_COLUMNS.replace("seed_index", "0 AS seed_index")
        return _ATTEMPT_COLUMNS

    def finished_attempts(self, generation: int | None = None) -> list[AttemptRecord]:
        """Attempts that ended with an outcome (not running, not interrupted), oldest first.

        The engine replays them on resume so that no finished attempt is run again.

        Args:
            generation: only this generation's (default: all).

        Returns:
            Records as :meth:`attempts`.
        """
        return [
            a
            for a in self.attempts(generation)
            if a.ended is not None and a.status not in (Status.RUNNING, Status.INTERRUPTED)
        ]

    def workers(self) -> list[WorkerRecord]:
        """Worker rows, by worker id, as :class:`~.frozen.WorkerRecord` s."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT worker, device, pid, state, generation, candidate, attempt, since, "
                "last_status, last_fitness, updated FROM workers ORDER BY worker"
            ).fetchall()
        return [WorkerRecord(*r) for r in rows]

    def events(self, limit: int | None = None, since_id: int | None = None) -> list[EventRecord]:
        """Events, oldest first.

        Args:
            limit: only the latest ``limit`` events.
            since_id: only events with ``id > since_id`` (for incremental polling).

        Returns:
            :class:`~.frozen.EventRecord` s.
        """
        sql = "SELECT id, time, kind, message, generation, candidate FROM events"
        args: list[Any] = []
        if since_id is not None:
            sql += " WHERE id > ?"
            args.append(since_id)
        sql += " ORDER BY id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(int(limit))
        with self._read() as conn:
            rows = conn.execute(sql, args).fetchall()
        return [EventRecord(*r) for r in reversed(rows)]

    def best(self) -> BestRecord | None:
        """The best candidate with a final result (ties: the earliest).

        Returns:
            The :class:`~.frozen.BestRecord`, or ``None`` before any result.
        """
        placeholders = ", ".join("?" for _ in FINAL_STATUSES)
        with self._read() as conn:
            row = conn.execute(
                "SELECT generation, candidate, theta, COALESCE(fitness, 0.0) AS fitness "
                f"FROM candidates WHERE status IN ({placeholders}) "
                "ORDER BY fitness DESC, generation, candidate LIMIT 1",
                FINAL_STATUSES,
            ).fetchone()
        if row is None:
            return None
        return BestRecord(
            theta=json.loads(row["theta"]),
            fitness=float(row["fitness"]),
            generation=int(row["generation"]),
            candidate=int(row["candidate"]),
        )

    def chosen(self) -> ChosenRecord | None:
        """The loss the run hands its user: the chosen finalist, else the best single evaluation.

        Before the finalist stage has chosen (a run without one, one made before finalists
        existed, or one still searching) this is the best single evaluation
        (:meth:`best`), with ``source = "best_evaluation"``.

        Returns:
            The :class:`~.frozen.ChosenRecord`, or ``None`` before any result.
        """
        with self._read():
            picked = [f for f in self.finalists() if f.chosen]
            best = None if picked else self.best()
        if picked:
            f = picked[0]
            return ChosenRecord(
                theta=f.theta,
                fitness=0.0 if f.fitness is None else f.fitness,
                source="finalist",
                generation=f.generation,
                candidate=f.candidate,
                finalist=f.finalist,
                search_fitness=f.search_fitness,
            )
        if best is None:
            return None
        return ChosenRecord(
            theta=best.theta,
            fitness=best.fitness,
            source="best_evaluation",
            generation=best.generation,
            candidate=best.candidate,
            finalist=None,
            search_fitness=best.fitness,
        )

    def evaluations(self) -> int:
        """How many candidates have their final result (planned: population × generations)."""
        placeholders = ", ".join("?" for _ in FINAL_STATUSES)
        with self._read() as conn:
            return int(
                conn.execute(
                    f"SELECT COUNT(*) FROM candidates WHERE status IN ({placeholders})",
                    FINAL_STATUSES,
                ).fetchone()[0]
            )

    def oracle_state(self, generation: int, which: str = "before") -> bytes | None:
        """A generation's saved oracle state.

        Args:
            generation: the generation index.
            which: ``"before"`` (before ``ask``) or ``"after"`` (after ``tell``).

        Returns:
            The bytes, or ``None`` if not saved (yet).

        Raises:
            ValueError: for another ``which``.
        """
        if which not in ("before", "after"):
            raise ValueError(f"which must be 'before' or 'after'; got {which!r}")
        with self._read() as conn:
            row = conn.execute(
                f"SELECT state_{which} FROM generations WHERE generation = ?", (generation,)
            ).fetchone()
        return None if row is None or row[0] is None else bytes(row[0])

    def generation_state_before(self, generation: int) -> bytes:
        """The oracle state saved before ``ask`` of a begun generation.

        Args:
            generation: the generation index.

        Returns:
            The bytes.

        Raises:
            StoreError: if the generation was not begun.
        """
        state = self.oracle_state(generation, "before")
        if state is None:
            raise StoreError(f"generation {generation} is not journaled in {self.path}")
        return state

    def latest_oracle_state(self) -> bytes | None:
        """The oracle state after ``tell`` of the last finished generation (``None``: none yet).

        On resume, restore it, then, if :meth:`unfinished_generation` names a generation,
        restore that generation's :meth:`generation_state_before` instead and ``ask`` again (the
        same candidates come back).

        Returns:
            The bytes or ``None``.
        """
        with self._read() as conn:
            row = conn.execute(
                "SELECT state_after FROM generations WHERE finished IS NOT NULL "
                "ORDER BY generation DESC LIMIT 1"
            ).fetchone()
        return None if row is None else bytes(row[0])

    def unfinished_generation(self) -> int | None:
        """The generation begun but not finished (at most one), or ``None``."""
        with self._read() as conn:
            row = conn.execute(
                "SELECT generation FROM generations WHERE finished IS NULL "
                "ORDER BY generation LIMIT 1"
            ).fetchone()
        return None if row is None else int(row[0])


_ATTEMPT_COLUMNS = ", ".join(AttemptRecord.__dataclass_fields__)
_TALLIES = ("attempts", "retries", "running", "candidate_failures", "infra_failures")


def _attempt_record(row: sqlite3.Row) -> AttemptRecord:
    values = {key: row[key] for key in row.keys()}  # noqa: SIM118 - sqlite3.Row is no dict
    values["history"] = json.loads(values["history"]) if values["history"] else {}
    return AttemptRecord(**values)
