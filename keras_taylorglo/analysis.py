"""The analysis of a search: full trainings of the best loss against cross-entropy, with statistics.

``keras-taylorglo analyze RUN_DIR`` trains the chosen θ and the cross-entropy baseline for the
recipe's full budget (``training.full``), ``--runs`` times each, scored on the test split, on the
same device pool as the search (``[execution]``: one warm worker per device group, local or Ray,
in parallel). Run ``i``
of every loss uses the same seed (:func:`analysis_seed`), so the results are paired by run index.
Every training is journaled in the run's store (``analysis_runs``) when it starts and when it
ends, so an interrupted analysis resumes without redoing a finished training.

The report (``report.json``, ``report.md``) is a contract::

    {"runs": N, "test": "welch-one-tailed",
     "taylorglo": {"theta": [...], "accuracies": [...], "mean": m, "std": s},
     "baseline": {"accuracies": [...], "mean": m, "std": s},
     "p_value": p}

``std`` is the sample standard deviation (``ddof = 1``; ``None`` with fewer than two results);
``p_value`` is SciPy's one-tailed Welch t-test that TaylorGLO's mean accuracy is greater
(``scipy.stats.ttest_ind(taylorglo, baseline, equal_var=False, alternative="greater")``; ``None``
when it is undefined). Extra keys never change those: ``difference``, ``train_fraction``,
``seeds``, ``std_ddof``, ``statuses`` (per final status, with ``failed`` for trainings that
failed on every re-run), ``candidates`` (when ``--candidates top:K`` or ``generations`` chose more
than one distinct θ: every analysed θ, the best first) and ``fractions`` (with
``--train-fractions``).

Also here: ``ttest`` (Student's and Welch's t-tests between two result files, like the original
TaylorGLO ``ttest``), ``plot`` (the paper's figures, see :mod:`keras_taylorglo.plots`) and
``export`` (the best loss as a line of Python or as JSON). The command functions
(``analyze_main`` …) take an :class:`argparse.Namespace`; :func:`add_analysis_parsers` registers
them.

This module imports neither TensorFlow nor matplotlib at import time.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import TaylorGLOError

__all__ = [
    "ANALYSIS_DIR",
    "MAX_RERUNS",
    "TEST_NAME",
    "Job",
    "add_analysis_parsers",
    "analysis_seed",
    "analyze_main",
    "build_report",
    "compare",
    "export_main",
    "export_text",
    "load_result_set",
    "parse_candidates",
    "parse_fractions",
    "plan_jobs",
    "plot_main",
    "run_analysis",
    "select_candidates",
    "summarize",
    "ttest_main",
    "welch_p_value",
]

TEST_NAME = "welch-one-tailed"
"""The ``"test"`` value of the report: SciPy's Welch t-test, one-tailed (TaylorGLO greater)."""
ANALYSIS_DIR = "analysis"
"""The default output directory's name inside the run directory."""
MAX_RERUNS = 3
"""How many times a training that failed (exception, worker died) is re-run with its seed."""
_FINAL = ("ok", "diverged")  # analysis rows that are results; anything else is run (again)
_SEED_TAG = 0x414E41  # "ANA": keeps analysis seeds apart from the search's derive_seed values

# ---------------------------------------------------------------------------------- statistics


def _clean(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def summarize(accuracies: Sequence[float]) -> dict[str, Any]:
    """Mean and sample standard deviation of a result set.

    Args:
        accuracies: The results.

    Returns:
        ``{"accuracies": [...], "mean": m, "std": s}``; ``std`` uses ``ddof = 1`` (``None`` for
        fewer than two values), ``mean`` is ``None`` for none.

    Example:
        >>> summarize([0.9, 0.92])["std"]  # doctest: +ELLIPSIS
        0.0141...
    """
    import numpy as np

    values = [float(a) for a in accuracies]
    return {
        "accuracies": values,
        "mean": _clean(np.mean(values)) if values else None,
        "std": _clean(np.std(values, ddof=1)) if len(values) > 1 else None,
    }


def welch_p_value(a: Sequence[float], b: Sequence[float]) -> float | None:
    """One-tailed Welch t-test p-value that ``a``'s mean is greater than ``b``'s.

    Args:
        a: TaylorGLO's results.
        b: The baseline's results.

    Returns:
        ``scipy.stats.ttest_ind(a, b, equal_var=False, alternative="greater").pvalue``, or
        ``None`` when undefined (fewer than two results in a set, or no variance in either).
    """
    if len(a) < 2 or len(b) < 2:
        return None
    import warnings

    from scipy import stats

    with warnings.catch_warnings():
        # identical values: SciPy warns and returns NaN, which is reported as None
        warnings.simplefilter("ignore", RuntimeWarning)
        return _clean(stats.ttest_ind(a, b, equal_var=False, alternative="greater").pvalue)


def compare(a: Sequence[float], b: Sequence[float]) -> dict[str, Any]:
    """Student's and Welch's t-tests between two result sets (the ``ttest`` command).

    Args:
        a: The first result set (the one-tailed tests ask whether its mean is greater).
        b: The second result set.

    Returns:
        ``{"a": summary, "b": summary, "difference": mean(a) - mean(b), "student": {"t",
        "p_two_tailed", "p_one_tailed"}, "welch": {...}}``; summaries as :func:`summarize`.

    Raises:
        TaylorGLOError: If a set has fewer than two values.
    """
    for name, values in (("A", a), ("B", b)):
        if len(values) < 2:
            raise TaylorGLOError(
                f"result set {name} has {len(values)} value(s); a t-test needs at least 2"
            )
    from scipy import stats

    result: dict[str, Any] = {"a": summarize(a), "b": summarize(b)}
    result["difference"] = result["a"]["mean"] - result["b"]["mean"]
    for name, equal_var in (("student", True), ("welch", False)):
        two = stats.ttest_ind(a, b, equal_var=equal_var)
        one = stats.ttest_ind(a, b, equal_var=equal_var, alternative="greater")
        result[name] = {
            "t": _clean(two.statistic),
            "p_two_tailed": _clean(two.pvalue),
            "p_one_tailed": _clean(one.pvalue),
        }
    return result


def load_result_set(path: str | os.PathLike[str]) -> list[float]:
    """Read a result set for ``ttest``.

    A file is one of: a JSON list of numbers; an object with an ``"accuracies"`` list; or an
    analysis ``report.json`` (its TaylorGLO accuracies are used; ``report.json#baseline`` picks
    the cross-entropy ones, ``report.json#taylorglo`` says the default explicitly).

    Args:
        path: The JSON file, optionally followed by ``#baseline`` or ``#taylorglo``.

    Returns:
        The values.

    Raises:
        TaylorGLOError: The file is missing, is not JSON, or has none of those shapes.
    """
    text = os.fspath(path)
    part = None
    name, sep, suffix = text.rpartition("#")
    if sep and suffix in ("baseline", "taylorglo"):
        text, part = name, suffix
    path = Path(text)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise TaylorGLOError(f"{path}: no such file") from None
    except OSError as exc:
        raise TaylorGLOError(f"{path}: cannot read it ({exc.strerror})") from None
    except ValueError as exc:
        raise TaylorGLOError(f"{path}: not valid JSON ({exc})") from None
    expected = (
        'expected a JSON list of numbers, an object with an "accuracies" list, or an '
        "analysis report.json"
    )
    if part is not None:
        block = data.get(part) if isinstance(data, dict) else None
        if not isinstance(block, dict) or "accuracies" not in block:
            raise TaylorGLOError(
                f"{path}: #{part} needs an analysis report.json with a {part!r} section"
            )
        data = block["accuracies"]
    elif isinstance(data, dict):
        if isinstance(data.get("taylorglo"), dict) and "accuracies" in data["taylorglo"]:
            data = data["taylorglo"]["accuracies"]
        elif "accuracies" in data:
            data = data["accuracies"]
        else:
            keys = ", ".join(sorted(map(str, data))[:6]) or "none"
            raise TaylorGLOError(f"{path}: no accuracies in it (keys: {keys}); {expected}")
    if not isinstance(data, list):
        raise TaylorGLOError(f"{path}: got a JSON {type(data).__name__}; {expected}")
    values: list[float] = []
    for i, v in enumerate(data):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise TaylorGLOError(f"{path}: value {i} is {v!r}, not a finite number; {expected}")
        values.append(float(v))
    return values


# ------------------------------------------------------------------------------ what to train


def analysis_seed(experiment_seed: int, run_index: int) -> int:
    """The seed of analysis run ``run_index``: the same for every loss (paired runs).

    Args:
        experiment_seed: ``experiment.seed``.
        run_index: Which repetition, from 0.

    Returns:
        An int in ``[0, 2**31)``, different from every search attempt's seed.
    """
    import numpy as np

    state = np.random.SeedSequence([int(experiment_seed), _SEED_TAG, int(run_index)])
    return int(state.generate_state(1)[0]) % 2**31


def parse_candidates(spec: str) -> tuple[str, int]:
    """Parse ``--candidates``: ``best``, ``top:K`` or ``generations``.

    Args:
        spec: The option's value.

    Returns:
        ``(kind, k)``; ``k`` is 1 for ``best`` and 0 for ``generations``.

    Raises:
        TaylorGLOError: For another value.
    """
    text = spec.strip().lower()
    if text == "best":
        return "best", 1
    if text == "generations":
        return "generations", 0
    if text.startswith("top:"):
        try:
            k = int(text[4:])
        except ValueError:
            k = 0
        if k >= 1:
            return "top", k
    raise TaylorGLOError(
        f"--candidates: {spec!r} is not understood; expected best, top:K (K >= 1, e.g. top:3) "
        "or generations"
    )


def parse_fractions(text: str) -> list[float]:
    """Parse ``--train-fractions 1,0.5,0.1`` (order kept, duplicates dropped).

    Args:
        text: Comma-separated fractions in (0, 1].

    Returns:
        The fractions.

    Raises:
        TaylorGLOError: For a value that is not a number in (0, 1], or none at all.
    """
    fractions: list[float] = []
    for part in text.replace(" ", "").split(","):
        if not part:
            continue
        try:
            value = float(part)
        except ValueError:
            value = math.nan
        if not 0.0 < value <= 1.0:
            raise TaylorGLOError(
                f"--train-fractions: {part!r} is not a fraction in (0, 1] "
                "(expected comma-separated values, e.g. 1,0.5,0.1)"
            )
        if value not in fractions:
            fractions.append(value)
    if not fractions:
        raise TaylorGLOError(f"--train-fractions: no fraction in {text!r} (e.g. 1,0.5,0.1)")
    return fractions


def select_candidates(store: Any, spec: str = "best") -> list[dict[str, Any]]:
    """The θ to analyse, the best first (distinct θ only).

    Args:
        store: The run's store.
        spec: ``best``, ``top:K`` (the K best candidates) or ``generations`` (each
            generation's best).

    Returns:
        ``{"theta", "fitness", "generation", "candidate"}`` dicts, best first.

    Raises:
        TaylorGLOError: If no candidate has a result yet.
    """
    kind, k = parse_candidates(spec)
    best = store.best()
    if best is None:
        raise TaylorGLOError(
            f"{store.run_dir}: no candidate has a result yet; run or resume the search first"
        )
    if kind == "best":
        return [best]
    done = [c for c in store.candidates() if c["fitness"] is not None]
    if kind == "generations":
        wanted = {
            (g["generation"], g["best_candidate"])
            for g in store.generations()
            if g["best_candidate"] is not None
        }
        done = [c for c in done if (c["generation"], c["candidate"]) in wanted]
    done.sort(key=lambda c: (-c["fitness"], c["generation"], c["candidate"]))
    chosen: list[dict[str, Any]] = []
    seen: set[tuple[float, ...]] = set()
    for c in done:
        key = tuple(c["theta"])
        if key in seen:
            continue
        seen.add(key)
        chosen.append(
            {k: c[k] for k in ("theta", "fitness", "generation", "candidate")},
        )
        if kind == "top" and len(chosen) == k:
            break
    return chosen


@dataclass(frozen=True)
class Job:
    """One full training of the analysis.

    Attributes:
        label: ``"taylorglo"`` or ``"baseline"``.
        theta: θ for TaylorGLO, ``None`` for the cross-entropy baseline.
        fraction: ``data.train_fraction`` of this training.
        run_index: Which repetition, from 0 (the pairing key).
        seed: The training seed (:func:`analysis_seed`).
    """

    label: str
    theta: tuple[float, ...] | None
    fraction: float
    run_index: int
    seed: int

    @property
    def key(self) -> tuple[str, str, float, int]:
        """The store's unique key of this training."""
        theta = "" if self.theta is None else ",".join(repr(float(v)) for v in self.theta)
        return self.label, theta, float(self.fraction), self.run_index


def plan_jobs(
    thetas: Sequence[Sequence[float]],
    fractions: Sequence[float],
    runs: int,
    experiment_seed: int,
) -> list[Job]:
    """Every training of an analysis, in the order they are dispatched.

    Run ``i`` of each θ and of the baseline are next to each other, so an analysis stopped early
    still has complete pairs.

    Args:
        thetas: The θ to analyse.
        fractions: The training-set fractions.
        runs: Repetitions per loss.
        experiment_seed: ``experiment.seed``.

    Returns:
        The jobs.
    """
    jobs = []
    for fraction in fractions:
        for i in range(runs):
            seed = analysis_seed(experiment_seed, i)
            for theta in thetas:
                jobs.append(Job("taylorglo", tuple(float(v) for v in theta), fraction, i, seed))
            jobs.append(Job("baseline", None, fraction, i, seed))
    return jobs


# ------------------------------------------------------------------------------------- running


class _Progress:
    """A Rich progress bar of trainings done (log lines when stderr is not a terminal)."""

    def __init__(self, total: int, done: int, enabled: bool = True) -> None:
        from rich.console import Console

        self.console = Console(stderr=True)
        self.enabled = enabled
        self.total, self.done = total, done
        self._progress: Any = None
        if enabled and self.console.is_terminal:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._progress = Progress(
                TextColumn("[bold]analysis"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("trainings"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=self.console,
            )
            self._progress.start()
            self._task = self._progress.add_task("analysis", total=total, completed=done)
        elif enabled and done:
            self.console.print(f"analysis: {done}/{total} trainings already done", soft_wrap=True)

    def advance(self, job: Job, status: str, accuracy: float | None) -> None:
        self.done += 1
        if self._progress is not None:
            self._progress.update(self._task, completed=self.done)
        elif self.enabled:
            acc = "—" if accuracy is None else f"{accuracy:.4f}"
            self.console.print(
                f"analysis {self.done}/{self.total}: {job.label} run {job.run_index} "
                f"(fraction {job.fraction:g}) {status}, test accuracy {acc}",
                soft_wrap=True,
            )

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


def _recipe_for_fraction(store: Any, fraction: float | None) -> Any:
    from .recipe import parse_recipe

    meta = store.meta()
    source = meta.get("recipe_source", "<store>")
    base_dir = meta.get("base_dir") or str(Path(source).parent)
    overrides = [] if fraction is None else [f"data.train_fraction={float(fraction)!r}"]
    return parse_recipe(
        store.recipe_text(), source=source, overrides=overrides, base_dir=Path(base_dir)
    )


def _run_jobs(store: Any, recipe: Any, jobs: list[Job], progress: _Progress, pool: Any) -> None:
    """Run ``jobs`` on ``pool`` (started here, shut down at the end), journaling each."""
    from .search.executors import Fatal, Task, TaskDone, TaskLost
    from .search.trial import Outcome

    pending: deque[tuple[Job, int]] = deque((job, 0) for job in jobs)
    running: dict[int, tuple[Job, int, int]] = {}
    next_id = 0
    pool.start()
    try:
        while pending or running:
            for worker_id in pool.idle_workers():
                if not pending:
                    break
                job, reruns = pending.popleft()
                next_id += 1
                task = Task(next_id, -1, job.run_index, reruns, job.seed, job.theta or ())
                pool.submit(task, worker_id)
                row = store.start_analysis_run(
                    job.label,
                    job.theta,
                    job.fraction,
                    job.run_index,
                    job.seed,
                    worker_id,
                    pool.workers[worker_id]["device"],
                )
                running[next_id] = (job, row, reruns)
            for event in pool.poll(0.5):
                if isinstance(event, Fatal):
                    raise TaylorGLOError(event.message)
                if not isinstance(event, (TaskDone, TaskLost)):
                    continue
                job, row, reruns = running.pop(event.task.task_id)
                if isinstance(event, TaskLost):
                    outcome = Outcome("infra", 0.0, error=event.reason)
                else:
                    outcome = Outcome.from_dict(event.outcome)
                final = outcome.status in _FINAL
                accuracy = outcome.fitness if final else None
                store.finish_analysis_run(
                    row,
                    outcome.status,
                    test_accuracy=accuracy,
                    seconds=outcome.seconds or None,
                    error=outcome.error,
                    history=outcome.history or None,
                )
                if final or reruns + 1 > MAX_RERUNS:
                    progress.advance(job, outcome.status, accuracy)
                else:
                    # Not the loss's fault (an exception or a dead worker): the same training
                    # again, same seed, first in line.
                    pending.appendleft((job, reruns + 1))
    finally:
        pool.shutdown(kill=True)


def _final_rows(store: Any) -> dict[tuple[str, str, float, int], dict[str, Any]]:
    return {
        (r["label"], r["theta_key"], float(r["train_fraction"]), r["run_index"]): r
        for r in store.analysis_runs()
        if r["status"] in _FINAL
    }


def build_report(
    store: Any,
    selections: Sequence[dict[str, Any]],
    fractions: Sequence[float],
    runs: int,
    with_fractions: bool = False,
) -> dict[str, Any]:
    """The analysis report from the store's finished trainings.

    Args:
        store: The run's store.
        selections: The analysed candidates (:func:`select_candidates`), the best first.
        fractions: The training-set fractions; the top-level keys describe the first.
        runs: Repetitions per loss (trainings with a higher run index are ignored).
        with_fractions: Add the ``"fractions"`` key (``--train-fractions`` was given).

    Returns:
        The report dict (see the module docstring for the contract).
    """
    rows = _final_rows(store)
    seeds = [analysis_seed(int(store.meta().get("seed", 0)), i) for i in range(runs)]

    def results(label: str, theta: Sequence[float] | None, fraction: float) -> dict[str, Any]:
        accs, statuses = [], {}
        for i in range(runs):
            job = Job(label, None if theta is None else tuple(theta), fraction, i, 0)
            row = rows.get(job.key)
            if row is not None:
                accs.append(row["test_accuracy"] or 0.0)
                statuses[row["status"]] = statuses.get(row["status"], 0) + 1
        if len(accs) < runs:
            # Trainings that failed on every re-run have no accuracy; count them so a short
            # result set is visible in the report rather than silently smaller.
            statuses["failed"] = runs - len(accs)
        summary = summarize(accs)
        summary["statuses"] = statuses
        return summary

    def block(fraction: float) -> dict[str, Any]:
        baseline = results("baseline", None, fraction)
        cands = []
        for sel in selections:
            entry = {
                "theta": list(sel["theta"]),
                "fitness": sel.get("fitness"),
                "generation": sel.get("generation"),
                "candidate": sel.get("candidate"),
                **results("taylorglo", sel["theta"], fraction),
            }
            entry["p_value"] = welch_p_value(entry["accuracies"], baseline["accuracies"])
            entry["difference"] = (
                None
                if entry["mean"] is None or baseline["mean"] is None
                else entry["mean"] - baseline["mean"]
            )
            cands.append(entry)
        best = cands[0]
        taylorglo = {k: v for k, v in best.items() if k not in ("p_value", "difference")}
        return {
            "fraction": fraction,
            "taylorglo": taylorglo,
            "baseline": baseline,
            "difference": best["difference"],
            "p_value": best["p_value"],
            "candidates": cands,
        }

    blocks = [block(f) for f in fractions]
    first = blocks[0]
    report: dict[str, Any] = {
        "runs": runs,
        "test": TEST_NAME,
        "taylorglo": first["taylorglo"],
        "baseline": first["baseline"],
        "p_value": first["p_value"],
        "difference": first["difference"],
        "train_fraction": first["fraction"],
        "std_ddof": 1,
        "seeds": seeds,
        "experiment": store.meta().get("name"),
    }
    if len(selections) > 1:
        report["candidates"] = first["candidates"]
    if with_fractions:
        report["fractions"] = [
            {k: b[k] for k in ("fraction", "taylorglo", "baseline", "difference", "p_value")}
            | ({"candidates": b["candidates"]} if len(selections) > 1 else {})
            for b in blocks
        ]
    return report


def run_analysis(
    run_dir: str | os.PathLike[str],
    runs: int = 10,
    candidates: str = "best",
    fractions: Sequence[float] | None = None,
    out_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
    pool_factory: Any = None,
) -> dict[str, Any]:
    """Run (or finish) an analysis and write ``report.json`` and ``report.md``.

    Args:
        run_dir: The run directory of a search.
        runs: Repetitions per loss (>= 1).
        candidates: ``best``, ``top:K`` or ``generations``.
        fractions: ``data.train_fraction`` values to compare at (default: the recipe's own);
            given, the report has a ``"fractions"`` key and ``fig6_fractions.png`` is drawn.
        out_dir: Where the reports go (default ``RUN_DIR/analysis``).
        progress: Show a progress bar (or log lines) on stderr.
        pool_factory: ``factory(recipe, recipe_text) -> executor`` to use instead of the
            recipe's executor (a :class:`~keras_taylorglo.search.executors.LocalPool`, or Ray's
            actors with ``execution.executor = "ray"``, started with ``purpose="analysis"``).

    Returns:
        The report dict.

    Raises:
        TaylorGLOError: No run in ``run_dir``, it is in use (a search or another analysis is
            running), no candidate has a result, or the workers cannot start.
    """
    from .store import RunLock, Store

    run_dir = Path(run_dir)
    if runs < 1:
        raise TaylorGLOError(f"--runs must be at least 1; got {runs}")
    if not Store.exists(run_dir):
        raise TaylorGLOError(f"{run_dir}: no keras-taylorglo run here (no experiment.sqlite)")
    out = run_dir / ANALYSIS_DIR if out_dir is None else Path(out_dir)
    with RunLock(run_dir), Store.open(run_dir) as store:
        selections = select_candidates(store, candidates)
        recipe = _recipe_for_fraction(store, None)
        own = recipe.data.train_fraction if recipe.data is not None else 1.0
        wanted = list(fractions) if fractions else [own]
        jobs = plan_jobs([s["theta"] for s in selections], wanted, runs, recipe.experiment.seed)
        done = _final_rows(store)
        todo = [j for j in jobs if j.key not in done]
        bar = _Progress(len(jobs), len(jobs) - len(todo), enabled=progress)
        try:
            for fraction in wanted:
                group = [j for j in todo if j.fraction == fraction]
                if not group:
                    continue
                fr_recipe = _recipe_for_fraction(store, fraction) if fractions else recipe
                text = fr_recipe.to_toml()
                if pool_factory is not None:
                    pool = pool_factory(fr_recipe, text)
                elif fr_recipe.execution.executor == "ray":
                    from .search.ray_executor import RayExecutor

                    pool = RayExecutor(
                        text,
                        fr_recipe.source,
                        str(fr_recipe.base_dir),
                        fr_recipe.execution,
                        purpose="analysis",
                    )
                else:
                    from .search.executors import LocalPool

                    pool = LocalPool(
                        text,
                        fr_recipe.source,
                        str(fr_recipe.base_dir),
                        fr_recipe.execution,
                        purpose="analysis",
                    )
                _run_jobs(store, fr_recipe, group, bar, pool)
        finally:
            bar.stop()
        report = build_report(store, selections, wanted, runs, with_fractions=bool(fractions))
    write_reports(report, out, run_dir)
    return report


# ------------------------------------------------------------------------------------- reports


def _fmt(value: float | None, digits: int = 4) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _cell(summary: dict[str, Any]) -> str:
    return f"{_fmt(summary['mean'])} ({_fmt(summary['std'])})"


def _p(value: float | None) -> str:
    return "—" if value is None else f"{value:.3g}"


def table_row(report: dict[str, Any]) -> list[str]:
    """The Table-1 row of a report.

    Args:
        report: The report dict.

    Returns:
        ``[experiment, cross-entropy mean (std), TaylorGLO mean (std), difference, p, runs]``.
    """
    return [
        str(report.get("experiment") or "—"),
        _cell(report["baseline"]),
        _cell(report["taylorglo"]),
        "—" if report["difference"] is None else f"{report['difference']:+.4f}",
        _p(report["p_value"]),
        str(report["runs"]),
    ]


_HEADER = [
    "task",
    "cross-entropy",
    "TaylorGLO",
    "difference",
    "p (Welch, one-tailed)",
    "runs",
]


def report_markdown(report: dict[str, Any], run_dir: str | os.PathLike[str] = "") -> str:
    """``report.md``: the Table-1 row and the details, in Markdown.

    Args:
        report: The report dict.
        run_dir: The run directory (named in the text).

    Returns:
        The Markdown text.
    """
    lines = [
        f"# TaylorGLO analysis of {run_dir}" if run_dir else "# TaylorGLO analysis",
        "",
        f"Test accuracy after full training, {report['runs']} runs per loss (run i of each loss "
        f"uses the same seed), training-set fraction {report['train_fraction']:g}. "
        "Mean (sample standard deviation, ddof = 1); p: one-tailed Welch t-test that TaylorGLO's "
        "mean is greater (SciPy).",
        "",
        "| " + " | ".join(_HEADER) + " |",
        "|" + "|".join("---" for _ in _HEADER) + "|",
        "| " + " | ".join(table_row(report)) + " |",
        "",
        "θ = [" + ", ".join(repr(v) for v in report["taylorglo"]["theta"]) + "]",
        "",
        "| loss | test accuracies |",
        "|---|---|",
        "| cross-entropy | "
        + ", ".join(f"{a:.4f}" for a in report["baseline"]["accuracies"])
        + " |",
        "| TaylorGLO | " + ", ".join(f"{a:.4f}" for a in report["taylorglo"]["accuracies"]) + " |",
    ]
    if "candidates" in report:
        lines += [
            "",
            "## Candidates",
            "",
            "| generation | candidate | fitness | TaylorGLO | difference | p |",
            "|---|---|---|---|---|---|",
        ]
        for c in report["candidates"]:
            diff = "—" if c["difference"] is None else f"{c['difference']:+.4f}"
            lines.append(
                f"| {c['generation']} | {c['candidate']} | {_fmt(c['fitness'])} | {_cell(c)} | "
                f"{diff} | {_p(c['p_value'])} |"
            )
    if "fractions" in report:
        lines += [
            "",
            "## Training-set fractions",
            "",
            "| fraction | cross-entropy | TaylorGLO | difference | p |",
            "|---|---|---|---|---|",
        ]
        for f in report["fractions"]:
            diff = "—" if f["difference"] is None else f"{f['difference']:+.4f}"
            lines.append(
                f"| {f['fraction']:g} | {_cell(f['baseline'])} | {_cell(f['taylorglo'])} | "
                f"{diff} | {_p(f['p_value'])} |"
            )
        lines += ["", "![accuracy against training-set fraction](fig6_fractions.png)"]
    return "\n".join(lines) + "\n"


def write_reports(
    report: dict[str, Any], out_dir: str | os.PathLike[str], run_dir: str | os.PathLike[str] = ""
) -> list[Path]:
    """Write ``report.json``, ``report.md`` (and ``fig6_fractions.png`` with fractions).

    Args:
        report: The report dict.
        out_dir: The output directory (created).
        run_dir: The run directory, named in ``report.md``.

    Returns:
        The files written.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "report.json", out / "report.md"]
    paths[0].write_text(json.dumps(report, indent=2) + "\n")
    paths[1].write_text(report_markdown(report, run_dir))
    if "fractions" in report:
        from .plots import plot_fractions

        paths.append(out / "fig6_fractions.png")
        plot_fractions(report["fractions"], paths[-1])
    return paths


# ---------------------------------------------------------------------------------------- export


def export_text(best: dict[str, Any], meta: dict[str, Any], fmt: str = "python") -> str:
    """The best loss as a line of Python or as JSON.

    Args:
        best: ``Store.best()``.
        meta: ``Store.meta()`` (loss settings, experiment name).
        fmt: ``"python"`` or ``"json"``.

    Returns:
        The text (no trailing newline).

    Raises:
        TaylorGLOError: For another ``fmt``.
    """
    from .plots import loss_settings

    loss = loss_settings(meta)
    theta = [float(v) for v in best["theta"]]
    if fmt == "python":
        inputs = (
            "("
            + ", ".join(json.dumps(i) for i in loss["inputs"])
            + (",)" if len(loss["inputs"]) == 1 else ")")
        )
        return (
            f"TaylorGLOLoss(theta=[{', '.join(repr(v) for v in theta)}], "
            f"order={loss['order']}, inputs={inputs}, trim={loss['trim']}, "
            f"convention={json.dumps(loss['convention'])})"
        )
    if fmt == "json":
        fitness_kind = "validation_accuracy"
        text = meta.get("recipe_text") or ""
        try:
            from .recipe import parse_recipe

            fitness_kind = parse_recipe(
                text, base_dir=Path(meta.get("base_dir") or ".")
            ).evaluation.fitness
        except TaylorGLOError:  # an old or odd recipe: the loss settings still stand
            pass
        return json.dumps(
            {
                "theta": theta,
                "loss": {**loss, "inputs": list(loss["inputs"])},
                "fitness": best["fitness"],
                "fitness_measure": fitness_kind,
                "generation": best["generation"],
                "candidate": best["candidate"],
                "experiment": meta.get("name"),
            },
            indent=2,
        )
    raise TaylorGLOError(f"--format: {fmt!r} is not a format; expected python or json")


def missing_results(report: dict[str, Any]) -> list[str]:
    """One line per result set of a report that has fewer accuracies than runs.

    Args:
        report: A report from :func:`build_report`.

    Returns:
        Lines such as ``"TaylorGLO: 2 of 10 trainings failed on every re-run and are left out
        (see RUN_DIR/analysis/report.json, statuses)"``; empty when every training has a result.
    """
    lines = []
    blocks = report.get("fractions") or [report]
    for block in blocks:
        where = f" at train fraction {block['fraction']:g}" if "fraction" in block else ""
        for name, key in (("cross-entropy", "baseline"), ("TaylorGLO", "taylorglo")):
            failed = block[key].get("statuses", {}).get("failed", 0)
            if failed:
                lines.append(
                    f"{name}{where}: {failed} of {report['runs']} trainings failed on every "
                    f"re-run ({MAX_RERUNS} re-runs) and are left out; `analyze` again retries them"
                )
    return lines


# -------------------------------------------------------------------------------------- commands


def _print_table(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Test accuracy: mean (sample std)")
    for column in _HEADER:
        table.add_column(column, justify="right")
    table.add_row(*table_row(report))
    console = Console()
    console.print(table)
    for f in report.get("fractions", []):
        console.print(
            f"fraction {f['fraction']:g}: cross-entropy {_cell(f['baseline'])}, "
            f"TaylorGLO {_cell(f['taylorglo'])}, p {_p(f['p_value'])}",
            soft_wrap=True,
        )


def analyze_main(args: argparse.Namespace) -> int:
    """``keras-taylorglo analyze``: full trainings, t-test, reports.

    Args:
        args: ``run_dir``, ``runs``, ``candidates``, ``json``, ``out``, ``train_fractions``.

    Returns:
        0.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # inherited by the workers
    fractions = parse_fractions(args.train_fractions) if args.train_fractions else None
    parse_candidates(args.candidates)  # a bad value fails before any worker starts
    report = run_analysis(
        args.run_dir,
        runs=args.runs,
        candidates=args.candidates,
        fractions=fractions,
        out_dir=args.out,
        progress=True,
    )
    out = args.out or Path(args.run_dir) / ANALYSIS_DIR
    for line in missing_results(report):
        print(f"warning: {line}", file=sys.stderr)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        _print_table(report)
        print(f"reports: {out / 'report.md'}, {out / 'report.json'}")
    return 0


def ttest_main(args: argparse.Namespace) -> int:
    """``keras-taylorglo ttest A.json B.json``: Student's and Welch's t-tests.

    Args:
        args: ``a``, ``b`` (paths) and ``json``.

    Returns:
        0.
    """
    result = compare(load_result_set(args.a), load_result_set(args.b))
    result["a"]["file"], result["b"]["file"] = str(args.a), str(args.b)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    for name in ("a", "b"):
        s = result[name]
        print(
            f"{name.upper()}: n = {len(s['accuracies'])}, mean = {_fmt(s['mean'], 6)}, "
            f"std = {_fmt(s['std'], 6)} (ddof 1)  [{s['file']}]"
        )
    print(f"difference (A − B) = {result['difference']:+.6f}")
    print(f"{'':10} {'t':>10} {'p two-tailed':>14} {'p one-tailed (A > B)':>22}")
    for name, label in (("student", "Student's"), ("welch", "Welch's")):
        r = result[name]
        print(
            f"{label:10} {_fmt(r['t'], 4):>10} {_p(r['p_two_tailed']):>14} "
            f"{_p(r['p_one_tailed']):>22}"
        )
    return 0


def plot_main(args: argparse.Namespace) -> int:
    """``keras-taylorglo plot RUN_DIR``: the paper's figures as PNG files.

    Args:
        args: ``run_dir`` and ``out``.

    Returns:
        0.
    """
    from .plots import plot_run

    for path in plot_run(args.run_dir, args.out):
        print(path)
    return 0


def export_main(args: argparse.Namespace) -> int:
    """``keras-taylorglo export RUN_DIR``: the best loss as Python or JSON.

    Args:
        args: ``run_dir`` and ``format``.

    Returns:
        0.
    """
    from .store import Store

    with Store.open_existing(args.run_dir) as store:
        best = store.best()
        meta = store.meta()
    if best is None:
        raise TaylorGLOError(f"{args.run_dir}: no candidate has a result yet; nothing to export")
    print(export_text(best, meta, args.format))
    return 0


def add_analysis_parsers(subparsers: Any) -> None:
    """Register ``analyze``, ``ttest``, ``plot`` and ``export`` on the CLI's subparsers.

    Args:
        subparsers: The object returned by ``ArgumentParser.add_subparsers()``.
    """
    p = subparsers.add_parser(
        "analyze", help="full trainings of the best loss against cross-entropy, with a t-test"
    )
    p.add_argument("run_dir", type=Path)
    p.add_argument("--runs", type=int, default=10, help="trainings per loss (default 10)")
    p.add_argument(
        "--candidates",
        default="best",
        help="best (default), top:K (the K best θ) or generations (each generation's best)",
    )
    p.add_argument(
        "--train-fractions",
        metavar="F1,F2,…",
        help="compare at each of these data.train_fraction values instead of the recipe's "
        "(paper Fig. 6; the report's top level describes the first), e.g. 1,0.5,0.1",
    )
    p.add_argument("--out", type=Path, help="report directory (default RUN_DIR/analysis)")
    p.add_argument("--json", action="store_true", help="print the report JSON")
    p.set_defaults(func=analyze_main)

    p = subparsers.add_parser("ttest", help="Student's and Welch's t-tests of two result sets")
    p.add_argument(
        "a",
        type=Path,
        help='A: JSON list, {"accuracies": [...]} or report.json (add #baseline for its '
        "cross-entropy accuracies)",
    )
    p.add_argument("b", type=Path, help="B: the same kinds of file")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=ttest_main)

    p = subparsers.add_parser("plot", help="the paper's figures for a run, as PNG files")
    p.add_argument("run_dir", type=Path)
    p.add_argument("--out", type=Path, help="output directory (default RUN_DIR/plots)")
    p.set_defaults(func=plot_main)

    p = subparsers.add_parser("export", help="the best loss as a Python line or JSON")
    p.add_argument("run_dir", type=Path)
    p.add_argument("--format", choices=("python", "json"), default="python")
    p.set_defaults(func=export_main)


def _main(argv: Sequence[str] | None = None) -> int:
    """Run only these four commands (``python -m keras_taylorglo.analysis``)."""
    parser = argparse.ArgumentParser(prog="keras-taylorglo")
    add_analysis_parsers(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except TaylorGLOError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(_main())
