"""``python -m keras_taylorglo.analysis``: only the analysis commands."""

import sys

from .commands import _main

sys.exit(_main())
