"""`cnncalc sweep`: every point of a grid, filtered, sorted, ranked or on its Pareto front."""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

from ..render import FORMATS
from ..settings import MAX_LAYERS
from .application import EXIT_PROBLEMS, app, finish, say
from .io import design_path, read_design, write_atomically
from .options import (FORMAT_ALIASES, AccumulateOpt, AliasChoice, AmpOpt, BatchOpt, BudgetForOpt, BudgetOpt,
                      CheckpointOpt, CudaContextOpt, CudaWorkspaceOpt, DefineOpt, DesignArg, DtypeOpt, FitRuleOpt,
                      ForceOpt, ForeachOpt, FreezeOpt, InputOpt, MaxInputOpt, MaxLayersOpt, MeasuresOpt, MemoryRulesOpt,
                      OptimizerOpt, OptionalOpt, OutputOpt, output_format, settings_from)

SWEEP_EXTENSIONS = {".md": "markdown", ".markdown": "markdown", ".json": "json", ".csv": "csv", ".txt": "table",
                    ".jsonl": "jsonl", ".ndjson": "jsonl"}
PROGRESS_AT = 1000  # sweeps of at least this many points show a progress bar on a terminal

SWEEP_HELP = """Sweep DESIGN over ranges of its variables, layer defaults, input size or batch, keep the points
that meet --where, and sort them, take the best --top, or the Pareto front.

--vary NAME=VALUES (repeatable): values V1,V2,..., ranges A..B or A..B:STEP, or both (N=1,2,4..16:4);
NAME is a variable, a layer default (conv.filters), input (HxWxC, or a side S) or batch.
Names for --where, --sort, --pareto and --columns (the JSON contract's): params, buffers, macs,
flops, activations, forward_bytes, forward_bytes_per_image, params_bytes, training_bytes,
saved_bytes, training_peak_bytes, inference_peak_bytes, cuda_total_bytes, max_batch (with
--budget), max_input (with --max-input), fits, rows, rf, and the varied names; a _bytes name also
without _bytes (training_peak).
Units: K, M, G for counts; KiB, MiB, GiB (KB, MB, GB) for bytes. --sort and --pareto: -name smaller
first (better), +name larger. Points that cannot be computed are counted by reason, never fatal.
Exit 0; 1 when no point could be computed; 2 bad design or usage.

\b
Examples:
  cnncalc sweep "INPUT 32x32x3 -> [[CONV3-C -> RELU]*N -> POOL2]*3 -> FC-10" \\
      --vary N=1..4 --vary C=16..128:16 --where "params < 1M and fits" --sort -macs --top 10
  cnncalc sweep cifar.cnn --vary N=1..3 --vary conv.filters=16,32,64 --pareto -macs,+params
  cnncalc sweep resnet18 --vary input=32..224:32 --vary batch=32,64,128 -f jsonl -o sweep.jsonl
"""


@app.command("sweep", help=SWEEP_HELP, no_args_is_help=True)
def sweep_command(
    ctx: typer.Context,
    design: DesignArg,
    vary: Annotated[list[str], typer.Option("--vary", metavar="NAME=VALUES", show_default=False,
                                            help="A name and its values: N=1..4, C=32,64,128, W=16..512:16.")],
    where: Annotated[Optional[str], typer.Option(
        "--where", metavar="CONDITION", help="Keep the points that meet it: \"params < 5M and fits\".")] = None,
    sort: Annotated[Optional[str], typer.Option(
        "--sort", metavar="NAMES", help="Order the rows: macs (smaller first), +params (larger first).")] = None,
    top: Annotated[Optional[int], typer.Option("--top", min=1, metavar="N", help="Only the first (best) N rows.")
                   ] = None,
    pareto: Annotated[Optional[str], typer.Option(
        "--pareto", metavar="NAMES", help="Only the Pareto front over these measures: -macs,+params.")] = None,
    columns: MeasuresOpt = None,
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
    fmt: Annotated[str, typer.Option(
        "--format", "-f", click_type=AliasChoice((*FORMATS, "jsonl"), {**FORMAT_ALIASES, "ndjson": "jsonl"}),
        help="Output format; jsonl, csv, json and markdown stream in constant memory. Without it, -o FILE's "
             "extension picks it (.jsonl, .csv, .json, .md).")] = "table",
    output: OutputOpt = None,
    force: ForceOpt = False,
    fit_rule: FitRuleOpt = "coverage",
    optional: OptionalOpt = "include",
    max_layers: MaxLayersOpt = MAX_LAYERS,
    max_points: Annotated[int, typer.Option("--max-points", min=1, help="Refuse grids larger than this.")
                          ] = 10_000_000,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=0, metavar="N",
                                      help="Worker processes (0: one per core, the default; 1: this process "
                                           "alone); grids under 512 points run in this process.")] = 0,
) -> None:
    options = dict(vary=vary, where=where, sort=sort, top=top, pareto=pareto, columns=columns, defines=define or (),
                   max_points=max_points, jobs=jobs)
    finish(lambda: _sweep(ctx, design, fmt, output, force, options), ctx)


def _sweep(ctx: typer.Context, design: str, fmt, output, force: bool, options: dict) -> int:
    from ..render.sweep import chunks, summary_lines
    from ..sweeps import sweep

    chosen = output_format(ctx, fmt, output, (*FORMATS, "jsonl"), SWEEP_EXTENSIONS)
    named = design != "-" and design_path(design) is not None  # a built-in or a file: named in the header
    result = sweep(read_design(design), label=design if named else "", settings=settings_from(ctx), **options)
    bar = _sweep_progress(result.total)
    if bar is not None:
        result.progress = bar[1]
    header = result.header()
    pieces = chunks(header, iter(result), lambda: result.summary, chosen, ties=bool(result.pareto))

    def failed() -> bool:  # no point computed, and some failed: exit 1, and an -o file is left as it was
        summary = result.summary
        return bool(summary["points"] and not summary["computed"] and summary["failed"])

    try:
        if output is None:
            for piece in pieces:
                sys.stdout.write(piece)
        elif not write_atomically(output, pieces, force, keep=lambda: not failed()):
            for text in summary_lines(header, result.summary):
                say(f"sweep: {text}")
            say(f"sweep: no point computed: {output} not written")
            return EXIT_PROBLEMS
    finally:
        if bar is not None:
            bar[0].stop()
    if chosen in ("jsonl", "csv"):
        for text in summary_lines(header, result.summary):
            say(f"sweep: {text}")
    return EXIT_PROBLEMS if failed() else 0


def _sweep_progress(total: int):
    """A progress bar on standard error, for a long sweep on a terminal: (the bar, its update), or None."""
    if total < PROGRESS_AT or not sys.stderr.isatty():
        return None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    # refreshed by the sweep's calls, not by a thread of its own: --jobs forks the process
    progress = Progress("sweep", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                        console=Console(file=sys.stderr), transient=True, auto_refresh=False)
    task = progress.add_task("sweep", total=total)
    progress.start()

    def update(done: int) -> None:
        progress.update(task, completed=done)
        progress.refresh()

    return progress, update
