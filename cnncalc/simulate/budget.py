"""What fits a memory budget: the simulated peak at a batch (`allocated`), what the device holds then
(`held`: on CUDA the allocator's reserved memory, the context and the workspaces), and the largest
batch whose peak fits (`largest_batch`)."""

from __future__ import annotations

from .cuda import Network, cuda_reserved, replay
from .repeats import FIND, inference_peak, training_peak
from .runs import find_run
from .steps import Setup, Step
from .timeline import Log

KEPT_LOGS = 5  # the logs of the last simulations a CUDA budget search keeps, to replay for the reserved memory


def allocated(steps: list[Step], storage_sizes: list[int], setup: Setup, mode: str, batch: int,
              log: Log | None = None, run=FIND) -> int:
    """The simulated peak of live tensor bytes: of a training step, or of inference; `log` records its
    allocations (for the model of the CUDA allocator); `run`: the design's run of repeated units (runs.py)."""
    if mode == "inference":
        return inference_peak(steps, storage_sizes, dtype_bytes=setup.dtype_bytes, batch=batch, block=setup.block,
                              device=setup.device, amp=setup.amp, log=log, run=run)
    return training_peak(steps, storage_sizes, setup, batch, log, run).bytes


def held(steps: list[Step], storage_sizes: list[int], setup: Setup, mode: str, batch: int, run=FIND) -> int:
    """What a budget must hold at `batch`: the simulated peak (of a training step, or of inference); on
    CUDA the allocator's reserved memory, the context and the workspaces."""
    if setup.device == "cuda" and setup.cuda is not None:
        return setup.cuda.context + setup.cuda.workspace + cuda_reserved(steps, storage_sizes, setup, mode, batch,
                                                                         run)
    return allocated(steps, storage_sizes, setup, mode, batch, run=run)


def largest_batch(steps: list[Step], storage_sizes: list[int], budget: int, setup: Setup, mode: str,
                  most: int = 10**15, known: dict[int, int] | None = None,
                  known_reserved: dict[int, int] | None = None, line: tuple[int, int] | None = None,
                  run=FIND) -> tuple[int, int]:
    """The largest batch (the micro-batch, with gradient accumulation) whose simulated peak (of a
    training step, or of inference) fits in `budget` bytes, and the peak at batch 1; on CUDA the peak
    is what the device holds (`held`), searched below the batch whose allocated peak and the context
    and workspaces fit (a lower bound of it), each simulation's log replayed rather than simulated
    again. Exact against the simulation: the answer fits and one more does not; 0 when even batch 1
    does not fit. `known`: allocated peaks already simulated, by batch (the plan's own);
    `known_reserved`: the CUDA allocator's reserved bytes already replayed, by batch; `line`: the bytes of
    the known peak that do not grow with the batch and those an image adds (the peak's breakdown), for
    the first guess (the peak is at least that line at every batch: the guess is at most one too many); `run`:
    the design's run of repeated units (runs.py), found once for every probe."""
    if run is FIND:
        run = find_run(steps, storage_sizes)
    cuda = setup.device == "cuda" and setup.cuda is not None
    around = setup.cuda.context + setup.cuda.workspace if cuda else 0  # on CUDA the device holds these too
    logs: dict[int, Log] = {}
    network = Network()  # moved to the device once for every replay

    def allocated_at(n: int) -> int:
        log = Log() if cuda else None
        peak = allocated(steps, storage_sizes, setup, mode, n, log, run)
        if log is not None:
            if len(logs) >= KEPT_LOGS:  # the oldest goes, but batch 1's (the report's batch_1_bytes)
                del logs[next(k for k in logs if k != 1)]
            logs[n] = log
        return peak + around

    def held_at(n: int) -> int:
        if n not in logs:
            allocated_at(n)
        return around + replay(logs[n], network)

    peaks = {n: peak + around for n, peak in (known or {}).items()}
    first = None if line is None or line[1] <= 0 else (budget - around - line[0]) // line[1]
    most = search(allocated_at, budget, most, peaks, first)
    if not cuda:
        return most, peaks[1]
    one = held_at(1)
    if most == 0 or one > budget:
        return 0, one
    top = held_at(most)
    if top <= budget:
        return most, one
    held = {1: one, most: top, **{n: reserved + around for n, reserved in (known_reserved or {}).items()}}
    return search(held_at, budget, most, held), one


def search(peak, budget: int, most: int, known: dict[int, int], first: int | None = None) -> int:
    """A batch n <= most with peak(n) <= budget < peak(n + 1) (or n = most), 0 when not even 1 fits: the
    largest such when the peak grows with the batch, as a simulated peak does. A peak is close to a line
    in the batch: each guess is where the line through the nearest
    known peaks meets the budget, then its neighbour is tried; a bisection takes over where guesses stop
    closing in. `known`: peaks already simulated (more are added); the batches above `most` are taken
    not to fit."""
    def fits(n: int) -> bool:
        if n not in known:
            known[n] = peak(n)
        return known[n] <= budget

    if not fits(1):
        return 0
    low = max(n for n, value in known.items() if n <= most and value <= budget)
    high = min((n for n, value in known.items() if n > low and value > budget), default=most + 1)  # fails
    high = min(high, most + 1)
    for tries in range(64):
        if high - low <= 1:
            return low
        if tries >= 6:  # guesses stopped closing in: halve
            guess = (low + high) // 2
        elif tries == 0 and first is not None and low < first < high:
            guess = first
        else:
            guess = _line_guess(known, low, high, budget, most)
        if fits(guess):
            low = guess
            if guess + 1 < high:
                if not fits(guess + 1):
                    return guess
                low = guess + 1
        else:
            high = guess
            if guess - 1 > low:
                if fits(guess - 1):
                    return guess - 1
                high = guess - 1
    raise AssertionError("unreachable: the bracket halves at every try from the seventh")


def _line_guess(known: dict[int, int], low: int, high: int, budget: int, most: int) -> int:
    """Where the line through two known peaks around the bracket's ends meets the budget, strictly inside
    (low, high): between low and high when high is known, else through low and the peak known below it
    (growing at least twofold, at most to `most`)."""
    if high in known:
        a, b = low, high
    else:
        below = [n for n in known if n < low]
        a, b = (max(below), low) if below else (low, low)
    rise = known[b] - known[a]
    if a == b or rise <= 0:
        guess = 2 * low if high > most else (low + high) // 2
    else:
        guess = a + (budget - known[a]) * (b - a) // rise
    return min(max(guess, low + 1), high - 1)
