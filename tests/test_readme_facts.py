"""Every number the README states about a shipped recipe is the number in the recipe file.

The README is read, not copied here: the statements are found where the README makes them.

- **Recipe tables**: every Markdown table whose first column names `recipes/*.toml` files (the
  "shipped recipes" table). Each cell is read by its column header: population and generations,
  CPU workers, partial/full budgets, optimizer, learning rate, momentum, batch, decay schedule,
  weight decay, model and its options (``16-8``, dropout, filters, dense), augmentation, the
  validation size, train fraction and label noise. ``as above`` and ``as WRN-16-8`` cells are
  resolved to the row they point to; ``as `digits.toml`, with …`` means that recipe's data.
- **Statements about groups of recipes**: sentences starting "Every recipe", "The paper rows"
  (rows whose paper column is not "—") or "All <data sets> recipes", e.g. "Every recipe uses the
  paper's third-order, two-input, trimmed expansion (8 parameters), CMA-ES with σ0 = 1.2, 3
  attempts per candidate and an abort below 15 %".
- **Paragraphs about one recipe** (they name exactly one, as `` `x.toml` `` or "the x recipe"):
  inline ``key = value`` code and "150-step partial"/"1,500-step full".
- **"N (`key` in `x.toml`)"** and "`key` … (N in `x.toml`" anywhere.

Every shipped recipe must have a row, and every row must yield claims (a table the parser no
longer understands fails instead of silently checking nothing).
"""

from __future__ import annotations

import functools
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from keras_taylorglo.recipe import load_recipe

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 only
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
RECIPES = ROOT / "recipes"

NUMBER = r"\d[\d,]*(?:\.\d+)?(?:e-?\d+)?"
WORD_NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6}
ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6}
# How the README names data sets (lower case, without '-') -> the recipe's data.dataset.
DATASET_WORDS = {
    "cifar10": "cifar10",
    "svhn": "svhn_cropped",
    "mnist5k": "mnist5k",
    "mnist": "mnist",
    "digits": "digits",
}


def number(text: str) -> float | int:
    value = float(text.replace(",", ""))
    return int(value) if value.is_integer() and "." not in text and "e" not in text else value


@dataclass(frozen=True)
class Claim:
    """The README says that ``recipe``'s ``path`` is ``value`` (at ``line``: ``text``)."""

    recipe: str
    path: str
    value: Any
    line: int
    text: str

    @property
    def id(self) -> str:
        return f"{self.recipe}:{self.path}@README:{self.line}"


# ------------------------------------------------------------------------------ reading README


def readme_lines() -> list[str]:
    """README lines with fenced code blocks blanked (commands are not statements)."""
    lines, fenced = [], False
    for line in README.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            lines.append("")
            continue
        lines.append("" if fenced else line)
    return lines


def cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def tables(lines: list[str]) -> list[tuple[list[str], list[tuple[int, list[str]]]]]:
    """``(header, [(line number, cells), ...])`` of every Markdown table."""
    found = []
    i = 0
    while i < len(lines) - 1:
        if lines[i].lstrip().startswith("|") and re.match(r"^\s*\|[\s:|-]+\|\s*$", lines[i + 1]):
            header = [h.lower() for h in cells(lines[i])]
            rows = []
            j = i + 2
            while j < len(lines) and lines[j].lstrip().startswith("|"):
                rows.append((j + 1, cells(lines[j])))
                j += 1
            found.append((header, rows))
            i = j
        else:
            i += 1
    return found


def paragraphs(lines: list[str]) -> list[tuple[int, str]]:
    """``(first line number, text)`` of every prose paragraph (tables and headings left out)."""
    found, block, start = [], [], 0
    for n, line in enumerate([*lines, ""], start=1):
        prose = line.strip() and not line.lstrip().startswith(("|", "#"))
        if prose:
            if not block:
                start = n
            block.append(line.strip())
        elif block:
            found.append((start, " ".join(block)))
            block = []
    return found


def recipe_table() -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The table whose first column names the shipped recipe files."""
    for header, rows in tables(readme_lines()):
        named = [r for r in rows if re.fullmatch(r"`[\w.-]+\.toml`", r[1][0])]
        if named and len(named) == len(rows):
            return header, rows
    raise AssertionError("README.md has no table of the shipped recipes")


@functools.cache
def resolved(recipe: str) -> dict[str, Any]:
    r = load_recipe(RECIPES / recipe)
    out = r.to_dict()
    out["loss"]["num_params"] = r.loss.num_params
    out["loss"]["num_inputs"] = len(r.loss.inputs)
    return out


def leaf_paths(recipe: str) -> dict[str, str]:
    """``key`` -> ``section.key`` for the recipe's leaf keys that are unique."""
    paths: dict[str, list[str]] = {}

    def walk(prefix: str, node: dict[str, Any]) -> None:
        for key, value in node.items():
            path = f"{prefix}.{key}" if prefix else key
            if isinstance(value, dict) and key != "options":
                walk(path, value)
            else:
                paths.setdefault(key, []).append(path)

    walk("", resolved(recipe))
    return {key: found[0] for key, found in paths.items() if len(found) == 1}


def lookup(recipe: str, path: str) -> Any:
    node: Any = resolved(recipe)
    for part in path.split("."):
        node = node[part]
    return node


# ---------------------------------------------------------------------------- cell by cell


def claims_of_data(recipe: str, cell: str) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    same = re.match(r"as `([\w.-]+\.toml)`", cell)
    if same:
        for path in ("data.dataset", "data.train_fraction", "data.validation_size"):
            out.append((path, lookup(same[1], path)))
    else:
        words = re.sub(r"[^a-z0-9]", "", cell.lower().split("/")[0])
        dataset = next((d for w, d in DATASET_WORDS.items() if w in words), None)
        if dataset:
            out.append(("data.dataset", dataset))
        validation = re.search(rf"/ ({NUMBER})", cell)
        if validation:
            out.append(("data.validation_size", number(validation[1])))
        if "half the training split" in cell:
            out.append(("data.train_fraction", 0.5))
    noise = re.search(r"(\d+) % (symmetric|pairflip) label noise", cell)
    if noise:
        out.append(("data.label_noise.rate", int(noise[1]) / 100))
        out.append(("data.label_noise.kind", noise[2]))
        if "train and validation" in cell:
            out.append(("data.label_noise.validation", True))
        if "clean validation" in cell:
            out.append(("data.label_noise.validation", False))
    return out


def claims_of_model(recipe: str, cell: str) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    name = re.search(r"`(\w+)`", cell)
    if name:
        out.append(("model.name", name[1]))
    shape = re.search(r"\b(\d+)-(\d+)\b", cell)
    if shape:
        out += [("model.options.depth", int(shape[1])), ("model.options.width", int(shape[2]))]
    for option in ("dropout", "dense"):
        found = re.search(rf"\b{option} ({NUMBER})", cell)
        if found:
            out.append((f"model.options.{option}", number(found[1])))
    filters = re.search(r"filters ((?:\d+(?:, | and )?)+)", cell)
    if filters:
        out.append(("model.options.filters", [int(v) for v in re.findall(r"\d+", filters[1])]))
    return out


def claims_of_augmentation(recipe: str, cell: str) -> list[tuple[str, Any]]:
    crop = re.search(r"crop \(pad (\d+)\)", cell)
    cutout = re.search(r"Cutout (\d+)", cell)
    return [
        ("data.augment.flip", "flip" in cell),
        ("data.augment.crop_padding", int(crop[1]) if crop else 0),
        ("data.augment.cutout", int(cutout[1]) if cutout else 0),
    ]


def claims_of_training(recipe: str, cell: str) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    if re.match(r"SGD\+momentum|SGD with momentum", cell):
        out.append(("training.optimizer", "momentum"))
    elif re.match(r"SGD\b", cell):
        out.append(("training.optimizer", "sgd"))
    elif re.match(r"(?i)nesterov|adam", cell):
        out.append(("training.optimizer", cell.split()[0].strip(",").lower()))
    patterns = {
        "training.momentum": rf"momentum ({NUMBER})",
        "training.learning_rate": rf"\blr ({NUMBER})",
        "training.weight_decay": rf"\bwd ({NUMBER})",
        "data.batch_size": rf"\bbatch ({NUMBER})",
    }
    for path, pattern in patterns.items():
        found = re.search(pattern, cell)
        if found:
            out.append((path, number(found[1])))
    decay = re.search(rf"×({NUMBER}) at ((?:\d+(?:, )?)+)", cell)
    if decay:
        out.append(("training.schedule.gamma", number(decay[1])))
        epochs = [int(v) for v in re.findall(r"\d+", decay[2])]
        out.append(("training.schedule.decay_epochs", epochs))
    return out


def claims_of_population(recipe: str, cell: str) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    population = re.match(rf"({NUMBER})", cell)
    if population:
        out.append(("evolution.population", number(population[1])))
    generations = re.search(rf"({NUMBER}) generations", cell)
    if generations:
        out.append(("evolution.generations", number(generations[1])))
    workers = re.search(rf"({NUMBER}) CPU workers?", cell)
    if workers:
        out += [("execution.workers", number(workers[1])), ("execution.devices", "cpu")]
    return out


def claims_of_budget(recipe: str, cell: str) -> list[tuple[str, Any]]:
    found = re.search(rf"({NUMBER}) / ({NUMBER}) (steps|epochs)", cell)
    if not found:
        return []
    unit = found[3]
    return [
        (f"training.partial.{unit}", number(found[1])),
        (f"training.full.{unit}", number(found[2])),
    ]


COLUMNS = {  # a header word -> how its cells are read
    "data set": claims_of_data,
    "model": claims_of_model,
    "augmentation": claims_of_augmentation,
    "optimizer": claims_of_training,
    "population": claims_of_population,
    "budget": claims_of_budget,
}


def resolve_cell(rows: list[tuple[int, list[str]]], i: int, col: int) -> str:
    """Follow ``as above`` / ``as WRN-16-8`` to the cell it repeats."""
    cell = rows[i][1][col] if col < len(rows[i][1]) else ""
    pointer = re.fullmatch(r"as (above|[^`,]+)", cell)
    if not pointer:
        return cell
    if pointer[1] == "above":
        return resolve_cell(rows, i - 1, col)
    for j in range(i - 1, -1, -1):
        if any(pointer[1] in c for c in rows[j][1] if c is not rows[j][1][col]):
            return resolve_cell(rows, j, col)
    raise AssertionError(f"README:{rows[i][0]}: cannot tell what {cell!r} refers to")


def table_claims() -> list[Claim]:
    header, rows = recipe_table()
    claims = []
    for i, (line, row) in enumerate(rows):
        recipe = row[0].strip("`")
        alias = re.search(r"= `([\w.-]+\.toml)`", " ".join(row[1:]))
        if alias:  # "= `svhn_wrn16_8.toml` under a short name": the same recipe but its name
            claims.append(Claim(recipe, "*", alias[1], line, row[1]))
            continue
        for col, title in enumerate(header):
            read = next((f for word, f in COLUMNS.items() if word in title), None)
            if read is None:
                continue
            cell = resolve_cell(rows, i, col)
            for path, value in read(recipe, cell):
                claims.append(Claim(recipe, path, value, line, cell))
    return claims


def paper_rows() -> list[str]:
    header, rows = recipe_table()
    paper = next(i for i, h in enumerate(header) if "paper" in h)
    return [
        row[0].strip("`")
        for _, row in rows
        if len(row) > paper and row[paper] and not row[paper].startswith("—")
    ]


# ------------------------------------------------------------------------------ prose


def sentence_claims(text: str) -> list[tuple[str, Any]]:
    """Claims a sentence makes without naming a recipe (applied to the recipes it is about)."""
    out: list[tuple[str, Any]] = []
    for key, value in re.findall(r"`(\w+) = ([^`]+)`", text):
        out.append((key, _toml_value(value)))
    order = re.search(r"\b(first|second|third|fourth|fifth|sixth)-order", text)
    if order:
        out.append(("loss.order", ORDINALS[order[1]]))
    inputs = re.search(r"\b(one|two|three)-input", text)
    if inputs:
        out.append(("loss.num_inputs", WORD_NUMBERS[inputs[1]]))
    if re.search(r"\buntrimmed\b", text):
        out.append(("loss.trim", False))
    elif re.search(r"\btrimmed\b", text):
        out.append(("loss.trim", True))
    patterns = {
        "loss.num_params": rf"\(({NUMBER}) parameters\)",
        "evolution.sigma": rf"σ0 = ({NUMBER})",
        "evaluation.attempts": rf"({NUMBER}) attempts per candidate",
        "evolution.generations": rf"generation budget \(({NUMBER})\)",
        "data.batch_size": rf"with batch ({NUMBER})",
    }
    for path, pattern in patterns.items():
        found = re.search(pattern, text)
        if found:
            out.append((path, number(found[1])))
    abort = re.search(rf"abort below ({NUMBER}) ?%", text)
    if abort:
        out.append(("evaluation.abort.threshold", number(abort[1]) / 100))
    steps = re.search(rf"({NUMBER})-step partial", text)
    if steps:
        out.append(("training.partial.steps", number(steps[1])))
    steps = re.search(rf"({NUMBER})-step full", text)
    if steps:
        out.append(("training.full.steps", number(steps[1])))
    return out


def _toml_value(text: str) -> Any:
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _full_path(recipe: str, key: str) -> str | None:
    if "." in key:
        return key
    return leaf_paths(recipe).get(key)


def group_claims() -> list[Claim]:
    """Sentences about every recipe, the paper rows, or the recipes of some data sets."""
    _, rows = recipe_table()
    recipes = [row[0].strip("`") for _, row in rows]
    claims = []
    for line, text in paragraphs(readme_lines()):
        for sentence in re.split(r"(?<=[.;])\s+(?=[A-Z])", text):
            if sentence.startswith("Every recipe"):
                about = recipes
            elif sentence.startswith("The paper rows"):
                about = paper_rows()
            elif match := re.match(r"All ([\w\s,-]+?) recipes", sentence):
                words = re.sub(r"[^a-z0-9 ]", "", match[1].lower().replace("-", ""))
                datasets = {d for w, d in DATASET_WORDS.items() if w in words.split()}
                about = [r for r in recipes if lookup(r, "data.dataset") in datasets]
            else:
                continue
            for recipe in about:
                for key, value in sentence_claims(sentence):
                    path = _full_path(recipe, key)
                    assert path, f"README:{line}: {key!r} is no recipe key ({sentence!r})"
                    claims.append(Claim(recipe, path, value, line, sentence))
    return claims


def paragraph_claims() -> list[Claim]:
    """Paragraphs that name exactly one shipped recipe (`x.toml` or "the x recipe")."""
    stems = {p.stem: p.name for p in RECIPES.glob("*.toml")}
    claims = []
    for line, text in paragraphs(readme_lines()):
        named = {
            f for f in re.findall(r"`(?:recipes/)?([\w.-]+\.toml)`", text) if f in stems.values()
        }
        named |= {stems[s] for s in re.findall(r"\b[Tt]he ([\w-]+) recipe\b", text) if s in stems}
        if len(named) != 1:
            continue
        (recipe,) = named
        for key, value in sentence_claims(text):
            path = _full_path(recipe, key)
            if path is not None:
                claims.append(Claim(recipe, path, value, line, text[:120]))
    return claims


def keyed_number_claims() -> list[Claim]:
    """``1,000 (`validation_size` in `mnist5k.toml`)`` and ``… `key` … (1,000 in `x.toml```."""
    claims = []
    for n, line in enumerate(readme_lines(), start=1):
        found = re.findall(rf"({NUMBER}) \(`(\w+)` in `([\w.-]+\.toml)`\)", line)
        found += [
            (value, key, recipe)
            for key, value, recipe in re.findall(
                rf"`(\w+)`[^|.`]*\(({NUMBER}) in `([\w.-]+\.toml)`", line
            )
        ]
        for value, key, recipe in found:
            if (RECIPES / recipe).exists():
                path = _full_path(recipe, key)
                assert path, f"README:{n}: {key!r} is no key of {recipe}"
                claims.append(Claim(recipe, path, number(value), n, line.strip()[:120]))
    return claims


def all_claims() -> list[Claim]:
    return table_claims() + group_claims() + paragraph_claims() + keyed_number_claims()


# -------------------------------------------------------------------------------- the tests


def same(a: Any, b: Any) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return a == b


CLAIMS = all_claims()


@pytest.mark.parametrize("claim", CLAIMS, ids=[c.id for c in CLAIMS])
def test_readme_states_what_the_recipe_holds(claim: Claim):
    if claim.path == "*":  # an alias row: the same recipe under another name
        mine, other = dict(resolved(claim.recipe)), dict(resolved(claim.value))
        mine.pop("experiment"), other.pop("experiment")
        assert mine == other, f"README:{claim.line}: {claim.recipe} is not {claim.value}"
        return
    actual = lookup(claim.recipe, claim.path)
    assert same(actual, claim.value), (
        f"README.md line {claim.line} says {claim.recipe} has {claim.path} = {claim.value!r}, "
        f"the file has {actual!r} ({claim.text!r})"
    )


def test_every_shipped_recipe_has_a_row_that_says_something():
    _, rows = recipe_table()
    listed = [row[0].strip("`") for _, row in rows]
    shipped = sorted(p.name for p in RECIPES.glob("*.toml"))
    assert sorted(listed) == shipped, "recipes/ and the README's recipe table differ"
    table = table_claims()
    for recipe in listed:
        said = {c.path for c in table if c.recipe == recipe}
        assert "*" in said or {"evolution.population", "model.name"} <= said, (recipe, said)


def test_the_statements_about_groups_of_recipes_were_read():
    """If these sentences are rephrased, the parser must follow (or the README lost them)."""
    paths = {c.path for c in group_claims()}
    assert {"loss.order", "evolution.sigma", "evaluation.attempts"} <= paths, paths


def test_a_wrong_number_in_the_readme_is_caught(tmp_path, monkeypatch):
    """The issue's case: the README said digits.toml had population 6 and 5 generations."""
    _, rows = recipe_table()
    line, row = next((n, r) for n, r in rows if r[0] == "`digits.toml`")
    text = README.read_text(encoding="utf-8").splitlines()
    population = next(i for i, h in enumerate(recipe_table()[0]) if "population" in h)
    wrong = row[population].replace("8 (4 generations", "6 (5 generations")
    assert wrong != row[population], "the digits row no longer says '8 (4 generations'"
    text[line - 1] = text[line - 1].replace(row[population], wrong)
    copy = tmp_path / "README.md"
    copy.write_text("\n".join(text), encoding="utf-8")
    monkeypatch.setattr(sys.modules[__name__], "README", copy)
    wrong_claims = [
        (c.path, c.value)
        for c in table_claims()
        if c.recipe == "digits.toml" and not same(lookup(c.recipe, c.path), c.value)
    ]
    assert wrong_claims == [("evolution.population", 6), ("evolution.generations", 5)]
