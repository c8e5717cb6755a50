"""`cnncalc draw`: the design as an SVG picture."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ..errors import SettingsError
from ..render import DIRECTIONS, DRAW_STYLES, EMPHASES
from ..settings import MAX_LAYERS
from .application import app, finish, say
from .io import emit, read_design
from .options import (DefineOpt, DesignArg, DtypeOpt, FitRuleOpt, ForceOpt, InputOpt, MaxLayersOpt, OptionalOpt,
                      OutputOpt, choice, settings_from)
from .terminal import svg_color


DRAW_HELP = """Draw DESIGN as an SVG block diagram: one box per layer (or per block with --depth, as the
table folds), labelled with its output volume; branches as parallel lanes joined by their merge
(+ add, C concat, \u00d7 multiply), shortcuts (ID arms) as edges around them. Past 100 boxes it folds to the
deepest depth that fits and says so. A layer that does not fit is marked with \u26a0.

\b
Examples:
  cnncalc draw resnet18 -o resnet18.svg
  cnncalc draw resnet50 --depth 2 --emphasis params -o resnet50.svg
  cnncalc draw googlenet --direction right > googlenet.svg
  cnncalc draw vgg16 --style volumes -o vgg16.svg
"""

NOT_SVG = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".pdf", ".html", ".htm")  # -o extensions draw refuses


@app.command("draw", help=DRAW_HELP, no_args_is_help=True)
def draw_command(
    ctx: typer.Context,
    design: DesignArg,
    output: OutputOpt = None,
    force: ForceOpt = False,
    depth: Annotated[Optional[int], typer.Option(
        "--depth", min=1, metavar="N",
        help="Fold into the design's blocks as plan --depth does: 1 draws each top-level item as one box.",
        show_default="every layer, or past 100 boxes the deepest depth that fits")] = None,
    style: Annotated[str, typer.Option(
        "--style", click_type=choice(DRAW_STYLES),
        help="blocks: the block diagram; volumes: a chain of 3D volumes scaled by log2 of H, W and C, the layers "
             "between them (branches must be folded with --depth).")] = "blocks",
    emphasis: Annotated[Optional[str], typer.Option(
        "--emphasis", click_type=choice(EMPHASES),
        help="A bar beside each box: its share of the forward memory, params or MACs.",
        show_default=False)] = None,
    direction: Annotated[Optional[str], typer.Option(
        "--direction", click_type=choice(DIRECTIONS),
        help="The flow: top to bottom or left to right (volumes: always left to right).",
        show_default="down")] = None,
    define: DefineOpt = None,
    input_size: InputOpt = None,
    dtype: DtypeOpt = "float32",
    fit_rule: FitRuleOpt = "coverage",
    optional: OptionalOpt = "include",
    max_layers: MaxLayersOpt = MAX_LAYERS,
) -> None:
    def run() -> int:
        from ..planner import run as plan
        from ..render.svg import check_settings, draw

        if output is not None and output.suffix.lower() in NOT_SVG:
            raise SettingsError(f"cnncalc draw writes SVG, not {output.suffix}: use -o NAME.svg (for an HTML report: "
                                f"cnncalc plan DESIGN -o NAME.html)")
        picture = {"style": style, "emphasis": emphasis, "direction": direction}
        check_settings(depth=depth, **picture)  # before the work
        report = plan(read_design(design), defines=define or (), settings=settings_from(ctx)).data
        drawing = draw(report, depth=depth, color=svg_color(), **picture)
        if drawing.note:
            say(f"note: {drawing.note}")
        emit(drawing.svg, output, force)
        return 0

    finish(run, ctx)
