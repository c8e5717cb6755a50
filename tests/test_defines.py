"""-D definitions that the design never uses are an error (they would change nothing, silently).

A -D variable or block is used when its name is written as a reference anywhere in the design:
the architecture, any block body (called or not), an optional item (even with --optional
exclude), a variable's value, a layer default, a count, a keyword setting, a shorthand, a block
call's arguments; or in the value of another -D that is used. A block's own parameter is not the
global name. Layer defaults and the kind-less settings (input, inplace) are never an error; a layer
default that no layer reads (every CONV gives its filters) is a warning, and an error for `--vary`.
"""

from __future__ import annotations

import pytest
from conftest import run_cli

import cnncalc
from cnncalc.dsl.names import refuse_unused, unused_defines
from cnncalc.dsl.parser import parse, parse_definition
from cnncalc.errors import DesignError

USES_N = "INPUT 8x8x3 -> [CONV3-4 -> RELU]*N"


def names(report) -> list[str]:
    return [row.name for row in report.layers]


# -- the issue: -D n=3, -D Nn=3, -D Z=4 against a design using N -----------------------------------------
@pytest.mark.parametrize("define, hint", [
    ("n=3", "; did you mean 'N'?"),
    ("Nn=3", "; did you mean 'N'?"),
    ("Z=4", " (names it uses: N)"),
])
def test_an_unused_define_is_a_usage_error_on_one_line_with_a_did_you_mean(define, hint):
    name = define.split("=")[0]
    result = run_cli("plan", USES_N, "-D", "N=2", "-D", define)
    assert result.exit_code == 2, result.output
    first, *caret = result.output.rstrip("\n").split("\n")
    assert first == (f"error: '{name}' is not used by the design, so this -D would change nothing{hint} "
                     f"(in -D {define}, line 1, column 1)")
    assert caret == [f"  {define}", "  " + "^" * len(name)]  # the drawing every -D error has
    assert "Traceback" not in result.output


@pytest.mark.parametrize("define", ["n=3", "Nn=3", "Z=4"])
def test_the_library_raises_for_an_unused_define(define):
    with pytest.raises(cnncalc.CnnCalcError) as e:
        cnncalc.plan(USES_N, defines=["N=2", define])
    assert isinstance(e.value, cnncalc.DesignError)
    assert str(e.value).endswith(f"(in -D {define}, line 1, column 1)")


@pytest.mark.parametrize("command", [["plan"], ["check"], ["export", "--to", "pytorch"]])
def test_every_command_refuses_it(command):
    result = run_cli(*command, USES_N, "-D", "N=2", "-D", "n=3")
    assert result.exit_code == 2 and "did you mean 'N'?" in result.output, result.output


def test_a_built_in_design_refuses_it_too():
    result = run_cli("plan", "vgg16", "-D", "N=3")
    assert result.exit_code == 2 and "'N' is not used by the design" in result.output


def test_the_used_define_still_works():
    assert names(cnncalc.plan(USES_N, defines=["N=3"])).count("RELU") == 3


# -- used: every place a name can be written -----------------------------------------------------------
USED = [
    ("shorthand-filters", "INPUT 8x8x3 -> CONV3-C", ["C=4"]),
    ("shorthand-stride", "INPUT 8x8x3 -> CONV3-4/S", ["S=1"]),
    ("shorthand-suffix", "INPUT 8x8x3 -> CONV3-4p(P)", ["P=1"]),
    ("shorthand-expression", "INPUT 8x8x3 -> CONV1-(6*C)", ["C=4"]),
    ("keyword", "INPUT 8x8x3 -> CONV(filters=F, kernel=K)", ["F=4", "K=3"]),
    ("positional", "INPUT 8x8x3 -> FC-10 -> DROPOUT(Q)", ["Q=0"]),
    ("count", "INPUT 8x8x3 -> RELU*N", ["N=2"]),
    ("count-expression", "INPUT 8x8x3 -> RELU*(N+1)", ["N=2"]),
    ("input-size", "INPUT (S)x(S)x3 -> RELU", ["S=8"]),
    ("variable", "M = 2*N\nINPUT 8x8x3 -> CONV3-M", ["N=3"]),
    ("variable-of-variable", "A = B\nB = 2*N\nINPUT 8x8x3 -> CONV3-A", ["N=3"]),
    ("variable-overridden", "N = 2\nINPUT 8x8x3 -> RELU*N", ["N=3"]),
    ("layer-default", "conv.filters = C\nINPUT 8x8x3 -> CONV3", ["C=4"]),
    ("block-body", "b = [CONV3-C]\nINPUT 8x8x3 -> b", ["C=4"]),
    ("block-name", "b = [CONV3-4]\nINPUT 8x8x3 -> b", ["b=[CONV3-8]"]),
    ("block-call-argument", "blk(K) = [CONV3-K]\nINPUT 8x8x3 -> blk(W)", ["W=4"]),
    ("block-in-block", "a = [CONV3-C]\nb = [a -> RELU]\nINPUT 8x8x3 -> b", ["C=4"]),
    ("optional", "INPUT 8x8x3 -> [CONV3-C]?", ["C=4"]),
    ("branch", "INPUT 8x8x3 -> (CONV1-C | CONV3-D)", ["C=4", "D=4"]),
    # referenced anywhere in the text is used: a block never called, a variable never read
    ("block-never-called", "b = [CONV3-C]\nINPUT 8x8x3 -> RELU", ["C=4"]),
    ("variable-never-read", "M = 2*N\nINPUT 8x8x3 -> RELU", ["N=3"]),
    # blocks and variables given with -D
    ("define-block", "INPUT 8x8x3 -> stem", ["stem=[CONV3-4 -> RELU]"]),
    ("define-block-with-parameter", "INPUT 8x8x3 -> blk(4)", ["blk(K)=[CONV3-K]"]),
    ("define-block-using-define", "INPUT 8x8x3 -> stem", ["stem=[CONV3-C]", "C=4"]),
    ("define-variable-using-define", "INPUT 8x8x3 -> CONV3-M", ["C=2", "M=2*C"]),
    ("define-block-names-a-block", "a = [CONV3-C]\nINPUT 8x8x3 -> b", ["b=[a -> RELU]", "C=4"]),
    ("define-default-using-define", "INPUT 8x8x3 -> CONV3", ["conv.filters=C", "C=4"]),
    ("define-input-using-define", "INPUT -> RELU", ["input=(S)x(S)x3", "S=8"]),
]


@pytest.mark.parametrize("design, defines", [u[1:] for u in USED], ids=[u[0] for u in USED])
def test_a_used_define_is_accepted(design, defines):
    cnncalc.plan(design, defines=defines)
    assert unused_defines(design, defines) == []


def test_a_name_in_an_excluded_optional_is_still_used():
    report = cnncalc.plan("INPUT 8x8x3 -> RELU -> [CONV3-C]?", defines=["C=4"], optional="exclude")
    assert names(report) == ["INPUT 8x8x3", "RELU"]


def test_a_used_define_changes_the_numbers():
    assert names(cnncalc.plan("INPUT 8x8x3 -> stem", defines=["stem=[CONV3-C]", "C=5"]))[1] == "CONV3-5"
    assert names(cnncalc.plan("N = 2\nINPUT 8x8x3 -> RELU*N", defines=["N=3"])).count("RELU") == 3


# -- layer defaults and settings: never an error, used or not ----------------------------------------------
@pytest.mark.parametrize("define", ["conv.filters=64", "conv.bias=false", "pool.kernel=3", "fc.out=10",
                                    "input=8x8x3", "inplace=false"])
def test_layer_defaults_and_settings_are_accepted_unused(define):
    cnncalc.plan("INPUT 8x8x3 -> RELU", defines=[define])
    assert unused_defines("INPUT 8x8x3 -> RELU", [define]) == []


# -- ... but one that no layer reads is said: it changes nothing ---------------------------------------------
@pytest.mark.parametrize("design, define", [
    ("INPUT 8x8x3 -> RELU", "conv.filters=64"),  # no CONV at all
    ("INPUT 8x8x3 -> CONV3-4 -> RELU", "conv.filters=64"),  # the CONV gives its own
    ("INPUT 8x8x3 -> CONV3-4(bias=false) -> FC-2", "conv.bias=false"),
    ("INPUT 8x8x3 -> POOL2 -> FC(out=3)", "fc.out=10"),
    ("resnet50", "conv.filters=8"),  # every convolution of ResNet-50 writes its filters
])
def test_a_layer_default_that_no_layer_reads_is_a_warning(design, define):
    report = cnncalc.plan(design, defines=[define])
    assert any(w.startswith(f"-D {define} changes nothing") for w in report.warnings), report.warnings
    # and a sweep that varies it refuses, at the name
    with pytest.raises(cnncalc.SettingsError, match="changes nothing"):
        cnncalc.sweep(design, vary=[define.replace("=", "=1,")], columns="params")


@pytest.mark.parametrize("design, defines", [
    ("INPUT 8x8x3 -> CONV3 -> RELU", ["conv.filters=4"]),
    ("INPUT 8x8x3 -> DECONV3 -> RELU", ["conv.filters=4"]),  # the family's default
    ("b(L) = [L -> RELU]\nINPUT 8x8x3 -> b(CONV3)", ["conv.filters=4"]),  # a layer passed to a block
    ("INPUT 8x8x3 -> stem", ["conv.filters=4", "stem=[CONV3 -> RELU]"]),  # a layer the -D itself writes
    ("INPUT 8x8x3 -> CONV3-4 -> FC-2", ["conv.bias=false", "fc.bias=false"]),
    ("INPUT 8x8x3 -> POOL2 -> FC", ["fc.out=3"]),
])
def test_a_layer_default_that_a_layer_reads_says_nothing(design, defines):
    report = cnncalc.plan(design, defines=defines)
    assert not any("changes nothing" in w for w in report.warnings), report.warnings


def test_a_sweep_refuses_a_varied_default_with_a_caret():
    result = run_cli("sweep", "INPUT 8x8x3 -> CONV3-4", "--vary", "conv.filters=8,16")
    assert result.exit_code == 2
    assert "--vary conv.filters changes nothing: every CONV layer of the design gives its own filters" in result.output
    assert "^^^^^^^^^^^^" in result.output


def test_the_readme_pattern_uses_all_its_defines():
    pattern = "INPUT -> [[CONV -> RELU]*N -> POOL?]*M -> [FC -> RELU]*K -> FC"
    result = run_cli("plan", pattern, "-D", "N=2", "-D", "M=3", "-D", "K=1", "-D", "conv.filters=32",
                     "-D", "fc.out=10", "--input", "32x32x3")
    assert result.exit_code == 0, result.output


# -- not used, and the message says why ------------------------------------------------------------------
def test_a_block_parameter_is_not_the_global_name():
    with pytest.raises(DesignError) as e:
        cnncalc.plan("basic(C) = [CONV3-C]\nINPUT 8x8x3 -> basic(4)", defines=["C=8"])
    assert e.value.message == ("'C' is not used by the design, so this -D would change nothing: 'C' is a parameter "
                               "of block 'basic', which each call gives, as in basic(...)")


def test_a_name_defined_but_never_used():
    with pytest.raises(DesignError) as e:
        cnncalc.plan("N = 2\nINPUT 8x8x3 -> RELU", defines=["N=3"])
    assert e.value.message == "'N' is defined by the design but never used, so this -D would change nothing"


def test_a_design_with_no_names():
    with pytest.raises(DesignError) as e:
        cnncalc.plan("INPUT 8x8x3 -> RELU", defines=["N=3"])
    assert e.value.message.endswith("(the design uses no variables or blocks)")


def test_the_listed_names_are_bounded_and_in_source_order():
    design = "INPUT 8x8x3 -> " + " -> ".join(f"CONV3-V{i}" for i in range(12))
    defines = [f"V{i}=2" for i in range(12)] + ["Zebra=1"]
    with pytest.raises(DesignError) as e:
        cnncalc.plan(design, defines=defines)
    assert e.value.message.endswith("(names it uses: V0, V1, V2, V3, V4, V5, V6, V7, ...)")


def test_a_define_used_only_by_an_unused_define_is_unused():
    assert unused_defines("INPUT 8x8x3 -> RELU", ["b=[CONV3-C]", "C=4"]) == ["b", "C"]
    with pytest.raises(DesignError, match=r"^'b' is not used"):
        cnncalc.plan("INPUT 8x8x3 -> RELU", defines=["b=[CONV3-C]", "C=4"])


def test_a_define_that_names_itself_is_not_used_by_that():
    assert unused_defines("INPUT 8x8x3 -> RELU", ["N=N+1"]) == ["N"]


def test_the_error_points_at_the_name_in_the_define():
    with pytest.raises(DesignError) as e:
        cnncalc.plan(USES_N, defines=["N=2", "  blk(K) = [CONV3-K]"])
    span = e.value.span
    assert span.source.label == "-D   blk(K) = [CONV3-K]" and span.source.text[span.start:span.end] == "blk"


def test_case_matters_for_variables_and_the_suggestion_ignores_it():
    with pytest.raises(DesignError, match="did you mean 'Channels'"):
        cnncalc.plan("INPUT 8x8x3 -> CONV3-Channels", defines=["channels=4"])


# -- several designs: an error only when none uses it ---------------------------------------------------
def test_several_designs_a_define_is_an_error_only_when_none_uses_it():
    a, b = parse("INPUT 8x8x3 -> RELU*N"), parse("INPUT 8x8x3 -> CONV3-C")
    refuse_unused([a, b], [parse_definition("N=2"), parse_definition("C=4")])
    with pytest.raises(DesignError) as e:
        refuse_unused([a, b], [parse_definition("N=2"), parse_definition("n=4")])
    assert e.value.message == ("'n' is not used by any of the designs, so this -D would change nothing; "
                               "did you mean 'N'?")
    # the one-design function, combined by the caller: what every design leaves unused
    defines = ["N=2", "C=4", "Z=1"]
    assert set(unused_defines("INPUT 8x8x3 -> RELU*N", defines)) & set(unused_defines("INPUT 8x8x3 -> CONV3-C",
                                                                                     defines)) == {"Z"}


# -- cost: no expansion, no evaluation, no recursion ---------------------------------------------------------
def test_the_check_does_not_expand_or_evaluate():
    # a count far past --max-layers: the unused -D is reported without counting or expanding anything
    with pytest.raises(DesignError, match="'Z' is not used"):
        cnncalc.plan("INPUT 8x8x3 -> RELU*(10*10*10*10*10*10*10*10*10*10*10*10*10*10)", defines=["Z=1"])


def test_deep_trees_need_no_recursion():
    deep_optional = "INPUT 8x8x3 -> RELU" + "?" * 20_000 + " -> RELU*N"
    assert unused_defines(deep_optional, ["N=1", "Z=1"]) == ["Z"]
    long_sum = "M = " + "+".join(["1"] * 20_000) + "+N\nINPUT 8x8x3 -> RELU*M"
    assert unused_defines(long_sum, ["N=1", "Z=1"]) == ["Z"]
