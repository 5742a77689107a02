"""The finalist stage's tables: the finalists, their trainings and the chosen one.

After the last generation the engine journals the finalists at once (:meth:`begin_finalists`),
then each training as it starts and ends, like the search's attempts, so a driver killed during
the stage resumes it exactly: a finished training is never redone. The rules (which candidates
become finalists, how their trainings count, which is chosen) are the search's
(:mod:`keras_taylorglo.search.trial`); this module only records them.

A store of schema 1 has no finalist tables; its read views here return nothing.

This module imports no TensorFlow.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import StoreError
from ..outcomes import STATUSES, Outcome, Status
from .base import StoreBase
from .frozen import FinalistRecord, FinalistRunRecord
from .journal import record_run_end
from .schema import _finite_or_none, _json_list, _now

__all__ = ["FINALIST_SOURCES", "Finalists"]

FINALIST_SOURCES: tuple[str, ...] = ("candidate", "mean")
"""Where a finalist came from: a candidate of the search, or the CMA-ES mean at its end."""


class Finalists(StoreBase):
    """The finalist stage: its writes (the engine's) and its read views."""

    # -- writers ---------------------------------------------------------------------------

    def begin_finalists(
        self, finalists: Sequence[Mapping[str, Any]], settings: Mapping[str, Any]
    ) -> None:
        """Journals every finalist of the stage, and its settings, in one transaction.

        Args:
            finalists: In rank order, each ``{"theta", "source", "generation", "candidate",
                "search_fitness"}`` (``source`` one of :data:`FINALIST_SOURCES`).
            settings: The stage's settings (``evolution.finalists`` and the aggregate), kept in
                the meta as ``finalist_stage``.

        Raises:
            StoreError: The stage was already begun, or the store predates it.
            ValueError: An unknown source.
        """
        self._require_finalist_tables()
        now = _now()
        rows = []
        for rank, f in enumerate(finalists):
            if f["source"] not in FINALIST_SOURCES:
                raise ValueError(f"source must be one of {FINALIST_SOURCES}; got {f['source']!r}")
            rows.append(
                (
                    rank,
                    _json_list(f["theta"]),
                    f["source"],
                    f.get("generation"),
                    f.get("candidate"),
                    _finite_or_none(f.get("search_fitness")),
                    Status.PENDING,
                    now,
                )
            )
        try:
            with self._write() as conn:
                conn.executemany(
                    "INSERT INTO finalists(finalist, theta, source, generation, candidate, "
                    "search_fitness, status, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
                self._set_meta(conn, {"finalist_stage": dict(settings)})
        except sqlite3.IntegrityError as exc:
            raise StoreError(f"the finalists are already journaled in {self.path}") from exc

    def start_finalist_run(
        self,
        finalist: int,
        seed_index: int,
        seed: int,
        worker: str = "",
        device: str = "",
        started: float | None = None,
    ) -> int:
        """Journals the start of one finalist training; marks the finalist running.

        Args:
            finalist: The finalist's rank.
            seed_index: The seed slot, from 0.
            seed: The training seed.
            worker: The worker id.
            device: The worker's device.
            started: The start time (default now).

        Returns:
            The training's row id, for :meth:`finish_finalist_run`.
        """
        started = _now() if started is None else started
        with self._write() as conn:
            rerun = conn.execute(
                "SELECT COUNT(*) FROM finalist_runs WHERE finalist = ? AND seed_index = ? "
                "AND status = 'infra'",
                (finalist, seed_index),
            ).fetchone()[0]
            cursor = conn.execute(
                "INSERT INTO finalist_runs(finalist, seed_index, rerun, seed, worker, device, "
                "started, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (finalist, seed_index, rerun, seed, worker, device, started, Status.RUNNING),
            )
            conn.execute(
                "UPDATE finalists SET status = ?, updated = ? WHERE finalist = ?",
                (Status.RUNNING, started, finalist),
            )
            if worker:
                conn.execute(
                    "UPDATE workers SET state = 'busy', generation = NULL, candidate = ?, "
                    "attempt = ?, since = ?, updated = ? WHERE worker = ?",
                    (finalist, seed_index, started, started, worker),
                )
            return int(cursor.lastrowid)

    def finish_finalist_run(
        self,
        run_id: int,
        outcome: Outcome,
        finalist_status: str | None = None,
        finalist_fitness: float | None = None,
        ended: float | None = None,
    ) -> None:
        """Journals the end of a finalist training (and the finalist's result when it has one).

        Args:
            run_id: The id from :meth:`start_finalist_run`.
            outcome: What the training produced.
            finalist_status: When given, the finalist's final status, in the same transaction.
            finalist_fitness: Its aggregate fitness, with ``finalist_status``.
            ended: The end time (default now).

        Raises:
            StoreError: For an unknown id.
            ValueError: For an unknown status.
        """
        ended = _now() if ended is None else ended
        if finalist_status is not None and finalist_status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}; got {finalist_status!r}")
        with self._write() as conn:
            row = record_run_end(conn, "finalist_runs", run_id, outcome, ended)
            if row is None:
                raise StoreError(f"no finalist training with id {run_id} in {self.path}")
            if finalist_status is not None:
                conn.execute(
                    "UPDATE finalists SET status = ?, fitness = ?, updated = ? WHERE finalist = ?",
                    (finalist_status, _finite_or_none(finalist_fitness), ended, row["finalist"]),
                )

    def choose_finalist(self, finalist: int) -> None:
        """Marks ``finalist`` as the chosen loss (and no other), in one transaction.

        Args:
            finalist: The finalist's rank.

        Raises:
            StoreError: No such finalist.
        """
        with self._write() as conn:
            conn.execute("UPDATE finalists SET chosen = 0 WHERE chosen != 0")
            cursor = conn.execute(
                "UPDATE finalists SET chosen = 1, updated = ? WHERE finalist = ?",
                (_now(), finalist),
            )
            if cursor.rowcount != 1:
                raise StoreError(f"no finalist {finalist} is journaled in {self.path}")

    def _require_finalist_tables(self) -> None:
        if self.schema_version < 2:
            raise StoreError(f"{self.path} predates the finalist stage (store schema 1)")

    # -- readers ---------------------------------------------------------------------------

    def finalists(self) -> list[FinalistRecord]:
        """The finalists in rank order (none before the stage began, or in a schema-1 store).

        Returns:
            :class:`~.frozen.FinalistRecord` s.
        """
        if self.schema_version < 2:
            return []
        with self._read() as conn:
            rows = conn.execute(
                "SELECT finalist, theta, source, generation, candidate, search_fitness, status, "
                "fitness, chosen, updated FROM finalists ORDER BY finalist"
            ).fetchall()
        return [
            FinalistRecord(
                finalist=r["finalist"],
                theta=json.loads(r["theta"]),
                source=r["source"],
                generation=r["generation"],
                candidate=r["candidate"],
                search_fitness=r["search_fitness"],
                status=r["status"],
                fitness=r["fitness"],
                chosen=bool(r["chosen"]),
                updated=r["updated"],
            )
            for r in rows
        ]

    def finalist_runs(self, finished: bool = False) -> list[FinalistRunRecord]:
        """Every finalist training (infra re-runs included), oldest first.

        Args:
            finished: Only those that ended with an outcome (not running, not interrupted): what
                a resumed stage replays instead of running again.

        Returns:
            :class:`~.frozen.FinalistRunRecord` s (``history`` decoded, ``{}`` when none).
        """
        if self.schema_version < 2:
            return []
        with self._read() as conn:
            rows = conn.execute("SELECT * FROM finalist_runs ORDER BY id").fetchall()
        records = []
        for r in rows:
            values = {key: r[key] for key in r.keys()}  # noqa: SIM118 - sqlite3.Row is no dict
            values["history"] = json.loads(values["history"]) if values["history"] else {}
            records.append(FinalistRunRecord(**values))
        if finished:
            return [
                r
                for r in records
                if r.ended is not None and r.status not in (Status.RUNNING, Status.INTERRUPTED)
            ]
        return records
