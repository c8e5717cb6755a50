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
    args = sys.argv[1:]
    if len(args) == 1 and (usage := short_usage(args[0])) is not None:  # `cnncalc plan`, nothing else
        print(usage, file=sys.stderr)
        raise SystemExit(EXIT_USAGE)
    command_app(args)()


def short_usage(name: str) -> str | None:
    """What `cnncalc COMMAND` with no design says: its usage line and its first two examples, and where the
    rest is (its --help runs to a hundred lines); None for a command that runs without arguments."""
    info = next((i for i in app.registered_commands if i.name == name), None)
    if info is None or not (info.context_settings or {}).get("no_args_is_help", info.no_args_is_help):
        return None
    text = info.help or ""
    lines = text.splitlines()
    first = " ".join(text.split("\n\n")[0].split()).split(". ")[0].rstrip(".") + "."  # its first sentence
    examples = [line.strip() for line in lines[lines.index("Examples:") + 1:] if line.startswith("  cnncalc")
                and not line.rstrip().endswith("\\")] if "Examples:" in lines else []  # one-line ones
    import textwrap

    return "\n".join([f"Usage: cnncalc {name} DESIGN [OPTIONS]", textwrap.fill(first, 96, initial_indent="  ",
                                                                               subsequent_indent="  "), "Examples:",
                      *(f"  {e}" for e in examples[:2]), f"Every option: cnncalc {name} --help"])


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
