"""Every Python block of README.md runs, exactly as printed (issue 22 §2).

A block that cannot run on its own (it uses your model or your files, or it shows output) is
marked as a fragment in the README's source, by an HTML comment on the line right before its
fence, which GitHub does not render::

    <!-- fragment: why it cannot run on its own -->
    ```python

Every other ``python`` block runs here in a fresh namespace, in an empty working directory,
with nothing substituted. The "From Python" block is a real search, full training and analysis
(about a minute on 2 CPU cores); the others take a second together.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).parent.parent / "README.md"
FRAGMENT = re.compile(r"^<!-- fragment: [^>]+ -->$")


def python_blocks() -> list[tuple[int, str, bool]]:
    """``(line, source, is_fragment)`` of each fenced ``python`` block, in order."""
    lines = README.read_text().splitlines()
    blocks = []
    i = 0
    while i < len(lines):
        if lines[i].strip() == "```python":
            start = i
            end = next(j for j in range(i + 1, len(lines)) if lines[j].strip() == "```")
            fragment = start > 0 and bool(FRAGMENT.match(lines[start - 1].strip()))
            blocks.append((start + 1, "\n".join(lines[start + 1 : end]) + "\n", fragment))
            i = end
        i += 1
    return blocks


BLOCKS = python_blocks()
RUNNABLE = [(line, source) for line, source, fragment in BLOCKS if not fragment]
SEARCH = [(line, source) for line, source in RUNNABLE if "ktg.Search(" in source]
QUICK = [(line, source) for line, source in RUNNABLE if "ktg.Search(" not in source]


def run_block(line: int, source: str, where: Path, monkeypatch) -> dict:
    monkeypatch.chdir(where)
    namespace = {"__name__": f"readme_line_{line}"}
    exec(compile(source, f"README.md:{line}", "exec"), namespace)  # noqa: S102 - our README
    return namespace


def test_the_readme_has_blocks_of_each_kind():
    assert len(SEARCH) == 1, "the From Python example is one runnable block"
    assert len(QUICK) >= 4 and any(fragment for *_, fragment in BLOCKS)
    markers = README.read_text().count("<!-- fragment")
    assert markers == sum(fragment for *_, fragment in BLOCKS), "a marker without a block"


@pytest.mark.parametrize(("line", "source"), QUICK, ids=[f"line {line}" for line, _ in QUICK])
def test_a_block_runs_as_printed(line, source, tmp_path, monkeypatch):
    run_block(line, source, tmp_path, monkeypatch)


@pytest.mark.slow
def test_the_from_python_example_runs_as_printed(tmp_path, monkeypatch, capsys):
    ((line, source),) = SEARCH
    names = run_block(line, source, tmp_path, monkeypatch)
    result, model, report = names["result"], names["model"], names["report"]
    assert result.state == "finished" and result.best is not None
    assert (tmp_path / "runs" / "mine" / "analysis" / "report.json").is_file()
    assert report["runs"] == 2 and set(report["baselines"]) == {"crossentropy", "gce:0.7"}
    # train_final hands back a model that takes the raw images: the printed accuracy is its own.
    printed = capsys.readouterr().out.split("\n")
    accuracy = model.evaluate(names["x_test"], names["y_test"], return_dict=True, verbose=0)
    assert float(printed[1]) == pytest.approx(accuracy["accuracy"])
    assert model.input_shape == (None, 8, 8)
