"""The run header: experiment, run directory, recipe, state, elapsed, evaluations, ETA, best.

A run with a finalist stage gets a line for the chosen loss; one whose data has label noise, a
line saying how much was realised.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from keras_taylorglo.store import RunState

from ..format import format_about, format_duration, format_fitness, format_label_noise
from ..view_rows import MonitorSnapshot

STATE_STYLES = {
    RunState.RUNNING: "bold green",
    RunState.FINISHED: "bold cyan",
    RunState.INTERRUPTED: "bold yellow",
}
"""How each run state is coloured."""


class RunHeader(Static):
    """Two lines about the whole run: which run, and how far (more for finalists, label noise).

    The first line names the experiment, the run directory, the recipe and the state. A run
    with a finalist stage gets a line for the loss it hands over: the chosen finalist once the
    stage has chosen, with the best single evaluation beside it. A run whose data has label
    noise gets a line saying how much was realised.

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
        if snapshot.run_dir:
            line1.append("  ")
            line1.append(snapshot.run_dir)
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
        if snapshot.finalists_planned:
            line2.append("  finalists ", style="dim")
            line2.append(f"{snapshot.finalists_done}/{snapshot.finalists_planned}")
        line2.append("  ETA ", style="dim")
        line2.append(format_duration(snapshot.eta))
        lines = [line1, line2]
        if snapshot.finalists_planned:
            lines.append(_best(snapshot))  # the loss handed over gets a line of its own
        else:
            line2.append("  ").append_text(_best(snapshot))
        noise = format_label_noise(snapshot.label_noise)
        if noise:
            lines.append(Text("label noise: ", style="dim").append(noise))
        self.update(Text("\n").join(lines))


def _best(snapshot: MonitorSnapshot) -> Text:
    """``best 0.93 (g3 c5)``; with a chosen finalist, ``chosen …  best single evaluation …``."""
    line = Text()
    chosen, best = snapshot.chosen, snapshot.best
    if chosen is not None:
        line.append("chosen ", style="dim")
        line.append(format_fitness(chosen.fitness), style="bold green")
        origin = format_about(chosen.generation, chosen.candidate) or "CMA-ES mean"
        line.append(f" (finalist {chosen.finalist}: {origin}, on new seeds)", style="dim")
        line.append("  best single evaluation ", style="dim")
    elif snapshot.finalists_planned:
        line.append("best single evaluation ", style="dim")
    else:
        line.append("best ", style="dim")
    if best is None:
        return line.append("—")
    line.append(format_fitness(best.fitness), style="green" if chosen else "bold green")
    line.append(f" (g{best.generation} c{best.candidate})", style="dim")
    if snapshot.finalists_planned and chosen is None:
        line.append("  finalists: not chosen yet", style="dim")
    return line
