"""``resume`` and ``analyze`` from Python (the Search itself is in :mod:`.search`)."""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import RecipeError, TaylorGLOError
from ..stopping import interrupt_on_sigint
from ..store.locate import require_run_dir
from .checks import Keywords, section_table
from .inputs import INPUTS_DIR, flatten_section
from .results import SearchResult
from .running import interrupt_says_resume, progress_display, workers_skip_main

__all__ = ["analyze", "resume"]


def resume(
    run_dir: str | os.PathLike[str],
    execution: Mapping[str, Any] | None = None,
    progress: bool = True,
) -> SearchResult:
    """Continue an interrupted search exactly (from Python or from the command line).

    Args:
        run_dir: The run directory.
        execution: ``[execution]`` changes, e.g. ``{"executor": "ray"}`` (nothing else may
            change: the resumed search must be the same search).
        progress: Show the engine's progress display.

    Returns:
        The :class:`SearchResult`; a finished run's, at once.

    Raises:
        TaylorGLOError: No run in ``run_dir``, it is in use, or a bad ``execution`` key.
        KeyboardInterrupt: Stopped again: still resumable.

    Example:
        >>> ktg.resume("runs/mine").best.fitness  # doctest: +SKIP
    """
    from ..search.runs import resume_search

    run_dir = Path(run_dir)
    items = flatten_section("execution", section_table("execution", execution)) if execution else []
    require_run_dir(run_dir)
    with interrupt_on_sigint(), interrupt_says_resume(run_dir), workers_skip_main():
        resume_search(run_dir, display=progress_display(progress), overrides=items)
    return SearchResult.from_run_dir(run_dir)


def analyze(
    run_dir: str | os.PathLike[str],
    runs: int = 10,
    *,
    baselines: Sequence[str] | str = ("crossentropy",),
    select: str = "last",
    candidates: str = "best",
    train_fractions: Sequence[float] | None = None,
    out_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
    training: Mapping[str, Any] | None = None,
    execution: Mapping[str, Any] | None = None,
    overrides: Sequence[str] = (),
) -> dict[str, Any]:
    """Train the best loss and the baselines fully, ``runs`` times each; compare them.

    The same as ``keras-taylorglo analyze RUN_DIR``: resumable, journaled in the store, and
    written as ``report.json`` and ``report.md`` (in ``RUN_DIR/analysis`` by default).

    Args:
        run_dir: The run directory of a search.
        runs: Trainings per loss.
        baselines: Baseline specs (``"crossentropy"``, ``"label_smoothing:0.1"``, ``"gce:0.7"``,
            ``"baikal"``), a list or the comma-separated text; cross-entropy is always trained.
        select: ``"last"`` or ``"best_validation"``.
        candidates: ``"best"``, ``"top:K"`` or ``"generations"``.
        train_fractions: Compare at each ``data.train_fraction`` (the paper's Fig. 6).
        out_dir: Where the reports go (default ``RUN_DIR/analysis``).
        progress: Show a progress bar (or log lines).
        training: The full training's changes, e.g. ``{"full": {"steps": 100}}`` (only
            ``full`` and ``schedule``: the rest is what the search measured).
        execution: ``[execution]`` changes (where it runs), e.g. ``{"workers": 1}``.
        overrides: ``"section.key=value"`` strings, as ``analyze --set``.

    Returns:
        The report dict, the same as ``report.json``: ``runs``, ``taylorglo`` and ``baseline``
        (``accuracies``, ``mean``, ``std``), ``p_value``, ``baselines``, with changes also
        ``overrides`` and ``full_training`` (the full budget and schedule used), and more.

    Raises:
        TaylorGLOError: No run, no result yet, the run is in use, a bad baseline or selection,
            or a change that is not the full training's (``training={...}: learning_rate:
            analyze may not change it (…)``).

    Example:
        >>> report = ktg.analyze("runs/mine", runs=10, baselines=["gce:0.7"])  # doctest: +SKIP
        >>> report["taylorglo"]["mean"], report["p_value"]  # doctest: +SKIP
    """
    from ..analysis import run_analysis

    run_dir = Path(run_dir)
    keywords = Keywords()  # analyze's own changes, named by the keyword they came in
    for name, table in (("training", training), ("execution", execution)):
        if table is not None:
            items = flatten_section(name, section_table(name, table))
            keywords.add(items, f"{name}={{...}}", f"{name}.")
    if isinstance(overrides, str):
        raise TaylorGLOError('overrides: expected a list of "section.key=value" strings')
    keywords.add(list(overrides), "overrides=[...]")
    from ..analysis.overrides import check_overrides

    try:
        check_overrides(keywords.items)  # before the run is looked at, as on the command line
    except RecipeError as error:
        raise keywords.reword(error) from None
    require_run_dir(run_dir)
    manifest = run_dir / INPUTS_DIR / "manifest.json"
    if manifest.exists() and json.loads(manifest.read_text()).get("test_split") == "validation":
        warnings.warn(
            f"{run_dir} was searched without test_data: the analysis scores the validation "
            "split, which also chose θ (pass test_data=(x, y) to Search for an unbiased test)",
            stacklevel=2,
        )
    with workers_skip_main():
        try:
            return run_analysis(
                run_dir,
                runs=runs,
                candidates=candidates,
                fractions=list(train_fractions) if train_fractions else None,
                out_dir=out_dir,
                progress=progress,
                baselines=baselines,
                select=select,
                overrides=keywords.items,
            )
        except RecipeError as error:
            raise keywords.reword(error) from None
