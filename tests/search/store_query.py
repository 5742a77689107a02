"""Reading a run's store from a test as a second process would: read-only, by SQL."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def query(run_dir: Path, sql: str) -> list[tuple]:
    """The rows of ``sql`` on ``run_dir``'s store, opened read-only (never blocks the search)."""
    con = sqlite3.connect(f"file:{run_dir / 'experiment.sqlite'}?mode=ro", uri=True, timeout=10)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()
