"""A recipe's data, checked before any worker starts: one line and exit 2, nothing created.

What each kind of data set costs to check here, and how:

- ``module:function``: called once in this process and its arrays checked
  (:func:`~keras_taylorglo.data.checks.check_arrays`), with the split sizes the recipe asks for.
- The embedded sets (``digits``, ``mnist5k``): their data is this package's and fixed, so only the
  split sizes can be wrong, and their training split's size is known without reading them
  (:data:`~keras_taylorglo.data.names.EMBEDDED_TRAIN_SIZES`).
- Any other TFDS set (``mnist``, ``cifar10``, ``svhn_cropped``, ...): read by the workers' own
  loader in one short-lived child process, with the GPUs hidden from it, so that the driver
  never imports TensorFlow or takes GPU memory. It costs one TensorFlow start and one read of
  the set (7 s for an 80-image set on a 2-core machine), once per search start, against hours of
  search. A set that is not prepared and cannot be downloaded is said here too, instead of by
  every worker at once. Skipped when the search
  runs on a Ray cluster elsewhere: its nodes hold the data, which this machine may not.

Example:
    >>> from types import SimpleNamespace
    >>> data = SimpleNamespace(dataset="digits", validation_size=2000, train_fraction=1.0,
    ...                        batch_size=32)
    >>> check_data_first(data, ".", seed=0)
    Traceback (most recent call last):
    ...
    keras_taylorglo.errors.DataError: data set digits: validation_size 2000 does not fit a training split of 1497 examples (expected 1..1496)
"""  # noqa: E501

from __future__ import annotations

import dataclasses
import inspect
import json
import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..errors import DataError, RecipeError, TaylorGLOError
from ..plugins import is_callable_spec, resolve_callable
from .checks import check_arrays, check_split_sizes
from .names import DATASET_ALIASES, EMBEDDED_TRAIN_SIZES, base_name, missing_extra

__all__ = ["check_data_extras", "check_data_first", "check_data_function"]

#: The child's last line of standard output is its answer (TFDS may print before it).
_ANSWER = "keras-taylorglo-precheck: "


def check_data_first(
    data: Any,
    base_dir: str | os.PathLike[str],
    seed: int,
    source: str = "<recipe>",
    *,
    remote_cluster: bool = False,
    announce: Callable[[str], None] | None = None,
) -> None:
    """Check a recipe's ``[data]`` as far as this machine can, before any worker starts.

    Args:
        data: The recipe's ``DataConfig`` (or an object with its fields).
        base_dir: The recipe's directory (``module:function`` and ``data_dir`` resolve there).
        seed: The experiment's seed (a data function is called with it).
        source: The recipe file, named in messages about a ``module:function``.
        remote_cluster: The workers run on a Ray cluster whose nodes hold the data: a TFDS set is
            left to them.
        announce: Called with one line before a check that reads a TFDS set (seconds or more).

    Raises:
        DataError: One line naming the data set or the array, and the problem.
    """
    spec = str(data.dataset)
    if is_callable_spec(spec):
        function = resolve_callable(spec, Path(base_dir), "data.dataset", source)
        check_data_function(function, data, seed, spec)
        return
    check_data_extras(data, source)
    tfds_name = DATASET_ALIASES.get(spec, spec)
    if base_name(tfds_name) in EMBEDDED_TRAIN_SIZES:
        train = EMBEDDED_TRAIN_SIZES[base_name(tfds_name)]
        sizes = (int(data.validation_size), float(data.train_fraction), int(data.batch_size))
        check_split_sizes(spec, train, *sizes)
        return
    if remote_cluster:
        return
    if announce is not None:
        announce(f"checking data set {spec} before the workers start")
    _check_in_child(data, Path(base_dir), seed, source)


def check_data_extras(data: Any, source: str = "<recipe>") -> None:
    """Refuse an embedded data set whose optional extra is not installed (no import, no TFDS).

    ``validate`` and the search's start call it, so a missing extra is one line before anything
    is prepared, instead of a failure of every worker after TensorFlow has started.

    Args:
        data: The recipe's ``DataConfig`` (or ``None``: no data set).
        source: The recipe file, named in the message.

    Raises:
        RecipeError: ``<file>: data.dataset: mnist5k needs the mnist5k extra: pip install
            'keras-taylorglo[mnist5k]'``.
    """
    if data is None:
        return
    missing = missing_extra(str(data.dataset))
    if missing is not None:
        raise RecipeError(source, "data.dataset", missing)


def check_data_function(
    function: Callable[..., Any], data: Any, seed: int, name: str, where: str = ""
) -> None:
    """Call a data function once and check what it returns, as the workers' loader would.

    A function that raises, or returns a ``DataBundle`` (built with TensorFlow) or a wrong type,
    is left to the workers: their loader says what is wrong in one line, with the user's own
    exception.

    Args:
        function: The data function, ``(seed) -> dict`` or ``() -> dict``.
        data: The recipe's ``DataConfig`` (its split sizes).
        seed: The experiment's seed.
        name: The data set, as messages name it.
        where: The start of messages about split sizes; default ``data set NAME``.

    Raises:
        DataError: One line naming the array and the problem.
    """
    try:
        takes_seed = len(inspect.signature(function).parameters) > 0
    except (TypeError, ValueError):
        takes_seed = True
    try:
        result = function(seed) if takes_seed else function()
    except Exception:  # noqa: BLE001 - the workers report the user's exception as they do
        return
    if not isinstance(result, Mapping):
        return
    arrays = {k: v for k, v in result.items() if k != "num_classes" and v is not None}
    if not {"x_train", "y_train", "x_test", "y_test"} <= set(arrays):
        return  # the loader names the missing keys
    checked = check_arrays(arrays, result.get("num_classes"))
    held_out = None if "x_val" in checked else int(data.validation_size)
    sizes = (float(data.train_fraction), int(data.batch_size))
    check_split_sizes(name, len(checked["y_train"]), held_out, *sizes, where=where)


def _check_in_child(data: Any, base_dir: Path, seed: int, source: str) -> None:
    """Read a TFDS set with the workers' loader in a child process; its error as one line."""
    request = {"data": _plain(data), "base_dir": str(base_dir), "seed": int(seed), "source": source}
    # The GPUs stay the workers': TensorFlow in the child would otherwise claim their memory.
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "3"}
    try:
        done = subprocess.run(
            [sys.executable, "-m", "keras_taylorglo.data.precheck"],
            input=json.dumps(request),
            stdout=subprocess.PIPE,  # its answer; TFDS's download progress shows on stderr
            text=True,
            env=env,
            check=False,
        )
    except OSError as exc:  # no interpreter to start (a full process table): the workers check
        raise DataError(f"data set {data.dataset}: could not be checked ({exc})") from None
    answers = [line for line in done.stdout.splitlines() if line.startswith(_ANSWER)]
    if answers:
        answer = json.loads(answers[-1][len(_ANSWER) :])
        if answer.get("error"):
            raise DataError(answer["error"])
        if done.returncode == 0:
            return
    if done.returncode in (130, -2):  # Ctrl-C reached the child first
        raise KeyboardInterrupt
    raise DataError(
        f"data set {data.dataset}: could not be checked (the check's process ended with exit "
        f"status {done.returncode} and no answer)"
    )


def _plain(value: Any) -> Any:
    """A ``DataConfig`` (or a namespace like it) as JSON-ready dicts, nested sections included."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    elif hasattr(value, "__dict__") and not isinstance(value, type):
        value = vars(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def _namespace(config: Mapping[str, Any]) -> Any:
    from types import SimpleNamespace

    return SimpleNamespace(
        **{k: _namespace(v) if isinstance(v, Mapping) else v for k, v in config.items()}
    )


def _main() -> int:
    """The child: load the data set as a worker does, and answer on the last line of stdout."""
    request = json.loads(sys.stdin.read())
    data = _namespace(request["data"])
    try:
        return _answer(request, data)
    except KeyboardInterrupt:  # Ctrl-C in the terminal: the driver says it, in one line
        return 130


def _answer(request: Mapping[str, Any], data: Any) -> int:
    try:
        from .._quiet import import_tensorflow

        import_tensorflow()
        from .loading import load_dataset

        bundle = load_dataset(data, Path(request["base_dir"]), request["seed"], request["source"])
    except TaylorGLOError as exc:
        answer: dict[str, Any] = {"error": str(exc)}
    except Exception as exc:  # noqa: BLE001 - one line, as a worker would say it
        line = (str(exc).strip().splitlines() or [""])[0][:300]
        answer = {"error": f"data set {data.dataset}: {type(exc).__name__}: {line}"}
    else:
        answer = {"train": bundle.num_train, "validation": bundle.num_validation}
    print(_ANSWER + json.dumps(answer), flush=True)
    return 2 if "error" in answer else 0


if __name__ == "__main__":
    sys.exit(_main())
