"""The merges: |, +, .*, || and { }:
every rule, each expected value written as its formula."""

from __future__ import annotations

import pytest

import snippets as S
from snippets import F, INDEX_BYTES, MASK_BYTES, START, STAT_BYTES, V, X, Volume  # noqa: F401


# output volume: floor((in + 2p - d*(k-1) - 1)/s) + 1
OUTPUT = [
    ("concat", "(ID | ID)", Volume(8, 8, 4 + 4)),
    ("add", "(ID + ID)", X),
    ("mul", "(ID .* GAP)", X),  # the 1x1xC gate broadcasts over the other factor's H x W
    ("split", "(ID || ID)", X),  # each arm half the channels, concatenated
    ("output", "{GAP}", X),  # a side head: its output row is the head's (here ID's) output
]

# parameters: (weights, biases, buffers)
PARAMS = [
    ("concat", "(ID | ID)", (0, 0, 0)),
    ("add", "(ID + ID)", (0, 0, 0)),
    ("mul", "(ID .* [GAP -> SIGMOID])", (0, 0, 0)),
    ("split", "(ID || CONV1-2)", (0, 0, 0)),
    ("output", "{FC-3}", (0, 0, 0)),
]

# MACs per image
MACS = [
    ("concat", "(ID | ID)", 0),
    ("add", "(ID + ID)", 0),
    ("mul", "(ID .* ID)", 0),  # element-wise products count 0
    ("split", "(ID || ID)", 0),
    ("output", "{ID}", 0),
]

# forward memory: elements a layer adds, per image
STORED = [
    ("concat", "(ID | ID)", 2 * V),
    ("add", "(ID + ID)", V),
    ("mul", "(GAP .* ID)", V),
    ("split", "(ID || ID)", V),
    ("output", "{ID}", 0),  # a view of the head's output
]

# saved for backward: (keeps its input, keeps its output, bytes per image, bytes per batch)
SAVED = [
    ("concat", "(ID | ID)", (False, False, 0, 0)),
    ("add", "(ID + ID)", (False, False, 0, 0)),
    ("mul", "(ID .* GAP)", (True, False, 0, 0)),  # its factors (Mul.kept: those whose partner needs grad)
    ("split", "(ID || ID)", (False, False, 0, 0)),
    ("output", "{ID}", (False, False, 0, 0)),
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


def test_receptive_merge_keeps_the_largest_arm_and_flags_different_strides():
    from cnncalc.metrics import receptive

    small, large = ((3, 3), (1, 1), (1, 1)), ((5, 5), (2, 2), (2, 2))
    assert receptive.merge([small, large]) == (large, True)
    assert receptive.merge([small, None]) == (None, False)


def test_a_gate_is_left_out_of_the_product_s_field():
    """A 1x1xC arm of a product (a squeeze-and-excitation gate) is global by construction: the field is
    the spatial arm's."""
    gate, spatial = ((8, 8), (1, 1), (0, 0)), ((3, 3), (1, 1), (1, 1))
    mul = S.item("(ID .* GAP)")
    assert mul.fields([X, Volume(1, 1, 4)], X, [spatial, gate]) == [spatial]
    assert S.item("(ID + ID)").fields([X, X], X, [spatial, gate]) == [spatial, gate]
