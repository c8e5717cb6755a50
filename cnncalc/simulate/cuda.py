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
appears at its optimizer step, then a step in the steady state (not replayed where it provably makes
the first step's choices again: `replay`).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort

from .repeats import FIND, inference_peak, training_peak
from .steps import Setup, Step
from .timeline import CUDA_BLOCK, MODEL, Log

MIN_BLOCK = 512  # kMinBlockSize
SMALL_SIZE = 1 << 20  # kSmallSize: the largest request of the small pool
SMALL_SEGMENT = 2 << 20  # kSmallBuffer
LARGE_SEGMENT = 20 << 20  # kLargeBuffer
MIN_LARGE_ALLOC = 10 << 20  # kMinLargeAlloc: from here a request gets a segment of its own size
ROUND_LARGE = 2 << 20  # kRoundLarge


def round_size(size: int) -> int:
    """A request of `size` bytes rounded up to a multiple of 512, at least 512."""
    return MIN_BLOCK if size < MIN_BLOCK else -(-size // MIN_BLOCK) * MIN_BLOCK


def segment_size(size: int) -> int:
    """The segment a rounded request gets when no cached block holds it."""
    if size <= SMALL_SIZE:
        return SMALL_SEGMENT
    if size < MIN_LARGE_ALLOC:
        return LARGE_SEGMENT
    return -(-size // ROUND_LARGE) * ROUND_LARGE


SHIFT = 128  # a block is one int: its size above its address (sizes and addresses stay below 2**126)
ADDRESS = (1 << SHIFT) - 1
SMALL_ADDRESS = 1 << 126  # the small pool's segments have their addresses from here, the large pool's from 0


class CachingAllocator:
    """Blocks by the caller's key; `reserved`: the bytes of all segments (`segments` of them);
    `allocated`: of the blocks in use (rounded sizes). A block is one int, its size above its address
    (`SHIFT`): in use, by key (`used`), or cached: then in its pool, a sorted list (the smallest block that
    holds a request, the lowest address among equals, is one bisection away), and in `starts` (address ->
    size) and `ends` (end -> address), where a freed block finds its free neighbours. Segments are laid out
    with a gap between them, so no block ends where another segment begins. (The hot paths are written out:
    a plan of 100,000 rows makes a million requests.)"""

    def __init__(self) -> None:
        self.pools: dict[bool, list[int]] = {True: [], False: []}  # small? -> cached blocks, sorted
        self.starts: dict[int, int] = {}
        self.ends: dict[int, int] = {}
        self.used: dict[object, int] = {}
        self.tops = {True: SMALL_ADDRESS, False: 0}  # small? -> the next segment's address
        self.reserved = 0
        self.segments = 0
        self.watch()

    def watch(self) -> None:
        """Start watching whether the requests from here on, made again from where they end once all their
        blocks are freed (the segments they made then free and whole), would make the same choices and so no
        new segment (`repeats`; see `replay`). In the small pool they would: every segment is 2 MiB, and the
        lowest address among the free ones is always the one these requests made next. In the large pool a
        segment made later may be a closer fit for an earlier request than the block it took: `taken` holds
        the sizes a segment made later must not have, the union of [request, block taken) over the large
        requests, as sorted disjoint intervals (`taken`: their starts and ends)."""
        self.repeats = True
        self.taken: tuple[list[int], list[int]] = ([], [])

    def _large(self, size: int, block: int, made: bool) -> None:
        """A large request of `size` took a block of `block` bytes, a new segment if `made`."""
        starts, ends = self.taken
        if made:
            i = bisect_right(starts, block) - 1
            if i >= 0 and block < ends[i]:  # an earlier request would take this segment instead
                self.repeats = False
        if block > size:
            i, j = bisect_left(ends, size), bisect_right(starts, block)  # the intervals it overlaps or touches
            if i < j:
                size, block = min(size, starts[i]), max(block, ends[j - 1])
            starts[i:j], ends[i:j] = [size], [block]

    def copy(self) -> CachingAllocator:
        """Another allocator in this one's state (its watch started afresh)."""
        other = CachingAllocator()
        other.pools = {small: list(pool) for small, pool in self.pools.items()}
        other.starts, other.ends, other.used, other.tops = (dict(self.starts), dict(self.ends), dict(self.used),
                                                            dict(self.tops))
        other.reserved, other.segments = self.reserved, self.segments
        return other

    @property
    def allocated(self) -> int:
        """The bytes of the blocks in use (counted when asked: no replay needs it)."""
        return sum(block >> SHIFT for block in self.used.values())

    def block(self, key) -> tuple[int, int]:
        """The address and size of the block in use under `key`."""
        block = self.used[key]
        return block & ADDRESS, block >> SHIFT

    def malloc(self, key, size: int) -> None:
        self.take(key, round_size(size))

    def take(self, key, size: int) -> None:
        """`malloc` of a request already rounded (`round_size`)."""
        small = size <= SMALL_SIZE
        pool = self.pools[small]
        i = bisect_left(pool, size << SHIFT)
        cached = i < len(pool)
        if cached:
            block = pool[i]
            address, bytes_ = block & ADDRESS, block >> SHIFT
            del self.starts[address]
            if not small:
                self._large(size, bytes_, False)
        else:  # a new segment
            bytes_ = segment_size(size)
            address = self.tops[small]
            self.tops[small] = address + bytes_ + MIN_BLOCK
            self.reserved += bytes_
            self.segments += 1
            if not small:
                self._large(size, bytes_, True)
        rest = bytes_ - size
        if rest >= MIN_BLOCK if small else rest > SMALL_SIZE:  # split: the rest is cached, ending where the block did
            tail = address + size
            rest_block = rest << SHIFT | tail
            self.starts[tail] = rest
            self.ends[address + bytes_] = tail
            if not cached:
                insort(pool, rest_block)
            elif (j := bisect_left(pool, rest_block, 0, i)) == i:  # the rest sorts where the block did
                pool[i] = rest_block
            else:
                del pool[i]
                pool.insert(j, rest_block)
            bytes_ = size
        elif cached:
            del self.ends[address + bytes_], pool[i]
        self.used[key] = bytes_ << SHIFT | address

    def free(self, key) -> None:
        """A block goes back to its pool, merged with its free neighbours in its segment."""
        block = self.used.pop(key, None)
        if block is None:
            return
        address, size = block & ADDRESS, block >> SHIFT
        pool, starts, ends = self.pools[address >= SMALL_ADDRESS], self.starts, self.ends
        before = ends.pop(address, None)
        if before is not None:  # absorbed into its predecessor
            bytes_ = starts.pop(before)
            del pool[bisect_left(pool, bytes_ << SHIFT | before)]
            address, size = before, size + bytes_
        end = address + size
        bytes_ = starts.pop(end, None)
        if bytes_ is not None:  # absorbs its successor
            del ends[end + bytes_]
            del pool[bisect_left(pool, bytes_ << SHIFT | end)]
            size += bytes_
        insort(pool, size << SHIFT | address)
        starts[address] = size
        ends[address + size] = address

    def run(self, keys: list, sizes: list[int]) -> None:
        """Events of a Log: an allocation (bytes) or a free (0)."""
        take, free, used = self.take, self.free, self.used
        for key, size in zip(keys, sizes):
            if not size:
                free(key)
            elif key not in used:
                take(key, -(-size // MIN_BLOCK) * MIN_BLOCK)  # round_size of a size from 1: the hot path


def cuda_reserved(steps: list[Step], storage_sizes: list[int], setup: Setup, mode: str, batch: int,
                  run=FIND) -> int:
    """The bytes the CUDA caching allocator has reserved after two training steps (or two inference
    passes) from a fresh process: the simulated step's allocations, recorded once and replayed; `run`: the
    design's run of repeated units (runs.py)."""
    log = Log()
    if mode == "inference":
        inference_peak(steps, storage_sizes, dtype_bytes=setup.dtype_bytes, batch=batch, block=CUDA_BLOCK,
                       device="cuda", amp=setup.amp, log=log, run=run)
    else:
        training_peak(steps, storage_sizes, setup._replace(device="cuda"), batch, log, run)
    return replay(log)


NETWORK = frozenset({"params", "buffers"})  # the categories of the network's own tensors


class Network:
    """The allocator once the network's tensors are on the device, for the logs that move the same tensors
    there (a plan's training step and inference pass, the probes of a budget search): made once, each replay
    starting from a copy."""

    def __init__(self) -> None:
        self.tensors: tuple[list, list[int]] | None = None  # the keys and sizes it was made from
        self.allocator: CachingAllocator | None = None

    def moved(self, log: Log) -> CachingAllocator:
        """An allocator holding the parameters and buffers of the log's network."""
        keys, sizes, categories = log.keys, log.sizes, log.model
        network = [i for i in range(log.forward) if categories[i] in NETWORK]
        tensors = ([keys[i] for i in network], [sizes[i] for i in network])
        if tensors != self.tensors:
            self.tensors, self.allocator = tensors, CachingAllocator()
            for key, size in zip(*tensors):
                self.allocator.malloc(key, size)
        return self.allocator.copy()


def replay(log: Log, network: Network | None = None) -> int:
    """A recorded step replayed through the model of the CUDA caching allocator: the network moved to
    the device, a first step whose optimizer state appears at its optimizer step, then a step in the
    steady state; the bytes reserved then. When nothing but the network lives from step to step (no
    optimizer state, no gradients of earlier micro-batches) and the first step's large requests would choose
    alike from the segments it made (`CachingAllocator.watch`), the second makes the same choices and no
    segment: it is not replayed. `network`: the network moved, shared by the replays of one plan."""
    keys, sizes, categories = log.keys, log.sizes, log.model
    before = range(log.forward)
    allocator = (network or Network()).moved(log)
    state = [i for i in before if categories[i] == "optimizer"]
    kept = {keys[i] for i in before if categories[i] in MODEL}
    moved = dict(allocator.used)
    _step(allocator, log, state)
    if allocator.repeats and NETWORK.issuperset(categories) and moved.items() <= allocator.used.items():
        # before the step there was the network alone (no optimizer state, no gradients of earlier micro-batches),
        # which is all that outlives a step, and the step left its blocks as they were: the second step starts
        # where the first did, with the first's segments free
        return allocator.reserved
    _drop(allocator, kept)
    for i in before:  # the steady state: what lives from step to step
        if sizes[i] and keys[i] not in allocator.used:
            allocator.malloc(keys[i], sizes[i])
    _step(allocator, log, [])
    return allocator.reserved


def _step(allocator: CachingAllocator, log: Log, state: list[int]) -> None:
    """One step of the log through the allocator, watched (`CachingAllocator.watch`); `state`: the events of
    the optimizer's state, allocated at its step (the first step's)."""
    keys, sizes, start = log.keys, log.sizes, log.forward
    optimizer = len(keys) if log.optimizer is None else log.optimizer
    allocator.watch()
    allocator.run(keys[start:optimizer], sizes[start:optimizer])
    for i in state:
        allocator.malloc(keys[i], sizes[i])
    allocator.run(keys[optimizer:], sizes[optimizer:])


def _drop(allocator: CachingAllocator, kept: set) -> None:
    """The end of a step: the loop drops the batch, zero_grad the gradients; what lives from step to step
    (`kept`) stays."""
    for key in [k for k in allocator.used if k not in kept]:
        allocator.free(key)
