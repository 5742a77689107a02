"""The experiment store: one SQLite database per run, ``RUN_DIR/experiment.sqlite``.

The search engine is the store's only writer; the status command, the monitor and the analysis
read it. The database is in WAL mode, so readers never block the writer and always see a
consistent snapshot; every writer method is ONE transaction, so a driver killed at any moment
leaves either all or nothing of each change (the basis of exact resume).

The rooms, by role: :mod:`.schema` (tables, version, value encoding, the upgrade from schema 1),
:mod:`.lock` (the run lock), :mod:`.base` (the connection and its transactions),
:mod:`.diagnosis` (SQLite's errors and the disk's state as one line), :mod:`.journal` (the
engine's writes), :mod:`.analysis_runs` (the analysis's table), :mod:`.finalists` (the finalist
stage's tables), :mod:`.queries` (read views for resume and the analysis), :mod:`.views` (the
composite views of status, the monitor and the progress line), :mod:`.frozen` (the frozen records
the read views return), :mod:`.states` (the run's and the workers' states); :class:`Store`
(:mod:`.core`) puts them together. The package imports nothing of the search, the evaluator or
TensorFlow.

Example: :mod:`.core` (create a store, journal a generation, read the best back).
"""

from __future__ import annotations

from ..errors import RunLockedError, StoreError
from .core import Store
from .frozen import (
    AnalysisRunRecord,
    AttemptRecord,
    BestRecord,
    CandidateRecord,
    EventRecord,
    GenerationRecord,
    ProgressSummary,
    ResultRecord,
    StoreSnapshot,
    WorkerRecord,
)
from .lock import LOCK_NAME, RunLock, is_locked, lock_holder
from .schema import (
    ANALYSIS_LABELS,
    DB_NAME,
    EVENT_KINDS,
    RUN_STATES,
    SCHEMA_VERSION,
    WORKER_STATES,
)
from .states import RunState, WorkerState

__all__ = [
    "ANALYSIS_LABELS",
    "DB_NAME",
    "EVENT_KINDS",
    "LOCK_NAME",
    "RUN_STATES",
    "SCHEMA_VERSION",
    "WORKER_STATES",
    "AnalysisRunRecord",
    "AttemptRecord",
    "BestRecord",
    "CandidateRecord",
    "EventRecord",
    "GenerationRecord",
    "ProgressSummary",
    "ResultRecord",
    "RunLock",
    "RunLockedError",
    "RunState",
    "Store",
    "StoreError",
    "StoreSnapshot",
    "WorkerRecord",
    "WorkerState",
    "is_locked",
    "lock_holder",
]
