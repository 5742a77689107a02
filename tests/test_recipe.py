"""Recipe format: validation, overrides, one-line errors, module:function, every shipped recipe."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from keras_taylorglo.errors import RecipeError, TaylorGLOError
from keras_taylorglo.plugins import is_callable_spec, resolve_callable
from keras_taylorglo.recipe import (
    Budget,
    Recipe,
    load_default_recipe,
    load_recipe,
    parse_recipe,
)
from keras_taylorglo.recipe.schema import AbortConfig
from keras_taylorglo.recipe.schema import spec as field_spec

ROOT = Path(__file__).resolve().parents[1]
RECIPES = sorted((ROOT / "recipes").glob("*.toml"))
TABLE_1 = [
    "mnist_basic_cnn",
    "cifar10_alexnet",
    "cifar10_preresnet20",
    "cifar10_allcnnc",
    "cifar10_allcnnc_cutout",
    "cifar10_wrn16_8",
    "cifar10_wrn16_8_cutout",
    "cifar10_wrn28_5",
    "cifar10_wrn28_5_cutout",
    "svhn_wrn16_8",
    "svhn_wrn16_8_cutout",
    "svhn_wrn28_5",
    "svhn_wrn28_5_cutout",
    "svhn_wrn",
]
MINIMAL = '[data]\ndataset = "digits"\n[model]\nname = "basic_cnn"\n'


def write(tmp_path: Path, text: str, name: str = "recipe.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def one_line_error(excinfo: pytest.ExceptionInfo[RecipeError], file: str, field: str) -> str:
    """Assert the message is one line `<file>: <field>: <problem>` and return it."""
    message = str(excinfo.value)
    assert "\n" not in message
    assert re.match(rf"^{re.escape(file)}: {re.escape(field)}: .+", message), message
    assert excinfo.value.file == file
    assert excinfo.value.field == field
    return message


# ------------------------------------------------------------------------------ shipped recipes


def test_every_table_1_row_and_the_default_ship_as_recipes():
    names = {p.stem for p in RECIPES}
    assert names == {"digits", "digits_noisy", "mnist5k", *TABLE_1}


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.stem)
def test_every_shipped_recipe_validates_and_round_trips(path: Path):
    recipe = load_recipe(path)
    assert recipe.experiment.name == path.stem
    assert recipe.data is not None and recipe.model is not None
    assert recipe.loss.num_params == 8
    assert recipe.initial_theta() == [0.0] * 8
    again = parse_recipe(recipe.to_toml())
    assert again == recipe
    assert again.to_toml().splitlines()[1:] == recipe.to_toml().splitlines()[1:]
    json.dumps(recipe.to_dict())  # JSON-serialisable as-is


def test_paper_rows_carry_the_literature_values():
    svhn = load_recipe(ROOT / "recipes" / "svhn_wrn.toml")
    assert svhn.data.dataset == "svhn_cropped"
    assert svhn.data.validation_size == 26032
    assert (svhn.data.augment.flip, svhn.data.augment.crop_padding) == (True, 4)
    assert svhn.model.options == {"depth": 16, "width": 8, "dropout": 0.4}
    assert svhn.training.learning_rate == 0.01
    assert svhn.training.schedule.decay_epochs == (80, 120)
    assert svhn.training.full == Budget(epochs=160)
    assert svhn.training.weight_decay == 0.0005
    assert svhn.evolution.population == 20 and svhn.evolution.sigma == 1.2
    # svhn_wrn.toml is svhn_wrn16_8.toml under another name
    twin = load_recipe(ROOT / "recipes" / "svhn_wrn16_8.toml")
    assert dataclasses.replace(svhn, experiment=twin.experiment) == twin

    mnist = load_recipe(ROOT / "recipes" / "mnist_basic_cnn.toml")
    assert (mnist.training.optimizer, mnist.training.learning_rate) == ("sgd", 0.01)
    assert mnist.data.batch_size == 100 and mnist.data.validation_size == 5000
    assert mnist.training.partial == Budget(steps=2000)
    assert mnist.training.full == Budget(steps=20000)
    assert mnist.evolution.population == 28

    for stem in TABLE_1:
        recipe = load_recipe(ROOT / "recipes" / f"{stem}.toml")
        cutout = recipe.data.augment.cutout
        if stem.endswith("_cutout"):
            assert cutout == (16 if stem.startswith("cifar10") else 20), stem
        else:
            assert cutout == 0, stem
        if stem.startswith("cifar10"):
            assert recipe.data.validation_size == 5000, stem


def test_the_default_recipe_is_the_shipped_digits_recipe():
    default = load_default_recipe()
    assert default == load_recipe(ROOT / "recipes" / "digits.toml") == load_recipe("digits")
    assert default.source == "<default recipe>"
    assert default.execution.devices == "cpu"
    assert (default.evolution.population, default.evolution.generations) == (8, 4)
    assert default.training.partial == Budget(steps=500)


# ------------------------------------------------------------------------------- defaults, API


def test_minimal_recipe_gets_the_documented_defaults():
    recipe = parse_recipe(MINIMAL)
    assert recipe.experiment.name == "digits" and recipe.experiment.seed == 0
    assert recipe.data.train_fraction == 1.0 and recipe.data.validation_size == 300
    assert recipe.data.batch_size == 32 and recipe.data.augment.cutout == 0
    assert recipe.training.optimizer == "sgd" and recipe.training.learning_rate == 0.01
    assert recipe.training.partial == Budget(steps=300)
    assert recipe.training.full == Budget(steps=3000)
    assert recipe.loss.inputs == ("label", "prediction") and recipe.loss.trim is True
    assert recipe.evolution.population == 8 and recipe.evolution.generations == 10
    assert recipe.evaluation.abort.threshold == 0.15 and recipe.evaluation.abort.epoch == 10
    assert recipe.execution.devices == "auto" and recipe.execution.workers == 0


def test_recipe_is_frozen_and_hashable_where_it_matters():
    recipe = parse_recipe(MINIMAL)
    with pytest.raises(dataclasses.FrozenInstanceError):
        recipe.loss.order = 4  # type: ignore[misc]
    assert isinstance(recipe.training.schedule.decay_epochs, tuple)


def test_file_stem_is_the_default_experiment_name(tmp_path: Path):
    path = write(tmp_path, MINIMAL, name="my run.toml")
    assert load_recipe(path).experiment.name == "my_run"


def test_ints_are_accepted_where_floats_are_expected():
    recipe = parse_recipe(MINIMAL + "[training]\nlearning_rate = 1\n[evolution]\nsigma = 2\n")
    assert recipe.training.learning_rate == 1.0 and isinstance(recipe.training.learning_rate, float)
    assert recipe.evolution.sigma == 2.0


def test_initial_list_and_untrimmed_length():
    text = MINIMAL + "[loss]\ntrim = false\n[evolution]\ninitial = [" + "1, " * 11 + "2.5]\n"
    recipe = parse_recipe(text)
    assert recipe.loss.num_params == 12
    assert recipe.initial_theta() == [1.0] * 11 + [2.5]


def test_to_toml_round_trips_unusual_values(tmp_path: Path):
    (tmp_path / "fit.py").write_text("def score(theta, seed):\n    return 0.5\n")
    text = """
    [experiment]
    name = "x.y-z"
    seed = 7
    [model]
    name = "wide_resnet"
    options = { "odd key" = "a \\"quoted\\" \\\\ value\\n", nested = { a = [1, 2.5, true] } }
    [training]
    optimizer = "nesterov"
    schedule = { decay_epochs = [3, 5], gamma = 0.5 }
    partial = { epochs = 2 }
    full = { epochs = 9 }
    [loss]
    order = 2
    inputs = ["prediction", "label", "progress"]
    [evolution]
    initial = "zeros"
    [evaluation]
    fitness = "fit:score"
    timeout = 2.5
    [execution]
    executor = "ray"
    devices = [3, 1, 2, 0]
    gpus_per_worker = 2
    ray_address = "auto"
    """
    recipe = parse_recipe(textwrap.dedent(text), base_dir=tmp_path)
    assert recipe.data is None
    toml = recipe.to_toml()
    assert "[data]" not in toml
    again = parse_recipe(toml, base_dir=tmp_path)
    assert again == recipe
    assert again.model.options["odd key"] == 'a "quoted" \\ value\n'
    assert again.model.options["nested"] == {"a": [1, 2.5, True]}
    assert again.execution.devices == (3, 1, 2, 0)
    assert again.training.partial == Budget(epochs=2)
    assert recipe.to_dict()["training"]["partial"] == {"epochs": 2}


def test_model_options_are_a_private_copy():
    text = MINIMAL.replace('name = "basic_cnn"', 'name = "basic_cnn"\noptions = { a = [1] }')
    recipe = parse_recipe(text)
    recipe.to_dict()["model"]["options"]["a"].append(2)
    assert recipe.model.options == {"a": [1]}


def test_is_callable_spec():
    assert is_callable_spec("my_models:tiny")
    assert is_callable_spec("pkg.mod:Class.build")
    assert is_callable_spec("sub/dir/file.py:make")
    assert not is_callable_spec("wide_resnet")
    assert not is_callable_spec("mnist:3.0.1")


# ------------------------------------------------------------------------------------ overrides


def test_overrides_scalar_nested_and_typed():
    recipe = parse_recipe(
        MINIMAL,
        overrides=[
            "evolution.population=4",
            "data.augment.flip=true",
            "training.partial.steps=50",
            "training.learning_rate=0.5",
            "execution.devices=[0,1]",
            "execution.executor=ray",  # bare word: taken as a string
            'experiment.name="quoted"',
            "data.data_dir=",  # empty: the TFDS default
            "model.options={ depth = 10 }",
        ],
    )
    assert recipe.evolution.population == 4
    assert recipe.data.augment.flip is True
    assert recipe.data.augment.crop_padding == 0  # untouched siblings keep their defaults
    assert recipe.training.partial == Budget(steps=50)
    assert recipe.training.learning_rate == 0.5
    assert recipe.execution.devices == (0, 1)
    assert recipe.execution.executor == "ray"
    assert recipe.experiment.name == "quoted"
    assert recipe.data.data_dir == ""
    assert recipe.model.options == {"depth": 10}


def test_budget_override_replaces_the_other_unit():
    text = MINIMAL + "[training]\npartial = { epochs = 3 }\n"
    assert parse_recipe(text, overrides=["training.partial.steps=50"]).training.partial == Budget(
        steps=50
    )
    assert parse_recipe(MINIMAL, overrides=["training.full.epochs=4"]).training.full == Budget(
        epochs=4
    )


def test_overrides_apply_to_a_loaded_file_and_with_overrides(tmp_path: Path):
    path = write(tmp_path, MINIMAL)
    recipe = load_recipe(path, ["loss.order=2"])
    assert recipe.loss.order == 2 and recipe.loss.num_params == 5
    assert recipe.with_overrides(["loss.order=4"]).loss.order == 4
    assert recipe.with_overrides(["loss.order=4"]).source == str(path)


@pytest.mark.parametrize(
    ("override", "field", "fragment"),
    [
        ("evolution.population", "evolution.population", "malformed override"),
        ("population=4", "population", "malformed override key"),
        ("evolution..population=4", "evolution..population", "malformed override key"),
        ("evolutoin.population=4", "evolutoin.population", "did you mean 'evolution'"),
        ("evolution.populaton=4", "evolution.populaton", "did you mean 'evolution.population'"),
        ("evolution.population=true", "evolution.population", "not a boolean"),
        ("evolution.population=four", "evolution.population", "must be an integer"),
        ("training.learning_rate=-0.1", "training.learning_rate", "out of range"),
        ("data.augment.flip=yes", "data.augment.flip", "must be a boolean"),
        ("data.dataset.x=1", "data.dataset.x", "is not a table"),
        ("training.partial.minutes=3", "training.partial.minutes", "unknown key"),
    ],
)
def test_bad_overrides_name_set_as_the_source(tmp_path: Path, override, field, fragment):
    path = write(tmp_path, MINIMAL)
    with pytest.raises(RecipeError) as excinfo:
        load_recipe(path, [override])
    message = one_line_error(excinfo, "--set", field)
    assert fragment in message


def test_override_error_keeps_the_file_for_fields_it_did_not_touch(tmp_path: Path):
    path = write(tmp_path, MINIMAL + "[loss]\norder = 9\n")
    with pytest.raises(RecipeError) as excinfo:
        load_recipe(path, ["evolution.population=4"])
    one_line_error(excinfo, str(path), "loss.order")


# ---------------------------------------------------------------------- paths, module:function


def test_relative_data_dir_resolves_against_the_recipe_directory(tmp_path: Path, monkeypatch):
    sub = tmp_path / "exp"
    sub.mkdir()
    path = write(
        sub, MINIMAL.replace('dataset = "digits"', 'dataset = "digits"\ndata_dir = "tfds"')
    )
    monkeypatch.chdir(tmp_path)
    recipe = load_recipe("exp/recipe.toml")
    assert recipe.data.data_dir == str((sub / "tfds").resolve())
    assert recipe.base_dir == sub.resolve()
    assert recipe.source == "exp/recipe.toml"
    assert load_recipe(path, ["data.data_dir=/abs/dir"]).data.data_dir == "/abs/dir"


def test_module_function_next_to_the_recipe(tmp_path: Path):
    (tmp_path / "recipe_helpers_mod.py").write_text(
        "def fitness(theta, seed):\n    return sum(theta) + seed\n\n"
        "def tiny_model(input_shape, num_classes):\n"
        "    return ('model', input_shape, num_classes)\n"
    )
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "nested_file.py").write_text("def build(**kw):\n    return kw\n")
    path = write(
        tmp_path,
        """
        [data]
        [model]
        name = "lib/nested_file.py:build"
        [evaluation]
        fitness = "recipe_helpers_mod:fitness"
        """,
    )
    recipe = load_recipe(path)
    fitness = resolve_callable(
        recipe.evaluation.fitness, recipe.base_dir, "evaluation.fitness", recipe.source
    )
    assert fitness([1.0, 2.0], 3) == 6.0
    build = resolve_callable(recipe.model.name, recipe.base_dir, "model.name", recipe.source)
    assert build(a=1) == {"a": 1}
    # the same file resolves to the same module object (no re-execution)
    assert resolve_callable(recipe.model.name, recipe.base_dir, "model.name", "r") is build
    assert str(tmp_path) not in sys.path  # the search path is restored


def test_resolve_callable_errors(tmp_path: Path):
    (tmp_path / "resolve_err_mod.py").write_text("def fitness(t, s):\n    return 0.0\nVALUE = 3\n")
    (tmp_path / "resolve_broken_mod.py").write_text("raise RuntimeError('boom')\n")
    cases = [
        ("no_such_module_xyz:f", "not found"),
        ("resolve_err_mod:fitnes", "did you mean 'fitness'"),
        ("resolve_err_mod:VALUE", "not callable"),
        ("resolve_broken_mod:f", "RuntimeError: boom"),
        ("missing/file.py:f", "not found"),
        ("no colon", "not a module:function"),
    ]
    for spec, fragment in cases:
        with pytest.raises(RecipeError) as excinfo:
            resolve_callable(spec, tmp_path, "evaluation.fitness", "r.toml")
        message = one_line_error(excinfo, "r.toml", "evaluation.fitness")
        assert fragment in message, (spec, message)


def test_custom_fitness_makes_data_and_model_optional(tmp_path: Path):
    (tmp_path / "custom_fit_mod.py").write_text("def f(theta, seed):\n    return 1.0\n")
    path = write(tmp_path, '[evaluation]\nfitness = "custom_fit_mod:f"\n')
    recipe = load_recipe(path)
    assert recipe.data is None and recipe.model is None
    assert "data" not in recipe.to_dict() and "model" not in recipe.to_dict()
    assert parse_recipe(recipe.to_toml(), base_dir=tmp_path) == recipe
    # a data section may still be given, and is then validated
    with pytest.raises(RecipeError) as excinfo:
        load_recipe(path, ["data.batch_size=0"])
    one_line_error(excinfo, "--set", "data.batch_size")


def test_unknown_fitness_module_is_caught_when_validating(tmp_path: Path):
    path = write(tmp_path, '[evaluation]\nfitness = "not_a_module_anywhere:f"\n')
    with pytest.raises(RecipeError) as excinfo:
        load_recipe(path)
    assert "not found" in one_line_error(excinfo, str(path), "evaluation.fitness")


# ------------------------------------------------------------------------------- files on disk


def test_missing_file_is_one_line(tmp_path: Path):
    missing = str(tmp_path / "nope.toml")
    with pytest.raises(RecipeError) as excinfo:
        load_recipe(missing)
    assert "no such file" in one_line_error(excinfo, missing, "file")


def test_directory_is_one_line(tmp_path: Path):
    with pytest.raises(RecipeError) as excinfo:
        load_recipe(tmp_path)
    assert "is a directory" in one_line_error(excinfo, str(tmp_path), "file")


def test_binary_file_is_one_line(tmp_path: Path):
    path = tmp_path / "bin.toml"
    path.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(RecipeError) as excinfo:
        load_recipe(path)
    assert "not UTF-8" in one_line_error(excinfo, str(path), "file")


def test_recipe_error_is_a_taylorglo_error():
    assert issubclass(RecipeError, TaylorGLOError)


# ------------------------------------------------------------------------------ malformed recipes

# (name, TOML text appended to or replacing the minimal recipe, field, message fragment)
MALFORMED = [
    ("toml-syntax", "[data]\ndataset = \n[model]\n", "toml", "(at line 2, column"),
    ("unknown-section", MINIMAL + "[trainig]\n", "trainig", "did you mean 'training'"),
    ("unknown-top-key", "seed = 3\n" + MINIMAL, "seed", "did you mean 'experiment.seed'"),
    (
        "unknown-key",
        MINIMAL + "[training]\nlearnig_rate = 0.1\n",
        "training.learnig_rate",
        "did you mean 'training.learning_rate'",
    ),
    ("section-not-table", "training = 3\n" + MINIMAL, "training", "must be a table"),
    (
        "section-as-key",
        MINIMAL + "training = { optimizer = 'adam' }\n",
        "model.training",
        "write it as a [training] header",
    ),
    ("missing-data", '[model]\nname = "basic_cnn"\n', "data", "missing required section [data]"),
    ("missing-model", '[data]\ndataset = "digits"\n', "model", "missing required section"),
    ("empty-name", MINIMAL + '[experiment]\nname = ""\n', "experiment.name", "empty"),
    ("name-slash", MINIMAL + '[experiment]\nname = "a/b"\n', "experiment.name", "directory"),
    ("seed-negative", MINIMAL + "[experiment]\nseed = -1\n", "experiment.seed", ">= 0"),
    ("seed-bool", MINIMAL + "[experiment]\nseed = true\n", "experiment.seed", "boolean"),
    ("seed-float", MINIMAL + "[experiment]\nseed = 1.0\n", "experiment.seed", "integer"),
    ("dataset-empty", '[data]\ndataset = ""\n[model]\n', "data.dataset", "empty"),
    ("dataset-bad", '[data]\ndataset = "My Data"\n[model]\n', "data.dataset", "module:function"),
    ("train-fraction-0", "[data]\ntrain_fraction = 0\n[model]\n", "data.train_fraction", "(0, 1]"),
    (
        "train-fraction-1.5",
        "[data]\ntrain_fraction = 1.5\n[model]\n",
        "data.train_fraction",
        "got 1.5",
    ),
    ("validation-0", "[data]\nvalidation_size = 0\n[model]\n", "data.validation_size", ">= 1"),
    ("batch-str", '[data]\nbatch_size = "32"\n[model]\n', "data.batch_size", "integer"),
    (
        "augment-flip-int",
        "[data]\naugment = { flip = 1 }\n[model]\n",
        "data.augment.flip",
        "boolean",
    ),
    (
        "augment-cutout-neg",
        "[data]\naugment = { cutout = -16 }\n[model]\n",
        "data.augment.cutout",
        ">= 0",
    ),
    (
        "augment-unknown",
        "[data]\naugment = { flips = true }\n[model]\n",
        "data.augment.flips",
        "did you mean 'data.augment.flip'",
    ),
    ("model-unknown", '[data]\n[model]\nname = "wide_resnt"\n', "model.name", "wide_resnet"),
    ("model-options", "[data]\n[model]\noptions = 3\n", "model.options", "must be a table"),
    ("optimizer", MINIMAL + '[training]\noptimizer = "rmsprop"\n', "training.optimizer", "adam"),
    (
        "lr-negative",
        MINIMAL + "[training]\nlearning_rate = -0.1\n",
        "training.learning_rate",
        "> 0",
    ),
    ("lr-zero", MINIMAL + "[training]\nlearning_rate = 0\n", "training.learning_rate", "> 0"),
    ("lr-bool", MINIMAL + "[training]\nlearning_rate = true\n", "training.learning_rate", "bool"),
    ("lr-inf", MINIMAL + "[training]\nlearning_rate = inf\n", "training.learning_rate", "finite"),
    ("momentum-1", MINIMAL + "[training]\nmomentum = 1.0\n", "training.momentum", "[0, 1)"),
    ("wd-neg", MINIMAL + "[training]\nweight_decay = -1e-4\n", "training.weight_decay", ">= 0"),
    (
        "decay-unsorted",
        MINIMAL + "[training]\nschedule = { decay_epochs = [120, 80] }\n",
        "training.schedule.decay_epochs",
        "strictly increasing",
    ),
    (
        "decay-zero",
        MINIMAL + "[training]\nschedule = { decay_epochs = [0, 80] }\n",
        "training.schedule.decay_epochs[0]",
        ">= 1",
    ),
    (
        "gamma-0",
        MINIMAL + "[training]\nschedule = { gamma = 0 }\n",
        "training.schedule.gamma",
        "(0, 1]",
    ),
    (
        "budget-both",
        MINIMAL + "[training]\npartial = { steps = 5, epochs = 1 }\n",
        "training.partial",
        "both steps and epochs",
    ),
    (
        "budget-neither",
        MINIMAL + "[training]\nfull = {}\n",
        "training.full",
        "neither steps nor epochs",
    ),
    (
        "budget-zero",
        MINIMAL + "[training]\npartial = { steps = 0 }\n",
        "training.partial.steps",
        ">= 1",
    ),
    ("budget-int", MINIMAL + "[training]\npartial = 300\n", "training.partial", "a table"),
    ("order-7", MINIMAL + "[loss]\norder = 7\n", "loss.order", "from 1 to 6"),
    (
        "inputs-no-prediction",
        MINIMAL + '[loss]\ninputs = ["label", "progress"]\n',
        "loss.inputs",
        'must contain "prediction"',
    ),
    (
        "inputs-dup",
        MINIMAL + '[loss]\ninputs = ["label", "prediction", "label"]\n',
        "loss.inputs",
        "duplicate",
    ),
    (
        "inputs-unknown",
        MINIMAL + '[loss]\ninputs = ["label", "predicton"]\n',
        "loss.inputs[1]",
        "did you mean 'prediction'",
    ),
    ("trim-str", MINIMAL + '[loss]\ntrim = "yes"\n', "loss.trim", "true or false"),
    ("convention", MINIMAL + '[loss]\nconvention = "keras"\n', "loss.convention", "lossferatu"),
    ("population-1", MINIMAL + "[evolution]\npopulation = 1\n", "evolution.population", ">= 2"),
    ("sigma-0", MINIMAL + "[evolution]\nsigma = 0\n", "evolution.sigma", "> 0"),
    ("generations-0", MINIMAL + "[evolution]\ngenerations = 0\n", "evolution.generations", ">= 1"),
    (
        "initial-length",
        MINIMAL + "[evolution]\ninitial = [1, 2, 3]\n",
        "evolution.initial",
        "list of 8 numbers (2 inputs, order 3, trimmed)",
    ),
    (
        "initial-word",
        MINIMAL + '[evolution]\ninitial = "ones"\n',
        "evolution.initial",
        '"zeros"',
    ),
    (
        "initial-item",
        MINIMAL + '[evolution]\ninitial = [0, 0, 0, "x", 0, 0, 0, 0]\n',
        "evolution.initial[3]",
        "number",
    ),
    ("attempts-0", MINIMAL + "[evaluation]\nattempts = 0\n", "evaluation.attempts", ">= 1"),
    (
        "threshold-2",
        MINIMAL + "[evaluation]\nabort = { threshold = 2 }\n",
        "evaluation.abort.threshold",
        "[0, 1]",
    ),
    (
        "abort-epoch-0",
        MINIMAL + "[evaluation]\nabort = { epoch = 0 }\n",
        "evaluation.abort.epoch",
        ">= 1",
    ),
    (
        "fitness-word",
        MINIMAL + '[evaluation]\nfitness = "accuracy"\n',
        "evaluation.fitness",
        "validation_accuracy",
    ),
    ("timeout-neg", MINIMAL + "[evaluation]\ntimeout = -5\n", "evaluation.timeout", ">= 0"),
    ("executor", MINIMAL + '[execution]\nexecutor = "dask"\n', "execution.executor", "ray"),
    (
        "devices-dup",
        MINIMAL + "[execution]\ndevices = [0, 1, 1]\n",
        "execution.devices",
        "duplicate GPU index",
    ),
    ("devices-neg", MINIMAL + "[execution]\ndevices = [-1]\n", "execution.devices[0]", ">= 0"),
    ("devices-word", MINIMAL + '[execution]\ndevices = "gpu"\n', "execution.devices", '"auto"'),
    ("devices-empty", MINIMAL + "[execution]\ndevices = []\n", "execution.devices", "empty"),
    (
        "gpus-per-worker-split",
        MINIMAL + "[execution]\ndevices = [0, 1, 2]\ngpus_per_worker = 2\n",
        "execution.gpus_per_worker",
        "cannot be split",
    ),
    ("workers-neg", MINIMAL + "[execution]\nworkers = -1\n", "execution.workers", ">= 0"),
    ("ray-address", MINIMAL + "[execution]\nray_address = 1\n", "execution.ray_address", "string"),
]


@pytest.mark.parametrize(
    ("text", "field", "fragment"),
    [case[1:] for case in MALFORMED],
    ids=[case[0] for case in MALFORMED],
)
def test_malformed_recipe_gives_one_precise_line(tmp_path: Path, text, field, fragment):
    path = write(tmp_path, text)
    with pytest.raises(RecipeError) as excinfo:
        load_recipe(path)
    message = one_line_error(excinfo, str(path), field)
    assert fragment in message, message


def test_malformed_recipes_are_many():
    assert len(MALFORMED) >= 25


def test_message_repeats_the_value_and_what_is_allowed(tmp_path: Path):
    path = write(tmp_path, MINIMAL + "[training]\nlearning_rate = -0.1\n")
    with pytest.raises(RecipeError) as excinfo:
        load_recipe(path)
    assert str(excinfo.value) == (
        f"{path}: training.learning_rate: out of range (got -0.1; expected a number > 0)"
    )


# ----------------------------------------------------------------------------------------- CLI


def run_validate(*args: str) -> subprocess.CompletedProcess[str]:
    """Run `python -m keras_taylorglo validate ARGS` (TF is never imported by validate)."""
    return subprocess.run(
        [sys.executable, "-m", "keras_taylorglo", "validate", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )


@pytest.mark.parametrize("case", ["unknown-key", "toml-syntax", "budget-both", "devices-dup"])
def test_cli_validate_prints_one_line_and_exits_2(tmp_path: Path, case):
    _, text, field, fragment = next(c for c in MALFORMED if c[0] == case)
    path = write(tmp_path, text)
    result = run_validate(str(path))
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {path}: {field}: ")
    assert fragment in lines[0]


def test_cli_validate_missing_file_and_bad_override(tmp_path: Path):
    result = run_validate(str(tmp_path / "nope.toml"))
    assert result.returncode == 2
    assert result.stderr.startswith(
        f"error: {tmp_path / 'nope.toml'}: file: no such file, nor a shipped recipe "
        "(expected a path to a TOML recipe, or a shipped recipe: cifar10_alexnet, "
    )
    assert len(result.stderr.splitlines()) == 1
    result = run_validate("recipes/digits.toml", "--set", "evolution.populaton=3")
    assert result.returncode == 2
    assert result.stderr.startswith("error: --set: evolution.populaton: unknown key; did you mean")


def test_cli_validate_prints_the_resolved_recipe():
    result = run_validate("recipes/digits.toml", "--set", "evolution.population=4")
    assert result.returncode == 0, result.stderr
    printed = parse_recipe(result.stdout)
    assert printed == load_recipe(ROOT / "recipes" / "digits.toml", ["evolution.population=4"])
    assert isinstance(printed, Recipe)


def test_recipe_pickles_for_worker_processes():
    import pickle

    recipe = load_recipe(ROOT / "recipes" / "svhn_wrn.toml")
    again = pickle.loads(pickle.dumps(recipe))
    assert again == recipe
    assert again.base_dir == recipe.base_dir and again.text == recipe.text


def test_recipe_module_imports_no_tensorflow():
    code = (
        "import sys, keras_taylorglo.recipe as r; r.load_default_recipe().to_toml(); "
        "heavy = [m for m in ('tensorflow', 'keras', 'tensorflow_datasets') if m in sys.modules]; "
        "print(heavy)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def _section_types(cls: type) -> list[type]:
    """``cls`` and the section dataclasses nested in it (the tables inside a section)."""
    from keras_taylorglo.recipe.validation import _type_hints

    found = [cls]
    for f in dataclasses.fields(cls):
        hint = _type_hints(cls)[f.name]
        if dataclasses.is_dataclass(hint) and "rule" not in f.metadata:
            found += _section_types(hint)
    return found


def test_every_schema_default_passes_its_own_field_checks(tmp_path: Path):
    # The validator finds each field's check in the schema alone; a field whose type has no
    # check, or a default outside its own limits, fails here rather than in a user's recipe.
    from keras_taylorglo.recipe.checker import _Checker
    from keras_taylorglo.recipe.schema import _SECTION_TYPES, LossConfig
    from keras_taylorglo.recipe.validation import _section

    checker = _Checker("schema.toml", tmp_path)
    checked = 0
    for name, top in _SECTION_TYPES.items():
        for cls in _section_types(top):
            built = _section(cls, {}, checker, name, {"loss": LossConfig()})
            assert built == cls(), cls.__name__
            checked += len(dataclasses.fields(cls))
    assert checked == 56  # every field of every section and nested table


@dataclasses.dataclass(frozen=True)
class Extra:
    """A section that exists only here: written once, with its limits in ``spec``."""

    size: int = field_spec(4, minimum=1, maximum=8)
    rate: float = field_spec(0.5, low=0, high=1, high_open=True)
    mode: str = field_spec("fast", choices=("fast", "slow"))
    tidy: bool = True
    abort: AbortConfig = dataclasses.field(default_factory=AbortConfig)


def test_a_field_written_once_in_the_schema_is_validated(tmp_path: Path):
    # Adding a field means writing it once: its spec(...) is all the validator needs.
    from keras_taylorglo.recipe.checker import _Checker
    from keras_taylorglo.recipe.validation import _section

    checker = _Checker("x.toml", tmp_path)
    given = {"size": 8, "rate": 0, "abort": {"epoch": 2}}
    assert _section(Extra, given, checker, "extra", {}) == Extra(
        size=8, rate=0.0, abort=AbortConfig(epoch=2)
    )
    bad = {
        "size": (9, "extra.size: out of range (got 9; expected an integer from 1 to 8)"),
        "rate": (1, "extra.rate: out of range (got 1; expected a number in [0, 1))"),
        "mode": ("slw", "extra.mode: unknown value; did you mean"),
        "tidy": (1, "extra.tidy: must be a boolean (got 1; expected true or false)"),
        "abort": ({"epochs": 1}, "extra.abort.epochs: unknown key; did you mean"),
    }
    for key, (value, message) in bad.items():
        with pytest.raises(RecipeError) as excinfo:
            _section(Extra, {key: value}, checker, "extra", {})
        assert str(excinfo.value).startswith(f"x.toml: {message}"), str(excinfo.value)


def test_cross_field_execution_rules_run_after_the_fields(tmp_path: Path):
    # gpus_per_worker is checked against the device list, and workers_per_gpu against
    # gpus_per_worker, only once every [execution] field is valid on its own.
    text = MINIMAL + "[execution]\ndevices = [0, 1]\ngpus_per_worker = 2\nworkers_per_gpu = 2\n"
    with pytest.raises(RecipeError) as excinfo:
        load_recipe(write(tmp_path, text))
    assert str(excinfo.value) == (
        f"{tmp_path / 'recipe.toml'}: execution.workers_per_gpu: workers cannot share GPUs when "
        "each worker has 2 of them (gpus_per_worker) (got 2; expected 1 with gpus_per_worker > 1)"
    )
    text = MINIMAL + "[execution]\ndevices = [0, 1, 2]\ngpus_per_worker = 2\nworkers = -1\n"
    with pytest.raises(RecipeError) as excinfo:
        load_recipe(write(tmp_path, text))
    assert "execution.workers: out of range" in str(excinfo.value)
