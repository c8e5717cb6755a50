"""The exceptions of cnncalc. Every user-facing failure is a CnnCalcError.

An error raised deep inside names the culprit and may carry a `Span` into the
text it came from; `CnnCalcError.render()` draws the source line with a caret
under that span, so the CLI prints it without knowing anything about designs.
"""

from __future__ import annotations

import unicodedata
from bisect import bisect_right


class Source:
    """A text the user wrote: the design itself, or one `-D NAME=VALUE` (its label)."""

    __slots__ = ("text", "label", "_lines")

    def __init__(self, text: str, label: str = "") -> None:
        self.text = text
        self.label = visible(label)  # "" for the design, "-D N=2" for a command-line definition
        self._lines: list[int] | None = None  # offsets at which lines start, built on first use

    def line_col(self, offset: int) -> tuple[int, int]:
        """1-based line and column of a character offset: a binary search in the line index, so
        placing every layer of a long file costs a logarithm each, not a scan from the start."""
        if self._lines is None:
            starts = [0]
            find = self.text.find
            i = find("\n")
            while i != -1:
                starts.append(i + 1)
                i = find("\n", i + 1)
            self._lines = starts
        line = bisect_right(self._lines, offset)
        return line, offset - self._lines[line - 1] + 1


class Span:
    """Half-open character range [start, end) in `source.text`."""

    __slots__ = ("source", "start", "end")

    def __init__(self, source: Source, start: int, end: int) -> None:
        self.source = source
        self.start = start
        self.end = end

    def __repr__(self) -> str:
        return f"Span({self.start}, {self.end})"

    def line_col(self) -> tuple[int, int]:
        return self.source.line_col(self.start)

    def where(self) -> str:
        return position(*self.line_col(), self.source.label or "design")


def position(line: int, column: int, source: str = "design") -> str:
    """'line 3, column 5', or 'in -D b=…, line 1, column 5' for a position in a command-line definition."""
    return f"line {line}, column {column}" if source == "design" else f"in {source}, line {line}, column {column}"


def shows(c: str) -> bool:
    """Does the character print as a glyph of its own (a letter, number, punctuation or symbol)?"""
    return unicodedata.category(c)[0] in "LNPS" and unicodedata.category(c) != "Co"


def visible(text: str) -> str:
    """`text` with each invisible character (a control character, a bidi override, a zero-width space)
    written as <U+XXXX>: the one sanitiser of user text (file names, -D definitions, labels) on its way
    to a terminal, a file or a page, where it could otherwise move the cursor, colour the screen or
    reorder what a reader sees."""
    return text if text.isprintable() and text.isascii() else \
        "".join(c if c == " " or shows(c) else f"<U+{ord(c):04X}>" for c in text)


_NO_NAME = {"Cc": "a control character", "Cs": "a lone surrogate, from bytes that are not UTF-8",
            "Co": "a private-use character", "Cn": "an unassigned code point"}


# the usual names of control characters (Unicode gives them none)
_CONTROL_NAMES = {0x00: "NULL", 0x08: "BACKSPACE", 0x0B: "LINE TABULATION", 0x0C: "FORM FEED", 0x1B: "ESCAPE",
                  0x7F: "DELETE", 0x85: "NEXT LINE"}


def describe_char(c: str) -> str:
    """`'²' (U+00B2 SUPERSCRIPT TWO)`, or for an invisible one `U+200B (ZERO WIDTH SPACE)`."""
    name = unicodedata.name(c, "") or _NO_NAME.get(unicodedata.category(c), "no name")
    if ord(c) in _CONTROL_NAMES:
        name = f"{_CONTROL_NAMES[ord(c)]}, {name}"
    code = f"U+{ord(c):04X}"
    return f"'{c}' ({code} {name})" if shows(c) else f"{code} ({name})"


class CnnCalcError(Exception):
    """Root of every error cnncalc raises on bad input."""

    def __init__(self, message: str, span: Span | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.span = span

    def __str__(self) -> str:
        return f"{self.message} ({self.span.where()})" if self.span else self.message

    def render(self, prefix: str = "error") -> str:
        """`error: …` on one line, then the offending source line with carets."""
        head = f"{prefix}: {self}"
        return head if self.span is None else f"{head}\n{caret(self.span)}"


CARET_LINE = 120  # the most of a source line an error shows


def caret(span: Span) -> str:
    """The source line of `span`, indented two spaces, and carets under the span on it (to the
    end of that line when the span runs on): the one drawing of a position in a design."""
    text = span.source.text
    start = min(span.start, len(text))
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", start)
    if line_end == -1:
        line_end = len(text)
    end = min(span.end, line_end)
    if line_end - line_start > CARET_LINE:  # a long line: a window around the span's start, cut with '…'
        first = max(line_start, start - CARET_LINE // 3)
        last = min(line_end, first + CARET_LINE)
        end = min(end, last)
        lead, tail = "…" if first > line_start else "", "…" if last < line_end else ""
    else:
        first, last, lead, tail = line_start, line_end, "", ""
    # one character for each, so the carets stay aligned: a tab as a space, an invisible one as U+FFFD
    line = "".join(" " if c == "\t" else c if c == " " or shows(c) else "\ufffd" for c in text[first:last])
    return f"  {lead}{line}{tail}\n  {' ' * (len(lead) + start - first)}{'^' * max(1, end - start)}"


class WorkerDied(Exception):
    """A worker process of `sweep --jobs` ended before it answered (killed from outside, out of memory):
    not bad input, and not a bug in cnncalc."""


class DesignSyntaxError(CnnCalcError):
    """The text is not in the design language."""


class DesignError(CnnCalcError):
    """The design reads, but cannot be computed (shapes, bindings, limits)."""


class SettingsError(CnnCalcError):
    """A setting passed to plan() (or a CLI option) has a bad value."""


def did_you_mean(word: str, choices, width: int = 40, most: int = 500) -> str:
    """'; did you mean 'filters'?', or ''. Bounded work: names are compared on their first `width`
    characters, and only the `most` names nearest the word in length are compared."""
    import difflib

    word = word[:width]
    nearest = sorted(choices, key=lambda c: abs(len(c) - len(word)))[:most]
    cut = {}
    for name in nearest:
        cut.setdefault(name[:width], name)
    close = difflib.get_close_matches(word, list(cut), n=1, cutoff=0.6)
    return f"; did you mean '{cut[close[0]]}'?" if close else ""


def excerpt(text: str, width: int = 60, length: int | None = None) -> str:
    """The start of a piece of design on one line, at most `width` characters, for messages; `length`
    is the whole piece's, when `text` is only its start."""
    flat = " ".join(text.split())
    whole = (length or len(text)) <= len(text)
    return flat if len(flat) <= width and whole else flat[:width - 1].rstrip() + "…"
