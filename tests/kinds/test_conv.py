"""CONV, DWCONV (depthwise), DECONV (transposed) and LOCAL (locally connected):
every rule, each expected value written as its formula."""

from __future__ import annotations

import pytest

import snippets as S
from snippets import F, INDEX_BYTES, MASK_BYTES, START, STAT_BYTES, V, X, Volume  # noqa: F401


# output volume: floor((in + 2p - d*(k-1) - 1)/s) + 1
OUTPUT = [
    ("conv", "CONV3-16/2", Volume((8 + 2 * 1 - 3) // 2 + 1, (8 + 2 * 1 - 3) // 2 + 1, 16)),
    ("dwconv", "DWCONV3(mult=2)", Volume(8, 8, 4 * 2)),
    ("deconv", "DECONV4-2/2p1", Volume((8 - 1) * 2 - 2 * 1 + (4 - 1) + 1, (8 - 1) * 2 - 2 * 1 + (4 - 1) + 1, 2)),
    ("local", "LOCAL3-6p0", Volume(8 - 3 + 1, 8 - 3 + 1, 6)),
]

# parameters: (weights, biases, buffers)
PARAMS = [
    ("conv", "CONV3-16g2", ((3 * 3 * 4 // 2) * 16, 16, 0)),
    ("dwconv", "DWCONV3(bias=false)", (3 * 3 * 1 * 4, 0, 0)),
    ("deconv", "DECONV4-2/2p1", ((4 * 4 * 4) * 2, 2, 0)),
    ("local", "LOCAL3-6p0", ((3 * 3 * 4) * 6 * 6 * 6, 6 * 6 * 6, 0)),
]

# MACs per image
MACS = [
    ("conv", "CONV3-16g2", 8 * 8 * 16 * (3 * 3 * 4 // 2)),
    ("dwconv", "DWCONV3/2", 4 * 4 * 4 * (3 * 3)),
    ("deconv", "DECONV4-2/2p1", 8 * 8 * 4 * (4 * 4 * 2)),
    ("local", "LOCAL3-6p0", 6 * 6 * 6 * (3 * 3 * 4)),
]

# forward memory: elements a layer adds, per image
STORED = [
    ("conv", "CONV3-16", 8 * 8 * 16),
    ("dwconv", "DWCONV3", V),
    ("deconv", "DECONV2-2/2", 16 * 16 * 2),
    ("local", "LOCAL3-6p0", 6 * 6 * 6),
]

# saved for backward: (keeps its input, keeps its output, bytes per image, bytes per batch)
SAVED = [
    ("conv", "CONV3-16", (True, False, 0, 0)),
    ("dwconv", "DWCONV3", (True, False, 0, 0)),
    ("deconv", "DECONV2-2/2", (True, False, 0, 0)),
    ("local", "LOCAL3-6p0", (False, False, 4 * 3 * 3 * 6 * 6 * F, 0)),
]

# receptive field from one pixel: (size, stride, padding) per axis
RECEPTIVE = [
    ("conv", "CONV3-16/2d2", ((1 + (2 * (3 - 1) + 1 - 1), 1 + (2 * (3 - 1) + 1 - 1)), (2, 2), (2, 2))),
    ("dwconv", "DWCONV5", ((5, 5), (1, 1), (2, 2))),
    ("deconv", "DECONV2-2/2", None),  # not an integer map of the input
    ("local", "LOCAL3x1-6p0", ((3, 1), (1, 1), (0, 0))),
]

# the size along one axis when no window is a misfit, None when one is (the notes' rule unless named)
AXIS = [
    ("conv", "CONV3-16/2", 9, (9 + 2 * 1 - 3) // 2 + 1),
    ("conv", "CONV3-16/2", 8, None),  # (8 + 2 - 3) is odd
    ("conv", "CONV3-16/2", 8, ("coverage", (8 + 2 - 3) // 2 + 1)),  # it drops only padding: a note
    ("dwconv", "DWCONV3", 9, 9),
    ("deconv", "DECONV4-2/2p1", 9, (9 - 1) * 2 - 2 * 1 + (4 - 1) + 1),
    ("local", "LOCAL3-6p0", 9, 9 - 3 + 1),
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
