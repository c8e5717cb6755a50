"""Recursive-descent parser of the design language (DSL v1).

One method per rule of the grammar; the parser reads characters directly, so
layer shorthand such as `CONV3-64/2p1` needs no separate lexer and every error
points at the exact column.

    design    := statement* chain
    statement := NAME '=' (expr | chain)                    variable or block
               | NAME '(' NAME (',' NAME)* ')' '=' chain    parameterised block
               | KIND '.' ATTR '=' value                    layer default
               | ('input' | 'inplace') '=' value            setting
    chain     := term ('->' term)*                          '→' is accepted for '->'
    term      := atom ('*' count | '?')*
    atom      := layer | NAME | NAME '(' arg (',' arg)* ')'
               | '[' chain ']'
               | '(' chain ('|' chain)+ ')'                 concat on channels
               | '(' chain ('+' chain)+ ')'                 element-wise sum
               | '(' chain '.*' chain ')'                   element-wise product (a 1x1xC arm broadcasts)
               | '(' chain '||' chain ')'                   channel split: each arm half the channels, concat
               | '{' chain '}'                              a side head: an output of its own; the chain goes on
    count     := INT | NAME | '(' expr ')'
    expr      := integer arithmetic: + - * / // ( ), INT, NAME and FUNC '(' expr (',' expr)* ')'
                 (FUNC: min, max, make_divisible; '/' divides exactly, '//' rounds down)
    arg       := expr | layer | '[' chain ']' | NAME '(' ... ')'    a block's argument: a number, or
                                                            a layer, group or block call it uses by name

    layer     := WORD kernel? ('-' value)? ('/' value)? (('p'|'d'|'g') value)* args?
               | 'INPUT' size?
    kernel    := INT (('x' | '×') INT)?                     written straight after the word;
                                                            a suffix letter then '(' ends a name: POOL3p(S)
    value     := INT | NAME | '(' expr ')'
    args      := '(' (arg (',' arg)*)? ')'                  directly after the layer
    arg       := NAME '=' setting | setting
    setting   := FLOAT | WORD | expr (('x' | '×') expr)*

White space (newlines included) may separate tokens but not the parts of a
layer's shorthand; `#` starts a comment; `;` may end a statement.

Characters: outside comments a design is ASCII, plus '→' for '->', '×' for 'x'
(in sizes and attached kernels: `224×224×3`, `CONV1×7`) and the non-breaking
space U+00A0, which is white space. A byte-order mark U+FEFF that starts the
text is dropped before parsing (so columns count from after it, as editors show
them). Any other character (non-ASCII digits such as '²' or '２', control
characters, zero-width spaces, curly quotes) is refused before parsing, with its
code point and Unicode name: never read as something else. Comments may hold
anything.
"""

from __future__ import annotations

import re
import unicodedata

from ..errors import DesignSyntaxError, Source, Span, describe_char, excerpt, shows, visible
from ..limits import MAX_DIGITS, MAX_NESTING
from ..kinds import DEFAULT_KINDS, KERNEL_THEN_SUFFIX, SHARED_SETTINGS, WORDS, split_word
from . import ast


_SPACE_WORDS = {" ": "a space", "\t": "a tab", "\n": "a line break", "\r": "a line break",
                "\u00a0": "a non-breaking space"}
_BOOL_WORDS = ("true", "false", "same", "valid", "max", "avg")
_NAME_START = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_NAME_CHARS = _NAME_START | set("0123456789")
_DIGITS = set("0123456789")
_WHITE = " \t\r\n\u00a0"  # U+00A0 NO-BREAK SPACE: a common paste artifact, read as a space
_TIMES = ("x", "X", "\u00d7")  # '×' (U+00D7 MULTIPLICATION SIGN) joins sizes as 'x' does
_BOM = "\ufeff"

# a character no design may hold outside a comment; and, to find the first of them, comments
_STRAY = re.compile(r"[^\t\n\r\x20-\x7e\u2192\u00d7\u00a0]")
_STRAY_OR_COMMENT = re.compile(r"#[^\n]*|[^\t\n\r\x20-\x7e\u2192\u00d7\u00a0]")
# a layer word with an attached kernel (CONV3, POOL1x7) and the suffixes its name ran on into:
# POOL3p1, CONV3p1d2 and, before '(', POOL3p, CONV3-8d1g
_KERNEL_PREFIX = re.compile(r"[A-Za-z]+[0-9]+(?:[xX][0-9]+)?")
_SUFFIXES = re.compile(r"(?:[pdgPDG][0-9]+)*([pdgPDG]?)")


def parse(text: str, label: str = "") -> ast.Design:
    """Parse a whole design. A definition named like a layer word or a function wins over it in this
    design (a word the language adds later must never break a design that planned): a second reading,
    with those names known from the first, lets a block use one that is defined after it."""
    source = Source(_drop_bom(text), label)
    design = Parser(source).design()
    if not design.shadows:
        return design
    return Parser(source, mine={name for name, _, _ in design.shadows}).design()


def parse_definition(text: str) -> ast.Statement:
    """Parse one command-line definition `NAME=VALUE` (the text after -D)."""
    text = _drop_bom(text)
    return Parser(Source(text, f"-D {visible(text)}")).definition()


def _drop_bom(text: str) -> str:
    """A byte-order mark starting the text (files saved by some Windows editors) is not part of it."""
    return text[1:] if text.startswith(_BOM) else text


def stray_character_message(c: str) -> str:
    """The error for a character the language does not use."""
    category = unicodedata.category(c)
    if c.isnumeric():
        hint = "numbers are written with the digits 0-9"
    elif c == _BOM:
        hint = "a byte-order mark may only start the text"
    elif category == "Cc":
        hint = "control characters may appear only in comments"
    elif category == "Cs":
        hint = "the design is not valid UTF-8 here"
    elif category == "Pd" or c == "\u2212":
        hint = "write the ASCII '-'"
    elif not shows(c):
        hint = "an invisible character, often pasted in: delete it or write a plain space"
    else:
        hint = "outside comments a design is written in ASCII, with '→' for '->' and '×' for 'x'"
    return f"unexpected character {describe_char(c)}: {hint}"


def _is_layer_word(word: str) -> bool:
    """A word that reads as a layer: one split_word knows (RELU, CONV3, POOL1x7) or a kernel word
    with its suffixes run on (POOL3p1, CONV3d2g4)."""
    return split_word(word) is not None or KERNEL_THEN_SUFFIX.fullmatch(word) is not None


def _kernel_then_open_suffix(word: str) -> int:
    """The length of the kernel word in `CONV3p`, `POOL3p1d`, `CONV1x7d`: a kernel word whose name
    ran on into suffixes, the last one a bare letter (its value follows as '(expr)'); else 0."""
    m = _KERNEL_PREFIX.match(word)
    if m is None or m.end() == len(word):
        return 0
    split = split_word(m.group())
    if split is None or split[1] != "kernel":
        return 0
    rest = _SUFFIXES.fullmatch(word, m.end())
    return m.end() if rest is not None and rest.group(1) else 0


class Parser:
    def __init__(self, source: Source, mine: set[str] | None = None) -> None:
        self.source = source
        self.text = source.text
        self.pos = 0
        self.depth = 0
        self.blocks: set[str] = set()  # block names defined so far, to tell `X = stem` from `X = N`
        self.mine: set[str] = set(mine or ())  # definitions named like a layer word: the word, written so, is theirs
        self.shadows: list[tuple[str, Span, str]] = []
        self.refuse_stray_characters()

    # -- helpers ------------------------------------------------------------
    def span(self, start: int, end: int | None = None) -> Span:
        return Span(self.source, start, self.pos if end is None else end)

    def error(self, message: str, start: int | None = None, end: int | None = None) -> DesignSyntaxError:
        start = self.pos if start is None else start
        if end is None:
            end = start + 1
        return DesignSyntaxError(message, Span(self.source, start, end))

    def peek(self, offset: int = 0) -> str:
        """The character at pos + offset, or "" past the end (never a member of the character sets)."""
        i = self.pos + offset
        return self.text[i] if i < len(self.text) else ""

    def refuse_stray_characters(self) -> None:
        """Refuse, at its position, the first character outside comments that the language does not use."""
        if _STRAY.search(self.text) is None:
            return
        for m in _STRAY_OR_COMMENT.finditer(self.text):
            if m.group()[0] != "#":
                raise self.error(stray_character_message(m.group()), m.start())

    def skip_ws(self, semicolons: bool = False) -> None:
        text, n = self.text, len(self.text)
        while self.pos < n:
            c = text[self.pos]
            if c in _WHITE or (semicolons and c == ";"):
                self.pos += 1
            elif c == "#":
                nl = text.find("\n", self.pos)
                self.pos = n if nl == -1 else nl + 1
            else:
                break

    def describe_here(self) -> str:
        """The token at the current position, in words, for 'found …' messages."""
        if self.pos >= len(self.text):
            return "end of input"
        c = self.text[self.pos]
        if c in _NAME_START:
            return f"'{self.read_name_at(self.pos)}'"
        if c in _DIGITS:
            j = self.pos
            while j < len(self.text) and self.text[j] in _DIGITS:
                j += 1
            return f"'{self.text[self.pos:j]}'"
        if self.text.startswith("->", self.pos):
            return "'->'"
        if c in _SPACE_WORDS:
            return _SPACE_WORDS[c]
        if not c.isascii():
            return describe_char(c)
        return f"'{c}'"

    def read_name_at(self, i: int) -> str:
        j = i
        while j < len(self.text) and self.text[j] in _NAME_CHARS:
            j += 1
        return self.text[i:j]

    def name(self) -> str | None:
        if self.peek() not in _NAME_START:
            return None
        word = self.read_name_at(self.pos)
        self.pos += len(word)
        return word

    def integer(self) -> ast.Num | None:
        start = self.pos
        while self.peek() in _DIGITS:
            self.pos += 1
        if self.pos == start:
            return None
        if self.pos - start > MAX_DIGITS:
            raise self.error(f"number too large: integers here have at most {MAX_DIGITS} digits", start, self.pos)
        return ast.Num(int(self.text[start:self.pos]), self.span(start))

    def at_arrow(self) -> bool:
        return self.text.startswith("->", self.pos) or self.peek() == "→"

    def expect(self, char: str, what: str) -> None:
        if self.peek() != char:
            raise self.error(f"expected '{char}' {what}, found {self.describe_here()}")
        self.pos += 1

    def enter(self, start: int) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise self.error(f"the design is nested more than {MAX_NESTING} levels deep", start)

    # -- design and statements ----------------------------------------------
    def design(self) -> ast.Design:
        statements: list[ast.Statement] = []
        self.skip_ws(semicolons=True)
        while self.pos < len(self.text):
            statement = self.statement()
            if statement is None:
                break
            statements.append(statement)
            self.skip_ws(semicolons=True)
        if self.pos >= len(self.text):
            if statements:
                raise self.error("the design has definitions but no architecture (a chain such as 'INPUT 32x32x3 -> CONV3-16')")
            raise self.error("the design is empty: write an architecture such as 'INPUT 32x32x3 -> CONV3-16 -> RELU'")
        chain = self.chain()
        self.skip_ws(semicolons=True)
        if self.pos < len(self.text):
            start = self.pos
            if self.statement_ahead():
                raise self.error("definitions must come before the architecture", start)
            found = self.describe_here()
            if self.text[self.pos - 1:self.pos] in "])" and self.peek() in "xX×" and self.peek(1) in _DIGITS:
                raise self.error(f"a repeat is written with '*': {self.text[self.pos - 1]}*{self.peek(1)}, not "
                                 f"{self.text[self.pos - 1]}{self.peek()}{self.peek(1)}", start)
            if self.peek() == "." and self.text[self.pos - 1:self.pos] in _DIGITS:
                word = re.search(r"([A-Za-z]+)([0-9]+)$", self.text[:self.pos])
                if word:  # DROPOUT0.5: a fraction is a setting, in parentheses
                    raise self.error(f"a fraction is written in parentheses after the layer: "
                                     f"{word.group(1)}({word.group(2)}{self.text[self.pos:].split()[0].rstrip(')')})"
                                     f", not {word.group(0)}{self.text[self.pos:].split()[0]}", start)
            if self.peek() in _NAME_START or self.peek() in "[({":
                raise self.error(
                    f"expected '->' before {found}: a design holds exactly one architecture, "
                    "so join its parts with '->'", start)
            raise self.error(f"unexpected {found} after the architecture", start)
        return ast.Design(statements, chain, self.shadows)

    def definition(self) -> ast.Statement:
        self.skip_ws()
        statement = self.statement()
        if statement is None:
            raise self.error("expected NAME=VALUE, such as N=2, conv.filters=64 or input=224x224x3", 0, len(self.text))
        self.skip_ws(semicolons=True)
        if self.pos < len(self.text):
            raise self.error(f"unexpected {self.describe_here()} after the definition")
        return statement

    def statement_ahead(self) -> bool:
        save = self.pos
        try:
            return self.statement_header() is not None
        except DesignSyntaxError:
            return False
        finally:
            self.pos = save

    def statement_header(self) -> tuple | None:
        """Read `NAME =`, `NAME(A, B) =` or `KIND.ATTR =`; None (position unchanged) if not there."""
        start = self.pos
        word = self.name()
        if word is None:
            return None
        header: tuple | None = None
        if self.peek() == "." and self.peek(1) in _NAME_START:
            self.pos += 1
            attr = self.name()
            header = ("default", word, attr)
        elif self.peek() == "(":
            self.pos += 1
            params: list[str] = []
            self.skip_ws()
            while True:
                param = self.name()
                if param is None:
                    break
                params.append(param)
                self.skip_ws()
                if self.peek() != ",":
                    break
                self.pos += 1
                self.skip_ws()
            if self.peek() == ")" and params:
                self.pos += 1
                header = ("block", word, params)
        else:
            header = ("name", word, None)
        if header is not None:
            self.skip_ws()
            if self.peek() == "=" and self.peek(1) != "=":
                self.pos += 1
                return (*header, start)
        self.pos = start
        return None

    def statement(self) -> ast.Statement | None:
        header = self.statement_header()
        if header is None:
            return None
        form, word, extra, start = header
        name_span = Span(self.source, start, start + len(word))
        self.skip_ws()
        if form == "default":
            kind = word.lower()
            if kind not in DEFAULT_KINDS:
                raise DesignSyntaxError(
                    f"'{word}' has no defaults; layer defaults exist for {', '.join(DEFAULT_KINDS)}", name_span)
            value = self.setting()
            return ast.DefaultDef(kind, extra.lower(), value, self.span(start))
        if word.lower() in SHARED_SETTINGS and form == "name":
            value = self.setting()
            return ast.DefaultDef("", word.lower(), value, self.span(start))
        if _is_layer_word(word) or word in ast.FUNCTIONS:
            self.shadow(word, name_span)
        if word == "in":
            raise DesignSyntaxError("'in' is the channel count of a layer's input (CONV1-(in/2)); choose another "
                                    "name for this definition", name_span)
        if form == "block":
            cut = _kernel_then_open_suffix(word)
            if cut:
                raise DesignSyntaxError(
                    f"'{word}(…)' reads as the layer '{word[:cut]}' with a '{word[-1]}' suffix; "
                    "choose another name for this block", name_span)
            self.blocks.add(word)
            body = self.chain()
            return ast.BlockDef(word, extra, body, self.span(start))
        # `NAME = …` is a variable when the right side is an integer expression,
        # otherwise a block (a chain).
        value_start = self.pos
        expr = self.try_variable_value()
        if expr is not None:
            return ast.VarDef(word, expr, self.span(start))
        self.pos = value_start
        if self.peek() in _DIGITS or self.peek() == "-":
            self.expr()  # a number that does not parse: raise the expression's own error
            raise self.error("expected a number or a chain of layers after '='", value_start)
        self.blocks.add(word)
        body = self.chain()
        return ast.BlockDef(word, [], body, self.span(start))

    def try_variable_value(self) -> ast.Expr | None:
        save = self.pos
        try:
            expr = self.expr()
        except DesignSyntaxError:
            self.pos = save
            return None
        end = self.pos
        if self.peek() == "(":
            # `b = POOL3p(S)`, `b = stem(2)`: a name directly followed by '(' is a layer or a call
            self.pos = save
            return None
        self.skip_ws()
        if self.at_arrow() or self.peek() in ("?", *_TIMES) or _mentions_block(expr, self.blocks):
            self.pos = save
            return None
        self.pos = end
        return expr

    # -- chains -------------------------------------------------------------
    def chain(self) -> ast.Chain:
        start = self.pos
        terms = [self.term()]
        while True:
            save = self.pos
            self.skip_ws()
            if not self.at_arrow():
                self.pos = save
                break
            self.pos += 1 if self.peek() == "→" else 2
            self.skip_ws()
            if self.pos >= len(self.text) or self.peek() in ")]|+":
                raise self.error(f"expected a layer after '->', found {self.describe_here()}")
            terms.append(self.term())
        return ast.Chain(terms, self.span(start))

    def term(self) -> ast.Node:
        start = self.pos
        node = self.atom()
        while True:
            save = self.pos
            self.skip_ws()
            c = self.peek()
            if c == "*":
                self.pos += 1
                self.skip_ws()
                count = self.count()
                node = ast.Repeat(node, count, self.span(start))
            elif c == "?":
                self.pos += 1
                node = ast.Optional(node, self.span(start))
            else:
                self.pos = save
                return node

    def count(self) -> ast.Expr:
        start = self.pos
        if self.peek() == "(":
            return self.paren_expr()
        num = self.integer()
        if num is not None:
            if self.peek() == "." and self.peek(1) != "*":  # X*2.*Y: the count ends where '.*' starts
                raise self.error("a repeat count must be a whole number", start, self.pos + 1)
            return num
        word = self.name()
        if word is not None:
            return ast.Var(word, self.span(start))
        if self.peek() == "-":
            raise self.error("a repeat count cannot be negative", start)
        raise self.error(f"expected a repeat count after '*' (a number, a name or a (expression)), "
                         f"found {self.describe_here()}")

    def atom(self) -> ast.Node:
        start = self.pos
        c = self.peek()
        if c == "[":
            chain = self.enclosed("]", "empty brackets: put at least one layer inside '[ ]'")
            return ast.Chain(chain.terms, self.span(start))
        if c == "(":
            return self.branch()
        if c == "{":  # a side head: an arm that ends as an output of its own; the chain goes on (mode "{}")
            chain = self.enclosed("}", "an empty side head: put its layers inside '{ }'")
            return ast.Branch("{}", [chain], self.span(start))
        if c in _NAME_START:
            return self.layer_or_ref()
        if c != "" and c in "])}":  # ("" is end of input, below)
            raise self.error(f"unmatched '{c}': there is no opening '{dict(zip('])}', '[({'))[c]}' for it")
        if c == "":
            raise self.error("expected a layer, found end of input")
        raise self.error(f"expected a layer, a block name, '[' or '(', found {self.describe_here()}")

    def where(self, offset: int) -> str:
        """'column 7', or 'line 2, column 7' in a text of several lines."""
        line, col = Span(self.source, offset, offset).line_col()
        return f"column {col}" if "\n" not in self.text else f"line {line}, column {col}"

    def unclosed(self, close: str, opener: str, start: int) -> str:
        return f"expected '{close}' to close the '{opener}' at {self.where(start)}, found {self.describe_here()}"

    def branch(self) -> ast.Branch:
        start = self.pos
        self.enter(start)
        self.pos += 1
        self.skip_ws()
        arms = [self.chain()]
        mode = ""
        while True:
            self.skip_ws()
            c = self.peek()
            op = ".*" if c == "." and self.peek(1) == "*" else "||" if c == "|" and self.peek(1) == "|" else c
            if op in ("|", "+", ".*", "||"):
                if mode and op != mode:
                    raise self.error(f"'{mode}' and '{op}' cannot be mixed in one parenthesis: nest one inside "
                                     f"the other", self.pos, self.pos + len(op))
                if op == ".*" and len(arms) == 2:
                    raise self.error("'.*' multiplies two arms: nest a third one, (A .* [(B .* C)])",
                                     self.pos, self.pos + 2)
                if op == "||" and len(arms) == 2:
                    raise self.error("'||' splits the channels between two arms", self.pos, self.pos + 2)
                mode = op
                self.pos += len(op)
                self.skip_ws()
                arms.append(self.chain())
            elif c == ")":
                self.pos += 1
                break
            elif c == "":
                raise self.error(self.unclosed(")", "(", start))
            else:
                raise self.error(f"expected '|', '+', '.*', '||' or ')' in the branches opened at {self.where(start)}, "
                                 f"found {self.describe_here()}")
        if not mode:
            raise self.error("a parenthesis holds two or more branches joined by '|' (concat), '+' (sum), "
                             "'.*' (product) or '||' (channel split); use '[ ]' to group a single chain", start,
                             self.pos)
        self.depth -= 1
        return ast.Branch(mode, arms, self.span(start))

    def enclosed(self, close: str, empty: str) -> ast.Chain:
        """The chain between the opener at the current position and `close`: `[ … ]`, `{ … }`."""
        start = self.pos
        self.enter(start)
        self.pos += 1
        self.skip_ws()
        if self.peek() == close:
            raise self.error(empty, start, self.pos + 1)
        chain = self.chain()
        self.skip_ws()
        if self.peek() != close:
            raise self.error(self.unclosed(close, self.text[start], start))
        self.pos += 1
        self.depth -= 1
        return chain

    # -- layers and block references ----------------------------------------
    def shadow(self, word: str, span: Span) -> None:
        """A definition named like a layer word or a function: its name, written exactly so, is the
        user's in this design (the layer stays reachable by another spelling or alias)."""
        if word in ast.FUNCTIONS:
            what = f"the function {word}()"
        else:
            split = split_word(word)
            upper = split[0] if split is not None else word.upper()
            main = WORDS[upper].words[0] if upper in WORDS else upper
            what = f"the layer word {upper}" + (f" (an alias of {main})" if main != upper else "")
        self.mine.add(word)
        self.shadows.append((word, span, what))

    def layer_or_ref(self) -> ast.Node:
        start = self.pos
        word = self.name()
        assert word is not None
        if word in self.mine:  # the user's definition, though the word is also a layer's
            return self.block_ref(word, start)
        split = split_word(word)
        if split is None:
            # POOL3p1, CONV3d2 and, before '(', POOL3p(S), CONV3p1d(D): a kernel word whose suffixes
            # the name swallowed; read them as suffixes
            m = KERNEL_THEN_SUFFIX.fullmatch(word)
            cut = m.end(1) if m is not None else 0
            if not cut and self.peek() == "(":
                cut = _kernel_then_open_suffix(word)
            if cut:
                self.pos = start + cut
                word = word[:cut]
                split = split_word(word)
        if split is None:
            return self.block_ref(word, start)
        upper, attached, kernel = split
        layer_args: dict[str, ast.Value] = {}
        if attached:
            layer_args[attached] = self.attached_number(upper, word, kernel, start)
        if upper == "INPUT":
            save = self.pos
            self.skip_ws()
            if self.peek() == "[" and self.peek(1) in _DIGITS:  # the notes write INPUT [32x32x3]
                self.pos += 1
                layer_args["size"] = self.setting()
                self.skip_ws()
                self.expect("]", "to close the input size '[' (INPUT [32x32x3])")
            elif self.peek() in _DIGITS or (self.peek() == "(" and self.size_ahead()):
                layer_args["size"] = self.setting()
            else:
                self.pos = save
        else:
            self.shorthand(upper, layer_args)
        positional: list[ast.Value] = []
        if self.peek() == "(":
            self.layer_args(upper, layer_args, positional)
        return ast.Layer(upper, layer_args, self.span(start), positional)

    def block_ref(self, word: str, start: int) -> ast.Ref:
        """A block used by name, or called: `stem`, `basic(64)`."""
        args: list | None = None
        if self.peek() == "(":
            self.enter(self.pos)  # calls nested as arguments count as nesting: f(f(f(...)))
            self.pos += 1
            args = self.comma_list(self.block_arg)
            self.expect(")", f"to close the arguments of '{word}'")
            self.depth -= 1
        return ast.Ref(word, args, self.span(start))

    def comma_list(self, item) -> list:
        """One or more `item`s separated by commas (white space around them skipped): a call's arguments."""
        self.skip_ws()
        items = [item()]
        self.skip_ws()
        while self.peek() == ",":
            self.pos += 1
            self.skip_ws()
            items.append(item())
            self.skip_ws()
        return items

    def block_arg(self) -> ast.Expr | ast.Node:
        """A block's argument: a layer (`HARDSWISH`, `LEAKYRELU(0.1)`), a `[..]` group or a block call
        (`se(16)`), which the block uses by its parameter's name; otherwise an integer expression (a
        bare name is read as one, and stands for a block when it names one)."""
        c = self.peek()
        if c == "[":
            return self.term()
        if c in _NAME_START:
            word = self.read_name_at(self.pos)
            after = self.peek(len(word))
            if _is_layer_word(word) or (after == "(" and word not in ast.FUNCTIONS):
                return self.term()
        return self.expr()

    def attached_number(self, upper: str, word: str, kernel: tuple[str, ...], start: int) -> ast.Expr | ast.Size:
        """The number written straight after a layer word: CONV3, CONV1x7, CONV1×7 (whose '×' ends the name)."""
        if len(kernel) == 1 and self.peek() == "\u00d7" and self.peek(1) in _DIGITS:
            self.pos += 1
            while self.peek() in _DIGITS:
                self.pos += 1
            kernel = (*kernel, self.text[start + len(word) + 1:self.pos])
        dims: list[ast.Expr] = []
        k_pos = start + len(upper)
        for part in kernel:
            if len(part) > MAX_DIGITS:
                raise self.error("number too large", k_pos, k_pos + len(part))
            dims.append(ast.Num(int(part), Span(self.source, k_pos, k_pos + len(part))))
            k_pos += len(part) + 1
        return ast.Size(dims, Span(self.source, start + len(upper), self.pos)) if len(dims) > 1 else dims[0]

    def size_ahead(self) -> bool:
        """After INPUT, does '(' begin a size like (S)x(S)x3 (not a branch)?"""
        save = self.pos
        try:
            self.paren_expr()
            return self.peek() in _TIMES
        except DesignSyntaxError:
            return False
        finally:
            self.pos = save

    def shorthand(self, word: str, args: dict[str, ast.Value]) -> None:
        if self.peek() == "-" and not self.at_arrow():
            self.pos += 1
            args["filters"] = self.value(f"after '{word}-' (the filter count)")
        if self.peek() == "/":
            self.pos += 1
            args["s"] = self.value("after '/' (the stride)")
        while self.peek() in ("p", "P", "d", "D", "g", "G"):
            nxt = self.peek(1)
            if not (nxt in _DIGITS or nxt == "("):
                break
            key = self.peek().lower()
            key_pos = self.pos
            self.pos += 1
            if key in args:
                raise self.error(f"'{key}' given twice", key_pos)
            args[key] = self.value(f"after '{key}'")
        if self.peek() == "/":
            raise self.error(f"the stride of {word} is given twice, or after p/d/g: write {word}3-64/2p1")
        if self.peek() == "-" and not self.at_arrow():
            torch_name = re.search(r"\b([A-Za-z]+)([123])D\d*$", self.text[:self.pos])
            if torch_name:  # CONV1D3-64, CONV2D3-64: PyTorch's module names (a capital D; CONV3d2 is a dilation)
                raise self.error(f"{torch_name.group(0)} reads as {torch_name.group(1).upper()}{torch_name.group(2)} "
                                 f"with a dilation: cnncalc writes a 2-D layer as {word}3-64 (kernel, then filters); "
                                 f"1-D and 3-D layers are not in the language yet", torch_name.start())
            raise self.error(f"the filter count of {word} comes right after the kernel: write {word}3-64/2p1")
        if self.peek() in _NAME_CHARS:
            start = self.pos
            rest = self.read_name_at(start)
            raise self.error(
                f"unexpected '{rest}' in the layer: after '{word}' come '-filters', '/stride', 'p<pad>', "
                f"'d<dilation>' and 'g<groups>'; write a variable in a suffix as '(NAME)'",
                start, start + len(rest))

    def value(self, where: str) -> ast.Expr:
        start = self.pos
        if self.peek() == "(":
            return self.paren_expr()
        num = self.integer()
        if num is not None:
            return num
        word = self.name()
        if word is not None:
            return self.name_or_call(word, start)
        raise self.error(f"expected a number, a name or a (expression) {where}, found {self.describe_here()}")

    def layer_args(self, word: str, args: dict[str, ast.Value], positional: list[ast.Value]) -> None:
        start = self.pos
        self.pos += 1
        self.skip_ws()
        if self.peek() == ")":
            self.pos += 1
            return
        while True:
            self.skip_ws()
            arg_start = self.pos
            key = self.name()
            if key is not None:
                self.skip_ws()
            if key is not None and self.peek() == "=" and self.peek(1) != "=":
                self.pos += 1
                self.skip_ws()
                lowered = key.lower()
                if lowered in args:
                    raise self.error(f"'{key}' given twice for {word}", arg_start, arg_start + len(key))
                value = self.setting()
                args[lowered] = value
            else:
                self.pos = arg_start
                positional.append(self.setting())
            self.skip_ws()
            if self.peek() == ",":
                self.pos += 1
                continue
            if self.peek() == ")":
                self.pos += 1
                return
            if self.peek() == "":
                raise self.error(self.unclosed(")", "(", start))
            raise self.error(f"expected ',' or ')' in the settings of {word}, found {self.describe_here()}")

    def float_literal(self) -> ast.Float | None:
        """A number with a fraction or an exponent (0.1, .5, 1e-5, 2.5E3), or None where none starts; one
        that is no finite, non-zero float as written (1e999, 1e-999) is refused."""
        start = self.pos
        if not (self.peek() in _DIGITS or (self.peek() == "." and self.peek(1) in _DIGITS)):
            return None
        j = self.pos
        while j < len(self.text) and self.text[j] in _DIGITS:
            j += 1
        fraction = j < len(self.text) and self.text[j] == "." and (j + 1 >= len(self.text) or self.text[j + 1] != ".")
        if fraction:
            j += 1
            while j < len(self.text) and self.text[j] in _DIGITS:
                j += 1
        exponent = re.match(r"[eE][-+]?[0-9]{1,3}(?![0-9A-Za-z_])", self.text[j:j + 6])  # 1e-5, 2.5E3
        if exponent:
            j += exponent.end()
        if not (fraction or exponent):
            return None
        literal = self.text[start:j]
        number = float(literal)
        if number == float("inf"):  # 1e999: no module runs with an infinite eps or slope
            raise self.error(f"number too large: {excerpt(literal)} is past the largest float (about 1.8e308)",
                             start, j)
        if number == 0 and literal.partition("e")[0].partition("E")[0].strip("0.") != "":
            raise self.error(f"number too small: {excerpt(literal)} rounds to 0 as a float (the smallest is about "
                             f"5e-324)", start, j)
        self.pos = j
        return ast.Float(number, self.span(start))

    def setting(self) -> ast.Value:
        """A setting's value: a float, a word (same, true, …), an integer expression or a size AxB[xC]."""
        start = self.pos
        c = self.peek()
        number = self.float_literal()
        if number is not None:
            return number
        if c in _NAME_START:
            word = self.read_name_at(self.pos)
            if word.lower() in _BOOL_WORDS:
                self.pos += len(word)
                return ast.Word(word.lower(), self.span(start))
        first = self.expr()
        if self.peek() not in _TIMES:
            return first
        dims = [first]
        while self.peek() in _TIMES:
            self.pos += 1
            dims.append(self.size_part())
        if len(dims) > 3:
            raise self.error("a size has two (HxW) or three (HxWxC) parts", start, self.pos)
        return ast.Size(dims, self.span(start))

    def size_part(self) -> ast.Expr:
        if self.peek() == "(":
            return self.paren_expr()
        num = self.integer()
        if num is None:
            raise self.error(f"expected a number or a (expression) after 'x' in a size, found {self.describe_here()}")
        return num

    # -- integer expressions ------------------------------------------------
    def paren_expr(self) -> ast.Expr:
        start = self.pos
        self.enter(start)
        self.pos += 1
        self.skip_ws()
        expr = self.expr()
        self.skip_ws()
        if self.peek() != ")":
            raise self.error(self.unclosed(")", "(", start))
        self.pos += 1
        self.depth -= 1
        return expr

    def expr(self) -> ast.Expr:
        start = self.pos
        left = self.product()
        while True:
            save = self.pos
            self.skip_ws()
            c = self.peek()
            if c in ("+", "-") and not self.at_arrow():
                self.pos += 1
                self.skip_ws()
                right = self.product()
                left = ast.BinOp(c, left, right, self.span(start))
            else:
                self.pos = save
                return left

    def product(self) -> ast.Expr:
        start = self.pos
        left = self.unary()
        while True:
            save = self.pos
            self.skip_ws()
            c = self.peek()
            if c in ("*", "/"):
                op = "//" if c == "/" and self.peek(1) == "/" else c
                self.pos += len(op)
                self.skip_ws()
                right = self.unary()
                left = ast.BinOp(op, left, right, self.span(start))
            else:
                self.pos = save
                return left

    def unary(self) -> ast.Expr:
        start = self.pos
        if self.peek() == "-" and not self.at_arrow():
            signs = 0  # a run of minus signs, folded in a loop: --1 is 1
            while self.peek() == "-" and not self.at_arrow():
                signs += 1
                self.pos += 1
                self.skip_ws()
            operand = self.unary()
            return ast.Neg(operand, self.span(start)) if signs % 2 else operand
        if self.peek() == "(":
            return self.paren_expr()
        num = self.integer()
        if num is not None:
            if self.peek() == "." and self.peek(1) in _DIGITS:
                raise self.error("expected a whole number here", start, self.pos + 2)
            return num
        word = self.name()
        if word is not None:
            return self.name_or_call(word, start)
        raise self.error(f"expected a number, a name or '(', found {self.describe_here()}")

    def name_or_call(self, word: str, start: int) -> ast.Var | ast.Call:
        """A variable, or a call of one of the width functions: `make_divisible(C*3/4, 8)`."""
        if word not in ast.FUNCTIONS or self.peek() != "(":
            return ast.Var(word, self.span(start))
        open_at = self.pos
        self.enter(open_at)
        self.pos += 1
        args = self.comma_list(self.expr)
        if self.peek() != ")":
            raise self.error(self.unclosed(")", "(", open_at))
        self.pos += 1
        self.depth -= 1
        least, most = ast.FUNCTIONS[word]
        if not least <= len(args) <= most:
            wanted = f"{least} to {most}" if most != least else str(least)
            raise self.error(f"{word}() takes {wanted} arguments, got {len(args)}"
                             + (" (make_divisible(value, divisor) or make_divisible(value, divisor, least))"
                                if word == "make_divisible" else ""), start, self.pos)
        return ast.Call(word, args, self.span(start))


def _mentions_block(expr: ast.Expr, blocks: set[str]) -> bool:
    """Does an expression name a layer or a known block (so it is really a chain)?"""
    return any(v.name in blocks or _is_layer_word(v.name) for v in ast.variables_in(expr))
