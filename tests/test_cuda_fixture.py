"""The CUDA allocator model held to a GPU's own figures: tests/fixtures/cuda_memory.json, written by
`python benchmarks/cuda_check.py --fixtures RUN.json` from a run on a lent GPU (benchmarks/README.md).
Each entry's design, planned with the CUDA rules at its settings, must give torch.cuda's
max_memory_allocated within 1% and max_memory_reserved within 5%.

Until a GPU has been lent to this project there is no such file, and the test is skipped with that reason.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import cnncalc

FIXTURE = Path(__file__).parent / "fixtures" / "cuda_memory.json"
ENTRIES = json.loads(FIXTURE.read_text())["entries"] if FIXTURE.exists() else []


@pytest.mark.skipif(not ENTRIES, reason="no GPU measurement yet: benchmarks/cuda_check.py runs on the first GPU "
                                        "lent (benchmarks/README.md), then --fixtures writes " + FIXTURE.name)
@pytest.mark.parametrize("entry", ENTRIES or [None], ids=[f"{e['design']}-{e['label']}" for e in ENTRIES] or ["none"])
def test_the_allocator_model_matches_the_gpu(entry):
    report = cnncalc.plan(entry["design"], batch=entry["batch"], optimizer=entry["optimizer"],
                          foreach=entry["foreach"], amp=entry["amp"], accumulate=entry.get("accumulate", 1),
                          checkpoint=[tuple(s) for s in entry.get("checkpoint", [])], memory_rules="cuda")
    cuda = report.totals.memory.cuda
    assert cuda is not None
    assert abs(cuda.allocated_bytes / entry["max_allocated_bytes"] - 1) <= 0.01
    assert abs(cuda.reserved_bytes / entry["max_reserved_bytes"] - 1) <= 0.05
