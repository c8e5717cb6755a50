"""Syntax tree of a design. Every node carries the Span it was read from.

Plain slotted classes: defining them costs microseconds at start-up, where
dataclasses cost most of a millisecond each.
"""

from __future__ import annotations


class _Node:
    __slots__ = ()

    def __init__(self, *args, **kwargs) -> None:
        for name, value in zip(self.__slots__, args):
            setattr(self, name, value)
        for name, value in kwargs.items():
            setattr(self, name, value)

    def __repr__(self) -> str:
        values = ", ".join(f"{n}={getattr(self, n, None)!r}" for n in self.__slots__ if n != "span")
        return f"{type(self).__name__}({values})"


# -- integer expressions -----------------------------------------------------
class Num(_Node):
    __slots__ = ("value", "span")


class Var(_Node):
    __slots__ = ("name", "span")


class BinOp(_Node):
    # op: one of + - * / // (/ divides exactly, // rounds down)
    __slots__ = ("op", "left", "right", "span")


class Neg(_Node):
    __slots__ = ("operand", "span")


class Call(_Node):
    """A width function: `min(a, b)`, `max(a, b)`, `make_divisible(v, d)` (FUNCTIONS)."""

    __slots__ = ("name", "args", "span")


Expr = Num | Var | BinOp | Neg | Call

# the functions an expression may call, with their smallest and largest number of arguments
FUNCTIONS = {"min": (2, 16), "max": (2, 16), "make_divisible": (2, 3)}


# -- setting values ------------------------------------------------------------
class Size(_Node):
    """`224x224x3`, `1x7`: two or three expressions joined by 'x'."""

    __slots__ = ("dims", "span")


class Word(_Node):
    """A bare word value: same, valid, true, false, max, avg."""

    __slots__ = ("word", "span")


class Float(_Node):
    __slots__ = ("value", "span")


Value = Num | Var | BinOp | Neg | Call | Size | Word | Float


# -- architecture -------------------------------------------------------------
class Layer(_Node):
    # word: the layer word as upper case: CONV, MAXPOOL, RELU6, …
    # args: shorthand parts and keyword arguments, by key
    __slots__ = ("word", "args", "span", "positional")


class Ref(_Node):
    """A block used by name, or called with arguments: `stem`, `basic(64)`, `mb(16, HARDSWISH)`; an
    argument is an expression, or a layer, group or block call (a Node) that the block uses by the
    parameter's name."""

    __slots__ = ("name", "args", "span")


class Chain(_Node):
    __slots__ = ("terms", "span")


class Branch(_Node):
    # mode: "|" concatenates on channels, "+" sums element-wise, ".*" multiplies two arms (broadcasting 1x1xC),
    # "||" splits the channels in two halves, one per arm, and concatenates the arms' outputs;
    # "{}" is a side head `{ chain }`: one arm that ends as an output of its own
    __slots__ = ("mode", "arms", "span")


class Repeat(_Node):
    __slots__ = ("body", "count", "span")


class Optional(_Node):
    __slots__ = ("body", "span")


Node = Layer | Ref | Chain | Branch | Repeat | Optional


# -- statements ---------------------------------------------------------------
class VarDef(_Node):
    __slots__ = ("name", "value", "span")


class BlockDef(_Node):
    __slots__ = ("name", "params", "body", "span")


class DefaultDef(_Node):
    """`conv.bias = false`; kind is "" for the kind-less settings `input`, `inplace`."""

    __slots__ = ("kind", "attr", "value", "span")


Statement = VarDef | BlockDef | DefaultDef


class Design(_Node):
    # shadows: the definitions named like a layer word or a function, each (name, span, what it hides)
    __slots__ = ("statements", "chain", "shadows")


def variables_in(value: Value):
    """The Var nodes of an expression or size, in source order, without recursion (a chain
    such as 1+2+3 is a tree as deep as it is long)."""
    stack = [value]
    while stack:
        e = stack.pop()
        if isinstance(e, Var):
            yield e
        elif isinstance(e, BinOp):
            stack += (e.right, e.left)
        elif isinstance(e, Neg):
            stack.append(e.operand)
        elif isinstance(e, Size):
            stack += reversed(e.dims)
        elif isinstance(e, Call):
            stack += reversed(e.args)
