"""A cheap stand-in for training in the analysis tests (fitness "analysis_fns:noisy").

The analysis calls it with the analysed θ for TaylorGLO and with the recipe's initial θ (zeros)
for the baseline, so both get real, different, seed-dependent "accuracies" without TensorFlow.
``TG_FITNESS_SLEEP`` (seconds) slows it down so that a test can kill an analysis midway;
``TG_FAIL_BASELINE_SEED`` makes the baseline training with that seed raise every time (each
try appends a line to the file ``TG_FAIL_LOG``); ``TG_DIVERGE_BASELINE_SEED`` makes it return NaN,
as a training whose loss became NaN does (each call appends a line to ``TG_DIVERGE_LOG`` if set).
"""

from __future__ import annotations

import os
import time

import numpy as np

TARGET = [0.5, -1.0, 2.0, 0.0, 1.0, -0.5, 0.25, 1.5]


def noisy(theta: list[float], seed: int) -> float:
    """0.8–0.93: closer to TARGET is better; the seed adds up to 0.03 of noise."""
    delay = float(os.environ.get("TG_FITNESS_SLEEP", "0"))
    if delay:
        time.sleep(delay)
    if not any(theta) and str(seed) == os.environ.get("TG_FAIL_BASELINE_SEED"):
        with open(os.environ["TG_FAIL_LOG"], "a") as log:  # one line per attempt
            log.write(f"{seed}\n")
        raise RuntimeError("this baseline training always fails (TG_FAIL_BASELINE_SEED)")
    if not any(theta) and str(seed) == os.environ.get("TG_DIVERGE_BASELINE_SEED"):
        if os.environ.get("TG_DIVERGE_LOG"):
            with open(os.environ["TG_DIVERGE_LOG"], "a") as log:
                log.write(f"{seed}\n")
        return float("nan")
    d2 = sum((t - c) ** 2 for t, c in zip(theta, TARGET, strict=False))
    return 0.8 + 0.1 / (1.0 + d2) + 0.03 * float(np.random.default_rng(seed).random())
