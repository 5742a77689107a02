"""The outcome of a search from Python: the chosen loss, the best single evaluation, the loss."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import TaylorGLOError
from .checks import require_run


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
        require_run(run_dir)
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
