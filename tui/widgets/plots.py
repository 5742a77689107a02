"""Plots drawn with plotext (textual-plotext): accuracy over generations, loss shapes, θ.

Each plot re-draws only when its data changed, since plotext re-renders the whole figure.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from textual_plotext import PlotextPlot

from ..view_rows import CandidateRow, GenerationRow, MonitorSnapshot

RGB = tuple[int, int, int]

MAX_SHAPES = 40
"""At most this many loss shapes are drawn (evenly spread, always the first and the last):
more are indistinguishable at terminal resolution and cost drawing time."""

EARLY: RGB = (40, 110, 255)
"""Colour of the first generation's loss shape (blue)."""
LATE: RGB = (235, 50, 40)
"""Colour of the latest generation's loss shape (red)."""

THETA_COLOURS: tuple[RGB, ...] = (
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (188, 189, 34),
    (23, 190, 207),
    (127, 127, 127),
)
"""One colour per θ entry (matplotlib's tab10, repeating)."""


def generation_colour(position: int, count: int) -> RGB:
    """Blue for the first of ``count`` generations, red for the last, linear in between.

    Args:
        position: the generation's position (0-based).
        count: how many generations are drawn.

    Returns:
        An RGB triple.

    Example:
        >>> generation_colour(0, 3), generation_colour(2, 3)
        ((40, 110, 255), (235, 50, 40))
    """
    t = 0.0 if count <= 1 else position / (count - 1)
    return tuple(round(a + (b - a) * t) for a, b in zip(EARLY, LATE, strict=True))  # type: ignore[return-value]


def thin(items: list, limit: int) -> list:
    """At most ``limit`` items, evenly spread, always keeping the first and the last.

    Args:
        items: the items in order.
        limit: how many to keep at most (>= 2).

    Returns:
        The kept items, in order.

    Example:
        >>> thin(list(range(10)), 4)
        [0, 3, 6, 9]
    """
    if len(items) <= limit:
        return list(items)
    keep = sorted({round(i * (len(items) - 1) / (limit - 1)) for i in range(limit)})
    return [items[i] for i in keep]


def _generation_ticks(plt, x: list[int]) -> None:
    """Whole-number generation ticks (plotext would label 0.0, 1.5, ...); a lone point gets room."""
    if not x:
        return
    first, last = x[0], x[-1]
    if first == last:
        plt.xlim(first - 1, last + 1)
        plt.xticks([first])
        return
    step = max(1, int(np.ceil((last - first) / 6)))
    plt.xticks(list(range(first, last + 1, step)))


def hex_colour(rgb: RGB) -> str:
    """``#rrggbb`` for an RGB triple (for Textual markup in titles)."""
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def _robust_ylim(curves: Sequence[np.ndarray]) -> tuple[float, float] | None:
    """Y limits that keep a few exploding curves from flattening all the others."""
    if not curves:
        return None
    values = np.concatenate(curves)
    low, high = np.percentile(values, [2, 98])
    full_low, full_high = float(values.min()), float(values.max())
    span = high - low
    if span <= 0:
        return None
    # only clip when the extremes are far outside the bulk
    low = full_low if full_low >= low - span else low - 0.1 * span
    high = full_high if full_high <= high + span else high + 0.1 * span
    return float(low), float(high)


class _Plot(PlotextPlot):
    """A plotext plot that re-draws only when its data key changes."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._key: object = None
        self._render_key: object = None
        self._rendered = None
        self.curves: dict[object, tuple[list[float], list[float]]] = {}
        """What is drawn now: curve name -> (x, y) (tests and screenshots read it)."""

    def render(self):
        """Renders the plot, reusing the last rendering while neither data nor size changed.

        plotext rebuilds the whole figure on every call (tenths of a second for 100 curves),
        and Textual asks again on every repaint of the region.

        Returns:
            The rendered plot.
        """
        key = (self.size, self._key, self.app.theme, self.theme)
        if key != self._render_key:
            self._rendered = super().render()
            self._render_key = key
        return self._rendered

    def _changed(self, key: object) -> bool:
        if key == self._key:
            return False
        self._key = key
        return True

    def _start(self) -> None:
        self.curves = {}
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()


class AccuracyPlot(_Plot):
    """Generation best, generation mean and all-time best per generation (paper Fig. 2).

    New all-time bests are marked with red dots.

    Example:
        >>> plot = AccuracyPlot(id="accuracy")
        >>> plot.show(snapshot.generations)  # doctest: +SKIP
    """

    def show(self, rows: list[GenerationRow]) -> None:
        """Draws the generations' fitness.

        Args:
            rows: every generation, in order.
        """
        done = [r for r in rows if r.best is not None]
        if not self._changed(tuple((r.index, r.best, r.mean) for r in done)):
            return
        self._start()
        plt = self.plt
        if done:
            x = [r.index for r in done]
            self.curves["mean"] = (x, [r.mean for r in done])
            self.curves["best"] = (x, [r.best for r in done])
            self.curves["all-time best"] = (x, [r.all_time_best for r in done])
            for name, colour in (("mean", "blue"), ("best", "green"), ("all-time best", "yellow")):
                plt.plot(*self.curves[name], color=colour, marker="braille")
            marks = [r for r in done if r.new_best]
            self.curves["new best"] = ([r.index for r in marks], [r.best for r in marks])
            plt.scatter(*self.curves["new best"], color="red", marker="●")
            _generation_ticks(plt, x)
        self.refresh()


class LossPlot(_Plot):
    """Each generation's best loss shape (Fig. 3a), or its θ over generations (Fig. 3b).

    Example:
        >>> plot = LossPlot(id="loss")
        >>> plot.mode = "theta"
        >>> plot.show(snapshot)  # doctest: +SKIP
    """

    MODES = ("shape", "theta")

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.mode = "shape"
        self._snapshot: MonitorSnapshot | None = None

    def switch(self) -> str:
        """Switches between the loss shapes and θ over generations.

        Returns:
            The new mode.
        """
        self.mode = "theta" if self.mode == "shape" else "shape"
        if self._snapshot is not None:
            self.show(self._snapshot)
        return self.mode

    def show(self, snapshot: MonitorSnapshot) -> None:
        """Draws the snapshot in the current mode.

        Args:
            snapshot: the latest read.
        """
        self._snapshot = snapshot
        rows = [r for r in snapshot.generations if r.best_theta is not None]
        key = (self.mode, tuple((r.index, r.best_theta) for r in rows))
        if not self._changed(key):
            return
        self._start()
        if self.mode == "shape":
            self._draw_shapes(snapshot)
        else:
            self._draw_theta(rows)
        self.refresh()

    def _draw_shapes(self, snapshot: MonitorSnapshot) -> None:
        plt = self.plt
        shapes = thin(sorted(snapshot.shapes.items()), MAX_SHAPES)
        every = "" if len(shapes) == len(snapshot.shapes) else " (a spread of)"
        self.border_title = f"Loss shape · best of{every} each generation"
        if shapes:
            first, last = shapes[0][0], shapes[-1][0]
            self.border_subtitle = (
                f"x: y0 · [{hex_colour(EARLY)}]g{first}[/] → [{hex_colour(LATE)}]g{last}[/]"
            )
        else:
            self.border_subtitle = ""
        for position, (generation, (y0, loss)) in enumerate(shapes):
            colour = generation_colour(position, len(shapes))
            self.curves[generation] = (y0.tolist(), loss.tolist())
            plt.plot(*self.curves[generation], color=colour, marker="braille")
        limits = _robust_ylim([loss for _, (_, loss) in shapes])
        if limits is not None:
            plt.ylim(*limits)
        plt.xlim(0.0, 1.0)

    def _draw_theta(self, rows: list[GenerationRow]) -> None:
        plt = self.plt
        self.border_title = "θ · best of each generation"
        if not rows:
            self.border_subtitle = ""
            return
        num = len(rows[-1].best_theta or ())
        self.border_subtitle = " ".join(
            f"[{hex_colour(THETA_COLOURS[i % len(THETA_COLOURS)])}]θ{i}[/]" for i in range(num)
        )
        x = [r.index for r in rows]
        for i in range(num):
            y = [r.best_theta[i] if r.best_theta and len(r.best_theta) > i else 0.0 for r in rows]
            colour = THETA_COLOURS[i % len(THETA_COLOURS)]
            self.curves[f"θ{i}"] = (x, y)
            plt.plot(x, y, color=colour, marker="braille")
        _generation_ticks(plt, x)


class CandidateLossPlot(_Plot):
    """One candidate's loss shape (binary modality, shifted to 0 at y0 = 1).

    Example:
        >>> plot = CandidateLossPlot(id="candidate-loss")
        >>> plot.show(candidate, settings, shape)  # doctest: +SKIP
    """

    def show(
        self,
        candidate: CandidateRow | None,
        shape: tuple[np.ndarray, np.ndarray] | None,
        best_shape: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> None:
        """Draws a candidate's loss shape (and, dimmed, the generation best's).

        Args:
            candidate: the candidate (``None``: nothing selected).
            shape: its shifted loss shape, or ``None`` if it cannot be drawn.
            best_shape: the generation best's shape, for comparison.
        """
        key = (
            None if candidate is None else candidate.theta,
            None if best_shape is None else tuple(best_shape[1].tolist()),
        )
        if not self._changed(key):
            return
        self._start()
        plt = self.plt
        plt.xlim(0.0, 1.0)
        self.border_title = (
            "Loss shape" if candidate is None else f"Loss shape · candidate {candidate.index}"
        )
        self.border_subtitle = "[orange1]candidate[/] [gray]generation best[/] · x: y0"
        curves = []
        if best_shape is not None:
            self.curves["generation best"] = (best_shape[0].tolist(), best_shape[1].tolist())
            plt.plot(*self.curves["generation best"], color="gray", marker="braille")
            curves.append(best_shape[1])
        if shape is not None and candidate is not None:
            self.curves["candidate"] = (shape[0].tolist(), shape[1].tolist())
            plt.plot(*self.curves["candidate"], color="orange", marker="braille")
            curves.append(shape[1])
        limits = _robust_ylim(curves)
        if limits is not None:
            plt.ylim(*limits)
        self.refresh()
