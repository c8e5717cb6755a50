"""`cnncalc compare` and `cnncalc.compare`: the measures side by side, variants (DESIGN@NAME=VALUE),
-D shared by the designs that use it, ratios and differences to the first, every format."""

from __future__ import annotations

import csv
import io
import json

import pytest
from conftest import run_cli as run

import cnncalc
from cnncalc import measures, planner
from cnncalc.comparison import split_variant

SMALL = "INPUT 32x32x3 -> CONV3-C -> FC-10"
COURSE = "INPUT 32x32x3 -> [[CONV3-32 -> RELU]*N -> POOL2]*3 -> FC-10"


def small_params(c: int) -> int:
    return (3 * 3 * 3) * c + c + (32 * 32 * c) * 10 + 10  # conv (k*k*c_in)*f + f, FC in*out + out


def test_long_texts_are_shortened():
    c = cnncalc.compare([f"{COURSE}@N=1", f"{COURSE}@N=2"], columns="rows")
    assert [d["label"] for d in c.designs] == [COURSE[:39] + "…@N=1", COURSE[:39] + "…@N=2"]


SPLITS = [
    ("course@N=2", ("course", ["N=2"])),
    ("course@N=2@M=3", ("course", ["N=2", "M=3"])),
    ("course@conv.filters=64", ("course", ["conv.filters=64"])),
    ("nets/my.cnn@N = 2", ("nets/my.cnn", ["N = 2"])),
    ("resnet18@input=160x160x3", ("resnet18", ["input=160x160x3"])),
    ("course", ("course", [])),
    ("a@b", ("a@b", [])),  # not NAME=VALUE after '@': the whole argument is the design
    ("@N=2", ("@N=2", [])),
    ("INPUT 8x8x3 -> CONV3-C@C=4", ("INPUT 8x8x3 -> CONV3-C", ["C=4"])),
]


@pytest.mark.parametrize("argument,expected", SPLITS)
def test_split_variant(argument, expected):
    assert split_variant(argument, exists=lambda p: False) == expected


def test_an_existing_file_is_never_split(tmp_path):
    path = tmp_path / "v@N=2.cnn"
    path.write_text(SMALL)
    assert split_variant(str(path)) == (str(path), [])


def test_values_and_ratios():
    c = cnncalc.compare([f"{SMALL}@C=8", f"{SMALL}@C=16"], columns="params,macs,rf,fits,rows")
    first, second = c.designs
    assert first["values"]["params"] == small_params(8) and second["values"]["params"] == small_params(16)
    assert second["versus_first"]["params"] == round(small_params(16) / small_params(8), 4)
    assert second["values"]["macs"] == 32 * 32 * 16 * (3 * 3 * 3) + 32 * 32 * 16 * 10
    assert second["versus_first"]["rf"] == 0 and second["versus_first"]["rows"] == 0  # differences
    assert second["versus_first"]["fits"] is None
    assert first["versus_first"]["params"] == 1.0
    assert c[f"{SMALL}@C=16"]["params"] == small_params(16)
    assert second["defines"] == ["C=16"]


def test_variants_of_one_design():
    c = cnncalc.compare([f"{COURSE}@N=1", f"{COURSE}@N=2", f"{COURSE}@N=3"], columns="params,rows")
    conv = (3 * 3 * 32) * 32 + 32
    first = (3 * 3 * 3) * 32 + 32
    for n, design in zip((1, 2, 3), c.designs):
        # per stage: the first conv of the net reads 3 channels, every other one 32
        assert design["values"]["params"] == first + conv * (3 * n - 1) + (4 * 4 * 32) * 10 + 10
        assert design["values"]["rows"] == 1 + 3 * (2 * n + 1) + 1
    assert [d["versus_first"]["rows"] for d in c.designs] == [0, 6, 12]


@pytest.mark.slow
def test_every_measure_equals_plan():
    names = list(measures.MEASURES)
    options = {"budget": "2GiB", "optimizer": "adam", "max_input": True}
    c = cnncalc.compare(["resnet18", "resnet34@input=160x160x3"], columns=names, **options)
    for design, (text, defines) in zip(c.designs, [("resnet18", []), ("resnet34", ["input=160x160x3"])]):
        data = planner.run(cnncalc.source.design_text(text, None)[0], defines=defines, **options).data
        assert design["values"] == measures.values(data, names)
        assert design["values"]["max_input"] == data["budget"]["max_input"]["h"] > 224
    assert c.designs[0]["values"]["params"] == 11_689_512 and c.designs[1]["values"]["params"] == 21_797_672


def test_shared_defines():
    """-D needs only one design to use it; each design plans with the -Ds it uses; a variant's own
    binding overrides a shared one."""
    uses_n = "INPUT 8x8x3 -> [CONV3-4]*N -> FC-2"
    c = cnncalc.compare([uses_n, SMALL, f"{uses_n}@N=3"], defines={"N": 2, "C": 4}, columns="params")
    assert [d["defines"] for d in c.designs] == [["N=2"], ["C=4"], ["N=2", "N=3"]]
    conv4 = (3 * 3 * 4) * 4 + 4
    assert c.designs[0]["values"]["params"] == (3 * 3 * 3) * 4 + 4 + conv4 + (8 * 8 * 4) * 2 + 2
    assert c.designs[2]["values"]["params"] == c.designs[0]["values"]["params"] + conv4


ERRORS = [
    (dict(designs=[SMALL, SMALL], defines=["Q=1"]), "'Q' is not used by any of the designs"),
    (dict(designs=[f"{SMALL}@C=4", f"{SMALL}@X=1"]),
     "'X' is not used by the design, so the binding @X=1 would change nothing"),
    (dict(designs=[SMALL]), "unbound variable C"),
    (dict(designs=[f"{SMALL}@C=4"], columns="max_batch"), "max_batch needs a budget"),
    (dict(designs=[f"{SMALL}@C=4"], columns="parms"), "unknown name 'parms'; did you mean 'params'?"),
    (dict(designs=[]), "compare needs at least one design"),
    (dict(designs=["INPUT 4x4x3 -> CONV5-2p0@C=1"]), "'C' is not used by the design"),
    (dict(designs=["INPUT 4x4x3 -> CONV(kernel=K, p=0, filters=2)@K=5"]), "the kernel 5 is larger than the padded"),
]


@pytest.mark.parametrize("kwargs,message", ERRORS, ids=[m[:30] for _, m in ERRORS])
def test_errors(kwargs, message):
    with pytest.raises(cnncalc.CnnCalcError) as info:
        cnncalc.compare(**kwargs)
    assert message in str(info.value)


def test_formats():
    c = cnncalc.compare([f"{SMALL}@C=8", f"{SMALL}@C=16"], columns="params,training_peak,rf,fits")
    data = json.loads(c.to_json())
    assert data["schema"] == "cnncalc.compare/1" and data["columns"] == ["params", "training_peak_bytes", "rf", "fits"]
    assert data["versus"] == {"params": "ratio", "training_peak_bytes": "ratio", "rf": "delta", "fits": None}
    table = list(csv.DictReader(io.StringIO(c.to_csv())))
    assert table[1]["params"] == str(small_params(16)) and table[1]["fits"] == "true"
    assert float(table[1]["params_vs_first"]) == round(small_params(16) / small_params(8), 4)
    assert "fits_vs_first" not in table[0]
    md = c.to_markdown()
    assert md.startswith("| measure | INPUT 32x32x3 -> CONV3-C -> FC-10@C=8 | INPUT 32x32x3 -> CONV3-C -> "
                         "FC-10@C=16 |")
    assert f"| params | {small_params(8):,} | {small_params(16):,} (x2.00) |" in md
    table = c.render("table")
    assert f"{small_params(16):,} (x2.00)" in table and "(+0)" in table
    assert repr(c).startswith("<Comparison of 2 designs")


def test_library_never_prints(capsys):
    cnncalc.compare(["resnet18", "vgg11"], columns="params")
    assert capsys.readouterr() == ("", "")


# -- the command line -------------------------------------------------------------------------------------
CLI = [
    (("compare", "resnet18", "resnet34"), 0, ("resnet18", "21,797,672 (x1.86)", "rows", "+64")),
    (("compare", "resnet18", "resnet34", "--budget", "8GiB", "--columns", "max_batch"), 0, ("max_batch",)),
    (("compare", f"{SMALL}@C=8", f"{SMALL}@C=16", "-f", "csv", "--columns", "params"), 0,
     (f"@C=16,{small_params(16)},", "design,params,params_vs_first")),
    (("compare", SMALL, SMALL, "-D", "Q=1"), 2, ("error: 'Q' is not used by any of the designs",)),
    (("compare", "resnet18", "nope.cnn"), 2, ("error: no such design file: nope.cnn",)),
    (("compare", "-", "-"), 2, ("error: standard input ('-') can be read only once",)),
    (("compare", "INPUT 4x4x3 -> [CONV3-2", "resnet18"), 2,
     ("error: INPUT 4x4x3 -> [CONV3-2: expected ']' to close the '['", "  INPUT 4x4x3 -> [CONV3-2\n")),
]


@pytest.mark.parametrize("args,code,expect", CLI, ids=[" ".join(a[1:3])[:40] for a, _, _ in CLI])
def test_cli(args, code, expect):
    result = run(*args)
    assert "Traceback" not in result.output
    assert result.exit_code == code, result.output
    for fragment in expect:
        assert fragment in result.output


def test_cli_json_and_stdin():
    result = run("compare", "-", "resnet18", "-f", "json", "--columns", "params", input=f"{SMALL}\n")
    assert result.exit_code == 2 and "unbound variable C" in result.output
    result = run("compare", "-", "resnet18", "-f", "json", "--columns", "params", "-D", "C=8",
                 input=f"{SMALL}\n")
    data = json.loads(result.stdout)
    assert [d["values"]["params"] for d in data["designs"]] == [small_params(8), 11_689_512]
    assert data["designs"][1]["defines"] == []  # resnet18 does not use C


def test_cli_output_file(tmp_path):
    out = tmp_path / "cmp.md"
    assert run("compare", "resnet18", "resnet34", "-o", str(out)).exit_code == 0
    assert out.read_text().startswith("| measure | resnet18 | resnet34 |")
    result = run("compare", "resnet18", "resnet34", "-o", str(out))
    assert result.exit_code == 2 and "exists; pass --force" in result.output
