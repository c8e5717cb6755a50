"""The one traversal of an expanded design, in execution order: `Walk`.

A chain's items in order; a branch's arms in order, each from what the branch gives it (its input, or
with a channel split a half of it), then its merge; after a side head, what follows reads the branch's
input. An engine subclasses `Walk` and answers three questions, each returning the state the walk
carries on (a volume, a row's storages, a size along one axis, the lines of a source):

    layer(layer, state, depth, arm)                      one layer
    arm(branch, state, index)                            where arm `index` (1-based) starts
    merge(branch, state, ends, names, depth, arm)        the merge of the arms' `ends`; what follows reads

`chain(items)` is told of every chain before its items (the fit search counts its visits there).
The planner's rows, the sweep's sums, the input-size search, the `in` of deferred layers, the export
writer and, through the planner, the symbolic trace of a sweep's points all walk this way.
"""

from __future__ import annotations

from ..kinds import Branch, Layer
from ..kinds.merges import arm_name  # noqa: F401  (the engines' import)


class Walk:
    """The traversal; subclasses answer layer(), arm() and merge()."""

    def walk(self, items: list, state, depth: int = 0, arm: int | None = None):
        """The state after `items`, a chain at branch depth `depth`, in arm `arm` of the branch around it."""
        self.chain(items)
        layer, branch = self.layer, self.branch  # bound once: a sweep walks millions of items
        for item in items:
            state = branch(item, state, depth, arm) if isinstance(item, Branch) else layer(item, state, depth, arm)
        return state

    def branch(self, branch: Branch, state, depth: int, arm: int | None):
        ends = [self.walk(chain, self.arm(branch, state, index), depth + 1, index)
                for index, chain in enumerate(branch.arms, start=1)]
        return self.merge(branch, state, ends, branch.arm_names, depth, arm)

    def chain(self, items: list) -> None:
        """A chain is about to be walked."""

    def layer(self, layer: Layer, state, depth: int, arm: int | None):
        raise NotImplementedError

    def arm(self, branch: Branch, state, index: int):
        raise NotImplementedError

    def merge(self, branch: Branch, state, ends: list, names: list[str], depth: int, arm: int | None):
        raise NotImplementedError


class Volumes(Walk):
    """The volume after each item, by the kinds' shape rules: the simplest engine on the walk."""

    def layer(self, layer: Layer, x, depth: int, arm: int | None):
        return layer.apply(x)[0]

    def arm(self, branch: Branch, x, index: int):
        return branch.arm_input(x)

    def merge(self, branch: Branch, x, ends: list, names: list[str], depth: int, arm: int | None):
        return branch.after(x, branch.join(ends, names))
