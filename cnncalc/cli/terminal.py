"""What the command line knows of the terminal it writes to: its width, colour, box characters, and the
misfits printed with carets under the layer."""

from __future__ import annotations

import os
import sys

from ..errors import CnnCalcError
from ..render.sections import input_fix_text


def print_problems(planned, as_errors: bool) -> None:
    """Each misfit as a message with its design line and carets under the layer; on a terminal (or
    with COLUMNS) the message wraps at word boundaries, the design line and carets never."""
    stream = sys.stderr if as_errors else sys.stdout
    width = output_width(stream)
    for problem, span in zip(planned.data["problems"], planned.spans):
        message, _, drawing = CnnCalcError(problem["message"], span).render(
            "error" if as_errors else "misfit").partition("\n")
        print(wrapped(message, width) + ("\n" + drawing if drawing else ""), file=stream)
    hint = input_fix_text(planned.data)
    if hint:
        print(wrapped(f"hint: every layer fits with {hint}", width), file=stream)


def output_width(stream=None) -> int | None:
    """The width to lay text out in: COLUMNS when set to a positive whole number (honoured when piped
    too: it is an explicit choice); else a terminal's width (80 when it reports 0x0, as some
    containers and serial consoles do); else None: a pipe or a file gets every line whole."""
    stream = sys.stdout if stream is None else stream
    columns = os.environ.get("COLUMNS", "").strip()
    if columns.isascii() and columns.isdigit() and 0 < int(columns) < 100_000:
        return int(columns)
    try:
        if not stream.isatty():
            return None
        width = os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):
        return None
    return width if width > 0 else 80


def use_color() -> bool:
    """ANSI styling on a terminal, unless NO_COLOR is set to anything but the empty string (no-color.org)."""
    return not os.environ.get("NO_COLOR") and sys.stdout.isatty()


BOX = "┌├│└─"  # the branch gutter's characters (render/structure.py)


def box_characters(stream) -> bool:
    """Can the stream write the gutter's box characters? (A latin-1 locale cannot: ASCII then.)"""
    try:
        BOX.encode(getattr(stream, "encoding", None) or "utf-8")
    except (LookupError, UnicodeEncodeError):
        return False
    return True


def wrapped(text: str, width: int | None) -> str:
    """`prefix: message` wrapped at word boundaries to `width`, continuation lines under the message;
    as it is without a width."""
    from ..render.table import wrap

    prefix = text.partition(": ")[0]
    hang = " " * (len(prefix) + 2) if len(prefix) < 12 else "  "
    return "\n".join(wrap(text, width, "", hang))


def svg_color() -> bool:
    """Colour in a picture or an HTML report, unless NO_COLOR is set to anything but the empty string:
    misfits are then marked by their glyph and border alone."""
    return not os.environ.get("NO_COLOR")
