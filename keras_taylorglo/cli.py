"""The ``keras-taylorglo`` command line.

One small function per subcommand. Heavy imports (TensorFlow, Keras, TFDS, matplotlib, Textual)
happen inside the subcommand that needs them, so ``keras-taylorglo status`` and ``monitor`` start
instantly. The project's own errors (:class:`~keras_taylorglo.errors.TaylorGLOError`) become one
line on stderr and exit status 2; Ctrl-C exits 130; a search or resume stopped by SIGTERM or SIGHUP
(a scheduler, a closed SSH session) is left resumable and exits 128 + the signal's number.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .cli_status import cmd_status, describe_chosen, theta_text
from .cli_validate import cmd_validate
from .errors import TaylorGLOError
from .stopping import DISK_ERRORS, one_line_warnings, say, stop_on_signals

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def _quiet_tensorflow() -> None:
    """Silence TensorFlow's C++ start-up chatter before it is first imported."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _add_recipe_args(parser: argparse.ArgumentParser, many: bool = False) -> None:
    parser.add_argument(
        "recipe",
        nargs="+" if many else None,
        # A file that exists wins over a shipped recipe of the same name (recipe/shipped.py).
        help="recipe TOML file(s) or shipped recipe name(s), e.g. digits_noisy"
        if many
        else "recipe TOML file or shipped recipe name, e.g. digits_noisy",
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override a recipe value (repeatable), e.g. --set evolution.population=4",
    )


def _parse_theta(text: str) -> list[float]:
    """Parse ``--theta 1,2,3`` into floats; a bad value is a one-line error."""
    values: list[float] = []
    for part in text.replace(" ", "").split(","):
        if not part:
            continue
        try:
            values.append(float(part))
        except ValueError:
            raise TaylorGLOError(
                f"--theta: {part!r} is not a number (expected comma-separated floats, "
                "e.g. --theta 0,0,1,0.5,0,0,0,0)"
            ) from None
    return values


# ---------------------------------------------------------------------------------- subcommands


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Score one loss (θ, a preset, or cross-entropy) with the recipe's training budget."""
    from .data.precheck import check_data_extras
    from .recipe import DEFAULT_FITNESS, check_callables, load_recipe

    recipe = load_recipe(args.recipe, args.overrides)
    check_callables(recipe, args.overrides)  # before seconds of TensorFlow start-up
    check_data_extras(recipe.data, recipe.source)
    custom_fitness = recipe.evaluation.fitness != DEFAULT_FITNESS
    if not custom_fitness:  # a module:function fitness is called as it is: no TensorFlow
        from ._quiet import import_tensorflow

        import_tensorflow()
    from .evaluation import make_evaluator

    loss = "crossentropy" if args.crossentropy else "taylorglo"
    theta: list[float] | None = None
    if args.preset:
        from .presets import get_preset

        theta = list(get_preset(args.preset)["theta"])
    elif args.theta is not None:
        theta = _parse_theta(args.theta)
    # The same factory as the search's workers: a custom fitness calls its function.
    evaluator = make_evaluator(
        recipe,
        loss=loss,
        budget="full" if args.full else "partial",
        split="test" if args.full else "validation",
    )
    outcome = evaluator.evaluate(theta, seed=args.seed)
    if args.json:
        print(
            json.dumps(
                {
                    "status": outcome.status,
                    "fitness": outcome.fitness,
                    "val_accuracy": outcome.val_accuracy,
                    "steps": outcome.steps,
                    "seconds": round(outcome.seconds, 3),
                    **({"error": outcome.error} if outcome.error else {}),
                }
            )
        )
    else:
        what = "cross-entropy" if args.crossentropy else (args.preset or "theta")
        split = "test" if args.full else "validation"
        score = (
            f"fitness {outcome.fitness:.4f} from {recipe.evaluation.fitness}"
            if custom_fitness
            else f"{split} accuracy {outcome.fitness:.4f} after {outcome.steps} steps"
        )
        print(
            f"{what}: {outcome.status}, {score} in {outcome.seconds:.1f} s"
            + (f" ({outcome.error})" if outcome.error else "")
        )
    return 0


def _run_search(run: Callable[[], Any], run_dir: Path, note: str = "") -> int:
    """Run a search or resume, turning Ctrl-C, SIGTERM and SIGHUP into a resumable stop.

    The exit status is 128 + the signal's number (130 for Ctrl-C, 143 for SIGTERM, 129 for
    SIGHUP). ``note`` is printed before the chosen loss (``resume`` of a finished run says so).
    """
    from .errors import ClusterLostError
    from .search.engine import SearchInterrupted

    try:
        with stop_on_signals() as received, one_line_warnings():
            chosen = run()
    except ClusterLostError as lost:
        raise lost.for_run(run_dir) from None  # the executor does not know the run directory
    except SearchInterrupted:
        signum = received[0] if received else signal.SIGINT
        name = "" if signum == signal.SIGINT else f" ({signal.Signals(signum).name})"
        say(f"interrupted{name}: the run is resumable with `keras-taylorglo resume {run_dir}`")
        return 128 + int(signum)
    if note:
        print(note)
    if chosen is not None:
        print(f"{describe_chosen(chosen.as_dict())} in {run_dir}")
        print(f"θ = [{theta_text(chosen.theta)}]")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    """Run a new search from a recipe."""
    from .recipe import check_callables, load_recipe
    from .search.progress import ProgressDisplay
    from .search.runs import default_run_dir, start_search

    recipe = load_recipe(args.recipe, args.overrides)
    check_callables(recipe, args.overrides)  # in well under a second, before any worker starts
    run_dir = args.out or default_run_dir(recipe)
    _quiet_tensorflow()  # inherited by the worker processes
    return _run_search(
        lambda: start_search(recipe, run_dir, overwrite=args.overwrite, display=ProgressDisplay()),
        run_dir,
    )


def cmd_resume(args: argparse.Namespace) -> int:
    """Continue an interrupted search (a finished one: say so and print its best)."""
    from .search.progress import ProgressDisplay
    from .search.runs import resume_search
    from .store import RunState, Store
    from .store.locate import require_run_dir

    with Store.open_existing(require_run_dir(args.run_dir)) as store:
        finished = store.state() == RunState.FINISHED
    _quiet_tensorflow()  # inherited by the worker processes
    return _run_search(
        lambda: resume_search(args.run_dir, display=ProgressDisplay(), overrides=args.overrides),
        args.run_dir,
        note=f"{args.run_dir}: the search had already finished; nothing to resume"
        if finished
        else "",
    )


def cmd_monitor(args: argparse.Namespace) -> int:
    """Open the Textual monitor (imports Textual, never TensorFlow)."""
    if args.run_dir is not None:
        from .store import Store
        from .store.locate import require_run_dir

        # Before the screen is drawn: no run, a damaged page or a newer store is one line
        # here, not a crash inside the app (~3 ms for a store of 2,800 attempts).
        with Store.open_existing(require_run_dir(args.run_dir)) as store:
            store.check()
    from keras_taylorglo_tui.app import run_monitor

    return run_monitor(args.run_dir, runs_root=args.runs)


# ------------------------------------------------------------------------------------- parsing


#: The subcommands defined here; the others (analyze, ttest, plot, export, …) come from
#: :mod:`keras_taylorglo.analysis`, whose import (~50 ms) these commands do not need.
CORE_COMMANDS = ("validate", "evaluate", "search", "resume", "monitor", "status", "recipes", "init")


def build_parser(with_analysis: bool = True) -> argparse.ArgumentParser:
    """Build the argument parser with every subcommand.

    Args:
        with_analysis: Also register the analysis subcommands (``False``: only
            :data:`CORE_COMMANDS`, for a command line that runs one of them).

    Returns:
        The configured :class:`argparse.ArgumentParser`.
    """
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="keras-taylorglo",
        description="TaylorGLO loss-function metalearning for Keras 3.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("validate", help="check recipes and print them resolved")
    _add_recipe_args(p, many=True)
    p.add_argument(
        "--deep",
        action="store_true",
        help="also build the data set and the model once, as a worker would (imports TensorFlow)",
    )
    p.set_defaults(func=cmd_validate)  # cli_validate.py

    p = sub.add_parser("evaluate", help="score one loss with a partial (or full) training")
    _add_recipe_args(p)
    which = p.add_mutually_exclusive_group()
    which.add_argument("--theta", help="comma-separated θ values (default: zeros)")
    which.add_argument("--preset", help="a named θ, e.g. paper-mnist")
    which.add_argument("--crossentropy", action="store_true", help="the cross-entropy baseline")
    p.add_argument("--seed", type=int, default=0, help="seed of the weights and data order")
    p.add_argument("--full", action="store_true", help="full budget, scored on the test split")
    p.add_argument("--json", action="store_true", help="print the outcome as JSON")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("search", help="run a CMA-ES search of the loss")
    _add_recipe_args(p)
    p.add_argument("--out", type=Path, help="run directory (default: runs/<experiment.name>)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing run there")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("resume", help="continue an interrupted search exactly")
    p.add_argument("run_dir", type=Path)
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="execution.KEY=VALUE",
        help="change where it runs, e.g. --set execution.executor=ray (only execution.*)",
    )
    p.set_defaults(func=cmd_resume)

    p = sub.add_parser("monitor", help="the live terminal monitor of a run")
    p.add_argument("run_dir", nargs="?", help="run directory (default: pick one under runs/)")
    p.add_argument("--runs", default="runs", help="where to look for runs without RUN_DIR")
    p.set_defaults(func=cmd_monitor)

    p = sub.add_parser("status", help="summarise a run (JSON with --json)")
    p.add_argument("run_dir", type=Path)
    p.add_argument("--json", action="store_true", help="print the status as JSON")
    p.set_defaults(func=cmd_status)

    from .cli_recipes import add_recipe_parsers  # recipes, init

    add_recipe_parsers(sub)

    if with_analysis:
        from .analysis import add_analysis_parsers  # analyze, ttest, plot, export, …

        add_analysis_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line.

    Args:
        argv: Arguments without the program name; ``None`` reads ``sys.argv``.

    Returns:
        The exit status: 0 on success, 2 for a user error (one line on stderr), 130 on Ctrl-C.
    """
    words = list(sys.argv[1:] if argv is None else argv)
    command = next((w for w in words if not w.startswith("-")), None)
    parser = build_parser(with_analysis=command not in CORE_COMMANDS)  # help lists them all
    args = parser.parse_args(words)
    try:
        return int(args.func(args) or 0)
    except TaylorGLOError as exc:
        say(f"error: {exc}")
        return EXIT_USAGE
    except KeyboardInterrupt:
        say("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `keras-taylorglo validate … | head`
        sys.stderr.close()
        return 0
    except OSError as exc:
        if exc.errno not in DISK_ERRORS:
            raise
        # A report, plot or TensorBoard file that the disk refused: one line, as for the store.
        where = f"{exc.filename}: " if exc.filename else ""
        say(f"error: {where}{exc.strerror or exc}")
        return EXIT_USAGE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
