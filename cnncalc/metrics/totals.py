"""The totals of a design, written once, for plan, compare and sweep: from a report's rows or from a
sweep's running sums, the same arithmetic.

Memory: a layer's output volume is stored unless the layer works in place (activations and dropout
while `inplace` is true) or is a view (FLATTEN, ID): each kind's `stored` rule. The sum over all
layers, the input included, reproduces the rows of the notes' VGGNet table. The notes' rule of
thumb for training ("x2 for the backward pass") is `training_bytes`: params + buffers + gradients
+ optimizer state + forward + backward, all in --dtype.
"""

from __future__ import annotations

from typing import NamedTuple

from ..settings import OPTIMIZERS


class Sums(NamedTuple):
    """What the rows add up to: params, buffers and MACs; elements stored by the forward pass per image;
    bytes autograd keeps for the batch."""

    params: int
    buffers: int
    macs: int
    stored: int
    saved: int


def sums(rows: list[dict]) -> tuple[Sums, list[str]]:
    """The rows' sums, and the metrics some row does not know (null: left out of the sums and named)."""
    partial = sorted({m for r in rows for m in r["unsupported"]})
    return Sums(sum(r["params"] for r in rows if r["params"] is not None),
                sum(r["buffers"] for r in rows if r["buffers"] is not None),
                sum(r["macs"] for r in rows if r["macs"] is not None),
                sum(r["activations"] for r in rows if r["memory_bytes"]),
                sum(r["saved_bytes"] for r in rows if r["saved_bytes"] is not None)), partial


def totals(s: Sums, dtype_bytes: int, batch: int, optimizer: str) -> dict:
    """The JSON contract's `totals` (params, buffers, macs, flops, activations and `memory`) of the sums."""
    params_bytes = s.params * dtype_bytes
    forward_image = s.stored * dtype_bytes
    forward = forward_image * batch
    state = OPTIMIZERS[optimizer]
    memory = {
        "dtype_bytes": dtype_bytes, "params_bytes": params_bytes, "buffers_bytes": s.buffers * dtype_bytes,
        "forward_bytes_per_image": forward_image, "forward_bytes": forward, "backward_bytes": forward,
        "gradients_bytes": params_bytes, "optimizer_bytes": params_bytes * state,
        "training_bytes": params_bytes * (2 + state) + s.buffers * dtype_bytes + 2 * forward,
        "saved_bytes": s.saved}
    return {"params": s.params, "buffers": s.buffers, "macs": s.macs, "flops": 2 * s.macs, "activations": s.stored,
            "memory": memory}


WALKED = ("params", "buffers", "macs", "flops", "activations")  # the measures a total names as itself
FROM_MEMORY = ("forward_bytes", "forward_bytes_per_image", "params_bytes", "training_bytes")


def measures(t: dict, fits: bool, rows: int, rf, saved: bool = False) -> dict:
    """A sweep's measures (cnncalc.measures) from totals() and what its walk saw: the fit, the row count
    and the receptive field at the last spatial row ((size, stride, padding) or None). With `saved` (a
    walk that kept the storages) also the saved bytes, and the peaks and the largest batch as None until
    the sweep simulates them."""
    memory = t["memory"]
    values = {**{name: t[name] for name in WALKED}, **{name: memory[name] for name in FROM_MEMORY},
              "fits": fits, "rows": rows, "rf": None if rf is None else max(rf[0])}
    if saved:
        values.update(saved_bytes=memory["saved_bytes"], training_peak_bytes=None, inference_peak_bytes=None,
                      cuda_total_bytes=None, max_batch=None)
    return values
