"""The house rules a reader can count: short functions, short modules, rooms without a circle.

Counted with :mod:`ast` over the package and the monitor (``keras_taylorglo/`` and ``tui/``), so
the numbers are the code's, not a tool's: a function's lines run from its ``def`` to its last
line, blank and comment lines included, its docstring excluded.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("keras_taylorglo", "tui")
MAX_FUNCTION_LINES = 80
MAX_MODULE_LINES = 500


def _modules() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))


def _docstring_lines(node: ast.AST) -> int:
    body = getattr(node, "body", [])
    first = body[0] if body else None
    if (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    ):
        return first.end_lineno - first.lineno + 1
    return 0


def function_lengths(source: str) -> list[tuple[str, int, int]]:
    """``(qualified name, line, lines of code)`` of every function in ``source``.

    Lines of code run from the ``def`` line to the function's last line, docstring excluded;
    a nested function counts in its own right and within the function that holds it.
    """
    found: list[tuple[str, int, int]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = f"{prefix}{child.name}"
                lines = child.end_lineno - child.lineno + 1 - _docstring_lines(child)
                found.append((name, child.lineno, lines))
                visit(child, f"{name}.")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            else:
                visit(child, prefix)

    visit(ast.parse(source), "")
    return found


def test_the_counter_excludes_the_docstring_and_sees_nested_functions() -> None:
    source = (
        "class A:\n"
        "    def f(self):\n"
        '        """Doc\n'
        "\n"
        '        more."""\n'
        "\n"
        "        def g():\n"
        "            return 1\n"
        "\n"
        "        return g\n"
    )
    assert function_lengths(source) == [("A.f", 2, 6), ("A.f.g", 7, 2)]


def test_no_function_is_over_80_lines_of_code() -> None:
    long = [
        f"{path.relative_to(ROOT)}:{line} {name} has {lines} lines of code"
        for path in _modules()
        for name, line, lines in function_lengths(path.read_text(encoding="utf-8"))
        if lines > MAX_FUNCTION_LINES
    ]
    assert not long, "split into steps whose names say what they do:\n" + "\n".join(long)


def test_no_module_is_over_500_lines() -> None:
    long = [
        f"{path.relative_to(ROOT)} has {count} lines"
        for path in _modules()
        if (count := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    ]
    assert not long, "split by role:\n" + "\n".join(long)


def _room(module: str) -> str:
    parts = module.split(".")
    return parts[0] if parts[0] == "tui" or len(parts) == 1 else parts[1]


def _room_imports() -> dict[str, set[str]]:
    """Room → the other rooms it imports (at module level or inside a function)."""
    imports: dict[str, set[str]] = {}
    for path in _modules():
        parts = path.relative_to(ROOT).with_suffix("").parts
        package = parts if parts[-1] == "__init__" else parts[:-1]
        package = package[:-1] if package[-1] == "__init__" else package
        room = _room(".".join(parts))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                base = list(package[: len(package) - node.level + 1]) if node.level else []
                targets = [".".join([*base, node.module] if node.module else base)]
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                continue
            for target in targets:
                if target.split(".")[0] in PACKAGES and _room(target) not in (room, "__init__"):
                    imports.setdefault(room, set()).add(_room(target))
    return imports


def test_no_import_circle_between_rooms() -> None:
    imports = _room_imports()
    assert imports["search"] >= {"store", "evaluation"}  # the reader sees real imports

    def cycle(room: str, path: tuple[str, ...]) -> tuple[str, ...] | None:
        if room in path:
            return (*path[path.index(room) :], room)
        for other in sorted(imports.get(room, ())):
            found = cycle(other, (*path, room))
            if found:
                return found
        return None

    circles = {c for room in imports if (c := cycle(room, ()))}
    assert not circles, "imports that run back up a floor: " + "; ".join(
        " → ".join(c) for c in sorted(circles)
    )


@pytest.mark.parametrize("room", ["store", "tui", "outcomes", "expansion"])
def test_the_tensorflow_free_rooms_import_no_room_that_needs_tensorflow(room: str) -> None:
    heavy = {"losses", "robust_losses", "callbacks", "evaluation", "models", "data", "search"}
    assert not _room_imports().get(room, set()) & heavy
