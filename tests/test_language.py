"""The language's width arithmetic and blocks that take layers: what the papers' code computes,
written as the papers write it (issue 12)."""

from __future__ import annotations

import pytest

import cnncalc
from cnncalc.pytorch.export import export_design


def filters(design: str, **settings) -> list[int]:
    return [r.output.c for r in cnncalc.plan(design, **settings).layers[1:]]


def make_divisible(v: float, divisor: int, min_value: int | None = None) -> int:
    """torchvision.models._utils._make_divisible, as written there (the reference)."""
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


@pytest.mark.parametrize("v, d", [(v, d) for v in (1, 3, 7, 8, 12, 17, 18, 20, 30, 60, 120, 143, 240, 480, 960)
                                  for d in (1, 3, 4, 8, 16)])
def test_make_divisible_is_torchvisions(v, d):
    assert filters(f"INPUT 4x4x3 -> CONV1-(make_divisible({v}, {d}))") == [make_divisible(v, d)]


def test_make_divisible_with_a_floor_and_the_papers_se_widths():
    assert filters("INPUT 4x4x3 -> CONV1-(make_divisible(5, 8, 16))") == [make_divisible(5, 8, 16)]
    # MobileNetV3's squeeze widths: _make_divisible(expanded // 4, 8)
    for expanded in (72, 120, 480, 672, 960):
        assert filters(f"INPUT 4x4x3 -> CONV1-(make_divisible({expanded} // 4, 8))") == \
            [make_divisible(expanded // 4, 8)]


def test_min_max_and_floor_division():
    assert filters("C = 40\nINPUT 4x4x3 -> CONV1-(min(64, 3*C)) -> CONV1-(max(8, C // 16)) -> CONV1-(C // 3)") \
        == [min(64, 3 * 40), max(8, 40 // 16), 40 // 3]
    assert filters("INPUT 4x4x3 -> CONV1-(max(1, 2, 9, 4)) -> CONV1-((0 - 7) // 2 + 10)") == [9, -7 // 2 + 10]
    # shorthand takes a call directly, as it takes a variable
    assert filters("C = 96\nINPUT 4x4x3 -> CONV1-make_divisible(C // 4, 8)") == [make_divisible(96 // 4, 8)]


def test_blocks_take_layers_groups_and_blocks():
    design = """
    se(C, S) = (ID .* [GAP -> CONV1-S -> RELU -> CONV1-C -> HARDSIGMOID])
    mb(E, C, act, gate) = CONV1-E -> act -> gate -> CONV1-C
    twice(x) = x -> x
    INPUT 8x8x16 -> mb(32, 16, HARDSWISH, se(32, 8)) -> mb(24, 16, LEAKYRELU(0.2), ID) -> twice([CONV1-16 -> RELU])
      -> twice(se(16, 4))
    """
    report = cnncalc.plan(design)
    names = [r.name for r in report.layers]
    assert names[1:4] == ["CONV1-32", "HARDSWISH", "ID"]  # the gate's first arm
    assert names.count("LEAKYRELU") == 1
    assert "nn.LeakyReLU(0.2, inplace=True)" in export_design(design)  # the argument's own setting
    assert names.count("MUL") == 1 + 2
    gate = ["ID", "GAP", "CONV1-4", "RELU", "CONV1-16", "HARDSIGMOID", "MUL"]
    assert names[-18:] == ["CONV1-16", "RELU", "CONV1-16", "RELU", *gate, *gate]
    calls = {b.name for b in report.blocks if b.kind == "call"}
    assert {"mb(32, 16, HARDSWISH, se(32, 8))", "mb(24, 16, LEAKYRELU(0.2), ID)", "twice(se(16, 4))"} <= calls


def test_a_block_passes_a_layer_parameter_on_and_a_bare_block_name_is_a_block():
    design = """
    gate = [GAP -> SIGMOID]
    inner(act) = CONV1-4 -> act
    outer(act, g) = inner(act) -> (ID .* g)
    INPUT 8x8x4 -> outer(RELU6, gate)
    """
    assert [r.name for r in cnncalc.plan(design).layers[1:]] == ["CONV1-4", "RELU6", "ID", "GAP", "SIGMOID", "MUL"]


@pytest.mark.parametrize("design, message", [
    ("blk(act) = act -> act\nINPUT 8x8x3 -> blk(3)", "'act' is a number (3), not a layer or block"),
    ("blk(C) = CONV3-C\nINPUT 8x8x3 -> blk(RELU)", "'C' is a layer or block (RELU), not a number"),
    ("blk(act) = act(2)\nINPUT 8x8x3 -> blk(RELU)",
     "'act' stands for RELU: give it its arguments where the block is called"),
    ("INPUT 8x8x3 -> CONV1-(make_divisible(5))",
     "make_divisible() takes 2 to 3 arguments, got 1 (make_divisible(value, divisor) or "
     "make_divisible(value, divisor, least))"),
    ("INPUT 8x8x3 -> CONV1-(min(5))", "min() takes 2 to 16 arguments, got 1"),
    ("INPUT 8x8x3 -> CONV1-(10 // 0)", "division by zero"),
    ("INPUT 8x8x3 -> CONV1-(make_divisible(10, 0))", "make_divisible's divisor is at least 1, got 0"),
    # a layer word where a number goes is not advised as a variable to define (RELU = 2 would hide the layer)
    ("INPUT 8x8x3 -> CONV3-RELU", "'RELU' is a layer, not a number: a number, a variable or a (expression) goes "
                                  "here, and a layer after '->'"),
])
def test_errors(design, message):
    with pytest.raises(cnncalc.CnnCalcError) as e:
        cnncalc.plan(design)
    assert message in e.value.message


def test_a_block_given_itself_as_an_argument_is_not_recursion():
    design = """
    two(C) = CONV3-C -> RELU
    level(C, inner) = two(C) -> ([ID] | [POOL2 -> inner -> UPSAMPLE2]) -> CONV1-C
    INPUT 16x16x3 -> level(8, level(16, two(32)))
    """
    names = [r.name for r in cnncalc.plan(design).layers]
    assert names.count("CONV3-32") == 1 and names.count("CONV1-8") == 1 and names.count("CONV1-16") == 1
    with pytest.raises(cnncalc.CnnCalcError, match="uses itself"):
        cnncalc.plan("loop(x) = x -> loop(x)\nINPUT 8x8x3 -> loop(RELU)")


def test_a_side_head_is_an_output_of_its_own_and_the_chain_goes_on():
    design = "INPUT 8x8x3 -> CONV3-4 -> {GAP -> FC-5} -> CONV3-4 -> {CONV1-2} -> GAP -> FC-3"
    report = cnncalc.plan(design)
    rows = report.layers
    assert [r.kind for r in rows] == ["input", "conv", "gap", "fc", "output", "conv", "conv", "output", "gap", "fc"]
    assert (rows[4].output.c, rows[7].output.c) == (5, 2)  # each output row is its head's output
    assert rows[5].output == rows[1].output and rows[5].params == (3 * 3 * 4) * 4 + 4  # reads the trunk
    conv1, fc5, conv2, conv_side, fc3 = (3 * 3 * 3) * 4 + 4, 4 * 5 + 5, (3 * 3 * 4) * 4 + 4, 4 * 2 + 2, 4 * 3 + 3
    main, first, second = report.totals.heads
    assert report.totals.params == conv1 + fc5 + conv2 + conv_side + fc3
    assert (main.row, main.params) == (9, conv1 + conv2 + fc3)
    assert (first.row, first.params) == (4, conv1 + fc5)
    assert (second.row, second.params) == (7, conv1 + conv2 + conv_side)
    assert second.macs == 8 * 8 * 4 * (3 * 3 * 3) + 8 * 8 * 4 * (3 * 3 * 4) + 8 * 8 * 2 * 4
    # optional, or repeated zero times, it goes away
    assert cnncalc.plan(design.replace("{GAP -> FC-5}", "{GAP -> FC-5}*0")).totals.params == \
        report.totals.params - fc5


@pytest.mark.parametrize("design, message", [
    ("INPUT 8x8x3 -> CONV3-4 -> {} -> FC-3", "an empty side head: put its layers inside '{ }'"),
    ("INPUT 8x8x3 -> CONV3-4 -> {GAP -> FC-3", "expected '}' to close the '{'"),
    ("INPUT 8x8x3 -> CONV3-4 -> GAP} -> FC-3", "unexpected '}' after the architecture"),
    ("INPUT 8x8x3 -> CONV3-4 -> (}", "unmatched '}': there is no opening '{' for it"),
])
def test_side_head_errors(design, message):
    with pytest.raises(cnncalc.CnnCalcError) as e:
        cnncalc.plan(design)
    assert message in e.value.message


def test_in_is_the_channel_count_of_a_layers_input():
    design = """
    unit = (ID | [BN -> RELU -> CONV3-8])
    transition = BN -> RELU -> CONV1-(in/2) -> AVGPOOL2
    INPUT 16x16x3 -> CONV3-16 -> unit*2 -> transition -> unit*3 -> transition -> CONV1-(max(in, 40))
    """
    # the same block, used twice, halves what it receives each time
    first = (16 + 2 * 8) // 2
    second = (first + 3 * 8) // 2
    assert [r.output.c for r in cnncalc.plan(design).layers if r.name.startswith("CONV1")] == [
        first, second, max(second, 40)]


@pytest.mark.parametrize("design, message", [
    ("INPUT 8x8x4 -> [CONV3-4]*in", "'in' is the channel count of a layer's input: it can be used only in a "
                                    "layer's settings, such as CONV1-(in/2)"),
    ("N = in / 2\nINPUT 8x8x4 -> CONV3-(N)", "'in' is the channel count of a layer's input"),
    ("b(C) = CONV1-C\nINPUT 8x8x4 -> b(in/2)", "'in' is the channel count of a layer's input"),
    ("in = 3\nINPUT 8x8x4 -> CONV3-4", "'in' is the channel count of a layer's input (CONV1-(in/2)); choose another"),
])
def test_in_elsewhere_is_refused(design, message):
    with pytest.raises(cnncalc.CnnCalcError) as e:
        cnncalc.plan(design)
    assert message in e.value.message
