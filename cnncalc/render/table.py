"""The VGG-style table for a terminal: aligned columns, then totals, fit, warnings, assumptions.

Written by hand rather than with rich: every cell is one line, so aligning columns is all
there is to do, and rich spends about a millisecond a row measuring cells (170 ms for
ResNet-50), more than the whole plan. Colour is plain ANSI, only on a terminal.
"""

from __future__ import annotations

import textwrap

from .units import cell_bytes, fit_lines, label, rf_text, totals_lines, volume

BOLD, RED, YELLOW, RESET = "\033[1m", "\033[31m", "\033[33m", "\033[0m"
# columns that give way, in this order, when the terminal is too narrow: saved, RF, weights
OPTIONAL = (8, 7, 4)
WRAP = 100  # width of the text sections when the output has no width (a pipe or a file)


def render_table(report: dict, width: int | None = None, color: bool = False) -> str:
    """The table and its sections; `width` (a terminal's) hides optional columns that do not fit,
    None keeps them all."""
    dtype, batch = report["dtype"], report["batch"]
    header = ["#", "layer", "output", f"memory ({dtype})", "weights", "params", "MACs", "RF size/stride/pad",
              f"saved (batch {batch})"]
    right = {0, 3, 5, 6, 8}
    rows = []
    misfit = []
    for r in report["layers"]:
        rows.append([str(r["index"]), label(r) + ("" if r["fits"] else " !"), volume(r["output"]),
                     cell_bytes(r["memory_bytes"]), r["formula"] or "0", f"{r['params']:,}", f"{r['macs']:,}",
                     rf_text(r["rf"]), cell_bytes(r["saved_bytes"])])
        misfit.append(not r["fits"])

    columns = list(range(len(header)))
    widths = [max(len(header[i]), *(len(row[i]) for row in rows)) for i in columns]
    hidden = []
    for i in OPTIONAL:  # drop optional columns until the table fits the terminal
        if width is None or sum(widths[c] + 2 for c in columns) - 2 <= width:
            break
        columns.remove(i)
        hidden.append(header[i])
    text_width = width or max(WRAP, sum(widths[c] + 2 for c in columns) - 2)

    def line(cells: list[str]) -> str:
        parts = [cells[i].rjust(widths[i]) if i in right else cells[i].ljust(widths[i]) for i in columns]
        return "  ".join(parts).rstrip()

    def paint(text: str, code: str) -> str:
        return f"{code}{text}{RESET}" if color and code else text

    out = [paint(line(header), BOLD)]
    for row, bad in zip(rows, misfit):
        text = line(row)
        if bad and color:  # the misfit marker in red
            name = row[1]
            text = text.replace(name, name[:-2] + paint(" !", RED), 1)
        out.append(text)
    if hidden:
        note = f"(hidden to fit {width} columns: {', '.join(hidden)}; widen the terminal or use --format markdown)"
        out.extend(paint(w, YELLOW) for w in textwrap.wrap(note, width=text_width, break_on_hyphens=False))
    out.append("")

    def section(title: str, lines: list[str], code: str = "") -> None:
        if not lines:
            return
        out.append(paint(title, BOLD))
        for text in lines:
            wrapped = textwrap.wrap(text, width=max(text_width - 2, 20), initial_indent="  ", subsequent_indent="  ",
                                    break_long_words=False, break_on_hyphens=False) or ["  "]
            out.extend(paint(w, code) for w in wrapped)

    section("Totals", [f"{name:<16} {text}" for name, text in totals_lines(report)])
    section("Fit", fit_lines(report), "" if report["fits"] else YELLOW)
    section("Warnings", report["warnings"], YELLOW)
    section("Assumptions", report["assumptions"])
    return "\n".join(out) + "\n"
