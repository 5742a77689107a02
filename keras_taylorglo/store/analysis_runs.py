"""The analysis's own table: full trainings of the best loss and the baselines.

Each training is journaled when it starts and when it ends, keyed by (label, θ, train fraction,
run index), so an analysis that is stopped and run again never redoes a finished training.

This module imports no TensorFlow.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from ..errors import StoreError
from ..outcomes import Status
from .base import StoreBase
from .frozen import AnalysisRunRecord
from .schema import (
    ANALYSIS_LABEL_RE,
    ANALYSIS_LABELS,
    _finite_or_none,
    _json_list,
    _now,
    _theta_key,
)

__all__ = ["AnalysisRuns"]


class AnalysisRuns(StoreBase):
    """The analysis trainings: their writes and their read view."""

    def start_analysis_run(
        self,
        label: str,
        theta: Sequence[float] | None,
        train_fraction: float,
        run_index: int,
        seed: int,
        worker: str = "",
        device: str = "",
    ) -> int:
        """Journals the start of one full training of the analysis (or restarts an unfinished one).

        Args:
            label: ``taylorglo`` or ``baseline`` (cross-entropy; ``theta`` is ``None``).
            theta: the θ trained with, ``None`` for the baseline.
            train_fraction: fraction of the training set used (1.0 = all).
            run_index: which of the ``--runs`` repetitions, from 0.
            seed: the training seed.
            worker: the worker id.
            device: the worker's device.

        Returns:
            The row id, for :meth:`finish_analysis_run`.

        Raises:
            ValueError: for an unknown label.
            StoreError: if this run already finished (``ok``): a finished training is never redone.
        """
        if not ANALYSIS_LABEL_RE.match(label):
            raise ValueError(
                f"label must be one of {ANALYSIS_LABELS} or a baseline spec such as 'gce:0.7', "
                f"optionally with '@best_validation'; got {label!r}"
            )
        key = _theta_key(theta)
        now = _now()
        with self._write() as conn:
            row = conn.execute(
                "SELECT id, status FROM analysis_runs WHERE label = ? AND theta_key = ? AND "
                "train_fraction = ? AND run_index = ?",
                (label, key, float(train_fraction), run_index),
            ).fetchone()
            if row is not None and row["status"] == Status.OK:
                raise StoreError(
                    f"analysis run {label} #{run_index} (train fraction {train_fraction}) "
                    "already finished; it is not redone"
                )
            theta_json = None if theta is None else _json_list(theta)
            if row is not None:
                conn.execute(
                    "UPDATE analysis_runs SET seed = ?, status = ?, test_accuracy = NULL, "
                    "seconds = NULL, started = ?, ended = NULL, error = '', worker = ?, "
                    "device = ?, history = NULL WHERE id = ?",
                    (seed, Status.RUNNING, now, worker, device, row["id"]),
                )
                return int(row["id"])
            cursor = conn.execute(
                "INSERT INTO analysis_runs(label, theta, theta_key, train_fraction, run_index, "
                "seed, status, started, worker, device) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    label,
                    theta_json,
                    key,
                    float(train_fraction),
                    run_index,
                    seed,
                    Status.RUNNING,
                    now,
                    worker,
                    device,
                ),
            )
            return int(cursor.lastrowid)

    def finish_analysis_run(
        self,
        run_id: int,
        status: str,
        test_accuracy: float | None = None,
        seconds: float | None = None,
        error: str = "",
        history: dict[str, list[float]] | None = None,
    ) -> None:
        """Journals the end of one analysis training.

        Args:
            run_id: the id from :meth:`start_analysis_run`.
            status: ``ok``, ``failed``, ``diverged`` or ``infra``.
            test_accuracy: the test-split accuracy (``ok`` runs).
            seconds: wall time.
            error: error text of a failed run.
            history: per-epoch metrics.

        Raises:
            StoreError: for an unknown run id.
        """
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE analysis_runs SET status = ?, test_accuracy = ?, seconds = ?, ended = ?, "
                "error = ?, history = ? WHERE id = ?",
                (
                    status,
                    _finite_or_none(test_accuracy),
                    seconds,
                    _now(),
                    error,
                    None if history is None else json.dumps(history),
                    run_id,
                ),
            )
            if cursor.rowcount != 1:
                raise StoreError(f"no analysis run with id {run_id} in {self.path}")

    def analysis_runs(
        self,
        label: str | None = None,
        train_fraction: float | None = None,
        status: str | None = None,
    ) -> list[AnalysisRunRecord]:
        """Analysis trainings, oldest first.

        Args:
            label: only ``taylorglo`` or ``baseline`` runs.
            train_fraction: only runs with this training-set fraction.
            status: only runs with this status (``"ok"`` = finished).

        Returns:
            :class:`~.frozen.AnalysisRunRecord` s, ``theta`` and ``history`` decoded.
        """
        clauses, args = [], []
        for column, value in (
            ("label", label),
            ("train_fraction", train_fraction),
            ("status", status),
        ):
            if value is not None:
                clauses.append(f"{column} = ?")
                args.append(value)
        sql = f"SELECT {_COLUMNS} FROM analysis_runs"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        with self._read() as conn:
            rows = conn.execute(sql + " ORDER BY id", args).fetchall()
        result = []
        for r in rows:
            entry = dict(r)
            entry["theta"] = None if r["theta"] is None else json.loads(r["theta"])
            entry["history"] = None if r["history"] is None else json.loads(r["history"])
            result.append(AnalysisRunRecord(**entry))
        return result


_COLUMNS = ", ".join(AnalysisRunRecord.__dataclass_fields__)
