"""The monitor's reader: finds runs, opens a run's store read-only and turns it into view records.

It imports the store and NumPy only (no widgets, no TensorFlow), so it can be tested on its own
and read from a worker thread. Every number the monitor shows is computed here: elapsed time and
ETA (against an injectable clock, so tests and screenshots are stable), each generation's best θ
and its loss shape in the paper's binary modality (shifted so the loss at ``y0 = 1`` is zero,
Fig. 3a), and the candidates of one generation with their attempts. The records are in
:mod:`keras_taylorglo_tui.view_rows`.

Example:
    >>> from keras_taylorglo_tui.reader import RunReader
    >>> reader = RunReader("runs/digits")  # doctest: +SKIP
    >>> snapshot = reader.read()  # doctest: +SKIP
    >>> snapshot.generations[-1].best  # doctest: +SKIP
    0.9433
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from keras_taylorglo.errors import StoreError
from keras_taylorglo.outcomes import Status
from keras_taylorglo.store import RunState, Store, WorkerState
from keras_taylorglo.store.frozen import GenerationRecord, WorkerRecord
from keras_taylorglo.store.locate import require_run_dir

from .format import format_about
from .view_rows import (
    AttemptRow,
    CandidateRow,
    FinalistRow,
    GenerationDetail,
    GenerationRow,
    LossSettings,
    MonitorSnapshot,
    RunSummary,
    WorkerRow,
    from_record,
)

__all__ = ["Clock", "RunReader", "find_runs", "open_run"]

Clock = Callable[[], float]
"""A function returning the current POSIX time (``time.time`` unless a test freezes it)."""


# ----------------------------------------------------------------------------- run discovery


def open_run(run_dir: str | os.PathLike[str]) -> Store:
    """Opens a run's store read-only, with a one-line error for a missing or foreign directory.

    Args:
        run_dir: the run directory.

    Returns:
        The store.

    Raises:
        StoreError: if ``run_dir`` holds no keras-taylorglo store (the one message of
            :func:`keras_taylorglo.store.locate.no_run_error`, as every command gives it).
    """
    return Store.open(require_run_dir(run_dir), readonly=True)


def find_runs(runs_root: str | os.PathLike[str]) -> list[RunSummary]:
    """Lists the run directories directly under ``runs_root`` (newest first).

    Directories without a readable store are left out.

    Args:
        runs_root: the folder holding run directories (``runs/`` by default).

    Returns:
        One summary per run.
    """
    root = Path(runs_root)
    if not root.is_dir():
        return []
    found: list[tuple[float, RunSummary]] = []
    for path in sorted(root.iterdir()):
        if not Store.exists(path):
            continue
        try:
            with Store.open(path, readonly=True) as store:
                summary = store.progress_summary()
                meta = store.meta()
                state = store.state()
        except StoreError:
            continue
        found.append(
            (
                float(meta.get("created") or 0.0),
                RunSummary(
                    path=path,
                    name=str(meta.get("name") or path.name),
                    state=state,
                    generations=summary.generation + 1,
                    best=summary.best,
                ),
            )
        )
    found.sort(key=lambda item: -item[0])
    return [summary for _, summary in found]


# ------------------------------------------------------------------------------------ reading


class RunReader:
    """Reads one run's store into :class:`MonitorSnapshot` and :class:`GenerationDetail` records.

    Thread-safe for one reader thread at a time (the monitor reads from a worker thread). θ and
    loss shapes are cached: a candidate's θ never changes once journaled.

    Args:
        run_dir: the run directory.
        clock: returns the current time; tests pass a fixed clock.
        events: how many of the latest events a snapshot holds.

    Raises:
        StoreError: if ``run_dir`` holds no keras-taylorglo store.

    Example:
        >>> reader = RunReader("runs/digits", clock=lambda: 1_700_000_000.0)  # doctest: +SKIP
        >>> [g.best for g in reader.read().generations]  # doctest: +SKIP
        [0.82, 0.91, 0.93]
    """

    def __init__(
        self,
        run_dir: str | os.PathLike[str],
        clock: Clock = time.time,
        events: int = 50,
    ) -> None:
        self.run_dir = Path(run_dir)
        self.clock = clock
        self.events = events
        self.store = open_run(run_dir)
        self._theta: dict[tuple[int, int], tuple[float, ...]] = {}
        self._shapes: dict[tuple[float, ...], tuple[np.ndarray, np.ndarray] | None] = {}

    def close(self) -> None:
        """Closes the store connection."""
        self.store.close()

    # -- helpers ---------------------------------------------------------------------------

    def _best_thetas(self, gens: list[GenerationRecord]) -> None:
        wanted = [
            (g.generation, g.best_candidate)
            for g in gens
            if g.best_candidate is not None and (g.generation, g.best_candidate) not in self._theta
        ]
        if not wanted:
            return
        # one query for many generations (first read of a long run), else one per generation
        if len(wanted) > 4:
            rows = self.store.candidates()
        else:
            rows = [r for g, _ in wanted for r in self.store.candidates(g)]
        for r in rows:
            self._theta[(r.generation, r.candidate)] = tuple(float(v) for v in r.theta)

    def shape(
        self, theta: Sequence[float], loss: LossSettings
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """The shifted loss shape of θ (cached).

        Args:
            theta: the θ.
            loss: the loss settings.

        Returns:
            ``(y0, loss)`` or ``None`` (see :meth:`LossSettings.shifted_shape`).
        """
        key = tuple(float(v) for v in theta)
        if key not in self._shapes:
            self._shapes[key] = loss.shifted_shape(key)
        return self._shapes[key]

    @staticmethod
    def _elapsed(
        meta: dict[str, Any], state: str, gens: list[GenerationRecord], now: float
    ) -> float | None:
        created = meta.get("created")
        if created is None:
            return None
        if state == RunState.RUNNING:
            end = now
        elif state == RunState.FINISHED and meta.get("finished") is not None:
            end = float(meta["finished"])
        else:
            # interrupted: the last thing the run wrote
            times = [float(meta.get("updated") or created)]
            times += [g.finished or g.started for g in gens if g.started is not None]
            end = max(times)
        return max(0.0, end - float(created))

    @staticmethod
    def _eta(state: str, gens: list[GenerationRecord], remaining: int | None) -> float | None:
        """Seconds left: ``remaining`` partial trainings at the pace of the finished generations.

        ``None`` (shown as ``—``) while no generation has finished: an estimate from the first
        evaluations alone said 8:33 for a search that took 2:12 in all. ``remaining`` is
        ``None`` when the work left is not partial trainings (full-budget finalists).
        """
        if state != RunState.RUNNING or remaining is None:
            return None
        if remaining <= 0:
            return 0.0
        # seconds per evaluation over finished generations (gaps between a crash and a resume
        # do not count)
        done = [g for g in gens if g.finished is not None and g.evaluations]
        if not done:
            return None
        seconds = sum(g.finished - g.started for g in done)
        return remaining * seconds / sum(g.evaluations for g in done)

    def _finalists(self, meta: dict[str, Any]) -> tuple[list[FinalistRow], int, int]:
        """The finalist stage: its rows, and its trainings done and planned (0, 0 without one)."""
        settings = meta.get("finalists") or {}
        count, seeds = int(settings.get("count") or 0), int(settings.get("seeds") or 0)
        if not count:
            return [], 0, 0
        stage = meta.get("finalist_stage") or {}
        seeds = int(stage.get("seeds") or seeds)
        done: dict[int, int] = {}
        for run in self.store.finalist_runs(finished=True):
            if run.status != Status.INFRA:  # an infra failure is re-run, not a result
                done[run.finalist] = done.get(run.finalist, 0) + 1
        rows = [
            FinalistRow(
                finalist=f.finalist,
                origin=format_about(f.generation, f.candidate) or "CMA-ES mean",
                search_fitness=f.search_fitness,
                status=f.status,
                done=done.get(f.finalist, 0),
                planned=seeds,
                fitness=f.fitness,
                chosen=f.chosen,
            )
            for f in self.store.finalists()
        ]
        # Before the stage begins, the engine's plan: the top `count` and the CMA-ES mean.
        planned = len(rows) * seeds if rows else (count + 1) * seeds
        return rows, sum(done.values()), planned

    def _generation_rows(
        self, gens: list[GenerationRecord], loss: LossSettings
    ) -> tuple[list[GenerationRow], dict[int, tuple[np.ndarray, np.ndarray]]]:
        self._best_thetas(gens)
        rows: list[GenerationRow] = []
        shapes: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        all_time: float | None = None
        for g in gens:
            best = g.best_fitness
            if best is not None and (all_time is None or best > all_time):
                all_time = best
            theta = None
            if g.best_candidate is not None:
                theta = self._theta.get((g.generation, g.best_candidate))
            if theta is not None:
                shape = self.shape(theta, loss)
                if shape is not None:
                    shapes[g.generation] = shape
            # the record's columns of the same names fill the rest (population, sigma, counts)
            rows.append(
                from_record(
                    GenerationRow,
                    g,
                    index=g.generation,
                    best=best,
                    mean=g.mean_fitness,
                    new_best=g.new_best,
                    finished=g.finished is not None,
                    best_theta=theta,
                    all_time_best=all_time,
                    ended=g.finished,
                )
            )
        return rows, shapes

    # -- reads -----------------------------------------------------------------------------

    def read(self) -> MonitorSnapshot:
        """Reads the store once (one consistent snapshot) into display records.

        Returns:
            The snapshot.
        """
        snap = self.store.snapshot(events=self.events)
        now = float(self.clock())
        meta = snap.meta
        loss = LossSettings.from_meta(meta)
        gens = snap.generations
        rows, shapes = self._generation_rows(gens, loss)
        state = snap.state
        planned = int(meta.get("planned_evaluations") or 0)
        elapsed = self._elapsed(meta, state, gens, now)
        evaluations = snap.evaluations
        finalists, finals_done, finals_planned = self._finalists(meta)
        remaining = None if planned <= 0 else planned - evaluations
        if remaining is not None and finals_planned:
            full = (meta.get("finalists") or {}).get("budget") == "full"
            remaining = None if full else remaining + finals_planned - finals_done
        chosen = self.store.chosen() if finalists else None
        # "for how long" only means something while the search runs
        workers = [
            self._worker_row(w, now if state == RunState.RUNNING else None) for w in snap.workers
        ]
        return MonitorSnapshot(
            name=str(meta.get("name") or self.run_dir.name),
            recipe=str(meta.get("recipe_source") or "—"),
            state=state,
            now=now,
            elapsed=elapsed,
            evaluations=evaluations,
            planned=planned,
            eta=self._eta(state, gens, remaining),
            best=snap.best,
            generations=rows,
            workers=workers,
            events=snap.events,
            loss=loss,
            shapes=shapes,
            label_noise=meta.get("label_noise") or None,
            run_dir=str(self.run_dir),
            finalists=finalists,
            chosen=chosen if chosen is not None and chosen.source == "finalist" else None,
            finalists_done=finals_done,
            finalists_planned=finals_planned,
        )

    @staticmethod
    def _worker_row(w: WorkerRecord, now: float | None) -> WorkerRow:
        task = ""
        if w.state == WorkerState.BUSY and w.generation is not None:
            task = f"g{w.generation} c{w.candidate} a{w.attempt}"
        elif w.state == WorkerState.BUSY and w.candidate is not None:
            # A finalist training: the store's row holds its rank and seed slot
            # (keras_taylorglo.store.finalists.start_finalist_run).
            task = f"f{w.candidate} s{w.attempt}"
        last = ""
        if w.last_status:
            last = w.last_status
            if w.last_fitness is not None:
                last += f" {w.last_fitness:.4f}"
        since = w.since
        # worker and state come from the record as they are (both NOT NULL text columns)
        return from_record(
            WorkerRow,
            w,
            device=w.device or "—",
            task=task,
            for_seconds=None if since is None or now is None else max(0.0, now - since),
            last=last,
        )

    def generation(self, index: int) -> GenerationDetail | None:
        """Reads one generation with its candidates and their attempts.

        Args:
            index: the generation index.

        Returns:
            The detail, or ``None`` if the generation is not journaled.
        """
        loss = LossSettings.from_meta(self.store.meta())
        gens, _ = self._generation_rows(self.store.generations(), loss)
        rows = [g for g in gens if g.index == index]
        if not rows:
            return None
        attempts: dict[int, list[AttemptRow]] = {}
        for a in self.store.attempts(index):
            attempts.setdefault(a.candidate, []).append(
                from_record(AttemptRow, a, error=a.error or "")
            )
        candidates = [
            from_record(
                CandidateRow,
                c,
                index=c.candidate,
                theta=tuple(float(v) for v in c.theta),
                attempts=tuple(attempts.get(c.candidate, ())),
            )
            for c in self.store.candidates(index)
        ]
        return GenerationDetail(rows[0], candidates, loss)
