"""The worker loop: one long-lived process that owns one warm evaluator.

A worker builds its evaluator once (data pipelines, model, compiled train step) and then scores
candidates as they arrive, so a search pays the start-up cost once per worker instead of once per
candidate. It talks to the driver over one duplex pipe with the typed messages of
:mod:`.messages`: :class:`~.messages.Evaluate` and :class:`~.messages.Stop` in,
:class:`~.messages.Ready` / :class:`~.messages.StartFailed` once, then one
:class:`~.messages.Result` or :class:`~.messages.Failed` per request. A Ray actor answers with
the same records (:func:`start_evaluator`, :func:`answer`).

The worker exits when the driver dies (parent-death signal on Linux, plus a watchdog thread
that notices re-parenting), so a SIGKILLed search leaves no orphans holding GPUs.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import TaylorGLOError
from .messages import Evaluate, Failed, Ready, Result, StartFailed, Stop


@dataclass(frozen=True)
class WorkerSpec:
    """Everything a worker process needs to build its evaluator.

    Attributes:
        worker_id: A short stable name, e.g. ``"w0"``.
        recipe_text: The resolved recipe TOML (the store's copy: resume uses the same one).
        recipe_source: The recipe's path as given (for error messages).
        base_dir: The recipe's directory: relative paths and ``module:function`` names resolve
            against it.
        device: What the worker runs on, for people: ``"cpu"`` or ``"gpu:0,1"``.
        env: Environment variables set before TensorFlow is imported (``CUDA_VISIBLE_DEVICES``,
            thread counts).
        threads: Intra-op threads for TensorFlow on CPU (0 = TensorFlow's default).
        purpose: ``"search"`` (partial trainings scored on the validation split, the recipe's
            fitness) or ``"analysis"`` (full trainings scored on the test split; see
            :class:`AnalysisEvaluator`).
    """

    worker_id: str
    recipe_text: str
    recipe_source: str
    base_dir: str
    device: str = "cpu"
    env: dict[str, str] = field(default_factory=dict)
    threads: int = 0
    purpose: str = "search"


PURPOSES = ("search", "analysis")


class AnalysisEvaluator:
    """The evaluator of an ``analysis`` worker: full trainings scored on the test split.

    A task with a θ trains with TaylorGLO; a task with an empty (or ``None``) θ trains the
    cross-entropy baseline, or the baseline its ``loss`` names (``"gce:0.7"`` …). Each (loss,
    selection) pair's evaluator is built once, the TaylorGLO one at start-up (so a recipe or data
    problem stops the analysis at once) and every other on its first task.

    Args:
        recipe: The validated recipe (``training.full`` is the budget).

    Example:
        >>> evaluator = AnalysisEvaluator(recipe)
        >>> evaluator.evaluate([], seed=1).fitness  # cross-entropy, test accuracy
    """

    def __init__(self, recipe: Any) -> None:
        self.recipe = recipe
        self._evaluators: dict[tuple[str, str], Any] = {}
        self.data = getattr(self._get("taylorglo", "last"), "data", None)

    def _get(self, loss: str, select: str) -> Any:
        if (loss, select) not in self._evaluators:
            from ..evaluation import make_evaluator

            self._evaluators[loss, select] = make_evaluator(
                self.recipe, loss=loss, budget="full", split="test", select=select
            )
        return self._evaluators[loss, select]

    def evaluate(self, theta: Any, seed: int, loss: str = "", select: str = "last") -> Any:
        """Train once from fresh weights and score the test split.

        Args:
            theta: The loss parameters; empty or ``None`` = a baseline.
            seed: Seed of the initial weights and of the data order.
            loss: The baseline when θ is empty (default ``"crossentropy"``); ``"taylorglo"``
                or ``""`` with a θ.
            select: ``"last"`` or ``"best_validation"`` (which weights are scored).

        Returns:
            The :class:`~keras_taylorglo.outcomes.Outcome`; ``fitness`` = test accuracy.
        """
        if theta is None or len(theta) == 0:
            baseline = loss if loss and loss != "taylorglo" else "crossentropy"
            return self._get(baseline, select).evaluate(None, seed)
        return self._get("taylorglo", select).evaluate(theta, seed)


class SearchEvaluator:
    """The evaluator of a ``search`` worker: the recipe's fitness, at the partial or full budget.

    Candidates are scored at the partial budget by the evaluator built at start-up (a recipe or
    data problem stops the search at once); the finalist stage may ask for the full budget on the
    validation split, whose evaluator is built on its first task. A custom fitness
    (``module:function``) has no budget: it is called the same way for both.

    Args:
        recipe: The validated recipe.
    """

    def __init__(self, recipe: Any) -> None:
        from ..evaluation import make_evaluator

        self.recipe = recipe
        self._evaluators = {"partial": make_evaluator(recipe)}
        self.data = getattr(self._evaluators["partial"], "data", None)

    def evaluate(self, theta: Any, seed: int, budget: str = "partial") -> Any:
        """Score θ once at ``budget`` on the validation split.

        Args:
            theta: The loss parameters.
            seed: Seed of the initial weights and of the data order.
            budget: ``"partial"`` (the search's) or ``"full"`` (a finalist's, when the recipe's
                ``evolution.finalists.budget`` says so).

        Returns:
            The :class:`~keras_taylorglo.outcomes.Outcome`.
        """
        if budget not in self._evaluators:
            from ..evaluation import Evaluator, make_evaluator

            partial = self._evaluators["partial"]
            self._evaluators[budget] = (
                make_evaluator(self.recipe, budget=budget, split="validation")
                if isinstance(partial, Evaluator)
                else partial
            )
        return self._evaluators[budget].evaluate(theta, seed)


def data_facts(evaluator: Any) -> dict[str, Any]:
    """What the driver records about the data an evaluator built (``{}`` when nothing).

    Args:
        evaluator: A built evaluator (its ``data`` bundle, if any, is read).

    Returns:
        ``{"label_noise": {...}}`` when the data has label noise and ``{"warnings": [...]}``
        when loading it found something to warn about (a class that never occurs), else ``{}``.
    """
    data = getattr(evaluator, "data", None)
    facts: dict[str, Any] = {}
    if getattr(data, "label_noise", None):
        facts["label_noise"] = dict(data.label_noise)
    if getattr(data, "warnings", ()):
        facts["warnings"] = list(data.warnings)
    return facts


def _die_with_parent() -> None:
    """Make the kernel SIGKILL this process when the driver dies (Linux), plus a watchdog."""
    parent = os.getppid()
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            pr_set_pdeathsig = 1
            libc.prctl(pr_set_pdeathsig, signal.SIGKILL)
        except OSError:  # pragma: no cover - no libc: the watchdog below still works
            pass

    def watchdog() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os._exit(3)

    threading.Thread(target=watchdog, name="parent-watchdog", daemon=True).start()


#: Fraction of a shared GPU's memory that its workers' limits add up to: the rest is for what
#: TensorFlow's allocator does not manage (each process's CUDA context, cuDNN/cuBLAS handles).
SHARED_GPU_FRACTION = 0.9


def gpu_memory_plan(workers_per_gpu: int, device_memory_mb: int | None) -> dict[str, Any]:
    """How a worker claims GPU memory: grow on demand, or a fixed share of a shared GPU.

    TensorFlow otherwise maps (nearly) the whole GPU at start, so a second worker on it gets
    nothing. One worker per GPU grows as it needs; N workers on one GPU each get a hard limit of
    about 1/N of it (:data:`SHARED_GPU_FRACTION` of the device, split evenly), so that one cannot
    grow into the others' share. When the device's size is unknown, growth is the fallback.

    Args:
        workers_per_gpu: ``execution.workers_per_gpu`` (>= 1).
        device_memory_mb: The GPU's total memory in MiB, or ``None`` when unknown.

    Returns:
        ``{"growth": True}`` or ``{"memory_limit_mb": M}`` (for
        ``tf.config.set_logical_device_configuration``).

    Raises:
        ValueError: ``workers_per_gpu`` < 1.

    Example:
        >>> gpu_memory_plan(4, 143771)
        {'memory_limit_mb': 32348}
    """
    if workers_per_gpu < 1:
        raise ValueError(f"workers_per_gpu must be >= 1; got {workers_per_gpu}")
    if workers_per_gpu == 1 or not device_memory_mb:
        return {"growth": True}
    return {"memory_limit_mb": int(device_memory_mb * SHARED_GPU_FRACTION / workers_per_gpu)}


def apply_gpu_memory_plan(tf: Any, plan: dict[str, Any]) -> list[str]:
    """Apply :func:`gpu_memory_plan`'s answer to every GPU this process sees (before TF starts).

    Args:
        tf: The ``tensorflow`` module, its devices not yet initialised.
        plan: ``{"growth": True}`` or ``{"memory_limit_mb": M}``.

    Returns:
        What was done, one entry per GPU (``"GPU:0 growth"``, ``"GPU:0 limit 32348 MiB"``);
        empty on a CPU worker.
    """
    done = []
    for index, gpu in enumerate(tf.config.list_physical_devices("GPU")):
        try:
            if "memory_limit_mb" in plan:
                limit = int(plan["memory_limit_mb"])
                config = tf.config.LogicalDeviceConfiguration(memory_limit=limit)
                tf.config.set_logical_device_configuration(gpu, [config])
                done.append(f"GPU:{index} limit {limit} MiB")
            else:
                tf.config.experimental.set_memory_growth(gpu, True)
                done.append(f"GPU:{index} growth")
        except (RuntimeError, ValueError):  # already initialised: too late to change, keep going
            pass
    return done


def visible_gpu_memory_mb() -> int | None:
    """Total memory (MiB) of the first GPU this process may use, from ``nvidia-smi``.

    Returns:
        The size, or ``None`` when there is no GPU or ``nvidia-smi`` cannot tell.
    """
    import shutil
    import subprocess

    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    first = (visible or "0").split(",")[0].strip()
    if not first or first.startswith("-") or shutil.which("nvidia-smi") is None:
        return None
    try:
        out = subprocess.run(
            [
                "nvidia-smi",
                "--query-gpu=memory.total",
                "--format=csv,noheader,nounits",
                "-i",
                first,
            ],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout.split()
        return int(float(out[0])) if out else None
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return None


def _configure_devices(threads: int, workers_per_gpu: int = 1) -> Callable[[Any], None]:
    """Before TensorFlow initialises its devices: CPU threads and each GPU's memory claim.

    Threads are limited so that several CPU workers do not oversubscribe the cores; GPU memory
    follows :func:`gpu_memory_plan` (growth by default).
    """

    def configure(tf: Any) -> None:
        if tf.config.list_physical_devices("GPU"):
            memory = visible_gpu_memory_mb() if workers_per_gpu > 1 else None
            apply_gpu_memory_plan(tf, gpu_memory_plan(workers_per_gpu, memory))
        if threads <= 0:
            return
        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(min(2, threads))
        except RuntimeError:  # already initialised: too late to change, keep going
            pass

    return configure


def build_evaluator(spec: WorkerSpec) -> Any:
    """Parse the recipe and build the evaluator it asks for (imports TF only if it must).

    Args:
        spec: The worker's specification.

    Returns:
        An object with ``evaluate(theta, seed) -> Outcome``.

    Raises:
        ValueError: For an unknown ``spec.purpose``.
    """
    from ..recipe import parse_recipe

    if spec.purpose not in PURPOSES:
        raise ValueError(f"purpose must be one of {PURPOSES}; got {spec.purpose!r}")

    recipe = parse_recipe(spec.recipe_text, source=spec.recipe_source, base_dir=Path(spec.base_dir))
    if recipe.evaluation.fitness == "validation_accuracy":
        from .._quiet import import_tensorflow

        # Threads and GPU memory must be set before TensorFlow initialises its devices.
        import_tensorflow(
            configure=_configure_devices(spec.threads, recipe.execution.workers_per_gpu)
        )
        import keras

        # Keras prints some events (TerminateOnNaN's "Invalid loss") to stdout; in a worker
        # they belong in the store (the outcome says it diverged), not on the user's terminal.
        keras.config.disable_interactive_logging()
    if spec.purpose == "analysis":
        return AnalysisEvaluator(recipe)
    return SearchEvaluator(recipe)


def worker_main(conn: Any, spec: WorkerSpec) -> None:
    """Entry point of a worker process.

    Args:
        conn: The worker's end of a ``multiprocessing.Pipe``.
        spec: What to build and where to run.
    """
    # Ctrl-C in the terminal, and a scheduler's SIGTERM or a closed session's SIGHUP, reach the
    # whole process group: the driver handles them and stops us (it always kills, never asks).
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)
    _die_with_parent()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before anything imports TensorFlow
    os.environ.update(spec.env)
    evaluator, message = start_evaluator(spec, spec.device)
    conn.send(message)
    if evaluator is not None:
        serve(conn, evaluator)


def start_evaluator(spec: WorkerSpec, device: str) -> tuple[Any, Ready | StartFailed]:
    """Build the worker's evaluator, and the message that says how that went.

    Args:
        spec: What to build.
        device: Where it runs, for people (a Ray actor says its node too).

    Returns:
        ``(evaluator, Ready)``, or ``(None, StartFailed)`` with one line: a recipe or data
        problem as the error says it, anything else as ``worker W could not start: ...``.
    """
    try:
        evaluator = build_evaluator(spec)
    except TaylorGLOError as exc:
        return None, StartFailed(str(exc))
    except Exception as exc:  # the worker cannot start: say why in one line
        why = f"{type(exc).__name__}: {exc}"
        return None, StartFailed(f"worker {spec.worker_id} could not start: {why}")
    return evaluator, Ready(os.getpid(), device, data_facts(evaluator))


def answer(evaluator: Any, request: Evaluate) -> Result | Failed:
    """Score one request warm.

    Args:
        evaluator: The worker's evaluator.
        request: The attempt.

    Returns:
        A :class:`Result` with the outcome, or :class:`Failed` when the evaluator raised (out of
        memory and the like: the attempt is re-run elsewhere).
    """
    received = time.time()
    try:
        outcome = evaluator.evaluate(list(request.theta), request.seed, **request.options)
    except Exception as exc:  # the evaluator re-raises only what is not the candidate's fault
        return Failed(request.task_id, f"{type(exc).__name__}: {exc}".splitlines()[0][:300])
    return Result(request.task_id, outcome.to_dict(), received, time.time())


def serve(conn: Any, evaluator: Any) -> None:
    """Score tasks from ``conn`` with ``evaluator`` until told to stop or the pipe closes.

    Args:
        conn: A connection with ``recv`` and ``send``.
        evaluator: An object with ``evaluate(theta, seed) -> Outcome``.
    """
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return  # the driver went away
        if isinstance(message, Stop):
            return
        conn.send(answer(evaluator, message))
