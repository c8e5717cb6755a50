"""The columns of the layer table, as data: the terminal table and markdown both read them.

Each column has a title (which may name the report's dtype or batch), a cell
made from a row of the contract, its alignment, and its place in the order in
which columns give way on a narrow terminal (0: always shown).
"""

from __future__ import annotations

from typing import Callable, NamedTuple

from .units import cell_bytes, rf_text, volume


class Column(NamedTuple):
    key: str
    title: Callable[[dict], str]  # of the report
    cell: Callable[[dict], str]  # of a row
    right: bool = False
    gives_way: int = 0  # 1 hides first, then 2, …; 0 never hides


def _count(n: int | None) -> str:
    return "?" if n is None else f"{n:,}"


COLUMNS = (
    Column("index", lambda report: "#", lambda r: str(r["index"]), right=True),
    Column("layer", lambda report: "layer", lambda r: r["name"]),
    Column("output", lambda report: "output", lambda r: volume(r["output"])),
    Column("memory", lambda report: f"memory ({report['dtype']})", lambda r: cell_bytes(r["memory_bytes"]), right=True),
    Column("weights", lambda report: "weights", lambda r: "?" if r["formula"] is None else r["formula"] or "0",
           gives_way=3),
    Column("params", lambda report: "params", lambda r: _count(r["params"]), right=True),
    Column("macs", lambda report: "MACs", lambda r: _count(r["macs"]), right=True),
    Column("rf", lambda report: "RF size/stride/pad", lambda r: "?" if "rf" in r["unsupported"] else rf_text(r["rf"]),
           gives_way=2),
    Column("saved", lambda report: f"saved (batch {report['batch']})", lambda r: cell_bytes(r["saved_bytes"]),
           right=True, gives_way=1),
)
NAME = next(i for i, c in enumerate(COLUMNS) if c.key == "layer")  # the column renderers indent and mark
GIVE_WAY = tuple(sorted((i for i, c in enumerate(COLUMNS) if c.gives_way), key=lambda i: COLUMNS[i].gives_way))


def header(report: dict) -> list[str]:
    return [c.title(report) for c in COLUMNS]


def cells(row: dict) -> list[str]:
    return [c.cell(row) for c in COLUMNS]
