"""The data, checked before any worker starts, for every kind of data set a search can name.

A ``module:function`` and your arrays are checked in ``tests/test_data_checks.py``. Here: the
split sizes of the embedded sets (known without reading them), a TFDS set read in a child
process (a real TFDS ``fashion_mnist`` prepared here from a few made-up images, since none can be
downloaded), a set that is not prepared on an offline machine, a Ray cluster elsewhere (its
nodes check), and the Python API's data function. Each bad case: one line, exit 2, no run
directory, and no executor ever made.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import keras_taylorglo as ktg
from keras_taylorglo.cli import main
from keras_taylorglo.data.names import EMBEDDED_TRAIN_SIZES
from keras_taylorglo.data.precheck import check_data_first
from keras_taylorglo.errors import DataError
from keras_taylorglo.recipe import parse_recipe
from keras_taylorglo.search import runs

HERE = Path(__file__).parent


@pytest.fixture
def no_workers(monkeypatch):
    """Fail the test if the search gets as far as making its executor (starting workers)."""

    def refuse(*args, **kwargs):
        raise AssertionError("an executor was made: the data was not checked first")

    monkeypatch.setattr(runs, "make_executor", refuse)


def _search(tmp_path: Path, capsys, recipe: str) -> tuple[int, str]:
    (tmp_path / "recipe.toml").write_text(recipe)
    code = main(["search", str(tmp_path / "recipe.toml"), "--out", str(tmp_path / "run")])
    out, err = capsys.readouterr()
    assert "Traceback" not in err, err
    return code, err


RECIPE = """
[experiment]
name = "first"
[data]
dataset = "{dataset}"
data_dir = "{data_dir}"
{data}
[model]
name = "basic_cnn"
[evolution]
population = 4
generations = 1
"""


# ----------------------------------------------------------------------------- embedded sets


def test_the_embedded_train_sizes_are_the_builders(tmp_path):
    from keras_taylorglo.data import TaylorgloDigits, TaylorgloMnist5k

    for builder in (TaylorgloDigits, TaylorgloMnist5k):
        # What each builder writes as its train split: its own read of the package data.
        images, labels, train, test = builder(data_dir=str(tmp_path))._read()
        assert EMBEDDED_TRAIN_SIZES[builder.name] == len(train) == len(labels) - len(test)


EMBEDDED_CASES = {
    "validation_size": (
        "validation_size = 1497",
        "data set digits: validation_size 1497 does not fit a training split of 1497 examples "
        "(expected 1..1496)",
    ),
    "train_fraction": (
        "train_fraction = 0.01",
        "data set digits: 12 training examples do not fill one batch of 32 (raise train_fraction "
        "or lower batch_size)",
    ),
    "batch_size": (
        "batch_size = 1500",
        "data set digits: 1197 training examples do not fill one batch of 1500 (raise "
        "train_fraction or lower batch_size)",
    ),
}


@pytest.mark.parametrize("case", list(EMBEDDED_CASES))
def test_split_sizes_that_do_not_fit_an_embedded_set_are_refused_first(
    tmp_path, capsys, no_workers, case
):
    data, message = EMBEDDED_CASES[case]
    code, err = _search(tmp_path, capsys, RECIPE.format(dataset="digits", data_dir="", data=data))
    assert code == 2, err
    assert err == f"error: {message}\n"
    assert not (tmp_path / "run").exists()


def test_the_loader_says_the_same_of_the_embedded_set(tmp_path):
    """The workers' loader and the driver's check share their words (and their arithmetic)."""
    from types import SimpleNamespace

    from keras_taylorglo.data import load_dataset

    for data, message in EMBEDDED_CASES.values():
        key, value = (s.strip() for s in data.split("="))
        config = {"validation_size": 300, "train_fraction": 1.0, "batch_size": 32}
        config[key] = type(config[key])(value)
        namespace = SimpleNamespace(dataset="digits", data_dir=str(tmp_path), **config)
        with pytest.raises(DataError) as caught:
            load_dataset(namespace, Path("."), seed=0)
        assert str(caught.value) == message


# ------------------------------------------------------------------------------- TFDS sets

_FAKE_MNIST = textwrap.dedent(
    """
    # A real TFDS fashion_mnist (the registered builder's version and files) of made-up images:
    # not mnist, whose paper validation split of 5,000 would need 5,000 images here.
    import sys

    import numpy as np
    from tensorflow_datasets.image_classification import mnist


    class FakeFashionMnist(mnist.FashionMNIST, skip_registration=True):
        name = "fashion_mnist"

        def _split_generators(self, dl_manager):
            train, test = self._generate_examples(60, UNKNOWN), self._generate_examples(20)
            return {"train": train, "test": test}

        def _generate_examples(self, n, unknown=()):
            rng = np.random.default_rng(0)
            for i in range(n):
                image = rng.integers(0, 255, (28, 28, 1), dtype=np.uint8)
                yield i, {"image": image, "label": -1 if i in unknown else i % 10}


    ROOT = sys.argv[1]
    # TFDS stores -1 as a class label ("unknown"): a set can hold it without any error.
    for UNKNOWN, where in (((), "good"), ((17, 21, 33), "unknown_labels")):
        FakeFashionMnist(data_dir=f"{ROOT}/{where}").download_and_prepare()
    """
)


@pytest.fixture(scope="module")
def fake_mnist(tmp_path_factory):
    """``{"good": data_dir, "unknown labels": data_dir}``, each with a TFDS fashion_mnist."""
    root = tmp_path_factory.mktemp("fake_mnist")
    (root / "make.py").write_text(_FAKE_MNIST)
    subprocess.run(
        [sys.executable, str(root / "make.py"), str(root)],
        check=True,
        capture_output=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        timeout=300,
    )
    return {"good": root / "good", "unknown labels": root / "unknown_labels"}


@pytest.mark.slow
def test_a_tfds_set_with_unknown_labels_is_refused_before_any_worker(
    tmp_path, capsys, no_workers, fake_mnist
):
    recipe = RECIPE.format(
        dataset="fashion_mnist", data_dir=fake_mnist["unknown labels"], data="validation_size = 10"
    )
    code, err = _search(tmp_path, capsys, recipe)
    assert code == 2, err
    lines = err.splitlines()
    assert lines[0] == "checking data set fashion_mnist before the workers start", err
    assert len(lines) == 2 and lines[1].startswith(
        # (TFDS shuffles the examples as it writes them: the index is its order's)
        "error: data: y_train: label -1 is out of range for num_classes=10 (expected class ids "
        "0..9): 3 labels outside [0, 10), e.g. -1 at index "
    ), err
    assert not (tmp_path / "run").exists()


GOOD_SET_TEST = "test_a_good_tfds_set_passes_without_tensorflow_in_the_driver"


@pytest.fixture(scope="module", autouse=True)
def good_set_check(request) -> subprocess.Popen | None:
    """The good set's check in a fresh interpreter (this test process has TensorFlow loaded by
    the others), started when the module starts so that it runs beside the tests before it."""
    if GOOD_SET_TEST not in {item.name for item in request.session.items}:
        yield None
        return
    fake = request.getfixturevalue("fake_mnist")
    script = textwrap.dedent(
        f"""
        import sys
        from types import SimpleNamespace as S
        from keras_taylorglo.data.precheck import check_data_first

        data = S(dataset="fashion_mnist", data_dir={str(fake["good"])!r}, validation_size=10,
                 train_fraction=1.0, batch_size=8, augment=S(flip=False, crop_padding=0, cutout=0),
                 label_noise=S(rate=0.2, kind="symmetric", validation=True))
        check_data_first(data, ".", seed=0)
        print("tensorflow" in sys.modules, "tensorflow_datasets" in sys.modules)
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    yield proc
    proc.kill()
    proc.communicate()


@pytest.mark.slow
def test_a_good_tfds_set_passes_without_tensorflow_in_the_driver(good_set_check):
    out, err = good_set_check.communicate(timeout=300)
    assert good_set_check.returncode == 0, err
    assert out.split() == ["False", "False"]


@pytest.mark.slow
def test_a_set_not_prepared_on_an_offline_machine_is_one_line_first(
    tmp_path, capsys, no_workers, monkeypatch
):
    monkeypatch.setenv("KERAS_TAYLORGLO_OFFLINE", "1")  # the child inherits it
    empty = tmp_path / "tfds"
    empty.mkdir()
    code, err = _search(tmp_path, capsys, RECIPE.format(dataset="cifar10", data_dir=empty, data=""))
    assert code == 2, err
    lines = err.splitlines()
    assert lines[0] == "checking data set cifar10 before the workers start"
    assert len(lines) == 2 and lines[1].startswith("error: cifar10 is not prepared in "), err
    assert "could not be downloaded" in lines[1] and "(no network:" in lines[1], err
    assert not (tmp_path / "run").exists()


def test_on_a_ray_cluster_elsewhere_its_nodes_check_a_tfds_set(tmp_path, monkeypatch):
    def no_child(*args, **kwargs):
        raise AssertionError("the driver read the data set")

    monkeypatch.setattr(subprocess, "run", no_child)
    text = RECIPE.format(dataset="cifar10", data_dir=tmp_path, data="")
    remote = parse_recipe(text + '[execution]\nexecutor = "ray"\nray_address = "10.1.2.3:6379"\n')
    runs.check_data_before_workers(remote)  # this machine may not hold the data: no child
    local_ray = parse_recipe(text + '[execution]\nexecutor = "ray"\n')
    with pytest.raises(AssertionError, match="the driver read the data set"):
        runs.check_data_before_workers(local_ray)  # a Ray started here reads this machine's


def test_a_custom_fitness_never_reads_the_data(monkeypatch):
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: pytest.fail("the data was read"))
    text = RECIPE.format(dataset="cifar10", data_dir="", data="")
    recipe = parse_recipe(
        text + '[evaluation]\nfitness = "fitness_fns:sphere"\n', base_dir=HERE / "search"
    )
    runs.check_data_before_workers(recipe)


def test_a_check_that_dies_without_an_answer_is_one_line(monkeypatch):
    from types import SimpleNamespace

    monkeypatch.setattr(
        subprocess, "run", lambda *a, **k: SimpleNamespace(returncode=-9, stdout="")
    )
    data = SimpleNamespace(dataset="cifar10", data_dir="", validation_size=10)
    with pytest.raises(DataError) as caught:
        check_data_first(data, ".", seed=0)
    assert str(caught.value) == (
        "data set cifar10: could not be checked (the check's process ended with exit status -9 "
        "and no answer)"
    )


# -------------------------------------------------------------------------- the Python API


def test_the_apis_data_function_is_checked_before_anything_is_written(tmp_path):
    def make(seed):
        rng = np.random.default_rng(seed)
        y = np.arange(40) % 10
        y[[17, 21, 33]] = 10
        x = rng.integers(0, 255, (40, 8, 8), dtype=np.uint8)
        return {"x_train": x, "y_train": y, "x_test": x[:20], "y_test": y[:20] % 10,
                "num_classes": 10}  # fmt: skip

    search = ktg.Search(model="basic_cnn", data=make, run_dir=tmp_path / "run")
    with pytest.raises(ktg.TaylorGLOError) as caught:
        search.run(progress=False)
    assert str(caught.value) == (
        "data: y_train: label 10 is out of range for num_classes=10 (expected class ids 0..9): "
        "3 labels outside [0, 10), e.g. 10 at index 17"
    )
    assert not (tmp_path / "run").exists()


def test_the_apis_arrays_that_do_not_fill_a_batch_are_refused_when_the_search_is_made(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 255, (60, 8, 8), dtype=np.uint8), np.arange(60) % 10
    with pytest.raises(ktg.TaylorGLOError) as caught:
        ktg.Search(
            model="basic_cnn",
            data=(x, y),
            data_options={"validation_size": 20, "batch_size": 64},
            run_dir=tmp_path / "run",
        )
    assert str(caught.value) == (
        "data: 40 training examples do not fill one batch of 64 (raise train_fraction or lower "
        "batch_size)"
    )
    assert not (tmp_path / "run").exists()
