"""The store's layout: its tables, version and application id, and how values are encoded.

Tables (all times are POSIX seconds, θ and histories are JSON text):

- ``meta(key, value)``: the run's settings as JSON values: ``name``, ``recipe_source``,
  ``recipe_text`` (the resolved TOML), ``created``, ``state`` (``running`` | ``finished`` |
  ``interrupted``), ``planned_evaluations``, ``population``, ``generations``, ``seed``,
  ``num_params``, the loss settings, ``pid``/``host`` of the writer, ``schema_version``.
- ``generations``: one row per generation begun: ``generation``, ``started``, ``finished``,
  ``population``, ``mean`` and ``sigma`` (the distribution after this generation's CMA-ES
  update), ``best_fitness``, ``mean_fitness``, ``best_candidate``, ``new_best`` (set an all-time
  best), ``state_before`` (oracle state before ``ask``) and ``state_after`` (after ``tell``).
- ``candidates``: ``generation``, ``candidate``, ``theta``, ``status``, ``fitness``.
- ``attempts``: one row per training run: ``id``, ``generation``, ``candidate``, ``seed_index``
  (the seed slot, from 0), ``attempt`` (from 0, within the slot), ``rerun`` (infra re-runs of
  that attempt before this one), ``seed``, ``worker``, ``device``, ``started``, ``ended``,
  ``status``, ``fitness``, ``val_accuracy``, ``steps``, ``seconds``, ``train_seconds``,
  ``history``, ``error``.
- ``workers``: ``worker``, ``device``, ``pid``, ``state`` (``starting`` | ``idle`` | ``busy`` |
  ``dead``), the ``generation``/``candidate``/``attempt`` it runs, ``since``, ``last_status``,
  ``last_fitness``, ``updated``.
- ``events``: ``id``, ``time``, ``kind`` (see :data:`EVENT_KINDS`), ``message``, ``generation``,
  ``candidate``.
- ``analysis_runs``: full trainings of the analysis: ``id``, ``label`` (``taylorglo`` |
  ``baseline``), ``theta``, ``theta_key``, ``train_fraction``, ``run_index``, ``seed``,
  ``status``, ``test_accuracy``, ``seconds``, ``started``, ``ended``, ``error``, ``worker``,
  ``device``, ``history``; unique per (label, theta_key, train_fraction, run_index).
- ``finalists`` (schema 2): the finalist stage's candidates, journaled at once when it begins:
  ``finalist`` (rank, from 0), ``theta``, ``source`` (``candidate`` | ``mean``), ``generation``
  and ``candidate`` (where a candidate came from), ``search_fitness``, ``status``, ``fitness``
  (the aggregate over its seeds), ``chosen`` (1 for the chosen loss), ``updated``.
- ``finalist_runs`` (schema 2): one row per finalist training, as ``attempts``: ``id``,
  ``finalist``, ``seed_index``, ``rerun``, ``seed``, ``worker``, ``device``, ``started``,
  ``ended``, ``status``, ``fitness``, ``val_accuracy``, ``steps``, ``seconds``,
  ``train_seconds``, ``history``, ``error``.

Schema 1 (before seed slots and finalists) is still read: a read-only store of schema 1 is read
as it is (every attempt in seed slot 0, no finalists), and opening one for writing upgrades it
in one transaction (:data:`UPGRADES`).

NaN and ±Inf are stored as NULL (:func:`_finite_or_none`), so every reader gets JSON-ready values.

This module imports no TensorFlow.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Sequence
from typing import Any

from ..outcomes import Status
from .states import RunState, WorkerState

__all__ = [
    "ANALYSIS_LABELS",
    "ANALYSIS_LABEL_RE",
    "APPLICATION_ID",
    "CANDIDATE_FAILURES",
    "FINALIST_TABLES",
    "DB_NAME",
    "EVENT_KINDS",
    "RUN_STATES",
    "SCHEMA",
    "SCHEMA_VERSION",
    "READABLE_VERSIONS",
    "UPGRADES",
    "WORKER_STATES",
    "generation_summary",
]

DB_NAME = "experiment.sqlite"
"""The store's file name inside a run directory."""
SCHEMA_VERSION = 2
"""The layout version this code writes (``meta.schema_version``, ``user_version``)."""
READABLE_VERSIONS = (1, 2)
"""The layout versions this code reads (older ones are upgraded when opened for writing)."""
APPLICATION_ID = 0x54474C4F  # "TGLO": marks the file as ours (PRAGMA application_id)

RUN_STATES: tuple[RunState, ...] = tuple(RunState)
"""The states a run can be in."""
EVENT_KINDS: tuple[str, ...] = (
    "new_best",
    "retry",
    "abort",
    "divergence",
    "failure",
    "infra",
    "screened",
    "worker_started",
    "worker_died",
    "finalist",
    "info",
)
"""The kinds of events the engine journals."""
WORKER_STATES: tuple[WorkerState, ...] = tuple(WorkerState)
"""The states of a worker row."""
ANALYSIS_LABELS: tuple[str, ...] = ("taylorglo", "baseline")
"""The two fixed labels of an analysis training (baselines may also use their spec)."""
# Other baselines are stored under their canonical spec ("gce:0.7", "label_smoothing:0.1",
# "sce:0.1:1", "nce_rce:1:1", "poly1:1", "baikal"); a training scored at its best-validation
# epoch adds "@best_validation", and one with another full training than the recipe's
# (`analyze --set`) adds "#<what differs>".
ANALYSIS_LABEL_RE = re.compile(
    r"^(?:taylorglo|baseline|baikal|(?:label_smoothing|gce|poly1):[0-9.e+-]+"
    r"|(?:sce|nce_rce):[0-9.e+-]+:[0-9.e+-]+)(?:@best_validation)?"
    r"(?:#[A-Za-z0-9_.=;,\[\]+-]+)?$"
)

# A training's columns, in one place for both tables that journal trainings (`attempts` and
# `finalist_runs`): one code path writes a training's end to either (journal.record_run_end).
_TRAINING_COLUMNS = """    rerun INTEGER NOT NULL DEFAULT 0,
    seed INTEGER NOT NULL,
    worker TEXT NOT NULL DEFAULT '',
    device TEXT NOT NULL DEFAULT '',
    started REAL NOT NULL,
    ended REAL,
    status TEXT NOT NULL,
    fitness REAL,
    val_accuracy REAL,
    steps INTEGER,
    seconds REAL,
    train_seconds REAL,
    history TEXT,
    error TEXT NOT NULL DEFAULT ''"""

FINALIST_TABLES = (
    """
CREATE TABLE finalists (
    finalist INTEGER PRIMARY KEY,
    theta TEXT NOT NULL,
    source TEXT NOT NULL,
    generation INTEGER,
    candidate INTEGER,
    search_fitness REAL,
    status TEXT NOT NULL,
    fitness REAL,
    chosen INTEGER NOT NULL DEFAULT 0,
    updated REAL NOT NULL
);
CREATE TABLE finalist_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    finalist INTEGER NOT NULL REFERENCES finalists(finalist),
    seed_index INTEGER NOT NULL,
"""
    + _TRAINING_COLUMNS
    + """
);
"""
)
"""The finalist stage's tables (schema 2; also the upgrade from schema 1)."""

SCHEMA = (
    """
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE generations (
    generation INTEGER PRIMARY KEY,
    started REAL NOT NULL,
    finished REAL,
    population INTEGER NOT NULL,
    mean TEXT,
    sigma REAL,
    best_fitness REAL,
    mean_fitness REAL,
    best_candidate INTEGER,
    new_best INTEGER NOT NULL DEFAULT 0,
    state_before BLOB NOT NULL,
    state_after BLOB
);
CREATE TABLE candidates (
    generation INTEGER NOT NULL REFERENCES generations(generation),
    candidate INTEGER NOT NULL,
    theta TEXT NOT NULL,
    status TEXT NOT NULL,
    fitness REAL,
    updated REAL NOT NULL,
    PRIMARY KEY (generation, candidate)
) WITHOUT ROWID;
CREATE TABLE attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    generation INTEGER NOT NULL,
    candidate INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
"""
    + _TRAINING_COLUMNS
    + """,
    seed_index INTEGER NOT NULL DEFAULT 0,
    FOREIGN KEY (generation, candidate) REFERENCES candidates(generation, candidate)
);
CREATE INDEX attempts_by_candidate ON attempts(generation, candidate, attempt);
CREATE INDEX attempts_by_status ON attempts(status);
CREATE TABLE workers (
    worker TEXT PRIMARY KEY,
    device TEXT NOT NULL DEFAULT '',
    pid INTEGER,
    state TEXT NOT NULL,
    generation INTEGER,
    candidate INTEGER,
    attempt INTEGER,
    since REAL,
    last_status TEXT,
    last_fitness REAL,
    updated REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time REAL NOT NULL,
    kind TEXT NOT NULL,
    message TEXT NOT NULL,
    generation INTEGER,
    candidate INTEGER
);
CREATE INDEX events_by_kind ON events(kind, id);
CREATE TABLE analysis_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    label TEXT NOT NULL,
    theta TEXT,
    theta_key TEXT NOT NULL,
    train_fraction REAL NOT NULL,
    run_index INTEGER NOT NULL,
    seed INTEGER NOT NULL,
    status TEXT NOT NULL,
    test_accuracy REAL,
    seconds REAL,
    started REAL,
    ended REAL,
    error TEXT NOT NULL DEFAULT '',
    worker TEXT NOT NULL DEFAULT '',
    device TEXT NOT NULL DEFAULT '',
    history TEXT,
    UNIQUE (label, theta_key, train_fraction, run_index)
);
"""
    + FINALIST_TABLES
)
"""The tables and indexes of a new store (one script, run once by ``Store.create``)."""

UPGRADES: dict[int, str] = {
    1: "ALTER TABLE attempts ADD COLUMN seed_index INTEGER NOT NULL DEFAULT 0;\n" + FINALIST_TABLES,
}
"""The statements that take a store from version N to N + 1 (run in one transaction)."""

CANDIDATE_FAILURES = (Status.ABORTED, Status.DIVERGED, Status.FAILED)
"""Attempt statuses that count as the candidate's own failures (``infra`` does not)."""


def _now() -> float:
    return time.time()


def _finite_or_none(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _json_list(values: Sequence[float]) -> str:
    return json.dumps([float(v) for v in values])


def generation_summary(
    results: Sequence[tuple[int, float | None]],
) -> tuple[float | None, float | None, int | None]:
    """A generation's best fitness, mean fitness and best candidate, from its results so far.

    The one rule for both a finished generation (``finish_generation`` stores it) and the one in
    progress (``generations()`` computes it over the candidates done): a missing fitness counts
    as 0, the mean is over the candidates given, and ties go to the earliest candidate.

    Args:
        results: ``(candidate, fitness)`` pairs, in candidate order.

    Returns:
        ``(best, mean, best_candidate)``, or three ``None`` for no results.
    """
    if not results:
        return None, None, None
    scored = [(c, 0.0 if f is None else float(f)) for c, f in results]
    best_candidate, best = scored[0]
    for candidate, fitness in scored[1:]:
        if fitness > best:
            best_candidate, best = candidate, fitness
    return best, sum(f for _, f in scored) / len(scored), best_candidate


def _theta_key(theta: Sequence[float] | None) -> str:
    # repr of floats round-trips exactly, so equal θ give equal keys
    return "" if theta is None else ",".join(repr(float(v)) for v in theta)
