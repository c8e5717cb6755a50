"""Reading what the command line is given and writing what it makes: the DESIGN argument (a built-in
name, a file, standard input or a design text), its texts checked for UTF-8, and files written whole
or not at all."""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterable
from pathlib import Path

import typer

from .. import zoo
from ..errors import SettingsError, Source, Span
from ..source import design_path


def read_design(design: str) -> str:
    """The design's text, from the DESIGN argument. In this order: '-' reads standard input; a
    built-in name is the built-in; an argument naming an existing file (or pipe, /dev/fd/N) is read
    from it; an argument that looks like a path is a missing file; anything else is a design text.
    Looks like a path: one line without an arrow ('->' or '\u2192') that ends in .cnn, or that has a
    path separator and does not read as a design (a syntax check only), so that "CONV3-16/2" and
    "INPUT 32x32x3 \u2192 CONV3-16/2" stay designs while dir/my.cnn and nets/vgg are files."""
    if design == "-":
        return read_stdin()
    path = design_path(design)
    return design if path is None else zoo.read_file(path, design)


def read_stdin() -> str:
    """Standard input as text, decoded as UTF-8 strictly: bytes that are not UTF-8 are an error that
    says where they are, never a crash or a misread design."""
    stream = sys.stdin
    if stream is None:  # file descriptor 0 is closed: `cnncalc plan - 0<&-`
        raise SettingsError("cannot read the design from standard input: it is closed")
    try:
        buffer = getattr(stream, "buffer", None)
        if buffer is None:  # a text stream without bytes under it (an embedding program's)
            text = stream.read()
            check_text(text, "standard input")
            return text
        data = buffer.read()
    except OSError as e:
        raise SettingsError(f"cannot read the design from standard input: {e.strerror or e}") from None
    except ValueError as e:  # I/O operation on a closed file
        raise SettingsError(f"cannot read the design from standard input: {e}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        where = len(data[:e.start].decode("utf-8"))
        source = Source(data.decode("utf-8", errors="replace"))
        raise SettingsError(f"standard input is not UTF-8 text: byte {e.start + 1} is 0x{data[e.start]:02x}",
                            Span(source, where, where + 1)) from None


def check_text(text: str, where: str) -> None:
    """Refuse text with lone surrogates: on Linux, Python decodes the bytes of an argument that are
    not UTF-8 as U+DC80..U+DCFF (surrogateescape). Names the byte's position, with a caret."""
    for i, ch in enumerate(text):
        if "\ud800" <= ch <= "\udfff":
            break
    else:
        return
    position = len(text[:i].encode("utf-8")) + 1  # the prefix has no surrogate: it encodes
    what = f"byte {position} is 0x{ord(ch) - 0xDC00:02x}" if "\udc80" <= ch <= "\udcff" else \
        f"character {i + 1} is the lone surrogate U+{ord(ch):04X}"
    shown = "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in text)
    raise SettingsError(f"{where} is not UTF-8 text: {what}", Span(Source(shown), i, i + 1))


def check_arguments(ctx: typer.Context | None) -> None:
    """Every text the command line received (DESIGN, -o, -D, --input, ...) is UTF-8."""
    if ctx is None:
        return
    for param in ctx.command.params:
        value = ctx.params.get(param.name)
        for v in value if isinstance(value, (list, tuple)) else [value]:
            if isinstance(v, (str, os.PathLike)):
                where = f"the {(param.metavar or param.name).strip('[]').upper()} argument" \
                    if param.param_type_name == "argument" else "/".join(param.opts)
                check_text(os.fspath(v), where)


def emit(text: str | Iterable[str], output: Path | None, force: bool) -> None:
    """Standard output, or the -o file: a text, or its pieces (a long JSON report)."""
    pieces = [text] if isinstance(text, str) else text
    if output is None:
        for piece in pieces:
            sys.stdout.write(piece)
    else:
        write_atomically(output, pieces, force)


FILE_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
              (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def write_atomically(path: Path, pieces, force: bool, keep=None) -> bool:
    """Write text piece by piece (a long sweep never sits in memory) through a temporary file and a rename:
    a failed run leaves no partial file. Only a regular file is ever replaced, and only with --force; it
    keeps its permission bits. A new file gets the umask's default (0666 & ~umask). Symbolic links
    (dangling or not), FIFOs, devices, directories and sockets are refused, --force or not, and never opened.
    `keep`, asked once every piece is written: False leaves the file as it was (a sweep of which no point
    computed replaces nothing, as a failed plan does). Whether the file was written."""
    mode = _mode_for(path, force)
    directory = path.parent if str(path.parent) else Path(".")
    import tempfile  # only -o needs it: not imported by every command

    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:  # cnncalc writes beside the file, then renames: the directory must take a new file
        raise SettingsError(f"cannot write {path}: cannot create a file in {directory} ({e.strerror or e}); "
                            f"cnncalc writes a temporary file there and renames it") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            os.fchmod(f.fileno(), mode)
            for piece in pieces:
                f.write(piece)
        if keep is not None and not keep():
            Path(tmp).unlink(missing_ok=True)
            return False
        os.replace(tmp, path)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise SettingsError(f"cannot write {path}: {e.strerror or e}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


def _mode_for(path: Path, force: bool) -> int:
    """The permission bits the written file gets: an existing regular file's (with --force), else the
    umask's default; a SettingsError for anything else at `path`."""
    if os.fspath(path) in ("", "."):  # -o "" reaches here as '.'
        raise SettingsError("-o needs a file name, such as -o report.md")
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        st = None
    except OSError as e:
        raise SettingsError(f"cannot write {path}: {e.strerror or e}") from None
    if st is not None:
        if stat.S_ISLNK(st.st_mode):
            target = os.readlink(path)
            dangling = "" if os.path.exists(path) else ", dangling"
            raise SettingsError(f"{path} is a symbolic link (to {target}{dangling}); cnncalc writes only regular "
                                f"files: remove the link or write to its target")
        if not stat.S_ISREG(st.st_mode):
            kind = next((name for test, name in FILE_KINDS if test(st.st_mode)), "not a regular file")
            raise SettingsError(f"{path} is {kind}; cnncalc writes only regular files (--force replaces only those)")
        if not force:
            raise SettingsError(f"{path} exists; pass --force to overwrite it")
        mode = stat.S_IMODE(st.st_mode) & 0o777
    else:
        mode = 0o666 & ~_umask()
    return mode


def _umask() -> int:
    mask = os.umask(0o022)  # reading the umask means setting it: put it straight back
    os.umask(mask)
    return mask
