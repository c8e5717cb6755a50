"""The training step and the inference pass of a design with a run of repeated units (runs.py), simulated
on the design shortened to KEPT units. The units left out never hold the peak (the units around the
template, which are simulated, bound their samples: `steady` checks it), so the samples after the template
are raised by what the units left out leave alive; the template's events, moved unit by unit, stand for
theirs in the log (for the CUDA allocator's model). The network, the earlier micro-batches' gradients and
the optimizer's state (before the forward pass) and the optimizer's step (after the backward pass) run for
the whole network, beside what the shortened run leaves alive. Where the units kept do not repeat
(`steady`), or the step is one the shortening does not cover (checkpointing), the whole design is simulated.

The answers are those of the whole design's simulation, to the byte, with the same peak's phase, row and
breakdown, and the same log: tests/test_repeats.py holds them to it on hand-written and random designs.
"""

from __future__ import annotations

from .evaluate import Pass, inference
from .runs import KEPT, TEMPLATE, Marked, Run, added, copies, find_run, later, shorten, steady
from .step import TrainingStep, earlier_gradients, optimizer_state, optimizer_step, peak_of
from .steps import Setup, Step, model
from .timeline import CATEGORIES, Log, Peak, Timeline

FIND = object()  # the run is found by the simulation


def training_peak(steps: list[Step], sizes: list[int], setup: Setup, batch: int, log: Log | None = None,
                  run: Run | None | object = FIND) -> Peak:
    """simulate.step.peak_of's answer (and log), simulated on the design shortened to KEPT units of its run
    where it has one (`run`: find_run's of these steps, FIND to find it here, None to simulate the whole
    design)."""
    if not shortens(steps, setup):
        run = None
    elif run is FIND:
        run = find_run(steps, sizes)
    if run is not None:
        peak = shortened_step(steps, sizes, setup, batch, log, run)
        if peak is not None:
            return peak
    return peak_of(steps, sizes, setup, batch, log=log)


def inference_peak(steps: list[Step], sizes: list[int], *, dtype_bytes: int, batch: int, block: int, device: str,
                   amp: int | None, log: Log | None = None, run: Run | None | object = FIND) -> int:
    """simulate.evaluate.inference's answer (and log), simulated on the design shortened to KEPT units of its
    run where it has one (`run` as for training_peak)."""
    evaluated = [s for s in steps if not s.side]  # side heads run in training only
    if run is FIND or (run is not None and len(evaluated) < len(steps)):  # the run of the rows it runs
        run = find_run(evaluated, sizes)
    shortened = None if run is None else shortened_inference(evaluated, sizes, dtype_bytes, batch, block, device, run,
                                                             log is not None, amp)
    if shortened is None:
        return inference(steps, sizes, dtype_bytes=dtype_bytes, batch=batch, block=block, device=device, amp=amp,
                         log=log)
    peak, keys, sizes_ = shortened
    t = Timeline(block, {})
    t.log = log
    model(t, steps, dtype_bytes)
    if log is not None:
        log.mark_forward()
        log.keys += keys
        log.sizes += sizes_
    return t.total + peak


def shortens(steps: list[Step], setup: Setup) -> bool:
    """Does the shortened training step cover this setup? (Not checkpointing: a segment's rules reach across
    the units.)"""
    return all(s.ckpt is None for s in steps)


def shortened_inference(steps: list[Step], sizes: list[int], dtype_bytes: int, batch: int, block: int, device: str,
                        run: Run, logged: bool = True, amp: int | None = None) -> tuple[int, list, list[int]] | None:
    """The peak of the pass beside the network, and the whole run's events (`logged`; else none); None where
    the units kept do not repeat."""
    short, short_sizes = shorten(steps, sizes, run)
    t = Marked(block)
    at = dict.fromkeys(run.row(unit) for unit in range(1, KEPT))
    Pass(t, short, short_sizes, dtype_bytes, batch, device, amp).run(at)
    marks = list(at.values())
    grows = steady(t, marks, run, backward=False)
    if grows is None:
        return None
    peak = max(candidate[0] for candidate in _whole(t.samples, run, grows, grows))
    if not logged:
        return peak, [], []
    keys, sizes_, (two, _), (three, _) = t.log.keys, t.log.sizes, marks[1], marks[2]
    try:  # autocast's cache goes when the pass ends: every parameter's cast (the units left out's too)
        after, after_sizes = _exited(keys, sizes_, three, len(keys), run, ("bcast", "wcast"))
        keys = [*keys[:three], *copies(keys, two, three, run, range(1, run.left_out + 1)), *after]
    except KeyError:  # a key the shortening does not know how to move
        return None
    return peak, keys, [*sizes_[:three], *sizes_[two:three] * run.left_out, *after_sizes]


def shortened_step(steps: list[Step], sizes: list[int], setup: Setup, batch: int, log: Log | None,
                   run: Run) -> Peak | None:
    """The training step's peak from the shortened design, the whole run's events in `log`; None where the
    units kept do not repeat."""
    short, short_sizes = shorten(steps, sizes, run)
    sub = Marked(setup.block)
    step = TrainingStep(short, short_sizes, setup, batch, timeline=sub)
    step.forward_at = dict.fromkeys(run.row(unit) for unit in range(1, KEPT))
    step.backward_at = dict.fromkeys(run.row(unit) - 1 for unit in range(KEPT - 1, 0, -1))  # each unit's last row
    step.forward()
    step.loss()
    step.backward()
    ahead, back = list(step.forward_at.values()), list(step.backward_at.values())
    forward, backward = steady(sub, ahead, run, backward=False), steady(sub, back, run, backward=True)
    if forward is None or backward is None:
        return None
    try:
        events = None if log is None else _events(sub.log, run, ahead, back)
        cached = _cached(sub.log, run, ahead, back)
    except KeyError:  # a key the shortening does not know how to move, or casts it does not know how to free
        return None
    t = Timeline(setup.block, {})  # the network, the earlier micro-batches' gradients, the optimizer's state: whole
    t.log = log
    model(t, steps, setup.dtype_bytes)
    tensors = [(n, s.trainable) for s in steps for n in (s.weights, s.biases) if n]
    if step.accumulating:
        earlier_gradients(t, [n for n, _ in tensors], [i for i, (_, yes) in enumerate(tensors) if yes],
                          setup.dtype_bytes)
    trained = [n for n, yes in tensors if yes]
    optimizer_state(t, trained, setup.dtype_bytes, setup.optimizer, setup.device)
    if log is not None:
        log.mark_forward()
        log.keys += events[0]
        log.sizes += events[1]
    network = tuple(t.sums.values())
    total, phase, index, sums = max(_whole(sub.samples, run, forward, backward, cached), key=lambda c: c[0])
    t.peak = Peak(total + t.total, phase, index, dict(zip(CATEGORIES, added(sums, network))))
    end = added(added(network, tuple(sub.sums.values())), added(added(forward, backward), cached, -1), run.left_out)
    t.sums = dict(zip(CATEGORIES, end))
    t.total = sum(end)
    optimizer_step(t, trained, setup.dtype_bytes, setup.optimizer, setup.foreach)
    return t.peak


def _events(short: Log, run: Run, ahead: list, back: list) -> tuple[list, list[int]]:
    """The whole run's events of the forward and backward passes (keys, sizes), from the shortened run's:
    the template unit's forward events once for each unit (moved by one more unit each), those after them
    (the later units, the loss with autocast's exit, their backward) moved by the units left out, the template's
    backward events once for each unit (last to first), then the rest (the keys the later units made moved)."""
    keys, sizes, left_out = short.keys, short.sizes, run.left_out
    (two, _), (three, _) = ahead[1], ahead[2]
    (back_two, _), (back_one, _) = back[1], back[2]
    after, after_sizes = _exited(keys, sizes, three, back_two, run, ("bcast",))
    return ([*keys[:three], *copies(keys, two, three, run, range(1, left_out + 1)), *after,
             *copies(keys, back_two, back_one, run, range(left_out, 0, -1)), *keys[back_two:back_one],
             *later(keys, back_one, len(keys), run, TEMPLATE + 1)],
            [*sizes[:three], *sizes[two:three] * left_out, *after_sizes,
             *sizes[back_two:back_one] * left_out, *sizes[back_two:]])


def _exited(keys: list, sizes: list[int], lo: int, hi: int, run: Run, cast: tuple[str, ...]) -> tuple[list, list[int]]:
    """The events from `lo` to `hi`, after the template's, moved by the units left out; where autocast exits
    among them (its cache of `cast` keys goes), the frees of the template's casts come first for each unit
    left out, as the units run, before the last of them (the template's own, moved)."""
    moved = later(keys, lo, hi, run, TEMPLATE)
    first, end = _exit(keys, sizes, lo, hi, run, cast)
    if first == end:
        return moved, sizes[lo:hi]
    exits = copies(keys, first, end, run, range(run.left_out))
    return ([*moved[:first - lo], *exits, *moved[first - lo:]],
            [*sizes[lo:first], *[0] * len(exits), *sizes[first:hi]])


def _exit(keys: list, sizes: list[int], lo: int, hi: int, run: Run, cast: tuple[str, ...]) -> tuple[int, int]:
    """Where, among the events from `lo` to `hi`, autocast's exit frees the template's cached casts (`cast`
    keys of its rows): one block (first, end), empty where there is none; KeyError where they are not one."""
    two, three = run.row(TEMPLATE), run.row(TEMPLATE + 1)
    frees = [i for i in range(lo, hi) if not sizes[i] and type(keys[i]) is tuple and keys[i][0] in cast
             and two <= keys[i][1] < three]
    if not frees:
        return lo, lo
    first, end = frees[0], frees[-1] + 1
    if frees != list(range(first, end)):
        raise KeyError(cast)  # not one block: the shortening does not know these events
    return first, end


def _cached(short: Log, run: Run, ahead: list, back: list) -> tuple[int, ...]:
    """The bytes, by category, of the template unit's casts that autocast keeps cached until it exits after the
    loss (a bias's, for a recorded convolution or FC under --amp): "other" (step.make_casts)."""
    keys, sizes = short.keys, short.sizes
    (two, _), (three, _), (back_two, _) = ahead[1], ahead[2], back[1]
    first, end = _exit(keys, sizes, three, back_two, run, ("bcast",))
    cached = set(keys[first:end])
    other = sum(size for key, size in zip(keys[two:three], sizes[two:three]) if size and key in cached)
    return tuple(other if name == "other" else 0 for name in CATEGORIES)


def _whole(samples: list[tuple], run: Run, forward: tuple[int, ...], backward: tuple[int, ...],
           cached: tuple[int, ...] | None = None):
    """The candidates for the whole run's peak from the shortened run's samples, in the whole run's order:
    (bytes, phase, row, totals by category). A sample before the template's stays (in the backward pass raised
    by what every unit left out leaves alive after its backward); a sample after the template's is raised by
    what the units left out leave alive in the forward pass, its row moved by them. In the backward pass,
    autocast has exited: the units left out no longer hold their `cached` casts. The template's samples,
    in any of its copies, are never the first largest: `steady` checked that the unit before's are each the
    template's lowered by what a unit leaves alive (`forward`, or `backward` in the backward pass), and the
    unit after's raised by it; where that is nothing or less, the unit before's come first and are as large or
    larger, else the unit after's are larger."""
    left_out, rows = run.left_out, run.rows
    two, three = run.row(TEMPLATE), run.row(TEMPLATE + 1)
    later = tuple(left_out * x for x in forward)  # what the units left out leave alive in the forward pass
    exited = added(later, cached, -left_out) if cached else later  # and once autocast has exited
    done = added(exited, backward, left_out)  # and after their backward
    for phase, row, total, sums in samples:
        if row is not None and two <= row < three:
            continue
        back = phase == "backward"
        if row is not None and row < two:
            yield (total + sum(done), phase, row, added(sums, done)) if back else (total, phase, row, sums)
        else:
            raised = exited if back else later
            yield total + sum(raised), phase, row if row is None or row < three else row + left_out * rows, \
                added(sums, raised)
