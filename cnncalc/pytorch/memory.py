"""PyTorch's own measurement of one training step: the oracle cnncalc's simulated peak is tested against.

The step (`STEP`, the same one cnncalc simulates):

    x = randn(N, C, H, W)                         the input batch
    y = randint(classes, (N, H_out, W_out))       integer targets, one per output pixel (int64);
                                                  (N,) when the network returns N x classes logits
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

from .export import MERGE_MODULES

OPTIMIZERS = ("sgd", "momentum", "adam")
CATEGORIES = {"Parameter": "params", "Buffer": "buffers", "Gradient": "gradients", "Optstate": "optimizer",
              "Activation": "activations", "Temp": "temporaries", "Other": "other"}


class Measured(NamedTuple):
    peak_bytes: int
    breakdown: dict[str, int]  # bytes at the peak by category: params, buffers, gradients, optimizer, ...
    timeline: list[tuple[str, int]] | None  # (operation, live bytes after it), when asked for


def network_namespace(source) -> dict:
    """What the measures read of a network: `Net` (made with no arguments), `INPUT_SHAPE`, `OUTPUT_SHAPE`
    and `SIDE_SHAPES`, from the source `cnncalc export` writes, or given as such a dict (another model:
    benchmarks/torchvision_memory.py measures torchvision's own)."""
    if isinstance(source, dict):
        return source
    namespace: dict = {}
    exec(compile(source, "<cnncalc export>", "exec"), namespace)
    return namespace


def optimizer_for(torch, name: str, params, foreach: bool | None):
    if name == "sgd":
        return torch.optim.SGD(params, lr=0.01, foreach=foreach)
    if name == "momentum":
        return torch.optim.SGD(params, lr=0.01, momentum=0.9, foreach=foreach)
    if name == "adam":
        return torch.optim.Adam(params, lr=1e-3, foreach=foreach)
    raise ValueError(f"unknown optimizer {name!r} (choose from {', '.join(OPTIMIZERS)})")


def measure_step(source: str, *, batch: int, optimizer: str = "sgd", foreach: bool | None = False,
                 fake: bool = True, timeline: bool = False, accumulate: int = 1, amp: str | None = None,
                 freeze: int | None = None, checkpoint: tuple[tuple[int, int], ...] = ()) -> Measured:
    """The peak of the second of two training steps of the network in `source` (what `cnncalc
    export` writes), on the CPU, with MemTracker; `foreach` picks the optimizer's implementation
    (None: PyTorch's default for the device). With `accumulate` > 1, the gradients of that many
    micro-batches are accumulated before the step: the last micro-batch, measured, starts with the
    gradients alive. `amp` (float16, bfloat16): the forward pass and the loss run under CPU autocast,
    the parameters stay float32. `freeze`: the parameters of rows 1..freeze do not require grad (nor
    are they in the optimizer); `checkpoint`: row ranges (first, last), each whole top-level items,
    run under torch.utils.checkpoint (non-reentrant)."""
    import torch
    from torch._subclasses.fake_tensor import FakeTensorMode

    namespace = network_namespace(source)
    batches = _Batches(torch, namespace, batch, amp)

    mode = FakeTensorMode() if fake else None
    if mode is not None:
        mode.__enter__()
    try:
        torch.manual_seed(0)
        net = namespace["Net"]().train()
        if freeze is not None:
            freeze_rows(net, freeze)
        if checkpoint:
            checkpoint_segments(net, checkpoint)
        opt = optimizer_for(torch, optimizer, [p for p in net.parameters() if p.requires_grad], foreach)
        batches.step(net, opt)  # the first step creates the optimizer's state
        for _ in range(accumulate - 1):  # gradient accumulation: the micro-batches before the last
            batches.micro(net)
        tracker = _tracker(timeline)
        tracker.track_external(net, opt)
        with tracker:
            batches.step(net, opt)
        (snapshot,) = tracker.get_tracker_snapshot("peak").values()
    finally:
        if mode is not None:
            mode.__exit__(None, None, None)
    breakdown = {CATEGORIES.get(str(getattr(k, "value", k)), str(k)): v for k, v in snapshot.items()
                 if str(k) != "Total" and v}
    return Measured(snapshot["Total"], breakdown, tracker.events if timeline else None)


class _Batches:
    """The exported network's training step: a random batch and its targets (each side head's too), the
    cross-entropy of each output, summed, and its backward; then the optimizer's step."""

    def __init__(self, torch, namespace: dict, batch: int, amp: str | None, device: str = "cpu") -> None:
        import torch.nn.functional as F

        self.torch, self.F, self.batch, self.amp, self.device = torch, F, batch, amp, device
        self.input = namespace["INPUT_SHAPE"]  # C, H, W
        self.classes, *self.spatial = namespace["OUTPUT_SHAPE"]  # (classes,) for N x classes logits, or (C, H, W)
        self.sides = namespace.get("SIDE_SHAPES", [])  # the side heads' outputs, returned after the main one

    def summed(self, outs, ys):
        """Each output's loss, added; the outputs and the separate losses go on return."""
        losses = [self.F.cross_entropy(out, target) for out, target in zip(outs, ys)]
        loss = losses[0]
        for more in losses[1:]:
            loss = loss + more
        return loss

    def micro(self, net):
        """One micro-batch's forward and backward; the caller holds the batch."""
        torch, batch, device = self.torch, self.batch, self.device
        x = torch.randn(batch, *self.input, device=device)  # made where the network is, as a loader's batch
        y = torch.randint(self.classes, (batch, *self.spatial), device=device)
        if self.sides:
            ys = [y, *(torch.randint(k, (batch, *rest), device=device) for k, *rest in self.sides)]
            with _autocast(torch, self.amp, device):
                loss = self.summed(net(x), ys)
            loss.backward()
            return x, ys, loss
        with _autocast(torch, self.amp, device):
            loss = self.F.cross_entropy(net(x), y)
        loss.backward()
        return x, y, loss

    def step(self, net, opt) -> None:
        held = self.micro(net)  # the batch, targets and loss live on, as a loop's variables, through the step
        opt.step()
        opt.zero_grad(set_to_none=True)
        del held


def _autocast(torch, amp: str | None, device: str = "cpu"):
    """Autocast on `device` to `amp`'s dtype, or nothing."""
    import contextlib

    return contextlib.nullcontext() if amp is None else torch.autocast(device, dtype=getattr(torch, amp))


class CudaMeasured(NamedTuple):
    """torch.cuda's own figures for the second of two training steps (after reset_peak_memory_stats)."""

    max_allocated: int  # torch.cuda.max_memory_allocated() over the step
    max_reserved: int  # torch.cuda.max_memory_reserved() over the step (the segments, never released)
    allocated_between: int  # memory_allocated() between the steps: what lives from step to step


def measure_cuda_step(source: str, *, batch: int, optimizer: str = "sgd", foreach: bool | None = False,
                      accumulate: int = 1, amp: str | None = None, freeze: int | None = None,
                      checkpoint: tuple[tuple[int, int], ...] = ()) -> CudaMeasured:
    """The step measure_step runs (the same batch, targets, loss, optimizer and order), on the GPU, two
    times: the network moved to the device, a first step that makes the optimizer's state, then the
    measured one. The caller empties the cache and resets the statistics before (benchmarks/cuda_check.py):
    the figures are the process's. Needs a CUDA build of torch and a GPU."""
    import torch

    namespace = network_namespace(source)
    batches = _Batches(torch, namespace, batch, amp, device="cuda")
    torch.manual_seed(0)
    net = namespace["Net"]().train().cuda()
    if freeze is not None:
        freeze_rows(net, freeze)
    if checkpoint:
        checkpoint_segments(net, checkpoint)
    opt = optimizer_for(torch, optimizer, [p for p in net.parameters() if p.requires_grad], foreach)
    batches.step(net, opt)
    torch.cuda.synchronize()
    between = torch.cuda.memory_allocated()  # parameters and optimizer state
    for _ in range(accumulate - 1):  # the micro-batches before the last: their gradients stay
        batches.micro(net)
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    batches.step(net, opt)
    torch.cuda.synchronize()
    measured = CudaMeasured(torch.cuda.max_memory_allocated(), torch.cuda.max_memory_reserved(), between)
    del net, opt, batches
    return measured


def measure_inference(source: str, *, batch: int, fake: bool = True, amp: str | None = None) -> int:
    """The peak of an evaluation-mode forward pass under no_grad (the parameters and buffers
    included), on the CPU, with MemTracker; under autocast to `amp` when given."""
    import torch
    from torch._subclasses.fake_tensor import FakeTensorMode
    from torch.distributed._tools.mem_tracker import MemTracker

    namespace = network_namespace(source)
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


def _tracker(timeline: bool):
    """A MemTracker with two fixes, and the live total after every operation when `timeline`:

    - the stock tracker hooks the gradient of every parameter of a module when it first runs, and
      raises on a frozen one ("cannot register a hook on a tensor that doesn't require gradient"):
      this one hooks only the parameters that require grad; frozen ones still count as parameters;
    - FakeTensorMode's native_batch_norm_backward makes the input's gradient even when it is not
      asked for (a BN whose input does not require grad), where the CPU and CUDA kernels do not:
      this one drops it, so fake runs measure as real ones."""
    import torch
    from torch.distributed._tools.mem_tracker import MemTracker, _MemRefType

    bn_backward = torch.ops.aten.native_batch_norm_backward.default

    class Tracker(MemTracker):
        def __init__(self) -> None:
            super().__init__()
            self.events: list[tuple[str, int]] = []

        def _track_module_params_and_buffers(self, module, install_grad_hooks: bool = True):
            def grad_hook(grad) -> None:
                self._update_and_maybe_create_winfos(grad, _MemRefType.GRAD)

            param_memory = buffer_memory = 0
            for param in module.parameters():
                param_memory += sum(w.mem_consumed for w in self._update_and_maybe_create_winfos(param,
                                                                                               _MemRefType.PARAM))
                if param.grad is not None:
                    self._update_and_maybe_create_winfos(param.grad, _MemRefType.GRAD)
                if install_grad_hooks and param.requires_grad and param not in self._param_to_grad_hook_handles:
                    self._param_to_grad_hook_handles[param] = (
                        param.register_hook(grad_hook),
                        param.register_post_accumulate_grad_hook(lambda p: grad_hook(p.grad)))
            for buffer in module.buffers():
                buffer_memory += sum(w.mem_consumed for w in self._update_and_maybe_create_winfos(buffer,
                                                                                                _MemRefType.BUFFER))
            return param_memory, buffer_memory

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            if func is bn_backward and not args[-1][0]:
                op = func

                def func(*a, **k):  # noqa: F811 (the kernel's result without the unasked gradient)
                    return (None, *op(*a, **k)[1:])
            res = super().__torch_dispatch__(func, types, args, kwargs)
            if timeline:
                self.events.append((str(func), sum(snap.get("Total", 0) for snap in self._curr_mem_snap.values())))
            return res

    return Tracker()


def is_merge(module) -> bool:
    return type(module).__name__ in MERGE_MODULES


def is_call(module) -> bool:
    """A block call of the design: an nn.Sequential of its rows (the export's)."""
    return type(module).__name__ == "Sequential"


def row_modules(sequential) -> list:
    """The modules of the exported Net in the order of cnncalc's rows: arms (each arm's modules in
    order, recursively), then their merge; a block call's modules in order."""
    out = []
    for module in sequential.children():
        if is_call(module):
            out.extend(row_modules(module))
            continue
        if is_merge(module):
            for arm in module.arms:
                out.extend(row_modules(arm))
        out.append(module)
    return out


def modules_in_row_order(net) -> list:
    """The exported network's modules in cnncalc's row order: [None (INPUT), row 1's module, ...]."""
    return [None, *row_modules(net.layers)]


def freeze_rows(net, last: int) -> None:
    """requires_grad_(False) on the parameters of rows 1..last (a merge row's own parameters: none)."""
    for m in modules_in_row_order(net)[1:last + 1]:
        for p in m.parameters(recurse=not is_merge(m)):
            p.requires_grad_(False)


def checkpoint_segments(net, segments) -> None:
    """Run each segment (first row, last row: whole top-level modules) under non-reentrant
    torch.utils.checkpoint (preserve_rng_state and early_stop at their defaults)."""
    import torch.nn as nn
    from torch.utils.checkpoint import checkpoint

    class Checkpointed(nn.Sequential):
        def forward(self, x):
            return checkpoint(super().forward, x, use_reentrant=False)

    spans, row = [], 1  # (first row, last row, module) of every top-level module
    for m in net.layers.children():
        n = len(row_modules(nn.Sequential(m)))
        spans.append((row, row + n - 1, m))
        row += n
    cut = True
    while cut:  # a block call that a segment starts or ends inside: its modules, each on its own
        cut = False
        for k, (a, b, m) in enumerate(spans):
            if is_call(m) and any(a < first <= b or a <= last < b for first, last in segments):
                inner, row = [], a
                for child in m.children():
                    n = len(row_modules(nn.Sequential(child)))
                    inner.append((row, row + n - 1, child))
                    row += n
                spans[k:k + 1] = inner
                cut = True
                break
    starts = {a: i for i, (a, _, _) in enumerate(spans)}
    ends = {b: i for i, (_, b, _) in enumerate(spans)}
    modules, at = [], 0
    for a, b in sorted(segments):
        if a not in starts or b not in ends or ends[b] < starts[a] or starts[a] < at:
            raise ValueError(f"rows {a}-{b} are not whole top-level modules, or overlap another segment")
        modules += [m for _, _, m in spans[at:starts[a]]]
        modules.append(Checkpointed(*[m for _, _, m in spans[starts[a]:ends[b] + 1]]))
        at = ends[b] + 1
    net.layers = nn.Sequential(*modules, *[m for _, _, m in spans[at:]])
