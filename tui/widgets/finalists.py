"""The finalists panel: the finalist stage's candidates re-scored on new seeds, and the chosen one.

Shown once the stage has begun (a run without one, or before its last generation, has no such
panel): one row per finalist with its rank, where it came from (``g3 c5``, or the CMA-ES mean),
its fitness in the search, its trainings on new seeds done of planned, its aggregate fitness
over them, and a mark on the chosen one.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from keras_taylorglo.outcomes import Status

from ..format import format_fitness
from ..view_rows import FinalistRow

COLUMNS: tuple[tuple[str, str], ...] = (
    ("#", "finalist"),
    ("from", "origin"),
    ("search", "search"),
    ("seeds", "seeds"),
    ("fitness", "fitness"),
)
"""(label, key) of each column."""

CHOSEN_MARK = "✓"
"""The marker of the chosen finalist."""


def finalist_cells(row: FinalistRow) -> tuple[Text, ...]:
    """The table cells of one finalist.

    Args:
        row: the finalist.

    Returns:
        One Rich text per column of :data:`COLUMNS`.

    Example:
        >>> row = FinalistRow(0, "g3 c5", 0.93, "ok", 3, 3, 0.91, True)
        >>> [c.plain for c in finalist_cells(row)]
        ['  0 ✓', ' g3 c5', ' 0.9300', ' 3/3', ' 0.9100']
    """
    rank = Text(f"{row.finalist:>3}")
    rank.append(f" {CHOSEN_MARK}" if row.chosen else "  ", style="bold green")
    running = row.status in (Status.RUNNING, Status.PENDING)
    cells = (
        rank,
        Text(row.origin),
        Text(format_fitness(row.search_fitness), style="dim"),
        Text(f"{row.done}/{row.planned}", style="yellow" if running else ""),
        Text(format_fitness(row.fitness), style="bold green" if row.chosen else ""),
    )
    # one leading space instead of DataTable's two-sided padding, as the generations table
    return tuple(Text(" ") + cell for cell in cells)


class FinalistsPanel(DataTable):
    """One row per finalist: rank, origin, search fitness, seeds done/planned, fitness, chosen.

    Hidden while there are no finalists, so a run without a finalist stage looks as it always
    did.

    Example:
        >>> panel = FinalistsPanel(id="finalists")
        >>> panel.show(snapshot.finalists)  # doctest: +SKIP
    """

    can_focus = False  # Tab moves between the tables that take keys, not this one

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="none", show_cursor=False, cell_padding=0, **kwargs)
        self._rows: list[FinalistRow] | None = None

    def on_mount(self) -> None:
        """Adds the columns; hidden until there are finalists."""
        for label, key in COLUMNS:
            self.add_column(f" {label}", key=key)
        self.display = False

    def show(self, rows: list[FinalistRow]) -> None:
        """Shows the finalists (re-built only when something changed).

        Args:
            rows: the finalists, in rank order.
        """
        if rows == self._rows:
            return
        self._rows = list(rows)
        self.display = bool(rows)
        self.clear()
        for row in rows:
            self.add_row(*finalist_cells(row), key=str(row.finalist))
        done = sum(r.done for r in rows)
        planned = sum(r.planned for r in rows)
        chosen = any(r.chosen for r in rows)
        self.border_subtitle = "chosen ✓" if chosen else f"{done}/{planned} trainings"
