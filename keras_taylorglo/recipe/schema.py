"""The recipe's schema: its sections as frozen dataclasses, and the values they allow.

Each ``[section]`` of a recipe is one frozen dataclass whose defaults are the recipe's
defaults; :class:`~keras_taylorglo.recipe.Recipe` holds one of each. A field is written once,
here: its name, type and default, and (through :func:`spec`) what it allows. The validator
(:mod:`.validation`) reads those fields and checks every value by them; nothing here checks
values itself.

This module imports no TensorFlow or Keras.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

#: Built-in model names (``model.name``); anything else must be a ``"module:function"``.
MODEL_NAMES = ("basic_cnn", "alexnet", "allcnn_c", "preact_resnet20", "wide_resnet")
#: ``training.optimizer`` values. ``sgd`` is plain SGD (``momentum`` is not used); ``momentum``
#: is SGD with heavy-ball momentum; ``nesterov`` is SGD with Nesterov momentum.
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam")
#: ``loss.inputs`` names, in the order the expansion lays out θ.
INPUT_NAMES = ("label", "prediction", "progress")
#: ``loss.convention`` values (see the loss documentation).
CONVENTIONS = ("paper", "lossferatu")
#: ``training.precision`` values: Keras mixed-precision policies (the loss stays float32).
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")
#: ``training.jit_compile`` values besides ``true`` / ``false``.
JIT_COMPILE_AUTO = "auto"
#: ``execution.executor`` values.
EXECUTORS = ("local", "ray")
#: The built-in fitness: validation accuracy at the end of the partial training.
DEFAULT_FITNESS = "validation_accuracy"
#: ``evaluation.rule`` values: how aborted and failed attempts count (the rules are written in
#: :mod:`keras_taylorglo.search.trial`): the paper's retries, or every attempt counting.
FITNESS_RULES = ("paper", "every_attempt")
#: ``evaluation.aggregate`` values: how a candidate's seed slots make its fitness.
AGGREGATES = ("mean", "median", "min")
#: ``evolution.finalists.budget`` values: the budget a finalist is re-scored with.
FINALIST_BUDGETS = ("partial", "full")
#: Largest expansion order accepted (θ grows quickly: 3 inputs at order 6 is already 83 values).
MAX_ORDER = 6

# A TFDS data set name, optionally with a config and a version: "svhn_cropped", "cifar10:3.*.*",
# "imagenet2012_subset/1pct:5.0.0".
_TFDS_RE = re.compile(r"^[a-z0-9_]+(?:/[A-Za-z0-9_.\-]+)?(?::[0-9*]+(?:\.[0-9*]+){0,2})?$")
# Safe as a directory name on every OS: no separators, no leading dot, no spaces.
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_BARE_KEY_RE = re.compile(r"^[A-Za-z0-9_-]+$")

_MISSING: Any = object()


def spec(
    default: Any = dataclasses.MISSING,
    *,
    factory: Callable[[], Any] | None = None,
    rule: str | None = None,
    minimum: int | None = None,
    maximum: int | None = None,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    choices: Sequence[str] | None = None,
    expected: str | None = None,
) -> Any:
    """A dataclass field whose metadata says what a recipe may set it to.

    The validator checks a field by its type (``bool``, ``int``, ``float``, ``str``, or a
    nested section dataclass, which is a TOML table) narrowed by these limits, or, where a
    value needs more than that, by the named ``rule`` of :mod:`.validation`. A field with no
    limits needs no ``spec``: a plain default is checked by its type alone.

    Args:
        default: The default value (immutable).
        factory: Makes the default instead, for mutable or nested defaults.
        rule: A named check of :mod:`.validation` (``"devices"``, ``"budget"``, ...) that replaces
            the check by type.
        minimum: Smallest ``int`` allowed.
        maximum: Largest ``int`` allowed.
        low: Lower bound of a ``float``.
        high: Upper bound of a ``float``.
        low_open: ``low`` itself is not allowed.
        high_open: ``high`` itself is not allowed.
        choices: The strings a ``str`` may be.
        expected: What a ``str`` should be, in words, for error messages.

    Returns:
        A :func:`dataclasses.field` carrying the given limits as metadata.

    Example:
        >>> @dataclass(frozen=True)
        ... class Example:
        ...     size: int = spec(4, minimum=1)
        >>> dataclasses.fields(Example)[0].metadata["minimum"]
        1
    """
    given = {
        "rule": rule,
        "minimum": minimum,
        "maximum": maximum,
        "low": low,
        "high": high,
        "choices": tuple(choices) if choices is not None else None,
        "expected": expected,
    }
    metadata = {key: value for key, value in given.items() if value is not None}
    # the open/closed flags only mean something next to their bound
    if low_open:
        metadata["low_open"] = True
    if high_open:
        metadata["high_open"] = True
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


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

    name: str = spec("digits", rule="run_name")
    seed: int = spec(0, minimum=0)


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
    crop_padding: int = spec(0, minimum=0)
    cutout: int = spec(0, minimum=0)


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

    rate: float = spec(0.0, low=0, high=1, high_open=True)
    kind: str = spec("symmetric", choices=LABEL_NOISE_KINDS)
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

    dataset: str = spec("digits", rule="dataset")
    data_dir: str = spec("", rule="directory")
    train_fraction: float = spec(1.0, low=0, high=1, low_open=True)
    validation_size: int = spec(300, minimum=1)
    batch_size: int = spec(32, minimum=1)
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

    name: str = spec("basic_cnn", rule="model_name")
    options: dict[str, Any] = spec(factory=dict, rule="options")


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

    decay_epochs: tuple[int, ...] = spec((), rule="decay_epochs")
    gamma: float = spec(0.1, low=0, high=1, low_open=True)


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
        precision: One of :data:`PRECISIONS`: the model's Keras dtype policy. The loss and the
            output softmax compute in float32 under every policy; ``mixed_float16`` trains
            with Keras's ``LossScaleOptimizer``.
        jit_compile: ``"auto"`` (XLA on a single GPU, not on CPU nor under a distribution
            strategy), ``True`` or ``False``: whether the train step is XLA-compiled.

    Example:
        >>> TrainingConfig().partial
        Budget(steps=300, epochs=None)
    """

    optimizer: str = spec("sgd", choices=OPTIMIZERS)
    learning_rate: float = spec(0.01, low=0, low_open=True)
    momentum: float = spec(0.9, low=0, high=1, high_open=True)
    weight_decay: float = spec(0.0, low=0)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    partial: Budget = spec(factory=lambda: Budget(steps=300), rule="budget")
    full: Budget = spec(factory=lambda: Budget(steps=3000), rule="budget")
    precision: str = spec("float32", choices=PRECISIONS)
    jit_compile: str | bool = spec(JIT_COMPILE_AUTO, rule="jit_compile")


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

    order: int = spec(3, minimum=1, maximum=MAX_ORDER)
    inputs: tuple[str, ...] = spec(("label", "prediction"), rule="inputs")
    trim: bool = True
    convention: str = spec("paper", choices=CONVENTIONS)

    @property
    def num_params(self) -> int:
        """Length of θ for this expansion (centres plus kept coefficients)."""
        from ..expansion import ExpansionSpec

        return ExpansionSpec.from_config(self).num_params


@dataclass(frozen=True)
class FinalistsConfig:
    """``evolution.finalists``: re-score the best candidates on new seeds after the last generation.

    The top ``count`` distinct candidates and the CMA-ES mean are each trained ``seeds`` more
    times on the validation split (never the test split); the chosen loss is the one with the
    best aggregate (:mod:`keras_taylorglo.search.trial` has the rules).

    Attributes:
        count: Candidates re-scored besides the CMA-ES mean (0 = no finalist stage: the chosen
            loss is the best single evaluation).
        seeds: New seeds per finalist (>= 1).
        budget: ``"partial"`` (the search's budget and abort rule) or ``"full"``
            (``training.full``, no abort rule).

    Example:
        >>> FinalistsConfig(count=5).seeds
        3
    """

    count: int = spec(3, minimum=0)
    seeds: int = spec(3, minimum=1)
    budget: str = spec("partial", choices=FINALIST_BUDGETS)


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
        finalists: The finalist stage after the last generation.

    Example:
        >>> EvolutionConfig(population=20).sigma
        1.2
    """

    population: int = spec(8, minimum=2)
    sigma: float = spec(1.2, low=0, low_open=True)
    generations: int = spec(10, minimum=1)
    initial: str | tuple[float, ...] = spec("zeros", rule="initial")
    invariant_check: bool = False
    finalists: FinalistsConfig = field(default_factory=FinalistsConfig)


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

    threshold: float = spec(0.15, low=0, high=1)
    epoch: int = spec(10, minimum=1)


@dataclass(frozen=True)
class EvaluationConfig:
    """``[evaluation]``: how a candidate is scored (the rules: :mod:`keras_taylorglo.search.trial`).

    Attributes:
        rule: ``"paper"`` (aborted and failed attempts are retried with a new seed; the attempt
            that ends a seed slot stands) or ``"every_attempt"`` (nothing is retried; an aborted
            attempt counts at its accuracy at the abort).
        attempts: Attempts per seed slot under the ``paper`` rule (>= 1).
        seeds: Partial trainings per candidate, from seeds shared by the whole generation (>= 1).
        aggregate: How they make the fitness: ``"mean"``, ``"median"`` or ``"min"``.
        abort: The abort rule.
        fitness: ``"validation_accuracy"`` or ``"module:function"`` called as
            ``function(theta: list[float], seed: int) -> float``.
        timeout: Seconds per attempt; 0 = no limit.

    Example:
        >>> EvaluationConfig().fitness
        'validation_accuracy'
    """

    rule: str = spec("every_attempt", choices=FITNESS_RULES)
    attempts: int = spec(3, minimum=1)
    seeds: int = spec(1, minimum=1)
    aggregate: str = spec("mean", choices=AGGREGATES)
    abort: AbortConfig = field(default_factory=AbortConfig)
    fitness: str = spec(DEFAULT_FITNESS, rule="fitness")
    timeout: float = spec(0.0, low=0)


@dataclass(frozen=True)
class ExecutionConfig:
    """``[execution]``: where evaluations run.

    Attributes:
        executor: ``local`` (a pool of worker processes) or ``ray``.
        devices: ``"auto"`` (every visible GPU, else CPU), ``"cpu"``, or GPU indices.
        gpus_per_worker: GPUs per worker (> 1 trains under ``MirroredStrategy``).
        workers_per_gpu: Warm workers sharing each GPU (>= 1; only 1 with
            ``gpus_per_worker > 1``); each gets about 1/N of the GPU's memory.
        workers: Number of workers; 0 = one per device group (times ``workers_per_gpu``).
        ray_address: Ray cluster address (``"auto"``, ``"host:port"``); ``""`` starts a local Ray.

    Example:
        >>> ExecutionConfig(devices=(0, 1)).devices
        (0, 1)
    """

    executor: str = spec("local", choices=EXECUTORS)
    devices: str | tuple[int, ...] = spec("auto", rule="devices")
    gpus_per_worker: int = spec(1, minimum=1)
    workers_per_gpu: int = spec(1, minimum=1)
    workers: int = spec(0, minimum=0)
    ray_address: str = spec("", expected='"", "auto" or "host:port"')


#: The class of each section, in canonical order.
_SECTION_TYPES: dict[str, type] = {
    "experiment": ExperimentConfig,
    "data": DataConfig,
    "model": ModelConfig,
    "training": TrainingConfig,
    "loss": LossConfig,
    "evolution": EvolutionConfig,
    "evaluation": EvaluationConfig,
    "execution": ExecutionConfig,
}
#: Section names in canonical order.
SECTIONS = tuple(_SECTION_TYPES)
_REQUIRED = ("data", "model")
_SECTION_KEYS: dict[str, tuple[str, ...]] = {
    name: tuple(f.name for f in dataclasses.fields(cls)) for name, cls in _SECTION_TYPES.items()
}
