"""The table as GitHub-flavoured markdown, then totals, fit, warnings and assumptions.

The layer column carries the branch gutter (render/structure.py) with non-breaking spaces,
which markdown keeps where it would drop plain ones."""

from __future__ import annotations

import re

from .columns import COLUMNS, Column, cells, header
from .sections import fit_lines, totals_lines
from .structure import display_name, fold, gutters

_INLINE = re.compile(r"([\\`*_~\[\]<&|])")
_ORDERED = re.compile(r"^(\d{1,9})([.)])(?=\s|$)")


def escape(text: str, bullet: bool = False) -> str:
    """`text` as markdown that CommonMark with GFM tables shows as exactly that text, in a table
    cell or (`bullet`) as a list item's text. A backslash before ASCII punctuation shows it as itself;
    escaped are:
      anywhere: \\ (escapes, hard breaks), ` (code), * and _ (emphasis), ~ (GFM strikethrough, fences),
        [ and ] (links, images, reference definitions), < (HTML, autolinks), & (entities such as &amp;),
        | (GFM table cells);
      at a bullet's start, where blocks begin (a table cell holds no blocks): # (heading), > (quote),
        + and - (a nested list, a thematic break), and the . or ) after a number (an ordered list).
    Line breaks (which would end a table row or open a block) become spaces, and the text is stripped
    (a reader sees no edge spaces, and four at a bullet's start would make code)."""
    text = _INLINE.sub(r"\\\1", re.sub(r"\s*[\r\n]\s*", " ", text.strip()))
    if not bullet:
        return text
    return "\\" + text if text.startswith(("#", ">", "+", "-")) else _ORDERED.sub(r"\1\\\2", text)


def label(gutter: str, row: dict) -> str:
    """The layer cell: the gutter (its spaces as &nbsp;, HTML on purpose: markdown drops leading
    spaces), the name with any implied padding, the misfit marker."""
    return gutter.replace(" ", "&nbsp;") + escape(display_name(row)) + ("" if row["fits"] else " ⚠")


def render_markdown(report, depth: int | None = None, columns: tuple[Column, ...] | None = None) -> str:
    """`depth` folds rows into the design's blocks; `columns` (columns.select) replaces the default ones."""
    chosen = COLUMNS if columns is None else columns
    name = next((i for i, c in enumerate(chosen) if c.key == "name"), None)
    lines = ["| " + " | ".join(map(escape, header(report, chosen))) + " |",
             "|" + "|".join("---:" if c.right else "---" for c in chosen) + "|"]
    view = fold(report, depth)
    for r, gutter in zip(view, gutters(view)):
        row = [escape(cell) for cell in cells(r, report, chosen)]
        if name is not None:
            row[name] = label(gutter, r)
        lines.append("| " + " | ".join(row) + " |")
    lines += _section("Totals", [f"{name}: {text}" for name, text in totals_lines(report)])
    lines += _section("Fit", fit_lines(report))
    if report["warnings"]:
        lines += _section("Warnings", report["warnings"])
    lines += _section("Assumptions", report["assumptions"])
    return "\n".join(lines) + "\n"


def _section(title: str, texts: list[str]) -> list[str]:
    """A bold title and its bullets, after a blank line."""
    return ["", f"**{title}**", ""] + [f"- {escape(text, bullet=True)}" for text in texts]
