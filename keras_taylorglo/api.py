"""Search, resume and analyze from a script or a notebook, on your own model and arrays.

The same engine, store and workers as ``keras-taylorglo search``: a :class:`Search` turns its
arguments into a recipe (keyword sections override a base recipe through exactly the recipe's
validation), writes what the workers need into ``RUN_DIR/inputs/`` (the model function or model
serialised with cloudpickle or as ``model.keras``, the arrays as ``.npy`` files that the workers
memory-map, and a small generated module ``taylorglo_inputs.py`` that the recipe names as
``model.name`` and ``data.dataset``), and writes the resolved recipe as ``RUN_DIR/recipe.toml``.
A run started here is an ordinary run directory: ``keras-taylorglo status/monitor/resume/
analyze/plot/export RUN_DIR`` work on it, and :func:`resume` and :func:`analyze` work on runs
started from the command line.

Example:
    >>> import keras_taylorglo as ktg
    >>> search = ktg.Search(model=build_model, data=(x_train, y_train),
    ...                     test_data=(x_test, y_test), run_dir="runs/mine",
    ...                     evolution={"population": 8, "generations": 5})  # doctest: +SKIP
    >>> result = search.run()  # doctest: +SKIP
    >>> loss = result.best_loss()  # doctest: +SKIP
    >>> report = ktg.analyze("runs/mine", runs=10)  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import difflib
import json
import math
import numbers
import os
import re
import shutil
import sys
import sysconfig
import tempfile
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import DataError, RecipeError, TaylorGLOError

__all__ = ["BestCandidate", "Search", "SearchResult", "analyze", "resume"]

#: The recipe sections a :class:`Search` takes as keyword arguments (the TOML's tables).
SECTIONS = (
    "experiment",
    "data",
    "model",
    "training",
    "loss",
    "evolution",
    "evaluation",
    "execution",
)
INPUTS_DIR = "inputs"
INPUTS_MODULE = "taylorglo_inputs.py"
MODEL_SPEC = f"{INPUTS_DIR}/{INPUTS_MODULE}:model"
DATA_SPEC = f"{INPUTS_DIR}/{INPUTS_MODULE}:data"
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_NAME = re.compile(r"[^A-Za-z0-9._-]")
_SPEC = re.compile(r"^(?P<module>[^:\s]+):(?P<function>[A-Za-z_][\w.]*)$")


# ---------------------------------------------------------------------------------- results


@dataclass(frozen=True)
class BestCandidate:
    """The best candidate of a search.

    Attributes:
        theta: The loss parameters, in the θ layout of the run's ``[loss]`` section.
        fitness: Its fitness (validation accuracy after the partial training).
        generation: The generation it was found in (from 0).
        candidate: Its index in that generation (from 0).
    """

    theta: tuple[float, ...]
    fitness: float
    generation: int
    candidate: int


@dataclass(frozen=True)
class SearchResult:
    """What a finished (or stopped) search left in its run directory.

    Attributes:
        run_dir: The run directory.
        best: The best candidate so far, or ``None`` when no candidate has a result.
        state: ``"finished"``, ``"interrupted"`` or ``"running"`` (the store's state).

    Example:
        >>> result = ktg.resume("runs/mine")  # doctest: +SKIP
        >>> result.best.fitness, result.best_loss()  # doctest: +SKIP
    """

    run_dir: Path
    best: BestCandidate | None
    state: str

    @classmethod
    def from_run_dir(cls, run_dir: str | os.PathLike[str]) -> SearchResult:
        """Read a run directory's best candidate and state.

        Args:
            run_dir: A run directory (from Python or the command line).

        Returns:
            The result.

        Raises:
            TaylorGLOError: No run in ``run_dir``.
        """
        from .store import Store

        run_dir = Path(run_dir)
        _require_run(run_dir)
        with Store.open(run_dir, readonly=True) as store:
            best, state = store.best(), store.state()
        record = None
        if best:
            record = BestCandidate(
                theta=tuple(float(v) for v in best["theta"]),
                fitness=float(best["fitness"]),
                generation=int(best["generation"]),
                candidate=int(best["candidate"]),
            )
        return cls(run_dir=run_dir, best=record, state=state)

    def best_loss(self) -> Any:
        """The best θ as a ready Keras loss, with the run's expansion settings.

        Returns:
            A :class:`~keras_taylorglo.losses.TaylorGLOLoss` (order, inputs, trim and convention
            from the run's ``[loss]`` section).

        Raises:
            TaylorGLOError: No candidate has a result yet.

        Example:
            >>> model.compile(optimizer="sgd", loss=result.best_loss())  # doctest: +SKIP
        """
        from .store import Store

        if self.best is None:
            raise TaylorGLOError(f"{self.run_dir}: no candidate has a result yet")
        with Store.open(self.run_dir, readonly=True) as store:
            meta = store.meta()
        from .losses import TaylorGLOLoss

        return TaylorGLOLoss(
            theta=list(self.best.theta),
            order=int(meta.get("order", 3)),
            inputs=tuple(meta.get("inputs", ("label", "prediction"))),
            trim=bool(meta.get("trim", True)),
            convention=str(meta.get("convention", "paper")),
        )


# ----------------------------------------------------------------------------------- search


class Search:
    """A TaylorGLO search on your own model and data, from a script or a notebook.

    Keyword sections override a base recipe key by key (nested dicts set nested keys, as
    ``--set section.key.sub=value`` does; ``model.options`` is set whole) and are validated
    exactly as the recipe file is: a bad key or value raises the recipe's one-line error.

    Args:
        model: A function ``(input_shape, num_classes, **options) -> keras.Model`` (uncompiled,
            softmax outputs); a built ``keras.Model`` (each worker clones it with fresh weights);
            a ``model.name`` string (``"wide_resnet"``, ``"my_models:small_cnn"``); a dict of
            ``[model]`` keys; or ``None`` for the base recipe's model.
        data: ``(x, y)`` arrays: images ``(n, h, w)`` or ``(n, h, w, c)``, integer class ids
            ``0..num_classes-1``; a function ``(seed) -> dict`` as a recipe's data function; a
            ``data.dataset`` string (``"mnist"``, ``"my_data:make"``); a dict of ``[data]``
            keys; or ``None`` for the base recipe's data set.
        validation_data: ``(x, y)`` scored for fitness; without it ``data.validation_size``
            examples are held out of ``data``.
        test_data: ``(x, y)`` scored by :func:`analyze`. Without it the test split is the
            validation split (the analysis then warns: that split chose θ).
        num_classes: The class count (default: the largest label + 1).
        run_dir: The run directory (default ``runs/<experiment.name>``). Without ``recipe=``
            or an explicit ``experiment.name``, the experiment is named after the directory.
        recipe: The base recipe: a ``Recipe``, a TOML file path, or TOML text (a string with a
            newline or ``[``). Default: the embedded digits recipe, with
            ``data.train_fraction = 1`` when ``data`` is arrays or a function.
        overwrite: Replace a run already in ``run_dir`` (its store, reports and inputs).
        model_options: ``model.options``: keyword arguments for the model function.
        data_options: ``[data]`` keys for array data (``batch_size``, ``validation_size``,
            ``train_fraction``, ``augment``, ``label_noise``).
        overrides: ``"section.key=value"`` strings, exactly as ``--set`` (applied last).
        experiment: ``[experiment]`` keys, e.g. ``{"seed": 1}``.
        training: ``[training]`` keys, e.g. ``{"partial": {"steps": 200}}``.
        loss: ``[loss]`` keys.
        evolution: ``[evolution]`` keys, e.g. ``{"population": 8, "generations": 5}``.
        evaluation: ``[evaluation]`` keys.
        execution: ``[execution]`` keys, e.g. ``{"devices": "cpu", "workers": 2}``.
        **unknown: Refused: a misspelt section name raises a one-line error.

    Attributes:
        recipe: The validated recipe (before ``run`` points it at ``RUN_DIR/inputs``).
        run_dir: The run directory.

    Raises:
        TaylorGLOError: A bad section, key or value (the recipe's message), arrays that do not
            fit together or labels that are not class ids, a model that cannot be built, does
            not fit the data or returns logits (checked here on a few images, except for a model
            function on a machine with GPUs: TensorFlow would reserve their memory in this
            process; the workers check it then), or a run directory that already holds a run.

    Example:
        >>> search = ktg.Search(model=build_model, data=(x, y), test_data=(x_test, y_test),
        ...                     run_dir="runs/mine", evolution={"generations": 5},
        ...                     execution={"devices": "cpu"})  # doctest: +SKIP
        >>> result = search.run()  # doctest: +SKIP
        >>> result.best.theta, result.best.fitness  # doctest: +SKIP
    """

    def __init__(
        self,
        model: Any = None,
        data: Any = None,
        *,
        validation_data: tuple[Any, Any] | None = None,
        test_data: tuple[Any, Any] | None = None,
        num_classes: int | None = None,
        run_dir: str | os.PathLike[str] | None = None,
        recipe: Any = None,
        overwrite: bool = False,
        model_options: Mapping[str, Any] | None = None,
        data_options: Mapping[str, Any] | None = None,
        overrides: Sequence[str] = (),
        experiment: Mapping[str, Any] | None = None,
        training: Mapping[str, Any] | None = None,
        loss: Mapping[str, Any] | None = None,
        evolution: Mapping[str, Any] | None = None,
        evaluation: Mapping[str, Any] | None = None,
        execution: Mapping[str, Any] | None = None,
        **unknown: Any,
    ) -> None:
        if unknown:
            name = next(iter(unknown))
            close = difflib.get_close_matches(name, SECTIONS, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise TaylorGLOError(
                f"Search: unknown recipe section '{name}'{hint} (expected one of "
                f"{', '.join(SECTIONS)}, or model_options, data_options, overrides)"
            )
        self.overwrite = bool(overwrite)
        self._model_kind, self._model = _model_kind(model)
        self._data_kind, self._data = _data_kind(data)
        if self._data_kind != "arrays" and (validation_data is not None or test_data is not None):
            raise TaylorGLOError(
                "Search: validation_data and test_data go with data=(x, y) arrays "
                f"(got data of type {type(data).__name__})"
            )
        sections = {
            "experiment": experiment,
            "data": data if self._data_kind == "section" else None,
            "model": model if self._model_kind == "section" else None,
            "training": training,
            "loss": loss,
            "evolution": evolution,
            "evaluation": evaluation,
            "execution": execution,
        }
        if self._model_kind == "instance" and model_options:
            raise TaylorGLOError("model_options: a keras.Model takes none (pass a function)")
        if data_options is not None and "dataset" in dict(_mapping("data_options", data_options)):
            raise TaylorGLOError("data_options: 'dataset' is set by data=, not here")
        base = _base_recipe(recipe)
        own_data = self._data_kind in ("arrays", "function")
        items: list[str] = []
        if own_data and recipe is None:
            # The default recipe trains on half of digits; your arrays are all meant to be used.
            items.append("data.train_fraction=1.0")
        if self._model_kind in ("function", "instance") and model_options is None:
            items.append("model.options={}")  # the base model's options are not your function's
        if self._model_kind == "name":
            items.append(f"model.name={_toml(self._model, 'model')}")
        if self._data_kind == "name":
            items.append(f"data.dataset={_toml(self._data, 'data')}")
        for name, table in sections.items():
            if table is not None:
                items += _flatten(name, _mapping(name, table))
        if data_options is not None:
            items += _flatten("data", _mapping("data_options", data_options))
        if model_options is not None:
            options = _mapping("model_options", model_options)
            items.append(f"model.options={_toml(dict(options), 'model_options')}")
        user_items = list(overrides)
        if isinstance(overrides, str):
            raise TaylorGLOError('overrides: expected a list of "section.key=value" strings')
        # The default recipe's name ("digits") would mislead; a recipe's own name stays (--out).
        named = recipe is None and run_dir is not None and not _sets_name(experiment, user_items)
        if named:
            name = _NAME.sub("_", Path(run_dir).resolve().name).lstrip("._-")
            if name:
                items.insert(0, f"experiment.name={_toml(name[:100], 'run_dir')}")
        self.recipe = base.with_overrides([*items, *user_items])
        _check_named_functions(self.recipe, self._model_kind, self._data_kind, user_items)
        from .search.engine import default_run_dir

        self.run_dir = Path(run_dir) if run_dir is not None else default_run_dir(self.recipe)
        self._arrays: dict[str, np.ndarray] = {}
        self._test_is_validation = False
        if self._data_kind == "arrays":
            self._arrays = _check_arrays(self._data, validation_data, test_data, num_classes)
            self._test_is_validation = test_data is None
            if validation_data is None and test_data is None:
                _hold_out(self._arrays, self.recipe.data.validation_size)
        self._num_classes = num_classes
        if self._arrays and _can_probe(self._model_kind):
            _probe_model(self._model, self._model_kind, self._arrays, num_classes, self.recipe)
        _refuse_existing(self.run_dir, self.overwrite)

    def run(self, progress: bool = True) -> SearchResult:
        """Write the run directory and run the search to its end (blocks).

        Args:
            progress: Show the engine's progress display (a live line on a terminal or in
                Jupyter with ipywidgets, one line per generation otherwise).

        Returns:
            The :class:`SearchResult`.

        Raises:
            TaylorGLOError: The run directory holds a run (and ``overwrite`` is false) or is in
                use, or the workers cannot build the data or the model (one line).
            KeyboardInterrupt: Ctrl-C or the notebook's stop button: the run is left resumable
                (:func:`resume`), and the message says so.

        Example:
            >>> result = search.run()  # doctest: +SKIP
        """
        from .recipe import check_callables
        from .search.engine import start_search

        _refuse_existing(self.run_dir, self.overwrite)
        recipe = self._write_run_dir()
        check_callables(recipe)
        with _interrupt_says_resume(self.run_dir), _workers_skip_main():
            start_search(recipe, self.run_dir, overwrite=self.overwrite, display=_display(progress))
        return SearchResult.from_run_dir(self.run_dir)

    # ------------------------------------------------------------------------ run directory

    def _write_run_dir(self) -> Any:
        """Write ``RUN_DIR/inputs`` and ``RUN_DIR/recipe.toml``; the recipe that names them."""
        from .recipe import parse_recipe

        run_dir = self.run_dir.resolve()
        run_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".inputs-", dir=run_dir))
        try:
            functions: dict[str, str] = {}
            manifest: dict[str, Any] = {"python": sys.version.split()[0], "files": {}}
            if self._model_kind == "function":
                _dump(self._model, staging / "model.pkl", "model")
                functions["model"] = "function"
                manifest["model"] = _describe(self._model)
            elif self._model_kind == "instance":
                try:
                    self._model.save(staging / "model.keras")
                except Exception as exc:
                    raise TaylorGLOError(
                        f"model: cannot be saved as model.keras ({type(exc).__name__}: {exc}); "
                        "pass a function that builds it instead"
                    ) from None
                functions["model"] = "instance"
                manifest["model"] = f"{type(self._model).__name__} {self._model.name!r}"
            if self._data_kind == "arrays":
                for key, array in self._arrays.items():
                    np.save(staging / f"{key}.npy", array, allow_pickle=False)
                    manifest["files"][f"{key}.npy"] = f"{array.dtype} {list(array.shape)}"
                functions["data"] = "arrays"
                manifest["test_split"] = "validation" if self._test_is_validation else "test"
                if self._num_classes is not None:
                    manifest["num_classes"] = int(self._num_classes)
            elif self._data_kind == "function":
                _dump(self._data, staging / "data.pkl", "data")
                functions["data"] = "function"
                manifest["data"] = _describe(self._data)
            (staging / INPUTS_MODULE).write_text(_module_source(functions, self._num_classes))
            (staging / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
            staging.chmod(0o755)  # mkdtemp's 0700 would hide the inputs from other users
            inputs = run_dir / INPUTS_DIR
            old = run_dir / f".inputs-old-{os.getpid()}"
            if inputs.exists():
                os.replace(inputs, old)
            os.replace(staging, inputs)
            shutil.rmtree(old, ignore_errors=True)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        items = []
        if "model" in functions:
            items.append(f'model.name="{MODEL_SPEC}"')
        if "data" in functions:
            items.append(f'data.dataset="{DATA_SPEC}"')
        text = _rebased(self.recipe, run_dir).to_toml()
        recipe = parse_recipe(
            text, source=str(self.run_dir / "recipe.toml"), overrides=items, base_dir=run_dir
        )
        _write_atomic(run_dir / "recipe.toml", recipe.to_toml())
        return recipe


# --------------------------------------------------------------------- resume and analyze


def resume(
    run_dir: str | os.PathLike[str],
    execution: Mapping[str, Any] | None = None,
    progress: bool = True,
) -> SearchResult:
    """Continue an interrupted search exactly (from Python or from the command line).

    Args:
        run_dir: The run directory.
        execution: ``[execution]`` changes, e.g. ``{"executor": "ray"}`` (nothing else may
            change: the resumed search must be the same search).
        progress: Show the engine's progress display.

    Returns:
        The :class:`SearchResult`; a finished run's, at once.

    Raises:
        TaylorGLOError: No run in ``run_dir``, it is in use, or a bad ``execution`` key.
        KeyboardInterrupt: Stopped again: still resumable.

    Example:
        >>> ktg.resume("runs/mine").best.fitness  # doctest: +SKIP
    """
    from .search.engine import resume_search

    run_dir = Path(run_dir)
    items = _flatten("execution", _mapping("execution", execution)) if execution else []
    _require_run(run_dir)
    with _interrupt_says_resume(run_dir), _workers_skip_main():
        resume_search(run_dir, display=_display(progress), overrides=items)
    return SearchResult.from_run_dir(run_dir)


def analyze(
    run_dir: str | os.PathLike[str],
    runs: int = 10,
    *,
    baselines: Sequence[str] | str = ("crossentropy",),
    select: str = "last",
    candidates: str = "best",
    train_fractions: Sequence[float] | None = None,
    out_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Train the best loss and the baselines fully, ``runs`` times each; compare them.

    The same as ``keras-taylorglo analyze RUN_DIR``: resumable, journaled in the store, and
    written as ``report.json`` and ``report.md`` (in ``RUN_DIR/analysis`` by default).

    Args:
        run_dir: The run directory of a search.
        runs: Trainings per loss.
        baselines: Baseline specs (``"crossentropy"``, ``"label_smoothing:0.1"``, ``"gce:0.7"``,
            ``"baikal"``), a list or the comma-separated text; cross-entropy is always trained.
        select: ``"last"`` or ``"best_validation"``.
        candidates: ``"best"``, ``"top:K"`` or ``"generations"``.
        train_fractions: Compare at each ``data.train_fraction`` (the paper's Fig. 6).
        out_dir: Where the reports go (default ``RUN_DIR/analysis``).
        progress: Show a progress bar (or log lines).

    Returns:
        The report dict, the same as ``report.json``: ``runs``, ``taylorglo`` and ``baseline``
        (``accuracies``, ``mean``, ``std``), ``p_value``, ``baselines`` and more.

    Raises:
        TaylorGLOError: No run, no result yet, the run is in use, or a bad baseline or selection.

    Example:
        >>> report = ktg.analyze("runs/mine", runs=10, baselines=["gce:0.7"])  # doctest: +SKIP
        >>> report["taylorglo"]["mean"], report["p_value"]  # doctest: +SKIP
    """
    from .analysis import run_analysis

    run_dir = Path(run_dir)
    _require_run(run_dir)
    manifest = run_dir / INPUTS_DIR / "manifest.json"
    if manifest.exists() and json.loads(manifest.read_text()).get("test_split") == "validation":
        warnings.warn(
            f"{run_dir} was searched without test_data: the analysis scores the validation "
            "split, which also chose θ (pass test_data=(x, y) to Search for an unbiased test)",
            stacklevel=2,
        )
    with _workers_skip_main():
        return run_analysis(
            run_dir,
            runs=runs,
            candidates=candidates,
            fractions=list(train_fractions) if train_fractions else None,
            out_dir=out_dir,
            progress=progress,
            baselines=baselines,
            select=select,
        )


# ------------------------------------------------------------------------- argument checks


def _model_kind(model: Any) -> tuple[str, Any]:
    if model is None:
        return "none", None
    if isinstance(model, str):
        return "name", model
    if isinstance(model, Mapping):
        return "section", model
    keras = sys.modules.get("keras")
    if keras is not None and isinstance(model, keras.Model):
        return "instance", model
    if callable(model):
        return "function", model
    raise TaylorGLOError(
        f"model: got {type(model).__name__} (expected a function (input_shape, num_classes, "
        '**options) -> keras.Model, a keras.Model, or a model name such as "basic_cnn")'
    )


def _data_kind(data: Any) -> tuple[str, Any]:
    if data is None:
        return "none", None
    if isinstance(data, str):
        return "name", data
    if isinstance(data, Mapping):
        return "section", data
    if isinstance(data, tuple | list):
        return "arrays", data
    if callable(data):
        return "function", data
    raise TaylorGLOError(
        f"data: got {type(data).__name__} (expected (x, y) arrays, a function (seed) -> dict, "
        'or a data set name such as "mnist")'
    )


def _mapping(name: str, value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise TaylorGLOError(
            f"{name}: expected a dict of recipe keys, e.g. evolution={{'population': 8}} "
            f"(got {type(value).__name__})"
        )
    return value


def _sets_name(experiment: Any, overrides: Sequence[str]) -> bool:
    if isinstance(experiment, Mapping) and "name" in experiment:
        return True
    return any(str(o).split("=", 1)[0].strip() == "experiment.name" for o in overrides)


def _check_arrays(
    data: Any, validation: Any, test: Any, num_classes: int | None
) -> dict[str, np.ndarray]:
    """Refuse arrays that the loader would refuse (or train on silently wrong), one line each."""
    if num_classes is not None and (
        isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral)
    ):
        raise DataError(f"num_classes: expected an integer >= 2 (got {num_classes!r})")
    if num_classes is not None and num_classes < 2:
        raise DataError(f"num_classes: expected an integer >= 2 (got {num_classes})")
    arrays: dict[str, np.ndarray] = {}
    shapes = {}
    for split, arg, pair in (("train", "data", data), ("val", "validation_data", validation),
                             ("test", "test_data", test)):  # fmt: skip
        if pair is None:
            continue
        if not isinstance(pair, tuple | list) or len(pair) != 2:
            raise DataError(f"{arg}: expected a pair (x, y) of arrays (got {type(pair).__name__})")
        x, y = _images(arg, pair[0]), _labels(arg, pair[1])
        if len(x) != len(y):
            raise DataError(
                f"{arg}: x has {len(x)} examples but y has {len(y)} (expected one label per image)"
            )
        if len(x) == 0:
            raise DataError(f"{arg}: no examples")
        shapes[arg] = tuple(x.shape[1:]) if x.ndim == 4 else (*x.shape[1:], 1)
        arrays[f"x_{split}"], arrays[f"y_{split}"] = x, y
    if len(set(shapes.values())) > 1:
        shown = ", ".join(f"{k} {v}" for k, v in shapes.items())
        raise DataError(f"data: the images differ in shape ({shown}; expected one shape)")
    labels = [a for k, a in arrays.items() if k.startswith("y_")]
    low = min(int(y.min()) for y in labels)
    if low < 0:
        raise DataError(
            f"data: negative label {low} (expected class ids 0..num_classes-1; map your labels "
            "with np.unique(y, return_inverse=True))"
        )
    high = max(int(y.max()) for y in labels)
    if num_classes is not None and high >= num_classes:
        raise DataError(
            f"data: label {high} is out of range for num_classes={num_classes} (expected class "
            f"ids 0..{num_classes - 1})"
        )
    if (num_classes or high + 1) < 2:
        raise DataError(f"data: every label is {high} (expected at least 2 classes)")
    return arrays


def _images(arg: str, x: Any) -> np.ndarray:
    x = x if isinstance(x, np.ndarray) else np.asarray(x)
    if x.ndim not in (3, 4):
        raise DataError(
            f"{arg}: x has shape {x.shape} (expected images (n, height, width) or "
            "(n, height, width, channels); flat vectors: reshape them)"
        )
    if not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
        raise DataError(f"{arg}: x has dtype {x.dtype} (expected numbers)")
    return x


def _labels(arg: str, y: Any) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y.reshape(-1)
    if y.ndim == 2:
        raise DataError(
            f"{arg}: y has shape {y.shape}: one-hot labels? (expected integer class ids of "
            "shape (n,), e.g. y.argmax(axis=1))"
        )
    if y.ndim != 1:
        raise DataError(f"{arg}: y has shape {y.shape} (expected integer class ids of shape (n,))")
    if np.issubdtype(y.dtype, np.integer):
        return y.astype(np.int64)
    if np.issubdtype(y.dtype, np.floating) and np.all(np.isfinite(y)) and np.all(y % 1 == 0):
        return y.astype(np.int64)
    example = next((v for v in y.ravel()[:1000] if not _integral(v)), y.ravel()[0])
    example = example.item() if isinstance(example, np.generic) else example
    raise DataError(
        f"{arg}: y has dtype {y.dtype}, e.g. {example!r} (expected integer class ids "
        "0..num_classes-1; map other labels with np.unique(y, return_inverse=True))"
    )


def _integral(value: Any) -> bool:
    try:
        return float(value) % 1 == 0
    except (TypeError, ValueError):
        return False


def _hold_out(arrays: dict[str, np.ndarray], size: int) -> None:
    """Neither validation nor test data: hold out a validation split here, to test on too."""
    n = len(arrays["x_train"])
    if not 1 <= size < n:
        raise DataError(
            f"data: data.validation_size {size} does not fit {n} examples (expected 1..{n - 1};"
            " set data_options={'validation_size': ...} or pass validation_data)"
        )
    order = np.random.default_rng(0).permutation(n)
    val, train = np.sort(order[:size]), np.sort(order[size:])
    x, y = arrays.pop("x_train"), arrays.pop("y_train")
    arrays.update(x_train=x[train], y_train=y[train], x_val=x[val], y_val=y[val])


def _can_probe(kind: str) -> bool:
    """Whether building the model here is harmless: never start TensorFlow on a GPU here.

    TensorFlow reserves most of a GPU's memory in the first process that touches it, which
    would starve the workers. A built ``keras.Model`` has already started TensorFlow; a
    function is probed only on a machine without GPUs (elsewhere each worker checks it).
    """
    if kind == "instance":
        return True
    if kind != "function":
        return False
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    return visible in ("", "-1") or (visible is None and shutil.which("nvidia-smi") is None)


def _probe_model(
    model: Any, kind: str, arrays: dict[str, np.ndarray], num_classes: int | None, recipe: Any
) -> None:
    """Build (or run) the model once on a few images: wrong shapes and logits fail here."""
    import keras

    x = arrays["x_train"][:16].astype(np.float32)
    x = x[..., None] if x.ndim == 3 else x
    x = (x - x.mean()) / (x.std() or 1.0)
    n = num_classes or max(int(arrays[k].max()) for k in arrays if k.startswith("y_")) + 1
    shape = tuple(int(d) for d in x.shape[1:])
    name = _describe(model) if kind == "function" else f"the keras.Model {model.name!r}"
    if kind == "function":
        options = dict(recipe.model.options or {})
        _check_options(model, name, options)
        try:
            model = model(shape, n, **options)
        except Exception as exc:
            raise TaylorGLOError(
                f"model: {name}({shape}, {n}{''.join(f', {k}=…' for k in options)}) raised "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        if not isinstance(model, keras.Model):
            raise TaylorGLOError(
                f"model: {name} returned {type(model).__name__} (expected an uncompiled "
                "keras.Model)"
            )
    elif not model.built or not getattr(model, "inputs", None):
        raise TaylorGLOError(
            f"model: {name} is not built (start it with keras.Input(shape=...) or pass the "
            "function that builds it)"
        )
    else:
        wanted = tuple(model.input_shape[1:])
        if len(wanted) != len(shape) or any(
            w not in (None, s) for w, s in zip(wanted, shape, strict=True)
        ):
            raise TaylorGLOError(
                f"model: {name} takes inputs of shape {wanted} but the images are {shape} "
                "(grey images get a channel axis: (h, w) becomes (h, w, 1))"
            )
    if tuple(model.output_shape[1:]) != (n,):
        raise TaylorGLOError(
            f"model: {name} outputs shape {model.output_shape} (expected (None, {n}) for {n} "
            "classes)"
        )
    out = np.asarray(keras.ops.convert_to_numpy(model(x, training=False)), dtype=np.float64)
    sums = out.sum(axis=-1)
    if not (np.all(out >= -1e-6) and np.allclose(sums, 1.0, atol=1e-3)):
        raise TaylorGLOError(
            f"model: {name}'s outputs are not probabilities (on {len(x)} training images: rows "
            f"sum to {sums.min():.3g}..{sums.max():.3g}, smallest value {out.min():.3g}); end "
            "the model with a softmax, e.g. keras.layers.Dense(num_classes, activation='softmax')"
        )


def _check_options(function: Any, name: str, options: dict[str, Any]) -> None:
    """``model_options`` that the function cannot take: one line, as a recipe's options get."""
    import inspect

    try:
        parameters = list(inspect.signature(function).parameters.values())
    except (TypeError, ValueError):
        return
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        return
    allowed = [
        p.name for p in parameters[2:] if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]
    for key in options:
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise RecipeError(
                "Search",
                f"model.options.{key}",
                f"not an option of {name}{hint}",
                expected=", ".join([*allowed, "or a function taking **options"])
                if allowed
                else "no options, or a function taking **options",
            )


def _check_named_functions(
    recipe: Any, model_kind: str, data_kind: str, overrides: Sequence[str]
) -> None:
    """``check_callables`` now, on the fields that ``run`` will not point at ``RUN_DIR/inputs``."""
    from .recipe import check_callables

    if recipe.data is None or recipe.model is None:
        return
    stand_ins = []
    if model_kind in ("function", "instance"):
        stand_ins += ['model.name="basic_cnn"', "model.options={}"]
    if data_kind in ("arrays", "function"):
        stand_ins.append('data.dataset="digits"')
    check_callables(recipe.with_overrides(stand_ins) if stand_ins else recipe, overrides)


def _refuse_existing(run_dir: Path, overwrite: bool) -> None:
    from .store import Store

    if not Store.exists(run_dir):
        return
    with Store.open(run_dir, readonly=True) as store:
        state = store.state()
    if state == "running":
        raise TaylorGLOError(f"{run_dir} is in use by a running search; stop it or wait for it")
    if not overwrite:
        hint = (
            f"continue it with ktg.resume({str(run_dir)!r}), pass overwrite=True"
            if state == "interrupted"
            else "pass overwrite=True to replace it"
        )
        article = "an" if state == "interrupted" else "a"
        raise TaylorGLOError(
            f"{run_dir} already holds {article} {state} search: {hint}, or choose another run_dir"
        )


def _require_run(run_dir: Path) -> None:
    from .store import Store

    if not Store.exists(run_dir):
        raise TaylorGLOError(f"{run_dir}: no keras-taylorglo run here (no experiment.sqlite)")


# ------------------------------------------------------------------------ recipe plumbing


def _base_recipe(recipe: Any) -> Any:
    from .recipe import Recipe, load_default_recipe, load_recipe, parse_recipe

    if recipe is None:
        return load_default_recipe()
    if isinstance(recipe, Recipe):
        return recipe
    if isinstance(recipe, str) and ("\n" in recipe or "[" in recipe):
        return parse_recipe(recipe, source="<recipe text>")
    if isinstance(recipe, str | os.PathLike):
        return load_recipe(recipe)
    raise TaylorGLOError(
        f"recipe: got {type(recipe).__name__} (expected a Recipe, a TOML file path or TOML text)"
    )


def _flatten(prefix: str, table: Mapping[str, Any]) -> list[str]:
    """``{"partial": {"steps": 5}}`` under ``training`` -> ``["training.partial.steps=5"]``."""
    items = []
    for key, value in table.items():
        path = f"{prefix}.{key}"
        if isinstance(value, Mapping) and value and path != "model.options":
            items += _flatten(path, value)
        else:
            items.append(f"{path}={_toml(value, path)}")
    return items


def _toml(value: Any, where: str) -> str:
    """``value`` as a TOML literal (strings quoted, tables inline), for ``with_overrides``."""
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        number = float(value)
        if math.isnan(number):
            return "nan"
        if math.isinf(number):
            return "inf" if number > 0 else "-inf"
        return repr(number)
    if isinstance(value, str | os.PathLike):
        return json.dumps(os.fspath(value), ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, Mapping):
        parts = []
        for key, item in value.items():
            name = str(key) if _BARE_KEY.match(str(key)) else _toml(str(key), where)
            parts.append(f"{name} = {_toml(item, f'{where}.{key}')}")
        return "{ " + ", ".join(parts) + " }" if parts else "{}"
    if isinstance(value, list | tuple | np.ndarray):
        return "[" + ", ".join(_toml(item, where) for item in value) + "]"
    raise RecipeError(
        "Search",
        where,
        f"a {type(value).__name__} cannot be a recipe value",
        expected="a string, number, boolean, list or dict",
    )


def _rebased(recipe: Any, run_dir: Path) -> Any:
    """The recipe with its relative ``module:function`` names made absolute (base_dir moves)."""
    old = Path(recipe.base_dir).resolve()
    if old == run_dir:
        return recipe
    items = []
    for field, value in (
        ("model.name", recipe.model.name if recipe.model else ""),
        ("data.dataset", recipe.data.dataset if recipe.data else ""),
        ("evaluation.fitness", recipe.evaluation.fitness),
    ):
        match = _SPEC.match(value)
        if match is None or value in (MODEL_SPEC, DATA_SPEC):
            continue
        module = match["module"]
        if module.endswith(".py") or "/" in module:
            path = Path(module).expanduser()
            file = path if path.is_absolute() else old / path
        else:
            file = old / (module.replace(".", "/") + ".py")
            if not file.is_file():
                continue  # found on sys.path, not next to the recipe
        spec = f"{file}:{match['function']}"
        items.append(f"{field}={_toml(spec, field)}")
    return recipe.with_overrides(items) if items else recipe


# -------------------------------------------------------------------------------- inputs


def _describe(function: Any) -> str:
    name = getattr(function, "__qualname__", None) or type(function).__name__
    module = getattr(function, "__module__", None)
    return f"{module}.{name}" if module and module != "__main__" else name


def _dump(function: Any, path: Path, arg: str) -> None:
    """Pickle ``function`` with cloudpickle: by value for your own modules (a complete run dir)."""
    import cloudpickle

    module = sys.modules.get(getattr(function, "__module__", None) or "")
    by_value = (
        module is not None
        and _is_own_module(module)
        and module.__name__ not in cloudpickle.list_registry_pickle_by_value()
    )
    if by_value:
        cloudpickle.register_pickle_by_value(module)
    try:
        blob = cloudpickle.dumps(function)
    except Exception as exc:
        raise TaylorGLOError(
            f"{arg}: {_describe(function)} cannot be saved with cloudpickle "
            f"({type(exc).__name__}: {exc}); define it at the top level of a module or cell, "
            "without references to open files, locks or built models"
        ) from None
    finally:
        if by_value:
            cloudpickle.unregister_pickle_by_value(module)
    path.write_bytes(blob)


def _is_own_module(module: Any) -> bool:
    """A module of yours (not ``__main__``, not installed, not this package)."""
    name, file = module.__name__, getattr(module, "__file__", None)
    if name == "__main__" or name.split(".")[0] == "keras_taylorglo" or not file:
        return False
    where = Path(file).resolve()
    if "site-packages" in where.parts or "dist-packages" in where.parts:
        return False
    roots = {sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    return not any(where.is_relative_to(Path(r).resolve()) for r in roots)


_MODULE_HEAD = '''\
"""Inputs of a search started from Python (written by keras_taylorglo.api; do not edit).

The recipe next to this directory names these functions as model.name and data.dataset, so that
every worker, `keras-taylorglo resume/analyze` and `ktg.resume` rebuild the same model and data.
"""

import functools
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


@functools.lru_cache(maxsize=None)
def _unpickle(name):
    import cloudpickle

    try:
        return cloudpickle.loads((HERE / name).read_bytes())
    except Exception as exc:
        raise RuntimeError(
            f"{HERE / name} cannot be loaded here (Python {sys.version.split()[0]}; it was written"
            f" by Python {PYTHON}): {type(exc).__name__}: {exc}"
        ) from None
'''

_MODEL_FUNCTION = '''

def model(input_shape, num_classes, **options):
    """Your model function, as given to ktg.Search."""
    return _unpickle("model.pkl")(tuple(input_shape), num_classes, **options)
'''

_MODEL_INSTANCE = '''

def model(input_shape, num_classes):
    """A clone of your keras.Model, with fresh weights."""
    import keras

    saved = keras.models.load_model(HERE / "model.keras", compile=False)
    return keras.models.clone_model(saved)
'''

_DATA_ARRAYS = '''

def data(seed=0):
    """Your arrays, memory-mapped (written once by ktg.Search)."""
    import numpy as np

    def load(name):
        return np.load(HERE / f"{name}.npy", mmap_mode="r")

    out = {"x_train": load("x_train"), "y_train": load("y_train")}
    if (HERE / "x_val.npy").exists():
        out["x_val"], out["y_val"] = load("x_val"), load("y_val")
    # Without test_data the validation split stands in for it (ktg.analyze warns).
    test = "test" if (HERE / "x_test.npy").exists() else "val"
    out["x_test"], out["y_test"] = load(f"x_{test}"), load(f"y_{test}")
    if NUM_CLASSES is not None:
        out["num_classes"] = NUM_CLASSES
    return out
'''

_DATA_FUNCTION = '''

def data(seed=0):
    """Your data function, as given to ktg.Search."""
    import inspect

    function = _unpickle("data.pkl")
    try:
        takes_seed = len(inspect.signature(function).parameters) > 0
    except (TypeError, ValueError):
        takes_seed = True
    return function(seed) if takes_seed else function()
'''


def _module_source(functions: dict[str, str], num_classes: int | None) -> str:
    text = _MODULE_HEAD + f"\nPYTHON = {sys.version.split()[0]!r}\n"
    text += f"NUM_CLASSES = {None if num_classes is None else int(num_classes)!r}\n"
    if functions.get("model") == "function":
        text += _MODEL_FUNCTION
    elif functions.get("model") == "instance":
        text += _MODEL_INSTANCE
    if functions.get("data") == "arrays":
        text += _DATA_ARRAYS
    elif functions.get("data") == "function":
        text += _DATA_FUNCTION
    return text


def _write_atomic(path: Path, text: str) -> None:
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


# ------------------------------------------------------------------------------ running


def _display(progress: bool) -> Any:
    """The engine's display: live on a terminal, and in Jupyter when ipywidgets is there."""
    if not progress:
        return None
    from rich.console import Console

    from .search.engine import ProgressDisplay

    console = Console(stderr=True)
    live = console.is_terminal
    if console.is_jupyter:
        import importlib.util

        live = importlib.util.find_spec("ipywidgets") is not None
    return ProgressDisplay(console=console, live=live)


@contextlib.contextmanager
def _interrupt_says_resume(run_dir: Path) -> Iterator[None]:
    """The engine's Ctrl-C (``SearchInterrupted``) as a KeyboardInterrupt that says how to go on."""
    from .search.engine import SearchInterrupted

    try:
        yield
    except SearchInterrupted:
        raise KeyboardInterrupt(
            f"search interrupted: {run_dir} is resumable with ktg.resume({str(run_dir)!r}) or "
            f"`keras-taylorglo resume {run_dir}`"
        ) from None


@contextlib.contextmanager
def _workers_skip_main() -> Iterator[None]:
    """Keep spawned workers from re-running your script (and quiet) while they start.

    ``multiprocessing``'s spawn start imports the parent's ``__main__`` file (or ``-m`` module)
    in every child: a script without an ``if __name__ == "__main__":`` guard would start a
    search in each worker, and one with it would still load its data there. The workers need
    nothing from it (your functions are in the run directory), so it is hidden while they start.
    """
    # As the command line does: the workers inherit it and keep TensorFlow's start-up quiet.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    main = sys.modules.get("__main__")
    if main is None:
        yield
        return
    saved = {k: main.__dict__[k] for k in ("__spec__", "__file__") if k in main.__dict__}
    main.__spec__ = None
    main.__dict__.pop("__file__", None)
    try:
        yield
    finally:
        main.__dict__.pop("__spec__", None)
        main.__dict__.update(saved)
