"""Renderers: the report's contract dict in, text out. They format; they never compute."""

from __future__ import annotations

FORMATS = ("table", "markdown", "json", "csv")  # of `plan`
ZOO_FORMATS = ("table", "markdown", "json")  # of the `zoo` list


def render(report, fmt: str, width: int | None = None, color: bool = False) -> str:
    """The report (the contract dict of planner.plan_data, or a Report) as text in one of FORMATS.
    `width` is a terminal's, for the table; None: no limit."""
    if not isinstance(report, dict):
        report = report.model_dump(by_alias=True)
    if fmt == "json":
        return to_json(report) + "\n"
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


def to_json(data: dict, indent: int | None = 2) -> str:
    """JSON as pydantic writes it (Report.model_dump_json), from plain data, in Rust."""
    from pydantic_core import to_json as encode

    return encode(data, indent=indent).decode()
