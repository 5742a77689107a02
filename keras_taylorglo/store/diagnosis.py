"""What went wrong with a store, in one line: SQLite's errors and the disk's state, explained.

The store's connection (:mod:`.base`) turns every :class:`sqlite3.Error` into a
:class:`~keras_taylorglo.errors.StoreError` through :func:`store_error`, which names the file, the
cause (a full or read-only disk, a damaged page, a newer layout) and what the user can do.

This module imports no TensorFlow.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
from pathlib import Path

from ..errors import StoreError
from .schema import SCHEMA_VERSION

__all__ = [
    "PASS_THROUGH",
    "damaged_message",
    "disk_cause",
    "is_writable",
    "newer_schema_message",
    "not_writable_message",
    "require_writable",
    "sqlite_code",
    "store_error",
]


# SQLite's primary result codes (sqlite3.h); ``sqlite_errorcode`` exists from Python 3.11.
_SQLITE_READONLY, _SQLITE_IOERR, _SQLITE_CORRUPT, _SQLITE_FULL = 8, 10, 11, 13
_SQLITE_CANTOPEN, _SQLITE_CONSTRAINT, _SQLITE_NOTADB = 14, 19, 26
PASS_THROUGH = (_SQLITE_CONSTRAINT,)


def sqlite_code(exc: sqlite3.Error) -> int | None:
    """The primary SQLite result code of ``exc`` (from its message on Python 3.10)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return int(code) & 0xFF
    text = str(exc).lower()
    for words, value in (
        ("disk is full", _SQLITE_FULL),
        ("malformed", _SQLITE_CORRUPT),
        ("not a database", _SQLITE_NOTADB),
        ("readonly database", _SQLITE_READONLY),
        ("disk i/o error", _SQLITE_IOERR),
        ("unable to open", _SQLITE_CANTOPEN),
        ("constraint failed", _SQLITE_CONSTRAINT),
    ):
        if words in text:
            return value
    return None


def store_error(path: Path, exc: sqlite3.Error, writing: bool = False) -> StoreError:
    """One line for a SQLite error: what is wrong with which file, and what to do."""
    code = sqlite_code(exc)
    run_dir = path.parent
    if code in (_SQLITE_CORRUPT, _SQLITE_NOTADB):
        return StoreError(damaged_message(path, str(exc)))
    if code == _SQLITE_FULL:
        return StoreError(
            f"{run_dir}: the store cannot be written: the disk is full ({exc}); the run is "
            f"resumable with `keras-taylorglo resume {run_dir}` once there is space"
        )
    if code in (_SQLITE_READONLY, _SQLITE_IOERR, _SQLITE_CANTOPEN) and writing:
        # A running search's write: what it wrote stands, so the run is resumable (a disk that
        # turned read-only mid-search, a failing device), whatever the directory is now.
        return StoreError(
            f"{run_dir}: the store cannot be written ({exc}: {disk_cause(run_dir)}); the run is "
            f"resumable with `keras-taylorglo resume {run_dir}` once the disk is fixed"
        )
    if code in (_SQLITE_READONLY, _SQLITE_IOERR, _SQLITE_CANTOPEN) and not is_writable(run_dir):
        return StoreError(not_writable_message(run_dir))
    return StoreError(f"{path}: {exc}")


def damaged_message(path: Path, detail: str) -> str:
    """The one line for a store file that is not ours or is damaged (``detail``: SQLite's)."""
    return (
        f"{path} is not a keras-taylorglo store or is damaged ({' '.join(detail.split())[:120]}); "
        "nothing was changed: restore it from a copy, or start a new search elsewhere"
    )


def newer_schema_message(path: Path, version: int) -> str:
    """The one line for a store written by a newer keras-taylorglo (layout ``version``)."""
    return (
        f"{path} was written by a newer keras-taylorglo (store schema version {version}; this "
        f"one reads version {SCHEMA_VERSION}): upgrade with `pip install -U keras-taylorglo`"
    )


def is_writable(run_dir: Path) -> bool:
    """Whether ``run_dir`` can be written, by its permissions and mount (not by a probe)."""
    # access() also says no for a read-only mount; root passes permission bits, as it may.
    return os.access(run_dir, os.W_OK | os.X_OK)


def disk_cause(run_dir: Path) -> str:
    """Why the file system may refuse writes: read-only, full, or neither that we can see.

    The mount flags do not say it all: ext4 turning itself read-only after an error
    (``errors=remount-ro``) still reports a writable mount to ``statvfs`` and ``access``. Only
    a write tells, so a small file is made and removed (on an error path only).
    """
    try:
        info = os.statvfs(run_dir)
    except OSError:
        return "its file system cannot be inspected"
    if info.f_flag & os.ST_RDONLY:
        return "read-only file system"
    if info.f_bavail == 0:
        return "no space left on the device"
    probe = Path(run_dir) / f".write-probe-{os.getpid()}"
    try:
        os.close(os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except OSError as exc:
        return {
            errno.EROFS: "read-only file system",
            errno.ENOSPC: "no space left on the device",
            errno.EDQUOT: "the disk quota is exceeded",
            errno.EACCES: "permission denied",
            errno.EPERM: "permission denied",
        }.get(exc.errno, f"the device reported an error ({exc.strerror})")
    with contextlib.suppress(OSError):
        probe.unlink()
    return "the device reported an error"


def not_writable_message(run_dir: Path) -> str:
    """The one line for a run directory that cannot be written (read-only or permissions)."""
    why = "read-only file system" if "read-only" in disk_cause(run_dir) else "permission denied"
    return (
        f"{run_dir} is not writable ({why}); nothing was changed: fix its permissions, or copy "
        "the run directory somewhere writable and resume it there"
    )


def require_writable(run_dir: Path, path: Path) -> None:
    """Refuse to open for writing where the first write would fail half-way."""
    if not is_writable(run_dir) or not os.access(path, os.W_OK):
        raise StoreError(not_writable_message(run_dir))
