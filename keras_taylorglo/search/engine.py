"""The generation loop: ask → journal → dispatch → retry → tell → checkpoint.

The engine is the only writer of the run's store. Every step that changes the run is one SQLite
transaction, so a driver killed at any moment leaves a store from which :func:`resume_search`
continues exactly: the oracle state saved before ``ask`` reproduces the same candidates, finished
attempts are never run again, and unfinished ones are re-run with the same seed.

The fitness rules it applies (retries, seed slots, aggregates, the finalist stage) are written
once, in :mod:`keras_taylorglo.search.trial`.
"""

from __future__ import annotations

import contextlib
import math
import os
import socket
from typing import Any

from ..errors import TaylorGLOError
from ..outcomes import Outcome, Status
from ..stopping import say
from ..store.states import RunState, WorkerState
from .finalists import FinalistStage
from .jobs import JobRunner
from .messages import Executor, Task, TaskLost, WorkerDown, WorkerUp
from .trial import Attempt, FitnessRules, Trial, attempt_seed


class SearchInterrupted(Exception):
    """Raised when Ctrl-C stopped the search; the run is left resumable."""


class Engine:
    """Runs a TaylorGLO search against a store and an executor.

    Args:
        recipe: The validated recipe (the store's copy when resuming).
        store: The run's store, opened for writing; the engine is its only writer.
        executor: A started-or-startable executor (:class:`~.executors.LocalPool` or Ray).
        display: Progress display; ``None`` for silence.
    """

    def __init__(self, recipe: Any, store: Any, executor: Executor, display: Any = None) -> None:
        self.recipe = recipe
        self.store = store
        self.executor = executor
        self.display = display
        self._next_task_id = 0
        self._attempt_rows: dict[int, int] = {}
        self.best_fitness = -math.inf
        self._tensorboard: Any = None
        self._tensorboard_off = False  # it failed once: no summaries, one warning
        self._unlogged: list[int] = []
        #: Whether any attempt of this driver finished (a failure before that leaves nothing
        #: worth resuming: :func:`start_search` removes the new store).
        self.evaluated_any = False
        self._label_noise_known = False
        self.rules = FitnessRules.of(recipe.evaluation)
        # A run made before seed slots derived one seed per candidate; it resumes with that
        # scheme, so that its remaining candidates train exactly as they would have.
        self.common_seeds = store.meta().get("seeding") == "common"

    # -------------------------------------------------------------------------------- run

    def run(self) -> Any:
        """Run (or continue) the search, then its finalist stage.

        The generations go on until the generation budget or CMA-ES stops them.

        Returns:
            The store's :class:`~keras_taylorglo.store.ChosenRecord`: the chosen finalist, or the
            best single evaluation for a run without a finalist stage (``None`` without any
            result).

        Raises:
            TaylorGLOError: Workers cannot start (recipe or data problem).
            SearchInterrupted: Ctrl-C; the run is left resumable.
        """
        from .oracle import Oracle

        evo = self.recipe.evolution
        oracle = self._restore_oracle()
        best = self.store.best()
        if best is not None:
            self.best_fitness = best.fitness
        self.store.close_interrupted_attempts()
        self._unlogged = self._generations_missing_from_tensorboard()
        self.store.set_state(RunState.RUNNING, pid=os.getpid(), host=socket.gethostname())
        try:
            # Inside the try: a failed start leaves the run interrupted (a new search's store
            # is then removed by start_search, as nothing in it is worth resuming).
            self.executor.start()
            if self.display:
                finalists = evo.finalists
                planned = (finalists.count + 1) * finalists.seeds if finalists.count else 0
                self.display.start(self.store, evo.generations, evo.population, planned)
            while not oracle.stop():
                g = oracle.generation
                begun = self.store.generation_candidates(g)
                if begun is not None:
                    # Resume inside a generation: the state saved before ask reproduces it.
                    state_before = self.store.generation_state_before(g)
                    oracle = Oracle.from_state(state_before)
                    candidates = oracle.ask()
                    _check_same_candidates(g, candidates, begun)
                else:
                    state_before = oracle.get_state()
                    candidates = oracle.ask()
                    self.store.begin_generation(g, state_before, candidates)
                oracle.tell(self._run_generation(g, [tuple(c) for c in candidates]))
                self._finish_generation(g, oracle)
            FinalistStage(
                self.recipe, self.store, self.executor, self._worker_event, self._tick
            ).run()
            if self.display and evo.finalists.count:
                self.display.finalists_done(self.store)
            self._log_finished_generations()
            self.store.set_state(RunState.FINISHED)
            self.store.add_event("info", "search finished")
        except KeyboardInterrupt as stop:
            # Ctrl-C, or SIGTERM/SIGHUP turned into a KeyboardInterrupt subclass by the CLI.
            why = str(stop) if str(stop) else "Ctrl-C"
            with contextlib.suppress(TaylorGLOError):  # a full disk: the lock says it anyway
                self.store.set_state(RunState.INTERRUPTED)
                self.store.add_event("info", f"interrupted ({why})")
            raise SearchInterrupted() from None
        except BaseException:
            # A store that cannot be written (full disk) must not hide the first error; a run
            # left "running" is read as interrupted once its lock is released.
            with contextlib.suppress(TaylorGLOError):
                self.store.set_state(RunState.INTERRUPTED)
            raise
        finally:
            self.executor.shutdown(kill=True)
            self._log_finished_generations()  # an interrupted run keeps its summaries too
            if self._tensorboard is not None:
                try:
                    self._tensorboard.close()
                except Exception as error:  # noqa: BLE001 - never in place of the search's end
                    _tensorboard_warning(error)
            if self.display:
                self.display.stop()
        return self.store.chosen()

    # -------------------------------------------------------------------------- internals

    def _restore_oracle(self) -> Any:
        from .oracle import Oracle

        state = self.store.latest_oracle_state()
        if state is not None:
            return Oracle.from_state(state)
        evo = self.recipe.evolution
        return Oracle(
            num_params=self.recipe.loss.num_params,
            x0=self.recipe.initial_theta(),
            sigma=evo.sigma,
            population=evo.population,
            generations=evo.generations,
            seed=self.recipe.experiment.seed,
        )

    def _prescreen(self, theta: tuple[float, ...]) -> bool:
        if not self.recipe.evolution.invariant_check:
            return True
        from ..expansion import ExpansionSpec, invariant_check

        return invariant_check(list(theta), spec=ExpansionSpec.from_config(self.recipe.loss))

    def _new_task(
        self, g: int, c: int, seed_index: int, attempt: int, theta: tuple[float, ...]
    ) -> Task:
        self._next_task_id += 1
        seed = attempt_seed(
            self.recipe.experiment.seed, g, c, seed_index, attempt, common=self.common_seeds
        )
        return Task(
            task_id=self._next_task_id,
            generation=g,
            candidate=c,
            attempt=attempt,
            seed=seed,
            theta=theta,
            seed_index=seed_index,
        )

    def _run_generation(self, g: int, candidates: list[tuple[float, ...]]) -> list[float]:
        trials = [Trial(g, c, list(theta), self.rules) for c, theta in enumerate(candidates)]
        # Replay what the store already knows (resume): finished attempts are never run again;
        # attempts the driver died under were closed as interrupted and simply run again.
        for row in self.store.finished_attempts(g):
            trial = trials[row.candidate]
            fitness = float("nan") if row.fitness is None else row.fitness
            reruns = trial.infra_reruns(row.seed_index, row.attempt)
            trial.record(
                Attempt(
                    number=row.attempt,
                    seed=row.seed,
                    outcome=Outcome(row.status, fitness),
                    infra_reruns=reruns,
                    seed_index=row.seed_index,
                )
            )
        pending: list[Task] = []
        for c, trial in enumerate(trials):
            if not trial.attempts and not self.store.attempts(g, c):
                if not self._prescreen(tuple(trial.theta)):
                    trial.finish_without_training(Status.SCREENED, 0.0)
                    self.store.add_event("screened", "failed the invariant pre-screen", g, c)
            if not trial.done:
                theta = tuple(trial.theta)
                pending += [self._new_task(g, c, i, a, theta) for i, a in trial.next_attempts()]
            elif self.store.candidate_result(g, c) is None:
                self.store.set_candidate_result(g, c, trial.status, trial.fitness)

        def finished(task: Task, worker_id: str, outcome: Outcome, event: Any) -> list[Task]:
            return self._finished(g, trials[task.candidate], task, outcome, event)

        JobRunner(
            self.executor,
            started=self._dispatched,
            finished=finished,
            worker_event=self._worker_event,
            tick=self._tick,
        ).run(pending)
        return [float(trial.fitness or 0.0) for trial in trials]

    def _tick(self) -> None:
        self._log_finished_generations()  # the previous generation's, once workers are busy
        if self.display:
            self.display.update(self.store)

    def _dispatched(self, task: Task, worker_id: str) -> None:
        """Journal a task the runner has just submitted.

        Submitted first, journaled second: the worker starts without waiting for an fsync. A
        crash in between loses nothing: an attempt with no finished row is simply run again.
        """
        device = self.executor.workers[worker_id]["device"]
        row = self.store.start_attempt(
            task.generation,
            task.candidate,
            task.attempt,
            task.seed,
            worker_id,
            device,
            seed_index=task.seed_index,
        )
        self._attempt_rows[task.task_id] = row
        self.store.update_worker(
            worker_id,
            state=WorkerState.BUSY,
            generation=task.generation,
            candidate=task.candidate,
            attempt=task.attempt,
        )

    def _worker_event(self, event: Any) -> None:
        store = self.store
        if isinstance(event, WorkerUp):
            store.update_worker(
                event.worker_id, state=WorkerState.IDLE, device=event.device, pid=event.pid
            )
            store.add_event("worker_started", f"{event.worker_id} ready on {event.device}")
            self._record_data_facts(getattr(event, "info", None) or {})
        elif isinstance(event, WorkerDown):
            store.update_worker(event.worker_id, state=WorkerState.DEAD)
            store.add_event("worker_died", f"{event.worker_id}: {event.reason}")

    def _finished(
        self, g: int, trial: Trial, task: Task, outcome: Outcome, event: Any
    ) -> list[Task]:
        """Journal a finished attempt, apply the fitness rules; return what runs next."""
        store = self.store
        row = self._attempt_rows.pop(task.task_id)
        if not isinstance(event, TaskLost):
            self.evaluated_any = True
            store.update_worker(
                event.worker_id,
                state=WorkerState.IDLE,
                last_status=outcome.status,
                last_fitness=outcome.fitness,
            )
        worker = "" if isinstance(event, TaskLost) else event.worker_id
        attempt = Attempt(
            number=task.attempt,
            seed=task.seed,
            outcome=outcome,
            infra_reruns=trial.infra_reruns(task.seed_index, task.attempt),
            worker=worker,
            seed_index=task.seed_index,
        )
        decision = trial.record(attempt)
        done = trial.done
        # The attempt and, when final, its candidate's result: one transaction.
        store.finish_attempt(
            row,
            outcome,
            candidate_status=trial.status if done else None,
            candidate_fitness=trial.fitness if done else None,
        )
        self._journal_decision(g, task, outcome, decision)
        if done and trial.fitness is not None and trial.fitness > self.best_fitness:
            self.best_fitness = trial.fitness
            store.add_event("new_best", f"new best fitness {trial.fitness:.4f}", g, task.candidate)
        if decision.action in ("rerun", "retry"):
            # First in line: a re-run or retry started late would hold the generation back.
            theta = tuple(trial.theta)
            return [self._new_task(g, task.candidate, task.seed_index, decision.attempt, theta)]
        return []

    def _journal_decision(self, g: int, task: Task, outcome: Outcome, decision: Any) -> None:
        """The event that says what the rules made of an attempt (nothing for a plain ``ok``)."""
        seeds = self.rules.seeds
        slot = f" (seed {task.seed_index + 1} of {seeds})" if seeds > 1 else ""
        where = f"attempt {task.attempt}{slot}: {outcome.status}" + (
            f" ({outcome.error})" if outcome.error else ""
        )
        add = self.store.add_event
        if decision.action == "rerun":
            add("infra", f"{where}; re-running it", g, task.candidate)
        elif decision.action == "retry":
            kind = "abort" if outcome.status == Status.ABORTED else "retry"
            add(kind, f"{where}; retrying with a new seed", g, task.candidate)
        elif outcome.status == Status.DIVERGED:
            add("divergence", where, g, task.candidate)
        elif decision.status != Status.OK and self.rules.rule == "every_attempt":
            kind = "abort" if decision.status == Status.ABORTED else "failure"
            add(kind, f"{where}; counts at {decision.fitness:.4f}", g, task.candidate)
        elif outcome.status != Status.OK or decision.status != Status.OK:
            add("failure", f"{where}; final ({decision.status})", g, task.candidate)

    def _record_data_facts(self, info: dict[str, Any]) -> None:
        """Keep what the first worker reports about its data (label noise) in the store's meta.

        Every worker builds the same data set, so the first report is the run's (a resumed run
        keeps the one it has); ``status`` and the monitor show it.
        """
        if self._label_noise_known or not info:
            return
        self._label_noise_known = True  # the first report is the run's: say its warnings once
        for warning in info.get("warnings", ()):
            say(f"warning: {warning}")
            self.store.add_event("info", f"warning: {warning}")
        noise = info.get("label_noise")
        if noise and "label_noise" not in self.store.meta():
            self.store.update_meta(label_noise=noise)

    def _finish_generation(self, g: int, oracle: Any) -> None:
        self.store.finish_generation(
            g,
            state_after=oracle.get_state(),
            mean=list(oracle.mean),
            sigma=float(oracle.sigma),
        )
        # The TensorBoard summary (a matplotlib render and a file write, ~0.1 s) is read once
        # the next generation's first attempts are out and written in a background thread:
        # done here, it idled every worker at the generation barrier (bench/NOTES.md §4).
        self._unlogged.append(g)
        if self.display:
            self.display.generation_done(self.store, g)

    def _generations_missing_from_tensorboard(self) -> list[int]:
        """On resume: finished generations whose summary the dead driver never wrote."""
        finished = [g.generation for g in self.store.generations() if g.finished]
        if not finished:
            return []
        from ..tensorboard import SearchLogger

        try:
            self._tensorboard = SearchLogger(self.store.run_dir)
            logged = self._tensorboard.logged_generations()
        except Exception:  # noqa: BLE001 - TensorBoard must never stop a search
            return []
        return [g for g in finished if g not in logged]

    def _log_finished_generations(self) -> None:
        """Writes the TensorBoard summaries of the generations finished since the last call."""
        if self._tensorboard_off:
            self._unlogged = []
        if not self._unlogged:
            return
        if self._tensorboard is None:
            try:
                from ..tensorboard import SearchLogger

                self._tensorboard = SearchLogger(self.store.run_dir)
            except Exception as error:  # noqa: BLE001 - TensorBoard must never stop a search
                # Also when a Ctrl-C broke TensorBoard's first import (this runs in the
                # ``finally`` of an interrupted search too): the interrupt must stay the one
                # error, not a half-imported module's AttributeError.
                _tensorboard_warning(error)
                self._tensorboard_off, self._unlogged = True, []
                return
        while self._unlogged:  # read now, rendered and written in a thread; never raises
            self._tensorboard.submit_generation(self.store, self._unlogged.pop(0))


def _tensorboard_warning(error: BaseException) -> None:
    """One line: this run's TensorBoard summaries stop here; the search does not."""
    text = " ".join(str(error).split()) or type(error).__name__
    say(f"warning: TensorBoard summaries stopped: {text}")


def _check_same_candidates(g: int, asked: list[Any], journaled: list[Any]) -> None:
    """Resume relies on ask() being reproducible from the saved state: verify it."""
    if len(asked) != len(journaled) or any(
        any(abs(a - b) > 1e-9 * max(1.0, abs(b)) for a, b in zip(x, y, strict=True))
        for x, y in zip(asked, journaled, strict=True)
    ):
        raise TaylorGLOError(
            f"generation {g}: the restored oracle proposed other candidates than the journal "
            "holds; the store was written by another version of keras-taylorglo"
        )
