"""Saves an SVG screenshot of the monitor on a run (for the README), without a terminal.

Usage::

    python -m keras_taylorglo_tui.screenshot RUN_DIR docs/monitor.svg [--size 120x40] [--keys p]

Example:
    >>> from keras_taylorglo_tui.screenshot import save_screenshot
    >>> save_screenshot("runs/digits", "docs/monitor.svg")  # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from keras_taylorglo.errors import StoreError

from .app import MonitorApp
from .reader import RunReader


async def _shoot(
    run_dir: str | os.PathLike[str], path: Path, size: tuple[int, int], keys: Sequence[str]
) -> None:
    reader = RunReader(run_dir)
    app = MonitorApp(reader, interval=60)
    try:
        async with app.run_test(size=size) as pilot:
            for _ in range(250):
                if app.screen.reads:
                    break
                await pilot.pause(0.02)
            for key in keys:
                await pilot.press(key)
                await pilot.pause(0.3)
            await pilot.pause(0.2)
            app.save_screenshot(path.name, str(path.parent))
    finally:
        reader.close()


def save_screenshot(
    run_dir: str | os.PathLike[str],
    path: str | os.PathLike[str],
    size: tuple[int, int] = (120, 40),
    keys: Sequence[str] = (),
) -> Path:
    """Runs the monitor headless on ``run_dir`` and saves what it shows as SVG.

    Args:
        run_dir: the run directory.
        path: the SVG file to write (its folder is created).
        size: terminal (columns, rows).
        keys: keys to press first (e.g. ``["p"]`` for the θ plot, ``["enter"]`` for candidates).

    Returns:
        The written path.

    Raises:
        StoreError: if ``run_dir`` holds no keras-taylorglo store.
    """
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    asyncio.run(_shoot(run_dir, out, size, keys))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m keras_taylorglo_tui.screenshot RUN_DIR OUT.svg [--size WxH] ...``.

    Args:
        argv: the arguments (default ``sys.argv[1:]``).

    Returns:
        0, or 2 for a bad run directory or size.
    """
    parser = argparse.ArgumentParser(
        prog="python -m keras_taylorglo_tui.screenshot", description=__doc__
    )
    parser.add_argument("run_dir")
    parser.add_argument("out")
    parser.add_argument("--size", default="120x40", help="COLUMNSxROWS (default 120x40)")
    parser.add_argument("--keys", nargs="*", default=[], help="keys to press first")
    args = parser.parse_args(argv)
    try:
        columns, rows = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        print(f"error: --size must look like 120x40; got {args.size!r}", file=sys.stderr)
        return 2
    try:
        out = save_screenshot(args.run_dir, args.out, (columns, rows), args.keys)
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
