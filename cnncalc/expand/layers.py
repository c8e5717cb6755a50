"""The expander's layers: each from its kind's declared settings (its own value, the kind's default, the
family's, the built-in one) read by the setting's reader; and the layers whose settings read `in`,
made once the channels of their input are known."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..dsl import ast
from ..dsl.written import written_settings
from ..errors import DesignError, Span
from ..graph.walk import Walk, arm_name
from ..kinds import (
    REQUIRED,
    SAME_PAD,
    WORDS,
    Branch,
    Input,
    Item,
    Layer,
    Setting,
    Volume,
    same_pad,
)
from .scope import IN, Local

if TYPE_CHECKING:
    from .expander import Expander


class Deferred:
    """A layer whose settings read `in`, made by resolve_inputs once its input's channels are known."""

    __slots__ = ("kind", "local", "node", "span")

    def __init__(self, node: ast.Layer, local: dict) -> None:
        self.node, self.local, self.span, self.kind = node, local, node.span, "deferred"



class Layers:
    """Layers from nodes (a mixin of the Expander: its state is the Expander's)."""

    def layer(self, node: ast.Layer, local: Local) -> Layer:
        """The layer a node means: each declared setting from the layer's own value, else the kind's
        default, else the family's, else the setting's built-in default; then the kind's checks."""
        word = node.word
        cls, written, unset = self.layer_plan(node)
        values: dict[str, object] = {}
        spans: dict[str, Span] = {}
        for setting, value in written:
            values[setting.field] = self.read(setting, value, word, local)
            spans[setting.key] = value.span
        for setting in unset:
            default = setting.default
            if default is REQUIRED:
                raise _missing(cls, setting, word, node.span)
            values[setting.field] = default(values) if callable(default) else default
        for setting in cls.settings:
            if setting.read == "pad" and values.get(setting.field) == SAME_PAD:
                values[setting.field] = same_pad(values["kernel"], values["dilation"])
            elif setting.field not in values:  # a setting other words of the kind take: its default
                values[setting.field] = setting.default
        values.update(cls.fixed.get(word, {}))
        layer = cls(word, node.span, **values)
        layer.check(lambda key: spans.get(key, node.span))
        return layer

    def layer_plan(self, node: ast.Layer) -> tuple[type[Layer], tuple, tuple[Setting, ...]]:
        """What making a node's layer takes besides the values of its variables (the same for every
        call of it in one expansion): its class; its settings with their values as written, its own or
        else the kind's or the family's default; and the settings left unset, computed defaults last."""
        plan = self.plans.get(node)
        if plan is None:
            word = node.word
            cls = WORDS[word]
            if cls is Input:
                raise DesignError("INPUT can only be the first layer of the architecture", node.span)
            given = written_settings(cls, node)
            written = []
            unset: list[Setting] = []
            for setting in cls.settings_for(word):
                value = given.get(setting.key)
                if value is None and setting.attr:
                    if setting.shared:
                        statement = self.defaults.get(("", setting.attr))
                        value = statement.value if statement is not None else None
                    else:
                        value = self.default(cls.kind, setting.attr, cls.family)
                if value is None:
                    unset.append(setting)
                else:
                    written.append((setting, value))
            plan = self.plans[node] = (cls, tuple(written), tuple(sorted(unset, key=lambda s: callable(s.default))))
        return plan

    def read(self, setting: Setting, value: ast.Value, word: str, local: Local):
        """A setting's value as its reader reads it, or an error that names the layer and the setting."""
        self.reading_layer = True
        try:
            return READERS[setting.read](self, setting, value, word, local)
        finally:
            self.reading_layer = False

    def resolve_inputs(self, items: list[Item], x: Volume) -> tuple[list[Item], Volume]:
        """The items with every Deferred layer made, its `in` the channels of its input there (a block's
        branches are copied where they hold one: expansions share them); and the volume after them."""
        made, y = _Inputs(self).walk(items, ([], x))
        return (items if _same(made, items) else made), y


def _same(made: list, items: list) -> bool:
    return len(made) == len(items) and all(a is b for a, b in zip(made, items))


class _Inputs(Walk):
    """The walk that makes deferred layers: the state is the items made so far and the volume."""

    def __init__(self, expander: Expander) -> None:
        self.expander = expander

    def layer(self, layer, state, depth: int, arm: int | None):
        out, x = state
        if isinstance(layer, Deferred):
            layer = self.expander.layer(layer.node, {**layer.local, IN: x.c})
        out.append(layer)
        return out, layer.apply(x)[0]

    def arm(self, branch: Branch, state, index: int):
        return [], branch.arm_input(state[1])

    def merge(self, branch: Branch, state, ends: list, names: list[str], depth: int, arm: int | None):
        out, x = state
        arms = [end[0] for end in ends]
        if not all(_same(a, b) for a, b in zip(arms, branch.arms)):
            branch = branch.with_arms(arms)
        out.append(branch)
        return out, branch.after(x, branch.join([end[1] for end in ends], [arm_name(a) for a in arms]))


# -- the readers a Setting names: (expander, setting, value as written, layer word, local bindings) --
def _read_bool(x: Expander, setting: Setting, value: ast.Value, word: str, local: Local) -> bool:
    if not isinstance(value, ast.Word) or value.word not in ("true", "false"):
        raise DesignError(f"{word}: {setting.key} is true or false", value.span)
    return value.word == "true"


def _read_choice(x: Expander, setting: Setting, value: ast.Value, word: str, local: Local) -> str:
    text = value.word if isinstance(value, ast.Word) else value.name if isinstance(value, ast.Var) else None
    if text is None or text.lower() not in setting.choices:
        got = f", got {text}" if text is not None else ""
        raise DesignError(f"{word}: {setting.key} is one of {', '.join(setting.choices)}{got}", value.span)
    return text.lower()


def _read_float(x: Expander, setting: Setting, value: ast.Value, word: str, local: Local) -> float:
    if isinstance(value, ast.Float):
        return value.value
    if isinstance(value, ast.BinOp) and value.op == "/":  # a fraction: DROPPATH(3/170), p = 0.1 * 3/17
        numerator, denominator = x.eval(value.left, local), x.eval(value.right, local)
        if denominator == 0:
            raise DesignError("division by zero", value.span)
        return numerator / denominator
    if isinstance(value, _EXPR):
        return float(x.eval(value, local))
    raise DesignError(f"{word}: {setting.key} must be a number", value.span)


def _read_int(x: Expander, setting: Setting, value: ast.Value, word: str, local: Local) -> int:
    if not isinstance(value, _EXPR):
        raise DesignError(f"{word}: {setting.label} must be a whole number", value.span)
    return _at_least(setting, x.eval(value, local), word, value.span)


def _read_pair(x: Expander, setting: Setting, value: ast.Value, word: str, local: Local) -> tuple[int, int]:
    """One number for both axes, or HxW."""
    if isinstance(value, ast.Size):
        if len(value.dims) != 2:
            raise DesignError(f"{word}: {setting.label} is one number or HxW", value.span)
        pair = (x.eval(value.dims[0], local), x.eval(value.dims[1], local))
    elif isinstance(value, _EXPR):
        n = x.eval(value, local)
        pair = (n, n)
    else:
        raise DesignError(f"{word}: {setting.label} must be a number or HxW", value.span)
    for n in pair:
        _at_least(setting, n, word, value.span)
    return pair


def _read_pad(x: Expander, setting: Setting, value: ast.Value, word: str, local: Local):
    """A pair, or `same` (SAME_PAD, resolved once kernel and dilation are known) or `valid` (0)."""
    if not isinstance(value, ast.Word):
        return _read_pair(x, setting, value, word, local)
    if value.word not in ("same", "valid"):
        raise DesignError(f"{word}: pad is a number, HxW, same or valid", value.span)
    return SAME_PAD if value.word == "same" else (0, 0)


def _at_least(setting: Setting, n: int, word: str, span: Span) -> int:
    if n < setting.minimum:
        raise DesignError(f"{word}: {setting.label} must be at least {setting.minimum}, got {n}", span)
    return n


# `size3` is INPUT's, read by resolve_input
READERS = {"bool": _read_bool, "choice": _read_choice, "float": _read_float, "int": _read_int, "pair": _read_pair,
            "pad": _read_pad}
_EXPR = (ast.Num, ast.Var, ast.BinOp, ast.Neg, ast.Call)


def _missing(cls: type[Layer], setting: Setting, word: str, span: Span) -> DesignError:
    """'CONV has no filter count: write CONV3-64, or set conv.filters = 64 …'; the layer default only where
    the kind has one for this setting (CROP's size has none)."""
    example = cls.example
    if not setting.attr or setting.shared:
        return DesignError(f"{word} has no {setting.noun}: write it, as in {example}", span)
    # the value the example writes: CONV3-64 and DECONV4-64/2 after '-', GROUPNORM(32) in the parentheses
    value = example.split("-")[-1].split("/")[0] if "-" in example else example.partition("(")[2].rstrip(")")
    return DesignError(f"{word} has no {setting.noun}: write {example}, or set {cls.kind}.{setting.attr} = {value} "
                       f"in the design (or -D {cls.kind}.{setting.attr}={value})", span)
