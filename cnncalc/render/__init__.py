"""Renderers: the report's contract dict in, text out. They format; they never compute."""

from __future__ import annotations

from collections.abc import Iterable

from .formats import (DIRECTIONS, DRAW_STYLES, EMPHASES, FORMATS, PLAN_FORMATS, ZOO_FORMATS,  # noqa: F401
                      check_view, json_pieces, to_json)


def render(report, fmt: str, width: int | None = None, color: bool = False, depth: int | None = None,
           columns: str | None = None, ascii: bool = False, title: str = "", **sections) -> str:
    """The report (the contract dict of planner.plan_data, or a Report) as text in one of PLAN_FORMATS.
    `width` is a terminal's, for the table; None: no limit. `depth` folds the table's and markdown's
    rows into the design's blocks (1: the top-level items); `columns` names their columns by the
    JSON contract's keys ("name,output,params"); JSON and CSV always list every layer, with every
    key, so either is an error there. `ascii`: the table's branch gutter without box characters.
    HTML: `title` names the design, `color` False styles it in black and grey (NO_COLOR). `sections`: the
    table's notes, assumptions and warnings flags (render_table)."""
    if not isinstance(report, dict):
        report = report.model_dump(by_alias=True)
    chosen = check_view(fmt, depth, columns)
    if fmt == "json":
        return to_json(report) + "\n"
    if fmt == "csv":
        from .csv import render_csv

        return render_csv(report)
    if fmt == "markdown":
        from .markdown import render_markdown

        return render_markdown(report, depth=depth, columns=chosen)
    if fmt == "table":
        from .table import render_table

        return render_table(report, width=width, color=color, depth=depth, columns=chosen, ascii=ascii, **sections)
    if fmt == "html":
        from .html import render_html

        return render_html(report, depth=depth, title=title, color=color)
    raise ValueError(f"unknown format {fmt!r}")


def render_pieces(report: dict, fmt: str, **options) -> Iterable[str]:
    """render()'s text in pieces: JSON's (render/formats.py, json_pieces) so that a report of 100,000 rows
    is never held as one string; the other formats' in one piece."""
    if fmt == "json":
        check_view(fmt, options.get("depth"), options.get("columns"))
        return json_pieces(report)
    return [render(report, fmt, **options)]
