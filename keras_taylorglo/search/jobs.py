"""One job runner over an executor, shared by the search engine and the analysis.

Both hand tasks to idle workers, journal each as it starts, turn the executor's events into
outcomes, and put what must run again first in line. What differs (what a result means, what
is journaled) are the callbacks; the loop, the event handling and the executor's construction
are here once.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from ..errors import TaylorGLOError
from ..outcomes import Outcome, Status
from .messages import AnyTask, Executor, Fatal, TaskDone, TaskLost, WorkerDown, WorkerUp

__all__ = ["JobRunner", "make_executor"]

# How long one poll of the executor waits for events (the loop's heartbeat).
POLL_S = 0.5


def make_executor(recipe: Any, recipe_text: str, purpose: str = "search") -> Any:
    """Build the executor the recipe's ``[execution]`` section asks for.

    Args:
        recipe: The validated recipe.
        recipe_text: The resolved recipe TOML the workers parse.
        purpose: ``"search"`` (workers evaluate candidates under ``evaluation.timeout``) or
            ``"analysis"`` (full trainings, no per-attempt timeout).

    Returns:
        A :class:`~.executors.LocalPool` or a :class:`~.ray_executor.RayExecutor`, not started.
    """
    ex = recipe.execution
    args = (recipe_text, recipe.source, str(recipe.base_dir), ex)
    if ex.executor == "ray":
        from .ray_executor import RayExecutor as Executor
    else:
        from .executors import LocalPool as Executor
    if purpose == "search":
        return Executor(*args, recipe.evaluation.timeout)
    return Executor(*args, purpose=purpose)


class JobRunner:
    """Run tasks on an executor until none is pending or running.

    Args:
        executor: A started executor (``idle_workers``, ``submit``, ``poll``, ``workers``).
        started: Called as ``started(task, worker_id)`` right after a task is submitted (the
            caller journals it: submit first, so the worker does not wait for an fsync).
        finished: Called as ``finished(task, worker_id, outcome, event)`` when a task ends
            (a lost task as an ``infra`` outcome); returns the tasks to run next, first in line
            (a re-run or a retry), or nothing.
        worker_event: Called with each :class:`WorkerUp` and :class:`WorkerDown`.
        tick: Called once per loop, after the dispatches and before the executor is polled
            (a progress redraw, the TensorBoard summary of a finished generation).

    Raises:
        TaylorGLOError: From :meth:`run`, when the executor reports a :class:`Fatal` event.
    """

    def __init__(
        self,
        executor: Executor,
        started: Callable[[AnyTask, str], None],
        finished: Callable[[AnyTask, str, Outcome, Any], Iterable[AnyTask] | None],
        worker_event: Callable[[Any], None] | None = None,
        tick: Callable[[], None] | None = None,
    ) -> None:
        self.executor = executor
        self._started = started
        self._finished = finished
        self._worker_event = worker_event
        self._tick = tick
        self.pending: deque[AnyTask] = deque()
        self.running: dict[int, AnyTask] = {}

    def run(self, tasks: Iterable[AnyTask] = ()) -> None:
        """Run ``tasks`` (and whatever their results queue) to the end."""
        self.pending.extend(tasks)
        while self.pending or self.running:
            for worker_id in self.executor.idle_workers():
                if not self.pending:
                    break
                task = self.pending.popleft()
                self.executor.submit(task, worker_id)
                self.running[task.task_id] = task
                self._started(task, worker_id)
            if self._tick is not None:
                # Once the idle workers have work and before waiting: slow bookkeeping here
                # (a progress redraw, a TensorBoard summary) never delays a dispatch.
                self._tick()
            for event in self.executor.poll(POLL_S):
                self._handle(event)

    def _handle(self, event: Any) -> None:
        if isinstance(event, Fatal):
            raise TaylorGLOError(event.message)
        if isinstance(event, (WorkerUp, WorkerDown)):
            if self._worker_event is not None:
                self._worker_event(event)
            return
        if not isinstance(event, (TaskDone, TaskLost)):
            return
        task = self.running.pop(event.task.task_id)
        if isinstance(event, TaskLost):
            outcome = Outcome(Status.INFRA, 0.0, error=event.reason)
        else:
            outcome = Outcome.from_dict(event.outcome)
        again = self._finished(task, event.worker_id, outcome, event) or ()
        # First in line, in the order given: a re-run started late holds everything back.
        self.pending.extendleft(reversed(list(again)))
