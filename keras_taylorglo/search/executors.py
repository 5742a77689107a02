"""Executors run attempts; they never decide what to try (the engine and oracle do).

:class:`LocalPool` keeps one long-lived worker process per device group on this machine; it and
the Ray executor implement :class:`~.messages.Executor` (``start``, ``idle_workers``,
``submit``, ``poll -> events``, ``shutdown``, ``workers``) and share, in :class:`SlotExecutor`,
the worker slots, the timeout and poll-budget rules and what a worker's death means
(:func:`death_events`). The events and the pipe messages are the typed records of
:mod:`.messages`.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from typing import Any

from ..errors import TaylorGLOError
from ..stopping import sigint_deferred
from .messages import (
    AnyTask,
    Evaluate,
    Failed,
    Fatal,
    Ready,
    Result,
    StartFailed,
    Stop,
    TaskLost,
    WorkerDown,
    WorkerUp,
)
from .worker import WorkerSpec, worker_main

# A worker that dies before it is ready this many times in a row is a crash loop, not bad luck.
MAX_START_FAILURES = 3


@dataclass
class _Slot:
    spec: WorkerSpec
    process: Any = None
    conn: Any = None
    ready: bool = False
    task: AnyTask | None = None
    task_started: float = 0.0
    start_failures: int = 0
    pid: int = 0
    incarnation: int = 0
    pending: list[Any] = field(default_factory=list)


# ------------------------------------------------------------------------------- device groups


def detect_gpus() -> list[int]:
    """GPU indices visible to this process, found without importing TensorFlow.

    ``CUDA_VISIBLE_DEVICES`` wins when set; otherwise ``nvidia-smi -L`` is asked.

    Returns:
        The GPU indices (empty on a machine without NVIDIA GPUs).
    """
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [
            int(v) for v in visible.split(",") if v.strip().lstrip("-").isdigit() and int(v) >= 0
        ]
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        out = subprocess.run(
            ["nvidia-smi", "-L"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [i for i, line in enumerate(out.splitlines()) if line.startswith("GPU ")]


def plan_workers(execution: Any, source: str = "<recipe>") -> list[tuple[str, dict[str, str], int]]:
    """Decide the worker processes: ``workers_per_gpu`` per device group, or CPU processes.

    Workers sharing a GPU are spread over the GPUs first (w0 on GPU 0, w1 on GPU 1, …), so that
    ``workers = N`` caps them evenly; each worker limits its own memory (see
    :func:`~.worker.gpu_memory_plan`).

    Args:
        execution: The recipe's ``[execution]`` section.
        source: The recipe file, for error messages.

    Returns:
        One ``(device label, environment, cpu threads)`` triple per worker.

    Raises:
        TaylorGLOError: The devices cannot be split into groups of ``gpus_per_worker``, or
            workers would share groups of several GPUs.
    """
    from ..errors import RecipeError

    devices = execution.devices
    if devices == "auto":
        gpus = detect_gpus()
    elif devices == "cpu":
        gpus = []
    else:
        gpus = list(devices)
    if not gpus:
        cores = os.cpu_count() or 1
        count = execution.workers or max(1, min(4, cores // 2))
        threads = max(1, cores // count)
        env = {
            "CUDA_VISIBLE_DEVICES": "-1",
            "OMP_NUM_THREADS": str(threads),
            "TF_NUM_INTRAOP_THREADS": str(threads),
            "TF_NUM_INTEROP_THREADS": "1",
        }
        return [("cpu", dict(env), threads) for _ in range(count)]
    per = execution.gpus_per_worker
    if len(gpus) % per:
        raise RecipeError(
            source,
            "execution.gpus_per_worker",
            f"{len(gpus)} GPUs {gpus} cannot be split into groups of {per}",
            per,
            f"a divisor of {len(gpus)}",
        )
    sharing = execution.workers_per_gpu
    if sharing > 1 and per > 1:
        raise RecipeError(
            source,
            "execution.workers_per_gpu",
            f"workers cannot share GPUs when each worker has {per} of them (gpus_per_worker)",
            sharing,
            "1 with gpus_per_worker > 1",
        )
    groups = [gpus[i : i + per] for i in range(0, len(gpus), per)] * sharing
    if execution.workers:
        groups = groups[: execution.workers]
    plan = []
    for group in groups:
        ids = ",".join(str(g) for g in group)
        plan.append((f"gpu:{ids}", {"CUDA_VISIBLE_DEVICES": ids}, 0))
    return plan


# ---------------------------------------------------------------------------------- the pool


class SlotExecutor:
    """What the local pool and the Ray executor share: worker slots that are idle or busy.

    Subclasses keep ``self._slots``: worker id → a slot with ``ready``, ``task`` and
    ``task_started``, and ``self.timeout`` (``evaluation.timeout``, 0 = none); they say how a
    worker's death is handled (``_handle_death``). The timeout and poll-budget rules are here
    once for both.
    """

    _slots: dict[str, Any]
    timeout: float = 0.0

    def idle_workers(self) -> list[str]:
        """Workers that are ready and have no task."""
        return [w for w, s in self._slots.items() if s.ready and s.task is None]

    @property
    def size(self) -> int:
        """Number of worker slots (a Ray executor knows them after ``start``)."""
        return len(self._slots)

    @property
    def workers(self) -> dict[str, dict[str, Any]]:
        """A description of each worker: device, pid, ready, current task."""
        return {
            wid: {
                # A Ray actor says where it landed (its node) once it is up.
                "device": getattr(slot, "device", "") or slot.spec.device,
                "pid": slot.pid,
                "ready": slot.ready,
                "task": slot.task,
            }
            for wid, slot in self._slots.items()
        }

    def submit(self, task: AnyTask, worker_id: str) -> None:
        """Send a task to an idle worker.

        Args:
            task: The attempt to run.
            worker_id: One of :meth:`idle_workers`.
        """
        slot = self._slots[worker_id]
        assert slot.ready and slot.task is None, f"{worker_id} is not idle"
        slot.task = task
        slot.task_started = time.monotonic()
        self._send(worker_id, slot, Evaluate.of(task))

    def _send(self, worker_id: str, slot: Any, request: Evaluate) -> None:
        raise NotImplementedError

    def _spawn(self, worker_id: str) -> None:
        raise NotImplementedError

    def _spawn_all(self) -> None:
        for worker_id in self._slots:
            self._spawn(worker_id)

    def _wait_budget(self, timeout: float) -> float:
        """How long a poll may wait: no longer than the first running task has left."""
        busy = [s.task_started for s in self._slots.values() if s.task is not None]
        if not self.timeout or not busy:
            return timeout
        return max(0.0, min(timeout, self.timeout - (time.monotonic() - min(busy))))

    def _check_timeouts(self) -> list[Any]:
        """Tasks past ``evaluation.timeout``: their workers are killed, the tasks are lost."""
        events: list[Any] = []
        now = time.monotonic()
        for worker_id, slot in self._slots.items():
            if self.timeout and slot.task is not None and now - slot.task_started > self.timeout:
                events.extend(self._timed_out(worker_id, f"timeout after {self.timeout:g} s"))
        return events

    def _timed_out(self, worker_id: str, reason: str) -> list[Any]:
        return self._handle_death(worker_id, reason)

    def _handle_death(self, worker_id: str, reason: str) -> list[Any]:
        raise NotImplementedError


class LocalPool(SlotExecutor):
    """One warm worker process per device group on this machine.

    Args:
        recipe_text: The resolved recipe TOML.
        recipe_source: The recipe's path as given (for messages).
        base_dir: The recipe's directory.
        execution: The recipe's ``[execution]`` section.
        timeout: Seconds one attempt may take before its worker is killed (0 = no limit).
        start_method: ``multiprocessing`` start method; ``spawn`` because TensorFlow is not
            fork-safe.
        purpose: What the workers evaluate: ``"search"`` (the recipe's fitness) or
            ``"analysis"`` (full trainings on the test split; an empty θ is the cross-entropy
            baseline). See :class:`~.worker.WorkerSpec`.

    Example:
        >>> pool = LocalPool(text, "recipes/digits.toml", ".", recipe.execution)
        >>> pool.start()
        >>> pool.submit(task, pool.idle_workers()[0])
        >>> events = pool.poll(1.0)
    """

    def __init__(
        self,
        recipe_text: str,
        recipe_source: str,
        base_dir: str,
        execution: Any,
        timeout: float = 0.0,
        start_method: str = "spawn",
        purpose: str = "search",
    ) -> None:
        self._ctx = mp.get_context(start_method)
        self.timeout = float(timeout or 0.0)
        self._slots: dict[str, _Slot] = {}
        for i, (device, env, threads) in enumerate(plan_workers(execution, recipe_source)):
            worker_id = f"w{i}"
            spec = WorkerSpec(
                worker_id=worker_id,
                recipe_text=recipe_text,
                recipe_source=recipe_source,
                base_dir=str(base_dir),
                device=device,
                env=env,
                threads=threads,
                purpose=purpose,
            )
            self._slots[worker_id] = _Slot(spec=spec)

    # ------------------------------------------------------------------------------ public

    def start(self) -> None:
        """Start every worker process (they build their evaluators in parallel)."""
        self._spawn_all()

    def _send(self, worker_id: str, slot: Any, request: Evaluate) -> None:
        try:
            slot.conn.send(request)
        except (BrokenPipeError, OSError):
            pass  # the worker just died: poll() reports it and the task as lost

    def kill_worker(self, worker_id: str) -> None:
        """SIGKILL one worker (tests and timeouts); poll() then reports it.

        Args:
            worker_id: The worker to kill.
        """
        slot = self._slots[worker_id]
        if slot.process is not None and slot.process.is_alive():
            slot.process.kill()

    def poll(self, timeout: float = 1.0) -> list[Any]:
        """Wait up to ``timeout`` seconds for something to happen.

        Args:
            timeout: Seconds to wait when nothing is ready.

        Returns:
            The events that happened, possibly none.
        """
        events: list[Any] = []
        for slot in self._slots.values():
            events.extend(slot.pending)
            slot.pending.clear()
        events.extend(self._check_timeouts())
        waitables: dict[Any, tuple[str, str]] = {}
        for worker_id, slot in self._slots.items():
            if slot.process is None:
                continue
            waitables[slot.conn] = (worker_id, "conn")
            waitables[slot.process.sentinel] = (worker_id, "sentinel")
        if not waitables:
            return events
        ready = wait(list(waitables), timeout=0 if events else self._wait_budget(timeout))
        dead: set[str] = set()
        for obj in ready:
            worker_id, kind = waitables[obj]
            if kind == "conn":
                events.extend(self._drain(worker_id))
            else:
                dead.add(worker_id)
        for worker_id in dead:
            events.extend(self._drain(worker_id))  # a result sent just before dying still counts
            events.extend(self._handle_death(worker_id))
        return events

    def shutdown(self, kill: bool = False) -> None:
        """Stop every worker.

        Args:
            kill: Kill at once instead of asking them to finish politely.
        """
        for slot in self._slots.values():
            if slot.process is None:
                continue
            if not kill:
                try:
                    slot.conn.send(Stop())
                except (BrokenPipeError, OSError):
                    pass
        deadline = time.monotonic() + (0 if kill else 5.0)
        for slot in self._slots.values():
            if slot.process is None:
                continue
            slot.process.join(max(0.0, deadline - time.monotonic()))
            if slot.process.is_alive():
                slot.process.kill()
                slot.process.join(5.0)
            slot.conn.close()
            slot.process = None

    # ----------------------------------------------------------------------------- private

    def _spawn(self, worker_id: str) -> None:
        slot = self._slots[worker_id]
        parent_conn, child_conn = self._ctx.Pipe(duplex=True)
        process = self._ctx.Process(
            target=worker_main,
            args=(child_conn, slot.spec),
            name=f"taylorglo-{worker_id}",
            daemon=True,
        )
        with sigint_deferred():  # a Ctrl-C while the worker starts waits until it ignores SIGINT
            process.start()
        child_conn.close()
        slot.process, slot.conn = process, parent_conn
        slot.ready, slot.task, slot.pid = False, None, process.pid or 0
        slot.incarnation += 1

    def _drain(self, worker_id: str) -> list[Any]:
        slot = self._slots[worker_id]
        events: list[Any] = []
        while slot.conn is not None:
            try:
                if not slot.conn.poll():
                    break
                message = slot.conn.recv()
            except (EOFError, OSError):
                break
            if isinstance(message, Ready):
                slot.ready, slot.start_failures = True, 0
                slot.pid = message.pid or slot.pid
                events.append(WorkerUp(worker_id, slot.spec.device, slot.pid, message.data))
            elif isinstance(message, StartFailed):
                events.append(Fatal(message.message))
            elif isinstance(message, (Result, Failed)):
                task = slot.task
                if task is None or task.task_id != message.task_id:
                    continue  # a stale answer from before a timeout: ignore
                slot.task = None
                events.append(message.event(task, worker_id))
        return events

    def _handle_death(self, worker_id: str, reason: str | None = None) -> list[Any]:
        slot = self._slots[worker_id]
        process = slot.process
        if process is None:
            return []
        process.join(1.0)
        code = process.exitcode
        if reason is None:
            reason = _describe_exit(code)
        slot.conn.close()
        slot.process = None
        events, replace = death_events(worker_id, slot, reason)
        if replace:
            self._spawn(worker_id)
        return events

    def _timed_out(self, worker_id: str, reason: str) -> list[Any]:
        self.kill_worker(worker_id)
        process = self._slots[worker_id].process
        if process is not None:
            process.join(5.0)
        return self._handle_death(worker_id, reason)


def death_events(worker_id: str, slot: Any, reason: str) -> tuple[list[Any], bool]:
    """What a dead worker means, for any executor whose slots have task/ready/start_failures.

    Its attempt (if any) is lost to the infrastructure and the worker is down. A worker that
    keeps dying before it is ready is a crash loop, not bad luck: the search must stop.

    Args:
        worker_id: The dead worker.
        slot: Its slot (``task``, ``ready``, ``start_failures`` and ``spec.device``); ``task`` and
            ``ready`` are cleared.
        reason: How it died, in words.

    Returns:
        The events, and whether a replacement should be started.
    """
    events: list[Any] = []
    if slot.task is not None:
        events.append(TaskLost(slot.task, worker_id, reason))
    events.append(WorkerDown(worker_id, reason))
    was_ready = slot.ready
    slot.task, slot.ready = None, False
    if not was_ready:
        slot.start_failures += 1
        if slot.start_failures >= MAX_START_FAILURES:
            events.append(
                Fatal(
                    f"worker {worker_id} ({slot.spec.device}) died {slot.start_failures} "
                    f"times while starting ({reason})"
                )
            )
            return events, False
    return events, True


def _describe_exit(code: int | None) -> str:
    """Say how a worker process ended, in words."""
    if code is None:
        return "worker stopped answering"
    if code < 0:
        import signal

        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = str(-code)
        hint = " (out of memory?)" if name == "SIGKILL" else ""
        return f"worker killed by {name}{hint}"
    return f"worker exited with status {code}"


def require_ray() -> Any:
    """Import Ray or explain in one line how to install it.

    Returns:
        The ``ray`` module.

    Raises:
        TaylorGLOError: Ray is not installed.
    """
    try:
        import ray
    except ImportError:
        raise TaylorGLOError(
            "execution.executor = 'ray' needs Ray: pip install 'keras-taylorglo[ray]'"
        ) from None
    return ray
