"""The model of PyTorch's CUDA caching allocator (simulate/cuda.py), rule by rule, and the CUDA
figures it gives a plan (totals.memory.cuda, and what a budget must hold on CUDA).

No GPU was available to record torch.cuda.memory_stats, so these tests check the model against the
rules of c10/cuda/CUDACachingAllocator.cpp and one published allocator snapshot, not a measurement."""

from __future__ import annotations

import random

import pytest

import cnncalc
from cnncalc import zoo
from cnncalc.simulate.cuda import CachingAllocator, Network, replay, round_size, segment_size
from cnncalc.simulate.timeline import MODEL, Log

KiB, MiB = 2**10, 2**20


@pytest.mark.parametrize("size, rounded", [(1, 512), (511, 512), (512, 512), (513, 2 * 512), (40_000, 79 * 512)])
def test_requests_round_up_to_512_bytes(size, rounded):
    assert round_size(size) == rounded


@pytest.mark.parametrize("size, segment", [(512, 2 * MiB), (1 * MiB, 2 * MiB), (1 * MiB + 512, 20 * MiB),
                                           (10 * MiB - 512, 20 * MiB), (10 * MiB, 10 * MiB),
                                           (12 * MiB + 512, 14 * MiB)])
def test_segment_sizes(size, segment):
    assert segment_size(size) == segment


def test_a_published_snapshot():
    # discuss.pytorch.org/t/178671: W = rand(1000, 10), b = rand(10), X = rand(1000), y = X @ W + b gives one
    # small segment of 2,097,152 B with blocks 40,448, 512, 4,096, 512 (freed), 512 in use: 45,568 B allocated;
    # and cuBLAS's 8,519,680 B workspace in a large segment of 20,971,520 B
    a = CachingAllocator()
    for key, size in (("W", 1000 * 10 * 4), ("b", 10 * 4), ("X", 1000 * 4), ("X@W", 10 * 4), ("y", 10 * 4)):
        a.malloc(key, size)
    a.free("X@W")
    assert a.allocated == 40_448 + 512 + 4_096 + 512 == 45_568
    assert a.reserved == 2_097_152 and a.segments == 1
    a.malloc("workspace", 8_519_680)
    assert a.reserved == 2_097_152 + 20_971_520 and a.segments == 2


def test_freed_blocks_are_reused_split_and_merged():
    a = CachingAllocator()
    a.malloc("a", 4 * MiB)  # a 20 MiB segment, split: 16 MiB stay cached
    a.malloc("b", 4 * MiB)  # from the cached rest
    assert a.reserved == 20 * MiB and a.allocated == 8 * MiB
    a.free("a")
    a.free("b")  # merged with a and with the rest: one free block of the whole segment
    a.malloc("c", 9 * MiB + 512)
    assert a.reserved == 20 * MiB
    a.malloc("d", 11 * MiB)  # does not fit the 11 MiB - 512 left: a segment of its own, rounded to 2 MiB
    assert a.reserved == 20 * MiB + 12 * MiB


def test_a_large_block_is_not_split_for_a_rest_of_1_mib_or_less():
    a = CachingAllocator()
    a.malloc("a", 19 * MiB)  # 20 MiB segment, the 1 MiB rest is not split off
    assert a.allocated == 20 * MiB
    a.free("a")
    a.malloc("b", 2 * MiB)  # the cached 20 MiB block is split: 18 MiB stay cached
    a.malloc("c", 18 * MiB)
    assert a.reserved == 20 * MiB and a.allocated == 20 * MiB


def test_best_fit_takes_the_smallest_block_that_holds_the_request():
    a = CachingAllocator()
    a.malloc("p", 12 * MiB)  # a segment of its own
    a.malloc("q", 6 * MiB)  # a 20 MiB segment after it, split
    a.malloc("r", 6 * MiB)  # keeps q from merging with the rest
    p, q = a.block("p"), a.block("q")
    assert p[0] < q[0] and (p[1], q[1]) == (12 * MiB, 6 * MiB)
    a.free("p")
    a.free("q")  # cached: p's 12 MiB, q's 6 MiB, and the 8 MiB rest
    before = a.reserved
    a.malloc("y", 5 * MiB)  # q's block, the smallest that holds it, not the first; its 1 MiB rest not split
    assert a.reserved == before and a.block("y") == q


def test_the_lowest_address_among_equal_blocks_and_no_merge_across_segments():
    a = CachingAllocator()
    for key in "abcd":
        a.malloc(key, 1 * MiB)  # two small segments of 2 MiB, each two blocks
    first, second = a.block("a"), a.block("c")
    assert a.segments == 2 and first[0] < second[0]
    a.free("d")
    a.free("b")  # the end of the second segment and of the first: equal free blocks
    a.malloc("x", 1 * MiB)
    assert a.block("x") == (first[0] + 1 * MiB, 1 * MiB)  # the lower address of the two
    for key in "acx":
        a.free(key)  # two free segments of 2 MiB: one block each, never one block of 4 MiB
    for k in range(5):
        a.malloc(k, 768 * KiB)  # two fit a segment, with 512 KiB left: the fifth needs a third segment
    assert a.segments == 3 and a.reserved == 3 * 2 * MiB


def _two_steps(log: Log) -> tuple[int, int]:
    """The bytes reserved after each of two steps, both always replayed: the protocol of replay() written
    out on the allocator's own calls, without its shortcut."""
    keys, sizes, categories, start = log.keys, log.sizes, log.model, log.forward
    optimizer = len(keys) if log.optimizer is None else log.optimizer
    a = CachingAllocator()
    for i in range(start):
        if categories[i] in ("params", "buffers"):
            a.malloc(keys[i], sizes[i])
    kept = {keys[i] for i in range(start) if categories[i] in MODEL}
    reserved = []
    for first in (True, False):
        for i in range(start):
            if not first and sizes[i] and keys[i] not in a.used:
                a.malloc(keys[i], sizes[i])
        a.run(keys[start:optimizer], sizes[start:optimizer])
        for i in range(start):
            if first and categories[i] == "optimizer":
                a.malloc(keys[i], sizes[i])
        a.run(keys[optimizer:], sizes[optimizer:])
        for key in [k for k in a.used if k not in kept]:
            a.free(key)
        reserved.append(a.reserved)
    return reserved[0], reserved[1]


def _random_log(seed: int) -> tuple[Log, bool]:  # and whether more than the network lives from step to step
    """A step's log of random requests across both pools: the network's tensors, at times an optimizer's
    state or earlier micro-batches' gradients, then requests and frees, the optimizer's step three quarters
    in (at times a parameter moved)."""
    r = random.Random(seed)
    log = Log()

    def event(key, size: int, category: str | None = None) -> None:
        log.keys.append(key)
        log.sizes.append(size)
        if category is not None:
            log.model.append(category)

    def size() -> int:
        return r.choice([r.randrange(1, 64 * KiB), r.randrange(MiB // 2, 3 * MiB), r.randrange(3 * MiB, 40 * MiB),
                         r.choice([512, MiB, 2 * MiB, 10 * MiB, 20 * MiB])])
    for i in range(r.randrange(6)):
        event(("param", i), size(), "params")
    state = r.random() < 0.3
    for i in range(r.randrange(1, 4) if state else 0):
        event(("state", i), size(), "optimizer")
    grads = r.random() < 0.15  # accumulating: earlier micro-batches' gradients
    for i in range(r.randrange(1, 3) if grads else 0):
        event(("grad", i), size(), "gradients")
    log.mark_forward()
    live, n = [], r.randrange(5, 60)
    moves = r.randrange(n) if log.keys and r.random() < 0.1 else None  # the step frees a parameter, then makes it again
    for e in range(n):
        if e == n * 3 // 4:
            log.mark_optimizer()
        if e == moves:
            event(log.keys[0], 0)
            event(log.keys[0], size())
        elif live and r.random() < 0.4:
            event(live.pop(r.randrange(len(live))), 0)
        else:
            live.append(("t", e))
            event(("t", e), size())
    return log, state or grads


def test_the_second_step_is_replayed_unless_it_repeats_the_first():
    # replay() skips the second step when nothing but the network lives from step to step (no optimizer
    # state, no earlier micro-batches' gradients) and the first step's large requests would choose alike
    # among the segments it made: then the second makes no segment. Against both steps replayed, on random
    # logs where the second step does add segments (with and without more than the network living) and where
    # not. One Network shared by every replay: moved again for each log's network, reused for the same one
    seen, network = {}, Network()
    for seed in range(800):
        log, lives = _random_log(seed)
        first, second = _two_steps(log)
        assert replay(log) == replay(log, network) == replay(log, network) == second, seed
        seen[lives, second > first] = seen.get((lives, second > first), 0) + 1
    assert len(seen) == 4 and min(seen.values()) >= 20, seen


def test_a_large_segment_made_later_that_an_earlier_request_would_take_stops_the_shortcut():
    a = CachingAllocator()
    a.watch()
    a.malloc("x", 5 * MiB)  # a segment of 20 MiB: the rest, 15 MiB, cached
    a.free("x")
    a.malloc("y", 12 * MiB)  # the 20 MiB block: a segment of 12 MiB would hold x closer, were it there
    assert a.repeats and a.segments == 1
    a.malloc("z", 12 * MiB)  # that segment: made again from here, x would take it
    assert not a.repeats
    b = CachingAllocator()
    b.watch()
    b.malloc("x", 5 * MiB)
    b.malloc("z", 30 * MiB)  # 30 MiB is no closer a fit for x than its 20 MiB: the choices would repeat
    b.malloc("w", 1 * MiB)  # the small pool: always the same choices
    assert b.repeats and b.segments == 3


def test_a_plan_on_cuda_reports_allocated_reserved_context_and_workspace():
    report = cnncalc.plan(zoo.path("resnet18").read_text(), batch=8, optimizer="momentum",
                          cuda_context="300MiB", cuda_workspace="4MiB")
    m = report.totals.memory
    cuda = m.cuda
    assert cuda.allocated_bytes == m.training_peak_bytes
    assert cuda.allocated_bytes <= cuda.reserved_bytes and cuda.reserved_bytes % (2 * MiB) == 0
    assert (cuda.context_bytes, cuda.workspace_bytes) == (300 * MiB, 4 * MiB)
    assert cuda.total_bytes == cuda.reserved_bytes + 300 * MiB + 4 * MiB
    assert m.inference_peak_bytes <= cuda.inference_reserved_bytes
    assert cuda.inference_total_bytes == cuda.inference_reserved_bytes + 304 * MiB
    assert any("--cuda-context" in a for a in report.assumptions)
    assert cnncalc.plan("INPUT 8x8x3 -> CONV3-4", device="cpu").totals.memory.cuda is None


@pytest.mark.parametrize("budget_for, key", [("training", "total_bytes"), ("inference", "inference_total_bytes")])
def test_on_cuda_the_budget_holds_reserved_memory_context_and_workspaces(budget_for, key):
    text = zoo.path("resnet18").read_text()
    report = cnncalc.plan(text, budget="3GiB", budget_for=budget_for, optimizer="adam")
    most = report.budget.max_batch
    held = lambda batch: getattr(cnncalc.plan(text, batch=batch, optimizer="adam").totals.memory.cuda, key)
    assert held(most) <= 3 * 2**30 < held(most + 1)
    assert report.budget.batch_1_bytes == held(1)
