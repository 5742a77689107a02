"""The evaluator's device choices: distribution strategy, XLA and the mixed-precision policy.

Also the softmax check of a freshly built model, whose tolerance depends on the policy.

Private to :mod:`keras_taylorglo.evaluation`. The recipe's ``training.precision`` and
``training.jit_compile`` are applied here; the worker's GPU memory settings are in
:mod:`keras_taylorglo.search.worker`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any


def check_probabilities(model: Any, data: Any, recipe: Any) -> None:
    """Refuse a model whose outputs are not probabilities (logits train silently and badly).

    Every loss here, TaylorGLO's included, reads the model's output as class probabilities; a
    model that ends without a softmax still trains and scores, at chance. One forward pass on a
    validation batch tells, before any candidate is trained. A half-precision softmax (a custom
    model under a mixed policy) sums to 1 only to about 1e-2, which is allowed for.
    """
    import numpy as np

    from .errors import RecipeError

    images, _ = next(iter(data.validation))
    raw = model(images[:16], training=False)
    half = str(getattr(raw, "dtype", "float32")).endswith(("float16", "bfloat16"))
    outputs = np.asarray(raw, dtype=np.float64)
    sums = outputs.sum(axis=-1)
    if np.all(outputs >= -1e-6) and np.allclose(sums, 1.0, atol=3e-2 if half else 1e-3):
        return
    raise RecipeError(
        recipe.source,
        "model.name",
        f"{recipe.model.name}'s outputs are not probabilities (on 16 validation images: rows "
        f"sum to {sums.min():.3g}..{sums.max():.3g}, smallest value {outputs.min():.3g}); end "
        "the model with a softmax, e.g. keras.layers.Dense(num_classes, activation='softmax')",
    )


def choose_strategy(tf: Any) -> Any:
    """MirroredStrategy over every visible GPU, or over logical CPUs when there are several."""
    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy([d.name for d in gpus])
    cpus = tf.config.list_logical_devices("CPU")
    if not gpus and len(cpus) > 1:
        return tf.distribute.MirroredStrategy([d.name for d in cpus])
    return tf.distribute.get_strategy()


def resolve_jit_compile(setting: str | bool, tf: Any, strategy: Any) -> bool:
    """Whether the train step is XLA-compiled, from ``training.jit_compile``.

    ``"auto"`` is XLA on exactly one GPU: on CPU XLA was ~3x slower per step
    (docs/architecture.md §4), and under a distribution strategy the replicated step is left to
    TensorFlow's own kernels.

    Args:
        setting: ``"auto"``, ``True`` or ``False``.
        tf: The ``tensorflow`` module.
        strategy: The evaluator's ``tf.distribute`` strategy.

    Returns:
        The ``jit_compile`` value for ``model.compile``.
    """
    if isinstance(setting, bool):
        return setting
    single = int(getattr(strategy, "num_replicas_in_sync", 1)) == 1
    return single and bool(tf.config.list_logical_devices("GPU"))


@contextlib.contextmanager
def dtype_policy(precision: str) -> Iterator[None]:
    """Build layers under the Keras dtype policy ``precision``, then restore the global one.

    Layers take the global policy when they are constructed, so a model built inside this block
    keeps ``precision`` for good, and nothing built later in the process is affected.

    Args:
        precision: ``"float32"``, ``"mixed_bfloat16"`` or ``"mixed_float16"``.
    """
    import keras

    before = keras.config.dtype_policy()
    keras.config.set_dtype_policy(precision)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(before)


def with_loss_scale(optimizer: Any, precision: str) -> Any:
    """Wrap ``optimizer`` in Keras's ``LossScaleOptimizer`` under ``mixed_float16``.

    float16 gradients underflow without loss scaling; bfloat16 has float32's range and needs
    none. The wrapper's variables (the dynamic scale and its step counter) come first in its
    ``variables``, so the evaluator restores them with the inner optimizer's between candidates.

    Args:
        optimizer: A built or unbuilt Keras optimizer.
        precision: The recipe's ``training.precision``.

    Returns:
        ``optimizer`` itself, or the ``LossScaleOptimizer`` around it.
    """
    if precision != "mixed_float16":
        return optimizer
    import keras

    return keras.optimizers.LossScaleOptimizer(optimizer)
