"""One progress display for all that runs jobs: a search's evaluations, an analysis's trainings.

On a terminal (or in a notebook cell, which Rich renders too) it is a live Rich progress bar;
elsewhere (a log file, a scheduler's output) it is a plain line per step, so a long unattended
run still says where it is without filling the log with redraws.

The live line stays one line, and :data:`MARGIN` columns short of the terminal's width: Ctrl-C
makes the terminal echo ``^C`` at the cursor, and on a full-width line that wraps it, so the
next redraw would leave the old line above the new one (the line printed twice). Its ETA says
``—`` until the first ``eta_after`` steps are done (a search: its first generation), since an
estimate from the first evaluation alone was off by a factor of four.
"""

from __future__ import annotations

import time
from typing import Any

__all__ = ["ProgressBar", "ProgressDisplay"]

# The live line is redrawn at most this often: the store is read for every redraw.
_REFRESH_S = 0.25

MARGIN = 3
"""Columns the live line leaves free at the right: room for the ``^C`` a terminal echoes."""


def _columns(unit: str) -> list[Any]:
    """The live line's columns: what, bar, done/total, unit, elapsed, ETA (after ``eta_after``)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        ProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.table import Column
    from rich.text import Text

    class EtaColumn(ProgressColumn):
        """Rich's time remaining, or ``—`` until the first ``eta_after`` steps are done."""

        remaining = TimeRemainingColumn()

        def render(self, task: Any) -> Any:
            first, after = task.fields.get("first", 0), task.fields.get("eta_after", 0)
            if task.completed - first < max(after, 1) and not task.finished:
                return Text("—", style="progress.remaining")
            return self.remaining.render(task)

    # The description takes the width left (the line is expanded to its constrained width) and
    # gives way with an ellipsis; the bar and the numbers keep their widths.
    what = Column(no_wrap=True, overflow="ellipsis", ratio=1)
    return [
        TextColumn("[bold]{task.description}", table_column=what),
        BarColumn(bar_width=20),
        MofNCompleteColumn(),
        TextColumn(unit),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        EtaColumn(),
    ]


class ProgressBar:
    """A Rich progress bar of ``done`` of ``total`` steps, or log lines when not on a terminal.

    Args:
        unit: What is counted, shown after the count (``"evals"``, ``"trainings"``).
        console: A :class:`rich.console.Console` (default: one on stderr).
        live: Force the live bar on or off (default: only on a terminal).
        enabled: ``False`` shows nothing at all (``progress=False`` of the Python API).
        eta_after: Steps to be done (since :meth:`start`) before an ETA is shown.

    Example:
        >>> bar = ProgressBar("trainings", live=False, enabled=False)
        >>> bar.start(10, description="analysis")
        >>> bar.update(3)
        >>> bar.done
        3
    """

    def __init__(
        self,
        unit: str,
        console: Any = None,
        live: bool | None = None,
        enabled: bool = True,
        eta_after: int = 1,
    ) -> None:
        from rich.console import Console

        self.unit = unit
        self.eta_after = eta_after
        self.console = console or Console(stderr=True)
        self.enabled = enabled
        self.live = enabled and (self.console.is_terminal if live is None else live)
        self.done = 0
        self.total = 0
        self.started = time.monotonic()
        self._progress: Any = None
        self._task: Any = None
        self._last = 0.0

    def start(self, total: int, done: int = 0, description: str = "") -> None:
        """Show the bar for ``total`` steps, ``done`` of them already behind (a resumed run)."""
        self.total, self.done = total, done
        self.started = time.monotonic()
        if not self.live:
            return
        from rich.constrain import Constrain
        from rich.progress import Progress

        console = self.console

        class Line(Progress):
            """One line that leaves :data:`MARGIN` columns free (see the module docstring)."""

            def get_renderable(self) -> Any:
                return Constrain(super().get_renderable(), max(20, console.width - MARGIN))

        self._progress = Line(
            *_columns(self.unit), console=self.console, transient=False, expand=True
        )
        self._progress.start()
        self._task = self._progress.add_task(
            description, total=total, completed=done, first=done, eta_after=self.eta_after
        )

    def due(self, force: bool = False) -> bool:
        """Whether a redraw is due now (at most a few a second): ask before an expensive read.

        Returns:
            ``True`` when the live bar should be redrawn (and the clock restarts).
        """
        now = time.monotonic()
        if self._progress is None or (not force and now - self._last < _REFRESH_S):
            return False
        self._last = now
        return True

    def update(self, done: int, description: str | None = None, force: bool = False) -> None:
        """Move the bar to ``done`` steps (redrawn at most a few times a second unless forced)."""
        self.done = done
        if not self.due(force):
            return
        fields: dict[str, Any] = {"completed": done}
        if description is not None:
            fields["description"] = description
        self._progress.update(self._task, **fields)

    def log(self, text: str) -> None:
        """One plain line, only when there is no live bar (a log file's view of progress)."""
        if self.enabled and not self.live:
            self.console.print(text, soft_wrap=True)

    def elapsed(self) -> float:
        """Seconds since :meth:`start`."""
        return time.monotonic() - self.started

    def stop(self) -> None:
        """Stop the live bar (the last state stays on the screen)."""
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


class ProgressDisplay:
    """A search's progress: a live Rich line on a terminal, plain log lines otherwise.

    Shows the generation (counted from 0, as everywhere else), evaluations done/total, best so
    far, retries and failures, elapsed time and ETA.

    Args:
        console: A :class:`rich.console.Console` (default: stderr).
        live: Force the live display on or off (default: only on a terminal).
    """

    def __init__(self, console: Any = None, live: bool | None = None) -> None:
        self.bar = ProgressBar("evals", console=console, live=live)
        self.generations = 0
        self.population = 0

    @property
    def console(self) -> Any:
        """The Rich console it draws on."""
        return self.bar.console

    @property
    def live(self) -> bool:
        """Whether the live line is shown (else log lines)."""
        return self.bar.live

    def start(
        self, store: Any, generations: int, population: int, finalist_trainings: int = 0
    ) -> None:
        """Begin showing progress for a search of ``generations`` × ``population``.

        Args:
            store: The run's store.
            generations: The generation budget.
            population: Candidates per generation.
            finalist_trainings: Trainings of the finalist stage after the last generation (they
                count as steps of the bar, after the evaluations).
        """
        self.generations, self.population = generations, population
        self.bar.eta_after = population  # an ETA from less than a generation is a guess
        self.bar.start(generations * population + finalist_trainings, description="search")
        self.update(store, force=True)

    def _summary(self, store: Any) -> tuple[str, int]:
        s = store.progress_summary()
        best = "—" if s.best is None else f"{s.best:.4f}"
        # Generations count from 0, as in status, the monitor and the store.
        text = (
            f"gen {max(s.generation, 0)} of 0–{self.generations - 1} · "
            f"best {best} · retries {s.retries} · failures {s.candidate_failures}"
            f"+{s.infra_failures} infra"
        )
        if s.finalist_planned:
            text += f" · finalists {s.finalist_trainings}/{s.finalist_planned}"
        return text, s.evaluations + s.finalist_trainings

    def update(self, store: Any, force: bool = False) -> None:
        """Refresh the live line (at most a few times a second)."""
        if not self.bar.due(force):
            return  # before the store is read: the engine asks after every poll
        text, done = self._summary(store)
        self.bar.update(done, description=text, force=True)

    def finalists_done(self, store: Any) -> None:
        """Report the finished finalist stage (a log line when not on a terminal)."""
        if self.live:
            self.update(store, force=True)
            return
        text, done = self._summary(store)
        self.bar.log(f"finalists done: {text} · {done} trainings · {self.bar.elapsed():.0f} s")

    def generation_done(self, store: Any, g: int) -> None:
        """Report a finished generation (a log line when not on a terminal)."""
        if self.live:
            self.update(store, force=True)
            return
        text, done = self._summary(store)
        self.bar.log(f"generation {g} done: {text} · {done} evals · {self.bar.elapsed():.0f} s")

    def stop(self) -> None:
        """Stop the live display."""
        self.bar.stop()
