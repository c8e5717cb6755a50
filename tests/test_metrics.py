"""Each metric on its own, one table per metric with a row for every kind (torch-scan's habit).

The metric functions are called directly on a layer built from a snippet, so a failure names
the metric and the kind. Expected values are written as the formulas. Every table here must
cover every kind, and so must every metric table in the package: adding a layer kind fails
these tests until each metric has an arm for it (a rule, or UNSUPPORTED).
"""

from __future__ import annotations

import pytest

import cnncalc
from cnncalc.expand import _READERS
from cnncalc.layers import KINDS, MERGE_KINDS, ROW_KINDS, Branch, Volume
from cnncalc.metrics import UNSUPPORTED, fit, macs, memory, params, receptive, saved, shapes
from cnncalc.planner import design_graph
from cnncalc.pytorch import export

X = Volume(8, 8, 4)  # the input of every snippet
V = 8 * 8 * 4


def item(snippet: str, x: Volume = X):
    """The first item (a layer, or a Branch) of `INPUT x -> snippet`; the input layer for 'INPUT'."""
    graph = design_graph(f"INPUT {x} -> {snippet}" if snippet != "INPUT" else f"INPUT {x}")
    return graph.input if snippet == "INPUT" else graph.items[0]


def output(it, x: Volume = X) -> Volume:
    if isinstance(it, Branch):  # arms of ID: each gives what it reads
        arm = shapes.arm_input(it, x)
        return shapes.merge(it.kind, [arm] * len(it.arms), ["ID"] * len(it.arms), it.span)
    return shapes.output(it, x)[0]


def covers(cases: list[tuple], kinds) -> None:
    assert sorted({case[0] for case in cases}) == sorted(kinds), "a kind without a row in this table"


# -- the package's tables cover every kind --------------------------------------------------------
@pytest.mark.parametrize("table, kinds", [
    (shapes.OUTPUT, KINDS), (shapes.MERGE, MERGE_KINDS), (fit.AXIS, KINDS), (export.MODULES, KINDS),
    (params.PARAMS, ROW_KINDS), (macs.MACS, ROW_KINDS), (memory.STORED, ROW_KINDS), (saved.SAVED, ROW_KINDS),
    (receptive.RECEPTIVE, KINDS),
], ids=["shapes", "merge", "fit", "export", "params", "macs", "memory", "saved", "receptive"])
def test_every_metric_table_has_an_arm_for_every_kind(table, kinds):
    assert list(table) == list(kinds)  # in declaration order, so a missing arm is easy to spot
    assert all(callable(arm) or arm is UNSUPPORTED or arm is None for arm in table.values())


def test_every_kind_is_declared_once_with_unique_words_and_keys():
    words = [w for cls in KINDS.values() for w in cls.words]
    assert len(words) == len(set(words))
    for cls in KINDS.values():
        spellings = [s for setting in cls.settings for s in setting.spellings]
        assert len(spellings) == len(set(spellings)), cls.kind
        assert cls.positional is None or cls.positional in [s.key for s in cls.settings]
        assert cls.attached is None or cls.attached in [s.key for s in cls.settings]
        assert all(s.read in _READERS for s in cls.settings if cls.kind != "input"), cls.kind


# -- output volume: floor((in + 2p - d*(k-1) - 1)/s) + 1 -------------------------------------------
OUTPUT = [
    ("input", "INPUT", X),
    ("conv", "CONV3-16/2", Volume((8 + 2 * 1 - 3) // 2 + 1, (8 + 2 * 1 - 3) // 2 + 1, 16)),
    ("pool", "POOL3/2(ceil=true)", Volume(-(-(8 - 3) // 2) + 1, -(-(8 - 3) // 2) + 1, 4)),
    ("adaptive", "ADAPTIVEAVGPOOL3x5", Volume(3, 5, 4)),  # the size it is given, whatever the input
    ("fc", "FC-10", Volume(1, 1, 10)),
    ("dwconv", "DWCONV3(mult=2)", Volume(8, 8, 4 * 2)),
    ("deconv", "DECONV4-2/2p1", Volume((8 - 1) * 2 - 2 * 1 + (4 - 1) + 1, (8 - 1) * 2 - 2 * 1 + (4 - 1) + 1, 2)),
    ("local", "LOCAL3-6p0", Volume(8 - 3 + 1, 8 - 3 + 1, 6)),
    ("dropout", "DROPOUT", X),
    ("droppath", "DROPPATH(0.1)", X),
    ("upsample", "UPSAMPLE3", Volume(8 * 3, 8 * 3, 4)),
    ("upsample", "UPSAMPLE(size=5x7, mode=bilinear)", Volume(5, 7, 4)),  # to a size, whatever the input
    ("lrn", "LRN", X),
    ("crop", "CROP(5x6)", Volume(5, 6, 4)),
    ("shuffle", "SHUFFLE(2)", X),
    ("gap", "GAP", Volume(1, 1, 4)),
    ("flatten", "FLATTEN", Volume(1, 1, 8 * 8 * 4)),
    ("bn", "BN", X),
    ("layernorm", "LAYERNORM", X),
    ("groupnorm", "GROUPNORM(2)", X),
    ("scale", "SCALE", X),
    ("act", "HARDSIGMOID", X),
    ("id", "ID", X),
    ("concat", "(ID | ID)", Volume(8, 8, 4 + 4)),
    ("add", "(ID + ID)", X),
    ("mul", "(ID .* GAP)", X),  # the 1x1xC gate broadcasts over the other factor's H x W
    ("split", "(ID || ID)", X),  # each arm half the channels, concatenated
    ("output", "{GAP}", X),  # a side head: its output row is the head's (here ID's) output
]


def test_output_table_covers_every_kind():
    covers(OUTPUT, ROW_KINDS)


@pytest.mark.parametrize("kind, snippet, expected", OUTPUT, ids=[c[0] for c in OUTPUT])
def test_output(kind, snippet, expected):
    it = item(snippet)
    assert it.kind == kind
    assert output(it) == expected


# -- parameters: (weights, biases, buffers) ---------------------------------------------------------
PARAMS = [
    ("input", "INPUT", (0, 0, 0)),
    ("conv", "CONV3-16g2", ((3 * 3 * 4 // 2) * 16, 16, 0)),
    ("pool", "POOL2", (0, 0, 0)),
    ("adaptive", "ADAPTIVEMAXPOOL7", (0, 0, 0)),
    ("fc", "FC-10", (8 * 8 * 4 * 10, 10, 0)),
    ("dwconv", "DWCONV3(bias=false)", (3 * 3 * 1 * 4, 0, 0)),
    ("deconv", "DECONV4-2/2p1", ((4 * 4 * 4) * 2, 2, 0)),
    ("local", "LOCAL3-6p0", ((3 * 3 * 4) * 6 * 6 * 6, 6 * 6 * 6, 0)),
    ("dropout", "DROPOUT", (0, 0, 0)),
    ("droppath", "DROPPATH(0.1)", (0, 0, 0)),
    ("upsample", "UPSAMPLE2", (0, 0, 0)),
    ("lrn", "LRN", (0, 0, 0)),
    ("crop", "CROP5", (0, 0, 0)),
    ("shuffle", "SHUFFLE", (0, 0, 0)),
    ("gap", "GMP", (0, 0, 0)),
    ("flatten", "FLATTEN", (0, 0, 0)),
    ("bn", "BN", (4, 4, 2 * 4)),
    ("layernorm", "LN", (4, 4, 0)),  # a gain and a shift per channel, no running statistics
    ("groupnorm", "GROUPNORM(2)", (4, 4, 0)),
    ("scale", "LAYERSCALE", (4, 0, 0)),  # a gain per channel
    ("act", "RELU", (0, 0, 0)),
    ("id", "ID", (0, 0, 0)),
    ("concat", "(ID | ID)", (0, 0, 0)),
    ("add", "(ID + ID)", (0, 0, 0)),
    ("mul", "(ID .* [GAP -> SIGMOID])", (0, 0, 0)),
    ("split", "(ID || CONV1-2)", (0, 0, 0)),
    ("output", "{FC-3}", (0, 0, 0)),
]


def test_params_table_covers_every_kind():
    covers(PARAMS, ROW_KINDS)


@pytest.mark.parametrize("kind, snippet, expected", PARAMS, ids=[c[0] for c in PARAMS])
def test_params(kind, snippet, expected):
    it = item(snippet)
    weights, biases, buffers, formula = params.params(it, X, output(it))
    assert (weights, biases, buffers) == expected
    assert (formula == "") == (weights + biases + buffers == 0)  # the weights' arithmetic, where there are any


# -- MACs per image ---------------------------------------------------------------------------------
MACS = [
    ("input", "INPUT", 0),
    ("conv", "CONV3-16g2", 8 * 8 * 16 * (3 * 3 * 4 // 2)),
    ("pool", "POOL2", 0),
    ("adaptive", "ADAPTIVEAVGPOOL2", 0),
    ("fc", "FC-10", 8 * 8 * 4 * 10),
    ("dwconv", "DWCONV3/2", 4 * 4 * 4 * (3 * 3)),
    ("deconv", "DECONV4-2/2p1", 8 * 8 * 4 * (4 * 4 * 2)),
    ("local", "LOCAL3-6p0", 6 * 6 * 6 * (3 * 3 * 4)),
    ("dropout", "DROPOUT", 0),
    ("droppath", "DROPPATH(0.1)", 0),
    ("upsample", "UPSAMPLE2", 0),
    ("lrn", "LRN", 0),
    ("crop", "CROP5", 0),
    ("shuffle", "SHUFFLE", 0),
    ("gap", "GAP", 0),
    ("flatten", "FLATTEN", 0),
    ("bn", "BN", 0),
    ("layernorm", "LAYERNORM", 0),
    ("groupnorm", "GN(4)", 0),
    ("scale", "SCALE", 0),
    ("act", "SILU", 0),
    ("id", "ID", 0),
    ("concat", "(ID | ID)", 0),
    ("add", "(ID + ID)", 0),
    ("mul", "(ID .* ID)", 0),  # element-wise products count 0
    ("split", "(ID || ID)", 0),
    ("output", "{ID}", 0),
]


def test_macs_table_covers_every_kind():
    covers(MACS, ROW_KINDS)


@pytest.mark.parametrize("kind, snippet, expected", MACS, ids=[c[0] for c in MACS])
def test_macs(kind, snippet, expected):
    it = item(snippet)
    assert macs.macs(it, X, output(it)) == expected


# -- forward memory: elements a layer adds, per image -----------------------------------------------
STORED = [
    ("input", "INPUT", V),
    ("conv", "CONV3-16", 8 * 8 * 16),
    ("pool", "POOL2", 4 * 4 * 4),
    ("adaptive", "ADAPTIVEAVGPOOL8", V),  # a new tensor, even at the same size
    ("fc", "FC-10", 10),
    ("dwconv", "DWCONV3", V),
    ("deconv", "DECONV2-2/2", 16 * 16 * 2),
    ("local", "LOCAL3-6p0", 6 * 6 * 6),
    ("dropout", "DROPOUT(inplace=false)", V),
    ("droppath", "DROPPATH(0.1)", V),  # input * noise: a new tensor
    ("upsample", "UPSAMPLE2", 16 * 16 * 4),
    ("lrn", "LRN", V),
    ("crop", "CROP5", 0),  # a view
    ("shuffle", "CHANNELSHUFFLE(2)", V),  # a contiguous copy
    ("gap", "GAP", 4),
    ("flatten", "FLATTEN", 0),  # a view
    ("bn", "BN", V),
    ("layernorm", "LAYERNORM", V),
    ("groupnorm", "GROUPNORM(1)", V),
    ("scale", "SCALE(1e-5)", V),
    ("act", "RELU", 0),  # in place
    ("id", "ID", 0),  # a view
    ("concat", "(ID | ID)", 2 * V),
    ("add", "(ID + ID)", V),
    ("mul", "(GAP .* ID)", V),
    ("split", "(ID || ID)", V),
    ("output", "{ID}", 0),  # a view of the head's output
]


def test_memory_table_covers_every_kind():
    covers(STORED, ROW_KINDS)


@pytest.mark.parametrize("kind, snippet, expected", STORED, ids=[c[0] for c in STORED])
def test_memory(kind, snippet, expected):
    it = item(snippet)
    assert memory.stored(it, output(it)) == expected


# -- saved for backward: (keeps its input, keeps its output, bytes per image, bytes per batch) -------
F = 4  # float32
SAVED = [
    ("input", "INPUT", (False, False, 0, 0)),
    ("conv", "CONV3-16", (True, False, 0, 0)),
    ("pool", "POOL2", (True, False, 4 * 4 * 4 * saved.INDEX_BYTES, 0)),
    ("adaptive", "ADAPTIVEMAXPOOL2", (True, False, 2 * 2 * 4 * saved.INDEX_BYTES, 0)),
    ("fc", "FC-10", (True, False, 0, 0)),
    ("dwconv", "DWCONV3", (True, False, 0, 0)),
    ("deconv", "DECONV2-2/2", (True, False, 0, 0)),
    ("local", "LOCAL3-6p0", (False, False, 4 * 3 * 3 * 6 * 6 * F, 0)),
    ("dropout", "DROPOUT", (False, False, V * saved.MASK_BYTES, 0)),
    ("droppath", "DROPPATH(0.1)", (False, False, F, 0)),  # its noise: one value per image
    ("upsample", "UPSAMPLE2", (False, False, 0, 0)),
    ("lrn", "LRN", (True, False, ((4 + 5 - 1) * 8 * 8 + 2 * V) * F, 0)),
    ("crop", "CROP5", (False, False, 0, 0)),  # a view: what saves it keeps its base
    ("shuffle", "SHUFFLE", (False, False, 0, 0)),
    ("gap", "GMP", (True, False, 4 * saved.INDEX_BYTES, 0)),
    ("flatten", "FLATTEN", (False, False, 0, 0)),
    ("bn", "BN", (True, False, 0, 2 * 4 * saved.STAT_BYTES)),
    ("layernorm", "LAYERNORM", (True, False, 2 * 8 * 8 * saved.STAT_BYTES, 0)),  # a mean and inverse std per position
    ("groupnorm", "GROUPNORM(2)", (True, False, 2 * 2 * saved.STAT_BYTES, 0)),  # ... per group
    ("scale", "SCALE", (True, False, 0, 0)),
    ("act", "HARDSIGMOID", (False, False, V * F, 0)),  # in place: a private copy of its input (measured)
    ("id", "ID", (False, False, 0, 0)),
    ("concat", "(ID | ID)", (False, False, 0, 0)),
    ("add", "(ID + ID)", (False, False, 0, 0)),
    ("mul", "(ID .* GAP)", (True, False, 0, 0)),  # its factors (saved.kept_inputs: those whose partner needs grad)
    ("split", "(ID || ID)", (False, False, 0, 0)),
    ("output", "{ID}", (False, False, 0, 0)),
]


def test_saved_table_covers_every_kind():
    covers(SAVED, ROW_KINDS)


@pytest.mark.parametrize("kind, snippet, expected", SAVED, ids=[c[0] for c in SAVED])
def test_saved(kind, snippet, expected):
    it = item(snippet)
    assert saved.saved(it, X, output(it), False, F) == expected


@pytest.mark.parametrize("word, inplace, expected", [
    ("HARDSIGMOID", "false", (True, False, 0, 0)),  # out of place: its input
    ("HARDSWISH", "true", (False, False, V * F, 0)),
    ("RELU", "true", (False, True, 0, 0)),  # in place: its output, the input's storage
    ("SIGMOID", "true", (False, True, 0, 0)),  # never in place in PyTorch: its output
    ("GELU", "true", (True, False, 0, 0)),
])
def test_saved_by_activations(word, inplace, expected):
    it = item(f"{word}(inplace={inplace})")
    assert saved.saved(it, X, X, False, F) == expected


# -- receptive field from one pixel: (size, stride, padding) per axis --------------------------------
START = receptive.START
RECEPTIVE = [
    ("input", "INPUT", START),
    ("conv", "CONV3-16/2d2", ((1 + (2 * (3 - 1) + 1 - 1), 1 + (2 * (3 - 1) + 1 - 1)), (2, 2), (2, 2))),
    ("pool", "POOL3/2p1", ((3, 3), (2, 2), (1, 1))),
    ("adaptive", "ADAPTIVEAVGPOOL2x4", ((8 // 2, 8 // 4), (8 // 2, 8 // 4), (0, 0))),  # windows H/h x W/w
    ("fc", "FC-10", ((8, 8), (1, 1), (0, 0))),  # one window over the whole input
    ("dwconv", "DWCONV5", ((5, 5), (1, 1), (2, 2))),
    ("deconv", "DECONV2-2/2", None),  # not an integer map of the input
    ("local", "LOCAL3x1-6p0", ((3, 1), (1, 1), (0, 0))),
    ("dropout", "DROPOUT", START),
    ("droppath", "DROPPATH(0.1)", START),
    ("upsample", "UPSAMPLE2", None),
    ("lrn", "LRN", START),
    ("crop", "CROP(4x6)", ((1, 1), (1, 1), (0 - 2 * 1, 0 - 1 * 1))),  # the start moves by the offset
    ("shuffle", "SHUFFLE", START),
    ("gap", "GAP", ((8, 8), (1, 1), (0, 0))),
    ("flatten", "FLATTEN", ((8, 8), (1, 1), (0, 0))),
    ("bn", "BN", START),
    ("layernorm", "LAYERNORM", START),  # across channels only
    ("groupnorm", "GROUPNORM(2)", ((8, 8), (1, 1), (0, 0))),  # each group over every position
    ("scale", "SCALE", START),
    ("act", "RELU", START),
    ("id", "ID", START),
]


@pytest.mark.parametrize("side", range(1, 40))
def test_crop_offsets_round_half_to_even(side):
    """torchvision's center_crop starts at round((H_in - H) / 2): Python's round, half to even."""
    layer = item(f"CROP(1x{side})")
    for h_in in range(1, 80):
        assert layer.offsets(Volume(h_in, side + h_in % 7, 4)) == (round((h_in - 1) / 2), round((h_in % 7) / 2))


def test_receptive_table_covers_every_kind():
    covers(RECEPTIVE, KINDS)


@pytest.mark.parametrize("kind, snippet, expected", RECEPTIVE, ids=[c[0] for c in RECEPTIVE])
def test_receptive(kind, snippet, expected):
    assert receptive.receptive(item(snippet), START, X) == expected


def test_receptive_merge_keeps_the_largest_arm_and_flags_different_strides():
    small, large = ((3, 3), (1, 1), (1, 1)), ((5, 5), (2, 2), (2, 2))
    assert receptive.merge([small, large]) == (large, True)
    assert receptive.merge([small, None]) == (None, False)


# -- the size along one axis when no window is a misfit (the input-size search), None when not -------
# (by the notes' rule unless the case names the coverage rule)
AXIS = [
    ("input", "INPUT", 9, 9),
    ("conv", "CONV3-16/2", 9, (9 + 2 * 1 - 3) // 2 + 1),
    ("conv", "CONV3-16/2", 8, None),  # (8 + 2 - 3) is odd
    ("conv", "CONV3-16/2", 8, ("coverage", (8 + 2 - 3) // 2 + 1)),  # it drops only padding: a note
    ("pool", "POOL2", 9, None),
    ("adaptive", "ADAPTIVEAVGPOOL7", 9, 7),
    ("pool", "POOL2", 9, ("coverage", None)),  # drops the last real row, its stride leaves no gap
    ("pool", "POOL1/2", 9, ("coverage", (9 - 1) // 2 + 1)),  # drops no more than the gap 2 - 1
    ("fc", "FC-10", 9, 1),
    ("dwconv", "DWCONV3", 9, 9),
    ("deconv", "DECONV4-2/2p1", 9, (9 - 1) * 2 - 2 * 1 + (4 - 1) + 1),
    ("local", "LOCAL3-6p0", 9, 9 - 3 + 1),
    ("dropout", "DROPOUT", 9, 9),
    ("droppath", "DROPPATH(0.1)", 9, 9),
    ("upsample", "UPSAMPLE3", 9, 9 * 3),
    ("upsample", "UPSAMPLE(size=5x7)", 9, 5),
    ("lrn", "LRN", 9, 9),
    ("crop", "CROP5", 9, 5),
    ("shuffle", "SHUFFLE", 9, 9),
    ("gap", "GAP", 9, 1),
    ("flatten", "FLATTEN", 9, 1),
    ("bn", "BN", 9, 9),
    ("layernorm", "LAYERNORM", 9, 9),
    ("groupnorm", "GROUPNORM(2)", 9, 9),
    ("scale", "SCALE", 9, 9),
    ("act", "RELU", 9, 9),
    ("id", "ID", 9, 9),
]


def test_fit_table_covers_every_kind():
    covers(AXIS, KINDS)


@pytest.mark.parametrize("kind, snippet, size, expected", AXIS, ids=[f"{c[0]}-{c[2]}" for c in AXIS])
def test_fit_axis(kind, snippet, size, expected):
    rule, expected = expected if isinstance(expected, tuple) else ("notes", expected)
    assert fit.AXIS[kind](item(snippet), 0, size, rule) == expected


# -- a metric not known for a kind is null, listed, and makes the totals partial --------------------
def test_an_unsupported_metric_is_null_listed_and_partial(monkeypatch):
    monkeypatch.setitem(macs.MACS, "local", UNSUPPORTED)
    monkeypatch.setitem(params.PARAMS, "local", UNSUPPORTED)
    monkeypatch.setitem(receptive.RECEPTIVE, "local", UNSUPPORTED)
    report = cnncalc.plan("INPUT 8x8x4 -> CONV3-4 -> LOCAL3-6p0 -> FC-2")
    conv, local, fc = report.layers[1:]
    assert local.macs is None and local.params is None and local.weights is None and local.rf is None
    assert local.unsupported == ["params", "macs", "rf"]
    assert conv.unsupported == [] and fc.rf is None  # the field stays unknown downstream
    assert report.totals.partial == ["macs", "params", "rf", "training_peak"]
    assert report.totals.macs == conv.macs + fc.macs  # the unknown row is left out, not counted as 0
    assert report.totals.params == conv.params + fc.params
    from cnncalc.render import render

    table = render(report, "table")
    assert "partial" in table and "LOCAL3-6p0" in table
    local_line = next(line for line in table.splitlines() if "LOCAL3-6p0" in line)
    assert local_line.split()[-5:-2] == ["?", "?", "?"]  # params, MACs, RF
    assert ",,," in render(report, "csv").splitlines()[3]  # LOCAL's row: empty cells, never 0
