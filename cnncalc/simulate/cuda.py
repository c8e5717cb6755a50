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
from .timeline import CUDA_BLOCK, MODEL, Log

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
    __slots__ = ("address", "free", "next", "prev", "size", "small")


SHIFT = 128  # a free block's sort key: its size above its address, one int (sizes and addresses stay below 2**128)


class CachingAllocator:
    """Blocks by the caller's key; `reserved`: the bytes of all segments (`segments` of them);
    `allocated`: of the blocks in use (rounded sizes). Each pool's free blocks are a
    sorted list of ints, size << SHIFT | address (the smallest that holds a request, the lowest address
    among equals, by one bisection), and a dict from those ints to the blocks. (The hot paths are written
    out: a plan of 100,000 rows makes a million requests.)"""

    def __init__(self) -> None:
        self.pools: dict[bool, list[int]] = {True: [], False: []}  # small? -> sorted keys of free blocks
        self.free_blocks: dict[int, _Block] = {}  # key -> free block
        self.used: dict[object, _Block] = {}
        self.reserved = 0
        self.allocated = 0
        self.segments = 0
        self.top = 0  # the next segment's address

    def malloc(self, key, size: int) -> None:
        size = round_size(size)
        small = size <= SMALL_SIZE
        pool = self.pools[small]
        i = bisect_left(pool, size << SHIFT)
        if i < len(pool):
            block = self.free_blocks.pop(pool.pop(i))
        else:  # a new segment
            block = _Block()
            block.size = segment = segment_size(size)
            block.address, block.small, block.prev, block.next = self.top, small, None, None
            self.top += segment
            self.reserved += segment
            self.segments += 1
        rest = block.size - size
        if rest >= MIN_BLOCK if small else rest > SMALL_SIZE:  # split: the rest is cached
            tail = _Block()
            tail.size, tail.address, tail.small, tail.free = rest, block.address + size, small, True
            tail.prev, tail.next = block, block.next
            if block.next is not None:
                block.next.prev = tail
            block.next = tail
            block.size = size
            cached = rest << SHIFT | tail.address
            insort(pool, cached)
            self.free_blocks[cached] = tail
        block.free = False
        self.used[key] = block
        self.allocated += block.size

    def free(self, key) -> None:
        """A block goes back to its pool, merged with its free neighbours in its segment."""
        block = self.used.pop(key, None)
        if block is None:
            return
        self.allocated -= block.size
        pool, free_blocks = self.pools[block.small], self.free_blocks
        prev, after = block.prev, block.next
        if prev is not None and prev.free:  # absorbed into its predecessor
            cached = prev.size << SHIFT | prev.address
            del pool[bisect_left(pool, cached)]
            del free_blocks[cached]
            prev.size += block.size
            prev.next = after
            if after is not None:
                after.prev = prev
            block = prev
        if after is not None and after.free:  # absorbs its successor
            cached = after.size << SHIFT | after.address
            del pool[bisect_left(pool, cached)]
            del free_blocks[cached]
            block.size += after.size
            block.next = after.next
            if after.next is not None:
                after.next.prev = block
        block.free = True
        cached = block.size << SHIFT | block.address
        insort(pool, cached)
        free_blocks[cached] = block

    def run(self, keys: list, sizes: list[int]) -> None:
        """Events of a Log: an allocation (bytes) or a free (0)."""
        malloc, free, used = self.malloc, self.free, self.used
        for key, size in zip(keys, sizes):
            if not size:
                free(key)
            elif key not in used:
                malloc(key, size)


def cuda_reserved(steps: list[Step], storage_sizes: list[int], setup: Setup, mode: str, batch: int) -> int:
    """The bytes the CUDA caching allocator has reserved after two training steps (or two inference
    passes) from a fresh process: the simulated step's allocations, recorded once and replayed."""
    log = Log()
    if mode == "inference":
        inference(steps, storage_sizes, dtype_bytes=setup.dtype_bytes, batch=batch, block=CUDA_BLOCK, device="cuda",
                  amp=setup.amp, log=log)
    else:
        peak_of(steps, storage_sizes, setup._replace(device="cuda"), batch, log=log)
    return replay(log)


def replay(log: Log) -> int:
    """A recorded step replayed through the model of the CUDA caching allocator: the network moved to
    the device, a first step whose optimizer state appears at its optimizer step, then a step in the
    steady state; the bytes reserved then."""
    keys, sizes, categories = log.keys, log.sizes, log.model
    start = log.forward
    optimizer = len(keys) if log.optimizer is None else log.optimizer
    before = range(start)
    allocator = CachingAllocator()
    for i in before:  # the network
        if categories[i] in ("params", "buffers"):
            allocator.malloc(keys[i], sizes[i])
    state = [i for i in before if categories[i] == "optimizer"]
    kept = {keys[i] for i in before if categories[i] in MODEL}
    for first in (True, False):
        if not first:
            for i in before:  # the steady state: what lives from step to step
                if sizes[i] and keys[i] not in allocator.used:
                    allocator.malloc(keys[i], sizes[i])
        allocator.run(keys[start:optimizer], sizes[start:optimizer])
        if first:  # the optimizer's state appears at its first step
            for i in state:
                allocator.malloc(keys[i], sizes[i])
        allocator.run(keys[optimizer:], sizes[optimizer:])
        for key in [k for k in allocator.used if k not in kept]:  # the loop drops the batch, zero_grad the grads
            allocator.free(key)
    return allocator.reserved
