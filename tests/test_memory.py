"""The simulated peak of a training step and of inference, against PyTorch's own measurement.

tests/fixtures/memory.json holds MemTracker's peaks for every built-in design at batch 1, 8 and
32, with sgd, momentum and adam, each optimizer as a for-loop and (momentum, adam) as foreach,
and at batch 8 with gradient accumulation over two micro-batches
(`python benchmarks/measure_memory.py` measures them; torch is not needed here). Each entry is
keyed by the SHA-256 of the exported network's source: an entry whose network changed is stale and
fails. The issue's bar is within 3% and never more than 1% below; the simulation is exact today,
and these tests hold it there. tests/test_memory_live.py re-measures a sample live, with torch.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cnncalc
from cnncalc import zoo
from cnncalc.kinds import KINDS, UNSUPPORTED
from cnncalc import simulate as training
from cnncalc.planner import design_graph
from cnncalc.pytorch.export import export_source

FIXTURES = json.loads((Path(__file__).parent / "fixtures" / "memory.json").read_text())


def _sha(source: str) -> str:
    import hashlib

    return hashlib.sha256(source.encode()).hexdigest()


@pytest.mark.parametrize("name", zoo.names())
def test_fixtures_are_current(name):
    sha = _sha(export_source(design_graph(zoo.path(name).read_text())))
    entries = [e for e in FIXTURES if e["design"] == name]
    assert entries, f"no measurement of {name}: run python benchmarks/measure_memory.py"
    assert all(e["source_sha256"] == sha for e in entries), \
        f"{name}'s exported network changed since it was measured: run python benchmarks/measure_memory.py"


def _id(e: dict) -> str:
    return (f"{e['design']}-b{e['batch']}-{e['optimizer']}{'-foreach' if e['foreach'] else ''}"
            f"{'-accumulate' if e['accumulate'] > 1 else ''}{'-' + e['amp'] if e.get('amp') else ''}"
            f"{'-freeze' + str(e['freeze']) if e.get('freeze') is not None else ''}"
            f"{'-checkpoint' + str(len(e['checkpoint'])) if e.get('checkpoint') else ''}")


@pytest.mark.parametrize("entry", FIXTURES, ids=_id)
def test_training_peak_equals_memtracker(entry):
    settings = dict(batch=entry["batch"], optimizer=entry["optimizer"], device="cpu", foreach=entry["foreach"],
                    accumulate=entry["accumulate"], amp=entry.get("amp"), freeze=entry.get("freeze"),
                    checkpoint=[tuple(seg) for seg in entry.get("checkpoint", ())])
    report = cnncalc.plan(zoo.path(entry["design"]).read_text(), **settings)
    predicted, measured = report.totals.memory.training_peak_bytes, entry["peak_bytes"]
    unmodelled = ((entry.get("amp") and any(KINDS[r.kind].autocast is UNSUPPORTED for r in report.layers))
                  or (entry.get("checkpoint") and any(r.kind in ("crop", "output") for r in report.layers))
                  or (entry.get("checkpoint") and any("checkpointed dense unit" in w for w in report.warnings)))
    if predicted is None:
        # autocast's rules for LAYERNORM, GROUPNORM, SCALE, the split and side heads, and a recomputed crop,
        # side head or dense unit (concat.dense), are not modelled yet: the peak is left out, and named; nothing
        # else may be
        assert unmodelled and "training_peak" in report.totals.partial
        return
    assert abs(predicted - measured) <= 0.03 * measured and predicted >= 0.99 * measured  # the bar
    assert report.totals.memory.inference_peak_bytes == entry["inference_peak_bytes"]
    if entry.get("amp"):
        # measured under FakeTensorMode, which keeps BN's statistics in the autocast dtype where a real run keeps
        # them in float32 (as cnncalc does): with the fake rule the simulation is exact
        predicted = _fake_amp_peak(entry, settings)
    assert predicted == measured  # and where it is today: to the byte


def _fake_amp_peak(entry: dict, settings: dict) -> int:
    from cnncalc.metrics.rows import Rows

    graph = design_graph(zoo.path(entry["design"]).read_text())
    walk = Rows(graph, cnncalc.Settings(batch=entry["batch"], optimizer=entry["optimizer"], memory_rules="cpu",
                                        foreach=entry["foreach"], accumulate=entry["accumulate"], amp=entry["amp"]))
    walk.run()
    return training.peak_of(walk.steps, walk.storages.sizes, walk.setup, entry["batch"], fake=True).bytes


def test_the_peak_is_explained():
    report = cnncalc.plan(zoo.path("resnet18").read_text(), batch=8, optimizer="momentum", device="cpu",
                          foreach=False)
    memory = report.totals.memory
    entry = next(e for e in FIXTURES if (e["design"], e["batch"], e["optimizer"], e["foreach"])
                 == ("resnet18", 8, "momentum", False))
    b = memory.peak.breakdown
    assert b.params + b.buffers + b.gradients + b.optimizer + b.saved + b.other == memory.training_peak_bytes
    assert b.params == report.totals.params * 4 == entry["breakdown"]["params"]
    assert b.optimizer == b.params  # one momentum buffer per parameter
    assert memory.peak.phase == "backward" and report.layers[memory.peak.index].kind == "conv"


def test_without_a_rule_the_peak_is_left_out_and_named():
    report = cnncalc.plan("INPUT 8x8x3 -> CONV3-4 -> LOCAL3-4 -> FC-2")  # LOCAL has no training rule yet
    assert report.totals.memory.training_peak_bytes is None and "training_peak" in report.totals.partial
    assert report.totals.memory.peak is None and report.totals.memory.inference_peak_bytes is None


# -- the largest batch that fits a budget ------------------------------------------------------------
@pytest.mark.parametrize("name, budget, optimizer", [("resnet18", "2GiB", "momentum"), ("vgg16", "12GB", "adam"),
                                                      ("mobilenet_v2", "6GiB", "sgd")])
def test_the_largest_batch_fits_and_one_more_does_not(name, budget, optimizer):
    text = zoo.path(name).read_text()
    report = cnncalc.plan(text, budget=budget, optimizer=optimizer, device="cpu")  # CUDA: test_allocator.py
    most, size = report.budget.max_batch, report.budget.bytes
    assert size == cnncalc.settings.parse_bytes(budget) and most > 1
    peak = lambda batch: cnncalc.plan(text, batch=batch, optimizer=optimizer,
                                      device="cpu").totals.memory.training_peak_bytes
    assert peak(most) <= size < peak(most + 1)


def test_a_budget_for_inference_and_one_nothing_fits():
    text = zoo.path("vgg16").read_text()
    report = cnncalc.plan(text, budget="4GiB", budget_for="inference", device="cpu")
    most = report.budget.max_batch
    peak = lambda batch: cnncalc.plan(text, batch=batch, device="cpu").totals.memory.inference_peak_bytes
    assert peak(most) <= 4 * 2**30 < peak(most + 1)
    tight = cnncalc.plan(text, budget="1GiB", optimizer="adam").budget
    assert tight.max_batch == 0 and tight.batch_1_bytes > 2**30


@pytest.mark.parametrize("text, size", [("8GiB", 8 * 2**30), ("16GB", 16 * 10**9), ("512 MiB", 512 * 2**20),
                                        ("1.5GiB", 3 * 2**29), (1000, 1000), ("123", 123)])
def test_memory_sizes(text, size):
    assert cnncalc.settings.parse_bytes(text) == size


@pytest.mark.parametrize("text", ["8XB", "GiB", "-1GB", "0", "1e9", "8GiBs"])
def test_bad_memory_sizes(text):
    with pytest.raises(cnncalc.SettingsError):
        cnncalc.settings.parse_bytes(text)


# -- the largest input that fits a budget -----------------------------------------------------------------
CIFAR = "INPUT 32x32x3 -> [[CONV3-32 -> BN -> RELU]*2 -> POOL2]*3 -> FC-10"


@pytest.mark.parametrize("device, budget_for", [("cpu", "training"), ("cuda", "training"), ("cpu", "inference")])
def test_the_largest_input_fits_and_no_larger_fitting_one_does(device, budget_for):
    budget = 64 * 2**20 if device == "cpu" else 600 * 2**20
    report = cnncalc.plan(CIFAR, batch=4, budget=budget, budget_for=budget_for, device=device, max_input=True)
    x = report.budget.max_input
    assert x.h == x.w and x.c == 3 and x.h > 32

    def held(size: int):
        r = cnncalc.plan(CIFAR, batch=4, device=device, input=(size, size, 3))
        m = r.totals.memory
        figure = {("cpu", "training"): m.training_peak_bytes, ("cpu", "inference"): m.inference_peak_bytes,
                  ("cuda", "training"): m.cuda.total_bytes if m.cuda else None}[device, budget_for]
        return r.fits, figure

    fits, figure = held(x.h)
    assert fits and figure <= budget
    for size in range(x.h + 1, x.h + 17):  # POOL2 three times: every 8th size fits; the next one is too big
        fits, figure = held(size)
        assert not fits or figure > budget


def test_no_input_fits_a_tiny_budget_and_max_input_needs_a_budget():
    assert cnncalc.plan(CIFAR, budget="1MiB", device="cpu", max_input=True).budget.max_input.h == 24  # not 32
    assert cnncalc.plan(CIFAR, budget="64KiB", device="cpu", max_input=True).budget.max_input is None  # < params
    with pytest.raises(cnncalc.SettingsError, match="needs a budget"):
        cnncalc.plan(CIFAR, max_input=True)


@settings(max_examples=30, deadline=None)
@given(design=st.sampled_from(["INPUT 32x32x3 -> [CONV3-16 -> BN -> RELU]*3 -> POOL2 -> FC-10",
                               "INPUT 64x64x3 -> CONV3-8 -> (ID + [CONV3-8 -> RELU]) -> GAP -> FC-5",
                               "INPUT 16x16x8 -> DWCONV3 -> CONV1-64 -> RELU -> FLATTEN -> FC-100"]),
       batch=st.integers(1, 40), megabytes=st.integers(5, 2000), optimizer=st.sampled_from(["sgd", "adam"]),
       rules=st.sampled_from(["cuda", "cpu"]), mode=st.sampled_from(["training", "inference"]))
def test_any_budget_the_largest_batch_fits_and_one_more_does_not(design, batch, megabytes, optimizer, rules, mode):
    """The search starts from the plan's own peak at its batch (and the peak's line), then guesses along
    lines: whatever the start, its answer fits and one more does not (on CUDA, what the device holds)."""
    options = dict(optimizer=optimizer, memory_rules=rules)
    budget = megabytes * 2**20
    report = cnncalc.plan(design, batch=batch, budget=budget, budget_for=mode, **options)
    most = report.budget.max_batch

    def held(n: int) -> int:
        m = cnncalc.plan(design, batch=n, **options).totals.memory
        if rules == "cuda":
            return m.cuda.total_bytes if mode == "training" else m.cuda.inference_total_bytes
        return m.training_peak_bytes if mode == "training" else m.inference_peak_bytes

    assert report.budget.batch_1_bytes == held(1)
    if most == 0:
        assert held(1) > budget
    else:
        assert held(most) <= budget < held(most + 1)
