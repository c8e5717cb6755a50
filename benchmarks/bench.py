"""Speed of cnncalc, measured side by side with the import floor.

    python benchmarks/bench.py [--runs 15]

1. Cold start: `cnncalc plan vgg16` (table and JSON) against
   `python -c "import typer, rich.table, pydantic"`, alternating runs, medians.
2. In-process: a 10,000-layer and a 100,000-layer design planned to JSON, with
   peak memory, and the 10,000-layer design at two input sizes and batches to
   show the cost does not depend on them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import tracemalloc


# Measure what an installed user gets: pip compiles bytecode on install, so let every run use it.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def cold(cmd: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, env=ENV)
    return time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    py = sys.executable
    commands = {
        "import typer, rich.table, pydantic": [py, "-c", "import typer, rich.table, pydantic"],
        "cnncalc plan vgg16": [py, "-m", "cnncalc", "plan", "vgg16"],
        "cnncalc plan vgg16 --format json": [py, "-m", "cnncalc", "plan", "vgg16", "--format", "json"],
    }
    times: dict[str, list[float]] = {k: [] for k in commands}
    for cmd in commands.values():
        cold(cmd)  # warm the file cache
    for _ in range(args.runs):
        for name, cmd in commands.items():
            times[name].append(cold(cmd))
    floor = statistics.median(times["import typer, rich.table, pydantic"])
    print(f"cold start, median of {args.runs} alternating runs:")
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"  {name:<40} {med * 1000:7.1f} ms   {med / floor:4.2f}x the import floor")

    import cnncalc

    print("in-process plan to JSON:")
    for n, size, batch in ((10_000, "32x32x16", 1), (10_000, "256x256x16", 64), (100_000, "32x32x16", 1)):
        design = f"INPUT {size} -> [CONV3-16 -> RELU]*{n // 2} -> GAP -> FC-10"
        t = time.perf_counter()
        report = cnncalc.plan(design, batch=batch)
        text = report.to_json()
        elapsed = time.perf_counter() - t
        del report, text
        tracemalloc.start()  # a second pass for memory: tracing slows the run it watches
        report = cnncalc.plan(design, batch=batch)
        text = report.to_json()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(f"  {len(report.layers):>7,} rows, input {size:<11} batch {batch:<3} {elapsed * 1000:8.0f} ms  "
              f"peak {peak / 2**20:6.0f} MiB  json {len(text) / 2**20:5.1f} MiB")
        del report, text

if __name__ == "__main__":
    main()
