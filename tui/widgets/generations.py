"""The generations table: one row per generation, updated in place as the store grows."""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable

from ..format import format_fitness
from ..view_rows import GenerationRow

COLUMNS: tuple[tuple[str, str], ...] = (
    ("gen", "gen"),
    ("best", "best"),
    ("mean", "mean"),
    ("σ", "sigma"),
    ("evals", "evals"),
    ("ret", "retries"),
    ("fail", "failures"),
)
"""(label, key) of each column."""

NEW_BEST_MARK = "●"
"""The marker of a generation that set a new all-time best (the red dots of Fig. 2)."""


def row_cells(row: GenerationRow) -> tuple[Text, ...]:
    """The table cells of one generation.

    Args:
        row: the generation.

    Returns:
        One Rich text per column of :data:`COLUMNS`.
    """
    gen = Text(f"{row.index:>3}")
    gen.append(f" {NEW_BEST_MARK}" if row.new_best else "  ", style="bold red")
    evals = f"{row.evaluations}/{row.population}"
    failures = str(row.candidate_failures)
    if row.infra_failures:
        failures += f"+{row.infra_failures}"
    sigma = "—" if row.sigma is None else f"{row.sigma:.3f}"
    cells = (
        gen,
        Text(format_fitness(row.best), style="bold" if row.new_best else ""),
        Text(format_fitness(row.mean)),
        Text(sigma, style="dim" if row.sigma is None else ""),
        Text(evals, style="" if row.finished else "yellow"),
        Text(str(row.retries), style="yellow" if row.retries else "dim"),
        Text(failures, style="red" if failures != "0" else "dim"),
    )
    # one leading space instead of DataTable's two-sided padding: the table fits 80 columns
    return tuple(Text(" ") + cell for cell in cells)


class GenerationsTable(DataTable):
    """Generation, best, mean, σ, evaluations, retries and failures (candidate+infra).

    Rows are keyed by generation index and updated cell by cell, so the cursor and the scroll
    position survive refreshes; when the cursor is on the last row, it follows new generations.

    Example:
        >>> table = GenerationsTable(id="generations")
        >>> table.show(snapshot.generations)  # doctest: +SKIP
    """

    BINDINGS = [Binding("enter", "select_cursor", "Candidates")]

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, cell_padding=0, **kwargs)
        self._cells: dict[int, tuple[Text, ...]] = {}

    def on_mount(self) -> None:
        """Adds the columns."""
        for label, key in COLUMNS:
            self.add_column(f" {label}", key=key)

    def show(self, rows: list[GenerationRow]) -> None:
        """Brings the table up to date with the store's generations.

        Args:
            rows: every generation, in order.
        """
        follow = self.row_count == 0 or self.cursor_row >= self.row_count - 1
        added = False
        for row in rows:
            cells = row_cells(row)
            old = self._cells.get(row.index)
            if old is None:
                self.add_row(*cells, key=str(row.index))
                added = True
            elif old != cells:
                for (_, key), new, before in zip(COLUMNS, cells, old, strict=True):
                    if new != before:
                        # update_width: a row added while its generation ran holds "—"; the
                        # column must widen when "0.5933" arrives, or it shows "0.59" for good
                        self.update_cell(str(row.index), key, new, update_width=True)
            self._cells[row.index] = cells
        if added and follow:
            self.move_cursor(row=self.row_count - 1)

    def selected_generation(self) -> int | None:
        """The generation under the cursor, or ``None`` for an empty table."""
        if self.row_count == 0:
            return None
        row_key, _ = self.coordinate_to_cell_key((self.cursor_row, 0))
        return int(row_key.value)
