"""What fits a memory budget: the simulated peak at a batch (`allocated`), what the device holds then
(`held`: on CUDA the allocator's reserved memory, the context and the workspaces), and the largest
batch whose peak fits (`largest_batch`)."""

from __future__ import annotations

from .cuda import cuda_reserved
from .evaluate import inference
from .step import peak_of
from .steps import Setup, Step


def allocated(steps: list[Step], storage_sizes: list[int], setup: Setup, mode: str, batch: int) -> int:
    """The simulated peak of live tensor bytes: of a training step, or of inference."""
    if mode == "inference":
        return inference(steps, storage_sizes, dtype_bytes=setup.dtype_bytes, batch=batch, block=setup.block,
                         device=setup.device, amp=setup.amp)
    return peak_of(steps, storage_sizes, setup, batch).bytes


def held(steps: list[Step], storage_sizes: list[int], setup: Setup, mode: str, batch: int) -> int:
    """What a budget must hold at `batch`: the simulated peak (of a training step, or of inference); on
    CUDA the allocator's reserved memory, the context and the workspaces."""
    if setup.device == "cuda" and setup.cuda is not None:
        return setup.cuda.context + setup.cuda.workspace + cuda_reserved(steps, storage_sizes, setup, mode, batch)
    return allocated(steps, storage_sizes, setup, mode, batch)


def largest_batch(steps: list[Step], storage_sizes: list[int], budget: int, setup: Setup, mode: str,
                  most: int = 10**15) -> tuple[int, int]:
    """The largest batch (the micro-batch, with gradient accumulation) whose simulated peak (of a
    training step, or of inference) fits in `budget` bytes, and the peak at batch 1; on CUDA the peak
    is what the device holds: the allocator's reserved memory, the context and the workspaces. A
    doubling then a bisection finds it in about 2*log2(batch) simulations (on CUDA first on the
    allocated peak, a lower bound, then on the reserved memory below that): exact against the
    simulation (the answer fits, one more does not); 0 when even batch 1 does not fit."""
    if setup.device == "cuda" and setup.cuda is not None:
        around = setup.cuda.context + setup.cuda.workspace  # the device holds these and the allocated peak
        most = search(lambda n: allocated(steps, storage_sizes, setup, mode, n) + around, budget, most)
        one = held(steps, storage_sizes, setup, mode, 1)
        fits = 0 if most == 0 or one > budget else search(lambda n: held(steps, storage_sizes, setup, mode, n),
                                                          budget, most)
        return fits, one
    return (search(lambda n: allocated(steps, storage_sizes, setup, mode, n), budget, most),
            allocated(steps, storage_sizes, setup, mode, 1))


def search(peak, budget: int, most: int) -> int:
    """The largest batch n <= most with peak(n) <= budget (0 when not even 1): the answer fits and one
    more does not, whether or not peak grows with every batch."""
    if peak(1) > budget:
        return 0
    low, high = 1, 2
    while high <= most and peak(high) <= budget:
        low, high = high, high * 2
    high = min(high, most + 1)
    while high - low > 1:  # peak(low) fits, peak(high) does not (or is past the limit)
        mid = (low + high) // 2
        low, high = (mid, high) if peak(mid) <= budget else (low, mid)
    return low
