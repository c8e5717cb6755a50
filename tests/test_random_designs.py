"""Random designs over every construct of the language (tests/randomdesigns.py, issue 21): each planned by
cnncalc and compared with the generator's own PyTorch build of it (not cnncalc's export) and with MemTracker:
params, buffers, every row's shape, the output convention, the outputs (against the exported network with the
same weights), the training step's peak and inference's peak, to the byte. A peak cnncalc does not model
(null, named in totals.partial) is not a failure.

`test_random_designs_agree` (slow) runs SEEDS seeds, about a minute on two cores;
`python benchmarks/random_designs.py --seeds 2000` runs thousands and sorts the disagreements by class. A failing
seed prints its design and every difference; `python tests/randomdesigns.py SEED` shows it again.

Skipped, with the reason, when PyTorch is not installed or has no MemTracker (torch older than 2.5).
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.torch  # the slow test is marked slow too; the fast one is not
torch = pytest.importorskip("torch", reason="PyTorch is not installed: pip install torch==2.13.0")
pytest.importorskip("torch.distributed._tools.mem_tracker",
                    reason=f"MemTracker needs torch 2.5 or later, this is {torch.__version__}")

import randomdesigns  # noqa: E402

SEEDS = range(160)  # the slow test's seeds: under a minute on two cores (0.3 s a design)
# disagreements found and not fixed yet (issue 21's closing note): each must keep disagreeing (strict xfail) until
# its fix takes it off this list
KNOWN: dict[int, str] = {}  # none now: 15, 40 and 107 agree since the ordering and layout rules (issue 21)
# four seeds whose designs hold every construct of CONSTRUCTS between them, each agreeing (the fast test)
FAST = (85, 103, 41, 57)


@pytest.fixture(autouse=True)
def one_thread():
    """The designs are tiny: one thread measures them twice as fast as two (and leaves a core free)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _explain(result) -> str:
    lines = [f"seed {result.seed}: {result.status}: {result.design}",
             f"  batch {result.batch}, {result.optimizer}{' (foreach)' if result.foreach else ''}"]
    if result.message:
        lines.append(f"  {result.message}")
    for d in result.diffs:
        lines.append(f"  {d.get('class', d['what'])}: cnncalc {d['cnncalc']}, PyTorch {d['torch']}"
                     + (f" ({d['delta']:+d} bytes)" if "delta" in d else "")
                     + (f"; cnncalc's export measures {d['export']}" if "export" in d else ""))
    return "\n".join(lines)


def test_the_generator_is_deterministic_and_makes_valid_designs():
    """Every seed gives the same design each time, one the generator's own volumes accept, over every construct."""
    seen = set()
    for seed in range(300):
        spec = randomdesigns.generate(seed)
        assert spec.design() == randomdesigns.generate(seed).design()
        randomdesigns.chain_out(spec.items, spec.input, spec.batch)  # raises Invalid if not
        seen |= randomdesigns.constructs(spec)
    assert seen == set(randomdesigns.CONSTRUCTS), set(randomdesigns.CONSTRUCTS) - seen


def test_the_fast_seeds_cover_every_construct():
    seen = set().union(*(randomdesigns.constructs(randomdesigns.generate(seed)) for seed in FAST))
    assert seen == set(randomdesigns.CONSTRUCTS), set(randomdesigns.CONSTRUCTS) - seen


@pytest.mark.parametrize("seed", FAST)
def test_a_few_random_designs_agree(seed):
    result = randomdesigns.run_seed(seed)
    assert result.status == "agreed", _explain(result)


@pytest.mark.slow
def test_random_designs_agree():
    """SEEDS seeds: each design cnncalc accepts agrees with PyTorch in everything compared (refusals, designs
    without parameters and peaks not modelled are counted, not failures)."""
    results = [randomdesigns.run_seed(seed) for seed in SEEDS if seed not in KNOWN]
    bad = [r for r in results if r.status in ("disagreed", "error")]
    compared = sum(r.status not in ("refused", "skipped") for r in results)
    assert compared >= 0.9 * len(results), [(r.seed, r.message) for r in results if r.status == "refused"]
    if bad:
        pytest.fail(f"{len(bad)} of {compared} designs disagree:\n" + "\n".join(_explain(r) for r in bad),
                    pytrace=False)


@pytest.mark.slow
@pytest.mark.parametrize("seed", sorted(KNOWN))
def test_known_disagreements_still_disagree(seed):
    """Open: when one of these agrees, the fix takes it off KNOWN (this fails until then, so none stays
    listed once fixed)."""
    result = randomdesigns.run_seed(seed)
    if result.status != "agreed":
        pytest.xfail(f"seed {seed}: {KNOWN[seed]}")
    pytest.fail(f"seed {seed} agrees now: take it off KNOWN ({KNOWN[seed]})")

