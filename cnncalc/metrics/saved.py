"""What autograd keeps for the backward pass, in training mode, over the walk: the flow of what is
known between two layers, and the storages, each counted once.

Each kind says what it keeps (its `saves` rule, measured on torch 2.13 with
`torch.autograd.graph.saved_tensors_hooks` over the network that `cnncalc export --to pytorch`
writes, parameters and buffers left out). A tensor saved by several layers (a ReLU's output that
the next convolution also saves) is counted once, by the first layer that saves it: `Storages` keeps
that bookkeeping over the walk.
"""

from __future__ import annotations

from typing import NamedTuple

from ..kinds import UNSUPPORTED, Layer, Volume
from ..kinds.base import NOTHING, Saved


def shares_storage(layer: Layer, protected: bool) -> bool:
    """Is the output the input's storage (a view of all of it, or in place)?"""
    return layer.shares_storage or layer.runs_inplace(protected)


class Flow(NamedTuple):
    """What the walk knows of the tensor between two layers.

    protected: no layer may overwrite it in place. A chain's input is protected (the network's is the
        caller's tensor, a branch's is read by the other arms), and so is an output its layer saves for
        the backward pass whenever it records one (RELU -> RELU: the second may not write what the first
        saved; decided as if the input required grad, so the exported network is safe either way), or a
        view of one.
    grad: it requires a gradient: a layer with parameters comes before it. Until then autograd records
        nothing: layers save nothing and run no backward (the input does not require grad).
    channels_last: it is laid out channels last: LAYERNORM's output (a permuted view), and what the
        layers after it make from it (see layout_after)."""

    protected: bool
    grad: bool
    channels_last: bool = False


START = Flow(protected=True, grad=False)


def layout_after(item, channels_last: bool) -> bool:
    """Is its output laid out channels last? LAYERNORM makes it; PyTorch's convolutions, pooling, norms and
    element-wise operations keep their input's (the kind's `keeps_layout`); the others make contiguous ones."""
    return item.makes_channels_last or (channels_last and item.keeps_layout)


def orders_keeps_layout(orders: bool, device: str) -> bool:
    """Does a kind's ordering of its input (`orders_input`) keep a channels-last one so? On the CPU."""
    return not orders or device != "cuda"


def apply(item, x: Volume, y: Volume, flow: Flow, has_params: bool, dtype_bytes: int,
          device: str = "cuda") -> tuple[Saved | object, Flow]:
    """What a layer or a merge keeps for backward (UNSUPPORTED where not known), and the flow after it.
    A row whose saved tensors are not known protects its output."""
    grad = flow.grad or has_params
    layout = (layout_after(item, flow.channels_last) and orders_keeps_layout(item.orders_input, device)
              and y.h * y.w > 1)  # at one position the two layouts are one
    if item.saves is UNSUPPORTED:
        return UNSUPPORTED, Flow(True, grad, layout)
    recorded = item.saves(x, y, flow.protected, dtype_bytes, device)
    protected = (flow.protected and item.transparent) or recorded[1] or item.view_output
    return recorded if grad else NOTHING, Flow(protected, grad, layout)


class Storages:
    """The tensors of one forward pass, for counting each saved storage once: `new` registers an
    output volume, `charge` adds what a layer saves and returns its bytes for the batch."""

    __slots__ = ("sizes", "saved", "dtype_bytes", "batch", "device", "base", "strided", "gapped")

    def __init__(self, dtype_bytes: int, batch: int, device: str) -> None:
        self.sizes: list[int] = []  # values per image of each storage, by id
        self.base: dict[int, int] = {}  # a view of part of a storage (a crop's) -> that storage
        self.strided: set[int] = set()  # views whose values are not laid out in order (a crop's)
        self.gapped: set[int] = set()  # views whose images are in order but not adjacent (a channel split's half)
        self.saved: set[int] = set()  # ids already saved by some layer
        self.dtype_bytes, self.batch, self.device = dtype_bytes, batch, device

    def new(self, y: Volume) -> int:
        self.sizes.append(y.h * y.w * y.c)
        return len(self.sizes) - 1

    def output(self, layer: Layer, x: Volume, y: Volume, protected: bool, sid_in: int) -> int:
        """The storage of a layer's output: its input's, in place or as a view; else a new one. A crop, a
        view of another size, has a storage of its own that holds nothing (the kind's `subview`); its values
        are out of order (strided: flattening copies them) unless it keeps every row and column of an input
        laid out in order."""
        if layer.subview:
            view = self.view(sid_in)
            if (y.h, y.w) != (x.h, x.w) or sid_in in self.strided:
                self.strided.add(view)
            return view
        return sid_in if shares_storage(layer, protected) else self.new(y)

    def view(self, of: int, half: bool = False) -> int:
        """A view of part of a storage (a crop's output, a channel split's `half`): a storage of its own
        that holds nothing; keeping it keeps what it views. A half's images, and those of any view of it,
        are apart by the whole input's (gapped)."""
        self.sizes.append(0)
        view = len(self.sizes) - 1
        self.base[view] = self.base.get(of, of)
        if half or of in self.gapped:
            self.gapped.add(view)
        return view

    def out_of_order(self, sid: int, channels_last: bool, orders: bool) -> bool:
        """Does a kind that orders its input (`orders_input`) copy this storage's tensor? A view out of order
        per image (a crop's), one whose images are apart (a channel split's half) at batch 2 or more, a
        channels-last tensor unless the kind keeps that layout (GROUPNORM on the CPU)."""
        return (sid in self.strided or (sid in self.gapped and self.batch > 1)
                or (channels_last and not orders_keeps_layout(orders, self.device)))

    def charge(self, saves: Saved, kept_in: tuple[int, ...], sid_out: int) -> int:
        """Bytes the layer adds to what autograd keeps for the backward pass, for the batch; `kept_in`:
        the input storages it keeps (the kind's `kept`)."""
        _, saves_out, per_image, per_batch = saves
        total = per_image * self.batch + per_batch
        base, saved = self.base, self.saved
        for sid in (*kept_in, sid_out) if saves_out else kept_in:
            sid = base.get(sid, sid)  # keeping a view keeps what it is a view of
            if sid not in saved:
                saved.add(sid)
                total += self.sizes[sid] * self.dtype_bytes * self.batch
        return total
