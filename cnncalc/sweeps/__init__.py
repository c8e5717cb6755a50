"""Sweeps: a design over a grid of bindings, each point's measures, filtered, sorted, ranked.

    run.py        the Sweep: options, the grid's points in order (or by worker processes), what is kept
    grid.py       --vary: each name's values, never materialised
    points.py     one point: its expansion and its measures, with what is reused across points
    expansion.py  the expander, its work kept across points
    sums.py       the one-pass walk for the measures of one pass over the layers
    lean.py       the planner's walk with the numbers summed (saved tensors, the training step)
    traced.py     compiled training steps and compiled points: a structure's arithmetic replayed
    order.py      --sort, --top and the Pareto front
"""

from __future__ import annotations

from .grid import Values, Vary, parse_vary, vary_from
from .order import dominates, pareto_front
from .run import CHUNK, MAX_POINTS, SCHEMA, Failures, Sweep, sweep

__all__ = ["CHUNK", "MAX_POINTS", "SCHEMA", "Failures", "Sweep", "Values", "Vary", "dominates", "pareto_front",
           "parse_vary", "sweep", "vary_from"]
