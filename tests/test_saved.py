"""The saved-for-backward model (no torch needed): expected bytes written as the rules' formulas."""

from __future__ import annotations

import pytest

import cnncalc

F = 4  # float32 bytes


def saved(design: str, **settings) -> list[int]:
    return [r.saved_bytes for r in cnncalc.plan(design, **settings).layers]


V_IN = 8 * 8 * 3  # values of the 8x8x3 input
V = 8 * 8 * 4  # values of an 8x8x4 volume


@pytest.mark.parametrize("design, expected", [
    # a convolution keeps its input
    ("INPUT 8x8x3 -> CONV3-4", [0, V_IN * F]),
    # in-place ReLU keeps its output: the conv's output storage
    ("INPUT 8x8x3 -> CONV3-4 -> RELU", [0, V_IN * F, V * F]),
    # ... which the next convolution also keeps: counted once
    ("INPUT 8x8x3 -> CONV3-4 -> RELU -> CONV3-4", [0, V_IN * F, V * F, 0]),
    # out of place, ReLU's output is a new tensor, and the next convolution keeps that same tensor
    ("INPUT 8x8x3 -> CONV3-4 -> RELU(inplace=false) -> CONV3-4", [0, V_IN * F, V * F, 0]),
    # BN keeps its input and 2C float32 statistics, not per image
    ("INPUT 8x8x3 -> CONV3-4 -> BN", [0, V_IN * F, V * F + 2 * 4 * 4]),
    # max pooling keeps its input and int64 indices, one per output value
    ("INPUT 8x8x3 -> CONV3-4 -> POOL2", [0, V_IN * F, V * F + 4 * 4 * 4 * 8]),
    ("INPUT 8x8x3 -> CONV3-4 -> AVGPOOL2", [0, V_IN * F, V * F]),
    ("INPUT 8x8x3 -> CONV3-4 -> GAP", [0, V_IN * F, 0]),
    ("INPUT 8x8x3 -> CONV3-4 -> GMP", [0, V_IN * F, V * F + 4 * 8]),
    # RELU6 in place keeps a private copy of its input: a new volume every time
    ("INPUT 8x8x3 -> CONV3-4 -> RELU6 -> CONV3-4", [0, V_IN * F, V * F, V * F]),
    # dropout: a 1-byte mask per value (CUDA); on the CPU a float32 noise tensor
    ("INPUT 8x8x3 -> CONV3-4 -> DROPOUT", [0, V_IN * F, V * 1]),
    # LRN: input, the padded square (C + size - 1 channels) and two more volumes
    ("INPUT 8x8x3 -> CONV3-4 -> LRN", [0, V_IN * F, V * F + ((4 + 5 - 1) * 8 * 8 + 2 * V) * F]),
    # a locally connected layer keeps its unfolded input: C_in*k*k values per output position
    ("INPUT 8x8x3 -> LOCAL3-4", [0, 3 * 3 * 3 * 8 * 8 * F]),
    # ... in a buffer at least as large as its input: a stride larger than the kernel leaves fewer columns
    # (2*1*1 * 6*6) than input values (12*12*2), and the input's size is kept (measured with saved_tensors_hooks)
    ("INPUT 12x12x2 -> CONV1-2 -> LOCAL1-3/2p0", [0, 12 * 12 * 2 * F, max(2 * 1 * 1 * 6 * 6, 12 * 12 * 2) * F]),
    # views, upsampling and merges keep nothing; FC keeps its (flattened) input
    ("INPUT 8x8x3 -> FLATTEN -> FC-2", [0, 0, V_IN * F]),
    ("INPUT 8x8x3 -> UPSAMPLE2", [0, 0]),
    ("INPUT 8x8x3 -> (ID + CONV3-3)", [0, 0, V_IN * F, 0]),
    # a product keeps each factor whose partner requires grad: here both, x (the conv's output) and the gate
    ("INPUT 8x8x3 -> CONV3-4 -> (ID .* [GAP -> DWCONV1])", [0, V_IN * F, 0, 0, 4 * F, (V + 4) * F]),
    # the network's input requires no grad: the gate (whose partner is the input) is not kept, the input is
    ("INPUT 8x8x3 -> (ID .* [GAP -> DWCONV1])", [0, 0, 0, 3 * F, V_IN * F]),
])
def test_saved_rules(design, expected):
    assert saved(design) == expected


def test_saved_scales_with_batch_and_dtype_except_bn_statistics():
    one = cnncalc.plan("INPUT 8x8x3 -> CONV3-4 -> BN").totals.memory.saved_bytes
    many = cnncalc.plan("INPUT 8x8x3 -> CONV3-4 -> BN", batch=5, dtype="float16").totals.memory.saved_bytes
    stats = 2 * 4 * 4
    assert many - stats == (one - stats) * 5 // 2


@pytest.mark.parametrize("design, inplace, expected", [
    # the ReLU opening an arm would overwrite the input the ID arm reads: out of place; relu1 keeps its
    # output (the conv's storage); relu2 keeps a new tensor, which CONV3-3 keeps too
    ("INPUT 8x8x3 -> CONV3-3 -> RELU -> (ID + [RELU -> CONV3-3])", [True, False],
     [0, V_IN * F, V_IN * F, 0, V_IN * F, 0, 0]),
    # behind a view of the arm's input (ID, FLATTEN) or a dropout (its input itself in eval mode): still shared
    ("INPUT 8x8x3 -> CONV3-3 -> ([ID -> RELU] + ID)", [False], [0, V_IN * F, 0, V_IN * F, 0, 0]),
    ("INPUT 8x8x3 -> CONV3-3 -> ([FLATTEN -> RELU] | FLATTEN)", [False], [0, V_IN * F, 0, V_IN * F, 0, 0]),
    # the network's own input is the caller's tensor: never overwritten; and before the first layer with
    # parameters nothing requires grad, so nothing is kept
    ("INPUT 8x8x3 -> RELU6 -> CONV3-3", [False], [0, 0, V_IN * F]),
    ("INPUT 8x8x3 -> POOL2 -> DROPOUT -> RELU -> CONV3-3", [True], [0, 0, 0, 0, 4 * 4 * 3 * F]),
    # nor is what a layer saved for its backward pass: the second ReLU would write the first one's output
    ("INPUT 8x8x3 -> CONV3-3 -> RELU -> RELU", [True, False], [0, V_IN * F, V_IN * F, V_IN * F]),
    ("INPUT 8x8x3 -> CONV3-3 -> SIGMOID -> ID -> RELU", [False], [0, V_IN * F, V_IN * F, 0, V_IN * F]),
])
def test_no_activation_overwrites_a_tensor_another_reader_needs(design, inplace, expected):
    from cnncalc.pytorch.export import export_design

    source = export_design(design)
    written = [line for line in source.splitlines() if "nn.ReLU" in line]
    assert ["inplace=True" in line for line in written] == inplace
    assert saved(design) == expected
