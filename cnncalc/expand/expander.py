"""The Expander: a parsed design, its overrides, the input size and the optional items' fate in; the
LayerGraph out."""

from __future__ import annotations

from ..dsl import ast
from ..errors import DesignError, Span
from ..graph import LayerGraph
from ..graph.blocks import Block
from ..kinds import Input, Item, Volume
from .items import Items
from .layers import Layers
from .scope import Scope
from .values import Values


class Expander(Scope, Values, Items, Layers):
    """One expansion of a design (sweeps/expansion.py keeps its work across a sweep's points)."""

    def __init__(self, design: ast.Design, overrides: list[ast.Statement], input_size, optional: str,
                 max_layers: int) -> None:
        self.design = design
        self.include_optional = optional == "include"
        self.max_layers = max_layers
        self.input_size = input_size
        self.variables: dict[str, ast.VarDef] = {}
        self.blocks: dict[str, ast.BlockDef] = {}
        self.defaults: dict[tuple[str, str], ast.DefaultDef] = {}
        self.input_from_define = False
        for statement in design.statements:
            self.define(statement)
        for statement in overrides:
            self.define(statement, override=True)
        self.values: dict[str, int] = {}  # evaluated variables
        self.evaluating: list[str] = []
        self.eval_depth = 0
        self.default_cache: dict[tuple[str, str], object] = {}
        self.plans: dict[ast.Layer, tuple] = {}  # layer_plan's, by node
        self.counts: dict[tuple, int] = {}
        self.expansions: dict[tuple, list[Item]] = {}
        self.calls: list[str] = []  # blocks being expanded, for recursion errors
        self.depth = 0
        self.optionals: dict[tuple[int, int], str] = {}
        # the structure (Block records), as the expansion goes: the next row's index, the open records,
        # and the branch depth and arm the expansion is in
        self.row = 1
        self.records: list[Block] = []
        self.parents: list[int] = []
        self.branch_depth = 0
        self.branch_arm: int | None = None
        self.reading_layer = False  # a layer's settings are being read (where `in` may be)
        self.deferred = False  # some layer reads `in`: resolve_inputs makes it

    # -- the whole design ---------------------------------------------------------
    def run(self) -> LayerGraph:
        chain = self.design.chain
        assert chain is not None
        self.check_free_variables(chain)
        terms = chain.terms
        input_node = terms[0] if isinstance(terms[0], ast.Layer) and terms[0].word == "INPUT" else None
        body = ast.Chain(terms[1:] if input_node else terms, chain.span)
        self.count(body, {})  # refuses a design past max_layers before anything is expanded
        items: list[Item] = []
        self.expand_chain(body, {}, items, sole=False)
        graph_input = self.resolve_input(input_node, chain.span)
        if self.deferred:
            items = self.resolve_inputs(items, graph_input.size)[0]
        return LayerGraph(graph_input, items, list(self.optionals.values()), self.records,
                          written=self.written_input(input_node))

    def resolve_input(self, node: ast.Layer | None, chain_span: Span) -> Input:
        span = node.span if node else Span(chain_span.source, chain_span.start, chain_span.start + 1)
        if node is not None:
            extra = set(node.args) - {"size"}
            if extra or node.positional:
                raise DesignError("INPUT takes only a size, as in INPUT 224x224x3", node.span)
        if self.input_size is not None:
            h, w, c = self.input_size
        elif ("", "input") in self.defaults and (self.input_from_define or node is None or "size" not in node.args):
            h, w, c = self.size3(self.defaults[("", "input")].value)
        elif node is not None and "size" in node.args:
            h, w, c = self.size3(node.args["size"])
        else:
            raise DesignError("the input has no size: write INPUT 224x224x3, set input = 224x224x3, "
                              "or pass --input 224x224x3", span)
        return Input("INPUT", span, size=Volume(h, w, c))

    def written_input(self, node: ast.Layer | None) -> Volume | None:
        """The size the design writes for its input (INPUT's, else `input = …`), when something else set
        it (--input, -D input=); None otherwise, or when it does not evaluate on its own."""
        overridden = self.input_size is not None or self.input_from_define
        value = (node.args["size"] if node is not None and "size" in node.args else
                 self.defaults[("", "input")].value if ("", "input") in self.defaults and not self.input_from_define
                 else None)
        if not overridden or value is None:
            return None
        try:
            return Volume(*self.size3(value))
        except DesignError:
            return None

    def size3(self, value: ast.Value) -> tuple[int, int, int]:
        if not isinstance(value, ast.Size) or len(value.dims) != 3:
            raise DesignError("an input size is height x width x channels, such as 224x224x3", value.span)
        dims = tuple(self.eval(d, {}) for d in value.dims)
        for d, node in zip(dims, value.dims):
            if d < 1:
                raise DesignError(f"input sizes must be at least 1, got {d}", node.span)
        return dims  # type: ignore[return-value]
