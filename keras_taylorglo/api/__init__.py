"""Search, resume and analyze from a script or a notebook, on your own model and arrays.

The same engine, store and workers as ``keras-taylorglo search``: a :class:`Search` turns its
arguments into a recipe (keyword sections override a base recipe through exactly the recipe's
validation), writes what the workers need into ``RUN_DIR/inputs/`` (the model function or model
serialised with cloudpickle or as ``model.keras``, the arrays as ``.npy`` files that the workers
memory-map, and a small generated module ``taylorglo_inputs.py`` that the recipe names as
``model.name`` and ``data.dataset``), and writes the resolved recipe as ``RUN_DIR/recipe.toml``.
A run started here is an ordinary run directory: ``keras-taylorglo status/monitor/resume/
analyze/plot/export RUN_DIR`` work on it, and :func:`resume` and :func:`analyze` work on runs
started from the command line.

Example:
    >>> import keras_taylorglo as ktg
    >>> search = ktg.Search(model=build_model, data=(x_train, y_train),
    ...                     test_data=(x_test, y_test), run_dir="runs/mine",
    ...                     evolution={"population": 8, "generations": 5})  # doctest: +SKIP
    >>> result = search.run()  # doctest: +SKIP
    >>> loss = result.best_loss()  # doctest: +SKIP
    >>> report = ktg.analyze("runs/mine", runs=10)  # doctest: +SKIP
"""

from __future__ import annotations

from .results import BestCandidate, SearchResult
from .runs import analyze, resume
from .search import SECTIONS, Search

__all__ = ["SECTIONS", "BestCandidate", "Search", "SearchResult", "analyze", "resume"]
