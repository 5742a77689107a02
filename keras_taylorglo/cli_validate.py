"""``keras-taylorglo validate``: recipes checked and printed resolved; ``--deep`` builds them.

Kept apart from :mod:`keras_taylorglo.cli` (which registers it) so that each stays short.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator
from typing import Any

from .errors import RecipeError, TaylorGLOError

__all__ = ["cmd_validate"]


def cmd_validate(args: argparse.Namespace) -> int:
    """Validate recipes (their functions and model options too) and print each one resolved."""
    from .data.precheck import check_data_extras
    from .recipe import check_callables, load_recipe

    for i, path in enumerate(args.recipe):
        recipe = load_recipe(path, args.overrides)
        check_callables(recipe, args.overrides)
        check_data_extras(recipe.data, recipe.source)  # mnist5k without its extra, say
        if args.deep:
            _deep_check(recipe)
        if len(args.recipe) > 1:
            print(f"{'' if i == 0 else chr(10)}# {path}")
        print(recipe.to_toml(), end="")
    return 0


def _deep_check(recipe: Any) -> None:
    """Build the recipe's data set and model once, as a worker would; one summary line on stderr.

    Raises:
        TaylorGLOError: Any problem, as one line naming the recipe file and the field.
    """
    import time

    from .plugins import is_callable_spec, resolve_callable
    from .recipe import DEFAULT_FITNESS

    start = time.perf_counter()
    if recipe.evaluation.fitness != DEFAULT_FITNESS:
        # The workers call only the fitness function: importing it is what they would do first.
        resolve_callable(
            recipe.evaluation.fitness, recipe.base_dir, "evaluation.fitness", recipe.source
        )
        print(f"deep check: imported {recipe.evaluation.fitness}", file=sys.stderr)
        return
    from ._quiet import import_tensorflow

    import_tensorflow()  # quietly (TF_CPP_MIN_LOG_LEVEL), before a user module imports it
    # Imported here first, so that a failing import names this recipe file (the loaders would
    # import them again from sys.modules).
    for field, spec in (("data.dataset", recipe.data.dataset), ("model.name", recipe.model.name)):
        if is_callable_spec(spec):
            resolve_callable(spec, recipe.base_dir, field, recipe.source)
    from .data import load_dataset
    from .models import build_model

    seed = recipe.experiment.seed
    with _building(recipe, "data.dataset", "the data set"):
        data = load_dataset(recipe.data, recipe.base_dir, seed=seed)
    with _building(recipe, "model.name", "the model"):
        model = build_model(
            recipe.model, data.input_shape, data.num_classes, recipe.base_dir, seed, recipe.source
        )
    shape = "×".join(str(d) for d in data.input_shape)
    print(
        f"deep check: data set {recipe.data.dataset}: {data.num_train} train / "
        f"{data.num_validation} validation / {data.num_test} test, {shape}, "
        f"{data.num_classes} classes; model {recipe.model.name}: "
        f"{model.count_params():,} parameters ({time.perf_counter() - start:.1f} s)",
        file=sys.stderr,
    )


@contextlib.contextmanager
def _building(recipe: Any, field: str, what: str) -> Iterator[None]:
    """The user's code (a data function, a model builder) raising: one line naming ``field``."""
    try:
        yield
    except TaylorGLOError:
        raise
    except Exception as exc:
        raise RecipeError(
            recipe.source, field, f"building {what} failed: {_one_line(exc)}"
        ) from None


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}"[:300]
