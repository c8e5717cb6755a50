"""`cnncalc plan` and `cnncalc check`: the table of every layer, and the fit alone.

No `from __future__ import annotations` here: typer reads the commands' annotations at every run, and
as strings it would compile each of them first (nearly 1% of a cold plan)."""

import gc
import sys
from contextlib import contextmanager
from typing import Annotated, Optional

import typer

from ..errors import position as where
from ..errors import SettingsError, visible
from ..render import PLAN_FORMATS
from ..settings import MAX_LAYERS
from .application import EXIT_PROBLEMS, app, finish, say
from .io import design_path, emit, read_design
from .options import (FORMAT_ALIASES, AccumulateOpt, AliasChoice, AmpOpt, BatchOpt, BudgetForOpt, BudgetOpt,
                      CheckpointOpt, CudaContextOpt, CudaWorkspaceOpt, DefineOpt, DesignArg, DtypeOpt, FitRuleOpt,
                      ForceOpt, ForeachOpt, FreezeOpt, InputOpt, MaxInputOpt, MaxLayersOpt, MemoryRulesOpt,
                      OptimizerOpt, OptionalOpt, OutputOpt, output_format, settings_from)
from .terminal import box_characters, output_width, print_problems, svg_color, use_color, wrapped


PLAN_HELP = """Print the table of every layer of DESIGN: output volume, memory, weights (with the formula),
params, MACs and receptive field, then the totals, the training memory, and every stride or
padding that does not fit, with fixes.

\b
Examples:
  cnncalc plan vgg16
  cnncalc plan "INPUT 224x224x3 -> [[CONV3-64 -> RELU]*2 -> POOL2]*2 -> FC-10"
  cnncalc plan "INPUT -> [[CONV -> RELU]*N -> POOL?]*M -> [FC-H -> RELU]*K -> FC-10" \\
      -D N=2 -D M=3 -D K=1 -D H=256 -D conv.filters=32 --input 32x32x3
  cnncalc plan "stage(C) = [CONV3-C -> RELU]*2 -> POOL2;
      INPUT 32x32x3 -> stage(32) -> stage(64) -> stage(128) -> FC-10"
  cnncalc plan resnet50 --batch 32 --dtype float16 --optimizer adam
  cnncalc plan resnet50 --optimizer adam --budget 24GiB --max-input
  cnncalc plan resnet50 --depth 1 --columns name,output,params,params_pct,macs,macs_pct
  cnncalc plan vgg16 --format json -o vgg16.json
"""

CHECK_HELP = """Check that every stride and padding of DESIGN fits its input.
Exit 0 when everything fits, 1 when something does not (each misfit with its arithmetic,
the rows it drops and fixes), 2 when the design cannot be read.

\b
Examples:
  cnncalc check "INPUT 7x7x3 -> CONV3-10/5p0"
  cnncalc check vgg16 --input 320x320x3
"""


@app.command("plan", help=PLAN_HELP, no_args_is_help=True)
def plan_command(
    ctx: typer.Context,
    design: DesignArg,
    define: DefineOpt = None,
    input_size: InputOpt = None,
    batch: BatchOpt = 1,
    dtype: DtypeOpt = "float32",
    optimizer: OptimizerOpt = "sgd",
    memory_rules: MemoryRulesOpt = "cuda",
    foreach: ForeachOpt = None,
    budget: BudgetOpt = None,
    budget_for: BudgetForOpt = "training",
    accumulate: AccumulateOpt = 1,
    max_input: MaxInputOpt = False,
    cuda_context: CudaContextOpt = None,
    cuda_workspace: CudaWorkspaceOpt = None,
    fmt: Annotated[str, typer.Option(
        "--format", "-f", click_type=AliasChoice(PLAN_FORMATS, FORMAT_ALIASES),
        help="Output format (md: markdown, txt: table; html: one self-contained file with the diagram, the "
             "foldable table, bars for the shares, the totals and the fit). When not given, -o FILE's extension "
             "picks it (-o vgg16.md: markdown; .json, .csv, .txt, .html), else table.")] = "table",
    output: OutputOpt = None,
    force: ForceOpt = False,
    strict: Annotated[bool, typer.Option("--strict", help="Treat a misfit as an error (exit 1).")] = False,
    fit_rule: FitRuleOpt = "coverage",
    amp: AmpOpt = None,
    freeze: FreezeOpt = None,
    checkpoint: CheckpointOpt = None,
    optional: OptionalOpt = "include",
    max_layers: MaxLayersOpt = MAX_LAYERS,
    depth: Annotated[Optional[int], typer.Option(
        "--depth", min=1, metavar="N",
        help="Fold the table's rows into the design's blocks: 1 shows the top-level items, a block call, "
             "a [..] group or a branch as one row, and X*N as one row marked xN, each with the sums of its "
             "rows; 2 opens them one level; and so on. JSON and CSV keep every layer (JSON lists the blocks).",
        show_default="every layer")] = None,
    columns: Annotated[Optional[str], typer.Option(
        "--columns", metavar="KEYS",
        help="The table's and markdown's columns, by the JSON contract's keys, comma-separated: "
             "--columns name,output,params,params_pct,macs,macs_pct,memory_bytes,memory_pct. Also "
             "activations (as the notes write it: 3.2M), formula (the weights column), saved_bytes, rf, "
             "kind, fit, implied_pad, path (the row's place in the design), module (its module in the "
             "exported network) ...", show_default="index,name,output,memory_bytes,formula,params,macs,rf,"
                                                        "saved_bytes")] = None,
    notes: Annotated[bool, typer.Option(
        "--notes", help="The table: each fit note in full (by default one line per kind of note, naming its "
                        "rows).")] = False,
    assumptions: Annotated[bool, typer.Option(
        "--assumptions", help="The table: list the assumptions behind the figures (the JSON always has "
                              "them; markdown and HTML list them).")] = False,
    summary: Annotated[bool, typer.Option(
        "--summary", help="Only the headline, in place of the table: total, trainable and non-trainable params, "
                          "mult-adds, input, pass and params sizes (torchinfo's closing block), then the peaks, "
                          "the budget's answer and the fit.")] = False,
) -> None:
    sections = {"notes": notes, "assumptions": assumptions, "summary": summary}
    finish(lambda: _plan(ctx, design, define, fmt, output, force, strict, depth, columns, sections), ctx)


@contextmanager
def one_plan():
    """No garbage collection while one design is planned (or checked) and written: what a plan makes lives
    until it is written, and the cycles it leaves are a few thousand objects at 10,000 rows, while collecting costs a
    tenth of a 100,000-row plan (benchmarks/bench.py). A sweep, which plans point after point, collects
    (cli/__init__.py's thresholds). Collection resumes after: the tests run many commands in one process."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@one_plan()
def _plan(ctx: typer.Context, design: str, define, fmt, output, force: bool, strict: bool, depth, columns,
          sections: dict) -> int:
    from ..planner import run as plan
    from ..render import check_view, render, render_pieces

    chosen = output_format(ctx, fmt, output, PLAN_FORMATS)
    check_view(chosen, depth, columns)  # before the work: --depth with JSON is a usage error
    planned = plan(read_design(design), defines=define or (), settings=settings_from(ctx))
    report = planned.data
    if strict and not report["fits"]:
        print_problems(planned, as_errors=True)
        return EXIT_PROBLEMS
    summary = sections.pop("summary")
    if summary:
        from ..render.table import render_summary

        if chosen != "table":
            raise SettingsError("--summary is a text headline: leave out --format (or -o FILE.txt)")
        for warning in report["warnings"]:
            say(wrapped(f"warning: {warning}", output_width(sys.stderr)))
        text = render_summary(report, width=output_width() if output is None else None,
                              color=use_color() and output is None)
        if output is None:
            sys.stdout.write(text)
        else:
            emit(text, output, force)
    elif output is None and chosen == "table":  # the warnings first, on standard error; the answer on stdout
        for warning in report["warnings"]:
            say(wrapped(f"warning: {warning}", output_width(sys.stderr)))
        sys.stdout.write(render(report, "table", width=output_width(), color=use_color(), depth=depth,
                                columns=columns, ascii=not box_characters(sys.stdout), warnings=False, **sections))
    elif chosen == "table":
        emit(render(report, "table", depth=depth, columns=columns, **sections), output, force)
    elif chosen == "html":
        emit(render(report, "html", depth=depth, title=design_title(design), color=svg_color()), output, force)
    else:
        emit(render_pieces(report, chosen, depth=depth, columns=columns), output, force)
    return 0


def design_title(design: str) -> str:
    """What a picture or report calls the design: the built-in name or file as given, 'standard input',
    or the design text's first line (clipped)."""
    if design == "-":
        return "standard input"
    if design_path(design) is not None:
        return visible(design)
    line = visible(design.strip().splitlines()[0]) if design.strip() else "design"
    return line if len(line) <= 60 else line[:59] + "\u2026"


@app.command("check", help=CHECK_HELP, no_args_is_help=True)
def check_command(
    ctx: typer.Context,
    design: DesignArg,
    define: DefineOpt = None,
    input_size: InputOpt = None,
    fit_rule: FitRuleOpt = "coverage",
    optional: OptionalOpt = "include",
    max_layers: MaxLayersOpt = MAX_LAYERS,
) -> None:
    @one_plan()
    def run() -> int:
        from ..planner import run as plan

        planned = plan(read_design(design), defines=define or (), settings=settings_from(ctx), peaks=False)
        report = planned.data
        width = output_width()
        if not report["fits"]:
            print_problems(planned, as_errors=False)
        else:
            inp = report["input"]
            also = (f"; {len(report['notes'])} not exactly, dropping only padding or what a stride always skips "
                    f"(notes below)" if report["notes"] else "")
            print(wrapped(f"ok: all {len(report['layers'])} layers fit (input {inp['h']}x{inp['w']}x{inp['c']})"
                          f"{also}", width))
        for note in report["notes"]:  # with the misfits too, as plan shows them
            print(wrapped(f"note: {note['message']} ({where(note['line'], note['column'], note['source'])})", width))
        return 0 if report["fits"] else EXIT_PROBLEMS

    finish(run, ctx)
