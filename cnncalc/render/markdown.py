"""The table as GitHub-flavoured markdown, then totals, fit, warnings and assumptions."""

from __future__ import annotations

from .columns import COLUMNS, NAME, cells, header
from .sections import fit_lines, totals_lines


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown(report) -> str:
    lines = ["| " + " | ".join(header(report)) + " |",
             "|" + "|".join("---:" if c.right else "---" for c in COLUMNS) + "|"]
    for r in report["layers"]:
        row = cells(r)
        row[NAME] = "&nbsp;&nbsp;" * r["depth"] + _cell(r["name"]) + ("" if r["fits"] else " ⚠")
        lines.append("| " + " | ".join(row) + " |")
    lines += ["", "**Totals**", ""]
    lines += [f"- {name}: {_cell(text)}" for name, text in totals_lines(report)]
    lines += ["", "**Fit**", ""]
    lines += [f"- {_cell(text)}" for text in fit_lines(report)]
    if report["warnings"]:
        lines += ["", "**Warnings**", ""] + [f"- {_cell(w)}" for w in report["warnings"]]
    lines += ["", "**Assumptions**", ""] + [f"- {_cell(a)}" for a in report["assumptions"]]
    return "\n".join(lines) + "\n"
