"""POOL (max and average), ADAPTIVEPOOL and GAP/GMP:
every rule, each expected value written as its formula."""

from __future__ import annotations

import pytest

import snippets as S
from snippets import F, INDEX_BYTES, MASK_BYTES, START, STAT_BYTES, V, X, Volume  # noqa: F401


# output volume: floor((in + 2p - d*(k-1) - 1)/s) + 1
OUTPUT = [
    ("pool", "POOL3/2(ceil=true)", Volume(-(-(8 - 3) // 2) + 1, -(-(8 - 3) // 2) + 1, 4)),
    ("adaptive", "ADAPTIVEAVGPOOL3x5", Volume(3, 5, 4)),  # the size it is given, whatever the input
    ("gap", "GAP", Volume(1, 1, 4)),
]

# parameters: (weights, biases, buffers)
PARAMS = [
    ("pool", "POOL2", (0, 0, 0)),
    ("adaptive", "ADAPTIVEMAXPOOL7", (0, 0, 0)),
    ("gap", "GMP", (0, 0, 0)),
]

# MACs per image
MACS = [
    ("pool", "POOL2", 0),
    ("adaptive", "ADAPTIVEAVGPOOL2", 0),
    ("gap", "GAP", 0),
]

# forward memory: elements a layer adds, per image
STORED = [
    ("pool", "POOL2", 4 * 4 * 4),
    ("adaptive", "ADAPTIVEAVGPOOL8", V),  # a new tensor, even at the same size
    ("gap", "GAP", 4),
]

# saved for backward: (keeps its input, keeps its output, bytes per image, bytes per batch)
SAVED = [
    ("pool", "POOL2", (True, False, 4 * 4 * 4 * INDEX_BYTES, 0)),
    ("adaptive", "ADAPTIVEMAXPOOL2", (True, False, 2 * 2 * 4 * INDEX_BYTES, 0)),
    ("gap", "GMP", (True, False, 4 * INDEX_BYTES, 0)),
]

# receptive field from one pixel: (size, stride, padding) per axis
RECEPTIVE = [
    ("pool", "POOL3/2p1", ((3, 3), (2, 2), (1, 1))),
    ("adaptive", "ADAPTIVEAVGPOOL2x4", ((8 // 2, 8 // 4), (8 // 2, 8 // 4), (0, 0))),  # windows H/h x W/w
    ("gap", "GAP", ((8, 8), (1, 1), (0, 0))),
]

# the size along one axis when no window is a misfit, None when one is (the notes' rule unless named)
AXIS = [
    ("pool", "POOL2", 9, None),
    ("adaptive", "ADAPTIVEAVGPOOL7", 9, 7),
    ("pool", "POOL2", 9, ("coverage", None)),  # drops the last real row, its stride leaves no gap
    ("pool", "POOL1/2", 9, ("coverage", (9 - 1) // 2 + 1)),  # drops no more than the gap 2 - 1
    ("gap", "GAP", 9, 1),
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
