"""The VGG-style table for a terminal: aligned columns, then totals, fit, warnings, assumptions.

Written by hand rather than with rich: every cell is one line, so aligning columns is all
there is to do (render/align.py), and rich spends about a millisecond a row measuring cells
(170 ms for ResNet-50), more than the whole plan. Colour is plain ANSI, only on a terminal.
"""

from __future__ import annotations

import textwrap

from . import align
from .columns import COLUMNS, GIVE_WAY, NAME, cells, header
from .sections import fit_lines, totals_lines
from .units import label

BOLD, RED, YELLOW, RESET = "\033[1m", "\033[31m", "\033[33m", "\033[0m"
WRAP = 100  # width of the text sections when the output has no width (a pipe or a file)
RIGHT = [c.right for c in COLUMNS]


def render_table(report: dict, width: int | None = None, color: bool = False) -> str:
    """The table and its sections; `width` (a terminal's) hides the columns that give way until
    the table fits, None keeps them all."""
    titles = header(report)
    rows = []
    misfit = []
    for r in report["layers"]:
        row = cells(r)
        row[NAME] = label(r) + ("" if r["fits"] else " !")
        rows.append(row)
        misfit.append(not r["fits"])

    widths = align.widths(titles, rows)
    columns, hidden = align.visible(widths, GIVE_WAY, width)
    text_width = width or max(WRAP, sum(widths[c] + 2 for c in columns) - 2)

    def paint(text: str, code: str) -> str:
        return f"{code}{text}{RESET}" if color and code else text

    out = [paint(align.line(titles, widths, RIGHT, columns), BOLD)]
    for row, bad in zip(rows, misfit):
        text = align.line(row, widths, RIGHT, columns)
        if bad and color:  # the misfit marker in red
            name = row[NAME]
            text = text.replace(name, name[:-2] + paint(" !", RED), 1)
        out.append(text)
    if hidden:
        note = (f"(hidden to fit {width} columns: {', '.join(titles[i] for i in hidden)}; widen the terminal or "
                f"use --format markdown)")
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
