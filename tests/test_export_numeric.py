"""The exported network computes exactly what the design says: its output equals a reference
written with torch.nn.functional (never in place) on the same weights, on random designs, and
the caller's input tensor is left as it was; a design that ends in a vector returns N x classes
logits, and the network trains with cross_entropy on its output.

Skipped, with the reason, when PyTorch is not installed (pip install torch==2.13.0).
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch", reason="PyTorch is not installed: pip install torch==2.13.0")

from hypothesis import HealthCheck, assume, example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import cnncalc  # noqa: E402
from cnncalc.kinds import Branch, Volume  # noqa: E402
from cnncalc.planner import analyze, design_graph  # noqa: E402
from cnncalc.pytorch.export import export_source  # noqa: E402
from cnncalc.pytorch.verify import row_modules  # noqa: E402

F = torch.nn.functional
torch.set_num_threads(2)

ACTIVATIONS = {
    "RELU": F.relu, "RELU6": F.relu6, "ELU": F.elu, "GELU": F.gelu, "SILU": F.silu, "SIGMOID": torch.sigmoid,
    "TANH": torch.tanh, "HARDSWISH": F.hardswish, "HARDSIGMOID": F.hardsigmoid,
    "SOFTMAX": lambda x: F.softmax(x, dim=1),
}


def _act(layer, m, x):
    if layer.word == "LEAKYRELU":
        return F.leaky_relu(x, 0.01 if layer.slope is None else layer.slope)
    if layer.word == "ELU" and layer.slope is not None:
        return F.elu(x, layer.slope)
    return ACTIVATIONS[layer.word](x)


def _pool(layer, m, x):
    if layer.type == "max":
        return F.max_pool2d(x, layer.kernel, layer.stride, layer.pad, layer.dilation, ceil_mode=layer.ceil)
    return F.avg_pool2d(x, layer.kernel, layer.stride, layer.pad, ceil_mode=layer.ceil)


def _crop(layer, m, x):
    (h, w), (top, left) = layer.size, layer.offsets(Volume(x.shape[2], x.shape[3], x.shape[1]))
    return x[:, :, top:top + h, left:left + w]


# the reference, one entry per layer kind: (layer, its exported module for the weights, input) -> output
REFERENCE = {
    "conv": lambda layer, m, x: F.conv2d(x, m.weight, m.bias, layer.stride, layer.pad, layer.dilation, m.groups),
    "dwconv": lambda layer, m, x: F.conv2d(x, m.weight, m.bias, layer.stride, layer.pad, layer.dilation, x.shape[1]),
    "deconv": lambda layer, m, x: F.conv_transpose2d(x, m.weight, m.bias, layer.stride, layer.pad,
                                                     layer.output_padding, layer.groups, layer.dilation),
    "local": lambda layer, m, x: m(x),  # its own module; it never writes its input
    "pool": _pool,
    "adaptive": lambda layer, m, x: (F.adaptive_max_pool2d if layer.type == "max" else F.adaptive_avg_pool2d)(
        x, layer.size),
    "gap": lambda layer, m, x: (F.adaptive_max_pool2d if layer.type == "max" else F.adaptive_avg_pool2d)(x, 1),
    "fc": lambda layer, m, x: F.linear(torch.flatten(x, 1), m.weight, m.bias)[:, :, None, None],
    "flatten": lambda layer, m, x: torch.flatten(x, 1)[:, :, None, None],
    "bn": lambda layer, m, x: F.batch_norm(x, m.running_mean, m.running_var, m.weight, m.bias, False, 0.0, m.eps),
    "act": _act,
    "dropout": lambda layer, m, x: x,  # evaluation mode
    "droppath": lambda layer, m, x: x,  # evaluation mode
    "layernorm": lambda layer, m, x: F.layer_norm(x.permute(0, 2, 3, 1), (x.shape[1],), m.weight, m.bias,
                                                  layer.eps).permute(0, 3, 1, 2),
    "groupnorm": lambda layer, m, x: F.group_norm(x, layer.groups, m.weight, m.bias, layer.eps),
    "scale": lambda layer, m, x: x * m.gamma,
    "lrn": lambda layer, m, x: F.local_response_norm(x, layer.size),
    "crop": _crop,
    "shuffle": lambda layer, m, x: x.reshape(x.shape[0], layer.groups, -1, *x.shape[2:]).transpose(1, 2).reshape(
        x.shape),
    "upsample": lambda layer, m, x: F.interpolate(
        x, scale_factor=layer.scale, size=layer.size, mode=layer.mode,
        align_corners=layer.align_corners if layer.mode == "bilinear" else None),
    "zeropad": lambda layer, m, x: F.pad(x, layer.sides),  # (left, right, top, bottom), zeros
    "id": lambda layer, m, x: x,
}


MERGES = {"concat": lambda outs: torch.cat(outs, dim=1), "add": lambda outs: sum(outs[1:], outs[0]),
          "mul": lambda outs: outs[0] * outs[1], "split": lambda outs: torch.cat(outs, dim=1),
          "output": lambda outs: outs[0]}


def test_the_reference_covers_every_kind():
    assert set(MERGES) == set(cnncalc.kinds.MERGES)
    assert set(REFERENCE) == set(cnncalc.kinds.LAYERS) - {"input"}


VECTORS = ("fc", "gap", "flatten")  # 1x1 by construction: one vector per image
KEEPS_VOLUME = ("act", "dropout", "droppath", "bn", "layernorm", "groupnorm", "scale", "lrn", "id")


def logits(items) -> bool:
    """The contract: the network returns N x C when the design ends in FC, GAP/GMP or FLATTEN, then
    only layers that keep the volume; otherwise N x C x H x W."""
    kinds = [None if isinstance(item, Branch) else item.kind for item in items]
    while kinds and kinds[-1] in KEEPS_VOLUME:
        kinds.pop()
    return bool(kinds) and kinds[-1] in VECTORS


def reference(graph, net, x):
    modules = iter(row_modules(net.layers))  # the exported modules in the order of the rows

    def run(items, x):
        for item in items:
            if isinstance(item, Branch):
                inputs = x.chunk(2, dim=1) if item.kind == "split" else [x] * len(item.arms)
                outs = [run(arm, part) for arm, part in zip(item.arms, inputs)]
                next(modules)  # the merge's own row
                x = x if item.kind == "output" else MERGES[item.kind](outs)  # after a side head: its input
            else:
                x = REFERENCE[item.kind](item, next(modules), x)
        return x

    y = run(graph.items, x)
    return torch.flatten(y, 1) if logits(graph.items) else y


def check(design: str, batch: int = 2) -> None:
    graph = design_graph(design)
    namespace: dict = {}
    exec(compile(export_source(graph), "<cnncalc export>", "exec"), namespace)
    torch.manual_seed(0)
    net = namespace["Net"]().eval()
    for m in net.modules():  # statistics that are not the identity, so BN does something
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
    size = graph.input.size
    x = torch.randn(batch, size.c, size.h, size.w)
    before = x.clone()
    with torch.no_grad():
        out = net(x)
        assert torch.equal(x, before), "the network overwrote its caller's input"
        expected = reference(graph, net, before.clone())
    assert out.shape == expected.shape
    assert torch.allclose(out, expected, rtol=1e-5, atol=1e-6), design
    # a training step on an input that requires grad (nothing may write it in place), with the loss a
    # training loop uses: cross_entropy against one class index per image (per output pixel when spatial)
    outs = net.train()(torch.randn(batch, size.c, size.h, size.w, requires_grad=True))
    outs = outs if isinstance(outs, tuple) else (outs,)  # with side heads: the network's output, then theirs
    assert len(outs) == 1 + sum(1 for r in analyze(graph).data["layers"] if r["kind"] == "output")
    sum(F.cross_entropy(out, torch.randint(out.shape[1], (batch, *out.shape[2:]))) for out in outs).backward()


@pytest.mark.parametrize("design", [
    "INPUT 6x6x3 -> (ID -> RELU + ID)",  # was relu(x)*2 instead of relu(x) + x
    "INPUT 6x6x3 -> ([FLATTEN -> RELU] | FLATTEN)",  # was RELU on both arms
    "INPUT 6x6x3 -> RELU -> CONV3-4",  # a first in-place activation wrote the caller's tensor
    "INPUT 6x6x3 -> CONV3-3 -> ([DROPOUT -> RELU6] + ID) -> (ID + [ID -> HARDSWISH])",
    "INPUT 6x6x3 -> CONV3-4 -> RELU -> (ID + [RELU -> CONV3-4]) -> RELU",
    "INPUT 6x6x3 -> CONV3-4 -> (ID .* [GAP -> CONV1-2 -> RELU -> CONV1-4 -> HARDSIGMOID]) -> RELU",
    # sums in place (add.inplace): into the arm nothing else needs, never into the input the other arms read
    "add.inplace = true\nINPUT 6x6x3 -> CONV3-4 -> (ID + [CONV3-4 -> BN]) -> RELU -> (ID + [CONV3-4 -> BN]) -> RELU",
    "add.inplace = true\nINPUT 6x6x3 -> CONV3-4 -> ([CONV1-4 -> BN] + ID + [CONV3-4 -> BN]) -> RELU",
    "add.inplace = true\nINPUT 6x6x3 -> CONV3-4 -> (RELU + [CONV1-4 -> BN]) -> (ID + [ID -> HARDSWISH])",
    # dense blocks (concat.dense): the features in a list, concatenated afresh by each unit (DenseUnit)
    "concat.dense = true\nINPUT 6x6x3 -> CONV3-4 -> (ID | [BN -> RELU -> CONV1-4 -> BN -> RELU -> CONV3-2])*3 -> RELU",
    "concat.dense = true\nINPUT 6x6x3 -> (ID | [RELU -> CONV3-2]) -> ([(ID | CONV1-2) -> (ID | BN)] + CONV1-14)",
    "concat.dense = true\nINPUT 6x6x3 -> (ID | [CONV1-2 -> DROPOUT]) -> (ID | [POOL3/1p1 -> BN]) -> FC-3",
])
def test_reproductions(design):
    check(design)


ARMS = st.sampled_from([
    "ID", "RELU", "ID -> RELU", "ID -> RELU6", "DROPOUT -> SILU", "ID -> ID -> HARDSWISH", "CONV1-3 -> RELU",
    "CONV3-3 -> BN -> RELU", "POOL3/1p1", "AVGPOOL3/1p1", "ID -> LEAKYRELU(0.2)", "ELU", "ID -> HARDSIGMOID",
])
LAYERS = st.one_of(
    st.builds(lambda k, s, f: f"CONV{k}-{f}/{s}", st.sampled_from([1, 3]), st.integers(1, 2), st.integers(1, 6)),
    st.sampled_from(["RELU", "RELU6", "SILU", "HARDSWISH", "HARDSIGMOID", "GELU", "TANH", "SIGMOID", "BN",
                     "DROPOUT", "LRN", "UPSAMPLE2", "ID", "DWCONV3", "DECONV2-3/2", "LOCAL3-2", "POOL2", "GMP",
                     "LEAKYRELU(0.1)", "ELU", "SOFTMAX", "RELU(inplace=false)", "FLATTEN -> RELU", "DROPPATH(0.2)",
                     "LAYERNORM", "GROUPNORM(1)", "SCALE(0.5)", "ADAPTIVEAVGPOOL2", "ADAPTIVEMAXPOOL3x2", "CROP2",
                     "UPSAMPLE(mode=bilinear)", "UPSAMPLE3(mode=bilinear, align_corners=true)", "UPSAMPLE(size=5x7)",
                     "CROP(3x2) -> RELU", "ZEROPAD1", "ZEROPAD(p=2x1) -> RELU",
                     "ZEROPAD(left=0, right=1, top=2, bottom=0) -> CONV3-2"]),
    st.builds(lambda a, b: f"({a} + {b})", ARMS, ARMS),
    st.builds(lambda a, b: f"({a} | {b})", ARMS, ARMS),
    st.builds(lambda a, b: f"({a} .* {b})", ARMS, ARMS),
    st.builds(lambda a, b: f"({a} || {b})", ARMS, ARMS),
    st.sampled_from(["SHUFFLE", "CONV1-6 -> SHUFFLE(3)", "CONV1-4 -> (ID || [CONV1-2 -> RELU]) -> SHUFFLE",
                     "{GAP -> FC-2}", "{CONV1-2 -> RELU}"]),
    st.builds(lambda a, g: f"({a} .* [GAP -> {g}])", ARMS, st.sampled_from(["SIGMOID", "DWCONV1 -> HARDSIGMOID"])),
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(3, 9), st.integers(1, 3), st.lists(LAYERS, min_size=1, max_size=5),
       st.sampled_from(["", " -> FC-3", " -> GAP -> RELU", " -> FLATTEN -> RELU6"]), st.booleans())
@example(5, 3, ["(ID -> RELU + ID)"], "", False)
@example(4, 2, ["CONV3-3", "FLATTEN -> RELU"], " -> FC-3", False)  # N x 3 logits
@example(5, 3, ["(CONV3-3 -> BN -> RELU + CONV1-3)", "(ID + CONV1-3)"], "", True)
def test_random_designs_compute_what_they_say(size, c, layers, tail, in_place):
    """`in_place`: sums in place and dense blocks (add.inplace, concat.dense)."""
    design = ("add.inplace = true\nconcat.dense = true\n" if in_place else "") + f"INPUT {size}x{size}x{c} -> " + " -> ".join(layers) + tail
    try:
        cnncalc.plan(design)
    except cnncalc.CnnCalcError:
        assume(False)  # a design cnncalc refuses (a window larger than the input, …)
    check(design)
