"""How a long command stops: signals as a resumable stop, side failures as one warning line.

A search runs for days under schedulers and over SSH. SIGTERM (Slurm, Kubernetes, ``timeout``)
and SIGHUP (a closed terminal) must stop it like Ctrl-C, journaled and resumable; what fails
beside the store meanwhile (TensorBoard's files on a full disk) must not bury the one
``error:`` line under tracebacks from threads.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import sys
import threading
import warnings
from collections.abc import Iterator
from typing import Any

__all__ = [
    "DISK_ERRORS",
    "Stopped",
    "interrupt_on_sigint",
    "one_line_warnings",
    "say",
    "sigint_deferred",
    "stop_on_signals",
    "threads_without_sigint",
]

#: The errno values of a file system that cannot take a write (full, over quota, read-only).
DISK_ERRORS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM)


#: Held while one line is written, so lines from several threads never run into each other.
_LINE_LOCK = threading.Lock()


def say(line: str) -> None:
    """Write one whole line to standard error, in a single write, whichever thread calls it.

    ``print`` writes the text and its newline as two writes, so a warning from a background
    thread (TensorBoard's writer on a full disk) could land between another line and its newline
    and run two lines into one.

    Args:
        line: The text, without its newline.
    """
    with _LINE_LOCK:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()


class Stopped(KeyboardInterrupt):
    """SIGTERM or SIGHUP: stop like Ctrl-C (the engine's KeyboardInterrupt path journals it)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextlib.contextmanager
def stop_on_signals() -> Iterator[list[int]]:
    """Turn SIGTERM and SIGHUP into a resumable stop; a second signal while stopping ends at once.

    Schedulers (Slurm, Kubernetes, ``timeout``) send SIGTERM and a closed SSH session SIGHUP;
    both become the engine's Ctrl-C path. Whichever signal comes second (Ctrl-C included) exits
    at once with 128 + its number: every store write is one SQLite transaction, so the store is
    consistent wherever that happens, and the workers die with the driver.

    Yields:
        A list that holds the number of the first signal received (empty for none).
    """
    received: list[int] = []

    def handler(signum: int, frame: Any) -> None:
        if received:
            os._exit(128 + signum)
        received.append(signum)
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise Stopped(signum)

    if threading.current_thread() is not threading.main_thread():
        yield received  # only the main thread may handle signals (a notebook's worker thread)
        return
    signals = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP]
    previous = {s: signal.signal(s, handler) for s in signals}
    try:
        yield received
    finally:
        for s, old in previous.items():
            signal.signal(s, old)


@contextlib.contextmanager
def one_line_warnings() -> Iterator[None]:
    """Warnings, and disk errors in background threads, as one ``warning:`` line each.

    What fails beside the store while a search runs (TensorBoard's event files on a full disk,
    say) must not stop it, nor bury the one ``error:`` line under tracebacks from threads.
    """
    previous_show, previous_hook = warnings.showwarning, threading.excepthook

    def show(message: Any, category: Any, filename: str, lineno: int, *rest: Any) -> None:
        say(f"warning: {' '.join(str(message).split())}")

    def hook(info: Any) -> None:
        exc = info.exc_value
        if isinstance(exc, OSError) and exc.errno in DISK_ERRORS:
            where = f"{os.fsdecode(exc.filename)}: " if exc.filename else ""
            name = info.thread.name if info.thread is not None else "a thread"
            say(f"warning: {where}{exc.strerror} ({name} stopped)")
            return
        previous_hook(info)

    warnings.showwarning, threading.excepthook = show, hook
    try:
        yield
    finally:
        warnings.showwarning, threading.excepthook = previous_show, previous_hook


@contextlib.contextmanager
def interrupt_on_sigint() -> Iterator[None]:
    """SIGINT raises ``KeyboardInterrupt`` for the duration, even where it was ignored or blocked.

    A process started as a background job of a non-interactive shell (``python script.py &``,
    most CI runners and job launchers) inherits SIGINT *ignored*, and Python then installs no
    ``KeyboardInterrupt`` handler at all: a stop request (``kill -INT``, a supervisor's
    interrupt) would be dropped and the search would run to its end. The command line's
    :func:`stop_on_signals` handles SIGINT itself; this gives a search started from Python the
    same guarantee. A handler someone installed on purpose (IPython's, a notebook kernel's)
    is left alone, and everything is put back afterwards. Only the main thread can do this
    (elsewhere: nothing).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)
    replace = previous in (signal.SIG_IGN, signal.SIG_DFL, None)
    if replace:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    mask = signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        if replace:
            signal.signal(signal.SIGINT, previous if previous is not None else signal.SIG_DFL)


@contextlib.contextmanager
def sigint_deferred() -> Iterator[None]:
    """Start child processes meanwhile with SIGINT ignored, holding the driver's own Ctrl-C.

    The terminal sends Ctrl-C to the whole process group, so a child still starting up (a worker,
    the TensorBoard renderer) used to print a ``KeyboardInterrupt`` traceback from its import
    machinery. ``multiprocessing``'s spawn resets the signal mask of its children, so blocking
    alone does not reach them; an ignored disposition does (``exec`` keeps it, and Python then
    installs no ``KeyboardInterrupt`` handler), until the child sets its own. The driver blocks
    SIGINT while its handler says "ignore": a Ctrl-C arriving meanwhile stays pending (the kernel
    never discards a blocked signal) and is delivered to the restored handler when the mask is
    restored, so the driver still stops. The main thread only; elsewhere, nothing changes.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    # Starting multiprocessing's resource tracker unblocks SIGINT in this thread (it blocks and
    # unblocks it around its own start): have it running before the mask is set.
    from multiprocessing import resource_tracker

    resource_tracker.ensure_running()
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    handler = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, handler)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)


@contextlib.contextmanager
def threads_without_sigint() -> Iterator[None]:
    """Threads started meanwhile never take SIGINT: it is the main thread's to handle.

    A Ctrl-C is sent to the process, and the kernel hands it to any thread that does not block
    it. While :func:`sigint_deferred` has the main thread block it under an "ignore"
    disposition, a helper thread (TensorBoard's event writer, its render queue) that did not
    block it would take it, and an ignored signal is dropped: the search would not stop. A new
    thread inherits the mask of the thread that starts it, so SIGINT is blocked here for the
    duration. The main thread only; elsewhere, nothing changes.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
