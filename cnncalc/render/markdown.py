"""The table as GitHub-flavoured markdown, then totals, fit, warnings and assumptions."""

from __future__ import annotations

import re

from .columns import COLUMNS, NAME, cells, header
from .sections import fit_lines, totals_lines

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


def render_markdown(report) -> str:
    lines = ["| " + " | ".join(map(escape, header(report))) + " |",
             "|" + "|".join("---:" if c.right else "---" for c in COLUMNS) + "|"]
    for r in report["layers"]:
        row = [escape(cell) for cell in cells(r)]
        # the branch depth's indentation is HTML on purpose: markdown drops leading spaces
        row[NAME] = "&nbsp;&nbsp;" * r["depth"] + row[NAME] + ("" if r["fits"] else " ⚠")
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
