"""Write a design as standalone PyTorch source: `class Net(nn.Module)`, built with no arguments.

Generating the source needs no torch; running it needs only torch. `verify` executes this
same source, so what is verified is exactly what is exported.

Every row of cnncalc's table is one module of the generated network, in execution order:
branches are `Branches` modules (their arms run in order, then the merge), FC layers are
`Dense` (a Linear that flattens its input), locally connected layers are `Local2d`.
Volumes stay N x C x H x W throughout: an FC output is N x C x 1 x 1, cnncalc's 1x1xC.
"""

from __future__ import annotations

from .. import layers as L
from ..graph import Branch, LayerGraph
from ..metrics import shapes
from ..metrics.saved import runs_inplace
from ..metrics.shapes import Shape

_ACTIVATIONS = {
    "RELU": "nn.ReLU", "RELU6": "nn.ReLU6", "LEAKYRELU": "nn.LeakyReLU", "ELU": "nn.ELU", "GELU": "nn.GELU",
    "SILU": "nn.SiLU", "SIGMOID": "nn.Sigmoid", "TANH": "nn.Tanh", "HARDSWISH": "nn.Hardswish",
    "SOFTMAX": "nn.Softmax",
}

_HELPERS = {
    "Branches": '''
class Branches(nn.Module):
    """Arms over one input, concatenated on channels ("concat") or summed ("add")."""

    def __init__(self, mode: str, *arms: nn.Module) -> None:
        super().__init__()
        self.mode = mode
        self.arms = nn.ModuleList(arms)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs = [arm(x) for arm in self.arms]
        if self.mode == "concat":
            return torch.cat(outs, dim=1)
        out = outs[0]
        for other in outs[1:]:
            out = out + other
        return out
''',
    "Dense": '''
class Dense(nn.Linear):
    """A fully connected layer on the flattened input; the output stays N x C x 1 x 1."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(torch.flatten(x, 1))[:, :, None, None]
''',
    "Flat": '''
class Flat(nn.Module):
    """Flatten to N x (C*H*W) x 1 x 1: volumes stay four-dimensional."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(x, 1)[:, :, None, None]
''',
    "Local2d": '''
class Local2d(nn.Module):
    """Locally connected: a convolution whose weights differ at every output position."""

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation, out_size, bias=True):
        super().__init__()
        self.kernel_size, self.stride, self.padding, self.dilation = kernel_size, stride, padding, dilation
        positions = out_size[0] * out_size[1]
        taps = in_channels * kernel_size[0] * kernel_size[1]
        self.out_size = out_size
        self.weight = nn.Parameter(torch.randn(positions, taps, out_channels) * taps ** -0.5)
        self.bias = nn.Parameter(torch.zeros(out_channels, *out_size)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cols = nn.functional.unfold(x, self.kernel_size, self.dilation, self.padding, self.stride)
        out = torch.einsum("ntl,lto->nol", cols, self.weight).reshape(x.shape[0], -1, *self.out_size)
        return out if self.bias is None else out + self.bias
''',
}


class _Writer:
    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.helpers: set[str] = set()

    def name(self, base: str) -> str:
        self.counts[base] = self.counts.get(base, 0) + 1
        return f"{base}{self.counts[base]}"

    def sequence(self, items: list, x: Shape, indent: int, first_in_arm: bool) -> tuple[list[str], Shape]:
        """Lines of an nn.Sequential(OrderedDict) body, and the output shape."""
        pad = " " * indent
        lines = []
        for i, item in enumerate(items):
            if isinstance(item, Branch):
                self.helpers.add("Branches")
                name = self.name(item.mode)
                arms_src = []
                outs = []
                for arm in item.arms:
                    body, y = self.sequence(arm, x, indent + 8, first_in_arm=True)
                    outs.append(y)
                    arms_src.append(f"{pad}    nn.Sequential(OrderedDict([\n" + "\n".join(body)
                                    + f"\n{pad}    ])),")
                y = shapes.merge(item.mode, outs, ["" for _ in outs], item.span)
                lines.append(f'{pad}("{name}", Branches("{item.mode}",\n' + "\n".join(arms_src) + f"\n{pad})),")
            else:
                y, _ = shapes.output(item, x)
                name, code = self.module(item, x, y, runs_inplace(item, first_in_arm and i == 0))
                lines.append(f'{pad}("{name}", {code}),')
            x = y
        return lines, x

    def module(self, layer: L._Layer, x: Shape, y: Shape, inplace: bool) -> tuple[str, str]:
        match layer.kind:
            case "conv" | "dwconv":
                groups = x.c if layer.kind == "dwconv" else layer.groups
                return self.name("conv"), (
                    f"nn.Conv2d({x.c}, {y.c}, kernel_size={layer.kernel}, stride={layer.stride}, "
                    f"padding={layer.pad}, dilation={layer.dilation}, groups={groups}, bias={layer.bias})")
            case "deconv":
                return self.name("deconv"), (
                    f"nn.ConvTranspose2d({x.c}, {y.c}, kernel_size={layer.kernel}, stride={layer.stride}, "
                    f"padding={layer.pad}, output_padding={layer.output_padding}, groups={layer.groups}, "
                    f"bias={layer.bias}, dilation={layer.dilation})")
            case "local":
                self.helpers.add("Local2d")
                return self.name("local"), (
                    f"Local2d({x.c}, {y.c}, kernel_size={layer.kernel}, stride={layer.stride}, padding={layer.pad}, "
                    f"dilation={layer.dilation}, out_size={(y.h, y.w)}, bias={layer.bias})")
            case "pool":
                if layer.type == "max":
                    return self.name("pool"), (
                        f"nn.MaxPool2d(kernel_size={layer.kernel}, stride={layer.stride}, padding={layer.pad}, "
                        f"dilation={layer.dilation}, ceil_mode={layer.ceil})")
                return self.name("avgpool"), (
                    f"nn.AvgPool2d(kernel_size={layer.kernel}, stride={layer.stride}, padding={layer.pad}, "
                    f"ceil_mode={layer.ceil})")
            case "gap":
                cls = "nn.AdaptiveMaxPool2d" if layer.type == "max" else "nn.AdaptiveAvgPool2d"
                return self.name("gap" if layer.type == "avg" else "gmp"), f"{cls}(1)"
            case "fc":
                self.helpers.add("Dense")
                return self.name("fc"), f"Dense({x.h * x.w * x.c}, {layer.out}, bias={layer.bias})"
            case "flatten":
                self.helpers.add("Flat")
                return self.name("flatten"), "Flat()"
            case "bn":
                return self.name("bn"), f"nn.BatchNorm2d({x.c})"
            case "act":
                cls = _ACTIVATIONS[layer.word]
                args = []
                if layer.slope is not None:
                    args.append(f"{layer.slope!r}")
                if layer.word == "SOFTMAX":
                    args.append("dim=1")
                if inplace:
                    args.append("inplace=True")
                return self.name(layer.word.lower()), f"{cls}({', '.join(args)})"
            case "dropout":
                return self.name("dropout"), f"nn.Dropout(p={layer.p!r})"
            case "lrn":
                return self.name("lrn"), f"nn.LocalResponseNorm({layer.size})"
            case "upsample":
                return self.name("upsample"), f"nn.Upsample(scale_factor={layer.scale}, mode=\"nearest\")"
            case "id":
                return self.name("id"), "nn.Identity()"
        raise AssertionError(layer.kind)


def export_source(graph: LayerGraph, title: str = "") -> str:
    """Standalone PyTorch source for the design's network."""
    inp = graph.input
    writer = _Writer()
    body, out = writer.sequence(graph.items, Shape(inp.h, inp.w, inp.c), indent=12, first_in_arm=False)
    helpers = "".join(_HELPERS[h] + "\n" for h in ("Branches", "Dense", "Flat", "Local2d") if h in writer.helpers)
    doc = f"{title}\n\n" if title else ""
    layers = ("\n" + "\n".join(body) + "\n        ") if body else ""
    return f'''"""{doc}Generated by cnncalc: input {inp.h}x{inp.w}x{inp.c} (N x {inp.c} x {inp.h} x {inp.w}), output {out.h}x{out.w}x{out.c}
(N x {out.c} x {out.h} x {out.w}; volumes stay four-dimensional, so an FC output is N x C x 1 x 1).
Needs only torch: `from model import Net; Net()(torch.zeros(1, {inp.c}, {inp.h}, {inp.w}))`.
"""

from collections import OrderedDict

import torch
from torch import nn

INPUT_SHAPE = ({inp.c}, {inp.h}, {inp.w})  # channels, height, width
OUTPUT_SHAPE = ({out.c}, {out.h}, {out.w})

{helpers}
class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.Sequential(OrderedDict([{layers}]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)
'''


def export_design(text: str, *, label: str = "", **settings) -> str:
    """Parse a design and return its standalone PyTorch source. Settings: defines, input, optional,
    max_layers, as for cnncalc.plan."""
    from ..planner import design_graph

    graph = design_graph(text, label=label, **settings)
    title = label or " ".join(text.split())[:100]
    return export_source(graph, title.replace('"""', "'''").replace("\\", "/"))
