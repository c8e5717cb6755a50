"""The command line on a terminal and through a pipe: at 80 columns nothing a user must type is
cut (the plan table, the zoo list); `check` wraps its messages at word boundaries; a pipe gets
every totals and assumptions line whole; a terminal that reports 0x0, and COLUMNS, are handled;
NO_COLOR turns off all styling; a standard output that cannot write box characters gets ASCII.
"""

from __future__ import annotations

import fcntl
import io
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest
from conftest import run_cli

from cnncalc import zoo
from cnncalc.cli import box_characters, output_width
from cnncalc.planner import plan_data
from cnncalc.render.sections import totals_lines
from cnncalc.render.table import wrap

ROOT = Path(__file__).parent.parent
ANSI = re.compile(r"\033\[[0-9;]*m")
MISFIT = "INPUT 7x7x3 -> CONV3-10/5p0 -> CONV3-4/2"


def run(*args, columns: str | None = None, **env):
    return run_cli(*args, env={"COLUMNS": columns, **env})


def on_terminal(*args, rows: int = 24, cols: int = 80, **env) -> str:
    """What `cnncalc ARGS` writes to a pseudo-terminal of rows x cols (0x0: one that reports no size)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    environ = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "NO_COLOR", "LINES")}
    environ.update(env)
    process = subprocess.Popen([sys.executable, "-m", "cnncalc", *args], stdout=slave, stderr=slave, cwd=ROOT,
                               env=environ)
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    process.wait(timeout=60)
    os.close(master)
    return b"".join(chunks).decode("utf-8").replace("\r\n", "\n")


# -- the plan table ---------------------------------------------------------------------------------

@pytest.mark.parametrize("design", ["resnet18", "googlenet", "vgg16", "mobilenet_v2"])
def test_at_80_columns_every_line_fits_and_names_are_whole(design):
    text = run("plan", design, columns="80").stdout
    assert all(len(line) <= 80 for line in text.splitlines())
    data = plan_data(zoo.path(design).read_text())
    table = text.split("\n\n")[0]
    for row in data["layers"]:
        assert re.search(rf"^ *{row['index']}  [┌├│└─\d ]*{re.escape(row['name'])}( |$)", table, re.M), row["name"]


def test_a_terminal_gets_colour_and_its_width():
    text = on_terminal("plan", "resnet18", cols=80)
    assert "\033[1m" in text  # the header in bold
    assert all(len(line) <= 80 for line in ANSI.sub("", text).splitlines())
    wide = ANSI.sub("", on_terminal("plan", "resnet18", cols=200))
    assert "RF size/stride/pad" in wide.splitlines()[0] and "saved/batch of 1" in wide.splitlines()[0]


@pytest.mark.slow
def test_no_color_turns_off_all_styling():
    assert "\033" not in on_terminal("plan", "resnet18", NO_COLOR="1")
    assert "\033" not in on_terminal("plan", MISFIT, NO_COLOR="1")
    assert "\033" not in on_terminal("plan", "--strict", MISFIT, NO_COLOR="1")
    assert "\033" in on_terminal("plan", MISFIT, NO_COLOR="")  # set but empty: no-color.org says ignore it


def test_a_terminal_that_reports_0x0_is_taken_as_80_columns():
    text = ANSI.sub("", on_terminal("plan", "resnet18", rows=0, cols=0))
    assert all(len(line) <= 80 for line in text.splitlines())
    assert "(hidden to fit 80 columns:" in text


@pytest.mark.slow
def test_columns_sets_the_width_on_a_terminal_and_through_a_pipe():
    narrow = ANSI.sub("", on_terminal("plan", "resnet18", cols=200, COLUMNS="60"))
    assert max(map(len, narrow.splitlines())) <= 60 or "(hidden to fit 60 columns" in narrow
    piped = run("plan", "resnet18", columns="60").stdout
    assert "(hidden to fit 60 columns" in piped
    for bad in ("0", "-5", "abc", "", "٣"):  # not a width: a pipe keeps every column and line
        assert run("plan", "resnet18", columns=bad).stdout == run("plan", "resnet18").stdout


def test_output_width(monkeypatch):
    monkeypatch.setenv("COLUMNS", "123")
    assert output_width(io.StringIO()) == 123
    monkeypatch.delenv("COLUMNS")
    assert output_width(io.StringIO()) is None  # not a terminal: no width
    master, slave = pty.openpty()
    try:
        for size, width in (((30, 100), 100), ((0, 0), 80)):
            fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", *size, 0, 0))
            with open(slave, "w", closefd=False) as stream:
                assert output_width(stream) == width
    finally:
        os.close(master)
        os.close(slave)


def test_a_pipe_gets_totals_and_assumptions_whole():
    text = run("plan", "resnet18", "--assumptions").stdout
    data = plan_data(zoo.path("resnet18").read_text())
    lines = text.splitlines()
    totals = lines[lines.index("Totals") + 1:lines.index("Fit")]
    assert totals == [f"  {name:<16} {value}" for name, value in totals_lines(data)]
    assumptions = lines[lines.index("Assumptions") + 1:]
    assert assumptions == [f"  {a}" for a in data["assumptions"]]
    assert max(map(len, lines)) > 120  # nothing was wrapped to a width


def test_a_terminal_wraps_the_sections_under_their_text():
    text = run("plan", "resnet18", columns="80").stdout
    lines = text.splitlines()
    totals = lines[lines.index("Totals") + 1:lines.index("Fit")]
    assert all(line.startswith("  ") and len(line) <= 80 for line in totals)
    continued = [line for line in totals if line.startswith(" " * 19)]
    assert continued and all(not line.startswith(" " * 20) for line in continued)  # under the values


# -- check ------------------------------------------------------------------------------------------

def test_check_wraps_messages_at_word_boundaries():
    whole = run("check", MISFIT).stdout.splitlines()
    assert whole[0].startswith("misfit: CONV3-10/5p0 does not fit") and len(whole[0]) > 100  # a pipe: one line
    narrow = run("check", MISFIT, columns="60").stdout.splitlines()
    head = narrow[:narrow.index("  " + MISFIT)]
    assert all(len(line) <= 60 for line in head) and len(head) > 2
    assert all(line.startswith(" " * 8) for line in head[1:])  # under the message, after "misfit: "
    assert " ".join(line.strip() for line in head) == whole[0]  # no word cut, none lost
    assert "(7 - 3 + 2*0)/5 + 1 = 1.8" in "\n".join(head)  # the arithmetic is kept on one line
    assert narrow[len(head):len(head) + 2] == whole[1:3]  # the design line and the carets, untouched
    hint = [line for line in narrow if line.startswith("hint:")]
    assert hint and all(len(line) <= 60 for line in narrow[narrow.index(hint[0]):])


def test_check_wraps_on_a_terminal_and_ok_lines_too():
    text = on_terminal("check", "resnet18", cols=60)
    assert all(len(line) <= 60 for line in text.splitlines())
    assert text.startswith("ok: all 74 layers fit") and "\n    " in text


@pytest.mark.parametrize("text, width", [
    ("a misfit: CONV7-64/2 drops rows: (224 - 7 + 2*3)/2 + 1 = 112.5, params 44.6 MiB (line 7, column 20)", 40),
    ("word " * 40, 30),
])
def test_wrap_keeps_words_sizes_and_arithmetic(text, width):
    lines = wrap(text.strip(), width, "", "    ")
    assert " ".join(line.strip() for line in lines) == " ".join(text.split())
    assert all(len(line) <= width for line in lines)
    for kept in ("CONV7-64/2", "(224 - 7 + 2*3)/2 + 1 = 112.5,", "44.6 MiB", "line 7,", "column 20)"):
        assert not text.startswith("a ") or any(kept in line for line in lines), kept
    assert wrap(text, None, "  ") == ["  " + text]


# -- zoo --------------------------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("columns", ["80", "60", "100"])
def test_zoo_never_cuts_a_name(columns):
    lines = run("zoo", columns=columns).stdout.splitlines()
    width = int(columns)
    for name in zoo.names():
        row = next(line for line in lines if line.split()[0] == name)
        assert len(row) <= max(width, 66)  # name, input, params and MACs are never cut: 66 columns
    assert all(len(line) <= max(width, 66) for line in lines)
    if width < 120:
        note = " ".join(lines[next(i for i, line in enumerate(lines) if line.startswith("(hidden")):])
        assert note.startswith(f"(hidden to fit {width} columns: RF at the last spatial layer")


@pytest.mark.slow
def test_zoo_on_100_columns_shortens_the_sources_not_the_names():
    lines = run("zoo", columns="100").stdout.splitlines()
    assert lines[0].split() == ["name", "input", "params", "MACs", "source"]
    assert any(line.startswith("alexnet_paper  ") for line in lines)
    assert any(line.startswith("mobilenet_v2   ") and line.endswith("…") for line in lines)
    assert run("zoo").stdout == run("zoo", columns="1000").stdout  # a pipe: every column whole


# -- encodings --------------------------------------------------------------------------------------

def test_a_stream_that_cannot_write_box_characters_gets_ascii():
    latin = io.TextIOWrapper(io.BytesIO(), encoding="latin-1")
    assert not box_characters(latin) and box_characters(io.TextIOWrapper(io.BytesIO(), encoding="utf-8"))
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"} | {"PYTHONIOENCODING": "latin-1"}
    out = subprocess.run([sys.executable, "-m", "cnncalc", "plan", "resnet18"], capture_output=True, cwd=ROOT,
                         env=env, check=True).stdout.decode("latin-1")
    assert "\n 5  /1 ID " in out and "\n 7  |  BN " in out and "\n11  \\- ADD " in out
