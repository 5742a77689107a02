"""The NumPy expansion: multi-indices, counts, Eq. 4/5 against hand-written references."""

import math
import subprocess
import sys

import numpy as np
import pytest

from keras_taylorglo import expansion as E
from keras_taylorglo.presets import PAPER_MNIST, PRESETS, get_preset


def eq5_reference(theta, x, y):
    """Paper Eq. 5, written term by term as printed: per-sample -(1/n) Σ_i [...]."""
    t0, t1, t2, t3, t4, t5, t6, t7 = theta
    inner = (
        t2 * (y - t1)
        + 0.5 * t3 * (y - t1) ** 2
        + (1 / 6) * t4 * (y - t1) ** 3
        + t5 * (x - t0) * (y - t1)
        + 0.5 * t6 * (x - t0) * (y - t1) ** 2
        + 0.5 * t7 * (x - t0) ** 2 * (y - t1)
    )
    return -inner.mean(axis=-1)


def eq4_reference(theta, x, y):
    """Eq. 4: the full third-order bivariate Taylor polynomial, θ in lexicographic (α_x, α_y)."""
    a, b = theta[0], theta[1]
    c00, c01, c02, c03, c10, c11, c12, c20, c21, c30 = theta[2:]
    dx, dy = x - a, y - b
    inner = (
        c00
        + c01 * dy
        + c02 * dy**2 / 2
        + c03 * dy**3 / 6
        + c10 * dx
        + c11 * dx * dy
        + c12 * dx * dy**2 / 2
        + c20 * dx**2 / 2
        + c21 * dx**2 * dy / 2
        + c30 * dx**3 / 6
    )
    return -inner.mean(axis=-1)


def lossferatu_reference(theta, x, y):
    """The original code's form of Eq. 5: no reciprocal factorials, a sum over classes."""
    t0, t1, t2, t3, t4, t5, t6, t7 = theta
    inner = (
        t2 * (y - t1)
        + t3 * (y - t1) ** 2
        + t4 * (y - t1) ** 3
        + t5 * (x - t0) * (y - t1)
        + t6 * (x - t0) * (y - t1) ** 2
        + t7 * (x - t0) ** 2 * (y - t1)
    )
    return -inner.sum(axis=-1)


def random_batch(rng, batch=16, classes=10):
    probs = rng.dirichlet(np.ones(classes), size=batch)
    onehot = np.eye(classes)[rng.integers(0, classes, batch)]
    return onehot, probs


def test_eq5_multi_indices_and_counts():
    assert E.multi_indices(2, 3) == [(0, 1), (0, 2), (0, 3), (1, 1), (1, 2), (2, 1)]
    assert E.multi_indices(2, 3, trim=False) == [
        (0, 0),
        (0, 1),
        (0, 2),
        (0, 3),
        (1, 0),
        (1, 1),
        (1, 2),
        (2, 0),
        (2, 1),
        (3, 0),
    ]
    assert E.num_params(2, 3, trim=True) == 8
    assert E.num_params(2, 3, trim=False) == 12
    assert E.num_params(("label", "prediction", "progress"), 3) == E.num_params(3, 3)


@pytest.mark.parametrize("trim", [True, False])
@pytest.mark.parametrize("order", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("num_inputs", [1, 2, 3, 4])
def test_num_params_formula(num_inputs, order, trim):
    n, k = num_inputs, order
    expected = n + math.comb(n + k, k)
    if trim:
        expected -= math.comb(n - 1 + k, k)  # the α with α_prediction = 0
    assert E.num_params(n, k, trim) == expected
    alphas = E.multi_indices(n, k, trim)
    assert alphas == sorted(alphas)  # lexicographic θ layout
    assert len(set(alphas)) == len(alphas)
    assert all(sum(a) <= k for a in alphas)


def test_eq5_matches_reference_on_random_batches():
    rng = np.random.default_rng(0)
    for _ in range(5):
        theta = rng.normal(0, 3, 8)
        x, y = random_batch(rng)
        np.testing.assert_allclose(E.loss_value(theta, x, y), eq5_reference(theta, x, y))
    x, y = random_batch(rng)
    np.testing.assert_allclose(E.loss_value(PAPER_MNIST, x, y), eq5_reference(PAPER_MNIST, x, y))


def test_eq4_matches_reference_on_random_batches():
    rng = np.random.default_rng(1)
    for _ in range(5):
        theta = rng.normal(0, 3, 12)
        x, y = random_batch(rng, classes=7)
        got = E.loss_value(theta, x, y, trim=False)
        np.testing.assert_allclose(got, eq4_reference(theta, x, y))


def test_lossferatu_matches_literal_formula():
    rng = np.random.default_rng(2)
    theta = rng.normal(0, 3, 8)
    x, y = random_batch(rng)
    got = E.loss_value(theta, x, y, convention="lossferatu")
    np.testing.assert_allclose(got, lossferatu_reference(theta, x, y))
    # Same θ, the two conventions differ (factorials and mean vs sum).
    assert not np.allclose(got, E.loss_value(theta, x, y))


def test_evaluate_is_the_bare_polynomial():
    theta = [0.5, -1.0, 2.0, 0, 0, 3.0, 0, 0]  # f = 2 (y + 1) + 3 (x - 0.5)(y + 1)
    x, y = np.array([1.0, 0.0]), np.array([0.25, 0.75])
    expected = 2 * (y + 1) + 3 * (x - 0.5) * (y + 1)
    np.testing.assert_allclose(E.evaluate(theta, [x, y]), expected)


def test_progress_input_is_a_broadcast_scalar():
    inputs = ("label", "prediction", "progress")
    alphas = E.multi_indices(3, 2)
    theta = np.zeros(E.num_params(3, 2))
    # c for α = (0, 1, 1): f = (y - 0)(t - 0.5), paper factor 1/(0!1!1!) = 1.
    theta[3 + alphas.index((0, 1, 1))] = 4.0
    theta[2] = 0.5
    x, y = random_batch(np.random.default_rng(3), batch=4, classes=3)
    for t in (0.0, 0.25, 1.0):
        got = E.loss_value(theta, x, y, progress=t, order=2, inputs=inputs)
        np.testing.assert_allclose(got, -(4.0 * y * (t - 0.5)).mean(axis=-1))
    with pytest.raises(ValueError, match="progress must be given"):
        E.loss_value(theta, x, y, order=2, inputs=inputs)


def test_paper_mnist_shape_in_binary_modality():
    y0, loss = E.loss_shape(PAPER_MNIST)
    best = int(np.argmin(loss))
    assert 0.7 <= y0[best] <= 0.95, y0[best]
    assert loss[1] < loss[0]  # decreases from y0 = 0 ...
    assert np.all(np.diff(loss[: best + 1]) < 0)  # ... all the way down to the minimum
    assert loss[-1] > loss[best]  # and rises again toward y0 = 1


def test_loss_shape_multiclass_spreads_the_rest():
    theta = [0, 0, 1, 0, 0, 0, 0, 0]  # f = y, loss = -mean(y) = -1/n whatever y0
    y0, loss = E.loss_shape(theta, np.array([0.0, 0.5, 1.0]), num_classes=4)
    np.testing.assert_allclose(loss, -0.25)
    with pytest.raises(ValueError, match="num_classes"):
        E.loss_shape(theta, num_classes=1)


def test_shifted_loss_shape_is_the_binary_shape_less_its_value_at_one():
    y0, loss = E.shifted_loss_shape(PAPER_MNIST)
    grid, raw = E.loss_shape(PAPER_MNIST)
    np.testing.assert_array_equal(y0, grid)
    np.testing.assert_array_equal(loss, raw - raw[-1])
    assert len(y0) == E.SHAPE_POINTS == 101 and loss[-1] == 0.0
    # f = ½ y²: loss = -¼ (y0² + (1 - y0)²), which is -¼ at y0 = 1
    y0, loss = E.shifted_loss_shape([0, 0, 0, 1, 0, 0, 0, 0], points=3)
    np.testing.assert_allclose(y0, [0.0, 0.5, 1.0])
    np.testing.assert_allclose(loss, [0.0, 0.125, 0.0])
    with pytest.raises(ValueError, match="theta has 7 values"):
        E.shifted_loss_shape([0.0] * 7)


def test_expansion_settings_read_a_runs_meta_with_the_papers_defaults():
    assert E.expansion_settings({}) == {
        "order": 3,
        "inputs": ("label", "prediction"),
        "trim": True,
        "convention": "paper",
    }
    meta = {"order": 2, "inputs": ["label", "prediction", "progress"], "trim": False}
    settings = E.expansion_settings({**meta, "convention": "lossferatu", "name": "x"})
    assert settings == {**meta, "inputs": tuple(meta["inputs"]), "convention": "lossferatu"}
    assert E.expansion_settings({"inputs": None})["inputs"] == E.DEFAULT_INPUTS


def test_theta_length_errors_say_why():
    with pytest.raises(ValueError) as info:
        E.check_theta_length([0.0] * 7, ("label", "prediction"), 3, True)
    assert str(info.value) == (
        "theta has 7 values; expected 8 = 2 centres + 6 coefficients for inputs "
        "('label', 'prediction'), order 3, trim=True"
    )
    with pytest.raises(ValueError, match="expected 12 = 2 centres"):
        E.check_theta_length([0.0] * 8, 2, 3, False)
    assert E.check_theta_length(None, 2, 3, True).tolist() == [0.0] * 8


@pytest.mark.parametrize(
    "inputs, match",
    [(("label",), "must include 'prediction'"), (("label", "label"), "repeat"), (("z",), "z")],
)
def test_bad_inputs_are_refused(inputs, match):
    with pytest.raises(ValueError, match=match):
        E.check_inputs(inputs)


def test_theta_labels():
    assert E.theta_labels() == [
        "a_label",
        "a_prediction",
        "c_01",
        "c_02",
        "c_03",
        "c_11",
        "c_12",
        "c_21",
    ]


def test_presets():
    assert len(PAPER_MNIST) == 8
    assert PRESETS["paper-mnist"]["theta"] == PAPER_MNIST
    with pytest.raises(ValueError, match="paper-mnist"):
        get_preset("nope")


def test_expansion_and_presets_import_no_tensorflow():
    code = (
        "import sys, keras_taylorglo.expansion, keras_taylorglo.presets; "
        "bad = [m for m in ('tensorflow', 'keras', 'jax') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# ---------------------------------------------------------------------- ExpansionSpec


def test_spec_defaults_are_eq5_and_derive_the_layout():
    spec = E.ExpansionSpec()
    assert spec.as_dict() == {
        "order": 3,
        "inputs": ("label", "prediction"),
        "trim": True,
        "convention": "paper",
    }
    assert spec.num_params == 8 and spec.prediction_axis == 1 and not spec.has_progress
    assert list(spec.multi_indices) == E.multi_indices(2, 3)
    assert list(spec.theta_labels) == E.theta_labels()
    np.testing.assert_array_equal(spec.scales, E.scales(E.multi_indices(2, 3)))
    with pytest.raises(ValueError):  # cached and shared, so read-only
        spec.scales[0] = 2.0
    # the progress input first: the prediction's axis moves and trimming follows it
    first = E.ExpansionSpec(order=2, inputs=["progress", "prediction", "label"], trim=False)
    assert first.inputs == ("progress", "prediction", "label") and first.prediction_axis == 1
    assert first.num_params == 3 + math.comb(3 + 2, 2) and first.has_progress


def test_spec_normalises_so_equal_settings_are_equal():
    a = E.ExpansionSpec(np.int64(2), ["label", "prediction"], np.bool_(False), "lossferatu")
    b = E.ExpansionSpec(order=2, trim=False, convention="lossferatu")
    assert a == b and hash(a) == hash(b) and type(a.order) is int and a.trim is False
    assert E.ExpansionSpec(**b.as_dict()) == b


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"order": 0}, "order must be an integer >= 1; got 0"),
        ({"order": True}, "order must be an integer >= 1; got True"),
        ({"order": 2.5}, "order must be an integer >= 1; got 2.5"),
        ({"inputs": ("label",)}, "inputs must include 'prediction'; got ('label',)"),
        ({"inputs": "prediction"}, "inputs must be a sequence of names"),
        ({"inputs": ("prediction", "z")}, "unknown input(s) ['z']"),
        ({"trim": "yes"}, "trim must be true or false; got 'yes'"),
        ({"convention": "Paper"}, "convention must be one of ('paper', 'lossferatu')"),
    ],
)
def test_spec_refuses_bad_settings_with_the_old_messages(kwargs, message):
    with pytest.raises(ValueError) as info:
        E.ExpansionSpec(**kwargs)
    assert message in str(info.value)


def test_spec_from_config_and_from_meta():
    class Section:  # the attributes of recipe.loss (a frozen dataclass in keras_taylorglo.recipe)
        order, inputs, trim, convention = 2, ("label", "prediction", "progress"), False, "paper"

    spec = E.ExpansionSpec.from_config(Section())
    assert spec == E.ExpansionSpec(2, ("label", "prediction", "progress"), False)
    assert E.ExpansionSpec.from_config({"order": 4}) == E.ExpansionSpec(order=4)
    assert E.ExpansionSpec.from_meta({}) == E.ExpansionSpec()
    meta = {"order": 2, "inputs": ["prediction"], "trim": 0, "convention": "lossferatu"}
    assert E.ExpansionSpec.from_meta({**meta, "name": "x"}) == E.ExpansionSpec(
        2, ("prediction",), False, "lossferatu"
    )
    assert E.expansion_settings(meta) == E.ExpansionSpec.from_meta(meta).as_dict()
    with pytest.raises(ValueError, match="order must be an integer >= 1; got 'three'"):
        E.ExpansionSpec.from_meta({"order": "three"})


def test_functions_give_the_same_numbers_with_spec_or_four_settings():
    rng = np.random.default_rng(7)
    spec = E.ExpansionSpec(order=2, inputs=("label", "prediction", "progress"), trim=False)
    theta = rng.normal(0, 2, spec.num_params)
    x, y = random_batch(rng, batch=5, classes=4)
    four = spec.as_dict()
    np.testing.assert_array_equal(
        E.loss_value(theta, x, y, 0.5, spec=spec), E.loss_value(theta, x, y, 0.5, **four)
    )
    np.testing.assert_array_equal(
        E.shifted_loss_shape(theta, spec=spec)[1], E.shifted_loss_shape(theta, **four)[1]
    )
    np.testing.assert_array_equal(
        E.loss_shape(theta, num_classes=3, spec=spec)[1],
        E.loss_shape(theta, num_classes=3, **four)[1],
    )
    assert spec.check_theta(theta).tolist() == theta.tolist()
    with pytest.raises(ValueError, match="expected 13 = 3 centres"):
        spec.check_theta(theta[:-1])


def test_resolve_spec_refuses_settings_that_contradict_the_spec():
    spec = E.ExpansionSpec(order=2, convention="lossferatu")
    assert E.resolve_spec(spec) is spec
    assert E.resolve_spec(spec, order=2, convention="lossferatu") is spec  # agreeing is fine
    with pytest.raises(ValueError, match="order=4 contradicts spec="):
        E.resolve_spec(spec, order=4)
    with pytest.raises(ValueError, match="spec must be an ExpansionSpec"):
        E.resolve_spec({"order": 2})
    with pytest.raises(ValueError, match="trim=False contradicts"):
        E.loss_value([0.0] * 5, np.eye(2), np.eye(2), trim=False, spec=spec)


def test_spec_pickles_as_its_four_settings():
    import pickle

    spec = E.ExpansionSpec(order=2, inputs=("prediction", "label"), convention="lossferatu")
    assert spec.scales.tolist() == [1.0] * len(spec.multi_indices)  # fills the caches
    clone = pickle.loads(pickle.dumps(spec))
    assert clone == spec and clone.multi_indices == spec.multi_indices
    assert "scales" not in vars(clone)  # the caches are rebuilt, not carried
