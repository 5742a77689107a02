"""A damaged store: truncated, overwritten, newer, or in a directory nobody may write.

Each case is a copy of a real run (a search through the CLI, custom fitness, no TensorFlow),
damaged the way disks and people damage files, then given to ``resume``, ``status``, ``monitor``
and ``analyze``: one ``error:`` line, exit 2, and the store's bytes unchanged.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from keras_taylorglo.cli import main
from keras_taylorglo.store import DB_NAME, SCHEMA_VERSION, Store

HERE = Path(__file__).parent

RECIPE = """
[experiment]
name = "damaged"
seed = 3
[evolution]
population = 4
generations = 2
sigma = 1.2
[evaluation]
fitness = "fitness_fns:sphere"
[execution]
devices = "cpu"
workers = 2
"""

COMMANDS = {
    "resume": ["resume"],
    "status": ["status"],
    "status --json": ["status", "--json"],
    "monitor": ["monitor"],
    "analyze": ["analyze"],
}


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """A real, interrupted run (a search's store, then marked interrupted so resume has work)."""
    tmp = tmp_path_factory.mktemp("damaged")
    shutil.copy(HERE / "search" / "fitness_fns.py", tmp / "fitness_fns.py")
    (tmp / "recipe.toml").write_text(RECIPE)
    out = subprocess.run(
        [sys.executable, "-m", "keras_taylorglo", "search", "recipe.toml", "--out", "run"],
        cwd=tmp,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    with Store.open(tmp / "run") as store:
        store.set_state("interrupted")
    return tmp / "run"


def _digest(run_dir: Path) -> dict[str, str]:
    """Every file's bytes, but the lock's (its holder's pid is rewritten by whoever locks)."""
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(run_dir.iterdir())
        if p.is_file() and p.name != "lock"
    }


def _unchanged(run_dir: Path, before: dict[str, str]) -> None:
    """The files there before have their bytes; new ones are only a reader's empty WAL.

    SQLite opens a WAL store for reading by creating an empty ``-wal`` and its ``-shm`` index
    next to it (they hold no data, and a writer may be using them, so they are not removed).
    """
    after = _digest(run_dir)
    assert {k: after.get(k) for k in before} == before
    new = set(after) - set(before)
    assert new <= {f"{DB_NAME}-wal", f"{DB_NAME}-shm"}, new
    wal = run_dir / f"{DB_NAME}-wal"
    assert f"{DB_NAME}-wal" not in new or wal.stat().st_size == 0


def _truncated(db: Path) -> None:
    os.truncate(db, db.stat().st_size // 2)


def _header(db: Path) -> None:
    data = bytearray(db.read_bytes())
    rng = random.Random(1)
    for i in range(16, 100):  # the header after the magic string: page size, counters, ...
        data[i] = rng.randrange(256)
    db.write_bytes(bytes(data))


def _pages(db: Path) -> None:
    # Pages 4 to 20 of 4 KiB: the header is intact, so opening succeeds; reading does not.
    data = bytearray(db.read_bytes())
    rng = random.Random(2)
    for i in range(4096 * 3, min(len(data), 4096 * 20)):
        data[i] = rng.randrange(256)
    db.write_bytes(bytes(data))


def _newer(db: Path) -> None:
    conn = sqlite3.connect(db)
    conn.execute(f"UPDATE meta SET value = '{SCHEMA_VERSION + 1}' WHERE key = 'schema_version'")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()


DAMAGE = {
    "truncated": (_truncated, "is not a keras-taylorglo store or is damaged"),
    "header": (_header, "is not a keras-taylorglo store or is damaged (file is not a database)"),
    "pages": (_pages, "is not a keras-taylorglo store or is damaged"),
    "newer": (
        _newer,
        f"was written by a newer keras-taylorglo (store schema version {SCHEMA_VERSION + 1}",
    ),
}


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_store_is_one_line_and_left_alone(run, tmp_path, capsys, damage, command):
    damaged = tmp_path / "run"
    shutil.copytree(run, damaged)
    make, words = DAMAGE[damage]
    make(damaged / DB_NAME)
    before = _digest(damaged)
    code = main([*COMMANDS[command], str(damaged)])
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    assert err.count("\n") == 1 and err.startswith("error: "), err
    assert words in err and str(damaged) in err, err
    assert "Traceback" not in err
    _unchanged(damaged, before)


# ----------------------------------------------------------------- a directory nobody may write


@contextlib.contextmanager
def _read_only_copy(run: Path, tmp_path: Path) -> Iterator[Path]:
    """A copy of the run that this process cannot write.

    As a normal user, permission bits do it (chmod). Root passes permission bits, so for root
    the copy lives on a real read-only file system: a small tmpfs, remounted read-only.
    """
    if os.geteuid() != 0:
        copy = tmp_path / "run"
        shutil.copytree(run, copy)
        for path in [copy, *copy.iterdir()]:
            path.chmod(0o555 if path.is_dir() else 0o444)
        try:
            yield copy
        finally:
            copy.chmod(0o755)
        return
    mount = tmp_path / "ro"
    mount.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], capture_output=True
    )
    if made.returncode != 0:
        pytest.skip(f"root without permission bits and mount refused: {made.stderr!r}")
    try:
        shutil.copytree(run, mount / "run")
        subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)
        yield mount / "run"
    finally:
        subprocess.run(["umount", str(mount)], check=False)


@pytest.mark.parametrize("command", ["resume", "analyze"])
def test_writers_refuse_a_run_directory_they_cannot_write(run, tmp_path, capsys, command):
    with _read_only_copy(run, tmp_path) as copy:
        with pytest.raises(OSError):
            (copy / "probe").write_text("x")  # the directory really is read-only
        before = _digest(copy)
        code = main([command, str(copy)])
        out, err = capsys.readouterr()
        assert code == 2, (out, err)
        assert err.count("\n") == 1, err
        assert f"error: {copy} is not writable (" in err and "nothing was changed" in err
        _unchanged(copy, before)


def test_readers_still_read_a_run_directory_they_cannot_write(run, tmp_path, capsys):
    """An archived run on a read-only disk is still a run: status reads it (as immutable)."""
    with _read_only_copy(run, tmp_path) as copy:
        before = _digest(copy)
        assert main(["status", "--json", str(copy)]) == 0
        out, _ = capsys.readouterr()
        assert '"state": "interrupted"' in out and '"evaluations": 8' in out
        with Store.open(copy, readonly=True) as store:
            store.check()  # what the monitor runs before its screen
            assert store.best().fitness > 0
        _unchanged(copy, before)
