"""`keras-taylorglo status` shows a run's label noise when its meta has some, and nothing else."""

from __future__ import annotations

import json

import pytest

from keras_taylorglo.cli import main
from keras_taylorglo.outcomes import Outcome
from keras_taylorglo.store import Store

NOISE = {
    "rate": 0.4,
    "kind": "symmetric",
    "validation": True,
    "realised_train": 0.397,
    "realised_validation": 0.41,
}


def make_run(run_dir, noise):
    store = Store.create(run_dir, recipe_text="", meta={"name": "n", "population": 2})
    if noise is not None:
        store.update_meta(label_noise=noise)
    store.begin_generation(0, b"s", [[0.0] * 8] * 2)
    aid = store.start_attempt(0, 0, 0, 1, "w0", "cpu")
    store.finish_attempt(aid, Outcome("ok", 0.5933, 0.5933, 10, 1.0), None, "ok", 0.5933)
    store.close()


@pytest.mark.parametrize(
    ("noise", "line"),
    [
        (NOISE, "label noise: symmetric 0.40 (realised 0.397 train, 0.410 validation)"),
        (
            {**NOISE, "validation": False, "realised_validation": None},
            "label noise: symmetric 0.40 (realised 0.397 train, clean validation)",
        ),
    ],
)
def test_status_shows_label_noise(tmp_path, capsys, noise, line):
    make_run(tmp_path / "run", noise)
    assert main(["status", str(tmp_path / "run")]) == 0
    assert line in capsys.readouterr().out
    assert main(["status", str(tmp_path / "run"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["label_noise"] == noise


def test_status_of_a_clean_run_says_nothing_about_noise(tmp_path, capsys):
    make_run(tmp_path / "run", None)
    assert main(["status", str(tmp_path / "run")]) == 0
    assert "noise" not in capsys.readouterr().out
    assert main(["status", str(tmp_path / "run"), "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert "label_noise" not in status and status["evaluations"] == 1
