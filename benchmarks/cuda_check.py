"""CUDA truth for the allocator model: cnncalc's `--memory-rules cuda` figures beside torch.cuda's own.

One script, one call (benchmarks/README.md has the exact `device` call). For each configuration it plans
the design with cnncalc's CUDA rules (allocated peak, reserved memory: the caching allocator's model),
builds the exported network on the GPU, runs two training steps (the batch and the targets made on the
device, as cnncalc.pytorch.memory's step) and records, over the second step (after
`torch.cuda.reset_peak_memory_stats()`), `max_memory_allocated()` and `max_memory_reserved()`;
`empty_cache()` and a reset between configurations. Once per run: the torch and CUDA versions, the GPU,
the CUDA context (device memory used before and after initialisation, by NVML where it is there) and the
cuBLAS workspace (what one matrix product leaves allocated beyond its output).

The configurations (at most about 150; `--time-limit` stops starting new ones):
- every built-in design at the batch cnncalc answers for a 16 GiB training budget, Adam, foreach;
- ten of them (a fixed sample) with SGD, momentum, the for-loop optimizers, `--amp float16` and
  `--amp bfloat16`, at a quarter of that batch;
- gradient accumulation (2 micro-batches) and activation checkpointing (every top-level branch) on two.

Output: a table on stdout and `DIR/cuda_check.json` (`--out DIR`). `--fixtures FILE` turns such a JSON
into tests/fixtures/cuda_memory.json, which tests/test_cuda_fixture.py holds the model to.

Without a GPU it says so and compares the CPU rules with MemTracker instead (FakeTensorMode), on the
designs `--designs` names (a comma-separated list of built-in names or design texts; default: two small
built-ins), so the kit is tested in CI like any benchmark (tests/test_cuda_check.py).

    python benchmarks/cuda_check.py --out /tmp/cuda                     # on a GPU machine: the full check
    python benchmarks/cuda_check.py --out /tmp/cpu --designs lenet5     # anywhere: the CPU rules
    python benchmarks/cuda_check.py --fixtures /tmp/cuda/cuda_check.json  # -> tests/fixtures/cuda_memory.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the checkout's cnncalc, installed or not (a GPU machine has no pydantic: not needed)

from cnncalc import zoo  # noqa: E402
from cnncalc.planner import design_graph, run, top_level_items  # noqa: E402
from cnncalc.pytorch.export import export_source  # noqa: E402
from cnncalc.settings import Settings  # noqa: E402

BUDGET = "16GiB"
SAMPLE = ("alexnet", "vgg16", "resnet18", "resnet50", "mobilenet_v2", "mobilenet_v3_large", "efficientnet_b0",
          "densenet121", "squeezenet1_0", "shufflenet_v2_x1_0")
VARIANTS = (  # (label, optimizer, foreach, amp)
    ("sgd", "sgd", False, None), ("momentum", "momentum", False, None), ("adam-loop", "adam", False, None),
    ("fp16", "adam", True, "float16"), ("bf16", "adam", True, "bfloat16"))
DEEP = ("resnet50", "mobilenet_v2")  # accumulation and checkpointing
CPU_DEFAULT = ("lenet5", "INPUT 16x16x3 -> [CONV3-8 -> BN -> RELU]*2 -> (ID + [CONV3-8 -> RELU]) -> GAP -> FC-10")
FIXTURE = ROOT / "tests" / "fixtures" / "cuda_memory.json"


def text_of(design: str) -> str:
    path = zoo.path(design)
    return path.read_text(encoding="utf-8") if path is not None else design


def planned(text: str, settings: Settings) -> dict:
    """cnncalc's figures: the report's memory totals (the JSON contract's dict, no pydantic needed)."""
    return run(text, settings=settings).data


def budget_batch(text: str) -> int | None:
    data = planned(text, Settings(optimizer="adam", foreach=True, budget=BUDGET, memory_rules="cuda"))
    return (data.get("budget") or {}).get("max_batch")


def branches(text: str) -> tuple[tuple[int, int], ...]:
    """Every top-level branch as a checkpointed segment."""
    layers = planned(text, Settings(memory_rules="cuda"))["layers"]
    return tuple(item for item in top_level_items(layers) if item[1] > item[0])


def configurations(names: list[str]) -> list[dict]:
    """The check's configurations, in order: the 16 GiB batch of every design, the sample's variants, then
    accumulation and checkpointing."""
    out, batches = [], {}
    for name in names:
        batch = budget_batch(text_of(name))
        if not batch:
            print(f"skip {name}: no batch fits {BUDGET} by cnncalc's model", file=sys.stderr)
            continue
        batches[name] = batch
        out.append(dict(design=name, label="adam-foreach", batch=batch, optimizer="adam", foreach=True, amp=None))
    for name in [n for n in SAMPLE if n in batches]:
        for label, optimizer, foreach, amp in VARIANTS:
            out.append(dict(design=name, label=label, batch=max(1, batches[name] // 4), optimizer=optimizer,
                            foreach=foreach, amp=amp))
    for name in [n for n in DEEP if n in batches]:
        small = max(1, batches[name] // 4)
        out.append(dict(design=name, label="accumulate2", batch=small, optimizer="adam", foreach=True, amp=None,
                        accumulate=2))
        out.append(dict(design=name, label="checkpoint", batch=small, optimizer="adam", foreach=True, amp=None,
                        checkpoint=branches(text_of(name))))
    return out


def settings_of(config: dict, rules: str) -> Settings:
    return Settings(batch=config["batch"], optimizer=config["optimizer"], foreach=config["foreach"],
                    amp=config["amp"], accumulate=config.get("accumulate", 1),
                    checkpoint=config.get("checkpoint", ()), memory_rules=rules)


def expected(config: dict, rules: str) -> dict:
    memory = planned(text_of(config["design"]), settings_of(config, rules))["totals"]["memory"]
    cuda = memory.get("cuda") or {}
    return {"training_peak_bytes": memory["training_peak_bytes"],
            "inference_peak_bytes": memory["inference_peak_bytes"], "allocated_bytes": cuda.get("allocated_bytes"), "reserved_bytes": cuda.get("reserved_bytes"),
            "context_bytes": cuda.get("context_bytes"), "workspace_bytes": cuda.get("workspace_bytes")}


# -- on a GPU ---------------------------------------------------------------------------------------------------
def device_facts(torch) -> dict:
    """The versions, the GPU, the CUDA context and the cuBLAS workspace, measured once, first."""
    facts = {"torch": torch.__version__, "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version()}
    before = _nvml_used()
    torch.cuda.init()
    torch.empty(1, device="cuda")
    torch.cuda.synchronize()
    after = _nvml_used()
    facts["gpu"] = torch.cuda.get_device_name()
    free, total = torch.cuda.mem_get_info()
    facts["total_bytes"] = total
    reserved = torch.cuda.memory_reserved()
    facts["context_bytes"] = (after - before - reserved) if before is not None and after is not None else None
    facts["used_minus_reserved_bytes"] = total - free - reserved  # the context and anything else on the GPU
    a = torch.ones(1024, 1024, device="cuda")
    torch.cuda.synchronize()
    start = torch.cuda.memory_allocated()
    product = a @ a
    torch.cuda.synchronize()
    facts["cublas_workspace_bytes"] = torch.cuda.memory_allocated() - start - product.numel() * product.element_size()
    del a, product
    torch.cuda.empty_cache()
    return facts


def _nvml_used() -> int | None:
    try:
        import pynvml
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
        return pynvml.nvmlDeviceGetMemoryInfo(pynvml.nvmlDeviceGetHandleByIndex(0)).used
    except Exception:  # no NVML in this container
        return None


def measure_gpu(torch, config: dict) -> dict:
    from cnncalc.pytorch.memory import measure_cuda_step

    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    graph = design_graph(text_of(config["design"]), settings=settings_of(config, "cuda"))
    m = measure_cuda_step(export_source(graph), batch=config["batch"], optimizer=config["optimizer"],
                          foreach=config["foreach"], accumulate=config.get("accumulate", 1), amp=config["amp"],
                          checkpoint=tuple(config.get("checkpoint", ())))
    torch.cuda.empty_cache()
    return {"max_allocated_bytes": m.max_allocated, "max_reserved_bytes": m.max_reserved,
            "allocated_between_bytes": m.allocated_between}


# -- without one: the CPU rules against MemTracker ---------------------------------------------------------------
def measure_cpu(config: dict) -> dict:
    from cnncalc.pytorch.memory import measure_inference, measure_step

    graph = design_graph(text_of(config["design"]), settings=settings_of(config, "cpu"))
    source = export_source(graph)
    step = measure_step(source, batch=config["batch"], optimizer=config["optimizer"], foreach=config["foreach"],
                        accumulate=config.get("accumulate", 1), amp=config["amp"], fake=config["amp"] is None,
                        checkpoint=tuple(config.get("checkpoint", ())))
    return {"training_peak_bytes": step.peak_bytes,
            "inference_peak_bytes": measure_inference(source, batch=config["batch"], amp=config["amp"])}


def cpu_configurations(names: list[str]) -> list[dict]:
    return [dict(design=name, label=label, batch=batch, optimizer=optimizer, foreach=foreach, amp=None)
            for name in names for label, batch, optimizer, foreach in
            (("sgd", 2, "sgd", False), ("adam-foreach", 3, "adam", True))]


# -- the run ------------------------------------------------------------------------------------------------------
def compare(expected_: dict, measured: dict, gpu: bool) -> dict:
    """measured / expected - 1 for each figure both have."""
    pairs = ((("allocated_bytes", "max_allocated_bytes"), ("reserved_bytes", "max_reserved_bytes")) if gpu else
             (("training_peak_bytes", "training_peak_bytes"), ("inference_peak_bytes", "inference_peak_bytes")))
    return {f"{ours}_vs_measured": (None if not expected_.get(ours) or measured.get(theirs) is None else
                                    expected_[ours] / measured[theirs] - 1) for ours, theirs in pairs}


def line(config: dict, expected_: dict, measured: dict | None, error: str | None, gpu: bool) -> str:
    head = f"{config['design'][:24]:<24} {config['label']:<12} {config['batch']:>5}"
    if error is not None:
        return f"{head}  failed: {error}"
    keys = (("allocated_bytes", "max_allocated_bytes"), ("reserved_bytes", "max_reserved_bytes")) if gpu else \
        (("training_peak_bytes", "training_peak_bytes"), ("inference_peak_bytes", "inference_peak_bytes"))
    parts = []
    for ours, theirs in keys:
        a, b = expected_.get(ours), measured.get(theirs)
        diff = "" if not a or not b else f" {a / b - 1:+.2%}"
        parts.append(f"{a or 0:>15,} {b or 0:>15,}{diff:>9}")
    return f"{head}  " + "  ".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="the folder to write cuda_check.json in")
    parser.add_argument("--designs", help="comma-separated built-in names or design texts (default: every built-in "
                                          "on a GPU, two small designs on the CPU)")
    parser.add_argument("--time-limit", type=float, default=200.0, help="seconds after which no configuration starts")
    parser.add_argument("--max-configs", type=int, default=150)
    parser.add_argument("--cpu", action="store_true", help="the CPU rules against MemTracker, even with a GPU")
    parser.add_argument("--fixtures", type=Path,
                        help="turn this cuda_check.json into " + str(FIXTURE.relative_to(ROOT)))
    args = parser.parse_args(argv)
    if args.fixtures is not None:
        return write_fixtures(args.fixtures, FIXTURE)
    if args.out is None:
        parser.error("--out DIR is required (or --fixtures FILE)")
    return check(args)


def check(args) -> int:
    import torch

    gpu = torch.cuda.is_available() and not args.cpu
    names = args.designs.split(",") if args.designs else (zoo.names() if gpu else list(CPU_DEFAULT))
    facts = device_facts(torch) if gpu else {"torch": torch.__version__, "gpu": None}
    if not gpu:
        print("no CUDA device: comparing the CPU rules with MemTracker (FakeTensorMode) instead", flush=True)
    configs = (configurations(names) if gpu else cpu_configurations(names))[:args.max_configs]
    print(f"torch {facts['torch']}, {facts.get('gpu') or 'CPU'}; {len(configs)} configurations "
          f"(cnncalc's rules are measured on torch 2.13)", flush=True)
    what = ("allocated: cnncalc, measured", "reserved: cnncalc, measured") if gpu else \
        ("training peak: cnncalc, MemTracker", "inference peak: cnncalc, MemTracker")
    print(f"{'design':<24} {'variant':<12} {'batch':>5}  {what[0]:>41}  {what[1]:>41}", flush=True)
    results, start = [], time.monotonic()
    for config in configs:
        if time.monotonic() - start > args.time_limit:
            print(f"time limit ({args.time_limit:.0f} s): {len(configs) - len(results)} configurations not run",
                  flush=True)
            break
        results.append(run_one(torch, config, gpu))
        r = results[-1]
        print(line(config, r["cnncalc"], r["measured"], r["error"], gpu), flush=True)
    out = {"device": "cuda" if gpu else "cpu", "facts": facts, "seconds": round(time.monotonic() - start, 1),
           "configurations": len(configs), "results": results}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "cuda_check.json").write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {args.out / 'cuda_check.json'} ({len(results)} results, {out['seconds']} s)", flush=True)
    return 0


def run_one(torch, config: dict, gpu: bool) -> dict:
    exp = expected(config, "cuda" if gpu else "cpu")
    try:
        measured, error = (measure_gpu(torch, config) if gpu else measure_cpu(config)), None
    except Exception as e:  # out of memory, an unsupported operation: recorded, and the run goes on
        measured, error = {}, f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:300]
        if gpu:
            torch.cuda.empty_cache()
    record = {**{k: v for k, v in config.items() if k != "checkpoint"},
              "checkpoint": [list(s) for s in config.get("checkpoint", ())],
              "cnncalc": exp, "measured": measured, "error": error}
    record.update(compare(exp, measured, gpu))
    return record


def write_fixtures(results_file: Path, target: Path) -> int:
    """A GPU run's results as the fixtures tests/test_cuda_fixture.py holds the allocator model to."""
    data = json.loads(results_file.read_text())
    if data.get("device") != "cuda":
        print(f"{results_file} was measured on {data.get('device')}: fixtures need a GPU run", file=sys.stderr)
        return 2
    keep = ("design", "label", "batch", "optimizer", "foreach", "amp", "accumulate", "checkpoint")
    entries = [{**{k: r[k] for k in keep if k in r}, "max_allocated_bytes": r["measured"]["max_allocated_bytes"],
                "max_reserved_bytes": r["measured"]["max_reserved_bytes"]}
               for r in data["results"] if r["error"] is None]
    target.write_text(json.dumps({"facts": data["facts"], "entries": entries}, indent=1) + "\n")
    print(f"wrote {len(entries)} entries to {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
