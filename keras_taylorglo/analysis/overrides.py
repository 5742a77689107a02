"""``analyze --set``: what an analysis may change of the search's recipe, and how it is kept apart.

An analysis trains the chosen loss and the baselines in full. It may change how that full training
goes, never what the search measured: the keys it takes are :data:`ALLOWED` (the full budget, the
learning-rate schedule, and where it runs). A key that would change the model, the data, the loss
or the search's partial budget is refused in one line, naming the key and what is allowed.

Trainings with another full training must not be mixed with those already in the store: their
store label carries :func:`variant` of the settings that differ (``taylorglo#full.steps=100``),
so a plain ``analyze`` afterwards still finds its own trainings, and each analysis resumes its
own. ``execution.*`` changes nothing that is measured and is not part of the label.

Example:
    >>> check_overrides(["training.full.steps=100"])
    ['training.full.steps=100']
    >>> check_overrides(["model.name=alexnet"])
    Traceback (most recent call last):
    ...
    keras_taylorglo.errors.RecipeError: --set: model.name: analyze may not change it (expected training.full.*, training.schedule.* or execution.*: the model, data, loss and partial budget stay the search's)
"""  # noqa: E501

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from ..errors import RecipeError

__all__ = ["ALLOWED", "check_overrides", "full_training", "variant"]

ALLOWED: tuple[str, ...] = ("training.full", "training.schedule", "execution")
"""The recipe keys (and the tables under them) that ``analyze --set`` may change."""

#: The part of the full training that the variant label describes (``execution`` is not in it).
_MEASURED = ("full", "schedule")


def check_overrides(items: Sequence[str]) -> list[str]:
    """Refuse an override that would change what the search measured.

    Args:
        items: ``section.key=value`` strings (``--set``).

    Returns:
        The items, as a list.

    Raises:
        RecipeError: ``--set: <key>: analyze may not change it (expected …)`` (a malformed item
            is left to the recipe's own parser, which says so).
    """
    for item in items:
        key = str(item).split("=", 1)[0].strip()
        if "=" in str(item) and not any(key == a or key.startswith(a + ".") for a in ALLOWED):
            raise RecipeError(
                "--set",
                key,
                "analyze may not change it",
                expected="training.full.*, training.schedule.* or execution.*: the model, data, "
                "loss and partial budget stay the search's",
            )
    return list(items)


def full_training(recipe: Any) -> dict[str, Any]:
    """What a full training of the analysis uses, for ``report.json``.

    Args:
        recipe: The analysis's recipe (the search's, with the overrides).

    Returns:
        ``{"full": {"steps", "epochs"}, "schedule": {"decay_epochs", "gamma"}}``.
    """
    training = recipe.training
    full = asdict(training.full)
    schedule = asdict(training.schedule)
    schedule["decay_epochs"] = list(schedule["decay_epochs"])
    return {"full": full, "schedule": schedule}


def variant(searched: Any, analysed: Any) -> str:
    """The store label's suffix for a full training that differs from the search's recipe.

    Args:
        searched: The search's recipe, as stored.
        analysed: The recipe the analysis trains with.

    Returns:
        ``""`` when the full training is the search's own (an override that sets a value to what
        it was changes nothing), else e.g. ``"full.steps=100"`` or
        ``"full.epochs=3;schedule.decay_epochs=[2]"``: the keys that differ, with their values.
    """
    before, after = full_training(searched), full_training(analysed)
    parts = []
    for table in _MEASURED:
        if before[table] == after[table]:
            continue
        for key, value in after[table].items():
            if value is not None:
                parts.append(f"{table}.{key}={json.dumps(value, separators=(',', ':'))}")
    return ";".join(parts)
