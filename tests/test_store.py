"""The SQLite experiment store and the run lock (no TensorFlow)."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Mapping
from pathlib import Path

import pytest

from keras_taylorglo.errors import RunLockedError, StoreError
from keras_taylorglo.outcomes import Outcome, Status
from keras_taylorglo.store import RunLock, Store, is_locked, lock_holder
from keras_taylorglo.store.frozen import (
    AnalysisRunRecord,
    AttemptRecord,
    BestRecord,
    CandidateRecord,
    EventRecord,
    GenerationRecord,
    ProgressSummary,
    ResultRecord,
    StoreSnapshot,
    WorkerRecord,
)

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
THETA = [0.5, -0.25, 1.0, 2.0, -1.0, 0.0, 3.0, 0.125]


def _python(code: str, *args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        cwd=ROOT,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def _new(tmp_path: Path, population: int = 3, generations: int = 2) -> Store:
    return Store.create(
        tmp_path / "run",
        recipe_text="[experiment]\nname = 't'\n",
        recipe_source="t.toml",
        meta={"name": "t", "population": population, "generations": generations, "seed": 0},
    )


def _theta(g: int, c: int) -> list[float]:
    return [g + c / 10.0, float(c)] + THETA[2:]


def _run_generation(store: Store, g: int, fitnesses: list[float]) -> None:
    store.begin_generation(g, f"before {g}".encode(), [_theta(g, c) for c in range(len(fitnesses))])
    for c, fitness in enumerate(fitnesses):
        row = store.start_attempt(g, c, 0, seed=100 * g + c, worker="w0", device="CPU")
        store.finish_attempt(row, Outcome(Status.OK, fitness, val_accuracy=fitness, steps=10))
        store.set_candidate_result(g, c, Status.OK, fitness)
    store.finish_generation(g, f"after {g}".encode(), mean=[0.0] * 8, sigma=1.0 + g)


# ----------------------------------------------------------------------------- create / open


def test_create_open_refuse_and_overwrite(tmp_path):
    store = _new(tmp_path)
    meta = store.meta()
    assert meta["state"] == "running"
    assert meta["planned_evaluations"] == 6
    assert meta["recipe_source"] == "t.toml" and store.recipe_text().startswith("[experiment]")
    assert meta["pid"] == os.getpid() and meta["host"] == socket.gethostname()
    store.close()
    assert Store.exists(tmp_path / "run")
    with pytest.raises(StoreError, match="already holds a run"):
        _new(tmp_path)
    again = Store.create(tmp_path / "run", recipe_text="x", meta={}, overwrite=True)
    assert again.recipe_text() == "x" and again.generations() == []
    again.close()
    with Store.open(tmp_path / "run", readonly=True) as reader:
        assert reader.meta()["recipe_text"] == "x"


def test_create_from_a_recipe_object(tmp_path):
    from keras_taylorglo.recipe import load_default_recipe

    recipe = load_default_recipe()
    store = Store.create(tmp_path / "r", recipe)
    meta = store.meta()
    evo = recipe.evolution
    assert meta["name"] == recipe.experiment.name
    assert meta["planned_evaluations"] == evo.population * evo.generations
    assert meta["num_params"] == recipe.loss.num_params
    assert store.recipe_text() == recipe.to_toml()
    store.close()


def test_open_missing_or_foreign(tmp_path):
    with pytest.raises(StoreError, match="no keras-taylorglo run here"):
        Store.open(tmp_path)
    foreign = tmp_path / "experiment.sqlite"
    conn = sqlite3.connect(foreign)
    conn.execute("CREATE TABLE x(a)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="is not a keras-taylorglo store"):
        Store.open(tmp_path)
    foreign.write_bytes(b"not a database at all, just text" * 100)
    with pytest.raises(StoreError, match="is not a keras-taylorglo store"):
        Store.open(tmp_path, readonly=True)


def test_readonly_store_refuses_writes(tmp_path):
    _new(tmp_path).close()
    reader = Store.open(tmp_path / "run", readonly=True)
    with pytest.raises(StoreError, match="open read-only"):
        reader.add_event("info", "hello")


# ------------------------------------------------------------------------------ transactions


def test_failed_transaction_leaves_nothing(tmp_path, monkeypatch):
    store = _new(tmp_path)

    def explode(conn, generation, candidates, started):
        conn.execute(
            "INSERT INTO candidates(generation, candidate, theta, status, updated) "
            "VALUES (?, 0, '[]', 'pending', 0)",
            (generation,),
        )
        raise RuntimeError("crash between inserts")

    monkeypatch.setattr(Store, "_insert_candidates", staticmethod(explode))
    with pytest.raises(RuntimeError, match="crash between inserts"):
        store.begin_generation(0, b"state", [THETA, THETA])
    assert store.generations() == [] and store.candidates() == []
    assert store.oracle_state(0) is None
    monkeypatch.undo()
    store.begin_generation(0, b"state", [THETA, THETA])  # the same write succeeds afterwards
    assert len(store.candidates(0)) == 2


def test_killed_inside_a_transaction_leaves_nothing(tmp_path):
    _new(tmp_path).close()
    code = """
        import os, signal, sys
        from keras_taylorglo.store import Store
        store = Store.open(sys.argv[1])
        def die(conn, generation, candidates, started):
            conn.execute(
                "INSERT INTO candidates(generation, candidate, theta, status, updated) "
                "VALUES (?, 0, '[]', 'pending', 0)", (generation,))
            os.kill(os.getpid(), signal.SIGKILL)
        Store._insert_candidates = staticmethod(die)
        store.begin_generation(0, b"state", [[0.0] * 8] * 4)
    """
    proc = _python(code, str(tmp_path / "run"))
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    store = Store.open(tmp_path / "run")
    assert store.generations() == [] and store.candidates() == []
    assert store.unfinished_generation() is None and store.latest_oracle_state() is None


def test_begin_generation_twice_is_refused(tmp_path):
    store = _new(tmp_path)
    store.begin_generation(0, b"s", [THETA])
    with pytest.raises(StoreError, match="generation 0 is already journaled"):
        store.begin_generation(0, b"s", [THETA])


# ------------------------------------------------------------------------ lifecycle, readers


def test_generation_lifecycle_and_aggregates(tmp_path):
    store = _new(tmp_path, population=4)
    store.update_worker("w0", state="idle", device="GPU:0", pid=123)
    store.begin_generation(0, b"before0", [_theta(0, c) for c in range(4)])
    assert store.unfinished_generation() == 0 and store.latest_oracle_state() is None
    assert store.generation_candidates(0) == [_theta(0, c) for c in range(4)]
    assert store.generation_candidates(1) is None

    # candidate 0: ok at once
    a = store.start_attempt(0, 0, 0, seed=1, worker="w0", device="GPU:0")
    assert store.workers()[0].state == "busy" and store.workers()[0].candidate == 0
    assert store.candidates(0)[0].status == Status.RUNNING
    store.finish_attempt(
        a,
        Outcome(Status.OK, 0.9, 0.9, 300, 5.0, {"val_accuracy": [0.5, 0.9]}),
        candidate_status=Status.OK,
        candidate_fitness=0.9,
    )
    worker = store.workers()[0]
    assert (worker.state, worker.last_status, worker.last_fitness) == (
        "idle",
        Status.OK,
        0.9,
    )
    # candidate 1: aborted, then infra twice (same attempt re-run), then ok
    a = store.start_attempt(0, 1, 0, seed=2)
    store.finish_attempt(a, Outcome(Status.ABORTED, 0.1, 0.1))
    for _ in range(2):
        a = store.start_attempt(0, 1, 1, seed=3)
        store.finish_attempt(a, Outcome(Status.INFRA, 0.0, error="worker died"))
    a = store.start_attempt(0, 1, 1, seed=3)
    assert store.attempts(0, 1)[-1].rerun == 2
    store.finish_attempt(
        a, Outcome(Status.OK, 0.95, 0.95), candidate_status=Status.OK, candidate_fitness=0.95
    )
    # candidate 2: diverged (NaN fitness stored as NULL, counted as 0)
    a = store.start_attempt(0, 2, 0, seed=4)
    store.finish_attempt(
        a,
        Outcome(Status.DIVERGED, float("nan")),
        candidate_status=Status.DIVERGED,
        candidate_fitness=None,
    )
    # candidate 3: still running
    store.start_attempt(0, 3, 0, seed=5)

    gen = store.generations()[0]
    assert gen.evaluations == 3
    assert gen.best_fitness == 0.95 and gen.best_candidate == 1
    assert gen.mean_fitness == pytest.approx((0.9 + 0.95 + 0.0) / 3)
    assert gen.candidate_failures == 2  # the abort and the divergence
    assert gen.infra_failures == 2
    assert gen.retries == 1  # attempt 1 of candidate 1 (its infra re-runs are not retries)
    assert gen.attempts == 7 and gen.running == 1
    assert gen.sigma is None and gen.finished is None
    assert store.candidate_result(0, 1) == ResultRecord(status=Status.OK, fitness=0.95)
    assert store.candidate_result(0, 3) is None
    with pytest.raises(StoreError, match=r"candidates \[3\] have no result"):
        store.finish_generation(0, b"after0", [0.0] * 8, 1.1)

    # resume view: the running attempt is not finished; closing it marks it interrupted
    finished = store.finished_attempts(0)
    assert [(r.candidate, r.attempt, r.status) for r in finished] == [
        (0, 0, Status.OK),
        (1, 0, Status.ABORTED),
        (1, 1, Status.INFRA),
        (1, 1, Status.INFRA),
        (1, 1, Status.OK),
        (2, 0, Status.DIVERGED),
    ]
    assert store.close_interrupted_attempts() == 1
    assert store.attempts(0, 3)[0].status == Status.INTERRUPTED
    assert store.generations()[0].running == 0
    statuses = [Status.OK, Status.OK, Status.DIVERGED, Status.RUNNING]
    assert [c.status for c in store.candidates(0)] == statuses
    second = [a for a in store.finished_attempts(0) if a.candidate == 1]
    assert [a.status for a in second] == [Status.ABORTED, Status.INFRA, Status.INFRA, Status.OK]
    assert second[-1].rerun == 2 and second[0].seed == 2
    assert [a.candidate for a in store.finished_attempts(0)].count(3) == 0  # interrupted

    store.set_candidate_result(0, 3, Status.SCREENED, 0.0)
    summary = store.finish_generation(0, b"after0", [0.5] * 8, 1.1)
    assert summary == {
        "best_fitness": 0.95,
        "mean_fitness": pytest.approx(1.85 / 4),
        "best_candidate": 1,
        "new_best": True,
    }
    assert store.latest_oracle_state() == b"after0"
    assert store.generation_state_before(0) == b"before0"
    assert store.unfinished_generation() is None
    gen = store.generations()[0]
    assert gen.sigma == 1.1 and gen.mean == [0.5] * 8 and gen.screened == 1
    assert store.best() == BestRecord(theta=_theta(0, 1), fitness=0.95, generation=0, candidate=1)
    with pytest.raises(ValueError, match="candidate status must be one of"):
        store.set_candidate_result(0, 0, "great", 1.0)
    with pytest.raises(StoreError, match="no candidate 9 of generation 0"):
        store.set_candidate_result(0, 9, Status.OK, 1.0)


def test_new_best_flags_and_best_ties(tmp_path):
    store = _new(tmp_path, population=2, generations=4)
    _run_generation(store, 0, [0.5, 0.7])
    _run_generation(store, 1, [0.7, 0.6])  # equal to the best: not a new best
    _run_generation(store, 2, [0.2, 0.8])
    flags = [g.new_best for g in store.generations()]
    assert flags == [True, False, True]
    stored = store._conn.execute("SELECT new_best FROM generations ORDER BY generation")
    assert [r[0] for r in stored] == [1, 0, 1]
    assert store.best().generation == 2
    store2 = _new(tmp_path / "b", population=2)
    _run_generation(store2, 0, [0.4, 0.4])
    assert store2.best().candidate == 0  # ties: the earliest


def test_status_json_contract(tmp_path):
    store = _new(tmp_path, population=3)
    empty = store.status_json()
    assert empty == {"state": "interrupted", "evaluations": 0, "generations": [], "best": None}
    _run_generation(store, 0, [0.2, 0.6, 0.4])
    store.begin_generation(1, b"b1", [_theta(1, c) for c in range(3)])
    a = store.start_attempt(1, 0, 0, seed=1)
    store.finish_attempt(
        a,
        Outcome(Status.FAILED, 0.0, error="boom"),
        candidate_status=Status.FAILED,
        candidate_fitness=0.0,
    )
    status = store.status_json()
    assert set(status) == {"state", "evaluations", "generations", "best"}
    assert status["state"] in ("running", "finished", "interrupted")
    assert status["evaluations"] == 4
    keys = {
        "index",
        "best_fitness",
        "mean_fitness",
        "sigma",
        "evaluations",
        "candidate_failures",
        "infra_failures",
    }
    for entry in status["generations"]:
        assert set(entry) == keys
        assert isinstance(entry["index"], int) and isinstance(entry["evaluations"], int)
        assert isinstance(entry["candidate_failures"], int)
        assert isinstance(entry["infra_failures"], int)
    first, second = status["generations"]
    assert (first["index"], first["best_fitness"], first["sigma"]) == (0, 0.6, 1.0)
    assert first["mean_fitness"] == pytest.approx(0.4)
    assert (second["index"], second["evaluations"], second["candidate_failures"]) == (1, 1, 1)
    assert second["sigma"] is None  # still running
    best = status["best"]
    assert set(best) == {"theta", "fitness", "generation", "candidate"}
    assert best == {"theta": _theta(0, 1), "fitness": 0.6, "generation": 0, "candidate": 1}
    assert all(isinstance(v, float) for v in best["theta"])
    json.dumps(status, allow_nan=False)  # valid JSON: no NaN anywhere


def test_events_workers_snapshot(tmp_path):
    store = _new(tmp_path)
    ids = [store.add_event("info", f"message {i}") for i in range(5)]
    store.add_event("new_best", "best 0.9", generation=0, candidate=2)
    assert [e.message for e in store.events(limit=2)] == ["message 4", "best 0.9"]
    since = store.events(since_id=ids[3])
    assert [e.kind for e in since] == ["info", "new_best"]
    assert since[-1].generation == 0 and since[-1].candidate == 2
    with pytest.raises(ValueError, match="event kind must be one of"):
        store.add_event("party", "x")
    store.update_worker("w1", state="busy", device="GPU:1", generation=0, candidate=1, attempt=0)
    store.update_worker("w1", state="dead")
    (w,) = store.workers()
    assert (w.worker, w.device, w.state, w.candidate) == ("w1", "GPU:1", "dead", None)
    with pytest.raises(ValueError, match="unknown worker field"):
        store.update_worker("w1", colour="red")
    with pytest.raises(ValueError, match="worker state must be one of"):
        store.update_worker("w1", state="asleep")
    snap = store.snapshot(events=3)
    assert set(snap.as_dict()) == {
        "meta",
        "state",
        "generations",
        "best",
        "workers",
        "events",
        "evaluations",
    }
    assert "recipe_text" not in snap.meta and len(snap.events) == 3


def test_set_state_and_finished(tmp_path):
    store = _new(tmp_path)
    store.set_state("finished")
    assert store.meta()["state"] == "finished" and "finished" in store.meta()
    assert store.status_json()["state"] == "finished"
    with pytest.raises(ValueError, match="state must be one of"):
        store.set_state("paused")


def test_analysis_runs(tmp_path):
    store = _new(tmp_path)
    a = store.start_analysis_run("taylorglo", THETA, 1.0, 0, seed=11, worker="w0")
    b = store.start_analysis_run("baseline", None, 1.0, 0, seed=11)
    store.finish_analysis_run(a, "ok", test_accuracy=0.97, seconds=12.5, history={"loss": [1.0]})
    with pytest.raises(StoreError, match="already finished; it is not redone"):
        store.start_analysis_run("taylorglo", list(THETA), 1.0, 0, seed=11)
    # an unfinished run (interrupted analysis) is restarted in place, not duplicated
    assert store.start_analysis_run("baseline", None, 1.0, 0, seed=11) == b
    other = store.start_analysis_run("taylorglo", THETA, 0.5, 0, seed=11)
    assert other not in (a, b)
    done = store.analysis_runs(status="ok")
    assert len(done) == 1 and done[0].theta == THETA and done[0].test_accuracy == 0.97
    assert done[0].history == {"loss": [1.0]}
    assert len(store.analysis_runs(label="baseline")) == 1
    assert len(store.analysis_runs(train_fraction=0.5)) == 1
    with pytest.raises(ValueError, match="label must be one of"):
        store.start_analysis_run("other", None, 1.0, 0, seed=1)


# ---------------------------------------------------------------------------------- records


def test_read_views_return_frozen_records(tmp_path):
    store = _new(tmp_path, population=2)
    _run_generation(store, 0, [0.5, 0.7])
    store.update_worker("w0", state="idle", device="CPU")
    store.add_event("new_best", "best 0.7", generation=0, candidate=1)
    run = store.start_analysis_run("taylorglo", THETA, 1.0, 0, seed=3)
    store.finish_analysis_run(run, "ok", test_accuracy=0.9, history={"loss": [1.0, 0.5]})

    gen = store.generations()[0]
    assert isinstance(gen, GenerationRecord)
    assert (gen.best_fitness, gen.best_candidate, gen.new_best) == (0.7, 1, True)
    assert gen.mean_fitness == pytest.approx(0.6) and gen.sigma == 1.0 and gen.evaluations == 2
    with pytest.raises(dataclasses.FrozenInstanceError):
        gen.best_fitness = 1.0
    # read by attribute only: no item access, no mapping methods
    assert gen.best_fitness == 0.7 and not isinstance(gen, Mapping)
    with pytest.raises(TypeError):
        gen["best_fitness"]
    assert not hasattr(gen, "get") and not hasattr(gen, "keys") and not hasattr(gen, "items")

    best = store.best()
    assert isinstance(best, BestRecord) and best.theta == _theta(0, 1) and best.candidate == 1
    assert list(best.as_dict()) == ["theta", "fitness", "generation", "candidate"]
    assert json.loads(json.dumps(best.as_dict())) == best.as_dict()
    assert best != BestRecord(**{**best.as_dict(), "fitness": 0.5})
    assert best != best.as_dict()  # a record is not a dict

    (c0, c1) = store.candidates(0)
    assert isinstance(c1, CandidateRecord) and (c1.candidate, c1.status, c1.fitness) == (
        1,
        Status.OK,
        0.7,
    )
    attempt = store.attempts(0, 1)[0]
    assert isinstance(attempt, AttemptRecord)
    assert (attempt.seed, attempt.worker, attempt.steps) == (1, "w0", 10)
    assert attempt.history == {} and attempt.error == ""
    assert store.finished_attempts(0)[0] == store.attempts(0, 0)[0]
    assert store.candidate_result(0, 0) == ResultRecord(Status.OK, 0.5)
    (worker,) = store.workers()
    assert isinstance(worker, WorkerRecord) and (worker.state, worker.device) == ("idle", "CPU")
    (event,) = store.events()
    assert isinstance(event, EventRecord) and (event.kind, event.candidate) == ("new_best", 1)
    (analysis,) = store.analysis_runs()
    assert isinstance(analysis, AnalysisRunRecord) and analysis.theta == THETA
    assert (analysis.test_accuracy, analysis.history) == (0.9, {"loss": [1.0, 0.5]})

    summary = store.progress_summary()
    assert isinstance(summary, ProgressSummary)
    assert (summary.generation, summary.evaluations, summary.best) == (0, 2, 0.7)
    snap = store.snapshot(events=5)
    assert isinstance(snap, StoreSnapshot) and snap.best == best and snap.evaluations == 2
    assert snap.generations == [gen] and snap.workers == [worker] and snap.events == [event]
    # the status contract stays plain dicts and lists, for json.dumps
    status = store.status_json()
    assert type(status["best"]) is dict and status["best"] == best.as_dict()


def test_generations_read_the_summary_finish_generation_wrote(tmp_path):
    store = _new(tmp_path, population=3)
    _run_generation(store, 0, [0.5, 0.7, 0.6])
    # A summary that no recomputation from the candidates could give: generations() must report
    # what finish_generation stored, not work it out again.
    with store._write() as conn:
        conn.execute(
            "UPDATE generations SET best_fitness = 0.25, mean_fitness = 0.125, "
            "best_candidate = 2, new_best = 0 WHERE generation = 0"
        )
    store.begin_generation(1, b"before 1", [_theta(1, c) for c in range(3)])
    store.set_candidate_result(1, 0, Status.OK, 0.3)
    store.set_candidate_result(1, 2, Status.OK, 0.5)
    gen0, gen1 = store.generations()
    assert (gen0.best_fitness, gen0.mean_fitness, gen0.best_candidate) == (0.25, 0.125, 2)
    assert gen0.new_best is False and gen0.evaluations == 3
    # the generation in progress: its results so far, against the stored best of generation 0
    assert (gen1.best_fitness, gen1.best_candidate, gen1.evaluations) == (0.5, 2, 2)
    assert gen1.mean_fitness == pytest.approx(0.4) and gen1.new_best is True
    assert gen1.finished is None and gen1.sigma is None


def test_store_reads_import_nothing_of_the_search():
    code = """
        import sys, tempfile
        from keras_taylorglo.store import Store
        from keras_taylorglo.store import frozen
        s = Store.create(tempfile.mkdtemp(), recipe_text="", meta={})
        s.snapshot(), s.status_json(), s.progress_summary(), s.analysis_runs()
        bad = [m for m in sys.modules
               if m.startswith(("keras_taylorglo.search", "keras_taylorglo.evaluation"))
               or m.split(".")[0] in ("tensorflow", "keras", "jax")]
        assert not bad, bad
    """
    proc = _python(code)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err


# ------------------------------------------------------------------------------------- lock

_HOLD = """
    import sys, time
    from keras_taylorglo.store import RunLock
    lock = RunLock(sys.argv[1]).acquire()
    print("locked", flush=True)
    time.sleep(120)
"""


def _holder(run_dir: Path) -> subprocess.Popen:
    proc = _python(_HOLD, str(run_dir))
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_lock_refuses_a_second_process_and_is_released_by_sigkill(tmp_path):
    run_dir = tmp_path / "run"
    proc = _holder(run_dir)
    try:
        assert is_locked(run_dir)
        assert lock_holder(run_dir)["pid"] == proc.pid
        with pytest.raises(RunLockedError) as info:
            RunLock(run_dir).acquire()
        message = str(info.value)
        assert f"is in use by process {proc.pid} on {socket.gethostname()} since" in message
        assert "stop it or wait for it to finish" in message and "\n" not in message
        second = _python(
            """
            import sys
            from keras_taylorglo.errors import RunLockedError
            from keras_taylorglo.store import RunLock
            try:
                RunLock(sys.argv[1]).acquire()
            except RunLockedError as e:
                print(e)
                sys.exit(3)
            """,
            str(run_dir),
        )
        out, _ = second.communicate(timeout=60)
        assert second.returncode == 3 and f"process {proc.pid}" in out
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert not is_locked(run_dir) and lock_holder(run_dir) is None
    with RunLock(run_dir) as lock:  # the kernel released it: no stale lock
        assert lock.held and lock_holder(run_dir)["pid"] == os.getpid()
    assert not is_locked(run_dir)


def test_state_running_only_while_the_lock_is_held(tmp_path):
    store = _new(tmp_path)
    run_dir = tmp_path / "run"
    assert store.meta()["state"] == "running"
    assert store.state() == "interrupted"  # meta says running, but nobody holds the lock
    proc = _holder(run_dir)
    try:
        assert store.status_json()["state"] == "running"
        assert Store.open(run_dir, readonly=True).state() == "running"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert store.status_json()["state"] == "interrupted"
    with RunLock(run_dir):
        assert store.state() == "running"
        store.set_state("finished")
        assert store.state() == "finished"


# ------------------------------------------------------------------------ concurrency, speed

_WRITER = """
    import sys, time
    from keras_taylorglo.outcomes import Outcome, Status
    from keras_taylorglo.store import RunLock, Store
    run_dir = sys.argv[1]
    with RunLock(run_dir):
        store = Store.open(run_dir)
        print("ready", flush=True)
        t0 = time.perf_counter()
        longest = 0.0
        for g in range(50):
            s = time.perf_counter()
            store.begin_generation(g, b"x" * 2000, [[float(g)] * 8] * 2)
            longest = max(longest, time.perf_counter() - s)
            for c in range(2):
                s = time.perf_counter()
                row = store.start_attempt(g, c, 0, seed=c)
                store.finish_attempt(row, Outcome(Status.OK, 0.5), candidate_status=Status.OK,
                                     candidate_fitness=0.5)
                longest = max(longest, (time.perf_counter() - s) / 2)
            s = time.perf_counter()
            store.finish_generation(g, b"y" * 2000, [0.0] * 8, 1.0)
            longest = max(longest, time.perf_counter() - s)
        store.set_state("finished")
        print(f"done {time.perf_counter() - t0:.3f} {longest:.3f}", flush=True)
"""

_READER = """
    import sys
    from keras_taylorglo.store import Store
    store = Store.open(sys.argv[1], readonly=True)
    reads, last = 0, 0
    while True:
        status = store.status_json()
        gens = status["generations"]
        # a snapshot is consistent: every finished generation has all of its evaluations
        assert all(g["evaluations"] == 2 for g in gens[:-1]), gens
        assert status["evaluations"] >= last
        last = status["evaluations"]
        reads += 1
        if status["state"] == "finished":
            break
    print(reads, last, flush=True)
"""


def test_readers_never_block_or_fail_while_a_writer_writes(tmp_path):
    _new(tmp_path, population=2, generations=50).close()
    run_dir = tmp_path / "run"
    readers = [_python(_READER, str(run_dir)) for _ in range(2)]
    writer = _python(_WRITER, str(run_dir))
    assert writer.stdout.readline().strip() == "ready"
    # a reader in this process too, polling like the monitor
    local = Store.open(run_dir, readonly=True)
    local_reads = 0
    while writer.poll() is None:
        local.snapshot()
        local_reads += 1
    out, err = writer.communicate(timeout=120)
    assert writer.returncode == 0, err
    _, total, longest = out.split()
    # 250 write transactions; none waited long on the readers
    assert float(longest) < 1.0, out
    for reader in readers:
        r_out, r_err = reader.communicate(timeout=60)
        assert reader.returncode == 0, r_err
        reads, evaluations = map(int, r_out.split())
        assert reads >= 1 and evaluations == 100
    assert local_reads >= 1
    final = local.status_json()
    assert final["state"] == "finished" and final["evaluations"] == 100


def test_reading_a_large_store_is_fast(tmp_path):
    store = _new(tmp_path, population=28, generations=100)
    state = os.urandom(6000)  # about the size of a pickled oracle for 8 parameters
    for g in range(100):
        store.begin_generation(g, state, [_theta(g, c) for c in range(28)])
        with store._write() as conn:  # bulk results: one transaction per generation
            rows = []
            for c in range(28):
                for attempt in range(2 if c % 5 == 0 else 1):
                    status = Status.ABORTED if attempt == 0 and c % 5 == 0 else Status.OK
                    rows.append((g, c, attempt, c, 0.0, 1.0, status, 0.5 + c / 100))
            conn.executemany(
                "INSERT INTO attempts(generation, candidate, attempt, seed, started, ended, "
                "status, fitness, history) VALUES (?, ?, ?, ?, ?, ?, ?, ?, "
                "'{\"val_accuracy\": [0.1, 0.2, 0.3]}')",
                rows,
            )
            conn.execute(
                "UPDATE candidates SET status = 'ok', fitness = 0.5 + candidate / 100.0 "
                "WHERE generation = ?",
                (g,),
            )
        store.finish_generation(g, state, [0.0] * 8, 1.0)
        store.add_event("info", f"generation {g} done", generation=g)
    store.close()
    # Read in a fresh process, as the monitor and `status` do: late in the suite this process
    # holds TensorFlow, Keras and many models, and a full garbage collection over that heap
    # during the reads cost more than the reads themselves (0.8 s against 0.04 s alone).
    script = (
        "import json, sys, time\n"
        "from keras_taylorglo.store import Store\n"
        "reader = Store.open(sys.argv[1], readonly=True)\n"
        "reader.snapshot()  # warm the page cache like a monitor that has been running\n"
        "start = time.perf_counter()\n"
        "snap = reader.snapshot()\n"
        "status = reader.status_json()\n"
        "candidates = reader.candidates()\n"
        "attempts = reader.attempts(99)\n"
        "elapsed = time.perf_counter() - start\n"
        "print(json.dumps({'generations': len(snap.generations),\n"
        "    'evaluations': status['evaluations'], 'candidates': len(candidates),\n"
        "    'attempts': len(attempts), 'retries5': snap.generations[5].retries,\n"
        "    'elapsed': elapsed}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "run")],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    read = json.loads(out.stdout)
    assert read["generations"] == 100 and read["evaluations"] == 2800
    assert read["candidates"] == 2800 and read["attempts"] == 34
    assert read["retries5"] == 6
    elapsed = read["elapsed"]
    print(f"read 100x28 store in {elapsed:.3f} s")
    assert elapsed < 0.5, f"reading everything took {elapsed:.3f} s"


def test_store_import_does_not_import_tensorflow():
    code = """
        import sys, tempfile
        import keras_taylorglo
        from keras_taylorglo.store import Store, RunLock
        d = tempfile.mkdtemp()
        with RunLock(d):
            s = Store.create(d, recipe_text="", meta={})
            s.status_json()
        bad = [m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras", "jax")]
        assert not bad, bad
    """
    proc = _python(code)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
