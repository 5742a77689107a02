"""keras-taylorglo: TaylorGLO loss-function metalearning for Keras 3.

The public names are resolved lazily (PEP 562) so that the TensorFlow-free parts of the package
(the expansion maths, recipes, the experiment store, the monitor) can be imported without paying
for, or requiring, TensorFlow.

Example:
    >>> from keras_taylorglo import TaylorGLOLoss
    >>> loss = TaylorGLOLoss.from_preset("paper-mnist")
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> module that defines it (relative to this package)
_LAZY: dict[str, str] = {
    "TaylorGLOLoss": "losses",
    "taylorglo": "losses",
    "GCELoss": "robust_losses",
    "BaikalLoss": "robust_losses",
    "LabelSmoothingCrossentropy": "robust_losses",
    "presets": "presets",
    "PAPER_MNIST": "presets",
    "PartialTraining": "callbacks",
    "AbortBelowAccuracy": "callbacks",
    "TrainingProgress": "callbacks",
    "multi_indices": "expansion",
    "num_params": "expansion",
    "loss_shape": "expansion",
    "Recipe": "recipe",
    "load_recipe": "recipe",
    "parse_recipe": "recipe",
    "Evaluator": "evaluation",
    "Outcome": "records",
    "Store": "store",
    "TaylorGLOError": "errors",
}

__all__ = [
    "AbortBelowAccuracy",
    "BaikalLoss",
    "Evaluator",
    "GCELoss",
    "LabelSmoothingCrossentropy",
    "Outcome",
    "PAPER_MNIST",
    "PartialTraining",
    "Recipe",
    "Store",
    "TaylorGLOError",
    "TaylorGLOLoss",
    "TrainingProgress",
    "__version__",
    "load_recipe",
    "loss_shape",
    "multi_indices",
    "num_params",
    "parse_recipe",
    "presets",
    "taylorglo",
]

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from . import presets
    from .callbacks import AbortBelowAccuracy, PartialTraining, TrainingProgress
    from .errors import TaylorGLOError
    from .evaluation import Evaluator
    from .expansion import loss_shape, multi_indices, num_params
    from .losses import TaylorGLOLoss, taylorglo
    from .presets import PAPER_MNIST
    from .recipe import Recipe, load_recipe, parse_recipe
    from .records import Outcome
    from .robust_losses import BaikalLoss, GCELoss, LabelSmoothingCrossentropy
    from .store import Store


def __getattr__(name: str) -> Any:
    """Import the module that defines ``name`` on first access (PEP 562)."""
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'keras_taylorglo' has no attribute {name!r}")
    module = importlib.import_module(f".{module_name}", __name__)
    value = module if name == module_name else getattr(module, name)
    globals()[name] = value  # cache: later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return __all__
