"""A full disk, or one turning read-only, under a running search: one line, an exact resume.

The end-to-end tests put the run directory on a real file system: a small tmpfs that fills up,
and an ext4 image (a loop mount with ``errors=remount-ro``) told through its own
``/sys/fs/ext4/DEV/trigger_fs_error`` that it failed, so the kernel turns it read-only mid-search
as it would after a disk error. Both mount for the test (root only; elsewhere they are skipped,
and the store-level test below still makes SQLite's real ``SQLITE_FULL`` with
``PRAGMA max_page_count``, no mocks). The search runs through the CLI with a deterministic custom
fitness, so the resumed run can be compared with one that never stopped.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from in_process import run_cli

from keras_taylorglo.errors import StoreError
from keras_taylorglo.outcomes import Outcome
from keras_taylorglo.store import DB_NAME, Store

HERE = Path(__file__).parent

RECIPE = """
[experiment]
name = "full"
seed = 5
[evolution]
population = 6
generations = 6
sigma = 1.2
[evaluation]
fitness = "fitness_fns:sphere"
[execution]
devices = "cpu"
workers = 2
"""


def _cli(*args: str, cwd: Path, env: dict | None = None, **kw) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "keras_taylorglo", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
        **kw,
    )


def _finish(proc: subprocess.Popen, timeout: float = 120) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def _best(run_dir: Path) -> dict:
    with Store.open(run_dir, readonly=True) as store:
        return store.best()


def _finished_generations(run_dir: Path) -> int:
    try:
        with Store.open(run_dir, readonly=True) as store:
            return sum(1 for g in store.generations() if g.finished)
    except StoreError:
        return 0


@pytest.fixture
def small_disk(tmp_path):
    """A real 8 MiB file system (tmpfs), mounted for the test and unmounted after it."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root; test_sqlite_full_* covers the store")
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)], capture_output=True
    )
    if made.returncode != 0:
        pytest.skip(f"mount refused here ({made.stderr.strip()!r})")
    yield mount
    subprocess.run(["umount", str(mount)], check=False)


def _fill(disk: Path) -> Path:
    """Write a file until the file system says ENOSPC; returns it (delete it to free space)."""
    filler = disk / "filler"
    with open(filler, "wb") as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
        except OSError as exc:
            assert exc.errno == 28  # ENOSPC: the disk is really full
    return filler


def _write_recipe(tmp_path: Path) -> None:
    shutil.copy(HERE / "search" / "fitness_fns.py", tmp_path / "fitness_fns.py")
    (tmp_path / "recipe.toml").write_text(RECIPE)


@pytest.fixture(scope="module")
def calm(tmp_path_factory) -> dict:
    """The undisturbed run, on the normal disk: its best is what every resume must end with.

    One for the module (the search is deterministic), run in this process (tests/in_process.py).
    """
    tmp = tmp_path_factory.mktemp("calm")
    _write_recipe(tmp)
    out = run_cli("search", "recipe.toml", "--out", "calm", cwd=tmp)
    assert out.returncode == 0, out.stderr
    return _best(tmp / "calm")


def _disturbed_run(tmp_path: Path, run_dir: Path, disturb) -> tuple[str, Any]:
    """A search in ``run_dir``, disturbed once two generations are done; its one error line.

    Returns:
        ``(error line, what disturb returned)``, after checking that the search exited 2 with
        that line last, no traceback, and beside the progress only whole one-line warnings.
    """
    # Slow enough that the disturbance comes while generations remain.
    proc = _cli(
        "search",
        "recipe.toml",
        "--out",
        str(run_dir),
        cwd=tmp_path,
        env={"TG_FITNESS_SLEEP": "0.1"},
    )
    deadline = time.monotonic() + 90
    while _finished_generations(run_dir) < 2 and time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    disturbed = disturb()
    code, _, err = _finish(proc)
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 2, err
    assert "Traceback" not in err, err
    assert len(errors) == 1 and errors[0] == err.strip().splitlines()[-1], err
    # Beside the progress lines, only one-line warnings (TensorBoard's files did not fit either).
    others = [
        line for line in err.splitlines()[:-1] if not line.startswith(("generation ", "warning: "))
    ]
    assert others == [], err
    # One warning per line (two threads' warnings once ran into one line), each naming its
    # thread, and file names as text (not b'...').
    assert all(line.count("warning: ") <= 1 for line in err.splitlines()), err
    assert "Thread-" not in err and "b'" not in err, err
    return errors[0], disturbed


def _resume_ends_as_calm(tmp_path: Path, run_dir: Path, calm: dict) -> None:
    """The stopped store is whole, and its resume ends exactly as the undisturbed run."""
    conn = sqlite3.connect(run_dir / DB_NAME)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    with Store.open(run_dir, readonly=True) as store:
        stopped_at = sum(1 for g in store.generations() if g.finished)
        assert store.state() != "finished"
    assert 2 <= stopped_at < 6
    out = run_cli("resume", str(run_dir), cwd=tmp_path)  # in this process: no signal, no kill
    assert out.returncode == 0, out.stderr
    resumed = _best(run_dir)
    assert resumed.theta == calm.theta and resumed.fitness == calm.fitness
    assert (resumed.generation, resumed.candidate) == (calm.generation, calm.candidate)
    with Store.open(run_dir, readonly=True) as store:
        assert store.state() == "finished"
        keys = [(a.generation, a.candidate, a.attempt) for a in store.attempts()]
        done = [a for a in store.attempts() if a.status == "ok"]
    # every candidate scored once: the attempt the disk stopped was run again, never twice ok
    assert len({(a.generation, a.candidate) for a in done}) == len(done) == 36
    assert len(keys) >= 36


@pytest.mark.slow
def test_a_full_disk_stops_the_search_with_one_line_and_resume_is_exact(tmp_path, small_disk, calm):
    _write_recipe(tmp_path)
    run_dir = small_disk / "run"
    error, filler = _disturbed_run(tmp_path, run_dir, lambda: _fill(small_disk))
    assert error.startswith(f"error: {run_dir}: the store cannot be written: the disk is full")
    assert f"resumable with `keras-taylorglo resume {run_dir}`" in error

    filler.unlink()  # space is back
    _resume_ends_as_calm(tmp_path, run_dir, calm)


def test_sqlite_full_is_one_line_and_the_store_stays_consistent(tmp_path):
    """SQLite's own SQLITE_FULL (max_page_count reached): a real error from SQLite, no mock."""
    store = Store.create(tmp_path / "run", recipe_text="", meta={"population": 2})
    store.begin_generation(0, b"state", [[0.0, 1.0], [1.0, 0.0]])
    pages = store._conn.execute("PRAGMA page_count").fetchone()[0]
    store._conn.execute(f"PRAGMA max_page_count = {pages}")  # the file may not grow any more
    with pytest.raises(StoreError) as caught:
        for i in range(10_000):  # each event a transaction, until the file must grow
            row = store.start_attempt(0, i % 2, i, i, "w0", "cpu")
            store.finish_attempt(row, Outcome("ok", 0.5, 0.5, 10, 1.0), candidate_status=None)
            store.add_event("info", "x" * 200)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{tmp_path / 'run'}: the store cannot be written: the disk is full")
    store.close()
    # What was committed is there, whole; the failed transaction left nothing half-written.
    conn = sqlite3.connect(tmp_path / "run" / DB_NAME)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    started = conn.execute("SELECT COUNT(*) FROM attempts").fetchone()[0]
    finished = conn.execute("SELECT COUNT(*) FROM attempts WHERE ended IS NOT NULL").fetchone()[0]
    assert started >= 1 and started - finished in (0, 1), (started, finished)
    conn.close()
    with Store.open(tmp_path / "run") as again:  # and it takes writes again once there is room
        again.add_event("info", "space is back")
        assert json.dumps(again.status_json())


@pytest.fixture
def failing_disk(tmp_path):
    """A real ext4 file system on a loop device, and how to make it fail (and mend it).

    Yields ``(mount, fail, mend)``: ``fail()`` reports an error through ext4's own sysfs
    trigger, and with ``errors=remount-ro`` the kernel refuses every write from then on, as it
    does after a real disk error; ``mend()`` unmounts, runs ``e2fsck`` and mounts it again.
    """
    if os.geteuid() != 0:
        pytest.skip("a loop mount needs root; test_sqlite_full_* covers the store")
    if not (shutil.which("mkfs.ext4") and shutil.which("e2fsck")):
        pytest.skip("e2fsprogs (mkfs.ext4, e2fsck) are not installed")
    image, mount = tmp_path / "ext4.img", tmp_path / "ext4"
    mount.mkdir()
    with open(image, "wb") as fh:
        fh.truncate(32 * 2**20)
    subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], check=True, capture_output=True)

    def mount_it() -> None:
        made = subprocess.run(
            ["mount", "-o", "loop,errors=remount-ro", str(image), str(mount)],
            capture_output=True,
            text=True,
        )
        if made.returncode != 0:
            pytest.skip(f"loop mount refused here ({made.stderr.strip()!r})")

    mount_it()
    source = subprocess.run(
        ["findmnt", "-n", "-o", "SOURCE", str(mount)], capture_output=True, text=True
    ).stdout.strip()
    trigger = Path("/sys/fs/ext4") / Path(source).name / "trigger_fs_error"
    if not trigger.exists():
        subprocess.run(["umount", str(mount)], check=False)
        pytest.skip(f"this kernel has no {trigger}")

    def fail() -> None:
        trigger.write_text("keras-taylorglo test\n")

    def mend() -> None:
        subprocess.run(["umount", str(mount)], check=True)
        checked = subprocess.run(["e2fsck", "-fy", str(image)], capture_output=True, text=True)
        assert checked.returncode in (0, 1), checked.stdout  # 1: errors found and corrected
        mount_it()

    yield mount, fail, mend
    subprocess.run(["umount", str(mount)], check=False)


@pytest.mark.slow
def test_a_disk_turning_read_only_stops_the_search_with_one_line_and_resume_is_exact(
    tmp_path, failing_disk, calm
):
    mount, fail, mend = failing_disk
    _write_recipe(tmp_path)
    run_dir = mount / "run"
    error, _ = _disturbed_run(tmp_path, run_dir, fail)
    # It names the run directory and the cause, which the mount flags do not show (statvfs
    # still says read-write: only a write tells), and how to go on.
    assert error.startswith(f"error: {run_dir}: the store cannot be written ("), error
    assert error.endswith(
        f": read-only file system); the run is resumable with "
        f"`keras-taylorglo resume {run_dir}` once the disk is fixed"
    ), error

    mend()  # e2fsck, and the disk takes writes again
    _resume_ends_as_calm(tmp_path, run_dir, calm)
