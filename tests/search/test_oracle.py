"""The CMA-ES oracle: determinism, exact state round trip, refusals, progress; the pre-screen."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from keras_taylorglo.expansion import invariant_check
from keras_taylorglo.presets import PAPER_MNIST
from keras_taylorglo.search.oracle import Oracle

ROOT = Path(__file__).resolve().parents[2]


def _fitness(theta):
    # a smooth toy fitness, best (1.0) at theta = 1
    return 1.0 - float(np.sum((np.asarray(theta) - 1.0) ** 2)) / 10.0


def _trajectory(seed, generations=5, reseed_globals=False, restore_at=None):
    oracle = Oracle(8, sigma=1.2, population=6, generations=generations, seed=seed)
    asked = []
    while not oracle.stop():
        if reseed_globals:
            np.random.seed(123)  # what keras.utils.set_random_seed does to NumPy
        thetas = oracle.ask()
        if reseed_globals:
            np.random.seed(456)
            assert oracle.ask() == thetas  # asking again before tell is idempotent
        asked.append(thetas)
        if restore_at is not None and oracle.generation == restore_at:
            oracle = Oracle.from_state(oracle.get_state())  # round trip with pending candidates
            assert oracle.ask() == thetas
        oracle.tell([_fitness(t) for t in thetas])
        if restore_at is not None and oracle.generation == restore_at:
            oracle = Oracle.from_state(oracle.get_state())  # round trip between generations
    return asked, oracle


def test_same_seed_same_candidates_despite_global_reseeding():
    plain, a = _trajectory(seed=7)
    reseeded, b = _trajectory(seed=7, reseed_globals=True)
    assert len(plain) == 5
    assert plain == reseeded  # bit-identical floats
    assert a.result == b.result
    assert a.mean == b.mean and a.sigma == b.sigma


def test_different_seeds_differ():
    first, _ = _trajectory(seed=1, generations=1)
    second, _ = _trajectory(seed=2, generations=1)
    assert first[0] != second[0]


def test_state_round_trip_mid_search_gives_identical_continuation():
    straight, a = _trajectory(seed=3)
    restored, b = _trajectory(seed=3, restore_at=2)
    assert straight == restored
    assert a.result == b.result
    assert a.get_state() != b"" and Oracle.from_state(a.get_state()).result == a.result


def test_state_round_trip_in_a_fresh_process(tmp_path):
    oracle = Oracle(8, population=6, generations=4, seed=5)
    oracle.tell([_fitness(t) for t in oracle.ask()])
    state_file = tmp_path / "state.bin"
    state_file.write_bytes(oracle.get_state())
    code = (
        "import sys, json, numpy as np\n"
        "from keras_taylorglo.search.oracle import Oracle\n"
        "np.random.seed(0)\n"
        "o = Oracle.from_state(open(sys.argv[1], 'rb').read())\n"
        "print(json.dumps(o.ask()))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(state_file)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    import json

    assert json.loads(out.stdout) == oracle.ask()


def test_tell_refuses_nan_inf_none_and_wrong_counts():
    oracle = Oracle(8, population=4, generations=2, seed=0)
    with pytest.raises(RuntimeError, match="call ask"):
        oracle.tell([0.5] * 4)
    oracle.ask()
    for bad in (float("nan"), float("inf"), None):
        with pytest.raises(ValueError, match="only finite numbers can be told"):
            oracle.tell([0.5, bad, 0.5, 0.5])
    with pytest.raises(ValueError, match="expected 4, got 3"):
        oracle.tell([0.5] * 3)
    assert oracle.generation == 0 and oracle.pending  # refusals change nothing
    oracle.tell([0.1, 0.2, 0.3, 0.4])
    assert oracle.result["best_fitness"] == 0.4 and oracle.result["best_candidate"] == 3


def test_flat_generation_does_not_stop_the_search():
    oracle = Oracle(8, population=4, generations=3, seed=0)
    oracle.ask()
    oracle.tell([0.0, 0.0, 0.0, 0.0])  # a generation where every candidate diverged
    assert not oracle.stop()
    oracle.ask()
    oracle.tell([0.0, 0.0, 0.0, 0.0])
    assert not oracle.stop()
    oracle.ask()
    oracle.tell([0.3, 0.0, 0.0, 0.0])
    assert oracle.stop() and oracle.generation == 3
    assert oracle.stop_reason() == "generations=3"
    with pytest.raises(RuntimeError, match="stopped after 3 generations"):
        oracle.ask()
    assert oracle.result["best_generation"] == 2


def test_quadratic_fitness_improves():
    oracle = Oracle(4, sigma=0.5, population=10, generations=40, seed=11)
    first_mean = None
    while not oracle.stop():
        thetas = oracle.ask()
        values = [_fitness(t) for t in thetas]
        if first_mean is None:
            first_mean = float(np.mean(values))
        oracle.tell(values)
    best = oracle.result
    assert best["best_fitness"] > 0.99  # the optimum is 1.0 at theta = 1
    assert best["best_fitness"] > first_mean + 0.05
    assert np.allclose(oracle.mean, 1.0, atol=0.1)
    assert oracle.evaluations == 400 and best["evaluations"] == 400


def test_constructor_validation():
    with pytest.raises(ValueError, match="x0 must hold num_params=8"):
        Oracle(8, x0=[0.0] * 7)
    with pytest.raises(ValueError, match="sigma must be a number > 0"):
        Oracle(8, sigma=0)
    with pytest.raises(ValueError, match="population must be an integer >= 2"):
        Oracle(8, population=1)
    with pytest.raises(ValueError, match="generations must be an integer >= 1"):
        Oracle(8, generations=0)
    with pytest.raises(ValueError, match="not an oracle state"):
        Oracle.from_state(b"garbage")
    oracle = Oracle(2, x0=[3.0, -1.0], sigma=1e-9, population=4, seed=0)
    assert np.allclose(oracle.ask(), [[3.0, -1.0]] * 4, atol=1e-6)


def test_no_files_written_to_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    oracle = Oracle(8, population=4, generations=2, seed=0)
    oracle.ask()
    oracle.tell([0.1, 0.2, 0.3, 0.4])
    assert list(tmp_path.iterdir()) == []  # verb_log=0: no outcmaes/


# ---------------------------------------------------------------------- invariant pre-screen


def test_invariant_paper_mnist_passes_for_2_and_10_classes():
    assert invariant_check(PAPER_MNIST)
    assert invariant_check(PAPER_MNIST, num_classes=10)


def test_invariant_flat_loss_fails():
    assert not invariant_check([0.0] * 8)
    # a loss that ignores the label is the same for every class: no push toward the true one
    assert not invariant_check([0.0, 0.3, 1.0, -2.0, 0.5, 0.0, 0.0, 0.0])


def test_invariant_negated_loss_fails():
    # Negating every coefficient (centres kept) negates the loss: it then pushes the
    # prediction away from the true class.
    negated = list(PAPER_MNIST[:2]) + [-c for c in PAPER_MNIST[2:]]
    assert not invariant_check(negated)
    assert not invariant_check(negated, num_classes=10)
    # Negating the whole θ (centres too) is a different loss; numerically it still pushes the
    # true class up at the uniform prediction, so it passes.
    assert invariant_check([-v for v in PAPER_MNIST])


def test_invariant_simple_signs():
    # f = c_11 (x - 0)(y - 0): L = -(1/n) Σ c x y, the gradient raises the true class iff c > 0
    assert invariant_check([0, 0, 0, 0, 0, 1.0, 0, 0])
    assert not invariant_check([0, 0, 0, 0, 0, -1.0, 0, 0])
    # the lossferatu convention has the same sign structure
    assert invariant_check([0, 0, 0, 0, 0, 1.0, 0, 0], convention="lossferatu")


def test_invariant_with_progress_input_and_errors():
    from keras_taylorglo.expansion import num_params

    n = num_params(3, 2)
    theta = [0.0] * n
    # c for alpha (label, prediction, progress) = (1, 1, 0): f = x * y, order 2
    from keras_taylorglo.expansion import multi_indices

    theta[3 + multi_indices(3, 2).index((1, 1, 0))] = 1.0
    assert invariant_check(theta, order=2, inputs=("label", "prediction", "progress"))
    with pytest.raises(ValueError, match="theta has 7 values; expected 8"):
        invariant_check([0.0] * 7)
    with pytest.raises(ValueError, match="num_classes must be an integer >= 2"):
        invariant_check(PAPER_MNIST, num_classes=1)
    assert not invariant_check([float("nan")] + [1.0] * 7)


def test_oracle_and_trial_do_not_import_tensorflow():
    code = (
        "import sys\n"
        "import keras_taylorglo.search.oracle as o, keras_taylorglo.search.trial\n"
        "from keras_taylorglo.expansion import invariant_check\n"
        "import keras_taylorglo.store\n"
        "from keras_taylorglo.presets import PAPER_MNIST\n"
        "invariant_check(PAPER_MNIST)\n"
        "x = o.Oracle(8, population=4, generations=1, seed=0)\n"
        "x.ask()\n"
        "x.tell([0.1] * 4)\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'jax')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run(
        [sys.executable, "-c", code],
        check=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def test_invariant_check_lives_in_the_expansion_and_takes_a_spec():
    from keras_taylorglo import expansion
    from keras_taylorglo.expansion import ExpansionSpec

    assert invariant_check is expansion.invariant_check  # the re-export is the same function
    spec = ExpansionSpec(convention="lossferatu")
    assert invariant_check([0, 0, 0, 0, 0, 1.0, 0, 0], spec=spec)
    assert not invariant_check([0, 0, 0, 0, 0, -1.0, 0, 0], num_classes=10, spec=spec)
    with pytest.raises(ValueError, match="expected 12 = 2 centres"):
        invariant_check(PAPER_MNIST, spec=ExpansionSpec(trim=False))
