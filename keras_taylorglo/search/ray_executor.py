"""Run a search's attempts on a Ray cluster: one warm worker actor per GPU group.

:class:`RayExecutor` is the Ray twin of :class:`~.executors.LocalPool`: the engine drives it
through the same surface (``start``, ``idle_workers``, ``submit``, ``poll``, ``shutdown``,
``workers``, ``kill_worker``) and receives the same events, so the fitness rules, the store and
exact resume are unchanged. Only where attempts run differs.

- Each worker is a Ray *actor* that builds one evaluator (data, model, compiled step) and keeps it
  warm across candidates. Plain Ray tasks with ``num_gpus > 0`` start a new process per call,
  which is exactly the cold start a search must avoid.
- GPU clusters: one actor per ``execution.gpus_per_worker`` GPUs of the whole cluster (Ray picks
  the GPUs and sets ``CUDA_VISIBLE_DEVICES`` for each actor). CPU-only clusters (or
  ``execution.devices = "cpu"``): ``execution.workers`` actors, by default half the cluster's CPUs
  (at most 4), each with its thread counts capped so that they do not oversubscribe the cores.
- An actor that dies (killed, out of memory, its node lost) is an infrastructure failure: its
  attempt is reported lost (the engine re-runs it on another actor) and a new actor is started.
  An attempt that runs past ``evaluation.timeout`` has its actor killed and is treated the same.
- The driver owns the store; actors only compute. Actors are owned by the driver, so Ray stops
  them when the driver exits.

Ray is an optional dependency (``pip install 'keras-taylorglo[ray]'``); this module imports it
only when an executor is built.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any

from ..errors import TaylorGLOError
from .executors import (
    Fatal,
    SlotExecutor,
    Task,
    TaskDone,
    TaskLost,
    WorkerUp,
    death_events,
    require_ray,
)
from .worker import WorkerSpec, build_evaluator, data_facts

# Idle actors are pinged this often (seconds) so that one that died while idle (its node was lost,
# the OOM killer chose it) is replaced before an attempt is sent to it.
PING_INTERVAL = 5.0


# ----------------------------------------------------------------------------- the actor


class RayWorker:
    """The body of one worker actor (wrapped with ``ray.remote`` by :class:`RayExecutor`).

    Building the evaluator happens in :meth:`start`, not in ``__init__``, so that a recipe or
    data problem comes back as a value (``("fatal", message)``) instead of an actor that failed
    to construct, which Ray would report as a generic death.

    Args:
        spec: What to build; ``spec.env`` is applied before TensorFlow is imported.
    """

    def __init__(self, spec: WorkerSpec) -> None:
        self.spec = spec
        self.evaluator: Any = None

    def start(self) -> tuple[str, Any]:
        """Build the evaluator.

        Returns:
            ``("ready", {"pid", "device"})`` or ``("fatal", one-line message)``.
        """
        os.environ.update(self.spec.env)
        try:
            self.evaluator = build_evaluator(self.spec)
        except TaylorGLOError as exc:
            return ("fatal", str(exc))
        except Exception as exc:  # the worker cannot start: say why in one line
            return (
                "fatal",
                f"worker {self.spec.worker_id} could not start: {type(exc).__name__}: {exc}",
            )
        return (
            "ready",
            {
                "pid": os.getpid(),
                "device": _describe_device(self.spec.device),
                "data": data_facts(self.evaluator),
            },
        )

    def evaluate(
        self, theta: list[float], seed: int, options: dict[str, Any] | None = None
    ) -> tuple[Any, ...]:
        """Score one attempt with the warm evaluator.

        Args:
            theta: The candidate's parameters.
            seed: The attempt's seed.
            options: More ``evaluate`` keywords (an analysis task's ``loss`` and ``select``).

        Returns:
            ``("result", outcome_dict, received, finished)`` (wall-clock times, as
            :func:`~.worker.serve` reports them) or ``("infra", message)`` when the evaluator
            raised (out of memory and the like: the attempt is re-run elsewhere).
        """
        received = time.time()
        try:
            outcome = self.evaluator.evaluate(theta, seed, **(options or {}))
        except Exception as exc:
            return ("infra", f"{type(exc).__name__}: {exc}".splitlines()[0][:300])
        return ("result", outcome.to_dict(), received, time.time())

    def ping(self) -> int:
        """Answer a liveness check.

        Returns:
            The actor's process id.
        """
        return os.getpid()


def _describe_device(planned: str) -> str:
    """Say where this actor runs, for people: ``gpu:0,1@10.0.0.5`` or ``cpu@10.0.0.5``."""
    import ray

    try:
        node = ray.util.get_node_ip_address()
    except Exception:  # only a label: never fail a worker over it
        node = "?"
    if planned == "cpu":
        return f"cpu@{node}"
    ids = ",".join(str(i) for i in ray.get_gpu_ids())
    return f"gpu:{ids}@{node}"


# -------------------------------------------------------------------------------- driver side


@dataclass
class _ActorSlot:
    spec: WorkerSpec
    num_gpus: float
    num_cpus: float
    actor: Any = None
    device: str = ""
    pid: int = 0
    ready: bool = False
    task: Task | None = None
    task_started: float = 0.0
    start_failures: int = 0
    incarnation: int = 0
    last_ping: float = 0.0
    kill_requested: bool = False
    refs: set[Any] = field(default_factory=set)


class RayExecutor(SlotExecutor):
    """Warm worker actors on a Ray cluster, driven like :class:`~.executors.LocalPool`.

    Args:
        recipe_text: The resolved recipe TOML the actors parse.
        recipe_source: The recipe's path as given (for messages).
        base_dir: The recipe's directory: relative paths and ``module:function`` fitness names
            resolve against it, on every node (made absolute here).
        execution: The recipe's ``[execution]`` section (``ray_address``, ``devices``,
            ``gpus_per_worker``, ``workers``).
        timeout: Seconds one attempt may take before its actor is killed (0 = no limit).
        env: Extra environment variables for the actors, set before the evaluator is built
            (an actor's environment is the cluster's, not the driver's).
        num_cpus: CPUs of a Ray started by this executor (``ray_address = ""``); default: all.
        purpose: What the actors evaluate: ``"search"`` (the recipe's fitness) or ``"analysis"``
            (full trainings on the test split), as for :class:`~.executors.LocalPool`.

    Raises:
        TaylorGLOError: Ray is not installed (one line saying how to install it).

    Example:
        >>> ex = RayExecutor(text, "recipes/digits.toml", "recipes", recipe.execution)
        >>> ex.start()
        >>> events = ex.poll(1.0)  # WorkerUp events as the actors become ready
        >>> ex.submit(task, ex.idle_workers()[0])
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
        self._ray = require_ray()
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
        self._pending: list[Any] = []
        self._owns_ray = False
        self._actor_class: Any = None

    @classmethod
    def from_recipe(cls, recipe: Any, **kwargs: Any) -> RayExecutor:
        """Build the executor a recipe asks for (its ``[execution]`` and ``evaluation.timeout``).

        Args:
            recipe: A validated :class:`~keras_taylorglo.recipe.Recipe`; the actors build their
                evaluators from its resolved TOML.
            **kwargs: ``env``, ``num_cpus`` and ``purpose``, as for the constructor.

        Returns:
            The executor, not yet started.

        Example:
            >>> executor = RayExecutor.from_recipe(load_recipe("recipes/digits.toml"))
        """
        return cls(
            recipe.to_toml(),
            recipe.source,
            str(recipe.base_dir),
            recipe.execution,
            recipe.evaluation.timeout,
            **kwargs,
        )

    # ------------------------------------------------------------------------------ public

    @property
    def size(self) -> int:
        """Number of worker actors (known after :meth:`start`)."""
        return len(self._slots)

    @property
    def workers(self) -> dict[str, dict[str, Any]]:
        """A description of each worker: device, pid, ready, current task."""
        return {
            wid: {
                "device": slot.device or slot.spec.device,
                "pid": slot.pid,
                "ready": slot.ready,
                "task": slot.task,
            }
            for wid, slot in self._slots.items()
        }

    def start(self) -> None:
        """Connect to (or start) Ray, plan the actors from the cluster's resources, start them.

        Raises:
            TaylorGLOError: The cluster at ``execution.ray_address`` cannot be reached.
        """
        self._connect()
        self._actor_class = self._ray.remote(RayWorker)
        for i, (device, env, threads, num_gpus, num_cpus) in enumerate(self._plan()):
            worker_id = f"r{i}"
            spec = WorkerSpec(
                worker_id=worker_id,
                recipe_text=self.recipe_text,
                recipe_source=self.recipe_source,
                base_dir=self.base_dir,
                device=device,
                env={**env, **self.env},
                threads=threads,
                purpose=self.purpose,
            )
            self._slots[worker_id] = _ActorSlot(spec=spec, num_gpus=num_gpus, num_cpus=num_cpus)
        for worker_id in self._slots:
            self._spawn(worker_id)

    def submit(self, task: Task, worker_id: str) -> None:
        """Send a task to an idle worker.

        Args:
            task: The attempt to run.
            worker_id: One of :meth:`idle_workers`.
        """
        slot = self._claim(task, worker_id)
        ref = slot.actor.evaluate.remote(list(task.theta), task.seed, task.options())
        self._track(ref, worker_id, "eval")

    def kill_worker(self, worker_id: str) -> None:
        """Kill one worker actor (tests); :meth:`poll` then reports it and starts a new one.

        Safe to call from another thread than the one polling.

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
        """
        ray = self._ray
        events, self._pending = self._pending, []
        events.extend(self._check_timeouts())
        self._ping_idle()
        if not self._refs:
            if not events:
                time.sleep(self._wait_budget(timeout))
            return events
        refs = list(self._refs)
        budget = 0 if events else self._wait_budget(timeout)
        ready, _ = ray.wait(refs, num_returns=1, timeout=budget)
        if ready:
            ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
        for ref in ready:
            if ref not in self._refs:
                continue  # dropped with its actor earlier in this batch
            events.extend(self._resolve(ref))
        return events

    def shutdown(self, kill: bool = False) -> None:
        """Stop every worker actor (and the Ray this executor started, if it did).

        Actors hold no state worth saving (the driver owns the store), so they are killed in
        both cases.

        Args:
            kill: Accepted for the executor interface; actors are always killed at once.
        """
        for slot in self._slots.values():
            if slot.actor is not None:
                try:
                    self._ray.kill(slot.actor, no_restart=True)
                except Exception:  # already gone, or Ray itself is going down
                    pass
            slot.actor, slot.ready, slot.task = None, False, None
            slot.refs.clear()
        self._refs.clear()
        if self._owns_ray:
            self._ray.shutdown()
            self._owns_ray = False

    # ----------------------------------------------------------------------------- private

    def _connect(self) -> None:
        ray = self._ray
        if ray.is_initialized():
            return  # e.g. tests, or a notebook that already called ray.init
        address = self.execution.ray_address
        if not address:
            ray.init(
                num_cpus=self.num_cpus or os.cpu_count() or 1,
                include_dashboard=False,
            )
            self._owns_ray = True
            return
        try:
            ray.init(address=address)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise TaylorGLOError(
                f"execution.ray_address = {address!r}: cannot connect to a Ray cluster "
                f'({first}); start one with `ray start --head` or set ray_address = "" to '
                "start a local Ray"
            ) from None
        self._owns_ray = True

    def _plan(self) -> list[tuple[str, dict[str, str], int, float, float]]:
        """One ``(device, env, threads, num_gpus, num_cpus)`` per actor, from the cluster."""
        ex = self.execution
        resources = self._ray.cluster_resources()
        gpus = int(resources.get("GPU", 0)) if ex.devices != "cpu" else 0
        per = ex.gpus_per_worker
        if 0 < gpus < per:
            raise TaylorGLOError(
                f"execution.gpus_per_worker = {per}: the Ray cluster has only {gpus} GPU(s); "
                f'use a value from 1 to {gpus}, or devices = "cpu"'
            )
        if gpus >= per:
            count = gpus // per
            if ex.workers:
                count = min(count, ex.workers)
            return [("gpu", {}, 0, float(per), 1.0) for _ in range(count)]
        cpus = max(1, int(resources.get("CPU", 1)))
        count = ex.workers or max(1, min(4, cpus // 2))
        threads = max(1, cpus // count)
        env = {
            "CUDA_VISIBLE_DEVICES": "-1",
            "OMP_NUM_THREADS": str(threads),
            "TF_NUM_INTRAOP_THREADS": str(threads),
            "TF_NUM_INTEROP_THREADS": "1",
        }
        # One CPU each reserves a core per actor; more actors than CPUs share them (fractions),
        # so that every actor can be placed and none waits forever for resources.
        num_cpus = min(1.0, cpus / count)
        return [("cpu", dict(env), threads, 0.0, num_cpus) for _ in range(count)]

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
        slot.kill_requested = False
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
            if value[0] == "fatal":
                return [Fatal(value[1])]
            slot.ready, slot.start_failures = True, 0
            slot.pid, slot.device = int(value[1]["pid"]), str(value[1]["device"])
            return [WorkerUp(worker_id, slot.device, slot.pid, value[1].get("data") or {})]
        if kind == "eval":
            task, slot.task = slot.task, None
            if task is None:
                return []
            if value[0] == "result":
                return [TaskDone(task, worker_id, value[1], value[2], value[3])]
            return [TaskLost(task, worker_id, value[1])]
        return []  # a ping answered: the actor lives

    def _handle_death(self, worker_id: str, reason: str) -> list[Any]:
        slot = self._slots[worker_id]
        if slot.actor is not None:
            try:
                self._ray.kill(slot.actor, no_restart=True)
            except Exception:  # already dead
                pass
        for ref in slot.refs:
            self._refs.pop(ref, None)
        slot.refs.clear()
        slot.actor = None
        events, replace = death_events(worker_id, slot, reason)
        if replace:
            self._spawn(worker_id)
        return events

    def _check_timeouts(self) -> list[Any]:
        if not self.timeout:
            return []
        events: list[Any] = []
        now = time.monotonic()
        for worker_id, slot in self._slots.items():
            if slot.task is not None and now - slot.task_started > self.timeout:
                events.extend(self._handle_death(worker_id, f"timeout after {self.timeout:g} s"))
        return events

    def _ping_idle(self) -> None:
        now = time.monotonic()
        for worker_id, slot in self._slots.items():
            if slot.actor is None or slot.refs:
                continue
            if slot.kill_requested or now - slot.last_ping > PING_INTERVAL:
                slot.last_ping = now
                self._track(slot.actor.ping.remote(), worker_id, "ping")

    def _wait_budget(self, timeout: float) -> float:
        if not self.timeout:
            return timeout
        remaining = [
            self.timeout - (time.monotonic() - s.task_started)
            for s in self._slots.values()
            if s.task is not None
        ]
        return max(0.0, min([timeout, *remaining]))


def describe_ray_error(exc: BaseException) -> str:
    """Say in one line why a Ray call failed (Ray's own messages run to many lines).

    Args:
        exc: A ``ray.exceptions.RayError``.

    Returns:
        For example ``"worker actor died: it was killed by `ray.kill`"``.

    Example:
        >>> describe_ray_error(RuntimeError("boom"))
        'RuntimeError: boom'
    """
    text = str(exc)
    name = type(exc).__name__
    if "Actor" in name or "Worker" in name or "OutOfMemory" in name:
        for line in text.splitlines():
            line = line.strip()
            if line.startswith("The actor is dead because "):
                why = line[len("The actor is dead because ") :].split(". ")[0].rstrip(".")
                return f"worker actor died: {why}"[:300]
        if "OutOfMemory" in name:
            return "worker actor killed: out of memory"
    first = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return f"{name}: {first}"[:300] if first else name
