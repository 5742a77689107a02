"""Where a run is: the one check, and the one message, for "there is no run here".

Every command that takes a run directory (``status``, ``monitor``, ``export``, ``plot``,
``resume``, ``analyze``, ``study``), the Python API (``ktg.resume``, ``ktg.analyze``,
``SearchResult.from_run_dir``) and the store itself say it with :func:`no_run_error`, so a
missing directory, a file such as a recipe, and a directory without a store read alike.

This module imports no TensorFlow.

Example:
    >>> str(no_run_error("runs/nope"))
    'runs/nope: no keras-taylorglo run here (it does not exist; a search writes one, e.g. runs/digits)'
"""  # noqa: E501

from __future__ import annotations

import os
from pathlib import Path

from ..errors import StoreError
from .schema import DB_NAME

__all__ = ["no_run_error", "require_run_dir"]


def no_run_error(run_dir: str | os.PathLike[str]) -> StoreError:
    """The one error for a path that holds no keras-taylorglo run.

    Args:
        run_dir: The path as the user gave it (shown as it is).

    Returns:
        The :class:`~keras_taylorglo.errors.StoreError` to raise: ``RUN_DIR: no keras-taylorglo
        run here (WHY; a search writes one, e.g. runs/digits)``, where WHY says what the path is
        instead (it does not exist, it is a file, or a directory without ``experiment.sqlite``).
    """
    path = Path(run_dir)
    if not path.exists():
        why = "it does not exist"
    elif not path.is_dir():
        why = "it is a file, not a run directory"
    else:
        why = f"no {DB_NAME} in it"
    return StoreError(
        f"{os.fspath(run_dir)}: no keras-taylorglo run here ({why}; a search writes one, "
        "e.g. runs/digits)"
    )


def require_run_dir(run_dir: str | os.PathLike[str]) -> Path:
    """Checks that ``run_dir`` holds a run's store, before anything else reads or starts.

    Args:
        run_dir: The run directory.

    Returns:
        ``run_dir`` as a :class:`~pathlib.Path`.

    Raises:
        StoreError: :func:`no_run_error` when it holds no store.
    """
    path = Path(run_dir)
    if not (path / DB_NAME).is_file():
        raise no_run_error(run_dir)
    return path
