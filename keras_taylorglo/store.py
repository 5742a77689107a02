"""The experiment store: one SQLite database per run, ``RUN_DIR/experiment.sqlite``.

The search engine is the store's only writer; the status command, the monitor and the analysis
read it. The database is in WAL mode, so readers never block the writer and always see a
consistent snapshot; every writer method is ONE transaction, so a driver killed at any moment
leaves either all or nothing of each change (the basis of exact resume).

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
- ``attempts``: one row per training run: ``id``, ``generation``, ``candidate``, ``attempt``
  (from 0), ``rerun`` (infra re-runs of that attempt before this one), ``seed``, ``worker``,
  ``device``, ``started``, ``ended``, ``status``, ``fitness``, ``val_accuracy``, ``steps``,
  ``seconds``, ``train_seconds``, ``history``, ``error``.
- ``workers``: ``worker``, ``device``, ``pid``, ``state`` (``starting`` | ``idle`` | ``busy`` |
  ``dead``), the ``generation``/``candidate``/``attempt`` it runs, ``since``, ``last_status``,
  ``last_fitness``, ``updated``.
- ``events``: ``id``, ``time``, ``kind`` (see :data:`EVENT_KINDS`), ``message``, ``generation``,
  ``candidate``.
- ``analysis_runs``: full trainings of the analysis: ``id``, ``label`` (``taylorglo`` |
  ``baseline``), ``theta``, ``theta_key``, ``train_fraction``, ``run_index``, ``seed``,
  ``status``, ``test_accuracy``, ``seconds``, ``started``, ``ended``, ``error``, ``worker``,
  ``device``, ``history``; unique per (label, theta_key, train_fraction, run_index).

:class:`RunLock` guards a run directory against a second search or resume (``fcntl.flock`` on
``RUN_DIR/lock``, released by the kernel when its holder dies).

This module imports no TensorFlow.

Example:
    >>> import tempfile
    >>> run_dir = tempfile.mkdtemp()
    >>> store = Store.create(run_dir, recipe_text="[experiment]", meta={"population": 2})
    >>> store.begin_generation(0, b"state", [[0.0, 1.0], [1.0, 0.0]])
    >>> store.set_candidate_result(0, 0, "ok", 0.5)
    >>> store.best()["fitness"]
    0.5
    >>> store.close()
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import fcntl
import json
import math
import os
import re
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from .errors import RunLockedError, StoreError
from .records import (
    ABORTED,
    DIVERGED,
    FAILED,
    FINAL_STATUSES,
    INFRA,
    INTERRUPTED,
    PENDING,
    RUNNING,
    STATUSES,
    Outcome,
)

__all__ = [
    "DB_NAME",
    "EVENT_KINDS",
    "LOCK_NAME",
    "RUN_STATES",
    "RunLock",
    "Store",
    "is_locked",
    "lock_holder",
]

DB_NAME = "experiment.sqlite"
"""The store's file name inside a run directory."""
LOCK_NAME = "lock"
"""The lock file's name inside a run directory."""
SCHEMA_VERSION = 1
_APPLICATION_ID = 0x54474C4F  # "TGLO": marks the file as ours (PRAGMA application_id)

RUN_STATES: tuple[str, ...] = ("running", "finished", "interrupted")
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
    "info",
)
"""The kinds of events the engine journals."""
WORKER_STATES: tuple[str, ...] = ("starting", "idle", "busy", "dead")
ANALYSIS_LABELS: tuple[str, ...] = ("taylorglo", "baseline")
# Other baselines are stored under their canonical spec ("gce:0.7", "label_smoothing:0.1",
# "baikal"); a training scored at its best-validation epoch adds "@best_validation".
_ANALYSIS_LABEL_RE = re.compile(
    r"^(?:taylorglo|baseline|baikal|(?:label_smoothing|gce):[0-9.e+-]+)(?:@best_validation)?$"
)

_SCHEMA = """
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
    rerun INTEGER NOT NULL DEFAULT 0,
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
    error TEXT NOT NULL DEFAULT '',
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

_CANDIDATE_FAILURES = (ABORTED, DIVERGED, FAILED)


def _now() -> float:
    return time.time()


def _finite_or_none(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _json_list(values: Sequence[float]) -> str:
    return json.dumps([float(v) for v in values])


def _theta_key(theta: Sequence[float] | None) -> str:
    # repr of floats round-trips exactly, so equal θ give equal keys
    return "" if theta is None else ",".join(repr(float(v)) for v in theta)


def _iso(timestamp: float | None) -> str:
    if timestamp is None:
        return "an unknown time"
    return datetime.datetime.fromtimestamp(timestamp).isoformat(sep=" ", timespec="seconds")


# ------------------------------------------------------------------------------------- lock


def _read_lock_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
    except OSError:
        return {}
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


class RunLock:
    """An exclusive lock on a run directory, held by the one process that writes its store.

    ``fcntl.flock`` on ``RUN_DIR/lock``: the kernel releases it when the holder exits or is
    killed, so a crashed search never leaves a stale lock. The file holds the holder's pid, host
    and start time (JSON) so a refused process can say who holds it.

    Note: a forked child inherits the locked file description and keeps the lock alive until it
    exits; start worker processes with the ``spawn`` or ``forkserver`` method.

    Args:
        run_dir: the run directory (created if missing).
        retries: how many times to retry over a short moment before refusing (a status probe
            holds the lock for microseconds).

    Raises:
        RunLockedError: from :meth:`acquire` (or ``with``) when another live process holds it.

    Example:
        >>> import tempfile
        >>> run_dir = tempfile.mkdtemp()
        >>> with RunLock(run_dir):
        ...     is_locked(run_dir)
        True
        >>> is_locked(run_dir)
        False
    """

    def __init__(self, run_dir: str | os.PathLike[str], retries: int = 5) -> None:
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / LOCK_NAME
        self.retries = retries
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """Whether this object holds the lock."""
        return self._fd is not None

    def acquire(self) -> RunLock:
        """Takes the lock or raises.

        Returns:
            ``self``.

        Raises:
            RunLockedError: another process holds the lock; the message names it.
            StoreError: the lock file cannot be created.
        """
        if self._fd is not None:
            return self
        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise StoreError(f"cannot create the lock file {self.path}: {exc.strerror}") from exc
        for attempt in range(self.retries + 1):
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES):
                    os.close(fd)
                    raise StoreError(f"cannot lock {self.path}: {exc.strerror}") from exc
                if attempt == self.retries:
                    os.close(fd)
                    raise RunLockedError(self._refusal()) from None
                time.sleep(0.05)
        info = {"pid": os.getpid(), "host": socket.gethostname(), "since": _now()}
        # We hold the lock, so writing into the locked file cannot race another writer.
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        os.fsync(fd)
        self._fd = fd
        return self

    def _refusal(self) -> str:
        holder = _read_lock_file(self.path)
        if not holder:
            return (
                f"{self.run_dir} is in use by another process (it is just starting); "
                "stop it or wait for it to finish"
            )
        return (
            f"{self.run_dir} is in use by process {holder.get('pid', '?')} on "
            f"{holder.get('host', '?')} since {_iso(holder.get('since'))}; "
            "stop it or wait for it to finish"
        )

    def release(self) -> None:
        """Releases the lock (a no-op if not held)."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)  # the holder's details are stale from now on
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc_info: object) -> None:
        self.release()


def is_locked(run_dir: str | os.PathLike[str]) -> bool:
    """Whether a live process holds ``run_dir``'s :class:`RunLock` (this process included).

    Args:
        run_dir: the run directory.

    Returns:
        True if the lock is held.
    """
    path = Path(run_dir) / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def lock_holder(run_dir: str | os.PathLike[str]) -> dict[str, Any] | None:
    """Who holds ``run_dir``'s lock: ``{"pid", "host", "since"}``, or ``None`` if nobody.

    Args:
        run_dir: the run directory.

    Returns:
        The holder's details, or ``None`` when the lock is free.
    """
    if not is_locked(run_dir):
        return None
    return _read_lock_file(Path(run_dir) / LOCK_NAME) or {"pid": None, "host": None, "since": None}


# ------------------------------------------------------------------------------------ store


class Store:
    """The SQLite experiment store of one run directory.

    Use :meth:`create` (new run) or :meth:`open` (existing run) rather than the constructor.
    Writer methods are each one transaction and are used only by the engine (and the analysis);
    reader methods return plain dicts and lists, JSON-ready (no NaN: missing numbers are ``None``).
    A store object may be shared between threads.

    Args:
        path: the database file.
        readonly: open it read-only (``file:...?mode=ro``).

    Raises:
        StoreError: if the file is missing or is not a keras-taylorglo store.
    """

    def __init__(self, path: str | os.PathLike[str], readonly: bool = False) -> None:
        self.path = Path(path)
        self.run_dir = self.path.parent
        self.readonly = readonly
        self._lock = threading.RLock()
        if not self.path.is_file():
            raise StoreError(
                f"{self.run_dir} is not a keras-taylorglo run directory (no {DB_NAME} in it)"
            )
        try:
            if readonly:
                # as_uri() percent-encodes the path, so "?" or "#" in a directory name is safe
                uri = f"{self.path.resolve().as_uri()}?mode=ro"
                conn = sqlite3.connect(uri, uri=True, timeout=10.0, check_same_thread=False)
            else:
                conn = sqlite3.connect(self.path, timeout=30.0, check_same_thread=False)
            conn.isolation_level = None  # transactions are explicit (BEGIN ... COMMIT)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA busy_timeout = 10000")
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path} is not a keras-taylorglo store ({exc})") from exc
        if app_id != _APPLICATION_ID:
            conn.close()
            raise StoreError(
                f"{self.path} is not a keras-taylorglo store (application id {app_id:#x})"
            )
        if not readonly:
            conn.execute("PRAGMA journal_mode = WAL")
            # FULL: a committed attempt survives a power cut too; the cost is one fsync per
            # transaction, negligible next to a training run.
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
        self._conn = conn
        version = self._meta_value("schema_version")
        if version != SCHEMA_VERSION:
            conn.close()
            raise StoreError(
                f"{self.path} has store schema version {version!r}; this keras-taylorglo reads "
                f"version {SCHEMA_VERSION}"
            )

    # -- opening ---------------------------------------------------------------------------

    @staticmethod
    def db_path(run_dir: str | os.PathLike[str]) -> Path:
        """``RUN_DIR/experiment.sqlite``."""
        return Path(run_dir) / DB_NAME

    @staticmethod
    def exists(run_dir: str | os.PathLike[str]) -> bool:
        """Whether ``run_dir`` holds a store file."""
        return Store.db_path(run_dir).is_file()

    @staticmethod
    def remove(run_dir: str | os.PathLike[str]) -> None:
        """Deletes ``run_dir``'s store (with its WAL files); hold the :class:`RunLock` first.

        Args:
            run_dir: the run directory.
        """
        base = Store.db_path(run_dir)
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{base}{suffix}")

    @classmethod
    def create(
        cls,
        run_dir: str | os.PathLike[str],
        recipe: Any = None,
        meta: dict[str, Any] | None = None,
        *,
        recipe_text: str | None = None,
        recipe_source: str | None = None,
        overwrite: bool = False,
    ) -> Store:
        """Creates the store of a new run and opens it for writing.

        Args:
            run_dir: the run directory (created if missing).
            recipe: a :class:`~keras_taylorglo.recipe.Recipe`; its resolved TOML, source and
                settings (name, seed, population, generations, loss) go into ``meta``.
            meta: more meta values (JSON-serialisable); they override those from ``recipe``.
            recipe_text: the resolved recipe TOML, when no ``recipe`` is given.
            recipe_source: the recipe path as given, when no ``recipe`` is given.
            overwrite: replace an existing store instead of refusing.

        Returns:
            The store, open for writing, with ``state = "running"``.

        Raises:
            StoreError: if ``run_dir`` already holds a store and ``overwrite`` is false.
        """
        run_dir = Path(run_dir)
        path = cls.db_path(run_dir)
        if path.exists():
            if not overwrite:
                raise StoreError(
                    f"{run_dir} already holds a run ({DB_NAME}); resume it with "
                    f"`keras-taylorglo resume {run_dir}` or overwrite it"
                )
            cls.remove(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        values: dict[str, Any] = {}
        if recipe is not None:
            values.update(_recipe_meta(recipe))
        if recipe_text is not None:
            values["recipe_text"] = recipe_text
        if recipe_source is not None:
            values["recipe_source"] = recipe_source
        values.update(meta or {})
        values.setdefault("recipe_text", "")
        values.setdefault("recipe_source", "<string>")
        if "planned_evaluations" not in values and {"population", "generations"} <= set(values):
            values["planned_evaluations"] = int(values["population"]) * int(values["generations"])
        values.update(
            schema_version=SCHEMA_VERSION,
            created=_now(),
            state="running",
            pid=os.getpid(),
            host=socket.gethostname(),
        )
        # Build under a temporary name and rename: a crash never leaves a half-made store.
        tmp = path.with_name(f".{DB_NAME}.{os.getpid()}.tmp")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        conn = sqlite3.connect(tmp)
        try:
            conn.executescript(_SCHEMA)
            conn.execute(f"PRAGMA application_id = {_APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.executemany(
                "INSERT INTO meta(key, value) VALUES (?, ?)",
                [(k, json.dumps(v)) for k, v in values.items()],
            )
            conn.commit()
            conn.execute("PRAGMA journal_mode = WAL")
        finally:
            conn.close()
        os.replace(tmp, path)
        return cls(path)

    @classmethod
    def open(cls, run_dir: str | os.PathLike[str], readonly: bool = False) -> Store:
        """Opens the store of an existing run.

        Args:
            run_dir: the run directory.
            readonly: open read-only (status, monitor, plots); never blocks the writer.

        Returns:
            The store.

        Raises:
            StoreError: if there is no store in ``run_dir`` or it is not a keras-taylorglo store.
        """
        return cls(cls.db_path(run_dir), readonly=readonly)

    @classmethod
    def open_existing(cls, run_dir: str | os.PathLike[str]) -> Store:
        """Opens an existing run's store read-only (``Store.open(run_dir, readonly=True)``).

        Args:
            run_dir: the run directory.

        Returns:
            The store.

        Raises:
            StoreError: if there is no store in ``run_dir``.
        """
        return cls.open(run_dir, readonly=True)

    def close(self) -> None:
        """Closes the connection (idempotent)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None  # type: ignore[assignment]

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- plumbing --------------------------------------------------------------------------

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: all of it commits, or none of it (also on a crash)."""
        if self.readonly:
            raise StoreError(f"{self.path} is open read-only; only the engine writes the store")
        with self._lock:
            conn = self._conn
            if conn is None:
                raise StoreError(f"{self.path} is closed")
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            else:
                conn.execute("COMMIT")

    @contextlib.contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """One read transaction: every query inside sees the same snapshot."""
        with self._lock:
            conn = self._conn
            if conn is None:
                raise StoreError(f"{self.path} is closed")
            if conn.in_transaction:  # nested read (e.g. snapshot() calling readers)
                yield conn
                return
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                conn.execute("COMMIT")

    def _meta_value(self, key: str, default: Any = None) -> Any:
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else json.loads(row[0])

    @staticmethod
    def _set_meta(conn: sqlite3.Connection, values: dict[str, Any]) -> None:
        conn.executemany(
            "INSERT INTO meta(key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [(k, json.dumps(v)) for k, v in values.items()],
        )

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
            raise ValueError(f"state must be one of {RUN_STATES}; got {state!r}")
        values = {"state": state, **meta, "updated": _now()}
        if state == "running":
            values.setdefault("pid", os.getpid())
            values.setdefault("host", socket.gethostname())
        if state == "finished":
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
            [(generation, i, _json_list(t), PENDING, started) for i, t in enumerate(candidates)],
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
    ) -> int:
        """Journals the start of an attempt; marks the candidate (and the worker) running.

        Args:
            generation: generation index.
            candidate: candidate index.
            attempt: attempt number, from 0.
            seed: the attempt's derived seed.
            worker: the worker id that runs it.
            device: the worker's device (group).
            rerun: infra re-runs of this attempt before this one; by default counted from the
                store (finished rows of the same attempt with status ``infra``).
            started: the start time (default now).

        Returns:
            The attempt's row id, for :meth:`finish_attempt`.
        """
        started = _now() if started is None else started
        with self._write() as conn:
            if rerun is None:
                rerun = conn.execute(
                    "SELECT COUNT(*) FROM attempts WHERE generation = ? AND candidate = ? "
                    "AND attempt = ? AND status = ?",
                    (generation, candidate, attempt, INFRA),
                ).fetchone()[0]
            cursor = conn.execute(
                "INSERT INTO attempts(generation, candidate, attempt, rerun, seed, worker, "
                "device, started, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (generation, candidate, attempt, rerun, seed, worker, device, started, RUNNING),
            )
            conn.execute(
                "UPDATE candidates SET status = ?, updated = ? "
                "WHERE generation = ? AND candidate = ?",
                (RUNNING, started, generation, candidate),
            )
            if worker:
                conn.execute(
                    "UPDATE workers SET state = 'busy', generation = ?, candidate = ?, "
                    "attempt = ?, since = ?, updated = ? WHERE worker = ?",
                    (generation, candidate, attempt, started, started, worker),
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
            row = conn.execute(
                "SELECT generation, candidate, worker FROM attempts WHERE id = ?", (attempt_id,)
            ).fetchone()
            if row is None:
                raise StoreError(f"no attempt with id {attempt_id} in {self.path}")
            conn.execute(
                "UPDATE attempts SET ended = ?, status = ?, fitness = ?, val_accuracy = ?, "
                "steps = ?, seconds = ?, train_seconds = ?, history = ?, error = ? WHERE id = ?",
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
                    attempt_id,
                ),
            )
            if row["worker"]:
                conn.execute(
                    "UPDATE workers SET state = CASE WHEN state = 'dead' THEN 'dead' ELSE 'idle' "
                    "END, generation = NULL, candidate = NULL, attempt = NULL, since = ?, "
                    "last_status = ?, last_fitness = ?, updated = ? WHERE worker = ?",
                    (
                        ended,
                        outcome.status,
                        _finite_or_none(outcome.fitness),
                        ended,
                        row["worker"],
                    ),
                )
            if candidate_status is not None:
                self._set_candidate(
                    conn, row["generation"], row["candidate"], candidate_status, candidate_fitness
                )

    @staticmethod
    def _set_candidate(
        conn: sqlite3.Connection, generation: int, candidate: int, status: str, fitness: Any
    ) -> None:
        if status not in STATUSES:
            raise ValueError(f"candidate status must be one of {STATUSES}; got {status!r}")
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
            status: one of :data:`~keras_taylorglo.records.STATUSES`.
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
                (INTERRUPTED, ended, RUNNING),
            )
            conn.execute(
                "UPDATE workers SET state = 'dead', updated = ? WHERE state != 'dead'", (ended,)
            )
            return cursor.rowcount

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
        candidates' results inside the same transaction.

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
            fitness = [0.0 if r["fitness"] is None else r["fitness"] for r in rows]
            best_candidate = max(range(len(fitness)), key=lambda i: (fitness[i], -i))
            best = fitness[best_candidate]
            previous = conn.execute(
                "SELECT MAX(best_fitness) FROM generations WHERE generation < ? "
                "AND finished IS NOT NULL",
                (generation,),
            ).fetchone()[0]
            new_best = previous is None or best > previous
            summary = {
                "best_fitness": best,
                "mean_fitness": sum(fitness) / len(fitness),
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
            raise ValueError(
                f"worker state must be one of {WORKER_STATES}; got {fields['state']!r}"
            )
        now = _now()
        if "state" in fields:
            fields.setdefault("since", now)
            if fields["state"] in ("idle", "dead"):
                for key in ("generation", "candidate", "attempt"):
                    fields.setdefault(key, None)
        if "last_fitness" in fields:
            fields["last_fitness"] = _finite_or_none(fields["last_fitness"])
        with self._write() as conn:
            conn.execute(
                "INSERT INTO workers(worker, state, since, updated) VALUES (?, 'starting', ?, ?) "
                "ON CONFLICT(worker) DO NOTHING",
                (worker, now, now),
            )
            if fields:
                assignments = ", ".join(f"{key} = ?" for key in fields)
                conn.execute(
                    f"UPDATE workers SET {assignments}, updated = ? WHERE worker = ?",
                    (*fields.values(), now, worker),
                )
            else:
                conn.execute("UPDATE workers SET updated = ? WHERE worker = ?", (now, worker))

    upsert_worker = update_worker

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

    # -- writers: analysis -----------------------------------------------------------------

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
        if not _ANALYSIS_LABEL_RE.match(label):
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
            if row is not None and row["status"] == "ok":
                raise StoreError(
                    f"analysis run {label} #{run_index} (train fraction {train_fraction}) "
                    "already finished; it is not redone"
                )
            theta_json = None if theta is None else _json_list(theta)
            if row is not None:
                conn.execute(
                    "UPDATE analysis_runs SET seed = ?, status = 'running', test_accuracy = NULL, "
                    "seconds = NULL, started = ?, ended = NULL, error = '', worker = ?, "
                    "device = ?, history = NULL WHERE id = ?",
                    (seed, now, worker, device, row["id"]),
                )
                return int(row["id"])
            cursor = conn.execute(
                "INSERT INTO analysis_runs(label, theta, theta_key, train_fraction, run_index, "
                "seed, status, started, worker, device) "
                "VALUES (?, ?, ?, ?, ?, ?, 'running', ?, ?, ?)",
                (
                    label,
                    theta_json,
                    key,
                    float(train_fraction),
                    run_index,
                    seed,
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

    # -- readers ---------------------------------------------------------------------------

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
            elif a["status"] in _CANDIDATE_FAILURES:
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

    def analysis_runs(
        self,
        label: str | None = None,
        train_fraction: float | None = None,
        status: str | None = None,
    ) -> list[dict[str, Any]]:
        """Analysis trainings, oldest first.

        Args:
            label: only ``taylorglo`` or ``baseline`` runs.
            train_fraction: only runs with this training-set fraction.
            status: only runs with this status (``"ok"`` = finished).

        Returns:
            Dicts with every ``analysis_runs`` column; ``theta`` and ``history`` decoded.
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
        sql = "SELECT * FROM analysis_runs"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        with self._read() as conn:
            rows = conn.execute(sql + " ORDER BY id", args).fetchall()
        result = []
        for r in rows:
            entry = dict(r)
            entry["theta"] = None if r["theta"] is None else json.loads(r["theta"])
            entry["history"] = None if r["history"] is None else json.loads(r["history"])
            result.append(entry)
        return result


def _attempt_dict(row: sqlite3.Row) -> dict[str, Any]:
    entry = dict(row)
    entry["history"] = json.loads(row["history"]) if row["history"] else {}
    return entry


def _recipe_meta(recipe: Any) -> dict[str, Any]:
    """Meta values from a Recipe (duck-typed: this module must not import the recipe parser)."""
    evo = recipe.evolution
    loss = recipe.loss
    return {
        "name": recipe.experiment.name,
        "seed": recipe.experiment.seed,
        "recipe_source": str(recipe.source),
        "recipe_text": recipe.to_toml(),
        "base_dir": str(Path(recipe.base_dir).resolve()),
        "population": evo.population,
        "generations": evo.generations,
        "sigma0": evo.sigma,
        "planned_evaluations": evo.population * evo.generations,
        "num_params": loss.num_params,
        "order": loss.order,
        "inputs": list(loss.inputs),
        "trim": loss.trim,
        "convention": loss.convention,
    }
