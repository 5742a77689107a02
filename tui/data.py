"""The monitor's data layer: reads a run's store and turns it into plain, display-ready records.

It imports the store and NumPy only (no widgets, no TensorFlow), so it can be tested on its own
and read from a worker thread. Every number the monitor shows is computed here: elapsed time and
ETA (against an injectable clock, so tests and screenshots are stable), each generation's best θ
and its loss shape in the paper's binary modality (shifted so the loss at ``y0 = 1`` is zero,
Fig. 3a), and the candidates of one generation with their attempts.

Example:
    >>> from tui.data import RunReader
    >>> reader = RunReader("runs/digits")  # doctest: +SKIP
    >>> snapshot = reader.read()  # doctest: +SKIP
    >>> snapshot.generations[-1].best  # doctest: +SKIP
    0.9433
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from keras_taylorglo.errors import StoreError
from keras_taylorglo.expansion import DEFAULT_INPUTS, loss_shape, theta_labels
from keras_taylorglo.store import Store

__all__ = [
    "AttemptRow",
    "CandidateRow",
    "EventRow",
    "GenerationDetail",
    "GenerationRow",
    "LossSettings",
    "MonitorSnapshot",
    "RunReader",
    "RunSummary",
    "WorkerRow",
    "find_runs",
    "format_duration",
    "format_fitness",
    "format_label_noise",
    "open_run",
]

Clock = Callable[[], float]
"""A function returning the current POSIX time (``time.time`` unless a test freezes it)."""

LOSS_POINTS = 101
"""How many ``y0`` values a loss shape is sampled at (0, 0.01, ..., 1)."""


# ----------------------------------------------------------------------------- formatting


def format_duration(seconds: float | None) -> str:
    """Formats a duration as ``H:MM:SS`` (``D d H:MM:SS`` past a day), or ``"—"`` if unknown.

    Args:
        seconds: the duration; ``None``, NaN or negative values are unknown.

    Returns:
        The text.

    Example:
        >>> format_duration(3725)
        '1:02:05'
        >>> format_duration(None)
        '—'
    """
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "—"
    total = int(round(seconds))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{days}d {text}" if days else text


def format_fitness(value: float | None, digits: int = 4) -> str:
    """Formats a fitness (or any number) with fixed digits, ``"—"`` when missing.

    Args:
        value: the number or ``None``.
        digits: digits after the point.

    Returns:
        The text.

    Example:
        >>> format_fitness(0.93456)
        '0.9346'
    """
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value:.{digits}f}"


def format_label_noise(noise: dict[str, Any] | None) -> str:
    """Describes a run's label noise (the store's ``label_noise`` meta) in one line.

    Args:
        noise: ``{"rate", "kind", "validation", "realised_train", "realised_validation"}`` as
            the first worker reported it; ``None`` or empty for a run without it.

    Returns:
        ``"symmetric 0.40 (realised 0.397 train, 0.410 validation)"``, with ``clean
        validation`` for a clean validation set; ``""`` when there is no label noise.

    Example:
        >>> format_label_noise({"rate": 0.4, "kind": "symmetric", "validation": False,
        ...                     "realised_train": 0.3971, "realised_validation": None})
        'symmetric 0.40 (realised 0.397 train, clean validation)'
    """
    if not noise:
        return ""
    parts = []
    train = noise.get("realised_train")
    if train is not None:
        parts.append(f"{float(train):.3f} train")
    validation = noise.get("realised_validation")
    if not noise.get("validation", True):
        parts.append("clean validation")
    elif validation is not None:
        parts.append(f"{float(validation):.3f} validation")
    text = f"{noise.get('kind', '?')} {float(noise.get('rate') or 0.0):.2f}"
    if parts:
        if parts[0] != "clean validation":
            parts[0] = "realised " + parts[0]
        text += f" ({', '.join(parts)})"
    return text


# -------------------------------------------------------------------------------- records


@dataclass(frozen=True)
class LossSettings:
    """How θ maps to a loss (from the run's meta): order, inputs, trim, convention.

    Args:
        order: the Taylor order.
        inputs: the input names in θ order.
        trim: whether prediction-independent terms are dropped.
        convention: ``"paper"`` or ``"lossferatu"``.
    """

    order: int = 3
    inputs: tuple[str, ...] = DEFAULT_INPUTS
    trim: bool = True
    convention: str = "paper"

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> LossSettings:
        """Reads the loss settings from a store's meta (defaults for missing keys).

        Args:
            meta: ``Store.meta()``.

        Returns:
            The settings.
        """
        return cls(
            order=int(meta.get("order", 3)),
            inputs=tuple(meta.get("inputs") or DEFAULT_INPUTS),
            trim=bool(meta.get("trim", True)),
            convention=str(meta.get("convention", "paper")),
        )

    def labels(self, num_params: int) -> list[str]:
        """Names of the θ entries (``θ0``, ``θ1``, ... if the settings do not match θ).

        Args:
            num_params: the length of θ.

        Returns:
            One label per θ entry.
        """
        try:
            names = theta_labels(self.inputs, self.order, self.trim)
        except ValueError:
            names = []
        if len(names) != num_params:
            return [f"θ{i}" for i in range(num_params)]
        return names

    def shifted_shape(self, theta: Sequence[float]) -> tuple[np.ndarray, np.ndarray] | None:
        """The loss in the binary modality, shifted so that the loss at ``y0 = 1`` is zero.

        Args:
            theta: the candidate's θ.

        Returns:
            ``(y0, loss)`` arrays of :data:`LOSS_POINTS` values, or ``None`` if θ does not fit
            these settings or the loss is not finite.
        """
        try:
            y0, loss = loss_shape(
                theta,
                np.linspace(0.0, 1.0, LOSS_POINTS),
                order=self.order,
                inputs=self.inputs,
                trim=self.trim,
                convention=self.convention,
            )
        except ValueError:
            return None
        if not np.all(np.isfinite(loss)):
            return None
        return y0, loss - loss[-1]


@dataclass(frozen=True)
class GenerationRow:
    """One generation as the table and the plots show it.

    Args:
        index: generation index (from 0).
        population: candidates in it.
        evaluations: candidates with a final result.
        best: best fitness so far in it (``None`` before any result).
        mean: mean fitness of the finished candidates.
        sigma: CMA-ES step size after this generation (``None`` until it finishes).
        retries: retry attempts (after aborts or failures).
        candidate_failures: aborted, diverged or failed attempts.
        infra_failures: attempts lost to the infrastructure.
        running: attempts running now.
        new_best: whether it set a new all-time best.
        finished: whether the generation was told to CMA-ES.
        best_candidate: index of its best candidate.
        best_theta: that candidate's θ.
        all_time_best: the best fitness of this and all earlier generations.
        started: start time; ``ended``: finish time (``None`` while running).
        ended: see ``started``.
    """

    index: int
    population: int
    evaluations: int
    best: float | None
    mean: float | None
    sigma: float | None
    retries: int
    candidate_failures: int
    infra_failures: int
    running: int
    new_best: bool
    finished: bool
    best_candidate: int | None
    best_theta: tuple[float, ...] | None
    all_time_best: float | None
    started: float | None = None
    ended: float | None = None


@dataclass(frozen=True)
class WorkerRow:
    """One worker as the workers panel shows it.

    Args:
        worker: its id.
        device: its device (group).
        state: ``starting`` | ``idle`` | ``busy`` | ``dead``.
        task: ``"g3 c5 a0"`` while busy, else ``""``.
        for_seconds: how long it has been in this state.
        last: the last result, e.g. ``"ok 0.9310"``.
    """

    worker: str
    device: str
    state: str
    task: str
    for_seconds: float | None
    last: str


@dataclass(frozen=True)
class EventRow:
    """One journaled event.

    Args:
        id: the event id.
        time: POSIX time.
        kind: one of :data:`keras_taylorglo.store.EVENT_KINDS`.
        message: one line.
        generation: the generation it is about, if any.
        candidate: the candidate it is about, if any.
    """

    id: int
    time: float
    kind: str
    message: str
    generation: int | None = None
    candidate: int | None = None

    @property
    def about(self) -> str:
        """``"g3 c5"`` (``"g3"`` for a generation, ``""`` for the run), as the other panels say."""
        if self.generation is None:
            return ""
        return f"g{self.generation}" + ("" if self.candidate is None else f" c{self.candidate}")


@dataclass(frozen=True)
class MonitorSnapshot:
    """Everything the main screen shows, from one consistent read of the store.

    Args:
        name: experiment name.
        recipe: the recipe file the run was started from.
        state: ``running`` | ``finished`` | ``interrupted``.
        now: the clock's time at the read.
        elapsed: seconds since the run was created (until it finished or last wrote).
        evaluations: candidates with a final result.
        planned: planned evaluations (population × generations).
        eta: estimated seconds to the end (``None`` when unknown or not running).
        best: ``{"theta", "fitness", "generation", "candidate"}`` or ``None``.
        generations: the generations in order.
        workers: the workers.
        events: the latest events, oldest first.
        loss: the loss settings.
        shapes: generation index -> shifted loss shape of its best θ (``(y0, loss)``).
        label_noise: the run's label noise as its workers realised it (the store's meta, see
            :func:`format_label_noise`), or ``None``.
    """

    name: str
    recipe: str
    state: str
    now: float
    elapsed: float | None
    evaluations: int
    planned: int
    eta: float | None
    best: dict[str, Any] | None
    generations: list[GenerationRow]
    workers: list[WorkerRow]
    events: list[EventRow]
    loss: LossSettings
    shapes: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    label_noise: dict[str, Any] | None = None


@dataclass(frozen=True)
class AttemptRow:
    """One attempt (training run) of a candidate.

    Args:
        attempt: attempt number (from 0).
        rerun: infrastructure re-runs of this attempt before this one.
        status: the attempt's status.
        fitness: its fitness, if it ended with one.
        seconds: wall time.
        worker: the worker that ran it.
        device: the worker's device.
        error: error text, if any.
    """

    attempt: int
    rerun: int
    status: str
    fitness: float | None
    seconds: float | None
    worker: str
    device: str
    error: str


@dataclass(frozen=True)
class CandidateRow:
    """One candidate of a generation with its attempts.

    Args:
        index: candidate index.
        theta: its θ.
        status: its status (final or ``running``/``pending``).
        fitness: its final fitness.
        attempts: its attempts, oldest first.
    """

    index: int
    theta: tuple[float, ...]
    status: str
    fitness: float | None
    attempts: tuple[AttemptRow, ...]

    @property
    def attempts_text(self) -> str:
        """The attempts as one short line, e.g. ``"aborted → ok"``."""
        return " → ".join(a.status for a in self.attempts) or "—"


@dataclass(frozen=True)
class GenerationDetail:
    """One generation with all its candidates (the candidates screen).

    Args:
        generation: the generation's row.
        candidates: its candidates in order.
        loss: the loss settings.
    """

    generation: GenerationRow
    candidates: list[CandidateRow]
    loss: LossSettings


@dataclass(frozen=True)
class RunSummary:
    """One run directory, as the picker lists it.

    Args:
        path: the run directory.
        name: the experiment name.
        state: ``running`` | ``finished`` | ``interrupted``.
        generations: generations begun.
        best: the best fitness so far.
    """

    path: Path
    name: str
    state: str
    generations: int
    best: float | None


# -------------------------------------------------------------------------------- reading


def open_run(run_dir: str | os.PathLike[str]) -> Store:
    """Opens a run's store read-only, with a one-line error for a missing or foreign directory.

    Args:
        run_dir: the run directory.

    Returns:
        The store.

    Raises:
        StoreError: if ``run_dir`` does not exist or holds no keras-taylorglo store.
    """
    path = Path(run_dir)
    if not path.exists():
        raise StoreError(f"{run_dir} does not exist; give a run directory made by `search`")
    if not path.is_dir():
        raise StoreError(f"{run_dir} is not a directory; give a run directory made by `search`")
    return Store.open(path, readonly=True)


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
                    generations=int(summary["generation"]) + 1,
                    best=summary["best"],
                ),
            )
        )
    found.sort(key=lambda item: -item[0])
    return [summary for _, summary in found]


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

    def _best_thetas(self, gens: list[dict[str, Any]]) -> None:
        wanted = [
            (g["generation"], g["best_candidate"])
            for g in gens
            if g["best_candidate"] is not None
            and (g["generation"], g["best_candidate"]) not in self._theta
        ]
        if not wanted:
            return
        # one query for many generations (first read of a long run), else one per generation
        if len(wanted) > 4:
            rows = self.store.candidates()
        else:
            rows = [r for g, _ in wanted for r in self.store.candidates(g)]
        for r in rows:
            self._theta[(r["generation"], r["candidate"])] = tuple(float(v) for v in r["theta"])

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
    def _elapsed(meta: dict[str, Any], state: str, gens: list[dict[str, Any]], now: float):
        created = meta.get("created")
        if created is None:
            return None
        if state == "running":
            end = now
        elif state == "finished" and meta.get("finished") is not None:
            end = float(meta["finished"])
        else:
            # interrupted: the last thing the run wrote
            times = [float(meta.get("updated") or created)]
            times += [g["finished"] or g["started"] for g in gens if g["started"] is not None]
            end = max(times)
        return max(0.0, end - float(created))

    @staticmethod
    def _eta(
        state: str,
        gens: list[dict[str, Any]],
        evaluations: int,
        planned: int,
        elapsed: float | None,
    ) -> float | None:
        if state != "running" or planned <= 0:
            return None
        remaining = planned - evaluations
        if remaining <= 0:
            return 0.0
        # seconds per evaluation over finished generations (gaps between a crash and a resume
        # do not count); before the first one finishes, over the time elapsed so far
        done = [g for g in gens if g["finished"] is not None and g["evaluations"]]
        if done:
            seconds = sum(g["finished"] - g["started"] for g in done)
            per_eval = seconds / sum(g["evaluations"] for g in done)
        elif evaluations and elapsed:
            per_eval = elapsed / evaluations
        else:
            return None
        return remaining * per_eval

    def _generation_rows(
        self, gens: list[dict[str, Any]], loss: LossSettings
    ) -> tuple[list[GenerationRow], dict[int, tuple[np.ndarray, np.ndarray]]]:
        self._best_thetas(gens)
        rows: list[GenerationRow] = []
        shapes: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        all_time: float | None = None
        for g in gens:
            best = g["best_fitness"]
            if best is not None and (all_time is None or best > all_time):
                all_time = best
            theta = None
            if g["best_candidate"] is not None:
                theta = self._theta.get((g["generation"], g["best_candidate"]))
            if theta is not None:
                shape = self.shape(theta, loss)
                if shape is not None:
                    shapes[g["generation"]] = shape
            rows.append(
                GenerationRow(
                    index=g["generation"],
                    population=g["population"],
                    evaluations=g["evaluations"],
                    best=best,
                    mean=g["mean_fitness"],
                    sigma=g["sigma"],
                    retries=g["retries"],
                    candidate_failures=g["candidate_failures"],
                    infra_failures=g["infra_failures"],
                    running=g["running"],
                    new_best=bool(g["new_best"]),
                    finished=g["finished"] is not None,
                    best_candidate=g["best_candidate"],
                    best_theta=theta,
                    all_time_best=all_time,
                    started=g["started"],
                    ended=g["finished"],
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
        meta = snap["meta"]
        loss = LossSettings.from_meta(meta)
        gens = snap["generations"]
        rows, shapes = self._generation_rows(gens, loss)
        state = snap["state"]
        planned = int(meta.get("planned_evaluations") or 0)
        elapsed = self._elapsed(meta, state, gens, now)
        evaluations = int(snap["evaluations"])
        # "for how long" only means something while the search runs
        workers = [
            self._worker_row(w, now if state == "running" else None) for w in snap["workers"]
        ]
        events = [
            EventRow(
                e["id"], e["time"], e["kind"], e["message"], e.get("generation"), e.get("candidate")
            )
            for e in snap["events"]
        ]
        return MonitorSnapshot(
            name=str(meta.get("name") or self.run_dir.name),
            recipe=str(meta.get("recipe_source") or "—"),
            state=state,
            now=now,
            elapsed=elapsed,
            evaluations=evaluations,
            planned=planned,
            eta=self._eta(state, gens, evaluations, planned, elapsed),
            best=snap["best"],
            generations=rows,
            workers=workers,
            events=events,
            loss=loss,
            shapes=shapes,
            label_noise=meta.get("label_noise") or None,
        )

    @staticmethod
    def _worker_row(w: dict[str, Any], now: float | None) -> WorkerRow:
        task = ""
        if w["state"] == "busy" and w["generation"] is not None:
            task = f"g{w['generation']} c{w['candidate']} a{w['attempt']}"
        last = ""
        if w["last_status"]:
            last = w["last_status"]
            if w["last_fitness"] is not None:
                last += f" {w['last_fitness']:.4f}"
        since = w["since"]
        return WorkerRow(
            worker=str(w["worker"]),
            device=str(w["device"] or "—"),
            state=str(w["state"]),
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
            attempts.setdefault(a["candidate"], []).append(
                AttemptRow(
                    attempt=a["attempt"],
                    rerun=a["rerun"],
                    status=a["status"],
                    fitness=a["fitness"],
                    seconds=a["seconds"],
                    worker=a["worker"],
                    device=a["device"],
                    error=a["error"] or "",
                )
            )
        candidates = [
            CandidateRow(
                index=c["candidate"],
                theta=tuple(float(v) for v in c["theta"]),
                status=c["status"],
                fitness=c["fitness"],
                attempts=tuple(attempts.get(c["candidate"], ())),
            )
            for c in self.store.candidates(index)
        ]
        return GenerationDetail(rows[0], candidates, loss)
