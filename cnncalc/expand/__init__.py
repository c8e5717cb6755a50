"""Expand a parsed design into a LayerGraph: repeats, optionals, variables, blocks and layer defaults
resolved into a tree of layers and branches.

    expander.py  the Expander: the whole design, its input
    scope.py     definitions, block calls and their arguments, layer defaults, unbound names
    values.py    the design's arithmetic: expressions, variables, min, max, make_divisible
    items.py     counting before expanding, then each item in turn, and the structure's records
    layers.py    a layer from its kind's declared settings; layers whose settings read `in`

A layer's settings are resolved by one loop over its kind's declared settings (cnncalc/kinds/): the
layer's own value, else the `kind.attr` default, else the family's (`conv.*` for DWCONV, DECONV,
LOCAL), else the setting's built-in default; then the kind's own checks across settings.

The number of layers a design expands to is counted first, without expanding, so a repetition that
would make more than `max_layers` layers is refused at once instead of after filling memory.

As it expands, the expander records the design's structure (graph/blocks.py: every block call
(`basic(64)`), `[..]` group, `X*N` repeat and `( | )` or `( + )` branch, by the range of report rows
it made), so that a table can fold rows into what the design wrote. A record that would span exactly
the rows of the one around it (the group that is a block's whole body, `[X]` around a single item,
the item of `X*1`) is left out, and so is one that makes no rows: the ranges then nest without
repeating, at most two records a row.
"""

from __future__ import annotations

from ..errors import visible
from ..dsl import ast
from ..dsl.names import refuse_unused, unread_defaults
from ..dsl.parser import parse, parse_definition
from ..graph import LayerGraph
from ..settings import MAX_LAYERS
from .expander import Expander
from .layers import READERS

__all__ = ["READERS", "Expander", "build"]


def build(text: str, defines: list[str] | tuple[str, ...] = (), input_size: tuple[int, int, int] | None = None,
          optional: str = "include", max_layers: int = MAX_LAYERS, label: str = "") -> LayerGraph:
    """Parse and expand a design. `defines` are `NAME=VALUE` texts that override the design's own;
    one that binds a variable or block the design never uses is an error (`dsl.names`)."""
    design = parse(text, label)
    overrides = [parse_definition(d) for d in defines]
    refuse_unused([design], overrides)
    graph = Expander(design, overrides, input_size, optional, max_layers).run()
    graph.warnings = [*(shadow_warning(*shadow) for shadow in design.shadows),
                      *(unread_warning(s) for s in unread_defaults([design], overrides))]
    return graph


def shadow_warning(name: str, span, what: str) -> str:
    """A definition named like a layer word or a function: it wins, and says what it hides."""
    return f"'{name}' ({span.where()}) is your definition: in this design the name means it, not {what}"


def unread_warning(statement: ast.DefaultDef) -> str:
    """A -D layer default that no layer reads (dsl.names.unread_defaults): it changes nothing."""
    kind = statement.kind
    return (f"-D {visible(statement.span.source.text)} changes nothing: every {kind.upper()} layer of the design gives its "
            f"own {statement.attr} (or there is none)")
