"""The store's composite views: what the progress line, ``status --json`` and the monitor read.

Each is one consistent read over the plain views of :mod:`.queries` (generations, the best,
the chosen loss, the finalists, the workers, the events).

This module imports no TensorFlow.
"""

from __future__ import annotations

from typing import Any

from ..outcomes import Status
from .frozen import ProgressSummary, StoreSnapshot
from .queries import Queries

__all__ = ["Views"]


class Views(Queries):
    """The composite read views of a store."""

    def progress_summary(self) -> ProgressSummary:
        """Totals for a progress line (one consistent read).

        Returns:
            The :class:`~.frozen.ProgressSummary`: the latest generation begun (-1 if none),
            evaluations, best fitness, retries, failures and the finalist stage's trainings.
        """
        with self._read():
            gens = self.generations()
            best = self.best()
            finalists = self.finalists()
            runs = self.finalist_runs(finished=True) if finalists else []
            stage = self.meta().get("finalist_stage") or {} if finalists else {}
        return ProgressSummary(
            generation=gens[-1].generation if gens else -1,
            evaluations=sum(g.evaluations for g in gens),
            best=None if best is None else best.fitness,
            retries=sum(g.retries for g in gens),
            candidate_failures=sum(g.candidate_failures for g in gens),
            infra_failures=sum(g.infra_failures for g in gens),
            finalist_trainings=sum(1 for r in runs if r.status != Status.INFRA),
            finalist_planned=len(finalists) * int(stage.get("seeds", 0)),
        )

    def status_json(self) -> dict[str, Any]:
        """The ``keras-taylorglo status --json`` contract (one consistent snapshot).

        Returns:
            ``{"state": "running" | "finished" | "interrupted", "evaluations": int,
            "generations": [{"index", "best_fitness", "mean_fitness", "sigma", "evaluations",
            "candidate_failures", "infra_failures"}], "best": {"theta": [...], "fitness": float,
            "generation": int, "candidate": int} | None}``, plain dicts and lists ready for
            ``json.dumps``. A generation in progress is listed with its results so far
            (``sigma`` is ``None`` until it finishes); ``best`` (the best single evaluation) is
            ``None`` before the first result. A run with a finalist stage
            (``evolution.finalists.count > 0``) also has ``"finalists"`` (each finalist's
            ``finalist``, ``theta``, ``source``, ``generation``, ``candidate``,
            ``search_fitness``, ``status``, ``fitness``, ``chosen``; empty until the stage
            begins) and ``"chosen"`` (:meth:`chosen` as a dict: the chosen finalist once the
            stage has chosen, the best single evaluation until then).
        """
        with self._read():
            gens = self.generations()
            best = self.best()
            state = self.state()
            meta = self.meta()
            finalists = self.finalists()
            chosen = self.chosen()
        status: dict[str, Any] = {
            "state": state,
            "evaluations": sum(g.evaluations for g in gens),
            "generations": [
                {
                    "index": g.generation,
                    "best_fitness": g.best_fitness,
                    "mean_fitness": g.mean_fitness,
                    "sigma": g.sigma,
                    "evaluations": g.evaluations,
                    "candidate_failures": g.candidate_failures,
                    "infra_failures": g.infra_failures,
                }
                for g in gens
            ],
            "best": None if best is None else best.as_dict(),
        }
        if (meta.get("finalists") or {}).get("count"):
            # Only a run with a finalist stage has these keys: a run without one (or made
            # before finalists existed) keeps exactly the output it always had.
            status["finalists"] = [
                {k: v for k, v in f.as_dict().items() if k != "updated"} for f in finalists
            ]
            status["chosen"] = None if chosen is None else chosen.as_dict()
        return status

    def snapshot(self, events: int = 50) -> StoreSnapshot:
        """Everything the monitor shows, from one consistent read.

        Args:
            events: how many of the latest events to include.

        Returns:
            The :class:`~.frozen.StoreSnapshot` (its meta without ``recipe_text``).
        """
        with self._read():
            meta = self.meta()
            meta.pop("recipe_text", None)
            gens = self.generations()
            return StoreSnapshot(
                meta=meta,
                state=self.state(),
                generations=gens,
                best=self.best(),
                workers=self.workers(),
                events=self.events(limit=events),
                evaluations=sum(g.evaluations for g in gens),
            )
