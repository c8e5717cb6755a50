"""INPUT, ID, CROP, ZEROPAD, SHUFFLE and UPSAMPLE:
every rule, each expected value written as its formula."""

from __future__ import annotations

import re

import pytest

import snippets as S
from snippets import F, INDEX_BYTES, MASK_BYTES, START, STAT_BYTES, V, X, Volume  # noqa: F401


# output volume: floor((in + 2p - d*(k-1) - 1)/s) + 1
OUTPUT = [
    ("input", "INPUT", X),
    ("upsample", "UPSAMPLE3", Volume(8 * 3, 8 * 3, 4)),
    ("upsample", "UPSAMPLE(size=5x7, mode=bilinear)", Volume(5, 7, 4)),  # to a size, whatever the input
    ("crop", "CROP(5x6)", Volume(5, 6, 4)),
    ("zeropad", "ZEROPAD2", Volume(8 + 2 + 2, 8 + 2 + 2, 4)),  # in + top + bottom, in + left + right
    ("zeropad", "ZEROPAD(p=1x2)", Volume(8 + 1 + 1, 8 + 2 + 2, 4)),  # height x width
    ("zeropad", "ZEROPAD(left=0, right=1, top=2, bottom=3)", Volume(8 + 2 + 3, 8 + 0 + 1, 4)),
    ("zeropad", "ZEROPAD(top=1)", Volume(8 + 1, 8, 4)),  # a side not given is 0
    ("shuffle", "SHUFFLE(2)", X),
    ("id", "ID", X),
]

# parameters: (weights, biases, buffers)
PARAMS = [
    ("input", "INPUT", (0, 0, 0)),
    ("upsample", "UPSAMPLE2", (0, 0, 0)),
    ("crop", "CROP5", (0, 0, 0)),
    ("zeropad", "ZEROPAD1", (0, 0, 0)),
    ("shuffle", "SHUFFLE", (0, 0, 0)),
    ("id", "ID", (0, 0, 0)),
]

# MACs per image
MACS = [
    ("input", "INPUT", 0),
    ("upsample", "UPSAMPLE2", 0),
    ("crop", "CROP5", 0),
    ("zeropad", "ZEROPAD1", 0),
    ("shuffle", "SHUFFLE", 0),
    ("id", "ID", 0),
]

# forward memory: elements a layer adds, per image
STORED = [
    ("input", "INPUT", V),
    ("upsample", "UPSAMPLE2", 16 * 16 * 4),
    ("crop", "CROP5", 0),  # a view
    ("zeropad", "ZEROPAD(left=0, right=1, top=2, bottom=3)", (8 + 2 + 3) * (8 + 0 + 1) * 4),  # a new tensor
    ("shuffle", "CHANNELSHUFFLE(2)", V),  # a contiguous copy
    ("id", "ID", 0),  # a view
]

# saved for backward: (keeps its input, keeps its output, bytes per image, bytes per batch)
SAVED = [
    ("input", "INPUT", (False, False, 0, 0)),
    ("upsample", "UPSAMPLE2", (False, False, 0, 0)),
    ("crop", "CROP5", (False, False, 0, 0)),  # a view: what saves it keeps its base
    ("zeropad", "ZEROPAD1", (False, False, 0, 0)),  # ConstantPadNdBackward keeps only the sizes
    ("shuffle", "SHUFFLE", (False, False, 0, 0)),
    ("id", "ID", (False, False, 0, 0)),
]

# receptive field from one pixel: (size, stride, padding) per axis
RECEPTIVE = [
    ("input", "INPUT", START),
    ("upsample", "UPSAMPLE2", None),
    ("crop", "CROP(4x6)", ((1, 1), (1, 1), (0 - 2 * 1, 0 - 1 * 1))),  # the start moves by the offset
    ("zeropad", "ZEROPAD(left=0, right=1, top=2, bottom=3)", ((1, 1), (1, 1), (0 + 2 * 1, 0 + 0 * 1))),  # P += top*j
    ("shuffle", "SHUFFLE", START),
    ("id", "ID", START),
]

# the size along one axis when no window is a misfit, None when one is (the notes' rule unless named)
AXIS = [
    ("input", "INPUT", 9, 9),
    ("upsample", "UPSAMPLE3", 9, 9 * 3),
    ("upsample", "UPSAMPLE(size=5x7)", 9, 5),
    ("crop", "CROP5", 9, 5),
    ("zeropad", "ZEROPAD(p=1x2)", 9, 9 + 1 + 1),  # along the height
    ("shuffle", "SHUFFLE", 9, 9),
    ("id", "ID", 9, 9),
]


@pytest.mark.parametrize("kind, snippet, expected", OUTPUT, ids=[c[0] for c in OUTPUT])
def test_output(kind, snippet, expected):
    S.check_output(kind, snippet, expected)


@pytest.mark.parametrize("kind, snippet, expected", PARAMS, ids=[c[0] for c in PARAMS])
def test_params(kind, snippet, expected):
    S.check_params(kind, snippet, expected)


@pytest.mark.parametrize("kind, snippet, expected", MACS, ids=[c[0] for c in MACS])
def test_macs(kind, snippet, expected):
    S.check_macs(kind, snippet, expected)


@pytest.mark.parametrize("kind, snippet, expected", STORED, ids=[c[0] for c in STORED])
def test_stored(kind, snippet, expected):
    S.check_stored(kind, snippet, expected)


@pytest.mark.parametrize("kind, snippet, expected", SAVED, ids=[c[0] for c in SAVED])
def test_saves(kind, snippet, expected):
    S.check_saves(kind, snippet, expected)


@pytest.mark.parametrize("kind, snippet, expected", RECEPTIVE, ids=[c[0] for c in RECEPTIVE])
def test_receptive(kind, snippet, expected):
    S.check_receptive(kind, snippet, expected)


@pytest.mark.parametrize("kind, snippet, size, expected", AXIS, ids=[f"{c[0]}-{c[2]}" for c in AXIS])
def test_axis(kind, snippet, size, expected):
    S.check_axis(kind, snippet, size, expected)


@pytest.mark.parametrize("side", range(1, 40))
def test_crop_offsets_round_half_to_even(side):
    """torchvision's center_crop starts at round((H_in - H) / 2): Python's round, half to even."""
    layer = S.item(f"CROP(1x{side})")
    for h_in in range(1, 80):
        assert layer.offsets(Volume(h_in, side + h_in % 7, 4)) == (round((h_in - 1) / 2), round((h_in % 7) / 2))


# -- ZEROPAD's spellings, names and export ---------------------------------------------------------------
@pytest.mark.parametrize("snippet, sides, name", [
    ("ZEROPAD2", (2, 2, 2, 2), "ZEROPAD2"),  # every side
    ("ZEROPAD(2)", (2, 2, 2, 2), "ZEROPAD2"),
    ("ZEROPAD(p=2)", (2, 2, 2, 2), "ZEROPAD2"),
    ("ZEROPAD(padding=1x2)", (2, 2, 1, 1), "ZEROPAD(1x2)"),  # height x width: 1 above and below, 2 left and right
    ("ZEROPAD(left=0, right=1, top=2, bottom=3)", (0, 1, 2, 3), "ZEROPAD(left=0, right=1, top=2, bottom=3)"),
    ("ZEROPAD(left=3, right=3, top=1, bottom=1)", (3, 3, 1, 1), "ZEROPAD(1x3)"),
    ("ZEROPAD(bottom=1)", (0, 0, 0, 1), "ZEROPAD(left=0, right=0, top=0, bottom=1)"),
])
def test_zeropad_spellings(snippet, sides, name):
    layer = S.item(snippet)
    assert (layer.sides, layer.name) == (sides, name)
    from cnncalc.pytorch.export import export_source
    from cnncalc.planner import design_graph

    assert f"nn.ZeroPad2d({sides})" in export_source(design_graph(f"INPUT {X} -> {snippet}"))


@pytest.mark.parametrize("snippet, message", [
    ("ZEROPAD", "ZEROPAD has no padding: write ZEROPAD1"),
    ("ZEROPAD(p=1, top=2)", "ZEROPAD takes p or its sides (left, right, top, bottom), not both"),
    ("ZEROPAD(left=-1)", "left must be at least 0, got -1"),
    ("ZEROPAD(p=1x2x3)", "padding is one number or HxW"),
])
def test_zeropad_refuses(snippet, message):
    import cnncalc

    with pytest.raises(cnncalc.DesignError, match=re.escape(message)):
        S.item(snippet)
