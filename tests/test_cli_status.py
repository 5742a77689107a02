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


@pytest.mark.parametrize("finalists", [False, True])
def test_piped_status_keeps_theta_on_one_line(tmp_path, capsys, finalists):
    """A script reading `status | grep θ` gets the whole vector (issue 22 §6)."""
    theta = [-12.345678 + i for i in range(12)]  # wider than 80 columns once printed
    store = Store.create(
        tmp_path / "run",
        recipe_text="",
        meta={"name": "n", "population": 1, "finalists": {"count": int(finalists), "seeds": 1}},
    )
    store.begin_generation(0, b"s", [theta])
    store.set_candidate_result(0, 0, "ok", 0.5933)
    if finalists:
        store.begin_finalists(
            [
                {
                    "theta": theta,
                    "source": "candidate",
                    "generation": 0,
                    "candidate": 0,
                    "search_fitness": 0.5933,
                }
            ],
            {},
        )
        store.finish_finalist_run(
            store.start_finalist_run(0, 0, 1), Outcome("ok", 0.61, 0.61), "ok", 0.61
        )
        store.choose_finalist(0)
    store.close()
    assert main(["status", str(tmp_path / "run")]) == 0  # capsys: not a terminal
    lines = [line for line in capsys.readouterr().out.splitlines() if "θ = [" in line]
    shown = ", ".join(f"{v:.4f}" for v in theta)
    assert len(lines) == 1 and lines[0].endswith(f"θ = [{shown}]"), lines
