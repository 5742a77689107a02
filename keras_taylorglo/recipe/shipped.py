"""The recipes shipped inside the package, found by name.

Every recipe of the repository's ``recipes/`` lives in ``keras_taylorglo/recipes/`` (the
repository's ``recipes/`` is a link to it), so a ``pip install`` carries them all. Wherever a
recipe is asked for (``validate``, ``evaluate``, ``search``, ``Search(recipe=...)``), a path that
exists wins; otherwise ``digits_noisy`` or ``digits_noisy.toml`` names the shipped recipe.

Each shipped file starts with ``# NAME.toml - what it is for``: that line is the description
``keras-taylorglo recipes`` prints (a comment, so the recipe's settings and their validation are
untouched by it).

Example:
    >>> "digits_noisy" in shipped_names()
    True
    >>> shipped_name("digits_noisy.toml"), shipped_name("recipes/digits.toml")
    ('digits_noisy', None)
    >>> shipped_description("mnist_basic_cnn")
    'paper Table 1, MNIST / basic CNN.'
"""

from __future__ import annotations

import contextlib
import os
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import RecipeError
from ..plugins import did_you_mean

__all__ = [
    "DEFAULT_RECIPE",
    "copy_shipped",
    "not_found_error",
    "shipped_description",
    "shipped_name",
    "shipped_names",
    "shipped_text",
]

DEFAULT_RECIPE = "digits"
"""The shipped recipe that :func:`~keras_taylorglo.recipe.load_default_recipe` and
``Search()`` without a recipe use."""

_SUFFIX = ".toml"

if TYPE_CHECKING:  # pragma: no cover
    from importlib.resources.abc import Traversable


def _folder() -> Traversable:
    return resources.files("keras_taylorglo").joinpath("recipes")


def shipped_names() -> list[str]:
    """The names of the shipped recipes, sorted.

    Returns:
        File names without ``.toml``, e.g. ``["cifar10_alexnet", ..., "digits", ...]``.
    """
    return sorted(
        entry.name[: -len(_SUFFIX)] for entry in _folder().iterdir() if entry.name.endswith(_SUFFIX)
    )


def shipped_name(source: str) -> str | None:
    """The shipped recipe that ``source`` names, if it is a bare name and one is shipped.

    Args:
        source: What the user gave as a recipe: ``"digits_noisy"`` or ``"digits_noisy.toml"``
            name a shipped recipe; anything with a directory part is a path, never a name.

    Returns:
        The shipped recipe's name, or ``None``.
    """
    if not source or "/" in source or "\\" in source:
        return None
    name = source[: -len(_SUFFIX)] if source.endswith(_SUFFIX) else source
    return name if name in shipped_names() else None


def shipped_text(name: str) -> str:
    """The TOML text of a shipped recipe, exactly as shipped (comments included).

    Args:
        name: A name from :func:`shipped_names`.

    Returns:
        The file's text.

    Raises:
        RecipeError: No shipped recipe has that name (one line listing those that do).
    """
    if name not in shipped_names():
        raise not_found_error(name)
    return _folder().joinpath(name + _SUFFIX).read_text(encoding="utf-8")


def shipped_description(name: str) -> str:
    """What a shipped recipe is for: its first line, ``# NAME.toml - DESCRIPTION``.

    Args:
        name: A name from :func:`shipped_names`.

    Returns:
        The description (the whole first comment when it does not follow that pattern).
    """
    first = shipped_text(name).partition("\n")[0].lstrip("#").strip()
    head, dash, rest = first.partition(" - ")
    return rest.strip() if dash and head.strip() == name + _SUFFIX else first


def not_found_error(source: str, paths: bool = True) -> RecipeError:
    """The one-line error for a recipe that is neither a file nor a shipped recipe's name.

    Args:
        source: What the user gave.
        paths: Whether a path was acceptable too (``False`` for ``init``, which copies only
            shipped recipes).

    Returns:
        A :class:`RecipeError` naming ``source``, the closest shipped name if one is close (also
        for a missing path such as ``recipes/digits.toml``), and every shipped name.

    Example:
        >>> print(not_found_error("digits_nosy"))  # doctest: +ELLIPSIS
        digits_nosy: file: no such file, nor a shipped recipe; did you mean 'digits_noisy'? (...)
    """
    names = shipped_names()
    stem = source.replace("\\", "/").rsplit("/", 1)[-1]
    stem = stem[: -len(_SUFFIX)] if stem.endswith(_SUFFIX) else stem
    hint = did_you_mean(stem, names)
    shipped = f"a shipped recipe: {', '.join(names)}"
    if not paths:
        return RecipeError(source, "name", "not a shipped recipe" + hint, expected=shipped)
    return RecipeError(
        source,
        "file",
        "no such file, nor a shipped recipe" + hint,
        expected=f"a path to a TOML recipe, or {shipped}",
    )


def copy_shipped(name: str, dest: str | os.PathLike[str] | None, force: bool = False) -> Path:
    """Copy a shipped recipe out to edit, as it is shipped (comments included).

    The file is written whole or not at all (a temporary file renamed into place).

    Args:
        name: A shipped recipe's name (``"digits_noisy"`` or ``"digits_noisy.toml"``).
        dest: Where to write it; ``None`` is ``NAME.toml`` in the working directory, a directory
            gets ``NAME.toml`` inside it.
        force: Replace a file that is already there.

    Returns:
        The path written.

    Raises:
        RecipeError: ``name`` is not a shipped recipe, or the destination exists (without
            ``force``), is not in an existing directory or cannot be written; one line each.
    """
    found = shipped_name(name)
    if found is None:
        raise not_found_error(name, paths=False)
    target = Path(found + _SUFFIX) if dest is None else Path(dest).expanduser()
    if target.is_dir():
        target = target / (found + _SUFFIX)
    if target.exists() and not force:
        raise RecipeError(str(target), "file", "already exists (--force replaces it)")
    if not target.parent.is_dir():
        raise RecipeError(str(target), "file", f"no such directory: {target.parent}")
    text = shipped_text(found)
    # Opened with "x" (not mkstemp) so that the copy gets the umask's permissions, not 0600.
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        with open(partial, "x", encoding="utf-8") as out:
            out.write(text)
        os.replace(partial, target)
    except OSError as error:
        with contextlib.suppress(OSError):
            partial.unlink()
        raise RecipeError(
            str(target), "file", f"cannot be written: {error.strerror or error}"
        ) from None
    return target
