"""The paper's figures for one run, as PNG files (matplotlib, Agg, no display needed).

- ``fig2_accuracy.png`` (paper Fig. 2): each generation's best and mean fitness, the all-time
  best, and red dots where a generation set a new all-time best.
- ``fig3a_loss_shapes.png`` (Fig. 3a): each generation's best loss in the binary modality (true
  class 0, prediction ``[y0, 1 - y0]``), shifted so that the loss at ``y0 = 1`` is 0, coloured
  by generation.
- ``fig3b_theta.png`` (Fig. 3b): each generation's best θ, one line per parameter.
- ``fig7_candidates.png`` (Fig. 7): every candidate θ projected on the first two principal
  components of all candidates, coloured by generation; the best is a star.
- ``fig6_fractions.png`` (Fig. 6, written by ``analyze --train-fractions``): mean test accuracy
  (± sample std) against the training-set fraction, TaylorGLO and cross-entropy.

Matplotlib is imported only inside these functions, and only its object-oriented API with the
Agg canvas is used: nothing here changes the global backend of a program that imports us.

Example:
    >>> paths = plot_run("runs/digits")  # -> [runs/digits/plots/fig2_accuracy.png, ...]
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .expansion import ExpansionSpec, resolve_spec, shifted_loss_shape

if TYPE_CHECKING:
    from .store.frozen import BestRecord, CandidateRecord, ChosenRecord, GenerationRecord

__all__ = [
    "PLOT_FILES",
    "figure",
    "loss_settings",
    "plot_candidates",
    "plot_fitness",
    "plot_loss_shapes",
    "plot_run",
    "plot_theta",
    "render_loss_shape_png",
    "save_png",
]

PLOT_FILES = (
    "fig2_accuracy.png",
    "fig3a_loss_shapes.png",
    "fig3b_theta.png",
    "fig7_candidates.png",
)
"""The files :func:`plot_run` writes, in order."""

_DPI = 100


def loss_settings(meta: dict[str, Any]) -> dict[str, Any]:
    """The loss settings (``order``, ``inputs``, ``trim``, ``convention``) from a store's meta.

    Args:
        meta: ``Store.meta()``.

    Returns:
        Keyword arguments for :func:`keras_taylorglo.expansion.shifted_loss_shape`: the
        :meth:`~keras_taylorglo.expansion.ExpansionSpec.as_dict` of
        :meth:`~keras_taylorglo.expansion.ExpansionSpec.from_meta`.

    Raises:
        ValueError: If the meta holds invalid settings.
    """
    return ExpansionSpec.from_meta(meta).as_dict()


def figure(width: float = 6.4, height: float = 4.2) -> Any:
    """A matplotlib figure on the Agg canvas (no display, no pyplot state).

    Args:
        width: Width in inches.
        height: Height in inches.

    Returns:
        The :class:`matplotlib.figure.Figure`.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=_DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save_png(fig: Any, path: str | os.PathLike[str] | None) -> bytes:
    """The figure as PNG bytes, also written to ``path`` (its directory created) when given.

    Args:
        fig: A figure from :func:`figure`.
        path: The file to write, or ``None``.

    Returns:
        The PNG bytes.
    """
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=_DPI)
    data = buffer.getvalue()
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_bytes(data)
    return data


def _integer_x(ax: Any) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _generation_colorbar(fig: Any, ax: Any, cmap: Any, norm: Any) -> None:
    from matplotlib.cm import ScalarMappable
    from matplotlib.ticker import MaxNLocator

    bar = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, label="generation")
    bar.ax.yaxis.set_major_locator(MaxNLocator(integer=True))


def _colour_map(count: int) -> tuple[Any, Any]:
    from matplotlib import colormaps
    from matplotlib.colors import Normalize

    return colormaps["viridis"], Normalize(vmin=0, vmax=max(1, count - 1))


def fitness_measure(meta: dict[str, Any]) -> str:
    """The run's ``evaluation.fitness`` (``"validation_accuracy"`` or a ``module:function``).

    Args:
        meta: ``Store.meta()``, which holds the recipe text.

    Returns:
        The setting, or ``"validation_accuracy"`` if the recipe text cannot be read.
    """
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    try:
        evaluation = tomllib.loads(meta.get("recipe_text") or "").get("evaluation", {})
        return str(evaluation.get("fitness", "validation_accuracy"))
    except (tomllib.TOMLDecodeError, AttributeError):
        return "validation_accuracy"


def plot_fitness(
    generations: Sequence[GenerationRecord],
    path: str | os.PathLike[str],
    measure: str = "validation_accuracy",
) -> bytes:
    """Fig. 2: generation best, generation mean, all-time best and new-best markers.

    Args:
        generations: ``Store.generations()`` rows (unfinished ones without results are skipped).
        path: The PNG file to write.
        measure: The recipe's ``evaluation.fitness`` (the y-axis says what fitness is).

    Returns:
        The PNG bytes.
    """
    rows = [g for g in generations if g.best_fitness is not None]
    x = [g.generation for g in rows]
    best = [g.best_fitness for g in rows]
    mean = [g.mean_fitness for g in rows]
    so_far = list(np.maximum.accumulate(best)) if best else []
    fig = figure()
    ax = fig.add_subplot()
    ax.plot(x, mean, color="tab:gray", marker=".", label="generation mean")
    ax.plot(x, best, color="tab:blue", marker=".", label="generation best")
    ax.step(x, so_far, where="post", color="black", linewidth=1.5, label="all-time best")
    marks = [(g.generation, g.best_fitness) for g in rows if g.new_best]
    if marks:
        ax.scatter(*zip(*marks, strict=True), color="red", zorder=3, s=30, label="new best")
    ax.set_xlabel("generation")
    ax.set_ylabel(f"fitness ({measure.replace('_', ' ')})")
    ax.set_title("Fitness over the search")
    ax.grid(alpha=0.3)
    _integer_x(ax)
    ax.legend(loc="best", fontsize="small")
    return save_png(fig, path)


def plot_loss_shapes(
    thetas: Sequence[Sequence[float]],
    spec: ExpansionSpec | Mapping[str, Any],
    path: str | os.PathLike[str],
    generations: Sequence[int] | None = None,
    chosen: Sequence[float] | None = None,
) -> bytes:
    """Fig. 3a: each generation's best loss in the binary modality, coloured by generation.

    Args:
        thetas: One θ per generation (its best), in generation order.
        spec: How θ maps to a loss: an :class:`~keras_taylorglo.expansion.ExpansionSpec`, or
            the four settings as :func:`loss_settings` gives them.
        path: The PNG file to write.
        generations: The generation index of each θ (default ``0, 1, …``).
        chosen: The θ of the loss the run hands over (the chosen finalist), drawn in black over
            the others; ``None`` draws none.

    Returns:
        The PNG bytes.
    """
    if not isinstance(spec, ExpansionSpec):
        spec = ExpansionSpec(**spec)
    gens = list(range(len(thetas))) if generations is None else list(generations)
    cmap, norm = _colour_map(max(gens, default=0) + 1)
    fig = figure()
    ax = fig.add_subplot()
    for g, theta in zip(gens, thetas, strict=True):
        y0, loss = shifted_loss_shape(theta, spec=spec)
        ax.plot(y0, loss, color=cmap(norm(g)), linewidth=1.4)
    if chosen is not None:
        y0, loss = shifted_loss_shape(chosen, spec=spec)
        ax.plot(y0, loss, color="black", linewidth=2.4, linestyle="--", label="chosen loss")
        ax.legend(loc="best", fontsize="small")
    ax.axhline(0.0, color="black", linewidth=0.6, alpha=0.5)
    ax.set_xlabel("$y_0$ (predicted probability of the true class)")
    ax.set_ylabel("loss − loss at $y_0$ = 1")
    ax.set_title("Best loss of each generation (binary modality)")
    ax.grid(alpha=0.3)
    _generation_colorbar(fig, ax, cmap, norm)
    return save_png(fig, path)


def plot_theta(
    thetas: Sequence[Sequence[float]],
    path: str | os.PathLike[str],
    generations: Sequence[int] | None = None,
) -> bytes:
    """Fig. 3b: each generation's best θ over generations, one line per parameter.

    Args:
        thetas: One θ per generation (its best).
        path: The PNG file to write.
        generations: The generation index of each θ (default ``0, 1, …``).

    Returns:
        The PNG bytes.
    """
    gens = list(range(len(thetas))) if generations is None else list(generations)
    matrix = np.asarray(thetas, dtype=float).reshape(len(gens), -1)
    fig = figure()
    ax = fig.add_subplot()
    from matplotlib import colormaps

    cmap = colormaps["tab10" if matrix.shape[1] <= 10 else "tab20"]
    for j in range(matrix.shape[1]):
        ax.plot(gens, matrix[:, j], marker=".", color=cmap(j % cmap.N), label=f"θ{j}")
    ax.axhline(0.0, color="black", linewidth=0.6, alpha=0.5)
    ax.set_xlabel("generation")
    ax.set_ylabel("value")
    ax.set_title("Best θ of each generation")
    ax.grid(alpha=0.3)
    _integer_x(ax)
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize="small")
    return save_png(fig, path)


def pca_2d(points: Any) -> Any:
    """Project points on their first two principal components (SVD of the centred matrix).

    Args:
        points: An ``(n, d)`` array.

    Returns:
        An ``(n, 2)`` array (a missing component, for rank < 2, is zeros). Signs are fixed so
        that each component's largest absolute loading is positive (stable pictures).
    """
    x = np.asarray(points, dtype=float)
    centred = x - x.mean(axis=0)
    out = np.zeros((x.shape[0], 2))
    if x.shape[0] < 2:
        return out
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    for k in range(min(2, vt.shape[0])):
        axis = vt[k]
        axis = axis * np.sign(axis[np.argmax(np.abs(axis))] or 1.0)
        out[:, k] = centred @ axis
    return out


def plot_candidates(
    candidates: Sequence[CandidateRecord],
    path: str | os.PathLike[str],
    best: BestRecord | ChosenRecord | None = None,
) -> bytes:
    """Fig. 7: a 2-D PCA projection of every candidate θ, coloured by generation.

    Args:
        candidates: ``Store.candidates()`` rows (``generation``, ``candidate``, ``theta``).
        path: The PNG file to write.
        best: ``Store.chosen()`` (or ``Store.best()``), marked with a star: the chosen
            finalist, which may be the CMA-ES mean rather than a candidate.

    Returns:
        The PNG bytes.
    """
    fig = figure()
    ax = fig.add_subplot()
    if candidates:
        index = None if best is None else _candidate_index(candidates, best)
        # The CMA-ES mean is no candidate: project it with them, drawn only as the star.
        extra = [list(best.theta)] if best is not None and index is None else []
        xy = pca_2d([c.theta for c in candidates] + extra)
        index = len(candidates) if extra else index
        gens = np.array([c.generation for c in candidates])
        cmap, norm = _colour_map(int(gens.max()) + 1)
        ax.scatter(
            xy[: len(candidates), 0],
            xy[: len(candidates), 1],
            c=gens,
            cmap=cmap,
            norm=norm,
            s=22,
            alpha=0.85,
        )
        if index is not None:
            finalist = getattr(best, "source", "") == "finalist"
            ax.scatter(
                [xy[index, 0]],
                [xy[index, 1]],
                marker="*",
                s=220,
                color="red",
                edgecolor="black",
                zorder=3,
                label="chosen (best finalist)" if finalist else "best",
            )
            ax.legend(loc="best", fontsize="small")
        _generation_colorbar(fig, ax, cmap, norm)
    ax.set_xlabel("principal component 1")
    ax.set_ylabel("principal component 2")
    ax.set_title(f"All {len(candidates)} candidates (PCA of θ)")
    ax.grid(alpha=0.3)
    return save_png(fig, path)


def _candidate_index(candidates: Sequence[CandidateRecord], best: Any) -> int | None:
    """The position of ``best`` among ``candidates`` (``None`` for the CMA-ES mean)."""
    if best.generation is None:
        return None
    return next(
        (
            i
            for i, c in enumerate(candidates)
            if (c.generation, c.candidate) == (best.generation, best.candidate)
        ),
        None,
    )


def render_loss_shape_png(
    theta: Sequence[float],
    title: str = "",
    order: int = 3,
    inputs: Sequence[str] = ("label", "prediction"),
    trim: bool = True,
    convention: str = "paper",
    *,
    spec: ExpansionSpec | None = None,
) -> bytes:
    """A small PNG of one loss in the binary modality (for TensorBoard).

    Args:
        theta: The loss parameters.
        title: The plot's title.
        order: Taylor order.
        inputs: Input names in θ order.
        trim: Eq. 5 trimming.
        convention: ``"paper"`` or ``"lossferatu"``.
        spec: The expansion as one value; replaces ``order``, ``inputs``, ``trim`` and
            ``convention``.

    Returns:
        The PNG bytes.
    """
    spec = resolve_spec(spec, order, inputs, trim, convention)
    y0, loss = shifted_loss_shape(theta, spec=spec)
    fig = figure(4.0, 3.0)
    ax = fig.add_subplot()
    ax.plot(y0, loss, color="tab:red")
    ax.axhline(0.0, color="black", linewidth=0.6, alpha=0.5)
    ax.set_xlabel("$y_0$")
    ax.set_ylabel("loss − loss($y_0$=1)")
    ax.set_title(title, fontsize="small")
    ax.grid(alpha=0.3)
    return save_png(fig, None)


def generation_bests(store: Any) -> tuple[list[int], list[list[float]]]:
    """Each finished generation's best θ.

    Args:
        store: A :class:`~keras_taylorglo.store.Store`.

    Returns:
        ``(generation indices, θ list)`` for generations with a best candidate.
    """
    by_key = {(c.generation, c.candidate): c.theta for c in store.candidates()}
    gens, thetas = [], []
    for g in store.generations():
        if g.best_candidate is not None:
            gens.append(g.generation)
            thetas.append(by_key[(g.generation, g.best_candidate)])
    return gens, thetas


def plot_run(
    run_dir: str | os.PathLike[str], out_dir: str | os.PathLike[str] | None = None
) -> list[Path]:
    """Write :data:`PLOT_FILES` for a run.

    Args:
        run_dir: The run directory.
        out_dir: Where the PNG files go (default ``RUN_DIR/plots``).

    Returns:
        The paths written.

    Raises:
        TaylorGLOError: If the run has no finished candidate yet (nothing to draw).
    """
    from .errors import TaylorGLOError
    from .store import Store

    out = Path(run_dir) / "plots" if out_dir is None else Path(out_dir)
    with Store.open_existing(run_dir) as store:
        generations = store.generations()
        candidates = store.candidates()
        chosen = store.chosen()
        meta = store.meta()
        spec = ExpansionSpec.from_meta(meta)
        gens, thetas = generation_bests(store)
    if chosen is None:
        raise TaylorGLOError(f"{run_dir}: no candidate has a result yet; nothing to plot")
    paths = [out / name for name in PLOT_FILES]
    plot_fitness(generations, paths[0], fitness_measure(meta))
    # The chosen finalist's shape is drawn over the generations' bests; a run without a finalist
    # stage hands over its best single evaluation, already among them.
    finalist = chosen.theta if chosen.source == "finalist" else None
    plot_loss_shapes(thetas, spec, paths[1], gens, chosen=finalist)
    plot_theta(thetas, paths[2], gens)
    plot_candidates(candidates, paths[3], chosen)
    return paths
