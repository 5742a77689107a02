"""Published TaylorGLO losses, ready to use.

Each preset is a settings dict with exactly the arguments of
:class:`keras_taylorglo.TaylorGLOLoss` that define the loss: ``theta``, ``order``, ``inputs``,
``trim`` and ``convention``. Pure Python: importing this module does not import TensorFlow.

Example:
    >>> from keras_taylorglo.presets import PRESETS
    >>> PRESETS["paper-mnist"]["order"]
    3
"""

from __future__ import annotations

from typing import Any

PAPER_MNIST: tuple[float, ...] = (
    11.9039,
    -4.0240,
    6.9796,
    8.5834,
    -1.6677,
    11.6064,
    12.6684,
    -3.4674,
)
"""The best MNIST loss of the TaylorGLO paper (Appendix C), Eq. 5 layout, paper convention.

θ = (a_x, a_y, c_01, c_02, c_03, c_11, c_12, c_21): inputs label and prediction, order 3, trimmed.
In binary modality it decreases from y0 = 0 to a shallow minimum near y0 ≈ 0.8.
"""

PRESETS: dict[str, dict[str, Any]] = {
    "paper-mnist": {
        "theta": PAPER_MNIST,
        "order": 3,
        "inputs": ("label", "prediction"),
        "trim": True,
        "convention": "paper",
    },
}
"""Preset name -> settings (``theta``, ``order``, ``inputs``, ``trim``, ``convention``)."""


def get_preset(name: str) -> dict[str, Any]:
    """Looks up a preset by name.

    Args:
        name: a key of :data:`PRESETS`, e.g. ``"paper-mnist"``.

    Returns:
        A copy of the preset's settings (safe to modify).

    Raises:
        ValueError: for an unknown name; the message lists the known ones.

    Example:
        >>> get_preset("paper-mnist")["theta"][0]
        11.9039
    """
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; known presets: {sorted(PRESETS)}")
    return dict(PRESETS[name])
