"""`keras-taylorglo study`: analysed runs side by side (no TensorFlow: the trainings are journaled
here, so `analyze` only writes the report from them)."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from keras_taylorglo.cli import main
from keras_taylorglo.outcomes import Outcome, Status
from keras_taylorglo.recipe import load_recipe
from keras_taylorglo.store import Store

THETA = [0.5, -0.25, 1.0, 2.0, -1.0, 0.0, 3.0, 0.125]


def run_cli(*args: str) -> SimpleNamespace:
    """``keras-taylorglo ARGS`` in this process (no TensorFlow is needed by these commands)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return SimpleNamespace(returncode=code, stdout=out.getvalue(), stderr=err.getvalue())


def analysed_run(
    root: Path,
    name: str,
    noise: float,
    taylorglo: list[float],
    crossentropy: list[float],
    finalist_trainings: int = 0,
) -> Path:
    """A finished run with two attempts, some finalist trainings and a finished analysis."""
    recipe = load_recipe("digits_noisy", [f"data.label_noise.rate={noise}"])
    run_dir = root / name
    store = Store.create(run_dir, recipe, meta={"name": name, "seed": 0})
    store.begin_generation(0, b"state", [THETA])
    for attempt in range(2):
        row = store.start_attempt(0, 0, attempt, seed=attempt)
        store.finish_attempt(row, Outcome(Status.OK, 0.5))
    store.set_candidate_result(0, 0, Status.OK, 0.5)
    store.finish_generation(0, b"after", THETA, 1.0)
    if finalist_trainings:
        store.begin_finalists(
            [{"theta": THETA, "source": "candidate", "generation": 0, "candidate": 0}],
            {"count": 1, "seeds": finalist_trainings},
        )
        for slot in range(finalist_trainings):
            row = store.start_finalist_run(0, slot, seed=slot)
            store.finish_finalist_run(row, Outcome(Status.OK, 0.5))
    for i, (ours, theirs) in enumerate(zip(taylorglo, crossentropy, strict=True)):
        for label, theta, accuracy in (("taylorglo", THETA, ours), ("baseline", None, theirs)):
            row = store.start_analysis_run(label, theta, 0.5, i, seed=i)
            store.finish_analysis_run(row, Status.OK, test_accuracy=accuracy)
    store.set_state("finished")
    store.close()
    out = run_cli("analyze", str(run_dir), "--runs", str(len(taylorglo)), "--json")
    assert out.returncode == 0, out.stderr
    return run_dir


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> list[Path]:
    root = tmp_path_factory.mktemp("study")
    return [
        # a clear win, every TaylorGLO run above cross-entropy's mean
        analysed_run(root, "wins", 0.4, [0.85, 0.86, 0.84, 0.87], [0.58, 0.6, 0.57, 0.59], 8),
        # a fragile loss: one run at chance, no significant win
        analysed_run(root, "fragile", 0.2, [0.85, 0.1, 0.84, 0.86], [0.8, 0.78, 0.81, 0.79]),
    ]


def test_study_by_run_tallies_wins_and_fragile_rows(runs, tmp_path):
    out = run_cli("study", *map(str, runs), "--by", "run", "--out", str(tmp_path))
    assert out.returncode == 0, out.stderr
    text = (tmp_path / "study.md").read_text()
    assert "lowest 0.8400" in text and "lowest 0.1000" in text
    assert "TaylorGLO beats cross-entropy at p < 0.01 in 1 of 2 rows." in text
    assert "Rows with a TaylorGLO training below cross-entropy's mean: 1 of 2." in text
    # trainings count the attempts and the finalist stage's
    assert "| 1, 10, " in text and "| 1, 2, " in text
    assert (tmp_path / "study.png").read_bytes()[:4] == b"\x89PNG"


def test_study_by_budget_and_by_noise_put_the_runs_on_their_axis(runs, tmp_path):
    for axis, expected in (("budget", [2, 10]), ("noise", [0.2, 0.4])):
        out = run_cli("study", *map(str, runs), "--by", axis, "--out", str(tmp_path / axis))
        assert out.returncode == 0, out.stderr
        rows = json.loads((tmp_path / axis / "study.json").read_text())
        assert sorted(row["x"] for row in rows) == expected
        assert (tmp_path / axis / "study.png").stat().st_size > 0


def test_a_study_of_a_run_without_analysis_is_one_line(tmp_path, runs):
    bare = tmp_path / "bare"
    Store.create(bare, load_recipe("digits")).close()
    out = run_cli("study", str(runs[0]), str(bare), "--out", str(tmp_path / "x"))
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0 and "no analysis yet" in out.stderr
