"""TensorBoard event files for a search, written without TensorFlow.

The search driver must not import TensorFlow (slow start, and the design keeps the engine
TF-free), and TensorFlow 2.21 no longer installs the ``tensorboard`` package, so this module
writes the event files itself. The format is small and stable:

- a file named ``events.out.tfevents.<time>.<host>.<pid>.<n>`` holds TFRecord records: an 8-byte
  little-endian length, the masked CRC-32C of those 8 bytes, the payload, the masked CRC-32C of
  the payload;
- each payload is a serialised ``tensorflow.Event`` protocol buffer (``wall_time`` = 1,
  ``step`` = 2, ``file_version`` = 3, ``summary`` = 5); the first one only says
  ``file_version = "brain.Event:2"``;
- a ``Summary`` holds ``Value`` messages (``tag`` = 1, ``simple_value`` = 2 for scalars,
  ``image`` = 4 with ``height``, ``width``, ``colorspace`` and the PNG bytes).

:class:`SearchLogger` writes, per finished generation (step = generation index), the scalars
``fitness/generation_best``, ``fitness/generation_mean``, ``fitness/best_so_far`` and
``cma/sigma``, and the generation's best loss in the binary modality as the image
``loss_shape/generation_best``. ``tensorboard --logdir runs`` then shows every search under
``runs/`` side by side (``pip install tensorboard`` to view them; it is not needed to write).

Example:
    >>> logger = SearchLogger("runs/digits")
    >>> logger.log_generation(store, 0)  # after the engine finished generation 0
    >>> logger.close()
"""

from __future__ import annotations

import os
import socket
import struct
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO

__all__ = [
    "TB_DIR",
    "EventFileWriter",
    "SearchLogger",
    "crc32c",
    "masked_crc32c",
]

TB_DIR = "tensorboard"
"""The TensorBoard directory's name inside a run directory."""

_FILE_VERSION = "brain.Event:2"

# ------------------------------------------------------------------------------------ CRC-32C


def _make_crc_table() -> tuple[int, ...]:
    poly = 0x82F63B78  # Castagnoli, reflected
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        table.append(c)
    return tuple(table)


_CRC_TABLE = _make_crc_table()


def crc32c(data: bytes) -> int:
    """The CRC-32C (Castagnoli) checksum TFRecord framing uses.

    Args:
        data: The bytes to checksum.

    Returns:
        The checksum as an unsigned 32-bit int.

    Example:
        >>> hex(crc32c(b"123456789"))  # the standard check value
        '0xe3069283'
    """
    crc = 0xFFFFFFFF
    table = _CRC_TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    """TFRecord's masked CRC-32C (rotated and offset so CRCs of CRCs stay useful).

    Args:
        data: The bytes to checksum.

    Returns:
        ``((crc >> 15) | (crc << 17)) + 0xa282ead8`` modulo 2**32.
    """
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


# ------------------------------------------------------------------ protocol buffer encoding


def _varint(value: int) -> bytes:
    if value < 0:
        value += 1 << 64  # int64 negatives are ten-byte two's complement varints
    out = bytearray()
    while True:
        bits = value & 0x7F
        value >>= 7
        if value:
            out.append(bits | 0x80)
        else:
            out.append(bits)
            return bytes(out)


def _key(field: int, wire_type: int) -> bytes:
    return _varint(field << 3 | wire_type)


def _length_delimited(field: int, payload: bytes) -> bytes:
    return _key(field, 2) + _varint(len(payload)) + payload


def _scalar_value(tag: str, value: float) -> bytes:
    return _length_delimited(1, tag.encode()) + _key(2, 5) + struct.pack("<f", value)


def _image_value(tag: str, png: bytes) -> bytes:
    width, height = png_size(png)
    image = (
        _key(1, 0)
        + _varint(height)
        + _key(2, 0)
        + _varint(width)
        + _key(3, 0)
        + _varint(4)  # RGBA
        + _length_delimited(4, png)
    )
    return _length_delimited(1, tag.encode()) + _length_delimited(4, image)


def _event(
    wall_time: float, step: int, values: Sequence[bytes] = (), file_version: str = ""
) -> bytes:
    out = _key(1, 1) + struct.pack("<d", wall_time) + _key(2, 0) + _varint(step)
    if file_version:
        out += _length_delimited(3, file_version.encode())
    if values:
        summary = b"".join(_length_delimited(1, v) for v in values)
        out += _length_delimited(5, summary)
    return out


def png_size(png: bytes) -> tuple[int, int]:
    """Width and height from a PNG's header.

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


# ------------------------------------------------------------------------------------ writer


class EventFileWriter:
    """Appends scalar and image summaries to one TensorBoard event file.

    Args:
        log_dir: The directory (created if missing). A new file is started per writer, so a
            resumed search adds a file next to the first one; TensorBoard reads them in order.

    Example:
        >>> writer = EventFileWriter("/tmp/tb")
        >>> writer.add_scalars(0, {"fitness/best": 0.9})
        >>> writer.close()
    """

    _counter = 0

    def __init__(self, log_dir: str | os.PathLike[str]) -> None:
        self.log_dir = Path(log_dir)
        self.path: Path | None = None
        self._file: BinaryIO | None = None

    def _open(self) -> BinaryIO:
        if self._file is None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            EventFileWriter._counter += 1
            name = (
                f"events.out.tfevents.{int(time.time()):010d}.{socket.gethostname()}."
                f"{os.getpid()}.{EventFileWriter._counter}"
            )
            self.path = self.log_dir / name
            self._file = open(self.path, "ab")  # noqa: SIM115 (kept open across generations)
            self._write_record(_event(time.time(), 0, file_version=_FILE_VERSION))
        return self._file

    def _write_record(self, payload: bytes) -> None:
        assert self._file is not None
        header = struct.pack("<Q", len(payload))
        self._file.write(
            header
            + struct.pack("<I", masked_crc32c(header))
            + payload
            + struct.pack("<I", masked_crc32c(payload))
        )

    def add_scalars(self, step: int, scalars: dict[str, float], wall_time: float | None = None):
        """Write scalars at one step (one event); values that are ``None`` are skipped.

        Args:
            step: The step (the generation index for a search).
            scalars: Tag → value.
            wall_time: POSIX time of the event (default now).
        """
        values = [_scalar_value(t, float(v)) for t, v in scalars.items() if v is not None]
        if values:
            self._open()
            self._write_record(
                _event(time.time() if wall_time is None else wall_time, step, values)
            )

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
        value = _image_value(tag, png)
        self._open()
        self._write_record(_event(time.time() if wall_time is None else wall_time, step, [value]))

    def flush(self) -> None:
        """Push what was written to the operating system (TensorBoard sees it)."""
        if self._file is not None:
            self._file.flush()

    def close(self) -> None:
        """Flush and close the file (idempotent)."""
        if self._file is not None:
            self._file.close()
            self._file = None


class SearchLogger:
    """Writes a search's per-generation summaries into ``RUN_DIR/tensorboard``.

    Call :meth:`log_generation` after the store has finished a generation. A problem while
    logging (a full disk, say) is a warning, never a reason to stop a long search.

    Args:
        run_dir: The run directory.

    Example:
        >>> logger = SearchLogger(run_dir)
        >>> logger.log_generation(store, generation=3)
    """

    def __init__(self, run_dir: str | os.PathLike[str]) -> None:
        self.run_dir = Path(run_dir)
        self.writer = EventFileWriter(self.run_dir / TB_DIR)
        self._warned = False

    def log_generation(self, store: Any, generation: int) -> None:
        """Log one finished generation: best, mean, best so far, σ, and the best loss shape.

        Args:
            store: The run's :class:`~keras_taylorglo.store.Store` (read only).
            generation: The generation index (the TensorBoard step).
        """
        try:
            self._log(store, generation)
        except Exception as exc:  # logging must never stop a search
            if not self._warned:
                self._warned = True
                warnings.warn(
                    f"TensorBoard logging failed for generation {generation}: "
                    f"{type(exc).__name__}: {exc}",
                    RuntimeWarning,
                    stacklevel=2,
                )

    def _log(self, store: Any, generation: int) -> None:
        gens = [g for g in store.generations() if g["generation"] <= generation]
        this = next((g for g in gens if g["generation"] == generation), None)
        if this is None:
            raise ValueError(f"generation {generation} is not in the store")
        bests = [g["best_fitness"] for g in gens if g["best_fitness"] is not None]
        wall = this["finished"] or time.time()
        self.writer.add_scalars(
            generation,
            {
                "fitness/generation_best": this["best_fitness"],
                "fitness/generation_mean": this["mean_fitness"],
                "fitness/best_so_far": max(bests) if bests else None,
                "cma/sigma": this["sigma"],
            },
            wall_time=wall,
        )
        if this["best_candidate"] is not None:
            theta = store.candidates(generation)[this["best_candidate"]]["theta"]
            from .plots import loss_settings, render_loss_shape_png

            png = render_loss_shape_png(
                theta,
                title=f"generation {generation} best (fitness {this['best_fitness']:.4f})",
                **loss_settings(store.meta()),
            )
            self.writer.add_image(generation, "loss_shape/generation_best", png, wall_time=wall)
        self.writer.flush()

    def close(self) -> None:
        """Close the event file."""
        self.writer.close()
