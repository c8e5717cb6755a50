"""Random designs over every construct of the language, planned by cnncalc and compared with an independent
PyTorch build of each and with PyTorch's MemTracker (issue 21): params, buffers, every row's shape, the output
convention, the outputs (against cnncalc's export with the same weights), the training step's and inference's
peaks. The generator, the builder and the comparison are tests/randomdesigns.py; the slow test
tests/test_random_designs.py runs a few hundred seeds, this runs thousands.

    python benchmarks/random_designs.py [--seeds 2000] [--start 0] [--jobs 1] [--out disagreements.json] [--real]

The summary goes to stdout (designs generated, refused by cnncalc, skipped for having no parameters, agreed,
peaks not modelled, disagreements by class), progress to stderr, and every disagreeing design (seed, design,
batch, optimizer, each difference with cnncalc's figure and PyTorch's) to the JSON file `--out`. A design of a
seed is `tests/randomdesigns.py`'s generate(seed): `python tests/randomdesigns.py SEED` shows one again.
Exit status 1 when any comparison disagreed. Needs torch 2.5 or later (MemTracker).
"""

from __future__ import annotations

import argparse
import collections
import functools
import json
import multiprocessing
import platform
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import randomdesigns  # noqa: E402


def one(seed: int, real: bool = False) -> dict:
    import torch

    torch.set_num_threads(1)  # the designs are tiny: one thread is twice as fast as two, and leaves a core free
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        started = time.perf_counter()
        spec = randomdesigns.generate(seed)
        result = randomdesigns.compare(spec, real=real)
        record = result.as_dict()
        record["seconds"] = round(time.perf_counter() - started, 3)
        record["constructs"] = sorted(randomdesigns.constructs(spec))
        record["suspects"] = randomdesigns.suspects(spec) if result.status in ("disagreed", "error") else []
        return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=2000, help="how many seeds (default 2000)")
    parser.add_argument("--start", type=int, default=0, help="the first seed (default 0)")
    parser.add_argument("--jobs", type=int, default=1, help="processes (default 1)")
    parser.add_argument("--out", type=Path, default=None, help="write the disagreeing designs to this JSON file")
    parser.add_argument("--real", action="store_true",
                        help="measure every peak in a real run as well as under FakeTensorMode (slower)")
    args = parser.parse_args(argv)
    try:
        import torch
        from torch.distributed._tools import mem_tracker  # noqa: F401
    except ImportError as e:
        parser.error(f"needs torch 2.5 or later with MemTracker: {e}")

    seeds = range(args.start, args.start + args.seeds)
    started = time.perf_counter()
    records = []
    with multiprocessing.Pool(args.jobs) if args.jobs > 1 else _Serial() as pool:
        for i, record in enumerate(pool.imap(functools.partial(one, real=args.real), seeds), 1):
            records.append(record)
            if record["status"] in ("disagreed", "error"):
                print(f"seed {record['seed']}: {record['status']}: {'; '.join(record['classes'])}\n"
                      f"    {record['design']}", file=sys.stderr, flush=True)
            if i % 50 == 0 or i == len(seeds):
                counts = collections.Counter(r["status"] for r in records)
                print(f"[{i}/{len(seeds)}] {time.perf_counter() - started:.0f} s  {dict(counts)}", file=sys.stderr,
                      flush=True)
    elapsed = time.perf_counter() - started

    statuses = collections.Counter(r["status"] for r in records)
    classes = collections.Counter(c for r in records for c in r["classes"])
    partial = collections.Counter(p for r in records for p in r["not_modelled"])
    refusals = collections.Counter(r["message"].split(" (line")[0] for r in records if r["status"] == "refused")
    coverage = collections.Counter(c for r in records for c in r["constructs"] if r["status"] != "refused")
    bad = [r for r in records if r["status"] in ("disagreed", "error")]
    print(f"random designs: seeds {args.start}..{args.start + args.seeds - 1}, torch {torch.__version__}, "
          f"python {platform.python_version()}, {elapsed:.0f} s ({args.jobs} job{'s' if args.jobs > 1 else ''}), "
          f"peaks measured under FakeTensorMode{' and in a real run' if args.real else ''}")
    print(f"  generated          {len(records)}")
    print(f"  refused by cnncalc {statuses['refused']}")
    print(f"  no parameters      {statuses['skipped']} (not measured: an optimizer needs parameters)")
    print(f"  compared           {len(records) - statuses['refused'] - statuses['skipped']}")
    print(f"  agreed             {statuses['agreed']}")
    print(f"  not modelled       {sum(1 for r in records if r['not_modelled'] and r['status'] != 'refused')} "
          f"(a peak cnncalc leaves out: {dict(partial) or 'none'})")
    print(f"  disagreed          {statuses['disagreed']}")
    print(f"  errors             {statuses['error']} (PyTorch or the builder raised)")
    if classes:
        print("disagreements by class (designs; a design may show several):")
        for cls, n in classes.most_common():
            first = next(r for r in bad if cls in r["classes"])
            print(f"  {n:5d}  {cls}\n         e.g. seed {first['seed']}: {first['design']}")
    export = [r for r in bad if any("cnncalc differs from its own export" in c for c in r["classes"])]
    if export:
        print("cnncalc against its own export, by the known causes the design holds (tests/randomdesigns.py "
              "SUSPECTS; none: a new case):")
        for key, n in collections.Counter(" + ".join(r["suspects"]) or "none" for r in export).most_common():
            first = next(r for r in export if (" + ".join(r["suspects"]) or "none") == key)
            print(f"  {n:5d}  {key}\n         e.g. seed {first['seed']}: {first['design']}")
    if refusals:
        print("refusals by message:")
        for msg, n in refusals.most_common(10):
            print(f"  {n:5d}  {msg[:140]}")
    print("constructs in the compared designs: " + ", ".join(f"{c} {coverage[c]}" for c in randomdesigns.CONSTRUCTS))
    if args.out:
        args.out.write_text(json.dumps({"seeds": [args.start, args.start + args.seeds - 1],
                                        "torch": torch.__version__, "counts": dict(statuses),
                                        "classes": dict(classes), "disagreements": bad}, indent=1) + "\n")
        print(f"disagreeing designs: {args.out}")
    return 1 if bad else 0


class _Serial:
    """Pool's imap in this process (--jobs 1)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None

    def imap(self, fn, items):
        return map(fn, items)


if __name__ == "__main__":
    sys.exit(main())
