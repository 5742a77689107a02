"""The ``analyze``, ``ttest``, ``plot`` and ``export`` commands (argparse wiring)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import TaylorGLOError
from ..stopping import say
from .plan import ANALYSIS_DIR, parse_candidates, parse_fractions, parse_select
from .report import export_text, format_number, format_p_value, missing_results, print_table
from .run import run_analysis
from .stats import compare, load_result_set

__all__ = [
    "add_analysis_parsers",
    "analyze_main",
    "export_main",
    "main",
    "plot_main",
    "study_main",
    "ttest_main",
]


def analyze_main(args: argparse.Namespace) -> int:
    """``keras-taylorglo analyze``: full trainings, t-test, reports.

    Args:
        args: ``run_dir``, ``runs``, ``candidates``, ``json``, ``out``, ``train_fractions``,
            ``baselines``, ``select``, ``overrides`` (``--set``).

    Returns:
        0.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # inherited by the workers
    fractions = parse_fractions(args.train_fractions) if args.train_fractions else None
    parse_candidates(args.candidates)  # a bad value fails before any worker starts
    from ..baselines import parse_baselines

    baselines = parse_baselines(args.baselines)
    report = run_analysis(
        args.run_dir,
        runs=args.runs,
        candidates=args.candidates,
        fractions=fractions,
        out_dir=args.out,
        progress=True,
        baselines=baselines,
        select=parse_select(args.select),
        overrides=args.overrides,
    )
    out = args.out or Path(args.run_dir) / ANALYSIS_DIR
    for line in missing_results(report):
        say(f"warning: {line}")
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_table(report)
        print(f"reports: {out / 'report.md'}, {out / 'report.json'}")
    return 0


def ttest_main(args: argparse.Namespace) -> int:
    """``keras-taylorglo ttest A.json B.json``: Student's and Welch's t-tests.

    Args:
        args: ``a``, ``b`` (paths) and ``json``.

    Returns:
        0.
    """
    result = compare(load_result_set(args.a), load_result_set(args.b))
    result["a"]["file"], result["b"]["file"] = str(args.a), str(args.b)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    for name in ("a", "b"):
        s = result[name]
        print(
            f"{name.upper()}: n = {len(s['accuracies'])}, mean = {format_number(s['mean'], 6)}, "
            f"std = {format_number(s['std'], 6)} (ddof 1)  [{s['file']}]"
        )
    print(f"difference (A − B) = {result['difference']:+.6f}")
    print(f"{'':10} {'t':>10} {'p two-tailed':>14} {'p one-tailed (A > B)':>22}")
    for name, label in (("student", "Student's"), ("welch", "Welch's")):
        r = result[name]
        print(
            f"{label:10} {format_number(r['t'], 4):>10} {format_p_value(r['p_two_tailed']):>14} "
            f"{format_p_value(r['p_one_tailed']):>22}"
        )
    return 0


def plot_main(args: argparse.Namespace) -> int:
    """``keras-taylorglo plot RUN_DIR``: the paper's figures as PNG files.

    Args:
        args: ``run_dir`` and ``out``.

    Returns:
        0.
    """
    from ..plots import plot_run
    from ..store.locate import require_run_dir

    for path in plot_run(require_run_dir(args.run_dir), args.out):
        print(path)
    return 0


def export_main(args: argparse.Namespace) -> int:
    """``keras-taylorglo export RUN_DIR``: the chosen loss as Python or JSON.

    Args:
        args: ``run_dir`` and ``format``.

    Returns:
        0.
    """
    from ..store import Store
    from ..store.locate import require_run_dir

    with Store.open_existing(require_run_dir(args.run_dir)) as store:
        best = store.chosen()
        meta = store.meta()
    if best is None:
        raise TaylorGLOError(f"{args.run_dir}: no candidate has a result yet; nothing to export")
    print(export_text(best, meta, args.format))
    return 0


def study_main(args: argparse.Namespace) -> int:
    """``keras-taylorglo study RUN_DIR...``: analysed runs side by side, a table and a plot.

    Args:
        args: ``run_dirs``, ``by`` and ``out``.

    Returns:
        0.
    """
    from ..store.locate import require_run_dir
    from .study import write_study

    for run_dir in args.run_dirs:
        require_run_dir(run_dir)  # before "no analysis yet", which would send it to analyze
    for path in write_study(args.run_dirs, args.by, args.out):
        print(path)
    return 0


def add_analysis_parsers(subparsers: Any) -> None:
    """Register ``analyze``, ``ttest``, ``plot``, ``study`` and ``export`` on the subparsers.

    Args:
        subparsers: The object returned by ``ArgumentParser.add_subparsers()``.
    """
    p = subparsers.add_parser(
        "analyze", help="full trainings of the best loss against baselines, with t-tests"
    )
    p.add_argument("run_dir", type=Path)
    p.add_argument("--runs", type=int, default=10, help="trainings per loss (default 10)")
    p.add_argument(
        "--candidates",
        default="best",
        help="best (default), top:K (the K best θ) or generations (each generation's best)",
    )
    p.add_argument(
        "--train-fractions",
        metavar="F1,F2,…",
        help="compare at each of these data.train_fraction values instead of the recipe's "
        "(paper Fig. 6; the report's top level describes the first), e.g. 1,0.5,0.1",
    )
    p.add_argument(
        "--baselines",
        default="crossentropy",
        metavar="B1,B2,…",
        help="losses to compare with, each trained like TaylorGLO (same seeds, budget, "
        "optimizer): crossentropy, label_smoothing[:ε] (0.1), gce[:q] (0.7), "
        "sce[:α[:β]] (0.1:1), nce_rce[:α[:β]] (1:1), poly1[:ε] (1), baikal; "
        "cross-entropy is always included (default crossentropy)",
    )
    p.add_argument(
        "--select",
        default="last",
        metavar="last|best_validation",
        help="score each training's last weights (default, the paper's protocol) or its "
        "best-validation epoch's (early stopping), for every loss alike",
    )
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="change the full training or where it runs, e.g. --set training.full.steps=100 "
        "(only training.full.*, training.schedule.*, execution.*; repeatable)",
    )
    p.add_argument("--out", type=Path, help="report directory (default RUN_DIR/analysis)")
    p.add_argument("--json", action="store_true", help="print the report JSON")
    p.set_defaults(func=analyze_main)

    p = subparsers.add_parser("ttest", help="Student's and Welch's t-tests of two result sets")
    p.add_argument(
        "a",
        type=Path,
        help='A: JSON list, {"accuracies": [...]} or report.json (add #baseline for its '
        "cross-entropy accuracies)",
    )
    p.add_argument("b", type=Path, help="B: the same kinds of file")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=ttest_main)

    p = subparsers.add_parser("plot", help="the paper's figures for a run, as PNG files")
    p.add_argument("run_dir", type=Path)
    p.add_argument("--out", type=Path, help="output directory (default RUN_DIR/plots)")
    p.set_defaults(func=plot_main)

    p = subparsers.add_parser(
        "study", help="analysed runs side by side: a table per loss and a plot (noise, fraction)"
    )
    p.add_argument("run_dirs", type=Path, nargs="+", metavar="RUN_DIR")
    p.add_argument(
        "--by",
        default="run",
        choices=("noise", "fraction", "budget", "run"),
        help="rows and x axis: each run's label-noise rate, one run's --train-fractions, each "
        "run's search trainings (finalists included), or runs side by side (default)",
    )
    p.add_argument("--out", type=Path, required=True, help="output directory")
    p.set_defaults(func=study_main)

    p = subparsers.add_parser("export", help="the best loss as a Python line or JSON")
    p.add_argument("run_dir", type=Path)
    p.add_argument("--format", choices=("python", "json"), default="python")
    p.set_defaults(func=export_main)


def main(argv: Sequence[str] | None = None) -> int:
    """Run only these four commands (``python -m keras_taylorglo.analysis``)."""
    parser = argparse.ArgumentParser(prog="keras-taylorglo")
    add_analysis_parsers(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except TaylorGLOError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
