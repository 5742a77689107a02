"""Robust-loss baselines: GCE, Baikal, label smoothing, SCE, NCE+RCE, Poly-1 and the specs.

Each loss is checked against its formula written in NumPy (values, and gradients with respect
to the logits against an independent derivative or central finite differences), for integer and
one-hot labels, probabilities and logits, bfloat16 predictions, saving and loading.
"""

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

from keras_taylorglo import (  # noqa: E402
    BaikalLoss,
    GCELoss,
    LabelSmoothingCrossentropy,
    NCEAndRCELoss,
    Poly1Loss,
    SCELoss,
)
from keras_taylorglo.baselines import (  # noqa: E402
    BASELINE_KINDS,
    baseline_label,
    make_baseline_loss,
    parse_baseline,
    parse_baselines,
)
from keras_taylorglo.errors import TaylorGLOError  # noqa: E402
from keras_taylorglo.noisy_label_losses import nce_rce, poly1, sce  # noqa: E402
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


def sce_reference(onehot, probs, alpha=0.1, beta=1.0, a=-4.0):
    # The authors' Keras code: p clamped to [1e-7, 1] in both terms' logs and products, the
    # label clamped so that log 0 becomes A.
    p = np.clip(probs, EPS, 1.0)
    ce = -(onehot * np.log(p)).sum(-1)
    rce = -(p * np.log(np.clip(onehot, np.exp(a), 1.0))).sum(-1)
    return alpha * ce + beta * rce


def nce_rce_reference(onehot, probs, alpha=1.0, beta=1.0, a=-4.0):
    log_p = np.log(np.clip(probs, EPS, 1.0))
    nce = (onehot * log_p).sum(-1) / log_p.sum(-1)
    rce = -(np.clip(probs, EPS, 1.0) * np.log(np.clip(onehot, np.exp(a), 1.0))).sum(-1)
    return alpha * nce + beta * rce


def poly1_reference(onehot, probs, epsilon=1.0):
    # Keras's cross-entropy on probabilities: renormalised, clipped to [eps, 1 - eps].
    p = np.clip(probs / probs.sum(-1, keepdims=True), EPS, 1.0 - EPS)
    return -(onehot * np.log(p)).sum(-1) + epsilon * (1.0 - (onehot * probs).sum(-1))


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


NOISY_LABEL_CASES = [
    (SCELoss, sce, sce_reference, {}),
    (SCELoss, sce, sce_reference, {"alpha": 0.5, "beta": 2.0, "log_zero": float(np.log(1e-4))}),
    (SCELoss, sce, sce_reference, {"alpha": 0.0, "beta": 1.0}),
    (NCEAndRCELoss, nce_rce, nce_rce_reference, {}),
    (NCEAndRCELoss, nce_rce, nce_rce_reference, {"alpha": 10.0, "beta": 0.1, "log_zero": -2.0}),
    (Poly1Loss, poly1, poly1_reference, {}),
    (Poly1Loss, poly1, poly1_reference, {"epsilon": -1.0}),
    (Poly1Loss, poly1, poly1_reference, {"epsilon": 3.5}),
]


def reference_kwargs(kwargs):
    return {("a" if k == "log_zero" else k): v for k, v in kwargs.items()}


@pytest.mark.parametrize(
    "cls, fn, reference, kwargs",
    NOISY_LABEL_CASES,
    ids=lambda v: v.__name__ if isinstance(v, type) else None,
)
def test_noisy_label_losses_match_the_formula_for_sparse_and_one_hot_labels(
    cls, fn, reference, kwargs
):
    rng = np.random.default_rng(5)
    for classes in (2, 10):
        ids, onehot, probs = random_batch(rng, classes=classes)
        expected = reference(onehot, probs, **reference_kwargs(kwargs))
        loss = cls(reduction=None, **kwargs)
        for labels in (ids, ids[:, None], onehot):
            got = per_sample(loss, labels, probs)
            assert got.shape == (16,)
            np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(fn(ids, probs.astype("float32"), **kwargs)),
            expected,
            rtol=1e-5,
            atol=1e-6,
        )
        mean = float(cls(**kwargs)(ids, probs.astype("float32")))
        np.testing.assert_allclose(mean, expected.mean(), rtol=1e-5)


def test_reverse_crossentropy_is_minus_a_times_one_minus_p_true():
    # The papers' closed form for a one-hot label, independent of how the code gets there.
    ids, onehot, probs = random_batch(np.random.default_rng(6))
    p_true = (onehot * probs).sum(-1)
    only_rce = per_sample(SCELoss(alpha=0.0, beta=1.0, reduction=None), ids, probs)
    np.testing.assert_allclose(only_rce, 4.0 * (1.0 - p_true), rtol=1e-5, atol=1e-6)
    code_a = per_sample(SCELoss(0.0, 1.0, log_zero=np.log(1e-4), reduction=None), ids, probs)
    np.testing.assert_allclose(code_a, -np.log(1e-4) * (1.0 - p_true), rtol=1e-5, atol=1e-6)
    ce = -np.log(p_true)
    np.testing.assert_allclose(
        per_sample(SCELoss(reduction=None), ids, probs), 0.1 * ce + 4.0 * (1 - p_true), 1e-5
    )
    log_p = np.log(probs)
    np.testing.assert_allclose(
        per_sample(NCEAndRCELoss(reduction=None), ids, probs),
        np.log(p_true) / log_p.sum(-1) + 4.0 * (1 - p_true),
        rtol=1e-5,
    )
    np.testing.assert_allclose(
        per_sample(Poly1Loss(epsilon=2.0, reduction=None), ids, probs),
        ce + 2.0 * (1.0 - p_true),
        rtol=1e-5,
    )


def logit_gradient(loss, ids, logits):
    variable = tf.Variable(logits)
    with tf.GradientTape() as tape:
        # .call: Loss.__call__ would cast the float64 logits to float32.
        value = tf.reduce_sum(loss.call(ids, variable))
    return tape.gradient(value, variable).numpy()


def test_gradients_with_respect_to_logits_match_their_derivatives():
    rng = np.random.default_rng(7)
    logits = rng.normal(scale=1.5, size=(12, 5))  # float64: the losses keep it
    ids = rng.integers(0, 5, 12)
    onehot = np.eye(5)[ids]
    probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    p_true = (onehot * probs).sum(-1, keepdims=True)
    # Poly-1 (Leng et al., Eq. 3): d/dz [CE + ε(1 - p_y)] = (1 + ε p_y)(p - q).
    got = logit_gradient(Poly1Loss(epsilon=2.0, from_logits=True, reduction=None), ids, logits)
    np.testing.assert_allclose(got, (1.0 + 2.0 * p_true) * (probs - onehot), rtol=1e-9)
    # SCE: d/dz [α CE - A β (1 - p_y)] = (α - A β p_y)(p - q).
    loss = SCELoss(alpha=0.3, beta=2.0, from_logits=True, reduction=None)
    got = logit_gradient(loss, ids, logits)
    np.testing.assert_allclose(got, (0.3 + 4.0 * 2.0 * p_true) * (probs - onehot), rtol=1e-9)
    # NCE + RCE: central finite differences of the NumPy formula.
    loss = NCEAndRCELoss(alpha=1.5, beta=0.5, from_logits=True, reduction=None)
    got = logit_gradient(loss, ids, logits)

    def reference(z):
        p = np.exp(z) / np.exp(z).sum(-1, keepdims=True)
        return nce_rce_reference(onehot, p, alpha=1.5, beta=0.5).sum()

    numeric = np.zeros_like(logits)
    h = 1e-6
    for index in np.ndindex(*logits.shape):
        step = np.zeros_like(logits)
        step[index] = h
        numeric[index] = (reference(logits + step) - reference(logits - step)) / (2 * h)
    np.testing.assert_allclose(got, numeric, rtol=1e-6, atol=1e-8)


def test_nce_takes_the_logits_of_a_keras_softmax_as_the_authors_code_does():
    # Ma et al. take log_softmax of the logits; a Keras softmax keeps them (as Keras's own
    # cross-entropy uses them). Sample 0's true class has p = e^-60: clamped, it would read
    # log 1e-7 and have no gradient.
    logits = np.array([[30.0, 0.0, -30.0], [0.5, 0.2, -0.1]])
    ids = np.array([2, 0])
    onehot = np.eye(3)[ids]
    log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    p = np.exp(log_p)
    rce = -(np.clip(p, EPS, 1.0) * np.log(np.clip(onehot, np.exp(-4.0), 1.0))).sum(-1)
    exact = (onehot * log_p).sum(-1) / log_p.sum(-1) + rce
    from_softmax = nce_rce(ids, keras.activations.softmax(tf.constant(logits)))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(from_softmax), exact, rtol=1e-9)
    clamped = keras.ops.convert_to_numpy(nce_rce(ids, p))
    np.testing.assert_allclose(clamped, nce_rce_reference(onehot, p), rtol=1e-9)
    assert exact[0] - clamped[0] > 0.1  # NCE 60/90 against 16.1/32.2: no rounding difference

    variable = tf.Variable(logits)
    grads = {}
    for name, softmax in (("keras", keras.activations.softmax), ("bare", tf.nn.softmax)):
        with tf.GradientTape() as tape:
            value = nce_rce(ids, softmax(variable), alpha=1.0, beta=0.0)
        grads[name] = tape.gradient(value, variable).numpy()
    assert np.abs(grads["keras"][0]).max() > 1e-3  # NCE still pulls the saturated sample
    assert np.abs(grads["bare"][0]).max() < 1e-8  # clamped: nothing to learn from


def test_from_logits_equals_softmax_then_loss():
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(8, 4)).astype("float32")
    probs = keras.ops.convert_to_numpy(keras.ops.softmax(logits))
    ids = rng.integers(0, 4, 8)
    for cls, kwargs in (
        (GCELoss, {"q": 0.5}),
        (BaikalLoss, {}),
        (LabelSmoothingCrossentropy, {"label_smoothing": 0.2}),
        (SCELoss, {"alpha": 0.3, "beta": 0.5}),
        (NCEAndRCELoss, {"alpha": 2.0}),
        (Poly1Loss, {"epsilon": 2.0}),
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
    SCELoss(alpha=0.2, beta=0.5),
    NCEAndRCELoss(alpha=1.0, beta=2.0, log_zero=-6.0),
    Poly1Loss(epsilon=0.5),
]
PLAIN_FUNCTIONS = {
    GCELoss: gce,
    BaikalLoss: baikal,
    SCELoss: sce,
    NCEAndRCELoss: nce_rce,
    Poly1Loss: poly1,
}


@pytest.mark.parametrize("loss", ALL_LOSSES, ids=lambda loss: type(loss).__name__)
def test_bfloat16_predictions_are_computed_in_float32(loss):
    ids, _, probs = random_batch(np.random.default_rng(4), batch=8)
    half = keras.ops.cast(probs, "bfloat16")
    rounded = keras.ops.convert_to_numpy(keras.ops.cast(half, "float32"))
    per_sample_loss = type(loss).from_config({**loss.get_config(), "reduction": None})
    # .call and the plain functions: Loss.__call__ alone would cast to float32 for them.
    outputs = [per_sample_loss.call(ids, half)]
    if type(loss) in PLAIN_FUNCTIONS:
        settings = {k: v for k, v in loss.get_config().items() if k not in ("name", "reduction")}
        outputs.append(PLAIN_FUNCTIONS[type(loss)](ids, half, **settings))
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
    for cls in (SCELoss, NCEAndRCELoss):
        for alpha, beta in ((-0.1, 1.0), (1.0, float("inf")), (1.0, float("nan"))):
            with pytest.raises(ValueError, match=r"(alpha|beta) must be a finite number >= 0"):
                cls(alpha=alpha, beta=beta)
        with pytest.raises(ValueError, match="alpha and beta cannot both be 0"):
            cls(alpha=0.0, beta=0.0)
        for log_zero in (0.0, 1.0, float("-inf")):
            with pytest.raises(ValueError, match="log_zero must be a finite number < 0"):
                cls(log_zero=log_zero)
    with pytest.raises(ValueError, match="alpha and beta cannot both be 0"):
        sce([0], [[1.0]], alpha=0.0, beta=0.0)
    for epsilon in (-1.5, float("nan")):
        with pytest.raises(ValueError, match="epsilon must be a finite number >= -1"):
            Poly1Loss(epsilon=epsilon)


@pytest.mark.parametrize(
    "loss, extra",
    [
        (GCELoss(q=0.3, from_logits=True, name="g", reduction="sum"), {"q", "from_logits"}),
        (BaikalLoss(from_logits=True, name="b"), {"from_logits"}),
        (
            SCELoss(alpha=0.4, beta=2.0, log_zero=-9.0, from_logits=True, name="s"),
            {"alpha", "beta", "log_zero", "from_logits"},
        ),
        (
            NCEAndRCELoss(alpha=3.0, beta=0.5, reduction="sum"),
            {"alpha", "beta", "log_zero", "from_logits"},
        ),
        (Poly1Loss(epsilon=-0.5, from_logits=True), {"epsilon", "from_logits"}),
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


@pytest.mark.parametrize(
    "spec", ["label_smoothing:0.2", "gce:0.5", "baikal", "sce", "nce_rce", "poly1"]
)
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
    sce_loss = make_baseline_loss("sce")
    assert isinstance(sce_loss, SCELoss)
    assert (sce_loss.alpha, sce_loss.beta, sce_loss.log_zero) == (0.1, 1.0, -4.0)
    assert (make_baseline_loss("sce:0.5").alpha, make_baseline_loss("sce:0.5").beta) == (0.5, 1)
    nce = make_baseline_loss("NCE_RCE:10:0.1")
    assert isinstance(nce, NCEAndRCELoss) and (nce.alpha, nce.beta) == (10.0, 0.1)
    assert (make_baseline_loss("nce_rce").alpha, make_baseline_loss("nce_rce").beta) == (1, 1)
    assert isinstance(make_baseline_loss("poly1"), Poly1Loss)
    assert make_baseline_loss("poly1").epsilon == 1.0
    assert make_baseline_loss("poly1:-1").epsilon == -1.0
    for spec in ("sce", "nce_rce", "poly1", "gce", "label_smoothing", "baikal"):
        assert not make_baseline_loss(spec).get_config()["from_logits"]  # models end in softmax
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
        "sce": ("sce:0.1:1", "SCE α=0.1 β=1"),
        "sce:0.5": ("sce:0.5:1", "SCE α=0.5 β=1"),
        " SCE : 0.50 : 2.0 ": ("sce:0.5:2", "SCE α=0.5 β=2"),
        "sce:0:1": ("sce:0:1", "SCE α=0 β=1"),
        "nce_rce": ("nce_rce:1:1", "NCE+RCE α=1 β=1"),
        "nce_rce:10:0.1": ("nce_rce:10:0.1", "NCE+RCE α=10 β=0.1"),
        "poly1": ("poly1:1", "Poly-1 ε=1"),
        "poly1:-1": ("poly1:-1", "Poly-1 ε=-1"),
        "poly1:1e-3": ("poly1:0.001", "Poly-1 ε=0.001"),
    }
    for spec, (canonical, label) in cases.items():
        assert parse_baseline(spec) == canonical
        assert parse_baseline(canonical) == canonical
        assert baseline_label(spec) == label
    # The kinds are exactly those the cases above parse to, each named once.
    assert {canonical.split(":")[0] for canonical, _ in cases.values()} == set(BASELINE_KINDS)
    assert len(set(BASELINE_KINDS)) == len(BASELINE_KINDS)


def test_every_canonical_spec_is_a_label_the_store_accepts():
    from keras_taylorglo.store.schema import ANALYSIS_LABEL_RE

    specs = parse_baselines(
        "label_smoothing:0, gce:1e-3, sce, sce:0:2.5, nce_rce:10:0.1, poly1:-1, poly1:1e-5, baikal"
    )
    for spec in specs[1:]:  # cross-entropy is stored as "baseline"
        assert ANALYSIS_LABEL_RE.match(spec), spec
        assert ANALYSIS_LABEL_RE.match(f"{spec}@best_validation"), spec
    for bad in ("sce:0.1", "poly1:1:2", "nce_rce", "focal:1", "sce:0.1:1@last"):
        assert not ANALYSIS_LABEL_RE.match(bad), bad


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
    assert parse_baselines("sce, sce:0.1, sce:0.1:1.0, poly1, nce_rce:1") == [
        "crossentropy",
        "sce:0.1:1",
        "poly1:1",
        "nce_rce:1:1",
    ]


EXPECTED = (
    "(expected crossentropy, label_smoothing[:ε], gce[:q], sce[:α[:β]], nce_rce[:α[:β]], "
    "poly1[:ε], baikal)"
)


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
        ("sce:-0.1", "--baselines: sce:-0.1: α must be in [0, ∞) (got -0.1)"),
        ("sce:0.1:inf", "--baselines: sce:0.1:inf: β must be in [0, ∞) (got inf)"),
        ("sce:0:0", "--baselines: sce:0:0: α and β cannot both be 0"),
        ("sce::1", "--baselines: sce::1: α must be a number in [0, ∞) (got '')"),
        (
            "sce:0.1:1:2",
            "--baselines: sce:0.1:1:2: sce takes at most 2 parameters (write 'sce:α:β')",
        ),
        ("nce_rce:1:x", "--baselines: nce_rce:1:x: β must be a number in [0, ∞) (got 'x')"),
        ("nce_rce:0:0", "--baselines: nce_rce:0:0: α and β cannot both be 0"),
        ("poly1:-1.5", "--baselines: poly1:-1.5: ε must be in [-1, ∞) (got -1.5)"),
        ("poly1:1:2", "--baselines: poly1:1:2: poly1 takes 1 parameter (write 'poly1:ε')"),
        ("gce:0.5:0.3", "--baselines: gce:0.5:0.3: gce takes 1 parameter (write 'gce:q')"),
        (
            "poly",
            f"--baselines: unknown baseline 'poly'; did you mean 'poly1'? {EXPECTED}",
        ),
        ("nce", f"--baselines: unknown baseline 'nce'; did you mean 'nce_rce'? {EXPECTED}"),
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
        "b.parse_baselines('gce, baikal, sce, nce_rce, poly1'); b.baseline_label('sce'); "
        "print(sorted(m for m in ('tensorflow', 'keras', 'jax') if m in sys.modules))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


LOAD = """\
import sys
{imports}
import keras
for path in sys.argv[1:]:
    loss = keras.models.load_model(path).loss
    print(type(loss).__name__, sorted(loss.get_config().items()))
"""


@pytest.mark.slow
@pytest.mark.parametrize(
    "imports",
    [
        "import keras_taylorglo",
        "import keras\nimport keras_taylorglo",
        "import keras_taylorglo.robust_losses",  # registration must still reach the third module
    ],
    ids=["package-first", "keras-first", "robust-losses-first"],
)
def test_importing_the_package_is_enough_to_load_the_new_losses(imports, tmp_path):
    paths, expected = [], []
    for loss in (SCELoss(0.3, 2.0), NCEAndRCELoss(log_zero=-9.0), Poly1Loss(-0.5)):
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
        model.compile(optimizer="sgd", loss=loss)
        paths.append(tmp_path / f"{type(loss).__name__}.keras")
        model.save(paths[-1])
        expected.append(f"{type(loss).__name__} {sorted(loss.get_config().items())}")
    proc = subprocess.run(
        [sys.executable, "-c", LOAD.format(imports=imports), *map(str, paths)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.splitlines() == expected


@pytest.mark.slow
def test_analyze_trains_the_new_baselines_for_real(tmp_path):
    """``ktg.analyze(baselines=[...])``: real full trainings of SCE, NCE+RCE and Poly-1."""
    import keras_taylorglo as ktg
    from keras_taylorglo.recipe import load_recipe
    from keras_taylorglo.store import Store

    recipe = load_recipe(
        ROOT / "recipes" / "digits.toml", ["training.full.steps=60", "data.train_fraction=0.3"]
    )
    run_dir = tmp_path / "run"
    store = Store.create(run_dir, recipe)
    theta = [0.0] * 8
    store.begin_generation(0, b"state", [theta])
    store.set_candidate_result(0, 0, "ok", 0.5)
    store.finish_generation(0, b"after", theta, 1.0)
    store.set_state("finished")
    store.close()
    report = ktg.analyze(
        run_dir, runs=1, baselines=["sce", "nce_rce:2", "poly1:-0.5"], progress=False
    )
    assert list(report["baselines"]) == ["crossentropy", "sce:0.1:1", "nce_rce:2:1", "poly1:-0.5"]
    names = [entry["name"] for entry in report["baselines"].values()]
    assert names == ["cross-entropy", "SCE α=0.1 β=1", "NCE+RCE α=2 β=1", "Poly-1 ε=-0.5"]
    for entry in report["baselines"].values():
        assert entry["statuses"] == {"ok": 1}
        assert 0.0 < entry["accuracies"][0] <= 1.0
    md = (run_dir / "analysis" / "report.md").read_text()
    for name in names:
        assert f"| {name} |" in md


@pytest.mark.parametrize(
    "spec, message",
    [
        ("sce:0:0", "error: --baselines: sce:0:0: α and β cannot both be 0"),
        ("poly1:-2", "error: --baselines: poly1:-2: ε must be in [-1, ∞) (got -2)"),
    ],
)
def test_a_bad_new_spec_on_the_command_line_is_one_line_and_exit_2(spec, message, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "keras_taylorglo", "analyze", str(tmp_path), "--baselines", spec],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr == message + "\n"
