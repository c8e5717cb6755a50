"""`compare` as a table, markdown, JSON or CSV: one column per design (the table and markdown) or
one row per design (CSV), each measure beside its ratio or difference to the first design."""

from __future__ import annotations

import csv
import io

from ..measures import BOOL, BYTES, MEASURES
from . import align
from .formats import to_json
from .markdown import escape
from .csv import text_cell
from .sweep import csv_value
from .units import binary

FORMATS = ("table", "markdown", "json", "csv")


def cell(name: str, value) -> str:
    """A measure's value for a reader: counts with thousands separators, bytes in binary units."""
    if value is None:
        return "n/a"
    unit = MEASURES[name].unit
    if unit == BOOL:
        return "yes" if value else "no"
    if unit == BYTES:
        return binary(value)
    return f"{value:,}"


def versus_text(how: str | None, value) -> str:
    """A value set against the first design's: as a difference ("delta") or a ratio."""
    if how is None or value is None:
        return ""
    if how == "delta":
        return f"{value:+,}"
    return f"x{value:.2f}"


def settings_line(data: dict) -> str:
    s = data["settings"]
    parts = [f"batch {s['batch']}", s["dtype"], s["optimizer"]]
    if s.get("amp"):
        parts.append(f"amp {s['amp']}")
    parts.append(f"{s['device']} rules")
    if s.get("budget") is not None:
        parts.append(f"budget {binary(s['budget'])} for {s['budget_for']}")
    if s.get("defines"):
        parts.append("-D " + " -D ".join(s["defines"]))
    return ", ".join(parts) + "; ratios (x) and differences (+/-) are against the first design"


def grid(data: dict) -> tuple[list[str], list[list[str]]]:
    """The titles and the cells: a row per measure, a column per design."""
    titles = ["measure", *(d["label"] for d in data["designs"])]
    rows = []
    for name in data["columns"]:
        row = [name]
        for i, design in enumerate(data["designs"]):
            text = cell(name, design["values"][name])
            extra = "" if i == 0 else versus_text(data["versus"][name], design["versus_first"][name])
            row.append(f"{text} ({extra})" if extra else text)
        rows.append(row)
    return titles, rows


def render_compare(data: dict, fmt: str, width: int | None = None) -> str:
    if fmt == "json":
        return to_json(data) + "\n"
    if fmt == "csv":
        return _csv(data)
    titles, rows = grid(data)
    if fmt == "html":  # a notebook's table: the measures down, the designs across, escaped
        from html import escape as text

        head = "".join(f"<th>{text(t)}</th>" for t in titles)
        body = "".join("<tr>" + "".join(f'<td style="text-align:{"left" if i == 0 else "right"}">{text(c)}</td>'
                                        for i, c in enumerate(row)) + "</tr>" for row in rows)
        return (f'<table class="cnncalc-compare"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
                f"<p>{text(settings_line(data))}</p>")
    if fmt == "markdown":
        lines = ["| " + " | ".join(escape(t) for t in titles) + " |",
                 "|---|" + "---:|" * (len(titles) - 1)]
        lines += ["| " + " | ".join(escape(c) for c in row) + " |" for row in rows]
        return "\n".join(lines) + "\n\n" + escape(settings_line(data), bullet=True) + "\n"
    if fmt != "table":
        raise ValueError(f"unknown format {fmt!r}")
    widths = align.widths(titles, rows)
    right = [False] + [True] * (len(titles) - 1)
    columns = list(range(len(titles)))
    out = [align.line(titles, widths, right, columns)]
    out += [align.line(row, widths, right, columns) for row in rows]
    return "\n".join(out) + "\n\n" + settings_line(data) + "\n"


def _csv(data: dict) -> str:
    """A row per design: its label, its measures (raw numbers), then each measure against the first's."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    names = data["columns"]
    writer.writerow(["design", *names, *(f"{n}_vs_first" for n in names if data["versus"][n])])
    for design in data["designs"]:
        values = [csv_value(design["values"][n]) for n in names]
        versus = [csv_value(design["versus_first"][n]) for n in names if data["versus"][n]]
        writer.writerow([text_cell(design["label"]), *values, *versus])
    return out.getvalue()
