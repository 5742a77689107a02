"""The outcome of a search from Python: the best candidate and its ready loss."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import TaylorGLOError
from .checks import require_run


@dataclass(frozen=True)
class BestCandidate:
    """The best candidate of a search.

    Attributes:
        theta: The loss parameters, in the θ layout of the run's ``[loss]`` section.
        fitness: Its fitness (validation accuracy after the partial training).
        generation: The generation it was found in (from 0).
        candidate: Its index in that generation (from 0).
    """

    theta: tuple[float, ...]
    fitness: float
    generation: int
    candidate: int


@dataclass(frozen=True)
class SearchResult:
    """What a finished (or stopped) search left in its run directory.

    Attributes:
        run_dir: The run directory.
        best: The best candidate so far, or ``None`` when no candidate has a result.
        state: ``"finished"``, ``"interrupted"`` or ``"running"`` (the store's state).

    Example:
        >>> result = ktg.resume("runs/mine")  # doctest: +SKIP
        >>> result.best.fitness, result.best_loss()  # doctest: +SKIP
    """

    run_dir: Path
    best: BestCandidate | None
    state: str

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
            best, state = store.best(), store.state()
        record = None
        if best is not None:
            record = BestCandidate(
                theta=tuple(float(v) for v in best.theta),
                fitness=best.fitness,
                generation=best.generation,
                candidate=best.candidate,
            )
        return cls(run_dir=run_dir, best=record, state=state)

    def best_loss(self) -> Any:
        """The best θ as a ready Keras loss, with the run's expansion settings.

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
