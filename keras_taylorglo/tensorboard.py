"""TensorBoard event files for a search, written without TensorFlow.

The search driver must not import TensorFlow (slow start, and the design keeps the engine
TF-free). The ``tensorboard`` package has a TF-free event writer (the one PyTorch's
``SummaryWriter`` uses) and the ``Event``/``Summary`` protocol buffers; this module only decides
what to log.

:class:`SearchLogger` writes, per finished generation (step = generation index), the scalars
``fitness/generation_best``, ``fitness/generation_mean``, ``fitness/best_so_far`` and
``cma/sigma``, and the generation's best loss in the binary modality as the image
``loss_shape/generation_best``. ``tensorboard --logdir runs`` then shows every search under
``runs/`` side by side.

Example:
    >>> logger = SearchLogger("runs/digits")
    >>> logger.log_generation(store, 0)  # after the engine finished generation 0
    >>> logger.close()
"""

from __future__ import annotations

import os
import signal
import struct
import sys
import threading
import time
import types
import warnings
from pathlib import Path
from typing import Any

from .expansion import ExpansionSpec
from .stopping import sigint_deferred, threads_without_sigint

__all__ = ["TB_DIR", "EventWriter", "SearchLogger", "png_size"]

TB_DIR = "tensorboard"
"""The TensorBoard directory's name inside a run directory."""


def png_size(png: bytes) -> tuple[int, int]:
    """Width and height from a PNG's header (TensorBoard's image summary needs them).

    Args:
        png: The PNG file's bytes.

    Returns:
        ``(width, height)`` in pixels.

    Raises:
        ValueError: If the bytes are not a PNG.
    """
    if png[:8] != b"\x89PNG\r\n\x1a\n" or png[12:16] != b"IHDR":
        raise ValueError(f"not a PNG image (starts with {png[:16]!r})")
    width, height = struct.unpack(">II", png[16:24])
    return int(width), int(height)


class EventWriter:
    """Scalar and image summaries into one TensorBoard event file (tensorboard's own writer).

    Args:
        log_dir: The directory (created if missing). A new file is started per writer, so a
            resumed search adds a file next to the first one; TensorBoard reads them in order.

    Example:
        >>> writer = EventWriter("/tmp/tb")
        >>> writer.add_scalars(0, {"fitness/best": 0.9})
        >>> writer.close()
    """

    def __init__(self, log_dir: str | os.PathLike[str]) -> None:
        # tensorboard's writer goes through TensorFlow's file system whenever TensorFlow is
        # importable, which would load TensorFlow into the search driver (seconds of start-up
        # and its C++ chatter). tensorboard's own switch for its TF-free stub is the presence of
        # the module ``tensorboard.compat.notf`` (a build target the wheel does not ship).
        sys.modules.setdefault("tensorboard.compat.notf", types.ModuleType("notf"))
        from tensorboard.summary.writer.event_file_writer import EventFileWriter

        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with threads_without_sigint():  # its writer thread starts here
            self._writer = EventFileWriter(str(self.log_dir), flush_secs=10)
        # Its writer thread is "Thread-N" by default; a warning that it stopped (a full disk)
        # should say whose thread it was. Private attributes, so only where they are found.
        worker = getattr(getattr(self._writer, "_async_writer", None), "_worker", None)
        if isinstance(worker, threading.Thread):
            worker.name = "TensorBoard's event writer"

    def _add(self, step: int, values: list[Any], wall_time: float | None) -> None:
        from tensorboard.compat.proto import event_pb2, summary_pb2

        event = event_pb2.Event(
            wall_time=time.time() if wall_time is None else wall_time,
            step=step,
            summary=summary_pb2.Summary(value=values),
        )
        self._writer.add_event(event)

    def add_scalars(
        self, step: int, scalars: dict[str, float | None], wall_time: float | None = None
    ) -> None:
        """Write scalars at one step (one event); values that are ``None`` are skipped.

        Args:
            step: The step (the generation index for a search).
            scalars: Tag → value.
            wall_time: POSIX time of the event (default now).
        """
        from tensorboard.compat.proto import summary_pb2

        values = [
            summary_pb2.Summary.Value(tag=tag, simple_value=float(v))
            for tag, v in scalars.items()
            if v is not None
        ]
        if values:
            self._add(step, values, wall_time)

    def add_image(self, step: int, tag: str, png: bytes, wall_time: float | None = None) -> None:
        """Write one PNG image at a step.

        Args:
            step: The step.
            tag: The image's tag.
            png: The PNG file's bytes.
            wall_time: POSIX time of the event (default now).

        Raises:
            ValueError: If ``png`` is not a PNG.
        """
        from tensorboard.compat.proto import summary_pb2

        width, height = png_size(png)
        image = summary_pb2.Summary.Image(
            height=height, width=width, colorspace=4, encoded_image_string=png
        )
        self._add(step, [summary_pb2.Summary.Value(tag=tag, image=image)], wall_time)

    def flush(self) -> None:
        """Write what is queued (TensorBoard sees it)."""
        self._writer.flush()

    def close(self) -> None:
        """Flush and close the file (idempotent)."""
        self._writer.close()


class SearchLogger:
    """Writes a search's per-generation summaries into ``RUN_DIR/tensorboard``.

    Call :meth:`log_generation` (or :meth:`submit_generation`, which renders and writes in a
    background thread) after the store has finished a generation. A problem while logging (a
    full disk, say) is a warning, never a reason to stop a long search.

    Args:
        run_dir: The run directory.

    Example:
        >>> logger = SearchLogger(run_dir)
        >>> logger.log_generation(store, generation=3)
    """

    def __init__(self, run_dir: str | os.PathLike[str]) -> None:
        self.run_dir = Path(run_dir)
        self.writer = EventWriter(self.run_dir / TB_DIR)
        self._warned = False
        self._thread: Any = None
        self._renderer: _Renderer | None = None

    def log_generation(self, store: Any, generation: int) -> None:
        """Log one finished generation now: best, mean, best so far, σ, and the best loss shape.

        Args:
            store: The run's :class:`~keras_taylorglo.store.Store` (read only).
            generation: The generation index (the TensorBoard step).
        """
        self._guarded(generation, lambda: self._write(self._collect(store, generation)))

    def logged_generations(self) -> set[int]:
        """The generations the run's existing event files already hold (earlier drivers).

        A driver that died between finishing a generation and writing its summary leaves a
        gap; the resumed search fills it from the store. A truncated last record (the crash)
        is simply where reading stops.

        Returns:
            The steps with at least one summary value.
        """
        from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

        steps: set[int] = set()
        for path in sorted((self.run_dir / TB_DIR).glob("events.out.tfevents.*")):
            try:
                for event in EventFileLoader(str(path)).Load():
                    if event.summary.value:
                        steps.add(int(event.step))
            except Exception:  # noqa: BLE001 - a damaged file: what was read still counts
                continue
        return steps

    def submit_generation(self, store: Any, generation: int) -> None:
        """Like :meth:`log_generation`, but the rendering and writing happen in a thread.

        The store is read here, in the caller's thread (SQLite connections stay in theirs); the
        loss-shape render (matplotlib, ~0.1 s) and the file write run in one background thread,
        in order, so the search driver goes on dispatching meanwhile. :meth:`close` waits for
        them.

        Args:
            store: The run's store (read only).
            generation: The generation index.
        """
        data = self._guarded(generation, lambda: self._collect(store, generation))
        if data is None:
            return
        if self._renderer is None:
            # Started here, in the caller's thread, once; if it cannot start, render in-thread.
            self._renderer = self._guarded(generation, _Renderer)
        if self._thread is None:
            from concurrent.futures import ThreadPoolExecutor

            self._thread = ThreadPoolExecutor(1, thread_name_prefix="tensorboard")
        with threads_without_sigint():  # the pool starts its thread on the first submit
            self._thread.submit(
                self._guarded, generation, lambda: self._write_rendered_elsewhere(data)
            )

    def _write_rendered_elsewhere(self, data: dict[str, Any]) -> None:
        # Rendering here would hold the GIL in long C calls (Agg) and stall the driver thread's
        # dispatching by tens of ms at a time; in the renderer process it costs this thread
        # only a blocking pipe read (bench/NOTES.md §4).
        self._write(data, render=None if self._renderer is None else self._renderer.render)

    def _guarded(self, generation: int, work: Any) -> Any:
        try:
            return work()
        except Exception as exc:  # logging must never stop a search
            if not self._warned:
                self._warned = True
                why = f"{type(exc).__name__}: {exc}"
                if isinstance(exc, OSError) and exc.strerror and exc.filename:
                    why = f"{os.fsdecode(exc.filename)}: {exc.strerror}"  # not b'...' (bytes)
                warnings.warn(
                    f"TensorBoard logging failed for generation {generation}: {why}",
                    RuntimeWarning,
                    stacklevel=3,
                )
            return None

    @staticmethod
    def _collect(store: Any, generation: int) -> dict[str, Any]:
        gens = [g for g in store.generations() if g.generation <= generation]
        this = next((g for g in gens if g.generation == generation), None)
        if this is None:
            raise ValueError(f"generation {generation} is not in the store")
        bests = [g.best_fitness for g in gens if g.best_fitness is not None]
        data: dict[str, Any] = {
            "generation": generation,
            "wall": this.finished or time.time(),
            "scalars": {
                "fitness/generation_best": this.best_fitness,
                "fitness/generation_mean": this.mean_fitness,
                "fitness/best_so_far": max(bests) if bests else None,
                "cma/sigma": this.sigma,
            },
            "theta": None,
        }
        if this.best_candidate is not None:
            data["theta"] = store.candidates(generation)[this.best_candidate].theta
            data["title"] = f"generation {generation} best (fitness {this.best_fitness:.4f})"
            data["spec"] = ExpansionSpec.from_meta(store.meta())
        return data

    def _write(self, data: dict[str, Any], render: Any = None) -> None:
        generation, wall = data["generation"], data["wall"]
        self.writer.add_scalars(generation, data["scalars"], wall_time=wall)
        if data["theta"] is not None:
            if render is None:
                from .plots import render_loss_shape_png as render

            png = render(data["theta"], title=data["title"], spec=data["spec"])
            self.writer.add_image(generation, "loss_shape/generation_best", png, wall_time=wall)
        self.writer.flush()

    def close(self) -> None:
        """Wait for submitted generations, then close the event file."""
        if self._thread is not None:
            self._thread.shutdown(wait=True)
            self._thread = None
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
        self.writer.close()


class _Renderer:
    """A child process that renders loss-shape PNGs (matplotlib) for :class:`SearchLogger`.

    It is started with ``spawn`` and holds only its end of the pipe, so it exits by itself
    when the driver dies (its ``recv`` sees end-of-file). It starts with SIGINT ignored
    (:func:`~keras_taylorglo.stopping.sigint_deferred`) and keeps ignoring it: Ctrl-C in the
    terminal reaches the whole process group, and the driver, which handles it, stops the
    renderer with :meth:`close` (a ``KeyboardInterrupt`` traceback from the renderer would
    otherwise land on the terminal).
    """

    def __init__(self) -> None:
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._process = ctx.Process(
            target=_render_loop, args=(child,), name="taylorglo-tensorboard", daemon=True
        )
        with sigint_deferred():  # it starts with SIGINT ignored; the driver's own is held
            self._process.start()
        child.close()

    def render(self, theta: Any, title: str, spec: ExpansionSpec) -> bytes:
        """The PNG of one loss shape (see :func:`keras_taylorglo.plots.render_loss_shape_png`).

        Args:
            theta: The loss parameters.
            title: The plot's title.
            spec: How θ maps to a loss (pickled to the child).

        Returns:
            The PNG bytes.

        Raises:
            RuntimeError: The renderer failed or died.
        """
        try:
            self._conn.send((list(theta), title, spec))
            kind, value = self._conn.recv()
        except (EOFError, OSError) as exc:
            raise RuntimeError(f"the TensorBoard renderer process died ({exc})") from None
        if kind != "png":
            raise RuntimeError(value)
        return value

    def close(self) -> None:
        """Stop the process."""
        self._conn.close()  # its recv sees end-of-file and it returns
        self._process.join(5.0)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(5.0)


def _render_loop(conn: Any) -> None:
    """The renderer process: one PNG per request until the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the driver stops us (see _Renderer)
    from .plots import render_loss_shape_png

    while True:
        try:
            theta, title, spec = conn.recv()
        except (EOFError, OSError):
            return
        try:
            conn.send(("png", render_loss_shape_png(theta, title=title, spec=spec)))
        except Exception as exc:  # noqa: BLE001 - reported to the driver as a warning
            conn.send(("error", f"{type(exc).__name__}: {exc}"))
