"""Running an analysis: its trainings on the executors, journaled, then the report."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import TaylorGLOError
from ..outcomes import Status
from .overrides import check_overrides, full_training, variant
from .plan import (
    ANALYSIS_DIR,
    CROSSENTROPY,
    MAX_RERUNS,
    Job,
    analysis_seed,
    baseline_label,
    parse_select,
    plan_jobs,
    select_candidates,
)
from .report import write_reports
from .stats import TEST_NAME, summarize, welch_p_value

if TYPE_CHECKING:
    from ..store.frozen import AnalysisRunRecord

__all__ = ["build_report", "run_analysis"]

_FINAL = (
    Status.OK,
    Status.DIVERGED,
)  # analysis rows that are results; anything else is run (again)


def _progress_bar(total: int, done: int, enabled: bool) -> Any:
    """The search's progress display, counting trainings (log lines when not on a terminal)."""
    from ..search.progress import ProgressBar

    bar = ProgressBar("trainings", enabled=enabled)
    bar.start(total, done, description="analysis")
    if done:
        bar.log(f"analysis: {done}/{total} trainings already done")
    return bar


def _advance(bar: Any, job: Job, status: str, accuracy: float | None) -> None:
    from ..baselines import baseline_label as human_label

    bar.update(bar.done + 1, force=True)
    acc = "—" if accuracy is None else f"{accuracy:.4f}"
    name = "TaylorGLO" if job.theta else human_label(job.loss)  # the table's names
    bar.log(
        f"analysis {bar.done}/{bar.total}: {name} run {job.run_index} "
        f"(fraction {job.fraction:g}) {status}, test accuracy {acc}"
    )


def _recipe_for_fraction(store: Any, fraction: float | None, extra: Sequence[str] = ()) -> Any:
    from ..recipe import parse_recipe

    meta = store.meta()
    source = meta.get("recipe_source", "<store>")
    base_dir = meta.get("base_dir") or str(Path(source).parent)
    overrides = [] if fraction is None else [f"data.train_fraction={float(fraction)!r}"]
    overrides += extra  # analyze --set (checked: the full training and where it runs only)
    return parse_recipe(
        store.recipe_text(), source=source, overrides=overrides, base_dir=Path(base_dir)
    )


def _run_jobs(store: Any, jobs: list[Job], progress: Any, pool: Any) -> None:
    """Run ``jobs`` on ``pool`` (started here, shut down at the end), journaling each."""
    from ..search.jobs import JobRunner
    from ..search.messages import Training

    ids = iter(range(1, 1 << 62))
    of_task: dict[int, tuple[Job, int, int]] = {}  # task id -> (job, store row, re-runs)

    def task_for(job: Job, reruns: int) -> Training:
        task = Training(
            task_id=next(ids),
            run_index=job.run_index,
            rerun=reruns,
            seed=job.seed,
            theta=job.theta or (),
            loss="" if job.theta else job.loss,
            select=job.select,
        )
        of_task[task.task_id] = (job, -1, reruns)
        return task

    def started(task: Training, worker_id: str) -> None:
        job, _, reruns = of_task[task.task_id]
        row = store.start_analysis_run(
            job.store_label,
            job.theta,
            job.fraction,
            job.run_index,
            job.seed,
            worker_id,
            pool.workers[worker_id]["device"],
        )
        of_task[task.task_id] = (job, row, reruns)

    def finished(task: Training, worker_id: str, outcome: Any, event: Any) -> list[Training]:
        job, row, reruns = of_task.pop(task.task_id)
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
            _advance(progress, job, outcome.status, accuracy)
            return []
        # Not the loss's fault (an exception or a dead worker): the same training again, same
        # seed, first in line.
        return [task_for(job, reruns + 1)]

    pool.start()
    try:
        JobRunner(pool, started=started, finished=finished).run([task_for(j, 0) for j in jobs])
    finally:
        pool.shutdown(kill=True)


def _final_rows(store: Any) -> dict[tuple[str, str, float, int], AnalysisRunRecord]:
    return {
        (r.label, r.theta_key, float(r.train_fraction), r.run_index): r
        for r in store.analysis_runs()
        if r.status in _FINAL
    }


# results(label, theta, fraction): the summary of one loss's trainings at one fraction
_Results = Callable[[str, Any, float], dict[str, Any]]


def _results(
    rows: dict[tuple[str, str, float, int], AnalysisRunRecord],
    runs: int,
    select: str,
    variant: str,
    label: str,
    theta: Sequence[float] | None,
    fraction: float,
) -> dict[str, Any]:
    """The summary (:func:`~.stats.summarize`) of one loss's finished trainings, with statuses."""
    accs, statuses = [], {}
    for i in range(runs):
        job = Job(label, None if theta is None else tuple(theta), fraction, i, 0, select, variant)
        row = rows.get(job.key)
        if row is not None:
            accs.append(row.test_accuracy or 0.0)
            statuses[row.status] = statuses.get(row.status, 0) + 1
    if len(accs) < runs:
        # Trainings that failed on every re-run have no accuracy; count them so a short
        # result set is visible in the report rather than silently smaller.
        statuses[Status.FAILED] = runs - len(accs)
    summary = summarize(accs)
    summary["statuses"] = statuses
    return summary


def _versus(entry: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    """TaylorGLO's difference to ``other`` and the one-tailed Welch p that it is greater."""
    return {
        "difference": None
        if entry["mean"] is None or other["mean"] is None
        else entry["mean"] - other["mean"],
        "p_value": welch_p_value(entry["accuracies"], other["accuracies"]),
    }


def _fraction_block(
    results: _Results,
    selections: Sequence[dict[str, Any]],
    baselines: Sequence[str],
    fraction: float,
) -> dict[str, Any]:
    """The report's comparison at one training-set fraction: every candidate, every baseline."""
    from ..baselines import baseline_label as human_label

    others = {spec: results(baseline_label(spec), None, fraction) for spec in baselines}
    baseline = others[CROSSENTROPY]
    cands = []
    for sel in selections:
        entry = {
            "theta": list(sel["theta"]),
            "fitness": sel.get("fitness"),
            "generation": sel.get("generation"),
            "candidate": sel.get("candidate"),
            **{k: sel[k] for k in ("chosen_by", "finalist", "search_fitness") if k in sel},
            **results("taylorglo", sel["theta"], fraction),
        }
        entry.update(_versus(entry, baseline))
        cands.append(entry)
    best = cands[0]
    taylorglo = {k: v for k, v in best.items() if k not in ("p_value", "difference")}
    return {
        "fraction": fraction,
        "taylorglo": taylorglo,
        "baseline": baseline,
        "difference": best["difference"],
        "p_value": best["p_value"],
        "baselines": {
            spec: {"name": human_label(spec), **summary, **_versus(best, summary)}
            for spec, summary in others.items()
        },
        "candidates": cands,
    }


def build_report(
    store: Any,
    selections: Sequence[dict[str, Any]],
    fractions: Sequence[float],
    runs: int,
    with_fractions: bool = False,
    baselines: Sequence[str] = (CROSSENTROPY,),
    select: str = "last",
    variant: str = "",
) -> dict[str, Any]:
    """The analysis report from the store's finished trainings.

    Args:
        store: The run's store.
        selections: The analysed candidates (:func:`select_candidates`), the best first.
        fractions: The training-set fractions; the top-level keys describe the first.
        runs: Repetitions per loss (trainings with a higher run index are ignored).
        with_fractions: Add the ``"fractions"`` key (``--train-fractions`` was given).
        baselines: Canonical baseline specs, cross-entropy first.
        select: ``"last"`` or ``"best_validation"``: which trainings' results are reported.
        variant: Which full training's results (``analyze --set``; ``""``: the recipe's).

    Returns:
        The report dict (see the package docstring for the contract).
    """
    rows = _final_rows(store)
    meta = store.meta()
    seeds = [analysis_seed(int(meta.get("seed", 0)), i) for i in range(runs)]
    results = functools.partial(_results, rows, runs, select, variant)
    blocks = [_fraction_block(results, selections, baselines, f) for f in fractions]
    first = blocks[0]
    report: dict[str, Any] = {
        "runs": runs,
        "test": TEST_NAME,
        "taylorglo": first["taylorglo"],
        "baseline": first["baseline"],
        "p_value": first["p_value"],
        "difference": first["difference"],
        "baselines": first["baselines"],
        "select": select,
        "label_noise": meta.get("label_noise"),
        "train_fraction": first["fraction"],
        "std_ddof": 1,
        "seeds": seeds,
        "experiment": meta.get("name"),
    }
    if len(selections) > 1:
        report["candidates"] = first["candidates"]
    if with_fractions:
        keys = ("fraction", "taylorglo", "baseline", "difference", "p_value", "baselines")
        report["fractions"] = [
            {k: b[k] for k in keys}
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
    baselines: Sequence[str] | str = (CROSSENTROPY,),
    select: str = "last",
    overrides: Sequence[str] = (),
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
        baselines: Baseline specs (a list, or the ``--baselines`` text
            ``"crossentropy,label_smoothing:0.1,gce:0.7,baikal"``); cross-entropy is always
            trained. Every baseline runs through the same path, seeds, budget and optimizer.
        select: ``"last"`` (the paper's protocol) or ``"best_validation"`` (every training,
            TaylorGLO's and the baselines', scored at its best-validation epoch).
        overrides: ``--set`` items for the full training (``training.full.*``,
            ``training.schedule.*``) or where it runs (``execution.*``); the report then records
            them (``overrides``) and what the full training used (``full_training``).

    Returns:
        The report dict.

    Raises:
        TaylorGLOError: No run in ``run_dir``, it is in use (a search or another analysis is
            running), no candidate has a result, a bad baseline or selection, or the workers
            cannot start.
    """
    from ..baselines import parse_baselines
    from ..store import RunLock, Store
    from ..store.locate import require_run_dir

    run_dir = Path(run_dir)
    if runs < 1:
        raise TaylorGLOError(f"--runs must be at least 1; got {runs}")
    specs = parse_baselines(baselines if isinstance(baselines, str) else ",".join(baselines))
    select = parse_select(select)
    items = check_overrides(overrides)
    require_run_dir(run_dir)
    out = run_dir / ANALYSIS_DIR if out_dir is None else Path(out_dir)
    with RunLock(run_dir), Store.open(run_dir) as store:
        selections = select_candidates(store, candidates)
        recipe = _recipe_for_fraction(store, None, items)
        tag = variant(_recipe_for_fraction(store, None), recipe)
        own = recipe.data.train_fraction if recipe.data is not None else 1.0
        wanted = list(fractions) if fractions else [own]
        thetas = [s["theta"] for s in selections]
        jobs = plan_jobs(thetas, wanted, runs, recipe.experiment.seed, specs, select, tag)
        done = _final_rows(store)
        todo = [j for j in jobs if j.key not in done]
        bar = _progress_bar(len(jobs), len(jobs) - len(todo), enabled=progress)
        try:
            for fraction in wanted:
                group = [j for j in todo if j.fraction == fraction]
                if not group:
                    continue
                fr_recipe = _recipe_for_fraction(store, fraction, items) if fractions else recipe
                _run_jobs(store, group, bar, _analysis_pool(fr_recipe, pool_factory))
        finally:
            bar.stop()
        report = build_report(store, selections, wanted, runs, bool(fractions), specs, select, tag)
    if items:  # a plain analysis reports exactly what it always did
        report["overrides"] = items
        report["full_training"] = full_training(recipe)
    write_reports(report, out, run_dir)
    return report


def _analysis_pool(recipe: Any, pool_factory: Any) -> Any:
    """The executor of an analysis: ``pool_factory``'s, else the recipe's (local or Ray)."""
    text = recipe.to_toml()
    if pool_factory is not None:
        return pool_factory(recipe, text)
    from ..search.jobs import make_executor

    return make_executor(recipe, text, purpose="analysis")
