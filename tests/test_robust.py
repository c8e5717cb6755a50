"""Robustness of the library: no hang, no crash, no wrong value, whatever the design's numbers,
size or text. Work is asserted by counts or by generous subprocess timeouts, never by timing."""

from __future__ import annotations

import subprocess
import sys

import pytest

import cnncalc
from cnncalc.errors import did_you_mean, excerpt

TIMEOUT = 60  # seconds: a regression fails instead of hanging CI


def cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cnncalc", *args], input=stdin, capture_output=True, text=True,
                          timeout=TIMEOUT)


# -- numbers past any sensible size are errors, never overflows ---------------------------------------
@pytest.mark.parametrize("design, message", [
    ("INPUT 1x1x1 -> UPSAMPLE(999999999999999)*21",
     "UPSAMPLE999999999999999: the output 1e+30 x 1e+30 x 1 exceeds 10^15 along an axis (sizes are limited to 10^15)"),
    ("INPUT 1x1x1 -> DECONV(filters=1, kernel=999999999999999, s=999999999999999)*2",
     "DECONV999999999999999-1/999999999999999: the output 1e+30 x 1e+30 x 1 exceeds 10^15 along an axis "
     "(sizes are limited to 10^15)"),
    ("INPUT 1x1x999999999999999 -> (ID | ID)", "CONCAT: the output 1 x 1 x 2e+15 exceeds 10^15 along an axis "
                                               "(sizes are limited to 10^15)"),
])
def test_sizes_past_ten_to_the_fifteen_are_errors(design, message):
    with pytest.raises(cnncalc.DesignError) as e:
        cnncalc.plan(design)
    assert e.value.message == message


@pytest.mark.parametrize("fmt", ["table", "markdown", "json", "csv"])
def test_the_largest_sizes_render_in_every_format(fmt):
    big = 10**15
    result = cli("plan", f"INPUT {big // 10**6}x1000000x1 -> CONV1-999999999999999 -> CONV2-1/2p0", "-f", fmt,
                 "--batch", str(big))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("settings, message", [
    ({"input": (-8, 8, 3)}, "input must be 'HxWxC' or (h, w, c) with whole numbers from 1 to 10^15, got (-8, 8, 3)"),
    ({"input": (0, 0, 0)}, "input must be 'HxWxC' or (h, w, c) with whole numbers from 1 to 10^15, got (0, 0, 0)"),
    ({"input": (8, 8)}, "input must be 'HxWxC' or (h, w, c) with whole numbers from 1 to 10^15, got (8, 8)"),
    ({"input": 8}, "input must be 'HxWxC' or (h, w, c) with whole numbers from 1 to 10^15, got 8"),
    ({"input": "²x8x3"}, "input size has the character '²' (U+00B2 SUPERSCRIPT TWO): write HxWxC with the digits "
                         "0-9, such as 224x224x3"),
    ({"input": "8x8x3\x00"}, "input size has the character U+0000 (NULL, a control character): write HxWxC with "
                             "the digits 0-9, such as 224x224x3"),
    ({"batch": 10**400}, "batch must be at most 10^15, got a number of 401 digits"),
    ({"batch": True}, "batch must be a whole number of at least 1, got True"),
])
def test_settings_out_of_range_are_errors(settings, message):
    with pytest.raises(cnncalc.SettingsError) as e:
        cnncalc.plan("INPUT 8x8x3 -> RELU", **settings)
    assert e.value.message == message


def test_the_multiplication_sign_joins_an_input_size():
    assert cnncalc.plan("INPUT 8x8x3 -> RELU", input="4×6×2").input == (4, 6, 2)


# -- ceil-mode pooling: what PyTorch runs, cnncalc plans ----------------------------------------------
@pytest.mark.parametrize("design, out", [
    ("INPUT 1x1x3 -> AVGPOOL2/3(ceil=true)", 1),  # (1 - 2 + 3 - 1)//3 + 1 = 1
    ("INPUT 2x2x3 -> POOL4/3(ceil=true)", 1),
    ("INPUT 2x2x3 -> POOL4/3p2(ceil=true)", (2 + 2 * 2 - 4 + 3 - 1) // 3 + 1),
])
def test_ceil_mode_pooling_larger_than_the_padded_input(design, out):
    assert cnncalc.plan(design).layers[-1].output.h == out


def test_floor_mode_pooling_larger_than_the_input_is_still_an_error():
    with pytest.raises(cnncalc.DesignError, match="the kernel 4 is larger than the padded input"):
        cnncalc.plan("INPUT 2x2x3 -> POOL4/3")


# -- the receptive field at a merge is the union of the arms' windows ---------------------------------
@pytest.mark.parametrize("design, size, padding", [
    # the same stride 3, offsets differ by one: windows [-1, 1] and [0, 2] make [-1, 2], four pixels
    ("INPUT 120x120x1 -> (CONV(filters=1, kernel=3, s=3, p=1) + CONV(filters=1, kernel=3, s=3, p=0))", 4, 1),
    ("INPUT 32x32x1 -> (CONV1-1 | CONV3-1 | CONV5-1)", 5, 2),  # centred: the largest arm
    ("INPUT 32x32x1 -> (CONV3-1p0 + CONV3-1p0)", 3, 0),
])
def test_merge_field_is_the_union_of_the_arms(design, size, padding):
    report = cnncalc.plan(design)
    assert report.layers[-1].rf.size == (size, size) and report.layers[-1].rf.padding == (padding, padding)
    assert not report.warnings


def test_merge_of_different_strides_keeps_the_largest_field_and_warns():
    # 4x4 both: stride 3 and r = 3, against stride 2 and r = 3 + (2-1)*2 = 5
    report = cnncalc.plan("INPUT 12x12x1 -> (CONV3-1/3p0 + [CONV3-1/2p0 -> CONV2-1p0])")
    assert report.layers[-1].rf.size == (5, 5) and report.layers[-1].rf.stride == (2, 2)
    assert "different effective strides" in report.warnings[0]


# -- positions: counted in the text they point into ------------------------------------------------
def test_a_misfit_in_a_command_line_block_says_where_it_is():
    report = cnncalc.plan("INPUT 7x7x3 -> b", defines=["b=[RELU -> CONV3-1/5p0]"])
    problem, row = report.problems[0], report.layers[2]
    assert (problem.source, problem.line, problem.column) == ("-D b=[RELU -> CONV3-1/5p0]", 1, 12)
    assert (row.source, row.line, row.column) == ("-D b=[RELU -> CONV3-1/5p0]", 1, 12)
    assert report.layers[0].source == "design"
    result = cli("check", "INPUT 7x7x3 -> b", "-D", "b=[RELU -> CONV3-1/5p0]")
    assert result.returncode == 1
    assert "(in -D b=[RELU -> CONV3-1/5p0], line 1, column 12)\n  b=[RELU -> CONV3-1/5p0]\n" \
           "             ^^^^^^^^^^^" in result.stdout


@pytest.mark.slow
def test_placing_every_layer_of_a_long_file_is_fast():
    # 25,000 commented lines of 200 characters: once 43 s (a scan from the start for every layer)
    design = "INPUT 8x8x1\n" + "".join(f"-> RELU  # {'x' * 190}\n" for _ in range(25_000))
    result = cli("plan", "-", "-f", "json", "--max-layers", "30000", stdin=design)
    assert result.returncode == 0, result.stderr
    assert '"line": 25001' in result.stdout


def test_an_optional_is_quoted_in_the_assumptions_by_its_start_only():
    comment = "#" + "y" * 2_000_000 + "\n"
    design = "INPUT 8x8x1 -> " + "[" * 20 + comment + "RELU" + "]?" * 20
    report = cnncalc.plan(design)
    optionals = [a for a in report.assumptions if a.startswith("optional")]
    assert len(optionals) == 20 and max(len(a) for a in optionals) < 200
    assert excerpt("[RELU ->\n   BN]?") == "[RELU -> BN]?"
    assert excerpt("a" * 100) == "a" * 59 + "…"


@pytest.mark.slow
def test_did_you_mean_compares_a_bounded_number_of_names():
    names = [f"block_{i:05d}_" + "z" * 5000 for i in range(10_000)]
    assert did_you_mean(names[42][:-1] + "q", names) == f"; did you mean '{names[42]}'?"
    assert did_you_mean("filterz", ["kernel", "filters", "s"]) == "; did you mean 'filters'?"
    result = cli("plan", "-", stdin="\n".join(f"{n} = RELU" for n in names) + "\nINPUT 8x8x1 -> blok_00042_zz")
    assert result.returncode == 2 and "unknown layer or block" in result.stderr


def test_the_exported_module_imports_whatever_the_design_text_holds():
    from cnncalc.pytorch.export import export_design

    source = export_design('INPUT 8x8x3 # a \x00 nul, an \x1b escape, a back\\slash, """quotes"""\n -> CONV3-4')
    compile(source, "model.py", "exec")
