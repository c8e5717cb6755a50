"""The bounds that every reader of a user's text holds to, in one place: the design's parser and
expander, `--where`/`--sort`, `--vary` and `--input`. Past them the reader says so, with the position,
instead of recursing until Python's stack runs out or converting a number whose digits never end
(Python refuses integers of over 4,300 digits, and the work would grow with the number)."""

from __future__ import annotations

import sys
from contextlib import contextmanager

MAX_NESTING = 100  # brackets, parentheses, block calls, 'not's and signs: at most this deep
MAX_DIGITS = 15  # whole numbers are below 10**15 (volume.MAX_VALUE): at most 15 digits


def too_many_digits(digits: str) -> str | None:
    """The message for a number written with more digits than any reader takes (its whole part
    counts), else None."""
    whole = digits.partition(".")[0].lstrip("0")
    if len(whole) <= MAX_DIGITS:
        return None
    return f"number too large: integers here have at most {MAX_DIGITS} digits (this one has {len(whole):,})"


@contextmanager
def deep_enough():
    """Python's recursion limit raised, while a recursive-descent reader reads, to what MAX_NESTING
    levels need (a level of `--where` is a dozen calls): its own bound is then the one that speaks."""
    before = sys.getrecursionlimit()
    sys.setrecursionlimit(max(before, 20 * MAX_NESTING + 1000))
    try:
        yield
    finally:
        sys.setrecursionlimit(before)
