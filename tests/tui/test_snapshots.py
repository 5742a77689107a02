"""SVG snapshots of what a person sees (pytest-textual-snapshot).

The store is written with fixed times and the app's clock is frozen, so the pictures are stable.
Update them after an intended change with `pytest tests/tui --snapshot-update` and look at the
diff of the SVGs before committing.
"""

from __future__ import annotations

import time

from tui.app import MonitorApp
from tui.reader import RunReader


async def _loaded(pilot) -> None:
    deadline = time.monotonic() + 30  # bounds a failing wait only: a slow machine is not wrong
    while pilot.app.screen.reads < 1:
        assert time.monotonic() < deadline, "the screen did not refresh"
        await pilot.pause(0.02)
    await pilot.pause()


def _app(running_run, frozen_clock) -> MonitorApp:
    run_dir, _ = running_run
    # a long interval: nothing changes between the first read and the picture
    return MonitorApp(RunReader(run_dir, clock=frozen_clock), interval=60)


def test_main_screen(snap_compare, running_run, frozen_clock):
    assert snap_compare(
        _app(running_run, frozen_clock), terminal_size=(120, 40), run_before=_loaded
    )


def test_main_screen_80x24(snap_compare, running_run, frozen_clock):
    assert snap_compare(_app(running_run, frozen_clock), terminal_size=(80, 24), run_before=_loaded)


def test_theta_plot(snap_compare, running_run, frozen_clock):
    async def switched(pilot) -> None:
        await _loaded(pilot)
        await pilot.press("p")
        await pilot.pause()

    assert snap_compare(
        _app(running_run, frozen_clock), terminal_size=(120, 40), run_before=switched
    )


def test_candidates_screen(snap_compare, running_run, frozen_clock):
    async def open_generation_2(pilot) -> None:
        await _loaded(pilot)
        await pilot.press("up", "up", "up", "up", "enter")
        await _loaded(pilot)
        await pilot.press("down", "down", "down", "down", "down")
        await pilot.pause()

    assert snap_compare(
        _app(running_run, frozen_clock), terminal_size=(120, 40), run_before=open_generation_2
    )
