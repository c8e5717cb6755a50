"""The built-in designs against torchvision's own models: an oracle, not a test.

It needs torchvision, which nothing else in cnncalc does, so it runs in an environment of its own
(a CUDA build is fine: everything runs on the CPU):

    python3.11 -m venv /tmp/tv/venv
    /tmp/tv/venv/bin/pip install torch==2.14.1 torchvision==0.29.1 'typer>=0.28,<0.29' rich pydantic
    PYTHONPATH=. /tmp/tv/venv/bin/python benchmarks/torchvision_check.py fixture   # rewrites the fixture
    PYTHONPATH=. /tmp/tv/venv/bin/python benchmarks/torchvision_check.py compare   # zoo designs vs torchvision
    PYTHONPATH=. /tmp/tv/venv/bin/python benchmarks/torchvision_check.py compare resnet50 googlenet
    PYTHONPATH=. /tmp/tv/venv/bin/python benchmarks/torchvision_check.py compare efficientnet_b0 --file new.cnn

`fixture` builds every model of DESIGNS (cnncalc not needed: it covers designs the zoo does not
have yet), runs one image through it in eval mode and records, with a forward hook on every leaf
module and on every module that owns parameters directly (ConvNeXt's CNBlock and its
`layer_scale`), in execution order: the module's qualified name, type, output shape, its own
params, buffers (without `num_batches_tracked`) and, for Conv2d and Linear, MACs per image (a
convolution out_h*out_w*out_c*(in_c/groups)*kh*kw, a Linear in*out at every position it is
applied to), plus the model's totals. It writes tests/fixtures/torchvision_modules.json, which
tests/test_torchvision_fixture.py compares cnncalc's rows with, without torchvision. An auxiliary
head that only runs in training (inception_v3_aux's AuxLogits) is run where training runs it
(right after Mixed_6e) on Mixed_6e's output, its modules marked `"aux": true`.

`compare` exports each design that is in cnncalc's zoo (cnncalc.pytorch.export.export_design),
builds its `Net` and torchvision's model, randomises torchvision's BN/LayerNorm affine parameters,
running statistics, biases and layer scales (so that none is the identity a mix-up could hide
behind), copies every parameter and buffer of torchvision's model into `Net`, and runs the same
random batch of 2 through both in eval mode (one standard normal image and one 10 times as large,
so that clipping activations clip).

How the tensors are matched: by execution order. The modules that own tensors are listed in the
order a forward pass calls them (forward hooks, on both networks), and their tensors (parameters,
then buffers, each in registration order; `num_batches_tracked` left out) are paired one to one by
position. Registration (state_dict) order is the same for 17 of the 18 models, but not robust:
ConvNeXt's state_dict lists each CNBlock's `layer_scale` before the block's convolution (a
module's own tensors come before its children's) though it is applied after the second Linear;
cnncalc's exported `Net` registers its modules in row order, its execution order. The
`registration` column says whether torchvision's state_dict order is its execution order. Each
pair must have the same shape, up to dimensions of size 1 (a Linear applied to every position is
a 1x1 convolution, ConvNeXt's layer scale of C x 1 x 1 a vector of C); the first pair that differs
is reported with both names and the copy stops there.

Verdict: "equal" when max |y_torchvision - y_cnncalc| <= 1e-5 * max |y_torchvision| and every pair
of matched modules has the same settings (a convolution's kernel, stride, padding, dilation, groups
and bias; BN's eps and momentum; LayerNorm's eps; a Linear's bias): momentum changes no output in
eval mode, so only this sees it, and a wrong eps is named where it is), and the same activation
modules (type and settings) and dropouts run in the same order (where torchvision's activations
are modules: GoogLeNet's and Inception's are F.relu) — RELU for RELU6 can leave the outputs equal
when no value reaches 6. Both networks
run the same float32 kernels on the same inputs, so an equal design differs by rounding only (0 or
a few ulps: the order of a sum, mean() against AdaptiveAvgPool2d), about 1e-7 of the output's
scale; a wrong BN eps (1e-3 against 1e-5), a missing bias, a swapped activation or a transposed
branch shows at 1e-3 or more.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "torchvision_modules.json"
COMMAND = "PYTHONPATH=. python benchmarks/torchvision_check.py fixture  (torch==2.14.1, torchvision==0.29.1)"

NO_INIT = {"init_weights": False, "transform_input": False}
DESIGNS = {  # cnncalc design (NAME@HxW: the design at another input): torchvision constructor, kwargs, HxWxC
    "alexnet": ("alexnet", {}, (224, 224, 3)),
    "vgg11": ("vgg11", {}, (224, 224, 3)),
    "vgg16": ("vgg16", {}, (224, 224, 3)),
    "vgg19": ("vgg19", {}, (224, 224, 3)),
    "vgg16_bn": ("vgg16_bn", {}, (224, 224, 3)),
    "resnet18": ("resnet18", {}, (224, 224, 3)),
    "resnet34": ("resnet34", {}, (224, 224, 3)),
    "resnet50": ("resnet50", {}, (224, 224, 3)),
    "googlenet": ("googlenet", {"aux_logits": False, **NO_INIT}, (224, 224, 3)),
    "mobilenet_v2": ("mobilenet_v2", {}, (224, 224, 3)),
    "squeezenet1_0": ("squeezenet1_0", {}, (224, 224, 3)),
    "densenet121": ("densenet121", {}, (224, 224, 3)),
    # to come to the zoo
    "efficientnet_b0": ("efficientnet_b0", {}, (224, 224, 3)),
    "mobilenet_v3_large": ("mobilenet_v3_large", {}, (224, 224, 3)),
    "regnet_y_400mf": ("regnet_y_400mf", {}, (224, 224, 3)),
    "shufflenet_v2_x1_0": ("shufflenet_v2_x1_0", {}, (224, 224, 3)),
    "convnext_tiny": ("convnext_tiny", {}, (224, 224, 3)),
    "inception_v3": ("inception_v3", {"aux_logits": False, **NO_INIT}, (299, 299, 3)),
    "inception_v3_aux": ("inception_v3", {"aux_logits": True, **NO_INIT}, (299, 299, 3)),
    # another input: torchvision's AdaptiveAvgPool2d((7, 7)) / ((6, 6)) keeps the classifier's params
    "alexnet@320": ("alexnet", {}, (320, 320, 3)),
    "vgg11@320": ("vgg11", {}, (320, 320, 3)),
    "vgg16@320": ("vgg16", {}, (320, 320, 3)),
    "vgg19@320": ("vgg19", {}, (320, 320, 3)),
    "vgg16_bn@320": ("vgg16_bn", {}, (320, 320, 3)),
}
# activations torchvision runs as functions at the end of forward, with no module to compare: design -> how many
FUNCTIONAL_TAIL = {"densenet121": 1}
# heads that run only in training: design -> (the module after which training runs it, the head)
AUX = {"inception_v3_aux": ("Mixed_6e", "AuxLogits")}
# published totals (torchvision's num_params; buffers without num_batches_tracked; MACs of Conv2d
# and Linear per image), checked by `fixture`
PUBLISHED = {
    "efficientnet_b0": (5_288_548, 42_016, 385_814_752),
    "mobilenet_v3_large": (5_483_032, 24_400, 216_589_760),
    "regnet_y_400mf": (4_344_144, 27_152, 401_842_848),
    "shufflenet_v2_x1_0": (2_278_604, 16_180, 144_907_992),
    "convnext_tiny": (28_589_128, 0, 4_455_531_264),
    "inception_v3": (23_834_568, 34_432, 5_713_216_096),
    "inception_v3_aux": (27_161_264, None, None),
    "densenet121": (7_978_856, None, None),
}
TOLERANCE = 1e-5  # of max |y|; see the docstring
INPUT_SCALE = 10.0  # the compare batch: one standard normal image, one 10 times as large
# the VGG and AlexNet designs add torchvision's AdaptiveAvgPool2d with -D torchvision=1 (left out by
# default: the identity at 224x224): the torchvision form is the one compared
TORCHVISION_FORM = re.compile(r"^torchvision = 0", re.M)


def split(design: str) -> tuple[str, str | None]:
    """'vgg16@320' -> ('vgg16', '320x320x3'); 'vgg16' -> ('vgg16', None)."""
    name, _, size = design.partition("@")
    if not size:
        return name, None
    h, w, c = DESIGNS[design][2]
    return name, f"{h}x{w}x{c}"


def build(design: str):
    import torch
    import torchvision

    constructor, kwargs, _ = DESIGNS[design]
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = getattr(torchvision.models, constructor)(weights=None, **kwargs)
    return model.eval()


def own_tensors(module) -> list[tuple[str, object]]:
    """A module's own parameters, then its buffers, in registration order; num_batches_tracked and
    None left out."""
    out = [(n, p) for n, p in module._parameters.items() if p is not None]
    return out + [(n, b) for n, b in module._buffers.items() if b is not None and n != "num_batches_tracked"]


def args_of(module) -> dict:
    """The constructor settings worth knowing, short."""
    t = type(module).__name__
    if t in ("Conv2d", "ConvTranspose2d"):
        return {"k": list(module.kernel_size), "s": list(module.stride), "p": list(module.padding),
                "d": list(module.dilation), "g": module.groups, "bias": module.bias is not None}
    if t == "Linear":
        return {"bias": module.bias is not None}
    if t.startswith("BatchNorm"):
        return {"eps": module.eps, "momentum": module.momentum}
    if t in ("LayerNorm", "LayerNorm2d"):
        return {"eps": module.eps, "shape": list(module.normalized_shape)}
    if t in ("MaxPool2d", "AvgPool2d"):
        k = module.kernel_size
        s = module.stride
        p = module.padding
        return {"k": k, "s": s, "p": p, "ceil": module.ceil_mode}
    if t in ("AdaptiveAvgPool2d", "AdaptiveMaxPool2d"):
        return {"out": module.output_size}
    if t in ("Dropout", "StochasticDepth"):
        return {"p": module.p, **({"mode": module.mode} if t == "StochasticDepth" else {})}
    if t == "Permute":
        return {"dims": list(module.dims)}
    if t == "LocalResponseNorm":
        return {"size": module.size}
    return {}


class Recorder:
    """Forward hooks on every leaf module and every module with tensors of its own; `calls` lists,
    in execution order, (qualified name, module, output, layout, aux)."""

    def __init__(self, model, aux: tuple[str, str] | None = None) -> None:
        self.calls: list[tuple] = []
        self.in_aux = False
        self.nhwc: dict[int, object] = {}  # id -> output laid out N x H x W x C (ConvNeXt's blocks), held
        self.handles = []
        for name, m in model.named_modules():
            if name and (not list(m.children()) or own_tensors(m)):
                self.handles.append(m.register_forward_hook(self.hook(name)))
        if aux:
            after, head = aux
            run_head = self.aux_hook(model.get_submodule(head))
            self.handles.append(model.get_submodule(after).register_forward_hook(run_head))

    def hook(self, name):
        def record(module, inputs, output) -> None:
            import torch
            from torch import nn

            t = type(module)
            if t.__name__ == "Permute":
                nhwc = list(module.dims) == [0, 2, 3, 1]
            elif t in (nn.Linear, nn.LayerNorm):  # exactly: LayerNorm2d is channels-first
                nhwc = output.dim() == 4
            else:
                nhwc = (output.dim() == 4 and bool(inputs) and isinstance(inputs[0], torch.Tensor)
                        and self.nhwc.get(id(inputs[0])) is inputs[0])
            if nhwc:
                self.nhwc[id(output)] = output
            self.calls.append((name, module, output, nhwc, self.in_aux))
        return record

    def aux_hook(self, head):
        def run(module, inputs, output) -> None:
            self.in_aux = True
            try:
                head(output)
            finally:
                self.in_aux = False
        return run

    def remove(self) -> None:
        for h in self.handles:
            h.remove()


def hwc(shape: list[int], nhwc: bool) -> list[int]:
    if len(shape) == 4:
        return [shape[1], shape[2], shape[3]] if nhwc else [shape[2], shape[3], shape[1]]
    if len(shape) == 2:
        return [1, 1, shape[1]]
    return []


def macs_of(module, output) -> int:
    from torch import nn

    per_image = output.numel() // output.shape[0]
    if isinstance(module, nn.Conv2d):
        kh, kw = module.kernel_size
        return per_image * (module.in_channels // module.groups) * kh * kw
    if isinstance(module, nn.Linear):
        return per_image * module.in_features  # out_features at every position, in_features each
    return 0


def record_design(design: str) -> dict:
    import torch

    model = build(design)
    h, w, c = DESIGNS[design][2]
    rec = Recorder(model, AUX.get(design))
    with torch.no_grad():
        model(torch.randn(1, c, h, w))
    rec.remove()
    modules = []
    for name, m, out, nhwc, aux in rec.calls:
        shape = list(out.shape)
        entry = {"name": name, "type": type(m).__name__, "shape": shape, "hwc": hwc(shape, nhwc),
                 "params": sum(p.numel() for _, p in own_tensors(m) if isinstance(p, torch.nn.Parameter)),
                 "buffers": sum(b.numel() for _, b in own_tensors(m) if not isinstance(b, torch.nn.Parameter)),
                 "macs": macs_of(m, out)}
        if nhwc:
            entry["layout"] = "nhwc"
        if aux:
            entry["aux"] = True
        args = args_of(m)
        if args:
            entry["args"] = args
        modules.append(entry)
    totals = {"params": sum(p.numel() for p in model.parameters()),
              "buffers": sum(b.numel() for n, b in model.named_buffers() if not n.endswith("num_batches_tracked")),
              "macs": sum(e["macs"] for e in modules)}
    if any(e.get("aux") for e in modules):
        totals["macs_without_aux"] = sum(e["macs"] for e in modules if not e.get("aux"))
    recorded = (sum(e["params"] for e in modules), sum(e["buffers"] for e in modules))
    if recorded != (totals["params"], totals["buffers"]):  # a module ran twice, or never
        raise SystemExit(f"{design}: the recorded modules hold {recorded}, the model "
                         f"{totals['params'], totals['buffers']}")
    constructor, kwargs, size = DESIGNS[design]
    return {"constructor": constructor, "kwargs": kwargs, "input": list(size), "totals": totals, "modules": modules}


def write_fixture(data: dict) -> None:
    """One line per module: compact, and a change shows as a changed line."""
    head = {k: v for k, v in data.items() if k != "designs"}
    lines = ["{"]
    for k, v in head.items():
        lines.append(f"  {json.dumps(k)}: {json.dumps(v)},")
    lines.append('  "designs": {')
    names = list(data["designs"])
    for i, name in enumerate(names):
        d = data["designs"][name]
        lines.append(f"    {json.dumps(name)}: {{")
        for k in ("constructor", "kwargs", "input", "totals"):
            lines.append(f"      {json.dumps(k)}: {json.dumps(d[k])},")
        lines.append('      "modules": [')
        mods = d["modules"]
        lines.extend(f"        {json.dumps(m)}{',' if j < len(mods) - 1 else ''}" for j, m in enumerate(mods))
        lines.append("      ]")
        lines.append("    }" + ("," if i < len(names) - 1 else ""))
    lines.append("  }")
    lines.append("}")
    text = "\n".join(lines) + "\n"
    json.loads(text)  # well formed
    FIXTURE.write_text(text)


def fixture(names: list[str]) -> None:
    import torch
    import torchvision

    torch.set_grad_enabled(False)
    data = {"generated_by": COMMAND, "torch": torch.__version__, "torchvision": torchvision.__version__,
            "about": "torchvision's models, one image in eval mode: every leaf module (and every module owning "
                     "tensors) in execution order; shape is the output's (batch first), hwc the same as "
                     "cnncalc's HxWxC; params and buffers the module's own (no num_batches_tracked); macs per "
                     "image for Conv2d and Linear; aux: a training-only head, run where training runs it",
            "designs": {}}
    if FIXTURE.exists() and set(names) != set(DESIGNS):
        data["designs"] = json.loads(FIXTURE.read_text())["designs"]
    print(f"{'design':<22} {'params':>14} {'buffers':>9} {'MACs':>16} {'modules':>7}   published")
    for name in names:
        t0 = time.perf_counter()
        d = record_design(name)
        data["designs"][name] = d
        t = d["totals"]
        check = ""
        if name in PUBLISHED:
            got = (t["params"], t["buffers"], t.get("macs_without_aux", t["macs"]))
            want = PUBLISHED[name]
            check = "ok" if all(w is None or g == w for g, w in zip(got, want)) else f"DIFFERS: {want}"
        print(f"{name:<22} {t['params']:>14,} {t['buffers']:>9,} {t['macs']:>16,} {len(d['modules']):>7}   {check}"
              f"  ({time.perf_counter() - t0:.1f} s)")
    data["designs"] = {k: data["designs"][k] for k in DESIGNS if k in data["designs"]}
    write_fixture(data)
    print(f"wrote {FIXTURE.relative_to(ROOT)}")


def run_recorded(model, x, aux=None) -> tuple[list[tuple], object]:
    """The Recorder's calls for one forward pass of x, and the output."""
    import torch

    rec = Recorder(model, aux)
    with torch.no_grad():
        y = model(x)
    rec.remove()
    return rec.calls, y


def owners(model, calls) -> list[tuple[str, object]]:
    """[(qualified name, module)] of the modules owning tensors, in the order they first ran."""
    names = {m: n for n, m in model.named_modules()}
    seen, out = set(), []
    for _, m, *_ in calls:
        if m not in seen and own_tensors(m):
            seen.add(m)
            out.append((names[m], m))
    return out


ACTIVATIONS = ("ReLU", "ReLU6", "SiLU", "GELU", "Sigmoid", "Hardswish", "Hardsigmoid", "Tanh", "ELU", "LeakyReLU",
               "Softmax")


def signature(module) -> str:
    """An activation or dropout module as it computes: its type and settings, in place or not."""
    extra = ", ".join(a for a in module.extra_repr().split(", ") if not a.startswith("inplace"))
    return f"{type(module).__name__}({extra})"


def nonlinear_sequence(calls, kinds: tuple[str, ...]) -> list[tuple[str, str]]:
    """[(qualified name, signature)] of the activation (or dropout) modules in execution order."""
    return [(name, signature(m)) for name, m, *_ in calls if type(m).__name__ in kinds]


def entry(seq: list[tuple[str, str]], i: int) -> str:
    return f"{seq[i][0]} {seq[i][1]}" if i < len(seq) else f"nothing (it runs {len(seq)})"


def settings_of(module) -> dict:
    """What a module computes with beyond its tensors' shapes: a convolution's window and groups, a
    norm's eps (and BN's momentum, which only training reads), whether a Linear has a bias."""
    from torch import nn

    pointwise = {"bias": module.bias is not None, "pointwise": True} if isinstance(module, (nn.Conv2d, nn.Linear)) \
        else None
    if isinstance(module, nn.Conv2d):
        window = args_of(module)
        # a 1x1 convolution (stride 1, no padding, one group) computes what a Linear at every position does
        if (tuple(module.kernel_size), tuple(module.stride), tuple(module.padding), module.groups) == \
                ((1, 1), (1, 1), (0, 0), 1):
            return pointwise
        return window
    if isinstance(module, nn.Linear):
        return pointwise
    if isinstance(module, nn.modules.batchnorm._BatchNorm):
        return {"eps": module.eps, "momentum": module.momentum}
    if isinstance(module, nn.LayerNorm):
        return {"eps": module.eps}
    return {}


def randomise(model) -> None:
    """BN and LayerNorm scales and shifts, running statistics, every bias and layer scale: random,
    so that no layer is the identity (or a zero bias) that a mix-up could hide behind."""
    import torch

    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, t in list(model.named_parameters()) + list(model.named_buffers()):
            if not t.is_floating_point():
                continue
            last = name.rsplit(".", 1)[-1]
            if last == "running_var":
                t.copy_(torch.rand(t.shape, generator=g) + 0.5)
            elif last in ("running_mean", "bias"):
                t.copy_((torch.rand(t.shape, generator=g) - 0.5) * 0.4)
            elif t.numel() == t.shape[0]:  # a vector (C, or C x 1 x 1): a norm's weight, a layer scale
                t.copy_(torch.rand(t.shape, generator=g) + 0.5)


def squeezed(shape) -> tuple[int, ...]:
    return tuple(d for d in shape if d != 1)


def compare_design(design: str, text: str | None = None) -> dict:
    """One design against its torchvision model; `text`: another design text in place of the zoo's."""
    import torch

    from cnncalc import zoo
    from cnncalc.pytorch.export import export_design

    name, size = split(design)
    row = {"design": design, "tensors": "", "diff": "", "verdict": ""}
    text = text if text is not None else zoo.path(name).read_text()
    settings = {"input": size} if size else {}
    if TORCHVISION_FORM.search(text):
        settings["defines"] = ["torchvision=1"]
    source = export_design(text, label=name, **settings)
    space: dict = {}
    exec(compile(source, f"<cnncalc export {design}>", "exec"), space)
    torch.manual_seed(0)
    net = space["Net"]().eval()
    for module in net.modules():  # a side head (the auxiliary classifier) runs in evaluation mode too, here
        if type(module).__name__ == "Side":
            module.always = True
    tv = build(design)
    randomise(tv)
    h, w, c = DESIGNS[design][2]
    x = torch.randn(2, c, h, w, generator=torch.Generator().manual_seed(0))
    x[1] *= INPUT_SCALE  # the second image large enough that RELU6's clip, HARDSWISH's corners matter
    tv_calls, y_tv = run_recorded(tv, x.clone(), AUX.get(design))
    net_calls, _ = run_recorded(net, x.clone())
    tv_owners, net_owners = owners(tv, tv_calls), owners(net, net_calls)
    theirs = [(f"{n}.{t}", v) for n, m in tv_owners for t, v in own_tensors(m)]
    ours = [(f"{n}.{t}", v) for n, m in net_owners for t, v in own_tensors(m)]
    registered = [id(t) for _, t in theirs] == [id(t) for n, t in tv.state_dict(keep_vars=True).items()
                                                if not n.endswith("num_batches_tracked")]
    row["order"] = "same" if registered else "differs"
    reshaped = 0
    for i, ((tn, t), (on, o)) in enumerate(zip(theirs, ours)):
        if t.shape != o.shape:
            if squeezed(t.shape) != squeezed(o.shape):
                row["tensors"] = f"{i}/{len(theirs)}"
                row["verdict"] = (f"DIFFERS at tensor {i}: torchvision {tn} {tuple(t.shape)}, "
                                  f"cnncalc {on} {tuple(o.shape)}")
                return row
            reshaped += 1
        with torch.no_grad():
            o.copy_(t.reshape(o.shape))
    if len(theirs) != len(ours):
        row["tensors"] = f"{min(len(theirs), len(ours))}/{len(theirs)}"
        extra = theirs[len(ours)][0] if len(theirs) > len(ours) else ours[len(theirs)][0]
        row["verdict"] = (f"DIFFERS: torchvision has {len(theirs)} tensors, cnncalc {len(ours)} "
                          f"(first unmatched: {extra})")
        return row
    with torch.no_grad():
        y_ours = net(x.clone())
    row["tensors"] = f"{len(theirs)}" + (f" ({reshaped} reshaped)" if reshaped else "")
    if tuple(y_ours.shape) != tuple(y_tv.shape):
        row["verdict"] = f"DIFFERS: output {tuple(y_ours.shape)}, torchvision {tuple(y_tv.shape)}"
        return row
    diff = (y_ours - y_tv).abs().max().item()
    scale = y_tv.abs().max().item()
    row["diff"] = f"{diff:.2e} ({diff / scale:.1e} of {scale:.3g})"
    row["verdict"] = "equal" if diff <= TOLERANCE * scale else "DIFFERS: outputs"
    # the paired modules' settings (BN's momentum changes no output in eval mode: only this sees it)
    for (tn, tm), (on, om) in zip(tv_owners, net_owners):
        a, b = settings_of(tm), settings_of(om)
        if a != b:
            keys = [k for k in a.keys() | b.keys() if a.get(k) != b.get(k)]
            row["verdict"] = ("DIFFERS" if row["verdict"] == "equal" else row["verdict"]) + (
                f"; first setting that differs: torchvision {tn} " + ", ".join(f"{k}={a.get(k)}" for k in keys)
                + f", cnncalc {on} " + ", ".join(f"{k}={b.get(k)}" for k in keys))
            break
    # activations and dropouts, in execution order (GoogLeNet and Inception call F.relu: no module; DenseNet
    # its last ReLU)
    for kinds in (ACTIVATIONS, ("Dropout",)):
        a, b = nonlinear_sequence(tv_calls, kinds), nonlinear_sequence(net_calls, kinds)
        if kinds is ACTIVATIONS:
            b = b[:len(b) - FUNCTIONAL_TAIL.get(design, 0)]
        if a and [x for _, x in a] != [x for _, x in b]:
            i = next((i for i, (p, q) in enumerate(zip(a, b)) if p[1] != q[1]), min(len(a), len(b)))
            row["verdict"] = ("DIFFERS" if row["verdict"] == "equal" else row["verdict"]) + (
                f"; {kinds[0] if len(kinds) == 1 else 'activation'} {i + 1}: torchvision {entry(a, i)}, "
                f"cnncalc {entry(b, i)}")
            break
    return row


def compare(names: list[str], file: str | None = None) -> int:
    import torch

    from cnncalc import zoo

    print(f"tolerance: max |difference| <= {TOLERANCE:g} of max |torchvision's output|; batch 2, seed 0; "
          f"torch {torch.__version__}")
    print(f"{'design':<19} {'tensors copied':<16} {'registration':<13} {'max abs diff (of max |y|)':<32} verdict")
    failed = 0
    for design in names:
        name, _ = split(design)
        if file is None and name not in zoo.names():
            print(f"{design:<19} {'-':<16} {'-':<13} {'-':<32} skipped: not in the zoo yet")
            continue
        t0 = time.perf_counter()
        row = compare_design(design, Path(file).read_text() if file else None)
        failed += row["verdict"] != "equal"
        print(f"{design:<19} {row['tensors']:<16} {row.get('order', '-'):<13} {row['diff']:<32} {row['verdict']}"
              f"  ({time.perf_counter() - t0:.1f} s)", flush=True)
    return 1 if failed else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=("fixture", "compare"))
    parser.add_argument("designs", nargs="*", help=f"default: all of {', '.join(DESIGNS)}")
    parser.add_argument("--file", help="compare: this design file in place of the zoo's (one design only)")
    args = parser.parse_args()
    if args.file and (args.mode != "compare" or len(args.designs) != 1):
        parser.error("--file takes compare and one design")
    unknown = [d for d in args.designs if d not in DESIGNS]
    if unknown:
        parser.error(f"unknown design(s): {', '.join(unknown)}")
    names = args.designs or list(DESIGNS)
    if args.mode == "fixture":
        fixture(names)
    else:
        sys.exit(compare(names, args.file))


if __name__ == "__main__":
    main()
