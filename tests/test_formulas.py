"""Every formula, with the expected value written as the formula (CS231n notes, PyTorch docs)."""

from __future__ import annotations

import math

import pytest

import cnncalc


def rows(text: str, **settings):
    return cnncalc.plan(text, **settings).layers


def last(text: str, **settings):
    return rows(text, **settings)[-1]


def out(row) -> tuple[int, int, int]:
    return row.output.h, row.output.w, row.output.c


# -- output sizes: floor((in + 2p - d*(k-1) - 1)/s) + 1 ---------------------------------------------------------------
@pytest.mark.parametrize("design, expected", [
    ("INPUT 32x32x3 -> CONV5-10/1p2", ((32 + 2 * 2 - 5) // 1 + 1, (32 + 2 * 2 - 5) // 1 + 1, 10)),
    ("INPUT 7x7x3 -> CONV3-1/2p0", ((7 - 3) // 2 + 1, (7 - 3) // 2 + 1, 1)),
    ("INPUT 227x227x3 -> CONV11-96/4p0", ((227 - 11) // 4 + 1, (227 - 11) // 4 + 1, 96)),
    ("INPUT 224x224x3 -> CONV7-64/2", ((224 + 2 * 3 - 7) // 2 + 1, (224 + 2 * 3 - 7) // 2 + 1, 64)),
    ("INPUT 32x32x8 -> CONV3-8d2", ((32 + 2 * 2 - 2 * (3 - 1) - 1) // 1 + 1,) * 2 + (8,)),  # same pad d*(k-1)//2 = 2
    ("INPUT 32x32x8 -> CONV3-8/2p0d3", ((32 - 3 * (3 - 1) - 1) // 2 + 1,) * 2 + (8,)),
    ("INPUT 17x17x768 -> CONV1x7-192", (17, (17 + 2 * 3 - 7) + 1, 192)),
    ("INPUT 17x17x768 -> CONV(filters=192, kernel=7x1, p=3x0)", (17, 17, 192)),
    ("INPUT 224x224x64 -> POOL2", ((224 - 2) // 2 + 1, (224 - 2) // 2 + 1, 64)),
    ("INPUT 112x112x64 -> POOL3/2p1", ((112 + 2 - 3) // 2 + 1, (112 + 2 - 3) // 2 + 1, 64)),
    ("INPUT 112x112x64 -> POOL3/2(ceil=true)", (math.ceil((112 - 3) / 2) + 1, math.ceil((112 - 3) / 2) + 1, 64)),
    # ceil mode: the last window may not start in the right padding (PyTorch): 5 + 2*1 - 2 = 5, ceil(5/2) + 1 = 4,
    # but window 4 would start at 3*2 = 6 >= 5 + 1, so 3
    ("INPUT 5x5x1 -> POOL2/2p1(ceil=true)", (3, 3, 1)),
    ("INPUT 14x14x512 -> DECONV4-256/2p1", ((14 - 1) * 2 - 2 * 1 + (4 - 1) + 1, (14 - 1) * 2 - 2 * 1 + (4 - 1) + 1, 256)),
    ("INPUT 7x7x64 -> DECONV3-32/2p1(op=1)", ((7 - 1) * 2 - 2 * 1 + (3 - 1) + 1 + 1,) * 2 + (32,)),
    ("INPUT 7x7x512 -> GAP", (1, 1, 512)),
    ("INPUT 7x7x512 -> GMP", (1, 1, 512)),
    ("INPUT 7x7x512 -> FLATTEN", (1, 1, 7 * 7 * 512)),
    ("INPUT 7x7x512 -> FC-4096", (1, 1, 4096)),
    ("INPUT 7x7x16 -> UPSAMPLE2", (7 * 2, 7 * 2, 16)),
    ("INPUT 8x8x32 -> DWCONV3/2", ((8 + 2 * 1 - 3) // 2 + 1, (8 + 2 * 1 - 3) // 2 + 1, 32)),
    ("INPUT 8x8x32 -> DWCONV3(mult=2)", (8, 8, 32 * 2)),
    ("INPUT 9x9x8 -> LOCAL3-16p0", (9 - 3 + 1, 9 - 3 + 1, 16)),
])
def test_output_volume(design, expected):
    assert out(last(design)) == expected


# -- parameters -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("design, weights, biases, buffers", [
    # the notes: 10 filters 5x5 on 32x32x3: (5*5*3)*10 weights + 10 biases = 760
    ("INPUT 32x32x3 -> CONV5-10", (5 * 5 * 3) * 10, 10, 0),
    ("INPUT 224x224x3 -> CONV3-64", (3 * 3 * 3) * 64, 64, 0),
    ("INPUT 224x224x3 -> CONV3-64(bias=false)", (3 * 3 * 3) * 64, 0, 0),
    ("INPUT 27x27x96 -> CONV5-256g2", (5 * 5 * 96 // 2) * 256, 256, 0),
    ("INPUT 17x17x768 -> CONV1x7-192", (1 * 7 * 768) * 192, 192, 0),
    ("INPUT 8x8x32 -> DWCONV3", (3 * 3 * 1) * 32, 32, 0),
    ("INPUT 8x8x32 -> DWCONV3(mult=2, bias=false)", (3 * 3 * 1) * 32 * 2, 0, 0),
    ("INPUT 14x14x512 -> DECONV4-256/2p1", 512 * 256 * 4 * 4, 256, 0),
    ("INPUT 14x14x512 -> DECONV4-256/2p1g4", 512 * (256 // 4) * 4 * 4, 256, 0),
    ("INPUT 9x9x8 -> LOCAL3-16p0", (3 * 3 * 8) * 16 * 7 * 7, 16 * 7 * 7, 0),
    ("INPUT 7x7x512 -> FC-4096", 7 * 7 * 512 * 4096, 4096, 0),
    ("INPUT 1x1x4096 -> FC(out=1000, bias=false)", 4096 * 1000, 0, 0),
    ("INPUT 56x56x64 -> BN", 64, 64, 2 * 64),
])
def test_params(design, weights, biases, buffers):
    row = last(design)
    assert (row.weights, row.biases, row.buffers, row.params) == (weights, biases, buffers, weights + biases)


def test_weight_formula_is_shown_as_the_notes_write_it():
    assert rows("INPUT 224x224x3 -> CONV3-64")[1].formula == "(3*3*3)*64 = 1,728"
    assert rows("INPUT 7x7x512 -> FC-4096")[1].formula == "7*7*512*4096 = 102,760,448"
    assert rows("INPUT 27x27x96 -> CONV5-256g2")[1].formula == "(5*5*96/2)*256 = 307,200"


@pytest.mark.parametrize("design", ["INPUT 8x8x3 -> POOL2", "INPUT 8x8x3 -> RELU", "INPUT 8x8x3 -> GAP",
                                    "INPUT 8x8x3 -> DROPOUT(0.3)", "INPUT 8x8x3 -> LRN", "INPUT 8x8x3 -> ID",
                                    "INPUT 8x8x3 -> FLATTEN", "INPUT 8x8x3 -> UPSAMPLE2"])
def test_layers_without_parameters(design):
    row = last(design)
    assert (row.params, row.buffers, row.macs) == (0, 0, 0)


# -- MACs --------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("design, macs", [
    ("INPUT 224x224x3 -> CONV3-64", 224 * 224 * 64 * (3 * 3 * 3)),
    ("INPUT 27x27x96 -> CONV5-256g2", 27 * 27 * 256 * (5 * 5 * 96 // 2)),
    ("INPUT 8x8x32 -> DWCONV3/2", 4 * 4 * 32 * (3 * 3)),
    ("INPUT 14x14x512 -> DECONV4-256/2p1", 14 * 14 * 512 * (4 * 4 * 256)),
    ("INPUT 9x9x8 -> LOCAL3-16p0", 7 * 7 * 16 * (3 * 3 * 8)),
    ("INPUT 7x7x512 -> FC-4096", 7 * 7 * 512 * 4096),
])
def test_macs(design, macs):
    report = cnncalc.plan(design)
    assert report.layers[-1].macs == macs
    assert report.totals.flops == 2 * macs


# -- memory -------------------------------------------------------------------------------------------------------------
def test_memory_counts_stored_outputs_and_scales_with_dtype_and_batch():
    design = "INPUT 32x32x3 -> CONV3-16 -> RELU -> BN -> FLATTEN -> FC-10 -> DROPOUT"
    stored = 32 * 32 * 3 + 32 * 32 * 16 + 32 * 32 * 16 + 10  # input, conv, BN, FC; RELU/DROPOUT in place, FLATTEN a view
    for dtype, size in (("float32", 4), ("float16", 2), ("bfloat16", 2), ("int8", 1)):
        m = cnncalc.plan(design, dtype=dtype, batch=8).totals.memory
        assert m.forward_bytes_per_image == stored * size
        assert m.forward_bytes == stored * size * 8
        assert m.backward_bytes == m.forward_bytes  # the notes' "x2 for the backward pass"


def test_inplace_false_stores_activations():
    stored = 4 * 4 * 2 * 2  # input and RELU
    assert cnncalc.plan("inplace = false\nINPUT 4x4x2 -> RELU").totals.activations == stored


@pytest.mark.parametrize("optimizer, copies", [("sgd", 0), ("momentum", 1), ("adam", 2)])
def test_training_memory(optimizer, copies):
    r = cnncalc.plan("INPUT 8x8x3 -> CONV3-4 -> BN -> RELU", optimizer=optimizer, batch=2)
    params = (3 * 3 * 3) * 4 + 4 + 2 * 4
    buffers = 2 * 4
    forward = (8 * 8 * 3 + 8 * 8 * 4 + 8 * 8 * 4) * 4 * 2
    m = r.totals.memory
    assert m.params_bytes == params * 4
    assert m.optimizer_bytes == copies * params * 4
    assert m.training_bytes == params * 4 * (2 + copies) + buffers * 4 + 2 * forward


# -- receptive field: r += (k_eff-1)*j; P += p*j; j *= s --------------------------------------------------------------
def rf(row):
    return row.rf.size[0], row.rf.stride[0], row.rf.padding[0]


def test_receptive_field_of_stacked_3x3_is_7x7():
    # the notes: three 3x3 convolutions see 7x7, like one 7x7
    assert rf(last("INPUT 32x32x8 -> [CONV3-8 -> RELU]*3")) == (1 + 3 * (3 - 1), 1, 3 * 1)
    assert rf(last("INPUT 32x32x8 -> CONV7-8")) == (7, 1, 3)


def test_receptive_field_with_dilation_and_stride():
    # k_eff = d*(k-1)+1 = 5; then a stride-2 pool doubles the jump
    r = rows("INPUT 32x32x8 -> CONV3-8d2 -> POOL2 -> CONV3-8")
    assert rf(r[1]) == (1 + (2 * (3 - 1) + 1 - 1) * 1, 1, 2 * 1)
    assert rf(r[2]) == (5 + (2 - 1) * 1, 1 * 2, 2)
    assert rf(r[3]) == (6 + (3 - 1) * 2, 2, 2 + 1 * 2)


def test_receptive_field_merge_takes_the_largest_arm_and_warns_on_different_strides():
    report = cnncalc.plan("INPUT 32x32x8 -> (CONV1-8 | CONV5-8 | POOL3/1p1)")
    merge = report.layers[-1]
    assert merge.kind == "concat" and rf(merge) == (5, 1, 2)
    assert not report.warnings
    report = cnncalc.plan("INPUT 32x32x8 -> (ID + [CONV3-8/2 -> UPSAMPLE2])")
    assert report.layers[-1].rf is None  # unavailable after UPSAMPLE, never guessed
    assert any("not reported after UPSAMPLE2" in w for w in report.warnings)


def test_vgg16_receptive_field_at_pool5():
    report = cnncalc.plan(open_example("vgg16"))
    pool5 = [r for r in report.layers if r.kind == "pool"][-1]
    assert pool5.rf.size == (212, 212) and pool5.rf.stride == (32, 32) and pool5.rf.padding == (90, 90)


def open_example(name: str) -> str:
    from cnncalc import zoo

    return zoo.path(name).read_text()


# -- the notes' worked examples ----------------------------------------------------------------------------------------
def test_notes_conv_example_760_params():
    row = last("INPUT 32x32x3 -> CONV5-10/1p2")
    assert out(row) == (32, 32, 10)
    assert row.params == (5 * 5 * 3) * 10 + 10 == 760


def test_notes_stride_fit_example():
    fits = cnncalc.plan("INPUT 7x7x3 -> CONV3-1/2p0")
    assert fits.fits and out(fits.layers[1])[:2] == ((7 - 3) // 2 + 1,) * 2
    misfit = cnncalc.plan("INPUT 7x7x3 -> CONV3-1/5p0")
    assert not misfit.fits
    (problem,) = misfit.problems
    assert problem.arithmetic == "(7 - 3 + 2*0)/5 + 1 = 1.8"
    assert problem.dropped == (7 - 3) % 5  # the floor leaves the last 4 input rows uncovered
    assert problem.axis == "H and W"


def test_notes_three_3x3_against_one_7x7():
    C = 64
    three = cnncalc.plan(f"INPUT 56x56x{C} -> [CONV3-{C}(bias=false) -> RELU]*3")
    one = cnncalc.plan(f"INPUT 56x56x{C} -> CONV7-{C}(bias=false)")
    assert three.totals.params == 3 * (C * (3 * 3 * C)) == 27 * C**2
    assert one.totals.params == C * (7 * 7 * C) == 49 * C**2
    assert rf(three.layers[-1])[0] == rf(one.layers[-1])[0] == 7
