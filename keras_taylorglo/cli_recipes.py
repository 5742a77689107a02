"""The ``recipes`` and ``init`` subcommands: the recipes shipped inside the package.

``keras-taylorglo recipes`` lists them, one line each: the name, where it runs (offline on the
embedded data sets, or after a TFDS download; on the CPU or on GPUs) and what it is for (the
first line of the file, see :mod:`keras_taylorglo.recipe.shipped`). ``keras-taylorglo init NAME
[DEST]`` copies one out to edit, as the original's ``LossferatuRunner init`` does. Neither
imports TensorFlow.
"""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_recipe_parsers", "cmd_init", "cmd_recipes"]


def _where_it_runs(recipe: Any) -> str:
    """What a shipped recipe needs: ``"offline, CPU"`` or, e.g., ``"TFDS download (cifar10), GPU"``.

    Offline: an embedded data set; CPU: ``execution.devices = "cpu"``.
    """
    from .data.names import DATASET_ALIASES, base_name

    dataset = recipe.data.dataset
    data = "offline" if dataset in DATASET_ALIASES else f"TFDS download ({base_name(dataset)})"
    return f"{data}, {'CPU' if recipe.execution.devices == 'cpu' else 'GPU'}"


def cmd_recipes(args: argparse.Namespace) -> int:
    """List the shipped recipes: name, where it runs, what it is for."""
    from .recipe import parse_recipe
    from .recipe.shipped import shipped_description, shipped_names, shipped_text

    rows = []
    for name in shipped_names():
        recipe = parse_recipe(shipped_text(name), source=f"{name} (shipped)", default_name=name)
        rows.append((name, _where_it_runs(recipe), shipped_description(name)))
    widths = [max(len(row[i]) for row in rows) for i in range(2)]
    for name, where, description in rows:
        print(f"{name.ljust(widths[0])}  {where.ljust(widths[1])}  {description}")
    return 0


def cmd_init(args: argparse.Namespace) -> int:
    """Copy a shipped recipe out to edit."""
    from .recipe.shipped import copy_shipped

    path = copy_shipped(args.name, args.dest, force=args.force)
    print(f"wrote {path}; edit it, then: keras-taylorglo validate {path}")
    return 0


def add_recipe_parsers(sub: Any) -> None:
    """Register ``recipes`` and ``init`` on the command line's subparsers.

    Args:
        sub: What :meth:`argparse.ArgumentParser.add_subparsers` returned.
    """
    p = sub.add_parser(
        "recipes", help="list the shipped recipes (a name works wherever a recipe is asked for)"
    )
    p.set_defaults(func=cmd_recipes)

    p = sub.add_parser("init", help="copy a shipped recipe out to edit")
    p.add_argument("name", help="a shipped recipe's name (see `keras-taylorglo recipes`)")
    p.add_argument("dest", nargs="?", help="where to write it (default: NAME.toml here)")
    p.add_argument("--force", action="store_true", help="replace a file that is already there")
    p.set_defaults(func=cmd_init)
