"""The monitor's view of a run (issue 22 §6 and issue 23): the finalist stage, the chosen loss
beside the best single evaluation, a worker busy with a finalist training, the run directory in
the header, no ETA before it means something, and columns that fit at 120×40. A run without
finalists shows no trace of them.

The stores are written through the store's writer API with fixed times (``conftest``).
"""

from __future__ import annotations

import pytest
from conftest import GEN_SECONDS, T0, add_finalist_stage, write_synthetic_run
from rich.console import Console

from keras_taylorglo.outcomes import Outcome
from keras_taylorglo.store import RunLock, Store
from keras_taylorglo_tui import widgets
from keras_taylorglo_tui.app import MonitorApp
from keras_taylorglo_tui.reader import RunReader
from keras_taylorglo_tui.widgets.candidates import WRAP_MARK, theta_text


async def loaded(pilot) -> None:
    while pilot.app.screen.reads < 1:
        await pilot.pause(0.02)
    await pilot.pause()


def text_of(widget) -> str:
    console = Console(width=200, record=True)
    console.print(widget.render())
    return "\n".join(line.rstrip() for line in console.export_text().splitlines())


@pytest.fixture
def chosen_run(tmp_path):
    store = write_synthetic_run(tmp_path / "digits", partial_last=False)
    add_finalist_stage(store, chosen=True)
    store.close()
    return tmp_path / "digits"


def test_the_reader_reads_the_stage_and_the_chosen_loss(chosen_run):
    snap = RunReader(chosen_run).read()
    with Store.open(chosen_run, readonly=True) as store:
        chosen, best = store.chosen(), store.best()
    assert [(f.finalist, f.origin, f.done, f.planned, f.chosen) for f in snap.finalists] == [
        (0, f"g{best.generation} c{best.candidate}", 3, 3, False),
        (1, snap.finalists[1].origin, 3, 3, True),
        (2, "CMA-ES mean", 3, 3, False),
    ]
    assert snap.finalists[2].search_fitness is None
    assert snap.finalists[1].fitness == pytest.approx((0.73 + 0.72 + 0.74) / 3)
    assert snap.chosen == chosen and snap.chosen.finalist == 1
    assert snap.best == best  # the best single evaluation stays beside it
    assert (snap.finalists_done, snap.finalists_planned) == (9, 9)


def test_a_worker_busy_with_a_finalist_training_says_so(tmp_path):
    store = write_synthetic_run(tmp_path / "digits", partial_last=False)
    add_finalist_stage(store, chosen=False)
    with RunLock(tmp_path / "digits"):
        snap = RunReader(tmp_path / "digits", clock=lambda: T0 + 450.0).read()
    store.close()
    busy = [w for w in snap.workers if w.state == "busy"]
    assert [(w.worker, w.task) for w in busy] == [("w0", "f2 s2")]  # finalist 2, seed slot 2
    assert snap.chosen is None and snap.finalists[2].status == "running"
    assert (snap.finalists_done, snap.finalists_planned) == (8, 9)
    # The ETA counts the finalist trainings left, at the pace of the generations.
    assert snap.eta == pytest.approx(1 * (GEN_SECONDS - 5) / 8)


def test_no_eta_before_a_generation_has_finished(tmp_path):
    store = write_synthetic_run(tmp_path / "digits", generations=0, partial_last=True)
    with RunLock(tmp_path / "digits"):  # running, 4 of 8 evaluated, none finished
        snap = RunReader(tmp_path / "digits", clock=lambda: T0 + 60.0).read()
    store.close()
    assert snap.state == "running" and snap.evaluations == 4 and snap.eta is None


async def test_the_panel_and_the_header_show_the_chosen_loss(chosen_run):
    app = MonitorApp(RunReader(chosen_run), interval=60)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        panel = app.screen.query_one(widgets.FinalistsPanel)
        assert panel.display and panel.row_count == 3 and panel.border_subtitle == "chosen ✓"
        header = text_of(app.screen.query_one(widgets.RunHeader))
        lines = header.splitlines()
        assert lines[0].startswith(f"digits  {chosen_run}  ")
        assert "finalists 9/9" in lines[1]
        assert lines[2].startswith("chosen 0.7300 (finalist 1: g")
        assert "best single evaluation 0.7574" in lines[2]


async def test_a_run_without_finalists_shows_none(running_run, frozen_clock):
    run_dir, _ = running_run
    snap = RunReader(run_dir, clock=frozen_clock).read()
    assert (snap.finalists, snap.chosen, snap.finalists_planned) == ([], None, 0)
    app = MonitorApp(RunReader(run_dir, clock=frozen_clock), interval=60)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        assert not app.screen.query_one(widgets.FinalistsPanel).display
        header = text_of(app.screen.query_one(widgets.RunHeader)).splitlines()
        assert len(header) == 2 and "finalist" not in header[1]
        assert header[1].endswith("best 0.7574 (g2 c3)")


def test_theta_wraps_between_values_with_a_mark():
    theta = (11.9039, -4.024, 6.9796, 8.5834, -1.6677, 11.6064, 12.6684, -3.4674)
    one = theta_text(theta)
    for width in (12, 20, 31, 46):
        lines = theta_text(theta, width=width).split("\n")
        assert all(len(line) <= width for line in lines)
        assert all(line.endswith(f" {WRAP_MARK}") for line in lines[:-1])
        assert " ".join(line.removesuffix(f" {WRAP_MARK}") for line in lines) == one
    assert theta_text(theta, width=len(one)) == one


async def test_at_120x40_theta_and_the_workers_last_column_fit(running_run, frozen_clock):
    run_dir, store = running_run
    store.update_worker("w1", last_status="diverged", last_fitness=0.0)
    aid = store.start_attempt(6, 7, 0, 7, "w0", "cpu:0", started=T0 + 399)
    store.finish_attempt(aid, Outcome("aborted", 0.1, 0.1, 40, 2.0), ended=T0 + 399.5)
    app = MonitorApp(RunReader(run_dir, clock=frozen_clock), interval=60)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        workers = app.screen.query_one(widgets.WorkersPanel)
        used = sum(c.get_render_width(workers) for c in workers.columns.values())
        assert used <= workers.scrollable_content_region.width
        await pilot.press("up", "up", "up", "up", "enter")
        await loaded(pilot)
        await pilot.pause(0.1)
        table = app.screen.query_one(widgets.CandidatesTable)
        theta = table.columns[next(k for k in table.columns if k.value == "theta")]
        used = sum(c.get_render_width(table) for c in table.columns.values())
        assert used <= table.scrollable_content_region.width, (used, theta.content_width)
        cells = [str(table.get_row_at(i)[-1]) for i in range(table.row_count)]
        assert any(WRAP_MARK in cell for cell in cells)  # 8 values do not fit on one line
