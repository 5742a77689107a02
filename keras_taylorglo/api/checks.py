"""Argument checks of a Python search: arrays, labels, models, options, one line each."""

from __future__ import annotations

import difflib
import os
import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..data.checks import check_arrays, check_split_sizes
from ..errors import DataError, RecipeError, TaylorGLOError
from .inputs import describe_function

__all__ = [
    "Keywords",
    "can_probe_here",
    "check_data_arrays",
    "check_named_functions",
    "check_training_size",
    "data_kind",
    "hold_out_validation",
    "model_kind",
    "probe_model",
    "refuse_existing_run",
    "section_table",
    "sets_experiment_name",
]


def model_kind(model: Any) -> tuple[str, Any]:
    """What ``Search(model=...)`` was given.

    Args:
        model: ``None``, a model name, a ``[model]`` table, a ``keras.Model`` or a function.

    Returns:
        ``(kind, model)`` with kind ``"none"``, ``"name"``, ``"section"``, ``"instance"`` or
        ``"function"``.

    Raises:
        TaylorGLOError: For anything else (one line).
    """
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


def data_kind(data: Any) -> tuple[str, Any]:
    """What ``Search(data=...)`` was given.

    Args:
        data: ``None``, a data set name, a ``[data]`` table, ``(x, y)`` arrays or a function.

    Returns:
        ``(kind, data)`` with kind ``"none"``, ``"name"``, ``"section"``, ``"arrays"`` or
        ``"function"``.

    Raises:
        TaylorGLOError: For anything else (one line).
    """
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


def section_table(name: str, value: Any) -> Mapping[str, Any]:
    """A keyword section of ``Search`` (``evolution={...}``), checked to be a dict.

    Args:
        name: The keyword, for the message.
        value: What it was given.

    Returns:
        ``value``.

    Raises:
        TaylorGLOError: If it is not a mapping (one line).
    """
    if not isinstance(value, Mapping):
        raise TaylorGLOError(
            f"{name}: expected a dict of recipe keys, e.g. evolution={{'population': 8}} "
            f"(got {type(value).__name__})"
        )
    return value


def sets_experiment_name(experiment: Any, overrides: Sequence[str]) -> bool:
    """Whether the caller names the experiment (``experiment={"name": ...}`` or an override).

    Args:
        experiment: The ``experiment`` keyword section, if any.
        overrides: The ``section.key=value`` overrides.

    Returns:
        ``True`` if either sets ``experiment.name``.
    """
    if isinstance(experiment, Mapping) and "name" in experiment:
        return True
    return any(str(o).split("=", 1)[0].strip() == "experiment.name" for o in overrides)


class Keywords:
    """The ``section.key=value`` strings a :class:`Search` makes of its keywords, by keyword.

    They are applied as ``--set`` overrides are, so the recipe's validation says what is wrong;
    :meth:`reword` then names the keyword the value came in (``evolution={...}: populaton: …``)
    instead of ``--set``, which a Python user never typed.

    Attributes:
        items: The ``section.key=value`` strings, in the order they apply.

    Example:
        >>> kw = Keywords()
        >>> kw.add(["evolution.populaton=8"], "evolution={...}", prefix="evolution.")
        >>> kw.items
        ['evolution.populaton=8']
    """

    def __init__(self) -> None:
        self.items: list[str] = []
        self._origins: list[tuple[str, str, str]] = []  # (dotted key, keyword, its prefix)

    def add(
        self, items: Sequence[str], keyword: str, prefix: str = "", first: bool = False
    ) -> None:
        """Add ``items`` that came in ``keyword``.

        Args:
            items: ``section.key=value`` strings.
            keyword: How the caller passed them, for messages (``evolution={...}``).
            prefix: The section the keyword's own keys are relative to (``"evolution."``).
            first: Put them before the items added so far (later items override them).
        """
        origins = [(item.split("=", 1)[0].strip(), keyword, prefix) for item in items]
        if first:
            self.items[:0], self._origins[:0] = list(items), origins
        else:
            self.items += items
            self._origins += origins

    def reword(self, error: RecipeError) -> RecipeError:
        """``error`` with the keyword in place of ``--set`` (other errors as they are).

        Args:
            error: An error of the recipe's validation of :attr:`items`.

        Returns:
            The error naming the keyword its value came in, or ``error`` itself.
        """
        if error.file != "--set":
            return error
        field = error.field
        found = [
            (keyword, prefix)
            for key, keyword, prefix in self._origins
            if key == field or field.startswith(key + ".") or key.startswith(field + ".")
        ]
        if not found:
            return error
        keyword, prefix = found[-1]  # a later value overrides an earlier one
        message = str(error)
        details = message[len(f"{error.file}: {error.field}: {error.problem}") :]
        problem = error.problem
        if prefix:
            field = field[len(prefix) :] if field.startswith(prefix) else field
            problem = problem.replace(f"'{prefix}", "'")  # did you mean 'population'?
        return RecipeError(keyword, field, problem + details)


#: How the shared checks name each split: by the argument it came in.
_ARGUMENTS = {"train": "data", "val": "validation_data", "test": "test_data"}


def check_data_arrays(
    data: Any, validation: Any, test: Any, num_classes: int | None
) -> dict[str, np.ndarray]:
    """Refuse arrays that the loader would refuse (or train on silently wrong), one line each.

    The checks are the loader's own (:mod:`keras_taylorglo.data.checks`), so a recipe's
    ``module:function`` data and the same arrays given here fail alike.

    Args:
        data: ``(x, y)`` training arrays.
        validation: ``(x, y)`` validation arrays, or ``None``.
        test: ``(x, y)`` test arrays, or ``None``.
        num_classes: The class count, or ``None`` for ``max(label) + 1``.

    Returns:
        The checked arrays by name (``x_train``, ``y_train``, ``x_val``, ...).

    Raises:
        DataError: An argument that is not a pair, or arrays that do not fit (one line).
    """
    given: dict[str, Any] = {}
    for split, pair in (("train", data), ("val", validation), ("test", test)):
        if pair is None:
            continue
        arg = _ARGUMENTS[split]
        if not isinstance(pair, tuple | list) or len(pair) != 2:
            raise DataError(f"{arg}: expected a pair (x, y) of arrays (got {type(pair).__name__})")
        given[f"x_{split}"], given[f"y_{split}"] = pair
    return check_arrays(given, num_classes, where="data", names=_ARGUMENTS)


def hold_out_validation(arrays: dict[str, np.ndarray], size: int) -> None:
    """Neither validation nor test data: hold out a validation split here, to test on too.

    Args:
        arrays: The checked arrays; ``x_train``/``y_train`` are replaced by what is left, and
            ``x_val``/``y_val`` added.
        size: ``data.validation_size``.

    Raises:
        DataError: If ``size`` does not fit the training examples (one line).
    """
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


def check_training_size(arrays: Mapping[str, np.ndarray], data: Any) -> None:
    """Checks that ``data.train_fraction`` of the training arrays fills one ``data.batch_size``.

    Args:
        arrays: The checked arrays.
        data: The recipe's ``[data]`` section.

    Raises:
        DataError: If it does not (one line).
    """
    fraction, batch = float(data.train_fraction), int(data.batch_size)
    check_split_sizes("data", len(arrays["y_train"]), None, fraction, batch, where="data")


def can_probe_here(kind: str) -> bool:
    """Whether building the model here is harmless: never start TensorFlow on a GPU here.

    TensorFlow reserves most of a GPU's memory in the first process that touches it, which
    would starve the workers. A built ``keras.Model`` has already started TensorFlow; a
    function is probed only on a machine without GPUs (elsewhere each worker checks it).

    Args:
        kind: The model's kind (:func:`model_kind`).

    Returns:
        Whether :func:`probe_model` may run in this process.
    """
    if kind == "instance":
        return True
    if kind != "function":
        return False
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    return visible in ("", "-1") or (visible is None and shutil.which("nvidia-smi") is None)


def probe_model(
    model: Any, kind: str, arrays: dict[str, np.ndarray], num_classes: int | None, recipe: Any
) -> None:
    """Build (or run) the model once on a few images: wrong shapes and logits fail here.

    Args:
        model: The model function or ``keras.Model``.
        kind: ``"function"`` or ``"instance"``.
        arrays: The checked arrays (a few training images are used).
        num_classes: The class count, or ``None`` for ``max(label) + 1``.
        recipe: The recipe (``model.options`` for a function).

    Raises:
        TaylorGLOError: A model that cannot be built, takes other inputs, has another output
            shape or does not output probabilities (one line).
    """
    import keras

    x = arrays["x_train"][:16].astype(np.float32)
    x = x[..., None] if x.ndim == 3 else x
    x = (x - x.mean()) / (x.std() or 1.0)
    n = num_classes or max(int(arrays[k].max()) for k in arrays if k.startswith("y_")) + 1
    shape = tuple(int(d) for d in x.shape[1:])
    name = describe_function(model) if kind == "function" else f"the keras.Model {model.name!r}"
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


def check_named_functions(
    recipe: Any, model_kind: str, data_kind: str, overrides: Sequence[str]
) -> None:
    """``check_callables`` now, on the fields that ``run`` will not point at ``RUN_DIR/inputs``.

    Args:
        recipe: The recipe with the caller's sections applied.
        model_kind: The model's kind (:func:`model_kind`).
        data_kind: The data's kind (:func:`data_kind`).
        overrides: The caller's own overrides (named in the message).

    Raises:
        TaylorGLOError: A named ``module:function`` that cannot be loaded (one line).
    """
    from ..recipe import check_callables

    if recipe.data is None or recipe.model is None:
        return
    stand_ins = []
    if model_kind in ("function", "instance"):
        stand_ins += ['model.name="basic_cnn"', "model.options={}"]
    if data_kind in ("arrays", "function"):
        stand_ins.append('data.dataset="digits"')
    check_callables(recipe.with_overrides(stand_ins) if stand_ins else recipe, overrides)


def refuse_existing_run(run_dir: Path, overwrite: bool) -> None:
    """Refuses a run directory in use, or one that holds a run unless ``overwrite``.

    Args:
        run_dir: The run directory.
        overwrite: Whether an existing (not running) run may be replaced.

    Raises:
        TaylorGLOError: The directory is in use, or holds a run and ``overwrite`` is false.
    """
    from ..store import RunState, Store

    if not Store.exists(run_dir):
        return
    with Store.open(run_dir, readonly=True) as store:
        state = store.state()
    if state == RunState.RUNNING:
        raise TaylorGLOError(f"{run_dir} is in use by a running search; stop it or wait for it")
    if not overwrite:
        hint = (
            f"continue it with ktg.resume({str(run_dir)!r}), pass overwrite=True"
            if state == RunState.INTERRUPTED
            else "pass overwrite=True to replace it"
        )
        article = "an" if state == RunState.INTERRUPTED else "a"
        raise TaylorGLOError(
            f"{run_dir} already holds {article} {state} search: {hint}, or choose another run_dir"
        )
