"""Your model trained with the chosen loss as the analysis trains it (``SearchResult.train_final``).

A loss found by a search is found under the search's training: per-channel normalised inputs,
the recipe's optimizer (SGD with momentum 0.9 in the shipped recipes), batch size, augmentation
and learning-rate schedule. Compiled with ``optimizer="sgd"`` on raw pixels the same loss can
train to chance. :func:`train_final` trains your model exactly the way ``analyze`` does a full
training: the loader's own pipeline (:func:`keras_taylorglo.data.from_arrays`), the optimizer
and weight decay of :mod:`keras_taylorglo.optimizers`, the full budget and the schedule; and
returns it behind a ``keras.layers.Normalization`` holding the normalisation it trained with,
so that it takes your raw images.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import TaylorGLOError

__all__ = ["run_recipe", "train_final"]


def run_recipe(run_dir: Any) -> Any:
    """The recipe a run was searched with, as its store holds it.

    Args:
        run_dir: The run directory.

    Returns:
        The :class:`~keras_taylorglo.recipe.Recipe`.
    """
    from pathlib import Path

    from ..recipe import parse_recipe
    from ..store import Store

    with Store.open(run_dir, readonly=True) as store:
        meta, text = store.meta(), store.recipe_text()
    source = meta.get("recipe_source", "<store>")
    base_dir = meta.get("base_dir") or str(Path(source).parent)
    return parse_recipe(text, source=source, base_dir=Path(base_dir))


def train_final(
    recipe: Any,
    loss: Any,
    model: Any,
    x: Any,
    y: Any,
    validation_data: tuple[Any, Any] | None = None,
    seed: int = 0,
    verbose: int | str = 0,
) -> Any:
    """Train ``model`` with ``loss`` for the recipe's full budget; see the module docstring.

    Args:
        recipe: The run's recipe (:func:`run_recipe`).
        loss: The loss (a fresh :class:`~keras_taylorglo.losses.TaylorGLOLoss`).
        model: An uncompiled ``keras.Model`` taking normalised images with a channel axis, or a
            function ``(input_shape, num_classes) -> keras.Model``.
        x: Training images ``(n, h, w)`` or ``(n, h, w, c)``, as stored (e.g. ``uint8``).
        y: Integer labels.
        validation_data: ``(x, y)`` shown in the history each epoch (not used for training).
        seed: Seed of the data order and augmentation, and of the initial weights when
            ``model`` is a function (a given model keeps its weights).
        verbose: Keras's ``fit`` verbosity.

    Returns:
        The trained model behind a ``Normalization`` layer: a compiled ``keras.Model`` that takes
        raw images shaped like ``x`` (``evaluate``, ``predict``, ``save``).
    """
    from .._quiet import import_tensorflow

    import_tensorflow()  # without its C++ start-up chatter in your terminal or notebook
    import keras

    from .._reinit import reinit_plan, reinitialize
    from ..callbacks import PartialTraining, TrainingProgress
    from ..data import from_arrays
    from ..optimizers import add_weight_decay, make_optimizer

    x, y = np.asarray(x), np.asarray(y)
    watch = validation_data is not None
    x_val, y_val = (np.asarray(a) for a in validation_data) if watch else (x[:1], y[:1])
    data, training = recipe.data, recipe.training
    bundle = from_arrays(
        x,
        y,
        x_val,
        y_val,
        x_val=x_val,
        y_val=y_val,
        batch_size=data.batch_size if data is not None else 32,
        augment=data.augment if data is not None else None,
        seed=seed,
        name="train_final",
    )
    if not isinstance(model, keras.Model):
        model = model(bundle.input_shape, bundle.num_classes)
        plan = reinit_plan(model)
        if plan is not None:  # the weights a seed gives, as in the analysis (else the builder's)
            reinitialize(plan, seed)
    add_weight_decay(model, training)
    model.compile(optimizer=make_optimizer(training), loss=loss, metrics=["accuracy"])
    spe = bundle.steps_per_epoch
    steps = training.full.steps or training.full.epochs * spe
    callbacks: list[Any] = [PartialTraining(steps=steps), keras.callbacks.TerminateOnNaN()]
    if "progress" in recipe.loss.inputs:
        callbacks.append(TrainingProgress(steps))
    schedule = training.schedule
    if schedule.decay_epochs:
        rate, gamma = training.learning_rate, schedule.gamma
        callbacks.append(
            keras.callbacks.LearningRateScheduler(
                lambda epoch, _lr: rate * gamma ** sum(epoch >= e for e in schedule.decay_epochs)
            )
        )
    model.fit(
        bundle.train,
        epochs=math.ceil(steps / spe),
        steps_per_epoch=spe,
        validation_data=bundle.validation if watch else None,
        callbacks=callbacks,
        shuffle=False,  # the pipeline shuffles, seeded; Keras cannot shuffle a dataset
        verbose=verbose,
    )
    if not math.isfinite(float(model.history.history.get("loss", [0.0])[-1])):
        raise TaylorGLOError("train_final: the training diverged (non-finite loss)")
    return _on_raw_images(keras, model, loss, x.shape[1:], bundle.mean, bundle.std)


def _on_raw_images(keras: Any, model: Any, loss: Any, shape: tuple, mean: Any, std: Any) -> Any:
    """``model`` behind the channel axis and the normalisation it was trained with."""
    inputs = keras.Input(shape)
    h = inputs if len(shape) == 3 else keras.layers.Reshape((*shape, 1))(inputs)
    h = keras.layers.Normalization(axis=-1, mean=list(mean), variance=np.square(std).tolist())(h)
    final = keras.Model(inputs, model(h), name=f"{model.name}_on_raw_images")
    final.compile(optimizer=model.optimizer, loss=loss, metrics=["accuracy"])
    return final
