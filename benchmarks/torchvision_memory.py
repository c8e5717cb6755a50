"""Memory peaks of torchvision's own models: the fixtures tests/test_torchvision_memory.py holds cnncalc to.

cnncalc's other memory fixtures measure the network `cnncalc export` writes; these measure the code people
run, torchvision's models and their forward methods, for every built-in design with a torchvision
counterpart. It needs torchvision, which nothing else in cnncalc does, so it runs in an environment of its
own (a CUDA build is fine: everything runs on the CPU):

    python3.11 -m venv /tmp/tv && /tmp/tv/bin/pip install torch==2.14.1 torchvision==0.29.1 \\
        'typer>=0.28,<0.29' rich pydantic
    PYTHONPATH=. /tmp/tv/bin/python benchmarks/torchvision_memory.py            # every configuration
    PYTHONPATH=. /tmp/tv/bin/python benchmarks/torchvision_memory.py --only mobilenet_v3_large --print

Each configuration is measured as cnncalc.pytorch.memory measures an export (the same training step: a
random batch, cross-entropy, backward, the optimizer's step, the second step measured, after the earlier
micro-batches with accumulation; the inference pass: eval mode under no_grad), with MemTracker: under
FakeTensorMode for float32, which computes nothing and gives the peak to the byte; real runs under
bfloat16 autocast (FakeTensorMode keeps BN's statistics in low precision, a real run in float32) and for
RegNet (its initialisation reads tensor values). The models are built with torchvision's defaults
(weights=None; GoogLeNet and Inception-v3 without their slow initialisation, which changes no tensor's
size). All of it takes about 45 minutes on two cores (the real bfloat16 runs most of it: VGG's 12 minutes).

It writes tests/fixtures/torchvision_memory.json: per entry the design, the settings (the names of
cnncalc.plan's options) and the measured peak (a budget's entry: cnncalc's answer and the peaks at it and
one more). The test plans each entry with cnncalc and compares, without torchvision. `--blocks` and
`--budgets` re-measure only the checkpointed/frozen or the budget entries of the models named by --only.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
FIXTURE = HERE.parent / "tests" / "fixtures" / "torchvision_memory.json"
NO_INIT = {"init_weights": False}
# cnncalc's built-in design -> torchvision's constructor and its arguments, the input (C, H, W), side heads
MODELS = {
    "alexnet": ("alexnet", {}, (3, 224, 224), []),
    "vgg16": ("vgg16", {}, (3, 224, 224), []),
    "vgg16_bn": ("vgg16_bn", {}, (3, 224, 224), []),
    "resnet18": ("resnet18", {}, (3, 224, 224), []),
    "resnet50": ("resnet50", {}, (3, 224, 224), []),
    "googlenet": ("googlenet", {"aux_logits": False, **NO_INIT}, (3, 224, 224), []),
    "inception_v3": ("inception_v3", {"aux_logits": False, **NO_INIT}, (3, 299, 299), []),
    "inception_v3_aux": ("inception_v3", {"aux_logits": True, **NO_INIT}, (3, 299, 299), [(1000,)]),
    "mobilenet_v2": ("mobilenet_v2", {}, (3, 224, 224), []),
    "mobilenet_v3_large": ("mobilenet_v3_large", {}, (3, 224, 224), []),
    "efficientnet_b0": ("efficientnet_b0", {}, (3, 224, 224), []),
    "squeezenet1_0": ("squeezenet1_0", {}, (3, 224, 224), []),
    "densenet121": ("densenet121", {}, (3, 224, 224), []),
    "regnet_y_400mf": ("regnet_y_400mf", {}, (3, 224, 224), []),
    "shufflenet_v2_x1_0": ("shufflenet_v2_x1_0", {}, (3, 224, 224), []),
    "convnext_tiny": ("convnext_tiny", {}, (3, 224, 224), []),
}
# the cnncalc settings that build the torchvision variant of a design (its -D defines)
DEFINES = {"alexnet": ["torchvision=1"], "vgg16": ["torchvision=1"], "vgg16_bn": ["torchvision=1"]}
# what is measured of every model: (mode, batch, optimizer, accumulate, amp); float32 under FakeTensorMode
CONFIGS = [("inference", 24, None, 1, None), ("training", 3, "sgd", 1, None), ("training", 12, "adam", 1, None),
           ("training", 4, "momentum", 2, None)]
# mixed precision, measured with real runs (FakeTensorMode keeps BN's statistics in low precision, a real run in
# float32): every model
AMP_MODELS = tuple(MODELS)
AMP_CONFIGS = [("inference", 4, None, 1, "bfloat16"), ("training", 1, "sgd", 2, "bfloat16"),
               ("training", 2, "adam", 1, "bfloat16")]
# their initialisation reads tensor values (.item()): FakeTensorMode cannot build them, so real runs
REAL = ("regnet_y_400mf", "convnext_tiny")
# fine-tuning and checkpointing, float32: torchvision's blocks (the modules the design's block calls stand for, in
# order) -> every block checkpointed (torch.utils.checkpoint, non-reentrant, around the block's forward), and the
# parameters up to the end of the first half of the blocks frozen (requires_grad False, out of the optimizer)
BLOCKS = {"resnet18": [f"layer{i}.{j}" for i in range(1, 5) for j in range(2)],
          "resnet50": [f"layer{i}.{j}" for i, n in zip(range(1, 5), (3, 4, 6, 3)) for j in range(n)],
          "mobilenet_v2": [f"features.{k}" for k in range(2, 18)],
          "mobilenet_v3_large": [f"features.{k}" for k in range(2, 16)],
          "efficientnet_b0": [f"features.{k}.{j}" for k, n in zip(range(2, 8), (2, 2, 3, 3, 4, 1)) for j in range(n)],
          "shufflenet_v2_x1_0": [f"stage{k}.{j}" for k, n in zip(range(2, 5), (4, 8, 4)) for j in range(n)],
          "regnet_y_400mf": [f"trunk_output.block{k}.block{k}-{j}" for k, n in zip(range(1, 5), (1, 3, 6, 6))
                             for j in range(n)],
          "googlenet": ["inception3a", "inception3b", "inception4a", "inception4b", "inception4c", "inception4d",
                        "inception4e", "inception5a", "inception5b"],
          "densenet121": [f"features.{part}" for k, n in zip(range(1, 5), (6, 12, 24, 16))
                          for part in [*(f"denseblock{k}.denselayer{j}" for j in range(1, n + 1)),
                                       *([f"transition{k}"] if k < 4 else [])]]}
# the block configurations a model leaves out: a checkpointed dense unit (concat.dense) is not modelled yet
NOT_BLOCK = {"densenet121": ("checkpoint",)}
# the design's block calls before the first of BLOCKS (the stem's calls, the first block's gate)
SKIP_CALLS = {"efficientnet_b0": 1, "googlenet": 2, "regnet_y_400mf": 1}
# which part of a row's path names its block (default: the top-level call); RegNet's blocks sit in its stages,
# the first stage's one block is the stage
BLOCK_OF = {"regnet_y_400mf": lambda parts: parts[:2] if parts[:2] == ["trunk", "stage1"] else parts[:3]}
BLOCK_CONFIGS = [("checkpoint", 12, "sgd", None), ("freeze", 12, "adam", None)]
AMP_BLOCK_CONFIGS = [("checkpoint", 4, "adam", "bfloat16"), ("freeze", 4, "sgd", "bfloat16")]  # real runs
# budgets, float32, CPU rules: cnncalc's answer N (the largest batch whose peak fits), torchvision's peak measured
# at N and N + 1: the answer is right when the first fits and the second does not
BUDGETS = {"resnet50": ("training", "4GiB", "adam"), "mobilenet_v2": ("inference", "1GiB", None),
           "efficientnet_b0": ("training", "3GiB", "sgd"), "vgg16": ("training", "6GiB", "momentum"),
           "densenet121": ("training", "4GiB", "sgd"), "inception_v3": ("inference", "2GiB", None)}


def namespace(torch, name: str, prepare=None) -> dict:
    """What cnncalc.pytorch.memory measures: the model's constructor (`prepare` changes the model made) and its
    shapes."""
    import torchvision

    builder, kwargs, shape, sides = MODELS[name]
    make = getattr(torchvision.models, builder)
    build = (lambda: make(weights=None, **kwargs)) if prepare is None else (lambda: prepare(make(weights=None,
                                                                                               **kwargs)))
    return {"Net": build, "INPUT_SHAPE": shape, "OUTPUT_SHAPE": (1000,), "SIDE_SHAPES": sides}


def block_segments(name: str) -> list[tuple[int, int]]:
    """cnncalc's rows of each of the design's block calls that stand for torchvision's BLOCKS, in order: the runs
    of rows whose `path` starts with the same top-level call."""
    import cnncalc

    report = cnncalc.plan(name, defines=DEFINES.get(name, []))
    runs: list[list[int]] = []
    last = None
    for row in report.layers:
        top = " > ".join(BLOCK_OF.get(name, lambda parts: parts[:1])(row.path.split(" > "))) if row.path else None
        if top is not None and top == last:
            runs[-1][1] = row.index
        elif top is not None:
            runs.append([row.index, row.index])
        last = top
    runs = runs[SKIP_CALLS.get(name, 0):]
    assert len(runs) == len(BLOCKS[name]), (name, len(runs), len(BLOCKS[name]))
    return [tuple(r) for r in runs]


def checkpointed(names: list[str]):
    """The model with each named module's forward run under non-reentrant torch.utils.checkpoint."""
    from torch.utils.checkpoint import checkpoint

    def prepare(model):
        for module_name in names:
            module = model.get_submodule(module_name)
            module.forward = (lambda f: lambda x: checkpoint(f, x, use_reentrant=False))(module.forward)
        return model
    return prepare


def frozen(tensors: int):
    """The model with its first `tensors` parameter tensors frozen."""
    def prepare(model):
        for p in list(model.parameters())[:tensors]:
            p.requires_grad_(False)
        return model
    return prepare


def block_config(name: str, what: str) -> tuple[dict, object]:
    """cnncalc's settings and the model's preparation for BLOCK_CONFIGS' `what`."""
    import cnncalc

    segments, blocks = block_segments(name), BLOCKS[name]
    if what == "checkpoint":
        return {"checkpoint": [f"{a}-{b}" for a, b in segments]}, checkpointed(blocks)
    last = segments[len(segments) // 2 - 1][1]  # the end of the first half of the blocks
    report = cnncalc.plan(name, defines=DEFINES.get(name, []))
    tensors = sum((row.weights > 0) + (row.biases > 0) for row in report.layers[1:last + 1])
    return {"freeze": last}, frozen(tensors)


def measure(torch, name: str, mode: str, batch: int, optimizer: str | None, accumulate: int, amp: str | None,
            prepare=None) -> int:
    from cnncalc.pytorch.memory import measure_inference, measure_step

    ns = namespace(torch, name, prepare)
    fake = amp is None and name not in REAL
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if mode == "inference":
            return measure_inference(ns, batch=batch, fake=fake, amp=amp)
        return measure_step(ns, batch=batch, optimizer=optimizer, foreach=False, fake=fake, accumulate=accumulate,
                            amp=amp).peak_bytes


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", nargs="*", help="these designs only (their entries replace theirs in the fixture)")
    ap.add_argument("--print", action="store_true", help="print cnncalc's figure beside each measured one")
    ap.add_argument("--amp", action="store_true", help="only the bfloat16 configurations (the others' entries kept)")
    ap.add_argument("--budgets", action="store_true", help="only the budget answers (the others' entries kept)")
    ap.add_argument("--blocks", action="store_true", help="only the checkpointed and frozen configurations (the "
                                                          "others' entries kept)")
    args = ap.parse_args(argv)
    import torch
    import torchvision

    names = args.only or list(MODELS)
    kept = json.loads(FIXTURE.read_text())["entries"] if args.only and FIXTURE.exists() else []
    entries = [e for e in kept if e["design"] not in names or (args.blocks and not _is_block(e))
               or (args.budgets and e["mode"] != "budget") or (args.amp and not _is_amp(e))]
    for name in names:
        plain = [] if args.blocks or args.budgets else CONFIGS + (AMP_CONFIGS if name in AMP_MODELS else [])
        plain = AMP_CONFIGS if args.amp else plain
        for mode, batch, optimizer, accumulate, amp in plain:
            if MODELS[name][3] and mode == "training":
                batch = max(batch, 2)  # a side head's BN over 1x1: PyTorch refuses to train it at batch 1
            start = time.perf_counter()
            peak = measure(torch, name, mode, batch, optimizer, accumulate, amp)
            settings = {"batch": batch, "device": "cpu", "defines": DEFINES.get(name, [])}
            if optimizer:
                settings.update(optimizer=optimizer, foreach=False, accumulate=accumulate)
            if amp:
                settings["amp"] = amp
            entry = {"design": name, "mode": mode, "settings": settings, "peak_bytes": peak}
            entries.append(entry)
            line = (f"{name:20} {mode:9} b{batch:<3} {optimizer or '':8} x{accumulate} {amp or 'float32':8} "
                    f"{peak:>14,} B  {time.perf_counter() - start:5.1f} s")
            if args.print:
                line += "  " + _cnncalc(entry)
            print(line, flush=True)
        blocks = (BLOCK_CONFIGS + (AMP_BLOCK_CONFIGS if name in AMP_MODELS else [])) if name in BLOCKS else []
        blocks = [] if args.budgets or args.amp else blocks
        for what, batch, optimizer, amp in [b for b in blocks if b[0] not in NOT_BLOCK.get(name, ())]:
            start = time.perf_counter()
            extra, prepare = block_config(name, what)
            peak = measure(torch, name, "training", batch, optimizer, 1, amp, prepare)
            settings = {"batch": batch, "device": "cpu", "defines": DEFINES.get(name, []), "optimizer": optimizer,
                        "foreach": False, "accumulate": 1, **extra}
            if amp:
                settings["amp"] = amp
            entry = {"design": name, "mode": "training", "settings": settings, "peak_bytes": peak}
            entries.append(entry)
            line = (f"{name:20} {what:10} b{batch:<3} {optimizer:8} {amp or 'float32':8} {peak:>14,} B  "
                    f"{time.perf_counter() - start:5.1f} s")
            print(line + ("  " + _cnncalc(entry) if args.print else ""), flush=True)
        if name in BUDGETS and not args.blocks and not args.amp:
            entries.append(budget_entry(torch, name, *BUDGETS[name], show=args.print))
        order = {n: i for i, n in enumerate(MODELS)}  # written after each model: a long run keeps what it measured
        FIXTURE.write_text(json.dumps({"torch": torch.__version__, "torchvision": torchvision.__version__,
                                       "entries": sorted(entries, key=lambda e: order[e["design"]])}, indent=1) + "\n")
    print(f"wrote {FIXTURE}")
    return 0


def budget_entry(torch, name: str, mode: str, budget: str, optimizer: str | None, show: bool = False) -> dict:
    """cnncalc's budget answer for BUDGETS[name], and torchvision's peaks at that batch and the next."""
    import cnncalc

    settings = {"device": "cpu", "defines": DEFINES.get(name, []), "budget": budget, "budget_for": mode}
    if optimizer:
        settings.update(optimizer=optimizer, foreach=False)
    plan_settings = {k: v for k, v in settings.items() if k != "defines"}
    answer = cnncalc.plan(name, defines=settings["defines"], **plan_settings).budget.max_batch
    start = time.perf_counter()
    peaks = {str(n): measure(torch, name, mode, n, optimizer, 1, None) for n in (answer, answer + 1)}
    print(f"{name:20} budget {budget:6} {mode:9} {optimizer or '':8} answer {answer}: torchvision "
          f"{peaks[str(answer)]:,} B and {peaks[str(answer + 1)]:,} B at {answer + 1}  "
          f"{time.perf_counter() - start:5.1f} s", flush=True)
    return {"design": name, "mode": "budget", "settings": settings, "answer": answer, "peaks": peaks}


def _is_amp(entry: dict) -> bool:
    return bool(entry["settings"].get("amp")) and not _is_block(entry)


def _is_block(entry: dict) -> bool:
    return "checkpoint" in entry["settings"] or "freeze" in entry["settings"]


def _cnncalc(entry: dict) -> str:
    """cnncalc's figure for an entry, and how far it is from the measured one."""
    import cnncalc

    s = dict(entry["settings"])
    defines = s.pop("defines")
    report = cnncalc.plan(entry["design"], defines=defines, **s)
    mine = (report.totals.memory.inference_peak_bytes if entry["mode"] == "inference"
            else report.totals.memory.training_peak_bytes)
    if mine is None:
        return "cnncalc: none"
    return f"cnncalc {mine:>14,} B  {100 * (mine - entry['peak_bytes']) / entry['peak_bytes']:+6.2f}%"


if __name__ == "__main__":
    sys.exit(main())
