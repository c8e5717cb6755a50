"""Syntax tree of a design. Every node carries the Span it was read from."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import Span


# -- integer expressions -----------------------------------------------------
@dataclass(slots=True)
class Num:
    value: int
    span: Span


@dataclass(slots=True)
class Var:
    name: str
    span: Span


@dataclass(slots=True)
class BinOp:
    op: str  # one of + - * /
    left: Expr
    right: Expr
    span: Span


@dataclass(slots=True)
class Neg:
    operand: Expr
    span: Span


Expr = Num | Var | BinOp | Neg


# -- setting values ------------------------------------------------------------
@dataclass(slots=True)
class Size:
    """`224x224x3`, `1x7`: two or three expressions joined by 'x'."""

    dims: list[Expr]
    span: Span


@dataclass(slots=True)
class Word:
    """A bare word value: same, valid, true, false, max, avg."""

    word: str
    span: Span


@dataclass(slots=True)
class Float:
    value: float
    span: Span


Value = Num | Var | BinOp | Neg | Size | Word | Float


# -- architecture -------------------------------------------------------------
@dataclass(slots=True)
class Layer:
    word: str  # the layer word as upper case: CONV, MAXPOOL, RELU6, …
    args: dict[str, Value]  # shorthand parts and keyword arguments, by key
    span: Span
    positional: list[Value] = field(default_factory=list)


@dataclass(slots=True)
class Ref:
    """A block used by name, or called with arguments: `stem`, `basic(64)`."""

    name: str
    args: list[Expr] | None
    span: Span


@dataclass(slots=True)
class Chain:
    terms: list[Node]
    span: Span


@dataclass(slots=True)
class Branch:
    mode: str  # "|" concatenates on channels, "+" sums element-wise
    arms: list[Chain]
    span: Span


@dataclass(slots=True)
class Repeat:
    body: Node
    count: Expr
    span: Span


@dataclass(slots=True)
class Optional:
    body: Node
    span: Span


Node = Layer | Ref | Chain | Branch | Repeat | Optional


# -- statements ---------------------------------------------------------------
@dataclass(slots=True)
class VarDef:
    name: str
    value: Expr
    span: Span


@dataclass(slots=True)
class BlockDef:
    name: str
    params: list[str]
    body: Chain
    span: Span


@dataclass(slots=True)
class DefaultDef:
    """`conv.bias = false`; kind is "" for the kind-less settings `input`, `inplace`."""

    kind: str
    attr: str
    value: Value
    span: Span


Statement = VarDef | BlockDef | DefaultDef


@dataclass(slots=True)
class Design:
    statements: list[Statement]
    chain: Chain | None
