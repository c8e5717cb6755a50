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

from .kinds import Volume as _Volume
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
    kind: str  # one of cnncalc.kinds.KINDS: input conv pool fc act dwconv deconv local … zeropad …, or a merge
    output: Volume
    params: int | None
    weights: int | None
    biases: int | None
    buffers: int | None
    macs: int | None
    activations: int  # elements of the output volume
    memory_bytes: int | None  # what the layer adds to forward memory, per image
    rf: ReceptiveField | None  # None: not defined (after DECONV or UPSAMPLE), or unsupported
    fits: bool  # no misfit (a note fits)
    problem: str | None  # the misfit's text
    fit: str = "ok"  # "ok", "note" (not exact, but no input is left unseen: metrics/fit.py) or "misfit"
    note: str | None = None  # the note's text
    formula: str | None  # the weights' arithmetic, "" for layers without weights
    depth: int  # 0 at the top level, +1 inside each branch
    arm: int | None  # which branch (1-based) of the enclosing parenthesis
    line: int  # where the layer is written: line and column in `source`
    column: int
    source: str = "design"  # the text line and column count in: "design", or the -D NAME=VALUE it came from
    saved_bytes: int | None = 0  # what autograd keeps for the backward pass in training mode, for the batch
    unsupported: list[str] = []  # the metrics (params, macs, memory, saved, rf) not known for this kind
    # the padding [h, w] a window used that `name` does not write (the "same" default of CONV, DWCONV, LOCAL),
    # where the output's H x W is not the input's: CONV3-10/2 on 7x7 uses [1, 1]; null otherwise
    implied_pad: tuple[int, int] | None = None
    # the row's module in the network `cnncalc export --to pytorch` writes, as named_modules() names it
    # (layers.res1.add1.arms.1.conv2); null for INPUT
    module: str | None = None
    # its place in the design: the block calls and X*N repeats around it, outermost first
    # ("bottleneck(64)*2 #1"); null at the top level
    path: str | None = None


class Block(_Model):
    """A block call, [..] group, X*N repeat or branch of the design, by the rows it made: what a table
    folds into one row (`plan --depth`). Records nest (`parent`) and never span the same rows twice."""

    id: int  # its index in `blocks`
    kind: str  # "call", "group", "repeat" or "branch"
    name: str  # basic(64) (the arguments' values), RELU*3, [CONV3-C -> BN]*2 (the count's value), or its text
    text: str  # as written, comments dropped, white space collapsed, at most 80 characters
    parent: int | None  # the id of the record around it; null at the top level
    level: int  # 1 for an item of the architecture's chain, +1 inside each record: --depth N folds level N
    depth: int  # the branch depth and arm it sits in, as its rows' `depth` and `arm`
    arm: int | None
    first: int  # the index of its first row
    last: int  # the index of its last row (a branch's merge)
    repeat: int | None  # N of X*N; null for the other kinds
    line: int  # where it is written: line and column in `source`
    column: int
    source: str = "design"
    # the sums of its rows (null when one of them does not know the metric); activations: of the rows
    # that add memory, as totals.activations
    params: int | None
    weights: int | None
    biases: int | None
    buffers: int | None
    macs: int | None
    memory_bytes: int | None  # per image
    saved_bytes: int | None  # for the batch
    activations: int


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
    fit: str = "misfit"  # "misfit" (in problems) or "note" (in notes: the floor drops only padding or a stride's gap)


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
    phase: str  # forward, loss, backward, recompute (a checkpointed segment, in backward) or optimizer
    index: int | None  # the row running at the peak; null outside the layers (the loss, the optimizer step)
    breakdown: PeakBreakdown


class CudaMemory(_Model):
    """What a CUDA device holds at the peak of the step (`--device cuda`): simulate/cuda.py."""

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


class Head(_Model):
    """An output of the network and what computing it takes: the network's own (the rows outside every
    side head), or a side head's (the rows before it outside side heads, and its own rows)."""

    row: int  # its last row: the network's last, or the side head's OUTPUT row
    output: Volume
    params: int
    buffers: int
    macs: int


class Totals(_Model):
    params: int
    buffers: int
    macs: int
    flops: int  # 2 x MACs
    activations: int  # elements stored by the rows that add memory, per image
    memory: Memory
    partial: list[str] = []  # metrics some row does not support: their totals leave those rows out
    trainable_params: int | None = None  # the params that train: all but those of --freeze's rows
    # with side heads `{ … }`: per output, the network's own first (null with one output)
    heads: list[Head] | None = None


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
    amp: str | None = None  # autocast's dtype in mixed-precision training (--amp), the parameters float32
    freeze: int | None = None  # fine-tuning (--freeze): the rows 1..freeze do not train
    checkpoint: list[tuple[int, int]] = []  # activation checkpointing (--checkpoint): row ranges recomputed in backward
    optimizer: str
    device: str = "cuda"  # whose memory rules apply: cuda or cpu
    foreach: bool = True  # the optimizer's implementation: foreach (all parameters at once) or a loop
    accumulate: int = 1  # micro-batches of `batch` whose gradients are summed before each optimizer step
    layers: list[Row]
    totals: Totals
    budget: Budget | None = None  # with a memory budget: the largest batch that fits it
    fit_rule: str = "coverage"  # how windows that do not fit exactly are judged: coverage or notes
    fits: bool  # no misfit: only notes, if anything
    problems: list[Problem]  # the misfits
    notes: list[Problem] = []  # windows that do not fit exactly but leave no input unseen
    input_fixes: dict[str, list[int]]  # nearest input sizes per axis ("h", "w") for which every layer fits
    warnings: list[str]
    assumptions: list[str]
    # the design's block calls, groups, repeats and branches, by row range ([] from check(): the fit alone)
    blocks: list[Block] = []

    def last_spatial(self) -> Row:
        """The last row before the first global layer (GAP, FC, FLATTEN): where receptive fields are quoted."""
        from .metrics.receptive import last_spatial

        return self.layers[last_spatial(self.layers)]

    def to_json(self, indent: int | None = 2) -> str:
        return self.model_dump_json(by_alias=True, indent=indent)

    # Exports and notebook displays. Each renders the plain contract dict, as the command line does,
    # and imports its renderer on first use (`import cnncalc` stays light).

    def _contract(self) -> dict:
        return self.model_dump(by_alias=True)

    def to_markdown(self, depth: int | None = None, columns: str | None = None) -> str:
        """The table, totals, fit, warnings and assumptions as GitHub markdown (`--format markdown`);
        `depth` folds the rows into the design's blocks, `columns` picks columns by contract key (as
        `plan --depth --columns`)."""
        from .render import render

        return render(self._contract(), "markdown", depth=depth, columns=columns)

    def to_csv(self) -> str:
        """One CSV row per layer, then the totals row (kind `total`), as `--format csv` writes."""
        from .render.csv import render_csv

        return render_csv(self._contract())

    def to_table(self, width: int | None = None, depth: int | None = None, columns: str | None = None,
                 notes: bool = False, assumptions: bool = False) -> str:
        """The plain-text table (no colour) and its sections, as `cnncalc plan` writes to a pipe (its warnings
        at the end, where the command line writes them on standard error); `width` hides the columns that
        give way until the table fits, None keeps them all; `depth` and `columns` as for to_markdown();
        `notes` shows each fit note in full (else a line per kind), `assumptions` lists them."""
        from .render import render

        return render(self._contract(), "table", width=width, depth=depth, columns=columns, notes=notes,
                      assumptions=assumptions)

    def to_svg(self, depth: int | None = None, style: str = "blocks", emphasis: str | None = None,
               direction: str | None = None, color: bool = True) -> str:
        """The design as an SVG picture, as `cnncalc draw` writes it: `style` "blocks" (a block diagram,
        `direction` "down" or "right") or "volumes" (a chain of 3D volumes, left to right); `depth` folds
        as to_markdown's does (None: every row, or past 100 boxes the deepest depth that fits, said in
        the caption); `emphasis` "memory", "params" or "macs" adds a bar for each box's share; `color`
        False draws in black and grey."""
        from .render.svg import render_svg

        return render_svg(self._contract(), depth=depth, style=style, emphasis=emphasis, direction=direction,
                          color=color)

    def to_html(self, depth: int | None = None, title: str = "", color: bool = True) -> str:
        """One self-contained HTML page, as `plan --format html` writes it: the diagram, the table with
        its blocks and arms foldable and bars for the shares of memory, params and MACs, the totals, the
        fit (each misfit linked to its row), warnings and assumptions; `depth` folds the diagram and the
        table's blocks of that level; `title` names the design."""
        from .render.html import render_html

        return render_html(self._contract(), depth=depth, title=title, color=color)

    def records(self, total: bool = False) -> list[dict]:
        """The rows as flat dicts keyed exactly as the CSV header (render/csv.py COLUMNS), with the
        values the CSV writes, typed: ints, None for a metric not known for the row's kind, `fits` a
        bool. Ready for `pandas.DataFrame(report.records())`. The CSV's totals row is left out
        unless `total=True`."""
        from .render.csv import records

        return records(self._contract(), total=total)

    def __repr__(self) -> str:
        from .render.units import short

        t, v = self.totals, self.input
        fit = "fits" if self.fits else f"{len(self.problems)} misfit{'s' * (len(self.problems) != 1)}"
        partial = f", partial: {', '.join(t.partial)}" if t.partial else ""
        batch = f", batch {self.batch}" if self.batch != 1 else ""
        return (f"<Report INPUT {v.h}x{v.w}x{v.c}: {len(self.layers):,} layers, {t.params:,} params, "
                f"{short(t.macs)} MACs{batch}, {fit}{partial}>")

    def __str__(self) -> str:
        """The text table and its sections, as to_table() (print(report) shows what `cnncalc plan` does,
        not pydantic's field dump); repr() stays the one line."""
        return self.to_table()

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def _repr_html_(self) -> str:
        """The table (the text table's columns) and its sections as self-contained HTML, for Jupyter, and
        the diagram (folded past 100 boxes, as to_svg()) behind a click."""
        from html import escape

        from .render.columns import COLUMNS, NAME, cells, header
        from .render.sections import fit_lines, totals_lines
        from .render.svg import draw

        report = self._contract()
        cell = "padding:1px 8px;white-space:nowrap;text-align:"
        align = [cell + ("right" if c.right else "left") for c in COLUMNS]
        out = ['<div class="cnncalc-report">',
               '<table class="cnncalc-layers" style="border-collapse:collapse;font-variant-numeric:tabular-nums">',
               "<thead><tr>" + "".join(f'<th style="{a}">{escape(t)}</th>' for a, t in zip(align, header(report)))
               + "</tr></thead>", "<tbody>"]
        for r in report["layers"]:
            texts = [escape(c) for c in cells(r)]
            texts[NAME] = "&nbsp;&nbsp;" * r["depth"] + texts[NAME]
            if not r["fits"]:
                texts[NAME] += " \u26a0"
            title = "" if r["fits"] else f' title="{escape(r["problem"] or "")}" style="color:#c00"'
            out.append(f"<tr{title}>" + "".join(f'<td style="{a}">{t}</td>' for a, t in zip(align, texts))
                       + "</tr>")
        out += ["</tbody>", "</table>"]

        def section(title: str, lines: list[str], style: str = "") -> None:
            if lines:
                out.append(f"<p><b>{escape(title)}</b></p><ul{style}>"
                           + "".join(f"<li>{line}</li>" for line in lines) + "</ul>")

        section("Totals", [f"<b>{escape(name)}</b>: {escape(text)}" for name, text in totals_lines(report)])
        section("Fit", [escape(line) for line in fit_lines(report)], "" if report["fits"] else ' style="color:#c00"')
        section("Warnings", [escape(w) for w in report["warnings"]])
        if report["assumptions"]:
            out.append("<details><summary><b>Assumptions</b></summary><ul>"
                       + "".join(f"<li>{escape(a)}</li>" for a in report["assumptions"]) + "</ul></details>")
        drawing = draw(report)
        folded = f" ({escape(drawing.note)})" if drawing.note else ""
        out.append(f"<details><summary><b>Diagram</b>{folded}</summary>{drawing.svg}</details>")
        out.append("</div>")
        return "\n".join(out)
