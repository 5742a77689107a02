"""The store under its readers (python -m bench): the monitor on a big run, the journal under load.

As in :mod:`bench.measure`, every figure is measured in one run beside what it is compared with.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.measure import ROOT, fitness_recipe

# --------------------------------------------------------------------- 6. monitor timings


def _big_store(run_dir: Path, generations: int = 100, population: int = 28) -> None:
    """A finished run of generations × population written through the store's writer API."""
    import numpy as np

    from keras_taylorglo.outcomes import Outcome
    from keras_taylorglo.store import Store

    meta = {
        "name": "bench",
        "planned_evaluations": generations * population,
        "order": 3,
        "inputs": ["label", "prediction"],
        "trim": True,
        "convention": "paper",
        "num_params": 8,
        "population": population,
        "generations": generations,
    }
    store = Store.create(run_dir, recipe_text="", recipe_source="bench.toml", meta=meta)
    rng = np.random.default_rng(0)
    t = time.time() - 3600
    for g in range(generations):
        thetas = rng.normal(0, 2, (population, 8))
        store.begin_generation(g, b"", thetas.tolist(), started=t)
        for c in range(population):
            fitness = float(1 / (1 + np.sum((thetas[c] - 1) ** 2) / 50))
            aid = store.start_attempt(g, c, 0, c, f"w{c % 4}", "gpu:0", started=t)
            store.finish_attempt(
                aid,
                Outcome("ok", fitness, fitness, 100, 1.0),
                ended=t + 1,
                candidate_status="ok",
                candidate_fitness=fitness,
            )
            t += 1
        store.finish_generation(
            g, state_after=b"", mean=thetas.mean(0).tolist(), sigma=1.0, finished=t
        )
    store.set_state("finished")
    store.close()


def monitor_timings(quick: bool) -> dict[str, Any]:
    """First paint and one refresh of the monitor on a store of 100 generations × 28.

    First paint = a fresh interpreter's imports of the command and the monitor, plus the time
    from creating the app to the generations table holding all 100 rows.
    """
    import asyncio

    from keras_taylorglo_tui.app import MonitorApp
    from keras_taylorglo_tui.reader import RunReader
    from keras_taylorglo_tui.widgets.generations import GenerationsTable

    repeats = 2 if quick else 5
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "run"
        _big_store(run_dir)

        async def once() -> tuple[float, float]:
            t0 = time.perf_counter()
            app = MonitorApp(RunReader(run_dir))
            async with app.run_test(size=(120, 40)) as pilot:
                table = app.screen.query_one(GenerationsTable)
                while table.row_count < 100:
                    await pilot.pause(0.01)
                first = time.perf_counter() - t0
                screen = app.screen
                t1 = time.perf_counter()
                screen._apply(screen._read())  # one refresh: read the store, update widgets
                await pilot.pause()
                refresh = time.perf_counter() - t1
            app.reader.close()
            return first, refresh

        results = [asyncio.run(once()) for _ in range(repeats)]
    # What the user also waits for before the first paint: a fresh interpreter importing the
    # command line and the monitor (the in-process timing above has them imported already).
    startup = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", "import keras_taylorglo.cli, keras_taylorglo_tui.app"],
            check=True,
            cwd=ROOT,
        )
        startup.append(time.perf_counter() - t0)
    start_s, paint_s = statistics.median(startup), statistics.median(r[0] for r in results)
    return {
        "monitor_first_paint_s": start_s + paint_s,
        "monitor_startup_s": start_s,
        "monitor_paint_s": paint_s,
        "monitor_refresh_s": statistics.median(r[1] for r in results),
    }


# ------------------------------------------------------------------- 7. journal under load

_READER_SCRIPT = """
import json, sys, time
from pathlib import Path
from keras_taylorglo_tui.reader import RunReader
run_dir, stop = Path(sys.argv[1]), Path(sys.argv[2])
while not (run_dir / "experiment.sqlite").exists():
    time.sleep(0.01)
reader, times, errors = RunReader(run_dir), [], []
while not stop.exists():
    t0 = time.perf_counter()
    try:
        reader.read()
    except Exception as exc:
        errors.append(f"{type(exc).__name__}: {exc}")
    times.append(time.perf_counter() - t0)
print(json.dumps({"times": times, "errors": errors}))
"""


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def journal_load(quick: bool) -> dict[str, Any]:
    """Store transactions per second of a search at full speed, and its readers' latency.

    The search (in this process, so its writes can be counted: every write is one transaction
    through ``StoreBase._write``) runs 8 workers on an instant custom fitness; beside it the
    monitor's reader loops in another process and ``status --json`` runs in a loop (each a fresh
    process, its latency including the interpreter's start).
    """
    import contextlib
    import threading

    from keras_taylorglo.search.runs import start_search
    from keras_taylorglo.store.base import StoreBase

    generations = 10 if quick else 30
    writes = [0]
    original = StoreBase._write

    @contextlib.contextmanager
    def counted(self: Any) -> Any:
        with original(self) as conn:
            yield conn
        writes[0] += 1

    with tempfile.TemporaryDirectory() as tmp:
        recipe = fitness_recipe(tmp, "load", "sphere", 16, generations, 8)
        run_dir, stop = Path(tmp) / "run", Path(tmp) / "stop"
        reader = subprocess.Popen(
            [sys.executable, "-c", _READER_SCRIPT, str(run_dir), str(stop)],
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        status_times: list[float] = []
        status_errors: list[str] = []
        done = threading.Event()

        def status_loop() -> None:
            while not done.is_set():
                if not (run_dir / "experiment.sqlite").exists():
                    time.sleep(0.01)
                    continue
                t0 = time.perf_counter()
                out = subprocess.run(
                    [sys.executable, "-m", "keras_taylorglo", "status", "--json", str(run_dir)],
                    capture_output=True,
                    text=True,
                    cwd=ROOT,
                )
                status_times.append(time.perf_counter() - t0)
                if out.returncode != 0:
                    status_errors.append(out.stderr.strip())

        thread = threading.Thread(target=status_loop, daemon=True)
        StoreBase._write = counted  # type: ignore[method-assign]
        try:
            thread.start()
            t0 = time.perf_counter()
            start_search(recipe, run_dir)
            seconds = time.perf_counter() - t0
        finally:
            StoreBase._write = original  # type: ignore[method-assign]
            done.set()
            stop.touch()
        thread.join(60)
        result = json.loads(reader.communicate(timeout=60)[0])
    errors = result["errors"] + status_errors
    if errors:
        raise RuntimeError(f"a reader failed under load: {errors[0]}")
    times = result["times"]
    return {
        "journal_writes_per_s": writes[0] / seconds,
        "journal_attempts_per_s": 16 * generations / seconds,
        "monitor_read_p50_ms": _percentile(times, 0.5) * 1e3,
        "monitor_read_p99_ms": _percentile(times, 0.99) * 1e3,
        "status_json_p50_s": _percentile(status_times, 0.5),
        "status_json_p99_s": _percentile(status_times, 0.99),
        "load_reader_reads": float(len(times) + len(status_times)),
    }
