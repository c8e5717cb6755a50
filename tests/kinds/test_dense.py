"""FC and FLATTEN:
every rule, each expected value written as its formula."""

from __future__ import annotations

import pytest

import snippets as S
from snippets import F, INDEX_BYTES, MASK_BYTES, START, STAT_BYTES, V, X, Volume  # noqa: F401


# output volume: floor((in + 2p - d*(k-1) - 1)/s) + 1
OUTPUT = [
    ("fc", "FC-10", Volume(1, 1, 10)),
    ("flatten", "FLATTEN", Volume(1, 1, 8 * 8 * 4)),
]

# parameters: (weights, biases, buffers)
PARAMS = [
    ("fc", "FC-10", (8 * 8 * 4 * 10, 10, 0)),
    ("flatten", "FLATTEN", (0, 0, 0)),
]

# MACs per image
MACS = [
    ("fc", "FC-10", 8 * 8 * 4 * 10),
    ("flatten", "FLATTEN", 0),
]

# forward memory: elements a layer adds, per image
STORED = [
    ("fc", "FC-10", 10),
    ("flatten", "FLATTEN", 0),  # a view
]

# saved for backward: (keeps its input, keeps its output, bytes per image, bytes per batch)
SAVED = [
    ("fc", "FC-10", (True, False, 0, 0)),
    ("flatten", "FLATTEN", (False, False, 0, 0)),
]

# receptive field from one pixel: (size, stride, padding) per axis
RECEPTIVE = [
    ("fc", "FC-10", ((8, 8), (1, 1), (0, 0))),  # one window over the whole input
    ("flatten", "FLATTEN", ((8, 8), (1, 1), (0, 0))),
]

# the size along one axis when no window is a misfit, None when one is (the notes' rule unless named)
AXIS = [
    ("fc", "FC-10", 9, 1),
    ("flatten", "FLATTEN", 9, 1),
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
