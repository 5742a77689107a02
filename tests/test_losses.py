"""TaylorGLOLoss: values, labels, serialisation, no retrace, strategy and JAX equivalence."""

import json
import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from fresh_processes import finished, started  # noqa: E402
from test_expansion import (  # noqa: E402
    eq4_reference,
    eq5_reference,
    lossferatu_reference,
    random_batch,
)

from keras_taylorglo import expansion as E  # noqa: E402
from keras_taylorglo.losses import TaylorGLOLoss, taylorglo  # noqa: E402
from keras_taylorglo.presets import PAPER_MNIST  # noqa: E402

TESTS = Path(__file__).parent
ROOT = TESTS.parent
PROGRESS_INPUTS = ("label", "prediction", "progress")


def assert_close(got, reference):
    # float32 against float64: the per-sample sum may cancel terms much larger than the result,
    # so the tolerance scales with the batch's largest value too.
    reference = np.asarray(reference)
    np.testing.assert_allclose(got, reference, rtol=1e-5, atol=1e-5 * np.abs(reference).max())


def per_sample(loss, y_true, y_pred):
    return keras.ops.convert_to_numpy(loss(y_true, np.asarray(y_pred, "float32")))


def test_eq5_eq4_lossferatu_match_hand_written_references():
    rng = np.random.default_rng(10)
    for _ in range(3):
        x, y = random_batch(rng, batch=32, classes=10)
        theta5, theta4 = rng.normal(0, 3, 8), rng.normal(0, 3, 12)
        eq5 = TaylorGLOLoss(theta5, reduction=None)
        assert_close(per_sample(eq5, x, y), eq5_reference(theta5, x, y))
        eq4 = TaylorGLOLoss(theta4, trim=False, reduction=None)
        assert_close(per_sample(eq4, x, y), eq4_reference(theta4, x, y))
        old = TaylorGLOLoss(theta5, convention="lossferatu", reduction=None)
        assert_close(per_sample(old, x, y), lossferatu_reference(theta5, x, y))


def test_default_reduction_is_the_batch_mean_of_per_sample_values():
    x, y = random_batch(np.random.default_rng(11), batch=8, classes=10)
    per = per_sample(TaylorGLOLoss(PAPER_MNIST, reduction=None), x, y)
    assert per.shape == (8,)
    mean = float(TaylorGLOLoss(PAPER_MNIST)(x, y.astype("float32")))
    np.testing.assert_allclose(mean, eq5_reference(PAPER_MNIST, x, y).mean(), rtol=1e-5)
    np.testing.assert_allclose(mean, per.mean(), rtol=1e-6)


def test_sparse_labels_equal_one_hot_labels():
    rng = np.random.default_rng(12)
    x, y = random_batch(rng, batch=16, classes=5)
    ids = x.argmax(axis=-1)
    loss = TaylorGLOLoss(rng.normal(0, 3, 8), reduction=None)
    dense = per_sample(loss, x, y)
    np.testing.assert_allclose(per_sample(loss, ids, y), dense, rtol=1e-6)
    np.testing.assert_allclose(per_sample(loss, ids[:, None], y), dense, rtol=1e-6)
    np.testing.assert_allclose(per_sample(loss, ids.astype("float32"), y), dense, rtol=1e-6)


def test_from_logits_equals_softmax_then_loss():
    rng = np.random.default_rng(13)
    logits = rng.normal(0, 2, (16, 6)).astype("float32")
    ids = rng.integers(0, 6, 16)
    probs = keras.ops.convert_to_numpy(keras.ops.softmax(logits, axis=-1))
    theta = rng.normal(0, 3, 8)
    on_logits = per_sample(TaylorGLOLoss(theta, from_logits=True, reduction=None), ids, logits)
    on_probs = per_sample(TaylorGLOLoss(theta, reduction=None), ids, probs)
    np.testing.assert_allclose(on_logits, on_probs, rtol=1e-5)
    assert not np.allclose(on_logits, per_sample(TaylorGLOLoss(theta, reduction=None), ids, logits))


def test_plain_function_and_theta_none():
    x, y = random_batch(np.random.default_rng(14), batch=4, classes=3)
    got = keras.ops.convert_to_numpy(taylorglo(x, y, PAPER_MNIST))
    np.testing.assert_allclose(got, eq5_reference(PAPER_MNIST, x, y), rtol=1e-5)
    zeros = TaylorGLOLoss()
    assert zeros.theta.shape == (8,) and not zeros.theta.trainable
    np.testing.assert_array_equal(per_sample(TaylorGLOLoss(reduction=None), x, y), 0.0)


def test_progress_input_uses_the_variable():
    alphas = E.multi_indices(3, 3)
    theta = np.zeros(E.num_params(3, 3))
    theta[3 + alphas.index((0, 1, 1))] = 2.0  # f = 2 y t
    loss = TaylorGLOLoss(theta, inputs=PROGRESS_INPUTS, reduction=None)
    x, y = random_batch(np.random.default_rng(15), batch=4, classes=3)
    assert loss.has_progress and float(loss.progress) == 0.0
    np.testing.assert_allclose(per_sample(loss, x, y), 0.0)
    loss.set_progress(1.0)
    expected = E.loss_value(theta, x, y, progress=1.0, inputs=PROGRESS_INPUTS)
    np.testing.assert_allclose(per_sample(loss, x, y), expected, rtol=1e-5)
    np.testing.assert_allclose(expected, -2 * y.mean(axis=-1))
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match=r"progress must be a number in \[0, 1\]"):
            loss.set_progress(bad)


def test_wrong_theta_is_refused_with_the_reason():
    with pytest.raises(ValueError) as info:
        TaylorGLOLoss([0.0] * 7)
    assert str(info.value) == (
        "theta has 7 values; expected 8 = 2 centres + 6 coefficients for inputs "
        "('label', 'prediction'), order 3, trim=True"
    )
    loss = TaylorGLOLoss(inputs=PROGRESS_INPUTS, order=2)
    with pytest.raises(ValueError, match="expected 7 = 3 centres"):
        loss.set_theta([0.0] * 8)
    with pytest.raises(ValueError, match="finite"):
        loss.set_theta([float("nan")] * 7)
    with pytest.raises(ValueError, match="convention"):
        TaylorGLOLoss(convention="Paper")


def test_config_round_trips():
    loss = TaylorGLOLoss(
        PAPER_MNIST, convention="lossferatu", from_logits=True, name="tg", reduction="sum"
    )
    loss.set_theta(np.arange(8.0) / 3)
    config = loss.get_config()
    assert set(config) == {
        "name",
        "reduction",
        "theta",
        "order",
        "inputs",
        "trim",
        "convention",
        "from_logits",
    }
    json.dumps(config)
    np.testing.assert_allclose(config["theta"], np.arange(8.0) / 3, rtol=1e-6)
    for clone in (
        TaylorGLOLoss.from_config(config),
        keras.losses.deserialize(keras.losses.serialize(loss)),
    ):
        assert isinstance(clone, TaylorGLOLoss)
        assert clone.get_config() == config
    assert keras.losses.serialize(loss)["registered_name"] == "keras_taylorglo>TaylorGLOLoss"
    assert TaylorGLOLoss.from_preset("paper-mnist").get_config()["theta"] == list(PAPER_MNIST)


def test_spec_builds_the_same_loss_and_the_same_config():
    spec = E.ExpansionSpec(order=2, inputs=PROGRESS_INPUTS, trim=False, convention="lossferatu")
    theta = np.random.default_rng(17).normal(0, 2, spec.num_params)
    by_spec = TaylorGLOLoss(theta, spec=spec, reduction=None)
    by_four = TaylorGLOLoss(theta, reduction=None, **spec.as_dict())
    assert by_spec.spec == by_four.spec == spec and by_spec.order == 2
    # the config still spells the four settings, so it loads without knowing about the spec
    assert by_spec.get_config() == by_four.get_config()
    assert TaylorGLOLoss.from_config(by_spec.get_config()).spec == spec
    x, y = random_batch(np.random.default_rng(18), batch=4, classes=3)
    by_spec.set_progress(0.5)
    expected = E.loss_value(theta, x, y, progress=0.5, spec=spec)
    assert_close(per_sample(by_spec, x, y), expected)
    got = taylorglo(x, y.astype("float32"), theta, progress=0.5, spec=spec)
    assert_close(keras.ops.convert_to_numpy(got), expected)
    # a setting given both ways differently is refused (one left at its default cannot be told)
    with pytest.raises(ValueError, match="trim=False contradicts spec="):
        TaylorGLOLoss(spec=E.ExpansionSpec(order=2), trim=False)


def tiny_model(num_classes=3, seed=0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [keras.Input((5,)), keras.layers.Dense(num_classes, activation="softmax")]
    )


def test_model_save_load_keeps_the_loss_and_theta(tmp_path):
    rng = np.random.default_rng(16)
    x, y = rng.normal(size=(16, 5)).astype("float32"), rng.integers(0, 3, 16)
    model = tiny_model()
    loss = TaylorGLOLoss.from_preset("paper-mnist")
    model.compile(optimizer="sgd", loss=loss, metrics=["accuracy"])
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    new_theta = rng.normal(0, 2, 8)
    loss.set_theta(new_theta)
    # θ is loss state, not a model weight.
    assert [v.name for v in model.weights] == ["kernel", "bias"]
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert isinstance(loaded.loss, TaylorGLOLoss) and loaded.loss is not loss
    np.testing.assert_allclose(loaded.loss.theta.numpy(), new_theta, 1e-6)
    np.testing.assert_allclose(
        loaded.evaluate(x, y, verbose=0, return_dict=True)["loss"],
        model.evaluate(x, y, verbose=0, return_dict=True)["loss"],
        rtol=1e-5,
    )


def test_set_theta_takes_effect_without_retracing():
    traces = []

    class Counting(TaylorGLOLoss):
        def call(self, y_true, y_pred):
            traces.append(1)  # Python side effect: runs only while tracing
            return super().call(y_true, y_pred)

    rng = np.random.default_rng(17)
    x, y = rng.normal(size=(16, 5)).astype("float32"), rng.integers(0, 3, 16)
    model = tiny_model()
    loss = Counting(PAPER_MNIST)
    # lr 0: the weights stay put, so each fit's loss is the loss of θ at the same predictions.
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss=loss)
    probs = keras.ops.convert_to_numpy(model(x))
    onehot = np.eye(3)[y]
    first = model.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
    assert len(traces) == 1
    np.testing.assert_allclose(
        first.history["loss"][0], E.loss_value(PAPER_MNIST, onehot, probs).mean(), rtol=1e-5
    )
    theta2 = rng.normal(0, 2, 8)
    loss.set_theta(theta2)
    second = model.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
    assert len(traces) == 1, "set_theta must not retrace the train step"
    np.testing.assert_allclose(
        second.history["loss"][0], E.loss_value(theta2, onehot, probs).mean(), rtol=1e-5
    )
    assert abs(second.history["loss"][0] - first.history["loss"][0]) > 1.0


# ------------------------------------------------------- checks that need a fresh interpreter
# Two logical CPUs set before TensorFlow starts, and the JAX backend: each in a process of its
# own. Both start when the module's first test starts (those of the selected tests only), so they
# run beside the in-process tests; each test reads its own.

FRESH = {
    "strategy": "test_mirrored_strategy_equals_single_device",
    "jax": "test_jax_backend_matches_tensorflow",
}


@pytest.fixture(scope="module", autouse=True)
def fresh(request, tmp_path_factory) -> dict[str, subprocess.Popen]:
    cases = tmp_path_factory.mktemp("jax") / "cases.json"
    cases.write_text(
        json.dumps(
            {
                name: {k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in c.items()}
                for name, c in jax_cases().items()
            }
        )
    )
    commands = {
        "strategy": ([sys.executable, str(TESTS / "_strategy_check.py")], None, ROOT),
        "jax": (
            [sys.executable, str(TESTS / "_jax_loss_check.py"), str(cases)],
            {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"},
            ROOT,
        ),
    }
    with started(request, FRESH, commands) as procs:
        yield procs


@pytest.mark.slow
def test_mirrored_strategy_equals_single_device(fresh):
    proc = finished(fresh["strategy"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    single = result["single"]
    assert single["replicas"] == 1
    w0 = [np.array(w) for w in single["weights0"]]
    step = [np.array(w) - w_0 for w, w_0 in zip(single["weights1"], w0, strict=True)]
    # The step is large enough that a doubled (or halved) gradient would fail the 1e-5 check.
    assert max(np.abs(s).max() for s in step) > 1e-3
    for name in ("mirrored_inside", "mirrored_outside"):
        run = result[name]
        assert run["replicas"] == 2
        np.testing.assert_allclose(run["loss"], single["loss"], rtol=1e-5)
        for key in ("weights1", "weights2"):
            for got, want in zip(run[key], single[key], strict=True):
                np.testing.assert_allclose(got, want, atol=1e-5)
    # The second step used the θ set between the fits (loss changed) under the strategy too.
    assert abs(single["loss"][1] - single["loss"][0]) > 1.0


def jax_cases():
    rng = np.random.default_rng(18)
    x, y = random_batch(rng, batch=6, classes=4)
    ids = x.argmax(-1)
    logits = rng.normal(0, 2, (6, 4))
    progress_theta = rng.normal(0, 1, E.num_params(3, 2))
    return {
        "paper_mnist_sparse": {"config": {"theta": list(PAPER_MNIST)}, "y_true": ids, "y_pred": y},
        "lossferatu_untrimmed_onehot": {
            "config": {
                "theta": rng.normal(0, 2, 12).tolist(),
                "trim": False,
                "convention": "lossferatu",
            },
            "y_true": x,
            "y_pred": y,
        },
        "from_logits": {
            "config": {"theta": list(PAPER_MNIST), "from_logits": True},
            "y_true": ids,
            "y_pred": logits,
        },
        "progress": {
            "config": {
                "theta": progress_theta.tolist(),
                "order": 2,
                "inputs": list(PROGRESS_INPUTS),
            },
            "progress": 0.3,
            "y_true": ids,
            "y_pred": y,
        },
    }


@pytest.mark.slow
def test_jax_backend_matches_tensorflow(fresh):
    cases = jax_cases()  # the same cases as the fixture wrote for the JAX process (seeded)
    proc = finished(fresh["jax"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    jax_values = json.loads(proc.stdout.strip().splitlines()[-1])
    assert jax_values["backend"] == "jax"
    assert keras.backend.backend() == "tensorflow"
    for name, case in cases.items():
        loss = TaylorGLOLoss(reduction=None, **case["config"])
        if "progress" in case:
            loss.set_progress(case["progress"])
        tf_values = per_sample(loss, case["y_true"], case["y_pred"])
        np.testing.assert_allclose(jax_values[name], tf_values, rtol=1e-5, err_msg=name)
