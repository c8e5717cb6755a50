"""cnncalc against torchinfo on the same network, cold processes side by side.

Run through compare_torchinfo.sh (which installs torchinfo in a benchmark-only environment).
The network is ResNet-50 as `cnncalc export` writes it; torchinfo runs a real forward pass,
so its cost grows with the input size and batch, while cnncalc's does not.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from cnncalc import zoo
from cnncalc.pytorch.export import export_design

ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def run(cmd: list[str], cwd: str) -> tuple[float, float]:
    """(wall seconds, peak resident MiB) of one cold process, by GNU time."""
    out = subprocess.run(["/usr/bin/time", "-f", "%e %M", *cmd], cwd=cwd, env=ENV, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{out.stderr}")
    wall, kib = out.stderr.strip().splitlines()[-1].split()
    return float(wall), int(kib) / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    py = sys.executable
    work = tempfile.mkdtemp()
    Path(work, "model.py").write_text(export_design(zoo.path("resnet50").read_text(), label="resnet50"))
    cases = []
    for size, batch in ((224, 1), (512, 8)):
        summary = ("import warnings; warnings.simplefilter('ignore'); import torch, torchinfo, model; "
                   f"torchinfo.summary(model.Net(), input_size=({batch}, 3, {size}, {size}), verbose=0)")
        cases.append((f"{size}x{size}x3, batch {batch}",
                      [py, "-m", "cnncalc", "plan", "resnet50", "--format", "json", "--input", f"{size}x{size}x3",
                       "--batch", str(batch)],
                      [py, "-c", summary]))
    print(f"ResNet-50, median of {args.runs} cold runs each (wall time, peak resident memory):")
    for label, ours, theirs in cases:
        run(ours, work), run(theirs, work)  # warm the file cache
        a = [run(ours, work) for _ in range(args.runs)]
        b = [run(theirs, work) for _ in range(args.runs)]
        (ta, ma), (tb, mb) = [(statistics.median(x[0] for x in r), statistics.median(x[1] for x in r)) for r in (a, b)]
        print(f"  {label:<22} cnncalc {ta * 1000:6.0f} ms {ma:6.0f} MiB   torchinfo {tb * 1000:6.0f} ms {mb:6.0f} MiB"
              f"   torchinfo/cnncalc: {tb / ta:5.1f}x time, {mb / ma:5.1f}x memory")


if __name__ == "__main__":
    main()
