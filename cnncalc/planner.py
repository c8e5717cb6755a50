"""Walk a LayerGraph once, in execution order, and collect the report.

The walk builds the JSON contract (`cnncalc.plan/1`) directly as plain dicts and
lists: cheap to build for 100,000 rows, serialised in Rust by pydantic-core, and
free of pydantic's model machinery, which would double the start of the command
line. `plan()` turns that dict into the pydantic `Report` in one validation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import layers as L
from .errors import SettingsError
from .graph import MAX_LAYERS, Branch, LayerGraph, build
from .metrics import memory, receptive, saved, shapes
from .metrics.macs import macs
from .metrics.params import params
from .metrics.shapes import AxisFit, Shape

if TYPE_CHECKING:
    from .report import Report

SCHEMA = "cnncalc.plan/1"
SEARCH_VISITS = 1_000_000  # work limit of the input-size search (about a third of a second)
GLOBAL_KINDS = ("gap", "fc", "flatten")  # layers that act on the whole input

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


def parse_size(text: str, what: str = "input") -> tuple[int, int, int]:
    parts = text.lower().replace(" ", "").split("x")
    if len(parts) != 3 or not all(p.isdigit() for p in parts) or any(int(p) < 1 for p in parts):
        raise SettingsError(f"{what} size must be HxWxC with positive whole numbers, such as 224x224x3; got '{text}'")
    if any(len(p) > 9 for p in parts):
        raise SettingsError(f"{what} size '{text}' is too large")
    h, w, c = (int(p) for p in parts)
    return h, w, c


def plan(text: str, **settings) -> Report:
    """Plan a design: its table of layers, totals, fit problems, warnings and assumptions.

    Settings: defines (NAME=VALUE texts), input ("224x224x3" or (h, w, c)), batch, dtype
    (float32, float16, bfloat16, int8), optimizer (sgd, momentum, adam), optional
    (include, exclude), max_layers, label (names the text in messages).

    >>> plan("INPUT 32x32x3 -> CONV5-10 -> RELU").totals.params
    760
    """
    from .report import Report

    return Report.model_validate(plan_data(text, **settings))


def plan_data(text: str, *, defines: list[str] | tuple[str, ...] = (), input: str | tuple[int, int, int] | None = None,
              batch: int = 1, dtype: str = "float32", optimizer: str = "sgd", optional: str = "include",
              max_layers: int = MAX_LAYERS, label: str = "") -> dict:
    """Like plan(), as the plain JSON-contract dict (what the command line renders)."""
    if dtype not in memory.DTYPE_BYTES:
        raise SettingsError(f"unknown dtype '{dtype}' (choose from {', '.join(memory.DTYPE_BYTES)})")
    if optimizer not in memory.OPTIMIZER_STATE:
        raise SettingsError(f"unknown optimizer '{optimizer}' (choose from {', '.join(memory.OPTIMIZER_STATE)})")
    check_batch(batch)
    graph = design_graph(text, defines=defines, input=input, optional=optional, max_layers=max_layers, label=label)
    return analyze(graph, batch=batch, dtype=dtype, optimizer=optimizer)


def design_graph(text: str, *, defines: list[str] | tuple[str, ...] = (),
                 input: str | tuple[int, int, int] | None = None, optional: str = "include",
                 max_layers: int = MAX_LAYERS, label: str = "") -> LayerGraph:
    """The expanded design, its settings checked: what plan, export and verify all start from."""
    if optional not in ("include", "exclude"):
        raise SettingsError(f"optional must be include or exclude, got '{optional}'")
    if not isinstance(max_layers, int) or max_layers < 1:
        raise SettingsError(f"max_layers must be at least 1, got {max_layers!r}")
    size = parse_size(input) if isinstance(input, str) else input
    return build(text, defines, size, optional, max_layers, label)


def check_batch(batch) -> None:
    if not isinstance(batch, int) or batch < 1:
        raise SettingsError(f"batch must be a whole number of at least 1, got {batch!r}")


def analyze(graph: LayerGraph, *, batch: int = 1, dtype: str = "float32", optimizer: str = "sgd",
            saved_device: str = "cuda") -> dict:
    """The report of an expanded graph, as the JSON-contract dict. `saved_device` picks whose
    dropout rule the saved-for-backward bytes follow (see metrics/saved.py)."""
    return _Walker(graph, memory.DTYPE_BYTES[dtype], batch, saved_device).report(dtype, optimizer)


def last_spatial(rows: list) -> int:
    """Index of the last row before the first global layer (GAP, FC, FLATTEN): where receptive
    fields are quoted. Rows are the contract's dicts or Report rows."""
    last = 0
    for i, row in enumerate(rows):
        kind = row["kind"] if isinstance(row, dict) else row.kind
        if kind in GLOBAL_KINDS:
            break
        last = i
    return last


class _Walker:
    def __init__(self, graph: LayerGraph, dtype_bytes: int, batch: int, saved_device: str) -> None:
        self.graph = graph
        self.saved_device = saved_device
        self.size = dtype_bytes
        self.batch = batch
        # storages for the saved-for-backward model: id -> values per image; ids already saved
        self.storages: list[int] = []
        self.saved_ids: set[int] = set()
        self.rows: list[dict] = []
        self.problems: list[dict] = []
        self.warnings: list[str] = []
        self.places: dict[int, tuple[int, int]] = {}
        self.volumes: dict[Shape, dict] = {}
        self.fields: dict[tuple, dict] = {}

    # Equal volumes and receptive fields share one dict.
    def volume(self, shape: Shape) -> dict:
        value = self.volumes.get(shape)
        if value is None:
            value = self.volumes[shape] = {"h": shape.h, "w": shape.w, "c": shape.c}
        return value

    def field(self, rf) -> dict | None:
        if rf is None:
            return None
        value = self.fields.get(rf)
        if value is None:
            value = self.fields[rf] = {"size": rf[0], "stride": rf[1], "padding": rf[2]}
        return value

    def row(self, name: str, kind: str, y: Shape, weights: int, biases: int, buffers: int, n_macs: int,
            activations: int, stored: int, rf, problem: str | None, formula: str, depth: int, arm: int | None,
            place: tuple[int, int], saved_bytes: int) -> None:
        """One row of the contract, keys in the order of report.Row."""
        self.rows.append({
            "index": len(self.rows), "name": name, "kind": kind, "output": self.volume(y),
            "params": weights + biases, "weights": weights, "biases": biases, "buffers": buffers, "macs": n_macs,
            "activations": activations, "memory_bytes": stored * self.size, "rf": self.field(rf),
            "fits": problem is None, "problem": problem, "formula": formula, "depth": depth, "arm": arm,
            "line": place[0], "column": place[1], "saved_bytes": saved_bytes})

    def place(self, span) -> tuple[int, int]:
        if span is None:
            return 0, 0
        key = id(span)
        if key not in self.places:
            self.places[key] = span.line_col()
        return self.places[key]

    def storage(self, y: Shape) -> int:
        self.storages.append(y.h * y.w * y.c)
        return len(self.storages) - 1

    def saved_bytes(self, layer: L._Layer, x: Shape, y: Shape, first: bool, sid_in: int, sid_out: int) -> int:
        """Bytes the layer adds to what autograd keeps for the backward pass, for the batch."""
        saves_in, saves_out, per_image, per_batch = saved.saved(layer, x, y, first, self.size, self.saved_device)
        total = per_image * self.batch + per_batch
        for wanted, sid in ((saves_in, sid_in), (saves_out, sid_out)):
            if wanted and sid not in self.saved_ids:
                self.saved_ids.add(sid)
                total += self.storages[sid] * self.size * self.batch
        return total

    def report(self, dtype: str, optimizer: str) -> dict:
        batch = self.batch
        graph = self.graph
        inp = graph.input
        x = Shape(inp.h, inp.w, inp.c)
        rf0 = receptive.START
        volume = x.h * x.w * x.c
        self.row(inp.name, "input", x, 0, 0, 0, 0, volume, volume, rf0, None, "", 0, None, self.place(inp.span), 0)
        self.walk(graph.items, x, rf0, 0, None, self.storage(x))

        size = self.size
        rows = self.rows
        n_params = sum(r["params"] for r in rows)
        n_buffers = sum(r["buffers"] for r in rows)
        n_macs = sum(r["macs"] for r in rows)
        stored = sum(r["activations"] for r in rows if r["memory_bytes"])
        params_bytes = n_params * size
        forward_image = stored * size
        forward = forward_image * batch
        state = memory.OPTIMIZER_STATE[optimizer]
        mem = {"dtype_bytes": size, "params_bytes": params_bytes, "buffers_bytes": n_buffers * size,
               "forward_bytes_per_image": forward_image, "forward_bytes": forward, "backward_bytes": forward,
               "gradients_bytes": params_bytes, "optimizer_bytes": params_bytes * state,
               "training_bytes": params_bytes * (2 + state) + n_buffers * size + 2 * forward,
               "saved_bytes": sum(r["saved_bytes"] for r in rows)}
        totals = {"params": n_params, "buffers": n_buffers, "macs": n_macs, "flops": 2 * n_macs,
                  "activations": stored, "memory": mem}
        return {"schema": SCHEMA, "input": self.volume(x), "batch": batch, "dtype": dtype, "optimizer": optimizer,
                "layers": rows, "totals": totals, "fits": not self.problems, "problems": self.problems,
                "input_fixes": self.input_fixes(x) if self.problems else {}, "warnings": self.warnings,
                "assumptions": [*CONVENTIONS, *graph.assumptions]}

    def walk(self, items: list, x: Shape, rf, depth: int, arm: int | None, sid: int):
        for i, item in enumerate(items):
            if isinstance(item, Branch):
                x, rf, sid = self.branch(item, x, rf, depth, arm, sid)
            else:
                x, rf, sid = self.layer(item, x, rf, depth, arm, sid, first=arm is not None and i == 0)
        return x, rf, sid

    def layer(self, layer: L._Layer, x: Shape, rf, depth: int, arm: int | None, sid: int, first: bool):
        y, windows = shapes.output(layer, x)
        weights, biases, buffers, formula = params(layer, x, y)
        activations, stored = memory.stored(layer, y)
        rf_out = receptive.receptive(layer, rf, x)
        sid_out = sid if saved.shares_storage(layer, first) else self.storage(y)
        saved_bytes = self.saved_bytes(layer, x, y, first, sid, sid_out)
        line, col = self.place(layer.span)
        if rf is not None and rf_out is None:
            self.warnings.append(f"receptive fields are not reported after {layer.name} (line {line}, column "
                                 f"{col}): a transposed or upsampling layer maps outputs to fractions of an input pixel")
        problem = None
        if windows is not None and not (windows[0].fits and windows[1].fits):
            problem = self.misfit(layer, windows, len(self.rows), line, col)
        self.row(layer.name, layer.kind, y, weights, biases, buffers, macs(layer, x, y), activations, stored, rf_out,
                 problem, formula, depth, arm, (line, col), saved_bytes)
        return y, rf_out, sid_out

    def branch(self, branch: Branch, x: Shape, rf, depth: int, arm: int | None, sid: int):
        outs, fields, names = [], [], []
        for i, items in enumerate(branch.arms, start=1):
            y, f, _ = self.walk(items, x, rf, depth + 1, i, sid)
            outs.append(y)
            fields.append(f)
            names.append(items[-1].name if items and isinstance(items[-1], L._Layer) else
                         ("ID" if not items else "a merge"))
        y = shapes.merge(branch.mode, outs, names, branch.span)
        merged, strides_differ = receptive.merge(fields)
        line, col = self.place(branch.span)
        if strides_differ:
            strides = ", ".join(f"{f[1][0]}" for f in fields if f)
            self.warnings.append(f"the branches merged at line {line}, column {col} have different effective "
                                 f"strides ({strides}); the receptive field shown is the largest arm's")
        activations, stored = memory.stored(None, y)
        # concatenation and sums keep nothing for the backward pass
        self.row(branch.mode.upper(), branch.mode, y, 0, 0, 0, 0, activations, stored, merged, None, "", depth, arm,
                 (line, col), 0)
        return y, merged, self.storage(y)

    def misfit(self, layer: L._Layer, windows: tuple[AxisFit, AxisFit], index: int, line: int, col: int) -> str:
        h, w = windows
        same = (h.size, h.kernel, h.pad, h.stride) == (w.size, w.kernel, w.pad, w.stride)
        groups = [("H and W", h)] if same and not h.fits else [(f.axis, f) for f in windows if not f.fits]
        texts = []
        for axis, fit in groups:
            if fit.ceil:
                effect = f"ceil mode keeps {fit.out}, adding a partial window at the end"
            elif fit.dropped:
                effect = f"the floor keeps {fit.out} and drops {_last(fit.dropped, axis)} of the input"
            else:
                effect = f"the floor keeps {fit.out}; only padding is dropped ({_last(fit.uncovered, axis)})"
            fixes = []
            if fit.pads_that_fit():
                fixes.append("p=" + " or p=".join(str(p) for p in fit.pads_that_fit()))
            if fit.strides_that_fit():
                fixes.append("stride " + " or ".join(str(s) for s in fit.strides_that_fit()))
            if fit.inputs_that_fit():
                fixes.append(f"an input {' or '.join(str(n) for n in fit.inputs_that_fit())} to this layer")
            fix_text = f"; fits with {', or '.join(fixes)}" if fixes else ""
            text = f"{axis}: {fit.arithmetic} is not a whole number; {effect}{fix_text}"
            texts.append(text)
            self.problems.append({
                "index": index, "name": layer.name, "line": line, "column": col, "axis": axis,
                "arithmetic": fit.arithmetic, "output": fit.out, "uncovered": fit.uncovered, "dropped": fit.dropped,
                "pads": fit.pads_that_fit(), "strides": fit.strides_that_fit(), "inputs": fit.inputs_that_fit(),
                "message": f"{layer.name} does not fit: {text}"})
        return "; ".join(texts)

    def input_fixes(self, x: Shape, reach: int = 256, visits: int = SEARCH_VISITS) -> dict[str, list[int]]:
        """The nearest input sizes, below and above, for which every window of the design fits,
        searched within `reach` of the input and `visits` layer visits."""
        fixes: dict[str, list[int]] = {}
        budget = [visits]
        try:
            for axis, key, size in ((0, "h", x.h), (1, "w", x.w)):
                fixes[key] = found = []
                for candidates in (range(size - 1, max(0, size - reach), -1), range(size + 1, size + reach)):
                    for n in candidates:
                        if shapes.size_if_fits(self.graph.items, axis, n, budget) is not None:
                            found.append(n)
                            break
        except shapes.SearchExhausted:
            self.warnings.append(f"the search for input sizes that fit stopped after {visits:,} layer visits; "
                                 f"the sizes shown are those found by then")
        return fixes


def _last(n: int, axis: str) -> str:
    """'the last row', 'the last 3 rows and columns'."""
    words = {"H": ("row", "rows"), "W": ("column", "columns")}.get(axis, ("row and column", "rows and columns"))
    return f"the last {words[0]}" if n == 1 else f"the last {n} {words[1]}"


