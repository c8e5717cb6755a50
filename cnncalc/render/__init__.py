"""Renderers: the report's contract dict in, text out. They format; they never compute."""

from __future__ import annotations

FORMATS = ("table", "markdown", "json", "csv")  # of `plan`, `compare` and `sweep`
PLAN_FORMATS = (*FORMATS, "html")  # `plan` also writes the one-file HTML report (render/html.py)
ZOO_FORMATS = ("table", "markdown", "json")  # of the `zoo` list
# `draw`'s choices (render/svg.py), here so that the command line lists them without importing the drawing
DRAW_STYLES = ("blocks", "volumes")
EMPHASES = ("memory", "params", "macs")
DIRECTIONS = ("down", "right")


def render(report, fmt: str, width: int | None = None, color: bool = False, depth: int | None = None,
           columns: str | None = None, ascii: bool = False, title: str = "") -> str:
    """The report (the contract dict of planner.plan_data, or a Report) as text in one of PLAN_FORMATS.
    `width` is a terminal's, for the table; None: no limit. `depth` folds the table's and markdown's
    rows into the design's blocks (1: the top-level items); `columns` names their columns by the
    JSON contract's keys ("name,output,params"); JSON and CSV always list every layer, with every
    key, so either is an error there. `ascii`: the table's branch gutter without box characters.
    HTML: `title` names the design, `color` False styles it in black and grey (NO_COLOR)."""
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

        return render_table(report, width=width, color=color, depth=depth, columns=chosen, ascii=ascii)
    if fmt == "html":
        from .html import render_html

        return render_html(report, depth=depth, title=title, color=color)
    raise ValueError(f"unknown format {fmt!r}")


def check_view(fmt: str, depth: int | None, columns: str | None):
    """The columns `columns` names (None: the default ones), after checking that `depth` and
    `columns` mean something for `fmt`; a SettingsError otherwise."""
    from ..errors import SettingsError

    if fmt in ("json", "csv") and (depth is not None or columns is not None):
        given = " and ".join(f"--{name}" for name, value in (("depth", depth), ("columns", columns))
                             if value is not None)
        raise SettingsError(f"{given} shape{'s' * (' and ' not in given)} the table and markdown; {fmt.upper()} "
                            f"always lists every layer with every key" + (" (the folding is in its 'blocks')" if fmt == "json"
                                                                             else ""))
    if fmt == "html" and columns is not None:
        raise SettingsError("--columns shapes the table and markdown; the HTML report shows every column, with "
                            "bars for the shares of memory, params and MACs")
    if depth is not None and (not isinstance(depth, int) or isinstance(depth, bool) or depth < 1):
        raise SettingsError(f"depth is a whole number from 1 (the top-level items), got {depth!r}")
    if columns is None:
        return None
    from .columns import select

    return select(columns)


def to_json(data: dict, indent: int | None = 2) -> str:
    """JSON as pydantic writes it (Report.model_dump_json), from plain data, in Rust."""
    from pydantic_core import to_json as encode

    return encode(data, indent=indent).decode()
