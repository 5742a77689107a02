"""The outcome of a search from Python: the chosen loss, the best evaluation, how to train with it.

Training with the loss as the search did: its optimizer, and a full training of your model.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import TaylorGLOError
from ..store.locate import require_run_dir


@dataclass(frozen=True)
class BestCandidate:
    """A loss of a search: the chosen one, or the best single evaluation.

    Attributes:
        theta: The loss parameters, in the θ layout of the run's ``[loss]`` section.
        fitness: What chose it: a finalist's aggregate validation accuracy over its seeds, or a
            candidate's fitness in the search.
        generation: The generation of the candidate it is, from 0 (``None`` for the CMA-ES mean).
        candidate: Its index in that generation, from 0 (``None`` for the CMA-ES mean).
        source: ``"finalist"`` (chosen by the finalist stage) or ``"best_evaluation"``.
        finalist: Its finalist rank, for a finalist.
    """

    theta: tuple[float, ...]
    fitness: float
    generation: int | None
    candidate: int | None
    source: str = "best_evaluation"
    finalist: int | None = None


@dataclass(frozen=True)
class SearchResult:
    """What a finished (or stopped) search left in its run directory.

    Attributes:
        run_dir: The run directory.
        best: The chosen loss: the finalist with the best aggregate once the finalist stage has
            chosen, else the best single evaluation so far; ``None`` when no candidate has a
            result.
        state: ``"finished"``, ``"interrupted"`` or ``"running"`` (the store's state).
        best_evaluation: The candidate with the best single fitness in the search (the same as
            ``best`` for a run without a finalist stage).

    Example:
        >>> result = ktg.resume("runs/mine")  # doctest: +SKIP
        >>> result.best.fitness, result.best_loss()  # doctest: +SKIP
    """

    run_dir: Path
    best: BestCandidate | None
    state: str
    best_evaluation: BestCandidate | None = None

    @classmethod
    def from_run_dir(cls, run_dir: str | os.PathLike[str]) -> SearchResult:
        """Read a run directory's best candidate and state.

        Args:
            run_dir: A run directory (from Python or the command line).

        Returns:
            The result.

        Raises:
            TaylorGLOError: No run in ``run_dir``.
        """
        from ..store import Store

        run_dir = Path(run_dir)
        require_run_dir(run_dir)
        with Store.open(run_dir, readonly=True) as store:
            chosen, best, state = store.chosen(), store.best(), store.state()
        record = None
        if chosen is not None:
            record = BestCandidate(
                theta=tuple(float(v) for v in chosen.theta),
                fitness=chosen.fitness,
                generation=chosen.generation,
                candidate=chosen.candidate,
                source=chosen.source,
                finalist=chosen.finalist,
            )
        single = None
        if best is not None:
            single = BestCandidate(
                theta=tuple(float(v) for v in best.theta),
                fitness=best.fitness,
                generation=best.generation,
                candidate=best.candidate,
            )
        return cls(run_dir=run_dir, best=record, state=state, best_evaluation=single)

    def best_loss(self) -> Any:
        """The chosen θ (:attr:`best`) as a ready Keras loss, with the run's expansion settings.

        Returns:
            A :class:`~keras_taylorglo.losses.TaylorGLOLoss` (order, inputs, trim and convention
            from the run's ``[loss]`` section).

        Raises:
            TaylorGLOError: No candidate has a result yet.

        Example:
            >>> model.compile(optimizer="sgd", loss=result.best_loss())  # doctest: +SKIP
        """
        from ..store import Store

        if self.best is None:
            raise TaylorGLOError(f"{self.run_dir}: no candidate has a result yet")
        with Store.open(self.run_dir, readonly=True) as store:
            meta = store.meta()
        from ..expansion import ExpansionSpec
        from ..losses import TaylorGLOLoss

        return TaylorGLOLoss(theta=list(self.best.theta), spec=ExpansionSpec.from_meta(meta))

    def optimizer(self) -> Any:
        """A fresh Keras optimizer, as the search trained with it (the recipe's ``[training]``).

        The same rules as every training of the search and the analysis
        (:func:`keras_taylorglo.optimizers.make_optimizer`): learning rate, momentum, Nesterov,
        Adam's decoupled weight decay, loss scaling under ``mixed_float16``. SGD's weight decay
        is a regulariser on the model's weights, not the optimizer's: :meth:`train_final` adds
        it (:func:`keras_taylorglo.optimizers.add_weight_decay`).

        Returns:
            An unbuilt ``keras.optimizers.Optimizer``.

        Example:
            >>> opt = result.optimizer()  # doctest: +SKIP
            >>> model.compile(optimizer=opt, loss=result.best_loss())  # doctest: +SKIP
        """
        from ..optimizers import make_optimizer
        from .final import run_recipe

        return make_optimizer(run_recipe(self.run_dir).training)

    def train_final(
        self,
        model: Any,
        x: Any,
        y: Any,
        *,
        validation_data: tuple[Any, Any] | None = None,
        seed: int = 0,
        verbose: int | str = 0,
    ) -> Any:
        """Train your model with the chosen loss the way ``analyze`` trains it in full.

        The search's loss was found under the search's training, and only pays under it: the
        inputs standardised per channel with the mean and standard deviation of ``x`` (as the
        loader standardises the training split), the recipe's optimizer (:meth:`optimizer`) and
        weight decay, batch size, augmentation, learning-rate schedule and full budget
        (``training.full``; ``analyze --set`` changes it for the analysis only).

        Args:
            model: An uncompiled ``keras.Model`` with softmax outputs whose input has a channel
                axis (``(8, 8, 1)`` for ``(n, 8, 8)`` images), or your model function
                ``(input_shape, num_classes) -> keras.Model``.
            x: Training images ``(n, h, w)`` or ``(n, h, w, c)``, raw (e.g. ``uint8`` pixels).
            y: Integer class ids.
            validation_data: ``(x, y)`` reported each epoch (it does not change the training).
            seed: Seed of the data order and augmentation, and of the initial weights when
                ``model`` is a function (a given model keeps its weights).
            verbose: Keras's ``fit`` verbosity.

        Returns:
            The trained model behind the normalisation it trained with: a compiled
            ``keras.Model`` that takes raw images shaped like ``x``, so ``evaluate(x_test,
            y_test)`` and ``predict`` need nothing else.

        Raises:
            TaylorGLOError: No candidate has a result yet, arrays that do not fit (one line,
                as for a search), or the training diverged.

        Example:
            >>> final = result.train_final(build_model, x_train, y_train)  # doctest: +SKIP
            >>> final.evaluate(x_test, y_test, return_dict=True)["accuracy"]  # doctest: +SKIP
        """
        from .final import run_recipe
        from .final import train_final as train

        loss = self.best_loss()
        recipe = run_recipe(self.run_dir)
        return train(recipe, loss, model, x, y, validation_data, seed, verbose)
