"""The table as GitHub-flavoured markdown, then totals, fit, warnings and assumptions."""

from __future__ import annotations

from .units import cell_bytes, fit_lines, rf_text, totals_lines, volume


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown(report) -> str:
    dtype = report["dtype"]
    lines = [
        f"| # | layer | output | memory ({dtype}) | weights | params | MACs | RF size/stride/pad "
        f"| saved (batch {report['batch']}) |",
        "|---:|---|---|---:|---|---:|---:|---|---:|",
    ]
    for r in report["layers"]:
        name = "&nbsp;&nbsp;" * r["depth"] + _cell(r["name"])
        fit = "" if r["fits"] else " ⚠"
        lines.append(f"| {r['index']} | {name}{fit} | {volume(r['output'])} | {cell_bytes(r['memory_bytes'])} | "
                     f"{r['formula'] or '0'} | {r['params']:,} | {r['macs']:,} | {rf_text(r['rf'])} | "
                     f"{cell_bytes(r['saved_bytes'])} |")
    lines += ["", "**Totals**", ""]
    lines += [f"- {name}: {_cell(text)}" for name, text in totals_lines(report)]
    lines += ["", "**Fit**", ""]
    lines += [f"- {_cell(text)}" for text in fit_lines(report)]
    if report["warnings"]:
        lines += ["", "**Warnings**", ""] + [f"- {_cell(w)}" for w in report["warnings"]]
    lines += ["", "**Assumptions**", ""] + [f"- {_cell(a)}" for a in report["assumptions"]]
    return "\n".join(lines) + "\n"
