"""GPU settings checked on CPU: the worker plan, each worker's GPU memory claim, XLA's "auto".

No GPU is lent to this project's CI. What a worker would do to a GPU is checked through the
configuration it applies: the plan is a pure function, and where TensorFlow's GPU calls must
be observed, a stand-in for ``tf.config`` records them (a real GPU is impossible here).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from keras_taylorglo.errors import RecipeError  # noqa: E402
from keras_taylorglo.recipe import load_recipe  # noqa: E402
from keras_taylorglo.recipe.schema import ExecutionConfig  # noqa: E402
from keras_taylorglo.search import worker  # noqa: E402
from keras_taylorglo.search.executors import plan_workers  # noqa: E402
from keras_taylorglo.search.worker import (  # noqa: E402
    SHARED_GPU_FRACTION,
    apply_gpu_memory_plan,
    gpu_memory_plan,
)

ROOT = Path(__file__).resolve().parents[1]
DIGITS = ROOT / "recipes" / "digits.toml"
H200_MIB = 143771  # what nvidia-smi reports for an H200 (141 GB)


class FakeConfig:
    """Records the GPU calls a worker makes; stands in for ``tf.config`` (no GPU here)."""

    def __init__(self, gpus: int) -> None:
        self.gpus = [f"PhysicalDevice(GPU:{i})" for i in range(gpus)]
        self.calls: list[tuple] = []
        self.experimental = SimpleNamespace(
            set_memory_growth=lambda d, on: self.calls.append(("growth", d, on))
        )
        self.threading = SimpleNamespace(
            set_intra_op_parallelism_threads=lambda n: self.calls.append(("intra", n)),
            set_inter_op_parallelism_threads=lambda n: self.calls.append(("inter", n)),
        )
        self.LogicalDeviceConfiguration = lambda memory_limit: ("limit", memory_limit)

    def list_physical_devices(self, kind: str) -> list[str]:
        return list(self.gpus) if kind == "GPU" else ["PhysicalDevice(CPU:0)"]

    def set_logical_device_configuration(self, device, configs) -> None:
        self.calls.append(("logical", device, configs))


def fake_tf(gpus: int) -> SimpleNamespace:
    return SimpleNamespace(config=FakeConfig(gpus))


# ------------------------------------------------------------------------ the memory plan


def test_one_worker_per_gpu_grows_on_demand():
    assert gpu_memory_plan(1, H200_MIB) == {"growth": True}
    assert gpu_memory_plan(1, None) == {"growth": True}


def test_shared_gpu_gives_each_worker_about_a_nth():
    for n in (2, 3, 4, 8):
        plan = gpu_memory_plan(n, H200_MIB)
        limit = plan["memory_limit_mb"]
        assert limit == int(H200_MIB * SHARED_GPU_FRACTION / n)
        assert n * limit <= H200_MIB  # together they fit, with room for CUDA contexts
        assert limit >= 0.85 * H200_MIB / n
    assert gpu_memory_plan(4, 143771) == {"memory_limit_mb": 32348}


def test_shared_gpu_of_unknown_size_falls_back_to_growth():
    assert gpu_memory_plan(4, None) == {"growth": True}
    with pytest.raises(ValueError, match="workers_per_gpu must be >= 1"):
        gpu_memory_plan(0, H200_MIB)


def test_the_plan_is_applied_to_every_visible_gpu():
    tf = fake_tf(2)
    assert apply_gpu_memory_plan(tf, {"growth": True}) == ["GPU:0 growth", "GPU:1 growth"]
    assert tf.config.calls == [
        ("growth", "PhysicalDevice(GPU:0)", True),
        ("growth", "PhysicalDevice(GPU:1)", True),
    ]
    tf = fake_tf(1)
    assert apply_gpu_memory_plan(tf, {"memory_limit_mb": 32348}) == ["GPU:0 limit 32348 MiB"]
    assert tf.config.calls == [("logical", "PhysicalDevice(GPU:0)", [("limit", 32348)])]


def test_on_this_cpu_machine_nothing_is_applied():
    from keras_taylorglo._quiet import import_tensorflow

    tf = import_tensorflow()
    assert tf.config.list_physical_devices("GPU") == []
    assert apply_gpu_memory_plan(tf, {"growth": True}) == []
    if shutil.which("nvidia-smi") is None:
        assert worker.visible_gpu_memory_mb() is None


def test_worker_configuration_growth_by_default_and_a_share_when_sharing(monkeypatch):
    # nvidia-smi does not exist here: its answer for an H200 is given.
    monkeypatch.setattr(worker, "visible_gpu_memory_mb", lambda: H200_MIB)
    tf = fake_tf(1)
    worker._configure_devices(threads=0)(tf)
    assert tf.config.calls == [("growth", "PhysicalDevice(GPU:0)", True)]
    tf = fake_tf(1)
    worker._configure_devices(threads=0, workers_per_gpu=4)(tf)
    assert tf.config.calls == [("logical", "PhysicalDevice(GPU:0)", [("limit", 32348)])]
    tf = fake_tf(0)  # a CPU worker: threads only
    worker._configure_devices(threads=3, workers_per_gpu=4)(tf)
    assert tf.config.calls == [("intra", 3), ("inter", 2)]


# ------------------------------------------------------------------------- the worker plan


def test_workers_per_gpu_puts_n_warm_workers_on_each_gpu():
    plan = plan_workers(ExecutionConfig(devices=(0, 1), workers_per_gpu=3))
    assert [device for device, _, _ in plan] == ["gpu:0", "gpu:1"] * 3
    assert [env for _, env, _ in plan] == [
        {"CUDA_VISIBLE_DEVICES": "0"},
        {"CUDA_VISIBLE_DEVICES": "1"},
    ] * 3
    assert {threads for _, _, threads in plan} == {0}
    # `workers` caps the total, spread over the GPUs.
    capped = plan_workers(ExecutionConfig(devices=(0, 1), workers_per_gpu=3, workers=3))
    assert [device for device, _, _ in capped] == ["gpu:0", "gpu:1", "gpu:0"]
    # The default is one worker per GPU, as before.
    assert [d for d, _, _ in plan_workers(ExecutionConfig(devices=(0, 1)))] == ["gpu:0", "gpu:1"]


def test_workers_per_gpu_on_detected_gpus(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,3")  # what detect_gpus reads first
    plan = plan_workers(ExecutionConfig(devices="auto", workers_per_gpu=2))
    assert [(d, e["CUDA_VISIBLE_DEVICES"]) for d, e, _ in plan] == [
        ("gpu:2", "2"),
        ("gpu:3", "3"),
        ("gpu:2", "2"),
        ("gpu:3", "3"),
    ]


def test_workers_per_gpu_does_not_change_cpu_workers():
    one = plan_workers(ExecutionConfig(devices="cpu", workers=2))
    four = plan_workers(ExecutionConfig(devices="cpu", workers=2, workers_per_gpu=4))
    assert one == four and len(one) == 2 and one[0][0] == "cpu"


def test_sharing_groups_of_several_gpus_is_refused():
    pairs = plan_workers(ExecutionConfig(devices=(0, 1, 2, 3), gpus_per_worker=2))
    assert [d for d, _, _ in pairs] == ["gpu:0,1", "gpu:2,3"]
    execution = dataclasses.replace(
        ExecutionConfig(devices=(0, 1, 2, 3), gpus_per_worker=2), workers_per_gpu=2
    )
    with pytest.raises(RecipeError, match="execution.workers_per_gpu: workers cannot share"):
        plan_workers(execution, "r.toml")
    with pytest.raises(RecipeError) as info:
        load_recipe(DIGITS, ["execution.gpus_per_worker=2", "execution.workers_per_gpu=2"])
    assert str(info.value) == (
        "--set: execution.workers_per_gpu: workers cannot share GPUs when each worker has 2 of "
        "them (gpus_per_worker) (got 2; expected 1 with gpus_per_worker > 1)"
    )


def test_bad_workers_per_gpu_is_one_line():
    with pytest.raises(RecipeError) as info:
        load_recipe(DIGITS, ["execution.workers_per_gpu=0"])
    assert str(info.value) == (
        "--set: execution.workers_per_gpu: out of range (got 0; expected an integer >= 1)"
    )
    assert load_recipe(DIGITS).execution.workers_per_gpu == 1


# ---------------------------------------------------------------------------------- XLA


@pytest.mark.parametrize("value", ['"yes"', "1", '"on"'])
def test_bad_jit_compile_is_one_line(value):
    with pytest.raises(RecipeError) as info:
        load_recipe(DIGITS, [f"training.jit_compile={value}"])
    assert str(info.value).startswith("--set: training.jit_compile: unknown value (got ")
    assert str(info.value).endswith(
        'expected "auto" (XLA on a single GPU, not on CPU), true or false)'
    )


def test_jit_compile_values():
    assert load_recipe(DIGITS).training.jit_compile == "auto"
    assert load_recipe(DIGITS, ["training.jit_compile=true"]).training.jit_compile is True
    assert load_recipe(DIGITS, ["training.jit_compile=false"]).training.jit_compile is False


def test_auto_is_xla_on_one_gpu_only():
    from keras_taylorglo._devices import resolve_jit_compile
    from keras_taylorglo._quiet import import_tensorflow

    tf = import_tensorflow()
    default = tf.distribute.get_strategy()
    assert resolve_jit_compile("auto", tf, default) is False  # this machine: CPU only
    assert resolve_jit_compile(True, tf, default) is True
    assert resolve_jit_compile(False, tf, default) is False

    # A machine with GPUs (a stand-in: none here), with one replica or under a strategy.
    class WithGpu:
        config = SimpleNamespace(
            list_logical_devices=lambda kind: ["GPU:0"] if kind == "GPU" else []
        )

    assert resolve_jit_compile("auto", WithGpu, default) is True
    assert resolve_jit_compile("auto", WithGpu, SimpleNamespace(num_replicas_in_sync=2)) is False
    assert resolve_jit_compile(True, WithGpu, SimpleNamespace(num_replicas_in_sync=2)) is True


# ------------------------------------------------------------------------ the device check


@pytest.mark.slow
def test_device_check_runs_on_jax_without_tensorflow():
    """bench/device_check.py, for the GPU machine with JAX and no TensorFlow, in its CPU mode.

    jax[cpu] is in the dev extra, so this always runs here (never skipped).
    """
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    command = ["-m", "bench.device_check", "--quick", "--steps", "2"]
    # The TensorFlow backend is refused in one line: that process starts first and runs beside
    # the JAX one (it imports TensorFlow on one core while JAX compiles on the other).
    wrong = subprocess.Popen(
        [sys.executable, *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "KERAS_BACKEND": "tensorflow"},
    )
    proc = subprocess.run(
        [sys.executable, *command, "--precisions", "mixed_bfloat16"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=400,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1  # one JSON line, the progress went to stderr
    result = json.loads(lines[0])
    assert result["backend"] == "jax" and result["devices"] == ["cpu:0"]
    assert result["tensorflow_imported"] is False
    assert set(result["models"]) == {"basic_cnn/mixed_bfloat16", "wrn_16_8/mixed_bfloat16"}
    for row in result["models"].values():
        for loss in ("crossentropy", "taylorglo"):
            assert row[loss]["step_ms"] > 0 and row[loss]["compile_s"] > 0
        assert row["ratio"] == pytest.approx(
            row["taylorglo"]["step_ms"] / row["crossentropy"]["step_ms"], abs=1e-3
        )
    # What the README documents for JAX: a jit-compiled step keeps the θ it was traced with.
    assert result["theta"] == {
        "jit_after_set_theta": "old",
        "jit_after_force": "new",
        "eager_after_set_theta": "new",
        "as_documented": True,
    }
    _, wrong_err = wrong.communicate(timeout=120)
    assert wrong.returncode == 2
    assert wrong_err.strip().splitlines()[-1] == "error: needs KERAS_BACKEND=jax (got tensorflow)"
