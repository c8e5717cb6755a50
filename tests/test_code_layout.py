"""The code's layout, held as the renovation of issue 20 left it: every rule has one home, so no module
tests a kind by its name outside cnncalc/kinds/; no import circle, counting imports inside functions;
nothing inside the package imports its public face (cnncalc/__init__.py); no file above 500 lines but
the parser's; no function above 60 lines or a cyclomatic complexity of 20 (radon's)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from cnncalc.kinds import KINDS

PACKAGE = Path(__file__).resolve().parent.parent / "cnncalc"
FILES = sorted(PACKAGE.rglob("*.py"))
MAX_FILE, MAX_FUNCTION, MAX_COMPLEXITY = 500, 60, 20
LONG_FILES = {"dsl/parser.py"}  # a recursive-descent parser reads best whole


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(f): f for f in FILES}


def imports(name: str) -> set[str]:
    """The package's modules `name` imports, anywhere in it (functions too), but under TYPE_CHECKING."""
    path = MODULES[name]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {id(n) for node in ast.walk(tree)
                   if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test) for n in ast.walk(node)}
    found = set()
    here = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom):
            base = here[:len(here) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.add(sub if sub in MODULES else target)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m in MODULES and m != name}


def test_no_import_circle():
    edges = {m: imports(m) for m in MODULES}
    circles = []
    for start in MODULES:  # a module that reaches itself
        seen, stack = set(), list(edges[start])
        while stack:
            m = stack.pop()
            if m == start:
                circles.append(start)
                break
            if m not in seen:
                seen.add(m)
                stack.extend(edges[m])
    assert circles == []


def test_nothing_inside_imports_the_public_face():
    assert [m for m in MODULES if m != "cnncalc" and "cnncalc" in imports(m)] == []


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_files_and_functions_stay_small(path):
    from radon.complexity import cc_visit

    text = path.read_text(encoding="utf-8")
    relative = str(path.relative_to(PACKAGE))
    if relative not in LONG_FILES:
        assert text.count("\n") <= MAX_FILE, f"{relative}: {text.count(chr(10))} lines"
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            assert node.end_lineno - first + 1 <= MAX_FUNCTION, f"{relative}:{node.lineno} {node.name}"
    blocks = cc_visit(text)
    for block in [*blocks, *(m for b in blocks for m in getattr(b, "methods", []))]:
        assert block.complexity <= MAX_COMPLEXITY, f"{relative}:{block.lineno} {block.name}: {block.complexity}"


NAMES = "|".join(sorted((re.escape(k) for k in KINDS if k not in ("input", "output")), key=len, reverse=True))
BY_NAME = re.compile(rf"""(kind\W*\s*(==|!=|\bin\b|\bnot in\b)\s*[\(\[{{]?\s*["']({NAMES})["'])|(["']({NAMES})["']\s*:)""")


def test_only_the_kinds_name_a_kind():
    """No `kind == "conv"`, `kind in ("bn", ...)` or table keyed by kind names outside cnncalc/kinds/: an
    engine asks the kind (KINDS[name].rule)."""
    found = [f"{path.relative_to(PACKAGE)}:{n}: {line.strip()}" for path in FILES if "kinds" not in path.parts
             for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if BY_NAME.search(line) and '"id":' not in line]
    assert found == []


def test_the_tests_conftest_marks_slow_exist():
    # conftest.py marks the largest built-ins' cases of HEAVY_TESTS slow by name: a renamed test would drop
    # silently into the inner loop
    from conftest import HEAVY_TESTS

    defined = {node.name for path in Path(__file__).parent.glob("test_*.py")
               for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.FunctionDef)}
    assert HEAVY_TESTS <= defined, sorted(HEAVY_TESTS - defined)
