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

import textwrap

from ..graph import LayerGraph
from ..graph.modules import Names
from ..graph.walk import Walk
from ..kinds import MERGES, UNSUPPORTED, Branch, Volume
from ..kinds.merges import ADD_INTO, DENSE_UNIT
from ..metrics.saved import Flow, apply

# the helper modules in the order the source defines them (a helper a kind adds later goes after these)
ORDER = ("Branches", "AddInto", "DenseUnit", "Product", "Side", "Split", "Shuffle", "DropPath", "LayerNorm2d",
         "LayerScale", "Crop", "Dense", "Flat", "Local2d")
# the exported modules that hold arms
MERGE_MODULES = (*dict.fromkeys(cls.helper for cls in MERGES.values()), "AddInto", "DenseUnit")


class _Writer(Walk):
    """The walk that writes the network: the state is the lines of an nn.Sequential(OrderedDict) body, the
    volume and the flow after them. Activations run in place only where the walk's saved-tensor model
    says (saved.Flow)."""

    def __init__(self, blocks: list | None = None) -> None:
        self.modules = Names(blocks)
        self.helpers: dict[str, str] = {}  # the helper modules the network uses: name -> source
        self.sides: list[tuple[Volume, bool]] = []  # each side head's output and whether it is a vector
        self.names: list[str] = []  # the open branches' module names (named before their arms)
        self.row = 0  # the rows written so far (INPUT is row 0)
        self.next_dense = False  # the item after the one being written is a dense unit (concat.dense)
        self.continued: list[bool] = []  # the open branches: whether a dense unit follows each

    def walk(self, items: list, state, depth: int = 0, arm: int | None = None):
        """The chain's entries, then each block call made of whole entries of it wrapped in an nn.Sequential
        of its own (a module, as the design's block: its input lives until it returns)."""
        rows = []
        for k, item in enumerate(items):
            first = self.row + 1
            self.modules.open(first)
            self.next_dense = k + 1 < len(items) and isinstance(items[k + 1], Branch) and items[k + 1].dense
            state = super().walk([item], state, depth, arm)
            rows.append((first, self.row))
        lines = state[0]
        starts = {a: k for k, (a, _) in enumerate(rows)}
        ends = {b: k for k, (_, b) in enumerate(rows)}
        by_first = self.modules.by_first
        calls = sorted((c for a in starts for c in by_first.get(a, ()) if c[1] in ends),
                       key=lambda c: c[1] - c[0])  # innermost first
        if not calls:
            return state
        entries: list = [(a, b, line) for (a, b), line in zip(rows, lines[len(lines) - len(rows):])]
        pad = " " * (12 + 8 * depth)
        for call in calls:
            first, last, _ = call
            i, j = starts[first], ends[last]
            inside = [e for e in entries[i:j + 1] if e is not None]
            body = "\n".join(textwrap.indent(e[2], " " * 4) for e in inside)
            wrapped = f'{pad}("{self.modules.call_names[call]}", nn.Sequential(OrderedDict([\n{body}\n{pad}]))),'
            entries[i:j + 1] = [(first, last, wrapped)] + [None] * (j - i)  # the indexes stay the items'
        lines[len(lines) - len(rows):] = [e[2] for e in entries if e is not None]
        return state

    def helper(self, name: str, source: str) -> None:
        """A helper module the network's source defines (a kind's emitter asks for it)."""
        self.helpers[name] = source

    def name(self, base: str) -> str:
        return self.modules.name(base)

    def layer(self, layer, state, depth: int, arm: int | None):
        self.row += 1
        lines, x, flow = state
        y, _ = layer.apply(x)
        base, code = layer.emit(self, x, y, layer.runs_inplace(flow.protected))
        lines.append(f'{" " * (12 + 8 * depth)}("{self.name(base)}", {code}),')
        has_params = layer.params is UNSUPPORTED or sum(layer.params(x, y)[:2]) > 0
        return lines, y, apply(layer, x, y, flow, has_params, 4)[1]

    def branch(self, branch: Branch, state, depth: int, arm: int | None):
        self.names.append(self.name(branch.kind))
        self.continued.append(self.next_dense)  # a dense unit followed by one hands it the features (a list)
        return super().branch(branch, state, depth, arm)

    def arm(self, branch: Branch, state, index: int):
        lines, x, flow = state
        return [], branch.arm_input(x), Flow(True, flow.grad)

    def merge(self, branch: Branch, state, ends: list, names: list[str], depth: int, arm: int | None):
        self.row += 1
        lines, x, flow = state
        pad = " " * (12 + 8 * depth)
        if branch.side:
            self.sides.append((ends[0][1], ends_in_vector(branch.arms[0])))
        y = branch.after(x, branch.join([end[1] for end in ends], names))
        into = branch.into([end[2] for end in ends])
        helper, mode = branch.helper, "" if branch.helper != "Branches" else f'"{branch.kind}",'
        source = branch.helper_source
        if into is not None:  # a sum in place (add.inplace)
            helper, mode, source = "AddInto", f"{into},", ADD_INTO
        followed = self.continued.pop()
        if branch.dense:  # a dense block's unit (concat.dense): the block's last returns the concatenation
            helper, source = "DenseUnit", DENSE_UNIT
            mode = f"{not followed}, {branch.head_length(arm_rows(branch.arms[1], x))},"
        self.helper(helper, source)
        arms = [f"{pad}    nn.Sequential(OrderedDict([\n" + "\n".join(end[0]) + f"\n{pad}    ])),"
                for end in ends]
        lines.append(f'{pad}("{self.names.pop()}", {helper}({mode}\n' + "\n".join(arms) + f"\n{pad})),")
        # after a side head its input goes on, which the head may have saved: protected
        after = Flow(True, flow.grad, flow.channels_last) if branch.side else Flow(False, any(e[2].grad for e in ends))
        return lines, y, after


def arm_rows(arm: list, x: Volume):
    """An arm of layers as rows: (layer, its input, its output), in order."""
    for layer in arm:
        y = layer.apply(x)[0]
        yield layer, x, y
        x = y


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
    writer = _Writer(graph.blocks)
    body, out, _ = writer.walk(graph.items, ([], inp, Flow(True, False)))
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
        init = "\n        self.sides = side_heads(self)  # in row order: a head inside a head first, as its OUTPUT row"
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


def export_design(text: str, *, defines=(), label: str = "", **options) -> str:
    """Parse a design and return its standalone PyTorch source: defines, and the settings of the design
    (input, optional, max_layers; a settings= object), as for cnncalc.plan."""
    from ..planner import design_graph

    graph = design_graph(text, defines=defines, label=label, **options)
    title = label or " ".join(text.split())[:100]
    # the docstring holds only printable text: a NUL or another control character would make the
    # module unimportable, a backslash start an escape, three quotes end the string
    title = "".join(c if c.isprintable() else "?" for c in title)
    return export_source(graph, title.replace('"""', "'''").replace("\\", "/"))
