"""What every renderer shares: the formats and views it takes, and JSON as pydantic writes it."""

from __future__ import annotations

from collections.abc import Iterator
try:  # JSON's escapes, non-ASCII kept, as pydantic_core writes them: json.encoder's, from C (no json import)
    from _json import encode_basestring as encode_string
except ImportError:  # not CPython
    from json.encoder import encode_basestring as encode_string

from ..errors import SettingsError

FORMATS = ("table", "markdown", "json", "csv")  # of `plan`, `compare` and `sweep`
PLAN_FORMATS = (*FORMATS, "html")  # `plan` also writes the one-file HTML report (render/html.py)
ZOO_FORMATS = ("table", "markdown", "json")  # of the `zoo` list
# `draw`'s choices (render/svg.py), here so that the command line lists them without importing the drawing
DRAW_STYLES = ("blocks", "volumes")
EMPHASES = ("memory", "params", "macs")
DIRECTIONS = ("down", "right")


def check_view(fmt: str, depth: int | None, columns: str | None):
    """The columns `columns` names (None: the default ones), after checking that `depth` and
    `columns` mean something for `fmt`; a SettingsError otherwise."""
    if fmt in ("json", "csv") and (depth is not None or columns is not None):
        given = " and ".join(f"--{name}" for name, value in (("depth", depth), ("columns", columns))
                             if value is not None)
        raise SettingsError(f"{given} shape{'s' * (' and ' not in given)} the table and markdown; {fmt.upper()} "
                            f"always lists every layer with every key" + (" (the folding is in its 'blocks')" if fmt == "json"
                                                                             else ""))
    if fmt == "html" and columns is not None:
        raise SettingsError("--columns shapes the table and markdown; the HTML report shows every column, with "
                            "bars for the shares of memory, params and MACs")
    if depth is not None and (not isinstance(depth, int) or isinstance(depth, bool) or depth < 1):
        raise SettingsError(f"depth is a whole number from 1 (the top-level items), got {depth!r}")
    if columns is None:
        return None
    from .columns import select

    return select(columns)


def to_json(data: dict | list, indent: int | None = 2) -> str:
    """JSON as pydantic writes it (Report.model_dump_json), from plain data: for a report of a few
    thousand items or fewer, by `write_json` (importing pydantic_core, a Rust library, costs more
    than writing it); else, or with a float or another indent, by pydantic_core, in Rust."""
    items = [data] if type(data) is list else [v for v in data.values() if type(v) is list]
    if indent == 2 and sum(len(v) for v in items) <= WRITE_AT_MOST:
        try:
            return write_json(data)
        except KeyError:  # a float (Rust and Python write some differently), or another type
            pass
    from pydantic_core import to_json as encode

    return encode(data, indent=indent).decode()


WRITE_AT_MOST = 2_000  # top-level list items write_json writes (about 20 us a row; pydantic_core: 30 ms to import)


def write_json(value, newline: str = "\n") -> str:
    """JSON indented by two spaces, byte for byte as pydantic_core writes it, of dicts, lists, tuples,
    strings, ints, booleans and None (KeyError for any other type: floats are pydantic_core's)."""
    return _WRITERS[type(value)](value, newline)


def _dict(value: dict, newline: str) -> str:
    if not value:
        return "{}"
    inner = newline + "  "
    return ("{" + inner + ("," + inner).join([encode_string(key) + ": " + _WRITERS[type(item)](item, inner)
                                              for key, item in value.items()]) + newline + "}")


def _list(value: list | tuple, newline: str) -> str:
    if not value:
        return "[]"
    inner = newline + "  "
    if type(value[0]) is dict:  # a report's rows or blocks: each key written once for the items that share it
        items = _dicts(value, inner)
    else:
        items = [_WRITERS[type(item)](item, inner) for item in value]
    return "[" + inner + ("," + inner).join(items) + newline + "]"


def _dicts(value: list | tuple, newline: str) -> list[str]:
    """The items of a list as _dict writes them (any item, dict or not): the keys of the dicts with the same
    keys in the same order encoded once, the common scalars written in place, a value the items share (a
    row's output volume, its receptive field) written once."""
    inner = newline + "  "
    joint, end = "," + inner, newline + "}"
    keyed: dict[tuple, list[str]] = {}
    shared: dict[int, str] = {}  # by id: the values are alive (and unchanged) while they are written
    out = []
    for item in value:
        if type(item) is not dict or not item:
            out.append(_WRITERS[type(item)](item, newline))
            continue
        keys = tuple(item)
        names = keyed.get(keys)
        if names is None:
            names = keyed[keys] = [encode_string(key) + ": " for key in keys]
        out.append("{" + inner + joint.join([
            name + (encode_string(v) if (kind := type(v)) is str else int.__repr__(v) if kind is int
                    else "null" if v is None else ("true" if v else "false") if kind is bool
                    else shared.get(id(v)) or shared.setdefault(id(v), _WRITERS[kind](v, inner)))
            for name, v in zip(names, item.values())]) + end)
    return out


_WRITERS = {dict: _dict, list: _list, tuple: _list, str: lambda v, _: encode_string(v), int: lambda v, _: int.__repr__(v),
            bool: lambda v, _: "true" if v else "false", type(None): lambda v, _: "null"}


JSON_CHUNK = 2_000  # list items serialised at a time by json_pieces


def json_pieces(data: dict) -> Iterator[str]:
    """to_json(data) + "\n" in pieces, so that a report of 100,000 rows is never one string: each
    top-level list longer than JSON_CHUNK items (the rows, the blocks) is serialised JSON_CHUNK items
    at a time, each piece written as the value of a key (so indented as in the whole report) and cut
    out of that object."""
    long = [key for key, value in data.items() if type(value) is list and len(value) > JSON_CHUNK]
    if not long:
        yield to_json(data) + "\n"
        return
    from pydantic_core import to_json as encode

    shell = encode({key: [] if key in long else value for key, value in data.items()}, indent=2).decode()
    start = 0
    for key in long:
        marker = f'\n  {encode(key).decode()}: []'
        at = shell.index(marker, start) + len(marker) - 1  # at the closing bracket
        yield shell[start:at]
        items = data[key]
        for first in range(0, len(items), JSON_CHUNK):
            text = encode({"": items[first:first + JSON_CHUNK]}, indent=2)[len(b'{\n  "": ['):-len(b"\n  ]\n}")]
            yield ("," if first else "") + text.decode()
        yield "\n  "
        start = at
    yield shell[start:] + "\n"
