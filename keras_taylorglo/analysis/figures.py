"""The analysis's figures: every loss's test accuracy against one axis, from report blocks.

The axis is a noise rate, a training-set fraction (Fig. 6) or a search's budget (the studies).

This module draws with matplotlib (the Agg backend, through :mod:`keras_taylorglo.plots`) and
imports no TensorFlow.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..plots import figure, save_png

__all__ = ["loss_series", "plot_accuracy_lines", "plot_fractions"]


def loss_series(block: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The result sets of a report block, TaylorGLO first, then every baseline.

    Args:
        block: An analysis report or one of its ``fractions`` entries.

    Returns:
        ``[(name, summary)]`` with ``mean`` and ``std`` in each summary.
    """
    baselines = block.get("baselines") or {
        "crossentropy": {"name": "cross-entropy", **block["baseline"]}
    }
    return [("TaylorGLO", block["taylorglo"])] + [(b["name"], b) for b in baselines.values()]


# TaylorGLO and every baseline kind (crossentropy … baikal: 7) get a colour of their own.
_LOSS_COLOURS = (
    "tab:red",
    "tab:blue",
    "tab:green",
    "tab:orange",
    "tab:purple",
    "tab:brown",
    "tab:pink",
    "tab:olive",
    "tab:cyan",
    "tab:gray",
)


def plot_accuracy_lines(
    x: Sequence[float],
    blocks: Sequence[dict[str, Any]],
    path: str | os.PathLike[str],
    xlabel: str,
    title: str,
    log_x: bool = False,
    labels: Sequence[str] | None = None,
) -> bytes:
    """Mean test accuracy (± sample std) of every loss against ``x``, one line per loss.

    Args:
        x: One value per block (a noise rate, a training-set fraction).
        blocks: Report blocks (:func:`loss_series` reads each), aligned with ``x``.
        path: The PNG file to write.
        xlabel: The x axis's label.
        title: The plot's title.
        log_x: A logarithmic x axis (training-set fractions).
        labels: Names for the x ticks, aligned with ``x`` (runs side by side), instead of the
            values.

    Returns:
        The PNG bytes.
    """
    order = sorted(range(len(x)), key=lambda i: x[i])
    xs = [x[i] for i in order]
    fig = figure(width=7.8)  # room for the legend beside the axes
    ax = fig.add_subplot()
    names = [name for name, _ in loss_series(blocks[order[0]])]
    for k, name in enumerate(names):
        mean, std = [], []
        for i in order:
            summary = dict(loss_series(blocks[i])).get(name, {})
            mean.append(np.nan if summary.get("mean") is None else summary["mean"])
            std.append(0.0 if summary.get("std") is None else summary["std"])
        colour = _LOSS_COLOURS[k % len(_LOSS_COLOURS)]
        if labels is None:
            ax.errorbar(xs, mean, yerr=std, marker="o", capsize=4, color=colour, label=name)
        else:  # separate runs: no line between them, each loss a little apart from the next
            shift = (k - (len(names) - 1) / 2) * 0.08
            at = [v + shift for v in xs]
            ax.errorbar(at, mean, yerr=std, fmt="o", capsize=3, color=colour, label=name)
    if log_x:
        ax.set_xscale("log")
        ax.minorticks_off()
    ticks = [f"{v:g}" for v in xs] if labels is None else [labels[i] for i in order]
    ax.set_xticks(
        xs, ticks, rotation=0 if labels is None else 30, ha="center" if labels is None else "right"
    )
    ax.set_xlabel(xlabel)
    ax.set_ylabel("test accuracy (mean ± std)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    # Beside the axes, not on them: with five losses any corner hides some error bar.
    fig.legend(loc="outside right upper", fontsize="small")
    return save_png(fig, path)


def plot_fractions(fractions: Sequence[dict[str, Any]], path: str | os.PathLike[str]) -> bytes:
    """Fig. 6: mean test accuracy (± sample std) against the training-set fraction, every loss.

    Args:
        fractions: The ``"fractions"`` entries of an analysis report (``fraction``,
            ``taylorglo``, ``baseline`` and ``baselines`` with ``mean`` and ``std``).
        path: The PNG file to write.

    Returns:
        The PNG bytes.
    """
    return plot_accuracy_lines(
        [f["fraction"] for f in fractions],
        fractions,
        path,
        "training-set fraction (data.train_fraction)",
        "Accuracy against training-set size",
        log_x=True,
    )
