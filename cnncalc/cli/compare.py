"""`cnncalc compare`: designs side by side, with the same settings."""

from __future__ import annotations

from typing import Annotated

import typer

from ..errors import SettingsError
from ..render import FORMATS
from ..settings import MAX_LAYERS
from .application import app, finish
from .io import emit, read_design
from .options import (FORMAT_ALIASES, AccumulateOpt, AliasChoice, AmpOpt, BatchOpt, BudgetForOpt, BudgetOpt,
                      CheckpointOpt, CudaContextOpt, CudaWorkspaceOpt, DefineOpt, DtypeOpt, FitRuleOpt, ForceOpt,
                      ForeachOpt, FreezeOpt, InputOpt, MaxInputOpt, MaxLayersOpt, MeasuresOpt, MemoryRulesOpt,
                      OptimizerOpt, OptionalOpt, OutputOpt, output_format, settings_from)


COMPARE_HELP = """Compare designs side by side: params, buffers, MACs, forward memory, the training peak (at
--batch, --optimizer, --amp), the memory on the GPU, the largest batch for --budget, the receptive
field at the last spatial layer, fit and rows; each design after the first also as a ratio (x) or a
difference (+/-) to the first.

Each DESIGN is a string, a .cnn file, '-' or a built-in name; -D applies to every design that uses
the name. A variant binds names for one design only: DESIGN@NAME=VALUE[@NAME=VALUE...].

\b
Examples:
  cnncalc compare resnet18 resnet34 resnet50 --batch 32 --optimizer adam --budget 24GiB
  cnncalc compare cifar.cnn@N=1 cifar.cnn@N=2 cifar.cnn@N=3 -D M=3
  cnncalc compare vgg16 "vgg16@input=160x160x3" --columns params,macs,training_peak -f markdown
"""


@app.command("compare", help=COMPARE_HELP, no_args_is_help=True)
def compare_command(
    ctx: typer.Context,
    designs: Annotated[list[str], typer.Argument(metavar="DESIGN...", show_default=False,
                                                 help="Designs or variants (DESIGN@NAME=VALUE) to compare.")],
    define: DefineOpt = None,
    input_size: InputOpt = None,
    batch: BatchOpt = 1,
    dtype: DtypeOpt = "float32",
    optimizer: OptimizerOpt = "sgd",
    amp: AmpOpt = None,
    memory_rules: MemoryRulesOpt = "cuda",
    foreach: ForeachOpt = None,
    accumulate: AccumulateOpt = 1,
    freeze: FreezeOpt = None,
    checkpoint: CheckpointOpt = None,
    budget: BudgetOpt = None,
    budget_for: BudgetForOpt = "training",
    max_input: MaxInputOpt = False,
    cuda_context: CudaContextOpt = None,
    cuda_workspace: CudaWorkspaceOpt = None,
    columns: MeasuresOpt = None,
    fmt: Annotated[str, typer.Option("--format", "-f", click_type=AliasChoice(FORMATS, FORMAT_ALIASES),
                                        help="Output format; without it, -o FILE's extension picks it.")
                   ] = "table",
    output: OutputOpt = None,
    force: ForceOpt = False,
    fit_rule: FitRuleOpt = "coverage",
    optional: OptionalOpt = "include",
    max_layers: MaxLayersOpt = MAX_LAYERS,
) -> None:
    def run() -> int:
        from ..comparison import compare
        from ..render.compare import render_compare

        if designs.count("-") > 1:
            raise SettingsError("standard input ('-') can be read only once")
        result = compare(designs, defines=define or (), columns=columns, reader=read_design,
                         settings=settings_from(ctx))
        emit(render_compare(result.data, output_format(ctx, fmt, output)), output, force)
        return 0

    finish(run, ctx)
