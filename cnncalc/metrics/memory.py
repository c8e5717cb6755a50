"""Activation memory: what each layer adds to the forward pass, per image.

A layer's output volume is stored unless the layer works in place (activations
and dropout while `inplace` is true) or is a view (FLATTEN, ID). The sum over
all layers, the input included, reproduces the rows of the notes' VGGNet table.
Merges (concat, add) store their output.
"""

from __future__ import annotations

from .. import layers as L
from .shapes import Shape

DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2, "int8": 1}
# optimizer state per parameter, in parameter-sized copies
OPTIMIZER_STATE = {"sgd": 0, "momentum": 1, "adam": 2}


def stored(layer: L._Layer | None, y: Shape) -> tuple[int, int]:
    """(activations, elements stored) of a layer's output; layer None is a merge."""
    activations = y.h * y.w * y.c
    if layer is None:
        return activations, activations
    match layer.kind:
        case "act" | "dropout":
            return activations, 0 if layer.inplace else activations
        case "flatten" | "id":
            return activations, 0
    return activations, activations
