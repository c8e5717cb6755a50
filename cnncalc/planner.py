"""Walk a LayerGraph once, in execution order, and collect the report.

The walk asks each metric's table (`cnncalc.metrics`) for every row and builds
the JSON contract (`cnncalc.plan/1`) directly as plain dicts and lists: cheap to
build for 100,000 rows, serialised in Rust by pydantic-core, and free of
pydantic's model machinery, which would double the start of the command line.
`plan()` turns that dict into the pydantic `Report` in one validation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from . import schema
from .errors import CnnCalcError, SettingsError, Span, describe_char
from .errors import position as where
from .expand import MAX_LAYERS, OPTIONAL_MODES, block_contract, build
from .graph import LayerGraph
from .kinds import MAX_VALUE, UNSUPPORTED, Branch, Input, Item, Layer, Volume
from .metrics import fit, memory, receptive, saved, training
from .metrics import amp as amp_rules

if TYPE_CHECKING:
    from .report import Report

SCHEMA = schema.PLAN

CONVENTIONS = (
    "params are learnable parameters (PyTorch's parameters()); BN running mean and variance are "
    "buffers, reported apart (Keras adds them as non-trainable params); num_batches_tracked is not counted",
    "MACs count the multiply-accumulates of convolutions and fully connected layers; bias adds, pooling, "
    "normalisation, activations and merges count 0; FLOPs = 2 x MACs",
    "memory is per image and layer output; activations and dropout work in place (inplace = true), "
    "FLATTEN and ID are views and add nothing; the input is counted",
    "backward pass: as much memory again as the forward pass (the CS231n rule of thumb, an estimate)",
    "training memory = params + buffers + gradients + optimizer state + forward + backward, all in --dtype",
    "saved for backward: the tensors autograd keeps in training mode (PyTorch 2.13 rules, each storage once); "
    "dropout keeps a 1-byte mask as on CUDA (the CPU keeps a dtype-sized noise tensor)",
)


def parse_size(text: str, what: str = "input") -> Volume:
    """'224x224x3' (or 224×224×3) as a Volume; only the ASCII digits 0-9 are digits."""
    parts = text.lower().replace(" ", "").replace("\u00d7", "x").split("x")
    odd = next((c for c in text if not (c.isascii() and c.isprintable()) and c != "\u00d7"), None)
    if odd is not None:
        raise SettingsError(f"{what} size has the character {describe_char(odd)}: write HxWxC with the digits 0-9, "
                            f"such as 224x224x3")
    if len(parts) != 3 or not all(p.isdigit() for p in parts) or any(int(p) < 1 for p in parts):
        raise SettingsError(f"{what} size must be HxWxC with positive whole numbers, such as 224x224x3; got '{text}'")
    if any(len(p) > 9 for p in parts):
        raise SettingsError(f"{what} size '{text}' is too large (at most 9 digits per axis)")
    return Volume(*(int(p) for p in parts))


def check_size(size) -> Volume:
    """A size given as (h, w, c): three whole numbers from 1 to 10^15."""
    if (not isinstance(size, (tuple, list)) or len(size) != 3
            or not all(isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= MAX_VALUE for n in size)):
        raise SettingsError(f"input must be 'HxWxC' or (h, w, c) with whole numbers from 1 to 10^15, got {size!r}")
    return Volume(*size)


def plan(text: str, *, defines: list[str] | tuple[str, ...] = (), input: str | tuple[int, int, int] | None = None,
         batch: int = 1, dtype: str = "float32", optimizer: str = "sgd", device: str = "cuda",
         foreach: bool | None = None, budget: int | str | None = None, budget_for: str = "training",
         accumulate: int = 1, cuda_context: int | str = memory.CUDA_CONTEXT,
         cuda_workspace: int | str = memory.CUDA_WORKSPACE, max_input: bool = False, fit_rule: str = "coverage",
         amp: str | None = None, freeze: int | None = None, checkpoint: tuple | list = (),
         optional: str = "include", max_layers: int = MAX_LAYERS, label: str = "") -> Report:
    """Plan a design: its table of layers, totals, fit problems, warnings and assumptions.

    defines: NAME=VALUE texts that override the design's own; input: "224x224x3" or (h, w, c);
    batch; dtype: float32, float16, bfloat16, int8; optimizer: sgd, momentum, adam; device: cuda or
    cpu, whose memory rules apply (dropout's mask, the CUDA allocator's 512-byte blocks); foreach:
    the optimizer's implementation (None: PyTorch's default for the device, foreach on CUDA, a
    loop on the CPU); budget: a memory size (8GiB, 16GB, or bytes): the report's `budget` says the
    largest batch whose peak fits it, for budget_for training or inference; accumulate: gradient
    accumulation over that many micro-batches of `batch` (the peak is the last micro-batch's, whose
    gradients start alive; a budget then answers the micro-batch); cuda_context, cuda_workspace:
    what a CUDA device holds beside the allocator's segments (sizes: 400MiB; defaults and their
    sources in metrics/memory.py), counted in totals.memory.cuda and in a budget; max_input: with a
    budget, also the largest square input at `batch` whose every window fits and whose peak fits the
    budget (`budget.max_input`); fit_rule: "coverage" (a window that leaves real input unseen beyond
    its stride's gap is a misfit, one that drops only padding or that gap a note) or "notes" (the
    notes' rule: every non-integer output is a misfit); amp: float16 or bfloat16, mixed-precision
    training under autocast (the parameters, gradients and optimizer state float32: dtype must be
    float32); freeze: fine-tuning, the parameters of rows 1..freeze do not train (no gradients, no
    optimizer state, nothing saved before the first trainable layer); checkpoint: activation
    checkpointing, row ranges (first, last) or "first-last" texts, each whole top-level items (layers
    or branches), whose saved tensors are recomputed in backward; optional: include or
    exclude the items marked '?'; max_layers: refuse larger designs; label: names the text in messages.

    >>> plan("INPUT 32x32x3 -> CONV5-10 -> RELU").totals.params
    760
    """
    from .report import Report

    return Report.model_validate(run(text, defines=defines, input=input, batch=batch, dtype=dtype,
                                     optimizer=optimizer, device=device, foreach=foreach, budget=budget,
                                     budget_for=budget_for, accumulate=accumulate, cuda_context=cuda_context,
                                     cuda_workspace=cuda_workspace, max_input=max_input, fit_rule=fit_rule,
                                     amp=amp, freeze=freeze, checkpoint=checkpoint, optional=optional,
                                     max_layers=max_layers, label=label).data)


class Planned(NamedTuple):
    """A plan as the JSON-contract dict, and where in the design each of its problems is written."""

    data: dict
    spans: list[Span | None]  # one per data["problems"] entry


def run(text: str, *, defines: list[str] | tuple[str, ...] = (), input: str | tuple[int, int, int] | None = None,
        batch: int = 1, dtype: str = "float32", optimizer: str = "sgd", device: str = "cuda",
        foreach: bool | None = None, budget: int | str | None = None, budget_for: str = "training",
        accumulate: int = 1, cuda_context: int | str = memory.CUDA_CONTEXT,
        cuda_workspace: int | str = memory.CUDA_WORKSPACE, max_input: bool = False, fit_rule: str = "coverage",
        amp: str | None = None, freeze: int | None = None, checkpoint: tuple | list = (),
        optional: str = "include", max_layers: int = MAX_LAYERS, label: str = "", peaks: bool = True) -> Planned:
    """Like plan(), as the plain contract dict (what the command line renders) with the problems' spans;
    `peaks=False` leaves the training and inference simulations out (`check` needs only the fit)."""
    if dtype not in memory.DTYPE_BYTES:
        raise SettingsError(f"unknown dtype '{dtype}' (choose from {', '.join(memory.DTYPE_BYTES)})")
    if optimizer not in memory.OPTIMIZER_STATE:
        raise SettingsError(f"unknown optimizer '{optimizer}' (choose from {', '.join(memory.OPTIMIZER_STATE)})")
    check_batch(batch)
    check_device(device, foreach)
    budget = None if budget is None else parse_bytes(budget)
    if budget_for not in memory.BUDGET_FOR:
        raise SettingsError(f"a budget is for {' or '.join(memory.BUDGET_FOR)}, got '{budget_for}'")
    graph = design_graph(text, defines=defines, input=input, optional=optional, max_layers=max_layers, label=label)
    if not isinstance(accumulate, int) or isinstance(accumulate, bool) or not 1 <= accumulate <= MAX_VALUE:
        raise SettingsError(f"accumulate is a whole number of micro-batches from 1 to 10^15, got {accumulate!r}")
    cuda = training.Cuda(parse_bytes(cuda_context, "the CUDA context", zero=True),
                         parse_bytes(cuda_workspace, "the CUDA workspaces", zero=True))
    check_precision(dtype, amp, optimizer)
    if fit_rule not in fit.RULES:
        raise SettingsError(f"unknown fit rule '{fit_rule}' (choose from {', '.join(fit.RULES)})")
    if max_input and budget is None:
        raise SettingsError("max_input needs a budget: the largest input whose peak fits what (--budget 8GiB)?")
    walker = _Walker(graph, dtype, batch, optimizer, device, foreach, budget, budget_for, accumulate, peaks, cuda)
    walker.fit_rule, walker.amp = fit_rule, amp
    walker.freeze = check_freeze(freeze, amp)
    walker.checkpoint = parse_segments(checkpoint, amp)
    data = walker.report()
    if max_input and data["budget"] is not None and data["budget"]["max_batch"] is not None:
        data["budget"]["max_input"] = found = largest_input(walker)
        if found is None:
            data["warnings"].append(f"no square input at batch {batch} fits the budget with every window fitting "
                                    f"(budget.max_input is null)")
    return Planned(data, walker.spans)


def largest_input(base: _Walker) -> dict | None:
    """The largest square input, with the design's channels, at the walker's batch, whose every window
    fits (see metrics/fit.py) and whose simulated peak (as the budget counts it) fits the budget; None
    when none does. The peak grows with the input: a doubling and a bisection find the largest size
    that fits the budget (about 2*log2(size) simulations), then the sizes below it are tried for fit,
    as far as fit.SEARCH_REACH."""
    graph, c = base.graph, base.graph.input.size.c
    budget = base.budget
    visits = [fit.SEARCH_VISITS]

    def peak(size: int) -> int | None:
        """The peak at a size x size input, None where the design cannot take it."""
        resized = Input(graph.input.word, graph.input.span, size=Volume(size, size, c))
        walker = _Walker(LayerGraph(resized, graph.items), base.dtype, base.batch, base.optimizer, base.device,
                         base.foreach, accumulate=base.accumulate, peaks=False, cuda=base.cuda)
        walker.search_fixes = False
        walker.fit_rule, walker.amp = base.fit_rule, base.amp
        walker.freeze, walker.checkpoint = base.freeze, base.checkpoint
        try:
            walker.report()
        except CnnCalcError:
            return None
        steps, sizes = walker.steps, walker.storages.sizes
        if not training.supported(steps, base.setup.amp):
            return None
        return training.held(steps, sizes, base.setup, base.budget_mode, base.batch)

    memo: dict[int, int | None] = {}

    def good(size: int) -> bool:
        if size not in memo:
            memo[size] = peak(size)
        return memo[size] is not None and memo[size] <= budget

    size = graph.input.size.h
    while not good(size) and memo[size] is None:  # too small for the design (a kernel larger than its input)
        if size > fit.LARGEST // 2:
            return None
        size *= 2
    if not good(size):  # too large for the budget: bisect between sizes the design refuses and this one
        low, high = 0, size
        while high - low > 1:
            mid = (low + high) // 2
            if good(mid):
                size = mid
                break
            low, high = (mid, high) if memo[mid] is None else (low, mid)
        else:
            return None
    low, high = size, size * 2
    while high <= fit.LARGEST and good(high):
        low, high = high, high * 2
    high = min(high, fit.LARGEST + 1)
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (mid, high) if good(mid) else (low, mid)
    try:
        for n in range(low, max(0, low - fit.SEARCH_REACH), -1):
            if (all(fit.size_if_fits(graph.items, axis, n, visits, base.fit_rule) is not None for axis in (0, 1))
                    and good(n)):
                return {"h": n, "w": n, "c": c}
    except fit.SearchExhausted:
        pass
    return None


UNITS = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
         "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


def parse_bytes(value, what: str = "a memory budget", zero: bool = False) -> int:
    """A memory size: a whole number of bytes, or a number and a unit: 8GiB, 512 MiB (binary), 16GB
    (decimal), 1.5GiB; `what` names it in errors; `zero`: 0 is allowed."""
    if isinstance(value, int) and not isinstance(value, bool):
        number, unit = value, "b"
    else:
        text = str(value).strip().lower().replace(" ", "")
        digits = text.rstrip("abcdefghijklmnopqrstuvwxyz")
        unit = text[len(digits):] or "b"
        try:
            number = float(digits) if "." in digits else int(digits)
        except ValueError:
            number = None
        if number is None or unit not in UNITS or not digits.replace(".", "", 1).isdigit():
            raise SettingsError(f"a memory size is a number and a unit, such as 8GiB, 512MiB or 16GB "
                                f"(GiB and MiB binary, GB and MB decimal); got '{value}'")
    size = int(number * UNITS[unit])
    if size != number * UNITS[unit]:
        raise SettingsError(f"{what} is a whole number of bytes, got '{value}' ({number * UNITS[unit]:g} B)")
    if not (0 if zero else 1) <= size <= 2**60:
        raise SettingsError(f"{what} is from {0 if zero else 1} byte{'s' if zero else ''} to 1 EiB, got '{value}'")
    return size


def check_precision(dtype: str, amp: str | None, optimizer: str) -> None:
    """Refuse the combinations of --dtype, --amp and training that mean nothing."""
    if amp is not None and amp not in amp_rules.AMP:
        raise SettingsError(f"unknown amp dtype '{amp}' (choose from {', '.join(amp_rules.AMP)})")
    if amp is not None and dtype != "float32":
        raise SettingsError(f"--amp {amp} keeps the parameters in float32: --dtype must be float32 (--dtype "
                            f"{dtype} without --amp models pure {dtype} training)")
    if dtype not in memory.TRAINABLE and optimizer != "sgd":
        raise SettingsError(f"{dtype} is an inference type: an optimizer ({optimizer}) means nothing with it")


def top_level_items(rows: list[dict]) -> list[tuple[int, int]]:
    """(first row, last row) of every top-level item of a report's rows: a layer, or a branch from
    its first arm's row to its merge row (the next row at depth 0)."""
    items, start = [], None
    for r in rows[1:]:
        start = r["index"] if start is None else start
        if r["depth"] == 0:
            items.append((start, r["index"]))
            start = None
    return items


def _items_text(items: list[tuple[int, int]]) -> str:
    """'1, 2, 3, 4, 5-11, 12, ...' (at most 16 items shown)."""
    shown = [f"{a}" if a == b else f"{a}-{b}" for a, b in items[:16]]
    return ", ".join(shown) + (", ..." if len(items) > 16 else "")


def check_freeze(freeze, amp: str | None) -> int | None:
    if freeze is None:
        return None
    if not isinstance(freeze, int) or isinstance(freeze, bool) or not 0 <= freeze <= MAX_VALUE:
        raise SettingsError(f"freeze is the last frozen row, a whole number (0: none), got {freeze!r}")
    if amp is not None:
        raise SettingsError("frozen layers under --amp are not simulated yet: use one or the other")
    return freeze


def parse_segments(segments, amp: str | None) -> list[tuple[int, int]]:
    """Checkpointed segments as (first row, last row): from pairs or 'A-B' texts (a single row: 'A')."""
    if isinstance(segments, str) or (isinstance(segments, (tuple, list)) and len(segments) == 2
                                     and all(isinstance(n, int) for n in segments)):
        segments = [segments]  # one segment: "5-20" or (5, 20)
    out = []
    for seg in segments or ():
        if isinstance(seg, str):
            parts = seg.replace(" ", "").split("-")
            if not 1 <= len(parts) <= 2 or not all(p.isdigit() and len(p) <= 15 for p in parts):
                raise SettingsError(f"a checkpointed segment is rows FIRST-LAST, such as 5-20 (see the table's "
                                    f"#), got '{seg}'")
            seg = (int(parts[0]), int(parts[-1]))
        if (not isinstance(seg, (tuple, list)) or len(seg) != 2
                or not all(isinstance(n, int) and not isinstance(n, bool) for n in seg) or not 1 <= seg[0] <= seg[1]):
            shown = f"{seg[0]}-{seg[1]}" if isinstance(seg, (tuple, list)) and len(seg) == 2 else repr(seg)
            raise SettingsError(f"a checkpointed segment is rows FIRST-LAST with 1 <= FIRST <= LAST, got {shown}")
        out.append((seg[0], seg[1]))
    if out and amp is not None:
        raise SettingsError("activation checkpointing under --amp is not simulated yet: use one or the other")
    return sorted(out)


def check_device(device, foreach) -> None:
    if device not in memory.DEVICES:
        raise SettingsError(f"unknown device '{device}' (choose from {', '.join(memory.DEVICES)})")
    if foreach not in (None, True, False):
        raise SettingsError(f"foreach must be true, false or None (the device's default), got {foreach!r}")


def plan_data(text: str, **settings) -> dict:
    """The plan as the plain JSON-contract dict; settings as for plan()."""
    return run(text, **settings).data


def design_graph(text: str, *, defines: list[str] | tuple[str, ...] = (),
                 input: str | tuple[int, int, int] | None = None, optional: str = "include",
                 max_layers: int = MAX_LAYERS, label: str = "") -> LayerGraph:
    """The expanded design, its settings checked: what plan, export and verify all start from."""
    if optional not in OPTIONAL_MODES:
        raise SettingsError(f"optional must be include or exclude, got '{optional}'")
    if not isinstance(max_layers, int) or max_layers < 1:
        raise SettingsError(f"max_layers must be at least 1, got {max_layers!r}")
    size = None if input is None else parse_size(input) if isinstance(input, str) else check_size(input)
    return build(text, defines, size, optional, max_layers, label)


def check_batch(batch) -> None:
    if not isinstance(batch, int) or isinstance(batch, bool) or batch < 1:
        raise SettingsError(f"batch must be a whole number of at least 1, got {batch!r}")
    if batch > MAX_VALUE:
        raise SettingsError(f"batch must be at most 10^15, got a number of {len(str(batch))} digits")


def analyze(graph: LayerGraph, *, batch: int = 1, dtype: str = "float32", optimizer: str = "sgd",
            device: str = "cuda", foreach: bool | None = None, amp: str | None = None, freeze: int | None = None,
            checkpoint=()) -> dict:
    """The report of an expanded graph, as the JSON-contract dict. `device` picks whose memory rules
    apply (dropout's mask, the CUDA allocator's blocks: metrics/saved.py, metrics/training.py)."""
    walker = _Walker(graph, dtype, batch, optimizer, device, foreach)
    walker.amp = amp
    walker.freeze = check_freeze(freeze, amp)
    walker.checkpoint = parse_segments(checkpoint, amp)
    return walker.report()


class _Walker:
    def __init__(self, graph: LayerGraph, dtype: str, batch: int, optimizer: str, device: str,
                 foreach: bool | None = None, budget: int | None = None, budget_for: str = "training",
                 accumulate: int = 1, peaks: bool = True, cuda: training.Cuda | None = None) -> None:
        self.graph = graph
        self.cuda = cuda or training.Cuda(memory.CUDA_CONTEXT, memory.CUDA_WORKSPACE)
        self.budget, self.budget_for = budget, budget_for
        self.accumulate = accumulate  # micro-batches whose gradients are summed before the optimizer's step
        self.peaks = peaks  # simulate the training step and inference (check does without)
        self.search_fixes = True  # search input sizes that fit when a layer does not
        self.fit_rule = "coverage"  # how a window that does not fit is judged (metrics/fit.py)
        self.amp: str | None = None  # autocast's dtype (metrics/amp.py), the parameters float32
        self.freeze: int | None = None  # the rows 1..freeze do not train (their parameters are frozen)
        self.checkpoint: list[tuple[int, int]] = []  # checkpointed row ranges
        self.inplace_rows: set[int] = set()  # rows that overwrite their input (the kind's runs_inplace)
        self.want = training.ALL_PEAKS  # the peaks beside the training step's to simulate (a sweep may want fewer)
        self.notes: list[dict] = []  # windows that do not fit exactly but leave no input unseen
        self.dtype, self.batch, self.optimizer, self.device = dtype, batch, optimizer, device
        self.foreach = device == "cuda" if foreach is None else foreach
        self.size = memory.DTYPE_BYTES[dtype]
        self.storages = saved.Storages(self.size, batch, device)
        self.steps: list[training.Step] = []  # the training simulation's record of every row
        self.requires: dict[int, bool] = {}  # storage -> whether it requires grad
        self.warned_resize = False
        self.warned_bn = False  # a BN over one value per channel, said once
        self.pinned = False  # a layer has fixed the height and width, whatever the input size (pins_size)
        self.sides: list[tuple[int, int]] = []  # each side head's rows: its first, its output row
        self.rows: list[dict] = []
        self.problems: list[dict] = []
        self.spans: list[Span | None] = []  # where each problem is written
        self.warnings: list[str] = list(graph.warnings)
        self.places: dict[int, tuple[int, int, str]] = {}
        self.volumes: dict[Volume, dict] = {}
        self.fields: dict[tuple, dict] = {}

    # Equal volumes and receptive fields share one dict.
    def volume(self, v: Volume) -> dict:
        value = self.volumes.get(v)
        if value is None:
            value = self.volumes[v] = {"h": v.h, "w": v.w, "c": v.c}
        return value

    def field(self, rf) -> dict | None:
        if rf is None:
            return None
        value = self.fields.get(rf)
        if value is None:
            value = self.fields[rf] = {"size": rf[0], "stride": rf[1], "padding": rf[2]}
        return value

    def place(self, span: Span | None) -> tuple[int, int, str]:
        """Line, column and the text they count in: "design", or the `-D NAME=VALUE` a block came from."""
        if span is None:
            return 0, 0, "design"
        key = id(span)
        if key not in self.places:
            self.places[key] = (*span.line_col(), span.source.label or "design")
        return self.places[key]

    def report(self) -> dict:
        graph = self.graph
        inp = graph.input
        x, rf, sid, flow = self.row(inp, inp.size, receptive.START, 0, None, -1, saved.START)
        out, _, _, flow = self.walk(graph.items, x, rf, 0, None, sid, saved.Flow(True, False))
        self.mark_output(out, flow)
        rows = self.rows
        fixes = {}
        if self.problems and self.search_fixes:
            fixes, warning = fit.input_fixes(graph, rule=self.fit_rule)
            if warning:
                self.warnings.append(warning)
        totals = memory.totals(rows, self.size, self.batch, self.optimizer)
        if self.checkpoint:
            self.mark_segments()
        totals["trainable_params"] = sum((s.weights or 0) + (s.biases or 0) for s in self.steps if s.trainable)
        totals["heads"] = self.heads() if self.sides else None
        if self.freeze is not None and self.peaks and not any(s.trainable and (s.weights or s.biases)
                                                              for s in self.steps):
            last = max((i for i, s in enumerate(self.steps) if s.weights or s.biases), default=0)
            raise SettingsError(f"freeze {self.freeze} freezes every parameter: nothing would train (the design has "
                                f"rows 1 to {len(self.rows) - 1}; the last with parameters is row {last})")
        budget = None
        if self.peaks and self.dtype in memory.TRAINABLE:
            budget = training.add_peaks(totals, self.steps, self.storages.sizes, self.setup, batch=self.batch,
                                        budget=self.budget, budget_for=self.budget_for, want=self.want)
        elif self.peaks:  # int8: inference only
            totals["memory"]["inference_peak_bytes"] = training.allocated(self.steps, self.storages.sizes, self.setup,
                                                                          "inference", self.batch)
            self.warnings.append(f"{self.dtype} is an inference type: no training step is simulated "
                                 f"(training_peak_bytes is null)")
            totals["memory"].update(training_peak_bytes=None, peak=None, cuda=None)
            if self.budget is not None:
                most, one = training.largest_batch(self.steps, self.storages.sizes, self.budget, self.setup,
                                                   self.budget_mode)
                budget = {"bytes": self.budget, "for": "inference", "max_batch": most, "batch_1_bytes": one}
        if budget is not None:
            budget["max_input"] = None
        return {"schema": SCHEMA, "input": self.volume(inp.size), "batch": self.batch, "dtype": self.dtype,
                "amp": self.amp, "freeze": self.freeze,
                "checkpoint": [list(seg) for seg in self.checkpoint], "optimizer": self.optimizer, "device": self.device, "foreach": self.foreach,
                "accumulate": self.accumulate, "layers": rows,
                "totals": totals, "budget": budget,
                "fit_rule": self.fit_rule, "fits": not self.problems, "problems": self.problems, "notes": self.notes,
                "input_fixes": fixes,
                "warnings": self.warnings, "assumptions": [*CONVENTIONS, *self.device_assumptions(),
                                                           *graph.assumptions],
                "blocks": block_contract(graph.blocks, rows) if self.peaks else []}  # check: the fit alone

    def mark_output(self, out: Volume, flow: saved.Flow) -> None:
        """The network's output laid out channels last, larger than 1x1, is copied by the loss: not modelled."""
        if flow.channels_last and (out.h, out.w) != (1, 1):
            last = max(i for i, s in enumerate(self.steps) if not s.side)
            self.steps[last] = self.steps[last]._replace(unmodelled=True)

    def mark_segments(self) -> None:
        """Mark the steps of each checkpointed segment, after checking it is whole top-level items
        (layers or branches) that the export can wrap, and does not start by overwriting its input."""
        items = top_level_items(self.rows)
        starts = {a for a, _ in items}
        ends = {b for _, b in items}
        last = 0
        for n, (a, b) in enumerate(self.checkpoint):
            if b >= len(self.rows):
                raise SettingsError(f"checkpointed rows {a}-{b}: the design has rows 1 to {len(self.rows) - 1}")
            if a not in starts or b not in ends:
                raise SettingsError(f"checkpointed rows {a}-{b} must be whole top-level items (a layer, or a branch "
                                    f"from its first arm's row to its merge row); the top-level items are rows "
                                    f"{_items_text(items)}")
            if a <= last:
                raise SettingsError(f"checkpointed rows {a}-{b} overlap the segment before them")
            last = b
            first = next((i for i in range(a, b + 1) if not self.steps[i].item.shares_storage), None)
            if first in self.inplace_rows:
                raise SettingsError(f"checkpointed rows {a}-{b} start with {self.steps[first].item.name} in place: it "
                                    f"would overwrite the input the checkpoint keeps (start the segment with the "
                                    f"item before, or write {self.steps[first].item.word}(inplace=false))")
            for i in range(a, b + 1):
                self.steps[i] = self.steps[i]._replace(ckpt=n)

    @property
    def budget_mode(self) -> str:
        """What a budget must hold: a training step or inference (always inference for int8)."""
        return self.budget_for if self.dtype in memory.TRAINABLE else "inference"

    @property
    def setup(self) -> training.Setup:
        """How the simulated step runs (metrics/training.py)."""
        low = None if self.amp is None else amp_rules.AMP[self.amp]
        return training.Setup(self.size, self.optimizer, self.device, self.foreach, self.accumulate, low, self.cuda)

    def device_assumptions(self) -> list[str]:
        lines = []
        if self.amp is not None and self.peaks:
            lines.append(f"mixed precision (--amp {self.amp}): the forward pass and the loss under autocast, parameters, "
                         f"gradients and optimizer state float32, with the casts autocast makes and caches (PyTorch "
                         f"2.13's CPU autocast, measured; on CUDA the same casts are assumed); the per-row memory and "
                         f"saved columns count {self.dtype} tensors")
        if self.device != "cuda" or not self.peaks or self.dtype not in memory.TRAINABLE:
            return lines
        return lines + [f"CUDA: reserved memory is a model of PyTorch's caching allocator (default configuration, one "
                f"stream), not checked on a GPU; the context ({self.cuda.context:,} B, --cuda-context) and the "
                f"cuBLAS/cuDNN workspaces ({self.cuda.workspace:,} B, --cuda-workspace) are assumptions, "
                f"counted apart"]

    def heads(self) -> list[dict]:
        """Per output, what computing it takes: the network's own output (the rows outside every side
        head), then each side head's (the rows before it outside side heads, and its own)."""
        rows = self.rows
        inside = {i for first, last in self.sides for i in range(first, last + 1)}

        def head(row: int, indices) -> dict:
            picked = [rows[i] for i in indices]
            return {"row": row, "output": rows[row]["output"],
                    **{key: sum(r[key] or 0 for r in picked) for key in ("params", "buffers", "macs")}}

        trunk = [i for i in range(len(rows)) if i not in inside]
        main = head(trunk[-1], trunk)  # a design may end with a side head: its output is the trunk's last row
        return [main, *(head(last, [*(i for i in range(first) if i not in inside), *range(first, last + 1)])
                        for first, last in self.sides)]

    def resized(self) -> bool:
        """Is the input another size than the design writes (--input, -D input=), for the first time asked?
        (An FC that flattens a volume then has other params than the design's own: said once.)"""
        written = self.graph.written
        if written is None or written == self.graph.input.size or self.warned_resize:
            return False
        self.warned_resize = True
        return True

    def walk(self, items: list[Item], x: Volume, rf, depth: int, arm: int | None, sid: int, flow: saved.Flow):
        """The items of a chain; `flow` is what is known of its input (saved.Flow)."""
        for item in items:
            if isinstance(item, Branch):
                x, rf, sid, flow = self.branch(item, x, rf, depth, arm, sid, flow)
            else:
                x, rf, sid, flow = self.row(item, x, rf, depth, arm, sid, flow)
        return x, rf, sid, flow

    def row(self, layer: Layer, x: Volume, rf, depth: int, arm: int | None, sid: int, flow: saved.Flow):
        """One layer's row, every metric from its table; returns its output, field, storage and flow."""
        y, windows = layer.apply(x)
        line, column, source = self.place(layer.span)
        sid_out, copy = self.storage_of(layer, x, y, flow, sid)
        rf_rule = layer.receptive
        rf_out = None if rf is None or rf_rule is UNSUPPORTED else rf_rule(rf, x)
        if rf is not None and rf_out is None and rf_rule is not UNSUPPORTED:
            why = layer.no_field(x)
            self.warnings.append(f"receptive fields are not reported after {layer.name} "
                                 f"({where(line, column, source)}): {why}")
        problem = note = None
        if windows is not None and not (windows[0].fits and windows[1].fits):
            text, entries = fit.misfits(layer, windows, len(self.rows), line, column, self.fit_rule)
            for p in entries:
                p["source"] = source
                if p["fit"] == "misfit":
                    self.problems.append(p)
                    self.spans.append(layer.span)
                else:
                    self.notes.append(p)
            problem, note = (text, None) if any(p["fit"] == "misfit" for p in entries) else (None, text)
        if layer.grows_with_input and (x.h, x.w) != (1, 1) and not self.pinned and self.resized():
            self.warnings.append(
                f"{layer.name} ({where(line, column, source)}) flattens {x}: its params grow with the input, here "
                f"{self.graph.input.size} where the design is written for {self.graph.written}; pool to a fixed size "
                f"before it (ADAPTIVEAVGPOOL7), as torchvision's VGG and AlexNet do (for the built-in vgg and alexnet "
                f"designs: -D torchvision=1)")
        if layer.pins_size:
            self.pinned = True
        if layer.batch_statistics and x.h * x.w * self.batch == 1 and self.peaks and not self.warned_bn:
            self.warned_bn = True
            self.warnings.append(f"{layer.name} ({where(line, column, source)}) normalises one value per channel at "
                                 f"batch {self.batch} ({x}): PyTorch refuses to train it (the training peak is that "
                                 f"of a step it would not run); train at batch 2 or more")
        flow = self.add(layer, x, y, depth=depth, arm=arm, place=(line, column, source), rf=rf_out, rf_rule=rf_rule,
                        problem=problem, flow=flow, sids_in=(sid,), sid_out=sid_out, note=note, copy=copy,
                        implied=layer.implied_pad(x, y))
        return y, rf_out, sid_out, flow

    def storage_of(self, layer: Layer, x: Volume, y: Volume, flow: saved.Flow, sid: int) -> tuple[int, int | None]:
        """The storage of the layer's output, and of the copy it makes of its input (or None): flattening a
        volume laid out otherwise than N x C x H x W (channels last, a crop) copies it."""
        copies = (layer.flat_copy is not None and (x.h, x.w) != (1, 1)
                  and (flow.channels_last or sid in self.storages.strided))
        if copies and layer.flat_copy == "output":  # the copy is its output
            return self.storages.new(y), None
        return self.storages.output(layer, y, flow.protected, sid), self.storages.new(x) if copies else None

    def branch(self, branch: Branch, x: Volume, rf, depth: int, arm: int | None, sid: int, flow: saved.Flow):
        """The arms, each from the branch's input (protected: every arm reads it), then the merge's row. After a
        side head ("output": its row is the head's output) what follows reads the branch's input."""
        outs, fields, names, sids, grads, layouts, halves = [], [], [], [], [], [], []
        x_arm = branch.arm_input(x)
        side = branch.side
        first = len(self.steps)
        for i, items in enumerate(branch.arms, start=1):
            start = self.storages.view(sid) if branch.splits_input else sid  # a split's arm reads a half
            self.requires[start] = self.requires[sid]
            halves.append(start)
            y, f, arm_sid, arm_flow = self.walk(items, x_arm, rf, depth + 1, i, start,
                                                saved.Flow(True, flow.grad, flow.channels_last))
            outs.append(y)
            fields.append(f)
            sids.append(arm_sid)
            grads.append(arm_flow.grad)
            layouts.append(arm_flow.channels_last)
            names.append(items[-1].name if items and isinstance(items[-1], Layer) else
                         ("ID" if not items else "a merge"))
        y = branch.join(outs, names)
        merged, strides_differ = receptive.merge(branch.fields(outs, y, fields))
        line, column, source = self.place(branch.span)
        if strides_differ:
            strides = ", ".join(f"{f[1][0]}" for f in fields if f)
            self.warnings.append(f"the branches merged at {where(line, column, source)} have different effective "
                                 f"strides ({strides}); the receptive field shown is the largest arm's")
        sid_out = sids[0] if side else self.storages.new(y)  # a side head's row: the head's output
        after = self.add(branch, x, y, depth=depth, arm=arm, place=(line, column, source), rf=merged, rf_rule=None,
                         problem=None, flow=saved.Flow(False, any(grads), branch.merged_layout(outs, y, layouts)),
                         sids_in=tuple(sids), sid_out=sid_out, holds=sid,
                         splits=tuple(halves) if branch.splits_input else ())
        if side:
            self.sides.append((first, len(self.steps) - 1))
            for i in range(first, len(self.steps)):  # they run in training only
                self.steps[i] = self.steps[i]._replace(side=True)
            # what follows reads the head's input, which the head may have saved: not to be overwritten
            return x, rf, sid, saved.Flow(True, flow.grad, flow.channels_last)
        return y, merged, sid_out, after

    def add(self, item: Layer | Branch, x: Volume, y: Volume, *, depth: int, arm: int | None,
            place: tuple[int, int, str], rf, rf_rule, problem: str | None, flow: saved.Flow,
            sids_in: tuple[int, ...], sid_out: int, holds: int | None = None, note: str | None = None,
            splits: tuple[int, ...] = (), copy: int | None = None, implied: list[int] | None = None) -> saved.Flow:
        """Append the row of a layer or a merge, each metric from its kind's arm, or null where the arm
        is UNSUPPORTED (named in the row's `unsupported`); and its step for the training simulation.
        Returns the flow after it."""
        kind = item.kind
        unsupported = []
        if item.params is UNSUPPORTED:
            unsupported.append("params")
            weights = biases = buffers = n_params = formula = None
        else:
            weights, biases, buffers, formula = item.params(x, y)
            n_params = weights + biases
        if item.macs is UNSUPPORTED:
            unsupported.append("macs")
            n_macs = None
        else:
            n_macs = item.macs(x, y)
        if item.stored is UNSUPPORTED:
            unsupported.append("memory")
            memory_bytes = None
        else:
            memory_bytes = item.stored(y) * self.size
        if item.runs_inplace(flow.protected):
            self.inplace_rows.add(len(self.rows))
        owns = n_params is None or n_params > 0
        trainable = self.freeze is None or len(self.rows) > self.freeze or not owns
        saves, after = saved.apply(item, x, y, flow, owns and trainable, self.size, self.storages.device)
        if not trainable and not item.keeps_input_when_frozen and flow.grad and saves is not UNSUPPORTED:
            saves = saved.NOTHING  # it keeps its input only for its weight's gradient: frozen, none
        if saves is UNSUPPORTED:
            unsupported.append("saved")
            saved_bytes = None
        else:
            kept = item.kept(saves, (copy,) if copy is not None else sids_in, self.requires.get)
            saved_bytes = self.storages.charge(saves, kept, sid_out)
        if rf_rule is UNSUPPORTED:
            unsupported.append("rf")
        relaid = isinstance(item, Layer) and item.relaid_weight(x, y, flow.channels_last)
        self.steps.append(training.Step(kind, item, x, y, sids_in, sid_out, saves, weights, biases, buffers,
                                        flow.grad, holds, trainable, relaid=relaid, splits=splits, copy=copy))
        self.requires[sid_out] = after.grad
        self.rows.append({
            "index": len(self.rows), "name": item.name if isinstance(item, Layer) else kind.upper(), "kind": kind,
            "output": self.volume(y), "params": n_params, "weights": weights, "biases": biases, "buffers": buffers,
            "macs": n_macs, "activations": y.h * y.w * y.c, "memory_bytes": memory_bytes, "rf": self.field(rf),
            "fits": problem is None, "problem": problem, "fit": "misfit" if problem else "note" if note else "ok",
            "note": note, "formula": formula, "depth": depth, "arm": arm,
            "line": place[0], "column": place[1], "source": place[2], "saved_bytes": saved_bytes,
            "unsupported": unsupported, "implied_pad": implied})
        return after


def numbers(item: Item, x: Volume, y: Volume) -> tuple:
    """(weights, biases, buffers, MACs, stored elements, the metrics not known) of one row by its kind's
    tables, for sums: an UNSUPPORTED metric counts 0 and is named."""
    partial = []
    weights = biases = buffers = macs = stored = 0
    if item.params is UNSUPPORTED:
        partial.append("params")
    else:
        weights, biases, buffers, _ = item.params(x, y)
    if item.macs is UNSUPPORTED:
        partial.append("macs")
    else:
        macs = item.macs(x, y)
    if item.stored is UNSUPPORTED:
        partial.append("memory")
    elif item.stored(y):
        stored = y.h * y.w * y.c
    return weights, biases, buffers, macs, stored, tuple(partial)


class Lean(_Walker):
    """The planner's walk for a sweep: the same storages, flows and training steps, but the rows'
    numbers summed rather than kept (no row, text or warning), each item's numbers at an input and flow
    computed once (`memo`, kept across points: layers are immutable and a sweep's expansions share
    equal ones), and the training step's peak replayed from its compiled trace (metrics/traced.py)
    once its structure has been seen before (`traces`, kept across points). `measures()` gives what
    `measures.values` gives of the full report, which tests/test_sweep.py and tests/test_traced.py check."""

    MEMO = 100_000  # entries kept in `memo`; then it starts afresh
    COMPILE_AT = 8  # a structure's sightings before it is compiled (compiling costs about 13 simulations)

    def __init__(self, graph: LayerGraph, *args, memo: dict, traces: dict, **kwargs) -> None:
        super().__init__(graph, *args, **kwargs)
        if len(memo) > self.MEMO:
            memo.clear()
        self.memo, self.traces = memo, traces
        self.params = self.buffers = self.macs = self.stored = self.saved_bytes = 0
        self.partial: set[str] = set()
        self.fits = True
        self.spatial = True  # no global layer (GAP, FC, FLATTEN) at the top level yet
        self.last_rf = None  # the receptive field after the last spatial top-level row

    def measures(self) -> dict:
        """Every measure of measures.MEASURES: the inference peak, the GPU total and max_batch are null
        (the sweep asks the full walk for them)."""
        graph = self.graph
        inp = graph.input
        x, rf, sid, flow = self.row(inp, inp.size, receptive.START, 0, None, -1, saved.START)
        self.last_rf = rf
        out, _, _, flow = self.walk(graph.items, x, rf, 0, None, sid, saved.Flow(True, False))
        self.mark_output(out, flow)
        size, batch = self.size, self.batch
        params_bytes = self.params * size
        forward_image = self.stored * size
        forward = forward_image * batch
        rf = self.last_rf
        values = {"params": self.params, "buffers": self.buffers, "macs": self.macs, "flops": 2 * self.macs,
                  "activations": self.stored, "forward_bytes": forward, "forward_bytes_per_image": forward_image,
                  "params_bytes": params_bytes,
                  "training_bytes": params_bytes * (2 + memory.OPTIMIZER_STATE[self.optimizer])
                  + self.buffers * size + 2 * forward,
                  "saved_bytes": self.saved_bytes, "training_peak_bytes": None, "inference_peak_bytes": None,
                  "cuda_total_bytes": None, "max_batch": None, "fits": self.fits, "rows": len(self.steps),
                  "rf": None if rf is None else max(rf[0])}
        if self.peaks and self.dtype in memory.TRAINABLE and training.supported(self.steps, self.setup.amp):
            values["training_peak_bytes"] = self.peak()
        return values

    def peak(self) -> int:
        """The training step's peak: replayed from its structure's compiled trace where there is one; a
        structure is compiled when seen COMPILE_AT times (one that cannot be is simulated from then on)."""
        from .metrics import traced

        steps, sizes, setup = self.steps, self.storages.sizes, self.setup
        key = traced.structure(steps, sizes, setup)
        compiled = self.traces.get(key, 0)
        if type(compiled) is int:  # sightings so far
            compiled = self.traces[key] = (compiled + 1 if compiled + 1 < self.COMPILE_AT
                                           else traced.compile_peak(steps, sizes, setup))
        if callable(compiled):
            peak = compiled(steps, sizes, self.batch)
            if peak is not None:
                return peak
        return training.peak_of(steps, sizes, setup, self.batch).bytes

    def walk(self, items: list[Item], x: Volume, rf, depth: int, arm: int | None, sid: int, flow: saved.Flow):
        for item in items:
            if isinstance(item, Branch):
                x, rf, sid, flow = self.branch(item, x, rf, depth, arm, sid, flow)
            else:
                x, rf, sid, flow = self.row(item, x, rf, depth, arm, sid, flow)
            if depth == 0 and self.spatial:
                if item.acts_globally:
                    self.spatial = False
                else:
                    self.last_rf = rf
        return x, rf, sid, flow

    def row(self, layer: Layer, x: Volume, rf, depth: int, arm: int | None, sid: int, flow: saved.Flow):
        key = (layer, x)
        known = self.memo.get(key)
        if known is None:
            y, windows = layer.apply(x)
            known = self.memo[key] = (y, windows is None or (windows[0].fits and windows[1].fits) or not any(
                fit.judge(w, self.fit_rule) == "misfit" for w in windows if not w.fits))
        y, ok = known
        if not ok:
            self.fits = False
        sid_out, copy = self.storage_of(layer, x, y, flow, sid)
        rf_rule = layer.receptive
        rf_out = None if rf is None or rf_rule is UNSUPPORTED else rf_rule(rf, x)
        flow = self.add(layer, x, y, depth=depth, arm=arm, place=None, rf=rf_out, rf_rule=rf_rule, problem=None,
                        flow=flow, sids_in=(sid,), sid_out=sid_out, copy=copy)
        return y, rf_out, sid_out, flow

    def add(self, item: Item, x: Volume, y: Volume, *, flow: saved.Flow, sids_in: tuple[int, ...], sid_out: int,
            rf_rule, holds: int | None = None, splits: tuple[int, ...] = (), copy: int | None = None,
            **row) -> saved.Flow:
        key = (item, x, flow)
        known = self.memo.get(key)
        if known is None:
            weights, biases, buffers, macs, stored, partial = numbers(item, x, y)
            owns = "params" in partial or weights + biases > 0
            saves, after = saved.apply(item, x, y, flow, owns, self.size, self.storages.device)
            relaid = isinstance(item, Layer) and item.relaid_weight(x, y, flow.channels_last)
            if "params" in partial:
                weights = biases = buffers = None
            known = self.memo[key] = (weights, biases, buffers, macs, stored, partial, saves, after, relaid)
        weights, biases, buffers, macs, stored, partial, saves, after, relaid = known
        if weights is not None:
            self.params += weights + biases
            self.buffers += buffers
        self.macs += macs
        self.stored += stored
        if partial:
            self.partial.update(partial)
        if rf_rule is UNSUPPORTED:
            self.partial.add("rf")
        if saves is UNSUPPORTED:
            self.partial.add("saved")
        else:
            kept = item.kept(saves, (copy,) if copy is not None else sids_in, self.requires.get)
            self.saved_bytes += self.storages.charge(saves, kept, sid_out)
        self.steps.append(training.Step(item.kind, item, x, y, sids_in, sid_out, saves, weights, biases, buffers,
                                        flow.grad, holds, True, relaid=relaid, splits=splits, copy=copy))
        self.requires[sid_out] = after.grad
        return after
