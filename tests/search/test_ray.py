"""The Ray executor: warm actors, deaths, timeouts, and the same search result as the local pool.

One local Ray (2 CPUs, no dashboard) serves the whole module. Executor-level tests drive
RayExecutor directly; engine-level tests run whole searches with custom fitness functions and
compare them with the local pool's result, run through the CLI.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import ray  # the [ray] extra (CI installs it)
from cli_helpers import cli_in_process, spawn, wait_for
from store_query import query

from keras_taylorglo.errors import TaylorGLOError
from keras_taylorglo.recipe import load_recipe
from keras_taylorglo.search.messages import Fatal, Task, TaskDone, TaskLost, WorkerDown, WorkerUp

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))

import fitness_fns  # noqa: E402

RECIPE = """
[experiment]
name = "t"
seed = 3

[evolution]
population = {population}
generations = {generations}
sigma = 1.2

[evaluation]
fitness = "fitness_fns:{fitness}"
rule = "paper"
attempts = 3
timeout = {timeout}

[execution]
executor = "{executor}"
devices = "cpu"
workers = 2
"""


def write_recipe(
    tmp: Path,
    fitness: str = "sphere",
    population: int = 6,
    generations: int = 3,
    timeout: float = 0,
    executor: str = "ray",
) -> Path:
    (tmp / "fitness_fns.py").write_text((HERE / "fitness_fns.py").read_text())
    path = tmp / "recipe.toml"
    path.write_text(
        RECIPE.format(
            fitness=fitness,
            population=population,
            generations=generations,
            timeout=timeout,
            executor=executor,
        )
    )
    return path


def make_ray_executor(recipe_path: Path, env: dict | None = None, overrides=()):
    from keras_taylorglo.search.ray_executor import RayExecutor

    recipe = load_recipe(recipe_path, overrides=list(overrides))
    return recipe, RayExecutor.from_recipe(recipe, env=env)


def store_status(run_dir: Path) -> dict:
    from keras_taylorglo.store import Store

    store = Store.open(run_dir, readonly=True)
    try:
        return store.status_json()
    finally:
        store.close()


def poll_until(executor, predicate, timeout: float = 60.0) -> list:
    """Poll, collecting events, until predicate(events) holds."""
    events: list = []
    deadline = time.monotonic() + timeout
    while not predicate(events):
        assert time.monotonic() < deadline, f"not reached in time; events so far: {events}"
        events.extend(executor.poll(0.5))
    return events


def count(events, kind) -> int:
    return sum(isinstance(e, kind) for e in events)


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    """One local Ray for the whole module (its start-up is slow on 2 cores)."""
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=100 * 1024**2)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict:
    """The local pool's uninterrupted search: the Ray executor must reach the same result."""
    tmp = tmp_path_factory.mktemp("local")
    recipe = write_recipe(tmp, executor="local")
    out = cli_in_process("search", str(recipe), "--out", str(tmp / "run"))
    assert out.returncode == 0, out.stderr
    return store_status(tmp / "run")


# ----------------------------------------------------------------------------- executor level


def test_missing_ray_is_one_clear_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` sees without the extra
    from keras_taylorglo.search.ray_executor import RayExecutor

    with pytest.raises(TaylorGLOError) as info:
        RayExecutor("", "r.toml", ".", object())
    message = str(info.value)
    assert "\n" not in message
    assert "pip install 'keras-taylorglo[ray]'" in message


def test_cli_without_ray_says_how_to_install(tmp_path):
    recipe = write_recipe(tmp_path)
    code = (
        "import sys; sys.modules['ray'] = None\n"
        "from keras_taylorglo.cli import main\n"
        f"sys.exit(main(['search', {str(recipe)!r}, '--out', {str(tmp_path / 'run')!r}]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2, out.stderr
    assert out.stderr.count("\n") == 1
    assert "pip install 'keras-taylorglo[ray]'" in out.stderr


def test_actors_evaluate_like_the_fitness_function(tmp_path):
    recipe, executor = make_ray_executor(write_recipe(tmp_path))
    executor.start()
    try:
        assert executor.size == 2  # workers = 2 CPU actors
        ups = poll_until(executor, lambda ev: count(ev, WorkerUp) == 2)
        assert {e.worker_id for e in ups} == {"r0", "r1"}
        assert all(e.device.startswith("cpu@") and e.pid > 0 for e in ups)
        assert len({e.pid for e in ups}) == 2  # two processes
        assert sorted(executor.idle_workers()) == ["r0", "r1"]
        tasks = [Task(i, 0, i, 0, 1000 + i, tuple([0.25 * i] * 8)) for i in range(5)]
        queue, done, pids_by_worker = list(tasks), [], {e.worker_id: e.pid for e in ups}
        deadline = time.monotonic() + 60
        while len(done) < len(tasks):
            assert time.monotonic() < deadline
            for worker_id in executor.idle_workers():
                if queue:
                    executor.submit(queue.pop(0), worker_id)
            done.extend(executor.poll(0.5))
        assert all(isinstance(e, TaskDone) for e in done)
        for event in done:
            expected = fitness_fns.sphere(list(event.task.theta), event.task.seed)
            assert event.outcome["status"] == "ok"
            assert event.outcome["fitness"] == pytest.approx(expected, abs=1e-12)
            assert event.received <= event.finished
        # Warm: the same two actors served every task.
        assert {w: d["pid"] for w, d in executor.workers.items()} == pids_by_worker
    finally:
        executor.shutdown(kill=True)


@pytest.mark.slow
def test_killed_actor_loses_its_task_and_is_replaced(tmp_path):
    _, executor = make_ray_executor(write_recipe(tmp_path), env={"TG_FITNESS_SLEEP": "3"})
    executor.start()
    try:
        ups = poll_until(executor, lambda ev: count(ev, WorkerUp) == 2)
        old_pid = {e.worker_id: e.pid for e in ups}["r0"]
        task = Task(1, 0, 0, 0, 7, tuple([0.0] * 8))
        executor.submit(task, "r0")
        time.sleep(0.5)  # the actor is inside the (slow) fitness function
        executor.kill_worker("r0")
        events = poll_until(executor, lambda ev: count(ev, WorkerUp) == 1)
        lost = [e for e in events if isinstance(e, TaskLost)]
        down = [e for e in events if isinstance(e, WorkerDown)]
        assert [(e.task, e.worker_id) for e in lost] == [(task, "r0")]
        assert [e.worker_id for e in down] == ["r0"]
        assert "ray.kill" in lost[0].reason
        up = next(e for e in events if isinstance(e, WorkerUp))
        assert up.worker_id == "r0" and up.pid != old_pid
        # The replacement works (a fresh actor; the lost attempt is re-runnable on it).
        executor.submit(task, "r0")
        done = poll_until(executor, lambda ev: count(ev, TaskDone) == 1)
        assert done[-1].outcome["status"] == "ok"
    finally:
        executor.shutdown(kill=True)


def test_idle_actor_death_is_noticed(tmp_path):
    _, executor = make_ray_executor(write_recipe(tmp_path))
    executor.start()
    try:
        poll_until(executor, lambda ev: count(ev, WorkerUp) == 2)
        executor.kill_worker("r1")
        events = poll_until(executor, lambda ev: count(ev, WorkerUp) == 1, timeout=30)
        assert [e.worker_id for e in events if isinstance(e, WorkerDown)] == ["r1"]
        assert count(events, TaskLost) == 0
        assert sorted(executor.idle_workers()) == ["r0", "r1"]
    finally:
        executor.shutdown(kill=True)


def test_timeout_kills_the_actor_and_loses_the_task(tmp_path):
    recipe_path = write_recipe(tmp_path, timeout=1)
    _, executor = make_ray_executor(recipe_path, env={"TG_FITNESS_SLEEP": "30"})
    executor.start()
    try:
        poll_until(executor, lambda ev: count(ev, WorkerUp) == 2)
        task = Task(1, 0, 0, 0, 7, tuple([0.0] * 8))
        t0 = time.monotonic()
        executor.submit(task, "r0")
        events = poll_until(executor, lambda ev: count(ev, TaskLost) == 1, timeout=20)
        assert 1.0 <= time.monotonic() - t0 < 10
        lost = next(e for e in events if isinstance(e, TaskLost))
        assert lost.task == task and lost.reason == "timeout after 1 s"
        assert [e.worker_id for e in events if isinstance(e, WorkerDown)] == ["r0"]
        poll_until(executor, lambda ev: count(ev, WorkerUp) == 1)  # restarted
    finally:
        executor.shutdown(kill=True)


def test_evaluator_that_cannot_be_built_is_fatal(tmp_path):
    recipe_path = write_recipe(tmp_path, fitness="sphere")
    recipe_path.write_text(
        recipe_path.read_text().replace("fitness_fns:sphere", "fitness_fns:no_such_function")
    )
    # The driver-side parse does not import the module; the actor does, and says so.
    _, executor = make_ray_executor(recipe_path)
    executor.start()
    try:
        events = poll_until(executor, lambda ev: count(ev, Fatal) >= 1)
        message = next(e for e in events if isinstance(e, Fatal)).message
        assert "no_such_function" in message and "\n" not in message
        assert executor.idle_workers() == []
    finally:
        executor.shutdown(kill=True)


# ------------------------------------------------------------------------------- engine level


def test_ray_search_equals_local_pool(tmp_path, reference):
    from keras_taylorglo.search.runs import start_search

    recipe, executor = make_ray_executor(write_recipe(tmp_path))
    best = start_search(recipe, tmp_path / "run", executor=executor)
    s = store_status(tmp_path / "run")
    assert s["state"] == "finished" and s["evaluations"] == 6 * 3
    assert s["best"] == reference["best"]
    # the finalist stage too, and the loss the search hands over is its chosen one
    assert s["chosen"] == reference["chosen"] == best.as_dict()
    assert s["finalists"] == reference["finalists"]
    assert [g["best_fitness"] for g in s["generations"]] == [
        g["best_fitness"] for g in reference["generations"]
    ]
    assert [g["sigma"] for g in s["generations"]] == [g["sigma"] for g in reference["generations"]]
    devices = {d for (d,) in query(tmp_path / "run", "SELECT DISTINCT device FROM attempts")}
    assert devices and all(d.startswith("cpu@") for d in devices)


@pytest.mark.slow
def test_actor_killed_mid_attempt_is_survived(tmp_path, reference):
    from keras_taylorglo.search.runs import start_search

    marker = tmp_path / "died"
    recipe, executor = make_ray_executor(
        write_recipe(tmp_path, fitness="die_once"), env={"TG_DIE_MARKER": str(marker)}
    )
    start_search(recipe, tmp_path / "run", executor=executor)
    s = store_status(tmp_path / "run")
    assert s["state"] == "finished" and s["evaluations"] == 18
    assert sum(g["infra_failures"] for g in s["generations"]) == 1
    assert sum(g["candidate_failures"] for g in s["generations"]) == 0
    # die_once is sphere after its one death: the same search as the local pool's.
    assert s["best"] == reference["best"]
    kinds = [k for (k,) in query(tmp_path / "run", "SELECT kind FROM events")]
    assert "worker_died" in kinds and "infra" in kinds
    seed = int(marker.read_text())
    # The attempt the actor died in (its seed is the marker's; the seed is shared by the
    # generation's candidates), then the same attempt run again.
    rows = query(
        tmp_path / "run",
        "SELECT status, error FROM attempts WHERE (generation, candidate, attempt) IN "
        "(SELECT generation, candidate, attempt FROM attempts WHERE status = 'infra' "
        f"AND seed = {seed}) ORDER BY id",
    )
    assert [r[0] for r in rows] == ["infra", "ok"]
    assert "worker actor died" in rows[0][1]


@pytest.mark.slow
def test_resume_a_local_run_with_ray(tmp_path, reference):
    """A local-pool run SIGKILLed after generation 0, resumed on Ray: same result, no redo."""
    from keras_taylorglo.search.runs import resume_search

    recipe_path = write_recipe(tmp_path, executor="local")
    run_dir = tmp_path / "run"
    proc = spawn("search", str(recipe_path), "--out", str(run_dir), env={"TG_FITNESS_SLEEP": "0.1"})
    done_sql = "SELECT COUNT(*) FROM generations WHERE finished IS NOT NULL"
    wait_for(lambda: query(run_dir, done_sql)[0][0] >= 1, proc=proc)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    finished_sql = (
        "SELECT generation, candidate, attempt FROM attempts "
        "WHERE ended IS NOT NULL AND status NOT IN ('infra', 'interrupted')"
    )
    before = query(run_dir, finished_sql)
    assert store_status(run_dir)["state"] == "interrupted"
    assert len(before) < 18

    # As the README shows: the store's recipe, with the executor switched to Ray.
    from keras_taylorglo.recipe import parse_recipe
    from keras_taylorglo.search.ray_executor import RayExecutor
    from keras_taylorglo.store import Store

    store = Store.open(run_dir, readonly=True)
    meta, text = store.meta(), store.recipe_text()
    store.close()
    recipe = parse_recipe(
        text,
        source=meta["recipe_source"],
        base_dir=Path(meta["base_dir"]),
        overrides=["execution.executor=ray"],
    )
    assert recipe.execution.executor == "ray"
    resume_search(run_dir, executor=RayExecutor.from_recipe(recipe))
    s = store_status(run_dir)
    assert s["state"] == "finished"
    assert s["best"] == reference["best"]
    assert [g["best_fitness"] for g in s["generations"]] == [
        g["best_fitness"] for g in reference["generations"]
    ]
    after = query(run_dir, finished_sql)
    assert len(after) == len(set(after)) == 18, "a finished attempt was run again"
    assert set(before) <= set(after)
    devices = query(run_dir, "SELECT device FROM attempts WHERE generation = 2")
    assert devices and all(d.startswith("cpu@") for (d,) in devices)


@pytest.mark.slow
def test_small_digits_search_on_ray(tmp_path):
    """The real evaluator (TensorFlow, digits, basic CNN) in one warm actor."""
    from keras_taylorglo.search.runs import start_search

    overrides = [
        "execution.workers=1",
        "evolution.population=2",
        "evolution.generations=1",
        "training.partial.steps=20",
        "evolution.finalists.count=0",  # the recipe's full-budget finalists: not what is tested
    ]
    # The same search in a local-pool worker, compared below: it starts first and runs beside
    # the Ray one (each starts TensorFlow in one process, so the two cores are both used).
    sets = [arg for o in overrides for arg in ("--set", o)]
    recipe_path = str(ROOT / "recipes" / "digits.toml")
    local = subprocess.Popen(
        [sys.executable, "-m", "keras_taylorglo", "search", recipe_path]
        + ["--out", str(tmp_path / "local"), *sets],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        recipe, executor = make_ray_executor(
            ROOT / "recipes" / "digits.toml", overrides=[*overrides, "execution.executor=ray"]
        )
        start_search(recipe, tmp_path / "run", executor=executor)
    except BaseException:
        local.kill()  # not left running after a failure
        raise
    s = store_status(tmp_path / "run")
    assert s["state"] == "finished" and s["evaluations"] == 2
    assert s["generations"][0]["infra_failures"] == 0
    assert 0.0 <= s["best"]["fitness"] <= 1.0
    rows = query(tmp_path / "run", "SELECT DISTINCT worker, device, status FROM attempts")
    assert {(w, d.split("@")[0]) for w, d, _ in rows} == {("r0", "cpu")}
    assert {st for _, _, st in rows} <= {"ok", "aborted"}  # trained, no infra failure
    # The same training in a local-pool worker (same thread count) finds the same best.
    _, err = local.communicate(timeout=300)
    assert local.returncode == 0, err
    assert store_status(tmp_path / "local")["best"] == s["best"]


# ------------------------------------------------------------------------ the actors' plan
# Through plan_actors with a cluster's resources as ray.cluster_resources() gives them: this
# machine has no GPU, so a GPU cluster can only be described, not started.


def plan_for(resources: dict, **execution):
    from keras_taylorglo.recipe.schema import ExecutionConfig
    from keras_taylorglo.search.ray_executor import plan_actors

    return plan_actors(ExecutionConfig(executor="ray", **execution), resources)


def test_plan_one_actor_per_gpu_group():
    plan = plan_for({"CPU": 16.0, "GPU": 4.0}, gpus_per_worker=2)
    assert [(d, g, c) for d, _, _, g, c in plan] == [("gpu", 2.0, 1.0)] * 2
    assert [g for *_, g, _ in plan_for({"CPU": 16.0, "GPU": 4.0})] == [1.0] * 4
    with pytest.raises(TaylorGLOError, match="gpus_per_worker = 4: the Ray cluster has only 2"):
        plan_for({"CPU": 8.0, "GPU": 2.0}, gpus_per_worker=4)


def test_plan_workers_per_gpu_shares_each_gpu_in_fractions():
    plan = plan_for({"CPU": 16.0, "GPU": 2.0}, workers_per_gpu=3)
    assert len(plan) == 6  # three warm workers on each of the two GPUs
    assert {d for d, *_ in plan} == {"gpu"}
    assert {g for *_, g, _ in plan} == {0.3333}  # 1/3, rounded down to Ray's 1e-4
    assert 3 * plan[0][3] <= 1.0  # three fit in one GPU
    assert {c for *_, c in plan} == {1.0}
    # `workers` caps the count; fewer CPUs than actors are shared in fractions.
    assert len(plan_for({"CPU": 16.0, "GPU": 2.0}, workers_per_gpu=4, workers=5)) == 5
    assert {c for *_, c in plan_for({"CPU": 2.0, "GPU": 1.0}, workers_per_gpu=4)} == {0.5}
    # Sharing applies to GPUs only: a CPU-only cluster (or devices = "cpu") plans CPU actors.
    cpu = plan_for({"CPU": 8.0}, workers_per_gpu=2)
    assert [(d, t, g) for d, _, t, g, _ in cpu] == [("cpu", 2, 0.0)] * 4
    cpu = plan_for({"CPU": 8.0, "GPU": 2.0}, workers_per_gpu=2, devices="cpu", workers=2)
    assert [(d, t, g, c) for d, _, t, g, c in cpu] == [("cpu", 4, 0.0, 1.0)] * 2
    assert cpu[0][1]["CUDA_VISIBLE_DEVICES"] == "-1"


def test_plan_shares_no_group_of_several_gpus(tmp_path):
    # The recipe refuses workers_per_gpu > 1 with gpus_per_worker > 1 (one line, exit 2); a
    # section built without the recipe still plans one actor per group.
    with pytest.raises(TaylorGLOError, match="workers_per_gpu"):
        load_recipe(
            write_recipe(tmp_path),
            overrides=["execution.workers_per_gpu=2", "execution.gpus_per_worker=2"],
        )
    plan = plan_for({"CPU": 8.0, "GPU": 4.0}, gpus_per_worker=2, workers_per_gpu=2)
    assert [g for *_, g, _ in plan] == [2.0, 2.0]


def test_an_unreachable_actor_reads_as_died_in_one_line():
    # A node that is killed often reads as ActorUnavailableError before Ray calls it dead.
    from keras_taylorglo.search.ray_executor import describe_ray_error

    exc = ray.exceptions.ActorUnavailableError(
        "The actor is temporarily unavailable: RpcError: RPC error: Socket closed rpc_code: 14."
        "\nThe task may or may not have been executed on the actor.",
        None,
    )
    line = describe_ray_error(exc)
    assert line.startswith("worker actor died or is unreachable: ") and "Socket closed" in line
    assert "\n" not in line and len(line) <= 300
