"""`sweep` rows as JSON Lines, CSV, JSON, markdown or a table, written as they come.

`chunks()` turns the header, the rows (an iterator: the sweep computes them as it is read) and
the summary (read once the rows are done) into pieces of text. JSON Lines, CSV, JSON and markdown
hold one row at a time; the table aligns its columns, so it reads every row first.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator

from ..measures import BOOL, BYTES, MEASURES
from . import align
from .csv import text_cell
from .markdown import escape
from .units import binary

FORMATS = ("table", "markdown", "json", "jsonl", "csv")


def _json(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def columns(header: dict, ties: bool) -> list[str]:
    return ["index", *header["names"], *header["columns"], *(["ties"] if ties else [])]


def record(row: dict) -> dict:
    """A row as one flat record: index, the point's values, the measures (and ties)."""
    out = {"index": row["index"], **row["point"]}
    out.update((k, v) for k, v in row.items() if k not in ("index", "point"))
    return out


def csv_value(value):
    """A CSV cell: empty for null, true/false for a bool (as the plan's CSV writes them)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    return text_cell(value)


def cell(name: str, value) -> str:
    if value is None:
        return "n/a"
    measure = MEASURES.get(name)
    if isinstance(value, bool) or (measure is not None and measure.unit == BOOL):
        return "yes" if value else "no"
    if measure is not None and measure.unit == BYTES:
        return binary(value)
    return f"{value:,}" if isinstance(value, int) else str(value)


def summary_lines(header: dict, summary: dict) -> list[str]:
    """What happened to the grid's points, in words."""
    s = summary
    plural = "" if s["points"] == 1 else "s"
    lines = [f"{s['points']:,} point{plural}: {s['computed']:,} computed, {s['failed']:,} failed, "
             f"{s['filtered']:,} left out by --where, {s['shown']:,} shown"
             + (f" ({s['evaluated']:,} evaluated)" if s["evaluated"] != s["points"] else "")]
    if s.get("front") is not None:
        lines.append(f"Pareto front ({', '.join(header['pareto'])}; -: smaller is better, +: larger): "
                     f"{s['front']:,} rows no other row beats on every named measure"
                     + (f"; {s['ties']:,} of them tie with another front row on every named measure (column ties)"
                        if s.get("ties") else "; no ties"))
    for key in ("stopped", "kept"):
        if s.get(key):
            lines.append(s[key])
    for f in s["failures"]:
        example = " ".join(f"{k}={v}" for k, v in f["example"]["point"].items())
        lines.append(f"failed: {f['count']:,} point{'s' if f['count'] != 1 else ''}: {f['reason']} "
                     f"(first: {example})")
    return lines


def chunks(header: dict, rows: Iterable[dict], summary: Callable[[], dict], fmt: str,
           ties: bool = False) -> Iterator[str]:
    """The rendering, piece by piece; `summary()` is called after the last row."""
    names = columns(header, ties)
    if fmt == "jsonl":
        for row in rows:
            yield _json(row) + "\n"
        return
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(names)
        for row in rows:
            flat = record(row)
            writer.writerow([csv_value(flat.get(n)) for n in names])
            yield out.getvalue()
            out.seek(0)
            out.truncate()
        yield out.getvalue()
        return
    if fmt == "json":
        head = _json(header)
        yield head[:-1] + ',"rows":['
        first = True
        for row in rows:
            yield ("\n" if first else ",\n") + _json(row)
            first = False
        yield "\n],\"summary\":" + _json(summary()) + "}\n"
        return
    if fmt == "markdown":
        yield "| " + " | ".join(escape(n) for n in names) + " |\n"
        yield "|" + "|".join("---:" for _ in names) + "|\n"
        for row in rows:
            flat = record(row)
            yield "| " + " | ".join(escape(cell(n, flat.get(n))) for n in names) + " |\n"
        yield "\n" + "".join(f"- {escape(line, bullet=True)}\n" for line in summary_lines(header, summary()))
        return
    if fmt == "html":
        yield from _html(names, rows, header, summary)
        return
    if fmt == "table":
        cells = [[cell(n, record(row).get(n)) for n in names] for row in rows]
        right = [True] * len(names)
        lines = align.align(names, cells, right) if cells else ["  ".join(names)]
        yield "\n".join(lines) + "\n\n" + "\n".join(summary_lines(header, summary())) + "\n"
        return
    raise ValueError(f"unknown format {fmt!r}")


def _html(names: list[str], rows: Iterable[dict], header: dict, summary: Callable[[], dict]) -> Iterator[str]:
    """A notebook's table (Sweep._repr_html_), then what happened to the grid."""
    from html import escape as text

    yield "<table class=\"cnncalc-sweep\"><thead><tr>" + "".join(f"<th>{text(n)}</th>" for n in names) + \
        "</tr></thead><tbody>"
    for row in rows:
        flat = record(row)
        yield "<tr>" + "".join(f'<td style="text-align:right">{text(cell(n, flat.get(n)))}</td>' for n in names) + \
            "</tr>"
    yield "</tbody></table>" + "".join(f"<p>{text(line)}</p>" for line in summary_lines(header, summary()))
