"""Columns of one-line cells aligned by hand: the table, the zoo list and the verification
use this one aligner (rich spends about a millisecond a row measuring cells)."""

from __future__ import annotations

from collections.abc import Sequence


def widths(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[int]:
    return [max(map(len, column)) for column in zip(header, *rows)]


def line(cells: Sequence[str], widths: Sequence[int], right: Sequence[bool], columns: Sequence[int]) -> str:
    """The cells of `columns`, two spaces apart, right-aligned where `right` says, without trailing space."""
    parts = [cells[i].rjust(widths[i]) if right[i] else cells[i].ljust(widths[i]) for i in columns]
    return "  ".join(parts).rstrip()


def visible(widths: Sequence[int], give_way: Sequence[int], width: int | None) -> tuple[list[int], list[int]]:
    """The columns shown within `width` (None: no limit) and those hidden, dropping the columns
    of `give_way` in its order until the rest fit."""
    columns = list(range(len(widths)))
    hidden = []
    for i in give_way:
        if width is None or sum(widths[c] + 2 for c in columns) - 2 <= width:
            break
        columns.remove(i)
        hidden.append(i)
    return columns, hidden


def align(header: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[bool]) -> list[str]:
    """The header and rows as aligned lines, every column shown."""
    w = widths(header, rows)
    columns = range(len(header))
    return [line(header, w, right, columns)] + [line(row, w, right, columns) for row in rows]
