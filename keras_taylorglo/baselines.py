"""The robust-loss baselines that ``analyze --baselines`` trains against TaylorGLO.

A baseline is named by a spec string, ``kind[:parameter[:parameter]]``::

    crossentropy            Keras's sparse categorical cross-entropy (always run, always first)
    label_smoothing[:ε]     cross-entropy with label smoothing ε in [0, 1), default 0.1
    gce[:q]                 generalised cross-entropy with q in (0, 1], default 0.7
    sce[:α[:β]]             symmetric cross-entropy α·CE + β·RCE, α, β >= 0, default 0.1, 1
    nce_rce[:α[:β]]         normalised CE + reverse CE α·NCE + β·RCE, α, β >= 0, default 1, 1
    poly1[:ε]               Poly-1, CE + ε(1 - p_y) with ε >= -1, default 1
    baikal                  the Baikal loss found by GLO

A two-parameter spec may give only the first (``sce:0.2`` is α = 0.2 with the default β).

This module imports neither Keras nor TensorFlow (the command line parses ``--baselines`` before
deciding whether to load them); :func:`make_baseline_loss` imports Keras when called.

Example:
    >>> parse_baselines("gce, label_smoothing:0.2, sce")
    ['crossentropy', 'gce:0.7', 'label_smoothing:0.2', 'sce:0.1:1']
    >>> baseline_label("sce:0.1:1")
    'SCE α=0.1 β=1'
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import TaylorGLOError

if TYPE_CHECKING:  # pragma: no cover - for type checkers only
    import keras

__all__ = [
    "BASELINE_KINDS",
    "DEFAULT_GCE_Q",
    "DEFAULT_LABEL_SMOOTHING",
    "DEFAULT_NCE_RCE",
    "DEFAULT_POLY1_EPSILON",
    "DEFAULT_SCE",
    "baseline_label",
    "make_baseline_loss",
    "parse_baseline",
    "parse_baselines",
]

BASELINE_KINDS: tuple[str, ...] = (
    "crossentropy",
    "label_smoothing",
    "gce",
    "sce",
    "nce_rce",
    "poly1",
    "baikal",
)
"""The baseline kinds, in the order tables list them."""

DEFAULT_LABEL_SMOOTHING = 0.1
"""ε of a bare ``label_smoothing`` spec."""

DEFAULT_GCE_Q = 0.7
"""q of a bare ``gce`` spec (Zhang & Sabuncu's choice)."""

DEFAULT_SCE = (0.1, 1.0)
"""(α, β) of a bare ``sce`` spec (Wang et al.'s CIFAR-10 settings)."""

DEFAULT_NCE_RCE = (1.0, 1.0)
"""(α, β) of a bare ``nce_rce`` spec (Ma et al.'s CIFAR-10 settings)."""

DEFAULT_POLY1_EPSILON = 1.0
"""ε of a bare ``poly1`` spec (Leng et al.'s default)."""

_OPTION = "--baselines"
_EXPECTED = (
    "expected crossentropy, label_smoothing[:ε], gce[:q], sce[:α[:β]], nce_rce[:α[:β]], "
    "poly1[:ε], baikal"
)


@dataclass(frozen=True)
class _Param:
    """One numeric parameter of a baseline kind: its name, default and allowed interval."""

    name: str
    default: float
    interval: str
    inside: Callable[[float], bool]


def _weights(defaults: tuple[float, float]) -> tuple[_Param, _Param]:
    return (
        _Param("α", defaults[0], "[0, ∞)", lambda v: v >= 0.0),
        _Param("β", defaults[1], "[0, ∞)", lambda v: v >= 0.0),
    )


_PARAMS: dict[str, tuple[_Param, ...]] = {
    "crossentropy": (),
    "label_smoothing": (_Param("ε", DEFAULT_LABEL_SMOOTHING, "[0, 1)", lambda v: 0.0 <= v < 1.0),),
    "gce": (_Param("q", DEFAULT_GCE_Q, "(0, 1]", lambda v: 0.0 < v <= 1.0),),
    "sce": _weights(DEFAULT_SCE),
    "nce_rce": _weights(DEFAULT_NCE_RCE),
    "poly1": (_Param("ε", DEFAULT_POLY1_EPSILON, "[-1, ∞)", lambda v: v >= -1.0),),
    "baikal": (),
}


def _number(text: str, raw: str, param: _Param) -> float:
    """One parameter's value, checked against its interval."""
    try:
        value = float(raw)
    except ValueError:
        raise TaylorGLOError(
            f"{_OPTION}: {text}: {param.name} must be a number in {param.interval} (got {raw!r})"
        ) from None
    if not (math.isfinite(value) and param.inside(value)):
        raise TaylorGLOError(
            f"{_OPTION}: {text}: {param.name} must be in {param.interval} (got {raw})"
        )
    return value


def _split(spec: str) -> tuple[str, tuple[float, ...]]:
    """Validates a spec and returns ``(kind, parameters)``, defaults filled in."""
    text = str(spec).strip()
    kind, colon, rest = text.partition(":")
    kind = kind.strip().lower()
    if not text:
        raise TaylorGLOError(f"{_OPTION}: empty baseline name ({_EXPECTED})")
    if kind not in BASELINE_KINDS:
        # A kind's beginning ("nce", "poly") names it better than the closest spelling ("sce").
        prefixed = [name for name in BASELINE_KINDS if kind and name.startswith(kind)]
        close = prefixed or difflib.get_close_matches(kind, BASELINE_KINDS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise TaylorGLOError(f"{_OPTION}: unknown baseline {text!r}{hint} ({_EXPECTED})")
    params = _PARAMS[kind]
    raws = [part.strip() for part in rest.split(":")] if colon else []
    if not params and raws:
        raise TaylorGLOError(f"{_OPTION}: {text}: {kind} takes no parameter (write {kind!r})")
    if len(raws) > len(params):
        full = ":".join([kind, *(p.name for p in params)])
        count = "1 parameter" if len(params) == 1 else f"at most {len(params)} parameters"
        raise TaylorGLOError(f"{_OPTION}: {text}: {kind} takes {count} (write {full!r})")
    values = tuple(
        _number(text, raw, param) for raw, param in zip(raws, params[: len(raws)], strict=True)
    )
    values += tuple(param.default for param in params[len(values) :])
    if kind in ("sce", "nce_rce") and values == (0.0, 0.0):
        raise TaylorGLOError(f"{_OPTION}: {text}: α and β cannot both be 0")
    return kind, values


def parse_baseline(spec: str) -> str:
    """Validates one baseline spec and returns its canonical form.

    The kind is case-insensitive; missing parameters become the defaults; numbers are written
    ``f"{value:g}"``; a two-parameter kind always shows both.

    Args:
        spec: ``crossentropy``, ``label_smoothing[:ε]``, ``gce[:q]``, ``sce[:α[:β]]``,
            ``nce_rce[:α[:β]]``, ``poly1[:ε]`` or ``baikal``.

    Returns:
        The canonical spec, e.g. ``"crossentropy"``, ``"label_smoothing:0.1"``, ``"gce:0.7"``,
        ``"sce:0.1:1"``, ``"nce_rce:1:1"``, ``"poly1:1"`` or ``"baikal"``.

    Raises:
        TaylorGLOError: (one line, repeating the spec) for an unknown kind, a parameter given to
            a kind that takes none, too many parameters, a parameter that is not a number in
            range, or both weights of ``sce``/``nce_rce`` 0.

    Example:
        >>> parse_baseline("gce")
        'gce:0.7'
        >>> parse_baseline(" label_smoothing:0.20 ")
        'label_smoothing:0.2'
        >>> parse_baseline("SCE:0.5")
        'sce:0.5:1'
    """
    kind, values = _split(spec)
    return ":".join([kind, *(f"{value:g}" for value in values)])


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
        :class:`~keras_taylorglo.robust_losses.GCELoss`,
        :class:`~keras_taylorglo.noisy_label_losses.SCELoss`,
        :class:`~keras_taylorglo.noisy_label_losses.NCEAndRCELoss`,
        :class:`~keras_taylorglo.noisy_label_losses.Poly1Loss` or
        :class:`~keras_taylorglo.robust_losses.BaikalLoss`; all take probabilities.

    Raises:
        TaylorGLOError: for an invalid spec.

    Example:
        >>> make_baseline_loss("gce:0.5").q
        0.5
    """
    kind, values = _split(spec)
    if kind == "crossentropy":
        import keras

        return keras.losses.SparseCategoricalCrossentropy()
    from . import noisy_label_losses, robust_losses

    builders = {
        "label_smoothing": lambda: robust_losses.LabelSmoothingCrossentropy(*values),
        "gce": lambda: robust_losses.GCELoss(*values),
        "sce": lambda: noisy_label_losses.SCELoss(*values),
        "nce_rce": lambda: noisy_label_losses.NCEAndRCELoss(*values),
        "poly1": lambda: noisy_label_losses.Poly1Loss(*values),
        "baikal": robust_losses.BaikalLoss,
    }
    return builders[kind]()


def baseline_label(spec: str) -> str:
    """Returns a short human label for a baseline, for tables and plot legends.

    Args:
        spec: a baseline spec, canonical or not.

    Returns:
        ``"cross-entropy"``, ``"label smoothing 0.1"``, ``"GCE q=0.7"``, ``"SCE α=0.1 β=1"``,
        ``"NCE+RCE α=1 β=1"``, ``"Poly-1 ε=1"`` or ``"Baikal"``.

    Raises:
        TaylorGLOError: for an invalid spec.

    Example:
        >>> baseline_label("label_smoothing")
        'label smoothing 0.1'
        >>> baseline_label("poly1")
        'Poly-1 ε=1'
    """
    kind, values = _split(spec)
    formats = {
        "crossentropy": "cross-entropy",
        "label_smoothing": "label smoothing {0:g}",
        "gce": "GCE q={0:g}",
        "sce": "SCE α={0:g} β={1:g}",
        "nce_rce": "NCE+RCE α={0:g} β={1:g}",
        "poly1": "Poly-1 ε={0:g}",
        "baikal": "Baikal",
    }
    return formats[kind].format(*values)
