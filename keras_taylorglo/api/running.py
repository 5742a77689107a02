"""How a run started from Python behaves while it runs: its display, its stop, its workers.

The progress display (live on a terminal and in Jupyter), Ctrl-C turned into a
``KeyboardInterrupt`` that says how to resume, and spawned workers that do not run your script
again: shared by :class:`~keras_taylorglo.api.search.Search`, ``resume`` and ``analyze``.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["interrupt_says_resume", "progress_display", "workers_skip_main"]


def progress_display(progress: bool) -> Any:
    """The engine's display: live on a terminal, and in Jupyter when ipywidgets is there.

    Args:
        progress: Whether to show progress at all.

    Returns:
        A :class:`~keras_taylorglo.search.progress.ProgressDisplay`, or ``None``.
    """
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
def interrupt_says_resume(run_dir: Path) -> Iterator[None]:
    """The engine's Ctrl-C (``SearchInterrupted``) as a KeyboardInterrupt that says how to go on.

    Args:
        run_dir: The run directory named in the message.

    Yields:
        Nothing: the block it guards runs inside.
    """
    from ..search.engine import SearchInterrupted

    try:
        yield
    except SearchInterrupted:
        raise KeyboardInterrupt(
            f"search interrupted: {run_dir} is resumable with ktg.resume({str(run_dir)!r}) or "
            f"`keras-taylorglo resume {run_dir}`"
        ) from None


@contextlib.contextmanager
def workers_skip_main() -> Iterator[None]:
    """Keep spawned workers from re-running your script (and quiet) while they start.

    ``multiprocessing``'s spawn start imports the parent's ``__main__`` file (or ``-m`` module)
    in every child: a script without an ``if __name__ == "__main__":`` guard would start a
    search in each worker, and one with it would still load its data there. The workers need
    nothing from it (your functions are in the run directory), so it is hidden while they start.

    Yields:
        Nothing: the workers start inside the block.
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
