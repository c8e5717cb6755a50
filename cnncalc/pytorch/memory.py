"""PyTorch's own measurement of one training step: the oracle cnncalc's simulated peak is tested against.

The step (`STEP`, the same one cnncalc simulates):

    x = randn(N, C, H, W)                         the input batch
    y = randint(classes, (N, H_out, W_out))       integer targets, one per output pixel (int64)
    loss = cross_entropy(net(x), y)               per pixel when the output is spatial
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)

run twice, the second one measured (the optimizer state exists, as in the steady state), with
the batch, the targets and the loss held until the step ends (as a training loop's variables), by
`torch.distributed._tools.mem_tracker.MemTracker`: the live bytes of every tensor storage,
sampled after every operation, by category. Under `FakeTensorMode` nothing is computed and the
peak is the same to the byte, so a measurement costs seconds. Needs torch (the extra).
"""

from __future__ import annotations

from typing import NamedTuple

OPTIMIZERS = ("sgd", "momentum", "adam")
CATEGORIES = {"Parameter": "params", "Buffer": "buffers", "Gradient": "gradients", "Optstate": "optimizer",
              "Activation": "activations", "Temp": "temporaries", "Other": "other"}


class Measured(NamedTuple):
    peak_bytes: int
    breakdown: dict[str, int]  # bytes at the peak by category: params, buffers, gradients, optimizer, ...
    timeline: list[tuple[str, int]] | None  # (operation, live bytes after it), when asked for


def optimizer_for(torch, name: str, params, foreach: bool | None):
    if name == "sgd":
        return torch.optim.SGD(params, lr=0.01, foreach=foreach)
    if name == "momentum":
        return torch.optim.SGD(params, lr=0.01, momentum=0.9, foreach=foreach)
    if name == "adam":
        return torch.optim.Adam(params, lr=1e-3, foreach=foreach)
    raise ValueError(f"unknown optimizer {name!r} (choose from {', '.join(OPTIMIZERS)})")


def measure_step(source: str, *, batch: int, optimizer: str = "sgd", foreach: bool | None = False,
                 fake: bool = True, timeline: bool = False, accumulate: int = 1, amp: str | None = None) -> Measured:
    """The peak of the second of two training steps of the network in `source` (what `cnncalc
    export` writes), on the CPU, with MemTracker; `foreach` picks the optimizer's implementation
    (None: PyTorch's default for the device). With `accumulate` > 1, the gradients of that many
    micro-batches are accumulated before the step: the last micro-batch, measured, starts with the
    gradients alive. `amp` (float16, bfloat16): the forward pass and the loss run under CPU autocast,
    the parameters stay float32."""
    import torch
    import torch.nn.functional as F
    from torch._subclasses.fake_tensor import FakeTensorMode
    from torch.distributed._tools.mem_tracker import MemTracker

    namespace: dict = {}
    exec(compile(source, "<cnncalc export>", "exec"), namespace)
    c, h, w = namespace["INPUT_SHAPE"]
    classes, out_h, out_w = namespace["OUTPUT_SHAPE"]

    def micro(net):  # one micro-batch's forward and backward; the caller holds the batch
        x = torch.randn(batch, c, h, w)
        y = torch.randint(classes, (batch, out_h, out_w))
        with _autocast(torch, amp):
            loss = F.cross_entropy(net(x), y)
        loss.backward()
        return x, y, loss

    def step(net, opt):
        held = micro(net)  # the batch, targets and loss live on, as a loop's variables, through the step
        opt.step()
        opt.zero_grad(set_to_none=True)
        del held

    mode = FakeTensorMode() if fake else None
    if mode is not None:
        mode.__enter__()
    try:
        torch.manual_seed(0)
        net = namespace["Net"]().train()
        opt = optimizer_for(torch, optimizer, net.parameters(), foreach)
        step(net, opt)  # the first step creates the optimizer's state
        for _ in range(accumulate - 1):  # gradient accumulation: the micro-batches before the last
            micro(net)
        tracker = _TimelineTracker(timeline) if timeline else MemTracker()
        tracker.track_external(net, opt)
        with tracker:
            step(net, opt)
        (snapshot,) = tracker.get_tracker_snapshot("peak").values()
    finally:
        if mode is not None:
            mode.__exit__(None, None, None)
    breakdown = {CATEGORIES.get(str(getattr(k, "value", k)), str(k)): v for k, v in snapshot.items()
                 if str(k) != "Total" and v}
    return Measured(snapshot["Total"], breakdown, tracker.events if timeline else None)


def _autocast(torch, amp: str | None):
    """CPU autocast to `amp`'s dtype, or nothing."""
    import contextlib

    return contextlib.nullcontext() if amp is None else torch.autocast("cpu", dtype=getattr(torch, amp))


def measure_inference(source: str, *, batch: int, fake: bool = True, amp: str | None = None) -> int:
    """The peak of an evaluation-mode forward pass under no_grad (the parameters and buffers
    included), on the CPU, with MemTracker; under autocast to `amp` when given."""
    import torch
    from torch._subclasses.fake_tensor import FakeTensorMode
    from torch.distributed._tools.mem_tracker import MemTracker

    namespace: dict = {}
    exec(compile(source, "<cnncalc export>", "exec"), namespace)
    c, h, w = namespace["INPUT_SHAPE"]
    mode = FakeTensorMode() if fake else None
    if mode is not None:
        mode.__enter__()
    try:
        net = namespace["Net"]().eval()
        tracker = MemTracker()
        tracker.track_external(net)
        with tracker, torch.no_grad(), _autocast(torch, amp):
            net(torch.randn(batch, c, h, w))
        (snapshot,) = tracker.get_tracker_snapshot("peak").values()
    finally:
        if mode is not None:
            mode.__exit__(None, None, None)
    return snapshot["Total"]


def _TimelineTracker(_: bool):
    """A MemTracker that also records the live total after every operation (for debugging a rule)."""
    from torch.distributed._tools.mem_tracker import MemTracker

    class TimelineTracker(MemTracker):
        def __init__(self) -> None:
            super().__init__()
            self.events: list[tuple[str, int]] = []

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            res = super().__torch_dispatch__(func, types, args, kwargs)
            total = sum(snap.get("Total", 0) for snap in self._curr_mem_snap.values())
            self.events.append((str(func), total))
            return res

    return TimelineTracker()
