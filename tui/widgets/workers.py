"""The workers panel: each worker's device, what it runs, for how long, and its last result."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from keras_taylorglo.store import WorkerState

from ..format import format_duration
from ..view_rows import WorkerRow

STATE_STYLES = {
    WorkerState.BUSY: "green",
    WorkerState.IDLE: "dim",
    WorkerState.STARTING: "yellow",
    WorkerState.DEAD: "bold red",
}
"""How each worker state is coloured."""


class WorkersPanel(DataTable):
    """One row per worker: worker, device, what it does, for how long, last result.

    "What it does" is the task (``g3 c5 a0``: generation, candidate, attempt) or its state.

    Example:
        >>> panel = WorkersPanel(id="workers")
        >>> panel.show(snapshot.workers)  # doctest: +SKIP
    """

    can_focus = False  # Tab moves between the tables that take keys, not this one

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="none", show_cursor=False, cell_padding=0, **kwargs)
        self._rows: list[WorkerRow] | None = None

    def on_mount(self) -> None:
        """Adds the columns."""
        for label in ("worker", "device", "doing", "for", "last"):
            self.add_column(f" {label}", key=label)

    def show(self, workers: list[WorkerRow]) -> None:
        """Shows the workers (re-built only when something changed).

        Args:
            workers: the workers, by id.
        """
        if workers == self._rows:
            return
        self._rows = list(workers)
        self.clear()
        for w in workers:
            cells = (
                Text(w.worker),
                Text(w.device),
                Text(w.task or w.state, style=STATE_STYLES.get(w.state, "")),
                Text(format_duration(w.for_seconds)),
                Text(w.last) if w.last else Text("—", style="dim"),
            )
            self.add_row(*(Text(" ") + cell for cell in cells))
        self.border_subtitle = (
            f"{sum(w.state == WorkerState.BUSY for w in workers)}/{len(workers)} busy"
        )
