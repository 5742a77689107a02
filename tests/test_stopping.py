"""Side failures as whole ``warning:`` lines, even when several threads write at once."""

from __future__ import annotations

import errno
import signal
import sys
import threading
import time
import warnings

import pytest

from keras_taylorglo.stopping import one_line_warnings, say, threads_without_sigint


class _SlowStream:
    """A stderr whose every write gives the other threads a turn (a busy pipe, say)."""

    def __init__(self) -> None:
        self.chunks: list[str] = []

    def write(self, text: str) -> int:
        time.sleep(0.002)  # let another thread write between two writes of one line
        self.chunks.append(text)
        return len(text)

    def flush(self) -> None:
        pass


def _lines(stream: _SlowStream) -> list[str]:
    text = "".join(stream.chunks)
    assert text.endswith("\n")
    return text[:-1].split("\n")


def test_lines_from_many_threads_never_run_into_each_other(monkeypatch):
    stream = _SlowStream()
    monkeypatch.setattr(sys, "stderr", stream)
    start = threading.Barrier(8)

    def speak(k: int) -> None:
        start.wait()
        for i in range(5):
            say(f"line {k}.{i}")

    threads = [threading.Thread(target=speak, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = _lines(stream)
    assert sorted(lines) == sorted(f"line {k}.{i}" for k in range(8) for i in range(5))


def test_a_warning_and_a_dead_threads_disk_error_are_two_whole_lines(monkeypatch):
    # The CI failure this guards: TensorBoard's writer thread died of a full disk while the
    # driver warned, and print's two writes ran the two warnings into one line.
    stream = _SlowStream()
    monkeypatch.setattr(sys, "stderr", stream)
    start = threading.Barrier(2)

    def full_disk() -> None:
        start.wait()
        time.sleep(0.01)  # while the driver is in the middle of its warnings
        raise OSError(errno.ENOSPC, "No space left on device")

    with one_line_warnings():
        t = threading.Thread(target=full_disk, name="TensorBoard's event writer")
        t.start()
        start.wait()
        for generation in range(20):  # distinct texts: the default filter shows each once
            warnings.warn(
                f"TensorBoard logging failed for generation {generation}",
                RuntimeWarning,
                stacklevel=1,
            )
        t.join()
    lines = _lines(stream)
    for generation in range(20):
        assert f"warning: TensorBoard logging failed for generation {generation}" in lines, lines
    assert "warning: No space left on device (TensorBoard's event writer stopped)" in lines, lines
    assert len(lines) == 21, lines


def test_other_thread_errors_keep_their_traceback(monkeypatch):
    seen = []
    monkeypatch.setattr(threading, "excepthook", lambda info: seen.append(info.exc_type))
    with one_line_warnings():
        t = threading.Thread(target=lambda: 1 / 0)
        t.start()
        t.join()
    assert seen == [ZeroDivisionError]  # a bug is not a disk error: the previous hook has it


def test_tensorboards_writer_thread_is_named_in_its_warning(tmp_path):
    from keras_taylorglo.tensorboard import EventWriter

    before = set(threading.enumerate())
    writer = EventWriter(tmp_path / "tb")
    try:
        started = [t.name for t in set(threading.enumerate()) - before]
    finally:
        writer.close()
    assert started == ["TensorBoard's event writer"]  # not "Thread-1", as a full disk once said


def _blocked_signals(thread: threading.Thread) -> int:
    """The thread's blocked-signal mask, as the kernel shows it (Linux)."""
    status = open(f"/proc/self/task/{thread.native_id}/status").read()
    return int(
        next(line for line in status.splitlines() if line.startswith("SigBlk:")).split()[1], 16
    )


SIGINT_BIT = 1 << (signal.SIGINT - 1)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_the_helper_threads_of_a_search_never_take_sigint(tmp_path):
    """A Ctrl-C that the kernel hands to a helper thread while the main thread holds it (workers
    starting) would be dropped; TensorBoard's writer thread and render queue block it, and the
    main thread's own mask is as it was."""
    from keras_taylorglo.tensorboard import EventWriter

    before = _blocked_signals(threading.main_thread())
    writer = EventWriter(tmp_path / "tb")
    try:
        helpers = [t for t in threading.enumerate() if t.name == "TensorBoard's event writer"]
        assert helpers, [t.name for t in threading.enumerate()]
        assert all(_blocked_signals(t) & SIGINT_BIT for t in helpers)
    finally:
        writer.close()
    assert _blocked_signals(threading.main_thread()) == before
    with threads_without_sigint():
        thread = threading.Thread(target=time.sleep, args=(0.5,))
        thread.start()
    assert _blocked_signals(thread) & SIGINT_BIT
    assert not _blocked_signals(threading.main_thread()) & SIGINT_BIT
    thread.join()
