"""Registers the package's Keras classes (its losses) with Keras as soon as Keras is imported.

Why this module exists (the one place that says it):

- A model compiled with :class:`~keras_taylorglo.losses.TaylorGLOLoss` (or a robust loss) is
  saved with the loss named ``keras_taylorglo>TaylorGLOLoss``. ``keras.models.load_model`` finds
  such a class only in Keras's registry of custom objects, which the class's module fills when it
  runs (``@keras.saving.register_keras_serializable``). Keras never imports that module itself:
  the ``module`` a saved config names is imported only for Keras's own packages, a safety rule
  (``keras.src.saving.serialization_lib._retrieve_class_or_fn`` in Keras 3; the Keras team calls
  the field "by design, completely ignored", keras-team/keras#22779).
- ``import keras_taylorglo`` must not import TensorFlow (the store, the recipes, the status
  command and the monitor need none of it), so it cannot import the loss modules either.
- Python has no post-import hook other than a :data:`sys.meta_path` finder.

So :func:`register_when_keras_is_imported`, called once by the package's ``__init__``, imports
the loss modules at once if Keras is already imported (that costs nothing more), and otherwise
puts a finder on :data:`sys.meta_path` that does it right after ``import keras`` has run. Every
other import costs the finder one string comparison, and it removes itself once the losses are
registered.
"""

from __future__ import annotations

import importlib
import sys
import warnings
from typing import Any

__all__ = ["KERAS_MODULES", "register_when_keras_is_imported"]

_PACKAGE = __name__.rpartition(".")[0]

KERAS_MODULES = (
    f"{_PACKAGE}.losses",
    f"{_PACKAGE}.robust_losses",
    f"{_PACKAGE}.noisy_label_losses",
)
"""The modules whose classes Keras must know by name to load a saved model, in import order
(``robust_losses`` imports ``losses``, ``noisy_label_losses`` imports both)."""


def register_when_keras_is_imported() -> None:
    """Registers the package's Keras classes now if Keras is imported, else once it is.

    Idempotent: a second call adds no second finder.
    """
    if "keras" in sys.modules:
        _import_keras_modules()
    elif not any(isinstance(f, _AfterKerasImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _AfterKerasImport())


def _import_keras_modules(finished: str = "") -> None:
    """Imports the modules that register our Keras classes (each registers itself on import).

    A module that is being imported right now (Keras was imported from inside it) is left to
    finish; its completion (``finished``, see :class:`_AfterKerasImport`) imports the next one.
    """
    for name in KERAS_MODULES:
        module = sys.modules.get(name)
        if module is None:
            importlib.import_module(name)
        elif name != finished and getattr(module.__spec__, "_initializing", False):
            return


class _AfterKerasImport:
    """A :data:`sys.meta_path` finder that registers our Keras classes once Keras is imported.

    It finds nothing itself: for ``keras`` (and for each of our modules but the last, so that
    the next one follows it when Keras was first imported from inside one of them, whichever
    was imported first) it asks the other finders for the real spec and wraps that one loader's
    ``exec_module`` to call :func:`_import_keras_modules` after the module has run.
    """

    watched = ("keras", *KERAS_MODULES[:-1])

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
            _import_keras_modules(finished)
        except Exception as error:  # never break `import keras` for the user
            warnings.warn(
                f"keras_taylorglo: its losses could not be registered with Keras ({error}); "
                "import keras_taylorglo.losses before keras.models.load_model",
                stacklevel=2,
            )
        if all(name in sys.modules for name in KERAS_MODULES) and self in sys.meta_path:
            sys.meta_path.remove(self)
