"""The language guide's promises about numbers and suffixes, and odd characters in a design.

- "Any number may be a parenthesised expression", also right after an attached kernel: POOL3p(S).
- `NAME = <layer>` is a block even when the layer's suffixes ran on into its name: b = POOL3p1.
- A byte-order mark starting the text is dropped; '×' joins sizes and kernels as 'x' does; the
  non-breaking space is white space.
- Any other character the language does not use (non-ASCII digits, control and invisible
  characters) is refused, outside comments, with its code point and Unicode name, and never read as
  something else; no message shows an invisible character raw.
"""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import cnncalc


def names(text: str, **kwargs) -> list[str]:
    return [row.name for row in cnncalc.plan(text, **kwargs).layers]


def refused(text: str, **kwargs) -> cnncalc.CnnCalcError:
    with pytest.raises(cnncalc.CnnCalcError) as e:
        cnncalc.plan(text, **kwargs)
    return e.value


# -- 1. a suffix letter then '(' after an attached kernel ----------------------------------------
@pytest.mark.parametrize("design, rows", [
    ("S = 1\nINPUT 8x8x3 -> POOL3p(S)", ["INPUT 8x8x3", "POOL3p1"]),
    ("D = 2\nINPUT 8x8x3 -> DWCONV3d(D)", ["INPUT 8x8x3", "DWCONV3d2"]),
    ("INPUT 8x8x3 -> DWCONV3p(1)", ["INPUT 8x8x3", "DWCONV3"]),
    ("G = 1\nINPUT 8x8x3 -> CONV3-8g(G)", ["INPUT 8x8x3", "CONV3-8"]),
    ("INPUT 8x8x4 -> CONV3g(2)(filters=8)", ["INPUT 8x8x4", "CONV3-8g2"]),
    ("INPUT 8x8x4 -> CONV3p1d(1)g(2)(filters=8)", ["INPUT 8x8x4", "CONV3-8g2"]),
    ("P = 0\nINPUT 8x8x3 -> CONV1x7p(P)(filters=4)", ["INPUT 8x8x3", "CONV1x7-4p0"]),
    ("INPUT 8x8x3 -> POOL3P(1)", ["INPUT 8x8x3", "POOL3p1"]),
    # the fused forms keep working
    ("conv.filters = 8\nINPUT 8x8x3 -> CONV3p1 -> POOL3p1 -> CONV3d2", ["INPUT 8x8x3", "CONV3-8", "POOL3p1", "CONV3-8d2"]),
    ("INPUT 8x8x3 -> POOL3p1(ceil=true)", ["INPUT 8x8x3", "POOL3p1(ceil)"]),
    # names that merely start with a layer word (or a kernel word) are names
    ("convblock = CONV3-8\npool_a = POOL2\nINPUT 8x8x3 -> convblock -> pool_a", ["INPUT 8x8x3", "CONV3-8", "POOL2"]),
    ("conv3d = [CONV3-8]\nconv3abc = RELU\nINPUT 8x8x3 -> conv3d -> conv3abc", ["INPUT 8x8x3", "CONV3-8", "RELU"]),
    ("pools(C) = CONV1-C\nINPUT 8x8x3 -> pools(4)", ["INPUT 8x8x3", "CONV1-4"]),
])
def test_a_suffix_takes_a_parenthesised_expression(design, rows):
    assert names(design) == rows


@pytest.mark.parametrize("design, message, where", [
    # a block that a call would read as a layer with a suffix, and a fused layer word, are not names
    ("conv3d(C) = [CONV3-C]\nINPUT 8x8x3 -> conv3d(4)",
     "'conv3d(…)' reads as the layer 'conv3' with a 'd' suffix; choose another name for this block", (1, 1)),
    ("INPUT 8x8x3 -> POOL3p(1",
     "expected ')' to close the '(' at column 22, found end of input", (1, 24)),
])
def test_suffix_names_refused(design, message, where):
    e = refused(design)
    assert e.message == message
    assert e.span.line_col() == where


# -- 2. `NAME = <layer with fused suffixes>` is a block ------------------------------------------
@pytest.mark.parametrize("design, rows", [
    ("b = POOL3p1\nINPUT 8x8x3 -> b", ["INPUT 8x8x3", "POOL3p1"]),
    ("b = DWCONV3d2\nINPUT 8x8x3 -> b", ["INPUT 8x8x3", "DWCONV3d2"]),
    ("conv.filters = 6\nb = CONV3g3\nINPUT 8x8x3 -> b", ["INPUT 8x8x3", "CONV3-6g3"]),
    ("b = POOL3p1(ceil=true)\nINPUT 8x8x3 -> b", ["INPUT 8x8x3", "POOL3p1(ceil)"]),
    ("b = POOL3p(1)\nINPUT 8x8x3 -> b", ["INPUT 8x8x3", "POOL3p1"]),
    ("b = CONV1×7-4\nINPUT 8x8x3 -> b", ["INPUT 8x8x3", "CONV1x7-4"]),
    # and integer right sides stay variables
    ("N = 2\nM = N*2 - 1\nINPUT 8x8x3 -> RELU*M", ["INPUT 8x8x3", "RELU", "RELU", "RELU"]),
])
def test_a_layer_on_the_right_is_a_block(design, rows):
    assert names(design) == rows


# -- 3. byte-order mark ------------------------------------------------------------------------------
def test_a_leading_byte_order_mark_is_skipped():
    assert names("\ufeffINPUT 8x8x3 -> RELU") == ["INPUT 8x8x3", "RELU"]
    assert names("\ufeff# a comment\nINPUT 8x8x3 -> RELU") == ["INPUT 8x8x3", "RELU"]
    assert names("INPUT -> RELU", defines=["\ufeffinput=8x8x3"]) == ["INPUT 8x8x3", "RELU"]


def test_columns_after_a_byte_order_mark_count_as_an_editor_shows_them():
    e = refused("\ufeffINPUT 8x8x3 -> RELUX")
    assert e.message == "unknown layer or block 'RELUX'; did you mean 'RELU'?"
    assert e.span.line_col() == (1, 16)
    rendered = e.render()
    assert "\ufeff" not in rendered
    _, line, carets = rendered.split("\n")
    assert line == "  INPUT 8x8x3 -> RELUX"
    assert carets.index("^") == line.index("RELUX") and carets.strip() == "^^^^^"


def test_a_byte_order_mark_elsewhere_is_refused():
    e = refused("INPUT 8x8x3 \ufeff-> RELU")
    assert e.message == ("unexpected character U+FEFF (ZERO WIDTH NO-BREAK SPACE): "
                         "a byte-order mark may only start the text")
    assert e.span.line_col() == (1, 13)


# -- 4. '×' for 'x' ------------------------------------------------------------------------------------
@pytest.mark.parametrize("design, rows", [
    ("INPUT 224×224×3 -> RELU", ["INPUT 224x224x3", "RELU"]),
    ("INPUT 8×8×3 -> CONV1×7-8 -> CONV7×1p(0)(filters=4) -> POOL1×3/1", None),
    ("INPUT 8x8x3 -> CONV(filters=4, kernel=1×3, s=1×1)", ["INPUT 8x8x3", "CONV1x3-4"]),
    ("S = 8\nINPUT (S)×(S)×3 -> RELU", ["INPUT 8x8x3", "RELU"]),
    ("input = 8×8×3\nINPUT -> RELU", ["INPUT 8x8x3", "RELU"]),
])
def test_multiplication_sign_joins_sizes_and_kernels(design, rows):
    ascii_rows = names(design.replace("×", "x"))
    assert names(design) == ascii_rows
    if rows is not None:
        assert ascii_rows == rows


def test_multiplication_sign_elsewhere_is_named():
    e = refused("INPUT 8x8x3 -> ×")
    assert e.message == "expected a layer, a block name, '[' or '(', found '×' (U+00D7 MULTIPLICATION SIGN)"
    assert e.span.line_col() == (1, 16)


# -- 5. non-ASCII digits and other characters --------------------------------------------------------
@pytest.mark.parametrize("design, message, where", [
    ("INPUT ²x8x3 -> RELU",
     "unexpected character '²' (U+00B2 SUPERSCRIPT TWO): numbers are written with the digits 0-9", (1, 7)),
    ("INPUT ２２４x224x3 -> RELU",
     "unexpected character '２' (U+FF12 FULLWIDTH DIGIT TWO): numbers are written with the digits 0-9", (1, 7)),
    ("INPUT 8x8x3 -> CONV3-٦٤",
     "unexpected character '٦' (U+0666 ARABIC-INDIC DIGIT SIX): numbers are written with the digits 0-9", (1, 22)),
    ("N = 2\nINPUT 8x8x3 -> RELU*N²",
     "unexpected character '²' (U+00B2 SUPERSCRIPT TWO): numbers are written with the digits 0-9", (2, 22)),
    ("INPUT 8x8x3 -> CONV3-½",
     "unexpected character '½' (U+00BD VULGAR FRACTION ONE HALF): numbers are written with the digits 0-9", (1, 22)),
    ("INPUT 8x8x3\u200b -> RELU",
     "unexpected character U+200B (ZERO WIDTH SPACE): an invisible character, often pasted in: "
     "delete it or write a plain space", (1, 12)),
    ("INPUT 8x8x3 ->\u2009RELU",
     "unexpected character U+2009 (THIN SPACE): an invisible character, often pasted in: "
     "delete it or write a plain space", (1, 15)),
    ("INPUT 8x8x3 -> CONV3\u20138",
     "unexpected character '–' (U+2013 EN DASH): write the ASCII '-'", (1, 21)),
    ("INPUT 8x8x3 -> CONV3-8(p=\u2018same\u2019)",
     "unexpected character '‘' (U+2018 LEFT SINGLE QUOTATION MARK): outside comments a design is written "
     "in ASCII, with '→' for '->' and '×' for 'x'", (1, 26)),
    ("INPUT 8x8x3 -> RELU -> \udcff",
     "unexpected character U+DCFF (a lone surrogate, from bytes that are not UTF-8): "
     "the design is not valid UTF-8 here", (1, 24)),
])
def test_other_characters_are_named(design, message, where):
    e = refused(design)
    assert e.message == message
    assert e.span.line_col() == where
    assert e.render().split("\n")[2].index("^") == where[1] + 1  # two spaces of indent


def test_non_breaking_space_is_white_space():
    assert names("INPUT\u00a08x8x3\u00a0->\u00a0RELU") == ["INPUT 8x8x3", "RELU"]
    e = refused("INPUT 8x8x3 -> CONV3-\u00a08")
    assert e.message == ("expected a number, a name or a (expression) after 'CONV-' (the filter count), "
                         "found a non-breaking space")
    assert e.span.line_col() == (1, 22)


def test_white_space_is_named_in_words():
    e = refused("INPUT 8x8x3 -> CONV3-\r\n8")
    assert e.message == ("expected a number, a name or a (expression) after 'CONV-' (the filter count), "
                         "found a line break")
    assert e.span.line_col() == (1, 22)


# -- 6. control characters -------------------------------------------------------------------------
@pytest.mark.parametrize("design, message, where", [
    ("INPUT 8x8x3 -> RELU\x00",
     "unexpected character U+0000 (NULL, a control character): control characters may appear only in comments",
     (1, 20)),
    ("INPUT 8x8x3\n-> \x0cRELU",
     "unexpected character U+000C (FORM FEED, a control character): control characters may appear only "
     "in comments", (2, 4)),
    ("INPUT 8x8x3 -> RE\x07LU",
     "unexpected character U+0007 (a control character): control characters may appear only in comments",
     (1, 18)),
])
def test_control_characters_outside_comments(design, message, where):
    e = refused(design)
    assert e.message == message
    assert e.span.line_col() == where


def test_comments_may_hold_anything():
    assert names("# \x00 ² \u200b \ufeff ２ \x1b[31m\nINPUT 8x8x3 -> RELU # \x00 ×\u200b") == ["INPUT 8x8x3", "RELU"]


def test_a_definition_label_shows_no_invisible_character():
    e = refused("INPUT -> RELU", defines=["input=8x8x3\x00"])
    assert e.message.startswith("unexpected character U+0000")
    assert str(e).endswith("(in -D input=8x8x3<U+0000>, line 1, column 12)")


# -- the fuzz test ---------------------------------------------------------------------------------
VALID = [
    "INPUT 32x32x3 -> [CONV3-16 -> RELU]*2 -> POOL2 -> FC-10",
    "N = 2\nINPUT 16x16x3 -> [CONV3-8/1p1 -> BN -> RELU]*N # a comment\n-> GAP -> FC-4",
    "b = POOL3p1\ninv(C) = (ID + [CONV1-C -> RELU])\nINPUT 8x8x4 -> inv(4) -> b -> CONV1x3-4",
    "S = 8\nINPUT (S)x(S)x3 -> (CONV1-4 | POOL3/1p1) -> DWCONV3d(1)",
]
ODD = ["\ufeff", "×", "x", "²", "２", "٣", "\x00", "\u00a0", "\u200b", " ", "#", "\n", "→", "\x7f", "’", "-", "1", "("]
NON_ASCII_DIGITS = "²２٣³¹０٩\u0e53\u2167\u00bd"


def invisible(c: str) -> bool:
    category = unicodedata.category(c)
    return category in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp") or (category == "Zs" and c != " ")


def in_comment(text: str, where: int) -> bool:
    return "#" in text[text.rfind("\n", 0, where) + 1:where]


@pytest.mark.slow
@settings(max_examples=300, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(VALID), st.lists(st.tuples(st.integers(0, 200), st.sampled_from(ODD)), max_size=4))
@example(VALID[0], [(0, "\ufeff")])
@example(VALID[0], [(6, "²")])
def test_odd_characters_plan_or_give_a_clean_message(design, edits):
    text = design
    for where, piece in edits:
        k = where % (len(text) + 1)
        text = text[:k] + piece + text[k:]
    try:
        cnncalc.plan(text)
    except cnncalc.CnnCalcError as e:
        assert not any(invisible(c) for c in e.message), repr(e.message)
        assert not any(invisible(c) for c in str(e)), repr(str(e))


@settings(max_examples=200, deadline=2000)
@given(st.sampled_from(VALID), st.integers(0, 200), st.sampled_from(NON_ASCII_DIGITS))
def test_non_ascii_digits_are_never_read_as_numbers(design, where, digit):
    k = where % (len(design) + 1)
    text = design[:k] + digit + design[k:]
    if in_comment(text, k):
        cnncalc.plan(text)
        return
    e = refused(text)
    assert e.message.startswith(f"unexpected character '{digit}' (U+{ord(digit):04X} ")
    assert e.message.endswith(": numbers are written with the digits 0-9")
    assert e.span.start == k
