"""The built-in designs are torchvision's models, module for module, read from a fixture.

tests/fixtures/torchvision_modules.json holds what torchvision 0.29.1 runs for each model
(benchmarks/torchvision_check.py writes it, in an environment of its own with torchvision; its
`compare` mode also copies torchvision's weights into the exported network and checks the
outputs). Here, without torch: the rows of cnncalc's plan that hold parameters or buffers are,
in order, torchvision's modules that hold them, in execution order, with the same output shape,
params, buffers and MACs; the totals are the same; the normalisations' eps and momentum are the
same; the activations, where torchvision runs them as modules (GoogLeNet and Inception call
F.relu), and the dropouts are the same, in the same order. A design in the fixture that is not in
the zoo yet is skipped.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import cnncalc
from cnncalc import zoo
from cnncalc.kinds import Branch
from cnncalc.planner import design_graph

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "torchvision_modules.json").read_text())
DESIGNS = FIXTURE["designs"]
# torchvision's activation modules and cnncalc's words for them
ACTIVATIONS = {"ReLU": "RELU", "ReLU6": "RELU6", "SiLU": "SILU", "GELU": "GELU", "Sigmoid": "SIGMOID",
               "Hardswish": "HARDSWISH", "Hardsigmoid": "HARDSIGMOID", "Tanh": "TANH", "ELU": "ELU",
               "LeakyReLU": "LEAKYRELU", "Softmax": "SOFTMAX"}
# torchvision's AdaptiveAvgPool2d((7, 7)) (AlexNet's (6, 6)) keeps the classifier at 7x7x512 at any
# input; cnncalc's VGG and AlexNet designs add it with -D torchvision=1 (the identity at 224x224, left
# out by default so that vgg16 stays the notes' table): the torchvision form is checked, at 224 and 320
TORCHVISION_FORM = re.compile(r"^torchvision = 0", re.M)
FUNCTIONAL_TAIL = {"densenet121": 1}  # F.relu at the end of forward: no module to compare with


def zoo_name(design: str) -> str:
    return design.partition("@")[0]


def cases() -> list:
    out = []
    for design in DESIGNS:
        marks = [] if zoo_name(design) in zoo.names() else [pytest.mark.skip(reason="not in the zoo yet")]
        out.append(pytest.param(design, marks=marks, id=design))
    return out


def text_and_settings(design: str) -> tuple[str, dict]:
    h, w, c = DESIGNS[design]["input"]
    text = zoo.path(zoo_name(design)).read_text()
    defines = ["torchvision=1"] if TORCHVISION_FORM.search(text) else []
    return text, {"input": f"{h}x{w}x{c}", "defines": defines}


def hwc(module: dict) -> tuple[int, int, int]:
    """The module's output as cnncalc's HxWxC: N x C x H x W, N x H x W x C ("layout": "nhwc"), or
    N x F (1x1xF)."""
    shape = module["shape"]
    if len(shape) == 2:
        return 1, 1, shape[1]
    if module.get("layout") == "nhwc":
        return shape[1], shape[2], shape[3]
    return shape[2], shape[3], shape[1]


def holding(design: str) -> list[dict]:
    """torchvision's modules that hold parameters or buffers, in execution order."""
    return [m for m in DESIGNS[design]["modules"] if m["params"] or m["buffers"]]


def layers_in_row_order(text: str, **settings) -> list:
    """The design's layers in the order of cnncalc's rows after INPUT: each arm of a branch in
    turn, then the branch itself (its merge row)."""
    out: list = []

    def walk(items) -> None:
        for item in items:
            if isinstance(item, Branch):
                for arm in item.arms:
                    walk(arm)
            out.append(item)

    walk(design_graph(text, **settings).items)
    return out


@pytest.mark.parametrize("design", cases())
def test_rows_holding_tensors_are_torchvisions_modules(design):
    text, settings = text_and_settings(design)
    report = cnncalc.plan(text, **settings)
    ours = [r for r in report.layers if r.params or r.buffers]
    theirs = holding(design)
    for i, (row, module) in enumerate(zip(ours, theirs)):
        got = ((row.output.h, row.output.w, row.output.c), row.params, row.buffers, row.macs)
        want = (hwc(module), module["params"], module["buffers"], module["macs"])
        assert got == want, (f"{design}: row {row.index} {row.name!r}, number {i + 1} of those holding tensors, "
                             f"(output, params, buffers, MACs) {got} is torchvision's {module['name']} "
                             f"({module['type']}) {want}")
    assert len(ours) == len(theirs), (f"{design}: {len(ours)} rows hold tensors, torchvision runs "
                                      f"{len(theirs)} modules that do")
    totals = DESIGNS[design]["totals"]
    assert (report.totals.params, report.totals.buffers, report.totals.macs) == \
        (totals["params"], totals["buffers"], totals["macs"])


@pytest.mark.parametrize("design", cases())
def test_norms_activations_and_dropouts_are_torchvisions(design):
    text, settings = text_and_settings(design)
    report = cnncalc.plan(text, **settings)
    layers = layers_in_row_order(text, **settings)
    assert [getattr(x, "kind", None) for x in layers] == [r.kind for r in report.layers[1:]], \
        "the design's layers are out of step with the plan's rows"
    ours = [x for x, r in zip(layers, report.layers[1:]) if r.params or r.buffers]
    for layer, module in zip(ours, holding(design)):
        for setting in ("eps", "momentum"):
            if setting in module.get("args", {}) and hasattr(layer, setting):
                assert getattr(layer, setting) == module["args"][setting], \
                    f"{design}: {layer!r}'s {setting} is {module['name']}'s {module['args'][setting]}"
    modules = DESIGNS[design]["modules"]
    for kind, what, mine, torchvisions in (
            ("act", "activation", lambda x: x.word, lambda m: ACTIVATIONS.get(m["type"])),
            ("dropout", "dropout", lambda x: f"DROPOUT({x.p:g})",
             lambda m: f"DROPOUT({m['args']['p']:g})" if m["type"] == "Dropout" else None)):
        theirs = [(torchvisions(m), m["name"]) for m in modules if torchvisions(m)]
        if kind == "act" and not theirs:  # GoogLeNet and Inception call F.relu: no module to compare with
            continue
        ours = [(mine(x), r) for x, r in zip(layers, report.layers[1:]) if r.kind == kind]
        if kind == "act":  # activations torchvision runs as functions at the end (DenseNet's last ReLU)
            ours = ours[:len(ours) - FUNCTIONAL_TAIL.get(zoo_name(design), 0)]
        for (got, row), (want, name) in zip(ours, theirs):
            assert got == want, f"{design}: row {row.index} {row.name!r} is torchvision's {name}, {want}"
        assert len(ours) == len(theirs), f"{design}: {len(ours)} {what} rows, torchvision runs {len(theirs)}"


def test_the_fixture_covers_the_zoo_and_the_upcoming_designs():
    assert {"alexnet", "vgg11", "vgg16", "vgg19", "vgg16_bn", "resnet18", "resnet34", "resnet50", "googlenet",
            "mobilenet_v2", "squeezenet1_0", "efficientnet_b0", "mobilenet_v3_large", "regnet_y_400mf",
            "shufflenet_v2_x1_0", "convnext_tiny", "inception_v3", "inception_v3_aux", "densenet121"} <= set(DESIGNS)
    assert FIXTURE["torchvision"].startswith("0.29.1")
    published = {"efficientnet_b0": 5_288_548, "mobilenet_v3_large": 5_483_032, "regnet_y_400mf": 4_344_144,
                 "shufflenet_v2_x1_0": 2_278_604, "convnext_tiny": 28_589_128, "inception_v3_aux": 27_161_264}
    assert {n: DESIGNS[n]["totals"]["params"] for n in published} == published
    for design in DESIGNS.values():  # every parameter is some recorded module's
        assert sum(m["params"] for m in design["modules"]) == design["totals"]["params"]
