"""The design's arithmetic: whole-number expressions, variables defined by variables, min, max and
make_divisible, and the message for an unbound name."""

from __future__ import annotations

import re

from ..dsl import ast
from ..errors import DesignError, Span
from ..kinds import MAX_VALUE, split_word
from .scope import IN, Bound, Local

MAX_EVAL_DEPTH = 200  # parentheses and variables defined by variables, nested


class NeedsInput(Exception):
    """A layer's setting reads `in`: the layer is made once its input is known (Deferred)."""



class Values:
    """Expressions and variables (a mixin of the Expander: its state is the Expander's)."""

    # -- evaluation -------------------------------------------------------------
    def eval(self, expr: ast.Expr, local: Local) -> int:
        """An integer expression's value. A chain such as 1+2+3 is a left-leaning tree as deep as it
        is long, so it is folded in a loop; what still recurses (parentheses, variables defined by
        variables) is bounded by MAX_EVAL_DEPTH instead of by Python's stack."""
        self.eval_depth += 1
        try:
            if self.eval_depth > MAX_EVAL_DEPTH:
                raise DesignError(f"expressions and variables nest more than {MAX_EVAL_DEPTH} levels deep", expr.span)
            match expr:
                case ast.Num(value=value):
                    return value
                case ast.Var(name=name) if name == IN and name not in local:
                    if self.reading_layer and not self.evaluating:
                        raise NeedsInput
                    raise DesignError(f"'{IN}' is the channel count of a layer's input: it can be used only in "
                                      f"a layer's settings, such as CONV1-({IN}/2)", expr.span)
                case ast.Var(name=name):
                    value = local[name] if name in local else self.variable(name, expr.span)
                    if isinstance(value, Bound):
                        raise DesignError(f"'{name}' is a layer or block ({value.text}), not a number", expr.span)
                    return value
                case ast.Call(name=name, args=args):
                    return self.call_function(expr, [self.eval(a, local) for a in args])
                case ast.Neg(operand=operand):
                    return -self.eval(operand, local)
                case ast.BinOp():
                    chain = []
                    node = expr
                    while isinstance(node, ast.BinOp):
                        chain.append(node)
                        node = node.left
                    value = self.eval(node, local)
                    for op_node in reversed(chain):
                        value = self.apply(op_node, value, self.eval(op_node.right, local))
                    return value
            raise AssertionError(expr)
        finally:
            self.eval_depth -= 1

    @staticmethod
    def apply(node: ast.BinOp, a: int, b: int) -> int:
        op = node.op
        if op == "+":
            value = a + b
        elif op == "-":
            value = a - b
        elif op == "*":
            value = a * b
        elif op == "//":
            if b == 0:
                raise DesignError("division by zero", node.span)
            value = a // b
        else:
            if b == 0:
                raise DesignError("division by zero", node.span)
            if a % b:
                raise DesignError(f"{a}/{b} does not divide exactly (expressions are whole numbers)", node.span)
            value = a // b
        if abs(value) > MAX_VALUE:
            raise DesignError(f"number too large: {a} {op} {b} exceeds 10^15", node.span)
        return value

    @staticmethod
    def call_function(node: ast.Call, args: list[int]) -> int:
        """min, max, and make_divisible(v, d[, least]) as the papers' code rounds widths (torchvision's
        _make_divisible): the multiple of d nearest v (halves up), at least `least` (default d), plus d
        when that falls more than 10% below v; in integers, exactly."""
        if node.name == "min":
            return min(args)
        if node.name == "max":
            return max(args)
        v, d = args[0], args[1]
        least = args[2] if len(args) == 3 else d
        if d < 1:
            raise DesignError(f"make_divisible's divisor is at least 1, got {d}", node.span)
        value = max(least, (v + d // 2) // d * d)
        value = value + d if 10 * value < 9 * v else value
        if value > MAX_VALUE:
            raise DesignError(f"number too large: make_divisible gives {value}, past 10^15", node.span)
        return value

    def variable(self, name: str, span: Span) -> int:
        if name in self.values:
            return self.values[name]
        definition = self.variables.get(name)
        if definition is None:
            if name in self.blocks:
                raise DesignError(f"'{name}' is a block, not a number", span)
            raise self.unbound([(name, span)])
        if name in self.evaluating:
            cycle = " -> ".join(self.evaluating[self.evaluating.index(name):] + [name])
            raise DesignError(f"variable '{name}' is defined in terms of itself ({cycle})", definition.span)
        self.evaluating.append(name)
        try:
            value = self.eval(definition.value, {})
        finally:
            self.evaluating.pop()
        self.values[name] = value
        return value

    @staticmethod
    def unbound(names: list[tuple[str, Span]]) -> DesignError:
        listed = ", ".join(n for n, _ in names)
        first = names[0][0]
        if split_word(first) is not None:  # CONV3-RELU: a layer word where a number goes, never a variable
            return DesignError(f"'{first}' is a layer, not a number: a number, a variable or a (expression) goes "
                               f"here, and a layer after '->'", names[0][1])
        noun, pronoun = ("variable", "it") if len(names) == 1 else ("variables", "each")
        binds = " ".join(f"-D {n}=..." for n, _ in names)
        suffix = _SUFFIXED.fullmatch(first)
        hint = (f"; if {suffix[1]} is the number and {suffix[2]} a suffix, write ({suffix[1]}){suffix[2]}: a "
                f"variable before p, d or g needs parentheses" if suffix else "")
        return DesignError(
            f"unbound {noun} {listed}: give {pronoun} a value in the design ({first} = 2) "
            f"or on the command line ({binds}){hint}", names[0][1])


_SUFFIXED = re.compile(r"([A-Za-z_][A-Za-z0-9_]*?)([pdgPDG][0-9]+(?:[pdgPDG][0-9]+)*)")  # C then p0, d2g4: CONV3-Cp0
