"""Shared test isolation: modules that a test imported from its temporary directory go with it.

Many tests write `my_data.py` or `my_models.py` next to a recipe and let the package import
them in-process; a later test's module of the same name in another directory would otherwise
get the cached one.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import pytest

_TEMP = Path(tempfile.gettempdir()).resolve()


@pytest.fixture(autouse=True)
def _forget_temporary_modules():
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        path = getattr(sys.modules.get(name), "__file__", None)
        if path and _TEMP in Path(path).resolve().parents:
            del sys.modules[name]
