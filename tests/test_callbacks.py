"""PartialTraining, AbortBelowAccuracy, TrainingProgress: real fits on a tiny model."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from keras_taylorglo import expansion as E  # noqa: E402
from keras_taylorglo.callbacks import (  # noqa: E402
    AbortBelowAccuracy,
    PartialTraining,
    TrainingProgress,
    find_taylorglo_losses,
)
from keras_taylorglo.losses import TaylorGLOLoss  # noqa: E402
from keras_taylorglo.presets import PAPER_MNIST  # noqa: E402

RNG = np.random.default_rng(0)
X = RNG.normal(size=(32, 5)).astype("float32")  # batch 4 -> 8 steps per epoch
Y = RNG.integers(0, 3, 32)
PROGRESS_INPUTS = ("label", "prediction", "progress")


def compiled(loss="sparse_categorical_crossentropy", lr=0.01, **compile_kwargs):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((5,))
    outputs = keras.layers.Dense(3, activation="softmax", name="probs")(inputs)
    model = keras.Model(inputs, outputs)
    model.compile(
        optimizer=keras.optimizers.SGD(lr), loss=loss, metrics=["accuracy"], **compile_kwargs
    )
    return model


def iterations(model):
    return int(model.optimizer.iterations.numpy())


def test_partial_training_stops_after_exact_steps_and_is_reusable():
    model = compiled()
    budget = PartialTraining(steps=13)  # mid-epoch: 8 + 5
    history = model.fit(X, Y, batch_size=4, epochs=100, verbose=0, callbacks=[budget])
    assert iterations(model) == 13
    assert budget.steps_done == 13 and budget.budget_reached
    assert len(history.epoch) == 2  # the second epoch was cut short and still ended
    model.fit(X, Y, batch_size=4, epochs=100, verbose=0, callbacks=[budget])
    assert iterations(model) == 26 and budget.steps_done == 13


def test_partial_training_counts_steps_per_execution():
    model = compiled(steps_per_execution=2)
    budget = PartialTraining(steps=6)
    model.fit(X, Y, batch_size=4, epochs=100, verbose=0, callbacks=[budget])
    assert iterations(model) == 6 and budget.steps_done == 6


def test_partial_training_epochs_budget():
    model = compiled()
    budget = PartialTraining(epochs=2)
    history = model.fit(X, Y, batch_size=4, epochs=100, verbose=0, callbacks=[budget])
    assert len(history.epoch) == 2 and iterations(model) == 16
    history = model.fit(X, Y, batch_size=4, epochs=100, verbose=0, callbacks=[budget])
    assert len(history.epoch) == 2 and iterations(model) == 32 and budget.epochs_done == 2
    # A budget that fit's own epochs end first is not "reached".
    model.fit(X, Y, batch_size=4, epochs=1, verbose=0, callbacks=[budget])
    assert not budget.budget_reached


@pytest.mark.parametrize(
    "kwargs, match",
    [({}, "exactly one"), ({"steps": 3, "epochs": 1}, "exactly one"), ({"steps": 0}, "positive")],
)
def test_partial_training_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        PartialTraining(**kwargs)


def test_abort_below_accuracy_fires_at_the_given_epoch_and_is_reusable():
    model = compiled()
    abort = AbortBelowAccuracy(threshold=1.01, epoch=3, monitor="val_accuracy")
    for _ in range(2):  # the same instance, two fits
        history = model.fit(
            X, Y, batch_size=4, epochs=6, verbose=0, validation_data=(X, Y), callbacks=[abort]
        )
        assert abort.aborted
        assert len(history.epoch) == 3  # stopped at the end of the third epoch
        assert abort.value == pytest.approx(history.history["val_accuracy"][2])
    # A fit that ends before the check epoch resets the flag.
    model.fit(X, Y, batch_size=4, epochs=2, verbose=0, validation_data=(X, Y), callbacks=[abort])
    assert not abort.aborted and abort.value is None


def test_abort_below_accuracy_does_not_fire_above_threshold():
    model = compiled()
    abort = AbortBelowAccuracy(threshold=0.0, epoch=2, monitor="accuracy")
    history = model.fit(X, Y, batch_size=4, epochs=4, verbose=0, callbacks=[abort])
    assert not abort.aborted and len(history.epoch) == 4
    assert abort.value == pytest.approx(history.history["accuracy"][1])


def test_abort_below_accuracy_warns_on_a_missing_key():
    model = compiled()
    abort = AbortBelowAccuracy(threshold=1.01, epoch=1)  # val_accuracy, but no validation data
    with pytest.warns(UserWarning, match="'val_accuracy' is not in the logs"):
        history = model.fit(X, Y, batch_size=4, epochs=2, verbose=0, callbacks=[abort])
    assert not abort.aborted and len(history.epoch) == 2


def progress_theta():
    alphas = E.multi_indices(3, 2)
    theta = np.zeros(E.num_params(3, 2))
    theta[3 + alphas.index((0, 1, 0))] = 1.0  # y
    theta[3 + alphas.index((0, 1, 1))] = 5.0  # 5 y t
    return theta


def test_training_progress_moves_the_loss_during_fit():
    theta = progress_theta()
    loss = TaylorGLOLoss(theta, order=2, inputs=PROGRESS_INPUTS)
    # lr 0 and one batch per epoch: epoch e's loss is the loss at t = e / total_steps.
    model = compiled(loss={"probs": loss}, lr=0.0)
    assert find_taylorglo_losses(model) == [loss]
    seen = []
    record = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: seen.append(float(loss.progress.numpy()))
    )
    progress = TrainingProgress(total_steps=4)
    for _ in range(2):  # reusable: restarts at t = 0
        seen.clear()
        history = model.fit(
            X, Y, batch_size=32, epochs=6, verbose=0, shuffle=False, callbacks=[progress, record]
        )
        assert seen == [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]
    probs = keras.ops.convert_to_numpy(model(X))
    onehot = np.eye(3)[Y]
    expected = [
        E.loss_value(theta, onehot, probs, t, order=2, inputs=PROGRESS_INPUTS).mean() for t in seen
    ]
    np.testing.assert_allclose(history.history["loss"], expected, rtol=1e-5)
    # The loss at the same predictions really differs between t = 0 and t = 1.
    assert abs(expected[-1] - expected[0]) > 0.5


def test_training_progress_finds_losses_in_lists_and_warns_without_one():
    with_progress = TaylorGLOLoss(progress_theta(), order=2, inputs=PROGRESS_INPUTS)
    model = compiled(loss=[with_progress])
    progress = TrainingProgress(total_steps=10)
    model.fit(X, Y, batch_size=4, epochs=1, verbose=0, callbacks=[progress])
    assert progress.losses == [with_progress]
    assert float(with_progress.progress.numpy()) == pytest.approx(0.7)  # before the 8th step

    plain = compiled(loss=TaylorGLOLoss(PAPER_MNIST))
    with pytest.warns(UserWarning, match="no TaylorGLOLoss with a 'progress' input"):
        plain.fit(X, Y, batch_size=4, epochs=1, verbose=0, callbacks=[TrainingProgress(10)])
