"""The :class:`Recipe` and the functions that load one (a file, a shipped recipe, or text).

This module imports no TensorFlow or Keras.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 only
    import tomli as tomllib

from ..errors import RecipeError
from .checker import _Checker
from .overrides import apply_overrides
from .schema import (
    SECTIONS,
    DataConfig,
    EvaluationConfig,
    EvolutionConfig,
    ExecutionConfig,
    ExperimentConfig,
    LossConfig,
    ModelConfig,
    TrainingConfig,
)
from .shipped import DEFAULT_RECIPE, not_found_error, shipped_name, shipped_text
from .toml_out import plain_values, toml_key, toml_value
from .validation import build_sections


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
                out[name] = plain_values(section)
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
            width = max(len(toml_key(k)) for k in values) if values else 0
            for key, value in values.items():
                lines.append(f"{toml_key(key).ljust(width)} = {toml_value(value)}")
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
        apply_overrides(raw, overrides, checker)
        return _build(raw, checker, self.source, self.base_dir, self.text, None)


def load_recipe(path: str | os.PathLike[str], overrides: Sequence[str] = ()) -> Recipe:
    """Read, override and validate a recipe file, or a shipped recipe named by its name.

    Args:
        path: The recipe's path; relative paths inside it resolve against its directory. Unless
            such a file exists, a shipped recipe's name (``"digits_noisy"`` or
            ``"digits_noisy.toml"``, see :mod:`.shipped`); its relative paths resolve against
            the working directory.
        overrides: ``section.key=value`` strings applied before validation.

    Returns:
        The validated :class:`Recipe`.

    Raises:
        RecipeError: Neither a file nor a shipped recipe's name, an unreadable file, invalid
            TOML, or an invalid value.

    Example:
        >>> load_recipe("recipes/digits.toml", ["evolution.generations=2"]).evolution.generations
        2
        >>> load_recipe("digits_noisy").source
        'digits_noisy (shipped)'
    """
    source = os.fspath(path)
    file = Path(source).expanduser()
    if not file.is_file():  # a file wins; a directory named like a shipped recipe does not
        name = shipped_name(source)
        if name is not None:
            return _load_shipped(name, overrides, source=f"{name} (shipped)")
        if not file.exists():
            raise not_found_error(source)
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
    apply_overrides(raw, overrides, checker)
    return _build(raw, checker, source, base, text, default_name)


def load_default_recipe(overrides: Sequence[str] = ()) -> Recipe:
    """The default recipe: the shipped ``digits`` recipe (``recipes/digits.toml``).

    Args:
        overrides: ``section.key=value`` strings applied before validation.

    Returns:
        The validated default :class:`Recipe` (offline digits, small CNN, CPU).

    Example:
        >>> load_default_recipe().data.dataset
        'digits'
    """
    return _load_shipped(DEFAULT_RECIPE, overrides, source="<default recipe>")


def _load_shipped(name: str, overrides: Sequence[str], source: str) -> Recipe:
    """A shipped recipe; it lives inside the package, so relative paths resolve in the cwd."""
    return parse_recipe(
        shipped_text(name),
        source=source,
        overrides=overrides,
        base_dir=Path.cwd(),
        default_name=name,
    )


def _build(
    raw: dict[str, Any],
    checker: _Checker,
    source: str,
    base_dir: Path,
    text: str,
    default_name: str | None,
) -> Recipe:
    """Validate the raw (overridden) TOML dict section by section into a :class:`Recipe`."""
    sections = build_sections(raw, checker, default_name)
    return Recipe(**sections, source=source, base_dir=base_dir, text=text)
