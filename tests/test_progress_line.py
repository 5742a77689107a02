"""The live progress line (issue 22 §6): no ETA before it means something, and after Ctrl-C the
line is on the screen once (the terminal's ``^C`` echo used to wrap a full-width line, and the
next redraw left the old line above the new one).

The Ctrl-C test runs a real search in a pseudo-terminal of 80 columns and replays what it wrote
on a small terminal model: printable characters with the terminal's wrap at the last column,
carriage return, newline, erase-line and cursor-up, which is all Rich's live display sends.
"""

from __future__ import annotations

import fcntl
import io
import os
import pty
import re
import select
import shutil
import signal
import struct
import sys
import termios
import time
from pathlib import Path

from rich.console import Console

from keras_taylorglo.search.progress import MARGIN, ProgressBar

HERE = Path(__file__).parent


def terminal(data: str, width: int) -> list[str]:
    """The screen a terminal of ``width`` columns shows after ``data`` (no scrolling limit)."""
    lines: list[list[str]] = [[]]
    row = col = 0
    wrap_pending = False
    for token in re.findall(r"\x1b\[[0-9;?]*[A-Za-z]|\r|\n|[^\x1b\r\n]", data):
        if token == "\r":
            col, wrap_pending = 0, False
        elif token == "\n":
            row, col, wrap_pending = row + 1, 0, False
        elif token.startswith("\x1b["):
            final, params = token[-1], token[2:-1]
            if final == "K":
                line = lines[row]
                del line[0 if params == "2" else col :]
            elif final == "A":
                row, wrap_pending = max(0, row - int(params or 1)), False
        else:
            if wrap_pending:
                row, col, wrap_pending = row + 1, 0, False
            while len(lines) <= row:
                lines.append([])
            line = lines[row]
            line.extend(" " * (col - len(line)))
            line[col : col + 1] = [token]
            col += 1
            if col == width:
                col, wrap_pending = width - 1, True
        while len(lines) <= row:
            lines.append([])
    return ["".join(line).rstrip() for line in lines]


def test_the_terminal_model_wraps_a_full_line():
    assert terminal("abc^C", 3) == ["abc", "^C"]
    assert terminal("abc\r\x1b[2Kxy", 3) == ["xy"]


def rendered(bar: ProgressBar, width: int) -> list[str]:
    out = io.StringIO()
    Console(file=out, width=width, force_terminal=True, color_system=None).print(
        bar._progress.get_renderable()
    )
    return out.getvalue().rstrip("\n").split("\n")


def test_the_line_is_one_line_short_of_the_width_and_waits_for_an_eta():
    console = Console(file=io.StringIO(), width=80, force_terminal=True)
    bar = ProgressBar("evals", console=console, eta_after=8)
    bar.start(48, description="gen 0 of 0–5 · best 0.5933 · retries 46 · " + "x" * 100)
    try:
        bar.update(1, force=True)
        (line,) = rendered(bar, 80)
        assert len(line) <= 80 - MARGIN and line.endswith("ETA —"), line
        assert "…" in line  # the description gives way, the counts stay
        time.sleep(0.05)
        bar.update(9, force=True)  # a generation of 8 done since the start
        (line,) = rendered(bar, 80)
        assert not line.endswith("ETA —") and " 9/48 evals" in line, line
    finally:
        bar.stop()


RECIPE = """
[experiment]
name = "ctrl-c"

[evolution]
population = 4
generations = 50

[evaluation]
fitness = "slow_fitness:slow"

[execution]
devices = "cpu"
workers = 2
"""


def workers_ready(run_dir: Path) -> bool:
    """Whether both workers of the run have started (the store's workers table says so)."""
    from keras_taylorglo.store import Store, WorkerState

    try:
        with Store.open(run_dir, readonly=True) as store:
            states = [w.state for w in store.workers()]
    except Exception:  # noqa: BLE001 - not created yet, or being written: not ready
        return False
    return len(states) == 2 and WorkerState.STARTING not in states


def test_after_ctrl_c_the_progress_line_is_on_the_screen_once(tmp_path):
    (tmp_path / "slow_fitness.py").write_text(
        "import time\n\n\ndef slow(theta, seed):\n    time.sleep(0.2)\n"
        "    return 0.5 - 1e-3 * abs(theta[0])\n"
    )
    (tmp_path / "recipe.toml").write_text(RECIPE)
    width = 80
    pid, fd = pty.fork()
    if pid == 0:  # the child: a search on a terminal of 80 columns
        os.chdir(tmp_path)
        os.environ.update(COLUMNS=str(width), LINES="24", TERM="xterm")
        argv = [sys.executable, "-m", "keras_taylorglo", "search", "recipe.toml"]
        os.execv(sys.executable, argv)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, width, 0, 0))
    data, interrupted, deadline = b"", False, time.monotonic() + 90
    try:
        while time.monotonic() < deadline:
            # Once every worker is up (they ignore SIGINT then; one still being spawned would
            # print Python's KeyboardInterrupt traceback between two redraws, not our line).
            if (
                not interrupted
                and b" evals " in data
                and workers_ready(tmp_path / "runs" / "ctrl-c")
            ):
                os.write(fd, b"\x03")  # Ctrl-C, as typed: the terminal echoes ^C
                interrupted = True
            if select.select([fd], [], [], 0.1)[0]:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:  # the child is gone
                    break
                if not chunk:
                    break
                data += chunk
    finally:
        if not interrupted or time.monotonic() >= deadline:
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(fd)
    screen = [line for line in terminal(data.decode(errors="replace"), width) if line]
    assert interrupted, data[-2000:]
    progress = [line for line in screen if " evals " in line]
    assert len(progress) == 1, "\n".join(screen)
    assert screen[-1].startswith("interrupted: the run is resumable"), "\n".join(screen)
    shutil.rmtree(tmp_path / "runs", ignore_errors=True)
