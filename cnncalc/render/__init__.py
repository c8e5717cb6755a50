"""Renderers: a Report in, text out. They format; they never compute."""

from __future__ import annotations

FORMATS = ("table", "markdown", "json", "csv")


def render(report, fmt: str, width: int | None = None, color: bool = False) -> str:
    """The report as text in one of FORMATS (the rich table only imports rich when asked for)."""
    if fmt == "json":
        return report.to_json() + "\n"
    if fmt == "csv":
        from .csv import render_csv

        return render_csv(report)
    if fmt == "markdown":
        from .markdown import render_markdown

        return render_markdown(report)
    if fmt == "table":
        from .table import render_table

        return render_table(report, width=width, color=color)
    raise ValueError(f"unknown format {fmt!r}")
