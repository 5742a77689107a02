"""The analysis report as a terminal table, Markdown and JSON; ``export``'s text."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import TaylorGLOError
from ..outcomes import Status
from .plan import MAX_RERUNS

if TYPE_CHECKING:
    from ..store.frozen import ChosenRecord

__all__ = [
    "comparison_rows",
    "describe_noise",
    "export_text",
    "format_number",
    "format_p_value",
    "format_summary",
    "missing_results",
    "print_table",
    "report_markdown",
    "table_row",
    "write_reports",
]


def format_number(value: float | None, digits: int = 4) -> str:
    """A number with fixed digits, ``"—"`` when missing.

    Args:
        value: The number or ``None``.
        digits: Digits after the point.

    Returns:
        The text.
    """
    return "—" if value is None else f"{value:.{digits}f}"


def format_summary(summary: dict[str, Any]) -> str:
    """A summary's mean and standard deviation as ``"0.9312 (0.0041)"``.

    Args:
        summary: A :func:`~.stats.summarize` dict.

    Returns:
        The text.
    """
    return f"{format_number(summary['mean'])} ({format_number(summary['std'])})"


def format_p_value(value: float | None) -> str:
    """A p-value with three significant digits, ``"—"`` when missing.

    Args:
        value: The p-value or ``None``.

    Returns:
        The text.
    """
    return "—" if value is None else f"{value:.3g}"


def table_row(report: dict[str, Any]) -> list[str]:
    """The Table-1 row of a report.

    Args:
        report: The report dict.

    Returns:
        ``[experiment, cross-entropy mean (std), TaylorGLO mean (std), difference, p, runs]``.
    """
    return [
        str(report.get("experiment") or "—"),
        format_summary(report["baseline"]),
        format_summary(report["taylorglo"]),
        "—" if report["difference"] is None else f"{report['difference']:+.4f}",
        format_p_value(report["p_value"]),
        str(report["runs"]),
    ]


_HEADER = [
    "task",
    "cross-entropy",
    "TaylorGLO",
    "difference",
    "p (Welch, one-tailed)",
    "runs",
]


def comparison_rows(block: dict[str, Any]) -> list[list[str]]:
    """One row per loss of a report block: TaylorGLO first, then every baseline.

    Args:
        block: The report, or one of its ``fractions`` entries.

    Returns:
        Rows ``[loss, mean (std), TaylorGLO − loss, p (TaylorGLO > loss)]``; TaylorGLO's own
        row has ``—`` in the last two columns.
    """
    rows = [["TaylorGLO", format_summary(block["taylorglo"]), "—", "—"]]
    baselines = block.get("baselines") or {
        "crossentropy": {
            "name": "cross-entropy",
            **block["baseline"],
            "difference": block["difference"],
            "p_value": block["p_value"],
        }
    }
    for entry in baselines.values():
        diff = "—" if entry["difference"] is None else f"{entry['difference']:+.4f}"
        rows.append([entry["name"], format_summary(entry), diff, format_p_value(entry["p_value"])])
    return rows


_COMPARISON_HEADER = ["loss", "test accuracy", "TaylorGLO − loss", "p (TaylorGLO > loss)"]


def describe_noise(noise: dict[str, Any] | None) -> str:
    """A line about a run's label noise (``""`` for clean labels).

    Args:
        noise: The store's ``label_noise`` meta value (or the report's).

    Returns:
        E.g. ``"label noise: symmetric 0.40 (realised 0.397 train, 0.410 validation)"``.
    """
    if not noise:
        return ""
    parts = []
    if noise.get("realised_train") is not None:
        parts.append(f"realised {noise['realised_train']:.3f} train")
    if not noise.get("validation", True):
        parts.append("clean validation")
    elif noise.get("realised_validation") is not None:
        parts.append(f"{noise['realised_validation']:.3f} validation")
    detail = f" ({', '.join(parts)})" if parts else ""
    return f"label noise: {noise['kind']} {noise['rate']:.2f}{detail}; test labels clean"


def _summary_line(report: dict[str, Any]) -> str:
    select = report.get("select", "last")
    scored = (
        "the weights of each training's best-validation epoch"
        if select == "best_validation"
        else "the last step's weights (the paper's protocol)"
    )
    noise = describe_noise(report.get("label_noise"))
    return (
        f"Test accuracy after full training, {report['runs']} runs per loss (run i of each loss "
        f"uses the same seed), training-set fraction {report['train_fraction']:g}, scored with "
        f"{scored}. Mean (sample standard deviation, ddof = 1); p: one-tailed Welch t-test that "
        "TaylorGLO's mean is greater (SciPy)."
        + (f" {noise[0].upper()}{noise[1:]}." if noise else "")
    )


def report_markdown(report: dict[str, Any], run_dir: str | os.PathLike[str] = "") -> str:
    """``report.md``: TaylorGLO against every baseline, the Table-1 row and the details.

    Args:
        report: The report dict.
        run_dir: The run directory (named in the text).

    Returns:
        The Markdown text.
    """
    lines = [
        f"# TaylorGLO analysis of {run_dir}" if run_dir else "# TaylorGLO analysis",
        "",
        _summary_line(report),
        "",
        "| " + " | ".join(_COMPARISON_HEADER) + " |",
        "|" + "|".join("---" for _ in _COMPARISON_HEADER) + "|",
        *("| " + " | ".join(row) + " |" for row in comparison_rows(report)),
        "",
        "Table-1 row (against cross-entropy):",
        "",
        "| " + " | ".join(_HEADER) + " |",
        "|" + "|".join("---" for _ in _HEADER) + "|",
        "| " + " | ".join(table_row(report)) + " |",
        "",
        "θ = [" + ", ".join(repr(v) for v in report["taylorglo"]["theta"]) + "]",
        "",
        "| loss | test accuracies |",
        "|---|---|",
        "| TaylorGLO | " + ", ".join(f"{a:.4f}" for a in report["taylorglo"]["accuracies"]) + " |",
    ]
    for entry in (
        report.get("baselines") or {"": {"name": "cross-entropy", **report["baseline"]}}
    ).values():
        lines.append(
            f"| {entry['name']} | " + ", ".join(f"{a:.4f}" for a in entry["accuracies"]) + " |"
        )
    if "candidates" in report:
        lines += [
            "",
            "## Candidates (against cross-entropy)",
            "",
            "| generation | candidate | fitness | TaylorGLO | difference | p |",
            "|---|---|---|---|---|---|",
        ]
        for c in report["candidates"]:
            diff = "—" if c["difference"] is None else f"{c['difference']:+.4f}"
            lines.append(
                f"| {c['generation']} | {c['candidate']} | {format_number(c['fitness'])} | "
                f"{format_summary(c)} | {diff} | {format_p_value(c['p_value'])} |"
            )
    if "fractions" in report:
        lines += [
            "",
            "## Training-set fractions",
            "",
            "| fraction | " + " | ".join(_COMPARISON_HEADER) + " |",
            "|---|" + "|".join("---" for _ in _COMPARISON_HEADER) + "|",
        ]
        for f in report["fractions"]:
            for row in comparison_rows(f):
                lines.append(f"| {f['fraction']:g} | " + " | ".join(row) + " |")
        lines += ["", "![accuracy against training-set fraction](fig6_fractions.png)"]
    return "\n".join(lines) + "\n"


def print_table(report: dict[str, Any]) -> None:
    """Print the comparison table (and one per training-set fraction) with Rich.

    Args:
        report: The report dict.
    """
    from rich.console import Console
    from rich.table import Table

    console = Console()
    blocks = report.get("fractions") or [report]
    for block in blocks:
        title = "Test accuracy: mean (sample std)"
        if "fractions" in report:
            title += f", training fraction {block['fraction']:g}"
        table = Table(
            title=title,
            caption=f"{report['runs']} runs per loss, select {report.get('select', 'last')}",
        )
        for column in _COMPARISON_HEADER:
            table.add_column(column, justify="left" if column == "loss" else "right")
        for row in comparison_rows(block):
            table.add_row(*row)
        console.print(table)
    noise = describe_noise(report.get("label_noise"))
    if noise:
        console.print(noise, soft_wrap=True)


def write_reports(
    report: dict[str, Any], out_dir: str | os.PathLike[str], run_dir: str | os.PathLike[str] = ""
) -> list[Path]:
    """Write ``report.json``, ``report.md`` (and ``fig6_fractions.png`` with fractions).

    Args:
        report: The report dict.
        out_dir: The output directory (created).
        run_dir: The run directory, named in ``report.md``.

    Returns:
        The files written.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "report.json", out / "report.md"]
    _write_atomic(paths[0], json.dumps(report, indent=2) + "\n")
    _write_atomic(paths[1], report_markdown(report, run_dir))
    if "fractions" in report:
        from .figures import plot_fractions

        paths.append(out / "fig6_fractions.png")
        plot_fractions(report["fractions"], paths[-1])
    return paths


def export_text(best: ChosenRecord, meta: dict[str, Any], fmt: str = "python") -> str:
    """The chosen loss as a line of Python or as JSON.

    Args:
        best: ``Store.chosen()`` (a :class:`~keras_taylorglo.store.ChosenRecord`): the chosen
            finalist, or the best single evaluation of a run without a finalist stage. The JSON
            of a finalist adds ``chosen_by`` (``"finalists"``), ``finalist``, ``finalist_seeds``
            and ``search_fitness``; ``fitness`` is then the finalist's aggregate.
        meta: ``Store.meta()`` (loss settings, experiment name).
        fmt: ``"python"`` or ``"json"``.

    Returns:
        The text (no trailing newline).

    Raises:
        TaylorGLOError: For another ``fmt``.
    """
    from ..expansion import ExpansionSpec

    spec = ExpansionSpec.from_meta(meta)
    theta = [float(v) for v in best.theta]
    if fmt == "python":
        inputs = (
            "("
            + ", ".join(json.dumps(i) for i in spec.inputs)
            + (",)" if len(spec.inputs) == 1 else ")")
        )
        return (
            f"TaylorGLOLoss(theta=[{', '.join(repr(v) for v in theta)}], "
            f"order={spec.order}, inputs={inputs}, trim={spec.trim}, "
            f"convention={json.dumps(spec.convention)})"
        )
    if fmt == "json":
        fitness_kind = "validation_accuracy"
        text = meta.get("recipe_text") or ""
        try:
            from ..recipe import parse_recipe

            fitness_kind = parse_recipe(
                text, base_dir=Path(meta.get("base_dir") or ".")
            ).evaluation.fitness
        except TaylorGLOError:  # an old or odd recipe: the loss settings still stand
            pass
        exported: dict[str, Any] = {
            "theta": theta,
            "loss": {**spec.as_dict(), "inputs": list(spec.inputs)},
            "fitness": best.fitness,
            "fitness_measure": fitness_kind,
            "generation": best.generation,
            "candidate": best.candidate,
            "experiment": meta.get("name"),
        }
        if best.source == "finalist":
            exported |= {
                "chosen_by": "finalists",
                "finalist": best.finalist,
                "finalist_seeds": (meta.get("finalist_stage") or {}).get("seeds"),
                "search_fitness": best.search_fitness,
            }
        return json.dumps(exported, indent=2)
    raise TaylorGLOError(f"--format: {fmt!r} is not a format; expected python or json")


def missing_results(report: dict[str, Any]) -> list[str]:
    """One line per result set of a report that has fewer accuracies than runs.

    Args:
        report: A report from :func:`~keras_taylorglo.analysis.build_report`.

    Returns:
        Lines such as ``"TaylorGLO: 2 of 10 trainings failed on every re-run and are left out
        (see RUN_DIR/analysis/report.json, statuses)"``; empty when every training has a result.
    """
    lines = []
    blocks = report.get("fractions") or [report]
    for block in blocks:
        where = f" at train fraction {block['fraction']:g}" if "fraction" in block else ""
        sets = [("TaylorGLO", block["taylorglo"])]
        baselines = block.get("baselines") or {"": {"name": "cross-entropy", **block["baseline"]}}
        sets += [(entry["name"], entry) for entry in baselines.values()]
        for name, summary in sets:
            failed = summary.get("statuses", {}).get(Status.FAILED, 0)
            if failed:
                lines.append(
                    f"{name}{where}: {failed} of {report['runs']} trainings failed on every "
                    f"re-run ({MAX_RERUNS} re-runs) and are left out; `analyze` again retries them"
                )
    return lines


def _write_atomic(path: Path, text: str) -> None:
    """Write via a temporary file and rename: a crash never leaves half a report."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)  # a full disk: no stray temporary file beside the old report
        raise
