"""The store's read views: what the status command, the monitor, resume and the analysis read.

Every view reads inside one transaction (a consistent snapshot, never blocking the writer) and
returns plain, JSON-ready dicts and lists (no NaN: missing numbers are ``None``).
:meth:`Queries.status_json` is the ``keras-taylorglo status --json`` contract.

This module imports no TensorFlow.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from ..errors import StoreError
from ..records import FINAL_STATUSES, INFRA, INTERRUPTED, RUNNING
from .base import StoreBase
from .lock import is_locked
from .schema import CANDIDATE_FAILURES

__all__ = ["Queries"]


class Queries(StoreBase):
    """The read views of a store."""

    def meta(self) -> dict[str, Any]:
        """All meta values (``recipe_text`` included) as a dict."""
        with self._read() as conn:
            rows = conn.execute("SELECT key, value FROM meta").fetchall()
        return {r["key"]: json.loads(r["value"]) for r in rows}

    def recipe_text(self) -> str:
        """The resolved recipe TOML the run was started with."""
        with self._read():
            return str(self._meta_value("recipe_text", ""))

    def state(self) -> str:
        """The run's real state: ``running`` only while a live process holds the run's lock.

        Returns:
            ``finished`` if the search finished; ``running`` if meta says so and the lock is
            held; otherwise ``interrupted``.
        """
        with self._read():
            recorded = self._meta_value("state", "interrupted")
        if recorded == "finished":
            return "finished"
        if recorded == "running" and is_locked(self.run_dir):
            return "running"
        return "interrupted"

    def generations(self) -> list[dict[str, Any]]:
        """Every generation begun, with live aggregates (also for the generation in progress).

        Returns:
            One dict per generation, in order: ``generation``, ``started``, ``finished``,
            ``population``, ``mean`` (list or ``None`` until finished), ``sigma``,
            ``best_fitness``, ``mean_fitness``, ``best_candidate`` (over the candidates done so
            far), ``new_best``, ``evaluations`` (candidates done), ``screened``, ``attempts``,
            ``retries``, ``running``, ``candidate_failures`` (aborted, diverged or failed
            attempts), ``infra_failures``.
        """
        with self._read() as conn:
            gens = conn.execute(
                "SELECT generation, started, finished, population, mean, sigma, best_fitness, "
                "mean_fitness, best_candidate, new_best FROM generations ORDER BY generation"
            ).fetchall()
            cands = conn.execute(
                "SELECT generation, candidate, status, fitness FROM candidates "
                "ORDER BY generation, candidate"
            ).fetchall()
            atts = conn.execute(
                "SELECT generation, status, attempt > 0 AND rerun = 0 AS retry, COUNT(*) AS n "
                "FROM attempts GROUP BY generation, status, retry"
            ).fetchall()
        by_gen: dict[int, dict[str, Any]] = {}
        for g in gens:
            by_gen[g["generation"]] = {
                "generation": g["generation"],
                "started": g["started"],
                "finished": g["finished"],
                "population": g["population"],
                "mean": None if g["mean"] is None else json.loads(g["mean"]),
                "sigma": g["sigma"],
                "best_fitness": None,
                "mean_fitness": None,
                "best_candidate": None,
                "new_best": False,
                "evaluations": 0,
                "screened": 0,
                "attempts": 0,
                "retries": 0,
                "running": 0,
                "candidate_failures": 0,
                "infra_failures": 0,
            }
        sums: dict[int, float] = {}
        for c in cands:
            entry = by_gen.get(c["generation"])
            if entry is None or c["status"] not in FINAL_STATUSES:
                continue
            fitness = 0.0 if c["fitness"] is None else c["fitness"]
            entry["evaluations"] += 1
            entry["screened"] += c["status"] == "screened"
            sums[c["generation"]] = sums.get(c["generation"], 0.0) + fitness
            if entry["best_fitness"] is None or fitness > entry["best_fitness"]:
                entry["best_fitness"] = fitness
                entry["best_candidate"] = c["candidate"]
        for a in atts:
            entry = by_gen.get(a["generation"])
            if entry is None:
                continue
            entry["attempts"] += a["n"]
            if a["retry"]:
                entry["retries"] += a["n"]
            if a["status"] == RUNNING:
                entry["running"] += a["n"]
            elif a["status"] == INFRA:
                entry["infra_failures"] += a["n"]
            elif a["status"] in CANDIDATE_FAILURES:
                entry["candidate_failures"] += a["n"]
        best_so_far: float | None = None
        result = []
        for g, entry in sorted(by_gen.items()):
            if entry["evaluations"]:
                entry["mean_fitness"] = sums[g] / entry["evaluations"]
            best = entry["best_fitness"]
            if best is not None and (best_so_far is None or best > best_so_far):
                entry["new_best"] = True
                best_so_far = best
            result.append(entry)
        return result

    def candidates(self, generation: int | None = None) -> list[dict[str, Any]]:
        """Candidates with θ, status and fitness.

        Args:
            generation: only this generation's (default: all).

        Returns:
            Dicts ``generation``, ``candidate``, ``theta`` (list), ``status``, ``fitness``,
            ``updated``, in (generation, candidate) order.
        """
        sql = "SELECT generation, candidate, theta, status, fitness, updated FROM candidates"
        args: tuple[Any, ...] = ()
        if generation is not None:
            sql += " WHERE generation = ?"
            args = (generation,)
        with self._read() as conn:
            rows = conn.execute(sql + " ORDER BY generation, candidate", args).fetchall()
        return [{**dict(r), "theta": json.loads(r["theta"])} for r in rows]

    def generation_candidates(self, generation: int) -> list[list[float]] | None:
        """The θ journaled for a generation, or ``None`` if it was not begun.

        Args:
            generation: the generation index.

        Returns:
            The candidates' θ in order, or ``None``.
        """
        rows = self.candidates(generation)
        return [r["theta"] for r in rows] if rows else None

    def candidate_result(self, generation: int, candidate: int) -> dict[str, Any] | None:
        """A candidate's final result, or ``None`` if it has none yet (or is not journaled).

        Args:
            generation: generation index.
            candidate: candidate index.

        Returns:
            ``{"status", "fitness"}`` for a candidate with a final status, else ``None``.
        """
        with self._read() as conn:
            row = conn.execute(
                "SELECT status, fitness FROM candidates WHERE generation = ? AND candidate = ?",
                (generation, candidate),
            ).fetchone()
        if row is None or row["status"] not in FINAL_STATUSES:
            return None
        return {"status": row["status"], "fitness": row["fitness"]}

    def attempts(
        self, generation: int | None = None, candidate: int | None = None
    ) -> list[dict[str, Any]]:
        """Attempt rows (every training run, infra re-runs included), oldest first.

        Args:
            generation: only this generation's.
            candidate: only this candidate's (with ``generation``).

        Returns:
            Dicts with every ``attempts`` column; ``history`` decoded to a dict.
        """
        sql = "SELECT * FROM attempts"
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
        return [_attempt_dict(r) for r in rows]

    def finished_attempts(self, generation: int | None = None) -> list[dict[str, Any]]:
        """Attempts that ended with an outcome (not running, not interrupted), oldest first.

        The engine replays them on resume so that no finished attempt is run again.

        Args:
            generation: only this generation's (default: all).

        Returns:
            Dicts as :meth:`attempts`.
        """
        return [
            a
            for a in self.attempts(generation)
            if a["ended"] is not None and a["status"] not in (RUNNING, INTERRUPTED)
        ]

    def workers(self) -> list[dict[str, Any]]:
        """Worker rows, by worker id."""
        with self._read() as conn:
            rows = conn.execute("SELECT * FROM workers ORDER BY worker").fetchall()
        return [dict(r) for r in rows]

    def events(self, limit: int | None = None, since_id: int | None = None) -> list[dict[str, Any]]:
        """Events, oldest first.

        Args:
            limit: only the latest ``limit`` events.
            since_id: only events with ``id > since_id`` (for incremental polling).

        Returns:
            Dicts ``id``, ``time``, ``kind``, ``message``, ``generation``, ``candidate``.
        """
        sql = "SELECT * FROM events"
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
        return [dict(r) for r in reversed(rows)]

    def best(self) -> dict[str, Any] | None:
        """The best candidate with a final result (ties: the earliest).

        Returns:
            ``{"theta", "fitness", "generation", "candidate"}`` or ``None`` before any result.
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
        return {
            "theta": json.loads(row["theta"]),
            "fitness": float(row["fitness"]),
            "generation": int(row["generation"]),
            "candidate": int(row["candidate"]),
        }

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

    def progress_summary(self) -> dict[str, Any]:
        """Totals for a progress line.

        Returns:
            ``{"generation": index of the latest generation begun (-1 if none), "evaluations",
            "best" (fitness or None), "retries", "candidate_failures", "infra_failures"}``.
        """
        with self._read():
            gens = self.generations()
            best = self.best()
        return {
            "generation": gens[-1]["generation"] if gens else -1,
            "evaluations": sum(g["evaluations"] for g in gens),
            "best": None if best is None else best["fitness"],
            "retries": sum(g["retries"] for g in gens),
            "candidate_failures": sum(g["candidate_failures"] for g in gens),
            "infra_failures": sum(g["infra_failures"] for g in gens),
        }

    def status_json(self) -> dict[str, Any]:
        """The ``keras-taylorglo status --json`` contract (one consistent snapshot).

        Returns:
            ``{"state": "running" | "finished" | "interrupted", "evaluations": int,
            "generations": [{"index", "best_fitness", "mean_fitness", "sigma", "evaluations",
            "candidate_failures", "infra_failures"}], "best": {"theta": [...], "fitness": float,
            "generation": int, "candidate": int} | None}``. A generation in progress is listed
            with its results so far (``sigma`` is ``None`` until it finishes); ``best`` is
            ``None`` before the first result.
        """
        with self._read():
            gens = self.generations()
            best = self.best()
            state = self.state()
        return {
            "state": state,
            "evaluations": sum(g["evaluations"] for g in gens),
            "generations": [
                {
                    "index": g["generation"],
                    "best_fitness": g["best_fitness"],
                    "mean_fitness": g["mean_fitness"],
                    "sigma": g["sigma"],
                    "evaluations": g["evaluations"],
                    "candidate_failures": g["candidate_failures"],
                    "infra_failures": g["infra_failures"],
                }
                for g in gens
            ],
            "best": best,
        }

    def snapshot(self, events: int = 50) -> dict[str, Any]:
        """Everything the monitor shows, from one consistent read.

        Args:
            events: how many of the latest events to include.

        Returns:
            ``{"meta" (without recipe_text), "state", "generations", "best", "workers",
            "events", "evaluations"}``.
        """
        with self._read():
            meta = self.meta()
            meta.pop("recipe_text", None)
            gens = self.generations()
            snap = {
                "meta": meta,
                "state": self.state(),
                "generations": gens,
                "best": self.best(),
                "workers": self.workers(),
                "events": self.events(limit=events),
                "evaluations": sum(g["evaluations"] for g in gens),
            }
        return snap


def _attempt_dict(row: sqlite3.Row) -> dict[str, Any]:
    entry = dict(row)
    entry["history"] = json.loads(row["history"]) if row["history"] else {}
    return entry
