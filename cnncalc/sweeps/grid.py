"""The grid of a sweep: each `--vary NAME=VALUES`, its values never materialised.

    NAME=V1,V2,...     the values as written (numbers, true/false, sizes, any -D value without a comma)
    NAME=A..B          every whole number from A to B
    NAME=A..B:STEP     from A to B in steps of STEP
    items mix: N=1,2,4..16:4.  NAME is a variable, a block, a layer default (conv.filters), `input`
    (HxWxC sizes, or a side S for S x S with the design's channels) or `batch`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .. import measures as M
from ..errors import SettingsError, Source, Span
from ..kinds import MAX_VALUE
from ..limits import too_many_digits
from ..settings import parse_size

SPECIAL = ("input", "batch")  # varied names that are settings, not definitions
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?")
_INT = re.compile(r"[0-9]+")


class Values(Sequence):
    """The values of one varied name: ranges and single values, in order, never materialised."""

    def __init__(self, parts: list[range | list]) -> None:
        self.parts = parts
        self.length = sum(len(p) for p in parts)

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int):
        for part in self.parts:
            if i < len(part):
                return part[i]
            i -= len(part)
        raise IndexError(i)

    def __iter__(self):
        for part in self.parts:
            yield from part

    @property
    def numeric(self) -> bool:
        return all(isinstance(p, range) or all(isinstance(v, int) for v in p) for p in self.parts)


class Vary:
    """One `--vary NAME=...`: the name, its values, and the text it was read from (for carets)."""

    def __init__(self, name: str, values: Values, source: Source, name_span: tuple[int, int]) -> None:
        self.name, self.values, self.source, self.name_span = name, values, source, name_span

    def error(self, message: str, start: int | None = None, end: int | None = None) -> SettingsError:
        start, end = (self.name_span if start is None else (start, end if end is not None else start + 1))
        return SettingsError(message, Span(self.source, start, max(end, start + 1)))

    def __repr__(self) -> str:
        return f"Vary({self.name!r}, {len(self.values)} values)"


def parse_vary(text: str) -> Vary:
    """`N=1..4`, `C=32,64,128`, `W=16..512:16`, `input=32x32x3,64x64x3`, `conv.bias=true,false`."""
    source = Source(text, "--vary")

    def error(message: str, start: int, end: int | None = None) -> SettingsError:
        return SettingsError(message, Span(source, start, max(end if end is not None else start + 1, start + 1)))

    name_text, eq, spec = text.partition("=")
    name = name_text.strip()
    lead = len(name_text) - len(name_text.lstrip())
    if not eq:
        raise error("expected NAME=VALUES, such as N=1..4, C=32,64,128 or W=16..512:16", 0, len(text))
    if not _NAME.fullmatch(name):
        raise error(f"'{name}' is not a name: a variable (N), a block, a layer default (conv.filters), input "
                    f"or batch", lead, lead + len(name))
    parts: list[range | list] = []
    offset = len(name_text) + 1
    singles: list = []
    for item in spec.split(","):
        start = offset + len(item) - len(item.lstrip())
        offset += len(item) + 1
        value = item.strip()
        if not value:
            raise error(f"an empty value in --vary {name}=: write values between the commas", start)
        for number in _INT.findall(value):  # before int(): the bound every reader holds
            if (message := too_many_digits(number)) is not None:
                raise error(message, start, start + len(value))
        if ".." in value and not value.startswith("["):
            low, _, rest = value.partition("..")
            high, colon, step = rest.partition(":")
            numbers = [low.strip(), high.strip()] + ([step.strip()] if colon else [])
            if not all(_INT.fullmatch(n) for n in numbers):
                raise error(f"a range is A..B or A..B:STEP with whole numbers, such as 1..4 or 16..512:16; "
                            f"got '{value}'", start, start + len(value))
            a, b, s = int(numbers[0]), int(numbers[1]), int(numbers[2]) if colon else 1
            if max(a, b) > MAX_VALUE:
                raise error("numbers in a range are at most 10^15", start, start + len(value))
            if s < 1:
                raise error(f"the step of {value} must be at least 1", start, start + len(value))
            if a > b:
                raise error(f"the range {value} is empty: write the smaller number first ({b}..{a})",
                            start, start + len(value))
            if singles:
                parts.append(singles)
                singles = []
            parts.append(range(a, b + 1, s))
        else:
            singles.append(int(value) if _INT.fullmatch(value) else value)
    if singles:
        parts.append(singles)
    return Vary(name, Values(parts), source, (lead, lead + len(name)))


def vary_from(name: str, values) -> Vary:
    """A library caller's `vary={"N": range(1, 5), "C": [32, 64]}` entry (or a "N=1..4" text)."""
    if isinstance(values, str):
        return parse_vary(f"{name}={values}")
    if isinstance(values, range):
        parts = [values]
    else:
        try:
            items = list(values)
        except TypeError:
            items = [values]
        parts = [[_text_value(v) for v in items]]
    text = f"{name}=..."
    vary = Vary(name, Values(parts), Source(text, "vary"), (0, len(name)))
    if not _NAME.fullmatch(name):
        raise vary.error(f"'{name}' is not a name: a variable (N), a block, a layer default (conv.filters), "
                         f"input or batch")
    return vary


def _text_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return value
    if isinstance(value, (tuple, list)):
        return "x".join(map(str, value))
    return str(value)


def describe(values: Values) -> list:
    """The values as a JSON list: a range as "A..B:STEP" text, single values as themselves."""
    out = []
    for part in values.parts:
        if isinstance(part, range):
            out.append(f"{part.start}..{part[-1]}" + (f":{part.step}" if part.step != 1 else ""))
        else:
            out.extend(part)
    return out


def varied(vary) -> list[Vary]:
    """The names a sweep varies and their values, as given (texts, a dict, Vary), each name once, none a
    measure's; the batch's and the input's values checked (a definition's are parsed by the sweep)."""
    if isinstance(vary, str):
        vary = [vary]
    if hasattr(vary, "items"):
        out = [vary_from(name, values) for name, values in vary.items()]
    else:
        out = [v if isinstance(v, Vary) else parse_vary(v) for v in vary]
    if not out:
        raise SettingsError("a sweep needs at least one --vary NAME=VALUES, such as --vary N=1..4")
    seen: set[str] = set()
    for v in out:
        if v.name in seen:
            raise v.error(f"'{v.name}' is varied twice: give all its values in one --vary")
        if M.resolve(v.name) is not None:
            raise v.error(f"'{v.name}' is a measure's name; a design variable of that name cannot be varied here")
        seen.add(v.name)
        if v.name == "batch":
            _check_batches(v)
        elif v.name == "input":
            for part in v.values.parts:
                for value in part if isinstance(part, list) else ():
                    if not isinstance(value, int):
                        parse_size(value, "a varied input")
    return out


def _check_batches(v: Vary) -> None:
    for value in v.values.parts:
        bad = next((x for x in (value if isinstance(value, list) else [value[0]]) if not isinstance(x, int) or x < 1),
                   None)
        if bad is not None:
            raise v.error(f"batch takes whole numbers of at least 1, got {bad!r}")


def first_values(v: Vary):
    """The values of a varied definition to parse up front: every single value, each range's first."""
    for part in v.values.parts:
        yield from (part if isinstance(part, list) else part[:1])
