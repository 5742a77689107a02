"""A run made before seed slots and finalists (store schema 1) reads and analyses as it did.

``tests/fixtures/store_v1`` holds such a store and what the code of that time printed for it
(its README says how both were made). Today's code must print the same, read-only (no upgrade)
and after the store was opened for writing (upgraded to schema 2).
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from keras_taylorglo.cli import main
from keras_taylorglo.store import Store

FIXTURE = Path(__file__).parent / "fixtures" / "store_v1"


def run_cli(*args: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(list(args)) == 0
    return out.getvalue()


@pytest.fixture
def run_dir(tmp_path) -> Path:
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(FIXTURE / "experiment.sqlite", run)
    return run


def schema_version(run: Path) -> int:
    with sqlite3.connect(run / "experiment.sqlite") as conn:
        return conn.execute("PRAGMA user_version").fetchone()[0]


def test_status_and_export_print_what_they_printed_before(run_dir):
    assert run_cli("status", str(run_dir), "--json") == (FIXTURE / "status.json").read_text()
    assert (
        run_cli("export", str(run_dir), "--format", "json") == (FIXTURE / "export.json").read_text()
    )
    assert run_cli("export", str(run_dir)) == (FIXTURE / "export.txt").read_text()
    assert schema_version(run_dir) == 1  # reading changes nothing


def test_the_analysis_reports_what_it_reported_before(run_dir):
    # Every training of the analysis is in the store already: nothing is trained again.
    report = run_cli(
        "analyze", str(run_dir), "--runs", "2", "--baselines", "crossentropy,gce:0.7", "--json"
    )
    assert json.loads(report) == json.loads((FIXTURE / "report.json").read_text())
    assert schema_version(run_dir) == 2  # opened for writing: upgraded, rows untouched
    assert run_cli("status", str(run_dir), "--json") == (FIXTURE / "status.json").read_text()


def test_an_upgraded_store_keeps_every_row_and_reads_the_same(run_dir):
    with Store.open(run_dir, readonly=True) as store:
        before = (store.attempts(), store.candidates(), store.generations(), store.events())
        assert store.schema_version == 1 and store.finalists() == []
        chosen = store.chosen()
    assert chosen.source == "best_evaluation" and chosen.theta == store_best(run_dir)
    Store.open(run_dir).close()
    with Store.open(run_dir, readonly=True) as store:
        assert store.schema_version == 2
        after = (store.attempts(), store.candidates(), store.generations(), store.events())
        assert store.finalists() == [] and store.meta()["schema_version"] == 2
    assert after == before
    assert {a.seed_index for a in after[0]} == {0}


def store_best(run: Path) -> list[float]:
    return json.loads((FIXTURE / "status.json").read_text())["best"]["theta"]
