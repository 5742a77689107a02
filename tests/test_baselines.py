"""Robust-loss baselines: GCE, Baikal, label smoothing (values, dtypes, saving) and the specs."""

import json
import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_taylorglo import BaikalLoss, GCELoss, LabelSmoothingCrossentropy  # noqa: E402
from keras_taylorglo.baselines import (  # noqa: E402
    BASELINE_KINDS,
    baseline_label,
    make_baseline_loss,
    parse_baseline,
    parse_baselines,
)
from keras_taylorglo.errors import TaylorGLOError  # noqa: E402
from keras_taylorglo.robust_losses import baikal, gce  # noqa: E402

ROOT = Path(__file__).parent.parent
EPS = 1e-7  # keras.config.epsilon()


def random_batch(rng, batch=16, classes=10):
    probs = rng.dirichlet(np.ones(classes), size=batch)
    ids = rng.integers(0, classes, batch)
    return ids, np.eye(classes)[ids], probs


def gce_reference(onehot, probs, q):
    p_true = np.clip((onehot * probs).sum(-1), EPS, 1.0)
    return (1.0 - p_true**q) / q


def baikal_reference(onehot, probs):
    y = np.clip(probs, EPS, 1.0)
    return -(np.log(y) - onehot / y).mean(-1)


def smoothing_reference(onehot, probs, eps):
    target = onehot * (1.0 - eps) + eps / onehot.shape[-1]
    return -(target * np.log(np.clip(probs, EPS, 1.0 - EPS))).sum(-1)


def per_sample(loss, y_true, y_pred):
    return keras.ops.convert_to_numpy(loss(y_true, np.asarray(y_pred, "float32")))


def test_gce_matches_the_formula_for_sparse_and_one_hot_labels():
    rng = np.random.default_rng(0)
    for q in (0.1, 0.5, 0.7, 1.0):
        ids, onehot, probs = random_batch(rng)
        reference = gce_reference(onehot, probs, q)
        loss = GCELoss(q=q, reduction=None)
        for labels in (ids, ids[:, None], onehot):
            got = per_sample(loss, labels, probs)
            assert got.shape == (16,)
            np.testing.assert_allclose(got, reference, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(gce(ids, probs.astype("float32"), q=q)), reference, 1e-5
        )
    mean = float(GCELoss(q=0.7)(ids, probs.astype("float32")))
    np.testing.assert_allclose(mean, gce_reference(onehot, probs, 0.7).mean(), rtol=1e-5)


def test_baikal_matches_the_formula_for_sparse_and_one_hot_labels():
    rng = np.random.default_rng(1)
    for classes in (2, 10):
        ids, onehot, probs = random_batch(rng, classes=classes)
        reference = baikal_reference(onehot, probs)
        for labels in (ids, ids[:, None], onehot):
            got = per_sample(BaikalLoss(reduction=None), labels, probs)
            assert got.shape == (16,)
            np.testing.assert_allclose(got, reference, rtol=1e-5)
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(baikal(onehot, probs.astype("float32"))), reference, 1e-5
        )


def test_label_smoothing_is_keras_own_categorical_crossentropy():
    rng = np.random.default_rng(2)
    for eps in (0.0, 0.1, 0.3):
        ids, onehot, probs = random_batch(rng)
        keras_values = per_sample(
            keras.losses.CategoricalCrossentropy(label_smoothing=eps, reduction=None),
            onehot,
            probs,
        )
        loss = LabelSmoothingCrossentropy(label_smoothing=eps, reduction=None)
        for labels in (ids, ids[:, None], onehot):
            got = per_sample(loss, labels, probs)
            assert got.shape == (16,)
            np.testing.assert_allclose(got, keras_values, rtol=1e-6)
            np.testing.assert_allclose(got, smoothing_reference(onehot, probs, eps), rtol=1e-5)


def test_from_logits_equals_softmax_then_loss():
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(8, 4)).astype("float32")
    probs = keras.ops.convert_to_numpy(keras.ops.softmax(logits))
    ids = rng.integers(0, 4, 8)
    for cls, kwargs in (
        (GCELoss, {"q": 0.5}),
        (BaikalLoss, {}),
        (LabelSmoothingCrossentropy, {"label_smoothing": 0.2}),
    ):
        np.testing.assert_allclose(
            per_sample(cls(from_logits=True, reduction=None, **kwargs), ids, logits),
            per_sample(cls(reduction=None, **kwargs), ids, probs),
            rtol=1e-5,
        )


ALL_LOSSES = [
    GCELoss(q=0.5),
    BaikalLoss(),
    LabelSmoothingCrossentropy(label_smoothing=0.2),
]


@pytest.mark.parametrize("loss", ALL_LOSSES, ids=lambda loss: type(loss).__name__)
def test_bfloat16_predictions_are_computed_in_float32(loss):
    ids, _, probs = random_batch(np.random.default_rng(4), batch=8)
    half = keras.ops.cast(probs, "bfloat16")
    rounded = keras.ops.convert_to_numpy(keras.ops.cast(half, "float32"))
    per_sample_loss = type(loss).from_config({**loss.get_config(), "reduction": None})
    # .call and the plain functions: Loss.__call__ alone would cast to float32 for them.
    outputs = [per_sample_loss.call(ids, half)]
    if isinstance(loss, GCELoss):
        outputs.append(gce(ids, half, q=loss.q))
    if isinstance(loss, BaikalLoss):
        outputs.append(baikal(ids, half))
    for out in outputs:
        assert keras.backend.standardize_dtype(out.dtype) == "float32"
        out = keras.ops.convert_to_numpy(out)
        np.testing.assert_allclose(out, per_sample(per_sample_loss, ids, rounded), rtol=1e-6)
        np.testing.assert_allclose(out, per_sample(per_sample_loss, ids, probs), rtol=2e-2)


@pytest.mark.parametrize("loss", ALL_LOSSES, ids=lambda loss: type(loss).__name__)
def test_gradient_is_finite_where_a_probability_is_zero(loss):
    y_pred = tf.Variable([[0.0, 1.0, 0.0], [0.5, 0.5, 0.0], [1.0, 0.0, 0.0]])
    y_true = np.array([0, 2, 0])
    with tf.GradientTape() as tape:
        value = loss(y_true, y_pred)
    grad = tape.gradient(value, y_pred).numpy()
    assert np.isfinite(float(value)) and np.all(np.isfinite(grad))


def test_invalid_constructor_arguments_are_refused():
    for q in (0.0, 1.5, -1.0, float("nan")):
        with pytest.raises(ValueError, match=r"q must be a number in \(0, 1\]"):
            GCELoss(q=q)
    with pytest.raises(ValueError, match=r"q must be a number in \(0, 1\]"):
        gce([0], [[1.0]], q=2.0)
    for eps in (1.0, -0.1):
        with pytest.raises(ValueError, match=r"label_smoothing must be a number in \[0, 1\)"):
            LabelSmoothingCrossentropy(label_smoothing=eps)


@pytest.mark.parametrize(
    "loss, extra",
    [
        (GCELoss(q=0.3, from_logits=True, name="g", reduction="sum"), {"q", "from_logits"}),
        (BaikalLoss(from_logits=True, name="b"), {"from_logits"}),
        (
            LabelSmoothingCrossentropy(label_smoothing=0.25, from_logits=True, reduction=None),
            {"label_smoothing", "from_logits"},
        ),
    ],
    ids=lambda value: type(value).__name__,
)
def test_config_round_trips(loss, extra):
    config = loss.get_config()
    assert set(config) == {"name", "reduction"} | extra
    json.dumps(config)
    serialized = keras.saving.serialize_keras_object(loss)
    assert serialized["registered_name"] == f"keras_taylorglo>{type(loss).__name__}"
    for clone in (
        type(loss).from_config(config),
        keras.saving.deserialize_keras_object(serialized),
        keras.losses.deserialize(json.loads(json.dumps(keras.losses.serialize(loss)))),
    ):
        assert type(clone) is type(loss) and clone is not loss
        assert clone.get_config() == config


def tiny_problem(seed=0, classes=3):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 3, size=(classes, 5))
    y = rng.integers(0, classes, 96)
    x = (centres[y] + rng.normal(size=(96, 5))).astype("float32")
    return x, y


def tiny_model(seed=0, classes=3):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((5,)), keras.layers.Dense(classes, activation="softmax")])


@pytest.mark.parametrize("spec", ["label_smoothing:0.2", "gce:0.5", "baikal"])
def test_fit_lowers_the_loss_and_save_load_keeps_it(spec, tmp_path):
    x, y = tiny_problem()
    model = tiny_model()
    # A small rate: Baikal's x/y term is steep where the true-class probability is small.
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss=make_baseline_loss(spec))
    before = model.evaluate(x, y, verbose=0)
    model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    after = model.evaluate(x, y, verbose=0)
    assert after < before
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert type(loaded.loss) is type(model.loss) and loaded.loss is not model.loss
    assert loaded.loss.get_config() == model.loss.get_config()
    np.testing.assert_allclose(loaded.evaluate(x, y, verbose=0), after, rtol=1e-6)


def test_make_baseline_loss_builds_each_kind():
    assert isinstance(
        make_baseline_loss("crossentropy"), keras.losses.SparseCategoricalCrossentropy
    )
    smoothing = make_baseline_loss("label_smoothing")
    assert isinstance(smoothing, LabelSmoothingCrossentropy)
    assert smoothing.label_smoothing == 0.1
    assert make_baseline_loss(" gce:0.25 ").q == 0.25
    assert make_baseline_loss("gce").q == 0.7
    assert isinstance(make_baseline_loss("baikal"), BaikalLoss)
    with pytest.raises(TaylorGLOError):
        make_baseline_loss("gcee")


def test_parse_baseline_canonical_forms_and_labels():
    cases = {
        "crossentropy": ("crossentropy", "cross-entropy"),
        "label_smoothing": ("label_smoothing:0.1", "label smoothing 0.1"),
        "label_smoothing:0.20": ("label_smoothing:0.2", "label smoothing 0.2"),
        "label_smoothing:0": ("label_smoothing:0", "label smoothing 0"),
        "gce": ("gce:0.7", "GCE q=0.7"),
        " gce : .5 ": ("gce:0.5", "GCE q=0.5"),
        "GCE:1": ("gce:1", "GCE q=1"),
        "gce:1e-3": ("gce:0.001", "GCE q=0.001"),
        "baikal": ("baikal", "Baikal"),
    }
    for spec, (canonical, label) in cases.items():
        assert parse_baseline(spec) == canonical
        assert parse_baseline(canonical) == canonical
        assert baseline_label(spec) == label
    assert BASELINE_KINDS == ("crossentropy", "label_smoothing", "gce", "baikal")


def test_parse_baselines_keeps_order_drops_duplicates_and_puts_crossentropy_first():
    assert parse_baselines("") == ["crossentropy"]
    assert parse_baselines("  ") == ["crossentropy"]
    assert parse_baselines("crossentropy") == ["crossentropy"]
    assert parse_baselines("gce:0.5, baikal") == ["crossentropy", "gce:0.5", "baikal"]
    assert parse_baselines(" baikal ,gce, gce:0.70,crossentropy, label_smoothing,") == [
        "crossentropy",
        "baikal",
        "gce:0.7",
        "label_smoothing:0.1",
    ]
    assert parse_baselines("gce:0.5,gce:0.6") == ["crossentropy", "gce:0.5", "gce:0.6"]


EXPECTED = "(expected crossentropy, label_smoothing[:ε], gce[:q], baikal)"


@pytest.mark.parametrize(
    "spec, message",
    [
        ("gcee", f"--baselines: unknown baseline 'gcee'; did you mean 'gce'? {EXPECTED}"),
        (
            "label_smothing:0.1",
            "--baselines: unknown baseline 'label_smothing:0.1'; did you mean "
            f"'label_smoothing'? {EXPECTED}",
        ),
        ("focal", f"--baselines: unknown baseline 'focal' {EXPECTED}"),
        ("", f"--baselines: empty baseline name {EXPECTED}"),
        ("gce:1.5", "--baselines: gce:1.5: q must be in (0, 1] (got 1.5)"),
        ("gce:0", "--baselines: gce:0: q must be in (0, 1] (got 0)"),
        ("gce:nan", "--baselines: gce:nan: q must be in (0, 1] (got nan)"),
        ("gce:high", "--baselines: gce:high: q must be a number in (0, 1] (got 'high')"),
        ("gce:", "--baselines: gce:: q must be a number in (0, 1] (got '')"),
        ("label_smoothing:1", "--baselines: label_smoothing:1: ε must be in [0, 1) (got 1)"),
        (
            "label_smoothing:-0.1",
            "--baselines: label_smoothing:-0.1: ε must be in [0, 1) (got -0.1)",
        ),
        ("baikal:1", "--baselines: baikal:1: baikal takes no parameter (write 'baikal')"),
        (
            "crossentropy:0.1",
            "--baselines: crossentropy:0.1: crossentropy takes no parameter (write 'crossentropy')",
        ),
    ],
)
def test_every_error_is_one_exact_line(spec, message):
    for parse in (parse_baseline, baseline_label, make_baseline_loss):
        with pytest.raises(TaylorGLOError) as caught:
            parse(spec)
        assert str(caught.value) == message
    if spec:  # an empty item in a list is skipped, not an error
        with pytest.raises(TaylorGLOError) as caught:
            parse_baselines(f"baikal, {spec}, gce")
        assert str(caught.value) == message


def test_importing_baselines_loads_neither_tensorflow_nor_keras():
    code = (
        "import sys, keras_taylorglo.baselines as b; "
        "b.parse_baselines('gce, baikal'); b.baseline_label('gce'); "
        "print(sorted(m for m in ('tensorflow', 'keras', 'jax') if m in sys.modules))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
