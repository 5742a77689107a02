"""The optimizer and weight decay a recipe's ``[training]`` asks for, for every training here.

The search's partial trainings, the analysis's full trainings (both through
:class:`~keras_taylorglo.evaluation.Evaluator`) and
:meth:`~keras_taylorglo.api.SearchResult.train_final` build them with these two functions, so a
loss is always trained the way it was found. Keras is imported inside them.

Example:
    >>> from keras_taylorglo.recipe import load_recipe
    >>> optimizer = make_optimizer(load_recipe("digits").training)  # doctest: +SKIP
    >>> type(optimizer).__name__, float(optimizer.momentum)  # doctest: +SKIP
    ('SGD', 0.9)
"""

from __future__ import annotations

from typing import Any

from ._devices import with_loss_scale

__all__ = ["add_weight_decay", "make_optimizer"]


def make_optimizer(training: Any) -> Any:
    """A fresh Keras optimizer as a recipe's ``[training]`` asks, as every training here uses it.

    ``sgd`` (no momentum), ``momentum`` (SGD with ``training.momentum``), ``nesterov``, or
    ``adam`` (with ``training.weight_decay`` as AdamW's decoupled decay); under
    ``mixed_float16``, wrapped for dynamic loss scaling. SGD's weight decay is not the
    optimizer's: see :func:`add_weight_decay`.

    Args:
        training: The recipe's ``TrainingConfig``.

    Returns:
        The optimizer (unbuilt).
    """
    import keras

    if training.optimizer == "adam":
        # Adam: decoupled decay (AdamW), the usual meaning of weight decay for Adam.
        inner = keras.optimizers.Adam(
            learning_rate=training.learning_rate, weight_decay=training.weight_decay or None
        )
    else:
        momentum = 0.0 if training.optimizer == "sgd" else training.momentum
        inner = keras.optimizers.SGD(
            learning_rate=training.learning_rate,
            momentum=momentum,
            nesterov=training.optimizer == "nesterov",
        )
    # mixed_float16: dynamic loss scaling. Its scale is among `optimizer.variables`, so the
    # evaluator's reset() gives every candidate the initial scale, not the last candidate's.
    return with_loss_scale(inner, training.precision)


def add_weight_decay(model: Any, training: Any) -> None:
    """Coupled weight decay for SGD, as the literature's (PyTorch) recipes mean it.

    Keras's ``weight_decay`` argument is decoupled: with momentum 0.9 it is about 10x weaker
    than ``grad += wd * w``. An L2 regulariser of ``wd / 2`` on every trainable variable adds
    exactly ``wd * w`` to each gradient, inside the same compiled step. Adam's decay is the
    optimizer's own (:func:`make_optimizer`); without decay nothing changes.

    Args:
        model: The Keras model, before it is compiled.
        training: The recipe's ``TrainingConfig``.
    """
    if training.optimizer == "adam" or not training.weight_decay:
        return
    import keras

    l2 = keras.regularizers.L2(training.weight_decay / 2.0)
    for variable in model.trainable_variables:
        variable.regularizer = l2
