"""Robustness, round three (issue 21): the defects an adversarial run found in the language features
added since 0.3, one test per defect class that would have caught it. Crashes become clean errors or
right answers; every reader of a user's text holds the same bounds (cnncalc/limits.py)."""

from __future__ import annotations

import pytest
from conftest import run_cli

import cnncalc
from cnncalc.limits import MAX_DIGITS, MAX_NESTING

SWEEPABLE = "w = 2\nINPUT 8x8x3 -> CONV3-w"


# -- crashes --------------------------------------------------------------------------------------------
NESTED_SPLITS = [
    "INPUT 4x4x8 -> CONV1-8 -> (ID || (TANH || TANH))",
    "INPUT 4x4x8 -> CONV1-8 -> ((ID || RELU) || (TANH || [CONV1-2 -> RELU]))",
    "INPUT 8x8x8 -> CONV1-8 -> ((ID || (RELU || CONV1-2)) || [CONV3-4 -> TANH]) -> GAP -> FC-5",
]


@pytest.mark.parametrize("design", NESTED_SPLITS)
def test_a_channel_split_nested_in_a_channel_split_plans(design):
    """Was internal error KeyError in plan, sweep and verify: the inner split's halves view a half."""
    report = cnncalc.plan(design, batch=4, optimizer="adam")
    assert report.totals.memory.training_peak_bytes > report.totals.memory.params_bytes
    variable = "w = 8\n" + design.replace("CONV1-8", "CONV1-w")
    assert [row["point"]["w"] for row in cnncalc.sweep(variable, vary={"w": [8, 16]})] == [8, 16]
    result = run_cli("sweep", variable, "--vary", "w=8,16")
    assert result.exit_code == 0 and "2 computed, 0 failed" in result.output


@pytest.mark.parametrize("design", ["INPUT 8x8x4 -> CONV1-4 -> {ID} -> FC-3", "INPUT 8x8x4 -> {ID} -> FC-3",
                                    "INPUT 8x8x4 -> CONV1-4 -> [{ID} -> CONV1-2]*2 -> FC-3"])
@pytest.mark.parametrize("direction", ["down", "right"])
def test_a_side_head_that_is_only_id_draws(design, direction, tmp_path):
    """Was IndexError in draw and the HTML report: the head has no arm, only its output node."""
    svg = tmp_path / "d.svg"
    assert run_cli("draw", design, "--direction", direction, "-o", svg).exit_code == 0
    assert svg.read_text().count('class="node merge"') + svg.read_text().count("OUTPUT") >= 1
    html = tmp_path / "r.html"
    assert run_cli("plan", design, "-o", html).exit_code == 0
    assert "OUTPUT" in html.read_text()


def test_block_calls_nested_as_arguments_stop_at_the_nesting_bound():
    """Was RecursionError: f(f(f(...))) counts as nesting, as brackets do."""
    deep = "f(x) = x\nINPUT 8x8x3 -> " + "f(" * 2000 + "RELU" + ")" * 2000
    with pytest.raises(cnncalc.DesignSyntaxError, match=f"nested more than {MAX_NESTING} levels"):
        cnncalc.plan(deep)
    result = run_cli("plan", deep)
    assert result.exit_code == 2 and f"nested more than {MAX_NESTING} levels" in result.output
    shallow = "f(x) = x\nINPUT 8x8x3 -> " + "f(" * 40 + "RELU" + ")" * 40
    assert [r.name for r in cnncalc.plan(shallow).layers][-1] == "RELU"


def test_where_stops_at_the_nesting_bound():
    """Was RecursionError: parentheses, 'not' and '-' count, with the position of the first too deep."""
    for deep in ["(" * 5000 + "params > 1" + ")" * 5000, "not " * 5000 + "fits", "params > " + "-" * 5000 + "1"]:
        with pytest.raises(cnncalc.SettingsError, match=f"--where is nested more than {MAX_NESTING} levels"):
            cnncalc.sweep(SWEEPABLE, vary={"w": [1, 2]}, where=deep)
        result = run_cli("sweep", SWEEPABLE, "--vary", "w=1,2", "--where", deep)
        assert result.exit_code == 2 and "nested more than" in result.output
    within = "(" * MAX_NESTING + "params > 1" + ")" * MAX_NESTING
    assert len(list(cnncalc.sweep(SWEEPABLE, vary={"w": [1, 2]}, where=within))) == 2


def test_long_where_chains_evaluate_without_recursing():
    """5,000 'and's or '+'s are a flat chain, not 5,000 nested calls, and keep Python's meaning."""
    swept = cnncalc.sweep(SWEEPABLE, vary={"w": [1, 2]}, where=" and ".join(["params > 1"] * 5000))
    assert [row["point"]["w"] for row in swept] == [1, 2]
    # conv params: 3*3*3*w + w = 28w: 28 and 56; the sum of 5,000 ones is 5,000, of 40 ones 40
    swept = cnncalc.sweep(SWEEPABLE, vary={"w": [1, 2]}, where="params > " + "+".join(["1"] * 40))
    assert [row["point"]["w"] for row in swept] == [2]
    swept = cnncalc.sweep(SWEEPABLE, vary={"w": [1, 2]}, where="params > " + "+".join(["1"] * 5000))
    assert [row["point"]["w"] for row in swept] == []
    swept = cnncalc.sweep(SWEEPABLE, vary={"w": [1, 2]}, where="params < 30 or params > 50 or params > 1000")
    assert [row["point"]["w"] for row in swept] == [1, 2]


HUGE = "9" * 5000  # past Python's 4,300-digit limit on int()


@pytest.mark.parametrize("args, where", [
    (["sweep", SWEEPABLE, "--vary", "w=1,2", "--where", f"params > {HUGE}"], "--where"),
    (["sweep", SWEEPABLE, "--vary", "w=1,2", "--where", f"params > 1.{HUGE} and params < {HUGE}"], "--where"),
    (["sweep", SWEEPABLE, "--vary", f"w=1,{HUGE}"], "--vary"),
    (["sweep", SWEEPABLE, "--vary", f"w=1..{HUGE}"], "--vary"),
    (["plan", "INPUT 8x8x3 -> CONV3-4", "--input", f"{HUGE}x8x3"], "input size"),
])
def test_numbers_of_thousands_of_digits_are_clean_errors(args, where):
    """Was ValueError (Python's int() limit): refused before conversion, one bound for every reader."""
    result = run_cli(*args)
    assert result.exit_code == 2, result.output
    assert where in result.output and ("too large" in result.output)
    assert len(result.output) < 2000  # the number is not echoed whole


def test_the_digit_bound_is_the_designs():
    ok = "1" + "0" * (MAX_DIGITS - 1)  # 10**14: the largest power of ten a design takes
    assert len(list(cnncalc.sweep(SWEEPABLE, vary={"w": [1, 2]}, where=f"params < {ok}"))) == 2
    with pytest.raises(cnncalc.SettingsError, match=f"at most {MAX_DIGITS} digits"):
        cnncalc.sweep(SWEEPABLE, vary={"w": [1, 2]}, where=f"params < {ok}0")
    with pytest.raises(cnncalc.DesignSyntaxError, match=f"at most {MAX_DIGITS} digits"):
        cnncalc.plan(f"INPUT 8x8x3 -> CONV3-{ok}0")


@pytest.mark.parametrize("design", ["INPUT 8x8x3 -> BN(eps=1e999)", "INPUT 8x8x3 -> LEAKYRELU(1e999)",
                                    "INPUT 8x8x3 -> ELU(alpha=1e400)", "INPUT 8x8x3 -> SCALE(1E999)",
                                    "INPUT 8x8x3 -> LEAKYRELU(9" + "9" * 400 + ".5)"])
def test_an_infinite_float_is_refused(design):
    """Was accepted and exported as `inf`, which the module cannot run."""
    with pytest.raises(cnncalc.DesignSyntaxError, match="number too large"):
        cnncalc.plan(design)


def test_a_float_that_underflows_to_zero_is_refused():
    with pytest.raises(cnncalc.DesignSyntaxError, match="rounds to 0"):
        cnncalc.plan("INPUT 8x8x3 -> BN(eps=1e-999)")
    assert cnncalc.plan("INPUT 8x8x3 -> SCALE(0.0)").layers[-1].name.startswith("SCALE")


# -- wrong values -----------------------------------------------------------------------------------------
def test_a_side_head_in_an_arm_takes_its_own_arm_not_the_sibling():
    """Was charged with the sibling arm's CONV3-64 (2,403 params): the head reads CONV1-4 and itself."""
    heads = cnncalc.plan("INPUT 8x8x4 -> (CONV3-64 | [CONV1-4 -> {GAP -> FC-3}]) -> GAP -> FC-10").totals.heads
    conv1 = 1 * 1 * 4 * 4 + 4
    fc3 = 4 * 3 + 3
    assert (heads[1].params, heads[1].macs) == (conv1 + fc3, 8 * 8 * 4 * 4 + 4 * 3)
    conv3 = 3 * 3 * 4 * 64 + 64
    fc10 = (64 + 4) * 10 + 10
    assert heads[0].params == conv3 + conv1 + fc10  # the network's own output: both arms, not the head


def test_side_heads_take_the_trunk_before_them_and_a_split_half():
    heads = cnncalc.plan("INPUT 8x8x4 -> CONV1-4 -> {GAP -> FC-3} -> CONV1-2 -> {FC-2}").totals.heads
    conv_a, conv_b = 4 * 4 + 4, 4 * 2 + 2
    assert [h.params for h in heads] == [conv_a + conv_b, conv_a + 4 * 3 + 3, conv_a + conv_b + 8 * 8 * 2 * 2 + 2]
    heads = cnncalc.plan("INPUT 8x8x4 -> CONV1-4 -> (ID || [CONV1-2 -> {FC-5}]) -> FC-3").totals.heads
    conv_half = 2 * 2 + 2
    assert heads[1].params == conv_a + conv_half + 8 * 8 * 2 * 5 + 5
    assert heads[0].params == conv_a + conv_half + 8 * 8 * 4 * 3 + 3


def test_many_side_heads_plan_in_one_pass():
    """Each head summed every row before it: 5,000 heads planned in 6.5 s. Now the heads' sums are one
    pass (benchmarks/worst.py times 6,000); here, the figures of a long run are the formula's."""
    n = 300
    heads = cnncalc.plan(f"INPUT 8x8x4 -> [{{GAP -> FC-3}} -> CONV1-4]*{n} -> CONV1-2").totals.heads
    conv, fc = 4 * 4 + 4, 4 * 3 + 3
    assert len(heads) == n + 1
    assert [h.params for h in heads[1:]] == [k * conv + fc for k in range(n)]
    assert heads[0].params == n * conv + 4 * 2 + 2


# -- injection ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("start", ["=", "+", "-", "@"])
def test_compare_csv_never_writes_a_formula(start, tmp_path, monkeypatch):
    """A design label that starts with = + - @ reached a CSV cell unescaped (spreadsheet formula
    injection): it gets OWASP's leading apostrophe; numbers such as -2 are left alone."""
    monkeypatch.chdir(tmp_path)
    name = f"{start}cmd|' -C calc'!A0.cnn"
    (tmp_path / name).write_text("INPUT 8x8x3 -> CONV3-4\n")
    result = run_cli("compare", "-f", "csv", "--", name, "INPUT 8x8x3 -> CONV3-8")
    assert result.exit_code == 0, result.output
    cells = [line.split(",")[0] for line in result.stdout.splitlines()[1:]]
    assert cells[0].strip('"') == "'" + name
    assert not any(c.startswith(("=", "+", "-", "@")) for line in result.stdout.splitlines() for c in line.split(","))


def test_csv_text_cells_and_numbers():
    from cnncalc.render.csv import text_cell

    assert [text_cell(v) for v in ("=1+2", "+1", "-1+2", "@SUM(A1)", "\tx", "-2", "+3.5", "-2.25", "CONV3-64")] == \
        ["'=1+2", "+1", "'-1+2", "'@SUM(A1)", "'\tx", "-2", "+3.5", "-2.25", "CONV3-64"]
    assert text_cell(-2) == -2 and text_cell(None) is None


EVIL = "evil\x1b[31mred\u202egpj\u200b"  # an escape sequence, a right-to-left override, a zero-width space


def _clean(text: str, lt: str = "<") -> None:
    assert "\x1b" not in text and "\u202e" not in text and "\u200b" not in text
    assert f"{lt}U+001B" in text and f"{lt}U+202E" in text


def test_control_and_bidi_characters_are_shown_not_sent(tmp_path, monkeypatch):
    """Control characters and bidi overrides in file names and -D texts reached the terminal, markdown
    and HTML raw; they are written as <U+XXXX>, as the error caret already did."""
    monkeypatch.chdir(tmp_path)
    name = EVIL + ".cnn"
    (tmp_path / name).write_text("INPUT 8x8x3 -> CONV3-4\n")
    for args in (["compare", name, "INPUT 8x8x3 -> CONV3-8"], ["compare", name, name, "-f", "markdown"],
                 ["compare", name, name, "-f", "csv"]):
        result = run_cli(*args)
        assert result.exit_code == 0, result.output
        _clean(result.output)
    assert run_cli("plan", name, "-o", "r.html").exit_code == 0
    _clean((tmp_path / "r.html").read_text(), lt="&lt;")
    result = run_cli("plan", name, "-D", f"conv.filters=8 # {EVIL}")
    assert "changes nothing" in result.output
    _clean(result.output)
    result = run_cli("plan", "INPUT 8x8x3 -> CONV3-w", "-D", f"w = ) # {EVIL}")
    assert result.exit_code == 2
    _clean(result.output)


# -- file safety -------------------------------------------------------------------------------------------
def test_a_sweep_that_computes_no_point_leaves_the_file(tmp_path):
    """It replaced an existing --force file with a header and no rows; a failed plan keeps it, and so does
    this sweep now (exit 1, the reason on standard error)."""
    out = tmp_path / "keep.md"
    out.write_text("keep\n")
    result = run_cli("sweep", SWEEPABLE, "--vary", "w=0", "-o", out, "--force")
    assert result.exit_code == 1 and "not written" in result.stderr and "filters must be at least 1" in result.stderr
    assert out.read_text() == "keep\n" and [p.name for p in tmp_path.iterdir()] == ["keep.md"]
    result = run_cli("sweep", SWEEPABLE, "--vary", "w=0,1", "-o", out, "--force")  # one point computes
    assert result.exit_code == 0 and out.read_text().startswith("| index | w |")


def test_output_paths_that_cannot_be_written_say_why(tmp_path):
    result = run_cli("plan", "vgg16", "-o", "")
    assert result.exit_code == 2 and "-o needs a file name" in result.output
    result = run_cli("plan", "vgg16", "-o", "/proc/version", "--force")
    assert result.exit_code == 2 and "cannot create a file in /proc" in result.output


@pytest.mark.slow
@pytest.mark.parametrize("jobs", [1, 2])
def test_sigterm_during_sweep_leaves_nothing_and_says_nothing(jobs, tmp_path):
    """SIGTERM during `sweep -o FILE` left the temporary file and printed the workers' tracebacks; now it
    unwinds as Ctrl-C does: exit 143, no file, nothing on standard error."""
    import os
    import signal
    import subprocess
    import sys
    import time

    design = "w = 2\nINPUT 32x32x3 -> [CONV3-w -> RELU]*20 -> GAP -> FC-10"
    process = subprocess.Popen([sys.executable, "-m", "cnncalc", "sweep", design, "--vary", "w=1..400000",
                                "-o", "out.csv", "--jobs", str(jobs)], cwd=tmp_path, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 60
    while not any(p.name.endswith(".tmp") for p in tmp_path.iterdir()):  # writing has begun
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGTERM)  # the whole group, as a terminal or a job runner does
    _, stderr = process.communicate(timeout=60)
    assert process.returncode in (128 + signal.SIGTERM, -signal.SIGTERM), stderr
    assert stderr == "" and list(tmp_path.iterdir()) == []



@pytest.mark.slow
def test_a_sweep_worker_killed_from_outside_ends_the_sweep_with_one_line(tmp_path):
    """As the out-of-memory killer does: SIGKILL to one worker. multiprocessing.Pool waited for ever;
    now the sweep ends with one line that says what happened, exit 3, and no -o file."""
    import os
    import signal
    import subprocess
    import sys
    import time

    design = "w = 2\nINPUT 32x32x3 -> [CONV3-w -> RELU]*20 -> GAP -> FC-10"
    process = subprocess.Popen([sys.executable, "-m", "cnncalc", "sweep", design, "--vary", "w=1..400000",
                                "-o", "out.csv", "--jobs", "2"], cwd=tmp_path, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    children = f"/proc/{process.pid}/task/{process.pid}/children"
    deadline = time.monotonic() + 60
    while not any(p.name.endswith(".tmp") for p in tmp_path.iterdir()) or not open(children).read().split():
        assert time.monotonic() < deadline and process.poll() is None  # writing has begun, a worker runs
        time.sleep(0.05)
    worker = int(open(children).read().split()[0])
    os.kill(worker, signal.SIGKILL)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 3 and list(tmp_path.iterdir()) == []
    assert stderr == f"error: sweep worker process {worker} was killed by signal 9 before it answered: killed " \
        "from outside or out of memory? --jobs 1 computes in this process\n"


@pytest.mark.slow
def test_sweep_workers_end_when_their_parent_is_killed(tmp_path):
    """SIGKILL to the sweep (nothing of it can run): its worker processes see their pipes end and exit,
    none is left computing for nobody."""
    import os
    import signal
    import subprocess
    import sys
    import time

    design = "w = 2\nINPUT 32x32x3 -> [CONV3-w -> RELU]*20 -> GAP -> FC-10"
    process = subprocess.Popen([sys.executable, "-m", "cnncalc", "sweep", design, "--vary", "w=1..400000",
                                "-o", "out.csv", "--jobs", "2"], cwd=tmp_path, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    children = f"/proc/{process.pid}/task/{process.pid}/children"
    deadline = time.monotonic() + 60
    while len(open(children).read().split()) < 2:  # both workers started
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.05)
    workers = [int(pid) for pid in open(children).read().split()]
    os.kill(process.pid, signal.SIGKILL)
    process.wait()

    def running(pid: int) -> bool:
        try:
            return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"
        except FileNotFoundError:
            return False

    deadline = time.monotonic() + 30
    while any(running(pid) for pid in workers):
        assert time.monotonic() < deadline, "a sweep worker outlived its parent"
        time.sleep(0.05)

# -- a user's design broke on upgrade ------------------------------------------------------------------------
DENSE_BLOCK = "dense = (ID | [BN -> RELU -> CONV1-128 -> BN -> RELU -> CONV3-32])\n"


@pytest.mark.parametrize("name", ["dense", "linear", "ln", "crop", "relu", "conv", "max", "make_divisible"])
def test_a_definition_named_like_a_layer_word_wins(name):
    """0.4's alias DENSE broke every design with a block named `dense` ("'dense' is a layer name"); LINEAR,
    LN and CROP did the same. The user's definition wins, with a warning naming what it hides."""
    design = f"{name} = (ID | [BN -> RELU -> CONV1-4])\nINPUT 8x8x4 -> {name} -> {name} -> GAP -> FC-3"
    report = cnncalc.plan(design)
    assert [r.kind for r in report.layers].count("concat") == 2
    assert report.layers[-1].output.c == 3 and report.layers[-2].output.c == 4 + 4 + 4
    assert any(w.startswith(f"'{name}' (line 1, column 1) is your definition") for w in report.warnings)


def test_the_densenet_block_of_issue_21_plans_as_in_0_3():
    report = cnncalc.plan(DENSE_BLOCK + "INPUT 56x56x64 -> [dense]*6 -> BN -> RELU -> GAP -> FC-10")
    assert report.totals.heads is None and report.layers[-1].output.c == 10
    assert report.layers[-4].output.c == 64 + 6 * 32
    one_by_one = sum((64 + 32 * k) * 128 + 128 for k in range(6))  # each layer's input grows by 32 channels
    three_by_three = 6 * (3 * 3 * 128 * 32 + 32)
    bns = sum(2 * (64 + 32 * k) + 2 * 128 for k in range(6)) + 2 * (64 + 6 * 32)
    assert report.totals.params == one_by_one + three_by_three + bns + (64 + 6 * 32) * 10 + 10


def test_a_shadowing_block_defined_after_its_use_and_the_layer_by_another_spelling():
    design = "a = [dense -> RELU]\n" + DENSE_BLOCK.replace("CONV1-128", "CONV1-8").replace("CONV3-32", "CONV3-4") + \
        "INPUT 8x8x4 -> a -> DENSE-3"  # DENSE written in capitals: the layer (FC)
    report = cnncalc.plan(design)
    assert [r.kind for r in report.layers][-3:] == ["concat", "act", "fc"]
    assert report.layers[-1].params == 8 * 8 * 8 * 3 + 3


def test_a_shadowing_definition_still_refuses_recursion_and_takes_d_overrides():
    with pytest.raises(cnncalc.DesignError, match="uses itself"):
        cnncalc.plan("relu = [BN -> relu]\nINPUT 8x8x4 -> relu")
    report = cnncalc.plan("dense = [BN]\nINPUT 8x8x4 -> dense -> GAP", defines=["dense = [BN -> RELU]"])
    assert [r.kind for r in report.layers] == ["input", "bn", "act", "gap"]
    assert cnncalc.plan("max = 3\nINPUT 8x8x4 -> CONV3-max -> CONV1-(max(2, 5))").layers[-1].output.c == 5


SE_GATED = "INPUT 32x32x8 -> CONV3-8/2 -> (ID .* [GAP -> CONV1-8 -> SIGMOID]) -> GAP -> FC-10"


@pytest.mark.parametrize("design, budget", [(SE_GATED, "1GiB"), ("mobilenet_v3_large", "8GiB"),
                                            ("efficientnet_b0", "8GiB"), ("regnet_y_400mf", "8GiB")])
def test_max_input_through_a_squeeze_excitation_gate(design, budget):
    """The fit search walked a gate's 1x1 arm as a misfit of the merge, so no square input was ever found
    for a design with a squeeze-excitation gate; a gate's 1 broadcasts (the product merge's axis rule)."""
    found = cnncalc.plan(design, budget=budget, max_input=True).budget.max_input
    assert found is not None and found.h == found.w > 224
    c = found.c
    at = cnncalc.plan(design, budget=budget, input=f"{found.h}x{found.w}x{c}")
    assert not at.problems and at.budget.max_batch >= 1
    twice = cnncalc.plan(design, budget=budget, input=f"{2 * found.h}x{2 * found.w}x{c}")
    assert not twice.budget.max_batch  # the peak grows with the input: twice the side does not fit


# -- misleading messages, GROUPNORM ---------------------------------------------------------------------------
@pytest.mark.parametrize("design, message", [
    ("INPUT 8x8x3 -> CROP", "CROP has no size: write it, as in CROP392"),  # was: set crop.None = CROP392
    ("INPUT 8x8x3 -> DROPPATH", "DROPPATH has no drop probability: write it, as in DROPPATH(0.1)"),
    ("INPUT 8x8x3 -> ADAPTIVEPOOL", "ADAPTIVEPOOL has no output size: write it, as in ADAPTIVEAVGPOOL7"),
    # was: set groupnorm.groups = GROUPNORM(32), which does not plan
    ("INPUT 8x8x4 -> GROUPNORM", "GROUPNORM has no group count: write GROUPNORM(32), or set groupnorm.groups = 32 "
                                 "in the design (or -D groupnorm.groups=32)"),
    ("INPUT 8x8x3 -> DROPPATH(1.5)", "got 1.5 (at 1 it drops every path)"),  # was: at 0 it does nothing
    ("INPUT 8x8x3 -> DROPPATH(0)", "got 0 (at 0 it does nothing: leave the layer out)"),
    # was: it needs from 2 to 1 groups
    ("INPUT 8x8x3 -> SHUFFLE(3)", "a shuffle needs at least 2 groups of at least 2 channels (4 channels or more)"),
])
def test_messages_point_at_the_fix(design, message):
    with pytest.raises(cnncalc.DesignError) as e:
        cnncalc.plan(design)
    assert message in e.value.message


def test_the_suggested_default_plans():
    """What the GROUPNORM message suggests works as written."""
    assert cnncalc.plan("groupnorm.groups = 32\nINPUT 8x8x64 -> GROUPNORM").layers[-1].name == "GROUPNORM(32)"
    assert cnncalc.plan("INPUT 8x8x64 -> GROUPNORM", defines=["groupnorm.groups=32"]).layers[-1].name == "GROUPNORM(32)"


def test_groupnorm_over_one_value_warns_with_the_batch_that_runs():
    """GROUPNORM(4) on 1x1x4 at batch 1 planned silently; PyTorch refuses it (F.group_norm checks the batch
    times a group's values, in both modes): a warning, and the design still plans."""
    design = "INPUT 8x8x4 -> GAP -> GROUPNORM(4) -> FC-3"
    warned = [w for w in cnncalc.plan(design).warnings if "GROUPNORM(4)" in w]
    assert len(warned) == 1 and "one value per group at batch 1" in warned[0] and "run it at batch 2" in warned[0]
    assert not [w for w in cnncalc.plan(design, batch=2).warnings if "GROUPNORM" in w]
    assert not [w for w in cnncalc.plan(design.replace("GROUPNORM(4)", "GROUPNORM(2)")).warnings if "GROUPNORM" in w]


@pytest.mark.parametrize("size", [5, 16])
def test_the_field_after_groupnorm_holds_for_every_pixel(size):
    """GroupNorm pools each group over every position: the field reported held for pixel 0 alone. Now every
    output pixel's window (start i*stride - pad, length size) covers the whole input."""
    report = cnncalc.plan(f"INPUT {size}x{size}x8 -> CONV3-8 -> GROUPNORM(2) -> CONV3-8")
    for row in report.layers[2:]:
        (k, _), (s, _), (p, _) = row.rf.size, row.rf.stride, row.rf.padding
        for i in range(size):
            assert i * s - p <= 0 and i * s - p + k - 1 >= size - 1


@pytest.mark.parametrize("design, message", [
    ("INPUT 8x8x3 -> [CONV3-4 -> RELU]x2", "a repeat is written with '*': ]*2, not ]x2"),
    ("INPUT 8x8x3 -> DROPOUT0.5", "a fraction is written in parentheses after the layer: DROPOUT(0.5), not DROPOUT0.5"),
    ("INPUT 8x8x3 -> CONV1D3-64", "CONV1D3 reads as CONV1 with a dilation: cnncalc writes a 2-D layer as CONV3-64"),
    ("INPUT 8x8x3 -> CONV3d2-64", "the filter count of CONV comes right after the kernel"),  # a dilation, as before
])
def test_errors_that_name_the_fix(design, message):
    """Issue 22, point 10: these errors did not point at the fix."""
    with pytest.raises(cnncalc.DesignSyntaxError) as e:
        cnncalc.plan(design)
    assert e.value.message.startswith(message)


def test_volumes_suggests_only_the_depths_it_can_draw():
    """`draw unet --style volumes` suggested --depth 1 to 13, and --depth 3 was an error."""
    result = run_cli("draw", "unet", "--style", "volumes")
    assert result.exit_code == 0 and "choose with --depth N (1 to 2)" in result.stderr
    assert run_cli("draw", "unet", "--style", "volumes", "--depth", "2").exit_code == 0
    assert run_cli("draw", "unet", "--style", "volumes", "--depth", "3").exit_code == 2
