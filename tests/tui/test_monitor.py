"""The Textual monitor driven headless with a pilot, against real stores.

`search_run` is a store written by a real small search (engine, worker processes, custom fitness);
`running_run` is a synthetic run in progress written through the store's writer API with fixed
times (also used by the snapshot tests in test_snapshots.py).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import T0, write_synthetic_run
from rich.console import Console

from keras_taylorglo.outcomes import Outcome
from keras_taylorglo.store import Store
from keras_taylorglo.store.locate import no_run_error
from keras_taylorglo_tui import widgets
from keras_taylorglo_tui.app import MonitorApp, run_monitor
from keras_taylorglo_tui.format import (
    format_about,
    format_duration,
    format_fitness,
    format_label_noise,
)
from keras_taylorglo_tui.reader import RunReader, find_runs
from keras_taylorglo_tui.screens import CandidatesScreen, HelpScreen, MonitorScreen, PickerScreen
from keras_taylorglo_tui.view_rows import LossSettings
from keras_taylorglo_tui.widgets.events import event_line

ROOT = Path(__file__).resolve().parents[2]


async def wait_reads(pilot, screen, reads: int = 1, timeout: float = 30.0) -> None:
    """Waits until ``screen`` applied ``reads`` reads of the store.

    The timeout only bounds a failing wait (a passing one ends at the read): a loaded machine, or
    one three times slower than this one, is slow, not wrong.
    """
    deadline = time.monotonic() + timeout
    while screen.reads < reads:
        assert time.monotonic() < deadline, f"{type(screen).__name__} did not refresh in time"
        await pilot.pause(0.02)
    await pilot.pause()


def shown_text(widget, width: int = 120) -> str:
    """The plain text a Static widget shows (its content rendered by Rich)."""
    console = Console(width=width, file=io.StringIO(), record=True)
    console.print(widget.content)
    return console.export_text()


def cell_text(table, row: int, column: str) -> str:
    key = table.coordinate_to_cell_key((row, 0)).row_key
    return str(table.get_cell(key, column)).strip()


# ------------------------------------------------------------------------------ data layer


def test_reader_holds_the_store_numbers(search_run):
    store = Store.open(search_run, readonly=True)
    status = store.status_json()
    snap = RunReader(search_run).read()
    assert snap.state == "finished" == status["state"]
    assert snap.name == "sphere"
    assert snap.evaluations == snap.planned == 30
    assert snap.eta is None and snap.elapsed is not None and snap.elapsed > 0
    assert [g.index for g in snap.generations] == [g["index"] for g in status["generations"]]
    all_time = -1.0
    for row, g in zip(snap.generations, status["generations"], strict=True):
        assert row.best == g["best_fitness"] and row.mean == g["mean_fitness"]
        assert row.sigma == g["sigma"] and row.evaluations == 6
        all_time = max(all_time, row.best)
        assert row.all_time_best == all_time
        theta = store.candidates(row.index)[row.best_candidate].theta
        assert list(row.best_theta) == theta
        # the loss shape is the binary-modality loss of that θ, shifted to 0 at y0 = 1
        y0, loss = snap.shapes[row.index]
        assert y0[0] == 0.0 and y0[-1] == 1.0 and loss[-1] == 0.0
    assert snap.best.as_dict() == status["best"]
    assert [g.new_best for g in snap.generations][0] is True
    assert {w.worker for w in snap.workers} == {"w0", "w1"}
    store.close()


def test_reader_eta_and_elapsed_of_a_running_run(running_run, frozen_clock):
    run_dir, _ = running_run
    snap = RunReader(run_dir, clock=frozen_clock).read()
    assert snap.state == "running"
    assert snap.elapsed == 400.0
    assert (snap.evaluations, snap.planned) == (52, 56)
    # 6 finished generations of 55 s each for 8 evaluations: 4 remaining * 55/8 s
    assert snap.eta == pytest.approx(4 * 55 / 8)
    assert snap.run_dir == str(run_dir)  # the header names it
    busy = [w for w in snap.workers if w.state == "busy"]
    assert [w.task for w in busy] == ["g6 c4 a0", "g6 c5 a0"]
    assert busy[0].for_seconds == pytest.approx(400 - (5 + 6 * 60 + 30))
    assert format_duration(snap.elapsed) == "0:06:40"


def test_generation_detail_lists_attempts(running_run):
    run_dir, _ = running_run
    detail = RunReader(run_dir).generation(2)
    assert detail is not None and len(detail.candidates) == 8
    infra = detail.candidates[5]
    assert [a.status for a in infra.attempts] == ["infra", "ok"]
    assert infra.attempts[1].rerun == 1 and infra.attempts_text == "infra → ok"
    assert RunReader(run_dir).generation(99) is None


# -------------------------------------------------------------------------------- the app


async def test_main_screen_shows_the_search(search_run):
    store = Store.open(search_run, readonly=True)
    gens = store.generations()
    app = MonitorApp(RunReader(search_run))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        assert isinstance(screen, MonitorScreen)
        await wait_reads(pilot, screen)
        table = screen.query_one(widgets.GenerationsTable)
        assert table.row_count == len(gens) == 5
        for i, g in enumerate(gens):
            assert cell_text(table, i, "best") == format_fitness(g.best_fitness)
            assert cell_text(table, i, "mean") == format_fitness(g.mean_fitness)
            assert cell_text(table, i, "sigma") == f"{g.sigma:.3f}"
            assert cell_text(table, i, "evals") == "6/6"
            assert cell_text(table, i, "gen").endswith("●") == bool(g.new_best)
        accuracy = screen.query_one(widgets.AccuracyPlot)
        assert accuracy.curves["best"] == (
            [g.generation for g in gens],
            [g.best_fitness for g in gens],
        )
        assert accuracy.curves["mean"][1] == [g.mean_fitness for g in gens]
        assert accuracy.curves["all-time best"][1] == list(
            np.maximum.accumulate([g.best_fitness for g in gens])
        )
        assert accuracy.curves["new best"][0] == [g.generation for g in gens if g.new_best]
        loss = screen.query_one(widgets.LossPlot)
        assert sorted(loss.curves) == [0, 1, 2, 3, 4]
        assert all(y[-1] == 0.0 and len(y) == 101 for _, y in loss.curves.values())
        # the plots really drew something (braille dots) in their regions
        assert any("\u2800" <= ch <= "\u28ff" for ch in str(accuracy.render()))
        header = shown_text(screen.query_one(widgets.RunHeader))
        assert "sphere" in header and "finished" in header and "30/30" in header
        best = store.best()
        assert format_fitness(best.fitness) in header
        assert screen.query_one(widgets.WorkersPanel).row_count == 2
    store.close()


async def test_new_generation_appears_without_restart(tmp_path):
    run_dir = tmp_path / "live"
    writer = write_synthetic_run(run_dir, generations=2, partial_last=False)
    app = MonitorApp(RunReader(run_dir))
    async with app.run_test(size=(100, 30)) as pilot:
        screen = app.screen
        await wait_reads(pilot, screen)
        table = screen.query_one(widgets.GenerationsTable)
        assert table.row_count == 2
        # the engine writes generation 2 while the monitor runs
        thetas = [[0.1 * c] * 8 for c in range(8)]
        writer.begin_generation(2, b"before", thetas)
        for c in range(8):
            aid = writer.start_attempt(2, c, 0, c, "w0", "cpu:0")
            writer.finish_attempt(
                aid, Outcome("ok", 0.99 if c == 3 else 0.5), None, "ok", 0.99 if c == 3 else 0.5
            )
        writer.finish_generation(2, b"after", [0.0] * 8, 1.0)
        writer.add_event("new_best", "new best fitness 0.9900", 2, 3)
        before = screen.reads
        await pilot.pause(1.2)
        await wait_reads(pilot, screen, before + 1)
        assert table.row_count == 3
        assert cell_text(table, 2, "best") == "0.9900"
        assert cell_text(table, 2, "gen").endswith("●")
        # the cursor was on the last row, so it follows the new generation
        assert table.cursor_row == 2
        assert "new best fitness 0.9900" in shown_text(screen.query_one(widgets.EventsPanel))
    writer.close()


@pytest.mark.slow  # writing 2,800 results one transaction each takes a few seconds
async def test_the_first_refresh_shows_100_generations_and_later_ones_reuse_the_shapes(
    tmp_path, monkeypatch
):
    run_dir = tmp_path / "big"
    store = Store.create(
        run_dir,
        recipe_text="",
        meta={"name": "big", "population": 28, "generations": 100, "order": 3},
    )
    rng = np.random.RandomState(0)
    for g in range(100):
        store.begin_generation(g, b"s", rng.randn(28, 8).tolist(), started=T0 + g)
        for c in range(28):
            store.set_candidate_result(g, c, "ok", float(rng.uniform(0.5, 0.9)))
        store.finish_generation(g, b"s", [0.0] * 8, 1.0, finished=T0 + g + 0.5)
    store.close()
    app = MonitorApp(RunReader(run_dir))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_reads(pilot, app.screen, timeout=60)  # a loaded machine is slow, not wrong
        assert app.screen.query_one(widgets.GenerationsTable).row_count == 100
        # a spread of 40 of the 100 shapes is drawn: the first, the last and evenly between
        curves = sorted(app.screen.query_one(widgets.LossPlot).curves)
        assert len(curves) == 40 and curves[0] == 0 and curves[-1] == 99
        # Later refreshes compute no loss shape again (θ never changes once journaled). How long
        # the first paint and a refresh take is bench's (monitor_first_paint_s and
        # monitor_refresh_s, on this same 100 × 28 store, in a fresh interpreter): in-suite it
        # measured the machine's load (once 7.4 s, once 27.6 s; 0.7 s in bench).
        computed = []
        original = LossSettings.shifted_shape
        monkeypatch.setattr(
            LossSettings,
            "shifted_shape",
            lambda self, theta: computed.append(theta) or original(self, theta),
        )
        screen = app.screen
        screen._apply(screen._read())  # one whole refresh: the store's read and the redraw
        await pilot.pause()
        assert computed == []
        assert screen.query_one(widgets.GenerationsTable).row_count == 100


async def test_enter_opens_the_candidates_of_a_generation(running_run, frozen_clock):
    run_dir, _ = running_run
    store = Store.open(run_dir, readonly=True)
    app = MonitorApp(RunReader(run_dir, clock=frozen_clock))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_reads(pilot, app.screen)
        table = app.screen.query_one(widgets.GenerationsTable)
        table.move_cursor(row=1)
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, CandidatesScreen) and screen.generation == 1
        await wait_reads(pilot, screen)
        cands = screen.query_one(widgets.CandidatesTable)
        rows = store.candidates(1)
        assert cands.row_count == len(rows) == 8
        for i, c in enumerate(rows):
            assert cell_text(cands, i, "fitness") == format_fitness(c.fitness)
            assert cell_text(cands, i, "status") == c.status
        assert cell_text(cands, 2, "attempts") == "aborted → ok"
        await pilot.press("down", "down")
        plot = screen.query_one(widgets.CandidateLossPlot)
        expected = RunReader(run_dir).shape(rows[2].theta, screen.detail.loss)
        assert plot.curves["candidate"][1] == expected[1].tolist()
        assert "generation best" in plot.curves
        detail = shown_text(screen.query_one(widgets.CandidateDetail))
        assert f"{rows[2].theta[0]:.4f}" in detail and "aborted" in detail
        await pilot.press("escape")
        assert isinstance(app.screen, MonitorScreen)
    store.close()


async def test_keys_switch_plot_toggle_events_help_and_quit(running_run):
    run_dir, _ = running_run
    app = MonitorApp(RunReader(run_dir))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        await wait_reads(pilot, screen)
        loss = screen.query_one(widgets.LossPlot)
        assert loss.mode == "shape" and 0 in loss.curves
        await pilot.press("p")
        assert loss.mode == "theta" and sorted(loss.curves) == [f"θ{i}" for i in range(8)]
        # θ0 over generations is each generation's best candidate's θ0
        snap = screen.snapshot
        assert loss.curves["θ0"][1] == [g.best_theta[0] for g in snap.generations]
        await pilot.press("p")
        assert loss.mode == "shape"
        events = screen.query_one(widgets.EventsPanel)
        assert events.display
        await pilot.press("e")
        await pilot.pause()
        assert not events.display
        # the workers panel takes the freed width
        assert screen.query_one(widgets.WorkersPanel).size.width > 100
        await pilot.press("e")
        await pilot.pause()
        assert events.display
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert app.screen is screen
        await pilot.press("q")
    assert app.return_code == 0


async def test_usable_at_80x24(running_run, frozen_clock):
    run_dir, _ = running_run
    app = MonitorApp(RunReader(run_dir, clock=frozen_clock))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        await wait_reads(pilot, screen)
        table = screen.query_one(widgets.GenerationsTable)
        # every column of the generations table is visible without scrolling sideways
        assert table.virtual_size.width <= table.scrollable_content_region.width
        for widget in (
            table,
            screen.query_one(widgets.WorkersPanel),
            screen.query_one(widgets.EventsPanel),
        ):
            region = widget.region
            assert region.right <= 80 and region.bottom <= 23 and region.height >= 4
        accuracy, loss = screen.query_one(widgets.AccuracyPlot), screen.query_one(widgets.LossPlot)
        # one plot at a time, tall enough to read; `p` cycles accuracy -> shapes -> θ
        assert accuracy.display and not loss.display and accuracy.region.height >= 12
        await pilot.press("p")
        await pilot.pause()
        assert loss.display and not accuracy.display and loss.mode == "shape"
        await pilot.press("p")
        assert loss.mode == "theta"
        await pilot.press("p")
        await pilot.pause()
        assert accuracy.display and not loss.display and loss.mode == "shape"


async def test_picker_lists_runs_and_opens_one(tmp_path):
    root = tmp_path / "runs"
    write_synthetic_run(root / "first", generations=2, partial_last=False, name="first").close()
    second = write_synthetic_run(root / "second", generations=3, partial_last=False, name="second")
    second.set_state("finished")
    second.close()
    (root / "not-a-run").mkdir()
    runs = find_runs(root)
    assert [(r.name, r.state, r.generations) for r in runs] == [
        ("second", "finished", 3),
        ("first", "interrupted", 2),
    ] or [(r.name, r.state, r.generations) for r in runs] == [
        ("first", "interrupted", 2),
        ("second", "finished", 3),
    ]
    app = MonitorApp(runs=runs)
    async with app.run_test(size=(100, 30)) as pilot:
        picker = app.screen
        assert isinstance(picker, PickerScreen)
        table = picker.query_one("#runs")
        assert table.row_count == 2
        names = {cell_text(table, i, "name") for i in range(2)}
        assert names == {"first", "second"}
        target = cell_text(table, 0, "name")
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, MonitorScreen)
        await wait_reads(pilot, screen)
        assert screen.snapshot.name == target
        await pilot.press("escape")
        assert app.screen is picker
        assert screen.reader.store._conn is None  # the picker's reader is closed on the way back


async def test_picker_survives_a_run_deleted_after_listing(tmp_path):
    root = tmp_path / "runs"
    write_synthetic_run(root / "gone", generations=1, partial_last=False, name="gone").close()
    runs = find_runs(root)
    shutil.rmtree(root / "gone")
    app = MonitorApp(runs=runs)
    async with app.run_test(size=(100, 30)) as pilot:
        picker = app.screen
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is picker  # still on the picker, not a traceback
        messages = [n.message for n in app._notifications]
        assert str(no_run_error(root / "gone")) in messages, messages


def test_run_monitor_refuses_missing_or_foreign_run_dirs(tmp_path, capsys):
    assert run_monitor(str(tmp_path / "nope")) == 2
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    assert run_monitor(str(foreign)) == 2
    garbage = tmp_path / "garbage"
    garbage.mkdir()
    (garbage / "experiment.sqlite").write_text("not a database")
    assert run_monitor(str(garbage)) == 2
    assert run_monitor(None, runs_root=str(tmp_path / "empty-root")) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 4 and all(line.startswith("error: ") for line in lines)
    assert lines[0] == f"error: {no_run_error(tmp_path / 'nope')}"
    assert lines[1] == f"error: {no_run_error(foreign)}"
    assert "not a keras-taylorglo store" in lines[2]
    assert "no runs under" in lines[3]


def test_monitor_never_imports_tensorflow(search_run):
    script = textwrap.dedent(
        f"""
        import asyncio, json, sys
        sys.path.insert(0, {str(ROOT)!r})
        import keras_taylorglo_tui.app
        from keras_taylorglo_tui.reader import RunReader

        async def main():
            app = keras_taylorglo_tui.app.MonitorApp(RunReader({str(search_run)!r}))
            async with app.run_test(size=(100, 30)) as pilot:
                for _ in range(100):
                    if app.screen.reads:
                        break
                    await pilot.pause(0.05)
                await pilot.press("enter")
                await pilot.pause(0.3)
                return app.screen.reads, type(app.screen).__name__

        reads, screen = asyncio.run(main())
        print(json.dumps({{
            "reads": reads,
            "screen": screen,
            "tensorflow": "tensorflow" in sys.modules,
            "keras": "keras" in sys.modules,
        }}))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result == {
        "reads": result["reads"],
        "screen": "CandidatesScreen",
        "tensorflow": False,
        "keras": False,
    }
    assert result["reads"] >= 1


def test_screenshot_helper_writes_the_monitor_as_svg(search_run, tmp_path, capsys):
    from keras_taylorglo_tui.screenshot import main

    out = tmp_path / "docs" / "monitor.svg"
    assert main([str(search_run), str(out), "--size", "100x30"]) == 0
    svg = out.read_text()
    assert svg.startswith("<svg") and "sphere" in svg and "Generations" in svg
    assert main([str(tmp_path / "nope"), str(out)]) == 2
    assert main([str(search_run), str(out), "--size", "big"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert [line.split(":")[0] for line in err] == ["error", "error"]


async def test_a_run_without_results_yet(tmp_path):
    run_dir = tmp_path / "fresh"
    store = Store.create(run_dir, recipe_text="", meta={"name": "fresh", "population": 4})
    store.begin_generation(0, b"s", [[0.0] * 8] * 4)  # journaled, nothing evaluated
    app = MonitorApp(RunReader(run_dir))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        await wait_reads(pilot, screen)
        assert screen.problem == ""
        table = screen.query_one(widgets.GenerationsTable)
        assert table.row_count == 1 and cell_text(table, 0, "best") == "—"
        assert screen.query_one(widgets.AccuracyPlot).curves == {}
        assert screen.query_one(widgets.LossPlot).curves == {}
        header = shown_text(screen.query_one(widgets.RunHeader))
        assert "interrupted" in header and "0/?" in header and "best —" in header
        await pilot.press("enter")
        await wait_reads(pilot, app.screen)
        assert app.screen.query_one(widgets.CandidatesTable).row_count == 4
    store.close()


def _read_until(
    fd: int, buffer: bytearray, seconds: float, needle: bytes | None = None, start: int = 0
) -> None:
    """Read the terminal for ``seconds``, or until ``needle`` is in what it drew from ``start``."""
    import select

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                buffer.extend(os.read(fd, 65536))
            except OSError:
                return
            if needle is not None and needle in buffer[start:]:
                return


@pytest.mark.slow
def test_the_command_in_a_real_terminal(search_run):
    """`keras-taylorglo monitor RUN_DIR` on a pseudo-terminal: it draws the store's numbers,
    takes keys (switch plot, events, candidates, back) and quits with q and status 0."""
    import fcntl
    import pty
    import struct
    import termios

    from keras_taylorglo.store import Store

    with Store.open_existing(search_run) as store:
        best = f"{store.best().fitness:.4f}".encode()
    pid, fd = pty.fork()
    if pid == 0:  # the child: the real command line, as a user runs it
        os.environ["TERM"] = "xterm-256color"
        os.execv(
            sys.executable, [sys.executable, "-m", "keras_taylorglo", "monitor", str(search_run)]
        )
    try:
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
        screen = bytearray()
        # Each wait ends as soon as what it waits for is drawn (fixed pauses cost 5 s a run).
        _read_until(fd, screen, 60, b"Generations")
        _read_until(fd, screen, 30, best)
        assert b"Generations" in screen and best in screen
        for key in (b"p", b"e"):
            os.write(fd, key)
            _read_until(fd, screen, 0.3)
        opened = len(screen)
        os.write(fd, b"\r")
        _read_until(fd, screen, 30, b"andidates", start=opened)
        assert b"Candidates" in screen[opened:] or b"candidates" in screen[opened:]
        os.write(fd, b"\x1b")
        _read_until(fd, screen, 0.3)
        os.write(fd, b"q")
        deadline = time.monotonic() + 20
        status = None
        while status is None and time.monotonic() < deadline:
            _read_until(fd, screen, 0.2)
            done, code = os.waitpid(pid, os.WNOHANG)
            if done:
                status = os.waitstatus_to_exitcode(code)
        assert status == 0, bytes(screen[-2000:])
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        os.close(fd)


# ------------------------------------------------------------- a monitor opened on a fresh run


def visible_lines(widget) -> list[str]:
    """What the widget shows on screen, line by line (its rendered strips, not its data)."""
    return [widget.render_line(y).text for y in range(widget.size.height)]


def _finish_generation(writer: Store, g: int, fitnesses: list[float], sigma: float) -> None:
    for c, fitness in enumerate(fitnesses):
        if g == 0 and c == 0:
            aid = 1  # started before the monitor opened
        else:
            aid = writer.start_attempt(g, c, 0, c, "w0", "cpu:0")
        writer.finish_attempt(aid, Outcome("ok", fitness, fitness, 10, 1.0), None, "ok", fitness)
    writer.finish_generation(g, b"after", [0.0] * 8, sigma)


async def test_columns_show_whole_numbers_when_opened_before_the_first_generation(tmp_path):
    """Opened while generation 0 runs, the table's rows hold "—"; the numbers that arrive later
    (0.5933, 0.1404, 1.051) must show in full, not cut to the width the column first had."""
    run_dir = tmp_path / "live"
    writer = Store.create(
        run_dir,
        recipe_text="",
        meta={"name": "live", "population": 4, "generations": 3, "planned_evaluations": 12},
    )
    writer.begin_generation(0, b"before", [[0.1 * c] * 8 for c in range(4)])
    assert writer.start_attempt(0, 0, 0, 0, "w0", "cpu:0") == 1
    app = MonitorApp(RunReader(run_dir), interval=0.2)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = app.screen
        await wait_reads(pilot, screen)
        table = screen.query_one(widgets.GenerationsTable)
        assert cell_text(table, 0, "best") == "—"
        fitnesses = {0: [0.5933, 0.0, 0.0, 0.0], 1: [0.2, 0.61234, 0.3, 0.4]}
        sigmas = {0: 1.0512, 1: 12.3456}
        for g in (0, 1):
            if g:  # the monitor sees each generation begin, with "—" cells, before its results
                writer.begin_generation(g, b"before", [[0.2 * c] * 8 for c in range(4)])
                await wait_reads(pilot, screen, screen.reads + 2)
                assert cell_text(table, g, "best") == "—"
            _finish_generation(writer, g, fitnesses[g], sigmas[g])
            await wait_reads(pilot, screen, screen.reads + 2)
        gens = writer.generations()
        shown = "\n".join(visible_lines(table))
        for g in gens:
            for text in (
                format_fitness(g.best_fitness),
                format_fitness(g.mean_fitness),
                f"{g.sigma:.3f}",
            ):
                assert text in shown, (text, shown)
        assert "0.5933" in shown and "0.1483" in shown and "1.051" in shown and "12.346" in shown
        # the candidates screen widens its columns the same way
        await pilot.press("up", "enter")
        await wait_reads(pilot, app.screen)
        shown = "\n".join(visible_lines(app.screen.query_one(widgets.CandidatesTable)))
        assert "0.5933" in shown
    writer.close()


async def test_candidates_columns_widen_as_results_arrive(tmp_path):
    run_dir = tmp_path / "live"
    writer = Store.create(run_dir, recipe_text="", meta={"name": "live", "population": 3})
    writer.begin_generation(0, b"before", [[0.1 * c] * 8 for c in range(3)])
    app = MonitorApp(RunReader(run_dir), interval=0.2)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_reads(pilot, app.screen)
        await pilot.press("enter")
        screen = app.screen
        await wait_reads(pilot, screen)
        table = screen.query_one(widgets.CandidatesTable)
        aid = writer.start_attempt(0, 1, 0, 1, "w0", "cpu:0")
        writer.finish_attempt(aid, Outcome("aborted", 0.1, 0.1, 5, 1.0))
        aid = writer.start_attempt(0, 1, 1, 2, "w0", "cpu:0")
        writer.finish_attempt(aid, Outcome("ok", 0.8765, 0.8765, 10, 1.0), None, "ok", 0.8765)
        # Both new cells, whole, in one drawing of the table. (Read as two drawings, the second
        # once lacked the row in a full-suite run on a loaded machine: a 3-line table.)
        deadline = time.monotonic() + 30
        shown = ""
        while not ("0.8765" in shown and "aborted → ok" in shown):
            assert time.monotonic() < deadline, shown
            await pilot.pause(0.05)
            shown = "\n".join(visible_lines(table))
    writer.close()


def test_event_lines_name_the_candidate(running_run):
    run_dir, _ = running_run
    events = RunReader(run_dir).read().events
    lines = [event_line(e).plain for e in events]
    abort = next(line for line in lines if "aborted" in line)
    assert "✗ g1 c2 attempt 0: aborted" in abort
    started = next(line for line in lines if "ready on" in line)
    assert " + w0 ready on" in started  # a run-level event names no candidate
    assert format_about(4, None) == "g4"  # a generation-level event names its generation


NOISE = {
    "rate": 0.4,
    "kind": "symmetric",
    "validation": True,
    "realised_train": 0.397,
    "realised_validation": 0.41,
}


def test_label_noise_is_described_in_one_line():
    assert format_label_noise(NOISE) == "symmetric 0.40 (realised 0.397 train, 0.410 validation)"
    clean = {**NOISE, "kind": "pairflip", "validation": False, "realised_validation": None}
    assert format_label_noise(clean) == "pairflip 0.40 (realised 0.397 train, clean validation)"
    assert format_label_noise({"rate": 0.2, "kind": "symmetric"}) == "symmetric 0.20"
    assert format_label_noise(None) == format_label_noise({}) == ""


async def test_header_shows_label_noise_only_when_the_run_has_some(tmp_path):
    for noise in (NOISE, None):
        run_dir = tmp_path / ("noisy" if noise else "clean")
        store = Store.create(run_dir, recipe_text="", meta={"name": "n", "population": 4})
        if noise:
            store.update_meta(label_noise=noise)
        store.begin_generation(0, b"s", [[0.0] * 8] * 4)
        assert RunReader(run_dir).read().label_noise == noise
        app = MonitorApp(RunReader(run_dir))
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_reads(pilot, app.screen)
            header = app.screen.query_one(widgets.RunHeader)
            text = shown_text(header)
            if noise:
                assert "label noise: symmetric 0.40 (realised 0.397 train, 0.410 validation)" in (
                    text
                )
                assert header.size.height == 3
            else:
                assert "label noise" not in text and header.size.height == 2
        store.close()
