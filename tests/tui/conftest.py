"""Shared fixtures of the monitor tests: stores written through the store's writer API with fixed
times (for stable snapshots), a store written by a real small search, and a frozen clock."""

from __future__ import annotations

import asyncio
import inspect
import math
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from in_process import run_cli

from keras_taylorglo.outcomes import Outcome
from keras_taylorglo.presets import PAPER_MNIST
from keras_taylorglo.store import RunLock, Store

HERE = Path(__file__).parent
SEARCH_TESTS = HERE.parent / "search"

T0 = 1_767_225_600.0
"""2026-01-01 00:00:00 UTC: the fixed creation time of the synthetic stores."""
GEN_SECONDS = 60.0
"""Each synthetic generation takes a minute."""


def fake_fitness(theta: np.ndarray) -> float:
    """A smooth accuracy-like function of θ: near 0.97 at the paper's MNIST θ."""
    distance = float(np.sum((np.asarray(theta) - np.asarray(PAPER_MNIST)) ** 2))
    return 0.55 + 0.42 * math.exp(-distance / 400.0)


def write_synthetic_run(
    run_dir: Path,
    generations: int = 6,
    population: int = 8,
    partial_last: bool = True,
    name: str = "digits",
) -> Store:
    """Writes a run through the writer API with fixed times; returns the open writer store.

    The last generation is left half evaluated when ``partial_last`` (two workers busy on it).
    Retries, an abort, a divergence, an infra re-run and a worker death are included so every
    panel has something to show.
    """
    store = Store.create(
        run_dir,
        recipe_text="[experiment]\nname = 'digits'\n",
        recipe_source="recipes/digits.toml",
        meta={
            "name": name,
            "population": population,
            "generations": generations + (1 if partial_last else 0),
            "order": 3,
            "inputs": ["label", "prediction"],
            "trim": True,
            "convention": "paper",
            "num_params": 8,
        },
    )
    store.update_meta(created=T0)
    rng = np.random.RandomState(7)
    mean = np.zeros(8)
    sigma = 6.0
    for w, device in (("w0", "cpu:0"), ("w1", "cpu:1")):
        store.update_worker(w, device=device, state="idle", since=T0)
        store.add_event("worker_started", f"{w} ready on {device}", when=T0 + 1)
    total = generations + (1 if partial_last else 0)
    for g in range(total):
        start = T0 + 5 + g * GEN_SECONDS
        thetas = mean + sigma * rng.randn(population, 8)
        store.begin_generation(g, b"before", thetas.tolist(), started=start)
        last = partial_last and g == total - 1
        for c in range(population):
            if last and c >= population // 2:
                break
            worker = f"w{c % 2}"
            t = start + 2 + 6 * c
            fitness = fake_fitness(thetas[c])
            attempt = 0
            if (g, c) == (1, 2):  # an abort, then a successful retry
                aid = store.start_attempt(g, c, 0, 100 + c, worker, f"cpu:{c % 2}", started=t)
                store.finish_attempt(aid, Outcome("aborted", 0.11, 0.11, 40, 2.0), ended=t + 2)
                store.add_event("abort", "attempt 0: aborted; retrying", g, c, when=t + 2)
                attempt, t = 1, t + 2
            if (g, c) == (2, 5):  # the worker died: infra, the same attempt re-run
                aid = store.start_attempt(g, c, 0, 100 + c, worker, f"cpu:{c % 2}", started=t)
                store.finish_attempt(aid, Outcome("infra", 0.0, error="worker died"), ended=t + 1)
                store.add_event("worker_died", f"{worker} died (exit -9)", g, c, when=t + 1)
                store.add_event("infra", "attempt 0 re-run on a healthy worker", g, c, when=t + 1)
                t += 1
            aid = store.start_attempt(g, c, attempt, 100 + c, worker, f"cpu:{c % 2}", started=t)
            if (g, c) == (3, 1):  # divergence: fitness 0, no retry
                store.finish_attempt(
                    aid,
                    Outcome("diverged", 0.0, steps=12, seconds=0.5),
                    ended=t + 1,
                    candidate_status="diverged",
                    candidate_fitness=0.0,
                )
                store.add_event("divergence", "loss became NaN; fitness 0", g, c, when=t + 1)
                continue
            store.finish_attempt(
                aid,
                Outcome("ok", fitness, fitness, 150, 5.0),
                ended=t + 5,
                candidate_status="ok",
                candidate_fitness=fitness,
            )
        if last:
            for c, w in ((population // 2, "w0"), (population // 2 + 1, "w1")):
                store.start_attempt(g, c, 0, 100 + c, w, f"cpu:{c % 2}", started=start + 30)
            break
        gens = store.generations()
        best = gens[-1].best_fitness
        if gens[-1].new_best:
            store.add_event(
                "new_best",
                f"new best fitness {best:.4f}",
                g,
                gens[-1].best_candidate,
                when=start + GEN_SECONDS - 5,
            )
        fitness = np.array([c.fitness or 0.0 for c in store.candidates(g)])
        order = np.argsort(-fitness)[: population // 2]
        mean = 0.5 * mean + 0.5 * thetas[order].mean(axis=0)
        sigma *= 0.8
        store.finish_generation(g, b"after", mean.tolist(), sigma, finished=start + GEN_SECONDS - 5)
    return store


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem):
    """Runs ``async def`` tests in a fresh event loop (no pytest-asyncio needed)."""
    if inspect.iscoroutinefunction(pyfuncitem.obj):
        names = pyfuncitem._fixtureinfo.argnames
        asyncio.run(pyfuncitem.obj(**{name: pyfuncitem.funcargs[name] for name in names}))
        return True
    return None


@pytest.fixture(autouse=True)
def utc(monkeypatch):
    """Event times are shown in local time: pin the zone so snapshots do not depend on it."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def running_run(tmp_path):
    """A synthetic run in progress (the lock is held, as by a live search); yields (dir, store)."""
    run_dir = tmp_path / "digits"
    store = write_synthetic_run(run_dir)
    with RunLock(run_dir):
        yield run_dir, store
    store.close()


@pytest.fixture
def frozen_clock():
    """The clock of the synthetic running run: 6 min 40 s after it was created."""
    return lambda: T0 + 400.0


@pytest.fixture(scope="session")
def search_run(tmp_path_factory) -> Path:
    """A store written by a real small search (real engine, custom fitness, no TensorFlow)."""
    tmp = tmp_path_factory.mktemp("search")
    shutil.copy(SEARCH_TESTS / "fitness_fns.py", tmp / "fitness_fns.py")
    recipe = tmp / "recipe.toml"
    recipe.write_text(
        """
[experiment]
name = "sphere"
seed = 3

[evolution]
population = 6
generations = 5
sigma = 1.2

[evaluation]
fitness = "fitness_fns:sphere"
rule = "paper"
attempts = 3

[execution]
devices = "cpu"
workers = 2
"""
    )
    run_dir = tmp / "run"
    # In this process (tests/in_process.py); the engine's workers are processes of their own.
    out = run_cli("search", str(recipe), "--out", str(run_dir), env={"TF_CPP_MIN_LOG_LEVEL": "2"})
    assert out.returncode == 0, out.stderr
    return run_dir


def add_finalist_stage(store: Store, chosen: bool = True, seeds: int = 3) -> None:
    """Adds a finalist stage to a finished synthetic run, through the store's writer API.

    The two best candidates and the CMA-ES mean are trained on ``seeds`` new seeds each. With
    ``chosen`` the stage is over and finalist 1 (the runner-up, which held up better) is chosen;
    without, the last finalist's last training is still running on ``w1``.
    """
    settings = {"count": 2, "seeds": seeds, "budget": "partial"}
    store.update_meta(finalists=settings)
    ranked = sorted(store.candidates(), key=lambda c: (-(c.fitness or 0.0), c.generation))
    top = [
        {
            "theta": c.theta,
            "source": "candidate",
            "generation": c.generation,
            "candidate": c.candidate,
            "search_fitness": c.fitness,
        }
        for c in ranked[:2]
    ]
    mean = {"theta": [0.5] * 8, "source": "mean", "generation": None, "candidate": None}
    store.begin_finalists([*top, mean], {**settings, "aggregate": "mean"})
    start = store.generations()[-1].finished + 5
    fitness = {0: (0.71, 0.52, 0.70), 1: (0.73, 0.72, 0.74), 2: (0.66, 0.69, 0.65)}
    for rank in range(3):
        for slot in range(seeds):
            worker = f"w{slot % 2}"
            t = start + 10 * (rank * seeds + slot)
            run = store.start_finalist_run(rank, slot, 900 + slot, worker, "cpu:0", started=t)
            if not chosen and (rank, slot) == (2, seeds - 1):
                return  # still running
            value = fitness[rank][slot % 3]
            last = slot == seeds - 1
            store.finish_finalist_run(
                run,
                Outcome("ok", value, value, 150, 5.0),
                finalist_status="ok" if last else None,
                finalist_fitness=float(np.mean(fitness[rank][:seeds])) if last else None,
                ended=t + 8,
            )
    store.choose_finalist(1)
    store.set_state("finished")
    store.update_meta(finished=start + 10 * 3 * seeds + 10)
