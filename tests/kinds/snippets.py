"""What the kinds' tests share: the input every snippet reads, and the one layer (or merge) a snippet
makes. Each family's file (test_<family>.py) holds its kinds' cases, one table per rule, each expected
value written as its formula; test_registry.py checks that the tables together cover every kind."""

from __future__ import annotations

from cnncalc.kinds import Branch, Volume
from cnncalc.kinds.base import INDEX_BYTES, MASK_BYTES, STAT_BYTES  # noqa: F401  (the families' tables use them)
from cnncalc.kinds.geometry import START  # noqa: F401
from cnncalc.metrics import fit
from cnncalc.planner import design_graph

X = Volume(8, 8, 4)  # the input of every snippet
V = 8 * 8 * 4
F = 4  # float32


def item(snippet: str, x: Volume = X):
    """The first item (a layer, or a Branch) of `INPUT x -> snippet`; the input layer for 'INPUT'."""
    graph = design_graph(f"INPUT {x} -> {snippet}" if snippet != "INPUT" else f"INPUT {x}")
    return graph.input if snippet == "INPUT" else graph.items[0]


def output(it, x: Volume = X) -> Volume:
    if isinstance(it, Branch):  # arms of ID: each gives what it reads
        arm = it.arm_input(x)
        return it.join([arm] * len(it.arms), ["ID"] * len(it.arms))
    return it.apply(x)[0]


# -- one check per rule: the families' tests call these with their cases --------------------------------
def check_output(kind: str, snippet: str, expected: Volume) -> None:
    it = item(snippet)
    assert it.kind == kind
    assert output(it) == expected


def check_params(kind: str, snippet: str, expected: tuple[int, int, int]) -> None:
    it = item(snippet)
    assert it.kind == kind
    weights, biases, buffers, formula = it.params(X, output(it))
    assert (weights, biases, buffers) == expected
    assert (formula == "") == (weights + biases + buffers == 0)  # the weights' arithmetic, where there are any


def check_macs(kind: str, snippet: str, expected: int) -> None:
    it = item(snippet)
    assert it.kind == kind
    assert it.macs(X, output(it)) == expected


def check_stored(kind: str, snippet: str, expected: int) -> None:
    it = item(snippet)
    assert it.kind == kind
    assert it.stored(output(it)) == expected


def check_saves(kind: str, snippet: str, expected: tuple) -> None:
    """(keeps its input, keeps its output, bytes per image, bytes per batch), float32, on CUDA."""
    it = item(snippet)
    assert it.kind == kind
    assert it.saves(X, output(it), False, F, "cuda") == expected


def check_receptive(kind: str, snippet: str, expected) -> None:
    """The field from one pixel: (size, stride, padding) per axis."""
    it = item(snippet)
    assert it.kind == kind
    assert it.receptive(START, X) == expected


def check_axis(kind: str, snippet: str, size: int, expected) -> None:
    """The size along one axis when no window is a misfit (the input-size search), None when one is: by
    the notes' rule unless the case names the coverage rule."""
    rule, expected = expected if isinstance(expected, tuple) else ("notes", expected)
    it = item(snippet)
    assert it.kind == kind
    assert fit.size_after(it, 0, size, rule) == expected
