"""``keras-taylorglo status RUN_DIR``: a run's state, generations, finalists and chosen loss.

It reads the store only (``status_json``), so it imports neither TensorFlow nor the search.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from typing import Any

__all__ = ["cmd_status", "describe_chosen", "finalists_table", "theta_text"]


def theta_text(theta: Sequence[float]) -> str:
    """θ as a short, readable list (4 decimals), for one line of a terminal."""
    return ", ".join(f"{v:.4f}" for v in theta)


def describe_chosen(chosen: dict[str, Any]) -> str:
    """One line on the chosen loss: a finalist's aggregate, or the best single evaluation.

    Args:
        chosen: ``Store.chosen()`` as a dict (``status --json``'s ``chosen``), or the best
            single evaluation with ``source = "best_evaluation"``.

    Returns:
        The line, without θ.
    """
    if chosen["source"] != "finalist":
        return (
            f"best fitness {chosen['fitness']:.4f} (generation {chosen['generation']}, "
            f"candidate {chosen['candidate']})"
        )
    origin = (
        "the CMA-ES mean"
        if chosen["generation"] is None
        else f"generation {chosen['generation']}, candidate {chosen['candidate']}, "
        f"search fitness {chosen['search_fitness']:.4f}"
    )
    return (
        f"chosen loss: finalist {chosen['finalist']}, validation accuracy "
        f"{chosen['fitness']:.4f} on new seeds ({origin})"
    )


def cmd_status(args: argparse.Namespace) -> int:
    """Print a run's state, generations and best candidate."""
    from .store import Store
    from .store.locate import require_run_dir

    with Store.open_existing(require_run_dir(args.run_dir)) as store:
        status = store.status_json()
        noise = store.meta().get("label_noise")
    if noise:
        status["label_noise"] = noise  # as the first worker realised it (absent: no noise)
    if args.json:
        print(json.dumps(status, indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{args.run_dir} — {status['state']}, {status['evaluations']} evaluations")
    for column in ("gen", "best", "mean", "σ", "evals", "cand. failures", "infra"):
        table.add_column(column, justify="right")
    for g in status["generations"]:
        table.add_row(
            str(g["index"]),
            _fmt(g["best_fitness"]),
            _fmt(g["mean_fitness"]),
            _fmt(g["sigma"], 3),
            str(g["evaluations"]),
            str(g["candidate_failures"]),
            str(g["infra_failures"]),
        )
    console = Console()
    console.print(table)
    if noise:
        from keras_taylorglo_tui.format import format_label_noise

        console.print(f"label noise: {format_label_noise(noise)}")
    best = status.get("best")
    if status.get("finalists"):
        console.print(finalists_table(status["finalists"]))
    chosen = status.get("chosen")
    # soft_wrap: a θ line is one line whatever the width (a script reading a pipe gets it whole)
    if chosen and chosen["source"] == "finalist":
        theta = theta_text(chosen["theta"])
        console.print(f"{describe_chosen(chosen)}: θ = [{theta}]", soft_wrap=True)
        if best:
            single = {**best, "source": "best_evaluation"}
            console.print(f"best single evaluation: {describe_chosen(single)}", soft_wrap=True)
    elif best:
        console.print(
            f"best fitness {best['fitness']:.4f} (generation {best['generation']}, "
            f"candidate {best['candidate']}): θ = [{theta_text(best['theta'])}]",
            soft_wrap=True,
        )
    return 0


def finalists_table(finalists: list[dict[str, Any]]) -> Any:
    """The finalists of ``status --json`` as a Rich table (rank, origin, fitnesses, chosen)."""
    from rich.table import Table

    table = Table(title="finalists (validation accuracy on new seeds)")
    for column in ("finalist", "from", "search fitness", "status", "fitness", "chosen"):
        table.add_column(column, justify="right")
    for f in finalists:
        origin = "CMA-ES mean" if f["source"] == "mean" else f"{f['generation']}/{f['candidate']}"
        table.add_row(
            str(f["finalist"]),
            origin,
            _fmt(f["search_fitness"]),
            f["status"],
            _fmt(f["fitness"]),
            "✓" if f["chosen"] else "",
        )
    return table


def _fmt(value: float | None, digits: int = 4) -> str:
    return "—" if value is None else f"{value:.{digits}f}"
