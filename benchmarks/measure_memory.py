"""Measure the peak memory of every built-in design with PyTorch's MemTracker, for the fixtures
that tests/test_memory.py compares cnncalc's simulation with (in CI, without torch).

    python benchmarks/measure_memory.py            # rewrites tests/fixtures/memory.json (minutes)

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


def source_sha(source: str) -> str:
    return hashlib.sha256(source.encode()).hexdigest()


def main() -> None:
    warnings.simplefilter("ignore")
    import torch

    from cnncalc import zoo
    from cnncalc.planner import design_graph
    from cnncalc.pytorch.export import export_source
    from cnncalc.pytorch.memory import measure_inference, measure_step

    entries = []
    for name in zoo.names():
        source = export_source(design_graph(zoo.path(name).read_text()))
        for batch in BATCHES:
            t = time.perf_counter()
            inference = measure_inference(source, batch=batch)
            configs = [(o, f, 1) for o, f in CONFIGS]
            if batch == ACCUMULATED[0]:
                configs += [(o, f, 2) for o, f in ACCUMULATED[1]]
            for optimizer, foreach, accumulate in configs:
                m = measure_step(source, batch=batch, optimizer=optimizer, foreach=foreach, accumulate=accumulate)
                entries.append({"design": name, "batch": batch, "optimizer": optimizer, "foreach": foreach,
                                "accumulate": accumulate, "torch": torch.__version__,
                                "source_sha256": source_sha(source), "peak_bytes": m.peak_bytes,
                                "breakdown": m.breakdown, "inference_peak_bytes": inference})
            print(f"{name:<14} batch {batch:<3} {time.perf_counter() - t:5.1f} s", file=sys.stderr)
    FIXTURES.parent.mkdir(exist_ok=True)
    FIXTURES.write_text(json.dumps(entries, indent=1) + "\n")
    print(f"wrote {len(entries)} measurements to {FIXTURES}", file=sys.stderr)


if __name__ == "__main__":
    main()
