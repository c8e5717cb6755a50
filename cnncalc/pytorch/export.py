"""Write a design as standalone PyTorch source: `class Net(nn.Module)`, built with no arguments.

Generating the source needs no torch; running it needs only torch. `verify` executes this
same source, so what is verified is exactly what is exported.

Every row of cnncalc's table is one module of the generated network, in execution order:
branches are `Branches` modules (their arms run in order, then the merge), FC layers are
`Dense` (a Linear that flattens its input), locally connected layers are `Local2d`.
Between the modules volumes stay N x C x H x W: an FC output is N x C x 1 x 1, cnncalc's 1x1xC.
What `Net` returns is the last volume, except for a design that ends in a vector (`returns_vector`:
FC, GAP/GMP or FLATTEN, then only layers that keep the volume): its forward flattens that to
N x C, logits ready for `cross_entropy` with N integer targets, and `OUTPUT_SHAPE` is `(C,)`.
"""

from __future__ import annotations

from ..layers import Activation, Branch, LayerGraph, Volume
from ..metrics import shapes
from ..metrics import UNSUPPORTED
from ..metrics.params import PARAMS
from ..metrics.saved import Flow, apply, runs_inplace

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
    "Product": '''
class Product(nn.Module):
    """Two arms over one input, multiplied element-wise; a 1 x 1 arm broadcasts over the other's
    height and width (a squeeze-and-excitation gate)."""

    def __init__(self, *arms: nn.Module) -> None:
        super().__init__()
        self.arms = nn.ModuleList(arms)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.arms[0](x) * self.arms[1](x)
''',
    "Side": '''
class Side(nn.Module):
    """A side head (an auxiliary classifier): in training its output is one more output of the
    network (Net.forward returns it after the main one); what follows reads the input unchanged."""

    def __init__(self, head: nn.Module) -> None:
        super().__init__()
        self.arms = nn.ModuleList([head])
        self.out = None
        self.always = False  # run in evaluation mode too (cnncalc verify checks its shapes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.out = self.arms[0](x) if self.training or self.always else None
        return x

    def pop(self) -> torch.Tensor:
        out, self.out = self.out, None
        return out
''',
    "Split": '''
class Split(nn.Module):
    """A channel split (ShuffleNetV2): the input's channels in two halves (torch.chunk, views), one per
    arm, and the arms' outputs concatenated on channels."""

    def __init__(self, *arms: nn.Module) -> None:
        super().__init__()
        self.arms = nn.ModuleList(arms)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        halves = x.chunk(len(self.arms), dim=1)
        return torch.cat([arm(half) for arm, half in zip(self.arms, halves)], dim=1)
''',
    "Shuffle": '''
class Shuffle(nn.Module):
    """Channel shuffle as torchvision's channel_shuffle: the channels as `groups` groups, interleaved."""

    def __init__(self, groups: int) -> None:
        super().__init__()
        self.groups = groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.size()
        x = x.view(n, self.groups, c // self.groups, h, w)
        x = torch.transpose(x, 1, 2).contiguous()
        return x.view(n, c, h, w)
''',
    "DropPath": '''
class DropPath(nn.Module):
    """Stochastic depth, as torchvision.ops.StochasticDepth(p, "row"): in training each image's volume
    is dropped with probability p and the others scaled by 1/(1-p); the identity in evaluation."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return x
        survival = 1.0 - self.p
        noise = torch.empty([x.shape[0], 1, 1, 1], dtype=x.dtype, device=x.device).bernoulli_(survival)
        return x * noise.div_(survival)
''',
    "LayerNorm2d": '''
class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels at each position of an N x C x H x W volume (torchvision's
    ConvNeXt LayerNorm2d)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 3, 1)
        x = nn.functional.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)
''',
    "LayerScale": '''
class LayerScale(nn.Module):
    """A learnable gain per channel (layer scale), starting at `init`."""

    def __init__(self, channels: int, init: float) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.full((channels, 1, 1), init))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.gamma * x
''',
    "Crop": '''
class Crop(nn.Module):
    """The center of the input, a view (torchvision's center_crop: the top row round((H_in - H)/2))."""

    def __init__(self, size: tuple) -> None:
        super().__init__()
        self.size = size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = self.size
        top, left = round((x.shape[2] - h) / 2), round((x.shape[3] - w) / 2)
        return x[:, :, top:top + h, left:left + w]
''',
    "Dense": '''
class Dense(nn.Linear):
    """A fully connected layer on the flattened input; the output is N x C x 1 x 1 (Net's forward
    flattens a final one to N x C)."""

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


# the helper module of each merge kind but concat and add (Branches): each holds its arms in `arms`
MERGE_HELPERS = {"mul": "Product", "split": "Split", "output": "Side"}


class _Writer:
    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.helpers: set[str] = set()
        self.sides: list[tuple[Volume, bool]] = []  # each side head's output and whether it is a vector

    def name(self, base: str) -> str:
        self.counts[base] = self.counts.get(base, 0) + 1
        return f"{base}{self.counts[base]}"

    def sequence(self, items: list, x: Volume, indent: int, flow: Flow) -> tuple[list[str], Volume, Flow]:
        """Lines of an nn.Sequential(OrderedDict) body, the output volume and the flow after it.
        Activations run in place only where the walk's saved-tensor model says (saved.Flow)."""
        pad = " " * indent
        lines = []
        for item in items:
            if isinstance(item, Branch):
                helper = MERGE_HELPERS.get(item.kind, "Branches")
                self.helpers.add(helper)
                name = self.name(item.kind)
                arms_src = []
                outs, grads = [], []
                for arm in item.arms:
                    body, y, arm_flow = self.sequence(arm, shapes.arm_input(item, x), indent + 8,
                                                      Flow(True, flow.grad))
                    outs.append(y)
                    grads.append(arm_flow.grad)
                    arms_src.append(f"{pad}    nn.Sequential(OrderedDict([\n" + "\n".join(body)
                                    + f"\n{pad}    ])),")
                if item.kind == "output":
                    self.sides.append((outs[0], ends_in_vector(item.arms[0])))
                y = shapes.after(item, x, shapes.merge(item.kind, outs, ["" for _ in outs], item.span))
                mode = "" if helper != "Branches" else f'"{item.kind}",'
                lines.append(f'{pad}("{name}", {helper}({mode}\n' + "\n".join(arms_src) + f"\n{pad})),")
                # after a side head its input goes on, which the head may have saved: protected
                flow = Flow(True, flow.grad, flow.channels_last) if item.kind == "output" else Flow(False, any(grads))
            else:
                y, _ = shapes.output(item, x)
                base, code = MODULES[item.kind](self, item, x, y, runs_inplace(item, flow.protected))
                lines.append(f'{pad}("{self.name(base)}", {code}),')
                rule = PARAMS[item.kind]
                has_params = rule is UNSUPPORTED or sum(rule(item, x, y)[:2]) > 0
                flow = apply(item, x, y, flow, has_params, 4)[1]
            x = y
        return lines, x, flow


# -- one arm per layer kind: (writer, layer, input, output, runs in place) -> (module name, constructor) --
def _conv(w: _Writer, layer, x: Volume, y: Volume, inplace: bool) -> tuple[str, str]:
    groups = x.c if layer.kind == "dwconv" else layer.groups
    return "conv", (f"nn.Conv2d({x.c}, {y.c}, kernel_size={layer.kernel}, stride={layer.stride}, "
                    f"padding={layer.pad}, dilation={layer.dilation}, groups={groups}, bias={layer.bias})")


def _deconv(w: _Writer, layer, x: Volume, y: Volume, inplace: bool) -> tuple[str, str]:
    return "deconv", (f"nn.ConvTranspose2d({x.c}, {y.c}, kernel_size={layer.kernel}, stride={layer.stride}, "
                      f"padding={layer.pad}, output_padding={layer.output_padding}, groups={layer.groups}, "
                      f"bias={layer.bias}, dilation={layer.dilation})")


def _local(w: _Writer, layer, x: Volume, y: Volume, inplace: bool) -> tuple[str, str]:
    w.helpers.add("Local2d")
    return "local", (f"Local2d({x.c}, {y.c}, kernel_size={layer.kernel}, stride={layer.stride}, padding={layer.pad}, "
                     f"dilation={layer.dilation}, out_size={(y.h, y.w)}, bias={layer.bias})")


def _pool(w: _Writer, layer, x: Volume, y: Volume, inplace: bool) -> tuple[str, str]:
    if layer.type == "max":
        return "pool", (f"nn.MaxPool2d(kernel_size={layer.kernel}, stride={layer.stride}, padding={layer.pad}, "
                        f"dilation={layer.dilation}, ceil_mode={layer.ceil})")
    return "avgpool", (f"nn.AvgPool2d(kernel_size={layer.kernel}, stride={layer.stride}, padding={layer.pad}, "
                       f"ceil_mode={layer.ceil})")


def _gap(w: _Writer, layer, x: Volume, y: Volume, inplace: bool) -> tuple[str, str]:
    if layer.type == "max":
        return "gmp", "nn.AdaptiveMaxPool2d(1)"
    return "gap", "nn.AdaptiveAvgPool2d(1)"


def _adaptive(w: _Writer, layer, x: Volume, y: Volume, inplace: bool) -> tuple[str, str]:
    size = f"({layer.size[0]}, {layer.size[1]})"
    if layer.type == "max":
        return "adaptivemax", f"nn.AdaptiveMaxPool2d({size})"
    return "adaptiveavg", f"nn.AdaptiveAvgPool2d({size})"


def _fc(w: _Writer, layer, x: Volume, y: Volume, inplace: bool) -> tuple[str, str]:
    w.helpers.add("Dense")
    return "fc", f"Dense({x.h * x.w * x.c}, {layer.out}, bias={layer.bias})"


def _flatten(w: _Writer, layer, x: Volume, y: Volume, inplace: bool) -> tuple[str, str]:
    w.helpers.add("Flat")
    return "flatten", "Flat()"


def _act(w: _Writer, layer, x: Volume, y: Volume, inplace: bool) -> tuple[str, str]:
    args = []
    if layer.slope is not None:
        args.append(f"{layer.slope!r}")
    if layer.word == "SOFTMAX":
        args.append("dim=1")
    if inplace:
        args.append("inplace=True")
    return layer.word.lower(), f"nn.{Activation.MODULES[layer.word]}({', '.join(args)})"


def _eps(layer) -> str:
    """A norm's eps as an argument, where it is not PyTorch's default."""
    return f", eps={layer.eps!r}" if layer.eps != 1e-5 else ""


def _layernorm(w: _Writer, layer, x: Volume, y: Volume, inplace: bool) -> tuple[str, str]:
    w.helpers.add("LayerNorm2d")
    return "ln", f"LayerNorm2d({x.c}" + _eps(layer) + ")"


def _layerscale(w: _Writer, layer, x: Volume, y: Volume, inplace: bool) -> tuple[str, str]:
    w.helpers.add("LayerScale")
    return "scale", f"LayerScale({x.c}, {layer.init!r})"


def _shuffle(w: _Writer, layer, x: Volume, y: Volume, inplace: bool) -> tuple[str, str]:
    w.helpers.add("Shuffle")
    return "shuffle", f"Shuffle({layer.groups})"


def _upsample(w: _Writer, layer, x: Volume, y: Volume, inplace: bool) -> tuple[str, str]:
    target = f"scale_factor={layer.scale}" if layer.size is None else f"size=({layer.size[0]}, {layer.size[1]})"
    corners = f", align_corners={layer.align_corners}" if layer.mode == "bilinear" else ""
    return "upsample", f'nn.Upsample({target}, mode="{layer.mode}"{corners})'


def _crop(w: _Writer, layer, x: Volume, y: Volume, inplace: bool) -> tuple[str, str]:
    w.helpers.add("Crop")
    return "crop", f"Crop(({layer.size[0]}, {layer.size[1]}))"


def _droppath(w: _Writer, layer, x: Volume, y: Volume, inplace: bool) -> tuple[str, str]:
    w.helpers.add("DropPath")
    return "droppath", f"DropPath({layer.p!r})"


MODULES = {
    "input": None,  # the network's argument, not a module
    "conv": _conv,
    "pool": _pool,
    "adaptive": _adaptive,
    "fc": _fc,
    "dwconv": _conv,
    "deconv": _deconv,
    "local": _local,
    "dropout": lambda w, layer, x, y, inplace: ("dropout", f"nn.Dropout(p={layer.p!r})"),
    "droppath": _droppath,
    "upsample": _upsample,
    "lrn": lambda w, layer, x, y, inplace: ("lrn", f"nn.LocalResponseNorm({layer.size})"),
    "crop": _crop,
    "shuffle": _shuffle,
    "gap": _gap,
    "flatten": _flatten,
    "bn": lambda w, layer, x, y, inplace: ("bn", f"nn.BatchNorm2d({x.c}"
                                                  + _eps(layer)
                                                  + (f", momentum={layer.momentum!r}" if layer.momentum != 0.1 else "")
                                                  + ")"),
    "layernorm": _layernorm,
    "groupnorm": lambda w, layer, x, y, inplace: ("gn", f"nn.GroupNorm({layer.groups}, {x.c}"
                                                  + _eps(layer) + ")"),
    "scale": _layerscale,
    "act": _act,
    "id": lambda w, layer, x, y, inplace: ("id", "nn.Identity()"),
}


VECTORS = ("fc", "gap", "flatten")  # their output is 1x1 by construction: one vector per image
KEEPS_VOLUME = ("act", "dropout", "droppath", "bn", "layernorm", "groupnorm", "scale", "id", "lrn")  # the same volume out as in


def returns_vector(graph: LayerGraph) -> bool:
    """Does the exported Net return N x C (logits) instead of N x C x H x W? When the design ends in
    FC, GAP, GMP or FLATTEN, followed only by activations, DROPOUT, BN, LRN or ID (`FC-10 -> SOFTMAX`)."""
    return ends_in_vector(graph.items)


def ends_in_vector(items: list) -> bool:
    """Do these items (a design's, or a side head's) end in a vector? (returns_vector)"""
    for item in reversed(items):
        if isinstance(item, Branch) or item.kind not in VECTORS + KEEPS_VOLUME:
            return False
        if item.kind in VECTORS:
            return True
    return False


def export_source(graph: LayerGraph, title: str = "") -> str:
    """Standalone PyTorch source for the design's network."""
    inp = graph.input.size
    writer = _Writer()
    body, out, _ = writer.sequence(graph.items, inp, 12, Flow(True, False))
    helpers = "".join(_HELPERS[h] + "\n" for h in ("Branches", "Product", "Side", "Split", "Shuffle", "DropPath",
                                                  "LayerNorm2d", "LayerScale", "Crop", "Dense", "Flat", "Local2d")
                      if h in writer.helpers)
    doc = f"{title}\n\n" if title else ""
    layers = ("\n" + "\n".join(body) + "\n        ") if body else ""
    use = f"Needs only torch: `from model import Net; Net()(torch.zeros(1, {inp.c}, {inp.h}, {inp.w}))`"
    if returns_vector(graph):
        shape = (f"output {out.h}x{out.w}x{out.c} as N x {out.c} logits:\nthe design ends in a vector, which forward "
                 f"flattens (between the modules volumes stay N x C x H x W).\n{use} is 1 x {out.c}.\nTrain with "
                 f"`torch.nn.functional.cross_entropy(Net()(x), y)`, y holding N class indices in [0, {out.c}).")
        output = f"OUTPUT_SHAPE = ({out.c},)  # classes: forward returns N x {out.c} logits"
        forward = f"return torch.flatten(self.layers(x), 1)  # N x {out.c} x 1 x 1 -> N x {out.c}"
    else:
        shape = f"output {out.h}x{out.w}x{out.c}\n(N x {out.c} x {out.h} x {out.w}). {use}."
        output = f"OUTPUT_SHAPE = ({out.c}, {out.h}, {out.w})  # channels, height, width"
        forward = "return self.layers(x)"
    init = ""
    if writer.sides:  # in training, the side heads' outputs too
        shapes_ = ", ".join(f"({v.c},)" if vector else f"({v.c}, {v.h}, {v.w})" for v, vector in writer.sides)
        output += (f"\nSIDE_SHAPES = [{shapes_}]  # the side heads' outputs, which forward returns after the main "
                   f"one in training")
        shape += ("\nIn training, forward returns (output, side head 1, ...); train with the sum of their losses.")
        outs = ", ".join(f"torch.flatten(sides[{i}].pop(), 1)" if vector else f"sides[{i}].pop()"
                         for i, (_, vector) in enumerate(writer.sides))
        main = forward.removeprefix("return ").split("  #")[0]
        forward = (f"y = {main}\n        if not self.training:\n            return y\n        sides = self.sides\n"
                   f"        return (y, {outs})")
        init = "\n        self.sides = [m for m in self.modules() if isinstance(m, Side)]  # in row order"
    return f'''"""{doc}Generated by cnncalc: input {inp.h}x{inp.w}x{inp.c} (N x {inp.c} x {inp.h} x {inp.w}), {shape}
"""

from collections import OrderedDict

import torch
from torch import nn

INPUT_SHAPE = ({inp.c}, {inp.h}, {inp.w})  # channels, height, width
{output}

{helpers}
class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.Sequential(OrderedDict([{layers}])){init}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        {forward}
'''


def export_design(text: str, *, label: str = "", **settings) -> str:
    """Parse a design and return its standalone PyTorch source. Settings: defines, input, optional,
    max_layers, as for cnncalc.plan."""
    from ..planner import design_graph

    graph = design_graph(text, label=label, **settings)
    title = label or " ".join(text.split())[:100]
    # the docstring holds only printable text: a NUL or another control character would make the
    # module unimportable, a backslash start an escape, three quotes end the string
    title = "".join(c if c.isprintable() else "?" for c in title)
    return export_source(graph, title.replace('"""', "'''").replace("\\", "/"))
