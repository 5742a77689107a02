"""``keras-taylorglo ARGS`` run inside the test process, for tests that do not test the process.

A fresh interpreter costs a second of imports (CMA-ES pulls in SciPy) before the command does
anything; a test that only reads what the command prints, its exit status and the run directory
gets the same from :func:`keras_taylorglo.cli.main` called here. The search's workers are still
processes of their own (the engine starts them), so environment variables given here reach them.

Keep a real subprocess where the process itself is under test: a signal or SIGKILL sent to the
driver, a fault injected at interpreter start (``tests/search/_fault``), what the workers or
TensorFlow print to the terminal (they write to the inherited file descriptor, not to
``sys.stderr`` of this process), a fresh interpreter's imports, or a pseudo-terminal.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def environment(extra: dict[str, str] | None) -> Iterator[None]:
    """``os.environ`` with ``extra`` set, restored afterwards (worker processes inherit it)."""
    saved = dict(os.environ)
    os.environ.update(extra or {})
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextlib.contextmanager
def directory(path: Path | str) -> Iterator[None]:
    """The working directory ``path``, restored afterwards (``contextlib.chdir`` is 3.11+)."""
    before = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


def run_cli(
    *args: object, env: dict[str, str] | None = None, cwd: Path | str | None = None
) -> subprocess.CompletedProcess:
    """Run the command line here; returns what ``subprocess.run(..., text=True)`` would.

    Args:
        *args: The arguments after ``keras-taylorglo`` (analysis commands too).
        env: Environment variables to set for the command (and the processes it starts).
        cwd: The working directory to run it in.

    Returns:
        The exit status (argparse's exit included) and everything written to ``sys.stdout``
        and ``sys.stderr``.
    """
    from keras_taylorglo.cli import main

    argv = [str(a) for a in args]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.ExitStack() as stack:
        stack.enter_context(environment(env))
        if cwd is not None:
            stack.enter_context(directory(cwd))
        stack.enter_context(contextlib.redirect_stdout(out))
        stack.enter_context(contextlib.redirect_stderr(err))
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse's usage errors and --help
            code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    return subprocess.CompletedProcess(
        ["keras-taylorglo", *argv], code, out.getvalue(), err.getvalue()
    )
