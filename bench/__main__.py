"""``python -m bench [--quick] [--json]``: the performance budget of keras-taylorglo.

Prints a table of ratios (each measured side by side in this run) with their targets and the
absolute times behind them, and the machine they ran on. ``--json`` prints one JSON object.

``--only noise`` (never part of the default set: it answers a design question of the search, on
a synthetic objective, rather than timing this machine) runs ``bench/noise.py``: k seeds per
candidate, successive halving and pycma's noise handling at equal budgets; it prints its own table
after the others (``python -m bench.noise`` runs it alone).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from typing import Any

TARGETS: dict[str, tuple[str, float]] = {
    "loss_step_ratio": ("<=", 1.03),
    "warm_overhead_fraction": ("<=", 0.05),
    "cold_over_warm_ratio": (">=", 3.0),
    "pool_utilization": (">=", 0.95),
    "dispatch_latency_ms": ("<", 50.0),
    "two_worker_speedup": ("report", 0.0),
    "startup_tensorflow_fraction": ("report", 0.0),
    "monitor_first_paint_s": ("<", 1.5),
    "monitor_refresh_s": ("<", 0.5),
    "journal_writes_per_s": ("report", 0.0),
    "monitor_read_p99_ms": ("report", 0.0),
    "status_json_p99_s": ("report", 0.0),
}


def machine() -> str:
    """A one-line description of this machine."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            names = [line.split(":", 1)[1].strip() for line in fh if "model name" in line]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}, {platform.system()}"


def _meets(key: str, value: float) -> str:
    op, target = TARGETS[key]
    if op == "report":
        return "reported"
    ok = {"<=": value <= target, ">=": value >= target, "<": value < target}[op]
    return "yes" if ok else "NO"


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks and print the table (or JSON)."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repeats (under 3 minutes)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--only",
        help="comma-separated subset: loss,warm,startup,pool,workers,monitor,load; "
        "noise runs only when named",
    )
    args = parser.parse_args(argv)
    from bench import measure, noise, readers

    only = (
        set(args.only.split(","))
        if args.only
        else {"loss", "warm", "startup", "pool", "workers", "monitor", "load"}
    )
    results: dict[str, Any] = {"machine": machine(), "quick": args.quick}
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as data_dir:
        steps = [
            ("loss", lambda: measure.loss_step_ratio(args.quick)),
            ("warm", lambda: measure.warm_and_cold(args.quick, data_dir)),
            ("startup", lambda: measure.startup_breakdown(args.quick, data_dir)),
            ("pool", lambda: measure.pool_utilization(args.quick)),
            ("workers", lambda: measure.two_worker_speedup(args.quick, data_dir)),
            ("monitor", lambda: readers.monitor_timings(args.quick)),
            ("load", lambda: readers.journal_load(args.quick)),
            ("noise", lambda: {"noise": noise.summary(args.quick)}),
        ]
        for name, step in steps:
            if name in only:
                print(f"bench: {name} …", file=sys.stderr, flush=True)
                results.update(step())
    results["bench_seconds"] = time.perf_counter() - t0
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(
        f"machine: {results['machine']}  ({'quick' if args.quick else 'full'} run, "
        f"{results['bench_seconds']:.0f} s)"
    )
    print(f"{'metric':<26}{'value':>12}  {'target':<10}{'met':<8}")
    for key, (op, target) in TARGETS.items():
        if key in results:
            goal = "—" if op == "report" else f"{op} {target:g}"
            print(f"{key:<26}{results[key]:>12.3f}  {goal:<10}{_meets(key, results[key]):<8}")
    print("absolute:")
    for key, value in results.items():
        if key not in TARGETS and isinstance(value, float):
            print(f"  {key:<30}{value:>10.3f}")
    if "noise" in results:
        print(noise.format_table(results["noise"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
