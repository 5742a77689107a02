"""``SearchResult.optimizer()`` and ``train_final()`` (issue 22 §2): the search's own training.

The run is a store written directly (a chosen θ and the shipped digits recipe with a tiny full
budget); the training is real, on 200 of scikit-learn's digits, a few seconds.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits

import keras_taylorglo as ktg
from keras_taylorglo.outcomes import Status
from keras_taylorglo.presets import PAPER_MNIST
from keras_taylorglo.recipe import load_recipe
from keras_taylorglo.store import Store

STEPS = 30  # 2.5 epochs of 12 steps: the schedule decays after the first


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    recipe = load_recipe(
        "digits",
        [
            f"training.full.steps={STEPS}",
            "training.weight_decay=0.0005",
            "training.schedule.decay_epochs=[1]",
            "data.batch_size=16",
        ],
    )
    run_dir = tmp_path_factory.mktemp("final") / "run"
    store = Store.create(run_dir, recipe, meta={"base_dir": str(recipe.base_dir)})
    store.begin_generation(0, b"state", [list(PAPER_MNIST), [0.0] * 8])
    store.set_candidate_result(0, 0, Status.OK, 0.9)
    store.set_candidate_result(0, 1, Status.OK, 0.1)
    store.close()
    return run_dir


@pytest.fixture(scope="module")
def digits():
    data = load_digits()
    return data.images[:200], data.target[:200]


def build_model(input_shape, num_classes):
    import keras

    inputs = keras.Input(input_shape)
    h = keras.layers.Flatten()(keras.layers.Conv2D(4, 3, activation="relu")(inputs))
    return keras.Model(inputs, keras.layers.Dense(num_classes, activation="softmax")(h))


def test_the_optimizer_is_the_searchs(run_dir):
    optimizer = ktg.SearchResult.from_run_dir(run_dir).optimizer()
    assert type(optimizer).__name__ == "SGD"
    assert float(optimizer.momentum) == pytest.approx(0.9)
    assert float(optimizer.learning_rate) == pytest.approx(0.01)


def test_train_final_trains_as_the_analysis_and_takes_raw_images(run_dir, digits):
    import keras

    x, y = digits
    result = ktg.SearchResult.from_run_dir(run_dir)
    final = result.train_final(build_model, x, y, validation_data=(x[:50], y[:50]))
    inner = final.layers[-1]
    assert final.input_shape == (None, 8, 8)  # the images as given, without a channel axis
    assert int(inner.optimizer.iterations) == STEPS  # the full budget, exactly
    assert float(inner.optimizer.learning_rate) == pytest.approx(0.001)  # decayed after epoch 1
    # Standardised per channel with the mean and deviation of x, as the loader does.
    (norm,) = [layer for layer in final.layers if isinstance(layer, keras.layers.Normalization)]
    assert np.allclose(keras.ops.convert_to_numpy(norm.mean), x.mean(), rtol=1e-5)
    assert np.allclose(keras.ops.convert_to_numpy(norm.variance), x.var(), rtol=1e-4)
    # Coupled weight decay, as the search's SGD has it.
    assert all(v.regularizer is not None for v in inner.trainable_variables)
    assert list(final.loss.theta.numpy()) == pytest.approx(list(PAPER_MNIST))
    accuracy = final.evaluate(x, y, return_dict=True, verbose=0)["accuracy"]
    assert 0.0 <= accuracy <= 1.0
    # The same seed gives the same training (weights, data order); another seed another one.
    again = result.train_final(build_model, x, y)
    other = result.train_final(build_model, x, y, seed=1)
    weights = final.get_weights()
    assert all(map(np.array_equal, weights, again.get_weights()))
    assert not all(map(np.array_equal, weights, other.get_weights()))


def test_bad_arrays_are_one_line(run_dir, digits):
    x, y = digits
    with pytest.raises(ktg.TaylorGLOError) as error:
        ktg.SearchResult.from_run_dir(run_dir).train_final(build_model, x, y[:-1])
    assert "\n" not in str(error.value) and "199" in str(error.value)
