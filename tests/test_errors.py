"""Bad designs pinned to their exact messages and positions (line, column of the caret)."""

from __future__ import annotations

import pytest

import cnncalc

BAD_DESIGNS = [
    ('INPUT 32x32x3 -> [CONV3-32 -> RELU',
     "expected ']' to close the '[' at column 18, found end of input", (1, 35)),
    ('INPUT 32x32x3 -> CONV3-32 -> RELU]',
     "unexpected ']' after the architecture", (1, 34)),
    ('INPUT 32x32x3 -> CONV3-32 ->',
     "expected a layer after '->', found end of input", (1, 29)),
    ('INPUT 32x32x3 -> CONV3-32 -> RELUX',
     "unknown layer or block 'RELUX'; did you mean 'RELU'?", (1, 30)),
    ('INPUT 32x32x3 -> CONV(filterz=32)',
     "CONV has no setting 'filterz'; did you mean 'filters'? (its settings: kernel=, filters=, s=, p=, d=, g=, bias=)", (1, 31)),
    ('conv.filter = 32\nINPUT 32x32x3 -> CONV',
     "unknown setting 'conv.filter'; did you mean 'filters'? (settings: conv.filters, conv.kernel, conv.stride, conv.pad, conv.dilation, conv.groups, conv.bias)", (1, 1)),
    ('INPUT 32x32x3 -> [CONV3-32]*N',
     'unbound variable N: give it a value in the design (N = 2) or on the command line (-D N=...)', (1, 29)),
    ('INPUT 32x32x3 -> [CONV3-32]*(0-2)',
     'a repeat count cannot be negative, got -2', (1, 30)),
    ('INPUT 32x32x3 -> [CONV3-32]*-2',
     'a repeat count cannot be negative', (1, 29)),
    ('INPUT 32x32x3 -> [CONV3-32]*2.5',
     'a repeat count must be a whole number', (1, 29)),
    ('N = 7/2\nINPUT 32x32x3 -> [CONV3-32]*N',
     '7/2 does not divide exactly (expressions are whole numbers)', (1, 5)),
    ('',
     "the design is empty: write an architecture such as 'INPUT 32x32x3 -> CONV3-16 -> RELU'", (1, 1)),
    ('  # only a comment\n',
     "the design is empty: write an architecture such as 'INPUT 32x32x3 -> CONV3-16 -> RELU'", (2, 1)),
    ('INPUT 32x32x3 -> CONV3-32 CONV3-64',
     "expected '->' before 'CONV3': a design holds exactly one architecture, so join its parts with '->'", (1, 27)),
    ('INPUT 32x32x3 -> foo(3)',
     "unknown layer or block 'foo'", (1, 18)),
    ('b(C) = CONV3-C\nINPUT 32x32x3 -> b(1, 2)',
     "block 'b' takes 1 argument (b(C)), got 2", (2, 18)),
    ('a = [CONV3-8 -> a]\nINPUT 32x32x3 -> a',
     "block 'a' uses itself (a -> a); blocks cannot be recursive", (1, 17)),
    ('a = [CONV3-8 -> b]\nb = a -> RELU\nINPUT 32x32x3 -> a',
     "block 'a' uses itself (a -> b -> a); blocks cannot be recursive", (2, 5)),
    ('INPUT 32x32x3 -> (CONV3-8/2 | CONV3-8)',
     'cannot concatenate branches of different height x width: branch 1 (CONV3-8/2) gives 16x16x8, branch 2 (CONV3-8) gives 32x32x8', (1, 18)),
    ('INPUT 32x32x3 -> (CONV3-8 + CONV3-16)',
     'cannot add branches of different shapes: branch 1 (CONV3-8) gives 32x32x8, branch 2 (CONV3-16) gives 32x32x16', (1, 18)),
    ('INPUT 4x4x3 -> CONV7-8p0',
     'CONV7-8p0: the kernel 7 is larger than the padded input (4 + 2*0 = 4) along H', (1, 16)),
    ('INPUT 4x4x3 -> DECONV3-8/1p3',
     'DECONV3-8p3: the output would be 0 along H ((4 - 1)*1 - 2*3 + 1*(3 - 1) + 1 + 0)', (1, 16)),
    ('INPUT 32x32x3 -> CONV3-8/0',
     'CONV: stride must be at least 1, got 0', (1, 26)),
    ('INPUT 32x32x3 -> CONV3-8g2',
     'CONV3-8g2: 2 groups do not divide the 3 input channels', (1, 18)),
    ('INPUT 32x32x3 -> DROPOUT(1.5)',
     'a dropout probability is in [0, 1), got 1.5', (1, 26)),
    ('INPUT 32x32x3 -> [[[RELU]*1000]*1000]*1000',
     'the design expands to more than 25,000 layers (raise the limit with --max-layers)', (1, 19)),
    ('INPUT 32x32x3 -> CONV -> RELU',
     'CONV has no filter count: write CONV3-64, or set conv.filters = 64 in the design (or -D conv.filters=64)', (1, 18)),
    ('INPUT 32x32x3 -> FC',
     'FC has no output count: write FC-10, or set fc.out = 10 in the design (or -D fc.out=10)', (1, 18)),
    ('INPUT -> CONV3-8',
     'the input has no size: write INPUT 224x224x3, set input = 224x224x3, or pass --input 224x224x3', (1, 1)),
    ('INPUT 32x32x3 -> (CONV3-8 | CONV3-8 + CONV3-8)',
     "'|' and '+' cannot be mixed in one parenthesis: nest one inside the other", (1, 37)),
    ('INPUT 32x32x3 -> (CONV3-8)',
     "a parenthesis holds two or more branches joined by '|' (concat), '+' (sum), '.*' (product) or '||' (channel "
     "split); use '[ ]' to group a single chain", (1, 18)),
    ('INPUT 32x32x3 -> (ID .* GAP + ID)',
     "'.*' and '+' cannot be mixed in one parenthesis: nest one inside the other", (1, 29)),
    ('INPUT 8x8x3 -> UPSAMPLE(mode=nearest, align_corners=true)',
     "align_corners applies to bilinear upsampling only: write UPSAMPLE(mode=bilinear, align_corners=true)", (1, 53)),
    ('INPUT 8x8x3 -> UPSAMPLE(size=3, scale=2)', "UPSAMPLE takes a scale or a size, not both", (1, 30)),
    ('INPUT 32x32x3 -> (ID || ID || ID)', "'||' splits the channels between two arms", (1, 28)),
    ('INPUT 32x32x3 -> (ID || ID)',
     "'||' splits the channels in two halves: 3 channels do not divide by 2", (1, 18)),
    ('INPUT 32x32x4 -> SHUFFLE(4)',
     "SHUFFLE(4) on 4 channels changes nothing: it needs from 2 to 2 groups that divide the channels", (1, 18)),
    ('INPUT 32x32x3 -> (ID .* GAP .* ID)',
     "'.*' multiplies two arms: nest a third one, (A .* [(B .* C)])", (1, 29)),
    ('INPUT 32x32x3 -> (ID .* [POOL2 -> CONV1-3])',
     "cannot multiply branches of shapes 16x16x3 and 32x32x3: branch 2 (CONV1-3) must give 32x32x3 or 1x1x3 "
     "(broadcast over branch 1's H x W)", (1, 18)),
    ('INPUT 32x32x3 -> (ID .* [GAP -> CONV1-4])',
     "cannot multiply branches of shapes 1x1x4 and 32x32x3: branch 2 (CONV1-4) must give 32x32x3 or 1x1x3 "
     "(broadcast over branch 1's H x W)", (1, 18)),
    ('INPUT 32x32x3 -> CONV3-8 -> INPUT 32x32x3',
     'INPUT can only be the first layer of the architecture', (1, 29)),
    ('INPUT 32x32x3 -> POOL2-64',
     'POOL takes no filter count', (1, 24)),
    ('INPUT 32x32x3 -> CONV3-8(bias=maybe)',
     'CONV: bias is true or false', (1, 31)),
    ('N = 2\nN = 3\nINPUT 32x32x3 -> RELU*N',
     "'N' is defined twice", (2, 1)),
    ('INPUT 32x32x3 -> RELU\nN = 2',
     'definitions must come before the architecture', (2, 1)),
    ('INPUT 32x32x3 -> [ ]',
     "empty brackets: put at least one layer inside '[ ]'", (1, 18)),
    ('INPUT 32x32x3 -> RELU*9999999999999999999',
     'number too large: integers here have at most 15 digits', (1, 23)),
    ('INPUT 32x32x3x4 -> RELU',
     'a size has two (HxW) or three (HxWxC) parts', (1, 7)),
    ('N = M\nM = N\nINPUT 8x8x3 -> RELU*N',
     "variable 'N' is defined in terms of itself (N -> M -> N)", (1, 1)),
    ('INPUT 8x8x3 -> 3',
     "expected a layer, a block name, '[' or '(', found '3'", (1, 16)),
    ('N = 2\nINPUT 8x8x3 -> N',
     "'N' is a variable (a number), not a layer or block", (2, 16)),
    ('INPUT 8x8x3 -> CONV3-8/1/2',
     'the stride of CONV is given twice, or after p/d/g: write CONV3-64/2p1', (1, 25)),
    ('INPUT 8x8x3 -> CONV3-8 -> (RELU | RELU',
     "expected ')' to close the '(' at column 27, found end of input", (1, 39)),
    ('INPUT 8x8x3 -> POOL3p2',
     'POOL: padding 2 is more than half the window 3 (PyTorch refuses this)', (1, 22)),
    ('INPUT 8x8x3 -> CONV3-8(p=sometimes)',
     'unbound variable sometimes: give it a value in the design (sometimes = 2) or on the command line (-D sometimes=...)', (1, 26)),
    ('INPUT 8x8x3 -> RELU(2)',
     'RELU takes no positional setting here; write key=value', (1, 21)),
    ('INPUT 8x8x3 -> CONV3-8(kernel=5)',
     "'kernel' given twice for CONV", (1, 24)),
    ('INPUT 8x8x3 -> CONV3-0',
     'CONV: filters must be at least 1, got 0', (1, 22)),
    ('INPUT 0x8x3 -> RELU',
     'input sizes must be at least 1, got 0', (1, 7)),
    ('id.eps = 1\nINPUT 8x8x3 -> BN',
     "'id' has no defaults; layer defaults exist for conv, pool, fc, dwconv, deconv, local, dropout, bn, layernorm, "
     "groupnorm, scale, lrn, upsample, concat, add",
     (1, 1)),
    ('INPUT 8x8x3 -> CONV3-(8/0)',
     'division by zero', (1, 23)),
    # a setting that takes a word names the words, even where no layer reads it (was: "unbound variable yes")
    ('add.inplace = yes\nINPUT 8x8x3 -> RELU',
     'add.inplace: inplace is true or false', (1, 15)),
    ('pool.type = median\nINPUT 8x8x3 -> RELU',
     'pool.type: type is one of max, avg, got median', (1, 13)),
    ('inplace = no\nINPUT 8x8x3 -> RELU',
     'inplace: inplace is true or false', (1, 11)),
    ('INPUT 8x8x3 -> RELU ->-> RELU',
     "expected a layer, a block name, '[' or '(', found '->'", (1, 23)),
    ('INPUT 8x8x3 -> CONV3-8 -> DECONV2-4/2(op=2)',
     'DECONV2-4/2(op=2): output padding 2 must be smaller than the stride or the dilation', (1, 27)),
    ('INPUT 8x8x3 -> DWCONV3-8',
     'DWCONV takes no filter count', (1, 24)),
    ('INPUT 8x8x3 -> ;',
     "expected a layer, a block name, '[' or '(', found ';'", (1, 16)),
    ('INPUT 8x8x3 -> RELU ) ',
     "unexpected ')' after the architecture", (1, 21)),
    ('b(C) = CONV3-C\nINPUT 8x8x3 -> b',
     "block 'b' takes 1 argument (b(C)), got 0", (2, 16)),
]


@pytest.mark.parametrize("design, message, where", BAD_DESIGNS)
def test_bad_design_message(design, message, where):
    with pytest.raises(cnncalc.CnnCalcError) as e:
        cnncalc.plan(design)
    assert e.value.message == message
    assert e.value.span is not None and e.value.span.line_col() == where


def test_render_draws_the_source_line_with_a_caret():
    with pytest.raises(cnncalc.CnnCalcError) as e:
        cnncalc.plan("INPUT 32x32x3 -> [[CONV3-32 -> RELU]*2 -> POOL2*2 -> FC-10")
    assert e.value.render() == (
        "error: expected ']' to close the '[' at column 18, found end of input (line 1, column 59)\n"
        "  INPUT 32x32x3 -> [[CONV3-32 -> RELU]*2 -> POOL2*2 -> FC-10\n"
        "                                                            ^")


def test_errors_in_a_command_line_definition_name_it():
    with pytest.raises(cnncalc.CnnCalcError) as e:
        cnncalc.plan("INPUT 8x8x3 -> RELU*N", defines=["N=2*"])
    assert str(e.value) == "expected a number, a name or '(', found end of input (in -D N=2*, line 1, column 5)"


@pytest.mark.parametrize("settings, message", [
    ({"input": "32x32"}, "input size must be HxWxC with positive whole numbers, such as 224x224x3; got '32x32'"),
    ({"dtype": "float64"}, "unknown dtype 'float64' (choose from float32, float16, bfloat16, int8)"),
    ({"optimizer": "rmsprop"}, "unknown optimizer 'rmsprop' (choose from sgd, momentum, adam)"),
    ({"batch": 0}, "batch must be a whole number of at least 1, got 0"),
])
def test_bad_settings(settings, message):
    with pytest.raises(cnncalc.SettingsError) as e:
        cnncalc.plan("INPUT 8x8x3 -> RELU", **settings)
    assert e.value.message == message


def test_expansion_limit_is_checked_before_expanding():
    with pytest.raises(cnncalc.DesignError, match="more than 25,000 layers"):
        cnncalc.plan("INPUT 8x8x3 -> [[[RELU]*100000]*100000]*100000")
    with pytest.raises(cnncalc.DesignError, match="more than 10 layers"):
        cnncalc.plan("INPUT 8x8x3 -> RELU*10", max_layers=10)
    assert len(cnncalc.plan("INPUT 8x8x3 -> RELU*9", max_layers=10).layers) == 10


def test_deep_nesting_is_an_error_not_a_recursion_error():
    with pytest.raises(cnncalc.DesignSyntaxError, match="nested more than 100 levels"):
        cnncalc.plan("INPUT 8x8x3 -> " + "[" * 500 + "RELU" + "]" * 500)
    with pytest.raises(cnncalc.DesignSyntaxError, match="nested more than 100 levels"):
        cnncalc.plan("INPUT 8x8x3 -> RELU*" + "(" * 500 + "1" + ")" * 500)
    chain = "\n".join(f"b{i} = [b{i + 1} -> RELU]" for i in range(300)) + "\nb300 = RELU\nINPUT 8x8x3 -> b0"
    with pytest.raises(cnncalc.DesignError, match="nested more than 100 levels"):
        cnncalc.plan(chain)


@pytest.mark.slow
def test_input_size_search_is_bounded():
    # a design at the limit whose windows do not fit: the search for fitting inputs stops on its budget
    from cnncalc import zoo
    from cnncalc.metrics import fit
    from cnncalc.planner import design_graph

    design = zoo.path("resnet18").read_text().replace("basic(512)", "basic(512)*3000")
    report = cnncalc.plan(design, fit_rule="notes")
    assert not report.fits and report.input_fixes == {"h": [193, 225], "w": [193, 225]}
    graph = design_graph(design)
    fixes, warning = fit.input_fixes(graph, visits=10_000, rule="notes")
    assert fixes == {"h": []}
    assert warning == ("the search for input sizes that fit stopped after 10,000 layer visits; "
                       "the sizes shown are those found by then")


@pytest.mark.parametrize("design, expected", [
    # long arithmetic chains are folded in a loop, not recursion
    ("N = " + "+".join(["1"] * 5000) + "\nINPUT 8x8x3 -> RELU*(N-4998)", 3),
    ("INPUT 8x8x3 -> RELU*(" + "*".join(["1"] * 5000) + ")", 2),
    ("INPUT 8x8x3 -> RELU*(" + "-" * 5001 + "-2)", 3),
    ("\n".join(f"N{i} = N{i + 1} + 1" for i in range(50)) + "\nN50 = 1\nINPUT 8x8x3 -> RELU*(N0-49)", 3),
])
def test_long_expressions_evaluate(design, expected):
    assert len(cnncalc.plan(design).layers) == expected


def test_variables_defined_through_thousands_of_others_are_an_error_not_a_recursion_error():
    design = "\n".join(f"N{i} = N{i + 1} + 1" for i in range(3000)) + "\nN3000 = 1\nINPUT 8x8x3 -> RELU*N0"
    with pytest.raises(cnncalc.DesignError, match="expressions and variables nest more than 200 levels deep"):
        cnncalc.plan(design)
