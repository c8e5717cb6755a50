"""Measure the peak memory of every built-in design with PyTorch's MemTracker, for the fixtures
that tests/test_memory.py compares cnncalc's simulation with (in CI, without torch).

    python benchmarks/measure_memory.py              # rewrites tests/fixtures/memory.json (minutes)
    python benchmarks/measure_memory.py --part amp   # re-measures one part, keeps the others
    python benchmarks/measure_memory.py --design efficientnet_b0   # one design's entries, keeps the rest

Each entry: a design at a batch with an optimizer and its implementation, measured on the CPU
under FakeTensorMode (the same peak as a real run, to the byte, in seconds); keyed by the SHA-256
of the exported network's source and the torch version, so a stale entry is detected.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "memory.json"
BATCHES = (1, 8, 32)
CONFIGS = (("sgd", False), ("momentum", False), ("adam", False), ("momentum", True), ("adam", True))
ACCUMULATED = (8, (("sgd", False), ("adam", True)))  # gradient accumulation (2 micro-batches): batch, configs
AMP = (("bfloat16", "sgd", False), ("bfloat16", "adam", False))  # mixed precision, at every batch
AMP_FLOAT16 = (8, ("float16", "momentum", True))  # float16 (the same rules), at one batch
TUNED = (8, (("sgd", False), ("adam", False)))  # frozen layers and checkpointing: batch, configs
PARTS = ("base", "amp", "tuned")


def tuning_cases(text: str) -> list[dict]:
    """Fine-tuning and checkpointing cases for a design: the first half of its rows frozen; every
    top-level branch checkpointed (or, in a chain, two runs of its items), skipping segments that
    start in place; and both together."""
    import cnncalc

    from cnncalc.planner import top_level_items

    report = cnncalc.plan(text, device="cpu")
    items = top_level_items(report.model_dump()["layers"])
    inplace = {r.index for r in report.layers if r.kind in ("act", "dropout")}
    branches = [(a, b) for a, b in items if a != b and a not in inplace]
    chain = [i for i in items if i[0] not in inplace]
    segments = branches or [(chain[len(chain) // 4][0], chain[len(chain) // 2][1])]
    half = len(report.layers) // 2
    return [{"freeze": half, "checkpoint": []}, {"freeze": None, "checkpoint": segments},
            {"freeze": len(report.layers) // 4, "checkpoint": segments[len(segments) // 2:]}]


def source_sha(source: str) -> str:
    return hashlib.sha256(source.encode()).hexdigest()


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=PARTS, action="append",
                        help="measure only this part (repeatable); the fixture keeps the others' entries")
    parser.add_argument("--design", action="append",
                        help="measure only this built-in design (repeatable); the fixture keeps the others' entries")
    args = parser.parse_args()
    parts = args.part or list(PARTS)
    warnings.simplefilter("ignore")
    import torch

    from cnncalc import zoo
    import cnncalc
    from cnncalc.planner import design_graph
    from cnncalc.pytorch.export import export_source
    from cnncalc.pytorch.memory import measure_inference, measure_step

    names = args.design or zoo.names()
    kept = [e for e in json.loads(FIXTURES.read_text())
            if e.get("part", "base") not in parts or e["design"] not in names] if FIXTURES.exists() else []
    entries = []
    for name in names:
        source = export_source(design_graph(zoo.path(name).read_text()))
        report = cnncalc.plan(zoo.path(name).read_text())
        for batch in BATCHES:
            if batch == 1 and any(r.kind == "bn" and r.output.h * r.output.w == 1 for r in report.layers):
                print(f"{name:<14} batch 1: skipped, BN over one value per channel cannot train", file=sys.stderr)
                continue  # (inception_v3_aux's head) PyTorch refuses to train it
            t = time.perf_counter()
            configs = []
            if "base" in parts:
                configs += [("base", None, o, f, 1) for o, f in CONFIGS]
                if batch == ACCUMULATED[0]:
                    configs += [("base", None, o, f, 2) for o, f in ACCUMULATED[1]]
            if "amp" in parts:
                configs += [("amp", a, o, f, 1) for a, o, f in AMP]
                if batch == AMP_FLOAT16[0]:
                    configs.append(("amp", *AMP_FLOAT16[1], 1))
            if "tuned" in parts and batch == TUNED[0]:
                for case in tuning_cases(zoo.path(name).read_text()):
                    for optimizer, foreach in TUNED[1]:
                        m = measure_step(source, batch=batch, optimizer=optimizer, foreach=foreach, freeze=case["freeze"],
                                         checkpoint=tuple(case["checkpoint"]))
                        entries.append({"design": name, "part": "tuned", "batch": batch, "optimizer": optimizer,
                                        "foreach": foreach, "accumulate": 1, "amp": None, **case,
                                        "torch": torch.__version__, "source_sha256": source_sha(source),
                                        "peak_bytes": m.peak_bytes, "breakdown": m.breakdown,
                                        "inference_peak_bytes": measure_inference(source, batch=batch)})
            inference = {}
            for part, amp, optimizer, foreach, accumulate in configs:
                if amp not in inference:
                    inference[amp] = measure_inference(source, batch=batch, amp=amp)
                m = measure_step(source, batch=batch, optimizer=optimizer, foreach=foreach, accumulate=accumulate,
                                 amp=amp)
                entries.append({"design": name, "part": part, "batch": batch, "optimizer": optimizer,
                                "foreach": foreach, "accumulate": accumulate, "amp": amp, "torch": torch.__version__,
                                "source_sha256": source_sha(source), "peak_bytes": m.peak_bytes,
                                "breakdown": m.breakdown, "inference_peak_bytes": inference[amp]})
            print(f"{name:<14} batch {batch:<3} {time.perf_counter() - t:5.1f} s", file=sys.stderr)
    FIXTURES.parent.mkdir(exist_ok=True)
    FIXTURES.write_text(json.dumps(kept + entries, indent=1) + "\n")
    print(f"wrote {len(entries)} measurements ({', '.join(parts)}) and kept {len(kept)} in {FIXTURES}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
