"""The store's connection: opening and creating a store, and one transaction per operation.

:class:`StoreBase` owns the SQLite connection (WAL, so readers never block the writer) and the two
transaction scopes every operation goes through (``_write`` and ``_read``). The rooms built on it
(:mod:`.journal`, :mod:`.analysis_runs`, :mod:`.queries`) each add one role's methods, and
:class:`~keras_taylorglo.store.Store` puts them together.

This module imports no TensorFlow.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

from ..errors import StoreError
from .diagnosis import (
    PASS_THROUGH,
    damaged_message,
    is_writable,
    newer_schema_message,
    require_writable,
    sqlite_code,
    store_error,
)
from .schema import (
    APPLICATION_ID,
    DB_NAME,
    READABLE_VERSIONS,
    SCHEMA,
    SCHEMA_VERSION,
    UPGRADES,
    _now,
)
from .states import RunState

__all__ = ["StoreBase"]

_S = TypeVar("_S", bound="StoreBase")


class StoreBase:
    """The connection to one run's store, and its transaction scopes.

    Use :meth:`create` (new run) or :meth:`open` (existing run) rather than the constructor.

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
        self._conn = None  # type: ignore[assignment]
        if not self.path.is_file():
            from .locate import no_run_error  # the one message every command gives

            raise no_run_error(self.run_dir)
        if not readonly:
            require_writable(self.run_dir, self.path)
        try:
            conn = self._connect(readonly)
            user_version = conn.execute("PRAGMA user_version").fetchone()[0]
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise store_error(self.path, exc) from exc
        if app_id != APPLICATION_ID:
            conn.close()
            raise StoreError(
                f"{self.path} is not a keras-taylorglo store (application id {app_id:#x})"
            )
        if user_version > SCHEMA_VERSION:
            # Read before any table: a newer layout may have changed the meta table itself.
            conn.close()
            raise StoreError(newer_schema_message(self.path, user_version))
        self._conn = conn
        try:
            if not readonly:
                # Before the first write: a damaged page found later would stop a search
                # half-way, after writing to the pages around it.
                self._quick_check(conn)
                conn.execute("PRAGMA journal_mode = WAL")
                # FULL: a committed attempt survives a power cut too; the cost is one fsync per
                # transaction, negligible next to a training run.
                conn.execute("PRAGMA synchronous = FULL")
                conn.execute("PRAGMA foreign_keys = ON")
            version = self._meta_value("schema_version")
        except sqlite3.DatabaseError as exc:
            self.close()
            raise store_error(self.path, exc) from exc
        except StoreError:
            self.close()
            raise
        if version not in READABLE_VERSIONS:
            self.close()
            if isinstance(version, int) and version > SCHEMA_VERSION:
                raise StoreError(newer_schema_message(self.path, version))
            raise StoreError(
                f"{self.path} has store schema version {version!r}; this keras-taylorglo reads "
                f"versions {', '.join(map(str, READABLE_VERSIONS))}"
            )
        #: The layout version of the open store: an older one is read as it is when read-only,
        #: and upgraded before anything else is written (:meth:`_upgrade`).
        self.schema_version: int = int(version)
        if not readonly and self.schema_version < SCHEMA_VERSION:
            self._upgrade()

    def _upgrade(self) -> None:
        """Brings an older store to :data:`SCHEMA_VERSION`, one transaction per version step.

        Only the layout changes (new tables and columns with their defaults); every row stays
        as it was, so the run reads and analyses as before.
        """
        while self.schema_version < SCHEMA_VERSION:
            step = self.schema_version
            with self._write() as conn:
                for statement in UPGRADES[step].split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {step + 1}")
                conn.execute(
                    "UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(step + 1),)
                )
            self.schema_version = step + 1

    def _connect(self, readonly: bool) -> sqlite3.Connection:
        """The connection: read-write, read-only, or immutable in a directory nobody can write.

        A read-only WAL database needs its ``-shm`` file, which SQLite cannot create in a
        directory without write permission (an archived run, a read-only mount). With no
        ``-wal`` file, every commit is in the main file and nobody can add one, so reading it
        as immutable is safe.
        """
        if not readonly:
            conn = sqlite3.connect(self.path, timeout=30.0, check_same_thread=False)
        else:
            # as_uri() percent-encodes the path, so "?" or "#" in a directory name is safe
            uri = f"{self.path.resolve().as_uri()}?mode=ro"
            if not is_writable(self.run_dir) and not Path(f"{self.path}-wal").exists():
                uri += "&immutable=1"
            conn = sqlite3.connect(uri, uri=True, timeout=10.0, check_same_thread=False)
        conn.isolation_level = None  # transactions are explicit (BEGIN ... COMMIT)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA busy_timeout = 10000")
        return conn

    def _quick_check(self, conn: sqlite3.Connection) -> None:
        rows = [r[0] for r in conn.execute("PRAGMA quick_check(3)").fetchall()]
        if rows != ["ok"]:
            raise StoreError(damaged_message(self.path, "; ".join(rows)))

    def check(self) -> None:
        """Reads every page of the store once (``PRAGMA quick_check``); raises if one is damaged.

        ``Store.open`` for writing runs it; a reader that will read everything (the monitor)
        runs it first, so that a damaged page is one line and not a crash on screen.

        Raises:
            StoreError: the file is damaged (one line naming it).
        """
        with self._read() as conn:
            self._quick_check(conn)

    # -- opening ---------------------------------------------------------------------------

    @staticmethod
    def db_path(run_dir: str | os.PathLike[str]) -> Path:
        """``RUN_DIR/experiment.sqlite``."""
        return Path(run_dir) / DB_NAME

    @staticmethod
    def exists(run_dir: str | os.PathLike[str]) -> bool:
        """Whether ``run_dir`` holds a store file."""
        return StoreBase.db_path(run_dir).is_file()

    @staticmethod
    def remove(run_dir: str | os.PathLike[str]) -> None:
        """Deletes ``run_dir``'s store (with its WAL files); hold the :class:`RunLock` first.

        Args:
            run_dir: the run directory.
        """
        base = StoreBase.db_path(run_dir)
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{base}{suffix}")

    @classmethod
    def create(
        cls: type[_S],
        run_dir: str | os.PathLike[str],
        recipe: Any = None,
        meta: dict[str, Any] | None = None,
        *,
        recipe_text: str | None = None,
        recipe_source: str | None = None,
        overwrite: bool = False,
    ) -> _S:
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
            state=RunState.RUNNING,
            pid=os.getpid(),
            host=socket.gethostname(),
        )
        # Build under a temporary name and rename: a crash never leaves a half-made store.
        tmp = path.with_name(f".{DB_NAME}.{os.getpid()}.tmp")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        conn = sqlite3.connect(tmp)
        try:
            conn.executescript(SCHEMA)
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
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
    def open(cls: type[_S], run_dir: str | os.PathLike[str], readonly: bool = False) -> _S:
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
    def open_existing(cls: type[_S], run_dir: str | os.PathLike[str]) -> _S:
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

    def __enter__(self: _S) -> _S:
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
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                except BaseException:
                    # A failed statement may have rolled the transaction back already.
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            except sqlite3.DatabaseError as exc:
                if conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                if sqlite_code(exc) in PASS_THROUGH:
                    raise  # the caller's own mistake (a constraint), not the disk's
                raise store_error(self.path, exc, writing=True) from exc

    @contextlib.contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """One read transaction: every query inside sees the same snapshot."""
        with self._lock:
            conn = self._conn
            if conn is None:
                raise StoreError(f"{self.path} is closed")
            if conn.in_transaction:  # nested read (e.g. snapshot() calling readers)
                try:
                    yield conn
                except sqlite3.DatabaseError as exc:
                    raise store_error(self.path, exc) from exc
                return
            try:
                conn.execute("BEGIN")
                try:
                    yield conn
                finally:
                    conn.execute("COMMIT")
            except sqlite3.DatabaseError as exc:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                raise store_error(self.path, exc) from exc

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
