"""What every test file shares: the one command-line runner, the golden-file flag, the markers.

Markers (pyproject.toml registers them; `--strict-markers` refuses others):
    torch   needs PyTorch (skipped with the reason when it is missing)
    slow    takes seconds: random-design generators, every built-in design through a slow path

The inner loop is `python -m pytest -m "not torch and not slow"`; the README's test command runs all.
Tests import the runner as `from conftest import run_cli`.
"""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

# the terminal's settings a test must not inherit from whoever runs the suite
CLEAN_ENV = {"COLUMNS": None, "NO_COLOR": None, "LINES": None}


def run_cli(*args, input=None, env: dict | None = None, traceback_ok: bool = False, **invoke):
    """`cnncalc ARGS` in process, through the application main() runs (cli.command_app): the click Result (exit_code, output = stdout and stderr interleaved,
    stdout, stderr). COLUMNS, LINES and NO_COLOR are unset unless `env` sets them. The command line
    never shows a traceback, and every exception ends as an exit code: both are checked here. `invoke`:
    more of CliRunner.invoke's arguments (prog_name)."""
    from cnncalc.cli import command_app

    args = [str(a) for a in args]
    result = CliRunner().invoke(command_app(args), args, input=input, env={**CLEAN_ENV, **(env or {})},
                                **invoke)
    if not traceback_ok:
        assert "Traceback" not in result.output, result.output
        assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite tests/golden/* from the current output instead of comparing")


@pytest.fixture
def update_golden(request) -> bool:
    return request.config.getoption("--update-golden")
