"""Whole designs against published numbers: the notes' VGGNet table, ResNet-18, the spec's examples."""

from __future__ import annotations

import re

import pytest

import cnncalc
from cnncalc import zoo

# The notes' VGGNet table (seed 001): layer, output volume, memory (elements), weights
VGG_TABLE = [
    ("INPUT 224x224x3", (224, 224, 3), 224 * 224 * 3, 0),
    ("CONV3-64", (224, 224, 64), 224 * 224 * 64, (3 * 3 * 3) * 64),
    ("CONV3-64", (224, 224, 64), 224 * 224 * 64, (3 * 3 * 64) * 64),
    ("POOL2", (112, 112, 64), 112 * 112 * 64, 0),
    ("CONV3-128", (112, 112, 128), 112 * 112 * 128, (3 * 3 * 64) * 128),
    ("CONV3-128", (112, 112, 128), 112 * 112 * 128, (3 * 3 * 128) * 128),
    ("POOL2", (56, 56, 128), 56 * 56 * 128, 0),
    ("CONV3-256", (56, 56, 256), 56 * 56 * 256, (3 * 3 * 128) * 256),
    ("CONV3-256", (56, 56, 256), 56 * 56 * 256, (3 * 3 * 256) * 256),
    ("CONV3-256", (56, 56, 256), 56 * 56 * 256, (3 * 3 * 256) * 256),
    ("POOL2", (28, 28, 256), 28 * 28 * 256, 0),
    ("CONV3-512", (28, 28, 512), 28 * 28 * 512, (3 * 3 * 256) * 512),
    ("CONV3-512", (28, 28, 512), 28 * 28 * 512, (3 * 3 * 512) * 512),
    ("CONV3-512", (28, 28, 512), 28 * 28 * 512, (3 * 3 * 512) * 512),
    ("POOL2", (14, 14, 512), 14 * 14 * 512, 0),
    ("CONV3-512", (14, 14, 512), 14 * 14 * 512, (3 * 3 * 512) * 512),
    ("CONV3-512", (14, 14, 512), 14 * 14 * 512, (3 * 3 * 512) * 512),
    ("CONV3-512", (14, 14, 512), 14 * 14 * 512, (3 * 3 * 512) * 512),
    ("POOL2", (7, 7, 512), 7 * 7 * 512, 0),
    ("FC-4096", (1, 1, 4096), 4096, 7 * 7 * 512 * 4096),
    ("FC-4096", (1, 1, 4096), 4096, 4096 * 4096),
    ("FC-1000", (1, 1, 1000), 1000, 4096 * 1000),
]


@pytest.fixture(scope="module")
def vgg16():
    return cnncalc.plan(zoo.path("vgg16").read_text())


def test_vgg16_rows_match_the_notes_table(vgg16):
    stored = [r for r in vgg16.layers if r.memory_bytes]  # the table's rows: RELU and DROPOUT are in place
    assert [(r.name, (r.output.h, r.output.w, r.output.c), r.memory_bytes // 4, r.weights) for r in stored] == VGG_TABLE


def test_vgg16_totals(vgg16):
    t = vgg16.totals
    weights = sum(w for *_, w in VGG_TABLE)
    assert weights == 138_344_128  # the notes' weights column excludes biases
    assert t.params == weights + (64 * 2 + 128 * 2 + 256 * 3 + 512 * 6 + 4096 * 2 + 1000) == 138_357_544
    assert t.macs == 15_470_264_320
    # the notes' rows sum to 15.24M activations, not the "24M" their TOTAL line says
    assert t.activations == sum(m for _, _, m, _ in VGG_TABLE) == 15_237_608
    assert t.memory.forward_bytes_per_image == 15_237_608 * 4
    assert vgg16.fits


RESNET18 = zoo.path("resnet18").read_text()  # the spec's ResNet-18, as shipped


def test_resnet18_params_macs_and_shapes():
    report = cnncalc.plan(RESNET18)
    assert report.totals.params == 11_689_512
    assert report.totals.macs == 1_814_073_344
    bn_channels = 64 + (64 * 2) * 2 + (128 * 2 + 128) + 128 * 2 + (256 * 2 + 256) + 256 * 2 + (512 * 2 + 512) + 512 * 2
    assert report.totals.buffers == 2 * bn_channels
    adds = [r for r in report.layers if r.kind == "add"]
    assert [(a.output.h, a.output.c) for a in adds] == [(56, 64)] * 2 + [(28, 128)] * 2 + [(14, 256)] * 2 + [(7, 512)] * 2
    last_add = adds[-1]
    assert last_add.rf.size == (435, 435) and last_add.rf.stride == (32, 32) and last_add.rf.padding == (217, 217)


def test_resnet18_reports_its_stride_2_windows_as_notes_or_by_the_notes_rule_as_misfits():
    assert cnncalc.plan(RESNET18).fits  # they drop only padding or a stride's gap: notes
    report = cnncalc.plan(RESNET18, fit_rule="notes")
    assert not report.fits
    first = report.problems[0]
    assert first.name == "CONV7-64/2" and first.arithmetic == "(224 - 7 + 2*3)/2 + 1 = 112.5"
    assert first.dropped == 0 and first.uncovered == 1  # only padding is dropped
    assert report.input_fixes == {"h": [193, 225], "w": [193, 225]}
    assert cnncalc.plan(RESNET18, input="225x225x3", fit_rule="notes").fits


def test_card_pattern_with_bindings():
    pattern = "INPUT -> [[CONV -> RELU]*N -> POOL?]*M -> [FC -> RELU]*K -> FC"
    report = cnncalc.plan(pattern, defines=["N=2", "M=3", "K=1", "conv.filters=32", "fc.out=10"], input="32x32x3")
    names = [r.name for r in report.layers]
    assert names == ["INPUT 32x32x3"] + (["CONV3-32", "RELU"] * 2 + ["POOL2"]) * 3 + ["FC-10", "RELU", "FC-10"]
    assert report.layers[-3].weights == 4 * 4 * 32 * 10
    assert any("optional 'POOL?'" in a for a in report.assumptions)
    dropped = cnncalc.plan(pattern, defines=["N=2", "M=3", "K=1", "conv.filters=32", "fc.out=10"], input="32x32x3",
                           optional="exclude")
    assert "POOL2" not in [r.name for r in dropped.layers]


def test_card_pattern_without_bindings_names_every_unbound_variable():
    with pytest.raises(cnncalc.DesignError) as e:
        cnncalc.plan("INPUT 32x32x3 -> [[CONV -> RELU]*N -> POOL?]*M -> [FC -> RELU]*K -> FC")
    assert e.value.message == ("unbound variables N, M, K: give each a value in the design (N = 2) "
                               "or on the command line (-D N=... -D M=... -D K=...)")


def test_inception_module():
    module = ("(CONV1-64 -> RELU | CONV1-96 -> RELU -> CONV3-128 -> RELU\n"
              " | CONV1-16 -> RELU -> CONV5-32 -> RELU | POOL3/1p1 -> CONV1-32 -> RELU)")
    report = cnncalc.plan(module, input="28x28x192")
    concat = report.layers[-1]
    assert concat.kind == "concat" and (concat.output.h, concat.output.c) == (28, 64 + 128 + 32 + 32)
    assert report.totals.params == ((192 * 64 + 64) + (192 * 96 + 96) + (3 * 3 * 96 * 128 + 128)
                                    + (192 * 16 + 16) + (5 * 5 * 16 * 32 + 32) + (192 * 32 + 32))
    assert [r.arm for r in report.layers[1:-1]] == [1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4]


def test_mobilenet_v2_inverted_residual():
    design = ("conv.bias = false\n"
              "inv(C) = (ID + [CONV1-(6*C) -> BN -> RELU6 -> DWCONV3 -> BN -> RELU6 -> CONV1-C -> BN])\n"
              "INPUT 56x56x24 -> inv(24)")
    report = cnncalc.plan(design)
    C = 24
    assert report.totals.params == (C * 6 * C + 2 * 6 * C) + (3 * 3 * 6 * C + 2 * 6 * C) + (6 * C * C + 2 * C)
    assert report.layers[-1].kind == "add" and report.layers[-1].output.c == C


def test_layer_defaults_and_keyword_forms_agree_with_shorthand():
    a = cnncalc.plan("INPUT 32x32x16 -> CONV3-32/2p1d1g2")
    b = cnncalc.plan("INPUT 32x32x16 -> CONV(filters=32, kernel=3, stride=2, pad=1, dilation=1, groups=2)")
    c = cnncalc.plan("conv.filters = 32; conv.stride = 2; conv.groups = 2\nINPUT 32x32x16 -> CONV")
    where = {"line", "column"}
    assert a.layers[1].model_dump(exclude=where) == b.layers[1].model_dump(exclude=where) \
        == c.layers[1].model_dump(exclude=where)
    assert a.layers[1].name == "CONV3-32/2g2"


def test_the_help_and_readme_course_examples():
    pattern = "INPUT -> [[CONV -> RELU]*N -> POOL?]*M -> [FC-H -> RELU]*K -> FC-10"
    report = cnncalc.plan(pattern, defines=["N=2", "M=3", "K=1", "H=256", "conv.filters=32"], input="32x32x3")
    assert [r.name for r in report.layers[-3:]] == ["FC-256", "RELU", "FC-10"]
    assert report.layers[-3].weights == (32 // 2**3) ** 2 * 32 * 256 and report.layers[-1].weights == 256 * 10
    stages = cnncalc.plan("stage(C) = [CONV3-C -> RELU]*2 -> POOL2;\n"
                          "INPUT 32x32x3 -> stage(32) -> stage(64) -> stage(128) -> FC-10")
    assert [r.output.c for r in stages.layers if r.kind == "pool"] == [32, 64, 128]  # the filters double
    assert stages.layers[-1].weights == 4 * 4 * 128 * 10


@pytest.mark.parametrize("spelling, canonical", [
    ("INPUT [32x32x3] -> CONV3-8 -> BATCHNORM -> RELU -> LINEAR-10", "INPUT 32x32x3 -> CONV3-8 -> BN -> RELU -> FC-10"),
    ("INPUT 32×32×3 -> CONV3-8 -> BatchNorm2d -> RELU -> Dense(10)", "INPUT 32x32x3 -> CONV3-8 -> BN -> RELU -> FC-10"),
])
def test_paper_spellings_mean_the_same_layers(spelling, canonical):
    a, b = cnncalc.plan(spelling), cnncalc.plan(canonical)
    assert [(r.kind, r.output, r.params, r.macs) for r in a.layers] == [(r.kind, r.output, r.params, r.macs)
                                                                     for r in b.layers]
    assert a.layers[-1].name.split("-")[0] in ("LINEAR", "DENSE")  # the layer as written


def test_an_unclosed_input_bracket_is_a_clear_error():
    with pytest.raises(cnncalc.DesignSyntaxError, match=r"expected '\]' to close the input size"):
        cnncalc.plan("INPUT [8x8x3 -> CONV3-4")


@pytest.mark.parametrize("design, message", [
    ("INPUT 8x8x3 -> UPSAMPLE(method=bilinear)", "UPSAMPLE has no setting 'method'"),  # not "unbound variable …"
    ("INPUT 8x8x3 -> UPSAMPLE(mode=bicubic)", "bicubic"),  # a word it does not know: the choices listed
    ("INPUT 8x8x3 -> CONV(filters=4, kind=fast)", "CONV has no setting 'kind'"),
    ("C = 4; INPUT 8x8x3 -> CONV3-Cp0", "write (C)p0: a variable before p, d or g needs parentheses"),
    ("INPUT 8x8x3 -> CONV3-4 -> BN(eps=0)", "BN's eps is a small positive number"),
    ("INPUT 8x8x3 -> CONV3-4 -> BN(momentum=2)", "BN's momentum is in [0, 1]"),
])
def test_settings_that_mean_nothing_say_what_they_are(design, message):
    with pytest.raises(cnncalc.CnnCalcError, match=re.escape(message)):
        cnncalc.plan(design)


def test_bn_eps_and_momentum_change_no_count_and_reach_the_export():
    plain = cnncalc.plan("INPUT 8x8x3 -> CONV3-4 -> BN")
    tuned = cnncalc.plan("INPUT 8x8x3 -> CONV3-4 -> BN(eps=1e-3, momentum=0.01)")
    assert [(r.params, r.buffers, r.memory_bytes) for r in plain.layers] == [
        (r.params, r.buffers, r.memory_bytes) for r in tuned.layers]
    from cnncalc.pytorch.export import export_design

    assert "nn.BatchNorm2d(4, eps=0.001, momentum=0.01)" in export_design(
        "INPUT 8x8x3 -> CONV3-4 -> BN(eps=1e-3, momentum=0.01)")
    assert "nn.BatchNorm2d(4)" in export_design("INPUT 8x8x3 -> CONV3-4 -> BN")
    assert "nn.BatchNorm2d(4, eps=0.001)" in export_design("bn.eps = 1e-3\nINPUT 8x8x3 -> CONV3-4 -> BN")
