"""`cnncalc verify`: the design built in PyTorch, its numbers measured beside cnncalc's."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from ..pytorch import DEVICES
from ..settings import MAX_LAYERS
from .application import EXIT_PROBLEMS, app, finish
from .io import read_design
from .options import (AmpOpt, BatchOpt, CheckpointOpt, DefineOpt, DesignArg, FreezeOpt, InputOpt, MaxLayersOpt,
                      OptimizerOpt, OptionalOpt, choice, settings_from)
from .terminal import use_color


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


@app.command("verify", help=VERIFY_HELP, no_args_is_help=True)
def verify_command(
    ctx: typer.Context,
    design: DesignArg,
    define: DefineOpt = None,
    input_size: InputOpt = None,
    batch: BatchOpt = 1,
    device: Annotated[str, typer.Option(
        "--device", click_type=choice(DEVICES),
        help="Where PyTorch runs the network: meta costs no memory at any size; cpu and cuda also measure saved "
             "tensors.")] = "meta",
    memory: Annotated[bool, typer.Option(
        "--memory", "--measure", help="Also the peak memory of one training step: PyTorch's MemTracker beside "
                                      "cnncalc's simulation (--measure is the old name).")] = False,
    optimizer: OptimizerOpt = "sgd",
    foreach: Annotated[bool, typer.Option(
        "--foreach/--for-loop", help="The optimizer's implementation in the measured step.")] = False,
    amp: AmpOpt = None,
    freeze: FreezeOpt = None,
    checkpoint: CheckpointOpt = None,
    optional: OptionalOpt = "include",
    max_layers: MaxLayersOpt = MAX_LAYERS,
) -> None:
    def run() -> int:
        from ..pytorch.verify import verify
        from ..render.verify import render_verification

        result = verify(read_design(design), defines=define or (), device=device, memory=memory,
                        settings=settings_from(ctx))
        sys.stdout.write(render_verification(result, color=use_color()))
        return 0 if result.ok else EXIT_PROBLEMS

    finish(run, ctx)
