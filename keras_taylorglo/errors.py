"""User-facing errors of keras-taylorglo.

Every error a person can cause (a bad recipe, a missing data set, a run directory in use) is a
:class:`TaylorGLOError`. Its ``str`` is exactly one line, so the command line can print
``error: <message>`` to stderr and exit with status 2 without a traceback.

This module imports nothing heavy: the recipe parser, the store and the monitor use it.

Example:
    >>> from keras_taylorglo.errors import RecipeError
    >>> str(RecipeError("r.toml", "training.momentum", "out of range", 1.5, "a number in [0, 1)"))
    'r.toml: training.momentum: out of range (got 1.5; expected a number in [0, 1))'
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ClusterLostError",
    "DataError",
    "RecipeError",
    "RunLockedError",
    "StoreError",
    "TaylorGLOError",
]


class _Missing:
    """Sentinel type: "no offending value to report" (``None`` is a value worth reporting)."""

    def __repr__(self) -> str:
        return "<missing>"


_MISSING: Any = _Missing()


def _one_line(text: str) -> str:
    """Collapse whitespace runs (newlines included) so a message always fits on one line."""
    return " ".join(str(text).split())


def _tomlish(value: Any) -> str:
    """Spell a value the way the user wrote it in TOML: `true`, `"x"`, `[1, 2]`, `{ a = 1 }`."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return '"' + escaped + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_tomlish(v) for v in value) + "]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        return "{ " + ", ".join(f"{k} = {_tomlish(v)}" for k, v in value.items()) + " }"
    return repr(value)


def _show(value: Any, limit: int = 80) -> str:
    """Format an offending value for a message: TOML-ish, short, on one line."""
    shown = _one_line(_tomlish(value))
    if len(shown) > limit:
        shown = shown[: limit - 3] + "..."
    return shown


class TaylorGLOError(Exception):
    """Base class of every error meant for the person running keras-taylorglo.

    ``str(error)`` is one line; the command line prints it as ``error: <message>`` and exits 2.

    Example:
        >>> try:
        ...     raise TaylorGLOError("something went wrong")
        ... except TaylorGLOError as error:
        ...     print(f"error: {error}")
        error: something went wrong
    """

    def __str__(self) -> str:
        return _one_line(super().__str__())


class RecipeError(TaylorGLOError):
    """A recipe file (or a ``--set`` override) is missing, malformed or out of range.

    The message has the shape ``<file>: <field>: <problem> (got <value>; expected <allowed>)``;
    the parenthesis is shortened when ``got`` or ``expected`` is not given.

    Args:
        file: The recipe path as the user gave it, ``"<string>"`` or ``"--set"``.
        field: The dotted field name (``"training.learning_rate"``), ``"toml"`` for syntax errors
            or ``"file"`` for problems with the file itself.
        problem: What is wrong, in a few words.
        got: The offending value, repeated in the message. Leave it out when there is none.
        expected: What would have been accepted.

    Attributes:
        file: As given.
        field: As given.
        problem: As given.
        got: As given (the sentinel ``_MISSING`` when not given).
        expected: As given.

    Example:
        >>> error = RecipeError("r.toml", "loss.order", "out of range", 9, "an integer 1..6")
        >>> error.field
        'loss.order'
        >>> str(error)
        'r.toml: loss.order: out of range (got 9; expected an integer 1..6)'
    """

    def __init__(
        self,
        file: str,
        field: str,
        problem: str,
        got: Any = _MISSING,
        expected: str | None = None,
    ) -> None:
        self.file = str(file)
        self.field = str(field)
        self.problem = _one_line(problem)
        self.got = got
        self.expected = None if expected is None else _one_line(expected)
        details = []
        if got is not _MISSING:
            details.append(f"got {_show(got)}")
        if self.expected is not None:
            details.append(f"expected {self.expected}")
        message = f"{self.file}: {self.field}: {self.problem}"
        if details:
            message += f" ({'; '.join(details)})"
        super().__init__(message)


class DataError(TaylorGLOError):
    """A data set cannot be found, downloaded, prepared or split as the recipe asks.

    Example:
        >>> str(DataError("data set 'nope' is not known to TFDS"))
        "data set 'nope' is not known to TFDS"
    """


class StoreError(TaylorGLOError):
    """The experiment store (``RUN_DIR/experiment.sqlite``) is missing, corrupt or incompatible.

    Example:
        >>> str(StoreError("runs/x is not a keras-taylorglo run directory"))
        'runs/x is not a keras-taylorglo run directory'
    """


class RunLockedError(StoreError):
    """Another live process holds the run directory's lock.

    Example:
        >>> str(RunLockedError("runs/x is in use by process 42 on host-a"))
        'runs/x is in use by process 42 on host-a'
    """


class ClusterLostError(TaylorGLOError):
    """The driver lost the Ray cluster's head node; the run is left interrupted and resumable.

    Args:
        cause: What was lost, in one line (the head's address and for how long it refused).
        run_dir: The run directory, when the raiser knows it (the CLI and the API do; the
            executor does not and says "the run directory").

    Example:
        >>> error = ClusterLostError("lost the head node")
        >>> str(error.for_run("runs/x")).endswith("`keras-taylorglo resume runs/x` (with --set "
        ...     "execution.ray_address=HOST:PORT if the head moved)")
        True
    """

    def __init__(self, cause: str, run_dir: str | None = None) -> None:
        self.cause = cause
        where = (
            f"`keras-taylorglo resume {run_dir}`"
            if run_dir
            else ("`keras-taylorglo resume` the run directory")
        )
        super().__init__(
            f"{cause}; the run is interrupted: once the cluster is back, {where} "
            "(with --set execution.ray_address=HOST:PORT if the head moved)"
        )

    def for_run(self, run_dir: object) -> ClusterLostError:
        """The same error, naming the run directory to resume."""
        return ClusterLostError(self.cause, str(run_dir))
