"""`cnncalc zoo`: the built-in designs, or one design's text."""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

from .. import zoo
from ..errors import SettingsError, did_you_mean
from ..render import ZOO_FORMATS
from .application import app, finish
from .options import FORMAT_ALIASES, AliasChoice
from .terminal import output_width


ZOO_HELP = """List the built-in designs with their params, MACs, input size, receptive field and source,
or print one design's text.

\b
Examples:
  cnncalc zoo
  cnncalc zoo resnet50
  cnncalc plan resnet50 --input 320x320x3
  cnncalc zoo --format markdown > examples/README.md
"""


@app.command("zoo", help=ZOO_HELP)
def zoo_command(
    ctx: typer.Context,
    name: Annotated[Optional[str], typer.Argument(metavar="[NAME]", show_default=False,
                                                  help="A built-in design to print.")] = None,
    fmt: Annotated[str, typer.Option(
        "--format", "-f", click_type=AliasChoice(ZOO_FORMATS, FORMAT_ALIASES),
        help="Format of the list (md: markdown, txt: table).")] = "table",
) -> None:
    def run() -> int:
        if name is not None:
            path = zoo.path(name)
            if path is None:
                raise SettingsError(f"no built-in design '{name}'{did_you_mean(name.lower(), zoo.names())} "
                                    f"(see cnncalc zoo)")
            sys.stdout.write(path.read_text(encoding="utf-8"))
            return 0
        from ..render.zoo import render_zoo

        sys.stdout.write(render_zoo(zoo.catalog(), fmt, width=output_width()))
        return 0

    finish(run, ctx)
