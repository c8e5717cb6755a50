"""Every command and snippet of the README runs as written (issue 22), and shows what it prints.

- a fenced block that starts with `$ cnncalc ...` (continued over lines with a backslash) is run
  (in process, at COLUMNS=120, in docs/designs/ where the README says the course designs are) and its
  output must be the lines shown after it; a line `...` stands for any lines in between;
- a fenced ```python block runs statement by statement; a statement whose comment shows a value
  (`# 760 = ...`, `# False: ...`, `# Volume(...)`) must give it, one whose comment names an error
  (`# SettingsError: ...`) must raise it;
- a fenced block of the language guide (a design, no `$`) plans;
- the pictures' command and the two set-up commands are run elsewhere (tests/test_draw.py, CI).
"""

from __future__ import annotations

import ast
import re
import shlex
from pathlib import Path

import pytest
from conftest import run_cli

import cnncalc

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
DESIGNS = ROOT / "docs" / "designs"  # where the README's course.cnn is (it says: cd docs/designs)


def blocks(text: str) -> list[tuple[int, str, list[str]]]:
    """(line number, info string, lines) of every fenced block."""
    out, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        if lines[i].startswith("```"):
            start, info = i + 1, lines[i][3:].strip()
            i += 1
            body = []
            while not lines[i].startswith("```"):
                body.append(lines[i])
                i += 1
            out.append((start, info, body))
        i += 1
    return out


BLOCKS = blocks(README)
COMMANDS = [(n, body) for n, info, body in BLOCKS if body and body[0].startswith("$ cnncalc ")]
PYTHON = [(n, body) for n, info, body in BLOCKS if info == "python"]
GUIDE = [(n, body) for n, info, body in BLOCKS if not info and body and body[0].startswith(("INPUT", "#"))
         and not any(line.startswith("$") for line in body)]


def command_of(body: list[str]) -> tuple[list[str], list[str]]:
    """The command's arguments (after `cnncalc`) and the lines shown after it."""
    text, i = body[0][2:], 1
    while text.endswith("\\"):
        text = text[:-1] + " " + body[i].strip()
        i += 1
    return shlex.split(text)[1:], body[i:]


def matches(shown: list[str], printed: list[str]) -> bool:
    """The printed lines are the shown ones, where a shown `...` stands for any lines in between (or
    before, or after)."""
    chunks, chunk = [], []
    for line in shown:
        if line == "...":
            chunks.append(chunk)
            chunk = []
        else:
            chunk.append(line.rstrip())
    chunks.append(chunk)
    printed = [line.rstrip() for line in printed]
    at = 0
    for k, chunk in enumerate(chunks):
        if not chunk:
            continue
        last = k == len(chunks) - 1
        starts = [at] if k == 0 else range(at, len(printed) - len(chunk) + 1)
        found = next((i for i in starts if printed[i:i + len(chunk)] == chunk
                      and (not last or i + len(chunk) == len(printed))), None)
        if found is None:
            return False
        at = found + len(chunk)
    return len(chunks) > 1 or at == len(printed)


def test_the_readme_has_what_these_tests_read():
    assert len(COMMANDS) >= 6 and len(PYTHON) >= 3 and len(GUIDE) >= 2


@pytest.mark.slow
@pytest.mark.parametrize("line, body", COMMANDS, ids=[f"line {n}" for n, _ in COMMANDS])
def test_every_shell_command_prints_what_the_readme_shows(line, body, monkeypatch):
    args, shown = command_of(body)
    monkeypatch.chdir(DESIGNS if any("course.cnn" in a for a in args) else ROOT)
    result = run_cli(*args, env={"COLUMNS": "120"})
    shown = [s for s in shown if s.strip() or shown.index(s) not in (0, len(shown) - 1)]
    if not shown:  # a command shown alone (its output is described in the text): it runs
        assert result.exit_code == 0, result.output
        return
    printed = result.output.rstrip("\n").splitlines()
    assert matches(shown, printed), "\n".join(["README shows:", *shown, "cnncalc prints:", *printed])


def _statements(body: list[str]):
    """(source, the comment after it) of each top-level statement of a block."""
    source = "\n".join(body)
    tree = ast.parse(source)
    lines = source.splitlines()
    for node in tree.body:
        last = lines[node.end_lineno - 1]
        comment = last.split("#", 1)[1].strip() if "#" in last[node.end_col_offset:] else ""
        yield ast.get_source_segment(source, node), node, comment


SHOWN_VALUE = re.compile(r"^(-?[\d,]+|True|False|Volume\(.*?\))(?:\s|:|$)")


@pytest.mark.parametrize("line, body", PYTHON, ids=[f"line {n}" for n, _ in PYTHON])
def test_every_python_snippet_runs_and_gives_what_its_comments_show(line, body, monkeypatch):
    monkeypatch.chdir(DESIGNS)
    namespace = {"cnncalc": cnncalc}
    for source, node, comment in _statements(body):
        error = re.match(r"^(\w+Error): (.*)", comment)
        if error:
            with pytest.raises(getattr(cnncalc, error.group(1))) as e:
                exec(compile(source, "<README>", "exec"), namespace)
            assert str(e.value).startswith(error.group(2).rstrip(". ").rstrip("...").rstrip(", "))
            continue
        if isinstance(node, ast.Expr):
            value = eval(compile(source, "<README>", "eval"), namespace)
            shown = SHOWN_VALUE.match(comment)
            if shown:
                assert repr(value) == shown.group(1).replace(",", "") if shown.group(1)[0].isdigit() or \
                    shown.group(1)[0] == "-" else repr(value) == shown.group(1), (source, value)
        else:
            exec(compile(source, "<README>", "exec"), namespace)


@pytest.mark.parametrize("line, body", GUIDE, ids=[f"line {n}" for n, _ in GUIDE])
def test_every_design_of_the_language_guide_plans(line, body):
    """A block may hold several designs, separated by blank lines, with the -D they need in a comment."""
    designs, current = [], []
    for text in [*body, ""]:
        if text.strip():
            current.append(text)
        elif current:
            designs.append(current)
            current = []
    for lines in designs:
        text = "\n".join(lines)
        bound = re.search(r"#\s+(-D .*)", text)
        options = shlex.split(bound.group(1)) if bound else []
        defines = [options[i + 1] for i, o in enumerate(options) if o == "-D"]
        size = options[options.index("--input") + 1] if "--input" in options else None
        if not any(not t.lstrip().startswith("#") and "INPUT" in t for t in lines):
            continue  # definitions only, used by the next design
        cnncalc.plan(text, defines=defines, **({"input": size} if size else {}))
