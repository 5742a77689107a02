"""Bad data, caught before any worker starts: one line naming the array, exit 2, nothing created.

Each case is a small array built here, given three ways: as a recipe's ``module:function`` data
through the command line (the driver calls the function and checks it), to the loader the
workers run (``from_arrays``: TFDS sets go through it too), and to the Python API. One slow test
runs the workers' path end to end: data that only the workers see is bad.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from keras_taylorglo.cli import main
from keras_taylorglo.errors import DataError

RECIPE = """
[experiment]
name = "bad"
[data]
dataset = "my_data:make"
validation_size = 10
batch_size = 8
[model]
name = "basic_cnn"
[evolution]
population = 4
generations = 1
"""


def _good() -> dict:
    rng = np.random.default_rng(0)
    return {
        "x_train": rng.integers(0, 255, (40, 8, 8), dtype=np.uint8),
        "y_train": np.arange(40) % 10,
        "x_test": rng.integers(0, 255, (20, 8, 8), dtype=np.uint8),
        "y_test": np.arange(20) % 10,
    }


def _labels_above(d):
    d["y_train"] = d["y_train"].copy()
    d["y_train"][[17, 21, 33]] = 10
    d["num_classes"] = 10
    return d


def _nan_pixels(d):
    d["x_train"] = d["x_train"].astype(np.float32)
    d["x_train"][5, 2, 3] = np.nan
    d["x_train"][9, 0, 0] = np.inf
    return d


def _ragged(d):
    d["x_train"] = [np.zeros((8, 8))] * 5 + [np.zeros((7, 8))] + [np.zeros((8, 8))] * 34
    return d


CASES = {
    # name: (change, the message's words)
    "labels above num_classes": (
        _labels_above,
        "data: y_train: label 10 is out of range for num_classes=10 (expected class ids 0..9): "
        "3 labels outside [0, 10), e.g. 10 at index 17",
    ),
    "negative labels": (
        lambda d: {**d, "y_test": d["y_test"] - 1},
        "data: y_test: negative label -1 (expected class ids 0..num_classes-1",
    ),
    "labels not integers": (
        lambda d: {**d, "y_train": d["y_train"] + 0.5},
        "data: y_train has dtype float64, e.g. 0.5 (expected integer class ids",
    ),
    "one class only": (
        lambda d: {**d, "y_train": np.full(40, 3), "y_test": np.full(20, 3)},
        "data: y_train: every label is 3 (expected at least 2 classes",
    ),
    "NaN or Inf pixels": (
        _nan_pixels,
        "data: x_train: 2 pixels are NaN or infinite (e.g. nan in image 5",
    ),
    "x and y of different lengths": (
        lambda d: {**d, "y_train": d["y_train"][:39]},
        "data: x_train has 40 examples but y_train has 39 (expected one label per image)",
    ),
    "an empty split": (
        lambda d: {**d, "x_test": d["x_test"][:0], "y_test": d["y_test"][:0]},
        "data: the test split is empty (x_test has no examples)",
    ),
    "images of inconsistent shape": (
        _ragged,
        "data: x_train: the images differ in shape ((8, 8) at index 0, (7, 8) at index 5",
    ),
    "flat vectors": (
        lambda d: {**d, "x_train": d["x_train"].reshape(40, 64)},
        "data: x_train has shape (40, 64) (expected images (n, height, width) or (n, height, "
        "width, channels); flat vectors: reshape them)",
    ),
    "test images of another shape": (
        lambda d: {**d, "x_test": d["x_test"][:, :4]},
        "data: the images differ in shape (x_train (8, 8, 1), x_test (4, 8, 1); expected one",
    ),
}


def _bad(case: str) -> dict:
    return CASES[case][0](_good())


def _write_recipe(tmp_path: Path, case: str) -> Path:

    (tmp_path / "my_data.py").write_text(
        textwrap.dedent(
            f"""
            import sys
            sys.path.insert(0, {str(Path(__file__).parent)!r})
            from test_data_checks import _bad


            def make(seed):
                return _bad({case!r})
            """
        )
    )
    path = tmp_path / "recipe.toml"
    path.write_text(RECIPE)
    return path


@pytest.mark.parametrize("case", list(CASES))
def test_the_search_command_refuses_bad_data_before_any_worker(tmp_path, capsys, case):
    recipe = _write_recipe(tmp_path, case)
    out_dir = tmp_path / "runs" / "bad"
    code = main(["search", str(recipe), "--out", str(out_dir)])
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    assert err.count("\n") == 1 and err.startswith("error: "), err
    assert CASES[case][1] in err, err
    assert not out_dir.exists() and not (tmp_path / "runs").exists()  # nothing created


@pytest.mark.parametrize("case", list(CASES))
def test_the_workers_loader_refuses_the_same(case):
    """What each worker runs as it loads a data set (TFDS sets included)."""
    from keras_taylorglo.data import from_arrays

    d = _bad(case)
    with pytest.raises(DataError) as caught:
        from_arrays(
            d["x_train"],
            d["y_train"],
            d["x_test"],
            d["y_test"],
            validation_size=10,
            batch_size=8,
            num_classes=d.get("num_classes"),
        )
    assert CASES[case][1] in str(caught.value)
    assert "\n" not in str(caught.value)


API_WORDS = {
    # The API names a split by its argument (data=, test_data=) and its arrays x and y.
    "labels above num_classes": "data: label 10 is out of range for num_classes=10",
    "negative labels": "data: negative label -1 (expected class ids 0..num_classes-1",
    "labels not integers": "data: y has dtype float64, e.g. 0.5",
    "one class only": "data: y: every label is 3 (expected at least 2 classes",
    "NaN or Inf pixels": "data: x: 2 pixels are NaN or infinite (e.g. nan in image 5",
    "x and y of different lengths": "data: x has 40 examples but y has 39",
    "an empty split": "test_data: the test split is empty (x has no examples)",
    "images of inconsistent shape": "data: x: the images differ in shape ((8, 8) at index 0",
    "flat vectors": "data: x has shape (40, 64) (expected images",
    "test images of another shape": (
        "data: the images differ in shape (data (8, 8, 1), test_data (4"
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_python_api_refuses_the_same(tmp_path, case):
    import keras_taylorglo as ktg

    d = _bad(case)
    with pytest.raises(ktg.TaylorGLOError) as caught:
        ktg.Search(
            model="basic_cnn",
            data=(d["x_train"], d["y_train"]),
            test_data=(d["x_test"], d["y_test"]),
            num_classes=d.get("num_classes"),
            run_dir=tmp_path / "run",
        )
    assert API_WORDS[case] in str(caught.value), str(caught.value)
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_data_only_the_workers_see_ends_the_start_with_one_line(tmp_path):
    """The workers' check: the driver's call of the function raises, the workers' calls return
    bad labels. The start fails with one line, exit 2, and no run directory is left."""
    (tmp_path / "my_data.py").write_text(
        textwrap.dedent(
            """
            import os
            import numpy as np


            def make(seed):
                if os.environ.get("KTG_WORKER_MARK") is None:
                    os.environ["KTG_WORKER_MARK"] = "driver"  # inherited by the workers
                    raise RuntimeError("the driver does not see this data")
                y = np.arange(40) % 10
                y[17] = 12
                x = np.zeros((40, 8, 8), np.uint8)
                return {"x_train": x, "y_train": y, "x_test": x[:20], "y_test": y[:20] % 10,
                        "num_classes": 10}
            """
        )
    )
    (tmp_path / "recipe.toml").write_text(RECIPE + '[execution]\ndevices = "cpu"\nworkers = 1\n')
    env = {k: v for k, v in os.environ.items() if k != "KTG_WORKER_MARK"}
    out = subprocess.run(
        [sys.executable, "-m", "keras_taylorglo", "search", "recipe.toml", "--out", "runs/bad"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
        env={**env, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert out.returncode == 2, out.stderr
    errors = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in out.stderr, out.stderr
    assert "y_train: label 12 is out of range for num_classes=10" in errors[0], out.stderr
    assert not (tmp_path / "runs" / "bad").exists()
