"""One progress display for all that runs jobs: a search's evaluations, an analysis's trainings.

On a terminal (or in a notebook cell, which Rich renders too) it is a live Rich progress bar;
elsewhere (a log file, a scheduler's output) it is a plain line per step, so a long unattended
run still says where it is without filling the log with redraws.
"""

from __future__ import annotations

import time
from typing import Any

__all__ = ["ProgressBar", "ProgressDisplay"]

# The live line is redrawn at most this often: the store is read for every redraw.
_REFRESH_S = 0.25


class ProgressBar:
    """A Rich progress bar of ``done`` of ``total`` steps, or log lines when not on a terminal.

    Args:
        unit: What is counted, shown after the count (``"evals"``, ``"trainings"``).
        console: A :class:`rich.console.Console` (default: one on stderr).
        live: Force the live bar on or off (default: only on a terminal).
        enabled: ``False`` shows nothing at all (``progress=False`` of the Python API).

    Example:
        >>> bar = ProgressBar("trainings", live=False, enabled=False)
        >>> bar.start(10, description="analysis")
        >>> bar.update(3)
        >>> bar.done
        3
    """

    def __init__(
        self, unit: str, console: Any = None, live: bool | None = None, enabled: bool = True
    ) -> None:
        from rich.console import Console

        self.unit = unit
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
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn(self.unit),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=self.console,
            transient=False,
        )
        self._progress.start()
        self._task = self._progress.add_task(description, total=total, completed=done)

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

    @property
    def console(self) -> Any:
        """The Rich console it draws on."""
        return self.bar.console

    @property
    def live(self) -> bool:
        """Whether the live line is shown (else log lines)."""
        return self.bar.live

    def start(self, store: Any, generations: int, population: int) -> None:
        """Begin showing progress for a search of ``generations`` × ``population``."""
        self.generations = generations
        self.bar.start(generations * population, description="search")
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
        return text, s.evaluations

    def update(self, store: Any, force: bool = False) -> None:
        """Refresh the live line (at most a few times a second)."""
        if not self.bar.due(force):
            return  # before the store is read: the engine asks after every poll
        text, done = self._summary(store)
        self.bar.update(done, description=text, force=True)

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
