"""Run a search's attempts on a Ray cluster: warm worker actors, one per device group.

:class:`RayExecutor` is the Ray twin of :class:`~.executors.LocalPool`: the engine drives it the
same way and gets the same events, so the fitness rules, the store and exact resume are unchanged.

- Each worker is a Ray *actor* keeping one evaluator (data, model, compiled step) warm across
  candidates (plain Ray tasks with ``num_gpus > 0`` start a new process per call);
  :func:`plan_actors` decides them from the cluster's resources.
- An actor that dies (killed, out of memory, its node lost) or runs past ``evaluation.timeout`` is
  an infrastructure failure: its attempt is reported lost (the engine re-runs it on another
  actor) and a new actor is started.
- The driver owns the store; actors only compute. Losing the head node is
  :class:`ClusterLostError`, which leaves the run resumable.

Ray is optional (``pip install 'keras-taylorglo[ray]'``), imported only when an executor is built.
"""

from __future__ import annotations

import contextlib
import math
import os
import socket
import time
from dataclasses import dataclass, field
from typing import Any

from ..errors import ClusterLostError as ClusterLostError
from ..errors import TaylorGLOError
from . import executors
from .executors import SlotExecutor
from .messages import AnyTask, Evaluate, Failed, Fatal, Ready, Result, StartFailed, WorkerUp
from .worker import WorkerSpec, answer, start_evaluator

# Idle actors are pinged this often (seconds) so that one that died while idle (its node was lost,
# the OOM killer chose it) is replaced before an attempt is sent to it.
PING_INTERVAL = 5.0
# The head's GCS is probed this often (seconds); refusing connections for HEAD_LOST_AFTER seconds
# is a lost cluster, well before Ray's own limit (60 s) where it ends the driver with a C++ abort.
HEAD_CHECK_INTERVAL = 1.0
HEAD_LOST_AFTER = 10.0


class RayWorker:
    """The body of one worker actor (wrapped with ``ray.remote`` by :class:`RayExecutor`).

    The evaluator is built in :meth:`start`, not ``__init__``: a recipe or data problem is then
    a :class:`~.messages.StartFailed`, not an actor that Ray reports as a generic death.

    Args:
        spec: What to build; ``spec.env`` is applied before TensorFlow is imported.
    """

    def __init__(self, spec: WorkerSpec) -> None:
        self.spec = spec
        self.evaluator: Any = None

    def start(self) -> Ready | StartFailed:
        """Build the evaluator (:func:`~.worker.start_evaluator`): Ready, or StartFailed."""
        os.environ.update(self.spec.env)
        self.evaluator, message = start_evaluator(self.spec, _describe_device(self.spec.device))
        return message

    def evaluate(self, request: Evaluate) -> Result | Failed:
        """Score one attempt warm (:func:`~.worker.answer`), as a local worker does."""
        return answer(self.evaluator, request)

    def ping(self) -> int:
        """Answer a liveness check with the actor's process id."""
        return os.getpid()


def _describe_device(planned: str) -> str:
    """Say where this actor runs, for people: ``gpu:0,1@10.0.0.5`` or ``cpu@10.0.0.5``."""
    import ray

    try:
        node = ray.util.get_node_ip_address()
    except Exception:  # only a label: never fail a worker over it
        node = "?"
    ids = ",".join(map(str, ray.get_gpu_ids()))
    return f"cpu@{node}" if planned == "cpu" else f"gpu:{ids}@{node}"


@dataclass
class _ActorSlot:
    spec: WorkerSpec
    num_gpus: float
    num_cpus: float
    actor: Any = None
    device: str = ""
    pid: int = 0
    ready: bool = False
    task: AnyTask | None = None
    task_started: float = 0.0
    start_failures: int = 0
    incarnation: int = 0
    last_ping: float = 0.0
    kill_requested: bool = False
    respawn: bool = False  # a replacement is due once the head answers again
    refs: set[Any] = field(default_factory=set)


class RayExecutor(SlotExecutor):
    """Warm worker actors on a Ray cluster, driven like :class:`~.executors.LocalPool`.

    Args:
        recipe_text: The resolved recipe TOML the actors parse.
        recipe_source: The recipe's path as given (for messages).
        base_dir: The recipe's directory: relative paths and ``module:function`` fitness names
            resolve against it, on every node (made absolute here).
        execution: The recipe's ``[execution]`` section (``ray_address``, ``devices``,
            ``gpus_per_worker``, ``workers_per_gpu``, ``workers``).
        timeout: Seconds one attempt may take before its actor is killed (0 = no limit).
        env: Extra environment variables for the actors, set before the evaluator is built
            (an actor's environment is the cluster's, not the driver's).
        num_cpus: CPUs of a Ray started by this executor (``ray_address = ""``); default: all.
        purpose: What the actors evaluate: ``"search"`` (the recipe's fitness) or ``"analysis"``
            (full trainings on the test split), as for :class:`~.executors.LocalPool`.

    Raises:
        TaylorGLOError: Ray is not installed (one line saying how to install it).
    """

    def __init__(
        self,
        recipe_text: str,
        recipe_source: str,
        base_dir: str,
        execution: Any,
        timeout: float = 0.0,
        *,
        env: dict[str, str] | None = None,
        num_cpus: int | None = None,
        purpose: str = "search",
    ) -> None:
        self._ray = executors.require_ray()
        self.recipe_text = recipe_text
        self.recipe_source = recipe_source
        self.base_dir = os.path.abspath(base_dir)
        self.execution = execution
        self.timeout = float(timeout or 0.0)
        self.env = dict(env or {})
        self.num_cpus = num_cpus
        self.purpose = purpose
        self._slots: dict[str, _ActorSlot] = {}
        self._refs: dict[Any, tuple[str, str, int]] = {}
        self._owns_ray = False
        self._actor_class: Any = None
        self._gcs = ""  # host:port of the head's GCS, probed by _check_head
        self._head_checked = 0.0
        self._head_down_since: float | None = None

    @classmethod
    def from_recipe(cls, recipe: Any, **kwargs: Any) -> RayExecutor:
        """Build the executor a recipe asks for (its ``[execution]`` and ``evaluation.timeout``).

        Args:
            recipe: A validated recipe; the actors build their evaluators from its resolved TOML.
            **kwargs: ``env``, ``num_cpus`` and ``purpose``, as for the constructor.

        Returns:
            The executor, not yet started.
        """
        ex, timeout = recipe.execution, recipe.evaluation.timeout
        return cls(recipe.to_toml(), recipe.source, str(recipe.base_dir), ex, timeout, **kwargs)

    def start(self) -> None:
        """Connect to (or start) Ray, plan the actors from the cluster's resources, start them.

        Raises:
            TaylorGLOError: The cluster at ``execution.ray_address`` cannot be reached, or has
                too few GPUs for one worker.
        """
        self._connect()
        self._actor_class = self._ray.remote(RayWorker)
        plan = plan_actors(self.execution, self._ray.cluster_resources())
        for i, (device, env, threads, num_gpus, num_cpus) in enumerate(plan):
            worker_id = f"r{i}"
            spec = WorkerSpec(
                worker_id, self.recipe_text, self.recipe_source, self.base_dir, device,
                env={**env, **self.env}, threads=threads, purpose=self.purpose,
            )  # fmt: skip
            self._slots[worker_id] = _ActorSlot(spec=spec, num_gpus=num_gpus, num_cpus=num_cpus)
        self._spawn_all()

    def _send(self, worker_id: str, slot: Any, request: Evaluate) -> None:
        self._track(slot.actor.evaluate.remote(request), worker_id, "eval")

    def kill_worker(self, worker_id: str) -> None:
        """Kill one worker actor (tests; any thread): :meth:`poll` reports it, starts a new one.

        Args:
            worker_id: The worker to kill.
        """
        slot = self._slots[worker_id]
        slot.kill_requested = True  # an idle actor has nothing in flight: poll pings it
        if slot.actor is not None:
            self._ray.kill(slot.actor, no_restart=True)

    def poll(self, timeout: float = 1.0) -> list[Any]:
        """Wait up to ``timeout`` seconds for something to happen.

        Args:
            timeout: Seconds to wait when nothing is ready.

        Returns:
            The events that happened, possibly none.

        Raises:
            ClusterLostError: The head's GCS refused connections for :data:`HEAD_LOST_AFTER` s.
        """
        self._check_head()
        events = self._check_timeouts()
        self._ping_idle()
        if not self._refs:
            if not events:
                time.sleep(self._wait_budget(timeout))
            return events
        refs = list(self._refs)
        budget = 0 if events else self._wait_budget(timeout)
        ready, _ = self._ray.wait(refs, num_returns=1, timeout=budget)
        if ready:
            ready, _ = self._ray.wait(refs, num_returns=len(refs), timeout=0)
        for ref in ready:
            if ref not in self._refs:
                continue  # dropped with its actor earlier in this batch
            events.extend(self._resolve(ref))
        return events

    def shutdown(self, kill: bool = False) -> None:
        """Kill every worker actor (they hold nothing to save) and a Ray this executor started.

        Args:
            kill: Accepted for the executor interface; actors are always killed at once.
        """
        head_up = self._head_reachable()
        for slot in self._slots.values():
            if slot.actor is not None and head_up:
                with contextlib.suppress(Exception):  # already gone, or Ray is going down
                    self._ray.kill(slot.actor, no_restart=True)
            slot.actor, slot.ready, slot.task = None, False, None
            slot.refs.clear()
        self._refs.clear()
        if self._owns_ray:
            self._ray.shutdown()
            self._owns_ray = False

    def _connect(self) -> None:
        ray = self._ray
        address = self.execution.ray_address
        if not ray.is_initialized():  # else e.g. tests, or a notebook that called ray.init
            try:
                if address:
                    ray.init(address=address)
                else:
                    ray.init(num_cpus=self.num_cpus or os.cpu_count() or 1, include_dashboard=False)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                if not address:
                    raise
                first = next(iter(str(exc).strip().splitlines()), "") or type(exc).__name__
                raise TaylorGLOError(
                    f"execution.ray_address = {address!r}: cannot connect to a Ray cluster "
                    f'({first}); start one with `ray start --head` or set ray_address = "" to '
                    "start a local Ray"
                ) from None
            self._owns_ray = True
        self._gcs = ray.get_runtime_context().gcs_address

    def _check_head(self) -> None:
        # Ray only notices at its 60 s limit and then ends the process; a refused TCP connection
        # to the GCS port says at once that the head is gone (or restarting: hence the grace).
        now = time.monotonic()
        if not self._gcs or now - self._head_checked < HEAD_CHECK_INTERVAL:
            return
        if self._head_reachable():
            for worker_id in [w for w, slot in self._slots.items() if slot.respawn]:
                self._spawn(worker_id)
            return
        if now - (self._head_down_since or now) < HEAD_LOST_AFTER:
            return
        address = self.execution.ray_address or self._gcs
        raise ClusterLostError(
            f"execution.ray_address = {address!r}: lost the Ray cluster's head node (its GCS at "
            f"{self._gcs} refused connections for {HEAD_LOST_AFTER:g} s)"
        )

    def _head_reachable(self) -> bool:
        # Probed before the Ray calls that block while the GCS is down (ray.kill, a new actor).
        up = not self._gcs or _accepts_connections(self._gcs)
        self._head_checked = now = time.monotonic()
        self._head_down_since = None if up else (self._head_down_since or now)
        return up

    def _spawn(self, worker_id: str) -> None:
        slot = self._slots[worker_id]
        slot.incarnation += 1
        slot.actor = self._actor_class.options(
            num_gpus=slot.num_gpus,
            num_cpus=slot.num_cpus,
            max_restarts=0,  # a new actor is started here, with its own bookkeeping
            max_task_retries=0,  # a lost attempt is the engine's to re-run, not Ray's
        ).remote(slot.spec)
        slot.ready, slot.task, slot.pid, slot.device = False, None, 0, ""
        slot.kill_requested = slot.respawn = False
        slot.last_ping = time.monotonic()
        self._track(slot.actor.start.remote(), worker_id, "start")

    def _track(self, ref: Any, worker_id: str, kind: str) -> None:
        slot = self._slots[worker_id]
        self._refs[ref] = (worker_id, kind, slot.incarnation)
        slot.refs.add(ref)

    def _resolve(self, ref: Any) -> list[Any]:
        worker_id, kind, incarnation = self._refs.pop(ref)
        slot = self._slots[worker_id]
        slot.refs.discard(ref)
        if incarnation != slot.incarnation:
            return []  # an answer from an actor already replaced
        try:
            value = self._ray.get(ref)
        except self._ray.exceptions.RayError as exc:
            return self._handle_death(worker_id, describe_ray_error(exc))
        if kind == "start":
            if isinstance(value, StartFailed):
                return [Fatal(value.message)]
            slot.ready, slot.start_failures = True, 0
            slot.pid, slot.device = value.pid, value.device
            return [WorkerUp(worker_id, slot.device, slot.pid, value.data)]
        if kind == "eval":
            task, slot.task = slot.task, None
            return [] if task is None else [value.event(task, worker_id)]
        return []  # a ping answered: the actor lives

    def _handle_death(self, worker_id: str, reason: str) -> list[Any]:
        slot = self._slots[worker_id]
        head_up = self._head_reachable()
        if slot.actor is not None and head_up:
            with contextlib.suppress(Exception):  # already dead
                self._ray.kill(slot.actor, no_restart=True)
        for ref in slot.refs:
            self._refs.pop(ref, None)
        slot.refs, slot.actor = set(), None
        events, replace = executors.death_events(worker_id, slot, reason)
        slot.respawn = replace and not head_up
        if replace and head_up:
            self._spawn(worker_id)
        return events

    def _ping_idle(self) -> None:
        now = time.monotonic()
        for worker_id, slot in self._slots.items():
            if slot.actor is None or slot.refs:
                continue
            if slot.kill_requested or now - slot.last_ping > PING_INTERVAL:
                slot.last_ping = now
                self._track(slot.actor.ping.remote(), worker_id, "ping")


def plan_actors(
    execution: Any, resources: dict[str, float]
) -> list[tuple[str, dict[str, str], int, float, float]]:
    """Decide the worker actors from the cluster's resources (Ray places them on the nodes).

    GPUs: one actor per ``gpus_per_worker`` GPUs of the cluster, or ``workers_per_gpu = N``
    actors per GPU, each asking for ``1/N`` of one (Ray's fractional GPUs; each limits its memory
    to its share, :func:`~.worker.gpu_memory_plan`). No GPUs (or ``devices = "cpu"``): half the
    CPUs (at most 4), threads capped not to oversubscribe the cores. ``workers`` caps the count.

    Args:
        execution: The recipe's ``[execution]`` section.
        resources: The cluster's resources, as ``ray.cluster_resources()`` gives them.

    Returns:
        One ``(device, env, threads, num_gpus, num_cpus)`` per actor.

    Raises:
        TaylorGLOError: The cluster has fewer GPUs than one worker needs.

    Example:
        >>> ex = ExecutionConfig(executor="ray", workers_per_gpu=2)
        >>> [a[3] for a in plan_actors(ex, {"CPU": 8.0, "GPU": 2.0})]
        [0.5, 0.5, 0.5, 0.5]
    """
    gpus = int(resources.get("GPU", 0)) if execution.devices != "cpu" else 0
    cpus = max(1, int(resources.get("CPU", 1)))
    per = execution.gpus_per_worker
    # Workers share single GPUs only (the recipe's validation refuses sharing groups of several).
    sharing = execution.workers_per_gpu if per == 1 else 1
    if 0 < gpus < per:
        raise TaylorGLOError(
            f"execution.gpus_per_worker = {per}: the Ray cluster has only {gpus} GPU(s); "
            f'use a value from 1 to {gpus}, or devices = "cpu"'
        )
    if gpus >= per:
        count = (gpus // per) * sharing
        if execution.workers:
            count = min(count, execution.workers)
        # 1/N, rounded down to Ray's resource precision (1e-4) so that N of them fit in one GPU.
        num_gpus = float(per) if sharing == 1 else math.floor(1e4 / sharing) / 1e4
        return [("gpu", {}, 0, num_gpus, min(1.0, cpus / count)) for _ in range(count)]
    count = execution.workers or max(1, min(4, cpus // 2))
    threads = max(1, cpus // count)
    env = {"CUDA_VISIBLE_DEVICES": "-1", "OMP_NUM_THREADS": str(threads)}
    env.update(TF_NUM_INTRAOP_THREADS=str(threads), TF_NUM_INTEROP_THREADS="1")
    # One CPU each reserves a core per actor; more actors than CPUs share them (fractions), so
    # that every actor can be placed and none waits forever for resources.
    return [("cpu", dict(env), threads, 0.0, min(1.0, cpus / count)) for _ in range(count)]


def _accepts_connections(address: str, timeout: float = 2.0) -> bool:
    """Whether ``host:port`` (``[v6]:port`` too) accepts a TCP connection within ``timeout`` s."""
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            return True
    except (OSError, ValueError):
        return False


def describe_ray_error(exc: BaseException) -> str:
    """Say in one line why a Ray call failed (Ray's own messages run to many lines).

    Args:
        exc: A ``ray.exceptions.RayError``.

    Returns:
        E.g. ``"worker actor died: it was killed by `ray.kill`"``, or ``"RuntimeError: boom"``.
    """
    lines, name = [ln.strip() for ln in str(exc).splitlines() if ln.strip()], type(exc).__name__
    if "Actor" in name or "Worker" in name or "OutOfMemory" in name:
        for line in lines:
            if line.startswith(dead := "The actor is dead because "):
                return f"worker actor died: {line[len(dead) :].split('. ')[0].rstrip('.')}"[:300]
        if "OutOfMemory" in name:
            return "worker actor killed: out of memory"
        if name == "ActorUnavailableError":
            # A lost node often reads so before Ray declares the actor dead; it is handled the
            # same way (the attempt re-runs elsewhere and the actor is replaced).
            return f"worker actor died or is unreachable: {lines[0] if lines else name}"[:300]
    return f"{name}: {lines[0]}"[:300] if lines else name
