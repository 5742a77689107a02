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

The package's rooms: :mod:`.schema` (the sections as frozen dataclasses; each field, with what it
allows, is written once there), :mod:`.checker` (error context and typed field checks),
:mod:`.validation` (the raw TOML dict into the sections, field by field from the schema's
metadata, then the checks across fields), :mod:`.overrides` (``--set``), :mod:`.toml_out` (the
TOML writer), :mod:`.callables` (the validate-time check of ``module:function`` names),
:mod:`.core` (:class:`Recipe` and the loaders), :mod:`.shipped` (the recipes shipped in the
package, found by name). The loader of ``module:function`` names is
:mod:`keras_taylorglo.plugins`.

This package imports no TensorFlow or Keras: validating a recipe is instant.

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

from .callables import check_callables
from .core import Recipe, load_default_recipe, load_recipe, parse_recipe
from .schema import (
    AGGREGATES,
    CONVENTIONS,
    DEFAULT_FITNESS,
    EXECUTORS,
    FINALIST_BUDGETS,
    FITNESS_RULES,
    INPUT_NAMES,
    LABEL_NOISE_KINDS,
    MAX_ORDER,
    MODEL_NAMES,
    OPTIMIZERS,
    SECTIONS,
    AbortConfig,
    AugmentConfig,
    Budget,
    DataConfig,
    EvaluationConfig,
    EvolutionConfig,
    ExecutionConfig,
    ExperimentConfig,
    FinalistsConfig,
    LabelNoiseConfig,
    LossConfig,
    ModelConfig,
    ScheduleConfig,
    TrainingConfig,
)

__all__ = [
    "AGGREGATES",
    "CONVENTIONS",
    "DEFAULT_FITNESS",
    "EXECUTORS",
    "FINALIST_BUDGETS",
    "FITNESS_RULES",
    "INPUT_NAMES",
    "LABEL_NOISE_KINDS",
    "MAX_ORDER",
    "MODEL_NAMES",
    "OPTIMIZERS",
    "SECTIONS",
    "AbortConfig",
    "AugmentConfig",
    "Budget",
    "DataConfig",
    "EvaluationConfig",
    "EvolutionConfig",
    "ExecutionConfig",
    "ExperimentConfig",
    "FinalistsConfig",
    "LabelNoiseConfig",
    "LossConfig",
    "ModelConfig",
    "Recipe",
    "ScheduleConfig",
    "TrainingConfig",
    "check_callables",
    "load_default_recipe",
    "load_recipe",
    "parse_recipe",
]
