"""Output volumes (H x W x C per image) and the windows layers slide.

Conventions (PyTorch's Conv2d/MaxPool2d documentation and the CS231n notes):
    k_eff = d*(k-1) + 1                                                 the dilated kernel
    out = floor((in + 2p - k_eff) / s) + 1                              per axis
    a window fits when (in + 2p - k_eff) is divisible by s              (the notes: "must be integers")
    ceil mode: out = ceil(…) + 1, less one if the last window would start in the right padding; PyTorch
               runs it even when the window is larger than the padded input, as long as out >= 1
    transposed: out = (in-1)*s - 2p + d*(k-1) + 1 + output_padding
These formulas are written here once; fit.py and receptive.py use them.
"""

from __future__ import annotations

from typing import NamedTuple

from ..errors import DesignError
from ..layers import MAX_VALUE, Layer, Volume


class Window(NamedTuple):
    """How one window slides along one axis: axis "H" or "W", the input size on it, the
    effective kernel d*(k-1)+1, padding, stride, the output size, and ceil mode."""

    axis: str
    size: int
    kernel: int
    pad: int
    stride: int
    out: int
    ceil: bool

    @property
    def span(self) -> int:
        """in + 2p - k_eff: the distance the window travels."""
        return self.size + 2 * self.pad - self.kernel

    @property
    def fits(self) -> bool:
        return (self.size + 2 * self.pad - self.kernel) % self.stride == 0


def effective_kernel(kernel: int, dilation: int) -> int:
    return dilation * (kernel - 1) + 1


def slide(size: int, k_eff: int, stride: int, pad: int, ceil: bool = False) -> int | None:
    """Output size of a window sliding over `size`, or None when there is no output (floor mode: the
    window is larger than the padded input). As PyTorch's pooling_output_shape, with // rounding down."""
    span = size + 2 * pad - k_eff
    if not ceil:
        return span // stride + 1 if span >= 0 else None
    out = (span + stride - 1) // stride + 1
    if (out - 1) * stride >= size + pad:  # PyTorch: the last window must start inside the input or left padding
        out -= 1
    return out if out >= 1 else None


def transposed(size: int, stride: int, pad: int, dilation: int, kernel: int, output_padding: int) -> int:
    return (size - 1) * stride - 2 * pad + dilation * (kernel - 1) + 1 + output_padding


def window(layer: Layer, size: int, axis: int, ceil: bool = False) -> Window:
    """The layer's window along one axis (0: H, 1: W); an error when the kernel is larger than the padded input."""
    kernel, stride, pad, dilation = layer.kernel[axis], layer.stride[axis], layer.pad[axis], layer.dilation[axis]
    k_eff = effective_kernel(kernel, dilation)
    out = slide(size, k_eff, stride, pad, ceil)
    if out is None:
        what = f"dilated kernel {k_eff}" if dilation > 1 else f"kernel {kernel}"
        raise DesignError(f"{layer.name}: the {what} is larger than the padded input "
                          f"({size} + 2*{pad} = {size + 2 * pad}) along {'HW'[axis]}"
                          + (f", and ceil mode leaves no window at stride {stride}" if ceil else ""), layer.span)
    return Window("HW"[axis], size, k_eff, pad, stride, out, ceil)


def _windows(layer, x: Volume, ceil: bool = False) -> tuple[Window, Window]:
    return window(layer, x.h, 0, ceil), window(layer, x.w, 1, ceil)


def _check_groups(layer, channels: int, groups: int) -> None:
    if channels % groups:
        raise DesignError(f"{layer.name}: {groups} groups do not divide the {channels} input channels", layer.span)
    if layer.filters % groups:
        raise DesignError(f"{layer.name}: {groups} groups do not divide the {layer.filters} filters", layer.span)


def _transposed(layer, size: int, axis: int) -> int:
    s, p, d, k, op = (layer.stride[axis], layer.pad[axis], layer.dilation[axis], layer.kernel[axis],
                      layer.output_padding[axis])
    out = transposed(size, s, p, d, k, op)
    if out < 1:
        raise DesignError(f"{layer.name}: the output would be {out} along {'HW'[axis]} "
                          f"(({size} - 1)*{s} - 2*{p} + {d}*({k} - 1) + 1 + {op})", layer.span)
    return out


# -- one arm per kind: (layer, input volume) -> (output volume, its two windows or None) --------------
def _conv(layer, x: Volume):
    _check_groups(layer, x.c, layer.groups)
    h, w = _windows(layer, x)
    return Volume(h.out, w.out, layer.filters), (h, w)


def _local(layer, x: Volume):
    h, w = _windows(layer, x)
    return Volume(h.out, w.out, layer.filters), (h, w)


def _dwconv(layer, x: Volume):
    h, w = _windows(layer, x)
    return Volume(h.out, w.out, x.c * layer.mult), (h, w)


def _deconv(layer, x: Volume):
    _check_groups(layer, x.c, layer.groups)
    return Volume(_transposed(layer, x.h, 0), _transposed(layer, x.w, 1), layer.filters), None


def _pool(layer, x: Volume):
    h, w = _windows(layer, x, layer.ceil)
    return Volume(h.out, w.out, x.c), (h, w)


def _crop(layer, x: Volume):
    h, w = layer.size
    if h > x.h or w > x.w:
        raise DesignError(f"{layer.name} takes the center {h}x{w} of a {x.h}x{x.w} input: it is larger", layer.span)
    return Volume(h, w, x.c), None


def _shuffle(layer, x: Volume):
    g = layer.groups
    if x.c % g:
        raise DesignError(f"{layer.name}: {g} groups do not divide the {x.c} channels", layer.span)
    if g in (1, x.c):
        raise DesignError(f"{layer.name} on {x.c} channels changes nothing: it needs from 2 to {x.c // 2} groups "
                          f"that divide the channels", layer.span)
    return x, None


def _groups_divide(layer, x: Volume):
    if x.c % layer.groups:
        raise DesignError(f"{layer.name}: {layer.groups} groups do not divide the {x.c} channels", layer.span)
    return x, None


def _same(layer, x: Volume):
    return x, None


OUTPUT = {
    "input": lambda layer, x: (layer.size, None),
    "conv": _conv,
    "pool": _pool,
    "adaptive": lambda layer, x: (Volume(layer.size[0], layer.size[1], x.c), None),
    "fc": lambda layer, x: (Volume(1, 1, layer.out), None),
    "dwconv": _dwconv,
    "deconv": _deconv,
    "local": _local,
    "dropout": _same,
    "droppath": _same,
    "upsample": lambda layer, x: (Volume(x.h * layer.scale, x.w * layer.scale, x.c) if layer.size is None
                                  else Volume(layer.size[0], layer.size[1], x.c), None),
    "lrn": _same,
    "crop": _crop,
    "shuffle": _shuffle,
    "gap": lambda layer, x: (Volume(1, 1, x.c), None),
    "flatten": lambda layer, x: (Volume(1, 1, x.h * x.w * x.c), None),
    "bn": _same,
    "layernorm": _same,
    "groupnorm": _groups_divide,
    "scale": _same,
    "act": _same,
    "id": _same,
}


def output(layer: Layer, x: Volume) -> tuple[Volume, tuple[Window, Window] | None]:
    """The layer's output volume, and its two windows where it slides one."""
    y, windows = OUTPUT[layer.kind](layer, x)
    if y.h > MAX_VALUE or y.w > MAX_VALUE or y.c > MAX_VALUE:
        raise _too_large(layer.name, y, layer.span)
    return y, windows


def _too_large(what: str, y: Volume, span) -> DesignError:
    """Sizes stay below 10^15, as the design's numbers do: what is computed stays cheap and exact."""
    return DesignError(f"{what}: the output {y.h:.3g} x {y.w:.3g} x {y.c:.3g} exceeds 10^15 along an axis "
                       f"(sizes are limited to 10^15)", span)


def _concat(volumes: list[Volume], names: list[str], span) -> Volume:
    first = volumes[0]
    for i, other in enumerate(volumes[1:], start=1):
        if (other.h, other.w) != (first.h, first.w):
            raise DesignError(f"cannot concatenate branches of different height x width: branch 1 ({names[0]}) "
                              f"gives {first}, branch {i + 1} ({names[i]}) gives {other}", span)
    return Volume(first.h, first.w, sum(v.c for v in volumes))


def _add(volumes: list[Volume], names: list[str], span) -> Volume:
    first = volumes[0]
    for i, other in enumerate(volumes[1:], start=1):
        if other != first:
            raise DesignError(f"cannot add branches of different shapes: branch 1 ({names[0]}) gives {first}, "
                              f"branch {i + 1} ({names[i]}) gives {other}", span)
    return first


def _mul(volumes: list[Volume], names: list[str], span) -> Volume:
    full = max(volumes, key=lambda v: v.h * v.w)
    for i, v in enumerate(volumes):
        if v != full and v != (1, 1, full.c):
            j = volumes.index(full)
            raise DesignError(f"cannot multiply branches of shapes {v} and {full}: branch {i + 1} ({names[i]}) must "
                              f"give {full} or 1x1x{full.c} (broadcast over branch {j + 1}'s H x W)", span)
    return full


MERGE = {"concat": _concat, "add": _add, "mul": _mul, "split": _concat,
         "output": lambda volumes, names, span: volumes[0]}  # a side head's output


def after(branch, x: Volume, y: Volume) -> Volume:
    """What follows a branch reads: its merge's output, or after a side head the branch's input."""
    return x if branch.kind == "output" else y


def arm_input(branch, x: Volume) -> Volume:
    """What each arm of a branch reads: its input, or with a channel split ("split") half its channels."""
    if branch.kind != "split":
        return x
    if x.c % 2:
        raise DesignError(f"'||' splits the channels in two halves: {x.c} channels do not divide by 2", branch.span)
    return Volume(x.h, x.w, x.c // 2)


def merge(kind: str, volumes: list[Volume], names: list[str], span) -> Volume:
    """Concatenation needs equal H x W and adds channels; a sum needs equal volumes; a product equal
    volumes, or 1x1xC arms broadcast over an HxWxC one (a squeeze-and-excitation gate)."""
    y = MERGE[kind](volumes, names, span)
    if y.c > MAX_VALUE:
        raise _too_large(kind.upper(), y, span)
    return y
