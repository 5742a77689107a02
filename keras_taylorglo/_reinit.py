"""Fresh random weights in place: every layer variable re-initialised from its own initializer.

Private to the evaluator. Re-initialising in place (rather than building a twin model and copying
its weights) keeps the compiled train step and costs a fraction of a build; each variable gets
its own seed, derived from the candidate's, so the same seed gives the same weights.
"""

from __future__ import annotations

from typing import Any


def layer_variables(model: Any) -> list[Any]:
    """Every variable of the model's layers (weights and seed-generator states), in order, once."""
    seen: set[int] = set()
    out = []
    for layer in model.layers:
        for variable in layer.variables:
            if id(variable) not in seen:
                seen.add(id(variable))
                out.append(variable)
    return out


def reinit_plan(model: Any) -> list[tuple[Any, str, Any]] | None:
    """How to give ``model`` fresh seeded weights in place, or ``None`` if it cannot be done.

    Each entry is ``(variable, kind, how)``: ``("init", initializer)`` for a weight whose layer
    names its initializer (``kernel`` → ``layer.kernel_initializer``), ``("seed", None)`` for a
    seed-generator state (dropout). The plan must cover every layer variable, else ``None``.
    """
    flatten = getattr(model, "_flatten_layers", None)
    if flatten is None:
        return None
    plan: list[tuple[Any, str, Any]] = []
    covered: set[int] = set()
    for layer in flatten(include_self=False, recursive=True):
        for generator in getattr(layer, "_seed_generators", []):
            state = getattr(generator, "state", None)
            if state is not None and id(state) not in covered:
                covered.add(id(state))
                plan.append((state, "seed", None))
        for variable in layer.weights:
            initializer = getattr(layer, f"{variable.name}_initializer", None)
            if id(variable) in covered or initializer is None:
                continue
            if not callable(initializer) or not hasattr(initializer, "get_config"):
                return None
            covered.add(id(variable))
            plan.append((variable, "init", initializer))
    if covered != {id(v) for v in layer_variables(model)}:
        return None
    return plan


def reinitialize(plan: list[tuple[Any, str, Any]], seed: int) -> None:
    """Assign fresh values to every planned variable; a pure function of ``seed``."""
    import numpy as np

    # One independent 31-bit seed per variable, from (seed, position): no two variables share
    # a stream, and neither history nor the worker matters.
    seeds = np.random.SeedSequence([int(seed) & 0xFFFFFFFF, len(plan)]).generate_state(len(plan))
    for (variable, kind, initializer), stream in zip(plan, seeds, strict=True):
        stream = int(stream) & 0x7FFFFFFF
        if kind == "seed":
            value = np.array([stream, 0], dtype=variable.dtype)
        else:
            config = initializer.get_config()
            if "seed" in config:
                initializer = type(initializer).from_config({**config, "seed": stream})
            value = initializer(tuple(variable.shape), dtype=variable.dtype)
        variable.assign(value)
