"""The command line: read the design, call the library, render, and map errors to exit codes.

Exit codes: 0 success, 1 design problems (a layer does not fit), 2 unreadable
design or bad usage, 3 an internal error (a bug: please report it).
This is the only module that prints or exits.
"""

from __future__ import annotations

import os
import sys
import tempfile
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from . import zoo
from .errors import CnnCalcError, SettingsError, caret
from .expand import MAX_LAYERS, OPTIONAL_MODES
from .metrics.memory import DTYPE_BYTES, OPTIMIZER_STATE
from .pytorch import DEVICES, TARGETS
from .render import FORMATS, ZOO_FORMATS
from .render.sections import input_fix_text

EXIT_PROBLEMS, EXIT_USAGE, EXIT_BUG = 1, 2, 3

app = typer.Typer(
    name="cnncalc",
    help="Shapes, parameters, MACs, memory and receptive fields of ConvNet designs, "
         "written in the CS231n notation. No deep-learning framework needed.",
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _choices(name: str, values) -> type[Enum]:
    """A typer choice built from one of the library's tables, so the two never drift apart."""
    return Enum(name, [(v, v) for v in values], type=str)


Format = _choices("Format", FORMATS)
Dtype = _choices("Dtype", DTYPE_BYTES)
Optimizer = _choices("Optimizer", OPTIMIZER_STATE)
OptionalMode = _choices("OptionalMode", OPTIONAL_MODES)
ZooFormat = _choices("ZooFormat", ZOO_FORMATS)
Device = _choices("Device", DEVICES)
Target = _choices("Target", TARGETS)


DesignArg = Annotated[str, typer.Argument(
    metavar="DESIGN", show_default=False,
    help="A design string, a .cnn file, '-' for standard input, or a built-in example's name (vgg16).")]
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

PLAN_HELP = """Print the table of every layer of DESIGN: output volume, memory, weights (with the formula),
params, MACs and receptive field, then the totals, the training memory, and every stride or
padding that does not fit, with fixes.

\b
Examples:
  cnncalc plan vgg16
  cnncalc plan "INPUT 224x224x3 -> [[CONV3-64 -> RELU]*2 -> POOL2]*2 -> FC-10"
  cnncalc plan "INPUT -> [[CONV -> RELU]*N -> POOL?]*M -> [FC -> RELU]*K -> FC" \\
      -D N=2 -D M=3 -D K=1 -D conv.filters=32 -D fc.out=10 --input 32x32x3
  cnncalc plan resnet.cnn --batch 32 --dtype float16 --optimizer adam
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
    design: DesignArg,
    define: DefineOpt = None,
    input_size: InputOpt = None,
    batch: Annotated[int, typer.Option("--batch", min=1, help="Images per batch: multiplies memory, never shapes.")] = 1,
    dtype: Annotated[Dtype, typer.Option("--dtype", help="Bytes per number for memory.")] = Dtype("float32"),
    optimizer: Annotated[Optimizer, typer.Option(
        "--optimizer", help="Optimizer state in training memory: sgd none, momentum 1x, adam 2x the params.")
    ] = Optimizer("sgd"),
    fmt: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format("table"),
    output: OutputOpt = None,
    force: ForceOpt = False,
    strict: Annotated[bool, typer.Option("--strict", help="Treat a layer that does not fit as an error (exit 1).")
                      ] = False,
    optional: OptionalOpt = OptionalMode("include"),
    max_layers: MaxLayersOpt = MAX_LAYERS,
) -> None:
    def run() -> int:
        from .planner import run as plan
        from .render import render

        planned = plan(read_design(design), defines=define or (), input=input_size, batch=batch,
                       dtype=dtype.value, optimizer=optimizer.value, optional=optional.value,
                       max_layers=max_layers)
        report = planned.data
        if strict and not report["fits"]:
            print_problems(planned, as_errors=True)
            return EXIT_PROBLEMS
        if output is None and fmt.value == "table" and sys.stdout.isatty():
            sys.stdout.write(render(report, "table", width=os.get_terminal_size().columns, color=True))
        else:
            emit(render(report, fmt.value), output, force)
        return 0

    _exit(run)


@app.command("check", help=CHECK_HELP, no_args_is_help=True)
def check_command(
    design: DesignArg,
    define: DefineOpt = None,
    input_size: InputOpt = None,
    optional: OptionalOpt = OptionalMode("include"),
    max_layers: MaxLayersOpt = MAX_LAYERS,
) -> None:
    def run() -> int:
        from .planner import run as plan

        planned = plan(read_design(design), defines=define or (), input=input_size, optional=optional.value,
                       max_layers=max_layers)
        report = planned.data
        if report["fits"]:
            inp = report["input"]
            print(f"ok: all {len(report['layers'])} layers fit (input {inp['h']}x{inp['w']}x{inp['c']})")
            return 0
        print_problems(planned, as_errors=False)
        return EXIT_PROBLEMS

    _exit(run)


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
    name: Annotated[Optional[str], typer.Argument(metavar="[NAME]", show_default=False,
                                                  help="A built-in design to print.")] = None,
    fmt: Annotated[ZooFormat, typer.Option("--format", "-f", help="Format of the list.")] = ZooFormat("table"),
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

        sys.stdout.write(render_zoo(zoo.catalog(), fmt.value))
        return 0

    _exit(run)


VERIFY_HELP = """Build DESIGN in PyTorch (the network `cnncalc export` writes), run it, and compare every
row's output shape and parameter count with cnncalc's; on --device cpu or cuda, also the bytes
autograd saves for the backward pass. Exit 0 when all agree, 1 on any mismatch, 2 when PyTorch
is not installed (pip install 'cnncalc[torch]').

\b
Examples:
  cnncalc verify resnet50
  cnncalc verify vgg16 --device cpu --batch 2
  cnncalc verify my.cnn --device cuda --measure
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
    design: DesignArg,
    define: DefineOpt = None,
    input_size: InputOpt = None,
    batch: Annotated[int, typer.Option("--batch", min=1, help="Images per batch of the forward pass.")] = 1,
    device: Annotated[Device, typer.Option(
        "--device", help="meta costs no memory at any size; cpu and cuda also measure saved tensors.")
    ] = Device("meta"),
    measure: Annotated[bool, typer.Option(
        "--measure", help="With --device cuda: the peak memory of one training step.")] = False,
    optional: OptionalOpt = OptionalMode("include"),
    max_layers: MaxLayersOpt = MAX_LAYERS,
) -> None:
    def run() -> int:
        from .pytorch.verify import verify
        from .render.verify import render_verification

        result = verify(read_design(design), defines=define or (), input=input_size, batch=batch,
                        device=device.value, measure=measure, optional=optional.value, max_layers=max_layers)
        sys.stdout.write(render_verification(result, color=sys.stdout.isatty()))
        return 0 if result.ok else EXIT_PROBLEMS

    _exit(run)


@app.command("export", help=EXPORT_HELP, no_args_is_help=True)
def export_command(
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

    _exit(run)


SCHEMA_HELP = """Print the JSON Schema of `cnncalc plan --format json` (the contract cnncalc.plan/1), for
validating its output in scripts and CI. Keys may be added within a version, never renamed or removed.

\b
Examples:
  cnncalc schema > plan.schema.json
  cnncalc plan vgg16 -f json | check-jsonschema --schemafile plan.schema.json -
"""


@app.command("schema", help=SCHEMA_HELP)
def schema_command(output: OutputOpt = None, force: ForceOpt = False) -> None:
    def run() -> int:
        from . import schema

        emit(schema.path(schema.PLAN).read_text(encoding="utf-8"), output, force)
        return 0

    _exit(run)


def read_design(design: str) -> str:
    """The design's text: '-' reads standard input; a built-in name or a path reads a file."""
    if design == "-":
        return sys.stdin.read()
    path = zoo.path(design) if "\n" not in design else None
    if path is None and "->" not in design and "\n" not in design and len(design) < 4096:
        candidate = Path(design)
        if candidate.suffix == ".cnn" or os.sep in design:
            path = candidate
    if path is None:
        return design
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SettingsError(f"no such design file: {design}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise SettingsError(f"cannot read {design}: {e}") from None


def print_problems(planned, as_errors: bool) -> None:
    """Each misfit as a message with its design line and carets under the layer."""
    stream = sys.stderr if as_errors else sys.stdout
    for problem, span in zip(planned.data["problems"], planned.spans):
        head = f"{'error' if as_errors else 'misfit'}: {problem['message']} (line {problem['line']}, " \
               f"column {problem['column']})"
        print(head if span is None else f"{head}\n{caret(span)}", file=stream)
    hint = input_fix_text(planned.data)
    if hint:
        print(f"hint: every layer fits with {hint}", file=stream)


def emit(text: str, output: Path | None, force: bool) -> None:
    """Standard output, or the -o file."""
    if output is None:
        sys.stdout.write(text)
    else:
        write_atomically(output, text, force)


def write_atomically(path: Path, content: str, force: bool) -> None:
    """Write through a temporary file and a rename: a failed run leaves no partial file."""
    if path.exists() and not force:
        raise SettingsError(f"{path} exists; pass --force to overwrite it")
    directory = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        raise SettingsError(f"cannot write {path}: {e.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(content)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _exit(run) -> None:
    """Run a command body; the only place that turns errors into messages and exit codes."""
    try:
        code = run()
    except CnnCalcError as e:
        print(e.render(), file=sys.stderr)
        raise typer.Exit(EXIT_USAGE) from None
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    except OSError as e:  # writing the output: a full disk, a closed pipe
        print(f"error: {e.strerror or e}", file=sys.stderr)
        raise typer.Exit(EXIT_USAGE) from None
    except Exception as e:  # a bug in cnncalc: say so, never a traceback
        print(f"error: internal error ({type(e).__name__}: {e}); this is a bug in cnncalc: please report it "
              f"to its maintainers with the design that caused it", file=sys.stderr)
        raise typer.Exit(EXIT_BUG) from None
    raise typer.Exit(code)


def main() -> None:
    app()
