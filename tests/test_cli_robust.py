"""The command line never crashes and never misreads its input: each case a user reproduced.

A bad input is one line `error: …` on standard error (with a caret where there is a position)
and exit code 2; never a traceback, never the internal-error exit 3.
"""

from __future__ import annotations

import os
import shlex
import stat
import subprocess
import sys

import pytest
from conftest import run_cli as run

from cnncalc.cli import EXIT_BROKEN_PIPE

TIMEOUT = 60
DESIGN = "INPUT 8x8x3 -> CONV3-4"
HUGE = "1" + "9" * 400


def cnncalc(*args: str | bytes, stdin=None, input: bytes | None = None, cwd=None, **kwargs):
    """A real process: `python -m cnncalc ARGS`, arguments as raw bytes where given so."""
    argv = [os.fsencode(sys.executable), b"-m", b"cnncalc", *(os.fsencode(a) for a in args)]
    kwargs.setdefault("stdout", subprocess.PIPE)
    kwargs.setdefault("stderr", subprocess.PIPE)
    return subprocess.run(argv, stdin=stdin, input=input, timeout=TIMEOUT, cwd=cwd, **kwargs)


def assert_clean_error(proc, *fragments: str) -> str:
    """Exit 2, `error: …` first on stderr, no traceback; returns stderr."""
    err = proc.stderr.decode("utf-8", "replace") if isinstance(proc.stderr, bytes) else proc.stderr
    assert proc.returncode == 2, (proc.returncode, err)
    assert err.startswith("error: "), err
    assert "Traceback" not in err and "internal error" not in err, err
    for fragment in fragments:
        assert fragment in err, err
    return err


def assert_clean_result(result, *fragments: str) -> str:
    """The same for a CliRunner result (stdout and stderr mixed in result.output)."""
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.output.startswith("error: "), result.output
    assert "Traceback" not in result.output and "internal error" not in result.output, result.output
    for fragment in fragments:
        assert fragment in result.output, result.output
    return result.output


# 1. bytes that are not UTF-8, in an argument or on standard input


@pytest.mark.skipif(sys.platform == "win32", reason="argv bytes are a POSIX notion")
@pytest.mark.parametrize("args, where, byte", [
    ((b"plan", b"-f", b"json", DESIGN.encode() + b" # \xff"), "the DESIGN argument", "byte 26 is 0xff"),
    ((b"plan", DESIGN.encode() + b"\xff"), "the DESIGN argument", "byte 23 is 0xff"),
    ((b"export", DESIGN.encode() + b" # caf\xe9", b"--to", b"pytorch"), "the DESIGN argument", "byte 29 is 0xe9"),
    ((b"plan", b"vgg16", b"-o", b"out\xff.json"), "-o/--output", "byte 4 is 0xff"),
    ((b"export", b"lenet5", b"--to", b"pytorch", b"-o", b"m\xfe.py"), "-o/--output", "byte 2 is 0xfe"),
    ((b"plan", DESIGN.encode(), b"-D", b"N=\xff"), "-D/--define", "byte 3 is 0xff"),
    ((b"plan", DESIGN.encode(), b"--input", b"8x8x\xff"), "--input", "byte 5 is 0xff"),
    ((b"zoo", b"vgg\xff"), "the NAME argument", "byte 4 is 0xff"),
], ids=["plan-json", "plan", "export", "plan-o", "export-o", "define", "input", "zoo"])
def test_argument_bytes_not_utf8_are_a_clean_error(tmp_path, args, where, byte):
    proc = cnncalc(*args, cwd=tmp_path)
    assert_clean_error(proc, f"{where} is not UTF-8 text: {byte}")
    assert proc.stdout == b""
    assert list(tmp_path.iterdir()) == []  # no -o file written under any name


def test_argument_bytes_not_utf8_get_a_caret_under_the_byte():
    err = assert_clean_error(cnncalc(b"plan", DESIGN.encode() + b" -> \xffRELU"))
    assert err.splitlines()[1:] == [f"  {DESIGN} -> \ufffdRELU", "  " + " " * (len(DESIGN) + 4) + "^"]


def test_lone_surrogates_from_the_runner_are_refused_too():
    assert_clean_result(run("plan", "-f", "json", DESIGN + " # \udcff"), "byte 26 is 0xff")
    assert_clean_result(run("plan", DESIGN + " # \ud800"), "the lone surrogate U+D800")
    assert_clean_result(run("schema", "-o", "x\udcc3.json"), "-o/--output is not UTF-8 text: byte 2 is 0xc3")


def test_stdin_bytes_not_utf8_are_a_clean_error():
    proc = cnncalc("plan", "-", input=b"INPUT 8x8x3\n -> CONV3-4 # \xe2\x82")
    err = assert_clean_error(proc, "standard input is not UTF-8 text: byte 27 is 0xe2 (line 2, column 15)")
    assert err.splitlines()[1:] == ["   -> CONV3-4 # \ufffd", "  " + " " * 14 + "^"]
    assert_clean_result(run("plan", "-", input=b"INPUT 8x8x3 -> CONV3-4\xff"), "byte 23 is 0xff")


def test_stdin_in_utf8_still_reads():
    result = run("plan", "-", input="INPUT 8x8x3 \u2192 CONV3-4  # caf\u00e9".encode())
    assert result.exit_code == 0, result.output
    assert "CONV3-4" in result.output


def test_a_file_with_the_same_bytes_says_cannot_read(tmp_path):
    (tmp_path / "bad.cnn").write_bytes(DESIGN.encode() + b"\xff")
    assert_clean_error(cnncalc("plan", "bad.cnn", cwd=tmp_path), "cannot read bad.cnn: it is not UTF-8 text")


# 2. standard input empty or closed


def test_plan_dash_with_empty_stdin_says_the_design_is_empty():
    assert_clean_error(cnncalc("plan", "-", stdin=subprocess.DEVNULL), "the design is empty")


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX shell")
def test_plan_dash_with_closed_stdin_is_a_clean_error():
    command = f"exec {shlex.quote(sys.executable)} -m cnncalc plan - 0<&-"
    proc = subprocess.run(["sh", "-c", command], capture_output=True, timeout=TIMEOUT)
    assert_clean_error(proc, "cannot read the design from standard input: it is closed")


def test_plan_dash_with_stdin_none_in_process(monkeypatch):
    result = run("plan", "-")
    assert result.exit_code == 2  # the runner's empty input: an empty design
    from cnncalc import cli

    monkeypatch.setattr(sys, "stdin", None)
    with pytest.raises(cli.SettingsError, match="standard input: it is closed"):
        cli.read_design("-")


# 3. a closed pipe on standard output


def _stdout_to_closed_pipe(*args: str):
    read, write = os.pipe()
    os.close(read)  # the reader is gone before cnncalc writes a byte: EPIPE on the first write
    try:
        return cnncalc(*args, stdin=subprocess.DEVNULL, stdout=write)
    finally:
        os.close(write)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGPIPE semantics are POSIX")
@pytest.mark.parametrize("args", [("check", "vgg16"), ("zoo",), ("plan", "resnet50", "-f", "json"),
                                  ("check", "INPUT 7x7x3 -> CONV3-1/5p0")])
@pytest.mark.slow
def test_closed_pipe_exits_quietly(args):
    proc = _stdout_to_closed_pipe(*args)
    assert proc.returncode == EXIT_BROKEN_PIPE == 141, proc.stderr
    assert proc.stderr == b""  # no "error: Broken pipe", no "Exception ignored … BrokenPipeError"


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX shell")
def test_pipe_into_head_is_quiet():
    python = shlex.quote(sys.executable)
    for args in ("check vgg16", "plan resnet50 -f json"):
        proc = subprocess.run(["sh", "-c", f"{python} -m cnncalc {args} | head -1"], capture_output=True,
                              timeout=TIMEOUT)
        assert proc.returncode == 0 and proc.stderr == b"", proc.stderr
        assert len(proc.stdout.splitlines()) == 1


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX shell")
def test_closed_stdout_and_full_disk_are_clean_errors():
    python = shlex.quote(sys.executable)
    proc = subprocess.run(["sh", "-c", f"{python} -m cnncalc zoo >&-"], capture_output=True, timeout=TIMEOUT)
    assert_clean_error(proc, "cannot write standard output: it is closed")
    if os.path.exists("/dev/full"):
        proc = subprocess.run(["sh", "-c", f"{python} -m cnncalc zoo > /dev/full"], capture_output=True,
                              timeout=TIMEOUT)
        err = assert_clean_error(proc, "cannot write standard output")
        assert "Exception ignored" not in err


# 4. one-line designs with '/' are designs, not paths


@pytest.mark.parametrize("args", [("plan", "INPUT 32x32x3 \u2192 CONV3-16/2"),
                                  ("plan", "INPUT 32x32x3 -> CONV3-16/2"),
                                  ("plan", "CONV3-16/2", "--input", "32x32x3"),
                                  ("check", "CONV3-16/2p0", "--input", "33x33x3")])
def test_designs_with_a_slash_are_designs(args):
    result = run(*args)
    assert result.exit_code == 0, result.output
    assert "no such design file" not in result.output
    assert "CONV3-16/2" in result.output or result.output.startswith("ok: all 2 layers fit (input 33x33x3)")


@pytest.mark.parametrize("arg, message", [
    ("dir/my.cnn", "no such design file: dir/my.cnn"),
    ("my net.cnn", "no such design file: my net.cnn"),
    ("nets/vgg", "no such design file: nets/vgg; read as a design instead: unexpected '/'"),
    ("./design.txt", "no such design file: ./design.txt"),
])
def test_missing_files_are_still_missing_files(arg, message):
    assert_clean_result(run("plan", arg), message)


def test_an_existing_file_is_read_even_if_it_reads_as_a_design(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "conv").mkdir()
    (tmp_path / "conv" / "2").write_text("INPUT 8x8x3 -> FC-7\n", encoding="utf-8")
    result = run("plan", "conv/2")  # parses as a design (a block `conv` over 2); the file wins
    assert result.exit_code == 0 and "FC-7" in result.output, result.output
    assert_clean_result(run("plan", "conv"), "cannot read conv: it is a directory")


# 5. -o: modes, symlinks, FIFOs, devices


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def mode(path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX modes")
def test_new_output_file_gets_the_umask_default(tmp_path, umask_022):
    assert run("schema", "-o", str(tmp_path / "a.json")).exit_code == 0
    assert mode(tmp_path / "a.json") == 0o644
    os.umask(0o027)
    assert run("schema", "-o", str(tmp_path / "b.json")).exit_code == 0
    assert mode(tmp_path / "b.json") == 0o640


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX modes")
@pytest.mark.parametrize("old_mode", [0o644, 0o600, 0o664])
def test_force_keeps_the_existing_files_mode(tmp_path, umask_022, old_mode):
    target = tmp_path / "out.py"
    target.write_text("old\n")
    os.chmod(target, old_mode)
    result = run("export", DESIGN, "--to", "pytorch", "-o", str(target), "--force")
    assert result.exit_code == 0, result.output
    assert mode(target) == old_mode
    assert "class Net" in target.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.py"]  # no temporary left


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX symlinks")
@pytest.mark.parametrize("force", [False, True])
def test_dangling_symlink_is_refused(tmp_path, force):
    link = tmp_path / "out.json"
    link.symlink_to(tmp_path / "nowhere.json")
    assert_clean_result(run("schema", "-o", str(link), *(["--force"] if force else [])),
                        "is a symbolic link", "dangling")
    assert link.is_symlink() and not (tmp_path / "nowhere.json").exists()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX symlinks")
@pytest.mark.parametrize("force", [False, True])
def test_symlink_to_a_file_is_refused(tmp_path, force):
    target = tmp_path / "real.json"
    target.write_text("keep\n")
    link = tmp_path / "out.json"
    link.symlink_to(target)
    assert_clean_result(run("schema", "-o", str(link), *(["--force"] if force else [])), "is a symbolic link")
    assert link.is_symlink() and target.read_text() == "keep\n"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
@pytest.mark.parametrize("force", [False, True])
def test_fifo_is_refused_without_opening_it(tmp_path, force):
    fifo = tmp_path / "out.json"
    os.mkfifo(fifo)
    proc = cnncalc("schema", "-o", str(fifo), *(["--force"] if force else []))  # a hang would time out
    assert_clean_error(proc, "is a FIFO (named pipe)")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


@pytest.mark.skipif(not os.path.exists("/dev/null"), reason="needs /dev/null")
def test_device_and_directory_are_refused(tmp_path):
    assert_clean_result(run("schema", "-o", "/dev/null", "--force"), "/dev/null is a character device")
    assert_clean_result(run("schema", "-o", str(tmp_path), "--force"), "is a directory")


# 6. verify: an input too large to allocate


@pytest.mark.torch
def test_verify_input_too_large_for_the_cpu_is_a_clean_error():
    pytest.importorskip("torch")
    result = run("verify", "INPUT 100000x100000x3 -> CONV3-4", "--device", "cpu")
    assert_clean_result(result, "cannot create the input on cpu: 1x3x100000x100000",
                        "30,000,000,000 float32 values", "120,000,000,000 B")


@pytest.mark.torch
def test_verify_parameters_too_large_for_the_cpu_are_a_clean_error():
    pytest.importorskip("torch")
    assert_clean_result(run("verify", "INPUT 8x8x3 -> FC-999999999999", "--device", "cpu"),
                        "cannot create the network's 192,999,999,999,807 parameters on cpu")


@pytest.mark.torch
def test_verify_huge_input_on_meta_works():
    pytest.importorskip("torch")
    result = run("verify", "INPUT 100000x100000x3 -> CONV3-4")
    assert result.exit_code == 0, result.output
    assert "agree" in result.output


@pytest.mark.torch
def test_verify_input_beyond_int64_on_meta_is_a_clean_error():
    pytest.importorskip("torch")
    assert_clean_result(run("verify", "INPUT 999999999x999999999x999999999 -> CONV3-4"),
                        "cannot create the input on meta")


# 7. huge numbers in option values


@pytest.mark.parametrize("command", [("plan", "vgg16"), pytest.param(("verify", DESIGN), marks=pytest.mark.torch)])
def test_batch_with_400_digits_is_a_clean_error(command):
    if command[0] == "verify":
        pytest.importorskip("torch")
    result = run(*command, "--batch", HUGE)
    assert_clean_result(result, "batch")
    assert len(result.output.splitlines()) == 1


def test_max_layers_with_400_digits_is_not_a_crash():
    result = run("plan", DESIGN, "--max-layers", HUGE)
    assert result.exit_code in (0, 2), result.output
    assert "internal error" not in result.output
