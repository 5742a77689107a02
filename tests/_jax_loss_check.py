"""Run by test_losses.py with KERAS_BACKEND=jax: TaylorGLOLoss values on fixed inputs as JSON.

The inputs come from tests/test_losses.py's ``jax_cases`` via argv (a JSON file), so both
backends see exactly the same numbers. Prints one JSON object on the last line of stdout.
"""

import json
import sys

import keras
import numpy as np

from keras_taylorglo import TaylorGLOLoss

assert keras.backend.backend() == "jax", keras.backend.backend()
cases = json.load(open(sys.argv[1]))
out = {"backend": keras.backend.backend(), "tensorflow_imported": "tensorflow" in sys.modules}
for name, case in cases.items():
    loss = TaylorGLOLoss(reduction=None, **case["config"])
    if case.get("progress") is not None:
        loss.set_progress(case["progress"])
    values = loss(np.asarray(case["y_true"]), np.asarray(case["y_pred"], dtype="float32"))
    out[name] = np.asarray(values).tolist()
print(json.dumps(out))
