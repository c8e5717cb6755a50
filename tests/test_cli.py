"""The command line: exit codes, inputs (string, file, stdin, example), outputs, and errors.

Most of it is one table, CASES: each row runs `cnncalc ARGS` (with STDIN, if any) and expects
the exit code CODE and every fragment in EXPECT somewhere in the output (stdout and stderr
together). A fragment is a plain string (a substring) or a compiled regex (searched); `start`
and `line` build the regexes for "the output starts with" and "some line is exactly". Every
row also checks that nothing escaped as an exception or a traceback. What does not fit the
shape "args, stdin -> exit code + fragments" (files written with -o, monkeypatching, subprocess
probes, comparing runs, reading JSON) stays in the small functions after the table.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from typing import NamedTuple

import pytest
from conftest import run_cli as run


VGG_LIKE = "INPUT 32x32x3 -> [[CONV3-32 -> RELU]*2 -> POOL2]*2 -> FC-10"
VGG_LIKE_PARAMS = (3 * 3 * 3 * 32 + 32) + (3 * 3 * 32 * 32 + 32) * 3 + (8 * 8 * 32 * 10 + 10)
MISFIT = "INPUT 7x7x3 -> CONV3-1/5p0"  # (7 - 3)/5 + 1 = 1.8


def start(text: str) -> re.Pattern:
    """The output starts with `text`."""
    return re.compile(r"\A" + re.escape(text))


def line(text: str) -> re.Pattern:
    """Some line of the output is exactly `text`."""
    return re.compile("^" + re.escape(text) + "$", re.M)


class Case(NamedTuple):
    id: str
    args: tuple[str, ...]
    code: int
    expect: tuple[str | re.Pattern, ...] = ()
    stdin: str | None = None


C = Case
CASES = [
    # plan: the table and its totals, from a string, a built-in name, stdin
    C("plan-table", ("plan", VGG_LIKE), 0,
      ("(3*3*3)*32 = 864", f"{VGG_LIKE_PARAMS:,}", "FLOPs", "2 x MACs", "training peak", "x2 rule (sgd)")),
    C("plan-stdin", ("plan", "-"), 0, ("(3*3*3)*32 = 864", f"{VGG_LIKE_PARAMS:,}"), stdin=VGG_LIKE),
    C("plan-builtin", ("plan", "vgg16"), 0, ("138,357,544",)),
    # plan: the other formats
    C("plan-csv", ("plan", VGG_LIKE, "-f", "csv"), 0, (start("index,name,kind,"),)),
    C("plan-markdown", ("plan", VGG_LIKE, "-f", "markdown"), 0,
      (start("| # | layer | output |"), line("|---:|---|---|---:|---|---:|---:|---|---:|"))),
    C("plan-json", ("plan", VGG_LIKE, "--format", "json"), 0, (start("{"), '"schema": "cnncalc.plan/1"')),
    C("plan-bad-format", ("plan", VGG_LIKE, "-f", "xml"), 2,
      ("Invalid value for '--format'", "'xml' is not one of")),
    C("plan-unknown-option", ("plan", VGG_LIKE, "-O", "adam"), 2, ("No such option: -O",)),
    # plan: a design that cannot be read is one error line, the design, a caret; exit 2
    C("plan-syntax-error", ("plan", "INPUT 32x32x3 -> [CONV3-32 -> RELU"), 2,
      (re.compile(r"\Aerror: expected '\]' to close the '\[' at column 18.*\n"
                  r"  INPUT 32x32x3 -> \[CONV3-32 -> RELU\n"
                  r" {36}\^$", re.M),)),
    C("plan-missing-file", ("plan", "nope/missing.cnn"), 2, ("no such design file: nope/missing.cnn",)),
    C("plan-bad-input", ("plan", VGG_LIKE, "--input", "32x32"), 2, ("input size must be HxWxC",)),
    C("plan-bad-dtype", ("plan", VGG_LIKE, "--dtype", "float64"), 2),
    C("plan-bad-optional", ("plan", VGG_LIKE, "--optional", "exlude"), 2, ("'exlude' is not one of",)),
    C("plan-max-layers", ("plan", "INPUT 8x8x3 -> RELU*100", "--max-layers", "50"), 2, ("more than 50 layers",)),
    # misfits: reported by plan, errors with --strict, exit 1 from check
    C("plan-misfit", ("plan", MISFIT), 0, ("does not fit",)),
    C("plan-strict", ("plan", MISFIT, "--strict"), 1, (start("error: CONV3-1/5p0 does not fit"),)),
    C("check-ok", ("check", "INPUT 7x7x3 -> CONV3-1/2p0"), 0, (start("ok: all 2 layers fit"),)),
    C("check-misfit", ("check", MISFIT), 1,
      ("(7 - 3 + 2*0)/5 + 1 = 1.8", "drops the last 4 rows and columns",
       "hint: every layer fits with an input of H 5 or 8, W 5 or 8")),
    # the carets under a misfit span the whole layer as written, keyword form included
    C("check-misfit-caret", ("check", "INPUT 7x7x3 -> CONV(filters=1, kernel=3, s=5, p=0) -> RELU"), 1,
      (line("misfit: CONV3-1/5p0 does not fit: H and W: (7 - 3 + 2*0)/5 + 1 = 1.8 is not a whole number; the floor "
            "keeps 1 and drops the last 4 rows and columns of the input; fits with stride 4 or 2 or 1, or an input "
            "3 or 8 to this layer (line 1, column 16)"),
       line("  INPUT 7x7x3 -> CONV(filters=1, kernel=3, s=5, p=0) -> RELU"),
       line("  " + " " * 15 + "^" * len("CONV(filters=1, kernel=3, s=5, p=0)")))),
    C("check-misfit-caret-line-2", ("check", "N = 5\nINPUT 7x7x3\n  -> CONV3-1/(N)p0"), 1,
      ("(line 3, column 6)", line("    -> CONV3-1/(N)p0"), line("  " + " " * 5 + "^" * len("CONV3-1/(N)p0")))),
    C("check-syntax-error", ("check", MISFIT + " ->"), 2),
    C("check-builtin", ("check", "lenet5"), 0, (start("ok: all 12 layers fit (input 32x32x1)"),)),
    C("check-builtin-input", ("check", "vgg16", "--input", "320x320x3"), 0,
      (start("ok: all 39 layers fit (input 320x320x3)"),)),
    C("check-builtin-misfit", ("check", "alexnet_paper", "--input", "224x224x3"), 1,
      (start("misfit: CONV11-96/4p0 does not fit"), "(224 - 11 + 2*0)/4 + 1 = 54.25",
       line("hint: every layer fits with an input of H 195 or 227, W 195 or 227 (now 224x224)"))),
    # zoo
    C("zoo-list", ("zoo",), 0, (start("name "), "alexnet_paper", "resnet50", "vgg16", "138,357,544")),
    C("zoo-one", ("zoo", "vgg16"), 0, (start("# VGG16 (configuration D)"), "INPUT 224x224x3")),
    C("zoo-did-you-mean", ("zoo", "vgg61"), 2,
      (start("error: no built-in design 'vgg61'; did you mean 'vgg19'? (see cnncalc zoo)"),)),
    C("zoo-unknown", ("zoo", "foo"), 2, (start("error: no built-in design 'foo' (see cnncalc zoo)"),)),
    # export, verify: what needs no torch
    C("export", ("export", "INPUT 8x8x3 -> CONV3-4", "--to", "pytorch"), 0, ("class Net(nn.Module)",)),
    C("export-without-to", ("export", "INPUT 8x8x3 -> CONV3-4"), 2, ("Missing option '--to'",)),
    C("export-bad-to", ("export", "lenet5", "--to", "keras"), 2, ("'keras' is not one of",)),
    C("verify-bad-device", ("verify", "vgg16", "--device", "tpu"), 2, ("'tpu' is not one of",)),
    # help
    C("help", ("--help",), 0, ("plan", "check", "zoo", "verify", "export")),
    *(C(f"help-{command}", (command, "--help"), 0, (f"Usage: cnncalc {command}", "Examples:", f"cnncalc {command} "))
      for command in ("plan", "check", "zoo", "verify", "export")),
    C("help-short", ("plan", "-h"), 0, ("Examples:",)),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_cli(case: Case):
    result = run(*case.args, input=case.stdin)
    assert result.exit_code == case.code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    for fragment in case.expect:
        if isinstance(fragment, re.Pattern):
            assert fragment.search(result.output), f"no match for {fragment.pattern!r} in:\n{result.output}"
        else:
            assert fragment in result.output


def test_case_ids_are_unique():
    assert len({c.id for c in CASES}) == len(CASES)


def test_plan_builtin_example_file_and_stdin_agree(tmp_path):
    from cnncalc import zoo

    design = tmp_path / "vgg.cnn"
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


def test_optional_exclude():
    data = json.loads(run("plan", "INPUT 8x8x3 -> CONV3-4 -> POOL2?", "--optional", "exclude", "-f", "json").output)
    assert [r["kind"] for r in data["layers"]] == ["input", "conv"]


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


def test_internal_errors_exit_3_without_traceback(monkeypatch):
    from cnncalc import planner

    def broken(*args, **kwargs):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(planner, "run", broken)
    result = run("plan", VGG_LIKE)
    assert result.exit_code == 3
    assert result.output.startswith("error: internal error (ZeroDivisionError: boom)")
    assert "Traceback" not in result.output


@pytest.mark.parametrize("command", ["plan", "check"])
@pytest.mark.parametrize("fails", [False, True])
def test_a_plan_runs_without_garbage_collection_and_collection_resumes_after(monkeypatch, fails, command):
    import gc

    from cnncalc import planner

    seen, real = [], planner.run

    def spy(*args, **kwargs):
        seen.append(gc.isenabled())
        if fails:
            raise ZeroDivisionError("boom")
        return real(*args, **kwargs)

    monkeypatch.setattr(planner, "run", spy)
    assert gc.isenabled()
    result = run(command, VGG_LIKE)
    assert result.exit_code == (3 if fails else 0)
    assert seen == [False] and gc.isenabled()  # also after an error: many commands run in this process


def test_verify_without_torch_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    result = run("verify", "vgg16")
    assert result.exit_code == 2
    # the command installs torch itself into the environment running cnncalc: from a checkout or an install
    assert result.output.startswith("error: this needs PyTorch 2.1 or later (2.13.0 is tested), which is not "
                                    f"installed: {sys.executable} -m pip install torch==2.13.0")


def test_export_needs_no_torch(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    result = run("export", "INPUT 8x8x3 -> CONV3-4", "--to", "pytorch")
    assert result.exit_code == 0 and "class Net(nn.Module)" in result.output


@pytest.mark.slow
def test_python_dash_m_and_no_framework_import():
    result = subprocess.run([sys.executable, "-m", "cnncalc", "check", "vgg16"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith("ok: all 39 layers fit")
    probe = ("import sys, cnncalc; cnncalc.plan('INPUT 8x8x3 -> CONV3-4'); import cnncalc.cli; "
             "print(sorted(m for m in ('torch', 'tensorflow', 'jax') if m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True).stdout.strip() == "[]"


@pytest.mark.slow
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
    # the Python API behind `cnncalc export`, not the command line
    import cnncalc
    from cnncalc.pytorch.export import export_design

    with pytest.raises(cnncalc.SettingsError, match="optional must be include or exclude, got 'exlude'"):
        export_design("INPUT 8x8x3 -> POOL2?", optional="exlude")
    with pytest.raises(cnncalc.SettingsError, match="max_layers must be at least 1"):
        export_design("INPUT 8x8x3 -> RELU", max_layers=0)


# -- main() builds only the command it runs ---------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("command", ["plan", "check", "compare", "sweep", "draw", "export", "verify", "zoo", "schema"])
def test_the_application_of_one_command_is_the_whole_ones(command):
    """cli.command_app builds the command named (a cold `plan` does not build the other eight): its help,
    its usage errors and its exit codes are those of the whole application."""
    from typer.testing import CliRunner

    from cnncalc.cli import app, command_app

    assert [info.name for info in command_app([command, "-h"]).registered_commands] == [command]
    for args in ([command, "--help"], [command, "--no-such-option"], [command]):
        whole, slim = (CliRunner().invoke(a, args, prog_name="cnncalc") for a in (app, command_app(args)))
        assert (slim.exit_code, slim.output) == (whole.exit_code, whole.output)


@pytest.mark.parametrize("args", [[], ["--help"], ["--version"], ["vgg16"], ["plam"], ["--version", "plan"]])
def test_anything_but_a_command_gets_the_whole_application(args):
    from cnncalc.cli import app, command_app

    assert command_app(args) is app


def test_shell_completion_gets_the_whole_application(monkeypatch):
    from cnncalc.cli import app, command_app

    monkeypatch.setenv("_CNNCALC_COMPLETE", "complete_bash")
    assert command_app(["plan"]) is app


@pytest.mark.slow
def test_a_command_imports_its_own_module_and_the_whole_application_every_one():
    """A run of one command imports its module only (cli.COMMANDS); cnncalc.cli.app, the public face, has
    every command in the order --help lists them, whichever was imported first."""
    code = ("import sys; from cnncalc.cli import command_app; command_app(['plan', 'vgg16']); "
            "print(sorted(m for m in sys.modules if m.startswith('cnncalc.cli.'))); "
            "from cnncalc.cli import app; print([info.name for info in app.registered_commands])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    imported, names = done.stdout.splitlines()
    assert imported == str(["cnncalc.cli.application", "cnncalc.cli.io", "cnncalc.cli.options", "cnncalc.cli.plan",
                            "cnncalc.cli.terminal"])
    assert names == str(["compare", "draw", "export", "plan", "check", "schema", "sweep", "verify", "zoo"])


@pytest.mark.slow
@pytest.mark.parametrize("args, code", [(["plan", "vgg16", "--format", "json"], 0),
                                        (["plan", "INPUT 8x8x3 -> CONV3-4 ->"], 2),
                                        (["check", "INPUT 7x7x3 -> CONV3-10/5p0"], 1)])
def test_the_script_ends_with_its_output_flushed_and_its_atexit_handlers_run(args, code):
    """cli.console, the installed script, ends the process without tearing it down (os._exit): only after
    standard output and error are flushed and the atexit handlers have run, with the command's exit status."""
    program = ("import atexit, sys; atexit.register(lambda: print('handlers ran', file=sys.stderr)); "
               f"sys.argv = ['cnncalc', *{args!r}]; from cnncalc.cli import console; console()")
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True)
    assert done.returncode == code, done.stderr
    assert done.stderr.endswith("handlers ran\n")
    if code == 0:
        assert json.loads(done.stdout)["totals"]["params"] == 138_357_544  # all of it: VGG-16's params
    else:
        assert done.stdout == "" if code == 2 else "does not fit" in done.stdout + done.stderr


def test_a_message_for_an_exit_status_is_written_and_the_status_is_1(monkeypatch, capsys):
    monkeypatch.setattr("cnncalc.cli.main", lambda: sys.exit("stopped"))
    ended = []
    monkeypatch.setattr("os._exit", ended.append)
    monkeypatch.setattr("atexit._run_exitfuncs", lambda: ended.append("handlers"))  # not this process's own
    from cnncalc.cli import console

    console()
    assert ended == ["handlers", 1] and capsys.readouterr().err == "stopped\n"


@pytest.mark.parametrize("command", ["plan", "check", "draw", "verify", "export", "sweep", "compare"])
def test_a_command_without_a_design_gives_a_short_usage(command, monkeypatch, capsys):
    """Issue 22: `cnncalc plan` alone printed its 122-line help. Now: the usage, what it does, two examples
    and where the rest is, on standard error, exit 2."""
    from cnncalc.cli import main

    monkeypatch.setattr("sys.argv", ["cnncalc", command])
    with pytest.raises(SystemExit) as e:
        main()
    assert e.value.code == 2
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert out == "" and lines[0] == f"Usage: cnncalc {command} DESIGN [OPTIONS]" and len(lines) <= 10
    assert [line for line in lines if line.startswith(f"  cnncalc {command} ")][:2] and \
        lines[-1] == f"Every option: cnncalc {command} --help"


def test_an_output_extension_cnncalc_does_not_write_is_an_error(tmp_path):
    """`-o out.pdf` wrote a text table under a name that promised a PDF; a name without an extension still
    gets the table."""
    result = run("plan", "vgg16", "-o", tmp_path / "out.pdf")
    assert result.exit_code == 2 and "-o " in result.output and ".html" in result.output and ".md" in result.output
    assert not (tmp_path / "out.pdf").exists()
    assert run("plan", "vgg16", "-o", tmp_path / "out").exit_code == 0
    assert (tmp_path / "out").read_text().split()[:2] == ["#", "layer"]
    assert run("plan", "vgg16", "-o", tmp_path / "x.pdf", "-f", "json").exit_code == 0  # -f: any name


def test_check_prints_the_notes_with_the_misfits():
    """Issue 22: check dropped the notes when there was a misfit (CONV5-128/3's, which plan shows)."""
    design = "INPUT 227x227x3 -> CONV7-64/2 -> RELU -> POOL3/2 -> CONV5-128/3 -> RELU -> POOL2 -> FC-10"
    result = run("check", design)
    assert result.exit_code == 1 and result.stdout.count("misfit:") == 2
    import cnncalc

    planned = cnncalc.plan(design)
    assert result.stdout.count("\nnote: ") == len(planned.notes) >= 1


@pytest.mark.slow
def test_the_answer_first_warnings_on_stderr_notes_folded_assumptions_on_request():
    """Issue 22: at COLUMNS=120, ResNet-50 with a budget printed 62 lines after its table (8 three-line
    notes, 7 assumptions); warnings sat at the end of standard output."""
    import cnncalc

    result = run("plan", "resnet50", "--batch", "32", "--optimizer", "adam", "--budget", "8GiB", env={"COLUMNS": "120"})
    lines = result.stdout.splitlines()
    last_row = max(i for i, line in enumerate(lines) if line.strip().startswith(str(len(cnncalc.plan("resnet50").layers) - 1)))
    assert len(lines) - last_row - 1 <= 30
    assert "5 layers do not fit exactly but drop only padding" in result.stdout
    assert "Assumptions" not in lines and "--assumptions shows them" in result.stdout
    full = run("plan", "resnet50", "--notes", "--assumptions").stdout
    assert full.count("does not fit exactly (a note") == 8 and "\nAssumptions\n" in full
    warned = run("plan", "INPUT 8x8x4 -> GAP -> BN -> FC-3")  # BN over one value per channel at batch 1
    assert warned.stderr.startswith("warning: BN (line 1, column 23) normalises one value per channel")
    assert "Warnings" not in warned.stdout and "normalises" not in warned.stdout


def test_summary_is_the_headline_with_torchinfos_figures():
    """Issue 22: `plan --summary` prints only the headline, in at most 25 lines, with torchinfo's closing block's
    figures (total, trainable and non-trainable params, mult-adds, input, pass and params sizes, their total)."""
    import cnncalc

    result = run("plan", "resnet50", "--batch", "32", "--optimizer", "adam", "--budget", "8GiB", "--summary",
                 env={"COLUMNS": "120"})
    lines = result.stdout.splitlines()
    assert result.exit_code == 0 and lines[0] == "Summary" and len(lines) <= 25
    r = cnncalc.plan("resnet50", batch=32, optimizer="adam", budget="8GiB")
    labels = [line[2:19].strip() for line in lines[1:] if not line.startswith("   ")]
    assert labels == ["input", "rows", "total params", "trainable params", "non-trainable", "total mult-adds",
                      "params size", "pass sizes", "estimated total", "budget", "training peak", "inference peak",
                      "on the GPU", "fit"]
    assert f"{r.totals.params:,}" in result.stdout and f"{r.totals.macs:,} per image" in result.stdout
    assert f"is {r.budget.max_batch}" in result.stdout
    assert run("plan", "vgg16", "--summary", "-f", "json").exit_code == 2


def test_the_html_headline_shows_the_peak_and_the_budget_answer(tmp_path):
    import cnncalc

    assert run("plan", "resnet50", "--batch", "32", "--optimizer", "adam", "--budget", "8GiB",
               "-o", tmp_path / "r.html").exit_code == 0
    html = (tmp_path / "r.html").read_text()
    header = html[html.index("<header>"):html.index("</header>")]
    r = cnncalc.plan("resnet50", batch=32, optimizer="adam", budget="8GiB")
    assert f"budget 8.0 GiB: batch {r.budget.max_batch} fits" in header and "training peak 2.9 GiB at batch 32" in header
