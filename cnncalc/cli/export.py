"""`cnncalc export`: the design as standalone PyTorch source."""

from __future__ import annotations

from typing import Annotated

import typer

from .. import zoo
from ..pytorch import TARGETS
from ..settings import MAX_LAYERS
from .application import app, finish
from .io import emit, read_design
from .options import (DefineOpt, DesignArg, ForceOpt, InputOpt, MaxLayersOpt, OptionalOpt, OutputOpt, choice,
                      settings_from)


EXPORT_HELP = """Write DESIGN as standalone PyTorch source: a module defining `class Net(nn.Module)`, built
with no arguments, whose parameters and output shape are cnncalc's numbers. Running it needs
only torch.

\b
Examples:
  cnncalc export resnet18 --to pytorch -o resnet18.py
  cnncalc export "INPUT 32x32x3 -> [CONV3-32 -> RELU]*2 -> POOL2 -> FC-10" --to pytorch
"""


@app.command("export", help=EXPORT_HELP, no_args_is_help=True)
def export_command(
    ctx: typer.Context,
    design: DesignArg,
    to: Annotated[str, typer.Option("--to", click_type=choice(TARGETS), help="The framework to write.")],
    output: OutputOpt = None,
    force: ForceOpt = False,
    define: DefineOpt = None,
    input_size: InputOpt = None,
    optional: OptionalOpt = "include",
    max_layers: MaxLayersOpt = MAX_LAYERS,
) -> None:
    def run() -> int:
        from ..pytorch.export import export_design

        source = export_design(read_design(design), defines=define or (), settings=settings_from(ctx),
                               label=design if zoo.path(design) else "")
        emit(source, output, force)
        return 0

    finish(run, ctx)
