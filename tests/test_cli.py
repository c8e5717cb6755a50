"""The command line: exit codes, inputs (string, file, stdin, example), outputs, and errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from cnncalc.cli import app

runner = CliRunner()
VGG_LIKE = "INPUT 32x32x3 -> [[CONV3-32 -> RELU]*2 -> POOL2]*2 -> FC-10"


def run(*args, input=None):
    return runner.invoke(app, list(args), input=input)


def test_plan_prints_table_and_totals():
    result = run("plan", VGG_LIKE)
    assert result.exit_code == 0, result.output
    assert "(3*3*3)*32 = 864" in result.output
    params = (3 * 3 * 3 * 32 + 32) + (3 * 3 * 32 * 32 + 32) * 3 + (8 * 8 * 32 * 10 + 10)
    assert f"{params:,}" in result.output
    assert "FLOPs" in result.output and "2 x MACs" in result.output
    assert "training (sgd)" in result.output


def test_plan_builtin_example_file_and_stdin_agree(tmp_path):
    design = tmp_path / "vgg.cnn"
    from cnncalc import zoo

    design.write_text(zoo.path("vgg16").read_text())
    outputs = [run("plan", "vgg16", "--format", "json").output,
               run("plan", str(design), "--format", "json").output,
               run("plan", "-", "--format", "json", input=design.read_text()).output]
    assert outputs[0] == outputs[1] == outputs[2]
    assert json.loads(outputs[0])["totals"]["params"] == 138_357_544


def test_defines_input_batch_dtype_optimizer():
    result = run("plan", "INPUT -> [CONV -> RELU]*N -> FC", "-D", "N=3", "-D", "conv.filters=8", "-D", "fc.out=2",
                 "--input", "16x16x3", "--batch", "2", "--dtype", "float16", "--optimizer", "adam", "-f", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [r["name"] for r in data["layers"]][1:] == ["CONV3-8", "RELU"] * 3 + ["FC-2"]
    assert (data["batch"], data["dtype"], data["optimizer"]) == (2, "float16", "adam")
    m = data["totals"]["memory"]
    assert m["optimizer_bytes"] == 2 * m["params_bytes"] and m["params_bytes"] == data["totals"]["params"] * 2


def test_csv_and_markdown_formats():
    assert run("plan", VGG_LIKE, "-f", "csv").output.startswith("index,name,kind,")
    assert run("plan", VGG_LIKE, "-f", "markdown").output.startswith("| # | layer | output |")


def test_output_file_is_written_and_not_overwritten_without_force(tmp_path):
    target = tmp_path / "plan.json"
    assert run("plan", VGG_LIKE, "-f", "json", "-o", str(target)).exit_code == 0
    assert json.loads(target.read_text())["schema"] == "cnncalc.plan/1"
    target.write_text("mine")
    result = run("plan", VGG_LIKE, "-o", str(target))
    assert result.exit_code == 2 and "exists; pass --force" in result.output
    assert target.read_text() == "mine"
    assert run("plan", VGG_LIKE, "-o", str(target), "--force").exit_code == 0
    assert "INPUT 32x32x3" in target.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["plan.json"]  # no temporary file left behind


def test_failed_run_leaves_no_file(tmp_path):
    target = tmp_path / "plan.json"
    assert run("plan", "INPUT 8x8x3 -> RELUX", "-o", str(target)).exit_code == 2
    assert not target.exists()


def test_bad_design_one_line_error_with_caret_and_exit_2():
    result = run("plan", "INPUT 32x32x3 -> [CONV3-32 -> RELU")
    assert result.exit_code == 2
    lines = result.output.splitlines()
    assert lines[0].startswith("error: expected ']' to close the '[' at column 18")
    assert lines[1] == "  INPUT 32x32x3 -> [CONV3-32 -> RELU"
    assert lines[2] == "  " + " " * 34 + "^"
    assert "Traceback" not in result.output


def test_missing_file_and_bad_settings_exit_2():
    result = run("plan", "nope/missing.cnn")
    assert result.exit_code == 2 and "no such design file: nope/missing.cnn" in result.output
    result = run("plan", VGG_LIKE, "--input", "32x32")
    assert result.exit_code == 2 and "input size must be HxWxC" in result.output
    assert run("plan", VGG_LIKE, "--dtype", "float64").exit_code == 2


def test_check_exit_codes():
    ok = run("check", "INPUT 7x7x3 -> CONV3-1/2p0")
    assert ok.exit_code == 0 and ok.output.startswith("ok: all 2 layers fit")
    bad = run("check", "INPUT 7x7x3 -> CONV3-1/5p0")
    assert bad.exit_code == 1
    assert "(7 - 3 + 2*0)/5 + 1 = 1.8" in bad.output and "drops the last 4 rows and columns" in bad.output
    assert "hint: every layer fits with an input of H 3 or 8, W 3 or 8" in bad.output
    assert run("check", "INPUT 7x7x3 -> CONV3-1/5p0 ->").exit_code == 2


def test_strict_makes_misfits_errors():
    assert run("plan", "INPUT 7x7x3 -> CONV3-1/5p0").exit_code == 0
    strict = run("plan", "INPUT 7x7x3 -> CONV3-1/5p0", "--strict")
    assert strict.exit_code == 1 and strict.output.startswith("error: CONV3-1/5p0 does not fit")


def test_optional_exclude():
    data = json.loads(run("plan", "INPUT 8x8x3 -> CONV3-4 -> POOL2?", "--optional", "exclude", "-f", "json").output)
    assert [r["kind"] for r in data["layers"]] == ["input", "conv"]


def test_max_layers():
    result = run("plan", "INPUT 8x8x3 -> RELU*100", "--max-layers", "50")
    assert result.exit_code == 2 and "more than 50 layers" in result.output


@pytest.mark.parametrize("command", ["plan", "check"])
def test_help_shows_examples(command):
    result = run(command, "--help")
    assert result.exit_code == 0 and "Examples:" in result.output and "cnncalc" in result.output


def test_internal_errors_exit_3_without_traceback(monkeypatch):
    from cnncalc import planner

    def broken(*args, **kwargs):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(planner, "plan_data", broken)
    result = run("plan", VGG_LIKE)
    assert result.exit_code == 3
    assert result.output.startswith("error: internal error (ZeroDivisionError: boom)")
    assert "Traceback" not in result.output


def test_python_dash_m_and_no_framework_import():
    result = subprocess.run([sys.executable, "-m", "cnncalc", "check", "vgg16"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith("ok: all 39 layers fit")
    probe = ("import sys, cnncalc; cnncalc.plan('INPUT 8x8x3 -> CONV3-4'); import cnncalc.cli; "
             "print(sorted(m for m in ('torch', 'tensorflow', 'jax') if m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True).stdout.strip() == "[]"


def test_verify_without_torch_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    result = run("verify", "vgg16")
    assert result.exit_code == 2
    assert result.output.startswith("error: this needs PyTorch, which is not installed: "
                                    "pip install 'cnncalc[torch]' (torch==2.13.0)")


def test_export_needs_no_torch(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    result = run("export", "INPUT 8x8x3 -> CONV3-4", "--to", "pytorch")
    assert result.exit_code == 0 and "class Net(nn.Module)" in result.output


@pytest.mark.parametrize("fmt", ["json", "table", "csv"])
def test_plan_command_keeps_pydantic_models_out_of_the_start(fmt):
    # speed guard (not a timing): the command line renders the contract dict, never building models
    probe = ("import sys, io, contextlib\n"
             f"sys.argv = ['cnncalc', 'plan', 'resnet50', '-f', '{fmt}']\n"
             "from cnncalc.cli import main\n"
             "with contextlib.redirect_stdout(io.StringIO()):\n"
             "    try: main()\n"
             "    except SystemExit: pass\n"
             "print(sorted(m for m in ('pydantic.main', 'cnncalc.report', 'torch') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.stdout.strip() == "[]", result.stderr


def test_export_checks_its_settings_like_plan():
    import cnncalc
    from cnncalc.pytorch.export import export_design

    with pytest.raises(cnncalc.SettingsError, match="optional must be include or exclude, got 'exlude'"):
        export_design("INPUT 8x8x3 -> POOL2?", optional="exlude")
    with pytest.raises(cnncalc.SettingsError, match="max_layers must be at least 1"):
        export_design("INPUT 8x8x3 -> RELU", max_layers=0)
