"""Score one candidate loss by (partially) training a model with it.

An :class:`Evaluator` builds the data pipelines, the model, the optimizer and the compiled train
step once. Each :meth:`Evaluator.evaluate` call then only sets θ, re-initialises the weights from
the given seed, resets the optimizer and trains the budget: no recompilation and no retrace between
candidates (docs/architecture.md §4). This is what keeps a search's workers warm.

A recipe whose ``evaluation.fitness`` is a ``module:function`` gets a :class:`FunctionEvaluator`
instead, which calls that function and never imports TensorFlow.

Example:
    >>> from keras_taylorglo.recipe import load_recipe
    >>> evaluator = make_evaluator(load_recipe("recipes/digits.toml"))
    >>> outcome = evaluator.evaluate(theta=None, seed=0)  # θ = zeros
    >>> outcome.status, outcome.fitness
"""

from __future__ import annotations

import functools
import math
import time
import traceback
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ._devices import check_probabilities, choose_strategy, dtype_policy, resolve_jit_compile
from ._reinit import layer_variables, reinit_plan, reinitialize
from .optimizers import add_weight_decay, make_optimizer
from .outcomes import Outcome, Status

if TYPE_CHECKING:  # pragma: no cover
    from .recipe import Recipe

LOSSES = ("taylorglo", "crossentropy")
"""Loss kinds by name; any baseline spec of :mod:`keras_taylorglo.baselines` works too."""
BUDGETS = ("partial", "full")
SPLITS = ("validation", "test")
SELECTIONS = ("last", "best_validation")
"""Which weights are scored: the last step's (the paper's protocol) or those of the data epoch
with the best validation accuracy (early stopping, applied to every loss alike)."""


def make_evaluator(
    recipe: Recipe,
    loss: str = "taylorglo",
    budget: str = "partial",
    split: str = "validation",
    select: str = "last",
) -> Evaluator | FunctionEvaluator:
    """Build the evaluator a recipe asks for.

    Args:
        recipe: A validated recipe.
        loss: ``"taylorglo"`` or a baseline spec (``"crossentropy"``, ``"label_smoothing:0.1"``,
            ``"gce:0.7"``, ``"baikal"``), trained through the same path.
        budget: ``"partial"`` (a fitness evaluation) or ``"full"`` (a full training).
        split: The split that is scored: ``"validation"`` or ``"test"``.
        select: ``"last"`` or ``"best_validation"`` (:data:`SELECTIONS`).

    Returns:
        A :class:`FunctionEvaluator` when ``evaluation.fitness`` is a ``module:function``,
        otherwise a training :class:`Evaluator`.
    """
    if recipe.evaluation.fitness != "validation_accuracy":
        return FunctionEvaluator(recipe)
    return Evaluator(recipe, loss=loss, budget=budget, split=split, select=select)


class FunctionEvaluator:
    """Fitness from a user function ``function(theta: list[float], seed: int) -> float``.

    Higher is better. An exception is a failed attempt (retried by the engine); NaN or infinity
    is divergence. Imports no TensorFlow, which makes it the cheap evaluator of tests and
    benchmarks.

    Args:
        recipe: A recipe whose ``evaluation.fitness`` is a ``module:function``.
    """

    def __init__(self, recipe: Recipe) -> None:
        from .plugins import resolve_callable

        self.recipe = recipe
        self.function: Callable[[list[float], int], float] = resolve_callable(
            recipe.evaluation.fitness,
            recipe.base_dir,
            field="evaluation.fitness",
            file=recipe.source,
        )

    def evaluate(self, theta: Sequence[float] | None, seed: int) -> Outcome:
        """Call the fitness function once.

        Args:
            theta: The candidate's parameters (``None`` = the recipe's initial θ).
            seed: The attempt's seed, passed through to the function.

        Returns:
            The :class:`Outcome`: ``ok`` with the function's value, ``diverged`` for NaN/Inf,
            ``failed`` with the exception text when it raised.
        """
        values = list(self.recipe.initial_theta() if theta is None else theta)
        start = time.perf_counter()
        try:
            value = float(self.function([float(v) for v in values], int(seed)))
        except Exception as exc:  # the user's code: any exception is a failed attempt
            seconds = time.perf_counter() - start
            return Outcome(Status.FAILED, 0.0, seconds=seconds, error=_one_line(exc))
        seconds = time.perf_counter() - start
        if not math.isfinite(value):
            return Outcome(
                Status.DIVERGED, 0.0, seconds=seconds, error=f"fitness function gave {value}"
            )
        return Outcome(Status.OK, value, val_accuracy=None, seconds=seconds, train_seconds=seconds)


class Evaluator:
    """Partial (or full) training of one model with a candidate loss, kept warm across calls.

    Args:
        recipe: A validated recipe with ``[data]`` and ``[model]`` sections.
        loss: ``"taylorglo"`` (θ per call) or a baseline spec of
            :mod:`keras_taylorglo.baselines` such as ``"crossentropy"`` or ``"gce:0.7"`` (θ
            ignored).
        budget: ``"partial"`` uses ``training.partial`` and the abort rule; ``"full"`` uses
            ``training.full`` with no abort rule.
        split: ``"validation"`` scores the held-out part of the training split (the search's
            fitness); ``"test"`` scores the test split (full trainings in the analysis).
        select: ``"last"`` scores the weights after the last step; ``"best_validation"``
            validates after every data epoch and scores the weights of the epoch with the best
            validation accuracy (the first such epoch on ties), recorded in the outcome's
            ``history`` as ``best_epoch`` (0-based data epochs) and ``val_accuracy``.

    Attributes:
        model: The compiled Keras model (its weights change on every call).
        data: The :class:`~keras_taylorglo.data.DataBundle` built once.
        strategy: The ``tf.distribute`` strategy, mirrored when several devices are visible.
        trace_count: How many times the train step was traced (stays 1 across candidates).
        chunk_epochs: Data epochs per Keras epoch: the greatest common divisor of the abort
            epoch and the learning-rate decay epochs (all of the budget when there are none).
        abort_epoch: The data epoch of the abort check, or ``None`` when it does not apply.
    """

    def __init__(
        self,
        recipe: Recipe,
        loss: str = "taylorglo",
        budget: str = "partial",
        split: str = "validation",
        select: str = "last",
    ) -> None:
        loss = _checked_arguments(recipe, loss, budget, split, select)
        from ._quiet import import_tensorflow

        tf = import_tensorflow()
        import keras

        from .data import load_dataset

        self.recipe = recipe
        self.loss_kind = loss
        self.budget_kind = budget
        self.split = split
        self.select = select
        self._keras = keras
        self._tf = tf
        self.data = load_dataset(
            recipe.data, recipe.base_dir, seed=recipe.experiment.seed, source=str(recipe.source)
        )
        self.strategy = choose_strategy(tf)
        self.precision = recipe.training.precision
        self.jit_compile = resolve_jit_compile(recipe.training.jit_compile, tf, self.strategy)
        self._plan_budget()
        self.trace_count = 0
        self._compile()
        # Values to restore before every candidate: not zeros, the learning rate is among them.
        self._initial_optimizer_values = [v.numpy() for v in self.optimizer.variables]
        # Fresh weights per candidate from the layers' own initializers, reseeded: building a
        # twin model per candidate was half of a warm evaluation's overhead (bench/NOTES.md §5).
        self._reinit_plan = reinit_plan(self.model)
        self._count_traces()

    # ------------------------------------------------------------------------------ building

    def _build_model(self, seed: int) -> Any:
        """The recipe's model, under its dtype policy (also the twin of :meth:`reset`)."""
        from .models import build_model

        with dtype_policy(self.precision):  # the global policy is restored afterwards
            return build_model(
                self.recipe.model,
                self.data.input_shape,
                self.data.num_classes,
                self.recipe.base_dir,
                seed=seed,
                source=str(self.recipe.source),
            )

    def _plan_budget(self) -> None:
        """Sets the budget in steps, the abort epoch and the Keras epochs the budget runs in."""
        training = self.recipe.training
        budget = training.partial if self.budget_kind == "partial" else training.full
        spe = self.data.steps_per_epoch
        if budget.steps is not None:
            self.total_steps = int(budget.steps)
        else:
            self.total_steps = int(budget.epochs) * spe
        data_epochs = max(1, math.ceil(self.total_steps / spe))
        rule = self.recipe.evaluation.abort
        # The abort rule applies only when training would go on past the abort epoch: a budget
        # that ends at or before it is simply scored.
        applies = self.budget_kind == "partial" and rule.epoch * spe < self.total_steps
        self.abort_epoch = rule.epoch if applies else None
        # Keras epochs are chunks of `chunk_epochs` data epochs, the last one cut short by
        # PartialTraining. Every data epoch where something must happen (the abort check, a
        # learning-rate decay) ends a chunk; Keras's fixed per-epoch work (metric resets, log
        # conversion, callbacks) is then paid per chunk, not per data epoch (bench/NOTES.md §5).
        marks = [e for e in training.schedule.decay_epochs if 0 < e < data_epochs]
        if self.abort_epoch is not None:
            marks.append(self.abort_epoch)
        self.chunk_epochs = functools.reduce(math.gcd, marks, 0) or data_epochs
        if self.select == "best_validation":
            self.chunk_epochs = 1  # a checkpoint candidate after every data epoch
        self.steps_per_chunk = self.chunk_epochs * spe
        self.epochs = max(1, math.ceil(self.total_steps / self.steps_per_chunk))

    def _compile(self) -> None:
        """Builds the model, the loss and the optimizer in the strategy's scope; compiles once."""
        with self.strategy.scope():
            self.model = self._build_model(self.recipe.experiment.seed)
            check_probabilities(self.model, self.data, self.recipe)
            self.loss = self._make_loss()
            self.optimizer = make_optimizer(self.recipe.training)
            add_weight_decay(self.model, self.recipe.training)
            self.optimizer.build(self.model.trainable_variables)
            self.model.compile(
                optimizer=self.optimizer,
                loss=self.loss,
                metrics=["accuracy"],
                # "auto": XLA on one GPU only, it was ~3x slower per step on CPU
                # (docs/architecture.md §4)
                jit_compile=self.jit_compile,
            )

    # ------------------------------------------------------------------------------ building

    def _make_loss(self) -> Any:
        if self.loss_kind != "taylorglo":
            from .baselines import make_baseline_loss

            return make_baseline_loss(self.loss_kind)
        from .expansion import ExpansionSpec
        from .losses import TaylorGLOLoss

        return TaylorGLOLoss(theta=None, spec=ExpansionSpec.from_config(self.recipe.loss))

    def _count_traces(self) -> None:
        """Wrap the loss so that each trace of the train step increments ``trace_count``."""
        inner_call = self.loss.call

        def counting_call(y_true: Any, y_pred: Any) -> Any:
            # Runs in Python only while tracing: inside a tf.function it is compiled away.
            if not self._tf.executing_eagerly():
                self.trace_count += 1
            return inner_call(y_true, y_pred)

        self.loss.call = counting_call

    # ----------------------------------------------------------------------------- evaluate

    def reset(self, seed: int) -> None:
        """Give the model fresh seeded weights and the optimizer its initial state.

        Args:
            seed: Seed of the initial weights; the same seed gives the same weights.
        """
        if self._reinit_plan is not None:
            # Explicit seeds everywhere (initializers, dropout, the data pipeline), so TF's
            # global seed plays no part; setting it per candidate clears TF's eager kernel
            # cache and made every following op slower (bench/NOTES.md §5).
            reinitialize(self._reinit_plan, seed)
        else:
            # A custom model may draw from TF's global generator: seed it for reproducibility.
            self._tf.random.set_seed(seed)
            # A model whose layers do not name their initializers (a custom layer, say): build
            # a twin with this seed and copy every layer variable, seed-generator states
            # (dropout) included; get/set_weights would leave those running on.
            twin = self._build_model(seed)
            for variable, value in zip(
                layer_variables(self.model), layer_variables(twin), strict=True
            ):
                variable.assign(value.value)
        for variable, value in zip(
            self.optimizer.variables, self._initial_optimizer_values, strict=True
        ):
            variable.assign(value)

    def evaluate(self, theta: Sequence[float] | None, seed: int) -> Outcome:
        """Train with a candidate θ from fresh weights and score it.

        Args:
            theta: The loss parameters (``None`` = zeros; ignored for cross-entropy).
            seed: Seed of the initial weights and of the data order.

        Returns:
            The :class:`Outcome`. ``fitness`` is the final accuracy on the scored split
            (0 when diverged); ``history`` holds the logs at each chunk end
            (:attr:`chunk_epochs` data epochs; validation only at the abort epoch and the end).
        """
        from ._step_timer import StepTimer

        start = time.perf_counter()
        try:
            if self.loss_kind == "taylorglo":
                self.loss.set_theta(theta if theta is not None else self.recipe.initial_theta())
            self.reset(seed)
            timer = StepTimer()
            callbacks, abort = self._training_callbacks(timer)
            best = self._best_validation_callback()
            logs = self._fit(callbacks + ([best] if best is not None else []), best)
            return self._score(logs, timer, start, aborted=abort is not None and abort.aborted)
        except Exception as exc:
            if _is_infrastructure_error(exc):
                raise  # out of memory and the like: the worker reports it as infra
            return Outcome(
                Status.FAILED,
                0.0,
                seconds=time.perf_counter() - start,
                error=_one_line(exc),
            )

    def _training_callbacks(self, timer: Any) -> tuple[list[Any], Any]:
        """The callbacks of one training, and its abort rule's callback (``None`` if none)."""
        from .callbacks import AbortBelowAccuracy, PartialTraining, TrainingProgress

        keras = self._keras
        # TerminateOnNaN stops at the first non-finite batch loss: divergence is a property of
        # θ, not worth training on. (Workers turn Keras's interactive logging off, so its
        # message goes to the log, not the terminal; the outcome records the divergence.)
        callbacks: list[Any] = [
            timer,
            PartialTraining(steps=self.total_steps),
            keras.callbacks.TerminateOnNaN(),
        ]
        abort = None
        chunk = self.chunk_epochs
        if self.abort_epoch is not None:
            threshold = self.recipe.evaluation.abort.threshold
            abort = AbortBelowAccuracy(threshold=threshold, epoch=self.abort_epoch // chunk)
            callbacks.append(abort)
        if self.loss_kind == "taylorglo" and "progress" in self.recipe.loss.inputs:
            callbacks.append(TrainingProgress(self.total_steps))
        schedule = self.recipe.training.schedule
        if schedule.decay_epochs:
            base_lr = self.recipe.training.learning_rate
            callbacks.append(
                keras.callbacks.LearningRateScheduler(
                    lambda epoch, _lr: (  # Keras's epoch is a chunk: count data epochs
                        base_lr
                        * schedule.gamma ** sum(epoch * chunk >= e for e in schedule.decay_epochs)
                    )
                )
            )
        return callbacks, abort

    def _best_validation_callback(self) -> Any:
        """For ``select="best_validation"``: the callback that keeps the best epoch's weights."""
        if self.select != "best_validation":
            return None
        # Keras's own early-stopping bookkeeping, never stopping: it keeps the weights of the
        # first epoch with the best val_accuracy and restores them at the end.
        return self._keras.callbacks.EarlyStopping(
            monitor="val_accuracy", mode="max", patience=self.epochs + 1, restore_best_weights=True
        )

    def _fit(self, callbacks: list[Any], best: Any) -> dict[str, list[float]]:
        """Trains the budget; the logs at each chunk end (and ``best_epoch`` when selected)."""
        # Validate only where a decision needs it: the abort epoch and the last one. Every
        # other validation pass was wasted work plus per-pass overhead (bench/NOTES.md §5).
        validate_at = {self.epochs}
        if self.abort_epoch is not None:
            validate_at.add(self.abort_epoch // self.chunk_epochs)
        if best is not None:
            validate_at = set(range(1, self.epochs + 1))
        validates = self.budget_kind == "partial" or best is not None
        history = self.model.fit(
            self.data.train,
            epochs=self.epochs,
            steps_per_epoch=self.steps_per_chunk,
            validation_data=self.data.validation if validates else None,
            validation_freq=sorted(validate_at),
            callbacks=callbacks,
            shuffle=False,  # the pipeline shuffles, seeded; Keras cannot shuffle a dataset
            verbose=0,
        )
        logs = {k: [float(v) for v in vals] for k, vals in history.history.items()}
        if best is not None and best.best_weights is not None:
            logs["best_epoch"] = [float(best.best_epoch)]
        return logs

    def _score(self, logs: dict[str, Any], timer: Any, start: float, aborted: bool) -> Outcome:
        """The outcome of a training: diverged, or the scored split's accuracy."""
        steps = int(self.optimizer.iterations.numpy())
        last_loss = logs.get("loss", [0.0])[-1]
        if not math.isfinite(last_loss):
            return Outcome(
                Status.DIVERGED,
                0.0,
                steps=steps,
                seconds=time.perf_counter() - start,
                history=logs,
                train_seconds=timer.seconds,
                error=f"non-finite training loss ({last_loss}) at step {steps}",
            )
        scored = self.data.validation if self.split == "validation" else self.data.test
        if (
            self.budget_kind == "partial"
            and self.split == "validation"
            and "best_epoch" not in logs
        ):
            accuracy = logs.get("val_accuracy", [math.nan])[-1]
        else:
            test_start = time.perf_counter()
            accuracy = float(self.model.evaluate(scored, verbose=0, return_dict=True)["accuracy"])
            timer.seconds += time.perf_counter() - test_start
        status = Status.ABORTED if aborted else Status.OK
        if not math.isfinite(accuracy):
            status, accuracy = Status.DIVERGED, 0.0
        return Outcome(
            status,
            float(accuracy),
            val_accuracy=float(accuracy) if self.split == "validation" else None,
            steps=steps,
            seconds=time.perf_counter() - start,
            history=logs,
            train_seconds=timer.seconds,
        )


# ----------------------------------------------------------------------------------- helpers


def _checked_arguments(recipe: Recipe, loss: str, budget: str, split: str, select: str) -> str:
    """The loss in its canonical form, once the evaluator's arguments are known to be valid."""
    if loss != "taylorglo":
        from .baselines import parse_baseline

        loss = parse_baseline(loss)  # canonical form; a one-line error for a bad spec
    if select not in SELECTIONS:
        raise ValueError(f"select must be one of {SELECTIONS}, got {select!r}")
    if budget not in BUDGETS:
        raise ValueError(f"budget must be one of {BUDGETS}, got {budget!r}")
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if recipe.data is None or recipe.model is None:
        from .errors import RecipeError

        raise RecipeError(
            recipe.source,
            "data" if recipe.data is None else "model",
            "a training evaluator needs [data] and [model]",
        )
    return loss


def _is_infrastructure_error(exc: BaseException) -> bool:
    """Out of memory is not the candidate's fault: let the worker report it as infra."""
    name = type(exc).__name__
    return name in {"ResourceExhaustedError", "MemoryError"}


def _one_line(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".strip().splitlines()
    first = text[0] if text else type(exc).__name__
    where = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    suffix = f" [{where[0].filename.rsplit('/', 1)[-1]}:{where[0].lineno}]" if where else ""
    return (first[:300] + suffix).strip()
