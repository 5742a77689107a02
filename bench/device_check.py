"""The device check for a GPU machine with JAX and no TensorFlow: one JSON line on stdout.

On Keras's JAX backend, and importing nothing that imports TensorFlow, it

- times a train step of the basic CNN on MNIST-shaped data (28×28×1, 10 classes) and of
  WRN-16-8 on CIFAR-shaped data (32×32×3, 10 classes), random images, with
  :class:`~keras_taylorglo.TaylorGLOLoss` and with categorical cross-entropy, in float32 and
  in mixed bfloat16; ``ratio`` = TaylorGLO step time / cross-entropy step time;
- checks the JAX θ semantics the README documents: a jit-compiled train step keeps the θ it was
  traced with after ``set_theta`` until ``make_train_function(force=True)``; with
  ``jit_compile=False`` a new θ takes effect at once.

Run from the repository root (see bench/NOTES.md §6 for carrying Keras onto such a machine)::

    KERAS_BACKEND=jax python -m bench.device_check            # the GPU check, < 10 min on one H200
    KERAS_BACKEND=jax JAX_PLATFORMS=cpu python -m bench.device_check --quick   # a CPU smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "jax")

#: What each model is timed on: ``(builder options, input shape, batch size)``; ``--quick``
#: shrinks it so that a CPU finishes in seconds.
FULL = {
    "basic_cnn": ({}, (28, 28, 1), 128),
    "wrn_16_8": ({"depth": 16, "width": 8}, (32, 32, 3), 128),
}
QUICK = {
    "basic_cnn": ({"filters": (8, 16), "dense": 32}, (28, 28, 1), 16),
    "wrn_16_8": ({"depth": 10, "width": 1}, (32, 32, 3), 8),  # WRN-10-1: the same code path
}
PRECISIONS = ("float32", "mixed_bfloat16")
NUM_CLASSES = 10


def _build(name: str, options: dict[str, Any], shape: tuple[int, ...], precision: str) -> Any:
    import keras

    from keras_taylorglo.models.basic_cnn import basic_cnn
    from keras_taylorglo.models.resnet import wide_resnet

    keras.config.set_dtype_policy(precision)
    try:
        builder = basic_cnn if name == "basic_cnn" else wide_resnet
        return builder(shape, NUM_CLASSES, seed=0, **options)
    finally:
        keras.config.set_dtype_policy("float32")


def time_train_step(
    name: str, loss_name: str, precision: str, spec: tuple, steps: int
) -> dict[str, float]:
    """Seconds per train step (after compilation) of one model, loss and precision.

    Args:
        name: ``"basic_cnn"`` or ``"wrn_16_8"`` (a key of :data:`FULL`).
        loss_name: ``"taylorglo"`` (the paper's MNIST θ) or ``"crossentropy"``.
        precision: A Keras dtype policy name.
        spec: ``(builder options, input shape, batch size)``.
        steps: Timed steps (one more epoch of them compiles and warms up first).

    Returns:
        ``{"step_ms": ..., "compile_s": ...}``.
    """
    import keras
    import numpy as np

    from keras_taylorglo import TaylorGLOLoss

    options, shape, batch = spec
    model = _build(name, options, shape, precision)
    if loss_name == "taylorglo":
        loss: Any = TaylorGLOLoss.from_preset("paper-mnist")
    else:
        loss = keras.losses.SparseCategoricalCrossentropy()
    model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9), loss=loss, jit_compile=True)
    rng = np.random.default_rng(0)
    x = rng.random((steps * batch, *shape), dtype=np.float32)
    y = rng.integers(0, NUM_CLASSES, steps * batch)
    start = time.perf_counter()
    model.fit(x, y, batch_size=batch, epochs=1, shuffle=False, verbose=0)  # compiles
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    history = model.fit(x, y, batch_size=batch, epochs=1, shuffle=False, verbose=0)
    seconds = time.perf_counter() - start  # fit ends by reading the loss: the device is done
    if not np.isfinite(history.history["loss"][-1]):
        raise RuntimeError(f"{name} {loss_name} {precision}: non-finite training loss")
    return {"step_ms": round(1000 * seconds / steps, 4), "compile_s": round(compile_s, 2)}


def check_theta_semantics() -> dict[str, Any]:
    """Which θ a train step uses after ``set_theta``, on JAX, as the README documents it.

    The learning rate is 0, so the weights never move and the loss a step reports tells which
    θ it computed with: the value under the old and under the new θ differ.

    Returns:
        ``jit_after_set_theta`` / ``jit_after_force`` / ``eager_after_set_theta``: ``"old"`` or
        ``"new"``; ``as_documented``: whether that is old, new, new.
    """
    import keras
    import numpy as np

    from keras_taylorglo import TaylorGLOLoss
    from keras_taylorglo.presets import PAPER_MNIST

    rng = np.random.default_rng(1)
    x = rng.normal(size=(16, 4)).astype("float32")
    y = rng.integers(0, 3, 16)
    old, new = list(PAPER_MNIST), [0.5 * v for v in PAPER_MNIST]

    def which(value: float, model: Any) -> str:
        probabilities = model.predict(x, verbose=0)
        expect = {
            label: float(TaylorGLOLoss(theta)(y, probabilities))
            for label, theta in (("old", old), ("new", new))
        }
        return min(expect, key=lambda label: abs(expect[label] - value))

    out: dict[str, Any] = {}
    for jit in (True, False):
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
        loss = TaylorGLOLoss(old)
        model.compile(optimizer=keras.optimizers.SGD(0.0), loss=loss, jit_compile=jit)
        model.train_on_batch(x, y)  # traced (and compiled) with the old θ
        loss.set_theta(new)
        seen = which(float(model.train_on_batch(x, y)), model)
        if jit:
            out["jit_after_set_theta"] = seen
            model.make_train_function(force=True)
            out["jit_after_force"] = which(float(model.train_on_batch(x, y)), model)
        else:
            out["eager_after_set_theta"] = seen
    out["as_documented"] = (
        out["jit_after_set_theta"],
        out["jit_after_force"],
        out["eager_after_set_theta"],
    ) == ("old", "new", "new")
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the check and print one JSON line.

    Args:
        argv: Command-line arguments (``--quick``, ``--steps N``, ``--precisions a,b``).

    Returns:
        0, or 2 when the backend is not JAX or TensorFlow got imported.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny models and few steps (CPU)")
    parser.add_argument("--steps", type=int, default=None, help="timed steps per measurement")
    parser.add_argument(
        "--precisions",
        default=",".join(PRECISIONS),
        help=f"comma-separated dtype policies to time (default {','.join(PRECISIONS)})",
    )
    args = parser.parse_args(argv)
    start = time.perf_counter()
    import keras

    if keras.backend.backend() != "jax":
        print(f"error: needs KERAS_BACKEND=jax (got {keras.backend.backend()})", file=sys.stderr)
        return 2
    import jax

    specs = QUICK if args.quick else FULL
    precisions = [p.strip() for p in args.precisions.split(",") if p.strip()]
    steps = args.steps or (3 if args.quick else 50)
    result: dict[str, Any] = {
        "backend": "jax",
        "jax": jax.__version__,
        "keras": keras.__version__,
        "devices": [str(d) for d in jax.devices()],
        "quick": args.quick,
        "steps": steps,
        "models": {},
    }
    for name, spec in specs.items():
        for precision in precisions:
            row: dict[str, Any] = {"batch": spec[2], "shape": list(spec[1])}
            for loss_name in ("crossentropy", "taylorglo"):
                row[loss_name] = time_train_step(name, loss_name, precision, spec, steps)
            row["ratio"] = round(row["taylorglo"]["step_ms"] / row["crossentropy"]["step_ms"], 3)
            result["models"][f"{name}/{precision}"] = row
            # Progress on stderr: a run cut short still says how far it got.
            print(f"{name}/{precision}: {json.dumps(row)}", file=sys.stderr, flush=True)
    result["theta"] = check_theta_semantics()
    result["tensorflow_imported"] = "tensorflow" in sys.modules
    result["seconds"] = round(time.perf_counter() - start, 1)
    print(json.dumps(result))
    return 2 if result["tensorflow_imported"] else 0


if __name__ == "__main__":
    sys.exit(main())
