"""The command line's application: its group, the version, and the only place that turns errors into
messages and exit codes.

Exit codes: 0 success, 1 design problems (a layer does not fit), 2 unreadable design or bad usage, 3 an
internal error (a bug: please report it) or a `sweep --jobs` worker process killed from outside, 141
(quietly) when the reader of standard output went away (`cnncalc check vgg16 | head -1`), 130 on Ctrl-C,
143 on SIGTERM.
"""

from __future__ import annotations

import os
import shlex
import signal
import sys
from typing import Annotated, Optional

import typer
from typer.core import TyperGroup

from .. import zoo
from ..errors import CnnCalcError, WorkerDied
from .io import check_arguments

EXIT_PROBLEMS, EXIT_USAGE, EXIT_BUG = 1, 2, 3


class CnnCalcGroup(TyperGroup):
    """The top level: a first argument that is a design rather than a command gets the command line
    that plans it (`cnncalc resnet50`); any other unknown word, typer's did-you-mean."""

    def resolve_command(self, ctx, args):
        if args and not ctx.resilient_parsing and self.get_command(ctx, args[0]) is None \
                and _reads_as_design(args[0]):
            say(f"error: {args[0]!r} is not a command; did you mean: cnncalc {shlex.join(['plan', *args])}")
            raise typer.Exit(EXIT_USAGE)
        return super().resolve_command(ctx, args)


def _reads_as_design(arg: str) -> bool:
    """'-', a built-in design's name, a .cnn path, or a design text: an arrow, or a design that
    parses to more than one bare unknown word (`foo` is a name, `CONV3-16` a layer)."""
    if arg == "-" or zoo.path(arg) or arg.endswith(".cnn") or "->" in arg or "\u2192" in arg:
        return True
    from ..dsl.ast import Ref
    from ..dsl.parser import parse

    try:
        design = parse(arg)
    except Exception:  # not a design: leave the word to typer's did-you-mean
        return False
    return bool(design.statements) or not all(isinstance(term, Ref) for term in design.chain.terms)


app = typer.Typer(
    name="cnncalc",
    help="Shapes, parameters, MACs, memory and receptive fields of ConvNet designs, "
         "written in the CS231n notation. No deep-learning framework needed.\n\n\b\nExamples:\n"
         "  cnncalc plan vgg16\n  cnncalc plan resnet50 --dtype fp16 -o resnet50.md\n  cnncalc zoo\n"
         "  cnncalc --install-completion",
    cls=CnnCalcGroup,
    add_completion=True,
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        from ..version import __version__

        print(f"cnncalc {__version__}")
        raise typer.Exit()


@app.callback()
def _top_level(version: Annotated[Optional[bool], typer.Option(
        "--version", is_eager=True, callback=_print_version, help="Print cnncalc's version and exit.")] = None,
) -> None:
    pass  # only --version, handled by its callback; the options before the command
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: what a shell reports for cat, yes or grep when the reader went away


class _ClosedStream:
    """Stands for a standard stream whose file descriptor is closed (Python sets it to None)."""

    def write(self, text: str) -> int:
        raise OSError(9, "it is closed")

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


def say(message: str) -> None:
    """One message on standard error; a standard error that cannot be written loses it quietly."""
    try:
        print(message, file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass


def _silence_stdout() -> None:
    """Point standard output's file descriptor at /dev/null, so that what is still buffered is
    dropped at exit instead of failing again ("Exception ignored ... BrokenPipeError")."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # no file descriptor (a test runner's stream)
        pass


def finish(run, ctx: typer.Context | None = None) -> None:
    """Run a command body; the only place that turns errors into messages and exit codes.
    Standard output is flushed here, so that a reader that went away (`| head -1`) is seen here:
    cnncalc then stops quietly with 141, like other Unix tools killed by SIGPIPE."""
    if sys.stdout is None:
        sys.stdout = _ClosedStream()
    if sys.stderr is None:
        sys.stderr = _ClosedStream()
    previous = _on_sigterm()
    try:
        check_arguments(ctx)
        code = run()
        sys.stdout.flush()
    except BrokenPipeError:  # the reader closed the pipe: normal use, nothing to say
        _silence_stdout()
        code = EXIT_BROKEN_PIPE
    except CnnCalcError as e:
        say(e.render())
        code = EXIT_USAGE
    except WorkerDied as e:  # killed from outside: say so, it is not a bug
        say(f"error: {e}")
        code = EXIT_BUG
    except KeyboardInterrupt:
        code = 130
    except Terminated:  # SIGTERM: what was being written is removed on the way here (write_atomically)
        code = 128 + signal.SIGTERM
    except UnicodeEncodeError as e:  # standard output's encoding (a latin-1 locale) lacks a character
        _silence_stdout()
        say(f"error: standard output's encoding ({e.encoding}) cannot write {e.object[e.start:e.end]!a}: "
             f"set PYTHONIOENCODING=utf-8 or use -o FILE")
        code = EXIT_USAGE
    except OSError as e:  # writing standard output: a full disk, a closed descriptor
        if e.filename is None:
            _silence_stdout()
        say(f"error: cannot write standard output: {e.strerror or e}" if e.filename is None else
             f"error: {e.filename}: {e.strerror or e}")
        code = EXIT_USAGE
    except Exception as e:  # a bug in cnncalc: say so, never a traceback (unless a maintainer asks for it)
        if os.environ.get("CNNCALC_TRACEBACK"):
            import traceback
            traceback.print_exc()
        say(f"error: internal error ({type(e).__name__}: {e}); this is a bug in cnncalc: please report it "
             f"to its maintainers with the design that caused it")
        code = EXIT_BUG
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    try:
        sys.stdout.flush()  # what an error path left buffered
    except (OSError, ValueError):
        _silence_stdout()
    raise typer.Exit(code)


class Terminated(BaseException):
    """SIGTERM arrived: raised where the command is, so that it unwinds as on Ctrl-C (a temporary -o file
    removed) and ends with 143, without a traceback."""


def _raise_terminated(signum, frame) -> None:
    raise Terminated


def _on_sigterm():
    """SIGTERM raises Terminated while a command runs (the handler before, to put back; None where no
    handler can be set: not the main thread)."""
    try:
        return signal.signal(signal.SIGTERM, _raise_terminated)
    except (ValueError, OSError):
        return None


