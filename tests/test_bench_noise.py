"""bench/noise.py: the k-seeds / halving / NoiseHandler comparison runs and reports every cell.

The numbers themselves are what the benchmark measures (bench/NOTES.md §8); these tests check
that the quick mode produces the whole table, that no configuration spends more than its budget,
and the rules the comparison depends on (halving's ranking, the measurement count).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from bench import noise
from bench.__main__ import main as bench_main

ROOT = Path(__file__).resolve().parents[1]


def test_quick_mode_prints_a_row_for_every_configuration():
    proc = subprocess.run(
        [sys.executable, "-m", "bench.noise", "--quick"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    assert "budget 48" in lines[1] and "budget 160" in lines[1]
    rows = {line[:26].rstrip(): line for line in lines[3:]}
    assert list(rows) == [config.name for config in noise.CONFIGS]
    for line in rows.values():
        # two budgets: true ± s.e., fragile ± s.e. %, used, mean in each
        assert line.count("|") == 2 and line.count("±") == 4 and line.count("%") == 2


def test_bench_registry_runs_noise_quick_as_json(capsys):
    assert bench_main(["--only", "noise", "--quick", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)["noise"]
    assert result["budgets"] == list(noise.QUICK_BUDGETS) and result["reps"] == noise.QUICK_REPS
    assert set(result["rows"]) == {config.name for config in noise.CONFIGS}
    for cells in result["rows"].values():
        for budget in noise.QUICK_BUDGETS:
            cell = cells[str(budget)]
            # equal budgets: no configuration (finalists included) measures more than it may
            assert 0 < cell["used"] <= budget
            assert 0.0 <= cell["fragile"] <= 1.0 and 0.1 <= cell["true"] <= 0.95


def test_noise_is_not_in_the_default_bench_set(monkeypatch, capsys):
    """``python -m bench`` alone times the product; the noise study runs only when named."""
    from bench import measure, readers

    ran = []
    for module, name in [
        (measure, "loss_step_ratio"),
        (measure, "warm_and_cold"),
        (measure, "startup_breakdown"),
        (measure, "pool_utilization"),
        (measure, "two_worker_speedup"),
        (readers, "monitor_timings"),
        (readers, "journal_load"),
        (noise, "summary"),
    ]:
        monkeypatch.setattr(module, name, lambda *args, name=name: ran.append(name) or {})
    assert bench_main([]) == 0
    assert len(ran) == 7 and "summary" not in ran
    empty = {"budgets": [], "reps": 2, "optimum": 0.9, "rows": {}, "seconds": 0.0}
    monkeypatch.setattr(noise, "summary", lambda quick: ran.append("summary") or empty)
    assert bench_main(["--only", "noise"]) == 0
    assert ran[-1] == "summary" and "noise: 2 repetitions" in capsys.readouterr().out


def test_halving_measures_14_and_ranks_survivors_above_the_eliminated():
    landscape = noise.Landscape.default()
    search = noise._Search(noise.Measurer(landscape, np.random.default_rng(0)), noise._cma(0))
    thetas = landscape.center + np.random.default_rng(1).normal(0.0, 0.5, (8, noise.DIM))
    told = noise._halving_generation(search, thetas)
    assert search.measurer.used == 8 + 4 + 2
    order = np.argsort(told)  # CMA-ES minimises: the first are the best
    # 2 measured three times, 2 eliminated after two, 4 after one: each stage below the last
    assert np.all(told[order[:2]] < 1.0)
    assert np.all((told[order[2:4]] >= 1.0) & (told[order[2:4]] < 2.0))
    assert np.all(told[order[4:]] >= 2.0)
    # only the last stage's two may be handed back, scored by their three-seed mean
    assert len(search.pool) == 2
    for score, theta in search.pool:
        i = next(j for j in order[:2] if np.array_equal(thetas[j], theta))
        assert told[i] == 1.0 - score


def test_reps_below_two_is_one_line_and_exit_2():
    proc = subprocess.run(
        [sys.executable, "-m", "bench.noise", "--reps", "1"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert "--reps must be at least 2" in proc.stderr.splitlines()[-1]
