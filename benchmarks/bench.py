"""Speed of cnncalc, measured side by side with the import floor (issue 20's four figures first).

    python benchmarks/bench.py [--runs 21] [--baseline DIR] [--only cold,large,budget,rows]

1. cold: the installed console script, `cnncalc plan RESNET152.cnn --format json` (the 561-row
   ResNet-152 below) and the others of the table, against the floor `python -c "import typer,
   rich.table, pydantic"`: medians of alternating runs, bytecode cached as after `pip install`; a
   command's ratio to the floor is the median over the runs of its time over the floor's run of the
   same round (paired: a noisy moment costs both).
2. large: `cnncalc plan "INPUT 32x32x16 -> [CONV3-16 -> RELU]*50000 -> GAP -> FC-10" --format json
   --max-layers 200000`, wall time and the process's peak RSS (median of 3 runs, the largest RSS).
3. budget: in process, `cnncalc.plan("resnet50", batch=32, optimizer="adam", budget="8GiB")` against
   the same call without the budget, the best of 15 interleaved calls each.
4. rows: designs of 1,000, 10,000 and 100,000 layers planned to JSON in process (time grows linearly
   with rows), and the 10,000-layer design at another input size and batch (the cost does not depend
   on them).

With --baseline, each figure is measured for that checkout too, in the same run, alternating: each
version imports cnncalc from its own checkout (PYTHONPATH) through the console script `pip install` writes
for it (its pyproject.toml's entry point: cli.main up to 0.8.2, cli.console after). A command that fails
stops the benchmark.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ELSEWHERE = tempfile.gettempdir()  # every run's working directory: `python -c` puts it first on sys.path
# Measure what an installed user gets: pip compiles bytecode on install, so let every run use it.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
FLOOR = "import typer, rich.table, pydantic"
LARGE = "INPUT 32x32x16 -> [CONV3-16 -> RELU]*50000 -> GAP -> FC-10"
SIZES = ((1_000, "32x32x16", 1), (10_000, "32x32x16", 1), (10_000, "256x256x16", 64), (100_000, "32x32x16", 1))
IN_PROCESS = """
import gc, sys, time
gc.set_threshold(50_000, 20, 20)  # as the command line sets it (cnncalc.cli.GC_THRESHOLD)
from cnncalc.planner import plan_data
from cnncalc.render import render
n, size, batch = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
design = f"INPUT {size} -> [CONV3-16 -> RELU]*{n // 2} -> GAP -> FC-10"
t = time.perf_counter()
render(plan_data(design, batch=batch, max_layers=200_000), "json")
print(time.perf_counter() - t)
"""
BUDGET = """
import time, cnncalc
plain = lambda: cnncalc.plan("resnet50", batch=32, optimizer="adam")
budget = lambda: cnncalc.plan("resnet50", batch=32, optimizer="adam", budget="8GiB")
plain()
times = {plain: [], budget: []}
for _ in range(15):  # interleaved, so that a noisy moment costs both alike
    for f in (plain, budget):
        t = time.perf_counter(); f(); times[f].append(time.perf_counter() - t)
print(min(times[budget]), min(times[plain]))
"""


def run(cmd: list[str], env: dict) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one process, output discarded; SystemExit when it fails."""
    t = time.perf_counter()
    process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=ELSEWHERE)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - t
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"failed ({os.waitstatus_to_exitcode(status)}) with PYTHONPATH={env.get('PYTHONPATH')}: "
                 f"{' '.join(cmd)}")
    return elapsed, usage.ru_maxrss


def console_script(checkout: Path) -> str:
    """The console script `pip install` writes for a checkout's entry point ([project.scripts] cnncalc), in a
    temporary directory."""
    import tomllib

    entry = tomllib.loads((checkout / "pyproject.toml").read_text())["project"]["scripts"]["cnncalc"]
    module, function = entry.split(":")
    path = Path(tempfile.mkdtemp()) / "cnncalc"
    path.write_text(f"#!{sys.executable}\nimport sys\nfrom {module} import {function}\n"
                    f"if __name__ == '__main__':\n    sys.exit({function}())\n")
    path.chmod(0o755)
    return str(path)


def resnet152() -> Path:
    """ResNet-152: ResNet-50's bottlenecks in stages of 3, 8, 36 and 3 (561 rows)."""
    from cnncalc import zoo

    path = Path(tempfile.mkdtemp()) / "resnet152.cnn"
    path.write_text(zoo.path("resnet50").read_text()
                    .replace("bottleneck(128)*3", "bottleneck(128)*7")
                    .replace("bottleneck(256)*5", "bottleneck(256)*35"))
    return path


def cold(versions: dict[str, dict], scripts: dict[str, str], runs: int) -> None:
    design = resnet152()
    commands = {  # the script's arguments (None: the floor)
        FLOOR: None,
        "cnncalc plan RESNET152.cnn --format json": ["plan", str(design), "--format", "json"],
        "cnncalc plan RESNET152.cnn (table)": ["plan", str(design)],
        "cnncalc plan vgg16": ["plan", "vgg16"],
        "cnncalc plan resnet50 --format json": ["plan", "resnet50", "--format", "json"],
    }

    def cmd(args: list[str] | None, v: str) -> list[str]:
        return [sys.executable, "-c", FLOOR] if args is None else [scripts[v], *args]

    times = {(name, v): [] for name in commands for v in versions}
    for args in commands.values():
        for v, env in versions.items():
            run(cmd(args, v), env)  # warm the file cache and compile the bytecode
    for _ in range(runs):
        for name, args in commands.items():
            for v, env in versions.items():
                times[(name, v)].append(run(cmd(args, v), env)[0])
    print(f"cold start, the installed console script, median of {runs} alternating runs (x floor: the median of "
          f"each run's time over the floor's run in the same round and environment):")
    for name in commands:
        meds = {v: statistics.median(times[(name, v)]) for v in versions}
        paired = {v: statistics.median(t / f for t, f in zip(times[(name, v)], times[(FLOOR, v)])) for v in versions}
        line = "".join(f" {v} {m * 1000:6.1f} ms ({paired[v]:4.2f}x floor)" for v, m in meds.items())
        ratio = f"   after/before {meds['after'] / meds['before']:5.3f}" if len(meds) > 1 else ""
        print(f"  {name:<42}{line}{ratio}")


def large(versions: dict[str, dict], scripts: dict[str, str]) -> None:
    results = {v: [] for v in versions}
    for _ in range(3):
        for v, env in versions.items():
            results[v].append(run([scripts[v], "plan", LARGE, "--format", "json", "--max-layers", "200000"], env))
    print(f"cnncalc plan \"{LARGE}\" --format json --max-layers 200000 (100,003 rows), median of 3:")
    for v, found in results.items():
        print(f"  {v or 'this checkout':<14} {statistics.median(t for t, _ in found):6.2f} s, "
              f"peak RSS {max(m for _, m in found) / 1024:.0f} MiB")


def budget(versions: dict[str, dict]) -> None:
    print('in process, cnncalc.plan("resnet50", batch=32, optimizer="adam", budget="8GiB") against the same call '
          "without the budget, best of 15 interleaved calls each:")
    for v, env in versions.items():
        out = subprocess.run([sys.executable, "-c", BUDGET], capture_output=True, text=True, check=True, env=env,
                             cwd=ELSEWHERE)
        with_budget, plain = map(float, out.stdout.split())
        print(f"  {v or 'this checkout':<14} {with_budget * 1000:6.1f} ms against {plain * 1000:5.1f} ms: "
              f"{with_budget / plain:4.2f}x")


def rows(versions: dict[str, dict]) -> None:
    print("in-process plan to JSON (what `cnncalc plan --format json` does), median of 3 alternating runs:")
    for n, size, batch in SIZES:
        found = {v: [] for v in versions}
        for _ in range(3):
            for v, env in versions.items():
                out = subprocess.run([sys.executable, "-c", IN_PROCESS, str(n), size, str(batch)],
                                     capture_output=True, text=True, check=True, env=env, cwd=ELSEWHERE)
                found[v].append(float(out.stdout))
        meds = {v: statistics.median(r) for v, r in found.items()}
        line = "".join(f" {v} {m * 1000:7.0f} ms ({m / (n + 3) * 1e6:4.1f} us a row)" for v, m in meds.items())
        ratio = f"   after/before {meds['after'] / meds['before']:5.3f}" if len(meds) > 1 else ""
        print(f"  {n + 3:>7,} rows, input {size:<11} batch {batch:<3}{line}{ratio}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=21, help="cold runs of each command (alternating)")
    parser.add_argument("--baseline", type=Path, help="a checkout of another revision to compare with, run alike")
    parser.add_argument("--only", default="cold,large,budget,rows", help="which figures (comma-separated)")
    args = parser.parse_args()
    script = shutil.which("cnncalc", path=str(Path(sys.executable).parent)) or shutil.which("cnncalc")
    if script is None:
        sys.exit("no cnncalc console script: pip install -e . first")
    script = str(Path(script).resolve())
    versions, scripts = {"": {**ENV, "PYTHONPATH": str(ROOT)}}, {"": script, "after": script}
    if args.baseline:
        versions = {"before": {**ENV, "PYTHONPATH": str(args.baseline.resolve())}, "after": versions[""]}
        scripts["before"] = console_script(args.baseline.resolve())
    only = args.only.split(",")
    if "cold" in only:
        cold(versions, scripts, args.runs)
    if "large" in only:
        large(versions, scripts)
    if "budget" in only:
        budget(versions)
    if "rows" in only:
        rows(versions)


if __name__ == "__main__":
    main()
