"""Custom fitness functions for the search tests (``evaluation.fitness = "fitness_fns:NAME"``).

They are deterministic functions of (θ, seed) so that an interrupted-and-resumed search can be
compared exactly with one that never stopped. Behaviour is steered with environment variables so
that the worker processes (which import this module by path) see the same settings.
"""

from __future__ import annotations

import json
import math
import os
import signal
import time
from pathlib import Path

TARGET = [0.5, -1.0, 2.0, 0.0, 1.0, -0.5, 0.25, 1.5]


def _log(theta: list[float], seed: int, value: float) -> None:
    path = os.environ.get("TG_FITNESS_LOG")
    if path:
        with open(path, "a") as fh:
            fh.write(json.dumps({"seed": seed, "theta": theta, "value": value}) + "\n")


def _sleep() -> None:
    delay = float(os.environ.get("TG_FITNESS_SLEEP", "0"))
    if delay:
        time.sleep(delay)


def sphere(theta: list[float], seed: int) -> float:
    """Higher is better; maximum 1 at TARGET. Seed adds a tiny deterministic jitter."""
    _sleep()
    d2 = sum((t - c) ** 2 for t, c in zip(theta, TARGET, strict=False))
    value = 1.0 / (1.0 + d2) + 1e-6 * (seed % 1000)
    _log(theta, seed, value)
    return value


def rules(theta: list[float], seed: int) -> float:
    """Raises when θ0 > 1 (a failed attempt), NaN when θ1 > 1.5 (divergence), else sphere."""
    _sleep()
    if theta[1] > 1.5:
        _log(theta, seed, float("nan"))
        return float("nan")
    if theta[0] > 1.0:
        _log(theta, seed, -1.0)
        raise RuntimeError(f"candidate failed on purpose (theta0={theta[0]:.3f})")
    return sphere(theta, seed)


def die_once(theta: list[float], seed: int) -> float:
    """SIGKILLs its own worker the first time it runs (a marker file remembers)."""
    marker = Path(os.environ["TG_DIE_MARKER"])
    if not marker.exists():
        marker.write_text(str(seed))
        os.kill(os.getpid(), signal.SIGKILL)
    return sphere(theta, seed)


def slow_once(theta: list[float], seed: int) -> float:
    """Hangs (past any timeout) the first time it runs."""
    marker = Path(os.environ["TG_SLOW_MARKER"])
    if not marker.exists():
        marker.write_text(str(seed))
        time.sleep(60)
    return sphere(theta, seed)


def varied(theta: list[float], seed: int) -> float:
    """Sleeps 20–80 ms depending on the seed (for utilisation benchmarks)."""
    time.sleep(0.02 + 0.06 * ((seed % 97) / 96))
    return sphere(theta, seed)


def constant_nan(theta: list[float], seed: int) -> float:
    """Always diverges."""
    return math.nan


def noisy(theta: list[float], seed: int) -> float:
    """The sphere plus a seed-dependent offset in [-0.05, 0.05]: what one seed's luck adds."""
    _sleep()
    value = sphere(theta, 0) + 0.05 * ((seed % 7) - 3) / 3
    return value
