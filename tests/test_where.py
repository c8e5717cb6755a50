"""The condition language of `sweep --where` and the name lists of --sort, --pareto and --columns.

Tables: conditions with the values they are tested on and the answer; lists and what they read
as; invalid texts pinned to their message and the column of their caret."""

from __future__ import annotations

import pytest

from cnncalc import SettingsError
from cnncalc.measures import ALIASES, MEASURES, resolve
from cnncalc.where import Names, condition, keys

ENV = {"params": 4_500_000, "macs": 900_000_000, "training_peak_bytes": 7 * 2**30, "fits": True, "rf": None,
       "forward_bytes": 3 * 10**6, "N": 3, "C": 64}
NAMES = Names({"N": True, "C": True, "input": False})

TRUE_FALSE = [
    ("params < 5M and macs < 1G and training_peak < 8GiB and fits", True),
    ("params < 4.5M", False),
    ("params <= 4.5M", True),
    ("params == 4500000", True),
    ("params = 4500K", True),
    ("params != 4500000", False),
    ("macs >= 0.9G", True),
    ("training_peak_bytes > 7GiB", False),
    ("training_peak >= 7168MiB", True),
    ("training_peak < 8GB", True),  # 7 GiB = 7.52 GB
    ("forward < 3MB", False),
    ("forward <= 3MB", True),
    ("not fits", False),
    ("not not fits", True),
    ("fits == true", True),
    ("fits or params > 1G", True),
    ("params > 1G or macs > 1G", False),
    ("params > 1G or macs > 1G or fits", True),
    ("(params > 1G or macs < 1G) and fits", True),
    ("params > 1G or macs < 1G and fits", True),  # and binds tighter than or
    ("N * C >= 192", True),
    ("N * C > 192", False),
    ("params / N == 1.5M", True),
    ("params - 500K == 4M", True),
    ("-params < 0", True),
    ("2 * C == 128", True),
    ("rf > 0", False),  # a comparison with an unknown value is false
    ("not rf > 0", True),
    ("rf == rf", False),
    ("params / 0 > 1", False),  # a division by zero is unknown
    ("true AND fits", True),  # keywords in any case
    ("fits != false", True),
]


@pytest.mark.parametrize("text,expected", TRUE_FALSE, ids=[t for t, _ in TRUE_FALSE])
def test_condition(text, expected):
    assert condition(text, NAMES).test(ENV) is expected


def test_condition_names_read():
    assert condition("training_peak < 8GiB and N > 1 and fits", NAMES).names == ["training_peak_bytes", "N",
                                                                                   "fits"]


INVALID = [
    # text, message (a fragment), caret column (1-based)
    ("parms < 5M", "unknown name 'parms'; did you mean 'params'?", 1),
    ("params < 5MiB", "'params' is a count and '5MiB' bytes: counts take K, M, G", 10),
    ("training_peak < 8G", "'training_peak' is bytes and '8G' a count", 17),
    ("params <", "expected a value (a number, a name such as params, or '('), found end of input", 9),
    ("(params < 3", "expected ')' to close the '(' at column 1, found end of input", 12),
    ("params", "'params' is a number, not a condition: compare it, as in params < 5M", 1),
    ("fits and 3", "'3' is a number: 'and' joins conditions", 10),
    ("params < 5M && fits", "write 'and' for '&&'", 13),
    ("params < 5M || fits", "write 'or' for '||'", 13),
    ("!fits", "write 'not' for '!'", 1),
    ("1.2.3 < params", "'1.2.3' is not a number", 1),
    ("macs < 5Q", "unknown unit 'Q'", 9),
    ("", "--where is empty", 1),
    ("fits < 3", "'fits' is a condition: '<' compares numbers", 1),
    ("params < 5M fits", "expected 'and', 'or' or the end after 'params < 5M', found 'fits'", 13),
    ("params < 5M and", "expected a value (a number, a name such as params, or '('), found end of input", 16),
    ("input > 3", "'input' is varied over values that are not all numbers", 1),
    ("params < 5M $", "unexpected character '$'", 13),
    ("not 3", "'3' is a number: 'not' takes a condition", 5),
    ("zzz > 1", "unknown name 'zzz' (measures: params, buffers", 1),
]


@pytest.mark.parametrize("text,message,column", INVALID, ids=[t or "empty" for t, _, _ in INVALID])
def test_invalid_condition(text, message, column):
    with pytest.raises(SettingsError) as info:
        condition(text, NAMES)
    error = info.value
    assert message in error.message
    assert error.span.line_col() == (1, column)
    assert "in --where, line 1" in str(error)
    assert "\n" not in str(error)  # one line; render() adds the caret
    assert error.render().splitlines()[2].index("^") == column - 1 + 2  # under the culprit, after the indent


KEYS = [
    ("macs", [("macs", -1)]),
    ("-macs,+params", [("macs", -1), ("params", 1)]),
    ("+params, training_peak", [("params", 1), ("training_peak_bytes", -1)]),
    ("-N,+C", [("N", -1), ("C", 1)]),
]


@pytest.mark.parametrize("text,expected", KEYS)
def test_keys(text, expected):
    assert keys(text, NAMES) == expected


INVALID_KEYS = [
    ("macs,,params", "expected a name such as macs, found ','", 6, True),
    ("macs params", "expected ',' between names, found 'params'", 6, True),
    ("macs,macs", "'macs' is named twice", 6, True),
    ("+macs", "--columns takes names without '+' or '-'", 1, False),
    ("mac", "unknown name 'mac'; did you mean 'macs'?", 1, True),
]


@pytest.mark.parametrize("text,message,column,signs", INVALID_KEYS)
def test_invalid_keys(text, message, column, signs):
    option = "--sort" if signs else "--columns"
    with pytest.raises(SettingsError) as info:
        keys(text, NAMES, option, signs=signs)
    assert message in info.value.message
    assert info.value.span.line_col() == (1, column)


def test_one_vocabulary():
    """Every measure is the JSON contract's key, and every short spelling drops only `_bytes`."""
    for short, name in ALIASES.items():
        assert name == short + "_bytes" and resolve(short) == name
    assert resolve("training_peak") == "training_peak_bytes"
    assert resolve("params") == "params" and resolve("nope") is None
    assert {"params", "macs", "training_peak_bytes", "max_batch", "fits", "rows", "rf"} <= set(MEASURES)


def test_no_eval():
    """A condition is read by cnncalc's parser, never by Python: Python's syntax is an error."""
    for text in ("__import__('os').system('true')", "params.__class__ > 1", "[1][0] > 0"):
        with pytest.raises(SettingsError):
            condition(text, NAMES)
