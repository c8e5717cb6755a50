"""How fast `sweep` is: points a second on grids of 1k, 10k and 100k points, with peak memory and
the cache's hit rates. Each grid runs in a fresh process (cnncalc.sweep on one core, the garbage
collector set as `cnncalc sweep` sets it); the peak is that process's maximum resident memory (or
its largest worker's), Python included; the rows are read and dropped, as a stream to a file would.
"replayed" is the share of points answered by a compiled point (sweeps/traced.py); with --jobs the
cache figures stay in the workers and are not shown.

    python benchmarks/sweep.py                 # the default grids, 1k and 10k points
    python benchmarks/sweep.py --sizes 1000 10000 100000
    python benchmarks/sweep.py --only course   # one grid
    python benchmarks/sweep.py --jobs 2        # two worker processes

Grids (each at the walk measures, params, MACs, forward memory, fit, and again with the simulated
training peak, which the issue's target counts):
  course   the course pattern on CIFAR-10, N x M x K x conv.filters x fc width (a small design)
  resnet18 ResNet-18 at many input sizes and batches: one expansion, every point walked
  r18w     ResNet-18 with a width W, every point a new width (little reuse)
  r50w     ResNet-50 with a width multiplier W (stage widths W, 2W, 4W, 8W: little reuse)
  regnet   RegNet-style stages: depths D1..D4 and a width W, most layers shared between points
"""

from __future__ import annotations

import argparse
import gc
import itertools
import time
import json
import resource
import subprocess
import sys

import cnncalc
from cnncalc.cli import GC_THRESHOLD

COURSE = "INPUT 32x32x3 -> [[CONV -> RELU]*N -> POOL2?]*M -> [FC-H -> RELU]*K -> FC-10"
R18W = """conv.bias = false
basic(C) = (ID + [CONV3-C -> BN -> RELU -> CONV3-C -> BN]) -> RELU
down(C)  = ([CONV1-C/2 -> BN] + [CONV3-C/2 -> BN -> RELU -> CONV3-C -> BN]) -> RELU
INPUT 224x224x3 -> CONV7-(W)/2 -> BN -> RELU -> POOL3/2p1 -> basic(W)*2 -> down(2*W) -> basic(2*W)
  -> down(4*W) -> basic(4*W) -> down(8*W) -> basic(8*W) -> GAP -> FC-1000"""
R50W = """conv.bias = false
bottleneck(C) = (ID + [CONV1-C -> BN -> RELU -> CONV3-C -> BN -> RELU -> CONV1-(4*C) -> BN]) -> RELU
first(C, S)   = ([CONV1-(4*C)/S -> BN]
                 + [CONV1-C -> BN -> RELU -> CONV3-C/S -> BN -> RELU -> CONV1-(4*C) -> BN]) -> RELU
INPUT 224x224x3 -> CONV7-64/2 -> BN -> RELU -> POOL3/2p1
  -> first(W, 1) -> bottleneck(W)*2 -> first(2*W, 2) -> bottleneck(2*W)*3
  -> first(4*W, 2) -> bottleneck(4*W)*5 -> first(8*W, 2) -> bottleneck(8*W)*2 -> GAP -> FC-1000"""
REGNET = """conv.bias = false
x(C, G) = (ID + [CONV1-C -> BN -> RELU -> CONV3-C/1g(C/G) -> BN -> RELU -> CONV1-C -> BN]) -> RELU
down(C, G) = ([CONV1-C/2 -> BN] + [CONV1-C -> BN -> RELU -> CONV3-C/2g(C/G) -> BN -> RELU -> CONV1-C -> BN]) -> RELU
INPUT 224x224x3 -> CONV3-32/2 -> BN -> RELU
  -> down(W, 8) -> x(W, 8)*D1 -> down(2*W, 8) -> x(2*W, 8)*D2
  -> down(4*W, 8) -> x(4*W, 8)*D3 -> down(8*W, 8) -> x(8*W, 8)*D4 -> GAP -> FC-1000"""


def grid(name: str, size: int) -> tuple[str, list[str]]:
    """The design and its --vary texts for about `size` points."""
    if name == "course":
        widths = max(1, size // (4 * 3 * 3 * 8))
        return COURSE, ["N=1..4", "M=1..3", "K=0..2", f"conv.filters=8..{8 * 8}:8", f"H=16..{16 * widths}:16"]
    if name == "resnet18":
        sides = max(1, size // 10)
        return "resnet18", [f"input=64..{64 + sides - 1}", "batch=1..10"]
    if name == "r18w":
        return R18W, [f"W=8..{8 * size}:8"]
    if name == "r50w":
        return R50W, [f"W=8..{8 * size}:8"]
    if name == "regnet":
        widths = max(1, size // 256)
        return REGNET, ["D1=0..3", "D2=0..3", "D3=0..3", "D4=0..3", f"W=16..{16 * widths}:16"]
    raise ValueError(name)


def run(name: str, size: int, columns: str, jobs: int = 1) -> dict:
    """One grid in this process (and `jobs` workers): the rows read and dropped, timed."""
    design, vary = grid(name, size)
    gc.set_threshold(*GC_THRESHOLD)  # as every command sets it
    start = time.perf_counter()
    result = cnncalc.sweep(design, vary=vary, columns=columns, jobs=jobs)
    rows = sum(1 for _ in itertools.islice(result, size))
    seconds = time.perf_counter() - start
    return {"grid": name, "rows": rows, "seconds": seconds, "per_second": rows / seconds,
            "failed": result.summary.get("failed", 0), **result.cache(),
            "max_rss_mib": max(resource.getrusage(who).ru_maxrss  # this process, or its largest worker
                               for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)) / 1024}


def measure(name: str, size: int, columns: str, jobs: int = 1) -> dict:
    """run() in a fresh process, so that its peak resident memory is its own."""
    done = subprocess.run([sys.executable, __file__, "--one", name, str(size), columns, "--jobs", str(jobs)],
                          capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{name} at {size:,} points failed:\n{done.stderr}")
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--only", nargs="+", default=["course", "resnet18", "r18w", "r50w", "regnet"])
    parser.add_argument("--peaks-max", type=int, default=10000, help="the largest size also run with the peak")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (cnncalc sweep --jobs)")
    parser.add_argument("--one", nargs=3, metavar=("GRID", "SIZE", "COLUMNS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run(args.one[0], int(args.one[1]), args.one[2], args.jobs)))
        return
    walk = "params,macs,forward_bytes,fits"
    peak = walk + ",training_peak_bytes"
    print(f"{'grid':<9} {'measures':<14} {'points':>7} {'points/s':>9} {'max RSS':>9} "
          f"{'expansions':>10} {'layer hits':>10} {'row hits':>9} {'replayed':>9}")
    for name in args.only:
        for size in args.sizes:
            for label, columns in (("walk", walk), ("+ train peak", peak)):
                if columns is peak and size > args.peaks_max:
                    continue
                r = measure(name, size, columns, args.jobs)
                rate = lambda x: "-" if x is None else f"{100 * x:.0f}%"  # noqa: E731
                replayed = r["points_replayed"] / r["rows"] if r["expansions"] else None
                print(f"{name:<9} {label:<14} {r['rows']:>7,} {r['per_second']:>9,.0f} {r['max_rss_mib']:>5.0f} MiB "
                      f"{r['expansions']:>10,} {rate(r['layer_hit_rate']):>10} {rate(r['row_hit_rate']):>9} "
                      f"{rate(replayed):>9}", flush=True)


if __name__ == "__main__":
    main()
