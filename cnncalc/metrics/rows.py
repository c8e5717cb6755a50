"""The planner's walk of an expanded design: every row of the report, and its step for the training
simulation.

`Rows` is the one traversal (graph/walk.py) with the planner's accumulator: each layer and each
merge becomes one row of the JSON contract (`cnncalc.plan/1`), every metric from its kind's rule, or
null where the rule is UNSUPPORTED (named in the row's `unsupported`), plus its fit, its receptive
field, the storages autograd keeps (metrics/saved.py) and a `simulate.Step`. The walk carries, between
two items, the volume, its receptive field, its storage and what is known of it (saved.Flow). Rows
are plain dicts: cheap to build for 100,000 rows, serialised in Rust by pydantic-core, free of
pydantic's model machinery. sweeps/lean.py is the same walk for a sweep: the numbers summed, no row
kept.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right

from ..errors import position as where
from ..graph import LayerGraph
from ..graph.walk import Walk
from ..kinds import UNSUPPORTED, Branch, Item, Layer, Volume
from ..kinds.geometry import START
from ..settings import Settings
from ..simulate.steps import Setup, Step, readers, reads, setup_of
from . import fit, receptive, saved


def numbers(item: Item, x: Volume, y: Volume) -> tuple:
    """(weights, biases, buffers, formula, MACs, stored elements, the metrics not known) of one row by its
    kind's rules: an UNSUPPORTED metric is None and named ("params", "macs", "memory")."""
    unknown = []
    if item.params is UNSUPPORTED:
        unknown.append("params")
        weights = biases = buffers = formula = None
    else:
        weights, biases, buffers, formula = item.params(x, y)
    macs = None if item.macs is UNSUPPORTED else item.macs(x, y)
    stored = None if item.stored is UNSUPPORTED else item.stored(y)
    unknown += [name for name, value in (("macs", macs), ("memory", stored)) if value is None]
    return weights, biases, buffers, formula, macs, stored, tuple(unknown)


class Numbers:
    """A row's numbers by its kind's rules, the same wherever its item meets the same input and flow (and
    is frozen or not): its params (with their formula), MACs, what it adds to memory, what it saves and
    the flow after it, whether it runs in place or re-lays its weight's gradient, the metrics its kind
    does not know (`unsupported`, in the row's order), and `row`: the first row made of them (Rows)."""

    __slots__ = ("item", "y", "weights", "biases", "buffers", "params", "formula", "macs", "stored", "memory_bytes",
                 "unsupported", "inplace", "trainable", "saves", "after", "relaid", "implied", "row")

    @classmethod
    def of(cls, item: Item, x: Volume, y: Volume, flow: saved.Flow, frozen: bool, size: int, device: str) -> Numbers:
        n = cls()
        n.item, n.y, n.row = item, y, None
        n.weights, n.biases, n.buffers, n.formula, n.macs, n.stored, unknown = numbers(item, x, y)
        n.params = None if n.weights is None else n.weights + n.biases
        n.memory_bytes = None if n.stored is None else n.stored * size
        unsupported = list(unknown)
        n.inplace = item.runs_inplace(flow.protected)
        owns = n.params is None or n.params > 0
        n.trainable = not frozen or not owns
        n.saves, n.after = saved.apply(item, x, y, flow, owns and n.trainable, size, device)
        if not n.trainable and not item.keeps_input_when_frozen and flow.grad and n.saves is not UNSUPPORTED:
            n.saves = saved.NOTHING  # a frozen layer that keeps its input only for its weight's gradient keeps none
        if n.saves is UNSUPPORTED:
            unsupported.append("saved")
        layer = isinstance(item, Layer)
        if layer and item.receptive is UNSUPPORTED:
            unsupported.append("rf")
        n.unsupported = tuple(unsupported)
        n.relaid = layer and item.relaid_weight(x, y, flow.channels_last)
        n.implied = item.implied_pad(x, y) if layer else None
        return n


class Rows(Walk):
    """The rows of a plan and their steps (`run()` walks the graph once). `peaks`: the report will
    simulate the training step and inference (`check` does without: no warning about training)."""

    def __init__(self, graph: LayerGraph, settings: Settings, peaks: bool = True, batch=None) -> None:
        self.graph, self.settings, self.peaks = graph, settings, peaks
        self.batch = settings.batch if batch is None else batch  # a sweep's point's (a traced point's: a symbol)
        self.size = settings.dtype_bytes
        self.storages = saved.Storages(self.size, self.batch, settings.memory_rules)
        self.steps: list[Step] = []  # the training simulation's record of every row
        self.requires: dict[int, bool] = {}  # storage -> whether it requires grad
        self.inplace_rows: set[int] = set()  # rows that overwrite their input (the kind's runs_inplace)
        self.frames: list[tuple[int, list[int]]] = []  # open branches: their first step, their arms' storages
        self.sides: list[tuple[int, int]] = []  # each side head's rows: its first, its output row
        self.dense: list[tuple[int, int]] = []  # each dense unit (concat.dense): its first row (ID's), its merge row
        self.arm_calls: list[tuple[int, int]] | None = None  # the block calls' rows, sorted (call_around)
        self.rows: list[dict] = []
        self.problems: list[dict] = []
        self.notes: list[dict] = []  # windows that do not fit exactly but leave no input unseen
        self.spans: list = []  # where each problem is written
        self.warnings: list[str] = list(graph.warnings)
        self.warned_resize = self.warned_bn = False  # said once
        self.pinned = False  # a layer has fixed the height and width, whatever the input size (pins_size)
        self.places: dict[int, tuple[int, int, str]] = {}
        self.volumes: dict[Volume, dict] = {}
        self.last_field: tuple = (None, None)  # the last receptive field and its dict
        self.memo: dict = {}  # Layer.apply and Numbers per item, input and flow (a sweep's Lean: across points)

    def run(self):
        """Walk the graph: the input's row, then every item; the state after the last."""
        inp = self.graph.input
        x, rf, sid, flow = self.layer(inp, (inp.size, START, -1, saved.START), 0, None)
        self.started(rf)
        state = self.walk(self.graph.items, (x, rf, sid, saved.Flow(True, False)))
        self.hold_block_inputs(self.dense_blocks() if self.dense else {})
        self.requires.clear()  # the walk's own bookkeeping, done with (100,000 rows: 10 MB less at the peak)
        self.storages.saved.clear()
        return state

    def hold_block_inputs(self, inputs: dict[int, tuple[int, ...]]) -> None:
        """A block call's input lives until the call's last row has run: module-structured code (torchvision's
        models, cnncalc's export, where each call is an nn.Sequential) holds a module's input in its caller's
        frame until the module returns. `inputs`: a first row -> the inputs its call takes instead of the row's
        (a dense unit's: the features it is handed, the block's input first)."""
        steps = self.steps
        for block in self.graph.blocks:
            if block.kind == "call" and block.last > block.first:
                s = steps[block.last]
                held = inputs.get(block.first, steps[block.first].sids_in[:1])
                steps[block.last] = s._replace(keeps=(*s.keeps, *held))

    def dense_blocks(self) -> dict[int, tuple[int, ...]]:
        """The dense units' steps rewritten as torchvision's _DenseBlock runs them (kinds/merges.py, Concat): a run
        of units, each reading the one before and nothing else reading that, is one block. Each unit's merge
        concatenates the block's input and every arm output so far (the list, alive until the block's last
        merge); its arm reads the merge before (its first unit: a copy of the block's input), held until the
        arm's head has run (as far as its first row with MACs), and the head's output is held until the arm has
        run. Returns each unit's first row -> the features it is handed (a block call's input: hold_block_inputs)."""
        steps, inputs = self.steps, {}
        count = readers(steps, {})
        features: list[int] = []
        before = None  # the merge row of the unit before, while the run goes on
        for first, merge in self.dense:
            branch_in = steps[first].sids_in[0]
            own = sum(reads(steps[i]).count(branch_in) for i in range(first, merge + 1))
            if before is None or first != before + 1 or steps[before].sid_out != branch_in or count[branch_in] != own:
                features = [branch_in]  # a new block: its input first
                head = steps[first + 1]
                if head.copy is None:  # cat([x]): the first unit's concatenation copies the block's input
                    steps[first + 1] = head._replace(copy=self.storages.new(head.x))
            arm_in = steps[first + 1].copy if len(features) == 1 else branch_in
            inputs[first] = tuple(features)
            features.append(steps[merge].sids_in[1])
            steps[merge] = steps[merge]._replace(sids_in=tuple(features), holds=features[0])
            self.hold_within_unit(steps[merge].item, first + 1, merge - 1, arm_in)
            before = merge
        return inputs

    def hold_within_unit(self, unit: Branch, start: int, last: int, arm_in: int) -> None:
        """A dense unit's arm as torchvision's _DenseLayer: bn_function holds the concatenation until the head
        (as far as the first row with MACs, a convolution) returns; forward holds the head's output until the
        arm's last row has run."""
        steps = self.steps
        head = start - 1 + unit.head_length((s.item, s.x, s.y) for s in steps[start:last + 1])
        head = self.call_around(head, start, last)
        if head > start:
            steps[head] = steps[head]._replace(keeps=(*steps[head].keeps, arm_in))
        if head < last:
            steps[last] = steps[last]._replace(keeps=(*steps[last].keeps, steps[head].sid_out))

    def call_around(self, row: int, start: int, last: int) -> int:
        """The last row of the outermost block call within rows start..last that holds `row` (a module the
        head runs whole), or `row` itself."""
        calls = self.arm_calls
        if calls is None:
            calls = self.arm_calls = sorted((b.first, b.last) for b in self.graph.blocks if b.kind == "call")
        end = row
        for first, call_last in calls[bisect_left(calls, (start, start)):bisect_right(calls, (row, last + 1))]:
            if first <= row <= call_last <= last:
                end = max(end, call_last)
        return end

    def started(self, rf) -> None:
        """The input's row is made (Lean quotes the receptive field from there)."""

    # -- the walk's three questions ---------------------------------------------------------------------
    def layer(self, layer: Layer, state, depth: int, arm: int | None):
        """One layer's row, every metric from its kind's rules."""
        x, rf, sid, flow = state
        y, windows = self.shape(layer, x)
        place = self.place(layer.span)
        sid_out, copy = self.storage_of(layer, x, y, flow, sid)
        rf_rule = layer.receptive
        rf_out = None if rf is None or rf_rule is UNSUPPORTED else rf_rule(rf, x)
        if rf is not None and rf_out is None and rf_rule is not UNSUPPORTED:
            self.warnings.append(f"receptive fields are not reported after {layer.name} ({where(*place)}): "
                                 f"{layer.no_field(x)}")
        problem, note = self.fit(layer, windows, place)
        self.warn(layer, x, place)
        flow = self.add(layer, x, y, depth=depth, arm=arm, place=place, rf=rf_out, problem=problem, flow=flow,
                        sids_in=(sid,), sid_out=sid_out, note=note, copy=copy)
        return y, rf_out, sid_out, flow

    def branch(self, branch: Branch, state, depth: int, arm: int | None):
        self.frames.append((len(self.steps), []))
        return super().branch(branch, state, depth, arm)

    def arm(self, branch: Branch, state, index: int):
        """Each arm reads the branch's input (protected: every arm reads it); a split's arm a half of it."""
        x, rf, sid, flow = state
        start = self.storages.view(sid, half=True) if branch.splits_input else sid
        self.requires[start] = self.requires[sid]
        self.frames[-1][1].append(start)
        return branch.arm_input(x), rf, start, saved.Flow(True, flow.grad, flow.channels_last)

    def merge(self, branch: Branch, state, ends: list, names: list[str], depth: int, arm: int | None):
        """The merge's row. After a side head (its row is the head's output) what follows reads the branch's
        input, which the head may have saved: not to be overwritten."""
        x, rf, sid, flow = state
        first, starts = self.frames.pop()
        outs = [end[0] for end in ends]
        fields = [end[1] for end in ends]
        y = branch.join(outs, names)
        merged, strides_differ = receptive.merge(branch.fields(outs, y, fields))
        place = self.place(branch.span)
        if strides_differ:
            strides = ", ".join(f"{f[1][0]}" for f in fields if f)
            self.warnings.append(f"the branches merged at {where(*place)} have different effective strides "
                                 f"({strides}); the receptive field shown is the largest arm's")
        if branch.dense:
            self.dense.append((first, len(self.steps)))  # the merge's row is made next
        into = branch.into([end[3] for end in ends])  # a sum in place: the arm it overwrites
        grad = any(end[3].grad for end in ends)
        if branch.side:
            sid_out = ends[0][2]  # a side head's row: the head's output
        else:
            sid_out = self.storages.new(y) if into is None else ends[into][2]
        layout = branch.merged_layout(outs, y, [end[3].channels_last for end in ends])
        if into is not None:
            layout = ends[into][3].channels_last
        after = self.add(branch, x, y, depth=depth, arm=arm, place=place, rf=merged, problem=None,
                         flow=saved.Flow(False, grad, layout),
                         sids_in=tuple(end[2] for end in ends), sid_out=sid_out, holds=sid,
                         splits=tuple(starts) if branch.splits_input else ())
        if into is not None:
            self.inplace_rows.add(len(self.steps) - 1)
            if ends[into][3].grad != grad:  # into a frozen arm's output: the sum requires grad, that arm gets none
                self.steps[-1] = self.steps[-1]._replace(no_grad=(sid_out,))
        if branch.side:
            self.sides.append((first, len(self.steps) - 1))
            for i in range(first, len(self.steps)):  # they run in training only
                self.steps[i] = self.steps[i]._replace(side=True)
            return x, rf, sid, saved.Flow(True, flow.grad, flow.channels_last)
        return y, merged, sid_out, after

    # -- a row's parts ------------------------------------------------------------------------------------
    def fit(self, layer: Layer, windows, place: tuple[int, int, str]) -> tuple[str | None, str | None]:
        """The row's misfit text or note (the report's problems and notes take their entries)."""
        if windows is None or (windows[0].fits and windows[1].fits):
            return None, None
        text, entries = fit.misfits(layer, windows, len(self.rows), place[0], place[1], self.settings.fit_rule)
        for p in entries:
            p["source"] = place[2]
            if p["fit"] == "misfit":
                self.problems.append(p)
                self.spans.append(layer.span)
            else:
                self.notes.append(p)
        return (text, None) if any(p["fit"] == "misfit" for p in entries) else (None, text)

    def warn(self, layer: Layer, x: Volume, place: tuple[int, int, str]) -> None:
        """What a layer's kind says of it at this input and batch: params that grow with the input, a batch
        statistic over one value."""
        graph, batch = self.graph, self.batch
        if layer.grows_with_input and (x.h, x.w) != (1, 1) and not self.pinned and self.resized():
            self.warnings.append(
                f"{layer.name} ({where(*place)}) flattens {x}: its params grow with the input, here "
                f"{graph.input.size} where the design is written for {graph.written}; pool to a fixed size "
                f"before it (ADAPTIVEAVGPOOL7), as torchvision's VGG and AlexNet do (for the built-in vgg and alexnet "
                f"designs: -D torchvision=1)")
        if layer.pins_size:
            self.pinned = True
        if layer.batch_statistics and self.peaks and not self.warned_bn and layer.statistic_values(x, batch) == 1:
            self.warned_bn = True
            self.warnings.append(f"{layer.name} ({where(*place)}) normalises one value per {layer.statistic} at "
                                 f"batch {batch} ({x}): PyTorch refuses to {layer.refuses} it (the training peak is "
                                 f"that of a step it would not run); {layer.refuses} it at batch 2 or more")

    def resized(self) -> bool:
        """Is the input another size than the design writes (--input, -D input=), for the first time asked?
        (An FC that flattens a volume then has other params than the design's own: said once.)"""
        written = self.graph.written
        if written is None or written == self.graph.input.size or self.warned_resize:
            return False
        self.warned_resize = True
        return True

    def storage_of(self, layer: Layer, x: Volume, y: Volume, flow: saved.Flow, sid: int) -> tuple[int, int | None]:
        """The storage of the layer's output, and of the copy it makes of its input (or None): flattening a
        volume laid out otherwise than N x C x H x W (channels last, a crop) copies it, as a kind that
        orders its input (`orders_input`) copies a view out of order."""
        copies = (layer.flat_copy is not None and (x.h, x.w) != (1, 1)  # one position, or one channel laid out
                  and ((flow.channels_last and x.c > 1) or sid in self.storages.strided))  # channels last: in order
        if layer.orders_input and self.storages.out_of_order(sid, flow.channels_last and x.c > 1,
                                                                 layer.orders_input):
            return self.storages.output(layer, x, y, flow.protected, sid), self.storages.new(x)
        if copies and layer.flat_copy == "output":  # the copy is its output
            return self.storages.new(y), None
        return self.storages.output(layer, x, y, flow.protected, sid), self.storages.new(x) if copies else None

    def shape(self, layer: Layer, x: Volume):
        """The layer's output volume and windows on `x` (Layer.apply), computed once a walk."""
        key = (layer, x)
        known = self.memo.get(key)
        if known is None:
            known = self.memo[key] = layer.apply(x)
        return known

    def numbers(self, item: Item, x: Volume, y: Volume, flow: saved.Flow, frozen: bool) -> Numbers:
        """The row's numbers by its kind's rules (`Numbers`), computed once a walk for an item, an input, a
        flow and whether the row is frozen: a design repeats the same layer objects."""
        key = (item, x, flow, frozen)
        known = self.memo.get(key)
        if known is None:
            known = self.memo[key] = Numbers.of(item, x, y, flow, frozen, self.size, self.storages.device)
        return known

    def add(self, item: Item, x: Volume, y: Volume, *, depth: int, arm: int | None, place: tuple[int, int, str] | None,
            rf, problem: str | None, flow: saved.Flow, sids_in: tuple[int, ...], sid_out: int,
            holds: int | None = None, note: str | None = None, splits: tuple[int, ...] = (),
            copy: int | None = None) -> saved.Flow:
        """Append the row of a layer or a merge and its step; returns the flow after it."""
        index = len(self.steps)
        freeze = self.settings.freeze
        known = self.numbers(item, x, y, flow, freeze is not None and index <= freeze)
        if known.inplace:
            self.inplace_rows.add(index)
        saves = known.saves
        if saves is UNSUPPORTED:
            saved_bytes = None
        else:
            kept = item.kept(saves, (copy,) if copy is not None else sids_in, self.requires.get)
            saved_bytes = self.storages.charge(saves, kept, sid_out)
        self.steps.append(Step(item.kind, item, x, y, sids_in, sid_out, saves, known.weights, known.biases,
                               known.buffers, flow.grad, holds, known.trainable, None, known.relaid, copy, splits))
        self.requires[sid_out] = known.after.grad
        self.record(known, index, depth, arm, place, rf, problem, note, saved_bytes)
        return known.after

    def record(self, known: Numbers, index: int, depth: int, arm: int | None, place: tuple[int, int, str], rf,
               problem: str | None, note: str | None, saved_bytes: int | None) -> None:
        """The row of the JSON contract: its kind's numbers (a copy of the first row with them), then what
        is its own."""
        template = known.row
        if template is None:
            template = known.row = {
                "index": 0, "name": known.item.name, "kind": known.item.kind, "output": self.volume(known.y),
                "params": known.params, "weights": known.weights, "biases": known.biases, "buffers": known.buffers,
                "macs": known.macs, "activations": known.y.size, "memory_bytes": known.memory_bytes, "rf": None,
                "fits": True, "problem": None, "fit": "ok", "note": None, "formula": known.formula, "depth": 0,
                "arm": None, "line": 0, "column": 0, "source": "design", "saved_bytes": None, "unsupported": [],
                "implied_pad": known.implied}
        row = template.copy()
        row["index"] = index
        row["rf"] = self.field(rf)
        if problem is not None or note is not None:
            row.update(fits=problem is None, problem=problem, fit="misfit" if problem else "note", note=note)
        row["depth"], row["arm"] = depth, arm
        row["line"], row["column"], row["source"] = place
        row["saved_bytes"] = saved_bytes
        row["unsupported"] = known.unsupported  # a tuple: shared, and written as a list
        self.rows.append(row)

    # Equal volumes, receptive fields and places share one value.
    def volume(self, v: Volume) -> dict:
        value = self.volumes.get(v)
        if value is None:
            value = self.volumes[v] = {"h": v.h, "w": v.w, "c": v.c}
        return value

    def field(self, rf) -> dict | None:
        """The receptive field's dict; the last one's again when equal (a layer that keeps its input's field
        follows the one that made it): fields differ from row to row, so no more are kept."""
        if rf is None:
            return None
        if rf != self.last_field[0]:
            self.last_field = (rf, {"size": rf[0], "stride": rf[1], "padding": rf[2]})
        return self.last_field[1]

    def place(self, span) -> tuple[int, int, str]:
        """Line, column and the text they count in: "design", or the `-D NAME=VALUE` a block came from."""
        if span is None:
            return 0, 0, "design"
        key = id(span)
        if key not in self.places:
            self.places[key] = (*span.line_col(), span.source.label or "design")
        return self.places[key]

    @property
    def setup(self) -> Setup:
        """How the simulated step runs (simulate/)."""
        return setup_of(self.settings)
