"""keras-taylorglo: TaylorGLO loss-function metalearning for Keras 3.

The public names are resolved lazily (PEP 562) so that the TensorFlow-free parts of the package
(the expansion maths, recipes, the experiment store, the monitor) can be imported without paying
for, or requiring, TensorFlow.

The package's Keras classes (the losses) are registered with Keras as soon as Keras is imported,
before or after this package, so that ``keras.models.load_model`` finds them after a plain
``import keras_taylorglo``; ``import keras_taylorglo`` alone still imports no TensorFlow (how, and
why it takes an import hook: :mod:`keras_taylorglo.keras_registration`).

Example:
    >>> from keras_taylorglo import TaylorGLOLoss
    >>> loss = TaylorGLOLoss.from_preset("paper-mnist")
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .keras_registration import register_when_keras_is_imported

__version__ = "0.1.0"

# public name -> module that defines it (relative to this package)
_LAZY: dict[str, str] = {
    "TaylorGLOLoss": "losses",
    "taylorglo": "losses",
    "GCELoss": "robust_losses",
    "BaikalLoss": "robust_losses",
    "LabelSmoothingCrossentropy": "robust_losses",
    "SCELoss": "noisy_label_losses",
    "NCEAndRCELoss": "noisy_label_losses",
    "Poly1Loss": "noisy_label_losses",
    "presets": "presets",
    "PAPER_MNIST": "presets",
    "PartialTraining": "callbacks",
    "AbortBelowAccuracy": "callbacks",
    "TrainingProgress": "callbacks",
    "ExpansionSpec": "expansion",
    "multi_indices": "expansion",
    "num_params": "expansion",
    "loss_shape": "expansion",
    "Recipe": "recipe",
    "load_recipe": "recipe",
    "parse_recipe": "recipe",
    "Evaluator": "evaluation",
    "Outcome": "outcomes",
    "Store": "store",
    "TaylorGLOError": "errors",
    "Search": "api",
    "SearchResult": "api",
    "analyze": "api",
    "resume": "api",
}

__all__ = [
    "AbortBelowAccuracy",
    "BaikalLoss",
    "Evaluator",
    "ExpansionSpec",
    "GCELoss",
    "LabelSmoothingCrossentropy",
    "NCEAndRCELoss",
    "Outcome",
    "PAPER_MNIST",
    "PartialTraining",
    "Poly1Loss",
    "Recipe",
    "SCELoss",
    "Search",
    "SearchResult",
    "Store",
    "TaylorGLOError",
    "TaylorGLOLoss",
    "TrainingProgress",
    "__version__",
    "analyze",
    "load_recipe",
    "loss_shape",
    "multi_indices",
    "num_params",
    "parse_recipe",
    "presets",
    "resume",
    "taylorglo",
]

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from . import presets
    from .api import Search, SearchResult, analyze, resume
    from .callbacks import AbortBelowAccuracy, PartialTraining, TrainingProgress
    from .errors import TaylorGLOError
    from .evaluation import Evaluator
    from .expansion import ExpansionSpec, loss_shape, multi_indices, num_params
    from .losses import TaylorGLOLoss, taylorglo
    from .noisy_label_losses import NCEAndRCELoss, Poly1Loss, SCELoss
    from .outcomes import Outcome
    from .presets import PAPER_MNIST
    from .recipe import Recipe, load_recipe, parse_recipe
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


# So that keras.models.load_model finds our losses after a plain `import keras_taylorglo`,
# without importing TensorFlow here: the reason and the mechanism are in keras_registration.
register_when_keras_is_imported()
