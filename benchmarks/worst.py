"""The worst cases a user has tried: huge numbers, huge texts, many misfits. Each must plan,
check or fail in under 2 s and 500 MB; this prints the time and peak memory of each.

    python benchmarks/worst.py

Each case runs the command line in a fresh process (`python -m cnncalc ...`, the script's entry point
cli.console, output discarded) and reports its exit code, its wall time and its peak resident memory.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LIMIT_S, LIMIT_MIB = 2.0, 500

def cases(tmp: Path) -> list[tuple[str, list[str], str | None]]:
    """(what, arguments, standard input)"""
    long_file = tmp / "long.cnn"  # 25,000 commented lines, 5 MB
    long_file.write_text("INPUT 8x8x1\n" + "".join(f"-> RELU  # {'x' * 190}\n" for _ in range(25_000)))
    optionals = tmp / "optionals.cnn"  # 99 nested optional groups around a 2 MB comment
    optionals.write_text("INPUT 8x8x1 -> " + "[" * 99 + "#" + "y" * 2_000_000 + "\nRELU" + "]?" * 99)
    names = tmp / "names.cnn"  # 10,000 long block names, then a typo
    names.write_text("".join(f"block_{i:05d}_{'z' * 200} = RELU\n" for i in range(10_000))
                     + "INPUT 8x8x1 -> block_00042_zz")
    return [
        ("a stride of 8 digits", ["plan", "INPUT 64x64x3 -> CONV3-8/11000000", "-f", "json"], None),
        ("a stride of 15 digits", ["plan", "INPUT 8x8x3 -> CONV3-8/100000000000000", "-f", "json"], None),
        ("a kernel of 20,000,000 on 20,000,001", ["plan", "INPUT 20000001x1x1 -> CONV(filters=1, kernel=20000000x1, "
                                                          "s=3x1, p=0)", "-f", "json"], None),
        ("a dilation of 13 digits", ["plan", "INPUT 999999999999999x1x1 -> CONV(filters=1, kernel=2x1, "
                                             "d=999999999999x1, s=7x1, p=0)", "-f", "json"], None),
        ("sizes past 10^15 (an error)", ["plan", "INPUT 1x1x1 -> UPSAMPLE(999999999999999)*21 -> CONV2-1/2p0"],
         None),
        ("--batch of 400 digits (an error)", ["plan", "vgg16", "--batch", "9" * 400], None),
        ("25,000 commented lines, 5 MB", ["plan", str(long_file), "-f", "json", "--max-layers", "30000"], None),
        ("99 optionals around a 2 MB comment", ["plan", str(optionals), "-f", "json"], None),
        ("did you mean, over 10,000 long names", ["plan", str(names)], None),
        ("12,000 misfits, JSON", ["plan", "INPUT 8x8x3 -> [UPSAMPLE2 -> CONV3-3/2]*12000", "-f", "json"], None),
        ("12,500 misfits, the table", ["plan", "INPUT 8x8x3 -> [UPSAMPLE2 -> CONV3-1/2]*12499"], None),
        ("12,500 misfits, check", ["check", "INPUT 8x8x3 -> [UPSAMPLE2 -> CONV3-1/2]*12499"], None),
    ]


def run(cmd: list[str], stdin: str | None) -> tuple[int, float, int]:
    """The exit code, wall seconds and peak RSS (KiB) of one process, its output discarded."""
    t = time.perf_counter()
    process = subprocess.Popen(cmd, stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)
    if stdin is not None:
        process.stdin.write(stdin)
        process.stdin.close()
    _, status, usage = os.wait4(process.pid, 0)
    return os.waitstatus_to_exitcode(status), time.perf_counter() - t, usage.ru_maxrss


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        print(f"{'case':<42} {'exit':>4} {'time':>8} {'peak RSS':>9}")
        worst = True
        for what, args, stdin in cases(Path(folder)):
            code, elapsed, peak = run([sys.executable, "-m", "cnncalc", *args], stdin)
            peak_mib = peak / 1024  # ru_maxrss is in KiB on Linux
            ok = elapsed < LIMIT_S and peak_mib < LIMIT_MIB
            worst &= ok
            print(f"{what:<42} {code:>4} {elapsed:7.2f}s {peak_mib:6.0f} MiB{'' if ok else '  OVER'}")
        print(f"every case under {LIMIT_S:g} s and {LIMIT_MIB} MiB: {'yes' if worst else 'NO'}")


if __name__ == "__main__":
    main()
