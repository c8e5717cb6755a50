"""The command line: read the design, call the library, render, and map errors to exit codes.

Exit codes: 0 success, 1 design problems (a layer does not fit), 2 unreadable
design or bad usage, 3 an internal error (a bug: please report it), 141 (quietly)
when the reader of standard output went away (`cnncalc check vgg16 | head -1`).
This is the only module that prints or exits.
"""

from __future__ import annotations

import os
import shlex
import stat
import sys
import tempfile
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from typer._types import TyperChoice
from typer.core import TyperGroup

from . import zoo
from .errors import CnnCalcError, SettingsError, Source, Span
from .expand import MAX_LAYERS, OPTIONAL_MODES
from .metrics.memory import BUDGET_FOR, DEVICES as MEMORY_DEVICES, DTYPE_BYTES, OPTIMIZER_STATE
from .pytorch import DEVICES, TARGETS
from .render import DIRECTIONS, DRAW_STYLES, EMPHASES, FORMATS, PLAN_FORMATS, ZOO_FORMATS
from .errors import position as where
from .metrics.amp import AMP as AMP_DTYPES
from .metrics.fit import RULES as FIT_RULES
from .render.sections import input_fix_text

EXIT_PROBLEMS, EXIT_USAGE, EXIT_BUG = 1, 2, 3


class CnnCalcGroup(TyperGroup):
    """The top level: a first argument that is a design rather than a command gets the command line
    that plans it (`cnncalc resnet50`); any other unknown word, typer's did-you-mean."""

    def resolve_command(self, ctx, args):
        if args and not ctx.resilient_parsing and self.get_command(ctx, args[0]) is None \
                and _reads_as_design(args[0]):
            _say(f"error: {args[0]!r} is not a command; did you mean: cnncalc {shlex.join(['plan', *args])}")
            raise typer.Exit(EXIT_USAGE)
        return super().resolve_command(ctx, args)


def _reads_as_design(arg: str) -> bool:
    """'-', a built-in design's name, a .cnn path, or a design text: an arrow, or a design that
    parses to more than one bare unknown word (`foo` is a name, `CONV3-16` a layer)."""
    if arg == "-" or zoo.path(arg) or arg.endswith(".cnn") or "->" in arg or "\u2192" in arg:
        return True
    from .dsl.ast import Ref
    from .dsl.parser import parse

    try:
        design = parse(arg)
    except Exception:  # not a design: leave the word to typer's did-you-mean
        return False
    return bool(design.statements) or not all(isinstance(term, Ref) for term in design.chain.terms)


app = typer.Typer(
    name="cnncalc",
    help="Shapes, parameters, MACs, memory and receptive fields of ConvNet designs, "
         "written in the CS231n notation. No deep-learning framework needed.\n\n\b\nExamples:\n"
         "  cnncalc plan vgg16\n  cnncalc plan resnet50 --dtype fp16 -o resnet50.md\n  cnncalc zoo\n"
         "  cnncalc --install-completion",
    cls=CnnCalcGroup,
    add_completion=True,
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _choices(name: str, values) -> type[Enum]:
    """A typer choice built from one of the library's tables, so the two never drift apart."""
    return Enum(name, [(v, v) for v in values], type=str)


Format = _choices("Format", FORMATS)
PlanFormat = _choices("PlanFormat", PLAN_FORMATS)
Style = _choices("Style", DRAW_STYLES)
Emphasis = _choices("Emphasis", EMPHASES)
Direction = _choices("Direction", DIRECTIONS)
Dtype = _choices("Dtype", DTYPE_BYTES)
Optimizer = _choices("Optimizer", OPTIMIZER_STATE)
OptionalMode = _choices("OptionalMode", OPTIONAL_MODES)
ZooFormat = _choices("ZooFormat", ZOO_FORMATS)
Device = _choices("Device", DEVICES)
Target = _choices("Target", TARGETS)
MemoryDevice = _choices("MemoryDevice", MEMORY_DEVICES)
BudgetFor = _choices("BudgetFor", BUDGET_FOR)


class AliasChoice(TyperChoice):
    """A choice among canonical names that also accepts aliases (fp16 for float16). The command gets
    the canonical name; --help and shell completion list only the canonical names."""

    def __init__(self, choices, aliases: dict[str, str]):
        super().__init__(list(choices))
        self.aliases = {alias: name for alias, name in aliases.items() if name in self.choices}

    def convert(self, value, param, ctx):
        return super().convert(self.aliases.get(value, value), param, ctx)

    def get_invalid_choice_message(self, value, ctx) -> str:
        return super().get_invalid_choice_message(value, ctx).rstrip(".") + f" (or {', '.join(self.aliases)})."


DTYPE_ALIASES = {"fp32": "float32", "float": "float32", "fp16": "float16", "half": "float16", "bf16": "bfloat16"}
FORMAT_ALIASES = {"md": "markdown", "txt": "table"}
EXTENSION_FORMATS = {".md": "markdown", ".markdown": "markdown", ".json": "json", ".csv": "csv", ".txt": "table"}
HTML_EXTENSIONS = {".html": "html", ".htm": "html"}  # plan's alone: compare and sweep write no HTML


def output_format(ctx: typer.Context, fmt: Enum, output: Path | None, formats=FORMATS) -> str:
    """-f when given; else the format -o FILE's extension names (.md, .json, .csv, .txt, and .html where
    `formats` has it); else the default."""
    source = ctx.get_parameter_source("fmt")
    if output is None or (source is not None and source.name != "DEFAULT"):
        return fmt.value
    named = {**EXTENSION_FORMATS, **HTML_EXTENSIONS}.get(output.suffix.lower())
    return named if named in formats else fmt.value


def _print_version(value: bool) -> None:
    if value:
        from . import __version__

        print(f"cnncalc {__version__}")
        raise typer.Exit()


@app.callback()
def _top_level(version: Annotated[Optional[bool], typer.Option(
        "--version", is_eager=True, callback=_print_version, help="Print cnncalc's version and exit.")] = None,
) -> None:
    pass  # only --version, handled by its callback; the options before the command
FitRule = _choices("FitRule", FIT_RULES)
Amp = _choices("Amp", AMP_DTYPES)


DesignArg = Annotated[str, typer.Argument(
    metavar="DESIGN", show_default=False,
    help="A design string, a .cnn file, '-' for standard input, or a built-in example's name (vgg16). "
         "A built-in name is the built-in; an argument naming an existing file is that file; a missing file is "
         "reported for an argument of one line without '->' or '\u2192' that ends in .cnn, or that has a '/' and "
         "does not read as a design; anything else is a design: \"CONV3-16/2\" is a design, dir/my.cnn a file.")]
DefineOpt = Annotated[Optional[list[str]], typer.Option(
    "-D", "--define", metavar="NAME=VALUE",
    help="Bind a variable, block or layer default, overriding the design's: -D N=2 -D conv.filters=64. Repeatable.")]
InputOpt = Annotated[Optional[str], typer.Option(
    "--input", metavar="HxWxC", help="Input size, overriding the design's INPUT: --input 320x320x3.")]
OptionalOpt = Annotated[OptionalMode, typer.Option(
    "--optional", help="Include or drop the layers marked '?'.")]
MaxLayersOpt = Annotated[int, typer.Option(
    "--max-layers", min=1, help="Refuse designs that expand to more layers than this.")]
OutputOpt = Annotated[Optional[Path], typer.Option(
    "-o", "--output", metavar="FILE", help="Write to FILE instead of standard output.")]
ForceOpt = Annotated[bool, typer.Option("--force", help="Overwrite an existing -o FILE.")]
AmpOpt = Annotated[Optional[Amp], typer.Option(
    "--amp", help="Mixed-precision training under autocast to this dtype: activations in it, parameters, "
                  "gradients and optimizer state in float32 (--dtype float32). Without it, --dtype float16 "
                  "models pure float16 training.", show_default=False)]
FreezeOpt = Annotated[Optional[int], typer.Option(
    "--freeze", metavar="ROW", min=0, help="Fine-tuning: the parameters of rows 1 to ROW (the table's #) do not "
                                           "train: no gradients, no optimizer state, nothing saved before the "
                                           "first trainable layer.", show_default=False)]
CheckpointOpt = Annotated[Optional[list[str]], typer.Option(
    "--checkpoint", metavar="FIRST-LAST", help="Activation checkpointing of rows FIRST to LAST (whole top-level "
                                               "layers or branches): their saved tensors are recomputed in "
                                               "backward. Repeatable: --checkpoint 5-20 --checkpoint 21-37.",
    show_default=False)]
FitRuleOpt = Annotated[FitRule, typer.Option(
    "--fit-rule", help="coverage: a layer is a misfit when it leaves real input unseen beyond what its stride "
                       "always skips (dropping only padding, or a stride's gap, is a note); notes: the course "
                       "notes' rule, every output that is not a whole number is a misfit.")]

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
  cnncalc plan resnet.cnn --batch 32 --dtype float16 --optimizer adam
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


def cuda_settings(context: str | None, workspace: str | None) -> dict:
    """The CUDA assumptions given on the command line (the library's defaults otherwise)."""
    given = {"cuda_context": context, "cuda_workspace": workspace}
    return {key: value for key, value in given.items() if value is not None}


@app.command("plan", help=PLAN_HELP, no_args_is_help=True)
def plan_command(
    ctx: typer.Context,
    design: DesignArg,
    define: DefineOpt = None,
    input_size: InputOpt = None,
    batch: Annotated[int, typer.Option("--batch", min=1, help="Images per batch: multiplies memory, never shapes.")] = 1,
    dtype: Annotated[Dtype, typer.Option(
        "--dtype", click_type=AliasChoice(DTYPE_BYTES, DTYPE_ALIASES),
        help="Bytes per number for memory; also fp32 or float, fp16 or half, bf16: --dtype fp16.")
    ] = Dtype("float32"),
    optimizer: Annotated[Optimizer, typer.Option(
        "--optimizer", help="Optimizer state in training memory: sgd none, momentum 1x, adam 2x the params.")
    ] = Optimizer("sgd"),
    device: Annotated[MemoryDevice, typer.Option(
        "--device", help="Whose memory rules the training and inference peaks follow: cuda (the allocator's "
                         "512-byte blocks, dropout's 1-byte mask) or cpu.")] = MemoryDevice("cuda"),
    foreach: Annotated[Optional[bool], typer.Option(
        "--foreach/--for-loop", help="The optimizer's implementation: foreach (all parameters at once, "
                                     "PyTorch's default on cuda) or a for-loop (its default on cpu).",
        show_default="the device's default")] = None,
    budget: Annotated[Optional[str], typer.Option(
        "--budget", metavar="SIZE", help="A memory size (8GiB, 512MiB binary; 16GB decimal): report the largest "
                                         "batch whose simulated peak fits it.")] = None,
    budget_for: Annotated[BudgetFor, typer.Option(
        "--budget-for", help="What must fit the budget: a training step or inference.")] = BudgetFor("training"),
    accumulate: Annotated[int, typer.Option(
        "--accumulate", min=1, metavar="N", help="Gradient accumulation over N micro-batches of --batch: the "
                                                 "peak (and --budget's answer) is the micro-batch's.")] = 1,
    max_input: Annotated[bool, typer.Option(
        "--max-input", help="With --budget: also the largest square input at --batch whose every window fits "
                            "and whose peak fits the budget.")] = False,
    cuda_context: Annotated[Optional[str], typer.Option(
        "--cuda-context", metavar="SIZE", help="On cuda: the memory the CUDA context holds, an assumption "
                                               "counted apart from the allocator's.",
        show_default="400MiB")] = None,
    cuda_workspace: Annotated[Optional[str], typer.Option(
        "--cuda-workspace", metavar="SIZE", help="On cuda: the cuBLAS/cuDNN workspaces, an assumption counted "
                                                 "apart.", show_default="32MiB")] = None,
    fmt: Annotated[PlanFormat, typer.Option(
        "--format", "-f", click_type=AliasChoice(PLAN_FORMATS, FORMAT_ALIASES),
        help="Output format (md: markdown, txt: table; html: one self-contained file with the diagram, the "
             "foldable table, bars for the shares, the totals and the fit). When not given, -o FILE's extension "
             "picks it (-o vgg16.md: markdown; .json, .csv, .txt, .html), else table.")] = PlanFormat("table"),
    output: OutputOpt = None,
    force: ForceOpt = False,
    strict: Annotated[bool, typer.Option("--strict", help="Treat a misfit as an error (exit 1).")
                      ] = False,
    fit_rule: FitRuleOpt = FitRule("coverage"),
    amp: AmpOpt = None,
    freeze: FreezeOpt = None,
    checkpoint: CheckpointOpt = None,
    optional: OptionalOpt = OptionalMode("include"),
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
             "kind, fit, implied_pad ...", show_default="index,name,output,memory_bytes,formula,params,macs,rf,"
                                                        "saved_bytes")] = None,
) -> None:
    def run() -> int:
        from .planner import run as plan
        from .render import check_view, render

        chosen = output_format(ctx, fmt, output, PLAN_FORMATS)
        check_view(chosen, depth, columns)  # before the work: --depth with JSON is a usage error
        planned = plan(read_design(design), defines=define or (), input=input_size, batch=batch,
                       dtype=dtype.value, optimizer=optimizer.value, device=device.value, foreach=foreach,
                       budget=budget, budget_for=budget_for.value, accumulate=accumulate, max_input=max_input,
                       **cuda_settings(cuda_context, cuda_workspace), fit_rule=fit_rule.value,
                       amp=amp.value if amp else None, freeze=freeze, checkpoint=checkpoint or (),
                       optional=optional.value,
                       max_layers=max_layers)
        report = planned.data
        if strict and not report["fits"]:
            print_problems(planned, as_errors=True)
            return EXIT_PROBLEMS
        if output is None and chosen == "table":
            sys.stdout.write(render(report, "table", width=output_width(), color=use_color(), depth=depth,
                                    columns=columns, ascii=not box_characters(sys.stdout)))
        elif chosen == "html":
            emit(render(report, "html", depth=depth, title=design_title(design), color=svg_color()), output, force)
        else:
            emit(render(report, chosen, depth=depth, columns=columns), output, force)
        return 0

    _exit(run, ctx)


def design_title(design: str) -> str:
    """What a picture or report calls the design: the built-in name or file as given, 'standard input',
    or the design text's first line (clipped)."""
    if design == "-":
        return "standard input"
    if _design_path(design) is not None:
        return design
    line = design.strip().splitlines()[0] if design.strip() else "design"
    return line if len(line) <= 60 else line[:59] + "\u2026"


def svg_color() -> bool:
    """Colour in a picture or an HTML report, unless NO_COLOR is set to anything but the empty string:
    misfits are then marked by their glyph and border alone."""
    return not os.environ.get("NO_COLOR")


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
    style: Annotated[Style, typer.Option(
        "--style", help="blocks: the block diagram; volumes: a chain of 3D volumes scaled by log2 of H, W and C, "
                        "the layers between them (branches must be folded with --depth).")] = Style("blocks"),
    emphasis: Annotated[Optional[Emphasis], typer.Option(
        "--emphasis", help="A bar beside each box: its share of the forward memory, params or MACs.",
        show_default=False)] = None,
    direction: Annotated[Optional[Direction], typer.Option(
        "--direction", help="The flow: top to bottom or left to right (volumes: always left to right).",
        show_default="down")] = None,
    define: DefineOpt = None,
    input_size: InputOpt = None,
    dtype: Annotated[Dtype, typer.Option(
        "--dtype", click_type=AliasChoice(DTYPE_BYTES, DTYPE_ALIASES),
        help="Bytes per number for the memory figures; also fp32, fp16, bf16.")] = Dtype("float32"),
    fit_rule: FitRuleOpt = FitRule("coverage"),
    optional: OptionalOpt = OptionalMode("include"),
    max_layers: MaxLayersOpt = MAX_LAYERS,
) -> None:
    def run() -> int:
        from .planner import run as plan
        from .render.svg import check_settings, draw

        if output is not None and output.suffix.lower() in NOT_SVG:
            raise SettingsError(f"cnncalc draw writes SVG, not {output.suffix}: use -o NAME.svg (for an HTML report: "
                                f"cnncalc plan DESIGN -o NAME.html)")
        settings = {"style": style.value, "emphasis": emphasis and emphasis.value,
                    "direction": direction and direction.value}
        check_settings(depth=depth, **settings)  # before the work
        report = plan(read_design(design), defines=define or (), input=input_size, dtype=dtype.value,
                      fit_rule=fit_rule.value, optional=optional.value, max_layers=max_layers).data
        drawing = draw(report, depth=depth, color=svg_color(), **settings)
        if drawing.note:
            _say(f"note: {drawing.note}")
        emit(drawing.svg, output, force)
        return 0

    _exit(run, ctx)


@app.command("check", help=CHECK_HELP, no_args_is_help=True)
def check_command(
    ctx: typer.Context,
    design: DesignArg,
    define: DefineOpt = None,
    input_size: InputOpt = None,
    fit_rule: FitRuleOpt = FitRule("coverage"),
    optional: OptionalOpt = OptionalMode("include"),
    max_layers: MaxLayersOpt = MAX_LAYERS,
) -> None:
    def run() -> int:
        from .planner import run as plan

        planned = plan(read_design(design), defines=define or (), input=input_size, optional=optional.value,
                       max_layers=max_layers, fit_rule=fit_rule.value, peaks=False)
        report = planned.data
        if report["fits"]:
            inp = report["input"]
            notes = report["notes"]
            also = (f"; {len(notes)} not exactly, dropping only padding or what a stride always skips (notes below)"
                    if notes else "")
            width = output_width()
            print(wrapped(f"ok: all {len(report['layers'])} layers fit (input {inp['h']}x{inp['w']}x{inp['c']})"
                          f"{also}", width))
            for note in notes:
                print(wrapped(f"note: {note['message']} ({where(note['line'], note['column'], note['source'])})",
                              width))
            return 0
        print_problems(planned, as_errors=False)
        return EXIT_PROBLEMS

    _exit(run, ctx)


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
    fmt: Annotated[ZooFormat, typer.Option(
        "--format", "-f", click_type=AliasChoice(ZOO_FORMATS, FORMAT_ALIASES),
        help="Format of the list (md: markdown, txt: table).")] = ZooFormat("table"),
) -> None:
    def run() -> int:
        if name is not None:
            path = zoo.path(name)
            if path is None:
                from .expand import did_you_mean

                raise SettingsError(f"no built-in design '{name}'{did_you_mean(name.lower(), zoo.names())} "
                                    f"(see cnncalc zoo)")
            sys.stdout.write(path.read_text(encoding="utf-8"))
            return 0
        from .render.zoo import render_zoo

        sys.stdout.write(render_zoo(zoo.catalog(), fmt.value, width=output_width()))
        return 0

    _exit(run, ctx)


VERIFY_HELP = """Build DESIGN in PyTorch (the network `cnncalc export` writes), run it, and compare every
row's output shape and parameter count with cnncalc's; on --device cpu or cuda, also the bytes
autograd saves for the backward pass; with --memory, the peak of one training step as PyTorch's
MemTracker measures it (on the CPU, computing nothing) beside cnncalc's simulation, each broken
down. Exit 0 when all agree, 1 on any mismatch, 2 when PyTorch is not installed
(pip install torch==2.13.0; any torch 2.1 or later).

\b
Examples:
  cnncalc verify resnet50
  cnncalc verify vgg16 --device cpu --batch 2
  cnncalc verify my.cnn --memory --batch 32 --optimizer adam
"""

EXPORT_HELP = """Write DESIGN as standalone PyTorch source: a module defining `class Net(nn.Module)`, built
with no arguments, whose parameters and output shape are cnncalc's numbers. Running it needs
only torch.

\b
Examples:
  cnncalc export resnet18 --to pytorch -o resnet18.py
  cnncalc export "INPUT 32x32x3 -> [CONV3-32 -> RELU]*2 -> POOL2 -> FC-10" --to pytorch
"""


@app.command("verify", help=VERIFY_HELP, no_args_is_help=True)
def verify_command(
    ctx: typer.Context,
    design: DesignArg,
    define: DefineOpt = None,
    input_size: InputOpt = None,
    batch: Annotated[int, typer.Option("--batch", min=1, help="Images per batch of the forward pass.")] = 1,
    device: Annotated[Device, typer.Option(
        "--device", help="meta costs no memory at any size; cpu and cuda also measure saved tensors.")
    ] = Device("meta"),
    memory: Annotated[bool, typer.Option(
        "--memory", "--measure", help="Also the peak memory of one training step: PyTorch's MemTracker beside "
                                      "cnncalc's simulation (--measure is the old name).")] = False,
    optimizer: Annotated[Optimizer, typer.Option("--optimizer", help="The optimizer of the measured step.")
                         ] = Optimizer("sgd"),
    foreach: Annotated[bool, typer.Option(
        "--foreach/--for-loop", help="The optimizer's implementation in the measured step.")] = False,
    amp: AmpOpt = None,
    freeze: FreezeOpt = None,
    checkpoint: CheckpointOpt = None,
    optional: OptionalOpt = OptionalMode("include"),
    max_layers: MaxLayersOpt = MAX_LAYERS,
) -> None:
    def run() -> int:
        from .pytorch.verify import verify
        from .render.verify import render_verification

        result = verify(read_design(design), defines=define or (), input=input_size, batch=batch,
                        device=device.value, memory=memory, optimizer=optimizer.value, foreach=foreach,
                        amp=amp.value if amp else None, freeze=freeze, checkpoint=checkpoint or (),
                       optional=optional.value, max_layers=max_layers)
        sys.stdout.write(render_verification(result, color=use_color()))
        return 0 if result.ok else EXIT_PROBLEMS

    _exit(run, ctx)


@app.command("export", help=EXPORT_HELP, no_args_is_help=True)
def export_command(
    ctx: typer.Context,
    design: DesignArg,
    to: Annotated[Target, typer.Option("--to", help="The framework to write.")],
    output: OutputOpt = None,
    force: ForceOpt = False,
    define: DefineOpt = None,
    input_size: InputOpt = None,
    optional: OptionalOpt = OptionalMode("include"),
    max_layers: MaxLayersOpt = MAX_LAYERS,
) -> None:
    def run() -> int:
        from .pytorch.export import export_design

        text = read_design(design)
        source = export_design(text, defines=define or (), input=input_size, optional=optional.value,
                               max_layers=max_layers, label=design if zoo.path(design) else "")
        emit(source, output, force)
        return 0

    _exit(run, ctx)


SCHEMA_HELP = """Print the JSON Schema of `cnncalc plan --format json` (the contract cnncalc.plan/1), for
validating its output in scripts and CI. Keys may be added within a version, never renamed or removed.

\b
Examples:
  cnncalc schema > plan.schema.json
  cnncalc plan vgg16 -f json | check-jsonschema --schemafile plan.schema.json -
"""


@app.command("schema", help=SCHEMA_HELP)
def schema_command(ctx: typer.Context, output: OutputOpt = None, force: ForceOpt = False) -> None:
    def run() -> int:
        from . import schema

        emit(schema.path(schema.PLAN).read_text(encoding="utf-8"), output, force)
        return 0

    _exit(run, ctx)


# -- compare and sweep: choosing a design ---------------------------------------------------------------
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

SWEEP_HELP = """Sweep DESIGN over ranges of its variables, layer defaults, input size or batch, keep the points
that meet --where, and sort them, take the best --top, or the Pareto front.

--vary NAME=VALUES (repeatable): values V1,V2,..., ranges A..B or A..B:STEP, or both (N=1,2,4..16:4);
NAME is a variable, a layer default (conv.filters), input (HxWxC, or a side S) or batch.
Names for --where, --sort, --pareto and --columns (the JSON contract's): params, buffers, macs,
flops, activations, forward_bytes, forward_bytes_per_image, params_bytes, training_bytes,
saved_bytes, training_peak_bytes, inference_peak_bytes, cuda_total_bytes, max_batch (with
--budget), fits, rows, rf, and the varied names; a _bytes name also without _bytes (training_peak).
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

SweepFormat = _choices("SweepFormat", (*FORMATS, "jsonl"))
SWEEP_EXTENSIONS = {**EXTENSION_FORMATS, ".jsonl": "jsonl", ".ndjson": "jsonl"}
PROGRESS_AT = 1000  # sweeps of at least this many points show a progress bar on a terminal
# A sweep allocates and frees millions of small objects while its caches hold many more: collecting
# the youngest generation every 50,000 allocations rather than 700 makes it about 20% faster
# (benchmarks/sweep.py, which uses the same setting). The command owns its process: set here only.
SWEEP_GC = (50_000, 20, 20)


def _memory_options(batch, dtype, optimizer, device, foreach, amp, budget, budget_for, fit_rule, optional,
                    max_layers, input_size) -> dict:
    return {"input": input_size, "batch": batch, "dtype": dtype.value, "optimizer": optimizer.value,
            "device": device.value, "foreach": foreach, "amp": amp.value if amp else None, "budget": budget,
            "budget_for": budget_for.value, "fit_rule": fit_rule.value, "optional": optional.value,
            "max_layers": max_layers}


BatchOpt = Annotated[int, typer.Option("--batch", min=1, help="Images per batch: multiplies memory, never shapes.")]
DtypeOpt = Annotated[Dtype, typer.Option("--dtype", click_type=AliasChoice(DTYPE_BYTES, DTYPE_ALIASES),
                                         help="Bytes per number for memory; also fp32, fp16, bf16.")]
OptimizerOpt = Annotated[Optimizer, typer.Option("--optimizer", help="Optimizer state in training memory.")]
DeviceOpt = Annotated[MemoryDevice, typer.Option("--device", help="Whose memory rules the peaks follow.")]
ForeachOpt = Annotated[Optional[bool], typer.Option("--foreach/--for-loop", help="The optimizer's implementation.",
                                                    show_default="the device's default")]
BudgetOpt = Annotated[Optional[str], typer.Option(
    "--budget", metavar="SIZE", help="A memory size (8GiB): the largest batch whose peak fits it (max_batch).")]
BudgetForOpt = Annotated[BudgetFor, typer.Option("--budget-for", help="What must fit the budget.")]
ColumnsOpt = Annotated[Optional[str], typer.Option(
    "--columns", metavar="NAMES", help="The measures to show, comma-separated: params,macs,training_peak.")]


@app.command("compare", help=COMPARE_HELP, no_args_is_help=True)
def compare_command(
    ctx: typer.Context,
    designs: Annotated[list[str], typer.Argument(metavar="DESIGN...", show_default=False,
                                                 help="Designs or variants (DESIGN@NAME=VALUE) to compare.")],
    define: DefineOpt = None,
    input_size: InputOpt = None,
    batch: BatchOpt = 1,
    dtype: DtypeOpt = Dtype("float32"),
    optimizer: OptimizerOpt = Optimizer("sgd"),
    amp: AmpOpt = None,
    device: DeviceOpt = MemoryDevice("cuda"),
    foreach: ForeachOpt = None,
    budget: BudgetOpt = None,
    budget_for: BudgetForOpt = BudgetFor("training"),
    columns: ColumnsOpt = None,
    fmt: Annotated[Format, typer.Option("--format", "-f", click_type=AliasChoice(FORMATS, FORMAT_ALIASES),
                                        help="Output format; without it, -o FILE's extension picks it.")
                   ] = Format("table"),
    output: OutputOpt = None,
    force: ForceOpt = False,
    fit_rule: FitRuleOpt = FitRule("coverage"),
    optional: OptionalOpt = OptionalMode("include"),
    max_layers: MaxLayersOpt = MAX_LAYERS,
) -> None:
    def run() -> int:
        from .comparison import compare
        from .render.compare import render_compare

        if designs.count("-") > 1:
            raise SettingsError("standard input ('-') can be read only once")
        result = compare(designs, defines=define or (), columns=columns, reader=read_design,
                         **_memory_options(batch, dtype, optimizer, device, foreach, amp, budget, budget_for,
                                           fit_rule, optional, max_layers, input_size))
        emit(render_compare(result.data, output_format(ctx, fmt, output)), output, force)
        return 0

    _exit(run, ctx)


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
    columns: ColumnsOpt = None,
    define: DefineOpt = None,
    input_size: InputOpt = None,
    batch: BatchOpt = 1,
    dtype: DtypeOpt = Dtype("float32"),
    optimizer: OptimizerOpt = Optimizer("sgd"),
    amp: AmpOpt = None,
    device: DeviceOpt = MemoryDevice("cuda"),
    foreach: ForeachOpt = None,
    budget: BudgetOpt = None,
    budget_for: BudgetForOpt = BudgetFor("training"),
    fmt: Annotated[SweepFormat, typer.Option(
        "--format", "-f", click_type=AliasChoice((*FORMATS, "jsonl"), {**FORMAT_ALIASES, "ndjson": "jsonl"}),
        help="Output format; jsonl, csv, json and markdown stream in constant memory. Without it, -o FILE's "
             "extension picks it (.jsonl, .csv, .json, .md).")] = SweepFormat("table"),
    output: OutputOpt = None,
    force: ForceOpt = False,
    fit_rule: FitRuleOpt = FitRule("coverage"),
    optional: OptionalOpt = OptionalMode("include"),
    max_layers: MaxLayersOpt = MAX_LAYERS,
    max_points: Annotated[int, typer.Option("--max-points", min=1, help="Refuse grids larger than this.")
                          ] = 10_000_000,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=0, metavar="N",
                                      help="Worker processes (0: one per core, the default; 1: this process "
                                           "alone); grids under 512 points run in this process.")] = 0,
) -> None:
    def run() -> int:
        from .render.sweep import chunks, summary_lines
        from .sweeps import sweep

        chosen = fmt.value
        source = ctx.get_parameter_source("fmt")
        if output is not None and (source is None or source.name == "DEFAULT"):
            chosen = SWEEP_EXTENSIONS.get(output.suffix.lower(), chosen)
        named = design != "-" and _design_path(design) is not None  # a built-in or a file: named in the header
        result = sweep(read_design(design), vary=vary, where=where, sort=sort, top=top, pareto=pareto,
                       columns=columns, defines=define or (), label=design if named else "",
                       max_points=max_points, jobs=jobs,
                       **_memory_options(batch, dtype, optimizer, device, foreach, amp, budget, budget_for,
                                         fit_rule, optional, max_layers, input_size))
        import gc

        gc.set_threshold(*SWEEP_GC)
        bar = _sweep_progress(result.total)
        if bar is not None:
            result.progress = bar[1]
        header = result.header()
        pieces = chunks(header, iter(result), lambda: result.summary, chosen, ties=bool(result.pareto))
        try:
            if output is None:
                for piece in pieces:
                    sys.stdout.write(piece)
            else:
                _stream_atomically(output, pieces, force)
        finally:
            if bar is not None:
                bar[0].stop()
        if chosen in ("jsonl", "csv"):
            for text in summary_lines(header, result.summary):
                _say(f"sweep: {text}")
        summary = result.summary
        return EXIT_PROBLEMS if summary["points"] and not summary["computed"] and summary["failed"] else 0

    _exit(run, ctx)


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


def _stream_atomically(path: Path, pieces, force: bool) -> None:
    """write_atomically's rules (only a regular file is replaced, only with --force; a failed run leaves
    no partial file) for text written piece by piece, so that a long sweep never sits in memory."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        st = None
    except OSError as e:
        raise SettingsError(f"cannot write {path}: {e.strerror or e}") from None
    if st is not None and (not force or not stat.S_ISREG(st.st_mode)):
        write_atomically(path, "", force)  # raises the message for a link, a FIFO, a directory, or no --force
    mode = stat.S_IMODE(st.st_mode) & 0o777 if st is not None else 0o666 & ~_umask()
    directory = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        raise SettingsError(f"cannot write {path}: {e.strerror or e}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            os.fchmod(f.fileno(), mode)
            for piece in pieces:
                f.write(piece)
        os.replace(tmp, path)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise SettingsError(f"cannot write {path}: {e.strerror or e}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


PATH_SEPARATORS = frozenset(filter(None, ("/", os.sep, os.altsep)))


def read_design(design: str) -> str:
    """The design's text, from the DESIGN argument. In this order: '-' reads standard input; a
    built-in name is the built-in; an argument naming an existing file (or pipe, /dev/fd/N) is read
    from it; an argument that looks like a path is a missing file; anything else is a design text.
    Looks like a path: one line without an arrow ('->' or '\u2192') that ends in .cnn, or that has a
    path separator and does not read as a design (a syntax check only), so that "CONV3-16/2" and
    "INPUT 32x32x3 \u2192 CONV3-16/2" stay designs while dir/my.cnn and nets/vgg are files."""
    if design == "-":
        return read_stdin()
    path = _design_path(design)
    return design if path is None else zoo.read_file(path, design)


def _design_path(design: str) -> Path | None:
    """The file a DESIGN argument names, or None for a design text (read_design's rules); a missing
    file is an error."""
    one_line = "\n" not in design and "\r" not in design and len(design) < 4096
    if not one_line:
        return None
    path = zoo.path(design)
    if path is None and design.strip() and _exists(design):
        path = Path(design)
    if path is None and "->" not in design and "\u2192" not in design:
        if design.endswith(".cnn"):
            raise SettingsError(f"no such design file: {design}")
        if PATH_SEPARATORS.intersection(design):
            from .dsl.parser import parse

            try:
                parse(design)
            except CnnCalcError as e:
                raise SettingsError(f"no such design file: {design}; read as a design instead: {e}") from None
    return path


def _exists(name: str) -> bool:
    try:
        return os.path.exists(name)
    except (OSError, ValueError):  # a name too long, an embedded NUL
        return False


def read_stdin() -> str:
    """Standard input as text, decoded as UTF-8 strictly: bytes that are not UTF-8 are an error that
    says where they are, never a crash or a misread design."""
    stream = sys.stdin
    if stream is None:  # file descriptor 0 is closed: `cnncalc plan - 0<&-`
        raise SettingsError("cannot read the design from standard input: it is closed")
    try:
        buffer = getattr(stream, "buffer", None)
        if buffer is None:  # a text stream without bytes under it (an embedding program's)
            text = stream.read()
            check_text(text, "standard input")
            return text
        data = buffer.read()
    except OSError as e:
        raise SettingsError(f"cannot read the design from standard input: {e.strerror or e}") from None
    except ValueError as e:  # I/O operation on a closed file
        raise SettingsError(f"cannot read the design from standard input: {e}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        where = len(data[:e.start].decode("utf-8"))
        source = Source(data.decode("utf-8", errors="replace"))
        raise SettingsError(f"standard input is not UTF-8 text: byte {e.start + 1} is 0x{data[e.start]:02x}",
                            Span(source, where, where + 1)) from None


def check_text(text: str, where: str) -> None:
    """Refuse text with lone surrogates: on Linux, Python decodes the bytes of an argument that are
    not UTF-8 as U+DC80..U+DCFF (surrogateescape). Names the byte's position, with a caret."""
    for i, ch in enumerate(text):
        if "\ud800" <= ch <= "\udfff":
            break
    else:
        return
    position = len(text[:i].encode("utf-8")) + 1  # the prefix has no surrogate: it encodes
    what = f"byte {position} is 0x{ord(ch) - 0xDC00:02x}" if "\udc80" <= ch <= "\udcff" else \
        f"character {i + 1} is the lone surrogate U+{ord(ch):04X}"
    shown = "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in text)
    raise SettingsError(f"{where} is not UTF-8 text: {what}", Span(Source(shown), i, i + 1))


def check_arguments(ctx: typer.Context | None) -> None:
    """Every text the command line received (DESIGN, -o, -D, --input, ...) is UTF-8."""
    if ctx is None:
        return
    for param in ctx.command.params:
        value = ctx.params.get(param.name)
        for v in value if isinstance(value, (list, tuple)) else [value]:
            if isinstance(v, (str, os.PathLike)) and not isinstance(v, Enum):
                where = f"the {(param.metavar or param.name).strip('[]').upper()} argument" \
                    if param.param_type_name == "argument" else "/".join(param.opts)
                check_text(os.fspath(v), where)


def print_problems(planned, as_errors: bool) -> None:
    """Each misfit as a message with its design line and carets under the layer; on a terminal (or
    with COLUMNS) the message wraps at word boundaries, the design line and carets never."""
    stream = sys.stderr if as_errors else sys.stdout
    width = output_width(stream)
    for problem, span in zip(planned.data["problems"], planned.spans):
        message, _, drawing = CnnCalcError(problem["message"], span).render(
            "error" if as_errors else "misfit").partition("\n")
        print(wrapped(message, width) + ("\n" + drawing if drawing else ""), file=stream)
    hint = input_fix_text(planned.data)
    if hint:
        print(wrapped(f"hint: every layer fits with {hint}", width), file=stream)


def output_width(stream=None) -> int | None:
    """The width to lay text out in: COLUMNS when set to a positive whole number (honoured when piped
    too: it is an explicit choice); else a terminal's width (80 when it reports 0x0, as some
    containers and serial consoles do); else None: a pipe or a file gets every line whole."""
    stream = sys.stdout if stream is None else stream
    columns = os.environ.get("COLUMNS", "").strip()
    if columns.isascii() and columns.isdigit() and 0 < int(columns) < 100_000:
        return int(columns)
    try:
        if not stream.isatty():
            return None
        width = os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):
        return None
    return width if width > 0 else 80


def use_color() -> bool:
    """ANSI styling on a terminal, unless NO_COLOR is set to anything but the empty string (no-color.org)."""
    return not os.environ.get("NO_COLOR") and sys.stdout.isatty()


BOX = "┌├│└─"  # the branch gutter's characters (render/structure.py)


def box_characters(stream) -> bool:
    """Can the stream write the gutter's box characters? (A latin-1 locale cannot: ASCII then.)"""
    try:
        BOX.encode(getattr(stream, "encoding", None) or "utf-8")
    except (LookupError, UnicodeEncodeError):
        return False
    return True


def wrapped(text: str, width: int | None) -> str:
    """`prefix: message` wrapped at word boundaries to `width`, continuation lines under the message;
    as it is without a width."""
    from .render.table import wrap

    prefix = text.partition(": ")[0]
    hang = " " * (len(prefix) + 2) if len(prefix) < 12 else "  "
    return "\n".join(wrap(text, width, "", hang))


def emit(text: str, output: Path | None, force: bool) -> None:
    """Standard output, or the -o file."""
    if output is None:
        sys.stdout.write(text)
    else:
        write_atomically(output, text, force)


FILE_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
              (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def write_atomically(path: Path, content: str, force: bool) -> None:
    """Write through a temporary file and a rename: a failed run leaves no partial file. Only a
    regular file is ever replaced, and only with --force; it keeps its permission bits. A new file
    gets the umask's default (0666 & ~umask). Symbolic links (dangling or not), FIFOs, devices,
    directories and sockets are refused, --force or not, and never opened."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        st = None
    except OSError as e:
        raise SettingsError(f"cannot write {path}: {e.strerror or e}") from None
    if st is not None:
        if stat.S_ISLNK(st.st_mode):
            target = os.readlink(path)
            dangling = "" if os.path.exists(path) else ", dangling"
            raise SettingsError(f"{path} is a symbolic link (to {target}{dangling}); cnncalc writes only regular "
                                f"files: remove the link or write to its target")
        if not stat.S_ISREG(st.st_mode):
            kind = next((name for test, name in FILE_KINDS if test(st.st_mode)), "not a regular file")
            raise SettingsError(f"{path} is {kind}; cnncalc writes only regular files (--force replaces only those)")
        if not force:
            raise SettingsError(f"{path} exists; pass --force to overwrite it")
        mode = stat.S_IMODE(st.st_mode) & 0o777
    else:
        mode = 0o666 & ~_umask()
    directory = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        raise SettingsError(f"cannot write {path}: {e.strerror or e}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            os.fchmod(f.fileno(), mode)
            f.write(content)
        os.replace(tmp, path)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise SettingsError(f"cannot write {path}: {e.strerror or e}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0o022)  # reading the umask means setting it: put it straight back
    os.umask(mask)
    return mask


EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: what a shell reports for cat, yes or grep when the reader went away


class _ClosedStream:
    """Stands for a standard stream whose file descriptor is closed (Python sets it to None)."""

    def write(self, text: str) -> int:
        raise OSError(9, "it is closed")

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


def _say(message: str) -> None:
    """One message on standard error; a standard error that cannot be written loses it quietly."""
    try:
        print(message, file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass


def _silence_stdout() -> None:
    """Point standard output's file descriptor at /dev/null, so that what is still buffered is
    dropped at exit instead of failing again ("Exception ignored ... BrokenPipeError")."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # no file descriptor (a test runner's stream)
        pass


def _exit(run, ctx: typer.Context | None = None) -> None:
    """Run a command body; the only place that turns errors into messages and exit codes.
    Standard output is flushed here, so that a reader that went away (`| head -1`) is seen here:
    cnncalc then stops quietly with 141, like other Unix tools killed by SIGPIPE."""
    if sys.stdout is None:
        sys.stdout = _ClosedStream()
    if sys.stderr is None:
        sys.stderr = _ClosedStream()
    try:
        check_arguments(ctx)
        code = run()
        sys.stdout.flush()
    except BrokenPipeError:  # the reader closed the pipe: normal use, nothing to say
        _silence_stdout()
        code = EXIT_BROKEN_PIPE
    except CnnCalcError as e:
        _say(e.render())
        code = EXIT_USAGE
    except KeyboardInterrupt:
        code = 130
    except UnicodeEncodeError as e:  # standard output's encoding (a latin-1 locale) lacks a character
        _silence_stdout()
        _say(f"error: standard output's encoding ({e.encoding}) cannot write {e.object[e.start:e.end]!a}: "
             f"set PYTHONIOENCODING=utf-8 or use -o FILE")
        code = EXIT_USAGE
    except OSError as e:  # writing standard output: a full disk, a closed descriptor
        if e.filename is None:
            _silence_stdout()
        _say(f"error: cannot write standard output: {e.strerror or e}" if e.filename is None else
             f"error: {e.filename}: {e.strerror or e}")
        code = EXIT_USAGE
    except Exception as e:  # a bug in cnncalc: say so, never a traceback
        _say(f"error: internal error ({type(e).__name__}: {e}); this is a bug in cnncalc: please report it "
             f"to its maintainers with the design that caused it")
        code = EXIT_BUG
    try:
        sys.stdout.flush()  # what an error path left buffered
    except (OSError, ValueError):
        _silence_stdout()
    raise typer.Exit(code)


def main() -> None:
    app()
