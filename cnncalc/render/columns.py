"""The columns of the layer table, as data: the terminal table and markdown both read them.

Each column is keyed by the JSON contract's name for what it shows (`plan --columns
name,output,params,macs,memory_bytes`), plus the percentages `params_pct`, `macs_pct` and
`memory_pct` (a row's share of the total). It has a title (which may name the report's dtype
or batch: memory columns say per image or per batch), a cell made from a row of the contract
(or a folded block, render/structure.py) and the report, its alignment, and its place in the
order in which the default columns give way on a narrow terminal (0: always shown).
"""

from __future__ import annotations

from typing import Callable, NamedTuple

from ..errors import SettingsError
from .units import cell_bytes, rf_text, short, volume


class Column(NamedTuple):
    key: str
    title: Callable[[dict], str]  # of the report
    cell: Callable[[dict, dict], str]  # of a row and the report
    right: bool = False
    gives_way: int = 0  # 1 hides first, then 2, …; 0 never hides


def _count(n: int | None) -> str:
    return "?" if n is None else f"{n:,}"


def percent(part: int | None, whole: int | None) -> str:
    """A row's share of a total: '12.3%', '<0.1%' for a small one that is not 0, '0%'; '?' where unknown."""
    if part is None or whole is None:
        return "?"
    if part == 0:
        return "0%"
    if whole <= 0:
        return "?"
    share = 100 * part / whole
    return "<0.1%" if share < 0.05 else f"{share:.1f}%"


def totals_of(key: str) -> Callable[[dict], int | None]:
    if key == "memory":
        return lambda report: report["totals"]["memory"]["forward_bytes_per_image"]
    return lambda report: report["totals"][key]


def _pct(key: str, total: str) -> Callable[[dict, dict], str]:
    whole = totals_of(total)
    return lambda r, report: percent(r[key], whole(report))


def _text(key: str) -> Callable[[dict, dict], str]:
    return lambda r, report: "" if r.get(key) is None else str(r[key])


def _pair(p) -> str:
    return "" if p is None else str(p[0]) if p[0] == p[1] else f"{p[0]}x{p[1]}"


# every column, by key; a title says per image or per batch wherever the figure depends on it
ALL = {c.key: c for c in (
    Column("index", lambda report: "#", lambda r, report: str(r["index"]), right=True),
    Column("name", lambda report: "layer", lambda r, report: r["name"]),
    Column("kind", lambda report: "kind", lambda r, report: r["kind"]),
    Column("output", lambda report: "output", lambda r, report: volume(r["output"])),
    Column("memory_bytes", lambda report: f"memory/image ({report['dtype']})",
           lambda r, report: cell_bytes(r["memory_bytes"]), right=True),
    Column("memory_pct", lambda report: "memory %", _pct("memory_bytes", "memory"), right=True),
    Column("formula", lambda report: "weights",
           lambda r, report: "?" if r["formula"] is None else r["formula"] or "0"),
    Column("weights", lambda report: "weights (count)", lambda r, report: _count(r["weights"]), right=True),
    Column("biases", lambda report: "biases", lambda r, report: _count(r["biases"]), right=True),
    Column("buffers", lambda report: "buffers", lambda r, report: _count(r["buffers"]), right=True),
    Column("params", lambda report: "params", lambda r, report: _count(r["params"]), right=True),
    Column("params_pct", lambda report: "params %", _pct("params", "params"), right=True),
    Column("macs", lambda report: "MACs", lambda r, report: _count(r["macs"]), right=True),
    Column("macs_pct", lambda report: "MACs %", _pct("macs", "macs"), right=True),
    # as the notes write them: 224*224*64 = 3.2M
    Column("activations", lambda report: "activations/image", lambda r, report: short(r["activations"]),
           right=True),
    Column("rf", lambda report: "RF size/stride/pad",
           lambda r, report: "?" if "rf" in r["unsupported"] else rf_text(r["rf"])),
    Column("saved_bytes", lambda report: f"saved/batch of {report['batch']}",
           lambda r, report: cell_bytes(r["saved_bytes"]), right=True),
    Column("fits", lambda report: "fits", lambda r, report: "yes" if r["fits"] else "no"),
    Column("fit", lambda report: "fit", lambda r, report: r.get("fit", "ok")),
    Column("problem", lambda report: "problem", _text("problem")),
    Column("note", lambda report: "note", _text("note")),
    Column("depth", lambda report: "depth", _text("depth"), right=True),
    Column("arm", lambda report: "arm", _text("arm"), right=True),
    Column("line", lambda report: "line", _text("line"), right=True),
    Column("column", lambda report: "column", _text("column"), right=True),
    Column("source", lambda report: "source", _text("source")),
    Column("implied_pad", lambda report: "implied pad", lambda r, report: _pair(r.get("implied_pad"))),
    Column("unsupported", lambda report: "unsupported", lambda r, report: ", ".join(r["unsupported"])),
    Column("path", lambda report: "place in the design", _text("path")),
    Column("module", lambda report: "module (export)", _text("module")),
)}

# the default table: the notes' VGGNet columns, then the receptive field and the saved tensors
DEFAULT = ("index", "name", "output", "memory_bytes", "formula", "params", "macs", "rf", "saved_bytes")
_GIVES_WAY = {"formula": 3, "rf": 2, "saved_bytes": 1}
COLUMNS = tuple(ALL[key]._replace(gives_way=_GIVES_WAY.get(key, 0)) for key in DEFAULT)
NAME = next(i for i, c in enumerate(COLUMNS) if c.key == "name")  # the column renderers indent and mark
GIVE_WAY = tuple(sorted((i for i, c in enumerate(COLUMNS) if c.gives_way), key=lambda i: COLUMNS[i].gives_way))


def select(text: str) -> tuple[Column, ...]:
    """The columns `--columns` names, in its order: the contract's keys, comma-separated."""
    from ..errors import did_you_mean

    keys = [k.strip() for k in text.split(",")]
    listed = ", ".join(ALL)
    if not any(keys):
        raise SettingsError(f"--columns names at least one column (columns: {listed})")
    chosen = []
    for key in keys:
        column = ALL.get(key) or ALL.get(key.lower())
        if column is None:
            raise SettingsError(f"unknown column '{key}'{did_you_mean(key.lower(), ALL)} (columns: {listed})")
        if column in chosen:
            raise SettingsError(f"column '{column.key}' is named twice in --columns")
        chosen.append(column)
    return tuple(chosen)


def header(report: dict, columns: tuple[Column, ...] = COLUMNS) -> list[str]:
    return [c.title(report) for c in columns]


def cells(row: dict, report: dict | None = None, columns: tuple[Column, ...] = COLUMNS) -> list[str]:
    return [c.cell(row, report) for c in columns]
