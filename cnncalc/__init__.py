"""cnncalc: shapes, parameters, MACs, memory and receptive fields of ConvNet designs.

    >>> import cnncalc
    >>> cnncalc.plan("INPUT 32x32x3 -> CONV5-10 -> RELU").totals.params
    760

Every function takes the same options (cnncalc.Settings: batch, dtype, optimizer, budget, ...), as
keywords or as a `settings=` object. `import cnncalc` imports no deep-learning framework.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import CnnCalcError, DesignError, DesignSyntaxError, SettingsError
from .settings import DESIGN_OPTIONS, Settings, settings_of, takes_settings
from .source import define_texts, design_text
from .version import __version__

if TYPE_CHECKING:
    from .report import Report

_DESIGN_DOC = """
    The design (`text`) is a design text, a built-in design's name (`"vgg16"`, as on the command
    line: see `cnncalc zoo`), or a `pathlib.Path` (any os.PathLike) to a design file, read as UTF-8
    and named by its path in messages (unless `label` is given; "" names none). A plain string is a
    design text unless it is exactly a built-in name (a design always holds a layer word, such as
    INPUT). `defines` is a list of NAME=VALUE texts or a dict: {"N": 2, "conv.bias": False,
    "input": "32x32x3"}.
"""


@takes_settings
def plan(text, *, defines=(), label: str | None = None, settings: Settings | None = None, **options) -> Report:
    """Plan a design: its table of layers, totals, fit problems, warnings and assumptions.

    defines: NAME=VALUE texts that override the design's own; settings: a cnncalc.Settings, and/or its
    options as keywords (they change the given settings): input: "224x224x3" or (h, w, c); batch; dtype:
    float32, float16, bfloat16, int8; optimizer: sgd, momentum, adam; memory_rules (old name: device):
    cuda or cpu, whose memory rules apply (dropout's mask, the CUDA allocator's 512-byte blocks); foreach:
    the optimizer's implementation (None: PyTorch's default for the device, foreach on CUDA, a loop on the
    CPU); budget: a memory size (8GiB, 16GB, or bytes): the report's `budget` says the largest batch
    whose peak fits it, for budget_for training or inference; accumulate: gradient accumulation over
    that many micro-batches of `batch` (the peak is the last micro-batch's, whose gradients start
    alive; a budget then answers the micro-batch); cuda_context, cuda_workspace: what a CUDA device
    holds beside the allocator's segments (sizes: 400MiB; defaults and their sources in settings.py),
    counted in totals.memory.cuda and in a budget; max_input: with a budget, also the largest square
    input at `batch` whose every window fits and whose peak fits the budget (`budget.max_input`);
    fit_rule: "coverage" (a window that leaves real input unseen beyond its stride's gap is a misfit,
    one that drops only padding or that gap a note) or "notes" (the notes' rule: every non-integer
    output is a misfit); amp: float16 or bfloat16, mixed-precision training under autocast (the
    parameters, gradients and optimizer state float32: dtype must be float32); freeze: fine-tuning, the
    parameters of rows 1..freeze do not train (no gradients, no optimizer state, nothing saved before the
    first trainable layer); checkpoint: activation checkpointing, row ranges (first, last) or
    "first-last" texts, each whole top-level items (layers or branches), whose saved tensors are
    recomputed in backward; optional: include or exclude the items marked '?'; max_layers: refuse larger
    designs; label: names the text in messages.

    >>> plan("INPUT 32x32x3 -> CONV5-10 -> RELU").totals.params
    760
    """
    from .planner import plan as run

    text, label = design_text(text, label)
    return run(text, defines=define_texts(defines), label=label, settings=settings, **options)


plan.__doc__ = plan.__doc__.replace("\n\n", "\n" + _DESIGN_DOC + "\n", 1)


@takes_settings
def check(text, *, defines=(), label: str | None = None, settings: Settings | None = None, **options) -> Report:
    """Check that every stride and padding fits, fast: `cnncalc check` as a function.

    Takes what plan() takes (a design text, a built-in name or a Path; defines as a list or a dict;
    the settings, of which it reads input, optional, max_layers and fit_rule; label) and returns a
    Report as plan() does, with everything but the training and inference simulations: `fits`,
    `problems`, `input_fixes`, the rows and their totals are all there;
    `totals.memory.training_peak_bytes`, `inference_peak_bytes`, `peak` and `cuda` are None. A budget
    needs those peaks: ask plan() for it.

    >>> check("INPUT 7x7x3 -> CONV3-10/5p0").fits
    False
    """
    settings = settings_of(settings, options)
    for name in ("budget", "max_input"):
        if getattr(settings, name):
            raise SettingsError(f"check() leaves the memory simulation out, so it takes no {name}: "
                                f"use cnncalc.plan(..., {name}=...)")
    from .planner import run
    from .report import Report

    text, label = design_text(text, label)
    return Report.model_validate(run(text, defines=define_texts(defines), label=label, peaks=False,
                                     settings=settings).data)


@takes_settings
def compare(designs, *, defines=(), columns=None, settings: Settings | None = None, **options):
    """Plan designs with the same settings and set their measures side by side: `cnncalc compare` as a
    function. A design is a text, a built-in name, a Path, a text with its own bindings after '@'
    ("course@N=2@M=3") or a (design, defines) pair; `defines` are shared; `columns` names the
    measures (cnncalc.measures); the settings are plan()'s. Returns a `Comparison` (its `data`
    is the cnncalc.compare/1 contract). See cnncalc.comparison.compare.

    >>> c = compare(["INPUT 32x32x3 -> CONV3-8", "INPUT 32x32x3 -> CONV3-16"], columns="params")
    >>> c.designs[1]["values"]["params"], c.designs[1]["versus_first"]["params"]  # (3*3*3)*16 + 16
    (448, 2.0)
    """
    from .comparison import compare as run

    return run(designs, defines=defines, columns=columns, settings=settings, **options)


@takes_settings
def sweep(design, *, vary, where: str | None = None, sort: str | None = None, top: int | None = None,
          pareto: str | None = None, columns=None, defines=(), label: str | None = None, max_points: int = 10_000_000,
          progress=None, jobs: int = 1, settings: Settings | None = None, **options):
    """Sweep a design over a grid (`vary={"N": range(1, 5), "C": [32, 64]}` or ["N=1..4", "C=32,64"]):
    an iterable `Sweep` of rows, one per point that passes `where`, each {"index", "point", *columns};
    `where`, `sort`, `top`, `pareto` and `columns` as `cnncalc sweep`'s options, the settings plan()'s.
    `.summary` (after iterating) counts the failures by reason. See cnncalc.sweeps.sweep.

    >>> [r["params"] for r in sweep("INPUT 32x32x3 -> CONV3-C", vary={"C": [8, 16]}, columns="params")]
    [224, 448]
    """
    from .sweeps import sweep as run

    return run(design, vary=vary, where=where, sort=sort, top=top, pareto=pareto, columns=columns, defines=defines,
               label=label, max_points=max_points, progress=progress, jobs=jobs, settings=settings, **options)


def __getattr__(name: str):
    # Report is imported on first use: pydantic's model machinery would double the command line's start
    if name == "Report":
        from .report import Report

        return Report
    raise AttributeError(f"module 'cnncalc' has no attribute {name!r}")


__all__ = ["plan", "check", "compare", "sweep", "Settings", "Report", "CnnCalcError", "DesignError",
           "DesignSyntaxError", "SettingsError", "DESIGN_OPTIONS", "__version__"]
