"""The sizes cnncalc computes with: a volume per image, and the largest number a design or a layer may
reach (imported by the settings without the kinds)."""

from __future__ import annotations

from typing import NamedTuple

MAX_VALUE = 10**15  # no number in a design, and no size a layer computes, may exceed this


class Volume(NamedTuple):
    """A volume per image, height x width x channels (the notes' 32x32x3 order)."""

    h: int
    w: int
    c: int

    def __str__(self) -> str:
        return f"{self.h}x{self.w}x{self.c}"

    @property
    def size(self) -> int:
        return self.h * self.w * self.c
