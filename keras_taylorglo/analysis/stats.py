"""Statistics of an analysis: summaries and SciPy's t-tests (one-tailed Welch for the report)."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import TaylorGLOError

__all__ = ["TEST_NAME", "compare", "load_result_set", "summarize", "welch_p_value"]

TEST_NAME = "welch-one-tailed"
"""The ``"test"`` value of the report: SciPy's Welch t-test, one-tailed (TaylorGLO greater)."""


def _clean(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def summarize(accuracies: Sequence[float]) -> dict[str, Any]:
    """Mean and sample standard deviation of a result set.

    Args:
        accuracies: The results.

    Returns:
        ``{"accuracies": [...], "mean": m, "std": s}``; ``std`` uses ``ddof = 1`` (``None`` for
        fewer than two values), ``mean`` is ``None`` for none.

    Example:
        >>> summarize([0.9, 0.92])["std"]  # doctest: +ELLIPSIS
        0.0141...
    """
    import numpy as np

    values = [float(a) for a in accuracies]
    return {
        "accuracies": values,
        "mean": _clean(np.mean(values)) if values else None,
        "std": _clean(np.std(values, ddof=1)) if len(values) > 1 else None,
    }


def welch_p_value(a: Sequence[float], b: Sequence[float]) -> float | None:
    """One-tailed Welch t-test p-value that ``a``'s mean is greater than ``b``'s.

    Args:
        a: TaylorGLO's results.
        b: The baseline's results.

    Returns:
        ``scipy.stats.ttest_ind(a, b, equal_var=False, alternative="greater").pvalue``, or
        ``None`` when undefined (fewer than two results in a set, or no variance in either).
    """
    if len(a) < 2 or len(b) < 2:
        return None
    import warnings

    from scipy import stats

    with warnings.catch_warnings():
        # identical values: SciPy warns and returns NaN, which is reported as None
        warnings.simplefilter("ignore", RuntimeWarning)
        return _clean(stats.ttest_ind(a, b, equal_var=False, alternative="greater").pvalue)


def compare(a: Sequence[float], b: Sequence[float]) -> dict[str, Any]:
    """Student's and Welch's t-tests between two result sets (the ``ttest`` command).

    Args:
        a: The first result set (the one-tailed tests ask whether its mean is greater).
        b: The second result set.

    Returns:
        ``{"a": summary, "b": summary, "difference": mean(a) - mean(b), "student": {"t",
        "p_two_tailed", "p_one_tailed"}, "welch": {...}}``; summaries as :func:`summarize`.

    Raises:
        TaylorGLOError: If a set has fewer than two values.
    """
    for name, values in (("A", a), ("B", b)):
        if len(values) < 2:
            raise TaylorGLOError(
                f"result set {name} has {len(values)} value(s); a t-test needs at least 2"
            )
    from scipy import stats

    result: dict[str, Any] = {"a": summarize(a), "b": summarize(b)}
    result["difference"] = result["a"]["mean"] - result["b"]["mean"]
    for name, equal_var in (("student", True), ("welch", False)):
        two = stats.ttest_ind(a, b, equal_var=equal_var)
        one = stats.ttest_ind(a, b, equal_var=equal_var, alternative="greater")
        result[name] = {
            "t": _clean(two.statistic),
            "p_two_tailed": _clean(two.pvalue),
            "p_one_tailed": _clean(one.pvalue),
        }
    return result


def load_result_set(path: str | os.PathLike[str]) -> list[float]:
    """Read a result set for ``ttest``.

    A file is one of: a JSON list of numbers; an object with an ``"accuracies"`` list; or an
    analysis ``report.json`` (its TaylorGLO accuracies are used; ``report.json#baseline`` picks
    the cross-entropy ones, ``report.json#taylorglo`` says the default explicitly).

    Args:
        path: The JSON file, optionally followed by ``#baseline`` or ``#taylorglo``.

    Returns:
        The values.

    Raises:
        TaylorGLOError: The file is missing, is not JSON, or has none of those shapes.
    """
    text = os.fspath(path)
    part = None
    name, sep, suffix = text.rpartition("#")
    if sep and suffix in ("baseline", "taylorglo"):
        text, part = name, suffix
    path = Path(text)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise TaylorGLOError(f"{path}: no such file") from None
    except OSError as exc:
        raise TaylorGLOError(f"{path}: cannot read it ({exc.strerror})") from None
    except ValueError as exc:
        raise TaylorGLOError(f"{path}: not valid JSON ({exc})") from None
    expected = (
        'expected a JSON list of numbers, an object with an "accuracies" list, or an '
        "analysis report.json"
    )
    if part is not None:
        block = data.get(part) if isinstance(data, dict) else None
        if not isinstance(block, dict) or "accuracies" not in block:
            raise TaylorGLOError(
                f"{path}: #{part} needs an analysis report.json with a {part!r} section"
            )
        data = block["accuracies"]
    elif isinstance(data, dict):
        if isinstance(data.get("taylorglo"), dict) and "accuracies" in data["taylorglo"]:
            data = data["taylorglo"]["accuracies"]
        elif "accuracies" in data:
            data = data["accuracies"]
        else:
            keys = ", ".join(sorted(map(str, data))[:6]) or "none"
            raise TaylorGLOError(f"{path}: no accuracies in it (keys: {keys}); {expected}")
    if not isinstance(data, list):
        raise TaylorGLOError(f"{path}: got a JSON {type(data).__name__}; {expected}")
    values: list[float] = []
    for i, v in enumerate(data):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise TaylorGLOError(f"{path}: value {i} is {v!r}, not a finite number; {expected}")
        values.append(float(v))
    return values
