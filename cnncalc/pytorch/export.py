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

from ..graph import LayerGraph
from ..kinds import MERGES, UNSUPPORTED, Branch, Volume
from ..metrics.saved import Flow, apply

# the helper modules in the order the source defines them (a helper a kind adds later goes after these)
ORDER = ("Branches", "Product", "Side", "Split", "Shuffle", "DropPath", "LayerNorm2d", "LayerScale", "Crop", "Dense",
         "Flat", "Local2d")
MERGE_MODULES = tuple(dict.fromkeys(cls.helper for cls in MERGES.values()))  # the exported modules that hold arms


class _Writer:
    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.helpers: dict[str, str] = {}  # the helper modules the network uses: name -> source
        self.sides: list[tuple[Volume, bool]] = []  # each side head's output and whether it is a vector

    def helper(self, name: str, source: str) -> None:
        """A helper module the network's source defines (a kind's emitter asks for it)."""
        self.helpers[name] = source

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
                helper = item.helper
                self.helper(helper, item.helper_source)
                name = self.name(item.kind)
                arms_src = []
                outs, grads = [], []
                for arm in item.arms:
                    body, y, arm_flow = self.sequence(arm, item.arm_input(x), indent + 8, Flow(True, flow.grad))
                    outs.append(y)
                    grads.append(arm_flow.grad)
                    arms_src.append(f"{pad}    nn.Sequential(OrderedDict([\n" + "\n".join(body)
                                    + f"\n{pad}    ])),")
                if item.side:
                    self.sides.append((outs[0], ends_in_vector(item.arms[0])))
                y = item.after(x, item.join(outs, ["" for _ in outs]))
                mode = "" if helper != "Branches" else f'"{item.kind}",'
                lines.append(f'{pad}("{name}", {helper}({mode}\n' + "\n".join(arms_src) + f"\n{pad})),")
                # after a side head its input goes on, which the head may have saved: protected
                flow = Flow(True, flow.grad, flow.channels_last) if item.side else Flow(False, any(grads))
            else:
                y, _ = item.apply(x)
                base, code = item.emit(self, x, y, item.runs_inplace(flow.protected))
                lines.append(f'{pad}("{self.name(base)}", {code}),')
                has_params = item.params is UNSUPPORTED or sum(item.params(x, y)[:2]) > 0
                flow = apply(item, x, y, flow, has_params, 4)[1]
            x = y
        return lines, x, flow


def returns_vector(graph: LayerGraph) -> bool:
    """Does the exported Net return N x C (logits) instead of N x C x H x W? When the design ends in
    FC, GAP, GMP or FLATTEN, followed only by activations, DROPOUT, BN, LRN or ID (`FC-10 -> SOFTMAX`)."""
    return ends_in_vector(graph.items)


def ends_in_vector(items: list) -> bool:
    """Do these items (a design's, or a side head's) end in a vector? (returns_vector)"""
    for item in reversed(items):
        if isinstance(item, Branch) or not (item.acts_globally or item.elementwise):
            return False
        if item.acts_globally:
            return True
    return False


def export_source(graph: LayerGraph, title: str = "") -> str:
    """Standalone PyTorch source for the design's network."""
    inp = graph.input.size
    writer = _Writer()
    body, out, _ = writer.sequence(graph.items, inp, 12, Flow(True, False))
    order = sorted(writer.helpers, key=lambda h: (ORDER.index(h) if h in ORDER else len(ORDER), h))
    helpers = "".join(writer.helpers[h] + "\n" for h in order)
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
