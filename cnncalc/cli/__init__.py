"""The command line: read the design, call the library, render, and map errors to exit codes.

    app.py        the application, its group and version, and `finish`: the only place that turns an
                  error into a message and an exit code
    options.py    every option, declared once; `settings_from` makes the library's Settings of them
    io.py         the DESIGN argument, standard input, UTF-8 checks, files written atomically
    terminal.py   width, colour, box characters, misfits with carets
    plan.py (plan, check), draw.py, zoo.py, verify.py, export.py, schema.py, compare.py, sweep.py: one
    module per command, each a few lines over the library

This package is the only one that prints or exits.
"""

from __future__ import annotations

import gc

# A command owns its process, which allocates millions of objects and frees few until it ends (a plan of
# 100,000 rows, a sweep): collecting the youngest generation every 50,000 allocations rather than 700
# makes either 20 to 25% faster, and a cold start 6% (benchmarks/bench.py, benchmarks/sweep.py). Set
# before the commands' imports: `import cnncalc` imports none of them.
GC_THRESHOLD = (50_000, 20, 20)
gc.set_threshold(*GC_THRESHOLD)

import copy  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

import typer  # noqa: E402

from ..errors import SettingsError  # noqa: E402
from . import compare, draw, export, plan, schema, sweep, verify, zoo  # noqa: E402, F401  (each adds its command)
from .app import EXIT_BROKEN_PIPE, EXIT_BUG, EXIT_PROBLEMS, EXIT_USAGE, app  # noqa: E402
from .io import read_design  # noqa: E402
from .terminal import box_characters, output_width  # noqa: E402

__all__ = ["GC_THRESHOLD", "app", "main", "command_app", "read_design", "box_characters", "output_width",
           "SettingsError", "EXIT_PROBLEMS", "EXIT_USAGE", "EXIT_BUG", "EXIT_BROKEN_PIPE"]


def main() -> None:
    command_app(sys.argv[1:])()


def command_app(args: list[str]) -> typer.Typer:
    """The application to run for these arguments: with only the command they name when they name one
    (typer builds every command's options before it runs any: a tenth of a cold `plan`), else the whole
    of it (help, --version, a design in place of a command, shell completion)."""
    if not args or any(name.endswith("_COMPLETE") for name in os.environ):
        return app
    chosen = [info for info in app.registered_commands if info.name == args[0]]
    if not chosen:
        return app
    slim = copy.copy(app)
    slim.registered_commands = chosen
    return slim
