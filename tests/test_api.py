"""The Python API (issue 16): Search, resume and analyze on your own model and arrays.

The slow tests run real (tiny) digits searches on 2 CPU workers: from Python and from the
equivalent TOML recipe (identical results), from a script whose model and arrays live only in
its ``__main__`` (interrupted with SIGINT, resumed with ``ktg.resume``, then ``status`` and
``analyze`` from the command line), and the two examples (the notebook through nbclient). The fast
ones check every bad argument's one-line error, and that ``import keras_taylorglo`` is enough for
``keras.models.load_model`` in a fresh interpreter while importing no TensorFlow by itself.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from in_process import environment, run_cli

import keras_taylorglo as ktg
from keras_taylorglo.store import Store

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable

# The same digits arrays and model as module:function files for a recipe, and from Python.
TINY_INPUTS = '''\
"""Digits arrays and a tiny dense model (written by tests/test_api.py)."""

import keras
from sklearn.datasets import load_digits


def arrays():
    digits = load_digits()
    x, y = (digits.images / 16.0).astype("float32"), digits.target
    return {"x_train": x[:1000], "y_train": y[:1000], "x_val": x[1000:1300],
            "y_val": y[1000:1300], "x_test": x[1300:], "y_test": y[1300:]}


def make(seed):
    return arrays()


def build(input_shape, num_classes, width=8):
    inputs = keras.Input(input_shape)
    h = keras.layers.Flatten()(inputs)
    h = keras.layers.Dense(width, activation="relu")(h)
    return keras.Model(inputs, keras.layers.Dense(num_classes, activation="softmax")(h))
'''

# The default recipe (recipes/digits.toml) with what the Python call below changes, spelt out.
EQUIVALENT_TOML = """\
[experiment]
name = "same"
seed = 0

[data]
dataset = "tiny_inputs.py:make"
train_fraction = 1.0
validation_size = 300
batch_size = 32

[model]
name = "tiny_inputs.py:build"
options = { width = 8 }

[training]
optimizer = "momentum"
learning_rate = 0.05
momentum = 0.9
partial = { steps = 20 }
full = { steps = 40 }

[evolution]
population = 4
sigma = 1.2
generations = 2
finalists = { count = 3, seeds = 4, budget = "full" }  # the base recipe's (digits), as Search's

[evaluation]
abort = { threshold = 0.15, epoch = 4 }

[execution]
devices = "cpu"
workers = 2
"""

TINY = {
    "training": {"learning_rate": 0.05, "partial": {"steps": 20}, "full": {"steps": 40}},
    "evolution": {"population": 4, "generations": 2},
    "execution": {"devices": "cpu", "workers": 2},
}


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    env.update(extra)
    return env


def cli(*args: object, timeout: float = 600) -> subprocess.CompletedProcess:
    """``keras-taylorglo ARGS`` in this process (tests/in_process.py); its workers run apart."""
    return run_cli(*args, cwd=ROOT, env={"TF_CPP_MIN_LOG_LEVEL": "3"})


def _import_file(path: Path):
    import importlib.util

    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _store_contents(run_dir: Path) -> dict:
    """The store without paths, times, pids and worker names (those differ between two runs)."""
    with Store.open(run_dir, readonly=True) as store:
        meta = store.meta()
        times = ("started", "finished", "ended", "seconds", "train_seconds", "updated", "id")
        attempts = sorted(
            (
                {k: v for k, v in a.as_dict().items() if k not in (*times, "worker", "device")}
                for a in store.attempts()
            ),
            key=lambda a: (a["generation"], a["candidate"], a["attempt"], a["rerun"]),
        )
        return {
            "candidates": [
                {k: v for k, v in c.as_dict().items() if k != "updated"} for c in store.candidates()
            ],
            "attempts": attempts,
            "generations": [
                {k: v for k, v in g.as_dict().items() if k not in times}
                for g in store.generations()
            ],
            "meta": {
                k: v
                for k, v in meta.items()
                if k
                not in ("base_dir", "recipe_source", "recipe_text", "created", "finished")
                + ("updated", "pid", "host")
            },
            "best": store.best(),
            "finalists": [
                {k: v for k, v in f.as_dict().items() if k not in times} for f in store.finalists()
            ],
            "finalist_runs": sorted(
                (
                    {k: v for k, v in r.as_dict().items() if k not in (*times, "worker", "device")}
                    for r in store.finalist_runs()
                ),
                key=lambda r: (r["finalist"], r["seed_index"], r["rerun"]),
            ),
            "recipe": meta["recipe_text"],
        }


def _without_inputs(recipe_text: str) -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    raw = tomllib.loads(recipe_text)
    raw["data"].pop("dataset")
    raw["model"].pop("name")
    return raw


@pytest.fixture(scope="module")
def digits() -> dict[str, np.ndarray]:
    from sklearn.datasets import load_digits

    d = load_digits()
    x, y = (d.images / 16.0).astype("float32"), d.target
    return {"x": x[:1000], "y": y[:1000], "x_val": x[1000:1300], "y_val": y[1000:1300]}


# ------------------------------------------------------------------ Python == TOML recipe


@pytest.mark.slow
def test_a_search_from_python_equals_the_same_search_from_a_recipe(tmp_path):
    (tmp_path / "tiny_inputs.py").write_text(TINY_INPUTS)
    (tmp_path / "same.toml").write_text(EQUIVALENT_TOML)
    inputs = _import_file(tmp_path / "tiny_inputs.py")
    a = inputs.arrays()

    out = cli("search", tmp_path / "same.toml", "--out", tmp_path / "cli" / "same")
    assert out.returncode == 0, out.stderr

    run_dir = tmp_path / "py" / "same"
    search = ktg.Search(
        model=inputs.build,
        data=(a["x_train"], a["y_train"]),
        validation_data=(a["x_val"], a["y_val"]),
        test_data=(a["x_test"], a["y_test"]),
        run_dir=run_dir,
        model_options={"width": 8},
        **TINY,
    )
    result = search.run(progress=False)

    cli_result = ktg.SearchResult.from_run_dir(tmp_path / "cli" / "same")
    assert result.state == cli_result.state == "finished"
    py, cl = _store_contents(run_dir), _store_contents(tmp_path / "cli" / "same")
    assert py["meta"] == cl["meta"]
    assert py["candidates"] == cl["candidates"]
    assert py["attempts"] == cl["attempts"]
    assert py["generations"] == cl["generations"]
    assert py["finalists"] == cl["finalists"]
    assert py["finalist_runs"] == cl["finalist_runs"]
    assert result.best == cli_result.best  # the chosen loss: θ, fitness, its origin, exactly
    assert len({c["fitness"] for c in py["candidates"]}) > 1  # a search, not a constant
    # The resolved recipes differ only in where the model and the data come from.
    assert _without_inputs(py["recipe"]) == _without_inputs(cl["recipe"])
    assert 'name    = "inputs/taylorglo_inputs.py:model"' in py["recipe"]

    # The run directory holds everything; the readable recipe is the store's.
    names = sorted(p.name for p in (run_dir / "inputs").iterdir())
    assert names == [
        "manifest.json",
        "model.pkl",
        "taylorglo_inputs.py",
        "x_test.npy",
        "x_train.npy",
        "x_val.npy",
        "y_test.npy",
        "y_train.npy",
        "y_val.npy",
    ]
    assert (run_dir / "recipe.toml").read_text() == py["recipe"]
    np.testing.assert_array_equal(np.load(run_dir / "inputs" / "x_train.npy"), a["x_train"])

    loss = result.best_loss()
    assert type(loss).__name__ == "TaylorGLOLoss"
    np.testing.assert_allclose(np.asarray(loss.theta), result.best.theta, rtol=1e-6)
    with pytest.raises(ktg.TaylorGLOError) as error:
        search.run(progress=False)
    assert str(error.value) == (
        f"{run_dir} already holds a finished search: pass overwrite=True to replace it, "
        "or choose another run_dir"
    )


# ---------------------------------------- __main__ script, Ctrl-C, resume, status, analyze


def _finished_attempts(run_dir: Path) -> int:
    if not Store.exists(run_dir):
        return 0
    try:
        with Store.open(run_dir, readonly=True) as store:
            return sum(a.status != "running" for a in store.attempts())
    except Exception:
        return 0  # the store is being created


# Long enough that the stop comes mid-search (it is sent once 2 of the 12 attempts are done, and
# the script stops within a second and two attempts), short enough that the resume which finishes
# it stays cheap (10 generations took 16 s a test, most of it the resume).
GENERATIONS = 3


def _start_ignoring_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _start_default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # whatever this test process inherited


# Where tests/search/fitness_fns.py is found by the script, its workers and the resume's.
FITNESS_FNS = str(ROOT / "tests" / "search")


def _stopped_and_resumed(
    tmp_path: Path, preexec, fitness: str | None = None
) -> tuple[Path, ktg.SearchResult]:
    """tests/api_script.py (its model and arrays only in its __main__), stopped with SIGINT as
    a notebook's stop button does once 2 attempts are done, then resumed with ``ktg.resume``.

    With ``fitness`` (a tests/search/fitness_fns.py function) the script's search trains
    nothing: 40 attempts of 0.2 s each, so the stop still comes mid-search, and no TensorFlow
    in the workers of the search and of the resume.
    """
    run_dir = tmp_path / "mine"
    generations = GENERATIONS if fitness is None else 10
    args = [str(run_dir), str(generations), *([fitness] if fitness else [])]
    env = _env() if fitness is None else _env(PYTHONPATH=FITNESS_FNS, TG_FITNESS_SLEEP="0.2")
    proc = subprocess.Popen(
        [PYTHON, str(ROOT / "tests" / "api_script.py"), *args],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=preexec,
    )
    deadline = time.monotonic() + 300
    while _finished_attempts(run_dir) < 2:
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        assert time.monotonic() < deadline, "no attempt finished in 300 s"
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)  # what a notebook's stop button sends
    _, err = proc.communicate(timeout=120)
    assert proc.returncode != 0
    assert err.strip().splitlines()[-1] == (
        f"KeyboardInterrupt: search interrupted: {run_dir} is resumable with "
        f"ktg.resume({str(run_dir)!r}) or `keras-taylorglo resume {run_dir}`"
    )
    assert ktg.SearchResult.from_run_dir(run_dir).state == "interrupted"
    with environment({"PYTHONPATH": FITNESS_FNS} if fitness else {}):
        sys.path.insert(0, FITNESS_FNS)  # the driver checks the fitness function first
        try:
            # Unpickles build() from the script's __main__ (trained unless ``fitness``).
            result = ktg.resume(run_dir, progress=False)
        finally:
            sys.path.remove(FITNESS_FNS)
    assert result.state == "finished"
    assert 0.0 < result.best.fitness <= 1.0
    info = json.loads(cli("status", run_dir, "--json").stdout)
    assert info["state"] == "finished" and info["evaluations"] == 4 * generations
    return run_dir, result


@pytest.mark.slow
def test_a_script_with_its_model_in_main_stops_resumes_and_the_cli_reads_the_run(tmp_path):
    """The model function and arrays exist only in the script's __main__: the workers of the
    resume run them, and the command line reads and analyses the run.

    (Once two tests: this script run to its end, and the stop button. The script's own run to
    its end, result.best_loss() included, is the example script's test below.)
    """
    run_dir, result = _stopped_and_resumed(tmp_path, _start_default_sigint)
    theta = list(result.best.theta)
    again = ktg.resume(run_dir, progress=False)  # a finished run: nothing to redo
    assert again.state == "finished" and list(again.best.theta) == theta
    loss = result.best_loss()
    assert type(loss).__name__ == "TaylorGLOLoss"
    np.testing.assert_allclose(np.asarray(loss.theta), theta, rtol=1e-6)

    status = cli("status", run_dir, "--json")
    assert status.returncode == 0, status.stderr
    info = json.loads(status.stdout)
    assert info["state"] == "finished" and info["evaluations"] == 4 * GENERATIONS
    assert info["chosen"]["theta"] == theta  # the loss handed over: the chosen finalist

    analysis = cli("analyze", run_dir, "--runs", "2", "--json")
    assert analysis.returncode == 0, analysis.stderr
    report = json.loads(analysis.stdout)
    assert report["runs"] == 2 and len(report["taylorglo"]["accuracies"]) == 2
    assert report["taylorglo"]["theta"] == theta
    assert json.loads((run_dir / "analysis" / "report.json").read_text()) == report


@pytest.mark.slow
def test_the_stop_button_leaves_a_resumable_run_where_sigint_was_ignored(tmp_path):
    # The script starts as a background job of a non-interactive shell does (`python script.py
    # &`, CI runners): with SIGINT ignored, Python installs no KeyboardInterrupt handler, so
    # before Search.run() handled SIGINT itself the stop was dropped and the search ran to its
    # end (only in full-suite runs started that way). What is under test is the script's signal
    # handling, not its model: the search scores a custom fitness (no TensorFlow workers).
    _stopped_and_resumed(tmp_path, _start_ignoring_sigint, fitness="fitness_fns:sphere")


# ------------------------------------------------------------------------------- examples


@pytest.mark.slow
def test_the_example_script_runs(tmp_path):
    out = subprocess.run(
        [PYTHON, str(ROOT / "examples" / "own_model.py")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        env=_env(KTG_EXAMPLE_TINY="1", KTG_EXAMPLE_RUN_DIR=str(tmp_path / "run")),
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "best fitness" in out.stdout and "TaylorGLO" in out.stdout
    report = json.loads((tmp_path / "run" / "analysis" / "report.json").read_text())
    assert report["runs"] == 1


@pytest.mark.slow
def test_the_example_notebook_runs(tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    monkeypatch.setenv("KTG_EXAMPLE_TINY", "1")
    monkeypatch.setenv("KTG_EXAMPLE_RUN_DIR", str(tmp_path / "run"))
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "3")
    notebook = nbformat.read(ROOT / "examples" / "own_model.ipynb", as_version=4)
    assert all(not cell.get("outputs") for cell in notebook.cells)  # committed without outputs
    client = nbclient.NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    )
    client.execute()
    text = "".join(
        output.get("text", "") for cell in notebook.cells for output in cell.get("outputs", [])
    )
    assert "TaylorGLO" in text and "vs cross-entropy" in text
    assert (tmp_path / "run" / "analysis" / "report.json").exists()


# ----------------------------------------------------------------------- bad arguments


def _logits(input_shape, num_classes):
    import keras

    inputs = keras.Input(input_shape)
    return keras.Model(inputs, keras.layers.Dense(num_classes)(keras.layers.Flatten()(inputs)))


def _softmax(input_shape, num_classes):
    import keras

    inputs = keras.Input(input_shape)
    h = keras.layers.Flatten()(inputs)
    return keras.Model(inputs, keras.layers.Dense(num_classes, activation="softmax")(h))


BAD = [
    (
        {"evolution": {"populaton": 4}},
        "evolution={...}: populaton: unknown key; did you mean 'population'? "
        "(expected one of population, sigma, generations, initial, invariant_check, finalists)",
    ),
    (
        {"evolution": {"population": "4"}},
        'evolution={...}: population: must be an integer (got "4"; expected an integer >= 2)',
    ),
    (
        {"training": {"learning_rate": True}},
        "training={...}: learning_rate: must be a number, not a boolean (got true; expected a "
        "number > 0)",
    ),
    (
        {"execution": {"devices": [0, 0]}},
        "execution={...}: devices: duplicate GPU index (got [0, 0]; expected "
        '"auto", "cpu" or a non-empty list of unique GPU indices, e.g. [0, 1])',
    ),
    (
        {"evolutoin": {"population": 4}},
        "Search: unknown recipe section 'evolutoin'; did you mean 'evolution'? (expected one "
        "of experiment, data, model, training, loss, evolution, evaluation, execution, or "
        "model_options, data_options, overrides)",
    ),
    (
        {"evolution": 4},
        "evolution: expected a dict of recipe keys, e.g. evolution={'population': 8} (got int)",
    ),
    (
        {"overrides": ["evolution.population"]},
        "overrides=[...]: evolution.population: malformed override (expected SECTION.KEY=VALUE, "
        "e.g. "
        "evolution.population=4)",
    ),
    (
        {"data": "my_data:make", "validation_data": None},
        "data='my_data:make': data.dataset: module 'my_data' not found (got \"my_data:make\"; "
        "expected digits, "
        'mnist, cifar10, svhn_cropped, a TFDS name or "module:function" (module in the '
        "recipe's directory or on sys.path))",
    ),
    (
        {"data": lambda d: (d["x"], d["y"][:999])},
        "data: x has 1000 examples but y has 999 (expected one label per image)",
    ),
    (
        {"validation_data": lambda d: (d["x_val"], d["y_val"][:-1])},
        "validation_data: x has 300 examples but y has 299 (expected one label per image)",
    ),
    (
        {"data": lambda d: (d["x"], np.array(["seven"] * 1000))},
        "data: y has dtype <U5, e.g. 'seven' (expected integer class ids 0..num_classes-1; map "
        "other labels with np.unique(y, return_inverse=True))",
    ),
    (
        {"data": lambda d: (d["x"], d["y"] + 0.5)},
        "data: y has dtype float64, e.g. 0.5 (expected integer class ids 0..num_classes-1; map "
        "other labels with np.unique(y, return_inverse=True))",
    ),
    (
        {"data": lambda d: (d["x"], d["y"] - 1)},
        "data: negative label -1 (expected class ids 0..num_classes-1; map your labels with "
        "np.unique(y, return_inverse=True))",
    ),
    (
        {"num_classes": 5},
        "data: label 9 is out of range for num_classes=5 (expected class ids 0..4)",
    ),
    (
        {"data": lambda d: (d["x"], np.eye(10)[d["y"]])},
        "data: y has shape (1000, 10): one-hot labels? (expected integer class ids of shape "
        "(n,), e.g. y.argmax(axis=1))",
    ),
    (
        {"data": lambda d: (d["x"].reshape(1000, 64), d["y"])},
        "data: x has shape (1000, 64) (expected images (n, height, width) or (n, height, width, "
        "channels); flat vectors: reshape them)",
    ),
    (
        {"validation_data": lambda d: (d["x_val"][:, :4], d["y_val"])},
        "data: the images differ in shape (data (8, 8, 1), validation_data (4, 8, 1); expected "
        "one shape)",
    ),
    (
        {"model": _logits},
        "model: test_api._logits's outputs are not probabilities (on 16 training images: rows "
        "sum to",
    ),
    (
        {"model": lambda shape, n: "a model"},
        "model: test_api.<lambda> returned str (expected an uncompiled keras.Model)",
    ),
    (
        {"model_options": {"widht": 8}},
        "Search: model.options.widht: not an option of test_api._softmax (expected no options, "
        "or a function taking **options)",
    ),
    (
        {"model": 42},
        "model: got int (expected a function (input_shape, num_classes, **options) -> "
        'keras.Model, a keras.Model, or a model name such as "basic_cnn")',
    ),
    (
        {
            "test_data": lambda d: (d["x_val"], d["y_val"]),
            "data": "digits",
            "validation_data": None,
        },
        "Search: validation_data and test_data go with data=(x, y) arrays (got data of type str)",
    ),
]


@pytest.mark.parametrize(("change", "message"), BAD, ids=[m[:40] for _, m in BAD])
def test_every_bad_argument_is_one_clear_error(tmp_path, digits, change, message):
    kwargs = {
        "model": _softmax,
        "data": (digits["x"], digits["y"]),
        "validation_data": (digits["x_val"], digits["y_val"]),
        "run_dir": tmp_path / "run",
    }
    for key, value in change.items():
        kwargs[key] = value(digits) if callable(value) and key != "model" else value
        if value is None:
            kwargs.pop(key)
    with pytest.raises(ktg.TaylorGLOError) as error:
        ktg.Search(**kwargs)
    assert "\n" not in str(error.value)
    assert str(error.value).startswith(message), str(error.value)
    assert not (tmp_path / "run").exists()  # nothing written before run()


def test_overrides_become_toml_literals_and_go_through_the_recipe(tmp_path, digits):
    search = ktg.Search(
        model=_softmax,
        data=(digits["x"], digits["y"]),
        validation_data=(digits["x_val"], digits["y_val"]),
        run_dir=tmp_path / "my-run",
        data_options={"batch_size": 16, "augment": {"flip": True}},
        training={"partial": {"epochs": 2}, "schedule": {"decay_epochs": [1]}},
        evolution={"initial": np.zeros(8), "sigma": np.float32(0.5)},
        execution={"devices": "cpu"},
        overrides=["evaluation.attempts=2"],
    )
    recipe = search.recipe
    assert recipe.experiment.name == "my-run"  # named after its run directory
    assert recipe.data.train_fraction == 1.0  # your arrays are all used (the default halves)
    assert (recipe.data.batch_size, recipe.data.augment.flip) == (16, True)
    assert recipe.data.augment.crop_padding == 0  # a nested dict sets keys, not the table
    assert recipe.training.partial.epochs == 2 and recipe.training.partial.steps is None
    assert recipe.training.schedule.decay_epochs == (1,)
    assert recipe.evolution.initial == (0.0,) * 8 and recipe.evolution.sigma == 0.5
    assert recipe.evaluation.attempts == 2
    assert search.run_dir == tmp_path / "my-run"


def test_an_existing_interrupted_run_is_not_replaced_without_overwrite(tmp_path, digits):
    run_dir = tmp_path / "run"
    Store.create(run_dir, recipe_text="", recipe_source="<test>", meta={}).close()
    with pytest.raises(ktg.TaylorGLOError) as error:
        ktg.Search(model=_softmax, data=(digits["x"], digits["y"]), run_dir=run_dir)
    assert str(error.value) == (
        f"{run_dir} already holds an interrupted search: continue it with "
        f"ktg.resume({str(run_dir)!r}), pass overwrite=True, or choose another run_dir"
    )
    with pytest.raises(ktg.TaylorGLOError, match="no keras-taylorglo run here"):
        ktg.resume(tmp_path / "nothing")
    with pytest.raises(ktg.TaylorGLOError, match="no keras-taylorglo run here"):
        ktg.analyze(tmp_path / "nothing")


def _load_inputs(run_dir: Path):
    """The generated module as a worker loads it: by file, relative to the run directory."""
    from keras_taylorglo.plugins import resolve_callable
    from keras_taylorglo.recipe import check_callables, load_recipe

    recipe = load_recipe(run_dir / "recipe.toml")
    check_callables(recipe)
    model = resolve_callable(recipe.model.name, recipe.base_dir, "model.name", recipe.source)
    data = resolve_callable(recipe.data.dataset, recipe.base_dir, "data.dataset", recipe.source)
    return recipe, model, data


def test_a_keras_model_and_a_data_function_go_into_the_run_directory(tmp_path, digits):
    import keras

    instance = _softmax((8, 8, 1), 10)
    calls = []

    def make(seed):  # a closure over this test's arrays: saved by value with cloudpickle
        calls.append(seed)
        return {"x_train": digits["x"], "y_train": digits["y"], "x_test": digits["x_val"],
                "y_test": digits["y_val"]}  # fmt: skip

    search = ktg.Search(model=instance, data=make, run_dir=tmp_path / "run", **TINY)
    recipe = search._write_run_dir()
    assert recipe.model.name == "inputs/taylorglo_inputs.py:model"
    assert recipe.base_dir == (tmp_path / "run").resolve()
    names = sorted(p.name for p in (tmp_path / "run" / "inputs").iterdir())
    assert names == ["data.pkl", "manifest.json", "model.keras", "taylorglo_inputs.py"]
    _, build, data = _load_inputs(tmp_path / "run")
    clone = build((8, 8, 1), 10)
    assert isinstance(clone, keras.Model) and clone is not instance
    assert [w.shape for w in clone.weights] == [w.shape for w in instance.weights]
    assert not np.array_equal(clone.weights[0].numpy(), instance.weights[0].numpy())  # fresh
    assert data(7)["x_train"].shape == (1000, 8, 8) and calls == []  # the pickled copy ran


def test_arrays_alone_hold_out_a_validation_split_that_is_also_the_test_split(tmp_path, digits):
    run_dir = tmp_path / "run"
    search = ktg.Search(
        model=_softmax,
        data=(digits["x"], digits["y"]),
        run_dir=run_dir,
        data_options={"validation_size": 200},
        num_classes=10,
        **TINY,
    )
    search._write_run_dir()
    _, _, data = _load_inputs(run_dir)
    arrays = data(0)
    assert len(arrays["x_train"]) == 800 and len(arrays["x_val"]) == 200
    assert isinstance(arrays["x_train"], np.memmap)  # memory-mapped, not copied per worker
    np.testing.assert_array_equal(arrays["x_test"], arrays["x_val"])
    assert arrays["num_classes"] == 10
    manifest = json.loads((run_dir / "inputs" / "manifest.json").read_text())
    assert manifest["test_split"] == "validation"
    Store.create(run_dir, recipe_text="", recipe_source="<test>", meta={}).close()
    with pytest.warns(UserWarning, match="searched without test_data"):
        with pytest.raises(ktg.TaylorGLOError):
            ktg.analyze(run_dir, runs=1)  # no candidate has a result: after the warning


def test_a_base_recipe_keeps_its_own_modules_when_the_run_dir_is_elsewhere(tmp_path, digits):
    recipes = tmp_path / "recipes"
    recipes.mkdir()
    (recipes / "my_models.py").write_text(TINY_INPUTS)
    (recipes / "r.toml").write_text('[data]\n[model]\nname = "my_models:build"\n')
    search = ktg.Search(
        data=(digits["x"], digits["y"]),
        validation_data=(digits["x_val"], digits["y_val"]),
        recipe=recipes / "r.toml",
        run_dir=tmp_path / "run",
    )
    recipe = search._write_run_dir()
    assert recipe.model.name == f"{recipes / 'my_models.py'}:build"  # made absolute
    assert recipe.data.dataset == "inputs/taylorglo_inputs.py:data"
    assert recipe.experiment.name == "r"  # a recipe keeps its name, as with --out
    text = "[experiment]\nname = 'x'\n[data]\ntrain_fraction = 0.5\n[model]\n"
    from_text = ktg.Search(data=(digits["x"], digits["y"]), recipe=text, run_dir=tmp_path / "t")
    assert from_text.recipe.data.train_fraction == 0.5  # a recipe given keeps its fraction
    assert from_text.recipe.experiment.name == "x"


LOAD = """\
import sys
{imports}
model = keras.models.load_model(sys.argv[1])
other = keras.models.load_model(sys.argv[2])
print(type(model.loss).__name__, [round(float(v), 4) for v in model.loss.theta.numpy()],
      type(other.loss).__name__, other.loss.get_config()["q"])
"""


def _python(code: str, *args: object) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PYTHON, "-c", code, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        env=_env(),
        cwd=ROOT,
    )


@pytest.fixture(scope="module")
def saved_models(tmp_path_factory) -> tuple[Path, Path]:
    """The README's save example: a model compiled with a TaylorGLOLoss, one with a GCELoss."""
    import keras

    from keras_taylorglo import GCELoss, TaylorGLOLoss

    tmp = tmp_path_factory.mktemp("saved")
    paths = tmp / "m.keras", tmp / "gce.keras"
    theta = [11.9039, -4.0240, 6.9796, 8.5834, -1.6677, 11.6064, 12.6684, -3.4674]
    for loss, path in ((TaylorGLOLoss(theta), paths[0]), (GCELoss(0.7), paths[1])):
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
        model.compile(optimizer=keras.optimizers.SGD(0.01), loss=loss, metrics=["accuracy"])
        model.save(path)
    return paths


@pytest.mark.slow
def test_importing_the_package_is_enough_to_load_a_saved_model(saved_models):
    # Both import orders, each in a fresh interpreter; the two start together (two cores).
    orders = {
        "package-first": "import keras_taylorglo\nimport keras",
        "keras-first": "import keras\nimport keras_taylorglo",
    }
    procs = {
        name: subprocess.Popen(
            [PYTHON, "-c", LOAD.format(imports=imports), *map(str, saved_models)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(),
            cwd=ROOT,
        )
        for name, imports in orders.items()
    }
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, (name, err[-2000:])
        assert out.split() == [
            "TaylorGLOLoss",
            *"[11.9039, -4.024, 6.9796, 8.5834, -1.6677, 11.6064, 12.6684, -3.4674]".split(),
            "GCELoss",
            "0.7",
        ], name


def test_importing_the_package_imports_no_tensorflow():
    code = textwrap.dedent(
        """\
        import sys
        import keras_taylorglo as ktg
        import keras_taylorglo.api, keras_taylorglo.store
        ktg.Search, ktg.SearchResult, ktg.resume, ktg.analyze
        heavy = [m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras", "jax")]
        print(heavy)
        """
    )
    out = _python(code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
