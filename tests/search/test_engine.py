"""The search end to end through the CLI, with custom fitness functions (no TensorFlow).

Each test runs real driver and worker processes. Kill tests SIGKILL the driver at chosen
moments and check that `resume` ends with exactly the uninterrupted run's result and that no
finished attempt was run again.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import time
from pathlib import Path

import pytest
from cli_helpers import children, cli, cli_in_process, cmdline, spawn, wait_for
from cli_helpers import status as status_json
from store_query import query

HERE = Path(__file__).parent

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
devices = "cpu"
workers = 2
"""


def write_recipe(
    tmp: Path,
    fitness: str = "sphere",
    population: int = 6,
    generations: int = 4,
    timeout: float = 0,
) -> Path:
    shutil.copy(HERE / "fitness_fns.py", tmp / "fitness_fns.py")
    path = tmp / "recipe.toml"
    path.write_text(
        RECIPE.format(
            fitness=fitness, population=population, generations=generations, timeout=timeout
        )
    )
    return path


def status(run_dir: Path) -> dict:
    """``status RUN_DIR --json`` in this process, parsed (the store is read, not the process)."""
    return status_json(run_dir, run=cli_in_process)


def finished_attempts(run_dir: Path) -> list[tuple]:
    return query(
        run_dir,
        "SELECT generation, candidate, attempt, status FROM attempts "
        "WHERE ended IS NOT NULL AND status NOT IN ('infra', 'interrupted')",
    )


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict:
    """The uninterrupted run every resumed run must equal."""
    tmp = tmp_path_factory.mktemp("ref")
    recipe = write_recipe(tmp)
    out = cli_in_process("search", str(recipe), "--out", str(tmp / "run"))
    assert out.returncode == 0, out.stderr
    return status(tmp / "run")


def test_search_finishes_with_contract_status(reference):
    s = reference
    assert s["state"] == "finished"
    assert s["evaluations"] == 6 * 4
    assert [g["index"] for g in s["generations"]] == [0, 1, 2, 3]
    for g in s["generations"]:
        assert set(g) >= {
            "index",
            "best_fitness",
            "mean_fitness",
            "sigma",
            "evaluations",
            "candidate_failures",
            "infra_failures",
        }
        assert g["evaluations"] == 6 and g["candidate_failures"] == 0 and g["infra_failures"] == 0
        assert 0 < g["mean_fitness"] <= g["best_fitness"] <= 1.0
    best = s["best"]
    assert best["fitness"] == max(g["best_fitness"] for g in s["generations"])
    assert len(best["theta"]) == 8
    # CMA-ES improves on a sphere: the last generation's mean beats the first's.
    assert s["generations"][-1]["mean_fitness"] > s["generations"][0]["mean_fitness"]


def test_same_seed_same_search(tmp_path, reference):
    recipe = write_recipe(tmp_path)
    out = cli_in_process("search", str(recipe), "--out", str(tmp_path / "run"))
    assert out.returncode == 0, out.stderr
    assert status(tmp_path / "run")["best"] == reference["best"]


KILL_POINTS = {
    # between generations: generation 1 is told and checkpointed, generation 2 not begun
    "between_generations": "SELECT COUNT(*) >= 2 FROM generations WHERE finished IS NOT NULL",
    # mid-generation: some attempts of generation 2 finished, others not
    "mid_generation": (
        "SELECT COUNT(*) >= 3 FROM attempts WHERE generation = 2 AND ended IS NOT NULL"
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("point", sorted(KILL_POINTS))
def test_sigkill_and_resume_is_exact(tmp_path, reference, point):
    recipe = write_recipe(tmp_path)
    run_dir = tmp_path / "run"
    proc = spawn("search", str(recipe), "--out", str(run_dir), env={"TG_FITNESS_SLEEP": "0.05"})
    wait_for(lambda: query(run_dir, KILL_POINTS[point])[0][0] == 1, proc=proc)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = set(finished_attempts(run_dir))
    assert status(run_dir)["state"] == "interrupted"
    again = cli_in_process("search", str(recipe), "--out", str(run_dir))
    assert again.returncode == 2 and "already holds an interrupted search" in again.stderr
    assert f"resume it with `keras-taylorglo resume {run_dir}`" in again.stderr
    # Resume may change where it runs (one worker here), nothing else.
    refused = cli_in_process("resume", str(run_dir), "--set", "evolution.population=3")
    assert refused.returncode == 2 and "may only change execution" in refused.stderr
    out = cli_in_process("resume", str(run_dir), "--set", "execution.workers=1")
    assert out.returncode == 0, out.stderr
    final = status(run_dir)
    assert final["state"] == "finished"
    assert final["best"] == reference["best"]
    assert [g["best_fitness"] for g in final["generations"]] == [
        g["best_fitness"] for g in reference["generations"]
    ]
    rows = finished_attempts(run_dir)
    assert len(rows) == len(set(rows)) == 24, "a finished attempt was run again"
    assert before <= set(rows)


@pytest.mark.slow
@pytest.mark.parametrize("fault", ["begin_generation:3", "finish_attempt:9", "finish_generation:2"])
def test_crash_while_journaling_then_resume(tmp_path, reference, fault):
    """The driver dies inside a store transaction: nothing half-written, resume is exact."""
    recipe = write_recipe(tmp_path)
    run_dir = tmp_path / "run"
    pythonpath = os.pathsep.join([str(HERE / "_fault"), os.environ.get("PYTHONPATH", "")])
    out = cli(
        "search",
        str(recipe),
        "--out",
        str(run_dir),
        env={"TG_FAULT": fault, "PYTHONPATH": pythonpath},
    )
    assert out.returncode == -signal.SIGKILL, out.stderr
    # The transaction that was cut is wholly absent.
    generations = query(run_dir, "SELECT generation, finished FROM generations ORDER BY generation")
    name, n = fault.split(":")
    if name == "begin_generation":
        assert [g for g, _ in generations] == [0, 1]
        assert query(run_dir, "SELECT COUNT(*) FROM candidates WHERE generation = 2")[0][0] == 0
    if name == "finish_generation":
        assert generations[1][1] is None  # generation 1 begun, not finished
    out = cli_in_process(
        "resume", str(run_dir), env={"PYTHONPATH": os.environ.get("PYTHONPATH", "")}
    )
    assert out.returncode == 0, out.stderr
    final = status(run_dir)
    assert final["best"] == reference["best"]
    rows = finished_attempts(run_dir)
    assert len(rows) == len(set(rows)) == 24


@pytest.mark.slow
def test_tensorboard_summary_lost_in_a_crash_is_written_on_resume(tmp_path, reference):
    """Killed right after generation 1 is journaled (its summary is written once generation 2
    is under way): the resumed search writes the missing summary from the store."""
    import types

    sys.modules.setdefault("tensorboard.compat.notf", types.ModuleType("notf"))
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    def steps(run_dir: Path) -> list[int]:
        found = []
        for path in sorted((run_dir / "tensorboard").glob("events.out.tfevents.*")):
            for event in EventFileLoader(str(path)).Load():
                found += [event.step for v in event.summary.value if v.tag == "cma/sigma"]
        return sorted(found)

    recipe = write_recipe(tmp_path)
    run_dir = tmp_path / "run"
    pythonpath = os.pathsep.join([str(HERE / "_fault"), os.environ.get("PYTHONPATH", "")])
    env = {"TG_FAULT": "finish_generation:2:after", "PYTHONPATH": pythonpath}
    out = cli("search", str(recipe), "--out", str(run_dir), env=env)
    assert out.returncode == -signal.SIGKILL, out.stderr
    assert 1 not in steps(run_dir)  # journaled in the store, not yet in TensorBoard
    out = cli_in_process(
        "resume", str(run_dir), env={"PYTHONPATH": os.environ.get("PYTHONPATH", "")}
    )
    assert out.returncode == 0, out.stderr
    assert status(run_dir)["best"] == reference["best"]
    assert steps(run_dir) == [0, 1, 2, 3]  # every generation once


@pytest.mark.slow
def test_fitness_rules(tmp_path):
    recipe = write_recipe(tmp_path, fitness="rules", population=8, generations=2)
    run_dir = tmp_path / "run"
    out = cli_in_process("search", str(recipe), "--out", str(run_dir))
    assert out.returncode == 0, out.stderr
    rows = query(
        run_dir,
        "SELECT generation, candidate, attempt, status, fitness FROM attempts "
        "WHERE ended IS NOT NULL",
    )
    cands = query(run_dir, "SELECT generation, candidate, theta, status, fitness FROM candidates")
    by_cand: dict = {}
    for g, c, a, st, f in rows:
        by_cand.setdefault((g, c), []).append((a, st, f))
    saw_fail = saw_div = False
    for g, c, theta_json, cst, cfit in cands:
        theta = json.loads(theta_json)
        attempts = sorted(by_cand[(g, c)])
        if theta[1] > 1.5:  # NaN: diverged, fitness 0, no retry
            saw_div = True
            assert [s for _, s, _ in attempts] == ["diverged"] and cst == "diverged" and cfit == 0
        elif theta[0] > 1.0:  # exception: failed, retried up to 3 attempts, fitness 0
            saw_fail = True
            assert [(a, s) for a, s, _ in attempts] == [(0, "failed"), (1, "failed"), (2, "failed")]
            assert cst == "failed" and cfit == 0
        else:
            assert [s for _, s, _ in attempts] == ["ok"] and cst == "ok" and cfit > 0
    assert saw_fail and saw_div, "the sampled candidates did not exercise both rules"
    s = status(run_dir)
    assert sum(g["candidate_failures"] for g in s["generations"]) > 0
    assert all(g["infra_failures"] == 0 for g in s["generations"])


@pytest.mark.slow
def test_worker_killed_mid_attempt_is_replaced(tmp_path):
    recipe = write_recipe(tmp_path, fitness="die_once", population=4, generations=2)
    run_dir = tmp_path / "run"
    out = cli_in_process(
        "search", str(recipe), "--out", str(run_dir), env={"TG_DIE_MARKER": str(tmp_path / "died")}
    )
    assert out.returncode == 0, out.stderr
    s = status(run_dir)
    assert s["state"] == "finished" and s["evaluations"] == 8
    assert sum(g["infra_failures"] for g in s["generations"]) == 1
    assert sum(g["candidate_failures"] for g in s["generations"]) == 0
    kinds = [k for (k,) in query(run_dir, "SELECT kind FROM events")]
    assert "worker_died" in kinds and "infra" in kinds
    # The lost attempt was re-run with the same seed and counted once as a candidate result.
    seed = int((tmp_path / "died").read_text())
    # (Every candidate of a generation trains from the same seeds: find the attempt that died.)
    ((g, c, attempt),) = query(
        run_dir, "SELECT generation, candidate, attempt FROM attempts WHERE status = 'infra'"
    )
    same = f"generation = {g} AND candidate = {c} AND attempt = {attempt}"
    assert query(run_dir, f"SELECT seed, status FROM attempts WHERE {same} ORDER BY id") == [
        (seed, "infra"),
        (seed, "ok"),
    ]


@pytest.mark.slow
def test_timeout_is_enforced(tmp_path):
    recipe = write_recipe(tmp_path, fitness="slow_once", population=4, generations=1, timeout=2)
    run_dir = tmp_path / "run"
    t0 = time.monotonic()
    out = cli_in_process(
        "search", str(recipe), "--out", str(run_dir), env={"TG_SLOW_MARKER": str(tmp_path / "slow")}
    )
    assert out.returncode == 0, out.stderr
    assert time.monotonic() - t0 < 45
    errors = [e for (e,) in query(run_dir, "SELECT error FROM attempts WHERE status = 'infra'")]
    assert len(errors) == 1 and "timeout after 2 s" in errors[0]


@pytest.mark.slow
def test_lock_refuses_second_search_and_ctrl_c_is_resumable(tmp_path):
    recipe = write_recipe(tmp_path, generations=3)
    run_dir = tmp_path / "run"
    proc = spawn("search", str(recipe), "--out", str(run_dir), env={"TG_FITNESS_SLEEP": "0.2"})
    wait_for(lambda: query(run_dir, "SELECT COUNT(*) FROM attempts")[0][0] >= 1, proc=proc)
    second = cli_in_process("search", str(recipe), "--out", str(run_dir), "--overwrite")
    assert second.returncode == 2
    assert second.stderr.count("\n") == 1 and "in use by process" in second.stderr
    assert str(proc.pid) in second.stderr
    assert status(run_dir)["state"] == "running"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert f"keras-taylorglo resume {run_dir}" in err
    assert status(run_dir)["state"] == "interrupted"
    out = cli_in_process("resume", str(run_dir))
    assert out.returncode == 0, out.stderr
    assert status(run_dir)["state"] == "finished"


def test_existing_run_is_not_overwritten(tmp_path):
    recipe = write_recipe(tmp_path, population=4, generations=1)
    run_dir = tmp_path / "run"
    assert cli_in_process("search", str(recipe), "--out", str(run_dir)).returncode == 0
    again = cli_in_process("search", str(recipe), "--out", str(run_dir))
    assert again.returncode == 2 and "already holds a finished search" in again.stderr
    # Reports and plots of the old search must not outlive it; other files are the user's.
    for derived in ("analysis", "plots", "tensorboard"):
        (run_dir / derived).mkdir(exist_ok=True)
        (run_dir / derived / "old.txt").write_text("old")
    (run_dir / "notes.txt").write_text("mine")
    assert (
        cli_in_process("search", str(recipe), "--out", str(run_dir), "--overwrite").returncode == 0
    )
    assert not (run_dir / "analysis").exists() and not (run_dir / "plots").exists()
    assert not (run_dir / "tensorboard" / "old.txt").exists()
    assert (run_dir / "notes.txt").read_text() == "mine"


def test_status_of_missing_run_is_one_line(tmp_path):
    out = cli_in_process("status", str(tmp_path / "nothing"))
    assert out.returncode == 2
    assert out.stderr.startswith("error: ") and out.stderr.count("\n") == 1


@pytest.mark.slow
def test_workers_exit_when_the_driver_dies(tmp_path):
    """Only the driver is SIGKILLed (not its process group): its workers must not linger."""
    recipe = write_recipe(tmp_path, generations=3)
    run_dir = tmp_path / "run"
    proc = spawn("search", str(recipe), "--out", str(run_dir), env={"TG_FITNESS_SLEEP": "0.3"})
    wait_for(
        lambda: query(run_dir, "SELECT COUNT(*) FROM workers WHERE pid > 0")[0][0] == 2, proc=proc
    )
    # From generation 1 on, the TensorBoard renderer process runs too: it must not linger either.
    pids = [pid for (pid,) in query(run_dir, "SELECT pid FROM workers")]

    def renderer() -> list[int]:
        return [c for c in children(proc.pid) if c not in pids and b"spawn_main" in cmdline(c)]

    wait_for(renderer, proc=proc)
    helpers = children(proc.pid)
    assert set(pids) | set(renderer()) <= set(helpers), helpers
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()

    def gone(pid: int) -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        # a zombie still answers kill(0); it no longer runs anything
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] == "Z"

    deadline = time.monotonic() + 10
    while not all(gone(p) for p in helpers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert all(gone(p) for p in helpers), "worker or helper processes outlived the driver"


@pytest.mark.slow
def test_the_shipped_digits_recipe_searches_end_to_end(tmp_path):
    """The embedded default with its own rules and finalist stage (budgets shrunk): real
    TensorFlow trainings, offline; how long the full recipe takes is `make demo`'s and bench's."""
    root = Path(__file__).resolve().parents[2]
    shrink = ["training.partial.steps=60", "training.full.steps=60", "evolution.generations=2"]
    sets = [arg for item in shrink for arg in ("--set", item)]
    out = cli(
        "search",
        str(root / "recipes" / "digits.toml"),
        "--out",
        str(tmp_path / "run"),
        *sets,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    s = status(tmp_path / "run")
    assert s["state"] == "finished" and s["evaluations"] == 8 * 2
    # It learns: the best partial training beats chance (10 classes) by far.
    assert s["best"]["fitness"] > 0.3
    # The recipe's finalist stage ran: 3 candidates and the CMA-ES mean, 4 seeds each, and the
    # loss handed over is the best of them.
    assert len(s["finalists"]) == 4 and s["chosen"]["source"] == "finalist"
    runs = query(tmp_path / "run", "SELECT COUNT(*) FROM finalist_runs WHERE status != 'infra'")
    assert runs == [(16,)]
    assert "I0000" not in out.stderr  # TensorFlow's start-up chatter stays out of the terminal


@pytest.mark.slow
def test_real_digits_search_killed_and_resumed_ends_identically(tmp_path):
    """With real TensorFlow trainings: every evaluation is a pure function of (θ, seed), on
    any worker and after any other candidate, so a SIGKILLed and resumed search reaches the
    uninterrupted one's best θ and fitness exactly, and redoes no finished attempt."""
    root = Path(__file__).resolve().parents[2]
    overrides = [
        "--set",
        f"data.data_dir={json.dumps(str(tmp_path / 'tfds'))}",
        "--set",
        "evolution.population=4",
        "--set",
        "evolution.generations=2",
        "--set",
        "training.partial.steps=36",
        "--set",
        "training.full.steps=36",
        "--set",
        "evolution.finalists.seeds=1",
    ]
    recipe = str(root / "recipes" / "digits.toml")
    whole = tmp_path / "whole"
    out = cli_in_process("search", recipe, "--out", str(whole), *overrides, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]

    killed = tmp_path / "killed"
    proc = spawn("search", recipe, "--out", str(killed), *overrides)
    count = "SELECT COUNT(*) FROM attempts WHERE status != 'running'"
    wait_for(lambda: query(killed, count)[0][0] >= 3, timeout=240, proc=proc)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done = query(
        killed,
        "SELECT generation, candidate, attempt, fitness FROM attempts "
        "WHERE status != 'running' AND status != 'interrupted'",
    )
    out = cli_in_process("resume", str(killed), timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]

    a, b = status(whole), status(killed)
    assert b["state"] == "finished"
    assert b["best"] == a["best"]  # θ, fitness, generation and candidate, exactly
    assert b["chosen"] == a["chosen"] and b["finalists"] == a["finalists"]
    assert [g["best_fitness"] for g in b["generations"]] == [
        g["best_fitness"] for g in a["generations"]
    ]
    # Every attempt's result, not just the ranking CMA-ES sees, is the uninterrupted run's.
    results = (
        "SELECT generation, candidate, attempt, status, fitness FROM attempts "
        "WHERE status != 'interrupted' ORDER BY generation, candidate, attempt"
    )
    assert query(killed, results) == query(whole, results)
    # The attempts finished before the kill were kept, not run again.
    after = query(
        killed,
        "SELECT generation, candidate, attempt, fitness FROM attempts "
        "WHERE status != 'interrupted'",
    )
    for row in done:
        assert after.count(row) == 1


# ------------------------------------------------------------------ failed starts, Ctrl-C, lines


def test_misspelt_fitness_fails_search_at_once_and_leaves_no_run(tmp_path):
    recipe = write_recipe(tmp_path, fitness="spher", population=4, generations=1)
    run_dir = tmp_path / "run"
    t0 = time.monotonic()
    out = cli_in_process("search", str(recipe), "--out", str(run_dir))
    assert out.returncode == 2
    assert out.stderr.startswith(f"error: {recipe}: evaluation.fitness: ")
    assert "did you mean 'sphere'?" in out.stderr and out.stderr.count("\n") == 1
    assert time.monotonic() - t0 < 30  # no worker was started (seconds on a loaded machine)
    assert not (run_dir / "experiment.sqlite").exists()
    write_recipe(tmp_path, fitness="sphere", population=4, generations=1)
    again = cli_in_process("search", str(recipe), "--out", str(run_dir))  # no --overwrite needed
    assert again.returncode == 0, again.stderr


BROKEN_AT_IMPORT = """
raise RuntimeError("cannot reach the licence server")


def sphere(theta, seed):
    return 0.5
"""


def test_search_failing_in_the_workers_before_any_evaluation_leaves_no_run(tmp_path):
    """Only the workers can find this one (the module raises when imported): the search stops
    with one line naming the recipe file, and leaves nothing that makes the next one refuse."""
    recipe = write_recipe(tmp_path, population=4, generations=1)
    recipe.write_text(recipe.read_text().replace("fitness_fns:sphere", "broken_fns:sphere"))
    (tmp_path / "broken_fns.py").write_text(BROKEN_AT_IMPORT)
    run_dir = tmp_path / "run"
    # The source is fine; running it is not.
    assert cli_in_process("validate", str(recipe)).returncode == 0
    out = cli_in_process("search", str(recipe), "--out", str(run_dir))
    assert out.returncode == 2
    assert out.stderr.startswith(f"error: {recipe}: evaluation.fitness: importing 'broken_fns'")
    assert "cannot reach the licence server" in out.stderr
    assert out.stderr.count("\n") == 1 and "<recipe>" not in out.stderr
    assert not (run_dir / "experiment.sqlite").exists()
    assert cli_in_process("resume", str(run_dir)).returncode == 2  # nothing to resume
    (tmp_path / "broken_fns.py").write_text(BROKEN_AT_IMPORT.replace("raise", "# raise"))
    again = cli_in_process("search", str(recipe), "--out", str(run_dir))
    assert again.returncode == 0, again.stderr
    assert "already holds" not in again.stderr
    assert status(run_dir)["state"] == "finished"


def test_progress_lines_count_generations_from_0_and_resume_of_a_finished_run_says_so(tmp_path):
    recipe = write_recipe(tmp_path, population=4, generations=2)
    run_dir = tmp_path / "run"
    out = cli_in_process("search", str(recipe), "--out", str(run_dir))
    assert out.returncode == 0, out.stderr
    done = [line for line in out.stderr.splitlines() if line.startswith("generation ")]
    assert [line.split(" done:")[0] for line in done] == ["generation 0", "generation 1"]
    assert "gen 1 of 0–1 · " in done[-1]
    assert "(generation " in out.stdout  # the final line: the same numbering as status
    assert [g["index"] for g in status(run_dir)["generations"]] == [0, 1]
    again = cli_in_process("resume", str(run_dir))
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith(f"{run_dir}: the search had already finished; nothing to resume")
    assert "chosen loss: finalist" in again.stdout  # the recipe's finalist stage ran


@pytest.mark.slow
def test_ctrl_c_prints_no_traceback(tmp_path):
    """Ctrl-C in a terminal signals the whole process group: the driver, its workers and the
    TensorBoard renderer. Only the driver may speak: its two lines, and no traceback."""
    recipe = write_recipe(tmp_path, population=4, generations=6)
    run_dir = tmp_path / "run"
    proc = spawn("search", str(recipe), "--out", str(run_dir), env={"TG_FITNESS_SLEEP": "0.3"})
    wait_for(
        lambda: query(run_dir, "SELECT COUNT(*) FROM workers WHERE pid > 0")[0][0] == 2, proc=proc
    )
    pids = [pid for (pid,) in query(run_dir, "SELECT pid FROM workers")]

    def renderer() -> list[int]:
        return [c for c in children(proc.pid) if c not in pids and b"spawn_main" in cmdline(c)]

    # The renderer starts once generation 0 is told: interrupt it while it is starting up (the
    # moment its own KeyboardInterrupt used to print a traceback from the import machinery).
    wait_for(renderer, proc=proc, timeout=120)
    helpers = children(proc.pid)
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert f"keras-taylorglo resume {run_dir}" in err
    assert status(run_dir)["state"] == "interrupted"
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{p}").exists() for p in helpers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [p for p in helpers if Path(f"/proc/{p}").exists()], "a helper outlived the driver"
    out = cli_in_process("resume", str(run_dir))  # still resumable
    assert out.returncode == 0, out.stderr


def test_first_worker_report_of_label_noise_goes_into_the_meta(tmp_path):
    from keras_taylorglo.recipe import load_default_recipe
    from keras_taylorglo.search.engine import Engine
    from keras_taylorglo.search.messages import WorkerUp
    from keras_taylorglo.store import Store

    store = Store.create(tmp_path / "run", recipe_text="", meta={"name": "noisy"})
    engine = Engine(load_default_recipe(), store, None)
    noise = {
        "rate": 0.4,
        "kind": "symmetric",
        "validation": True,
        "realised_train": 0.397,
        "realised_validation": 0.41,
    }

    def up(worker: str, info: dict | None) -> WorkerUp:
        event = WorkerUp(worker, "cpu", 1)
        if info is not None:
            object.__setattr__(event, "info", info)  # the field is new: set it on any version
        return event

    engine._worker_event(up("w0", None))  # an old worker: no info at all
    assert "label_noise" not in store.meta()
    engine._worker_event(up("w1", {"label_noise": noise}))
    assert store.meta()["label_noise"] == noise
    other = {**noise, "realised_train": 0.5}
    engine._worker_event(up("w2", {"label_noise": other}))
    assert store.meta()["label_noise"] == noise  # the first report stands
    store.close()


def test_tensorboard_that_cannot_start_neither_stops_nor_hides_anything(tmp_path, monkeypatch):
    """A Ctrl-C that lands inside TensorBoard's first import leaves a half-imported module, and
    the interrupted search's ``finally`` starts TensorBoard again: that must be one warning, never
    an AttributeError in place of the interrupt, and a search goes on without summaries."""
    from keras_taylorglo import tensorboard

    def half_imported(*args, **kwargs):
        raise AttributeError("partially initialized module 'fsspec' has no attribute 'utils'")

    monkeypatch.setattr(tensorboard, "SearchLogger", half_imported)
    run_dir = tmp_path / "run"
    out = cli_in_process(
        "search", str(write_recipe(tmp_path, generations=3)), "--out", str(run_dir)
    )
    assert out.returncode == 0, out.stderr
    warned = [line for line in out.stderr.splitlines() if line.startswith("warning: TensorBoard")]
    assert warned == [
        "warning: TensorBoard summaries stopped: partially initialized module 'fsspec' has no "
        "attribute 'utils'"
    ]
    assert "Traceback" not in out.stderr
    assert status(run_dir)["state"] == "finished"
    assert not list((run_dir / "tensorboard").glob("events.out.tfevents.*"))
