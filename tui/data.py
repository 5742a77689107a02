"""Old home of the monitor's data layer, kept for two importers outside ``tui/``.

The monitor reads the store in :mod:`tui.reader`, its view records are in :mod:`tui.records` and
its formatting is in :mod:`tui.format`. ``keras_taylorglo/cli.py`` (``format_label_noise``) and
``bench/measure.py`` (``RunReader``) still import from here; once they import the new modules,
delete this file.
"""

from __future__ import annotations

from tui.format import format_label_noise
from tui.reader import RunReader

__all__ = ["RunReader", "format_label_noise"]
