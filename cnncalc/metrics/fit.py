"""The fit of every window: a misfit's arithmetic and wording, its fixes, and the input sizes
for which a whole design fits.

A window fits when (in + 2p - k_eff) is divisible by the stride (the notes: "output H and
W must be integers"); otherwise the floor leaves `uncovered` rows or columns at the end of
the padded input, of which `dropped` are real input. The arithmetic is shapes.py's.
"""

from __future__ import annotations

from ..layers import Branch, Item, Layer, LayerGraph
from .shapes import Window, effective_kernel, transposed

SEARCH_REACH = 256  # input sizes tried on each side of the design's own
SEARCH_VISITS = 1_000_000  # work limit of the input-size search, in layer visits (about a third of a second)


def arithmetic(w: Window) -> str:
    """(7 - 3 + 2*0)/5 + 1 = 1.8"""
    exact = w.span / w.stride + 1
    text = f"{exact:.2f}".rstrip("0").rstrip(".")
    return f"({w.size} - {w.kernel} + 2*{w.pad})/{w.stride} + 1 = {text}"


def uncovered(w: Window) -> int:
    """Rows/columns at the end of the padded input that no window covers (floor mode)."""
    return w.span % w.stride


def dropped(w: Window) -> int:
    """Real input rows/columns (not padding) that no window covers; 0 in ceil mode."""
    return 0 if w.ceil else max(0, uncovered(w) - w.pad)


def pads_that_fit(w: Window, limit: int = 3) -> list[int]:
    fits = [p for p in range(0, w.kernel) if (w.size + 2 * p - w.kernel) % w.stride == 0 and w.size + 2 * p >= w.kernel]
    return sorted(fits, key=lambda p: (abs(p - w.pad), p))[:limit]


def strides_that_fit(w: Window, limit: int = 3) -> list[int]:
    top = max(w.stride * 2, 4)
    fits = [s for s in range(1, top + 1) if w.span % s == 0 and s != w.stride]
    return sorted(fits, key=lambda s: (abs(s - w.stride), s))[:limit]


def inputs_that_fit(w: Window) -> list[int]:
    """The nearest input sizes, below and above, for which this window fits."""
    below = w.size - uncovered(w)
    above = below + w.stride
    return [n for n in (below, above) if n + 2 * w.pad >= w.kernel and n >= 1]


def misfits(layer: Layer, windows: tuple[Window, Window], index: int, line: int, column: int
            ) -> tuple[str, list[dict]]:
    """A layer's misfit as the row's `problem` text and the report's `problems` entries (one per
    axis, or one for both when they are alike)."""
    h, w = windows
    same = (h.size, h.kernel, h.pad, h.stride) == (w.size, w.kernel, w.pad, w.stride)
    groups = [("H and W", h)] if same and not h.fits else [(f.axis, f) for f in windows if not f.fits]
    texts, problems = [], []
    for axis, fit in groups:
        if fit.ceil:
            effect = f"ceil mode keeps {fit.out}, adding a partial window at the end"
        elif dropped(fit):
            effect = f"the floor keeps {fit.out} and drops {_last(dropped(fit), axis)} of the input"
        else:
            effect = f"the floor keeps {fit.out}; only padding is dropped ({_last(uncovered(fit), axis)})"
        pads, strides, inputs = pads_that_fit(fit), strides_that_fit(fit), inputs_that_fit(fit)
        fixes = []
        if pads:
            fixes.append("p=" + " or p=".join(str(p) for p in pads))
        if strides:
            fixes.append("stride " + " or ".join(str(s) for s in strides))
        if inputs:
            fixes.append(f"an input {' or '.join(str(n) for n in inputs)} to this layer")
        fix_text = f"; fits with {', or '.join(fixes)}" if fixes else ""
        text = f"{axis}: {arithmetic(fit)} is not a whole number; {effect}{fix_text}"
        texts.append(text)
        problems.append({
            "index": index, "name": layer.name, "line": line, "column": column, "axis": axis,
            "arithmetic": arithmetic(fit), "output": fit.out, "uncovered": uncovered(fit), "dropped": dropped(fit),
            "pads": pads, "strides": strides, "inputs": inputs, "message": f"{layer.name} does not fit: {text}"})
    return "; ".join(texts), problems


def _last(n: int, axis: str) -> str:
    """'the last row', 'the last 3 rows and columns'."""
    words = {"H": ("row", "rows"), "W": ("column", "columns")}.get(axis, ("row and column", "rows and columns"))
    return f"the last {words[0]}" if n == 1 else f"the last {n} {words[1]}"


# -- the input sizes for which every window fits ---------------------------------------------------
def _slides(layer, axis: int, size: int) -> int | None:
    k_eff = effective_kernel(layer.kernel[axis], layer.dilation[axis])
    span = size + 2 * layer.pad[axis] - k_eff
    if span < 0 or span % layer.stride[axis]:
        return None
    return span // layer.stride[axis] + 1


def _transposes(layer, axis: int, size: int) -> int | None:
    out = transposed(size, layer.stride[axis], layer.pad[axis], layer.dilation[axis], layer.kernel[axis],
                     layer.output_padding[axis])
    return out if out >= 1 else None


def _keeps(layer, axis: int, size: int) -> int:
    return size


def _whole(layer, axis: int, size: int) -> int:
    return 1


# one arm per kind: (layer, axis, size along it) -> the size after the layer, None unless it fits
AXIS = {
    "input": _keeps,
    "conv": _slides,
    "pool": _slides,
    "fc": _whole,
    "dwconv": _slides,
    "deconv": _transposes,
    "local": _slides,
    "dropout": _keeps,
    "upsample": lambda layer, axis, size: size * layer.scale,
    "lrn": _keeps,
    "gap": _whole,
    "flatten": _whole,
    "bn": _keeps,
    "act": _keeps,
    "id": _keeps,
}


class SearchExhausted(Exception):
    """The input-size search used up its budget of layer visits."""


def size_if_fits(items: list[Item], axis: int, size: int, budget: list[int]) -> int | None:
    """The size along `axis` after `items`, or None unless every window fits. Each layer visited
    spends one unit of budget[0]; SearchExhausted when none is left."""
    budget[0] -= len(items)
    if budget[0] < 0:
        raise SearchExhausted
    for item in items:
        if isinstance(item, Branch):  # every arm must fit and agree
            sizes = {size_if_fits(arm, axis, size, budget) for arm in item.arms}
            if len(sizes) != 1 or None in sizes:
                return None
            size = sizes.pop()
        else:
            size = AXIS[item.kind](item, axis, size)
            if size is None:
                return None
    return size


def input_fixes(graph: LayerGraph, reach: int = SEARCH_REACH, visits: int = SEARCH_VISITS
                ) -> tuple[dict[str, list[int]], str | None]:
    """The nearest input sizes, below and above, for which every window of the design fits,
    searched within `reach` of the input and `visits` layer visits; and a warning when the
    search stopped on its budget."""
    items, x = graph.items, graph.input.size
    fixes: dict[str, list[int]] = {}
    budget = [visits]
    try:
        for axis, key, size in ((0, "h", x.h), (1, "w", x.w)):
            fixes[key] = found = []
            for candidates in (range(size - 1, max(0, size - reach), -1), range(size + 1, size + reach)):
                for n in candidates:
                    if size_if_fits(items, axis, n, budget) is not None:
                        found.append(n)
                        break
    except SearchExhausted:
        return fixes, (f"the search for input sizes that fit stopped after {visits:,} layer visits; "
                       f"the sizes shown are those found by then")
    return fixes, None
