"""Worker processes for `sweep --jobs N`: chunks of points computed in order, a few chunks ahead.

Each worker has a pipe of its own to the parent and nothing shared with the others. multiprocessing's
Pool was used before: its workers share one lock on the task queue, and an idle worker holds it while
it waits, so a worker killed at that moment (SIGTERM to the process group, the OOM killer) left it held
and the pool's shutdown waited for it for ever. Here the parent reads chunk k from worker k mod N; a
worker that dies is seen at once (its pipe ends), and on any exit, normal or not, every worker is
killed and reaped.
"""

from __future__ import annotations

import multiprocessing
import signal
import sys
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection

from ..errors import WorkerDied

AHEAD = 3  # chunks each worker has queued: work ready when the reader comes back for it
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_OPEN: list[Connection] = []  # the parent's ends of the workers' pipes (a forked worker closes its copies)


def _block(how: int) -> None:
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(how, STOP_SIGNALS)


def _serve(conn: Connection, setup: Callable[[], Callable[[int, int], list]]) -> None:
    """A worker: the stop signals end it as they end any process (the command line's handler, inherited,
    would raise and print a traceback); then it computes each (start, stop) it is sent until the pipe ends."""
    for number in STOP_SIGNALS:
        signal.signal(number, signal.SIG_DFL)
    _block(signal.SIG_UNBLOCK)  # blocked while it was forked: a signal that came in between ends it now
    for other in _OPEN:
        other.close()  # else a sibling would keep the parent's end open and never see it go
    work = setup()
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):  # the parent is done, or gone
            return
        result = work(*task)
        try:
            conn.send(result)
        except OSError:
            return


def died(process) -> WorkerDied:
    process.join()
    code = process.exitcode or 0
    how = f"was killed by signal {-code}" if code < 0 else f"ended (exit code {code})"
    return WorkerDied(f"sweep worker process {process.pid} {how} before it answered: killed from outside or "
                      f"out of memory? --jobs 1 computes in this process")


def chunks(jobs: int, size: int, total: int, setup: Callable[[], Callable[[int, int], list]],
           fork: bool = sys.platform.startswith("linux")) -> Iterator[list]:
    """work(start, stop) for start = 0, size, 2*size, ... < total, in that order, from `jobs` worker
    processes; `setup` (run in each worker, picklable where it does not fork) returns work."""
    context = multiprocessing.get_context("fork" if fork else "spawn")
    workers: list[tuple[multiprocessing.process.BaseProcess, Connection]] = []
    opened: list[Connection] = []  # the parent's ends, closed at the end
    starts = iter(range(0, total, size))

    def send(index: int) -> None:
        start = next(starts, None)
        if start is not None:
            try:
                workers[index][1].send((start, min(start + size, total)))
            except OSError:  # its pipe is closed: it died
                raise died(workers[index][0]) from None

    try:
        _block(signal.SIG_BLOCK)
        try:
            for _ in range(min(jobs, -(-total // size))):
                parent_end, child_end = context.Pipe()
                opened.append(parent_end)
                _OPEN.append(parent_end)  # a forked worker closes it: when the parent dies, its pipe ends
                process = context.Process(target=_serve, args=(child_end, setup), daemon=True)
                process.start()
                child_end.close()
                workers.append((process, parent_end))
        finally:
            _block(signal.SIG_UNBLOCK)  # a stop signal that came meanwhile is raised here
        for _ in range(AHEAD):
            for index in range(len(workers)):
                send(index)
        for number in range(-(-total // size)):
            index = number % len(workers)
            process, conn = workers[index]
            try:
                batch = conn.recv()
            except (EOFError, OSError):
                raise died(process) from None
            send(index)
            yield batch
    finally:
        for process, _ in workers:
            if process.is_alive():
                process.kill()
            process.join()
        for conn in opened:
            conn.close()
            _OPEN.remove(conn)
