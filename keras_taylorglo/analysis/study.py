"""Studies: several analysed runs (or one run's training fractions) side by side.

``keras-taylorglo study RUN_DIR... --by noise|fraction|budget|run --out DIR`` reads each run's
``analysis/report.json`` and store, and writes ``study.md`` (one row per run or fraction: the
search's budget and wall time, every loss's mean test accuracy with the one-tailed Welch p that
TaylorGLO is greater, TaylorGLO's lowest run, and how many rows beat each baseline at p < 0.01),
``study.json`` and ``study.png`` (one line per loss, with error bars, against the axis; runs
side by side for ``run``). It trains nothing: run ``search`` and ``analyze`` first.

Example:
    >>> rows = collect_study(["runs/noise_sym20", "runs/noise_sym40"], by="noise")  # doctest: +SKIP
    >>> [r["x"] for r in rows]  # doctest: +SKIP
    [0.2, 0.4]
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import TaylorGLOError
from .plan import ANALYSIS_DIR
from .report import describe_noise, format_p_value, format_summary

__all__ = ["STUDY_AXES", "collect_study", "study_markdown", "write_study"]

STUDY_AXES = ("noise", "fraction", "budget", "run")
"""What a study's rows are: runs by their noise rate, one run's training fractions, runs by their
search's trainings (finalists included), or runs."""

SIGNIFICANCE = 0.01
"""The p below which ``study.md`` counts a row as TaylorGLO beating a baseline."""


def _search_facts(run_dir: Path) -> dict[str, Any]:
    """The search's budget: candidates scored, trainings run, wall time.

    Trainings count retries and the finalist stage's; the wall time runs from the store's
    creation to the last training's end.
    """
    from ..store import Store

    with Store.open_existing(run_dir) as store:
        meta = store.meta()
        attempts = [*store.attempts(), *store.finalist_runs()]
        evaluations = store.evaluations()
    ended = [a.ended for a in attempts if a.ended is not None]
    created = meta.get("created")
    return {
        "name": meta.get("name") or run_dir.name,
        "evaluations": evaluations,
        "trainings": len(attempts),
        "search_seconds": (max(ended) - float(created)) if ended and created else None,
        "label_noise": meta.get("label_noise") or _recipe_noise(meta.get("recipe_text", "")),
    }


def _recipe_noise(text: str) -> dict[str, Any] | None:
    """The recipe's ``data.label_noise`` when the store recorded no realised rates (older runs)."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    try:
        noise = tomllib.loads(text).get("data", {}).get("label_noise") or {}
    except tomllib.TOMLDecodeError:
        return None
    if not float(noise.get("rate", 0.0)):
        return None
    return {
        "rate": float(noise["rate"]),
        "kind": noise.get("kind", "symmetric"),
        "validation": bool(noise.get("validation", True)),
    }


def _report(run_dir: Path) -> dict[str, Any]:
    path = run_dir / ANALYSIS_DIR / "report.json"
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise TaylorGLOError(
            f"{run_dir}: no analysis yet ({path} is missing); run `keras-taylorglo analyze "
            f"{run_dir}` first"
        ) from None
    except (OSError, ValueError) as exc:
        raise TaylorGLOError(f"{path}: cannot read it ({exc})") from None


def collect_study(run_dirs: Sequence[str | os.PathLike[str]], by: str = "run") -> list[dict]:
    """One row per run (``noise``, ``run``) or per training fraction of one run (``fraction``).

    Args:
        run_dirs: Analysed run directories.
        by: One of :data:`STUDY_AXES`.

    Returns:
        Rows ``{"x", "label", "block", "runs", "name", "evaluations", "trainings",
        "search_seconds", "label_noise"}``: ``block`` is the report (or its fraction entry),
        ``x`` the noise rate, fraction or trainings (``None`` for ``run``), then the search's
        facts.

    Raises:
        TaylorGLOError: An unknown ``by``, a run without an analysis, or ``fraction`` with other
            than one run whose analysis has ``--train-fractions``.
    """
    if by not in STUDY_AXES:
        raise TaylorGLOError(
            f"--by: {by!r} is not an axis; expected one of {', '.join(STUDY_AXES)}"
        )
    if not run_dirs:
        raise TaylorGLOError("study: name at least one analysed run directory")
    rows: list[dict[str, Any]] = []
    for run_dir in map(Path, run_dirs):
        report, search = _report(run_dir), _search_facts(run_dir)
        noise = report.get("label_noise") or search["label_noise"]
        if by == "fraction":
            if len(run_dirs) != 1 or "fractions" not in report:
                raise TaylorGLOError(
                    "--by fraction: give one run analysed with --train-fractions "
                    f"({run_dir} has {'no fractions' if 'fractions' not in report else 'them'})"
                )
            for block in report["fractions"]:
                label = f"fraction {block['fraction']:g}"
                row = {"x": block["fraction"], "label": label, "block": block}
                rows.append({**row, "runs": report["runs"], **search})
            continue
        rate = float(noise["rate"]) if noise else 0.0
        label = describe_noise(noise).removeprefix("label noise: ") if noise else "clean labels"
        x = {"noise": rate, "budget": search["trainings"]}.get(by)
        row = {"x": x, "label": f"{search['name']}: {label}", "block": report}
        rows.append({**row, "runs": report["runs"], **search})
    return rows


def study_markdown(rows: Sequence[dict[str, Any]], title: str) -> str:
    """``study.md``: one table row per study row, a column per loss.

    Args:
        rows: From :func:`collect_study`.
        title: The heading.

    Returns:
        The Markdown text.
    """
    from .figures import loss_series

    names = [name for name, _ in loss_series(rows[0]["block"])]
    header = ["row", "search (candidates, trainings, wall)", *names]
    lines = [
        f"# {title}",
        "",
        "Test accuracy after full training: mean (sample std) of the runs per loss; under each "
        "baseline, p = one-tailed Welch t-test that TaylorGLO's mean is greater (SciPy).",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    for row in rows:
        series = dict(loss_series(row["block"]))
        wall = "—" if row["search_seconds"] is None else f"{row['search_seconds']:.0f} s"
        cells = [row["label"], f"{row['evaluations']}, {row['trainings']}, {wall}"]
        for name in names:
            entry = series.get(name)
            if entry is None:
                cells.append("—")
            elif name == "TaylorGLO":
                lowest = min(entry.get("accuracies") or [float("nan")])
                cells.append(f"**{format_summary(entry)}**, lowest {lowest:.4f}")
            else:
                cells.append(f"{format_summary(entry)}, p {format_p_value(entry.get('p_value'))}")
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", *_tally(rows, names)]
    counts = sorted({row["runs"] for row in rows})
    runs = " or ".join(str(c) for c in counts)
    lines += ["", f"{runs} runs per loss; runs of equal index share their seed."]
    return "\n".join(lines) + "\n"


def _tally(rows: Sequence[dict[str, Any]], names: Sequence[str]) -> list[str]:
    """Lines saying how often TaylorGLO beat each baseline, and how often it was fragile.

    A row beats a baseline when its p is below :data:`SIGNIFICANCE`; it shows a fragile loss
    when one TaylorGLO training is below cross-entropy's mean.
    """
    from .figures import loss_series

    out = []
    for name in names[1:]:
        p_values = [
            (dict(loss_series(row["block"])).get(name) or {}).get("p_value") for row in rows
        ]
        wins = sum(1 for p in p_values if p is not None and p < SIGNIFICANCE)
        out.append(
            f"- TaylorGLO beats {name} at p < {SIGNIFICANCE:g} in {wins} of {len(rows)} rows."
        )
    below = 0
    for row in rows:
        series = dict(loss_series(row["block"]))
        ce = (series.get("cross-entropy") or {}).get("mean")
        accuracies = series["TaylorGLO"].get("accuracies") or []
        below += ce is not None and any(a < ce for a in accuracies)
    out.append(
        f"- Rows with a TaylorGLO training below cross-entropy's mean: {below} of {len(rows)}."
    )
    return out


def write_study(
    run_dirs: Sequence[str | os.PathLike[str]], by: str, out_dir: str | os.PathLike[str]
) -> list[Path]:
    """Write ``study.md``, ``study.json`` and ``study.png``.

    Args:
        run_dirs: Analysed run directories.
        by: One of :data:`STUDY_AXES`.
        out_dir: The output directory (created).

    Returns:
        The files written.
    """
    rows = collect_study(run_dirs, by)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    title = {
        "noise": "Test accuracy against label-noise rate",
        "fraction": "Test accuracy against training-set fraction",
        "budget": "Test accuracy against the search's trainings",
        "run": "Test accuracy per run",
    }[by]
    paths = [out / "study.md", out / "study.json"]
    for path, text in (
        (paths[0], study_markdown(rows, title)),
        (paths[1], json.dumps(rows, indent=2) + "\n"),
    ):
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(text)
        os.replace(tmp, path)  # a crash never leaves half a study
    from .figures import plot_accuracy_lines

    xlabel = {
        "noise": "label-noise rate",
        "fraction": "training-set fraction",
        "budget": "the search's trainings (partial trainings and finalists)",
        "run": "run",
    }[by]
    paths.append(out / "study.png")
    runs = by == "run"  # runs side by side, named on the x axis
    plot_accuracy_lines(
        list(range(len(rows))) if runs else [r["x"] for r in rows],
        [r["block"] for r in rows],
        paths[-1],
        xlabel,
        title,
        log_x=by in ("fraction", "budget"),
        labels=[r["name"] for r in rows] if runs else None,
    )
    return paths
