"""Whatever the text, plan() either returns a Report or raises a CnnCalcError."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cnncalc
from cnncalc import zoo

SEEDS = [zoo.path("vgg16").read_text()] + [p.read_text() for p in sorted((Path(__file__).parent / "designs").glob("*.cnn"))]
PIECES = st.sampled_from(list("[]()|+-*/?=.,;#x0123456789 \n→é") + ["->", "CONV3-8", "POOL2", "N", "9" * 20, "-0"])


def plans_or_refuses(text: str) -> None:
    try:
        cnncalc.plan(text)
    except cnncalc.CnnCalcError:
        pass


@settings(max_examples=300, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=80))
def test_random_text(text):
    plans_or_refuses(text)


@settings(max_examples=500, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(SEEDS), st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 2), PIECES), max_size=4))
def test_mutated_designs(seed, edits):
    text = seed
    for where, op, piece in edits:
        k = where % (len(text) + 1)
        if op == 0:
            text = text[:k] + piece + text[k:]
        elif op == 1:
            text = text[:k] + text[k + 3:]
        else:
            text = text[:k] + text[k // 2:k] + text[k:]
    plans_or_refuses(text)
