"""The optimizer a recipe's ``[training]`` asks for, private to the evaluator.

SGD (plain, momentum or Nesterov) with weight decay as the literature's recipes mean it, or Adam
with decoupled decay; under ``mixed_float16`` wrapped for dynamic loss scaling.
"""

from __future__ import annotations

from typing import Any

from ._devices import with_loss_scale


def make_optimizer(keras: Any, training: Any) -> Any:
    """The recipe's optimizer (not built).

    Args:
        keras: The ``keras`` module.
        training: The recipe's :class:`~keras_taylorglo.recipe.schema.TrainingConfig`.

    Returns:
        A Keras optimizer; under ``mixed_float16`` a loss-scale optimizer around it.
    """
    t = training
    if t.optimizer == "adam":
        # Adam: decoupled decay (AdamW), the usual meaning of weight decay for Adam.
        inner = keras.optimizers.Adam(
            learning_rate=t.learning_rate, weight_decay=t.weight_decay or None
        )
    else:
        momentum = 0.0 if t.optimizer == "sgd" else t.momentum
        inner = keras.optimizers.SGD(
            learning_rate=t.learning_rate,
            momentum=momentum,
            nesterov=t.optimizer == "nesterov",
        )
    # mixed_float16: dynamic loss scaling. Its scale is among `optimizer.variables`, so the
    # evaluator's reset gives every candidate the initial scale, not the last candidate's.
    return with_loss_scale(inner, t.precision)


def add_weight_decay(keras: Any, model: Any, training: Any) -> None:
    """Coupled weight decay for SGD, as the literature's (PyTorch) recipes mean it.

    Keras's ``weight_decay`` argument is decoupled: with momentum 0.9 it is about 10x weaker
    than ``grad += wd * w``. An L2 regulariser of ``wd / 2`` on every trainable variable adds
    exactly ``wd * w`` to each gradient, inside the same compiled step.

    Args:
        keras: The ``keras`` module.
        model: The model, built.
        training: The recipe's :class:`~keras_taylorglo.recipe.schema.TrainingConfig`.
    """
    if training.optimizer == "adam" or not training.weight_decay:
        return
    l2 = keras.regularizers.L2(training.weight_decay / 2.0)
    for variable in model.trainable_variables:
        variable.regularizer = l2
