"""What every test file shares: the one command-line runner, the golden-file flag, the markers.

Markers (pyproject.toml registers them; `--strict-markers` refuses others):
    torch   needs PyTorch (skipped with the reason when it is missing)
    slow    takes seconds: random-design generators, every built-in design through a slow path, the
            command line run as a process, and (marked here) the cases of the largest built-in designs
            (HEAVY_DESIGNS) in the tests over every built-in that plan them in full (HEAVY_TESTS): the
            inner loop keeps the others

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


# the built-in designs that take longest to plan, and the tests over every built-in whose cases of them take a
# tenth of a second or more each (a full plan, a drawing, a compiled sweep): those cases run with the slow tier
HEAVY_DESIGNS = frozenset({"densenet121", "inception_v3", "inception_v3_aux", "efficientnet_b0", "regnet_y_400mf",
                           "mobilenet_v3_large", "googlenet", "convnext_tiny", "shufflenet_v2_x1_0", "resnet152"})
HEAVY_TESTS = frozenset({
    "test_every_row_is_drawn_once_and_the_edges_are_the_graphs", "test_compiled_point_is_the_walks",
    "test_every_built_in_answers_under_mixed_precision", "test_every_example_validates",
    "test_max_input_through_a_squeeze_excitation_gate", "test_compiled_peak_is_the_simulations",
    "test_every_zoo_design_reads_back_as_its_plain_text",
    "test_every_built_in_plan_is_written_as_pydantic_core_writes_it",
    "test_contract_dict_and_pydantic_report_agree",
    "test_the_html_report_holds_every_row_block_and_section_and_nothing_outside",
})


def pytest_collection_modifyitems(items):
    for item in items:
        spec = getattr(item, "callspec", None)
        if (spec is not None and item.originalname in HEAVY_TESTS
                and HEAVY_DESIGNS.intersection(spec.id.split("-"))):
            item.add_marker(pytest.mark.slow)


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite tests/golden/* from the current output instead of comparing")


@pytest.fixture
def update_golden(request) -> bool:
    return request.config.getoption("--update-golden")
