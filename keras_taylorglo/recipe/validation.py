"""Validation: the raw (overridden) TOML dict, section by section, into the schema's dataclasses.

This module imports no TensorFlow or Keras.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import RecipeError
from ..plugins import (
    did_you_mean,
)
from .checker import _Checker
from .schema import (
    _MISSING,
    _NAME_RE,
    _REQUIRED,
    _SECTION_KEYS,
    _TFDS_RE,
    CONVENTIONS,
    DEFAULT_FITNESS,
    EXECUTORS,
    INPUT_NAMES,
    JIT_COMPILE_AUTO,
    LABEL_NOISE_KINDS,
    MAX_ORDER,
    MODEL_NAMES,
    OPTIMIZERS,
    PRECISIONS,
    SECTIONS,
    AbortConfig,
    AugmentConfig,
    Budget,
    DataConfig,
    EvaluationConfig,
    EvolutionConfig,
    ExecutionConfig,
    ExperimentConfig,
    LabelNoiseConfig,
    LossConfig,
    ModelConfig,
    ScheduleConfig,
    TrainingConfig,
)


def _build_sections(
    raw: dict[str, Any],
    checker: _Checker,
    default_name: str | None,
) -> dict[str, Any]:
    """Validate the raw (overridden) TOML dict section by section.

    Returns:
        The :class:`~keras_taylorglo.recipe.Recipe` keyword arguments, one per section.
    """
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
    return dict(
        experiment=experiment,
        data=data,
        model=model,
        training=training,
        loss=loss,
        evolution=evolution,
        evaluation=evaluation,
        execution=execution,
    )


def _deep_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value


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
    precision = c.choice("training.precision", _get(t, "precision", d.precision), PRECISIONS)
    jit_compile = _get(t, "jit_compile", d.jit_compile)
    if not isinstance(jit_compile, bool) and jit_compile != JIT_COMPILE_AUTO:
        raise c.error(
            "training.jit_compile",
            "unknown value",
            jit_compile,
            f'"{JIT_COMPILE_AUTO}" (XLA on a single GPU, not on CPU), true or false',
        )
    return TrainingConfig(
        optimizer=optimizer,
        learning_rate=learning_rate,
        momentum=momentum,
        weight_decay=weight_decay,
        schedule=ScheduleConfig(decay_epochs=tuple(epochs), gamma=gamma),
        partial=_budget(_get(t, "partial", _MISSING), c, "training.partial", d.partial),
        full=_budget(_get(t, "full", _MISSING), c, "training.full", d.full),
        precision=precision,
        jit_compile=jit_compile,
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
    workers_per_gpu = c.integer(
        "execution.workers_per_gpu", _get(t, "workers_per_gpu", d.workers_per_gpu), minimum=1
    )
    if workers_per_gpu > 1 and gpus_per_worker > 1:
        raise c.error(
            "execution.workers_per_gpu",
            f"workers cannot share GPUs when each worker has {gpus_per_worker} of them "
            "(gpus_per_worker)",
            workers_per_gpu,
            "1 with gpus_per_worker > 1",
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
        workers_per_gpu=workers_per_gpu,
        workers=workers,
        ray_address=ray_address,
    )
