"""The keras-taylorglo monitor: a Textual app over a run's store (``keras-taylorglo monitor``).

The app is thin: it picks the first screen (the monitor of one run, or a picker of the runs under
``runs/``) and holds app-wide keys. The screens in :mod:`keras_taylorglo_tui.screens` refresh
from the store; :mod:`keras_taylorglo_tui.reader` reads it. Nothing here imports TensorFlow, so
the first paint is immediate.

Example:
    >>> from keras_taylorglo_tui.app import run_monitor
    >>> run_monitor("runs/digits")  # doctest: +SKIP
    0
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from textual.app import App
from textual.binding import Binding
from textual.screen import Screen

from keras_taylorglo.errors import StoreError

from .reader import RunReader, find_runs
from .screens import REFRESH_SECONDS, HelpScreen, MonitorScreen, PickerScreen
from .view_rows import RunSummary

__all__ = ["MonitorApp", "run_monitor"]


class MonitorApp(App[int]):
    """Watches a TaylorGLO search: generations, plots, workers and events, refreshed every second.

    Give it a ``reader`` (one run) or ``runs`` (a picker). ``clock`` is injectable so tests and
    screenshots are stable.

    Args:
        reader: the run to monitor.
        runs: runs to choose from when no ``reader`` is given.
        clock: returns the current time (``time.time``).
        interval: seconds between reads of the store.

    Raises:
        ValueError: if neither ``reader`` nor ``runs`` is given.

    Example:
        >>> app = MonitorApp(RunReader("runs/digits"))  # doctest: +SKIP
        >>> app.run()  # doctest: +SKIP
    """

    CSS_PATH = "monitor.tcss"
    TITLE = "keras-taylorglo monitor"
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
    ]
    # narrow terminals stack less and drop decoration (see monitor.tcss)
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (32, "-tall")]

    def __init__(
        self,
        reader: RunReader | None = None,
        runs: list[RunSummary] | None = None,
        clock: Callable[[], float] = time.time,
        interval: float = REFRESH_SECONDS,
    ) -> None:
        if reader is None and runs is None:
            raise ValueError("MonitorApp needs a reader (one run) or runs (a picker); got neither")
        super().__init__()
        self.reader = reader
        self.runs = runs or []
        self.clock = clock
        self.interval = interval

    def get_default_screen(self) -> Screen:
        """The monitor of the given run, or the picker."""
        if self.reader is not None:
            return MonitorScreen(self.reader, self.interval)
        return PickerScreen(self.runs, self.interval)

    def action_help(self) -> None:
        """Shows the help screen (or closes it)."""
        if isinstance(self.screen, HelpScreen):
            self.pop_screen()
        else:
            self.push_screen(HelpScreen())


def run_monitor(run_dir: str | None, runs_root: str = "runs") -> int:
    """Runs the monitor in the terminal (the ``keras-taylorglo monitor [RUN_DIR]`` command).

    Args:
        run_dir: the run directory, or ``None`` to choose from the runs under ``runs_root``.
        runs_root: where to look for runs without ``run_dir``.

    Returns:
        The exit status: 0 after the user quits, 2 for a missing or foreign ``run_dir`` or no
        runs to choose from (one ``error: ...`` line on stderr, before any screen is drawn).

    Example:
        >>> run_monitor("no/such/run")  # doctest: +SKIP
        error: no/such/run: no keras-taylorglo run here (it does not exist; …)
        2
    """
    if run_dir is not None:
        try:
            reader = RunReader(run_dir)
        except StoreError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        app = MonitorApp(reader=reader)
    else:
        runs = find_runs(runs_root)
        if not runs:
            where = os.fspath(Path(runs_root))
            print(
                f"error: no runs under {where}/; start one with `keras-taylorglo search RECIPE` "
                "or give a RUN_DIR",
                file=sys.stderr,
            )
            return 2
        app = MonitorApp(runs=runs)
    try:
        app.run()
    finally:
        if app.reader is not None:
            app.reader.close()
    return 0
