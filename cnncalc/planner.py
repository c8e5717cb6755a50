"""Plan a design: Settings -> the expanded graph -> the one walk (metrics/rows.py) -> the simulated
peaks -> the JSON contract (`cnncalc.plan/1`) as plain dicts.

The command line renders that dict without building pydantic models (which would double its start);
`plan()` validates it into the pydantic `Report` in one pass.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from . import schema
from .errors import CnnCalcError, SettingsError, Span, position
from .expand import build
from .graph.blocks import row_paths
from .metrics.blocks import block_contract
from .graph import LayerGraph
from .kinds import Branch, Input, Volume
from . import simulate
from .metrics import fit
from .metrics.rows import Rows
from .metrics.totals import sums, totals
from .graph.modules import module_paths
from .settings import Settings, settings_of

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


def plan(text: str, *, defines: list[str] | tuple[str, ...] = (), label: str = "", settings: Settings | None = None,
         **options) -> Report:
    """Plan a design: the library's cnncalc.plan, which documents every option (the design's text as
    given; `label` names it in messages)."""
    from .report import Report

    return Report.model_validate(run(text, defines=defines, label=label, settings=settings, **options).data)


class Planned(NamedTuple):
    """A plan as the JSON-contract dict, and where in the design each of its problems is written."""

    data: dict
    spans: list[Span | None]  # one per data["problems"] entry


def run(text: str, *, defines: list[str] | tuple[str, ...] = (), label: str = "", settings: Settings | None = None,
        peaks: bool = True, **options) -> Planned:
    """Like plan(), as the plain contract dict (what the command line renders) with the problems' spans;
    `peaks=False` leaves the training and inference simulations out (`check` needs only the fit)."""
    settings = settings_of(settings, options)
    graph = design_graph(text, defines=defines, label=label, settings=settings)
    return analyze(graph, settings, peaks)


def plan_data(text: str, **options) -> dict:
    """The plan as the plain JSON-contract dict; options as for plan()."""
    return run(text, **options).data


def design_graph(text: str, *, defines: list[str] | tuple[str, ...] = (), label: str = "",
                 settings: Settings | None = None, **options) -> LayerGraph:
    """The expanded design (at the settings' input, optional items and layer limit): what plan, export and
    verify all start from."""
    settings = settings_of(settings, options)
    return build(text, defines, settings.input, settings.optional, settings.max_layers, label)


def analyze(graph: LayerGraph, settings: Settings | None = None, peaks: bool = True, fixes: bool = True,
            want: frozenset = simulate.ALL_PEAKS) -> Planned:
    """The report of an expanded graph: the walk, the totals, the simulated peaks and a budget's answers.
    `fixes`: search the input sizes that fit when a layer does not; `want`: the peaks beside the training
    step's to simulate (a sweep may want fewer)."""
    settings = settings or Settings()
    walk = Rows(graph, settings, peaks)
    walk.run()
    data = report(walk, fixes, want)
    if settings.max_input and data["budget"] is not None and data["budget"]["max_batch"] is not None:
        data["budget"]["max_input"] = found = largest_input(graph, settings)
        if found is None:
            data["warnings"].append(f"no square input at batch {settings.batch} fits the budget with every window "
                                    f"fitting (budget.max_input is null)")
    return Planned(data, walk.spans)


def report(walk: Rows, fixes: bool = True, want: frozenset = simulate.ALL_PEAKS) -> dict:
    """The JSON contract of a walk (Rows.run): rows, totals, the peaks, the budget, the fit and the notes."""
    graph, settings, rows = walk.graph, walk.settings, walk.rows
    input_fixes = {}
    if walk.problems and fixes:
        input_fixes, warning = fit.input_fixes(graph, rule=settings.fit_rule)
        if warning:
            walk.warnings.append(warning)
    t = walk_totals(walk)
    budget = peaks(walk, t, want) if walk.peaks else None
    for row, module, path in zip(rows, module_paths(graph), row_paths(graph.blocks, len(rows))):
        row["module"], row["path"] = module, path
    return {"schema": SCHEMA, "input": walk.volume(graph.input.size), "batch": settings.batch, "dtype": settings.dtype,
            "amp": settings.amp, "freeze": settings.freeze, "checkpoint": [list(seg) for seg in settings.checkpoint],
            "optimizer": settings.optimizer, "device": settings.memory_rules, "foreach": settings.uses_foreach,
            "accumulate": settings.accumulate, "layers": rows, "totals": t, "budget": budget,
            "fit_rule": settings.fit_rule, "fits": not walk.problems, "problems": walk.problems, "notes": walk.notes,
            "input_fixes": input_fixes,
            "warnings": walk.warnings,
            "assumptions": [*CONVENTIONS, *assumptions(settings, walk.peaks, graph), *in_place_sums(walk),
                            *graph.assumptions],
            "blocks": block_contract(graph.blocks, rows) if walk.peaks else []}  # check: the fit alone


def walk_totals(walk: Rows) -> dict:
    """The report's totals before the simulations: the rows' sums, the trainable params, the heads; with
    checkpoints, the rows marked; with --freeze, an error when nothing would train."""
    settings, rows, steps = walk.settings, walk.rows, walk.steps
    counted, partial = sums(rows)
    t = totals(counted, settings.dtype_bytes, settings.batch, settings.optimizer)
    t["partial"] = partial
    if settings.checkpoint:
        mark_segments(walk)
    t["trainable_params"] = sum((s.weights or 0) + (s.biases or 0) for s in steps if s.trainable)
    t["heads"] = heads(rows, steps, walk.sides) if walk.sides else None
    if settings.freeze is not None and walk.peaks and not any(s.trainable and (s.weights or s.biases) for s in steps):
        last = max((i for i, s in enumerate(steps) if s.weights or s.biases), default=0)
        raise SettingsError(f"freeze {settings.freeze} freezes every parameter: nothing would train (the design has "
                            f"rows 1 to {len(rows) - 1}; the last with parameters is row {last})")
    return t


def peaks(walk: Rows, t: dict, want: frozenset = simulate.ALL_PEAKS) -> dict | None:
    """The simulated peaks in the totals (a training step's and inference's; on CUDA the device's), and
    with a budget the report's `budget`: the largest batch that fits."""
    settings, steps, sizes, setup = walk.settings, walk.steps, walk.storages.sizes, walk.setup
    if settings.trains:
        budget = simulate.add_peaks(t, steps, sizes, setup, batch=settings.batch, budget=settings.budget,
                                    budget_for=settings.budget_for, want=want)
    else:  # int8: inference only
        t["memory"]["inference_peak_bytes"] = simulate.allocated(steps, sizes, setup, "inference", settings.batch)
        walk.warnings.append(f"{settings.dtype} is an inference type: no training step is simulated "
                             f"(training_peak_bytes is null)")
        t["memory"].update(training_peak_bytes=None, peak=None, cuda=None)
        budget = None
        if settings.budget is not None:
            most, one = simulate.largest_batch(steps, sizes, settings.budget, setup, settings.budget_mode,
                                               known={settings.batch: t["memory"]["inference_peak_bytes"]})
            budget = {"bytes": settings.budget, "for": "inference", "max_batch": most, "batch_1_bytes": one}
    if budget is not None:
        budget["max_input"] = None
    unknown = "training_peak" in t["partial"] and simulate.unsupported(steps, setup.amp)
    if unknown:
        index, why = unknown
        row = walk.rows[index]
        answer = "" if budget is None else ", so the budget has no answer"
        at = "" if row.get("line") is None else f" ({position(row['line'], row['column'], row.get('source') or 'design')})"
        walk.warnings.append(f"the training and inference peaks are not known{answer}: row {index}, {row['name']}{at}: "
                             f"{why}")
    return budget


def assumptions(settings: Settings, peaks: bool, graph: LayerGraph | None = None) -> list[str]:
    """What the memory figures assume beyond the conventions: tensor lifetimes, autocast's casts, the CUDA
    allocator's model."""
    lines = []
    if peaks and graph is not None and any(b.kind == "call" for b in graph.blocks):
        lines.append("tensor lifetimes: a block call is a module, whose input lives until the call's last row has run "
                     "(its caller holds it, as in torchvision's models and the export); the rows of a [..] group "
                     "free their inputs at their last read")
    if peaks and graph is not None and any(b.dense for b in branches(graph.items)):
        lines.append("dense blocks (concat.dense = true): a run of (ID | [..]) units keeps its input and each unit's "
                     "output in a list; each unit concatenates the list afresh (the first: a copy of the block's "
                     "input), holds it until its arm's first convolution has run, and the last concatenates it once "
                     "more, as torchvision's DenseNet (_DenseBlock) and the export (DenseUnit)")
    elif peaks and graph is not None and dense_units(graph.items):
        lines.append("dense units (ID | [..]) in a row: each concatenation is one new tensor, freed when the next is "
                     "made; torchvision's DenseNet keeps the features in a list and concatenates them all again in "
                     "every layer, which concat.dense = true models (DenseNet-121's inference at batch 24: 20.1% "
                     "above this model, measured; training peaks are equal)")
    if settings.amp is not None and peaks:
        lines.append(f"mixed precision (--amp {settings.amp}): the forward pass and the loss under autocast, "
                     f"parameters, gradients and optimizer state float32, with the casts autocast makes and caches "
                     f"(PyTorch 2.13's CPU autocast, measured; on CUDA the same casts are assumed); the per-row memory "
                     f"and saved columns count {settings.dtype} tensors")
    if settings.memory_rules != "cuda" or not peaks or not settings.trains:
        return lines
    return lines + [f"CUDA: reserved memory is a model of PyTorch's caching allocator (default configuration, one "
                    f"stream), not checked on a GPU; the context ({settings.cuda_context:,} B, --cuda-context) and the "
                    f"cuBLAS/cuDNN workspaces ({settings.cuda_workspace:,} B, --cuda-workspace) are assumptions, "
                    f"counted apart"]


def in_place_sums(walk: Rows) -> list[str]:
    """What the memory figures assume of the design's sums (a merge that reads `inplace`): in place or not."""
    if not walk.peaks:
        return []
    rows = [i for i, s in enumerate(walk.steps) if isinstance(s.item, Branch) and "inplace" in s.item.default_attrs()]
    if not rows:
        return []
    inplace = sum(1 for i in rows if i in walk.inplace_rows)
    if inplace == len(rows):
        return ["sums: each adds its other arms in place to one arm's output (add.inplace = true: `out += identity`, "
                "as torchvision's ResNet)"]
    if inplace:
        return [f"sums: {inplace} of {len(rows)} add in place to one arm's output (add.inplace = true); the others "
                f"make a new tensor: none of their arms may be overwritten (each ends in a layer that keeps its "
                f"output, or is ID)"]
    return ["sums: each makes a new tensor (x + f(x)); code that adds in place (`out += identity`, as torchvision's "
            "ResNet) is modelled by add.inplace = true"]


def dense_units(items: list) -> bool:
    """Are there two concatenations (ID | [..]) in a row anywhere in the design (DenseNet's dense block)?"""
    before = False
    for item in items:
        unit = isinstance(item, Branch) and item.concatenates and not item.splits_input and item.dense_unit(item.arms)
        if unit and before:
            return True
        before = unit
        if isinstance(item, Branch) and any(dense_units(arm) for arm in item.arms):
            return True
    return False


def branches(items: list):
    """Every branch of the design, however deeply nested."""
    for item in items:
        if isinstance(item, Branch):
            yield item
            for arm in item.arms:
                yield from branches(arm)


HEAD_SUMS = ("params", "buffers", "macs")


def heads(rows: list[dict], steps: list, sides: list[tuple[int, int]]) -> list[dict]:
    """Per output, what computing it takes: the network's own output, then each side head's. What a
    tensor takes is what its rows read, followed back: a layer adds itself to its input's; a merge adds
    each arm's own rows (its end's less the branch input's, which every arm starts from) and itself to
    the branch input's; a side head inside an arm takes that arm's rows before it, never a sibling arm's.
    One pass over the rows, however many heads."""
    taken: dict[int, tuple] = {-1: (0,) * len(HEAD_SUMS)}  # storage -> what computing it takes
    parent = {half: s.holds for s in steps for half in s.splits}  # a channel split's half -> what it halves
    add = lambda a, b: tuple(x + y for x, y in zip(a, b))  # noqa: E731

    def of(sid: int) -> tuple:
        while sid not in taken:  # a split's half takes what the storage it halves takes
            sid = parent[sid]
        return taken[sid]

    outputs = {}
    for i, (row, s) in enumerate(zip(rows, steps)):
        own = tuple(row[key] or 0 for key in HEAD_SUMS)
        if s.holds is None:
            total = add(of(s.sids_in[0]), own)
        else:
            base = of(s.holds)
            total = add(base, own)
            for end in s.sids_in[-1:] if s.item.dense else s.sids_in:  # a dense unit reads its block's features:
                total = add(total, tuple(e - b for e, b in zip(of(end), base)))  # its arm's output is its own
        if s.item.side:  # a side head's output row: its storage is its arm's end
            outputs[i] = total
        else:
            taken[s.sid_out] = total
    last = max(i for i, s in enumerate(steps) if not s.side)  # a design may end with a side head
    ends = [(last, of(steps[last].sid_out)), *((side_last, outputs[side_last]) for _, side_last in sides)]
    return [{"row": row, "output": rows[row]["output"], **dict(zip(HEAD_SUMS, sums))} for row, sums in ends]


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


def mark_segments(walk: Rows) -> None:
    """Mark the steps of each checkpointed segment, after checking it is whole top-level items
    (layers or branches) that the export can wrap, and does not start by overwriting its input."""
    rows, steps = walk.rows, walk.steps
    items = top_level_items(rows)
    starts = {a for a, _ in items}
    ends = {b for _, b in items}
    last = 0
    for n, (a, b) in enumerate(walk.settings.checkpoint):
        if b >= len(rows):
            raise SettingsError(f"checkpointed rows {a}-{b}: the design has rows 1 to {len(rows) - 1}")
        if a not in starts or b not in ends:
            raise SettingsError(f"checkpointed rows {a}-{b} must be whole top-level items (a layer, or a branch "
                                f"from its first arm's row to its merge row); the top-level items are rows "
                                f"{_items_text(items)}")
        if a <= last:
            raise SettingsError(f"checkpointed rows {a}-{b} overlap the segment before them")
        last = b
        first = next((i for i in range(a, b + 1) if not steps[i].item.shares_storage), None)
        if first in walk.inplace_rows:
            raise SettingsError(f"checkpointed rows {a}-{b} start with {steps[first].item.name} in place: it "
                                f"would overwrite the input the checkpoint keeps (start the segment with the "
                                f"item before, or write {steps[first].item.word}(inplace=false))")
        for i in range(a, b + 1):
            steps[i] = steps[i]._replace(ckpt=n)


def largest_input(graph: LayerGraph, settings: Settings) -> dict | None:
    """The largest square input, with the design's channels, at the settings' batch, whose every window
    fits (see metrics/fit.py) and whose simulated peak (as the budget counts it) fits the budget; None
    when none does. The peak grows with the input: a doubling and a bisection find the largest size
    that fits the budget (about 2*log2(size) simulations), then the sizes below it are tried for fit,
    as far as fit.SEARCH_REACH."""
    c, budget, setup = graph.input.size.c, settings.budget, simulate.setup_of(settings)
    visits = [fit.SEARCH_VISITS]

    def peak(size: int) -> int | None:
        """The peak at a size x size input, None where the design cannot take it."""
        resized = Input(graph.input.word, graph.input.span, size=Volume(size, size, c))
        walk = Rows(LayerGraph(resized, graph.items), settings, peaks=False)
        try:
            walk.run()
            report(walk, fixes=False)
        except CnnCalcError:
            return None
        if not simulate.supported(walk.steps, setup.amp):
            return None
        return simulate.held(walk.steps, walk.storages.sizes, setup, settings.budget_mode, settings.batch)

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
            if (all(fit.size_if_fits(graph.items, axis, n, visits, settings.fit_rule) is not None for axis in (0, 1))
                    and good(n)):
                return {"h": n, "w": n, "c": c}
    except fit.SearchExhausted:
        pass
    return None
