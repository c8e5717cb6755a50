"""Speed of cnncalc, measured side by side with the import floor.

    python benchmarks/bench.py [--runs 15] [--baseline DIR]

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


ROOT = Path(__file__).resolve().parent.parent
SIZES = ((1_000, "32x32x16", 1), (10_000, "32x32x16", 1), (10_000, "256x256x16", 64), (100_000, "32x32x16", 1))
IN_PROCESS = """
import sys, time
from cnncalc.planner import plan_data
from cnncalc.render import render
n, size, batch = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
design = f"INPUT {size} -> [CONV3-16 -> RELU]*{n // 2} -> GAP -> FC-10"
t = time.perf_counter()
render(plan_data(design, batch=batch, max_layers=200_000), "json")
print(time.perf_counter() - t)
"""


def cold(cmd: list[str], env: dict) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, env=env)
    return time.perf_counter() - t


def in_process(n: int, size: str, batch: int, env: dict) -> float:
    out = subprocess.run([sys.executable, "-c", IN_PROCESS, str(n), size, str(batch)], capture_output=True,
                         text=True, check=True, env=env)
    return float(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--baseline", type=Path, help="a checkout of another revision to compare with, run alike")
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
    # each version imports cnncalc from its own checkout
    versions = {"": {**ENV, "PYTHONPATH": str(ROOT)}}
    if args.baseline:
        versions = {"before": {**ENV, "PYTHONPATH": str(args.baseline.resolve())}, "after": versions[""]}
    times = {(name, v): [] for name in commands for v in versions}
    for cmd in commands.values():
        for env in versions.values():
            cold(cmd, env)  # warm the file cache and compile the bytecode
    for _ in range(args.runs):
        for name, cmd in commands.items():
            for v, env in versions.items():
                times[(name, v)].append(cold(cmd, env))
    floor = statistics.median(times[("import typer, rich.table, pydantic", next(iter(versions)))])
    print(f"cold start, median of {args.runs} alternating runs:")
    for name in commands:
        print(f"  {name:<40}", end="")
        meds = {v: statistics.median(times[(name, v)]) for v in versions}
        for v, med in meds.items():
            print(f" {v} {med * 1000:6.1f} ms ({med / floor:4.2f}x floor)", end="")
        print(f"   after/before {meds['after'] / meds['before']:5.3f}" if args.baseline else "")

    print("in-process plan to JSON (what `cnncalc plan --format json` does), median of 3 alternating runs:")
    for n, size, batch in SIZES:
        runs = {v: [] for v in versions}
        for _ in range(3):
            for v, env in versions.items():
                runs[v].append(in_process(n, size, batch, env))
        meds = {v: statistics.median(r) for v, r in runs.items()}
        rows = n + 3
        line = "".join(f" {v} {m * 1000:7.0f} ms ({m / rows * 1e6:4.1f} us a row)" for v, m in meds.items())
        ratio = f"   after/before {meds['after'] / meds['before']:5.3f}" if args.baseline else ""
        print(f"  {rows:>7,} rows, input {size:<11} batch {batch:<3}{line}{ratio}")

    if not args.baseline:  # peak memory of the largest design, in this process
        from cnncalc.planner import plan_data
        from cnncalc.render import render

        design = "INPUT 32x32x16 -> [CONV3-16 -> RELU]*50000 -> GAP -> FC-10"
        tracemalloc.start()
        text = render(plan_data(design, max_layers=200_000), "json")
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(f"  100,003 rows: peak {peak / 2**20:.0f} MiB in Python objects, JSON {len(text) / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
