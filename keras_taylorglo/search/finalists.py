"""The finalist stage: after the last generation, the best candidates are scored again on new seeds.

One best evaluation is one sample: the luckiest of many noisy measurements is often not the best
loss. So after the last generation the top ``evolution.finalists.count`` distinct candidates and
the CMA-ES mean are each trained ``evolution.finalists.seeds`` more times on the validation split,
at the ``partial`` or ``full`` budget, every training counting, and the loss handed to the user
is the finalist with the best aggregate (the rules are written in :mod:`.trial`).

The stage is journaled like the search (the finalists at once, each training as it starts and
ends), so a driver killed during it resumes exactly: a finished training is never redone and the
same finalist is chosen.

This module imports no TensorFlow.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..outcomes import Outcome, Status
from .jobs import JobRunner
from .messages import FinalistTask
from .trial import Attempt, FitnessRules, Trial, finalist_seed

__all__ = ["FinalistStage", "pick_finalists"]


def pick_finalists(store: Any, count: int) -> list[dict[str, Any]]:
    """The finalists of a finished search: its best distinct candidates, then the CMA-ES mean.

    Args:
        store: The run's store, every generation finished.
        count: How many candidates (fewer when the search has fewer distinct θ with a result).

    Returns:
        ``{"theta", "source", "generation", "candidate", "search_fitness"}`` dicts in rank order:
        the candidates by fitness (ties: the earliest), then the mean of the distribution after
        the last generation (left out when it equals a candidate's θ).
    """
    done = [c for c in store.candidates() if c.fitness is not None]
    done.sort(key=lambda c: (-c.fitness, c.generation, c.candidate))
    picks: list[dict[str, Any]] = []
    seen: set[tuple[float, ...]] = set()
    for c in done:
        if len(picks) == count:
            break
        if tuple(c.theta) in seen:
            continue
        seen.add(tuple(c.theta))
        picks.append(
            {
                "theta": list(c.theta),
                "source": "candidate",
                "generation": c.generation,
                "candidate": c.candidate,
                "search_fitness": c.fitness,
            }
        )
    means = [g.mean for g in store.generations() if g.finished is not None and g.mean]
    if means and tuple(means[-1]) not in seen:
        picks.append(
            {
                "theta": list(means[-1]),
                "source": "mean",
                "generation": None,
                "candidate": None,
                "search_fitness": None,
            }
        )
    return picks


class FinalistStage:
    """Runs (or finishes) the finalist stage of a search on its executor.

    Args:
        recipe: The run's recipe (``evolution.finalists``, ``evaluation.aggregate``,
            ``experiment.seed``).
        store: The run's store, every generation finished.
        executor: The search's started executor.
        worker_event: The engine's handler of worker events.
        tick: The engine's once-per-loop callback (progress, TensorBoard).
    """

    def __init__(
        self,
        recipe: Any,
        store: Any,
        executor: Any,
        worker_event: Callable[[Any], None],
        tick: Callable[[], None],
    ) -> None:
        settings = recipe.evolution.finalists
        self.recipe = recipe
        self.store = store
        self.executor = executor
        self.settings = settings
        # Every finalist training counts: a finalist that fails on a seed must rank low.
        self.rules = FitnessRules(
            "every_attempt", attempts=1, seeds=settings.seeds, aggregate=recipe.evaluation.aggregate
        )
        self._worker_event = worker_event
        self._tick = tick
        self._rows: dict[int, int] = {}
        self._next_id = 0

    def run(self) -> None:
        """Journal the finalists (once), train what is missing, then choose.

        Does nothing when the stage is off (``count = 0``) or has already chosen.
        """
        if self.settings.count < 1:
            return
        finalists = self.store.finalists()
        if not finalists:
            picks = pick_finalists(self.store, self.settings.count)
            stage = {
                "count": self.settings.count,
                "seeds": self.settings.seeds,
                "budget": self.settings.budget,
                "aggregate": self.rules.aggregate,
            }
            self.store.begin_finalists(picks, stage)
            self.store.add_event("finalist", f"{len(picks)} finalists, {self.settings.seeds} seeds")
            finalists = self.store.finalists()
        if any(f.chosen for f in finalists):
            return
        trials = [Trial(None, f.finalist, list(f.theta), self.rules) for f in finalists]
        for run in self.store.finalist_runs(finished=True):
            trial = trials[run.finalist]
            outcome = Outcome(run.status, float("nan") if run.fitness is None else run.fitness)
            reruns = trial.infra_reruns(run.seed_index, 0)
            trial.record(Attempt(0, run.seed, outcome, reruns, seed_index=run.seed_index))
        pending = [self._task(t, slot) for t in trials for slot, _ in t.next_attempts()]
        JobRunner(
            self.executor,
            started=self._started,
            finished=lambda task, _w, outcome, event: self._finished(trials, task, outcome, event),
            worker_event=self._worker_event,
            tick=self._tick,
        ).run(pending)
        self._choose(trials)

    def _task(self, trial: Trial, seed_index: int) -> FinalistTask:
        self._next_id += 1
        seed = finalist_seed(self.recipe.experiment.seed, seed_index)
        return FinalistTask(
            self._next_id, trial.index, seed_index, seed, tuple(trial.theta), self.settings.budget
        )

    def _started(self, task: FinalistTask, worker_id: str) -> None:
        device = self.executor.workers[worker_id]["device"]
        self._rows[task.task_id] = self.store.start_finalist_run(
            task.finalist, task.seed_index, task.seed, worker_id, device
        )

    def _finished(
        self, trials: list[Trial], task: FinalistTask, outcome: Outcome, event: Any
    ) -> list[FinalistTask]:
        trial = trials[task.finalist]
        worker = getattr(event, "worker_id", "")
        reruns = trial.infra_reruns(task.seed_index, 0)
        decision = trial.record(Attempt(0, task.seed, outcome, reruns, worker, task.seed_index))
        done = trial.done
        self.store.finish_finalist_run(
            self._rows.pop(task.task_id),
            outcome,
            finalist_status=trial.status if done else None,
            finalist_fitness=trial.fitness if done else None,
        )
        where = f"finalist {task.finalist}, seed {task.seed_index + 1} of {self.rules.seeds}"
        if decision.action == "rerun":
            self.store.add_event("infra", f"{where}: {outcome.status} ({outcome.error}); again")
            return [self._task(trial, task.seed_index)]
        if outcome.status != Status.OK:
            kind = "divergence" if outcome.status == Status.DIVERGED else "finalist"
            status = "failed" if outcome.status == Status.INFRA else outcome.status
            self.store.add_event(kind, f"{where}: {status}, counts {decision.fitness:.4f}")
        if done:
            self.store.add_event(
                "finalist", f"finalist {task.finalist}: {trial.fitness:.4f} over its seeds"
            )
        return []

    def _choose(self, trials: list[Trial]) -> None:
        # The best aggregate; ties go to the better-ranked finalist (the search's better one).
        best = max(trials, key=lambda t: (t.fitness or 0.0, -t.index))
        self.store.choose_finalist(best.index)
        self.store.add_event(
            "finalist", f"chosen: finalist {best.index} ({(best.fitness or 0.0):.4f})"
        )
