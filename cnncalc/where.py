"""The small languages of `sweep`: conditions (`--where`) and lists of names (`--sort`, `--pareto`,
`--columns`), over the measures of `cnncalc.measures` and the sweep's varied names.

A hand-written tokenizer and recursive-descent parser; nothing is ever passed to Python's `eval`.

    condition := or
    or        := and ('or' and)*
    and       := not ('and' not)*
    not       := 'not' not | compare
    compare   := sum (('<' | '<=' | '>' | '>=' | '==' | '=' | '!=') sum)?   # == and != also between conditions
    sum       := product (('+' | '-') product)*
    product   := unary (('*' | '/') unary)*
    unary     := '-' unary | atom
    atom      := NUMBER UNIT? | NAME | 'true' | 'false' | '(' condition ')'
    keys      := key (',' key)*          key := ('+' | '-')? NAME

Units: K, M, G, T (10^3 ... 10^12) for counts; B, KB, MB, GB, TB (decimal) and KiB, MiB, GiB, TiB
(binary) for bytes; written straight after the number, in any case (5M, 8GiB, 1.5g). A number with
a unit of the other kind than the measure it meets is an error (`params < 5MiB`), as is a
condition that is a number, or `and` between numbers. Keywords are case-insensitive; names are
not. A comparison with an unknown value (`null` in JSON: the receptive field after a transposed
convolution) is false. Every error is one line that names the problem, with a caret under it.
"""

from __future__ import annotations

from typing import Callable

from .errors import SettingsError, Source, Span, excerpt
from .limits import MAX_NESTING, deep_enough, too_many_digits
from .measures import ALIASES, BOOL, BYTES, COUNT, MEASURES, resolve

UNITS = {"k": (10**3, COUNT), "m": (10**6, COUNT), "g": (10**9, COUNT), "t": (10**12, COUNT),
         "b": (1, BYTES), "kb": (10**3, BYTES), "mb": (10**6, BYTES), "gb": (10**9, BYTES), "tb": (10**12, BYTES),
         "kib": (2**10, BYTES), "mib": (2**20, BYTES), "gib": (2**30, BYTES), "tib": (2**40, BYTES)}
KEYWORDS = ("and", "or", "not", "true", "false")
COMPARISONS = ("<=", ">=", "==", "!=", "<", ">", "=")
SYMBOLS = ("<=", ">=", "==", "!=", "<", ">", "=", "+", "-", "*", "/", "(", ")", ",")
MISTAKES = {"&&": "and", "&": "and", "||": "or", "|": "or", "!": "not"}  # other languages' spellings
NUMBER, NAME, SYMBOL, END = "number", "name", "symbol", "end"
Env = dict  # a name -> its value for one design (measures and varied names)


class Token:
    __slots__ = ("kind", "text", "start", "end", "value")

    def __init__(self, kind: str, text: str, start: int, end: int, value=None) -> None:
        self.kind, self.text, self.start, self.end, self.value = kind, text, start, end, value

    def shown(self) -> str:
        return "end of input" if self.kind == END else f"'{self.text}'"


class Names:
    """What the languages may name: the measures (and their short spellings), and the varied names
    of a sweep (`numeric[name]`: whether all its values are numbers, so that it may be compared)."""

    def __init__(self, numeric: dict[str, bool] | None = None) -> None:
        self.numeric = dict(numeric or {})

    def all(self) -> list[str]:
        return [*MEASURES, *ALIASES, *self.numeric]


def _error(source: Source, start: int, end: int, message: str) -> SettingsError:
    return SettingsError(message, Span(source, start, max(end, start + 1)))


def tokens(source: Source) -> list[Token]:
    """The text as tokens, END last; an error with a caret at the first that is none."""
    text = source.text
    out: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in " \t\u00a0":
            i += 1
        elif c.isascii() and (c.isdigit() or (c == "." and i + 1 < n and text[i + 1].isdigit())):
            i = _number(source, i, out)
        elif c.isascii() and (c.isalpha() or c == "_"):
            i = _name(text, i, out)
        else:
            i = _symbol(source, i, out)
    out.append(Token(END, "", n, n))
    return out


def _number(source: Source, start: int, out: list[Token]) -> int:
    """A number from `start`, with its unit (5M, 8GiB, 1.5g): its token added; where the next begins."""
    text, n = source.text, len(source.text)
    i = start
    while i < n and text[i].isascii() and (text[i].isdigit() or text[i] in "._"):
        i += 1
    digits = text[start:i].replace("_", "")
    if digits.count(".") > 1 or digits.endswith("."):
        raise _error(source, start, i, f"'{excerpt(text[start:i])}' is not a number")
    if (message := too_many_digits(digits)) is not None:
        raise _error(source, start, i, message)
    number = float(digits) if "." in digits else int(digits)
    unit_start = i
    while i < n and text[i].isascii() and text[i].isalpha():
        i += 1
    unit = text[unit_start:i]
    kind = None
    if unit:
        if unit.lower() not in UNITS:
            raise _error(source, unit_start, i, f"unknown unit '{unit}' (units: K, M, G, T for counts; "
                                                f"KiB, MiB, GiB, TiB or KB, MB, GB, TB for bytes)")
        factor, kind = UNITS[unit.lower()]
        number *= factor
    if isinstance(number, float) and number.is_integer():
        number = int(number)
    out.append(Token(NUMBER, text[start:i], start, i, (number, kind)))
    return i


def _name(text: str, start: int, out: list[Token]) -> int:
    """A name (letters, digits, _ and inner dots) from `start`: its token added; where the next begins."""
    i, n = start, len(text)
    while i < n and text[i].isascii() and (text[i].isalnum() or text[i] in "_."):
        i += 1
    word = text[start:i].rstrip(".")
    out.append(Token(NAME, word, start, start + len(word)))
    return start + len(word)


def _symbol(source: Source, start: int, out: list[Token]) -> int:
    """A symbol at `start` (two characters before one): its token added; where the next begins. Another
    language's spelling (&&, ||, !) is named with ours."""
    text = source.text
    pair, one = text[start:start + 2], text[start]
    symbol = pair if pair in SYMBOLS or pair in MISTAKES else one if one in SYMBOLS or one in MISTAKES else None
    if symbol is None:
        what = f"'{one}'" if one.isprintable() and not one.isspace() else f"U+{ord(one):04X}"
        raise _error(source, start, start + 1, f"unexpected character {what}")
    if symbol in MISTAKES:
        raise _error(source, start, start + len(symbol), f"write '{MISTAKES[symbol]}' for '{symbol}'")
    out.append(Token(SYMBOL, symbol, start, start + len(symbol)))
    return start + len(symbol)


class _Node:
    """A parsed expression: its type ("number" or "bool"), unit (COUNT, BYTES or None), span, and a
    function of the environment that computes it."""

    __slots__ = ("type", "unit", "start", "end", "run", "text")

    def __init__(self, type_: str, unit: str | None, start: int, end: int, run: Callable[[Env], object],
                 text: str) -> None:
        self.type, self.unit, self.start, self.end, self.run, self.text = type_, unit, start, end, run, text


def _compare(op: str) -> Callable:
    def test(a, b) -> bool:
        if a is None or b is None:
            return False
        if op == "<":
            return a < b
        if op == "<=":
            return a <= b
        if op == ">":
            return a > b
        if op == ">=":
            return a >= b
        if op in ("==", "="):
            return a == b
        return a != b

    return test


def _arith(op: str) -> Callable:
    def apply(a, b):
        if a is None or b is None:
            return None
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        return None if b == 0 else a / b

    return apply


class _Parser:
    def __init__(self, text: str, option: str, names: Names) -> None:
        self.source = Source(text, option)
        self.option = option
        self.names = names
        self.tokens = tokens(self.source)
        self.i = 0
        self.used: dict[str, None] = {}  # the names read, in order
        self.depth = 0  # parentheses, 'not's and signs open now

    def nest(self, token: Token) -> None:
        """One level deeper (a '(', 'not' or '-'): refused past the nesting bound every reader holds."""
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise self.error(token, f"{self.option} is nested more than {MAX_NESTING} levels deep")

    @property
    def token(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def error(self, token: Token, message: str) -> SettingsError:
        return _error(self.source, token.start, token.end, message)

    def keyword(self, word: str) -> bool:
        token = self.token
        if token.kind == NAME and token.text.lower() == word:
            self.i += 1
            return True
        return False

    def span_text(self, start: int, end: int) -> str:
        return self.source.text[start:end]

    # -- conditions ------------------------------------------------------------------
    def condition(self) -> _Node:
        if self.token.kind == END:
            raise self.error(self.token, f"{self.option} is empty: write a condition such as params < 5M")
        node = self.or_()
        if self.token.kind != END:
            raise self.error(self.token, f"expected 'and', 'or' or the end after "
                                         f"'{self.span_text(node.start, node.end)}', found {self.token.shown()}")
        if node.type != "bool":
            raise _error(self.source, node.start, node.end,
                         f"'{node.text}' is a number, not a condition: compare it, as in {node.text} < 5M")
        return node

    def logic(self, word: str, operand: Callable[[], _Node]) -> _Node:
        """`a and b and c`: the operands in one list, tested in a loop (a chain of thousands of them
        evaluates without recursing), with the value Python's own `and`/`or` chain gives."""
        node = operand()
        sides = [node]
        while self.keyword(word):
            sides.append(operand())
        if len(sides) == 1:
            return node
        for side in sides:
            if side.type != "bool":
                raise _error(self.source, side.start, side.end,
                             f"'{side.text}' is a number: '{word}' joins conditions, such as params < 5M")
        runs, stop = [side.run for side in sides], word == "or"  # 'or' stops at a true value, 'and' at a false one

        def run(e):
            for r in runs:
                value = r(e)
                if bool(value) is stop:
                    return value
            return value

        return _Node("bool", None, node.start, sides[-1].end, run, self.span_text(node.start, sides[-1].end))

    def or_(self) -> _Node:
        return self.logic("or", self.and_)

    def and_(self) -> _Node:
        return self.logic("and", self.not_)

    def not_(self) -> _Node:
        start = self.token
        if self.keyword("not"):
            self.nest(start)
            operand = self.not_()
            self.depth -= 1
            if operand.type != "bool":
                raise _error(self.source, operand.start, operand.end,
                             f"'{operand.text}' is a number: 'not' takes a condition, such as not fits")
            run = operand.run
            return _Node("bool", None, start.start, operand.end, lambda e: not run(e),
                         self.span_text(start.start, operand.end))
        return self.compare()

    def compare(self) -> _Node:
        left = self.sum()
        token = self.token
        if token.kind != SYMBOL or token.text not in COMPARISONS:
            return left
        self.take()
        right = self.sum()
        equality = token.text in ("==", "=", "!=")
        if not (equality and left.type == right.type == "bool"):  # fits == true: two conditions may be equal
            for side in (left, right):
                if side.type != "number":
                    raise _error(self.source, side.start, side.end,
                                 f"'{side.text}' is a condition: '{token.text}' compares numbers"
                                 + (" (or two conditions)" if equality else ""))
        self.check_units(left, right, token)
        test, a, b = _compare(token.text), left.run, right.run
        return _Node("bool", None, left.start, right.end, lambda e: test(a(e), b(e)),
                     self.span_text(left.start, right.end))

    def check_units(self, left: _Node, right: _Node, op: Token) -> str | None:
        """Both sides in the same unit (or one a plain number); the unit of the result."""
        if left.unit and right.unit and left.unit != right.unit:
            what = {COUNT: "a count", BYTES: "bytes"}
            raise _error(self.source, right.start, right.end,
                         f"'{left.text}' is {what[left.unit]} and '{right.text}' {what[right.unit]}: counts take "
                         f"K, M, G; bytes take KiB, MiB, GiB (or KB, MB, GB)")
        return left.unit or right.unit

    def arithmetic(self, ops: tuple[str, ...], operand: Callable[[], _Node]) -> _Node:
        """`a + b - c`, left to right, in a loop (no recursion however long the chain)."""
        node = first = operand()
        steps: list[tuple[Callable, Callable]] = []
        while self.token.kind == SYMBOL and self.token.text in ops:
            op = self.take()
            right = operand()
            for side in (node, right):
                if side.type != "number":
                    raise _error(self.source, side.start, side.end,
                                 f"'{side.text}' is a condition: '{op.text}' takes numbers")
            unit = self.check_units(node, right, op) if op.text in "+-" else (node.unit or right.unit)
            steps.append((_arith(op.text), right.run))
            node = _Node("number", unit, node.start, right.end, None, self.span_text(node.start, right.end))
        if not steps:
            return node

        def run(e, start=first.run):
            value = start(e)
            for apply, r in steps:
                value = apply(value, r(e))
            return value

        node.run = run
        return node

    def sum(self) -> _Node:
        return self.arithmetic(("+", "-"), self.product)

    def product(self) -> _Node:
        return self.arithmetic(("*", "/"), self.unary)

    def unary(self) -> _Node:
        token = self.token
        if token.kind == SYMBOL and token.text == "-":
            self.take()
            self.nest(token)
            operand = self.unary()
            self.depth -= 1
            if operand.type != "number":
                raise _error(self.source, operand.start, operand.end, f"'{operand.text}' is a condition: '-' "
                                                                      f"takes a number")
            run = operand.run
            return _Node("number", operand.unit, token.start, operand.end,
                         lambda e: None if run(e) is None else -run(e), self.span_text(token.start, operand.end))
        return self.atom()

    def atom(self) -> _Node:
        token = self.take()
        if token.kind == NUMBER:
            value, unit = token.value
            return _Node("number", unit, token.start, token.end, lambda e: value, token.text)
        if token.kind == SYMBOL and token.text == "(":
            self.nest(token)
            inner = self.or_()
            self.depth -= 1
            if self.token.kind != SYMBOL or self.token.text != ")":
                raise self.error(self.token, f"expected ')' to close the '(' at column {token.start + 1}, "
                                             f"found {self.token.shown()}")
            close = self.take()
            return _Node(inner.type, inner.unit, token.start, close.end, inner.run,
                         self.span_text(token.start, close.end))
        if token.kind == NAME:
            lower = token.text.lower()
            if lower in ("true", "false"):
                value = lower == "true"
                return _Node("bool", None, token.start, token.end, lambda e: value, token.text)
            if lower in KEYWORDS:
                raise self.error(token, f"expected a value before '{token.text}'")
            name, unit = self.name(token)
            if unit == BOOL:
                return _Node("bool", None, token.start, token.end, lambda e: e[name] is True, token.text)
            return _Node("number", unit, token.start, token.end, lambda e: e[name], token.text)
        if token.kind == END:
            raise self.error(token, "expected a value (a number, a name such as params, or '('), "
                                    "found end of input")
        raise self.error(token, f"expected a value (a number, a name such as params, or '('), found '{token.text}'")

    def name(self, token: Token) -> tuple[str, str | None]:
        """The canonical name a token means, and its unit (COUNT, BYTES, BOOL; None for a varied name)."""
        name = resolve(token.text)
        if name is not None:
            self.used[name] = None
            return name, MEASURES[name].unit
        if token.text in self.names.numeric:
            if not self.names.numeric[token.text]:
                raise self.error(token, f"'{token.text}' is varied over values that are not all numbers: "
                                        f"it cannot be compared")
            self.used[token.text] = None
            return token.text, None
        raise self.error(token, unknown(token.text, self.names))

    # -- lists of names --------------------------------------------------------------------
    def keys(self, signs: bool) -> list[tuple[str, int]]:
        out = []
        while True:
            token = self.token
            direction = -1
            if token.kind == SYMBOL and token.text in "+-":
                if not signs:
                    raise self.error(token, f"{self.option} takes names without '+' or '-'")
                direction = 1 if token.text == "+" else -1
                self.take()
                token = self.token
            if token.kind != NAME:
                raise self.error(token, f"expected a name such as macs, found {token.shown()}")
            self.take()
            name, unit = self.name(token)
            if any(n == name for n, _ in out):
                raise self.error(token, f"'{token.text}' is named twice")
            out.append((name, direction))
            if self.token.kind == END:
                return out
            if self.token.kind != SYMBOL or self.token.text != ",":
                raise self.error(self.token, f"expected ',' between names, found {self.token.shown()}")
            self.take()


def unknown(name: str, names: Names) -> str:
    from .errors import did_you_mean

    hint = did_you_mean(name, names.all()) or did_you_mean(name.lower(), names.all())
    if hint:
        return f"unknown name '{name}'{hint}"
    varied = f"; varied: {', '.join(names.numeric)}" if names.numeric else ""
    return f"unknown name '{name}' (measures: {', '.join(MEASURES)}{varied})"


class Condition:
    """A parsed `--where`: `test(env)` says whether a design passes; `names` are the names it reads."""

    __slots__ = ("text", "names", "_run")

    def __init__(self, text: str, names: list[str], run: Callable[[Env], object]) -> None:
        self.text, self.names, self._run = text, names, run

    def test(self, env: Env) -> bool:
        return self._run(env) is True

    def __repr__(self) -> str:
        return f"Condition({self.text!r})"


def condition(text: str, names: Names | None = None, option: str = "--where") -> Condition:
    """Parse a condition; a SettingsError with a caret on anything it cannot read."""
    parser = _Parser(text, option, names or Names())
    with deep_enough():
        node = parser.condition()
    return Condition(text, list(parser.used), node.run)


def columns(chosen) -> list[str]:
    """`--columns`: a comma-separated text or a list of measures' names, as the measures' own names."""
    return [name for name, _ in keys(chosen if isinstance(chosen, str) else ",".join(chosen), option="--columns",
                                     signs=False)]


def keys(text: str, names: Names | None = None, option: str = "--sort", signs: bool = True) -> list[tuple[str, int]]:
    """`-macs,+params` as [("macs", -1), ("params", 1)]: -1 smaller first (or better), 1 larger; a
    name without a sign is -1. `signs=False` refuses the signs (`--columns`)."""
    return _Parser(text, option, names or Names()).keys(signs)
