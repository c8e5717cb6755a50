"""The VGG-style table for a terminal: aligned columns, then totals, fit, warnings, assumptions.

Written by hand rather than with rich: every cell is one line, so aligning columns is all
there is to do (render/align.py), and rich spends about a millisecond a row measuring cells
(170 ms for ResNet-50), more than the whole plan. Colour is plain ANSI, only on a terminal.

With a `width` (a terminal's, or COLUMNS) the default columns give way until the table fits
and the text sections wrap at word boundaries; without one (a pipe, a file) nothing is hidden
or wrapped, so every line can be read whole by a script.
"""

from __future__ import annotations

import re
import textwrap

from . import align
from .columns import COLUMNS, GIVE_WAY, Column, cells, header
from .sections import fit_lines, summary_lines, totals_lines
from .structure import ASCII, UNICODE, fold, labels

BOLD, RED, YELLOW, RESET = "\033[1m", "\033[31m", "\033[33m", "\033[0m"
LABEL = 16  # the width of a totals line's label
MIN_WRAP = 20  # a text section never wraps narrower than this


def render_table(report: dict, width: int | None = None, color: bool = False, depth: int | None = None,
                 columns: tuple[Column, ...] | None = None, ascii: bool = False, notes: bool = False,
                 assumptions: bool = False, warnings: bool = True) -> str:
    """The table and its sections. `width` (a terminal's) hides the default columns that give way
    until the table fits and wraps the sections; None keeps every column and line whole. `depth`
    folds the rows into the design's blocks (render/structure.py); `columns` (columns.select) are
    shown as asked, none giving way; `ascii` draws the branch gutter without box characters. The answer
    first: `notes` False folds the fit notes into a line per kind, `assumptions` False leaves them to one
    line saying how to see them (the JSON always has them), `warnings` False leaves them out (the command
    line writes them on standard error, before the table)."""
    chosen = COLUMNS if columns is None else columns
    give_way = GIVE_WAY if columns is None else ()
    name = next((i for i, c in enumerate(chosen) if c.key == "name"), None)
    titles = header(report, chosen)
    view = fold(report, depth)
    rows = _cells(view, report, chosen, name, ascii)
    heads = title_lines(titles)
    widths = align.widths(heads[0], [*heads[1:], *rows])
    shown, hidden = align.visible(widths, give_way, width)
    paint = _painter(color)
    right = [c.right for c in chosen]
    out = [paint(align.line(head, widths, right, shown), BOLD) for head in heads]
    for row, r in zip(rows, view):
        text = align.line(row, widths, right, shown)
        if not r["fits"] and color and name is not None:  # the misfit marker in red
            label = row[name]
            text = text.replace(label, label[:-2] + paint(" !", RED), 1)
        out.append(text)
    if hidden:
        note = (f"(hidden to fit {width} columns: {', '.join(titles[i] for i in hidden)}; widen the terminal, "
                f"choose them with --columns, or use --format markdown)")
        out.extend(paint(w, YELLOW) for w in wrap(note, width, "", ""))
    out.append("")

    def section(title: str, lines: list[str], code: str = "", hang: str = "    ") -> None:
        if not lines:
            return
        out.append(paint(title, BOLD))
        for text in lines:
            out.extend(paint(w, code) for w in wrap(text, width, "  ", hang))

    section("Totals", [f"{name:<{LABEL}} {text}" for name, text in totals_lines(report)], hang=" " * (LABEL + 3))
    section("Fit", fit_lines(report, notes_in_full=notes), "" if report["fits"] else YELLOW)
    if warnings:
        section("Warnings", report["warnings"], YELLOW)
    if assumptions:
        section("Assumptions", report["assumptions"])
    elif report["assumptions"]:
        out.extend(wrap(f"{len(report['assumptions'])} assumptions behind these figures: --assumptions shows them "
                        f"(the JSON always has them)", width, "", "  "))
    return "\n".join(out) + "\n"


def render_summary(report: dict, width: int | None = None, color: bool = False) -> str:
    """The headline alone (`plan --summary`): what torchinfo's closing block says, then the peaks, the
    budget's answer and the fit, each label in a column, the text wrapped under it."""
    paint = _painter(color)
    out = [paint("Summary", BOLD)]
    for name, text in summary_lines(report):
        out.extend(wrap(f"{name:<{LABEL}} {text}", width, "  ", " " * (LABEL + 3)))
    return "\n".join(out) + "\n"


def _cells(view: list[dict], report: dict, chosen, name: int | None, ascii: bool) -> list[list[str]]:
    """Each row's cells; its name with the branch gutter before it and " !" after a misfit."""
    names = labels(view, ASCII if ascii else UNICODE) if name is not None else None
    rows = []
    for i, r in enumerate(view):
        row = cells(r, report, chosen)
        if names is not None:
            row[name] = names[i] + ("" if r["fits"] else " !")
        rows.append(row)
    return rows


def _painter(color: bool):
    """text, ANSI code -> the text in that code (bold, red, yellow), or as it is without colour."""
    return lambda text, code: f"{code}{text}{RESET}" if color and code else text


# spaces that wrapping keeps: inside a size (44.6 MiB), a place (line 7, column 20) and around the
# operators of arithmetic ((224 - 7 + 2*3)/2 + 1 = 112.5), held by a character no text holds while
# the text is wrapped
_GLUE = "\x00"
_UNIT = r"(\d) (B|KiB|MiB|GiB|TiB|PiB)\b|\b(line|column|row|batch|stride) (\d)"
_OPERATOR = r"([\d)]) ([-+=]) (?=[\d(])"  # compiled on first use (re caches them): a pipe never wraps


def title_lines(titles: list[str]) -> list[list[str]]:
    """The header as one line, or as two where a title ends in a parenthesis, which goes below it
    (`memory/image` over `(float32)`): a column is then as wide as its numbers, not its title."""
    split = [t.rsplit(" (", 1) if t.endswith(")") and " (" in t else [t] for t in titles]
    if all(len(parts) == 1 for parts in split):
        return [titles]
    return [[parts[0] for parts in split], ["(" + parts[1] if len(parts) == 2 else "" for parts in split]]


def wrap(text: str, width: int | None, first: str = "", hang: str = "  ") -> list[str]:
    """One line when there is no width (a pipe keeps every line whole); else wrapped at word
    boundaries (never inside a word, at a hyphen (CONV3-64 stays whole), inside a size or an
    arithmetic), continuation lines indented by `hang` (less where the width is too small)."""
    if width is None:
        return [first + text]
    if width - len(hang) < MIN_WRAP:
        hang = first
    glued = re.sub(_OPERATOR, f"\\1{_GLUE}\\2{_GLUE}",
                   re.sub(_UNIT, lambda m: _GLUE.join(filter(None, m.groups())), text.replace(_GLUE, " ")))
    lines = textwrap.wrap(glued, width=max(width, len(hang) + MIN_WRAP), initial_indent=first,
                          subsequent_indent=hang, break_long_words=False, break_on_hyphens=False) or [first]
    return [line.replace(_GLUE, " ") for line in lines]
