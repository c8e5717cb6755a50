"""The command line: read the design, call the library, render, and map errors to exit codes.

    application.py  the application, its group and version, and `finish`: the only place that turns an
                  error into a message and an exit code
    options.py    every option, declared once; `settings_from` makes the library's Settings of them
    io.py         the DESIGN argument, standard input, UTF-8 checks, files written atomically
    terminal.py   width, colour, box characters, misfits with carets
    plan.py (plan, check), draw.py, zoo.py, verify.py, export.py, schema.py, compare.py, sweep.py: one
    module per command, each a few lines over the library, imported when its command is run or the
    whole application (`app`) is asked for (COMMANDS)

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

import atexit  # noqa: E402
import copy  # noqa: E402
import importlib  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

import typer  # noqa: E402

from ..errors import SettingsError  # noqa: E402
from .application import EXIT_BROKEN_PIPE, EXIT_BUG, EXIT_PROBLEMS, EXIT_USAGE, say  # noqa: E402
from .application import app as _app  # noqa: E402  (`app`, below: with every command)
from .io import read_design  # noqa: E402
from .terminal import box_characters, output_width  # noqa: E402

__all__ = ["GC_THRESHOLD", "app", "main", "console", "command_app", "read_design", "box_characters",
           "output_width", "SettingsError", "EXIT_PROBLEMS", "EXIT_USAGE", "EXIT_BUG", "EXIT_BROKEN_PIPE"]


# each command's module (which adds it to the application when imported), in the order --help lists them
COMMANDS = {"compare": "compare", "draw": "draw", "export": "export", "plan": "plan", "check": "plan",
            "schema": "schema", "sweep": "sweep", "verify": "verify", "zoo": "zoo"}


def with_commands(names=COMMANDS) -> typer.Typer:
    """The application with (at least) these commands added: their modules imported, the commands in
    the order of COMMANDS whichever came first."""
    for module in dict.fromkeys(COMMANDS[name] for name in names):
        importlib.import_module(f".{module}", __name__)
    order = list(COMMANDS)
    _app.registered_commands.sort(key=lambda info: order.index(info.name))
    return _app


def __getattr__(name: str):
    """`cnncalc.cli.app`: the whole application (a command run alone imports its own module only)."""
    if name == "app":
        return with_commands()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    args = sys.argv[1:]
    if len(args) == 1 and (usage := short_usage(args[0])) is not None:  # `cnncalc plan`, nothing else
        print(usage, file=sys.stderr)
        raise SystemExit(EXIT_USAGE)
    command_app(args)()


def console() -> None:
    """The installed `cnncalc` script and `python -m cnncalc`: main(), then the process ends at once, its
    output flushed and its atexit handlers run, without tearing down every module and object it made:
    that took about a fifth of what a cold plan of ResNet-152 costs beyond the import floor (41 of 200
    million instructions, callgrind), and 60 to 80 ms after a plan of 100,000 rows. With a thread still
    running, or no way to run the atexit handlers, it ends as usual. (main() raises SystemExit like any
    command line: the tests call it.)"""
    try:
        main()
        code = 0
    except SystemExit as e:
        code = e.code
    threading = sys.modules.get("threading")
    run_handlers = getattr(atexit, "_run_exitfuncs", None)
    if (threading is not None and threading.active_count() > 1) or run_handlers is None:
        raise SystemExit(code)
    if code is not None and not isinstance(code, int):  # sys.exit("message"): the message, exit status 1
        say(str(code))
        code = 1
    try:
        sys.stdout.flush()
    except BrokenPipeError:  # as finish(): the reader went away
        code = EXIT_BROKEN_PIPE
    except (OSError, ValueError):
        pass
    try:
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    run_handlers()
    os._exit(code or 0)


def short_usage(name: str) -> str | None:
    """What `cnncalc COMMAND` with no design says: its usage line and its first two examples, and where the
    rest is (its --help runs to a hundred lines); None for a command that runs without arguments."""
    if name not in COMMANDS:
        return None
    info = next(i for i in with_commands([name]).registered_commands if i.name == name)
    if not (info.context_settings or {}).get("no_args_is_help", info.no_args_is_help):
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
    """The application to run for these arguments: with only the command they name when they name one,
    whose module alone is imported (typer builds every command's options before it runs any: a tenth of a
    cold `plan`), else the whole of it (help, --version, a design in place of a command, shell completion)."""
    if not args or args[0] not in COMMANDS or any(name.endswith("_COMPLETE") for name in os.environ):
        return with_commands()
    slim = copy.copy(with_commands([args[0]]))
    slim.registered_commands = [info for info in slim.registered_commands if info.name == args[0]]
    return slim
