"""Ctrl-C while the workers are still starting: one line from the driver, no child's traceback.

The terminal signals the whole process group, so a worker still importing (before it ignores
SIGINT itself) used to print a ``KeyboardInterrupt`` traceback from its import machinery. The
driver starts each worker with SIGINT blocked (``stopping.sigint_deferred``); the worker drops it
once it ignores the signal. To hit that moment every time, the workers' start-up is slowed by a
``sitecustomize`` (it runs after Python installed its SIGINT handler, before any worker code).
Linux only (/proc).
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import time
from pathlib import Path

import pytest
from cli_helpers import children, cmdline, spawn, status, wait_for

HERE = Path(__file__).parent

RECIPE = """
[experiment]
name = "ctrl_c"
[evolution]
population = 4
generations = 2
[evaluation]
fitness = "fitness_fns:sphere"
[execution]
devices = "cpu"
workers = 2
"""


SLOW_START = """
import time
from pathlib import Path

if b"spawn_main" in Path("/proc/self/cmdline").read_bytes():
    time.sleep(2.0)  # a worker starting up: still its own SIGINT handler's, not yet ignoring it
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_ctrl_c_while_the_workers_start_prints_no_traceback(tmp_path):
    shutil.copy(HERE / "fitness_fns.py", tmp_path / "fitness_fns.py")
    (tmp_path / "recipe.toml").write_text(RECIPE)
    slow = tmp_path / "slow"
    slow.mkdir()
    (slow / "sitecustomize.py").write_text(SLOW_START)
    path = os.pathsep.join([str(slow), os.environ.get("PYTHONPATH", "")])
    run_dir = tmp_path / "run"
    proc = spawn(
        "search", str(tmp_path / "recipe.toml"), "--out", str(run_dir), env={"PYTHONPATH": path}
    )

    def starting() -> bool:  # a worker process exists, before any said it is ready
        return any(b"spawn_main" in cmdline(c) for c in children(proc.pid))

    wait_for(starting, proc=proc, timeout=60)
    time.sleep(0.5)  # inside the slow start-up
    os.killpg(proc.pid, signal.SIGINT)  # as the terminal does: the whole group
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert err.strip().splitlines()[-1].startswith("interrupted"), err
    if (run_dir / "experiment.sqlite").exists():  # a run interrupted so early may hold nothing
        assert status(run_dir)["state"] == "interrupted"
