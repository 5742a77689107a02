"""A scheduler's SIGTERM and a closed session's SIGHUP stop a search like Ctrl-C, resumably."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from test_engine import cli, query, spawn, status, wait_for, write_recipe  # noqa: E402


def _attempts(run_dir: Path) -> int:
    return query(run_dir, "SELECT COUNT(*) FROM attempts WHERE status != 'running'")[0][0]


@pytest.fixture(scope="module")
def undisturbed(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("undisturbed")
    recipe = write_recipe(tmp, generations=4)
    out = cli("search", str(recipe), "--out", str(tmp / "run"))
    assert out.returncode == 0, out.stderr
    return status(tmp / "run")


@pytest.mark.slow
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_a_signal_stops_like_ctrl_c_and_resume_is_exact(tmp_path, undisturbed, signum, code):
    recipe = write_recipe(tmp_path, generations=4)
    run_dir = tmp_path / "run"
    proc = spawn("search", str(recipe), "--out", str(run_dir), env={"TG_FITNESS_SLEEP": "0.2"})
    wait_for(lambda: _attempts(run_dir) >= 3, proc=proc)
    os.killpg(proc.pid, signum)  # as a scheduler does: the whole process group
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    name = signal.Signals(signum).name
    assert err.strip().splitlines()[-1] == (
        f"interrupted ({name}): the run is resumable with `keras-taylorglo resume {run_dir}`"
    )
    assert "Traceback" not in err
    assert status(run_dir)["state"] == "interrupted"
    events = [m for (m,) in query(run_dir, "SELECT message FROM events WHERE kind = 'info'")]
    assert f"interrupted ({name})" in events
    resumed = cli("resume", str(run_dir))
    assert resumed.returncode == 0, resumed.stderr
    final = status(run_dir)
    assert final["state"] == "finished"
    # Deterministic fitness: the interrupted-and-resumed search ends where the undisturbed one did.
    assert final["best"] == undisturbed["best"]
    assert final["generations"] == undisturbed["generations"]


@pytest.mark.slow
def test_a_second_signal_while_stopping_ends_at_once_with_a_consistent_store(tmp_path):
    recipe = write_recipe(tmp_path, generations=3)
    run_dir = tmp_path / "run"
    # The second signal comes right after the first, while the driver is stopping.
    proc = spawn("search", str(recipe), "--out", str(run_dir), env={"TG_FITNESS_SLEEP": "0.5"})
    wait_for(lambda: _attempts(run_dir) >= 2, proc=proc)
    os.kill(proc.pid, signal.SIGTERM)
    os.kill(proc.pid, signal.SIGTERM)
    proc.communicate(timeout=60)
    assert proc.returncode == 143
    # Whatever moment the second signal hit, the store opens, says interrupted, and resumes.
    con = sqlite3.connect(run_dir / "experiment.sqlite")
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()
    deadline = time.monotonic() + 10
    while status(run_dir)["state"] == "running" and time.monotonic() < deadline:
        time.sleep(0.1)  # the lock goes with the process
    assert status(run_dir)["state"] == "interrupted"
    resumed = cli("resume", str(run_dir))
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(cli("status", str(run_dir), "--json").stdout)["state"] == "finished"
