"""Starting and resuming a run: the run directory, its lock and store, then the engine.

:func:`start_search` creates a run directory (or replaces one with ``overwrite``) and runs a new
search in it; :func:`resume_search` continues one exactly where it stopped. Both hold the run's
lock for the whole search, so a second driver on the same directory stops with one line.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import TaylorGLOError
from ..stopping import say
from .engine import Engine, SearchInterrupted
from .jobs import make_executor

__all__ = ["default_run_dir", "resume_search", "start_search"]


def default_run_dir(recipe: Any) -> Path:
    """``runs/<experiment.name>`` under the current directory."""
    return Path("runs") / recipe.experiment.name


def start_search(
    recipe: Any,
    run_dir: Path,
    overwrite: bool = False,
    display: Any = None,
    executor: Any = None,
    check_data: bool = True,
) -> Any:
    """Check the recipe's data, create a run directory and run a new search in it.

    Args:
        recipe: The validated recipe.
        run_dir: Where the store goes.
        overwrite: Replace an existing run in ``run_dir``.
        display: Progress display, or ``None``.
        executor: An executor to use instead of the recipe's (tests, benchmarks).
        check_data: Check the data first (:func:`check_data_before_workers`); ``False`` where
            the caller has (the Python API checks your arrays and functions itself).

    Returns:
        The chosen loss (:meth:`~keras_taylorglo.store.Store.chosen`), ``None`` without results.

    Raises:
        TaylorGLOError: ``run_dir`` holds a run and ``overwrite`` is false, or it is in use; or
            the search failed. A search that fails before any attempt finished (a recipe or data
            problem the workers found) removes the store it created, so that the next
            ``search`` starts afresh; Ctrl-C always leaves the run resumable.
    """
    from ..store import Store

    if check_data:
        check_data_before_workers(recipe)
    run_dir = Path(run_dir)
    created = not run_dir.exists()
    run_dir.mkdir(parents=True, exist_ok=True)
    try:
        return _start_locked(recipe, run_dir, overwrite, display, executor)
    except SearchInterrupted:
        raise
    except BaseException:
        if created and not Store.exists(run_dir):
            # A start that failed (bad data the workers found) leaves nothing behind.
            shutil.rmtree(run_dir, ignore_errors=True)
        raise


def check_data_before_workers(recipe: Any) -> None:
    """The recipe's data, checked before any worker starts (:mod:`keras_taylorglo.data.precheck`).

    Args:
        recipe: The validated recipe.

    Raises:
        DataError: One line naming the data set or the array, and the problem.
    """
    from ..recipe import DEFAULT_FITNESS

    if recipe.evaluation.fitness != DEFAULT_FITNESS or recipe.data is None:
        return  # a custom fitness never loads the data
    from ..data.precheck import check_data_first

    execution = recipe.execution
    check_data_first(
        recipe.data,
        recipe.base_dir,
        recipe.experiment.seed,
        recipe.source,
        remote_cluster=execution.executor == "ray" and bool(execution.ray_address),
        announce=say,
    )


def _start_locked(recipe: Any, run_dir: Path, overwrite: bool, display: Any, executor: Any) -> Any:
    from ..store import RunLock, RunState, Store

    with RunLock(run_dir):
        if Store.exists(run_dir):
            if not overwrite:
                # We hold the lock ourselves, so a run that says "running" is interrupted.
                with Store.open(run_dir, readonly=True) as old:
                    recorded = old.meta().get("state")
                state = RunState.FINISHED if recorded == RunState.FINISHED else RunState.INTERRUPTED
                hint = (
                    f"resume it with `keras-taylorglo resume {run_dir}` or pass --overwrite"
                    if state != RunState.FINISHED
                    else "pass --overwrite to replace it, or --out for another directory"
                )
                article = "an" if state == RunState.INTERRUPTED else "a"
                raise TaylorGLOError(f"{run_dir} already holds {article} {state} search: {hint}")
            Store.remove(run_dir)
            # Everything derived from the old search goes with it: stale reports or plots next
            # to a new search would be read as its results.
            for derived in ("tensorboard", "analysis", "plots"):
                shutil.rmtree(run_dir / derived, ignore_errors=True)
        text = recipe.to_toml()
        # Build the executor first: a missing Ray must not leave an empty run behind.
        executor = executor or make_executor(recipe, text)
        store = Store.create(
            run_dir, recipe_text=text, recipe_source=recipe.source, meta=_meta(recipe)
        )
        engine = Engine(recipe, store, executor, display)
        try:
            return engine.run()
        except SearchInterrupted:
            raise  # Ctrl-C: resumable, as the command says
        except BaseException:
            if not engine.evaluated_any:
                # Nothing was evaluated: an "interrupted" run here would only make the next
                # `search` refuse, and resuming it would replay the same failure.
                store.close()
                Store.remove(run_dir)
            raise
        finally:
            store.close()


def resume_search(
    run_dir: Path,
    display: Any = None,
    executor: Any = None,
    overrides: Sequence[str] = (),
) -> Any:
    """Continue an interrupted search exactly where it stopped.

    Args:
        run_dir: The run directory.
        display: Progress display, or ``None``.
        executor: An executor to use instead of the recipe's.
        overrides: ``execution.key=value`` changes (e.g. move to Ray); nothing else may change,
            or the resumed search would not be the same search.

    Returns:
        The chosen loss (:meth:`~keras_taylorglo.store.Store.chosen`), ``None`` without results.

    Raises:
        TaylorGLOError: No store in ``run_dir``, or it is in use.
    """
    from ..recipe import check_callables, parse_recipe
    from ..store import RunLock, Store
    from ..store.locate import require_run_dir

    run_dir = Path(run_dir)
    for item in overrides:
        if not item.startswith("execution."):
            raise TaylorGLOError(
                f"--set: resume may only change execution.* (got {item!r}; the rest of the "
                "recipe is the store's, so that the resumed search is the same search)"
            )
    require_run_dir(run_dir)
    with RunLock(run_dir):
        store = Store.open(run_dir)
        try:
            meta = store.meta()
            source = meta.get("recipe_source", "<store>")
            base_dir = meta.get("base_dir") or str(Path(source).parent)
            recipe = parse_recipe(
                store.recipe_text(),
                source=source,
                overrides=[*_legacy_overrides(meta), *overrides],
                base_dir=Path(base_dir),
            )
            if meta.get("state") == "finished":
                return store.chosen()
            check_callables(recipe)  # a function renamed since: one line now, not from workers
            executor = executor or make_executor(recipe, recipe.to_toml())
            store.add_event("info", f"resumed by process {os.getpid()}")
            return Engine(recipe, store, executor, display).run()
        finally:
            store.close()


def _legacy_overrides(meta: dict[str, Any]) -> list[str]:
    """The settings a run made before seed slots and finalists had, for its resumption.

    Its stored recipe has no ``rule``, ``seeds`` or ``finalists`` keys, so today's defaults would
    fill them in and change the rules half-way; it resumes under the rules it started with (one
    seed per candidate, the paper's retries, no finalist stage).
    """
    if meta.get("seeding") == "common":
        return []
    return ["evaluation.rule=paper", "evaluation.seeds=1", "evolution.finalists.count=0"]


def _meta(recipe: Any) -> dict[str, Any]:
    evo = recipe.evolution
    finalists = evo.finalists
    return {
        # Seeds shared by the candidates of a generation (trial.attempt_seed); runs made before
        # this key existed derived one seed per candidate.
        "seeding": "common",
        "finalists": {
            "count": finalists.count,
            "seeds": finalists.seeds,
            "budget": finalists.budget,
        },
        "name": recipe.experiment.name,
        "seed": recipe.experiment.seed,
        "base_dir": str(Path(recipe.base_dir).resolve()),
        "planned_evaluations": evo.population * evo.generations,
        "population": evo.population,
        "generations": evo.generations,
        "num_params": recipe.loss.num_params,
        "order": recipe.loss.order,
        "inputs": list(recipe.loss.inputs),
        "trim": recipe.loss.trim,
        "convention": recipe.loss.convention,
        "python": sys.version.split()[0],
    }
