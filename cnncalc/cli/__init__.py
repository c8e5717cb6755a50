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

from ..errors import SettingsError
from . import compare, draw, export, plan, schema, sweep, verify, zoo  # noqa: F401  (each adds its command)
from .app import EXIT_BROKEN_PIPE, EXIT_BUG, EXIT_PROBLEMS, EXIT_USAGE, app
from .io import read_design
from .terminal import box_characters, output_width

__all__ = ["app", "main", "read_design", "box_characters", "output_width", "SettingsError", "EXIT_PROBLEMS",
           "EXIT_USAGE", "EXIT_BUG", "EXIT_BROKEN_PIPE"]


def main() -> None:
    app()
