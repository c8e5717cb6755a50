"""The exceptions of cnncalc. Every user-facing failure is a CnnCalcError.

An error raised deep inside names the culprit and may carry a `Span` into the
text it came from; `CnnCalcError.render()` draws the source line with a caret
under that span, so the CLI prints it without knowing anything about designs.
"""

from __future__ import annotations


class Source:
    """A text the user wrote: the design itself, or one `-D NAME=VALUE` (its label)."""

    __slots__ = ("text", "label")

    def __init__(self, text: str, label: str = "") -> None:
        self.text = text
        self.label = label  # "" for the design, "-D N=2" for a command-line definition


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
        text = self.source.text
        line = text.count("\n", 0, self.start) + 1
        col = self.start - (text.rfind("\n", 0, self.start) + 1) + 1
        return line, col

    def where(self) -> str:
        line, col = self.line_col()
        prefix = f"in {self.source.label}, " if self.source.label else ""
        return f"{prefix}line {line}, column {col}"


class CnnCalcError(Exception):
    """Root of every error cnncalc raises on bad input."""

    def __init__(self, message: str, span: Span | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.span = span

    def __str__(self) -> str:
        return f"{self.message} ({self.span.where()})" if self.span else self.message

    def render(self) -> str:
        """`error: …` on one line, then the offending source line with carets."""
        head = f"error: {self}"
        if self.span is None:
            return head
        text = self.span.source.text
        start = min(self.span.start, len(text))
        line_start = text.rfind("\n", 0, start) + 1
        line_end = text.find("\n", start)
        if line_end == -1:
            line_end = len(text)
        line = text[line_start:line_end].replace("\t", " ")
        width = max(1, min(self.span.end, line_end) - start)
        caret = " " * (start - line_start) + "^" * width
        return f"{head}\n  {line}\n  {caret}"


class DesignSyntaxError(CnnCalcError):
    """The text is not in the design language."""


class DesignError(CnnCalcError):
    """The design reads, but cannot be computed (shapes, bindings, limits)."""


class SettingsError(CnnCalcError):
    """A setting passed to plan() (or a CLI option) has a bad value."""
