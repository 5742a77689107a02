"""``analyze --set`` (issue 22 §3): a different full training, recorded, kept apart, refused beyond.

The search's fitness is a cheap function of (θ, seed) (``tests/analysis_fns.py``), so nothing here
imports TensorFlow: what reaches the workers is seen in the recipe that the analysis builds its
executor from (a real local pool, watched through ``pool_factory``).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import keras_taylorglo as ktg
from keras_taylorglo.analysis import run_analysis
from keras_taylorglo.cli import main
from keras_taylorglo.search.jobs import make_executor
from keras_taylorglo.store import Store

HERE = Path(__file__).parent

RECIPE = """
[experiment]
name = "set"
seed = 2

[evolution]
population = 4
generations = 1

[evaluation]
fitness = "analysis_fns:noisy"

[execution]
devices = "cpu"
workers = 1
"""

ALLOWED = "expected training.full.*, training.schedule.* or execution.*"


@pytest.fixture(scope="module")
def searched(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("set")
    shutil.copy(HERE / "analysis_fns.py", tmp / "analysis_fns.py")
    (tmp / "recipe.toml").write_text(RECIPE)
    assert main(["search", str(tmp / "recipe.toml"), "--out", str(tmp / "run")]) == 0
    return tmp / "run"


class Pools:
    """A ``pool_factory`` that makes the real executor and keeps the recipe it was given."""

    def __init__(self) -> None:
        self.recipes: list = []

    def __call__(self, recipe, text):
        self.recipes.append(recipe)
        return make_executor(recipe, text, purpose="analysis")


def labels(run_dir: Path) -> list[str]:
    with Store.open_existing(run_dir) as store:
        return sorted(r.label for r in store.analysis_runs())


@pytest.mark.parametrize(
    "item",
    [
        "training.learning_rate=0.1",
        "training.partial.steps=10",
        "model.name=alexnet",
        "data.batch_size=8",
        "loss.order=2",
        "evolution.population=4",
    ],
)
def test_what_the_search_measured_is_refused_in_one_line(item, tmp_path, capsys):
    key = item.split("=")[0]
    assert main(["analyze", str(tmp_path / "anywhere"), "--set", item]) == 2
    assert capsys.readouterr().err == (
        f"error: --set: {key}: analyze may not change it ({ALLOWED}: the model, data, loss and "
        "partial budget stay the search's)\n"
    )


def test_from_python_the_keyword_is_named(tmp_path):
    with pytest.raises(ktg.TaylorGLOError) as error:
        ktg.analyze(tmp_path, training={"learning_rate": 0.1}, progress=False)
    assert str(error.value).startswith(
        f"training={{...}}: learning_rate: analyze may not change it ({ALLOWED}"
    )


def test_another_full_training_is_recorded_and_kept_apart(searched, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(searched, run_dir)
    pools = Pools()
    report = run_analysis(
        run_dir, runs=2, progress=False, pool_factory=pools, overrides=["training.full.steps=7"]
    )
    assert [r.training.full.steps for r in pools.recipes] == [7]  # what the workers train
    assert report["overrides"] == ["training.full.steps=7"]
    assert report["full_training"] == {
        "full": {"steps": 7, "epochs": None},
        "schedule": {"decay_epochs": [], "gamma": 0.1},
    }
    saved = json.loads((run_dir / "analysis" / "report.json").read_text())
    assert saved["overrides"] == report["overrides"]
    assert labels(run_dir) == ["baseline#full.steps=7"] * 2 + ["taylorglo#full.steps=7"] * 2

    # The recipe's own full training: new trainings, not the ones above.
    plain = run_analysis(run_dir, runs=2, progress=False, pool_factory=pools)
    assert [r.training.full.steps for r in pools.recipes] == [7, 3000]
    assert "overrides" not in plain and "full_training" not in plain  # as it always was
    assert len(labels(run_dir)) == 8

    # Each analysis finds its own trainings again: nothing is trained twice. An override that
    # sets the recipe's own value is the recipe's own full training.
    again = run_analysis(
        run_dir, runs=2, progress=False, pool_factory=pools, overrides=["training.full.steps=7"]
    )
    same = run_analysis(
        run_dir, runs=2, progress=False, pool_factory=pools, overrides=["training.full.steps=3000"]
    )
    assert len(pools.recipes) == 2 and len(labels(run_dir)) == 8
    assert again["taylorglo"]["accuracies"] == report["taylorglo"]["accuracies"]
    assert same["taylorglo"]["accuracies"] == plain["taylorglo"]["accuracies"]

    # The schedule is the full training's too; where it runs is not part of the label.
    run_analysis(
        run_dir,
        runs=1,
        progress=False,
        pool_factory=pools,
        overrides=["training.schedule.decay_epochs=[2]", "execution.workers=2"],
    )
    assert pools.recipes[-1].execution.workers == 2
    assert "taylorglo#schedule.decay_epochs=[2];schedule.gamma=0.1" in labels(run_dir)


def test_the_command_line_takes_set_and_prints_the_report(searched, tmp_path, capsys):
    run_dir = tmp_path / "run"
    shutil.copytree(searched, run_dir)
    argv = ["analyze", str(run_dir), "--runs", "1", "--set", "training.full.epochs=2", "--json"]
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["overrides"] == ["training.full.epochs=2"]
    assert report["full_training"]["full"] == {"steps": None, "epochs": 2}
    assert labels(run_dir) == ["baseline#full.epochs=2", "taylorglo#full.epochs=2"]


def test_from_python_as_keywords(searched, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(searched, run_dir)
    report = ktg.analyze(
        run_dir, runs=1, training={"full": {"steps": 5}}, execution={"workers": 1}, progress=False
    )
    assert report["overrides"] == ["training.full.steps=5", "execution.workers=1"]
    assert report["full_training"]["full"] == {"steps": 5, "epochs": None}
    assert labels(run_dir) == ["baseline#full.steps=5", "taylorglo#full.steps=5"]
