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
This model has not been checked against a GPU's `torch.cuda.memory_stats` (none was available).
"""

from __future__ import annotations

from bisect import bisect_left, insort

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


class CachingAllocator:
    """Blocks by the caller's key; `reserved`: the bytes of all segments; `allocated`: of the
    blocks in use (rounded sizes)."""

    def __init__(self) -> None:
        self.pools: dict[bool, list[tuple[int, int, _Block]]] = {True: [], False: []}  # small? -> free blocks
        self.used: dict[object, _Block] = {}
        self.reserved = 0
        self.allocated = 0
        self.segments = 0
        self.top = 0  # the next segment's address

    def malloc(self, key, size: int) -> None:
        size = round_size(size)
        small = size <= SMALL_SIZE
        pool = self.pools[small]
        i = bisect_left(pool, (size, -1))
        if i < len(pool):
            block = pool.pop(i)[2]
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
            insort(pool, (tail.size, tail.address, tail))
        block.free = False
        self.used[key] = block
        self.allocated += block.size

    def free(self, key) -> None:
        block = self.used.pop(key, None)
        if block is None:
            return
        self.allocated -= block.size
        pool = self.pools[block.small]
        for neighbour in (block.prev, block.next):
            if neighbour is not None and neighbour.free:
                del pool[bisect_left(pool, (neighbour.size, neighbour.address))]
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
        insort(pool, (block.size, block.address, block))
