"""The monitor's widgets: each shows one part of a monitor snapshot.

Widgets take plain records (:mod:`keras_taylorglo_tui.records`: a
:class:`~keras_taylorglo_tui.records.MonitorSnapshot` and its parts) through a ``show(...)``
method and never read the store themselves; the screens decide when to read.
"""

from .candidates import CandidateDetail, CandidatesTable
from .events import EventsPanel
from .generations import GenerationsTable
from .header import RunHeader
from .plots import AccuracyPlot, CandidateLossPlot, LossPlot
from .workers import WorkersPanel

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
