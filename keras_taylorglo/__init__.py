"""keras-taylorglo: TaylorGLO loss-function metalearning for Keras 3.

The public names are resolved lazily (PEP 562) so that the TensorFlow-free parts of the package
(the expansion maths, recipes, the experiment store, the monitor) can be imported without paying
for, or requiring, TensorFlow.

The package's Keras classes (the losses) are registered with Keras as soon as Keras is imported,
before or after this package, so that ``keras.models.load_model`` finds them after a plain
``import keras_taylorglo``; ``import keras_taylorglo`` alone still imports no TensorFlow.

Example:
    >>> from keras_taylorglo import TaylorGLOLoss
    >>> loss = TaylorGLOLoss.from_preset("paper-mnist")
"""

from __future__ import annotations

import importlib
import sys
import warnings
from typing import TYPE_CHECKING, Any

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


# ------------------------------------------------------- Keras registration (load_model)

#: Modules whose classes Keras must know by name to load a saved model, each after the ones it
#: imports: ``robust_losses`` imports ``losses``, ``noisy_label_losses`` imports both.
_KERAS_MODULES = (
    f"{__name__}.losses",
    f"{__name__}.robust_losses",
    f"{__name__}.noisy_label_losses",
)


def _register_with_keras(finished: str = "") -> None:
    """Import the modules that register our Keras classes (each registers itself on import).

    A module that is being imported right now (Keras was imported from inside it) is left to
    finish; its completion (``finished``, see :class:`_AfterImport`) imports the next one.
    """
    for name in _KERAS_MODULES:
        module = sys.modules.get(name)
        if module is None:
            importlib.import_module(name)
        elif name != finished and getattr(module.__spec__, "_initializing", False):
            return


class _AfterImport:
    """A ``sys.meta_path`` finder that registers our Keras classes once Keras is imported.

    It finds nothing itself: for ``keras`` (and for each of our modules but the last, so that
    the next one follows it whichever was imported first) it asks the other finders for the real
    spec and wraps that one loader's ``exec_module`` to call :func:`_register_with_keras` after
    the module has run. Every other import costs one string comparison. It removes itself once
    all those modules are imported.
    """

    watched = ("keras", *_KERAS_MODULES[:-1])

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        """The real spec of a watched module, its loader wrapped; ``None`` for the others."""
        if fullname not in self.watched:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        run = getattr(loader, "exec_module", None)
        if run is None or getattr(run, "_taylorglo", False):
            return spec

        def exec_module(module: Any) -> None:
            run(module)
            self.done(fullname)

        exec_module._taylorglo = True  # type: ignore[attr-defined]
        try:
            loader.exec_module = exec_module  # this spec's own loader object only
        except (AttributeError, TypeError):
            pass
        return spec

    def done(self, finished: str) -> None:
        """``finished`` has just been imported: register what can be registered now."""
        try:
            _register_with_keras(finished)
        except Exception as error:  # never break `import keras` for the user
            warnings.warn(
                f"keras_taylorglo: its losses could not be registered with Keras ({error}); "
                "import keras_taylorglo.losses before keras.models.load_model",
                stacklevel=2,
            )
        if all(name in sys.modules for name in _KERAS_MODULES) and self in sys.meta_path:
            sys.meta_path.remove(self)


if "keras" in sys.modules:
    _register_with_keras()  # Keras (and so TensorFlow) is already there: nothing extra to pay
elif not any(isinstance(f, _AfterImport) for f in sys.meta_path):
    sys.meta_path.insert(0, _AfterImport())
