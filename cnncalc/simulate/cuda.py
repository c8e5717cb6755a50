"""A model of PyTorch's CUDA caching allocator, to estimate `reserved` memory from a timeline.

The rules are those of `c10/cuda/CUDACachingAllocator.cpp` with its default configuration (no
`PYTORCH_CUDA_ALLOC_CONF`: no expandable segments, no max_split_size, no power-of-two rounding),
one device, one stream, and a device that never runs out (so cached blocks are never released):

- a request is rounded up to a multiple of 512 bytes (at least 512);
- requests up to 1 MiB come from the small pool, larger ones from the large pool;
- a request no cached block of its pool can hold gets a new segment: 2 MiB for the small pool,
  20 MiB for requests under 10 MiB, else the request rounded up to a multiple of 2 MiB;
- the smallest cached block that holds the request is used (the lowest address among equals),
  split when the rest is at least 512 bytes (small pool) or more than 1 MiB (large pool);
- a freed block is merged with its free neighbours in its segment and cached, never returned.

`reserved` is the total of the segments: it never falls, so its peak is its value at the end.
This model has not been checked against a GPU's `torch.cuda.memory_stats` (none was available;
benchmarks/cuda_check.py is ready for the first that is).

`cuda_reserved` runs a simulated step (or inference pass) with its allocations logged, and replays
the log through the model: the network moved to the device, a first step whose optimizer state
appears at its optimizer step, then a step in the steady state.
"""

from __future__ import annotations

from bisect import bisect_left, insort

from .evaluate import inference
from .step import peak_of
from .steps import Setup, Step
from .timeline import CUDA_BLOCK, FORWARD, MODEL, OPTIMIZER

MIN_BLOCK = 512  # kMinBlockSize
SMALL_SIZE = 1 << 20  # kSmallSize: the largest request of the small pool
SMALL_SEGMENT = 2 << 20  # kSmallBuffer
LARGE_SEGMENT = 20 << 20  # kLargeBuffer
MIN_LARGE_ALLOC = 10 << 20  # kMinLargeAlloc: from here a request gets a segment of its own size
ROUND_LARGE = 2 << 20  # kRoundLarge


def round_size(size: int) -> int:
    return MIN_BLOCK if size < MIN_BLOCK else -(-size // MIN_BLOCK) * MIN_BLOCK


def segment_size(size: int) -> int:
    """The segment a rounded request gets when no cached block holds it."""
    if size <= SMALL_SIZE:
        return SMALL_SEGMENT
    if size < MIN_LARGE_ALLOC:
        return LARGE_SEGMENT
    return -(-size // ROUND_LARGE) * ROUND_LARGE


class _Block:
    __slots__ = ("size", "address", "prev", "next", "free", "small")

    def __init__(self, size: int, address: int, small: bool) -> None:
        self.size, self.address, self.small = size, address, small
        self.prev: _Block | None = None
        self.next: _Block | None = None
        self.free = False


SHIFT = 128  # a free block's sort key: its size above its address, one int (sizes and addresses stay below 2**128)


class CachingAllocator:
    """Blocks by the caller's key; `reserved`: the bytes of all segments; `allocated`: of the
    blocks in use (rounded sizes). Each pool's free blocks are a sorted list of ints, size << SHIFT
    | address (the smallest that holds a request, the lowest address among equals, by one bisection)."""

    def __init__(self) -> None:
        self.pools: dict[bool, list[int]] = {True: [], False: []}  # small? -> sorted keys of free blocks
        self.free_blocks: dict[int, _Block] = {}  # key -> free block
        self.used: dict[object, _Block] = {}
        self.reserved = 0
        self.allocated = 0
        self.segments = 0
        self.top = 0  # the next segment's address

    def _cache(self, block: _Block) -> None:
        key = block.size << SHIFT | block.address
        insort(self.pools[block.small], key)
        self.free_blocks[key] = block

    def _uncache(self, block: _Block) -> None:
        key = block.size << SHIFT | block.address
        pool = self.pools[block.small]
        del pool[bisect_left(pool, key)]
        del self.free_blocks[key]

    def malloc(self, key, size: int) -> None:
        size = round_size(size)
        small = size <= SMALL_SIZE
        pool = self.pools[small]
        i = bisect_left(pool, size << SHIFT)
        if i < len(pool):
            block = self.free_blocks.pop(pool.pop(i))
        else:
            block = _Block(segment_size(size), self.top, small)
            self.top += block.size
            self.reserved += block.size
            self.segments += 1
        rest = block.size - size
        if rest >= MIN_BLOCK if small else rest > SMALL_SIZE:
            tail = _Block(rest, block.address + size, small)
            tail.prev, tail.next = block, block.next
            if block.next is not None:
                block.next.prev = tail
            block.next = tail
            block.size = size
            tail.free = True
            self._cache(tail)
        block.free = False
        self.used[key] = block
        self.allocated += block.size

    def free(self, key) -> None:
        block = self.used.pop(key, None)
        if block is None:
            return
        self.allocated -= block.size
        for neighbour in (block.prev, block.next):
            if neighbour is not None and neighbour.free:
                self._uncache(neighbour)
                if neighbour is block.prev:  # absorb block into its predecessor
                    neighbour.size += block.size
                    neighbour.next = block.next
                    if block.next is not None:
                        block.next.prev = neighbour
                    block = neighbour
                else:
                    block.size += neighbour.size
                    block.next = neighbour.next
                    if neighbour.next is not None:
                        neighbour.next.prev = block
        block.free = True
        self._cache(block)


def cuda_reserved(steps: list[Step], storage_sizes: list[int], setup: Setup, mode: str, batch: int) -> int:
    """The bytes the CUDA caching allocator has reserved after two training steps (or two inference
    passes) from a fresh process: the simulated step's allocations, recorded once and replayed."""
    log: list = []
    if mode == "inference":
        inference(steps, storage_sizes, dtype_bytes=setup.dtype_bytes, batch=batch, block=CUDA_BLOCK, device="cuda",
                  amp=setup.amp, log=log)
    else:
        peak_of(steps, storage_sizes, setup._replace(device="cuda"), batch, log=log)
    return replay(log)


def replay(log: list) -> int:
    """A recorded step replayed through the model of the CUDA caching allocator: the network moved to
    the device, a first step whose optimizer state appears at its optimizer step, then a step in the
    steady state; the bytes reserved then."""
    start = log.index(FORWARD)
    before, step = log[:start], log[start + 1:]
    allocator = CachingAllocator()
    for key, size, category in before:  # the network
        if category in ("params", "buffers"):
            allocator.malloc(key, size)
    state = [entry for entry in before if entry[2] == "optimizer"]
    kept = {key for key, _, category in before if category in MODEL}
    for first in (True, False):
        if not first:
            for key, size, _ in before:  # the steady state: what lives from step to step
                if size is not None and key not in allocator.used:
                    allocator.malloc(key, size)
        for key, size, _ in step:
            if key == OPTIMIZER[0]:
                if first:  # the optimizer's state appears at its first step
                    for k, n, _ in state:
                        allocator.malloc(k, n)
            elif size is None:
                allocator.free(key)
            elif key not in allocator.used:
                allocator.malloc(key, size)
        for key in [k for k in allocator.used if k not in kept]:  # the loop drops the batch, zero_grad the grads
            allocator.free(key)
    return allocator.reserved
