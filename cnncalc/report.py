"""The result of planning a design: rows, totals, problems, warnings, assumptions.

These pydantic models are the library's public result and define the JSON
contract `cnncalc.plan/1` (`Report.model_dump_json(by_alias=True)`): keys may be
added, never renamed or removed. Its JSON Schema, generated from them, ships as
`cnncalc/schema/plan.schema.json`. The planner builds the same contract as plain
dicts (planner.py), which `plan()` validates into a Report; a test keeps the two
identical.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, WithJsonSchema

from .layers import Volume as _Volume
from .schema import PLAN


class _Model(BaseModel):
    # defer_build: the schema is built on first use, once for Report with its nested models
    model_config = ConfigDict(populate_by_name=True, defer_build=True,
                              json_schema_serialization_defaults_required=True)


def _volume_from(value):
    return (value["h"], value["w"], value["c"]) if isinstance(value, dict) else value


# A volume is the library's one Volume (h, w, c), written in JSON as {"h": …, "w": …, "c": …}.
Volume = Annotated[
    _Volume, BeforeValidator(_volume_from), PlainSerializer(lambda v: {"h": v.h, "w": v.w, "c": v.c}),
    WithJsonSchema({"type": "object", "title": "Volume", "description": "height x width x channels, per image",
                    "properties": {k: {"type": "integer", "minimum": 1} for k in "hwc"},
                    "required": ["h", "w", "c"]})]


class ReceptiveField(_Model):
    size: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]


class Row(_Model):
    """One layer or merge. A metric that is null is not known for the row's kind: it is named in
    `unsupported`, never counted as 0."""

    index: int
    name: str
    kind: str  # one of layers.ROW_KINDS: input conv pool fc dwconv deconv local dropout upsample lrn gap …
    output: Volume
    params: int | None
    weights: int | None
    biases: int | None
    buffers: int | None
    macs: int | None
    activations: int  # elements of the output volume
    memory_bytes: int | None  # what the layer adds to forward memory, per image
    rf: ReceptiveField | None  # None: not defined (after DECONV or UPSAMPLE), or unsupported
    fits: bool
    problem: str | None
    formula: str | None  # the weights' arithmetic, "" for layers without weights
    depth: int  # 0 at the top level, +1 inside each branch
    arm: int | None  # which branch (1-based) of the enclosing parenthesis
    line: int  # where the layer is written: line and column in `source`
    column: int
    source: str = "design"  # the text line and column count in: "design", or the -D NAME=VALUE it came from
    saved_bytes: int | None = 0  # what autograd keeps for the backward pass in training mode, for the batch
    unsupported: list[str] = []  # the metrics (params, macs, memory, saved, rf) not known for this kind


class Problem(_Model):
    """A window that does not fit: the floor drops rows or columns."""

    index: int
    name: str
    line: int
    column: int
    axis: str  # "H", "W" or "H and W"
    arithmetic: str  # (7 - 3 + 2*0)/5 + 1 = 1.8
    output: int  # what PyTorch computes
    uncovered: int  # rows/columns at the end of the padded input that no window covers
    dropped: int  # of those, real input rows/columns (0 in ceil mode)
    pads: list[int]  # paddings that fit
    strides: list[int]  # strides that fit
    inputs: list[int]  # nearest input sizes (to this layer) that fit
    message: str
    source: str = "design"  # where line and column count: "design", or the -D NAME=VALUE it came from


class PeakBreakdown(_Model):
    """Bytes live at the peak, by what they are."""

    params: int
    buffers: int
    gradients: int
    optimizer: int  # the optimizer's state (momentum, Adam's moments and steps)
    saved: int  # activations and other tensors kept for the backward pass
    other: int  # everything else: the batch and its targets, outputs still to be read, activation gradients,
    # temporaries


class Peak(_Model):
    phase: str  # forward, loss, backward or optimizer
    index: int | None  # the row running at the peak; null outside the layers (the loss, the optimizer step)
    breakdown: PeakBreakdown


class CudaMemory(_Model):
    """What a CUDA device holds at the peak of the step (`--device cuda`): metrics/allocator.py."""

    allocated_bytes: int  # the simulated peak with the allocator's 512-byte blocks (= training_peak_bytes)
    reserved_bytes: int  # the caching allocator's segments after two steps (a model, not checked on a GPU)
    context_bytes: int  # the CUDA context: a stated assumption (--cuda-context)
    workspace_bytes: int  # cuBLAS/cuDNN workspaces: a stated assumption (--cuda-workspace)
    total_bytes: int  # reserved + context + workspace: what must fit in the device's memory
    inference_reserved_bytes: int  # the same for inference (evaluation mode, no_grad)
    inference_total_bytes: int


class Memory(_Model):
    dtype_bytes: int
    params_bytes: int
    buffers_bytes: int
    forward_bytes_per_image: int
    forward_bytes: int  # for the whole batch
    backward_bytes: int  # the notes' rule of thumb: as much again for the backward pass
    gradients_bytes: int
    optimizer_bytes: int
    training_bytes: int  # params + buffers + gradients + optimizer state + forward + backward
    saved_bytes: int = 0  # what autograd keeps for the backward pass in training mode, for the batch
    # the simulated peak of live tensor bytes in one training step (see metrics/training.py); null when a
    # layer kind has no rule (named in totals.partial)
    training_peak_bytes: int | None = None
    peak: Peak | None = None  # when and in what that peak happens
    inference_peak_bytes: int | None = None  # the peak of an evaluation-mode forward pass under no_grad
    cuda: CudaMemory | None = None  # on --device cuda: allocated, reserved, context, workspaces


class Totals(_Model):
    params: int
    buffers: int
    macs: int
    flops: int  # 2 x MACs
    activations: int  # elements stored by the rows that add memory, per image
    memory: Memory
    partial: list[str] = []  # metrics some row does not support: their totals leave those rows out


class Budget(_Model):
    """The largest batch whose simulated peak fits a memory budget (`--budget`)."""

    bytes: int
    for_: str = Field(alias="for")  # training or inference
    max_batch: int | None  # 0: even batch 1 does not fit; null: the peak is not known (totals.partial)
    batch_1_bytes: int | None  # the peak at batch 1: how far over the budget when nothing fits
    # asked for (--max-input): the largest square input at the report's batch whose every window fits and
    # whose peak fits the budget; null when none does
    max_input: Volume | None = None


class Report(_Model):
    schema_: str = Field(default=PLAN, alias="schema")
    input: Volume
    batch: int
    dtype: str
    optimizer: str
    device: str = "cuda"  # whose memory rules apply: cuda or cpu
    foreach: bool = True  # the optimizer's implementation: foreach (all parameters at once) or a loop
    accumulate: int = 1  # micro-batches of `batch` whose gradients are summed before each optimizer step
    layers: list[Row]
    totals: Totals
    budget: Budget | None = None  # with a memory budget: the largest batch that fits it
    fits: bool
    problems: list[Problem]
    input_fixes: dict[str, list[int]]  # nearest input sizes per axis ("h", "w") for which every layer fits
    warnings: list[str]
    assumptions: list[str]

    def last_spatial(self) -> Row:
        """The last row before the first global layer (GAP, FC, FLATTEN): where receptive fields are quoted."""
        from .metrics.receptive import last_spatial

        return self.layers[last_spatial(self.layers)]

    def to_json(self, indent: int | None = 2) -> str:
        return self.model_dump_json(by_alias=True, indent=indent)
