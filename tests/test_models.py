"""The model zoo: every architecture builds for its data sets, seeded init, custom builders."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from keras_taylorglo.errors import TaylorGLOError  # noqa: E402
from keras_taylorglo.models import MODELS, build_model  # noqa: E402
from keras_taylorglo.recipe import ModelConfig, load_recipe  # noqa: E402

SHAPES = {"digits": (8, 8, 1), "mnist": (28, 28, 1), "cifar10": (32, 32, 3), "svhn": (32, 32, 3)}


@pytest.mark.parametrize(
    ("name", "options", "data", "params"),
    [
        ("basic_cnn", {}, "digits", None),
        ("basic_cnn", {}, "mnist", 3_274_634),  # 5x5x32, 5x5x64, 3136x1024, 1024x10
        ("alexnet", {}, "cifar10", None),
        ("allcnn_c", {}, "cifar10", None),
        ("preact_resnet20", {}, "cifar10", None),
        ("wide_resnet", {"depth": 16, "width": 8, "dropout": 0.4}, "svhn", None),
        ("wide_resnet", {"depth": 28, "width": 5, "dropout": 0.3}, "cifar10", None),
    ],
)
def test_zoo_builds_with_right_output(name, options, data, params):
    model = build_model(ModelConfig(name, options), SHAPES[data], 10, seed=0)
    assert model.output_shape == (None, 10)
    assert model.input_shape == (None, *SHAPES[data])
    if params is not None:
        assert model.count_params() == params
    out = model(np.zeros((2, *SHAPES[data]), "float32"), training=False)
    np.testing.assert_allclose(np.asarray(out).sum(axis=1), 1.0, rtol=1e-5)  # softmax


def test_wide_resnet_sizes_match_the_literature():
    # WRN-16-8 has about 11.0M parameters, WRN-28-10 about 36.5M (Zagoruyko & Komodakis).
    wrn16_8 = build_model(ModelConfig("wide_resnet", {"depth": 16, "width": 8}), (32, 32, 3), 10)
    assert 10.9e6 < wrn16_8.count_params() < 11.1e6
    resnet20 = build_model(ModelConfig("preact_resnet20"), (32, 32, 3), 10)
    assert 0.26e6 < resnet20.count_params() < 0.29e6  # ResNet-20: 0.27M


def test_every_recipe_model_builds(tmp_path):
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "recipes"
    for path in sorted(root.glob("*.toml")):
        recipe = load_recipe(path)
        shape = SHAPES[
            "digits"
            if recipe.data.dataset == "digits"
            else "mnist"
            if recipe.data.dataset == "mnist"
            else "cifar10"
        ]
        model = build_model(recipe.model, shape, 10, seed=0)
        assert model.output_shape == (None, 10), path.name


def test_seeded_initialisation():
    config = ModelConfig("basic_cnn")
    a = build_model(config, (8, 8, 1), 10, seed=1).get_weights()
    b = build_model(config, (8, 8, 1), 10, seed=1).get_weights()
    c = build_model(config, (8, 8, 1), 10, seed=2).get_weights()
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert any(not np.array_equal(x, y) for x, y in zip(a, c, strict=True))


def test_bad_options_are_one_line_errors():
    with pytest.raises(TaylorGLOError, match=r"model.options.depht: not an option of wide_resnet"):
        build_model(ModelConfig("wide_resnet", {"depht": 16}), (32, 32, 3), 10)
    with pytest.raises(TaylorGLOError, match=r"depth = 6n \+ 4 \(got 15"):
        build_model(ModelConfig("wide_resnet", {"depth": 15}), (32, 32, 3), 10)
    with pytest.raises(TaylorGLOError, match="unknown model"):
        build_model(ModelConfig("resnet9000"), (32, 32, 3), 10)


def test_module_function_model(tmp_path):
    (tmp_path / "my_models.py").write_text(
        "import keras\n"
        "def tiny(input_shape, num_classes, units=4):\n"
        "    i = keras.Input(input_shape)\n"
        "    x = keras.layers.Flatten()(i)\n"
        "    x = keras.layers.Dense(units)(x)\n"
        "    return keras.Model(i, keras.layers.Dense(num_classes, activation='softmax')(x))\n"
        "def wrong(input_shape, num_classes):\n"
        "    return 'not a model'\n"
    )
    model = build_model(ModelConfig("my_models:tiny", {"units": 3}), (8, 8, 1), 10, tmp_path)
    assert model.output_shape == (None, 10)
    assert model.layers[-2].units == 3
    with pytest.raises(TaylorGLOError, match="returned str"):
        build_model(ModelConfig("my_models:wrong"), (8, 8, 1), 10, tmp_path)


def test_registry_lists_the_papers_models():
    assert set(MODELS) == {"basic_cnn", "alexnet", "allcnn_c", "preact_resnet20", "wide_resnet"}
