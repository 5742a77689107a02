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


def theta_text(theta: tuple[float, ...], digits: int = 2) -> str:
    """θ as one compact line.

    Args:
        theta: the values.
        digits: digits after the point.

    Returns:
        The values joined by spaces.

    Example:
        >>> theta_text((1.0, -0.5))
        '1.00 -0.50'
    """
    return " ".join(f"{v:.{digits}f}" for v in theta)


class CandidatesTable(DataTable):
    """One row per candidate: index, status, fitness, attempts, θ.

    Example:
        >>> table = CandidatesTable(id="candidates")
        >>> table.show(detail)  # doctest: +SKIP
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self._cells: dict[int, tuple] = {}

    def on_mount(self) -> None:
        """Adds the columns."""
        for label, key in (
            ("#", "candidate"),
            ("status", "status"),
            ("fitness", "fitness"),
            ("attempts", "attempts"),
            ("θ", "theta"),
        ):
            self.add_column(label, key=key)

    def show(self, detail: GenerationDetail) -> None:
        """Brings the rows up to date (in place, so the cursor stays).

        Args:
            detail: the generation and its candidates.
        """
        best = detail.generation.best_candidate
        for c in detail.candidates:
            mark = " ●" if c.index == best and c.fitness is not None else "  "
            cells = (
                Text(f"{c.index:>2}") + Text(mark, style="bold red"),
                Text(c.status, style=STATUS_STYLES.get(c.status, "")),
                Text(format_fitness(c.fitness)),
                Text(c.attempts_text),
                Text(theta_text(c.theta), style="dim"),
            )
            old = self._cells.get(c.index)
            if old is None:
                self.add_row(*cells, key=str(c.index))
            elif old != cells:
                keys = ("candidate", "status", "fitness", "attempts", "theta")
                for key, new, before in zip(keys, cells, old, strict=True):
                    if new != before:  # widen the column for "0.5933" after "—"
                        self.update_cell(str(c.index), key, new, update_width=True)
            self._cells[c.index] = cells

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
