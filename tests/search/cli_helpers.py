"""Running the command line from a search test: as a subprocess, as a user would, or in-process.

``cli`` and ``spawn`` start a process of their own, for tests of the process itself (signals,
SIGKILL, faults injected at interpreter start, what the workers print to the terminal);
``cli_in_process`` runs the command in the test's process where only its output and the run
directory are under test (tests/in_process.py says why).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from in_process import run_cli


def cli(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """``python -m keras_taylorglo ARGS`` to the end, its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "keras_taylorglo", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def cli_in_process(
    *args: str, env: dict | None = None, timeout: float = 120
) -> subprocess.CompletedProcess:
    """The command in this process (tests/in_process.py): the driver's imports are paid once.

    ``timeout`` is kept so that it can stand in for :func:`cli`; the search's own workers still
    run apart.
    """
    return run_cli(*args, env=env)


def spawn(*args: str, env: dict | None = None) -> subprocess.Popen:
    """``python -m keras_taylorglo ARGS`` started in a session of its own (to SIGKILL it all)."""
    return subprocess.Popen(
        [sys.executable, "-m", "keras_taylorglo", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
        start_new_session=True,
    )


def status(run_dir: Path, run: Callable[..., subprocess.CompletedProcess] = cli, **options) -> dict:
    """``status RUN_DIR --json`` run by ``run`` (:func:`cli` or :func:`cli_in_process`), parsed;
    ``options`` (``env``, ``timeout``) go to ``run``."""
    out = run("status", str(run_dir), "--json", **options)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def wait_for(predicate, timeout: float = 60.0, proc: subprocess.Popen | None = None) -> None:
    """Poll ``predicate`` until it holds (a store being written may be briefly unreadable)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except sqlite3.Error:
            pass
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"process ended early: {proc.communicate()}")
        time.sleep(0.02)
    raise AssertionError("condition not reached in time")


def cmdline(pid: int) -> bytes:
    """A process's command line as /proc shows it (empty once it is gone)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def children(pid: int) -> list[int]:
    """The live child processes of ``pid`` (workers, the TensorBoard renderer, ...), from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                found.append(int(entry.name))
    return found
