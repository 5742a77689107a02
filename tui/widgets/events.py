"""The events panel: new bests, retries, aborts, divergences, failures and worker deaths."""

from __future__ import annotations

import time

from rich.text import Text
from textual.widgets import Static

from keras_taylorglo.store.frozen import EventRecord

from ..format import format_about

KIND_STYLES: dict[str, tuple[str, str]] = {
    "new_best": ("★", "bold green"),
    "retry": ("↻", "yellow"),
    "abort": ("✗", "yellow"),
    "divergence": ("∞", "bold red"),
    "failure": ("✗", "red"),
    "infra": ("⚠", "magenta"),
    "screened": ("·", "dim"),
    "worker_started": ("+", "dim"),
    "worker_died": ("✝", "bold red"),
    "info": ("i", "dim"),
}
"""(symbol, style) of each event kind."""


def event_line(event: EventRecord) -> Text:
    """One event as a line: local time, symbol, the candidate it is about (``g3 c5``), message.

    Args:
        event: the event.

    Returns:
        The styled line.
    """
    symbol, style = KIND_STYLES.get(event.kind, ("·", ""))
    line = Text(time.strftime("%H:%M:%S ", time.localtime(event.time)), style="dim")
    line.append(f"{symbol} ", style=style)
    about = format_about(event.generation, event.candidate)
    if about:
        line.append(f"{about} ", style="bold")
    line.append(event.message, style=style if event.kind in ("new_best", "worker_died") else "")
    return line


class EventsPanel(Static):
    """The latest events, newest first (so the newest is always visible).

    Example:
        >>> panel = EventsPanel(id="events")
        >>> panel.show(snapshot.events)  # doctest: +SKIP
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._ids: tuple[int, ...] | None = None

    def show(self, events: list[EventRecord]) -> None:
        """Shows the events (re-rendered only when new ones arrived).

        Args:
            events: the latest events, oldest first.
        """
        ids = tuple(e.id for e in events)
        if ids == self._ids:
            return
        self._ids = ids
        if not events:
            self.update(Text("no events yet", style="dim"))
            return
        lines = [event_line(e) for e in reversed(events)]
        text = Text("\n").join(lines)
        text.no_wrap = True
        text.overflow = "ellipsis"
        self.update(text)
