"""Checks that need a fresh interpreter, started together when their module's tests start.

TensorFlow configured before it starts (logical CPUs, XLA's dump directory), another Keras
backend, or what a process prints to the terminal can only be checked in a process of its own.
A module starts all of its own at once (only those of the tests selected to run), so they run
beside its in-process tests instead of one after the other; each test then waits for its own.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest

Command = tuple[Sequence[str], Mapping[str, str] | None, Path | str | None]
"""A process to start: its arguments, its environment (``None``: this one's) and its folder."""


@contextlib.contextmanager
def started(
    request: pytest.FixtureRequest, tests: Mapping[str, str], commands: Mapping[str, Command]
) -> Iterator[dict[str, subprocess.Popen]]:
    """Starts the commands whose test is selected to run; kills what is left of them at the end.

    Args:
        request: the fixture's request (its session lists the selected tests).
        tests: each command's name → the name of the test that reads it.
        commands: each command's name → ``(args, env, cwd)``.

    Yields:
        The started processes by name, their output piped as text.
    """
    selected = {item.name for item in request.session.items}
    procs = {
        name: subprocess.Popen(
            list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=cwd
        )
        for name, (args, env, cwd) in commands.items()
        if tests[name] in selected
    }
    try:
        yield procs
    finally:
        for proc in procs.values():
            proc.kill()
            proc.communicate()


def finished(proc: subprocess.Popen, timeout: float = 300) -> subprocess.CompletedProcess:
    """Waits for a process started by :func:`started` and returns what it printed.

    Args:
        proc: the process.
        timeout: seconds to wait for it.

    Returns:
        Its arguments, exit status, standard output and standard error.
    """
    out, err = proc.communicate(timeout=timeout)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
