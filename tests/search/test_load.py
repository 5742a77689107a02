"""Load: a search journaling as fast as it can, with ``status --json`` and the monitor reading.

Eight workers and a fitness that returns at once make the engine write the store as often as it
ever will; meanwhile ``status --json`` runs in a loop (fresh processes, as a user's ``watch``
would) and the monitor's reader (``keras_taylorglo_tui.reader.RunReader``) reads in a thread. No
reader may see "database is locked", and the journal must hold every attempt exactly once.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from keras_taylorglo.store import Store

HERE = Path(__file__).parent

RECIPE = """
[experiment]
name = "load"
seed = 1
[evolution]
population = 16
generations = {generations}
[evaluation]
fitness = "fitness_fns:sphere"
[execution]
devices = "cpu"
workers = 8
"""


@pytest.mark.slow
def test_readers_under_a_journal_at_full_speed(tmp_path):
    from keras_taylorglo_tui.reader import RunReader

    generations = 25
    shutil.copy(HERE / "fitness_fns.py", tmp_path / "fitness_fns.py")
    (tmp_path / "recipe.toml").write_text(RECIPE.format(generations=generations))
    run_dir = tmp_path / "run"
    search = subprocess.Popen(
        [sys.executable, "-m", "keras_taylorglo", "search", "recipe.toml", "--out", "run"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    problems: list[str] = []
    reads = {"status": 0, "monitor": 0}
    stop = threading.Event()

    def monitor() -> None:
        while not Store.exists(run_dir) and not stop.is_set():
            time.sleep(0.01)
        reader = RunReader(run_dir)
        try:
            while not stop.is_set():
                try:
                    snapshot = reader.read()
                except Exception as exc:  # noqa: BLE001 - any failure of a reader is the finding
                    problems.append(f"monitor: {type(exc).__name__}: {exc}")
                    return
                assert snapshot is not None
                reads["monitor"] += 1
        finally:
            reader.close()

    thread = threading.Thread(target=monitor, daemon=True)
    thread.start()
    previous = 0
    while search.poll() is None:
        if not Store.exists(run_dir):
            time.sleep(0.05)
            continue
        out = subprocess.run(
            [sys.executable, "-m", "keras_taylorglo", "status", "--json", "run"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if out.returncode != 0 or "locked" in out.stderr:
            problems.append(f"status: {out.returncode}: {out.stderr.strip()}")
            continue
        status = json.loads(out.stdout)
        assert status["evaluations"] >= previous  # a reader never sees the journal go back
        previous = status["evaluations"]
        reads["status"] += 1
    stop.set()
    thread.join(30)
    _, err = search.communicate()
    assert search.returncode == 0, err
    assert "locked" not in err and "Traceback" not in err, err
    assert problems == []
    assert reads["status"] >= 3 and reads["monitor"] >= 10, reads
    with Store.open(run_dir, readonly=True) as store:
        attempts = store.attempts()
        assert store.state() == "finished"
    keys = [(a.generation, a.candidate, a.attempt, a.rerun) for a in attempts]
    assert len(keys) == len(set(keys))  # none duplicated
    scored = {(a.generation, a.candidate) for a in attempts if a.status == "ok"}
    assert len(scored) == 16 * generations == len(attempts)  # none lost
