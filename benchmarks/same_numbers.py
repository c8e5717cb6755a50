"""Does a change keep every number? The same corpus planned by two checkouts, compared to the byte.

    python benchmarks/same_numbers.py --baseline DIR [--designs 600] [--seed 1]

Runs the corpus with this checkout's cnncalc and with the one in DIR (a `git worktree` of the revision
before a change), each in its own process, and reports every difference. The corpus: every built-in
design and the test designs under many settings (batches, dtypes, optimizers, devices, --amp,
accumulation, frozen rows, checkpointed segments, budgets, --max-input, both fit rules), random
designs over every layer kind and merge (seeded), each as the whole JSON contract (plan), the fit
alone (check), every rendering (table, markdown, CSV, HTML, the SVG drawings) and the exported PyTorch
source; sweeps (walked and compiled points) and comparisons. A refactor is done when this prints no
difference. Only public entry points are used, so that both revisions can run it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SETTINGS = [
    {},
    {"batch": 8, "optimizer": "adam"},
    {"batch": 4, "optimizer": "momentum", "device": "cpu", "foreach": True},
    {"batch": 3, "optimizer": "adam", "device": "cpu"},
    {"batch": 4, "optimizer": "adam", "amp": "bfloat16"},
    {"batch": 2, "amp": "float16", "device": "cpu", "optimizer": "momentum"},
    {"dtype": "float16", "batch": 2},
    {"dtype": "int8", "batch": 2},
    {"accumulate": 3, "batch": 2, "optimizer": "adam"},
    {"accumulate": 2, "batch": 1},  # SGD: only the earlier micro-batches' gradients outlive a step (CUDA's replay)
    {"budget": "8GiB", "optimizer": "adam"},
    {"budget": "2GiB", "budget_for": "inference", "device": "cpu"},
    {"fit_rule": "notes", "input": "227x227x3"},
]

LAYERS = ["CONV3-4", "CONV1-6/2", "CONV3-5/2p0", "CONV5-3d2", "CONV3-8g2", "BN", "RELU", "RELU6", "GELU", "SIGMOID",
          "SILU", "HARDSWISH", "HARDSIGMOID", "TANH", "ELU", "LEAKYRELU(0.1)", "SOFTMAX", "RELU(inplace=false)",
          "DROPOUT", "DROPOUT(0.2, inplace=false)", "UPSAMPLE2", "ID", "POOL2", "AVGPOOL2", "POOL3/2",
          "POOL3/1p1(ceil=true)", "POOL3/2(ceil=true)", "DWCONV3", "DWCONV3/2", "DECONV2-3/2", "GMP", "GAP", "FLATTEN",
          "LRN", "LRN(3)", "LOCAL3-2", "(ID + CONV3-3p1)", "(CONV1-2 | CONV3-3 | POOL3/1p1)", "(ID -> RELU + ID)",
          "([ID -> RELU6] + [BN -> RELU])", "(CONV1-2 + [CONV1-2 -> RELU])", "(ID .* [GAP -> DWCONV1 -> SIGMOID])",
          "([GAP -> HARDSIGMOID] .* [ID -> RELU])", "([CONV1-2 -> RELU] .* [CONV3-2 -> SIGMOID])", "(ID .* ID)",
          "DROPPATH(0.2)", "(ID + [CONV3-3p1 -> DROPPATH(0.1)])", "LAYERNORM", "LN(eps=1e-6)", "GROUPNORM(1)",
          "SCALE", "(ID + [DWCONV3 -> LN -> CONV1-4 -> GELU -> CONV1-3 -> SCALE])", "ADAPTIVEAVGPOOL3",
          "ADAPTIVEMAXPOOL2x3", "ADAPTIVEAVGPOOL1", "CROP3", "CROP(2x3) -> RELU", "([CROP2] | [POOL2 -> CONV1-2])",
          "CONV1-4 -> (ID || [CONV1-2 -> BN -> RELU]) -> SHUFFLE", "CONV1-6 -> SHUFFLE(3)", "UPSAMPLE(mode=bilinear)",
          "UPSAMPLE(size=9x7, mode=bilinear)", "{GAP -> FC-2}", "{CONV1-2 -> RELU}", "{POOL2 -> FLATTEN -> FC-3}",
          "LAYERNORM -> RELU", "(LAYERNORM + ID) -> RELU", "GAP -> GROUPNORM(2)", "FC-7", "FC-5 -> RELU"]
ENDS = ["", " -> FC-3", " -> GAP -> FC-4", " -> CONV1-5", " -> POOL2 -> FLATTEN -> FC-3"]
STARTS = ["CONV3-4 -> ", "", "BN -> "]
RANDOM_SETTINGS = [{}, {"batch": 3, "optimizer": "adam", "device": "cpu"}, {"batch": 2, "amp": "bfloat16"},
                   {"batch": 2, "optimizer": "momentum", "foreach": False}, {"accumulate": 2, "batch": 2},
                   {"batch": 4, "device": "cpu", "freeze": 2}, {"batch": 5, "budget": "64MiB"}]


def random_designs(n: int, seed: int) -> list[tuple[str, dict]]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        size = rng.randint(4, 12)
        channels = rng.randint(1, 4)
        body = " -> ".join(rng.choice(LAYERS) for _ in range(rng.randint(1, 6)))
        design = f"INPUT {size}x{size}x{channels} -> {rng.choice(STARTS)}{body}{rng.choice(ENDS)}"
        out.append((design, dict(rng.choice(RANDOM_SETTINGS))))
    return out


def corpus(n_random: int, seed: int) -> list[tuple[str, str, dict]]:
    """(what, design, settings): what is 'plan' (every output) or 'random' (plan and check only)."""
    sys.path.insert(0, str(ROOT))
    names = sorted(p.stem for p in (ROOT / "examples").glob("*.cnn"))
    tests = sorted(str(p) for p in (ROOT / "tests" / "designs").glob("*.cnn"))
    cases = [("plan", name, s) for name in names for s in SETTINGS]
    cases += [("plan", Path(t).read_text(), s) for t in tests for s in SETTINGS[:4]]
    # frozen rows and checkpointed segments (whole top-level items) on a few designs
    cases += [("plan", "resnet18", {"freeze": 10, "batch": 4, "device": "cpu", "optimizer": "adam"}),
              ("plan", "mobilenet_v2", {"freeze": 30, "batch": 2}),
              ("plan", "vgg16", {"checkpoint": ["1-4", "6-9"], "batch": 2, "device": "cpu"}),
              ("plan", "resnet18", {"checkpoint": ["5-12"], "batch": 3, "optimizer": "momentum"}),
              ("plan", "lenet5", {"checkpoint": ["1-3", "7-10"], "batch": 4, "device": "cpu"}),
              ("plan", "alexnet", {"checkpoint": ["14-19"], "batch": 2, "optimizer": "adam"}),
              ("plan", "INPUT 16x16x3 -> CONV3-8 -> CROP(12x12) -> POOL2 -> FLATTEN -> FC-10 -> RELU -> FC-5",
               {"checkpoint": ["3-4", "5-7"], "batch": 2, "device": "cpu"}),
              ("plan", "resnet50", {"budget": "24GiB", "optimizer": "adam", "max_input": True}),
              ("plan", "mobilenet_v3_large", {"budget": "1GiB", "budget_for": "inference", "device": "cpu"}),
              ("plan", "resnet50", {"budget": "8GiB", "batch": 32, "optimizer": "adam", "accumulate": 2})]
    cases += [("random", design, s) for design, s in random_designs(n_random, seed)]
    return cases


SWEEPS = [
    ("INPUT 32x32x3 -> [[CONV3-C -> RELU]*N -> POOL2]*3 -> FC-10",
     {"vary": {"N": range(1, 4), "C": range(8, 72, 8)}, "columns": None}),
    ("resnet18", {"vary": {"input": range(32, 256, 16)}, "columns": "params,macs,training_peak,fits,rf",
                  "batch": 4, "optimizer": "adam"}),
    ("INPUT 32x32x3 -> [CONV3-C -> BN -> RELU]*N -> (ID + [CONV3-C -> BN]) -> GAP -> FC-10",
     {"vary": {"C": range(4, 260, 4), "N": [1, 2]}, "columns": "params,macs,saved_bytes,training_peak,fits",
      "batch": 8}),
    ("INPUT 64x64x3 -> CONV3-16 -> [CONV3-W/2 -> RELU]*D -> GAP -> FC-10",
     {"vary": {"W": range(8, 129, 8), "D": [1, 2, 3], "batch": [1, 4]},
      "columns": "params,macs,forward_bytes,training_peak,inference_peak,cuda_total,fits,rf,rows",
      "budget": "1GiB"}),
]

COMPARES = [(["resnet18", "resnet34", "resnet50"], {"batch": 32, "optimizer": "adam", "budget": "24GiB"}),
            (["vgg16", "vgg16@input=160x160x3"], {"columns": "params,macs,training_peak"}),
            (["mobilenet_v2", "efficientnet_b0"], {"device": "cpu", "amp": "bfloat16"})]

RUNNER = r'''
import json, sys, warnings
warnings.simplefilter("ignore")
import cnncalc
from cnncalc.render import render
try:
    from cnncalc.render.svg import draw
except ImportError:
    from cnncalc.render.svg.draw import draw
from cnncalc.pytorch.export import export_design

cases, sweeps, compares = (json.load(open(path)) for path in sys.argv[1:4])
out = sys.argv[4]


def attempt(fn):
    try:
        return fn()
    except cnncalc.CnnCalcError as e:
        return {"error": str(e)}


with open(out, "w") as f:
    for what, design, settings in cases:
        result = {}
        def plan():
            report = cnncalc.plan(design, **settings)
            return report.model_dump(by_alias=True)
        data = result["plan"] = attempt(plan)
        check_settings = {k: v for k, v in settings.items() if k in ("input", "fit_rule")}
        result["check"] = attempt(lambda: cnncalc.check(design, **check_settings).model_dump(by_alias=True))
        if "error" not in data:
            fmts = ("table", "markdown", "csv", "html") if what == "plan" else ("table", "csv")
            for fmt in fmts:  # the version (in the HTML report's footer) differs by design
                result[fmt] = attempt(lambda: render(data, fmt, width=120, depth=None))
                if isinstance(result[fmt], str):
                    result[fmt] = result[fmt].replace(f"cnncalc {cnncalc.__version__}", "cnncalc VERSION")
            if what == "plan":
                result["md2"] = attempt(lambda: render(data, "markdown", depth=2))
                result["svg"] = attempt(lambda: draw(data).svg)
                result["svg_right"] = attempt(lambda: draw(data, depth=1, direction="right", emphasis="params").svg)
            text = cnncalc.zoo.path(design).read_text() if cnncalc.zoo.path(design) else design
            exp = {k: v for k, v in settings.items() if k in ("input",)}
            result["export"] = attempt(lambda: export_design(text, **exp))
        f.write(json.dumps([what, design, settings, result], sort_keys=True, default=str) + "\n")
    for design, spec in sweeps:
        spec = dict(spec)
        vary = {k: (range(*v) if isinstance(v, list) and len(v) == 3 and v[0] == "range" else v)
                for k, v in spec.pop("vary").items()}
        sweep = cnncalc.sweep(design, vary=vary, **spec)
        rows = list(sweep)
        f.write(json.dumps(["sweep", design, spec, {"rows": rows, "summary": sweep.summary}], sort_keys=True,
                           default=str) + "\n")
    for designs, spec in compares:
        c = cnncalc.compare(designs, **spec)
        f.write(json.dumps(["compare", designs, spec, c.data], sort_keys=True, default=str) + "\n")
'''


def _jsonable_sweeps() -> list:
    out = []
    for design, spec in SWEEPS:
        spec = dict(spec)
        spec["vary"] = {k: (["range", v.start, v.stop, v.step] if isinstance(v, range) else v)
                        for k, v in spec["vary"].items()}
        out.append((design, spec))
    return out


def run(checkout: Path, cases, folder: Path, tag: str) -> tuple[Path, float]:
    paths = [folder / f"{name}.json" for name in ("cases", "sweeps", "compares")]
    for path, data in zip(paths, (cases, _jsonable_sweeps(), COMPARES)):
        path.write_text(json.dumps(data, default=str))
    runner = RUNNER.replace('range(*v) if isinstance(v, list) and len(v) == 3 and v[0] == "range"',
                            'range(*v[1:]) if isinstance(v, list) and len(v) == 4 and v[0] == "range"')
    out = folder / f"{tag}.jsonl"
    env = {**os.environ, "PYTHONPATH": str(checkout), "COLUMNS": "120", "NO_COLOR": "1"}
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", runner, *map(str, paths), str(out)], check=True, env=env, cwd=folder)
    return out, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", type=Path, required=True, help="a checkout of the revision to compare with")
    parser.add_argument("--designs", type=int, default=600, help="random designs (each under one setting)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--show", type=int, default=10, help="differences to print")
    args = parser.parse_args()
    cases = corpus(args.designs, args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        new, t_new = run(ROOT, cases, folder, "new")
        old, t_old = run(args.baseline.resolve(), cases, folder, "old")
        differences = 0
        lines = 0
        added: set[str] = set()
        for a, b in zip(old.read_text().splitlines(), new.read_text().splitlines()):
            lines += 1
            if a == b or _only_added(json.loads(a)[3], json.loads(b)[3], "", added):
                continue
            differences += 1
            if differences <= args.show:
                what, design, settings, before = json.loads(a)
                after = json.loads(b)[3]
                keys = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
                print(f"DIFFERENT: {what} {str(design)[:70]!r} {settings}: {', '.join(keys)}")
                for key in keys[:3]:
                    path, x, y = _first_difference(before.get(key), after.get(key), key)
                    print(f"  {path}: before {_clip(x)}\n  {' ' * len(path)}  after  {_clip(y)}")
    if added:
        print(f"keys added (a contract may add keys): {', '.join(sorted(added))}")
    print(f"{lines} cases, {differences} different; this checkout {t_new:.1f} s, the baseline {t_old:.1f} s")
    sys.exit(1 if differences else 0)


def _only_added(a, b, path: str, added: set[str]) -> bool:
    """Is `b` `a` with keys added (and nothing else changed)? The added keys' paths go into `added`."""
    if isinstance(a, dict) and isinstance(b, dict):
        if not set(a) <= set(b):
            return False
        found = {f"{path}.{key}" for key in set(b) - set(a)}
        if all(_only_added(a[key], b[key], f"{path}.{key}", found) for key in a):
            added |= found
            return True
        return False
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return all(_only_added(x, y, f"{path}[]", added) for x, y in zip(a, b))
    return a == b


def _first_difference(a, b, path: str):
    """The first place two JSON values differ: (its path, the value before, after)."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                return _first_difference(a.get(key), b.get(key), f"{path}.{key}")
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            if x != y:
                return _first_difference(x, y, f"{path}[{i}]")
    if isinstance(a, str) and isinstance(b, str):
        lines = [(i, x, y) for i, (x, y) in enumerate(zip(a.splitlines(), b.splitlines())) if x != y]
        if lines:
            i, x, y = lines[0]
            return f"{path} line {i + 1}", x, y
    return path, a, b


def _clip(value) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) < 400 else text[:400] + "…"


if __name__ == "__main__":
    main()
