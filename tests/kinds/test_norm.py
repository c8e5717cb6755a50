"""BN, LAYERNORM, GROUPNORM, SCALE and LRN:
every rule, each expected value written as its formula."""

from __future__ import annotations

import pytest

import snippets as S
from snippets import F, INDEX_BYTES, MASK_BYTES, START, STAT_BYTES, V, X, Volume  # noqa: F401


# output volume: floor((in + 2p - d*(k-1) - 1)/s) + 1
OUTPUT = [
    ("lrn", "LRN", X),
    ("bn", "BN", X),
    ("layernorm", "LAYERNORM", X),
    ("groupnorm", "GROUPNORM(2)", X),
    ("scale", "SCALE", X),
]

# parameters: (weights, biases, buffers)
PARAMS = [
    ("lrn", "LRN", (0, 0, 0)),
    ("bn", "BN", (4, 4, 2 * 4)),
    ("layernorm", "LN", (4, 4, 0)),  # a gain and a shift per channel, no running statistics
    ("groupnorm", "GROUPNORM(2)", (4, 4, 0)),
    ("scale", "LAYERSCALE", (4, 0, 0)),  # a gain per channel
]

# MACs per image
MACS = [
    ("lrn", "LRN", 0),
    ("bn", "BN", 0),
    ("layernorm", "LAYERNORM", 0),
    ("groupnorm", "GN(4)", 0),
    ("scale", "SCALE", 0),
]

# forward memory: elements a layer adds, per image
STORED = [
    ("lrn", "LRN", V),
    ("bn", "BN", V),
    ("layernorm", "LAYERNORM", V),
    ("groupnorm", "GROUPNORM(1)", V),
    ("scale", "SCALE(1e-5)", V),
]

# saved for backward: (keeps its input, keeps its output, bytes per image, bytes per batch)
SAVED = [
    ("lrn", "LRN", (True, False, ((4 + 5 - 1) * 8 * 8 + 2 * V) * F, 0)),
    ("bn", "BN", (True, False, 0, 2 * 4 * STAT_BYTES)),
    ("layernorm", "LAYERNORM", (True, False, 2 * 8 * 8 * STAT_BYTES, 0)),  # a mean and inverse std per position
    ("groupnorm", "GROUPNORM(2)", (True, False, 2 * 2 * STAT_BYTES, 0)),  # ... per group
    ("scale", "SCALE", (True, False, 0, 0)),
]

# receptive field from one pixel: (size, stride, padding) per axis
RECEPTIVE = [
    ("lrn", "LRN", START),
    ("bn", "BN", START),
    ("layernorm", "LAYERNORM", START),  # across channels only
    # each group over every position, for every output pixel: a 2H-1 window padded H-1 covers the input from
    # any pixel (X is 8x8; a window of 8 unpadded held for pixel 0 only)
    ("groupnorm", "GROUPNORM(2)", ((2 * 8 - 1, 2 * 8 - 1), (1, 1), (8 - 1, 8 - 1))),
    ("scale", "SCALE", START),
]

# the size along one axis when no window is a misfit, None when one is (the notes' rule unless named)
AXIS = [
    ("lrn", "LRN", 9, 9),
    ("bn", "BN", 9, 9),
    ("layernorm", "LAYERNORM", 9, 9),
    ("groupnorm", "GROUPNORM(2)", 9, 9),
    ("scale", "SCALE", 9, 9),
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
