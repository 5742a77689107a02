"""The monitor's widgets: each shows one part of a :class:`~tui.view_rows.MonitorSnapshot`.

Widgets take plain records (:mod:`tui.view_rows`) through a ``show(...)`` method and never read the
store themselves; the screens decide when to read.
"""

from tui.widgets.candidates import CandidateDetail, CandidatesTable
from tui.widgets.events import EventsPanel
from tui.widgets.generations import GenerationsTable
from tui.widgets.header import RunHeader
from tui.widgets.plots import AccuracyPlot, CandidateLossPlot, LossPlot
from tui.widgets.workers import WorkersPanel

__all__ = [
    "AccuracyPlot",
    "CandidateDetail",
    "CandidateLossPlot",
    "CandidatesTable",
    "EventsPanel",
    "GenerationsTable",
    "LossPlot",
    "RunHeader",
    "WorkersPanel",
]
