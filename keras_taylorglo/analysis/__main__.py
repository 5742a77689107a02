"""``python -m keras_taylorglo.analysis``: only the analysis commands."""

import sys

from .commands import main

sys.exit(main())
