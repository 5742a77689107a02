"""SVG snapshots of what a person sees (pytest-textual-snapshot).

The store is written with fixed times and the app's clock is frozen, so the pictures are stable;
the run directory is given relative to it (the header names it).
Update them after an intended change with `pytest tests/tui --snapshot-update` and look at the
diff of the SVGs before committing.
"""

from __future__ import annotations

import time
from pathlib import Path

from conftest import T0, add_finalist_stage, write_synthetic_run

from keras_taylorglo.store import RunLock
from keras_taylorglo_tui.app import MonitorApp
from keras_taylorglo_tui.reader import RunReader


async def _loaded(pilot) -> None:
    deadline = time.monotonic() + 30  # bounds a failing wait only: a slow machine is not wrong
    while pilot.app.screen.reads < 1:
        assert time.monotonic() < deadline, "the screen did not refresh"
        await pilot.pause(0.02)
    await pilot.pause()


def _app(run_dir: Path, frozen_clock, monkeypatch) -> MonitorApp:
    # The header names the run directory as it was given: relative, so the picture is stable.
    monkeypatch.chdir(run_dir.parent)
    # a long interval: nothing changes between the first read and the picture
    return MonitorApp(RunReader(Path(run_dir.name), clock=frozen_clock), interval=60)


def test_main_screen(snap_compare, running_run, frozen_clock, monkeypatch):
    app = _app(running_run[0], frozen_clock, monkeypatch)
    assert snap_compare(app, terminal_size=(120, 40), run_before=_loaded)


def test_main_screen_80x24(snap_compare, running_run, frozen_clock, monkeypatch):
    app = _app(running_run[0], frozen_clock, monkeypatch)
    assert snap_compare(app, terminal_size=(80, 24), run_before=_loaded)


def test_theta_plot(snap_compare, running_run, frozen_clock, monkeypatch):
    async def switched(pilot) -> None:
        await _loaded(pilot)
        await pilot.press("p")
        await pilot.pause()

    app = _app(running_run[0], frozen_clock, monkeypatch)
    assert snap_compare(app, terminal_size=(120, 40), run_before=switched)


def test_main_screen_with_finalists_chosen(snap_compare, tmp_path, frozen_clock, monkeypatch):
    store = write_synthetic_run(tmp_path / "digits", partial_last=False)
    add_finalist_stage(store, chosen=True)
    store.close()
    app = _app(tmp_path / "digits", frozen_clock, monkeypatch)
    assert snap_compare(app, terminal_size=(120, 40), run_before=_loaded)


def test_finalists_running_80x24(snap_compare, tmp_path, monkeypatch):
    store = write_synthetic_run(tmp_path / "digits", partial_last=False)
    add_finalist_stage(store, chosen=False)
    with RunLock(tmp_path / "digits"):  # a live search holds it: the run is running
        app = _app(tmp_path / "digits", lambda: T0 + 450.0, monkeypatch)
        assert snap_compare(app, terminal_size=(80, 24), run_before=_loaded)
    store.close()


def test_candidates_screen(snap_compare, running_run, frozen_clock, monkeypatch):
    async def open_generation_2(pilot) -> None:
        await _loaded(pilot)
        await pilot.press("up", "up", "up", "up", "enter")
        await _loaded(pilot)
        await pilot.press("down", "down", "down", "down", "down")
        await pilot.pause()

    app = _app(running_run[0], frozen_clock, monkeypatch)
    assert snap_compare(app, terminal_size=(120, 40), run_before=open_generation_2)
