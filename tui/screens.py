"""The monitor's screens: the run picker, the main monitor, one generation's candidates, help.

Screens own the refresh: about once a second a worker thread reads the store through
:class:`~keras_taylorglo_tui.reader.RunReader` and hands the plain records to the widgets on the
UI thread (``call_from_thread``), so a slow disk never freezes the interface.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Footer, Static

from keras_taylorglo.errors import StoreError
from keras_taylorglo_tui.widgets.header import STATE_STYLES

from .format import format_fitness
from .reader import RunReader
from .view_rows import GenerationDetail, MonitorSnapshot, RunSummary
from .widgets import (
    AccuracyPlot,
    CandidateDetail,
    CandidateLossPlot,
    CandidatesTable,
    EventsPanel,
    FinalistsPanel,
    GenerationsTable,
    LossPlot,
    RunHeader,
    WorkersPanel,
)

REFRESH_SECONDS = 1.0
"""How often the screens re-read the store."""


@dataclass
class Refreshed(Message):
    """Posted by a screen after it applied a new read of the store (tests wait for it).

    Args:
        reads: how many reads this screen has applied so far.
    """

    reads: int


class _PollingScreen(Screen):
    """A screen that reads its run through ``reader`` in a worker thread every ``interval`` s."""

    def __init__(self, reader: RunReader, interval: float = REFRESH_SECONDS, **kwargs) -> None:
        super().__init__(**kwargs)
        self.reader = reader
        self.interval = interval
        self.reads = 0
        self.problem = ""
        self._reading = False

    def on_mount(self) -> None:
        """Reads once now, then every ``interval`` seconds."""
        self.poll()
        self.set_interval(self.interval, self.poll)

    def poll(self) -> None:
        """Starts a read unless one is still in flight (a slow read is skipped, not queued)."""
        if self._reading:
            return
        self._reading = True
        self._read_in_thread()

    def _read(self) -> object:
        raise NotImplementedError

    def _apply(self, data: object) -> None:
        raise NotImplementedError

    @work(thread=True, exit_on_error=False, group="store-read")
    def _read_in_thread(self) -> None:
        try:
            data: object = self._read()
        except Exception as exc:  # noqa: BLE001 - any read error is shown and retried
            data = exc
        try:
            self.app.call_from_thread(self._deliver, data)
        except RuntimeError:
            pass  # the app is shutting down

    def _deliver(self, data: object) -> None:
        self._reading = False
        if isinstance(data, Exception):
            self.problem = f"read failed: {data}; retrying"
        else:
            self.problem = ""
            self._apply(data)
        self.reads += 1
        self.post_message(Refreshed(self.reads))


class MonitorScreen(_PollingScreen):
    """The main screen: header, generations, accuracy and loss plots, workers, events.

    Args:
        reader: the run's reader.
        interval: seconds between reads.
        can_go_back: whether Escape returns to the run picker.
    """

    BINDINGS = [
        Binding("enter", "open_generation", "Candidates", show=True),
        Binding("p", "switch_plot", "Loss/θ"),
        Binding("e", "toggle_events", "Events"),
        Binding("question_mark", "app.help", "Help", key_display="?"),
        Binding("escape", "back", "Runs", show=False),
    ]

    def __init__(
        self, reader: RunReader, interval: float = REFRESH_SECONDS, can_go_back: bool = False
    ) -> None:
        super().__init__(reader, interval)
        self.can_go_back = can_go_back
        self.snapshot: MonitorSnapshot | None = None

    def compose(self) -> ComposeResult:
        """Builds the screen's widgets."""
        yield RunHeader(id="run-header")
        with Horizontal(id="top"):
            with Vertical(id="left"):
                yield GenerationsTable(id="generations")
                yield FinalistsPanel(id="finalists")
            with Vertical(id="right", classes="show-accuracy"):
                yield AccuracyPlot(id="accuracy")
                yield LossPlot(id="loss")
        with Horizontal(id="bottom"):
            yield WorkersPanel(id="workers")
            yield EventsPanel(id="events")
        yield Footer()

    def on_mount(self) -> None:
        """Titles the panels, focuses the table and starts the refresh."""
        self.query_one("#generations").border_title = "Generations"
        self.query_one("#finalists").border_title = "Finalists · new seeds"
        accuracy = self.query_one("#accuracy")
        accuracy.border_title = "Accuracy per generation"
        accuracy.border_subtitle = (
            "[green]best[/] [blue]mean[/] [yellow]all-time best[/] [red]●[/] new best"
        )
        self.query_one("#loss").border_title = "Loss shape · best of each generation"
        self.query_one("#workers").border_title = "Workers"
        self.query_one("#events").border_title = "Events"
        self.query_one(GenerationsTable).focus()
        super().on_mount()

    def _read(self) -> MonitorSnapshot:
        return self.reader.read()

    def _apply(self, data: object) -> None:
        assert isinstance(data, MonitorSnapshot)
        self.snapshot = data
        self.query_one(RunHeader).show(data)
        self.query_one(GenerationsTable).show(data.generations)
        self.query_one(FinalistsPanel).show(data.finalists)
        self.query_one(AccuracyPlot).show(data.generations)
        self.query_one(LossPlot).show(data)
        self.query_one(WorkersPanel).show(data.workers)
        self.query_one(EventsPanel).show(data.events)

    def _deliver(self, data: object) -> None:
        super()._deliver(data)
        if self.problem and self.snapshot is not None:
            self.query_one(RunHeader).show(self.snapshot, self.problem)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter on a table row."""
        if event.data_table.id == "generations":
            event.stop()
            self.action_open_generation()

    def action_open_generation(self) -> None:
        """Opens the candidates of the generation under the cursor."""
        generation = self.query_one(GenerationsTable).selected_generation()
        if generation is not None:
            self.app.push_screen(CandidatesScreen(self.reader, generation, self.interval))

    def action_switch_plot(self) -> None:
        """Switches the loss plot between loss shapes and θ over generations.

        On short terminals, where one plot is shown at a time, it cycles accuracy → loss shapes
        → θ → accuracy.
        """
        loss = self.query_one(LossPlot)
        right = self.query_one("#right")
        if not self.has_class("-short"):
            loss.switch()
            return
        if right.has_class("show-accuracy"):
            right.set_class(False, "show-accuracy").set_class(True, "show-loss")
            if loss.mode != "shape":
                loss.switch()
        elif loss.mode == "shape":
            loss.switch()
        else:
            right.set_class(False, "show-loss").set_class(True, "show-accuracy")
            loss.switch()

    def action_toggle_events(self) -> None:
        """Shows or hides the events panel."""
        self.query_one(EventsPanel).toggle_class("-hidden")
        self.query_one("#bottom").toggle_class("-no-events")

    def action_back(self) -> None:
        """Returns to the run picker (when the monitor was opened from it)."""
        if self.can_go_back:
            self.app.pop_screen()
            # The picker opened this run's reader; nothing else will close its connection.
            self.reader.close()


class CandidatesScreen(_PollingScreen):
    """One generation's candidates: θ, fitness, attempts and statuses, and a loss shape.

    Args:
        reader: the run's reader.
        generation: the generation index.
        interval: seconds between reads.
    """

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("question_mark", "app.help", "Help", key_display="?"),
    ]

    def __init__(self, reader: RunReader, generation: int, interval: float = REFRESH_SECONDS):
        super().__init__(reader, interval)
        self.generation = generation
        self.detail: GenerationDetail | None = None

    def compose(self) -> ComposeResult:
        """Builds the screen's widgets."""
        yield Static(id="generation-header")
        with Horizontal(id="candidates-body"):
            yield CandidatesTable(id="candidates")
            with Vertical(id="candidate-side"):
                yield CandidateLossPlot(id="candidate-loss")
                with VerticalScroll(id="candidate-detail-box"):
                    yield CandidateDetail(id="candidate-detail")
        yield Footer()

    def on_mount(self) -> None:
        """Titles the panels, focuses the table and starts the refresh."""
        self.query_one("#candidates").border_title = f"Generation {self.generation} · candidates"
        self.query_one("#candidate-detail-box").border_title = "θ and attempts"
        self.query_one(CandidatesTable).focus()
        super().on_mount()

    def _read(self) -> GenerationDetail | None:
        return self.reader.generation(self.generation)

    def _apply(self, data: object) -> None:
        header = self.query_one("#generation-header", Static)
        if data is None:
            header.update(Text(f"generation {self.generation} is not in the store", style="red"))
            return
        assert isinstance(data, GenerationDetail)
        self.detail = data
        g = data.generation
        line = Text()
        line.append(f"Generation {g.index}", style="bold")
        line.append(f"  {g.evaluations}/{g.population} evaluated", style="dim")
        line.append("  best ", style="dim")
        line.append(format_fitness(g.best), style="bold green")
        line.append("  mean ", style="dim")
        line.append(format_fitness(g.mean))
        line.append("  σ ", style="dim")
        line.append("—" if g.sigma is None else f"{g.sigma:.4f}")
        line.append(f"  retries {g.retries}  failures {g.candidate_failures}", style="dim")
        if g.infra_failures:
            line.append(f"+{g.infra_failures} infra", style="magenta")
        if g.new_best:
            line.append("  ● new all-time best", style="bold red")
        header.update(line)
        self.query_one(CandidatesTable).show(data)
        self._show_selected()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """The cursor moved to another candidate: show it."""
        event.stop()
        self._show_selected()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter on a table row."""
        event.stop()  # Enter here only selects; the main screen must not see it

    def _show_selected(self) -> None:
        if self.detail is None:
            return
        index = self.query_one(CandidatesTable).selected_candidate()
        candidate = next((c for c in self.detail.candidates if c.index == index), None)
        loss = self.detail.loss
        shape = None if candidate is None else self.reader.shape(candidate.theta, loss)
        best = self.detail.generation.best_candidate
        best_shape = None
        if best is not None and best != index:
            best_row = next((c for c in self.detail.candidates if c.index == best), None)
            if best_row is not None:
                best_shape = self.reader.shape(best_row.theta, loss)
        self.query_one(CandidateLossPlot).show(candidate, shape, best_shape)
        labels = loss.labels(len(candidate.theta)) if candidate is not None else []
        self.query_one(CandidateDetail).show(candidate, labels)


class PickerScreen(Screen):
    """Lists the runs under ``runs/`` (name, state, generations, best); Enter opens one.

    Args:
        runs: the runs to list.
        interval: the refresh interval of the monitor it opens.
    """

    BINDINGS = [
        Binding("enter", "open_run", "Open", show=True),
        Binding("question_mark", "app.help", "Help", key_display="?"),
    ]

    def __init__(self, runs: list[RunSummary], interval: float = REFRESH_SECONDS) -> None:
        super().__init__()
        self.runs = runs
        self.interval = interval

    def compose(self) -> ComposeResult:
        """Builds the screen's widgets."""
        yield Static(Text("Choose a run to monitor (↑/↓, Enter)", style="bold"), id="picker-header")
        yield DataTable(id="runs", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        """Fills the list of runs."""
        table = self.query_one("#runs", DataTable)
        table.border_title = "Runs"
        for label in ("run", "name", "state", "generations", "best"):
            table.add_column(label, key=label)
        for run in self.runs:
            table.add_row(
                str(run.path),
                run.name,
                Text(run.state, style=STATE_STYLES.get(run.state, "")),
                str(run.generations),
                format_fitness(run.best),
                key=str(run.path),
            )
        table.focus()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter on a table row."""
        event.stop()
        self.action_open_run()

    def action_open_run(self) -> None:
        """Opens the monitor on the run under the cursor."""
        table = self.query_one("#runs", DataTable)
        if table.row_count == 0:
            return
        row_key, _ = table.coordinate_to_cell_key((table.cursor_row, 0))
        try:
            reader = RunReader(row_key.value, clock=getattr(self.app, "clock", time.time))
        except StoreError as exc:  # deleted or damaged since the list was made: say so, stay
            self.notify(str(exc), title="Cannot open this run", severity="error")
            return
        self.app.push_screen(MonitorScreen(reader, self.interval, can_go_back=True))


HELP_TEXT = """\
[b]keras-taylorglo monitor[/b]

[b]Keys[/b]
  [b]↑/↓[/b], [b]PgUp/PgDn[/b]   move in a table
  [b]Enter[/b]        open the selected generation's candidates
  [b]p[/b]            switch the loss plot: loss shapes ↔ θ over generations
  [b]e[/b]            show or hide the events panel
  [b]Esc[/b]          back (from candidates, or to the run list)
  [b]?[/b]            this help          [b]q[/b]  quit

[b]Panels[/b]
  [b]Generations[/b]  best, mean and σ (CMA-ES step size) per generation, evaluations
               done/population, retries, failures (candidate+infra);
               [red]●[/] marks a new all-time best.
  [b]Accuracy[/b]     generation best (green), mean (blue), all-time best (yellow) (paper Fig. 2).
  [b]Loss shape[/b]   each generation's best loss for a true class 0 as y0 goes 0→1, shifted
               to 0 at y0 = 1, blue (early) → red (late) (Fig. 3a); [b]p[/b]: θ (Fig. 3b).
  [b]Finalists[/b]    after the last generation (evolution.finalists): the top candidates
               and the CMA-ES mean trained again on new seeds; search fitness, seeds
               done/planned, fitness over them; ✓ marks the chosen loss.
  [b]Workers[/b]      device, what it runs (g3 c5 a0: generation, candidate, attempt;
               f2 s1: finalist 2, its seed 1), for how long, last result.
  [b]Events[/b]       new bests, retries, aborts, divergences, failures, worker deaths.
  [b]Candidates[/b]   θ, status, fitness and attempts of each candidate of a generation;
               an attempt "a1 r2" is attempt 1 re-run twice after infrastructure failures.

The monitor only reads the run's store; it never slows the search down.
Press Esc or ? to close this help."""


class HelpScreen(ModalScreen):
    """The keys and what each panel means."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Close"),
        Binding("question_mark", "app.pop_screen", "Close", key_display="?"),
    ]

    def compose(self) -> ComposeResult:
        """Builds the screen's widgets."""
        with VerticalScroll(id="help-box"):
            yield Static(HELP_TEXT, id="help-text")
