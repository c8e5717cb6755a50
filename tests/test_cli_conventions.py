"""The command line's manners, as other Unix tools have them: --version, shell completion, a design
given without its command, the usual aliases (--dtype fp16, -f md), and -o FILE's extension picking
the format.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import run_cli as run

import cnncalc

DESIGN = "INPUT 32x32x3 -> [CONV3-16 -> RELU]*2 -> POOL2 -> FC-10"


# --version


def test_version_prints_name_and_version():
    result = run("--version")
    assert (result.exit_code, result.stdout) == (0, f"cnncalc {cnncalc.__version__}\n")


def test_version_imports_nothing_heavy():
    probe = ("import sys\nsys.argv = ['cnncalc', '--version']\nfrom cnncalc.cli import main\n"
             "try:\n    main()\nexcept SystemExit as e:\n    code = e.code\n"
             "print(code, sorted({m.split('.')[0] for m in sys.modules} & {'pydantic', 'rich', 'torch', 'numpy'}))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.splitlines()[-1] == "0 []", out


def test_top_level_help_shows_version_and_completion():
    result = run("--help")
    assert result.exit_code == 0
    for option in ("--version", "--install-completion", "--show-completion", "Examples:"):
        assert option in result.output


# shell completion


def complete(words: str) -> list[str]:
    env = {"_CNNCALC_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": str(len(words.split()) - 1)}
    result = run(prog_name="cnncalc", env=env)
    assert result.exit_code == 0, result.output
    return result.stdout.split()


def test_completion_of_commands_and_canonical_choices_only():
    assert complete("cnncalc pl") == ["plan"]
    assert complete("cnncalc plan vgg16 --dtype f") == ["float32", "float16"]  # no alias (fp16, float)
    assert complete("cnncalc plan vgg16 -f m") == ["markdown"]


def test_show_completion_prints_a_script(monkeypatch):
    monkeypatch.setenv("_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION", "1")  # --show-completion SHELL
    result = run("--show-completion", "bash", prog_name="cnncalc")
    assert result.exit_code == 0, result.output
    assert "_CNNCALC_COMPLETE=complete_bash" in result.stdout and "complete -o default" in result.stdout


# a design where the command belongs


@pytest.mark.parametrize("args, suggestion", [
    (["resnet50"], "cnncalc plan resnet50"),
    (["VGG16"], "cnncalc plan VGG16"),
    (["nets/my.cnn"], "cnncalc plan nets/my.cnn"),
    (["-"], "cnncalc plan -"),
    (["CONV3-16/2"], "cnncalc plan CONV3-16/2"),
    ([DESIGN], f"cnncalc plan '{DESIGN}'"),
    (["N = 2\nINPUT 8x8x3 -> [CONV3-4]*N"], "cnncalc plan 'N = 2\nINPUT 8x8x3 -> [CONV3-4]*N'"),
    (["resnet50", "--input", "320x320x3", "-f", "json"], "cnncalc plan resnet50 --input 320x320x3 -f json"),
])
def test_a_design_instead_of_a_command_gets_the_plan_command(args, suggestion):
    result = run(*args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == f"error: {args[0]!r} is not a command; did you mean: {suggestion}\n"


@pytest.mark.parametrize("word, expect", [
    ("pln", "No such command 'pln'. Did you mean 'plan'?"),
    ("chek", "Did you mean 'check'"),
    ("schemas", "Did you mean 'schema'?"),
    ("vgg", "No such command 'vgg'."),  # not a built-in, not a layer: not a design either
])
def test_an_unknown_word_gets_the_usual_did_you_mean(word, expect):
    result = run(word, "vgg16")
    assert result.exit_code == 2
    assert expect in result.output
    assert "is not a command" not in result.output


@pytest.mark.slow
def test_commands_still_run():
    assert run("zoo").exit_code == 0
    assert run("check", "vgg16").exit_code == 0


# aliases


def plan_json(*args) -> dict:
    result = run("plan", DESIGN, "-f", "json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize("alias, name", [
    ("fp16", "float16"), ("half", "float16"), ("fp32", "float32"), ("float", "float32"), ("bf16", "bfloat16"),
])
def test_dtype_aliases_plan_as_the_canonical_name(alias, name):
    data = plan_json("--dtype", alias)
    assert data["dtype"] == name
    assert data == plan_json("--dtype", name)
    table = run("plan", DESIGN, "--dtype", alias).stdout
    assert f"({name})" in table.splitlines()[1] and f"({alias})" not in table  # under memory/image


def test_aliases_are_not_choices_in_help_but_are_mentioned():
    text = run("plan", "--help").stdout
    assert "<float32|float16|bfloat16|int8>" in text
    assert "<table|markdown|json|csv|html>" in text
    assert "fp16" in text and "md: markdown" in text
    assert "<table|markdown|json>" in run("zoo", "--help").stdout


def test_an_unknown_dtype_lists_names_and_aliases():
    result = run("plan", DESIGN, "--dtype", "fp64")
    assert result.exit_code == 2
    assert "'fp64' is not one of 'float32', 'float16', 'bfloat16', 'int8' (or fp32, float, fp16, half, bf16)" \
        in result.output


@pytest.mark.parametrize("command, alias, name", [
    (("plan", DESIGN), "md", "markdown"), (("plan", DESIGN), "txt", "table"),
    (("zoo",), "md", "markdown"), (("zoo",), "txt", "table"),
])
@pytest.mark.slow
def test_format_aliases(command, alias, name):
    result = run(*command, "-f", alias)
    assert result.exit_code == 0, result.output
    assert result.stdout == run(*command, "-f", name).stdout


# -o FILE's extension picks the format


@pytest.mark.parametrize("filename, fmt", [
    ("plan.md", "markdown"), ("plan.markdown", "markdown"), ("PLAN.MD", "markdown"), ("plan.json", "json"),
    ("plan.csv", "csv"), ("plan.txt", "table"), ("plan", "table"),  # .out: an error since 0.6.1
])
def test_output_extension_picks_the_format(tmp_path, filename, fmt):
    target = tmp_path / filename
    assert run("plan", DESIGN, "-o", str(target)).exit_code == 0
    assert target.read_text(encoding="utf-8") == run("plan", DESIGN, "-f", fmt).stdout


@pytest.mark.parametrize("filename, flag, fmt", [
    ("plan.md", "json", "json"), ("plan.json", "table", "table"), ("plan.csv", "md", "markdown"),
    ("plan.txt", "csv", "csv"),
])
def test_an_explicit_format_wins_over_the_extension(tmp_path, filename, flag, fmt):
    target = tmp_path / filename
    assert run("plan", DESIGN, "-o", str(target), "--format", flag).exit_code == 0
    assert target.read_text(encoding="utf-8") == run("plan", DESIGN, "-f", fmt).stdout


def test_json_file_from_the_extension_has_the_canonical_dtype(tmp_path):
    target = tmp_path / "plan.json"
    assert run("plan", DESIGN, "--dtype", "fp16", "-o", str(target)).exit_code == 0
    text = target.read_text(encoding="utf-8")
    assert json.loads(text)["dtype"] == "float16" and "fp16" not in text
