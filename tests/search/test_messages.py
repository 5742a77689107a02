"""The typed driver <-> worker messages and the executor contract (search/messages.py)."""

from __future__ import annotations

import pickle

import pytest

from keras_taylorglo.outcomes import Outcome
from keras_taylorglo.search.messages import (
    Evaluate,
    Executor,
    Failed,
    Ready,
    Result,
    Stop,
    Task,
    TaskDone,
    TaskLost,
    Training,
)
from keras_taylorglo.search.worker import answer, serve


class _Evaluator:
    """Scores θ by its first value; θ[0] < 0 raises as an out-of-memory error would."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def evaluate(self, theta, seed, **options):
        self.calls.append((list(theta), seed, options))
        if theta[0] < 0:
            raise MemoryError("out of memory\nsecond line")
        return Outcome("ok", float(theta[0]), seconds=0.5)


class _Pipe:
    """One end of a pipe, as the worker sees it: what it receives, and what it sent."""

    def __init__(self, incoming):
        self.incoming = [pickle.loads(pickle.dumps(m)) for m in incoming]  # as over a real pipe
        self.sent = []

    def recv(self):
        if not self.incoming:
            raise EOFError
        return self.incoming.pop(0)

    def send(self, message):
        self.sent.append(pickle.loads(pickle.dumps(message)))


def test_a_task_becomes_a_request_with_its_options():
    search = Task(7, 2, 3, 0, 1234, (0.5, 1.0))
    assert Evaluate.of(search) == Evaluate(7, (0.5, 1.0), 1234, {})
    analysis = Training(
        8, run_index=0, rerun=0, seed=99, theta=(), loss="gce:0.7", select="best_validation"
    )
    assert Evaluate.of(analysis).options == {"loss": "gce:0.7", "select": "best_validation"}


def test_the_worker_loop_answers_each_request_and_stops():
    evaluator = _Evaluator()
    pipe = _Pipe(
        [Evaluate(1, (0.25, 0.0), 11), Evaluate(2, (-1.0,), 12), Stop(), Evaluate(3, (1.0,), 13)]
    )
    serve(pipe, evaluator)
    assert [type(m) for m in pipe.sent] == [Result, Failed]  # nothing after Stop
    result, failed = pipe.sent
    assert result.task_id == 1 and result.outcome["fitness"] == 0.25
    assert result.received <= result.finished
    assert failed == Failed(2, "MemoryError: out of memory")  # one line
    assert evaluator.calls == [([0.25, 0.0], 11, {}), ([-1.0], 12, {})]


def test_answers_become_the_executors_events():
    task = Task(5, 0, 1, 0, 42, (0.3,))
    done = answer(_Evaluator(), Evaluate.of(task)).event(task, "w0")
    assert isinstance(done, TaskDone) and done.task is task and done.worker_id == "w0"
    assert Outcome.from_dict(done.outcome).fitness == pytest.approx(0.3)
    lost = Failed(5, "MemoryError: x").event(task, "w1")
    assert lost == TaskLost(task, "w1", "MemoryError: x")


def test_the_end_of_the_pipe_ends_the_loop():
    serve(_Pipe([]), _Evaluator())  # the driver went away: returns, does not raise


def test_both_executors_implement_the_protocol():
    from keras_taylorglo.search.executors import LocalPool
    from keras_taylorglo.search.ray_executor import RayExecutor

    for cls in (LocalPool, RayExecutor):
        missing = [
            name
            for name in ("workers", "start", "idle_workers", "submit", "poll", "shutdown")
            if not hasattr(cls, name)
        ]
        assert missing == [], cls
    assert not isinstance(object(), Executor)
    assert Ready(1, "cpu").data == {}
