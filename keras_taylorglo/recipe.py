"""Recipes: a TOML file in, a validated, frozen :class:`Recipe` out.

A recipe says everything a TaylorGLO search needs: the data set, the model, how one candidate loss
is trained (the *partial* budget) and how the best one is re-trained (the *full* budget), the
Taylor expansion, CMA-ES, the fitness rules and where the work runs. Every section except
``[data]`` and ``[model]`` may be left out (defaults are filled in); those two may only be left
out when ``evaluation.fitness`` names your own ``"module:function"``.

Every problem (a TOML syntax error, an unknown key, a value of the wrong type or out of range, a
missing file) raises :class:`~keras_taylorglo.errors.RecipeError`, whose message is one line::

    recipes/x.toml: training.learning_rate: must be greater than 0 (got -0.1; expected a number > 0)

``--set section.key=value`` overrides are applied before validation and validated the same way;
a problem caused by an override names ``--set`` instead of the file.

This module imports no TensorFlow or Keras: validating a recipe is instant.

Example:
    >>> recipe = parse_recipe('''
    ... [data]
    ... dataset = "digits"
    ... [model]
    ... name = "basic_cnn"
    ... ''', overrides=["evolution.population=4", "training.partial.steps=50"])
    >>> recipe.evolution.population, recipe.training.partial.steps
    (4, 50)
    >>> recipe.loss.num_params
    8
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import datetime
import importlib
import importlib.util
import inspect
import math
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 only
    import tomli as tomllib

from .errors import RecipeError
from .plugins import (
    CALLABLE_RE,
    did_you_mean,
    is_callable_spec,
    is_path_module,
    locate_module,
    on_sys_path,
    resolve_callable,
)

__all__ = [
    "CONVENTIONS",
    "EXECUTORS",
    "INPUT_NAMES",
    "LABEL_NOISE_KINDS",
    "MODEL_NAMES",
    "OPTIMIZERS",
    "AbortConfig",
    "AugmentConfig",
    "Budget",
    "DataConfig",
    "EvaluationConfig",
    "EvolutionConfig",
    "ExecutionConfig",
    "ExperimentConfig",
    "LabelNoiseConfig",
    "LossConfig",
    "ModelConfig",
    "Recipe",
    "ScheduleConfig",
    "TrainingConfig",
    "check_callables",
    "is_callable_spec",
    "load_default_recipe",
    "load_recipe",
    "parse_recipe",
    "resolve_callable",
]

#: Built-in model names (``model.name``); anything else must be a ``"module:function"``.
MODEL_NAMES = ("basic_cnn", "alexnet", "allcnn_c", "preact_resnet20", "wide_resnet")
#: ``training.optimizer`` values. ``sgd`` is plain SGD (``momentum`` is not used); ``momentum``
#: is SGD with heavy-ball momentum; ``nesterov`` is SGD with Nesterov momentum.
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam")
#: ``loss.inputs`` names, in the order the expansion lays out θ.
INPUT_NAMES = ("label", "prediction", "progress")
#: ``loss.convention`` values (see the loss documentation).
CONVENTIONS = ("paper", "lossferatu")
#: ``execution.executor`` values.
EXECUTORS = ("local", "ray")
#: The built-in fitness: validation accuracy at the end of the partial training.
DEFAULT_FITNESS = "validation_accuracy"
#: Largest expansion order accepted (θ grows quickly: 3 inputs at order 6 is already 83 values).
MAX_ORDER = 6

# A TFDS data set name, optionally with a config and a version: "svhn_cropped", "cifar10:3.*.*",
# "imagenet2012_subset/1pct:5.0.0".
_TFDS_RE = re.compile(r"^[a-z0-9_]+(?:/[A-Za-z0-9_.\-]+)?(?::[0-9*]+(?:\.[0-9*]+){0,2})?$")
# Safe as a directory name on every OS: no separators, no leading dot, no spaces.
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_BARE_KEY_RE = re.compile(r"^[A-Za-z0-9_-]+$")

_MISSING: Any = object()


# ----------------------------------------------------------------------------------- dataclasses


@dataclass(frozen=True)
class ExperimentConfig:
    """``[experiment]``: what the run is called and its master seed.

    Attributes:
        name: Run directory name (``runs/<name>`` by default); letters, digits, ``.``, ``_``,
            ``-``. When a recipe file leaves it out, the file's stem is used.
        seed: Master seed (>= 0); every evaluation's seed derives from it.

    Example:
        >>> ExperimentConfig(name="svhn_wrn", seed=1).name
        'svhn_wrn'
    """

    name: str = "digits"
    seed: int = 0


@dataclass(frozen=True)
class AugmentConfig:
    """``data.augment``: training-set augmentation.

    Attributes:
        flip: Random horizontal flips.
        crop_padding: Pad by this many pixels, then crop back at a random offset (0 = off).
        cutout: Side of the square Cutout patch in pixels (0 = off).

    Example:
        >>> AugmentConfig(flip=True, crop_padding=4, cutout=16).cutout
        16
    """

    flip: bool = False
    crop_padding: int = 0
    cutout: int = 0


#: ``data.label_noise.kind`` values: a flipped label becomes a uniformly drawn *other* class
#: (``symmetric``) or class ``(c + 1) mod n`` (``pairflip``, the usual asymmetric benchmark).
LABEL_NOISE_KINDS = ("symmetric", "pairflip")


@dataclass(frozen=True)
class LabelNoiseConfig:
    """``data.label_noise``: replace a fraction of the labels, as crowd or weak labels would.

    Which examples flip and to which class depends only on a fixed seed and the example's index,
    so every candidate, seed and resumed run sees the same noisy labels, and the examples flipped
    at rate 0.2 are flipped (to the same class) at rate 0.4. The test split is never touched.

    Attributes:
        rate: Fraction of labels replaced, in [0, 1); 0 = off.
        kind: ``"symmetric"`` or ``"pairflip"`` (:data:`LABEL_NOISE_KINDS`).
        validation: Whether the held-out validation labels are as noisy as the training labels
            (``True``, a practitioner's situation) or clean (``False``, a small trusted set).

    Example:
        >>> LabelNoiseConfig(rate=0.4).kind
        'symmetric'
    """

    rate: float = 0.0
    kind: str = "symmetric"
    validation: bool = True


@dataclass(frozen=True)
class DataConfig:
    """``[data]``: which data set, how it is split and batched.

    Attributes:
        dataset: ``digits``, ``mnist``, ``cifar10``, ``svhn_cropped``, any TFDS image
            classification name, or ``"module:function"``.
        data_dir: TFDS data directory, resolved against the recipe's directory; ``""`` = the TFDS
            default.
        train_fraction: Fraction of the training split used for training, in (0, 1].
        validation_size: Examples held out of the training split to measure fitness.
        batch_size: Training batch size.
        augment: Augmentation of the training set.
        label_noise: Label noise added to the training (and validation) labels.

    Example:
        >>> DataConfig(dataset="cifar10", validation_size=5000).batch_size
        32
    """

    dataset: str = "digits"
    data_dir: str = ""
    train_fraction: float = 1.0
    validation_size: int = 300
    batch_size: int = 32
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    label_noise: LabelNoiseConfig = field(default_factory=LabelNoiseConfig)


@dataclass(frozen=True)
class ModelConfig:
    """``[model]``: the network trained with each candidate loss.

    Attributes:
        name: One of :data:`MODEL_NAMES` or ``"module:function"``.
        options: Keyword arguments for the model builder (a plain ``dict`` copy).

    Example:
        >>> ModelConfig(name="wide_resnet", options={"depth": 16, "width": 8}).options["width"]
        8
    """

    name: str = "basic_cnn"
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ScheduleConfig:
    """``training.schedule``: step decay of the learning rate.

    Attributes:
        decay_epochs: Epochs (strictly increasing) at which the rate is multiplied by ``gamma``.
        gamma: Decay factor in (0, 1].

    Example:
        >>> ScheduleConfig(decay_epochs=(80, 120), gamma=0.1).decay_epochs
        (80, 120)
    """

    decay_epochs: tuple[int, ...] = ()
    gamma: float = 0.1


@dataclass(frozen=True)
class Budget:
    """A training budget: exactly one of ``steps`` or ``epochs`` is set.

    Attributes:
        steps: Number of optimizer steps, or ``None``.
        epochs: Number of epochs, or ``None``.

    Example:
        >>> Budget(epochs=16).steps is None
        True
    """

    steps: int | None = None
    epochs: int | None = None


@dataclass(frozen=True)
class TrainingConfig:
    """``[training]``: optimizer, schedule and the two budgets.

    Attributes:
        optimizer: One of :data:`OPTIMIZERS`.
        learning_rate: Initial learning rate (> 0).
        momentum: Momentum in [0, 1) for ``momentum`` and ``nesterov`` (``sgd``, ``adam``: unused).
        weight_decay: Weight decay coefficient (>= 0), the literature's L2 value.
        schedule: Learning-rate decay.
        partial: Budget of one fitness evaluation.
        full: Budget of a full training (analysis, baselines).

    Example:
        >>> TrainingConfig().partial
        Budget(steps=300, epochs=None)
    """

    optimizer: str = "sgd"
    learning_rate: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 0.0
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    partial: Budget = field(default_factory=lambda: Budget(steps=300))
    full: Budget = field(default_factory=lambda: Budget(steps=3000))


@dataclass(frozen=True)
class LossConfig:
    """``[loss]``: the Taylor expansion searched over.

    Attributes:
        order: Expansion order k (1..6).
        inputs: Input names from :data:`INPUT_NAMES`; must contain ``label`` and ``prediction``.
        trim: Drop the terms that do not involve the prediction (paper Eq. 5).
        convention: ``paper`` (1/n over classes, factorials explicit) or ``lossferatu``.

    Example:
        >>> LossConfig().num_params
        8
    """

    order: int = 3
    inputs: tuple[str, ...] = ("label", "prediction")
    trim: bool = True
    convention: str = "paper"

    @property
    def num_params(self) -> int:
        """Length of θ for this expansion (centres plus kept coefficients)."""
        from .expansion import num_params

        return int(num_params(len(self.inputs), self.order, self.trim))


@dataclass(frozen=True)
class EvolutionConfig:
    """``[evolution]``: CMA-ES settings.

    Attributes:
        population: Candidates per generation (λ, >= 2).
        sigma: Initial step size σ0 (> 0).
        generations: Generation budget (>= 1).
        initial: ``"zeros"`` or the initial mean as a tuple of ``num_params`` floats.
        invariant_check: Give fitness 0 without training to candidates that fail the
            invariant pre-screen.

    Example:
        >>> EvolutionConfig(population=20).sigma
        1.2
    """

    population: int = 8
    sigma: float = 1.2
    generations: int = 10
    initial: str | tuple[float, ...] = "zeros"
    invariant_check: bool = False


@dataclass(frozen=True)
class AbortConfig:
    """``evaluation.abort``: stop hopeless trainings early.

    Attributes:
        threshold: Validation accuracy in [0, 1] below which the attempt is aborted...
        epoch: ...when checked at the end of this epoch (>= 1).

    Example:
        >>> AbortConfig().threshold
        0.15
    """

    threshold: float = 0.15
    epoch: int = 10


@dataclass(frozen=True)
class EvaluationConfig:
    """``[evaluation]``: how a candidate is scored.

    Attributes:
        attempts: Attempts per candidate when training aborts or fails (>= 1).
        abort: The abort rule.
        fitness: ``"validation_accuracy"`` or ``"module:function"`` called as
            ``function(theta: list[float], seed: int) -> float``.
        timeout: Seconds per attempt; 0 = no limit.

    Example:
        >>> EvaluationConfig().fitness
        'validation_accuracy'
    """

    attempts: int = 3
    abort: AbortConfig = field(default_factory=AbortConfig)
    fitness: str = DEFAULT_FITNESS
    timeout: float = 0.0


@dataclass(frozen=True)
class ExecutionConfig:
    """``[execution]``: where evaluations run.

    Attributes:
        executor: ``local`` (a pool of worker processes) or ``ray``.
        devices: ``"auto"`` (every visible GPU, else CPU), ``"cpu"``, or GPU indices.
        gpus_per_worker: GPUs per worker (> 1 trains under ``MirroredStrategy``).
        workers: Number of workers; 0 = one per device group.
        ray_address: Ray cluster address (``"auto"``, ``"host:port"``); ``""`` starts a local Ray.

    Example:
        >>> ExecutionConfig(devices=(0, 1)).devices
        (0, 1)
    """

    executor: str = "local"
    devices: str | tuple[int, ...] = "auto"
    gpus_per_worker: int = 1
    workers: int = 0
    ray_address: str = ""


@dataclass(frozen=True)
class Recipe:
    """A validated recipe. Equality compares the configuration, not where it came from.

    Attributes:
        experiment: ``[experiment]``.
        data: ``[data]``, or ``None`` when a custom fitness makes it unnecessary.
        model: ``[model]``, or ``None`` when a custom fitness makes it unnecessary.
        training: ``[training]``.
        loss: ``[loss]``.
        evolution: ``[evolution]``.
        evaluation: ``[evaluation]``.
        execution: ``[execution]``.
        source: The path as given, or ``"<string>"``.
        base_dir: Directory that relative paths and ``module:function`` names resolve against.
        text: The original TOML text (before overrides).

    Example:
        >>> recipe = load_default_recipe()
        >>> parse_recipe(recipe.to_toml()) == recipe
        True
    """

    experiment: ExperimentConfig
    data: DataConfig | None
    model: ModelConfig | None
    training: TrainingConfig
    loss: LossConfig
    evolution: EvolutionConfig
    evaluation: EvaluationConfig
    execution: ExecutionConfig
    source: str = field(default="<string>", compare=False)
    base_dir: Path = field(default_factory=Path.cwd, compare=False)
    text: str = field(default="", compare=False, repr=False)

    def initial_theta(self) -> list[float]:
        """The initial CMA-ES mean: zeros of ``loss.num_params``, or ``evolution.initial``.

        Returns:
            A new list of floats of length ``loss.num_params``.

        Example:
            >>> load_default_recipe().initial_theta()
            [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
        """
        if self.evolution.initial == "zeros":
            return [0.0] * self.loss.num_params
        return [float(v) for v in self.evolution.initial]

    def to_dict(self) -> dict[str, Any]:
        """The resolved recipe as plain data (JSON- and TOML-friendly).

        Sections that are ``None`` are left out, tuples become lists, and a budget keeps only its
        set key.

        Returns:
            ``{section: {key: value}}`` in canonical order.

        Example:
            >>> load_default_recipe().to_dict()["loss"]["inputs"]
            ['label', 'prediction']
        """
        out: dict[str, Any] = {}
        for name in SECTIONS:
            section = getattr(self, name)
            if section is not None:
                out[name] = _plain(section)
        return out

    def to_toml(self) -> str:
        """The resolved recipe (every default filled in) as TOML text.

        :func:`parse_recipe` turns the text back into an equal :class:`Recipe`.

        Returns:
            TOML text ending with a newline.

        Example:
            >>> print(load_default_recipe().to_toml().splitlines()[2])
            [experiment]
        """
        lines = [f"# resolved recipe: {self.source}", ""]
        for section, values in self.to_dict().items():
            lines.append(f"[{section}]")
            width = max(len(_toml_key(k)) for k in values) if values else 0
            for key, value in values.items():
                lines.append(f"{_toml_key(key).ljust(width)} = {_toml_value(value)}")
            lines.append("")
        return "\n".join(lines)

    def with_overrides(self, overrides: Sequence[str]) -> Recipe:
        """A copy of this recipe with ``section.key=value`` overrides applied and re-validated.

        Args:
            overrides: Strings such as ``"evolution.population=4"``.

        Returns:
            A new :class:`Recipe` with the same source, base directory and text.

        Raises:
            RecipeError: A malformed override or an invalid resulting value.

        Example:
            >>> load_default_recipe().with_overrides(["loss.order=2"]).loss.order
            2
        """
        raw = self.to_dict()
        checker = _Checker(self.source, self.base_dir)
        _apply_overrides(raw, overrides, checker)
        return _build(raw, checker, self.source, self.base_dir, self.text, None)


#: Section names in canonical order.
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
_REQUIRED = ("data", "model")


# -------------------------------------------------------------------------------------- loading


def load_recipe(path: str | os.PathLike[str], overrides: Sequence[str] = ()) -> Recipe:
    """Read, override and validate a recipe file.

    Args:
        path: The recipe's path. Relative paths inside it resolve against its directory.
        overrides: ``section.key=value`` strings applied before validation.

    Returns:
        The validated :class:`Recipe`.

    Raises:
        RecipeError: The file is missing or unreadable, is not valid TOML, or a value is invalid.

    Example:
        >>> load_recipe("recipes/digits.toml", ["evolution.generations=2"]).evolution.generations
        2
    """
    source = os.fspath(path)
    file = Path(source).expanduser()
    if not file.exists():
        raise RecipeError(source, "file", "no such file", expected="a path to a TOML recipe")
    if file.is_dir():
        raise RecipeError(
            source, "file", "is a directory, not a recipe", expected="a path to a TOML recipe"
        )
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise RecipeError(
            source, "file", f"is not UTF-8 text ({error.reason} at byte {error.start})"
        ) from None
    except OSError as error:
        raise RecipeError(source, "file", f"cannot be read: {error.strerror or error}") from None
    stem = re.sub(r"[^A-Za-z0-9._-]", "_", file.stem).lstrip("._-") or "recipe"
    return parse_recipe(
        text, source=source, overrides=overrides, base_dir=file.resolve().parent, default_name=stem
    )


def parse_recipe(
    text: str,
    source: str = "<string>",
    overrides: Sequence[str] = (),
    base_dir: Path | None = None,
    default_name: str | None = None,
) -> Recipe:
    r"""Parse and validate recipe text.

    Args:
        text: TOML text.
        source: Name used in error messages and stored in :attr:`Recipe.source`.
        overrides: ``section.key=value`` strings applied before validation.
        base_dir: Directory for relative paths and ``module:function`` names (default: cwd).
        default_name: ``experiment.name`` when the text has none (default ``"digits"``).

    Returns:
        The validated :class:`Recipe`.

    Raises:
        RecipeError: Invalid TOML, an unknown key, or an invalid value.

    Example:
        >>> parse_recipe("[data]\n[model]\n[loss]\norder = 2").loss.num_params
        5
    """
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    checker = _Checker(source, base)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise RecipeError(source, "toml", f"invalid TOML: {error}") from None
    _apply_overrides(raw, overrides, checker)
    return _build(raw, checker, source, base, text, default_name)


def load_default_recipe(overrides: Sequence[str] = ()) -> Recipe:
    """The embedded default recipe (a copy of ``recipes/digits.toml`` shipped in the package).

    Args:
        overrides: ``section.key=value`` strings applied before validation.

    Returns:
        The validated default :class:`Recipe` (offline digits, small CNN, CPU).

    Example:
        >>> load_default_recipe().data.dataset
        'digits'
    """
    from importlib import resources

    text = resources.files(__package__).joinpath("default_recipe.toml").read_text("utf-8")
    return parse_recipe(
        text,
        source="<default recipe>",
        overrides=overrides,
        base_dir=Path.cwd(),
        default_name="digits",
    )


# ------------------------------------------------------------------------------------ overrides


def _parse_override_value(text: str) -> Any:
    """A TOML value (``true``, ``3``, ``0.5``, ``[0, 1]``, ``"x"``, ``{steps = 5}``) or the text."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text  # a bare word such as `cpu` or `ray`: take it as a string


def _apply_overrides(raw: dict[str, Any], overrides: Sequence[str], checker: _Checker) -> None:
    """Apply ``a.b.c=value`` strings to the raw TOML dict, recording which paths they set."""
    for override in overrides:
        if not isinstance(override, str) or "=" not in override:
            raise RecipeError(
                "--set",
                str(override),
                "malformed override",
                expected="SECTION.KEY=VALUE, e.g. evolution.population=4",
            )
        path_text, value_text = override.split("=", 1)
        parts = [p.strip() for p in path_text.strip().split(".")]
        dotted = ".".join(parts)
        if len(parts) < 2 or not all(_BARE_KEY_RE.match(p) for p in parts):
            raise RecipeError(
                "--set",
                dotted or "(empty)",
                "malformed override key",
                got=override,
                expected="SECTION.KEY=VALUE, e.g. training.partial.steps=50",
            )
        if parts[0] not in SECTIONS:
            raise RecipeError(
                "--set",
                dotted,
                f"unknown section '{parts[0]}'{did_you_mean(parts[0], SECTIONS)}",
                expected=f"one of {', '.join(SECTIONS)}",
            )
        value = _parse_override_value(value_text.strip())
        node = raw
        for depth, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            elif not isinstance(child, dict):
                where = ".".join(parts[: depth + 1])
                raise RecipeError(
                    "--set", dotted, f"'{where}' is not a table", got=child, expected="a table"
                )
            node = child
        leaf = parts[-1]
        # A budget holds exactly one of steps/epochs: setting one replaces the other, so that
        # `--set training.partial.steps=50` works on a recipe that counts epochs.
        if len(parts) == 3 and parts[0] == "training" and parts[1] in ("partial", "full"):
            other = {"steps": "epochs", "epochs": "steps"}.get(leaf)
            if other is not None:
                node.pop(other, None)
        node[leaf] = value
        checker.overridden.add(dotted)


# ----------------------------------------------------------------------------------- validation


class _Checker:
    """Carries the error context: which file, and which fields came from ``--set``."""

    def __init__(self, file: str, base_dir: Path) -> None:
        self.file = file
        self.base_dir = base_dir
        self.overridden: set[str] = set()

    def origin(self, field_name: str) -> str:
        """``--set`` if an override set this field (or a table containing it), else the file."""
        for path in self.overridden:
            if field_name == path or field_name.startswith(path + "."):
                return "--set"
            if path.startswith(field_name + "."):
                return "--set"
        return self.file

    def error(
        self, field_name: str, problem: str, got: Any = _MISSING, expected: str | None = None
    ) -> RecipeError:
        kwargs: dict[str, Any] = {"expected": expected}
        if got is not _MISSING:
            kwargs["got"] = got
        return RecipeError(self.origin(field_name), field_name, problem, **kwargs)

    # --- typed getters -------------------------------------------------------------------------

    def table(self, name: str, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.error(name, "must be a table", value, f"a table, e.g. {name} = {{ ... }}")
        return value

    def keys(self, name: str, table: Mapping[str, Any], allowed: Sequence[str]) -> None:
        for key in table:
            if key not in allowed:
                hint = did_you_mean(key, allowed, prefix=name + ".")
                if not hint and key in SECTIONS:
                    # `training = {...}` written below a [model] header lands inside [model]
                    hint = f"; '{key}' is a section: write it as a [{key}] header"
                raise self.error(
                    f"{name}.{key}",
                    f"unknown key{hint}",
                    expected=f"one of {', '.join(allowed)}",
                )

    def boolean(self, name: str, value: Any) -> bool:
        if not isinstance(value, bool):
            raise self.error(name, "must be a boolean", value, "true or false")
        return value

    def integer(
        self, name: str, value: Any, minimum: int | None = None, maximum: int | None = None
    ) -> int:
        expected = _int_range(minimum, maximum)
        if isinstance(value, bool) or not isinstance(value, int):
            problem = "must be an integer"
            if isinstance(value, bool):
                problem += ", not a boolean"
            raise self.error(name, problem, value, expected)
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            raise self.error(name, "out of range", value, expected)
        return value

    def number(
        self,
        name: str,
        value: Any,
        low: float | None = None,
        high: float | None = None,
        low_open: bool = False,
        high_open: bool = False,
    ) -> float:
        expected = _float_range(low, high, low_open, high_open)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            problem = "must be a number"
            if isinstance(value, bool):
                problem += ", not a boolean"
            raise self.error(name, problem, value, expected)
        number = float(value)
        if not math.isfinite(number):
            raise self.error(name, "must be finite", value, expected)
        too_low = low is not None and (number <= low if low_open else number < low)
        too_high = high is not None and (number >= high if high_open else number > high)
        if too_low or too_high:
            raise self.error(name, "out of range", value, expected)
        return number

    def string(self, name: str, value: Any, expected: str = "a string") -> str:
        if not isinstance(value, str):
            raise self.error(name, "must be a string", value, expected)
        return value

    def choice(self, name: str, value: Any, choices: Sequence[str]) -> str:
        expected = "one of " + ", ".join(f'"{c}"' for c in choices)
        value = self.string(name, value, expected)
        if value not in choices:
            raise self.error(name, f"unknown value{did_you_mean(value, choices)}", value, expected)
        return value

    def callable_spec(self, name: str, value: str, builtin: str) -> str:
        """Check the syntax of a ``module:function`` and that its module can be found."""
        match = CALLABLE_RE.match(value)
        expected = (
            f'{builtin} or "module:function" (module in the recipe\'s directory or on sys.path)'
        )
        if match is None:
            raise self.error(name, "not a known name or a module:function", value, expected)
        problem = locate_module(match["module"], self.base_dir)
        if problem is not None:
            raise self.error(name, problem, value, expected)
        return value


def _int_range(minimum: int | None, maximum: int | None) -> str:
    if minimum is not None and maximum is not None:
        return f"an integer from {minimum} to {maximum}"
    if minimum is not None:
        return f"an integer >= {minimum}"
    if maximum is not None:
        return f"an integer <= {maximum}"
    return "an integer"


def _float_range(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    def fmt(x: float) -> str:
        return f"{x:g}"

    if low is not None and high is not None:
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        return f"a number in {left}{fmt(low)}, {fmt(high)}{right}"
    if low is not None:
        return f"a number {'>' if low_open else '>='} {fmt(low)}"
    if high is not None:
        return f"a number {'<' if high_open else '<='} {fmt(high)}"
    return "a number"


def _build(
    raw: dict[str, Any],
    checker: _Checker,
    source: str,
    base_dir: Path,
    text: str,
    default_name: str | None,
) -> Recipe:
    """Validate the raw (overridden) TOML dict section by section into a :class:`Recipe`."""
    for key, value in raw.items():
        if key in SECTIONS:
            continue
        if isinstance(value, dict):
            problem = f"unknown section{did_you_mean(key, SECTIONS)}"
        else:
            owners = [s for s in SECTIONS if key in _SECTION_KEYS[s]]
            hint = f"; did you mean '{owners[0]}.{key}'?" if owners else ""
            problem = f"unknown top-level key (keys belong in a [section]){hint}"
        raise checker.error(key, problem, expected=f"sections {', '.join(SECTIONS)}")

    tables = {name: checker.table(name, raw.get(name, {})) for name in SECTIONS}
    for name in SECTIONS:
        checker.keys(name, tables[name], _SECTION_KEYS[name])

    experiment = _experiment(tables["experiment"], checker, default_name)
    evaluation = _evaluation(tables["evaluation"], checker)
    custom_fitness = evaluation.fitness != DEFAULT_FITNESS
    data = model = None
    for name in _REQUIRED:
        if name not in raw and not custom_fitness:
            raise RecipeError(
                checker.file,
                name,
                f"missing required section [{name}]",
                expected=f"a [{name}] table (optional only when evaluation.fitness is "
                '"module:function")',
            )
    if "data" in raw:
        data = _data(tables["data"], checker)
    if "model" in raw:
        model = _model(tables["model"], checker)
    training = _training(tables["training"], checker)
    loss = _loss(tables["loss"], checker)
    evolution = _evolution(tables["evolution"], checker, loss)
    execution = _execution(tables["execution"], checker)
    return Recipe(
        experiment=experiment,
        data=data,
        model=model,
        training=training,
        loss=loss,
        evolution=evolution,
        evaluation=evaluation,
        execution=execution,
        source=source,
        base_dir=base_dir,
        text=text,
    )


def _get(table: Mapping[str, Any], key: str, default: Any) -> Any:
    return table[key] if key in table else default


def _experiment(t: dict[str, Any], c: _Checker, default_name: str | None) -> ExperimentConfig:
    d = ExperimentConfig()
    name = c.string("experiment.name", _get(t, "name", default_name or d.name))
    if not _NAME_RE.match(name):
        raise c.error(
            "experiment.name",
            "empty" if not name else "not usable as a directory name",
            name,
            "1-100 letters, digits, '.', '_' or '-', starting with a letter or digit",
        )
    seed = c.integer("experiment.seed", _get(t, "seed", d.seed), minimum=0)
    return ExperimentConfig(name=name, seed=seed)


def _data(t: dict[str, Any], c: _Checker) -> DataConfig:
    d = DataConfig()
    expected = (
        "a data set name (digits, mnist, cifar10, svhn_cropped or any TFDS name) "
        'or "module:function"'
    )
    dataset = c.string("data.dataset", _get(t, "dataset", d.dataset), expected)
    if not dataset.strip():
        raise c.error("data.dataset", "empty", dataset, expected)
    if not _TFDS_RE.match(dataset):
        dataset = c.callable_spec(
            "data.dataset", dataset, "digits, mnist, cifar10, svhn_cropped, a TFDS name"
        )
    data_dir = c.string("data.data_dir", _get(t, "data_dir", d.data_dir), 'a directory path or ""')
    if data_dir:
        path = Path(data_dir).expanduser()
        data_dir = str(path if path.is_absolute() else (c.base_dir / path).resolve())
    train_fraction = c.number(
        "data.train_fraction", _get(t, "train_fraction", d.train_fraction), 0, 1, low_open=True
    )
    validation_size = c.integer(
        "data.validation_size", _get(t, "validation_size", d.validation_size), minimum=1
    )
    batch_size = c.integer("data.batch_size", _get(t, "batch_size", d.batch_size), minimum=1)
    a = c.table("data.augment", _get(t, "augment", {}))
    c.keys("data.augment", a, [f.name for f in dataclasses.fields(AugmentConfig)])
    da = AugmentConfig()
    augment = AugmentConfig(
        flip=c.boolean("data.augment.flip", _get(a, "flip", da.flip)),
        crop_padding=c.integer(
            "data.augment.crop_padding", _get(a, "crop_padding", da.crop_padding), minimum=0
        ),
        cutout=c.integer("data.augment.cutout", _get(a, "cutout", da.cutout), minimum=0),
    )
    n = c.table("data.label_noise", _get(t, "label_noise", {}))
    c.keys("data.label_noise", n, [f.name for f in dataclasses.fields(LabelNoiseConfig)])
    dn = LabelNoiseConfig()
    label_noise = LabelNoiseConfig(
        rate=c.number("data.label_noise.rate", _get(n, "rate", dn.rate), 0, 1, high_open=True),
        kind=c.choice("data.label_noise.kind", _get(n, "kind", dn.kind), LABEL_NOISE_KINDS),
        validation=c.boolean("data.label_noise.validation", _get(n, "validation", dn.validation)),
    )
    return DataConfig(
        dataset=dataset,
        data_dir=data_dir,
        train_fraction=train_fraction,
        validation_size=validation_size,
        batch_size=batch_size,
        augment=augment,
        label_noise=label_noise,
    )


def _model(t: dict[str, Any], c: _Checker) -> ModelConfig:
    d = ModelConfig()
    expected = "one of " + ", ".join(MODEL_NAMES) + ' or "module:function"'
    name = c.string("model.name", _get(t, "name", d.name), expected)
    if name not in MODEL_NAMES:
        if ":" not in name:
            raise c.error(
                "model.name", f"unknown model{did_you_mean(name, MODEL_NAMES)}", name, expected
            )
        name = c.callable_spec("model.name", name, "one of " + ", ".join(MODEL_NAMES))
    options = c.table("model.options", _get(t, "options", {}))
    return ModelConfig(name=name, options=_deep_copy(options))


def _budget(t: Any, c: _Checker, name: str, default: Budget) -> Budget:
    if t is _MISSING:
        return default
    expected = f"{{ steps = N }} or {{ epochs = N }} with N >= 1, e.g. {name} = {{ steps = 300 }}"
    table = c.table(name, t)
    c.keys(name, table, ["steps", "epochs"])
    if ("steps" in table) == ("epochs" in table):
        problem = "set both steps and epochs" if table else "set neither steps nor epochs"
        raise c.error(name, f"{problem}; a budget needs exactly one", table, expected)
    key = "steps" if "steps" in table else "epochs"
    value = c.integer(f"{name}.{key}", table[key], minimum=1)
    return Budget(**{key: value})


def _training(t: dict[str, Any], c: _Checker) -> TrainingConfig:
    d = TrainingConfig()
    optimizer = c.choice("training.optimizer", _get(t, "optimizer", d.optimizer), OPTIMIZERS)
    learning_rate = c.number(
        "training.learning_rate", _get(t, "learning_rate", d.learning_rate), 0, low_open=True
    )
    momentum = c.number("training.momentum", _get(t, "momentum", d.momentum), 0, 1, high_open=True)
    weight_decay = c.number("training.weight_decay", _get(t, "weight_decay", d.weight_decay), 0)
    s = c.table("training.schedule", _get(t, "schedule", {}))
    c.keys("training.schedule", s, ["decay_epochs", "gamma"])
    epochs = _get(s, "decay_epochs", [])
    expected = "a list of strictly increasing integers >= 1, e.g. [80, 120]"
    if not isinstance(epochs, list):
        raise c.error("training.schedule.decay_epochs", "must be a list", epochs, expected)
    for i, epoch in enumerate(epochs):
        c.integer(f"training.schedule.decay_epochs[{i}]", epoch, minimum=1)
        if i and epoch <= epochs[i - 1]:
            raise c.error(
                "training.schedule.decay_epochs", "not strictly increasing", epochs, expected
            )
    gamma = c.number(
        "training.schedule.gamma", _get(s, "gamma", ScheduleConfig().gamma), 0, 1, low_open=True
    )
    return TrainingConfig(
        optimizer=optimizer,
        learning_rate=learning_rate,
        momentum=momentum,
        weight_decay=weight_decay,
        schedule=ScheduleConfig(decay_epochs=tuple(epochs), gamma=gamma),
        partial=_budget(_get(t, "partial", _MISSING), c, "training.partial", d.partial),
        full=_budget(_get(t, "full", _MISSING), c, "training.full", d.full),
    )


def _loss(t: dict[str, Any], c: _Checker) -> LossConfig:
    d = LossConfig()
    order = c.integer("loss.order", _get(t, "order", d.order), minimum=1, maximum=MAX_ORDER)
    inputs = _get(t, "inputs", list(d.inputs))
    expected = (
        'a list of unique names from "label", "prediction", "progress" with label and prediction'
    )
    if not isinstance(inputs, list):
        raise c.error("loss.inputs", "must be a list", inputs, expected)
    for i, name in enumerate(inputs):
        if not isinstance(name, str) or name not in INPUT_NAMES:
            raise c.error(
                f"loss.inputs[{i}]",
                "unknown input"
                + (did_you_mean(name, INPUT_NAMES) if isinstance(name, str) else ""),
                name,
                expected,
            )
    if len(set(inputs)) != len(inputs):
        raise c.error("loss.inputs", "duplicate input", inputs, expected)
    for required in ("label", "prediction"):
        if required not in inputs:
            raise c.error("loss.inputs", f'must contain "{required}"', inputs, expected)
    trim = c.boolean("loss.trim", _get(t, "trim", d.trim))
    convention = c.choice("loss.convention", _get(t, "convention", d.convention), CONVENTIONS)
    return LossConfig(order=order, inputs=tuple(inputs), trim=trim, convention=convention)


def _evolution(t: dict[str, Any], c: _Checker, loss: LossConfig) -> EvolutionConfig:
    d = EvolutionConfig()
    population = c.integer("evolution.population", _get(t, "population", d.population), minimum=2)
    sigma = c.number("evolution.sigma", _get(t, "sigma", d.sigma), 0, low_open=True)
    generations = c.integer(
        "evolution.generations", _get(t, "generations", d.generations), minimum=1
    )
    initial = _get(t, "initial", d.initial)
    n = loss.num_params
    why = (
        f"{len(loss.inputs)} inputs, order {loss.order}, {'trimmed' if loss.trim else 'untrimmed'}"
    )
    expected = f'"zeros" or a list of {n} numbers ({why})'
    if isinstance(initial, str):
        if initial != "zeros":
            raise c.error("evolution.initial", "unknown initial point", initial, expected)
    elif isinstance(initial, list):
        if len(initial) != n:
            raise c.error(
                "evolution.initial", f"wrong length {len(initial)}, need {n}", initial, expected
            )
        initial = tuple(c.number(f"evolution.initial[{i}]", v) for i, v in enumerate(initial))
    else:
        raise c.error("evolution.initial", 'must be "zeros" or a list', initial, expected)
    invariant_check = c.boolean(
        "evolution.invariant_check", _get(t, "invariant_check", d.invariant_check)
    )
    return EvolutionConfig(
        population=population,
        sigma=sigma,
        generations=generations,
        initial=initial,
        invariant_check=invariant_check,
    )


def _evaluation(t: dict[str, Any], c: _Checker) -> EvaluationConfig:
    d = EvaluationConfig()
    attempts = c.integer("evaluation.attempts", _get(t, "attempts", d.attempts), minimum=1)
    a = c.table("evaluation.abort", _get(t, "abort", {}))
    c.keys("evaluation.abort", a, ["threshold", "epoch"])
    abort = AbortConfig(
        threshold=c.number(
            "evaluation.abort.threshold", _get(a, "threshold", d.abort.threshold), 0, 1
        ),
        epoch=c.integer("evaluation.abort.epoch", _get(a, "epoch", d.abort.epoch), minimum=1),
    )
    fitness = c.string(
        "evaluation.fitness",
        _get(t, "fitness", d.fitness),
        f'"{DEFAULT_FITNESS}" or "module:function"',
    )
    if fitness != DEFAULT_FITNESS:
        if ":" not in fitness:
            raise c.error(
                "evaluation.fitness",
                f"unknown fitness{did_you_mean(fitness, [DEFAULT_FITNESS])}",
                fitness,
                f'"{DEFAULT_FITNESS}" or "module:function"',
            )
        fitness = c.callable_spec("evaluation.fitness", fitness, f'"{DEFAULT_FITNESS}"')
    timeout = c.number("evaluation.timeout", _get(t, "timeout", d.timeout), 0)
    return EvaluationConfig(attempts=attempts, abort=abort, fitness=fitness, timeout=timeout)


def _execution(t: dict[str, Any], c: _Checker) -> ExecutionConfig:
    d = ExecutionConfig()
    executor = c.choice("execution.executor", _get(t, "executor", d.executor), EXECUTORS)
    devices = _get(t, "devices", d.devices)
    expected = '"auto", "cpu" or a non-empty list of unique GPU indices, e.g. [0, 1]'
    if isinstance(devices, str):
        if devices not in ("auto", "cpu"):
            raise c.error(
                "execution.devices",
                f"unknown device setting{did_you_mean(devices, ['auto', 'cpu'])}",
                devices,
                expected,
            )
    elif isinstance(devices, list):
        if not devices:
            raise c.error("execution.devices", "empty list", devices, expected)
        for i, index in enumerate(devices):
            c.integer(f"execution.devices[{i}]", index, minimum=0)
        if len(set(devices)) != len(devices):
            raise c.error("execution.devices", "duplicate GPU index", devices, expected)
        devices = tuple(devices)
    else:
        raise c.error("execution.devices", "must be a string or a list", devices, expected)
    gpus_per_worker = c.integer(
        "execution.gpus_per_worker", _get(t, "gpus_per_worker", d.gpus_per_worker), minimum=1
    )
    if isinstance(devices, tuple) and len(devices) % gpus_per_worker:
        raise c.error(
            "execution.gpus_per_worker",
            f"{len(devices)} listed GPUs cannot be split into groups of {gpus_per_worker}",
            gpus_per_worker,
            f"a divisor of {len(devices)} (the length of execution.devices)",
        )
    workers = c.integer("execution.workers", _get(t, "workers", d.workers), minimum=0)
    ray_address = c.string(
        "execution.ray_address",
        _get(t, "ray_address", d.ray_address),
        '"", "auto" or "host:port"',
    )
    return ExecutionConfig(
        executor=executor,
        devices=devices,
        gpus_per_worker=gpus_per_worker,
        workers=workers,
        ray_address=ray_address,
    )


_SECTION_KEYS: dict[str, tuple[str, ...]] = {
    "experiment": tuple(f.name for f in dataclasses.fields(ExperimentConfig)),
    "data": tuple(f.name for f in dataclasses.fields(DataConfig)),
    "model": tuple(f.name for f in dataclasses.fields(ModelConfig)),
    "training": tuple(f.name for f in dataclasses.fields(TrainingConfig)),
    "loss": tuple(f.name for f in dataclasses.fields(LossConfig)),
    "evolution": tuple(f.name for f in dataclasses.fields(EvolutionConfig)),
    "evaluation": tuple(f.name for f in dataclasses.fields(EvaluationConfig)),
    "execution": tuple(f.name for f in dataclasses.fields(ExecutionConfig)),
}


# ------------------------------------------------------------- validate-time check of callables

#: How the package calls each recipe function: the positional arguments it passes (their names,
#: for messages). ``data.dataset`` functions without parameters are called with none.
_CALLED_WITH = {
    "data.dataset": ("seed",),
    "model.name": ("input_shape", "num_classes"),
    "evaluation.fitness": ("theta", "seed"),
}


def check_callables(recipe: Recipe, overrides: Sequence[str] = ()) -> None:
    """Check the functions a recipe names and the model's options, without running them.

    ``parse_recipe`` only checks that a ``module:function``'s module can be found. This goes
    further, the way ``keras-taylorglo validate`` and ``search`` need before any worker starts:
    the function must exist (a misspelt name gets a "did you mean"), accept the arguments the
    package passes (``data.dataset``: ``(seed)`` or nothing; ``model.name``: ``(input_shape,
    num_classes, **model.options)``; ``evaluation.fitness``: ``(theta, seed)``), and every
    ``model.options`` key must be an option of the model (built-in models: also of the type of
    its default). A module's source is read (``ast``), not run, when the function is a plain
    top-level ``def``, so a module that imports Keras costs no TensorFlow start-up; anything
    else (a class, a decorated or re-exported function) is imported. The modules a checked
    source imports at its top level must be installed.

    Args:
        recipe: A validated recipe.
        overrides: The ``--set`` strings it was loaded with, so that a problem they caused names
            ``--set`` instead of the file.

    Raises:
        RecipeError: One line naming the file (or ``--set``), the field and the problem.

    Example:
        >>> check_callables(load_default_recipe())  # built-in data set and model: options checked
    """
    checker = _Checker(recipe.source, Path(recipe.base_dir))
    for item in overrides:
        path = str(item).split("=", 1)[0]
        checker.overridden.add(".".join(p.strip() for p in path.strip().split(".")))
    if recipe.data is not None and not _TFDS_RE.match(recipe.data.dataset):
        _check_call(checker, "data.dataset", recipe.data.dataset, {})
    if recipe.model is not None:
        options = dict(recipe.model.options or {})
        if recipe.model.name in MODEL_NAMES:
            _check_builtin_options(checker, recipe.model.name, options)
        else:
            _check_call(checker, "model.name", recipe.model.name, options)
    if recipe.evaluation.fitness != DEFAULT_FITNESS:
        _check_call(checker, "evaluation.fitness", recipe.evaluation.fitness, {})


class _NoDefault:
    """A default the source does not spell as a literal (``seed=SEED``): present, value unknown."""

    def __repr__(self) -> str:
        return "…"


def _ast_signature(args: Any) -> inspect.Signature:
    """An :class:`inspect.Signature` from a parsed ``def``'s arguments (defaults as literals)."""

    def default(node: Any) -> Any:
        try:
            return ast.literal_eval(node)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            return _NoDefault()

    kind = inspect.Parameter
    positional = [*args.posonlyargs, *args.args]
    first_default = len(positional) - len(args.defaults)
    params = [
        kind(
            a.arg,
            kind.POSITIONAL_ONLY if i < len(args.posonlyargs) else kind.POSITIONAL_OR_KEYWORD,
            default=default(args.defaults[i - first_default]) if i >= first_default else kind.empty,
        )
        for i, a in enumerate(positional)
    ]
    if args.vararg is not None:
        params.append(kind(args.vararg.arg, kind.VAR_POSITIONAL))
    for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True):
        params.append(
            kind(a.arg, kind.KEYWORD_ONLY, default=kind.empty if d is None else default(d))
        )
    if args.kwarg is not None:
        params.append(kind(args.kwarg.arg, kind.VAR_KEYWORD))
    return inspect.Signature(params)


def _module_source(module: str, base_dir: Path) -> Path | None:
    """The ``.py`` file of a module, found without running it (None: not plain source)."""
    if is_path_module(module):
        path = Path(module).expanduser()
        return (path if path.is_absolute() else base_dir / path).resolve()
    if module in sys.modules:
        return None  # already imported: its real function is free to inspect
    try:
        with on_sys_path(base_dir):
            spec = importlib.util.find_spec(module)
    except Exception:  # noqa: BLE001 - parse_recipe reported what it could; importing will say
        return None
    origin = getattr(spec, "origin", None)
    return Path(origin) if origin and origin.endswith(".py") else None


def _bound_names(body: list[Any]) -> tuple[dict[str, Any], bool]:
    """Top-level names a module binds (also inside if/try/with), and whether it is dynamic."""
    names: dict[str, Any] = {}
    dynamic = False
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names[node.name] = node
            dynamic |= node.name == "__getattr__"
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name == "*":
                    dynamic = True
                else:
                    names[alias.asname or alias.name.split(".")[0]] = node
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for leaf in ast.walk(target):
                    if isinstance(leaf, ast.Name):
                        names[leaf.id] = node
        elif isinstance(node, (ast.If, ast.Try, ast.With, ast.For, ast.While)):
            blocks = [getattr(node, a, []) for a in ("body", "orelse", "finalbody")]
            blocks += [h.body for h in getattr(node, "handlers", [])]
            for block in blocks:
                inner, more = _bound_names(block)
                # a name bound only conditionally is "something else": the import decides
                names.update({k: node for k in inner})
                dynamic |= more
    return names, dynamic


def _missing_imports(body: list[Any], where: list[Path]) -> str | None:
    """The first top-level ``import`` of a module source that is not installed, if any."""
    for node in body:
        if isinstance(node, ast.Import):
            wanted = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            wanted = [node.module]
        else:
            continue
        for name in wanted:
            top = name.split(".")[0]
            if top in sys.modules or top == "__future__":
                continue
            try:
                with contextlib.ExitStack() as stack:
                    for directory in where:
                        stack.enter_context(on_sys_path(directory))
                    found = importlib.util.find_spec(top) is not None
            except (ImportError, ValueError):
                found = False
            if not found:
                return top
    return None


def _static_signature(
    checker: _Checker, field_name: str, spec: str
) -> tuple[str, inspect.Signature | None] | None:
    """``(name, signature)`` read from the module's source, or None when it must be imported.

    Raises:
        RecipeError: The source has a syntax error, imports a module that is not installed, or
            defines no such function.
    """
    match = CALLABLE_RE.match(spec)
    if match is None or "." in match["function"]:
        return None  # "module:Class.method": only importing can tell
    module, function = match["module"], match["function"]
    path = _module_source(module, checker.base_dir)
    if path is None or not path.is_file():
        return None
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except SyntaxError as error:
        raise checker.error(
            field_name,
            f"module '{module}' has a syntax error at line {error.lineno}: {error.msg}",
            spec,
        ) from None
    except (OSError, ValueError):
        return None
    names, dynamic = _bound_names(tree.body)
    missing = _missing_imports(tree.body, [path.parent, checker.base_dir])
    if missing is not None:
        raise checker.error(
            field_name,
            f"module '{module}' imports '{missing}', which is not installed",
            spec,
            f"'{missing}' importable from {checker.base_dir} or the Python path",
        )
    node = names.get(function)
    if node is None:
        if dynamic:
            return None
        public = [n for n in names if not n.startswith("_")]
        raise checker.error(
            field_name,
            f"module '{module}' has no attribute '{function}'{did_you_mean(function, public)}",
            spec,
            f"a function defined in {path.name}",
        )
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not node.decorator_list:
        return function, _ast_signature(node.args)
    return None


def _signature_of(checker: _Checker, field_name: str, spec: str) -> tuple[str, Any]:
    """The function's name and signature (None if it has none), statically or by importing."""
    found = _static_signature(checker, field_name, spec)
    if found is not None:
        return found
    origin = checker.origin(field_name)
    target = resolve_callable(spec, checker.base_dir, field_name, origin)
    try:
        signature = inspect.signature(target)
    except (TypeError, ValueError):  # some builtins and C extensions have none
        signature = None
    return spec.rsplit(":", 1)[1], signature


def _check_call(checker: _Checker, field_name: str, spec: str, options: dict[str, Any]) -> None:
    """The function exists and accepts the arguments (and options) the package passes."""
    name, signature = _signature_of(checker, field_name, spec)
    if signature is None:
        return
    args = _CALLED_WITH[field_name]
    if field_name == "data.dataset" and not signature.parameters:
        return  # called without arguments
    call = f"{name}({', '.join(args)}{', **model.options' if field_name == 'model.name' else ''})"
    accepts_any = any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values())
    keywords = [
        p.name
        for p in list(signature.parameters.values())[len(args) :]
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]
    if not accepts_any:
        for key in options:
            if key not in keywords:
                raise checker.error(
                    f"model.options.{key}",
                    f"not an option of {spec}{did_you_mean(key, keywords)}",
                    expected=(f"one of {', '.join(keywords)}" if keywords else "no options")
                    + ", or a builder taking **kwargs",
                )
    try:
        signature.bind(*args, **options)
    except TypeError as error:
        needed = re.search(r"missing a required (?:keyword-only )?argument: '(\w+)'", str(error))
        first = list(signature.parameters)[: len(args)]
        if needed and field_name == "model.name" and needed[1] not in first:
            raise checker.error(
                "model.options",
                f"{spec} needs option '{needed[1]}'",
                options,
                f"model.options with {needed[1]} (the parameters of {name}{signature})",
            ) from None
        raise checker.error(
            field_name,
            f"{name}{signature} cannot be called as {call}: {error}",
            spec,
            f"a function taking {call}",
        ) from None


def _option_type(default: Any) -> tuple[tuple[type, ...], str] | None:
    """The types a built-in model option accepts, judged from its default (None: any)."""
    if isinstance(default, bool):
        return (bool,), "true or false"
    if isinstance(default, int):
        return (int,), "an integer"
    if isinstance(default, float):
        return (int, float), "a number"
    if isinstance(default, (tuple, list)):
        return (list, tuple), "a list"
    if isinstance(default, str):
        return (str,), "a string"
    return None


def _check_builtin_options(checker: _Checker, model: str, options: dict[str, Any]) -> None:
    """Every option is a keyword of the built-in builder, of the type of its default."""
    from .models import builder_source

    path = builder_source(model)
    tree = ast.parse(path.read_bytes(), filename=str(path))
    node = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == model)
    params = list(_ast_signature(node.args).parameters.values())[2:]
    allowed = {p.name: p.default for p in params if p.name != "seed"}
    for key, value in options.items():
        if key not in allowed:
            raise checker.error(
                f"model.options.{key}",
                f"not an option of {model}{did_you_mean(key, list(allowed))}",
                expected=f"one of {', '.join(allowed)}",
            )
        accepted = _option_type(allowed[key])
        if accepted is None:
            continue
        types, text = accepted
        if isinstance(value, bool) and bool not in types or not isinstance(value, types):
            raise checker.error(
                f"model.options.{key}",
                f"wrong type for {model}",
                value,
                f"{text}, like its default {_show_default(allowed[key])}",
            )


def _show_default(value: Any) -> str:
    if isinstance(value, tuple):
        value = list(value)
    return _toml_value(value)


# ------------------------------------------------------------------------------ serialisation


def _deep_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value


def _plain(value: Any) -> Any:
    """Dataclasses to dicts (budgets without their unset key), tuples to lists."""
    if isinstance(value, Budget):
        return {"steps": value.steps} if value.steps is not None else {"epochs": value.epochs}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _toml_key(key: str) -> str:
    return key if _BARE_KEY_RE.match(key) else _toml_string(key)


def _toml_string(text: str) -> str:
    out = ['"']
    for ch in text:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _toml_value(value: Any) -> str:
    """One TOML value on one line (inline tables for dicts, TOML 1.0)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        if not value:
            return "{}"
        items = ", ".join(f"{_toml_key(str(k))} = {_toml_value(v)}" for k, v in value.items())
        return "{ " + items + " }"
    raise TypeError(f"cannot write {type(value).__name__} as TOML: {value!r}")
