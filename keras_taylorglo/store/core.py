"""The experiment store, assembled from its rooms: the journal, the analysis runs, the queries.

Example:
    >>> import tempfile
    >>> run_dir = tempfile.mkdtemp()
    >>> store = Store.create(run_dir, recipe_text="[experiment]", meta={"population": 2})
    >>> store.begin_generation(0, b"state", [[0.0, 1.0], [1.0, 0.0]])
    >>> from keras_taylorglo.outcomes import Status
    >>> store.set_candidate_result(0, 0, Status.OK, 0.5)
    >>> store.best().fitness
    0.5
    >>> store.close()
"""

from __future__ import annotations

from .analysis_runs import AnalysisRuns
from .journal import Journal
from .views import Views

__all__ = ["Store"]


class Store(Journal, AnalysisRuns, Views):
    """The SQLite experiment store of one run directory.

    Use :meth:`create` (new run) or :meth:`open` (existing run) rather than the constructor.
    Writer methods are each one transaction and are used only by the engine (and the analysis);
    reader methods return the frozen records of :mod:`.frozen` (no NaN: missing numbers are
    ``None``; each record also reads as a mapping and has ``as_dict()``), and
    :meth:`status_json` plain dicts.
    A store object may be shared between threads.

    Args:
        path: the database file.
        readonly: open it read-only (``file:...?mode=ro``).

    Raises:
        StoreError: if the file is missing or is not a keras-taylorglo store.
    """
