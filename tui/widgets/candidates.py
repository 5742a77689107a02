"""The candidates of one generation: θ, fitness, attempts and statuses."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.widgets import DataTable, Static

from keras_taylorglo.outcomes import Status

from ..format import format_fitness
from ..view_rows import CandidateRow, GenerationDetail

STATUS_STYLES = {
    Status.OK: "green",
    Status.ABORTED: "yellow",
    Status.DIVERGED: "bold red",
    Status.FAILED: "red",
    Status.INFRA: "magenta",
    Status.SCREENED: "dim",
    Status.RUNNING: "cyan",
    Status.PENDING: "dim",
    Status.INTERRUPTED: "yellow",
}
"""How each candidate/attempt status is coloured."""


WRAP_MARK = "↩"
"""Ends a θ line that goes on below: the θ column wraps rather than cut values off."""

_COLUMNS = (
    ("#", "candidate"),
    ("status", "status"),
    ("fitness", "fitness"),
    ("attempts", "attempts"),
    ("θ", "theta"),
)


def theta_text(theta: tuple[float, ...], digits: int = 2, width: int | None = None) -> str:
    """θ as compact lines of at most ``width`` characters, each but the last ending in ``↩``.

    Args:
        theta: the values.
        digits: digits after the point.
        width: the column's width (``None``: one line).

    Returns:
        The values joined by spaces, wrapped between values.

    Example:
        >>> theta_text((1.0, -0.5))
        '1.00 -0.50'
        >>> print(theta_text((11.9, -4.02, 6.98, 8.58), width=14))
        11.90 -4.02 ↩
        6.98 8.58
    """
    values = [f"{v:.{digits}f}" for v in theta]
    if width is None:
        return " ".join(values)
    lines: list[str] = []
    line = ""
    for i, value in enumerate(values):
        # A line may end after any value but the last, so it keeps room for " ↩".
        room = width if i == len(values) - 1 else width - 2
        if line and len(line) + 1 + len(value) > room:
            lines.append(f"{line} {WRAP_MARK}")
            line = value
        else:
            line = f"{line} {value}" if line else value
    return "\n".join([*lines, line])


class CandidatesTable(DataTable):
    """One row per candidate: index, status, fitness, attempts, θ.

    Example:
        >>> table = CandidatesTable(id="candidates")
        >>> table.show(detail)  # doctest: +SKIP
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self._cells: dict[int, tuple] = {}
        self._detail: GenerationDetail | None = None
        self._theta_width: int | None = None

    def on_mount(self) -> None:
        """Adds the columns."""
        for label, key in _COLUMNS:
            self.add_column(label, key=key)

    def on_resize(self) -> None:
        """Wraps θ again for the new width."""
        if self._detail is not None:
            self.show(self._detail)

    def _width_for_theta(self, rows: list[tuple[Text, ...]]) -> int | None:
        """What is left of the table's width for θ once the other columns have theirs."""
        width = self.scrollable_content_region.width
        if width <= 0:
            return None  # not laid out yet: one line now, wrapped on the first resize
        pad = 2 * self.cell_padding
        others = sum(
            max(len(label), *(row[i].cell_len for row in rows)) + pad
            for i, (label, _) in enumerate(_COLUMNS[:-1])
        )
        return max(12, width - others - pad - 2)  # 2: room for a vertical scrollbar

    def show(self, detail: GenerationDetail) -> None:
        """Brings the rows up to date (in place, so the cursor stays).

        θ wraps between values (each continued line ends in ``↩``) when it does not fit the
        width the other columns leave; a new width re-wraps every row.

        Args:
            detail: the generation and its candidates.
        """
        self._detail = detail
        best = detail.generation.best_candidate
        rows = []
        for c in detail.candidates:
            mark = " ●" if c.index == best and c.fitness is not None else "  "
            rows.append(
                (
                    Text(f"{c.index:>2}") + Text(mark, style="bold red"),
                    Text(c.status, style=STATUS_STYLES.get(c.status, "")),
                    Text(format_fitness(c.fitness)),
                    Text(c.attempts_text),
                )
            )
        width = self._width_for_theta(rows)
        if width != self._theta_width:  # every θ is wrapped anew: rows are rebuilt
            self._theta_width, cursor = width, self.cursor_row
            self.clear()
            self._cells = {}
        else:
            cursor = None
        for c, cells in zip(detail.candidates, rows, strict=True):
            theta = Text(theta_text(c.theta, width=width), style="dim")
            cells = (*cells, theta)
            old = self._cells.get(c.index)
            if old is None:
                self.add_row(*cells, key=str(c.index), height=len(theta.plain.split("\n")))
            elif old != cells:
                for (_, key), new, before in zip(_COLUMNS, cells, old, strict=True):
                    if new != before:  # widen the column for "0.5933" after "—"
                        self.update_cell(str(c.index), key, new, update_width=True)
            self._cells[c.index] = cells
        if cursor is not None and self.row_count:
            self.move_cursor(row=min(cursor, self.row_count - 1))

    def selected_candidate(self) -> int | None:
        """The candidate under the cursor, or ``None`` for an empty table."""
        if self.row_count == 0:
            return None
        row_key, _ = self.coordinate_to_cell_key((self.cursor_row, 0))
        return int(row_key.value)


class CandidateDetail(Static):
    """The selected candidate's θ (with names) and each of its attempts.

    Example:
        >>> detail = CandidateDetail(id="candidate-detail")
        >>> detail.show(candidate, labels)  # doctest: +SKIP
    """

    def show(self, candidate: CandidateRow | None, labels: list[str]) -> None:
        """Shows one candidate.

        Args:
            candidate: the candidate, or ``None``.
            labels: names of the θ entries.
        """
        if candidate is None:
            self.update(Text("no candidate", style="dim"))
            return
        theta = Table.grid(padding=(0, 1))
        theta.add_column()
        theta.add_column(justify="right")
        theta.add_column(style="dim")
        for i, (label, value) in enumerate(zip(labels, candidate.theta, strict=False)):
            theta.add_row(f"θ{i}", f"{value:.4f}", label)
        attempts: list[Text] = []
        for a in candidate.attempts:
            # "a1 r2": attempt 1, its second re-run after infrastructure failures
            name = f"a{a.attempt}" + (f" r{a.rerun}" if a.rerun else "")
            line = Text(f"{name:<6}")
            line.append(f"{a.status:<9}", style=STATUS_STYLES.get(a.status, ""))
            line.append(format_fitness(a.fitness))
            if a.seconds is not None:
                line.append(f" {a.seconds:.1f}s", style="dim")
            line.append(f" {a.device or a.worker}", style="dim")
            attempts.append(line)
            if a.error:
                attempts.append(Text(f"  {a.error.strip().splitlines()[-1]}", style="red"))
        if not candidate.attempts:
            attempts.append(Text("no attempts yet", style="dim"))
        self.update(Group(theta, Text(""), *attempts))
