"""Every option of the command line, declared once: plan, compare and sweep take the same design, memory and
budget options (the same names, defaults, help and errors), check and verify the ones they use. The
choices come from the library's vocabularies (settings.py), so the two never drift apart, and
`settings_from(ctx)` builds the library's one `Settings` from whichever a command was given."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from typer._types import TyperChoice

from ..errors import SettingsError
from ..render import FORMATS
from ..settings import (AMP_DTYPES, BUDGET_FOR, DEFAULTS, DTYPE_ALIASES, DTYPES, FIT_RULES, MEMORY_RULES, OPTIMIZERS,
                        OPTIONAL_MODES, Settings)


def choice(values) -> TyperChoice:
    """A choice among one of the library's tables (an option's `click_type`), so the two never drift apart.
    The command gets the name chosen, a str. (No Enum per option: making one costs 0.1 ms, a command has
    a dozen, and a cold plan takes 0.2 s.)"""
    return TyperChoice(list(values))


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


FORMAT_ALIASES = {"md": "markdown", "txt": "table"}
EXTENSION_FORMATS = {".md": "markdown", ".markdown": "markdown", ".json": "json", ".csv": "csv", ".txt": "table"}
HTML_EXTENSIONS = {".html": "html", ".htm": "html"}  # plan's alone: compare and sweep write no HTML

# -- the design -------------------------------------------------------------------------------------------
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
OptionalOpt = Annotated[str, typer.Option(
    "--optional", click_type=choice(OPTIONAL_MODES), help="Include or drop the layers marked '?'.")]
MaxLayersOpt = Annotated[int, typer.Option(
    "--max-layers", min=1, help="Refuse designs that expand to more layers than this.")]
FitRuleOpt = Annotated[str, typer.Option(
    "--fit-rule", click_type=choice(FIT_RULES),
    help="coverage: a layer is a misfit when it leaves real input unseen beyond what its stride always skips "
         "(dropping only padding, or a stride's gap, is a note); notes: the course notes' rule, every output that "
         "is not a whole number is a misfit.")]

# -- the memory the numbers are for -------------------------------------------------------------------------
BatchOpt = Annotated[int, typer.Option("--batch", min=1, help="Images per batch: multiplies memory, never shapes.")]
DtypeOpt = Annotated[str, typer.Option(
    "--dtype", click_type=AliasChoice(DTYPES, DTYPE_ALIASES),
    help="Bytes per number for memory; also fp32 or float, fp16 or half, bf16: --dtype fp16.")]
OptimizerOpt = Annotated[str, typer.Option(
    "--optimizer", click_type=choice(OPTIMIZERS),
    help="Optimizer state in training memory: sgd none, momentum 1x, adam 2x the params.")]
MemoryRulesOpt = Annotated[str, typer.Option(
    "--memory-rules", "--device", click_type=choice(MEMORY_RULES),
    help="Whose memory rules the training and inference peaks follow, the device you train on: cuda (the "
         "allocator's 512-byte blocks, dropout's 1-byte mask) or cpu. --device is its old name.")]
ForeachOpt = Annotated[Optional[bool], typer.Option(
    "--foreach/--for-loop", help="The optimizer's implementation: foreach (all parameters at once, PyTorch's "
                                 "default on cuda) or a for-loop (its default on cpu).",
    show_default="the device's default")]
AccumulateOpt = Annotated[int, typer.Option(
    "--accumulate", min=1, metavar="N", help="Gradient accumulation over N micro-batches of --batch: the peak "
                                             "(and --budget's answer) is the micro-batch's.")]
AmpOpt = Annotated[Optional[str], typer.Option(
    "--amp", click_type=choice(AMP_DTYPES),
    help="Mixed-precision training under autocast to this dtype: activations in it, parameters, gradients and "
         "optimizer state in float32 (--dtype float32). Without it, --dtype float16 models pure float16 "
         "training.", show_default=False)]
FreezeOpt = Annotated[Optional[int], typer.Option(
    "--freeze", metavar="ROW", min=0, help="Fine-tuning: the parameters of rows 1 to ROW (the table's #) do not "
                                           "train: no gradients, no optimizer state, nothing saved before the "
                                           "first trainable layer.", show_default=False)]
CheckpointOpt = Annotated[Optional[list[str]], typer.Option(
    "--checkpoint", metavar="FIRST-LAST", help="Activation checkpointing of rows FIRST to LAST (whole top-level "
                                               "layers or branches): their saved tensors are recomputed in "
                                               "backward. Repeatable: --checkpoint 5-20 --checkpoint 21-37.",
    show_default=False)]

# -- a budget ------------------------------------------------------------------------------------------------
BudgetOpt = Annotated[Optional[str], typer.Option(
    "--budget", metavar="SIZE", help="A memory size (8GiB, 512MiB binary; 16GB decimal): the largest batch whose "
                                     "simulated peak fits it (max_batch).")]
BudgetForOpt = Annotated[str, typer.Option(
    "--budget-for", click_type=choice(BUDGET_FOR), help="What must fit the budget: a training step or inference.")]
MaxInputOpt = Annotated[bool, typer.Option(
    "--max-input", help="With --budget: also the largest square input at --batch whose every window fits and "
                        "whose peak fits the budget (max_input).")]
CudaContextOpt = Annotated[Optional[str], typer.Option(
    "--cuda-context", metavar="SIZE", help="On cuda: the memory the CUDA context holds, an assumption counted "
                                           "apart from the allocator's.", show_default="400MiB")]
CudaWorkspaceOpt = Annotated[Optional[str], typer.Option(
    "--cuda-workspace", metavar="SIZE", help="On cuda: the cuBLAS/cuDNN workspaces, an assumption counted apart.",
    show_default="32MiB")]

# -- what is written -----------------------------------------------------------------------------------------
OutputOpt = Annotated[Optional[Path], typer.Option(
    "-o", "--output", metavar="FILE", help="Write to FILE instead of standard output.")]
ForceOpt = Annotated[bool, typer.Option("--force", help="Overwrite an existing -o FILE.")]
MeasuresOpt = Annotated[Optional[str], typer.Option(
    "--columns", metavar="NAMES", help="The measures to show, comma-separated: params,macs,training_peak.")]

# the parameters (by their name in a command) that are Settings, and the setting each one is
SETTINGS = {"input_size": "input", **{name: name for name in DEFAULTS if name != "input"}}


def settings_from(ctx: typer.Context) -> Settings:
    """The library's Settings from the options a command was given (its parameters named as in SETTINGS)."""
    given = {}
    for param, value in ctx.params.items():
        name = SETTINGS.get(param)
        if name is None or value is None:
            continue
        given[name] = tuple(value) if isinstance(value, list) else value
    return Settings(**given)


def output_format(ctx: typer.Context, fmt: str, output: Path | None, formats=FORMATS,
                  extensions: dict | None = None) -> str:
    """-f when given; else the format -o FILE's extension names (.md, .json, .csv, .txt, and .html where
    `formats` has it; or `extensions`'); else the default."""
    source = ctx.get_parameter_source("fmt")
    if output is None or (source is not None and source.name != "DEFAULT"):
        return fmt
    known = {ext: f for ext, f in (extensions or {**EXTENSION_FORMATS, **HTML_EXTENSIONS}).items() if f in formats}
    suffix = output.suffix.lower()
    if suffix and suffix not in known:  # -o out.pdf wrote a text table under a name that promised a PDF
        raise SettingsError(f"-o {output}: cnncalc writes {', '.join(sorted(known))} (the extension picks the "
                            f"format), or any name with -f FORMAT")
    return known.get(suffix, fmt)
