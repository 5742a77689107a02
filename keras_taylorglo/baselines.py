"""The robust-loss baselines that ``analyze --baselines`` trains against TaylorGLO.

A baseline is named by a spec string, ``kind[:parameter]``::

    crossentropy            Keras's sparse categorical cross-entropy (always run, always first)
    label_smoothing[:ε]     cross-entropy with label smoothing ε in [0, 1), default 0.1
    gce[:q]                 generalised cross-entropy with q in (0, 1], default 0.7
    baikal                  the Baikal loss found by GLO

This module imports neither Keras nor TensorFlow (the command line parses ``--baselines`` before
deciding whether to load them); :func:`make_baseline_loss` imports Keras when called.

Example:
    >>> parse_baselines("gce, label_smoothing:0.2")
    ['crossentropy', 'gce:0.7', 'label_smoothing:0.2']
    >>> baseline_label("gce:0.7")
    'GCE q=0.7'
"""

from __future__ import annotations

import difflib
import math
from typing import TYPE_CHECKING

from .errors import TaylorGLOError

if TYPE_CHECKING:  # pragma: no cover - for type checkers only
    import keras

__all__ = [
    "BASELINE_KINDS",
    "DEFAULT_GCE_Q",
    "DEFAULT_LABEL_SMOOTHING",
    "baseline_label",
    "make_baseline_loss",
    "parse_baseline",
    "parse_baselines",
]

BASELINE_KINDS: tuple[str, ...] = ("crossentropy", "label_smoothing", "gce", "baikal")
"""The baseline kinds, in the order tables list them."""

DEFAULT_LABEL_SMOOTHING = 0.1
"""ε of a bare ``label_smoothing`` spec."""

DEFAULT_GCE_Q = 0.7
"""q of a bare ``gce`` spec (Zhang & Sabuncu's choice)."""

_OPTION = "--baselines"
_EXPECTED = "expected crossentropy, label_smoothing[:ε], gce[:q], baikal"


def _split(spec: str) -> tuple[str, float | None]:
    """Validates a spec and returns ``(kind, parameter)``; the parameter is None if it has none."""
    text = str(spec).strip()
    kind, colon, raw = text.partition(":")
    kind, raw = kind.strip().lower(), raw.strip()
    if not text:
        raise TaylorGLOError(f"{_OPTION}: empty baseline name ({_EXPECTED})")
    if kind not in BASELINE_KINDS:
        close = difflib.get_close_matches(kind, BASELINE_KINDS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise TaylorGLOError(f"{_OPTION}: unknown baseline {text!r}{hint} ({_EXPECTED})")
    if kind in ("crossentropy", "baikal"):
        if colon:
            raise TaylorGLOError(f"{_OPTION}: {text}: {kind} takes no parameter (write {kind!r})")
        return kind, None
    if kind == "gce":
        name, interval, default = "q", "(0, 1]", DEFAULT_GCE_Q
    else:
        name, interval, default = "ε", "[0, 1)", DEFAULT_LABEL_SMOOTHING
    if not colon:
        return kind, default
    try:
        value = float(raw)
    except ValueError:
        raise TaylorGLOError(
            f"{_OPTION}: {text}: {name} must be a number in {interval} (got {raw!r})"
        ) from None
    inside = 0.0 < value <= 1.0 if kind == "gce" else 0.0 <= value < 1.0
    if not (math.isfinite(value) and inside):
        raise TaylorGLOError(f"{_OPTION}: {text}: {name} must be in {interval} (got {raw})")
    return kind, value


def parse_baseline(spec: str) -> str:
    """Validates one baseline spec and returns its canonical form.

    The kind is case-insensitive; a missing parameter becomes the default; numbers are written
    ``f"{value:g}"``.

    Args:
        spec: ``crossentropy``, ``label_smoothing[:ε]``, ``gce[:q]`` or ``baikal``.

    Returns:
        The canonical spec: ``"crossentropy"``, ``"label_smoothing:0.1"``, ``"gce:0.7"`` or
        ``"baikal"``.

    Raises:
        TaylorGLOError: (one line, repeating the spec) for an unknown kind, a parameter given to
            a kind that takes none, or a parameter that is not a number in range.

    Example:
        >>> parse_baseline("gce")
        'gce:0.7'
        >>> parse_baseline(" label_smoothing:0.20 ")
        'label_smoothing:0.2'
    """
    kind, value = _split(spec)
    return kind if value is None else f"{kind}:{value:g}"


def parse_baselines(text: str) -> list[str]:
    """Parses a comma-separated ``--baselines`` value into canonical specs.

    Whitespace and empty items are ignored, duplicates (after canonicalisation) dropped and the
    order kept, except that ``"crossentropy"`` is always present and always first (the report's
    ``baseline`` entry is the cross-entropy runs).

    Args:
        text: e.g. ``"gce:0.5, baikal"``; empty means cross-entropy only.

    Returns:
        The canonical specs, ``"crossentropy"`` first.

    Raises:
        TaylorGLOError: for the first invalid spec (see :func:`parse_baseline`).

    Example:
        >>> parse_baselines("baikal, gce, gce:0.7, crossentropy")
        ['crossentropy', 'baikal', 'gce:0.7']
        >>> parse_baselines("")
        ['crossentropy']
    """
    specs = ["crossentropy"]
    for item in str(text).split(","):
        if not item.strip():
            continue
        spec = parse_baseline(item)
        if spec not in specs:
            specs.append(spec)
    return specs


def make_baseline_loss(spec: str) -> keras.losses.Loss:
    """Builds the Keras loss a baseline spec names (imports Keras on first use).

    Args:
        spec: a baseline spec, canonical or not (see :func:`parse_baseline`).

    Returns:
        ``keras.losses.SparseCategoricalCrossentropy()`` for ``crossentropy``, else a
        :class:`~keras_taylorglo.robust_losses.LabelSmoothingCrossentropy`,
        :class:`~keras_taylorglo.robust_losses.GCELoss` or
        :class:`~keras_taylorglo.robust_losses.BaikalLoss`; all take probabilities.

    Raises:
        TaylorGLOError: for an invalid spec.

    Example:
        >>> make_baseline_loss("gce:0.5").q
        0.5
    """
    kind, value = _split(spec)
    if kind == "crossentropy":
        import keras

        return keras.losses.SparseCategoricalCrossentropy()
    from . import robust_losses

    if kind == "label_smoothing":
        return robust_losses.LabelSmoothingCrossentropy(label_smoothing=value)
    if kind == "gce":
        return robust_losses.GCELoss(q=value)
    return robust_losses.BaikalLoss()


def baseline_label(spec: str) -> str:
    """Returns a short human label for a baseline, for tables and plot legends.

    Args:
        spec: a baseline spec, canonical or not.

    Returns:
        ``"cross-entropy"``, ``"label smoothing 0.1"``, ``"GCE q=0.7"`` or ``"Baikal"``.

    Raises:
        TaylorGLOError: for an invalid spec.

    Example:
        >>> baseline_label("label_smoothing")
        'label smoothing 0.1'
    """
    kind, value = _split(spec)
    if kind == "crossentropy":
        return "cross-entropy"
    if kind == "label_smoothing":
        return f"label smoothing {value:g}"
    if kind == "gce":
        return f"GCE q={value:g}"
    return "Baikal"
