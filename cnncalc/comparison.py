"""Compare designs side by side: `cnncalc compare resnet18 resnet34 "resnet18@conv.bias=true"`.

Each design is planned with the same settings (batch, dtype, optimizer, amp, budget, ...) and the
same `-D` definitions, and its measures (`cnncalc.measures`) are set against the first design's:
as a ratio for amounts (params, MACs, bytes, the largest batch), as a difference for the receptive
field and the row count.

A variant of a design is the design, `@`, and its own bindings, each `NAME=VALUE` and separated by
`@`: `course@N=2`, `course@N=3@conv.filters=64`, `resnet18@input=160x160x3`. The bindings apply to
that design only, after the shared `-D`s (so they override them). `@` is never part of the design
language, so the split is unambiguous: an argument that names an existing file is that file, and
otherwise everything after the first `@` is bindings when every part reads as `NAME=VALUE`.

A `-D` needs only one design to use it: a design that does not use a `-D` name plans without it.
A variant's own binding must be used by its design, as a `-D` must for `plan`.
"""

from __future__ import annotations

import os
import re

from . import measures as M
from .dsl import names as dsl_names
from .dsl.parser import Parser, parse
from .errors import CnnCalcError, SettingsError, Source, visible
from .settings import Settings, settings_of
from .source import define_texts, design_text
from .where import columns as column_names

SCHEMA = "cnncalc.compare/1"
DEFAULT_COLUMNS = ("params", "buffers", "macs", "forward_bytes", "training_peak_bytes", "cuda_total_bytes",
                   "max_batch", "max_input", "rf", "fits", "rows")
_BINDING = re.compile(r"\s*[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?\s*=")


def split_variant(argument: str, exists=os.path.exists) -> tuple[str, list[str]]:
    """`course@N=2@M=3` as ("course", ["N=2", "M=3"]); an argument without bindings, or one that
    names an existing file, as (argument, [])."""
    if "@" not in argument:
        return argument, []
    try:
        if exists(argument):
            return argument, []
    except (OSError, ValueError):
        pass
    base, *bindings = argument.split("@")
    if not base.strip() or not all(_BINDING.match(b) for b in bindings):
        return argument, []
    return base, [b.strip() for b in bindings]


def _label(argument, text: str) -> str:
    """How a design is named in the comparison: its name or path as given, or its text, shortened."""
    if isinstance(argument, os.PathLike):
        return visible(os.fspath(argument))
    flat = visible(" ".join(text.split()) if argument == text else argument)
    return flat if len(flat) <= 40 else flat[:39] + "…"


class Entry:
    """One design of a comparison, read: its label, text, bindings (shared -D and its own), parsed."""

    def __init__(self, argument, text: str, label: str, own: list[str], source: str) -> None:
        self.argument, self.text, self.label, self.own = argument, text, label, own
        self.source = source  # what positions in the design are "in": its file or name, or "" for a text
        self.design = parse(text, source)
        self.own_statements = []
        for binding in own:
            self.own_statements.append(Parser(Source(binding, f"{label}@{binding}")).definition())


def read(designs, reader=None) -> list[Entry]:
    """The designs of a comparison, each an Entry. An item is a design text, a built-in name or a
    Path (as for plan()), a text with `@NAME=VALUE` bindings, or a (design, defines) pair; `reader`
    turns an argument into its text (the command line's reads files and standard input)."""
    entries = []
    for item in designs:
        own: list[str] = []
        if isinstance(item, tuple):
            if len(item) != 2:
                raise SettingsError(f"a design to compare is a text, a Path or a (design, defines) pair, got {item!r}")
            item, extra = item
            own = list(define_texts(extra))
        if isinstance(item, str):
            base, bindings = split_variant(item)
            own = bindings + own
            suffix = "".join(f"@{b}" for b in bindings)
            text = reader(base) if reader is not None else design_text(base, None)[0]
            source = "" if text == base else base
            label = _label(base, text) + suffix
        elif isinstance(item, os.PathLike):
            text, source = design_text(item, None)
            label = _label(item, text) + "".join(f"@{b}" for b in own)
        else:
            raise SettingsError(f"a design to compare is a text, a Path or a (design, defines) pair, got {item!r}")
        try:
            entries.append(Entry(item, text, label, own, source))
        except CnnCalcError as e:
            e.message = f"{label}: {e.message}"  # which of the designs
            raise
    return entries


class Comparison:
    """The designs' measures side by side: `data` is the JSON contract (`cnncalc.compare/1`);
    `designs` its entries, each {"label", "defines", "input", "values", "versus_first"}."""

    def __init__(self, data: dict) -> None:
        self.data = data

    @property
    def designs(self) -> list[dict]:
        return self.data["designs"]

    @property
    def columns(self) -> list[str]:
        return self.data["columns"]

    def __getitem__(self, label: str) -> dict:
        """A design's values by its label."""
        for design in self.designs:
            if design["label"] == label:
                return design["values"]
        raise KeyError(label)

    def to_json(self, indent: int | None = 2) -> str:
        from .render import to_json

        return to_json(self.data, indent)

    def render(self, fmt: str = "table", width: int | None = None) -> str:
        from .render.compare import render_compare

        return render_compare(self.data, fmt, width=width)

    def to_markdown(self) -> str:
        return self.render("markdown")

    def to_csv(self) -> str:
        return self.render("csv")

    def __repr__(self) -> str:
        labels = ", ".join(d["label"] for d in self.designs)
        return f"<Comparison of {len(self.designs)} designs: {labels}>"

    def __str__(self) -> str:
        """The table `cnncalc compare` prints."""
        return self.render("table")

    def _repr_html_(self) -> str:
        """The markdown table as HTML, for Jupyter: the measures down, the designs across."""
        from .render.compare import render_compare

        return render_compare(self.data, "html")

    def _repr_markdown_(self) -> str:
        return self.to_markdown()


def versus(measure: M.Measure, value, first):
    """A value set against the first design's: a ratio or a difference, None where not defined."""
    if measure.versus is None or value is None or first is None:
        return None
    if measure.versus == "delta":
        return value - first
    if first == 0:
        return None
    return round(value / first, 4)


def compare(designs, *, defines=(), columns=None, reader=None, settings: Settings | None = None,
            **options) -> Comparison:
    """Plan every design with the same settings and set their measures side by side.

    designs: at least one; each a design text, a built-in name ("resnet18") or a Path, a text with
    its own bindings after '@' ("course@N=2@M=3"), or a (design, defines) pair; defines: shared by
    every design (each uses those it names); columns: the measures ("params,macs,training_peak" or a
    list; default: params, buffers, macs, forward_bytes, training_peak_bytes, cuda_total_bytes on
    cuda, max_batch with a budget, max_input with max_input, rf, fits, rows); settings (a
    cnncalc.Settings) and options: plan()'s (input, batch, dtype, optimizer, amp, memory_rules, budget,
    freeze, checkpoint, ...), shared by every design.

    >>> c = compare(["INPUT 32x32x3 -> CONV3-8", "INPUT 32x32x3 -> CONV3-16"], columns="params")
    >>> [d["values"]["params"] for d in c.designs], c.designs[1]["versus_first"]["params"]
    ([224, 448], 2.0)
    """
    settings = settings_of(settings, options)
    designs = list(designs) if not isinstance(designs, (str, os.PathLike)) else [designs]
    if not designs:
        raise SettingsError("compare needs at least one design")
    entries = read(designs, reader)
    shared = list(define_texts(defines))
    statements = [Parser(Source(d, f"-D {d}")).definition() for d in shared]
    dsl_names.refuse_unused([e.design for e in entries], statements)  # used by at least one design
    chosen = _columns(columns, settings)
    rows = [_row(entry, shared, statements, settings, chosen) for entry in entries]
    first = rows[0]["values"]
    for row in rows:
        row["versus_first"] = {name: versus(M.MEASURES[name], row["values"][name], first[name]) for name in chosen}
    return Comparison({"schema": SCHEMA, "columns": chosen,
                       "versus": {name: M.MEASURES[name].versus for name in chosen},
                       "settings": _settings(settings, shared), "designs": rows})


def _columns(columns, settings: Settings) -> list[str]:
    """The measures compared: those named, each with what it needs; or the default ones for these settings."""
    if columns is None:
        chosen = [c for c in DEFAULT_COLUMNS if (c != "max_batch" or settings.budget is not None)
                  and (c != "max_input" or settings.max_input)]
        if settings.memory_rules != "cuda":
            chosen.remove("cuda_total_bytes")
        return chosen
    chosen = column_names(columns)
    if "max_batch" in chosen and settings.budget is None:
        raise SettingsError("max_batch needs a budget: add --budget 8GiB (budget= in the library)")
    if "max_input" in chosen and not settings.max_input:
        raise SettingsError("max_input needs --max-input and a budget: add --budget 8GiB --max-input "
                            "(budget=, max_input=True in the library)")
    return chosen


def _row(entry, shared: list[str], statements: list, settings: Settings, chosen: list[str]) -> dict:
    """One design planned with the shared bindings it uses and its own: its label, bindings, input and
    measures."""
    from .planner import run

    unused = dsl_names.unused([entry.design], statements)
    mine = [d for d, s in zip(shared, statements) if s not in unused]
    for statement, binding in zip(entry.own_statements, entry.own):
        if dsl_names.unused([entry.design], [statement]):
            error = dsl_names.unused_error(statement, [dsl_names.Names(entry.design)])
            raise SettingsError(error.message.replace("this -D", f"the binding @{binding}"), error.span)
    try:
        data = run(entry.text, defines=[*mine, *entry.own], label=entry.source, settings=settings).data
    except CnnCalcError as e:
        e.message = f"{entry.label}: {e.message}"
        raise
    inp = data["input"]
    return {"label": entry.label, "defines": [*mine, *entry.own], "input": {"h": inp["h"], "w": inp["w"], "c": inp["c"]},
            "values": M.values(data, chosen)}


def _settings(settings: Settings, shared: list[str]) -> dict:
    """The settings the comparison states (cnncalc.compare/1): the sweep's, and the shared -D's."""
    return {**settings.public(), "defines": shared}


__all__ = ["compare", "Comparison", "split_variant", "SCHEMA"]
