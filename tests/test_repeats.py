"""Runs of repeated units (simulate/runs.py, simulate/repeats.py): a design that repeats a unit many times is
simulated shortened to a few units, and must give what the whole design's simulation gives, to the byte: the
training step's peak with its phase, row and breakdown, the inference peak, and every allocation and free of
both logs (which the CUDA allocator's model replays)."""

from __future__ import annotations

import random

import pytest

import cnncalc
from cnncalc import planner
from cnncalc.planner import Rows
from cnncalc.simulate import repeats
from cnncalc.simulate.cuda import replay
from cnncalc.simulate.evaluate import inference
from cnncalc.simulate.runs import (EQUAL_FIELDS, FEWEST, KEPT, STORAGE_FIELDS, Marked, Mover, find_run, named,
                                   shorten, steady)
from cnncalc.simulate.steps import Step
from cnncalc.simulate.step import peak_of
from cnncalc.simulate.timeline import Log

import randomdesigns

CHAIN = "INPUT 32x32x16 -> [CONV3-16 -> RELU]*{n} -> GAP -> FC-10"
RESIDUAL = ("add.inplace = true\nblock(C) = (ID + [CONV3-C -> BN -> RELU -> CONV3-C -> BN]) -> RELU\n"
            "INPUT 16x16x3 -> CONV3-8 -> BN -> RELU -> block(8)*10 -> POOL2 -> block(8)*9 -> GAP -> FC-10")
DESIGNS = [
    CHAIN.format(n=12),
    "INPUT 16x16x8 -> [CONV3-8 -> BN -> RELU -> DROPOUT]*10 -> POOL2 -> FC-10",
    RESIDUAL,
    "INPUT 16x16x8 -> [(CONV1-4 | CONV3-4) -> CONV1-8 -> LEAKYRELU]*9 -> GAP -> FC-3",
    "INPUT 12x12x16 -> [(CONV1-8 -> RELU || CONV3-8) -> SHUFFLE(2)]*11 -> FC-10",
    "INPUT 16x16x4 -> [CONV3-4 -> BN -> RELU]*9 -> [CONV3-4 -> SIGMOID]*9 -> CROP12 -> FC-2",
    "INPUT 8x8x4 -> [CONV3-4 -> LAYERNORM -> GELU -> SCALE(0.5)]*10 -> CONV1-2",
    # a run inside an arm: the sum after it reads the branch's input, made before the run (a long skip)
    "INPUT 16x16x8 -> CONV3-8 -> (ID + [[CONV3-8 -> BN -> RELU]*12]) -> GAP -> FC-10",
    # side heads before and after the run, the last reading the run's output
    "INPUT 16x16x8 -> CONV3-8 -> {GAP -> FC-3} -> [CONV3-8 -> RELU]*12 -> {CONV1-2} -> GAP -> FC-10",
    # the design ends with the run: the loss reads its last unit's output
    "INPUT 16x16x8 -> [CONV3-8 -> RELU]*12",
]
SETTINGS = [  # memory rules, optimizer, foreach, batch
    ("cuda", "sgd", True, 1), ("cuda", "momentum", True, 2), ("cuda", "adam", True, 3), ("cuda", "adam", False, 2),
    ("cpu", "adam", True, 1), ("cpu", "momentum", False, 2),
]


def walked(design: str, memory_rules: str = "cuda", optimizer: str = "sgd", foreach: bool = True, batch: int = 1,
           **options) -> Rows:
    text, label = cnncalc.source.design_text(design, None)
    walk = Rows(planner.design_graph(text, label=label), cnncalc.Settings(
        batch=batch, optimizer=optimizer, memory_rules=memory_rules, foreach=foreach, **options))
    walk.run()
    return walk


def log_of(log: Log) -> tuple:
    return log.keys, log.sizes, log.forward, log.optimizer, log.model


def assert_same(walk: Rows, shortened: bool = True) -> None:
    """The shortened simulations give the whole design's answers and logs; `shortened`: and they ran shortened."""
    steps, sizes, setup, batch = walk.steps, walk.storages.sizes, walk.setup, walk.settings.batch
    run = find_run(steps, sizes)
    whole, short = Log(), Log()
    assert repeats.training_peak(steps, sizes, setup, batch, short, run) == peak_of(steps, sizes, setup, batch,
                                                                                    log=whole)
    assert log_of(short) == log_of(whole)
    if setup.device == "cuda":
        assert replay(short) == replay(whole)
    options = dict(dtype_bytes=setup.dtype_bytes, batch=batch, block=setup.block, device=setup.device, amp=setup.amp)
    whole, short = Log(), Log()
    assert repeats.inference_peak(steps, sizes, log=short, run=run, **options) == inference(steps, sizes, log=whole,
                                                                                             **options)
    assert log_of(short) == log_of(whole)
    if shortened:
        assert run is not None and repeats.shortens(steps, setup)
        assert repeats.shortened_step(steps, sizes, setup, batch, None, run) is not None
        evaluated = [s for s in steps if not s.side]
        assert repeats.shortened_inference(evaluated, sizes, setup.dtype_bytes, batch, setup.block, setup.device,
                                           find_run(evaluated, sizes), True, setup.amp) is not None


def test_a_chain_s_run():
    """The first unit reads the batch, which requires no grad, so the run starts at the second: row 1 + 2."""
    n = 20
    walk = walked(CHAIN.format(n=n))
    run = find_run(walk.steps, walk.storages.sizes)
    assert (run.start, run.rows, run.count) == (1 + 2, 2, n - 1)
    assert (run.sid, run.sids) == (2, 1)  # RELU runs in place: one new storage a unit, the second unit's is 2
    assert (run.param, run.params) == (2, 2)  # the first CONV's weight and bias come before


def test_every_field_of_a_row_is_compared():
    """A unit is the one before moved when every field of its rows is equal or names storages moved by a unit:
    a field added to Step must be one or the other."""
    assert sorted(EQUAL_FIELDS + STORAGE_FIELDS) == sorted(Step._fields)
    assert set(named(Step("x", None, None, None, (1, 2), 3, None, 0, 0, 0, True, 4, True, None, False, 5, (6, 7),
                          False, (8,), (9,)))) == set(range(1, 10))


def test_short_runs_are_simulated_whole():
    """A run of fewer than FEWEST units is not shortened (the first of CHAIN's units is not in the run)."""
    assert find_run(walked(CHAIN.format(n=FEWEST + 1)).steps, walked(CHAIN.format(n=FEWEST + 1)).storages.sizes)
    walk = walked(CHAIN.format(n=FEWEST))
    assert find_run(walk.steps, walk.storages.sizes) is None


def test_the_shortened_design_keeps_its_units():
    walk = walked(RESIDUAL)
    steps, sizes = walk.steps, walk.storages.sizes
    run = find_run(steps, sizes)
    short, short_sizes = shorten(steps, sizes, run)
    assert len(short) == len(steps) - run.left_out * run.rows
    assert len(short_sizes) == len(sizes) - run.left_out * run.sids
    assert short[:run.row(KEPT)] == steps[:run.row(KEPT)]
    last = steps[run.row(run.count)]  # the first row after the run names its last unit's output, moved down
    assert short[run.row(KEPT)].sids_in == tuple(sid - run.left_out * run.sids for sid in last.sids_in)


@pytest.mark.parametrize("design", DESIGNS)
@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: "-".join(map(str, s)))
def test_shortened_simulations_give_the_whole_design_s_answers(design, setting):
    memory_rules, optimizer, foreach, batch = setting
    assert_same(walked(design, memory_rules, optimizer, foreach, batch))


@pytest.mark.parametrize("options", [{"freeze": 12}, {"dtype": "float16"}, {"dtype": "bfloat16", "optimizer": "adam"},
                                     {"accumulate": 2}, {"accumulate": 4, "optimizer": "adam", "foreach": False},
                                     {"accumulate": 3, "memory_rules": "cpu", "optimizer": "momentum"},
                                     {"amp": "bfloat16"}, {"amp": "float16", "accumulate": 2},
                                     {"amp": "bfloat16", "optimizer": "adam", "memory_rules": "cpu", "freeze": 9}])
def test_frozen_rows_other_dtypes_accumulation_and_autocast(options):
    """Freezing the rows up to one inside the run splits it where the rows stop being frozen; with gradient
    accumulation every parameter's gradient lives before the step, each new one added into it; under
    autocast every bias's cast lives until the loss has run (each unit's, the units left out's too)."""
    assert_same(walked(CHAIN.format(n=24), **options))


@pytest.mark.parametrize("options", [{"checkpoint": ((3, 10),)}, {"checkpoint": ((5, 40),), "amp": "bfloat16"}])
def test_what_the_shortening_does_not_cover_is_simulated_whole(options):
    walk = walked(CHAIN.format(n=24), **options)
    planner.mark_segments(walk)
    assert not repeats.shortens(walk.steps, walk.setup)
    assert_same(walk, shortened=False)


def test_units_that_do_not_repeat_are_refused():
    """steady() compares the three middle units' events: a size changed in one of them and they are refused."""
    walk = walked(CHAIN.format(n=12))
    steps, sizes = walk.steps, walk.storages.sizes
    run = find_run(steps, sizes)
    short, short_sizes = shorten(steps, sizes, run)
    from cnncalc.simulate.evaluate import Pass

    t = Marked(512)
    at = dict.fromkeys(run.row(unit) for unit in range(1, KEPT))
    Pass(t, short, short_sizes, 4, 1, "cuda", None).run(at)
    marks = list(at.values())
    assert steady(t, marks, run, backward=False) is not None
    t.log.sizes[marks[1][0]] += 512
    assert steady(t, marks, run, backward=False) is None


def test_keys_move_by_whole_units():
    walk = walked(RESIDUAL)
    run = find_run(walk.steps, walk.storages.sizes)
    move = Mover(run, 1)
    keys = [run.storage(1), run.storage(0), "temp", ("extra", run.row(2)), ("grad_p", run.tensor(3)),
            ("sum", run.row(0), run.storage(0) - 1), ("loss", 1)]
    assert move.moved(keys, 3) == [run.storage(1) + 3 * run.sids, run.storage(0), "temp",
                                   ("extra", run.row(2) + 3 * run.rows), ("grad_p", run.tensor(3) + 3 * run.params),
                                   ("sum", run.row(0), run.storage(0) - 1), ("loss", 1)]
    with pytest.raises(KeyError):
        move.moved([("unknown", 1)], 1)


def _lengthened(spec: randomdesigns.Spec, rng: random.Random) -> bool:
    """Each top-level repeat that keeps its input's volume repeated FEWEST + 1 to FEWEST + 4 times; any?"""
    v, any_ = spec.input, False
    for item in spec.items:
        if isinstance(item, randomdesigns.Repeat) and item.n and randomdesigns.chain_out(item.items, v,
                                                                                          spec.batch) == v:
            item.n, any_ = rng.randint(FEWEST + 1, FEWEST + 4), True
        v = item.out(v, spec.batch)
    return any_


def test_random_designs_with_long_repeats():
    """The generator's designs (tests/randomdesigns.py), their repeats that keep the volume made long enough
    to be shortened: at least a hundred of them run shortened, all with the whole design's answers."""
    rng, shortened = random.Random(7), 0
    for seed in range(1500):
        spec = randomdesigns.generate(seed)
        if not _lengthened(spec, rng):
            continue
        try:
            walk = walked(spec.design(), rng.choice(["cuda", "cpu"]), spec.optimizer, spec.foreach, spec.batch,
                          accumulate=rng.choice([1, 1, 2, 3]), amp=rng.choice([None, None, "bfloat16", "float16"]))
        except cnncalc.CnnCalcError:
            continue
        if not cnncalc.simulate.supported(walk.steps, walk.setup.amp):
            continue
        run = find_run(walk.steps, walk.storages.sizes)
        assert_same(walk, shortened=False)
        shortened += run is not None and repeats.shortened_step(walk.steps, walk.storages.sizes, walk.setup,
                                                                walk.settings.batch, None, run) is not None
    assert shortened >= 100


@pytest.mark.parametrize("options", [{"budget": "2GiB"}, {"budget": "1GiB", "budget_for": "inference"},
                                     {"budget": "3GiB", "optimizer": "adam", "memory_rules": "cpu", "max_input": True}])
def test_a_plan_and_its_budget_are_the_whole_simulation_s(monkeypatch, options):
    """The whole report (peaks, CUDA figures, the largest batch, the largest input) is the same with runs
    shortened and without."""
    design = RESIDUAL.replace("block(8)*10", "block(8)*30")
    shortened = cnncalc.plan(design, batch=4, **options).model_dump()
    from cnncalc.simulate import budget, peaks

    for module in (peaks, budget, repeats):
        monkeypatch.setattr(module, "find_run", lambda steps, sizes: None)
    assert cnncalc.plan(design, batch=4, **options).model_dump() == shortened
