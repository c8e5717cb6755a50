"""The built-in designs reproduce their published numbers exactly.

Params are torchvision 0.29's sum(p.numel() for p in model.parameters()); MACs count convolution and
linear multiply-accumulates as torchvision's `_ops` does; receptive fields are size/stride/padding
at the last spatial layer (the google-research receptive_field tables for VGG).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_cli

import cnncalc
from cnncalc import zoo
from cnncalc.render.zoo import render_zoo

PUBLISHED = [  # name, input, params, MACs (None: not published), receptive field (None: not published)
    ("lenet5", (32, 32, 1), 61_706, None, None),
    ("alexnet", (224, 224, 3), 61_100_840, 714_188_480, (195, 32, 66)),
    ("alexnet_paper", (227, 227, 3), 60_965_224, None, None),
    ("vgg11", (224, 224, 3), 132_863_336, 7_609_090_048, (150, 32, 59)),
    ("vgg16", (224, 224, 3), 138_357_544, 15_470_264_320, (212, 32, 90)),
    ("vgg19", (224, 224, 3), 143_667_240, 19_632_062_464, None),
    ("vgg16_bn", (224, 224, 3), 138_365_992, 15_470_264_320, (212, 32, 90)),
    ("resnet18", (224, 224, 3), 11_689_512, 1_814_073_344, (435, 32, 217)),
    ("resnet34", (224, 224, 3), 21_797_672, 3_663_761_408, None),
    ("resnet50", (224, 224, 3), 25_557_032, 4_089_184_256, (427, 32, 213)),
    ("googlenet", (224, 224, 3), 6_624_904, 1_498_376_192, None),
    ("mobilenet_v2", (224, 224, 3), 3_504_872, 300_774_272, (491, 32, 245)),
    ("squeezenet1_0", (224, 224, 3), 1_248_424, 818_924_576, None),
    # issue 12's table, torchvision 0.29 (params: sum(p.numel()); MACs of Conv2d and Linear per image)
    ("mobilenet_v3_large", (224, 224, 3), 5_483_032, 216_589_760, None),
    ("efficientnet_b0", (224, 224, 3), 5_288_548, 385_814_752, None),
    ("regnet_y_400mf", (224, 224, 3), 4_344_144, 401_842_848, None),
    ("convnext_tiny", (224, 224, 3), 28_589_128, 4_455_531_264, None),
    ("shufflenet_v2_x1_0", (224, 224, 3), 2_278_604, 144_907_992, None),
    ("densenet121", (224, 224, 3), 7_978_856, 2_834_161_664, None),  # its transitions halve `in`
    # without the auxiliary head: torchvision's published num_params (27,161,264) include it
    ("inception_v3", (299, 299, 3), 23_834_568, 5_713_216_096, None),
    # the whole network, its auxiliary head a side head: torchvision's published num_params; MACs measured
    # with torchvision 0.29 (benchmarks/torchvision_check.py)
    ("inception_v3_aux", (299, 299, 3), 27_161_264, 5_718_899_296, None),
    # Ronneberger et al. (2015), Fig. 1, as issue 12 states it (2x2 up-convolutions with bias)
    ("unet", (572, 572, 1), 31_030_658, 150_428_424_448, None),
]


# buffers (BN running statistics, without num_batches_tracked), torchvision 0.29, from issue 12's table
BUFFERS = {"mobilenet_v3_large": 24_400, "efficientnet_b0": 42_016, "regnet_y_400mf": 27_152, "convnext_tiny": 0,
           "inception_v3": 34_432, "unet": 0, "shufflenet_v2_x1_0": 16_180, "inception_v3_aux": 36_224,
           "densenet121": 83_648}


def plan(name: str, **settings):
    return cnncalc.plan(zoo.path(name).read_text(), **settings)


def test_every_example_is_in_the_table():
    assert sorted(n for n, *_ in PUBLISHED) == zoo.names()


@pytest.mark.parametrize("name, size, params, macs, rf", PUBLISHED)
def test_published_numbers(name, size, params, macs, rf):
    report = plan(name)
    assert (report.input.h, report.input.w, report.input.c) == size
    assert report.totals.params == params
    if macs is not None:
        assert report.totals.macs == macs
    if rf is not None:
        field = report.last_spatial().rf
        assert (field.size[0], field.stride[0], field.padding[0]) == rf
        assert field.size[0] == field.size[1]


@pytest.mark.parametrize("name", [n for n, *_ in PUBLISHED])
def test_header_states_the_published_params(name):
    title, source, published = zoo.header(zoo.path(name).read_text())
    params = next(p for n, _, p, _, _ in PUBLISHED if n == name)
    assert title and source
    assert f"params {params:,}" in published


@pytest.mark.parametrize("name, buffers", BUFFERS.items())
def test_published_buffers(name, buffers):
    assert plan(name).totals.buffers == buffers


def test_mobilenet_v2_buffers_explain_keras_count():
    totals = plan("mobilenet_v2").totals
    assert totals.params + totals.buffers == 3_538_984  # Keras's "Total params" counts BN statistics too


def outputs(report, kind):
    seen = []
    for r in report.layers:
        shape = (r.output.h, r.output.w, r.output.c)
        if r.kind == kind and (not seen or seen[-1] != shape):
            seen.append(shape)
    return seen


def test_shapes_at_named_points():
    resnet50 = plan("resnet50")
    assert (resnet50.layers[1].output.h, resnet50.layers[1].output.c) == (112, 64)
    assert outputs(resnet50, "add") == [(56, 56, 256), (28, 28, 512), (14, 14, 1024), (7, 7, 2048)]
    assert outputs(plan("resnet18"), "add") == [(56, 56, 64), (28, 28, 128), (14, 14, 256), (7, 7, 512)]
    googlenet = outputs(plan("googlenet"), "concat")
    # 3a, 3b, 4a-4c (all 512 channels: repeats are collapsed), 4d, 4e, 5a, 5b
    assert googlenet == [(28, 28, 64 + 128 + 32 + 32), (28, 28, 128 + 192 + 96 + 64), (14, 14, 192 + 208 + 48 + 64),
                         (14, 14, 112 + 288 + 64 + 64), (14, 14, 256 + 320 + 128 + 128), (7, 7, 832),
                         (7, 7, 384 + 384 + 128 + 128)]
    assert outputs(plan("squeezenet1_0"), "concat")[-1] == (13, 13, 512)
    alexnet = plan("alexnet").last_spatial()
    assert (alexnet.output.h, alexnet.output.c) == (6, 256)
    mobilenet = plan("mobilenet_v2").last_spatial()
    assert (mobilenet.output.h, mobilenet.output.c) == (7, 1280)
    lenet = plan("lenet5").last_spatial()
    assert (lenet.output.h, lenet.output.c) == (1, 120)


def test_plan_at_another_input_size():
    report = plan("resnet50", input="320x320x3")
    assert report.input.h == 320 and report.totals.params == 25_557_032
    assert outputs(report, "add")[-1] == (10, 10, 2048)
    assert report.totals.macs > 4_089_184_256 * 2  # (320/224)^2 ≈ 2.04 times the convolution work


@pytest.mark.slow
def test_examples_readme_is_generated_and_fresh():
    readme = Path(zoo.folder()) / "README.md"
    assert readme.read_text() == render_zoo(zoo.catalog(), "markdown"), \
        "examples/README.md is stale: run cnncalc zoo --format markdown > examples/README.md"


@pytest.mark.slow
def test_zoo_command():
    listing = run_cli(*["zoo"])
    assert listing.exit_code == 0 and "resnet50" in listing.output and "25,557,032" in listing.output
    data = json.loads(run_cli(*["zoo", "--format", "json"]).output)
    assert {d["name"]: d["params"] for d in data}["googlenet"] == 6_624_904
    source = run_cli(*["zoo", "resnet50"])
    assert source.exit_code == 0 and source.output == zoo.path("resnet50").read_text()
    unknown = run_cli(*["zoo", "resnet5"])
    assert unknown.exit_code == 2 and "did you mean 'resnet50'?" in unknown.output
    planned = run_cli(*["plan", "RESNET50", "--input", "320x320x3", "-f", "json"])
    assert planned.exit_code == 0 and json.loads(planned.output)["input"] == {"h": 320, "w": 320, "c": 3}


# torchvision's VGG and AlexNet pool to a fixed size before the classifier: their params at any input
# (torchvision 0.29, sum(p.numel()); MACs at 320x320x3 measured by benchmarks/torchvision_check.py)
TORCHVISION_HEADS = [
    ("alexnet", 61_100_840, 1_442_722_496),
    ("vgg11", 132_863_336, 15_400_075_264),
    ("vgg16", 138_357_544, 31_443_288_064),
    ("vgg19", 143_667_240, 39_936_753_664),
    ("vgg16_bn", 138_365_992, 31_443_288_064),
]


@pytest.mark.parametrize("name, params, macs_320", TORCHVISION_HEADS)
def test_the_torchvision_form_keeps_its_params_at_any_input(name, params, macs_320):
    at_320 = plan(name, defines=["torchvision=1"], input="320x320x3")
    assert (at_320.totals.params, at_320.totals.macs) == (params, macs_320)
    assert not any("flattens" in w for w in at_320.warnings)
    assert plan(name, defines=["torchvision=1"]).totals.params == params == plan(name).totals.params
    grown = plan(name, input="320x320x3")  # without the pool, the first FC flattens a larger volume
    assert grown.totals.params > params
    assert any("its params grow with the input" in w and "-D torchvision=1" in w for w in grown.warnings)


def test_the_notes_vgg16_table_is_unchanged_by_the_torchvision_form():
    notes, torchvision = plan("vgg16"), plan("vgg16", defines=["torchvision=1"])
    assert notes.totals.activations == 15_237_608  # the notes' rows
    assert torchvision.totals.activations == 15_237_608 + 7 * 7 * 512  # the pool's new tensor


def test_inception_v3_aux_counts_each_output_as_torchvision_does():
    """torchvision's num_params (27,161,264) count the whole network; its GFLOPS (5.71) the main output,
    which is inception_v3 without the head."""
    report, plain = plan("inception_v3_aux"), plan("inception_v3")
    main, aux = report.totals.heads
    assert (main.params, main.macs) == (plain.totals.params, plain.totals.macs) == (23_834_568, 5_713_216_096)
    assert main.row == len(report.layers) - 1 and report.layers[aux.row].kind == "output"
    upto = report.layers[:aux.row + 1]  # the trunk before the head, and the head: every row up to its output
    assert (aux.params, aux.macs) == (sum(r.params for r in upto), sum(r.macs for r in upto))
    assert report.totals.params - main.params == 3_326_696  # the head alone (torchvision: 27,161,264 - 23,834,568)
    assert plain.totals.heads is None
