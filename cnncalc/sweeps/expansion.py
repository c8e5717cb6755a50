"""The expander for a sweep: what it builds kept across points, so that a point's expansion redoes only
what its bindings change."""

from __future__ import annotations

from ..dsl import ast
from ..dsl import names as dsl_names
from ..errors import CnnCalcError
from ..expand import Expander
from ..graph import LayerGraph
from ..kinds import Branch

SHARED = 50_000  # layers, block expansions and counts kept across points; then they start afresh


class Expansion(Expander):
    """The expander, with what it builds kept across points (`shared`):
      - a layer node read with the same values of the names it may read (its own settings' names and
        those of every layer default), under the same defaults, is the same layer, built once;
      - a block call with the same arguments, under the same definitions of every block it reaches and
        the same values of every variable they read (and the same defaults), at the same depth, makes
        the same rows: counted and expanded once;
      - the check that every variable is bound depends only on which names are defined: done once.
    Anything unusual (a name that does not evaluate, an alias of a block) is left to the expander,
    uncached. The structure records (`LayerGraph.blocks`) are not made: a sweep reports no blocks."""

    def __init__(self, design, overrides, input_size, optional: str, max_layers: int, shared: dict) -> None:
        super().__init__(design, overrides, input_size, optional, max_layers)
        self.shared = shared
        self.signature: tuple | None = None
        self.block_signatures: dict = {}

    def run(self) -> LayerGraph:
        graph = super().run()
        if getattr(graph, "blocks", None):
            graph.blocks = []
        return graph

    def open(self, *args, **kwargs) -> None:  # the structure's records: none (a sweep reports no blocks)
        return None

    def replay(self, *args) -> None:
        pass

    def settings_signature(self) -> tuple:
        """The layer defaults as written, and the values of the names they read."""
        if self.signature is None:
            names = tuple(dict.fromkeys(v.name for statement in self.defaults.values()
                                        for v in ast.variables_in(statement.value)))
            self.default_names = names
            self.signature = (tuple(self.defaults.items()),
                              tuple(self.variable(n, None) if n in self.variables else None for n in names))
        return self.signature

    def check_free_variables(self, chain) -> None:
        key = (chain, frozenset(self.variables), frozenset(self.blocks))
        checked = self.shared["checked"]
        if key not in checked:
            super().check_free_variables(chain)
            checked[key] = True

    def layer(self, node, local):
        stats = self.shared["stats"]
        try:
            defaults = self.settings_signature()
            free = self.shared["free"]
            names = free.get(node)
            if names is None:
                own = [v.name for value in (*node.positional, *node.args.values()) for v in ast.variables_in(value)]
                names = free[node] = tuple(dict.fromkeys((*own, *self.default_names)))
            values = tuple(local[n] if n in local else self.variable(n, node.span) if n in self.variables else None
                           for n in names)
        except CnnCalcError:
            return super().layer(node, local)
        key = (node, defaults, values)
        layers = self.shared["layers"]
        layer = layers.get(key)
        stats[0] += 1
        if layer is None:
            stats[1] += 1
            layer = layers[key] = super().layer(node, local)
            self.shared["nodes"][layer] = node
        return layer

    def layer_plan(self, node) -> tuple:
        """The expander's plan of a node's layer, kept across points under the same defaults."""
        key = (node, self.settings_signature())
        plans = self.shared["plans"]
        plan = plans.get(key)
        if plan is None:
            plan = plans[key] = super().layer_plan(node)
        return plan

    def block_key(self, node, local) -> tuple | None:
        """What a block call's rows depend on, or None where the call is unusual (left uncached)."""
        block = self.blocks.get(node.name)
        if block is None or len(node.args or ()) != len(block.params) or node.name in self.calls:
            return None
        try:
            args = tuple(self.eval(a, local) for a in node.args or ())
            signature = self.block_signatures.get(block)
            if signature is None:
                signature = self.block_signatures[block] = self.reached(block)
            return (block, args, signature, self.settings_signature(), self.depth, self.include_optional)
        except CnnCalcError:
            return None

    def reached(self, block) -> tuple:
        """The blocks a block reaches (their definitions) and the variables they read (their values)."""
        direct = self.shared["direct"]
        seen: dict[str, None] = {}
        parts = []
        stack = [block]
        while stack:
            b = stack.pop()
            names = direct.get(b)
            if names is None:
                names = direct[b] = tuple(dsl_names._collect(b.body, frozenset(b.params), {}))
            for name in names:
                if name in seen:
                    continue
                seen[name] = None
                if name in self.blocks:
                    parts.append((name, self.blocks[name]))
                    stack.append(self.blocks[name])
                elif name in self.variables:
                    parts.append((name, self.variable(name, None)))
                else:
                    parts.append((name, None))
        return tuple(parts)

    def count_key(self, node, local) -> tuple | None:
        """What a block call's row count depends on (block_key with only the arguments the count reads:
        count_reads), or None where the call is unusual."""
        block = self.blocks.get(node.name)
        if block is None or len(node.args or ()) != len(block.params) or node.name in self.calls:
            return None
        reads = self.count_reads(block)
        if reads is None:
            return self.block_key(node, local)
        try:
            args = tuple(self.eval(node.args[i], local) for i in reads)
            signature = self.block_signatures.get(block)
            if signature is None:
                signature = self.block_signatures[block] = self.reached(block)
            return ("count", block, args, signature, self.settings_signature(), self.depth, self.include_optional)
        except CnnCalcError:
            return None

    def count_reads(self, block, busy: frozenset = frozenset()) -> tuple[int, ...] | None:
        """The positions of the parameters a block's row count may depend on: read by a repeat's count,
        used as a layer or block, or passed where a called block's count reads them (None: a call to
        something other than a block, or a cycle; the whole call is then the key)."""
        known = self.shared["reads"]
        if block in known:
            return known[block]
        params = frozenset(block.params)
        read: set[str] = set()
        stack = [block.body]
        result: tuple[int, ...] | None = ()
        while stack:
            node = stack.pop()
            kind = type(node)
            if kind is ast.Repeat:
                read.update(dsl_names._collect(node.count, frozenset(), {}).keys() & params)
                stack.append(node.body)
            elif kind is ast.Chain:
                stack.extend(node.terms)
            elif kind is ast.Branch:
                stack.extend(node.arms)
            elif kind is ast.Optional:
                stack.append(node.body)
            elif kind is ast.Ref:
                if node.name in params:
                    read.add(node.name)
                    continue
                called = self.blocks.get(node.name)
                inner = None if called is None or called in busy else self.count_reads(called, busy | {block})
                if inner is None or len(node.args or ()) != len(called.params):
                    result = None
                    break
                for i in inner:
                    read.update(dsl_names._collect(node.args[i], frozenset(), {}).keys() & params)
        if result is not None:
            result = tuple(i for i, name in enumerate(block.params) if name in read)
        known[block] = result
        return result

    def count(self, node, local):
        if type(node) is not ast.Ref:
            return super().count(node, local)
        key = self.count_key(node, local)
        counts = self.shared["counts"]
        n = None if key is None else counts.get(key)
        if n is None or n + 1 > self.max_layers:
            n = super().count(node, local)
            if key is not None:
                counts[key] = n
        return n

    def expand(self, node, local, out, *args, **kwargs):
        if type(node) is not ast.Ref:
            return super().expand(node, local, out, *args, **kwargs)
        key = self.block_key(node, local)
        expansions = self.shared["expansions"]
        known = None if key is None else expansions.get(key)
        if known is None and key is not None:
            known = self.from_template(key)
            if known is not None:
                expansions[key] = known
                self.shared["stats"][2] += 1
        if known is None:
            items: list = []
            super().expand(node, local, items, *args, **kwargs)
            if key is not None:
                expansions[key] = (items, self.count(node, local))
                self.keep_template(key, expansions[key])
            out.extend(items)
            return None
        items, rows = known
        if hasattr(self, "row"):
            self.row += rows  # the next rows' numbers, as the expander counts them
        out.extend(items)
        return None


    # A leaf block (no block calls, no parameter used as a layer, no optional, no repeat counted by a
    # parameter) makes the same items at any arguments but for its layers, each built from the same node
    # with the call's arguments: a call with new arguments rebuilds another call's items (`templates`).
    def is_leaf(self, block) -> bool:
        leaves = self.shared["leaves"]
        leaf = leaves.get(block)
        if leaf is None:
            params = frozenset(block.params)
            stack, leaf = [block.body], True
            while stack and leaf:
                node = stack.pop()
                kind = type(node)
                if kind in (ast.Ref, ast.Optional):
                    leaf = False
                elif kind is ast.Repeat:
                    leaf = not (dsl_names._collect(node.count, frozenset(), {}).keys() & params)
                    stack.append(node.body)
                elif kind is ast.Chain:
                    stack.extend(node.terms)
                elif kind is ast.Branch:
                    stack.extend(node.arms)
            leaves[block] = leaf
        return leaf

    def keep_template(self, key: tuple, made: tuple) -> None:
        block = key[0]
        if self.is_leaf(block) and self.made_of_nodes(made[0]):
            self.shared["templates"][(block, *key[2:])] = made

    def made_of_nodes(self, items) -> bool:
        """Every layer of the items was built here from a node (none deferred, none uncached)."""
        nodes = self.shared["nodes"]
        return all(all(self.made_of_nodes(arm) for arm in item.arms) if isinstance(item, Branch) else item in nodes
                   for item in items)

    def from_template(self, key: tuple) -> tuple | None:
        """A leaf block's items at these arguments, rebuilt from another call's (None: no such call)."""
        block, args = key[0], key[1]
        template = self.shared["templates"].get((block, *key[2:]))
        if template is None:
            return None
        items, rows = template
        return self.rebuild(items, dict(zip(block.params, args))), rows

    def rebuild(self, items: list, local: dict) -> list:
        nodes = self.shared["nodes"]
        return [item.with_arms([self.rebuild(arm, local) for arm in item.arms])
                if isinstance(item, Branch) else self.layer(nodes[item], local) for item in items]


def shared(stats: list[int]) -> dict:
    """What Expansion keeps across points; `stats`: [layers asked for, layers built, blocks rebuilt from
    another call's items]."""
    return {"layers": {}, "free": {}, "counts": {}, "expansions": {}, "direct": {}, "checked": {}, "reads": {},
            "plans": {},
            "nodes": {}, "leaves": {}, "templates": {}, "stats": stats}
