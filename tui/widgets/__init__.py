"""The monitor's widgets: each shows one part of a monitor snapshot.

Widgets take plain records (:mod:`keras_taylorglo_tui.view_rows`: a
:class:`~keras_taylorglo_tui.view_rows.MonitorSnapshot` and its parts) through a ``show(...)``
method and never read the store themselves; the screens decide when to read.
"""

from keras_taylorglo_tui.widgets.candidates import CandidateDetail, CandidatesTable
from keras_taylorglo_tui.widgets.events import EventsPanel
from keras_taylorglo_tui.widgets.finalists import FinalistsPanel
from keras_taylorglo_tui.widgets.generations import GenerationsTable
from keras_taylorglo_tui.widgets.header import RunHeader
from keras_taylorglo_tui.widgets.plots import AccuracyPlot, CandidateLossPlot, LossPlot
from keras_taylorglo_tui.widgets.workers import WorkersPanel

__all__ = [
    "AccuracyPlot",
    "CandidateDetail",
    "CandidateLossPlot",
    "CandidatesTable",
    "EventsPanel",
    "FinalistsPanel",
    "GenerationsTable",
    "LossPlot",
    "RunHeader",
    "WorkersPanel",
]
