"""The run lock: one writer per run directory (``fcntl.flock`` on ``RUN_DIR/lock``).

:class:`RunLock` guards a run directory against a second search or resume; the kernel releases it
when its holder dies, so a crashed search never leaves a stale lock. :func:`is_locked` and
:func:`lock_holder` let readers (status, the monitor) tell a live run from an interrupted one.

This module imports no TensorFlow.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import fcntl
import json
import os
import socket
import time
from pathlib import Path
from typing import Any

from ..errors import RunLockedError, StoreError
from .schema import _now

__all__ = ["LOCK_NAME", "RunLock", "is_locked", "lock_holder"]

LOCK_NAME = "lock"
"""The lock file's name inside a run directory."""


def _iso(timestamp: float | None) -> str:
    if timestamp is None:
        return "an unknown time"
    return datetime.datetime.fromtimestamp(timestamp).isoformat(sep=" ", timespec="seconds")


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
            if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
                why = "read-only file system" if exc.errno == errno.EROFS else "permission denied"
                raise StoreError(
                    f"{self.run_dir} is not writable ({why}); nothing was changed: fix its "
                    "permissions, or copy the run directory somewhere writable and use it there"
                ) from exc
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
            # The holder's details are stale from now on. A disk that turned read-only (or
            # failed) refuses this, which must not hide why the search stopped: flock is what
            # holds the lock, the details only say who did.
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
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
