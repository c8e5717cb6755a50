"""benchmarks/cuda_check.py, the kit that measures the CUDA allocator model the first time a GPU is lent
(issue 24): its configurations are planned here (no GPU needed), its CPU mode runs here against
MemTracker, and its fixture writer refuses anything but a GPU run."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from cnncalc import zoo

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "cuda_check.py"


def _kit():
    spec = importlib.util.spec_from_file_location("cuda_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_the_gpu_configurations_plan_and_fit_the_call():
    """What the GPU will run: every built-in design at its 16 GiB batch (Adam, foreach), the sample's five
    variants at a quarter of it, accumulation and checkpointing on two designs; at most 150, each planned
    with CUDA figures (allocated and reserved) unless cnncalc says it does not model it."""
    kit = _kit()
    configs = kit.configurations(zoo.names())
    assert len(configs) <= 150
    by_label = {}
    for c in configs:
        by_label.setdefault(c["label"], []).append(c)
        assert c["batch"] >= 1
    assert {c["design"] for c in by_label["adam-foreach"]} == set(zoo.names())
    for label in ("sgd", "momentum", "adam-loop", "fp16", "bf16"):
        assert len(by_label[label]) == len(kit.SAMPLE)
    assert {c["design"] for c in by_label["checkpoint"]} == set(kit.DEEP)
    assert all(c["checkpoint"] for c in by_label["checkpoint"])
    for c in by_label["adam-foreach"]:  # the batch is the budget's answer: its reserved memory fits 16 GiB
        figures = kit.expected(c, "cuda")
        if figures["reserved_bytes"] is not None:
            assert figures["reserved_bytes"] + figures["context_bytes"] + figures["workspace_bytes"] <= 16 * 2**30


@pytest.mark.torch
def test_without_a_gpu_it_compares_the_cpu_rules_with_memtracker(tmp_path, capsys):
    pytest.importorskip("torch", reason="PyTorch is not installed: pip install torch==2.13.0")
    kit = _kit()
    design = "INPUT 8x8x3 -> CONV3-4 -> BN -> RELU -> FC-2"
    assert kit.main(["--out", str(tmp_path), "--designs", design, "--cpu"]) == 0
    out = capsys.readouterr().out
    assert "no CUDA device: comparing the CPU rules with MemTracker" in out
    data = json.loads((tmp_path / "cuda_check.json").read_text())
    assert data["device"] == "cpu" and len(data["results"]) == 2
    for r in data["results"]:
        assert r["error"] is None
        assert r["cnncalc"]["training_peak_bytes"] == r["measured"]["training_peak_bytes"]
        assert r["cnncalc"]["inference_peak_bytes"] == r["measured"]["inference_peak_bytes"]
        assert r["training_peak_bytes_vs_measured"] == 0
    # a CPU run is no fixture of the GPU's allocator
    assert kit.write_fixtures(tmp_path / "cuda_check.json", tmp_path / "fixture.json") == 2
    assert not (tmp_path / "fixture.json").exists()


def test_the_fixture_writer_keeps_what_the_test_reads(tmp_path):
    """The converter, on a results file in the GPU run's format (its figures are the converter's input,
    not a measurement): every error-free result becomes an entry with its settings and torch.cuda's peaks."""
    kit = _kit()
    run = {"device": "cuda", "facts": {"torch": "2.11.0", "gpu": "NVIDIA H100 80GB HBM3"}, "results": [
        {"design": "resnet18", "label": "adam-foreach", "batch": 8, "optimizer": "adam", "foreach": True, "amp": None,
         "checkpoint": [], "measured": {"max_allocated_bytes": 1, "max_reserved_bytes": 2}, "error": None},
        {"design": "vgg16", "label": "fp16", "batch": 4, "optimizer": "adam", "foreach": True, "amp": "float16",
         "checkpoint": [], "measured": {}, "error": "OutOfMemoryError: CUDA out of memory"}]}
    (tmp_path / "run.json").write_text(json.dumps(run))
    assert kit.write_fixtures(tmp_path / "run.json", tmp_path / "fixture.json") == 0
    fixture = json.loads((tmp_path / "fixture.json").read_text())
    assert fixture["facts"]["gpu"].startswith("NVIDIA") and len(fixture["entries"]) == 1
    assert fixture["entries"][0] == {"design": "resnet18", "label": "adam-foreach", "batch": 8, "optimizer": "adam",
                                     "foreach": True, "amp": None, "checkpoint": [], "max_allocated_bytes": 1,
                                     "max_reserved_bytes": 2}
