"""The recipe's schema: its sections as frozen dataclasses, and the values they allow.

Each ``[section]`` of a recipe is one frozen dataclass whose defaults are the recipe's
defaults; :class:`~keras_taylorglo.recipe.Recipe` holds one of each. Validation
(:mod:`.validation`) builds them; nothing here checks values.

This module imports no TensorFlow or Keras.
"""

from __future__ import annotations

import dataclasses
import re
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
#: Largest expansion order accepted (θ grows quickly: 3 inputs at order 6 is already 83 values).
MAX_ORDER = 6

# A TFDS data set name, optionally with a config and a version: "svhn_cropped", "cifar10:3.*.*",
# "imagenet2012_subset/1pct:5.0.0".
_TFDS_RE = re.compile(r"^[a-z0-9_]+(?:/[A-Za-z0-9_.\-]+)?(?::[0-9*]+(?:\.[0-9*]+){0,2})?$")
# Safe as a directory name on every OS: no separators, no leading dot, no spaces.
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_BARE_KEY_RE = re.compile(r"^[A-Za-z0-9_-]+$")

_MISSING: Any = object()


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
        precision: One of :data:`PRECISIONS`: the model's Keras dtype policy. The loss and the
            output softmax compute in float32 under every policy; ``mixed_float16`` trains
            with Keras's ``LossScaleOptimizer``.
        jit_compile: ``"auto"`` (XLA on a single GPU, not on CPU nor under a distribution
            strategy), ``True`` or ``False``: whether the train step is XLA-compiled.

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
    precision: str = "float32"
    jit_compile: str | bool = JIT_COMPILE_AUTO


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
        from ..expansion import num_params

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
        workers_per_gpu: Warm workers sharing each GPU (>= 1; only 1 with
            ``gpus_per_worker > 1``); each gets about 1/N of the GPU's memory.
        workers: Number of workers; 0 = one per device group (times ``workers_per_gpu``).
        ray_address: Ray cluster address (``"auto"``, ``"host:port"``); ``""`` starts a local Ray.

    Example:
        >>> ExecutionConfig(devices=(0, 1)).devices
        (0, 1)
    """

    executor: str = "local"
    devices: str | tuple[int, ...] = "auto"
    gpus_per_worker: int = 1
    workers_per_gpu: int = 1
    workers: int = 0
    ray_address: str = ""


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
