"""The live tensor bytes of a simulated run, by category, and their peak.

Every operation allocates its outputs on the timeline, the total is sampled after it (as MemTracker
samples after every operation), then what nothing references any more is freed. The totals by
category are kept as they change, so a sample costs the same whatever the design's size.
"""

from __future__ import annotations

from typing import NamedTuple

TARGET_BYTES = 8  # the targets are int64, one per output pixel
SCALAR_BYTES = 4  # the loss, its total weight and the gradient of the loss are float32 scalars
STEP_BYTES = 4  # Adam's per-parameter `step` is a float32 scalar tensor, kept on the CPU
BATCHES_TRACKED_BYTES = 8  # BN's num_batches_tracked is an int64 scalar
CUDA_BLOCK = 512  # the CUDA caching allocator rounds every tensor up to a multiple of 512 bytes
CATEGORIES = ("params", "buffers", "gradients", "optimizer", "saved", "other")
MODEL = ("params", "buffers", "optimizer")  # what lives from one step to the next


def granular(size: int, block: int) -> int:
    """The bytes a tensor of `size` bytes takes where memory comes in blocks of `block` bytes."""
    return -(-size // block) * block


class Peak(NamedTuple):
    bytes: int
    phase: str  # forward, loss, backward, recompute, optimizer
    index: int | None  # the row running then (None outside the layers)
    breakdown: dict[str, int]  # params, buffers, gradients, optimizer, saved, other


class Log:
    """A run's allocations and frees in order, for the model of the CUDA allocator (simulate/cuda.py):
    each event's key and bytes (0: the key is freed), equal sizes one int (`interned`); the categories
    of the events before the forward pass (`model`: the network, the optimizer's state); `forward` and
    `optimizer`, the events' count where the forward pass and the optimizer's step start (None: not
    reached)."""

    __slots__ = ("forward", "interned", "keys", "model", "optimizer", "sizes")

    def __init__(self) -> None:
        self.keys: list = []
        self.sizes: list[int] = []
        self.interned: dict[int, int] = {}
        self.model: list[str] = []
        self.forward: int | None = None
        self.optimizer: int | None = None

    def mark_forward(self) -> None:
        self.forward = len(self.keys)

    def mark_optimizer(self) -> None:
        self.optimizer = len(self.keys)


class Timeline:
    """Live storages by key, with their bytes and category, the totals by category, and the peak over
    samples. An activation, keyed by its storage's number, counts as "saved" while a layer keeps it for
    backward, else "other"; every other key is a string or a tuple. `block`: the allocation granularity
    (the CUDA allocator's 512 bytes, or 1); `log`, a Log, receives every allocation and free; `events`,
    when a list, (phase, row, live bytes) at every sample."""

    def __init__(self, block: int, kept: dict[int, int]) -> None:
        self.live: dict[object, tuple[int, str]] = {}
        self.log: Log | None = None
        self.sums = dict.fromkeys(CATEGORIES, 0)
        self.total = 0
        self.peak = Peak(0, "", None, {})
        self.block = block
        self.kept = kept  # storage -> how many layers keep it for backward
        self.events: list[tuple[str, int | None, int]] | None = None

    def alloc(self, key, size: int, category: str) -> None:
        if key not in self.live and size:  # a view of no bytes of its own (a crop's) allocates nothing
            if self.block != 1:
                size = -(-size // self.block) * self.block  # granular(), written out: the hot path
            if category == "activation":
                category = "saved" if self.kept.get(key, 0) > 0 else "other"
            self.live[key] = (size, category)
            self.sums[category] += size
            self.total += size
            log = self.log
            if log is not None:
                log.keys.append(key)
                log.sizes.append(log.interned.setdefault(size, size))
                if log.forward is None:
                    log.model.append(category)

    def alloc_all(self, keys: list, sizes: list[int], category: str) -> None:
        """`alloc` of each key in turn, at once, for keys none of which is live, sizes none of which is 0 and a
        category other than "activation" (the network's tensors: a hundred thousand in a large design)."""
        block, log = self.block, self.log
        if block != 1:
            sizes = [granular(size, block) for size in sizes]
        self.live.update(zip(keys, [(size, category) for size in sizes]))
        added = sum(sizes)
        self.sums[category] += added
        self.total += added
        if log is not None:
            log.keys.extend(keys)
            interned = log.interned
            log.sizes.extend([interned.setdefault(size, size) for size in sizes])
            if log.forward is None:
                log.model.extend([category] * len(keys))

    def free(self, key) -> None:
        entry = self.live.pop(key, None)
        if entry is not None:
            self.sums[entry[1]] -= entry[0]
            self.total -= entry[0]
            log = self.log
            if log is not None:
                log.keys.append(key)
                log.sizes.append(0)
                if log.forward is None:
                    log.model.append("")

    def keep(self, sid: int, change: int) -> None:
        """A layer starts (+1) or stops (-1) keeping a storage for backward."""
        before = self.kept.get(sid, 0)
        self.kept[sid] = before + change
        if sid in self.live and (before > 0) != (before + change > 0):
            size, category = self.live[sid]
            now = "saved" if before + change > 0 else "other"
            self.sums[category] -= size
            self.sums[now] += size
            self.live[sid] = (size, now)

    def sample(self, phase: str, index: int | None) -> None:
        if self.total <= self.peak.bytes and self.events is None:
            return
        if self.events is not None:
            self.events.append((phase, index, self.total))
        if self.total > self.peak.bytes:
            self.peak = Peak(self.total, phase, index, dict(self.sums))
