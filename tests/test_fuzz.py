"""Whatever the text, plan() returns a Report or raises a CnnCalcError, within 2 s, and a Report
renders in every format.

Random text, and random mutations (inserted, deleted, duplicated characters; huge and negative
numbers, also as strides, kernels, dilations and scales; unicode: byte-order marks, non-ASCII
digits, control characters, non-breaking spaces) of every design in examples/ and tests/designs/.
Inputs that once broke something are kept below as fixed examples.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import cnncalc
from cnncalc import zoo
from cnncalc.render import FORMATS, render

SEEDS = [zoo.path(n).read_text() for n in zoo.names()] + [
    p.read_text() for p in sorted((Path(__file__).parent / "designs").glob("*.cnn"))]
PIECES = st.sampled_from(
    list("[]()|+-*/?=.,;#x0123456789 \n\t→é\u200b") + ["->", "CONV3-8", "POOL2", "N", "(", "9" * 40, "-7", "*0",
                                                     "*99999", "p9", "d0", "g3", "/0", "x0", "?", "(ID +", "|",
                                                     "conv.filters =", "INPUT", "GAP", "FC-",
                                                     # magnitudes: the fix search and sizes must not grow with them
                                                     "/99999999999999", "d999999999999", "p999999999999",
                                                     "CONV999999999999-1", "UPSAMPLE(999999999999999)",
                                                     "DECONV9-1/999999999999", "(ceil=true)", "AVGPOOL9/7",
                                                     # encodings
                                                     "\ufeff", "\u00d7", "\u00b2", "\uff12", "\x00", "\u00a0",
                                                     "\x1b", "\ud800"])

def fuzz(examples: int) -> settings:
    return settings(max_examples=examples, deadline=2000,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def plans_or_refuses(text: str) -> None:
    try:
        report = cnncalc.plan(text)
    except cnncalc.CnnCalcError:
        return
    for fmt in FORMATS:
        render(report, fmt)


@pytest.mark.slow
@fuzz(500)
@given(st.text(max_size=120))
@example("")
@example("[" * 10_000)
@example("INPUT 8x8x3 -> RELU*" + "9" * 15)
@example("INPUT 8x8x3 -> [[[RELU]*100000]*100000]*100000")
@example("INPUT 999999999x999999999x3 -> CONV3-999999999 -> FC-999999999")
def test_random_text(text):
    plans_or_refuses(text)


@fuzz(2500)
@given(st.sampled_from(SEEDS), st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 2), PIECES), max_size=5))
# found by this test: '*99999' after a residual block made ~800,000 rows, and the input-size search
# walked them once per candidate size (48 s); now the limit refuses it and the search has a budget
@example(zoo.path("resnet18").read_text(), [(974, 0, "*99999")])
# the robustness issue's reproductions: a stride, a kernel and a dilation of 15 digits
@pytest.mark.slow
@example("INPUT 64x64x3 -> CONV3-8/11000000", [])
@example("INPUT 8x8x3 -> CONV3-8/100000000000000", [])
@example("INPUT 20000001x1x1 -> CONV(filters=1, kernel=20000000x1, p=0)", [])
@example("INPUT 8x8x3 -> CONV3-8d999999999999p0", [])
@example("INPUT 1x1x1 -> UPSAMPLE(999999999999999)*21 -> CONV2-1/2p0", [])
def test_mutated_designs(seed, edits):
    text = seed
    for where, op, piece in edits:
        k = where % (len(text) + 1)
        if op == 0:
            text = text[:k] + piece + text[k:]
        elif op == 1:
            text = text[:k] + text[k + len(piece):]
        else:
            text = text[:k] + text[k // 2:k] + text[k:]
    plans_or_refuses(text)
