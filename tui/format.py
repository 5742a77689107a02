"""The monitor's formatting: durations, fitness values and a run's label noise as short text.

Pure functions of plain values (no store, no widgets), shared by the widgets, the screens and
``keras-taylorglo status``.

Example:
    >>> format_duration(3725), format_fitness(0.93456)
    ('1:02:05', '0.9346')
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["format_about", "format_duration", "format_fitness", "format_label_noise"]


def format_about(generation: int | None, candidate: int | None) -> str:
    """Names what an event is about, as the other panels do.

    Args:
        generation: the generation it is about, if any.
        candidate: the candidate it is about, if any.

    Returns:
        ``"g3 c5"`` for a candidate, ``"g3"`` for a generation, ``""`` for the whole run.

    Example:
        >>> format_about(3, 5), format_about(3, None), format_about(None, None)
        ('g3 c5', 'g3', '')
    """
    if generation is None:
        return ""
    return f"g{generation}" + ("" if candidate is None else f" c{candidate}")


def format_duration(seconds: float | None) -> str:
    """Formats a duration as ``H:MM:SS`` (``D d H:MM:SS`` past a day), or ``"—"`` if unknown.

    Args:
        seconds: the duration; ``None``, NaN or negative values are unknown.

    Returns:
        The text.

    Example:
        >>> format_duration(3725)
        '1:02:05'
        >>> format_duration(None)
        '—'
    """
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "—"
    total = int(round(seconds))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{days}d {text}" if days else text


def format_fitness(value: float | None, digits: int = 4) -> str:
    """Formats a fitness (or any number) with fixed digits, ``"—"`` when missing.

    Args:
        value: the number or ``None``.
        digits: digits after the point.

    Returns:
        The text.

    Example:
        >>> format_fitness(0.93456)
        '0.9346'
    """
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value:.{digits}f}"


def format_label_noise(noise: dict[str, Any] | None) -> str:
    """Describes a run's label noise (the store's ``label_noise`` meta) in one line.

    Args:
        noise: ``{"rate", "kind", "validation", "realised_train", "realised_validation"}`` as
            the first worker reported it; ``None`` or empty for a run without it.

    Returns:
        ``"symmetric 0.40 (realised 0.397 train, 0.410 validation)"``, with ``clean
        validation`` for a clean validation set; ``""`` when there is no label noise.

    Example:
        >>> format_label_noise({"rate": 0.4, "kind": "symmetric", "validation": False,
        ...                     "realised_train": 0.3971, "realised_validation": None})
        'symmetric 0.40 (realised 0.397 train, clean validation)'
    """
    if not noise:
        return ""
    parts = []
    train = noise.get("realised_train")
    if train is not None:
        parts.append(f"{float(train):.3f} train")
    validation = noise.get("realised_validation")
    if not noise.get("validation", True):
        parts.append("clean validation")
    elif validation is not None:
        parts.append(f"{float(validation):.3f} validation")
    text = f"{noise.get('kind', '?')} {float(noise.get('rate') or 0.0):.2f}"
    if parts:
        if parts[0] != "clean validation":
            parts[0] = "realised " + parts[0]
        text += f" ({', '.join(parts)})"
    return text
