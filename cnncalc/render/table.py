"""The VGG-style table on a terminal, with rich."""

from __future__ import annotations

import io

from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from .units import binary, fit_lines, label, rf_text, totals_lines


def render_table(report, width: int | None = None, color: bool = False) -> str:
    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    table.add_column("#", justify="right")
    table.add_column("layer", no_wrap=True)
    table.add_column("output", no_wrap=True)
    table.add_column(f"memory ({report.dtype})", justify="right", no_wrap=True)
    table.add_column(f"saved (batch {report.batch})", justify="right", no_wrap=True)
    table.add_column("weights", no_wrap=True)
    table.add_column("params", justify="right", no_wrap=True)
    table.add_column("MACs", justify="right", no_wrap=True)
    table.add_column("RF size/stride/pad", no_wrap=True)
    for r in report.layers:
        name = Text(label(r))
        if not r.fits:
            name.append(" !", style="bold red")
        table.add_row(str(r.index), name, str(r.output), binary(r.memory_bytes) if r.memory_bytes else "0",
                      binary(r.saved_bytes) if r.saved_bytes else "0", r.formula or "0", f"{r.params:,}", f"{r.macs:,}", rf_text(r.rf))

    out = io.StringIO()
    console = Console(file=out, width=width or 140, force_terminal=color, no_color=not color,
                      color_system="standard" if color else None, highlight=False, emoji=False)
    console.print(table)
    console.print()
    console.print(Text("Totals", style="bold"))
    for name, text in totals_lines(report):
        console.print(Padding(Text(f"{name:<16} {text}"), (0, 0, 0, 2)))
    sections = [("Fit", fit_lines(report), "" if report.fits else "yellow"),
                ("Warnings", report.warnings, "yellow"), ("Assumptions", report.assumptions, "")]
    for title, lines, style in sections:
        if lines:
            console.print(Text(title, style="bold"))
        for line in lines:
            console.print(Padding(Text(line, style=style), (0, 0, 0, 2)))
    return "\n".join(line.rstrip() for line in out.getvalue().splitlines()) + "\n"
