"""The activations:
every rule, each expected value written as its formula."""

from __future__ import annotations

import pytest

import snippets as S
from snippets import F, INDEX_BYTES, MASK_BYTES, START, STAT_BYTES, V, X, Volume  # noqa: F401


# output volume: floor((in + 2p - d*(k-1) - 1)/s) + 1
OUTPUT = [
    ("act", "HARDSIGMOID", X),
]

# parameters: (weights, biases, buffers)
PARAMS = [
    ("act", "RELU", (0, 0, 0)),
]

# MACs per image
MACS = [
    ("act", "SILU", 0),
]

# forward memory: elements a layer adds, per image
STORED = [
    ("act", "RELU", 0),  # in place
]

# saved for backward: (keeps its input, keeps its output, bytes per image, bytes per batch)
SAVED = [
    ("act", "HARDSIGMOID", (False, False, V * F, 0)),  # in place: a private copy of its input (measured)
]

# receptive field from one pixel: (size, stride, padding) per axis
RECEPTIVE = [
    ("act", "RELU", START),
]

# the size along one axis when no window is a misfit, None when one is (the notes' rule unless named)
AXIS = [
    ("act", "RELU", 9, 9),
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


@pytest.mark.parametrize("word, inplace, expected", [
    ("HARDSIGMOID", "false", (True, False, 0, 0)),  # out of place: its input
    ("HARDSWISH", "true", (False, False, V * F, 0)),
    ("RELU", "true", (False, True, 0, 0)),  # in place: its output, the input's storage
    ("SIGMOID", "true", (False, True, 0, 0)),  # never in place in PyTorch: its output
    ("GELU", "true", (True, False, 0, 0)),
])
def test_saved_by_activations(word, inplace, expected):
    it = S.item(f"{word}(inplace={inplace})")
    assert it.saves(X, X, False, F, "cuda") == expected


@pytest.mark.parametrize("word, runs_inplace", [
    ("RELU", True), ("RELU6", True), ("LEAKYRELU", True), ("ELU", True), ("SILU", True), ("HARDSWISH", True),
    ("HARDSIGMOID", True), ("GELU", False), ("SIGMOID", False), ("TANH", False), ("SOFTMAX", False),
])
def test_which_activations_run_in_place(word, runs_inplace):
    """PyTorch's modules that take inplace=; none overwrites a protected input."""
    it = S.item(word)
    assert it.runs_inplace(protected=False) is runs_inplace
    assert it.runs_inplace(protected=True) is False
    assert S.item(f"{word}(inplace=false)").runs_inplace(protected=False) is False
