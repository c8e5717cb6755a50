"""cnncalc: shapes, parameters, MACs, memory and receptive fields of ConvNet designs.

    >>> import cnncalc
    >>> cnncalc.plan("INPUT 32x32x3 -> CONV5-10 -> RELU").totals.params
    760

`import cnncalc` imports no deep-learning framework.
"""

from __future__ import annotations

import functools
import os
from typing import TYPE_CHECKING

from . import planner as _planner
from .errors import CnnCalcError, DesignError, DesignSyntaxError, SettingsError

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


def _design(text, label: str | None) -> tuple[str, str]:
    """The design's text and its label: a Path is read (labelled with its path unless `label` is
    given), a built-in name is the built-in (unlabelled, as on the command line)."""
    from pathlib import Path

    from . import zoo

    if isinstance(text, os.PathLike):
        path = os.fspath(text)
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        return zoo.read_file(Path(path), path), path if label is None else label
    if isinstance(text, str) and "\n" not in text and len(text) < 256:
        builtin = zoo.path(text)
        if builtin is not None:
            return builtin.read_text(encoding="utf-8"), label or ""
    return text, label or ""


def _defines(defines) -> list[str] | tuple[str, ...]:
    """NAME=VALUE texts from a dict ({"N": 2, "conv.bias": False}), a list of texts or one text."""
    if isinstance(defines, str):
        return [defines]
    if not hasattr(defines, "items"):
        return defines
    texts = []
    for name, value in defines.items():
        if not isinstance(name, str):
            raise SettingsError(f"a define's name is a text such as 'N' or 'conv.filters', got {name!r}")
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, (tuple, list)):  # a size: (224, 224, 3)
            value = "x".join(map(str, value))
        texts.append(f"{name}={value}")
    return texts


@functools.wraps(_planner.plan)
def plan(text, *, defines=(), label: str | None = None, **settings) -> Report:
    text, label = _design(text, label)
    return _planner.plan(text, defines=_defines(defines), label=label, **settings)


plan.__module__ = __name__
plan.__doc__ = (_planner.plan.__doc__ or "").replace("\n\n", "\n" + _DESIGN_DOC + "\n", 1)


def check(text, *, defines=(), label: str | None = None, **settings) -> Report:
    """Check that every stride and padding fits, fast: `cnncalc check` as a function.

    Takes what plan() takes (a design text, a built-in name or a Path; defines as a list or a dict;
    input, optional, max_layers, label, ...) and returns a Report as plan() does, with everything
    but the training and inference simulations: `fits`, `problems`, `input_fixes`, the rows and
    their totals are all there; `totals.memory.training_peak_bytes`, `inference_peak_bytes`, `peak`
    and `cuda` are None. A budget needs those peaks: ask plan() for it.

    >>> check("INPUT 7x7x3 -> CONV3-10/5p0").fits
    False
    """
    for name in ("budget", "max_input"):
        if settings.get(name):
            raise SettingsError(f"check() leaves the memory simulation out, so it takes no {name}: "
                                f"use cnncalc.plan(..., {name}=...)")
    from .report import Report

    text, label = _design(text, label)
    return Report.model_validate(_planner.run(text, defines=_defines(defines), label=label, peaks=False,
                                              **settings).data)


def compare(designs, **settings):
    """Plan designs with the same settings and set their measures side by side: `cnncalc compare` as a
    function. A design is a text, a built-in name, a Path, a text with its own bindings after '@'
    ("course@N=2@M=3") or a (design, defines) pair; `defines` are shared; `columns` names the
    measures (cnncalc.measures); the other settings are plan()'s. Returns a `Comparison` (its `data`
    is the cnncalc.compare/1 contract). See cnncalc.comparison.compare.

    >>> c = compare(["INPUT 32x32x3 -> CONV3-8", "INPUT 32x32x3 -> CONV3-16"], columns="params")
    >>> c.designs[1]["values"]["params"], c.designs[1]["versus_first"]["params"]  # (3*3*3)*16 + 16
    (448, 2.0)
    """
    from .comparison import compare as run

    return run(designs, **settings)


def sweep(design, **settings):
    """Sweep a design over a grid (`vary={"N": range(1, 5), "C": [32, 64]}` or ["N=1..4", "C=32,64"]):
    an iterable `Sweep` of rows, one per point that passes `where`, each {"index", "point", *columns};
    `where`, `sort`, `top`, `pareto` and `columns` as `cnncalc sweep`'s options, the other settings
    plan()'s. `.summary` (after iterating) counts the failures by reason. See cnncalc.sweeps.sweep.

    >>> [r["params"] for r in sweep("INPUT 32x32x3 -> CONV3-C", vary={"C": [8, 16]}, columns="params")]
    [224, 448]
    """
    from .sweeps import sweep as run

    return run(design, **settings)


def __getattr__(name: str):
    # Report is imported on first use: pydantic's model machinery would double the command line's start
    if name == "Report":
        from .report import Report

        return Report
    raise AttributeError(f"module 'cnncalc' has no attribute {name!r}")


__version__ = "0.5.0"
__all__ = ["plan", "check", "compare", "sweep", "Report", "CnnCalcError", "DesignError", "DesignSyntaxError",
           "SettingsError",
           "__version__"]
