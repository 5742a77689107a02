"""`validate` finds, before any worker starts, what used to fail a search after seconds.

A misspelt `module:function`, a function that cannot take the arguments the package passes, or
an option the model does not have: one line naming the recipe file (or `--set`), exit 2, in well
under a second and without importing TensorFlow (the user's module is read, not run, when the
function is a plain `def`). `validate --deep` also builds the data set and the model once.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from keras_taylorglo.cli import main

MODELS = """
import keras  # never imported by `validate`: the source is read, not run


def small_cnn(input_shape, num_classes, filters=16, dropout=0.1):
    inputs = keras.Input(input_shape)
    x = keras.layers.Conv2D(filters, 3, activation="relu")(inputs)
    x = keras.layers.Dropout(dropout)(keras.layers.Flatten()(x))
    return keras.Model(inputs, keras.layers.Dense(num_classes, activation="softmax")(x))


def open_cnn(input_shape, num_classes, **options):
    return small_cnn(input_shape, num_classes)


def needs_width(input_shape, num_classes, width):
    return small_cnn(input_shape, num_classes)


def one_argument(input_shape):
    return None


class Builder:  # a class: validate imports the module to read its signature
    def __init__(self, input_shape, num_classes, depth=2):
        self.depth = depth
"""

DATA = """
import numpy as np


def make_data(seed):
    rng = np.random.default_rng(0)
    x = rng.random((160, 8, 8, 1)).astype("float32")
    y = np.arange(160) % 4
    return {"x_train": x[:120], "y_train": y[:120], "x_test": x[120:], "y_test": y[120:]}


def no_arguments():
    return make_data(0)


def two_arguments(seed, size):
    return make_data(seed)


def broken(seed):
    raise ValueError("the data server is down")
"""

FITNESS = """
def sphere(theta, seed):
    return 1.0 / (1.0 + sum(t * t for t in theta))


def theta_only(theta):
    return 0.0
"""


def recipe(tmp_path: Path, body: str, name: str = "recipe.toml") -> Path:
    (tmp_path / "my_models.py").write_text(MODELS)
    (tmp_path / "my_data.py").write_text(DATA)
    (tmp_path / "my_fitness.py").write_text(FITNESS)
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


def validate(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["validate", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(err: str, source: Path | str) -> str:
    assert err.startswith(f"error: {source}: "), err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


CUSTOM_MODEL = """
[data]
dataset = "my_data:make_data"
validation_size = 40
[model]
name = "{name}"
{options}
"""


def custom_model(tmp_path: Path, name: str, options: str = "") -> Path:
    return recipe(tmp_path, CUSTOM_MODEL.format(name=name, options=options))


def test_misspelt_model_function_fails_validate_with_did_you_mean(tmp_path, capsys):
    path = custom_model(tmp_path, "my_models:smal_cnn")
    code, out, err = validate(capsys, path)
    assert code == 2 and out == ""
    one_error_line(err, path)
    assert "model.name: module 'my_models' has no attribute 'smal_cnn'" in err
    assert "did you mean 'small_cnn'?" in err


@pytest.mark.parametrize(
    ("dataset", "fitness", "field", "suggestion"),
    [
        ("my_data:make_dat", None, "data.dataset", "make_data"),
        (None, "my_fitness:spher", "evaluation.fitness", "sphere"),
    ],
)
def test_misspelt_data_and_fitness_functions(tmp_path, capsys, dataset, fitness, field, suggestion):
    if dataset:
        path = recipe(tmp_path, f'[data]\ndataset = "{dataset}"\n[model]\nname = "basic_cnn"\n')
    else:
        path = recipe(tmp_path, f'[evaluation]\nfitness = "{fitness}"\n')
    code, _, err = validate(capsys, path)
    assert code == 2
    one_error_line(err, path)
    assert f"{field}: module" in err and f"did you mean '{suggestion}'?" in err


@pytest.mark.parametrize(
    ("options", "field", "words"),
    [
        ("options = { droput = 0.3 }", "model.options.droput", "did you mean 'dropout'?"),
        ('options = { dropout = "0.3" }', "model.options.dropout", "like its default 0.4"),
        ("options = { dense = 1.5 }", "model.options.dense", "an integer, like its default"),
    ],
)
def test_bad_option_of_a_builtin_model(tmp_path, capsys, options, field, words):
    path = recipe(tmp_path, f'[data]\ndataset = "digits"\n[model]\nname = "basic_cnn"\n{options}\n')
    code, _, err = validate(capsys, path)
    assert code == 2
    one_error_line(err, path)
    assert f"{field}: " in err and words in err


def test_good_options_pass(tmp_path, capsys):
    path = recipe(
        tmp_path,
        """
        [data]
        dataset = "digits"
        [model]
        name = "wide_resnet"
        options = { depth = 16, width = 2, dropout = 0 }
        """,
    )
    code, out, err = validate(capsys, path)
    assert code == 0 and err == "" and 'name    = "wide_resnet"' in out


def test_bad_option_of_a_custom_model(tmp_path, capsys):
    path = custom_model(tmp_path, "my_models:small_cnn", "options = { filtres = 8 }")
    code, _, err = validate(capsys, path)
    assert code == 2
    one_error_line(err, path)
    assert "model.options.filtres: not an option of my_models:small_cnn" in err
    assert "did you mean 'filters'?" in err


def test_a_builder_taking_kwargs_takes_any_option(tmp_path, capsys):
    path = custom_model(tmp_path, "my_models:open_cnn", "options = { anything = 8 }")
    assert validate(capsys, path)[0] == 0


@pytest.mark.parametrize(
    ("name", "options", "words"),
    [
        ("my_models:needs_width", "", "model.options: my_models:needs_width needs option 'width'"),
        ("my_models:one_argument", "", "cannot be called as one_argument(input_shape, num_cl"),
        ("my_models:Builder", "options = { detph = 3 }", "did you mean 'depth'?"),
    ],
)
def test_signature_of_a_custom_builder(tmp_path, capsys, name, options, words):
    code, _, err = validate(capsys, custom_model(tmp_path, name, options))
    assert code == 2 and words in err and err.count("\n") == 1


def test_signatures_of_data_and_fitness_functions(tmp_path, capsys):
    for dataset, code in (("no_arguments", 0), ("two_arguments", 2)):
        path = recipe(
            tmp_path, f'[data]\ndataset = "my_data:{dataset}"\n[model]\nname = "basic_cnn"\n'
        )
        got, _, err = validate(capsys, path)
        assert got == code, err
    assert "two_arguments(seed, size) cannot be called as two_arguments(seed)" in err
    path = recipe(tmp_path, '[evaluation]\nfitness = "my_fitness:theta_only"\n')
    code, _, err = validate(capsys, path)
    assert code == 2 and "cannot be called as theta_only(theta, seed)" in err


def test_a_problem_from_set_names_set(tmp_path, capsys):
    path = recipe(tmp_path, '[data]\ndataset = "digits"\n[model]\nname = "basic_cnn"\n')
    code, _, err = validate(capsys, path, "--set", "model.options.droput=0.3")
    assert code == 2 and err.startswith("error: --set: model.options.droput: not an option")


def test_a_module_importing_what_is_not_installed(tmp_path, capsys):
    path = recipe(tmp_path, '[evaluation]\nfitness = "bad_fitness:sphere"\n')
    (tmp_path / "bad_fitness.py").write_text(
        "import nosuchpackage_xyz\n\n\ndef sphere(t, s):\n    return 0\n"
    )
    code, _, err = validate(capsys, path)
    assert code == 2
    one_error_line(err, path)
    assert "imports 'nosuchpackage_xyz', which is not installed" in err


def test_validate_is_quick_and_imports_no_tensorflow(tmp_path):
    """The user's module imports Keras; validate reads it without running it."""
    path = custom_model(tmp_path, "my_models:small_cnn", "options = { filters = 8 }")
    code = (
        "import sys, time; t = time.perf_counter()\n"
        "from keras_taylorglo.cli import main\n"
        f"assert main(['validate', {str(path)!r}]) == 0\n"
        "print('SECONDS', time.perf_counter() - t, 'TF', 'tensorflow' in sys.modules,"
        " 'keras' in sys.modules, 'keras_taylorglo.analysis' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    line = out.stdout.strip().splitlines()[-1].split()
    # nor Keras, nor the analysis subcommands' modules (~50 ms that validate does not need)
    assert line[2:] == ["TF", "False", "False", "False"], out.stdout
    # well under a second on an idle machine (~0.1 s); generous for a loaded CI runner
    assert float(line[1]) < 2.0, out.stdout


# -------------------------------------------------------------------------------- --deep


# The two tests that read what a fresh process prints to the terminal (TensorFlow's start-up
# lines go to its file descriptor 2) start their processes together when the module starts, so
# that they run beside the in-process tests instead of one after the other.

FRESH = {
    "deep": "test_validate_deep_builds_the_data_and_the_model",
    "quiet": "test_tensorflow_starts_quietly_even_where_jax_set_its_log_level",
}


@pytest.fixture(scope="module", autouse=True)
def fresh(request, tmp_path_factory) -> dict[str, tuple[subprocess.Popen, float]]:
    """``{name: (process, when it started)}`` for the selected tests among :data:`FRESH`."""
    selected = {item.name for item in request.session.items}
    ok = custom_model(tmp_path_factory.mktemp("deep"), "my_models:small_cnn", FOUR_FILTERS)
    quiet = (
        "import os, jax; assert os.environ['TF_CPP_MIN_LOG_LEVEL'] == '1'\n"
        "from keras_taylorglo._quiet import import_tensorflow; import_tensorflow()\n"
    )
    started = {
        "deep": (
            ["-m", "keras_taylorglo", "validate", "--deep", str(ok)],
            {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        ),
        "quiet": (
            ["-c", quiet],
            {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"},
        ),
    }
    procs = {
        name: (
            subprocess.Popen(
                [sys.executable, *args],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
            ),
            time.monotonic(),
        )
        for name, (args, env) in started.items()
        if FRESH[name] in selected
    }
    yield procs
    for proc, _ in procs.values():
        proc.kill()
        proc.communicate()


FOUR_FILTERS = "options = { filters = 4 }"


@pytest.mark.slow
def test_validate_deep_builds_the_data_and_the_model(fresh):
    proc, start = fresh["deep"]
    stdout, stderr = proc.communicate(timeout=180)
    assert proc.returncode == 0, stderr
    assert "[model]" in stdout  # the resolved recipe on stdout, the check on stderr
    assert "deep check: data set my_data:make_data: 80 train / 40 validation / 40 test" in (stderr)
    assert "4 classes; model my_models:small_cnn:" in stderr and "parameters" in stderr
    assert "Traceback" not in stderr and "I0000" not in stderr
    assert time.monotonic() - start < 170


def test_tensorflow_starts_quietly_even_where_jax_set_its_log_level(fresh):
    """JAX sets TF_CPP_MIN_LOG_LEVEL=1 in the process that imports it (Keras imports it wherever
    it is installed), and a Python search's workers inherit that: they printed TensorFlow's
    start-up INFO lines, the very lines level 1 asks TensorFlow to hide."""
    proc, _ = fresh["quiet"]
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr
    assert stderr == ""


@pytest.mark.slow
def test_validate_deep_reports_what_only_building_finds(tmp_path, capsys):
    # A data function that raises; a depth that wide_resnet cannot build: each one line, exit 2.
    broken = recipe(
        tmp_path, '[data]\ndataset = "my_data:broken"\n[model]\nname = "basic_cnn"\n', "a.toml"
    )
    code, out, err = validate(capsys, "--deep", broken)
    assert code == 2 and out == ""
    one_error_line(err, broken)
    assert "data.dataset: building the data set failed: ValueError: the data server is down" in err
    depth = recipe(
        tmp_path,
        """
        [data]
        dataset = "my_data:make_data"
        validation_size = 40
        [model]
        name = "wide_resnet"
        options = { depth = 15 }
        """,
        "b.toml",
    )
    assert validate(capsys, depth)[0] == 0  # the static check cannot know 6n + 4
    code, _, err = validate(capsys, "--deep", depth)
    assert code == 2
    one_error_line(err, depth)
    assert "model.options.depth: wide_resnet needs depth = 6n + 4" in err
