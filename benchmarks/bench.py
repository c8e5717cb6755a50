"""Speed of cnncalc, measured side by side with the import floor.

    python benchmarks/bench.py [--runs 15]

1. Cold start: `cnncalc plan vgg16` and `resnet50` (table and JSON) against
   `python -c "import typer, rich.table, pydantic"`, alternating runs, medians.
2. In-process: designs of 1,000, 10,000 and 100,000 layers planned to JSON,
   with peak memory (time grows linearly with layers), and the 10,000-layer
   design at another input size and batch (the cost does not depend on them).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from cnncalc import zoo


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
    # ResNet-152: ResNet-50's bottlenecks in stages of 3, 8, 36 and 3
    resnet152 = Path(tempfile.mkdtemp()) / "resnet152.cnn"
    resnet152.write_text(zoo.path("resnet50").read_text()
                         .replace("bottleneck(128)*3", "bottleneck(128)*7")
                         .replace("bottleneck(256)*5", "bottleneck(256)*35"))
    commands = {
        "import typer, rich.table, pydantic": [py, "-c", "import typer, rich.table, pydantic"],
        "cnncalc plan vgg16": [py, "-m", "cnncalc", "plan", "vgg16"],
        "cnncalc plan vgg16 --format json": [py, "-m", "cnncalc", "plan", "vgg16", "--format", "json"],
        "cnncalc plan resnet50 --format json": [py, "-m", "cnncalc", "plan", "resnet50", "--format", "json"],
        "cnncalc plan resnet50 (table)": [py, "-m", "cnncalc", "plan", "resnet50"],
        "cnncalc plan resnet152.cnn (table)": [py, "-m", "cnncalc", "plan", str(resnet152)],
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

    from cnncalc.planner import plan_data
    from cnncalc.render import render

    print("in-process plan to JSON (what `cnncalc plan --format json` does):")
    for n, size, batch in ((1_000, "32x32x16", 1), (10_000, "32x32x16", 1), (10_000, "256x256x16", 64),
                           (100_000, "32x32x16", 1)):
        design = f"INPUT {size} -> [CONV3-16 -> RELU]*{n // 2} -> GAP -> FC-10"
        t = time.perf_counter()
        text = render(plan_data(design, batch=batch, max_layers=200_000), "json")
        elapsed = time.perf_counter() - t
        del text
        tracemalloc.start()  # a second pass for memory: tracing slows the run it watches
        text = render(plan_data(design, batch=batch, max_layers=200_000), "json")
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        rows = n + 3
        print(f"  {rows:>7,} rows, input {size:<11} batch {batch:<3} {elapsed * 1000:8.0f} ms "
              f"({elapsed / rows * 1e6:4.1f} us a row)  peak {peak / 2**20:5.0f} MiB  json {len(text) / 2**20:5.1f} MiB")
        del text

if __name__ == "__main__":
    main()
