"""Seed slots, common seeds and the finalist stage, end to end through the CLI (no TensorFlow).

The fitness is a custom function of (θ, seed) with a seed-dependent offset, so each candidate's
stored fitness can be recomputed here, one evaluation at a time, and a search killed during its
finalist stage can be compared exactly with one that never stopped.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import sys
from pathlib import Path

import pytest
from cli_helpers import cli, spawn, status, wait_for
from store_query import query

from keras_taylorglo.search.trial import attempt_seed, finalist_seed

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
import fitness_fns  # noqa: E402  (the workers import the same file by path)

SEED = 3
RECIPE = f"""
[experiment]
name = "finalists"
seed = {SEED}

[evolution]
population = 5
generations = 3
finalists = {{ count = 3, seeds = 2, budget = "partial" }}

[evaluation]
fitness = "fitness_fns:noisy"
rule = "every_attempt"
seeds = 3
aggregate = "{{aggregate}}"

[execution]
devices = "cpu"
workers = 2
"""


def write_recipe(tmp: Path, aggregate: str = "mean") -> Path:
    shutil.copy(HERE / "fitness_fns.py", tmp / "fitness_fns.py")
    path = tmp / "recipe.toml"
    path.write_text(RECIPE.replace("{aggregate}", aggregate))
    return path


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[Path, dict]:
    """An undisturbed search with 3 seed slots and a finalist stage, and its status."""
    tmp = tmp_path_factory.mktemp("finalists")
    out = cli("search", str(write_recipe(tmp)), "--out", str(tmp / "run"))
    assert out.returncode == 0, out.stderr
    assert "chosen loss: finalist" in out.stdout
    return tmp / "run", status(tmp / "run")


def test_a_k_seed_fitness_is_the_mean_of_its_k_evaluations_run_one_by_one(reference):
    run_dir, _ = reference
    candidates = query(run_dir, "SELECT generation, candidate, theta, fitness FROM candidates")
    assert len(candidates) == 5 * 3
    for g, c, theta, fitness in candidates:
        theta = [float(v) for v in theta.strip("[]").split(",")]
        one_by_one = [
            fitness_fns.noisy(theta, attempt_seed(SEED, g, c, slot, 0)) for slot in range(3)
        ]
        assert fitness == pytest.approx(sum(one_by_one) / 3, abs=1e-12)


def test_seeds_are_common_within_a_generation_and_new_in_each(reference):
    run_dir, _ = reference
    rows = query(run_dir, "SELECT generation, candidate, seed_index, attempt, seed FROM attempts")
    assert len(rows) == 5 * 3 * 3  # every slot once: nothing retried under every_attempt
    by_generation: dict[int, set[tuple[int, int]]] = {}
    for g, c, slot, attempt, seed in rows:
        assert seed == attempt_seed(SEED, g, c, slot, attempt)
        by_generation.setdefault(g, set()).add((slot, seed))
    for pairs in by_generation.values():
        assert len(pairs) == 3  # the same three seeds for all five candidates
    seed_sets = [frozenset(s for _, s in pairs) for pairs in by_generation.values()]
    assert len(set(seed_sets)) == 3 and not seed_sets[0] & seed_sets[1]
    finalist_seeds = {s for (s,) in query(run_dir, "SELECT seed FROM finalist_runs")}
    assert finalist_seeds == {finalist_seed(SEED, 0), finalist_seed(SEED, 1)}


def test_the_chosen_loss_is_the_finalist_with_the_best_aggregate(reference):
    run_dir, s = reference
    finalists = s["finalists"]
    assert [f["source"] for f in finalists] == ["candidate"] * 3 + ["mean"]
    ranked = sorted(
        (c for c in query(run_dir, "SELECT fitness, generation, candidate FROM candidates")),
        key=lambda row: (-row[0], row[1], row[2]),
    )
    assert [(f["generation"], f["candidate"]) for f in finalists[:3]] == [
        (g, c) for _, g, c in ranked[:3]
    ]
    for f in finalists:  # each finalist's fitness: the mean of its two new seeds
        runs = [fitness_fns.noisy(f["theta"], finalist_seed(SEED, j)) for j in range(2)]
        assert f["fitness"] == pytest.approx(sum(runs) / 2, abs=1e-12) and f["status"] == "ok"
    best = max(finalists, key=lambda f: (f["fitness"], -f["finalist"]))
    assert [f["chosen"] for f in finalists] == [f is best for f in finalists]
    chosen = s["chosen"]
    assert (chosen["source"], chosen["finalist"], chosen["theta"]) == (
        "finalist",
        best["finalist"],
        best["theta"],
    )
    # The best single evaluation stays visible beside it.
    assert s["best"]["fitness"] == ranked[0][0]


def test_export_status_and_the_analysis_hand_over_the_chosen_finalist(reference):
    run_dir, s = reference
    chosen = s["chosen"]
    exported = cli("export", str(run_dir), "--format", "json")
    assert exported.returncode == 0, exported.stderr
    data = json.loads(exported.stdout)
    assert data["theta"] == chosen["theta"] and data["fitness"] == chosen["fitness"]
    assert (data["chosen_by"], data["finalist"], data["finalist_seeds"]) == (
        "finalists",
        chosen["finalist"],
        2,
    )
    line = cli("export", str(run_dir)).stdout
    assert f"theta=[{', '.join(repr(v) for v in chosen['theta'])}]" in line
    text = cli("status", str(run_dir)).stdout
    assert f"chosen loss: finalist {chosen['finalist']}" in text
    assert "best single evaluation" in text and "finalists" in text
    from keras_taylorglo.analysis.plan import select_candidates
    from keras_taylorglo.store import Store

    with Store.open(run_dir, readonly=True) as store:
        (best,) = select_candidates(store, "best")
        every = select_candidates(store, "finalists")
    assert best["theta"] == chosen["theta"] and best["chosen_by"] == "finalists"
    assert [f["finalist"] for f in every][0] == chosen["finalist"] and len(every) == 4


def test_sigkill_during_the_finalists_then_resume_chooses_the_same_loss(tmp_path, reference):
    _, undisturbed = reference
    run_dir = tmp_path / "run"
    proc = spawn(
        "search",
        str(write_recipe(tmp_path)),
        "--out",
        str(run_dir),
        env={"TG_FITNESS_SLEEP": "0.1"},
    )
    done = "SELECT COUNT(*) >= 3 FROM finalist_runs WHERE ended IS NOT NULL"
    wait_for(lambda: query(run_dir, done)[0][0] == 1, proc=proc)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = set(query(run_dir, "SELECT id FROM finalist_runs WHERE ended IS NOT NULL"))
    assert status(run_dir)["state"] == "interrupted"
    assert not any(f["chosen"] for f in status(run_dir)["finalists"])
    out = cli("resume", str(run_dir))
    assert out.returncode == 0, out.stderr
    resumed = status(run_dir)
    assert resumed["state"] == "finished"
    for key in ("chosen", "finalists", "best", "generations"):
        assert resumed[key] == undisturbed[key], key
    runs = query(run_dir, "SELECT finalist, seed_index FROM finalist_runs WHERE status = 'ok'")
    assert len(runs) == len(set(runs)) == 4 * 2, "a finished finalist training ran again"
    assert before <= set(query(run_dir, "SELECT id FROM finalist_runs"))


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("evaluation.seeds=0", "evaluation.seeds: out of range (got 0; expected an integer >= 1)"),
        ("evaluation.rule=lenient", "evaluation.rule: unknown value"),
        ("evaluation.aggregate=max", "evaluation.aggregate: unknown value"),
        ("evolution.finalists.count=-1", "evolution.finalists.count: out of range"),
        ("evolution.finalists.seeds=0", "evolution.finalists.seeds: out of range"),
        ('evolution.finalists.budget="half"', "evolution.finalists.budget: unknown value"),
        ("evolution.finalists.cont=2", "did you mean 'evolution.finalists.count'?"),
        ("evolution.finalists=3", "evolution.finalists: must be a table (got 3"),
    ],
)
def test_a_bad_seeds_or_finalists_value_is_one_line_and_exit_2(tmp_path, setting, message):
    from keras_taylorglo.cli import main

    recipe = write_recipe(tmp_path)
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["validate", str(recipe), "--set", setting])
    assert code == 2
    lines = err.getvalue().strip().splitlines()
    assert len(lines) == 1 and message in lines[0], lines
