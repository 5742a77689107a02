"""``resume`` and ``analyze`` from Python, and what every entry point shares while it runs."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import RecipeError, TaylorGLOError
from ..stopping import interrupt_on_sigint
from .checks import _Keywords, _mapping, _require_run
from .inputs import INPUTS_DIR, _flatten
from .results import SearchResult


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
    items = _flatten("execution", _mapping("execution", execution)) if execution else []
    _require_run(run_dir)
    with interrupt_on_sigint(), _interrupt_says_resume(run_dir), _workers_skip_main():
        resume_search(run_dir, display=_display(progress), overrides=items)
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
    keywords = _Keywords()  # analyze's own changes, named by the keyword they came in
    for name, table in (("training", training), ("execution", execution)):
        if table is not None:
            keywords.add(_flatten(name, _mapping(name, table)), f"{name}={{...}}", f"{name}.")
    if isinstance(overrides, str):
        raise TaylorGLOError('overrides: expected a list of "section.key=value" strings')
    keywords.add(list(overrides), "overrides=[...]")
    from ..analysis.overrides import check_overrides

    try:
        check_overrides(keywords.items)  # before the run is looked at, as on the command line
    except RecipeError as error:
        raise keywords.reword(error) from None
    _require_run(run_dir)
    manifest = run_dir / INPUTS_DIR / "manifest.json"
    if manifest.exists() and json.loads(manifest.read_text()).get("test_split") == "validation":
        warnings.warn(
            f"{run_dir} was searched without test_data: the analysis scores the validation "
            "split, which also chose θ (pass test_data=(x, y) to Search for an unbiased test)",
            stacklevel=2,
        )
    with _workers_skip_main():
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


def _display(progress: bool) -> Any:
    """The engine's display: live on a terminal, and in Jupyter when ipywidgets is there."""
    if not progress:
        return None
    from rich.console import Console

    from ..search.progress import ProgressDisplay

    console = Console(stderr=True)
    live = console.is_terminal
    if console.is_jupyter:
        import importlib.util

        live = importlib.util.find_spec("ipywidgets") is not None
    return ProgressDisplay(console=console, live=live)


@contextlib.contextmanager
def _interrupt_says_resume(run_dir: Path) -> Iterator[None]:
    """The engine's Ctrl-C (``SearchInterrupted``) as a KeyboardInterrupt that says how to go on."""
    from ..search.engine import SearchInterrupted

    try:
        yield
    except SearchInterrupted:
        raise KeyboardInterrupt(
            f"search interrupted: {run_dir} is resumable with ktg.resume({str(run_dir)!r}) or "
            f"`keras-taylorglo resume {run_dir}`"
        ) from None


@contextlib.contextmanager
def _workers_skip_main() -> Iterator[None]:
    """Keep spawned workers from re-running your script (and quiet) while they start.

    ``multiprocessing``'s spawn start imports the parent's ``__main__`` file (or ``-m`` module)
    in every child: a script without an ``if __name__ == "__main__":`` guard would start a
    search in each worker, and one with it would still load its data there. The workers need
    nothing from it (your functions are in the run directory), so it is hidden while they start.
    """
    # As the command line does: the workers inherit it and keep TensorFlow's start-up quiet.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    main = sys.modules.get("__main__")
    if main is None:
        yield
        return
    saved = {k: main.__dict__[k] for k in ("__spec__", "__file__") if k in main.__dict__}
    main.__spec__ = None
    main.__dict__.pop("__file__", None)
    try:
        yield
    finally:
        main.__dict__.pop("__spec__", None)
        main.__dict__.update(saved)
