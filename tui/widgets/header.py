"""The run header: experiment, recipe, state, elapsed time, evaluations, ETA and best so far.

A run whose data has label noise gets a third line saying how much was realised.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from keras_taylorglo.store import RunState

from ..format import format_duration, format_fitness, format_label_noise
from ..view_rows import MonitorSnapshot

STATE_STYLES = {
    RunState.RUNNING: "bold green",
    RunState.FINISHED: "bold cyan",
    RunState.INTERRUPTED: "bold yellow",
}
"""How each run state is coloured."""


class RunHeader(Static):
    """Two lines about the whole run (three when its data has label noise).

    Example:
        >>> header = RunHeader(id="run-header")
        >>> header.show(snapshot)  # doctest: +SKIP
    """

    def show(self, snapshot: MonitorSnapshot, problem: str = "") -> None:
        """Shows a snapshot's run-level numbers.

        Args:
            snapshot: the latest read.
            problem: a one-line warning (e.g. a failed read) shown instead of nothing.
        """
        line1 = Text()
        line1.append(snapshot.name, style="bold")
        line1.append("  ")
        line1.append(snapshot.recipe, style="dim")
        line1.append("  ")
        line1.append(f"● {snapshot.state}", style=STATE_STYLES.get(snapshot.state, "bold"))
        if problem:
            line1.append(f"  {problem}", style="bold red")
        line2 = Text()
        line2.append("elapsed ", style="dim")
        line2.append(format_duration(snapshot.elapsed))
        line2.append("  evaluations ", style="dim")
        line2.append(f"{snapshot.evaluations}/{snapshot.planned or '?'}")
        line2.append("  ETA ", style="dim")
        line2.append(format_duration(snapshot.eta))
        line2.append("  best ", style="dim")
        best = snapshot.best
        if best is None:
            line2.append("—")
        else:
            line2.append(format_fitness(best.fitness), style="bold green")
            line2.append(f" (g{best.generation} c{best.candidate})", style="dim")
        lines = [line1, line2]
        noise = format_label_noise(snapshot.label_noise)
        if noise:
            lines.append(Text("label noise: ", style="dim").append(noise))
        self.update(Text("\n").join(lines))
