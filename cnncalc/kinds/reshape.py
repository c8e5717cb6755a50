"""Data movement: INPUT, ID, CROP (a view of the center), ZEROPAD (zeros around it), SHUFFLE (channel
shuffle) and UPSAMPLE.

No parameters and no MACs. ID is a view of its input; a crop is a view of part of it (a storage of
its own that holds nothing: keeping it keeps its input); the shuffle is a contiguous copy (a view, a
transpose and a copy, then a view of that); zero padding and upsampling make a new tensor.
"""

from __future__ import annotations

from functools import cached_property

from ..errors import DesignError
from .base import (NOTHING, ONE_OP, SAME, VIEWS, Layer, Setting, Volume, no_macs, nothing_learned, pair_text,
                   saved_extras)

CROP = '''
class Crop(nn.Module):
    """The center of the input, a view (torchvision's center_crop: the top row round((H_in - H)/2))."""

    def __init__(self, size: tuple) -> None:
        super().__init__()
        self.size = size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = self.size
        top, left = round((x.shape[2] - h) / 2), round((x.shape[3] - w) / 2)
        return x[:, :, top:top + h, left:left + w]
'''
SHUFFLE = '''
class Shuffle(nn.Module):
    """Channel shuffle as torchvision's channel_shuffle: the channels as `groups` groups, interleaved."""

    def __init__(self, groups: int) -> None:
        super().__init__()
        self.groups = groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.size()
        x = x.view(n, self.groups, c // self.groups, h, w)
        x = torch.transpose(x, 1, 2).contiguous()
        return x.view(n, c, h, w)
'''


class Moving(Layer):
    """The family: nothing learned, nothing counted, nothing saved for backward."""

    # traits
    acts_globally = pins_size = shares_storage = transparent = view_output = subview = identity_in_eval = False
    keeps_layout = makes_channels_last = packs_params = counts_batches = batch_statistics = False
    grows_with_input = elementwise = skip = False
    keeps_input_when_frozen = True
    flat_copy = None
    orders_input = False
    fill = "#ffffff"
    # rules
    params = nothing_learned
    macs = no_macs
    backward = ONE_OP
    autocast = SAME
    checkpointed = saved_extras

    def stored(self, y: Volume) -> int:
        return y.size

    def saves(self, x: Volume, y: Volume, protected: bool, size: int, device: str):
        return NOTHING

    def runs_inplace(self, protected: bool) -> bool:
        return False

    def transient(self, step, training: bool, size: int, device: str, batch: int) -> int:
        return 0

    def packs_after_op(self, step) -> bool:
        return False

    def autocast_extra(self, saves, din: int, device: str, fake: bool) -> tuple[int, int]:
        return saves[2], saves[3]

    def receptive(self, rf, x: Volume):
        return rf

    def no_field(self, x: Volume) -> None:
        return None

    def axis(self, axis: int, size: int):
        return size, None

    def implied_pad(self, x: Volume, y: Volume) -> None:
        return None

    def relaid_weight(self, x: Volume, y: Volume, channels_last: bool) -> bool:
        return False


class Input(Moving):
    kind = "input"
    words = ("INPUT",)
    settings = (Setting("size", "size", "size3", attr="input", shared=True),)
    backward = VIEWS
    emit = None  # the network's argument, not a module

    @cached_property
    def name(self) -> str:
        return f"INPUT {self.size}"

    def output(self, x: Volume):
        return self.size, None


class Identity(Moving):
    kind = "id"
    words = ("ID",)
    shares_storage = transparent = keeps_layout = elementwise = skip = True
    fill = "#f1f1f1"
    backward = VIEWS

    def output(self, x: Volume):
        return x, None

    def stored(self, y: Volume) -> int:
        return 0  # a view

    def emit(self, writer, x: Volume, y: Volume, inplace: bool) -> tuple[str, str]:
        return "id", "nn.Identity()"


def _half(n: int) -> int:
    """round(n / 2) in whole numbers: an odd n = 2k + 1 goes to the even one of k and k + 1."""
    return n // 2 + (1 if n % 4 == 3 else 0)


class Crop(Moving):
    """The center H x W of the input (torchvision's center_crop: the top row round((H_in - H)/2)), a
    view: U-Net crops the encoder's features to the decoder's size before concatenating them."""

    kind = "crop"
    words = ("CROP", "CENTERCROP")
    settings = (Setting("size", "size", "pair", aliases=("output_size",), attr=None, noun="size"),)
    attached = "size"
    positional = "size"
    example = "CROP392"
    view_output = subview = identity_in_eval = True
    keeps_layout = True  # a slice keeps its input's strides: of a channels-last tensor, channels last

    @cached_property
    def name(self) -> str:
        return f"{self.word}{pair_text(self.size)}"

    def offsets(self, x: Volume) -> tuple[int, int]:
        """The top row and left column it keeps, as torchvision rounds them: round(n / 2), half to even."""
        return _half(x.h - self.size[0]), _half(x.w - self.size[1])

    def output(self, x: Volume):
        h, w = self.size
        if h > x.h or w > x.w:
            raise DesignError(f"{self.name} takes the center {h}x{w} of a {x.h}x{x.w} input: it is larger", self.span)
        return Volume(h, w, x.c), None

    def stored(self, y: Volume) -> int:
        return 0  # a view

    def receptive(self, rf, x: Volume):
        # output pixel u is input pixel u + offset: the field's start moves by offset * j
        (rh, rw), (jh, jw), (ph, pw) = rf
        top, left = self.offsets(x)
        return (rh, rw), (jh, jw), (ph - top * jh, pw - left * jw)

    def axis(self, axis: int, size: int):
        return (self.size[axis], None) if self.size[axis] <= size else None

    def backward(self, sim, index: int, s) -> None:
        """A slice of the rows, then of the columns (an axis it does not cut is not sliced); backward
        undoes them in reverse: each slice_backward makes a zero tensor of its input's size with the
        gradient copied in, then the gradient before it goes."""
        t = sim.t
        key = sim.grads.pop(s.sid_out)
        sizes = []
        if s.y.w != s.x.w:
            sizes.append(s.y.h * s.x.w * s.x.c)
        if s.y.h != s.x.h:
            sizes.append(s.x.size)
        grad = key
        for i, size in enumerate(sizes):
            new = ("grad_crop", index, i)
            t.alloc(new, size * sim.value_bytes(s.sids_in[0]) * sim.batch, "other")
            t.sample("backward", index)
            if grad == key:
                sim.unref(key)
            else:
                t.free(grad)
            grad = new
        if grad == key:  # nothing cut: the gradient passes on
            sim.deliver(s.sids_in[0], key, index)
            sim.unref(key)
            return
        sim.hand_on(s.sids_in[0], grad, index)

    def emit(self, writer, x: Volume, y: Volume, inplace: bool) -> tuple[str, str]:
        writer.helper("Crop", CROP)
        return "crop", f"Crop(({self.size[0]}, {self.size[1]}))"


SIDES = ("left", "right", "top", "bottom")  # nn.ZeroPad2d's order


class ZeroPad(Moving):
    """Rows and columns of zeros around the input (nn.ZeroPad2d): ZEROPAD2 on every side, ZEROPAD(p=1x2) 1
    above and below and 2 left and right, or each side on its own, ZEROPAD(left=0, right=1, top=2,
    bottom=3). A new tensor in the input's layout; its backward (ConstantPadNdBackward) saves nothing and
    makes the input's gradient."""

    kind = "zeropad"
    words = ("ZEROPAD",)
    settings = (Setting("p", "pad", "pair", None, minimum=0, aliases=("padding",), attr=None, label="padding"),
                *(Setting(side, side, "int", None, minimum=0, attr=None) for side in SIDES))
    attached = "p"
    positional = "p"
    example = "ZEROPAD1"
    keeps_layout = True

    def check(self, where) -> None:
        given = [side for side in SIDES if getattr(self, side) is not None]
        if self.pad is not None and given:
            raise DesignError(f"{self.word} takes p or its sides ({', '.join(SIDES)}), not both", where(given[0]))
        if self.pad is None and not given:
            raise DesignError(f"{self.word} has no padding: write ZEROPAD1 (every side), ZEROPAD(p=1x2) (height x "
                              f"width) or ZEROPAD(left=0, right=1, top=2, bottom=3)", where("p"))

    @cached_property
    def sides(self) -> tuple[int, int, int, int]:
        """(left, right, top, bottom), as nn.ZeroPad2d takes them."""
        if self.pad is not None:
            h, w = self.pad
            return w, w, h, h
        return tuple(getattr(self, side) or 0 for side in SIDES)

    @cached_property
    def name(self) -> str:
        left, right, top, bottom = self.sides
        if left == right and top == bottom:
            return f"{self.word}{left}" if left == top else f"{self.word}({top}x{left})"
        return f"{self.word}({', '.join(f'{side}={n}' for side, n in zip(SIDES, self.sides))})"

    def output(self, x: Volume):
        left, right, top, bottom = self.sides
        return Volume(x.h + top + bottom, x.w + left + right, x.c), None

    def receptive(self, rf, x: Volume):
        # output pixel u is input pixel u - top (u - left): the field's start moves back by the padding
        (rh, rw), (jh, jw), (ph, pw) = rf
        left, _, top, _ = self.sides
        return (rh, rw), (jh, jw), (ph + top * jh, pw + left * jw)

    def axis(self, axis: int, size: int):
        left, right, top, bottom = self.sides
        return size + (top + bottom if axis == 0 else left + right), None

    def emit(self, writer, x: Volume, y: Volume, inplace: bool) -> tuple[str, str]:
        return "pad", f"nn.ZeroPad2d({self.sides})"


class Shuffle(Moving):
    """Channel shuffle (ShuffleNet): the channels as G groups, interleaved; torchvision's channel_shuffle,
    a view, a transpose and a contiguous copy."""

    kind = "shuffle"
    words = ("SHUFFLE", "CHANNELSHUFFLE")
    settings = (Setting("groups", "groups", "int", 2, aliases=("g",), attr=None, noun="group count"),)
    positional = "groups"
    view_output = True  # the final view of its copy

    @cached_property
    def name(self) -> str:
        return f"{self.word}({self.groups})"

    def output(self, x: Volume):
        g = self.groups
        if x.c % g:
            raise DesignError(f"{self.name}: {g} groups do not divide the {x.c} channels", self.span)
        if g in (1, x.c) and x.c < 4:
            raise DesignError(f"{self.name} on {x.c} channels changes nothing: a shuffle needs at least 2 groups of "
                              f"at least 2 channels (4 channels or more)", self.span)
        if g in (1, x.c):
            raise DesignError(f"{self.name} on {x.c} channels changes nothing: it needs from 2 to {x.c // 2} groups "
                              f"that divide the channels", self.span)
        return x, None

    def emit(self, writer, x: Volume, y: Volume, inplace: bool) -> tuple[str, str]:
        writer.helper("Shuffle", SHUFFLE)
        return "shuffle", f"Shuffle({self.groups})"


class Upsample(Moving):
    """Upsampling by an integer scale or to a size (nn.Upsample), nearest or bilinear."""

    kind = "upsample"
    words = ("UPSAMPLE",)
    settings = (Setting("scale", "scale", "int", lambda v: None if v.get("size") else 2,
                        aliases=("scale_factor", "kernel")),
                Setting("size", "size", "pair", None, aliases=("output_size",), attr=None),
                Setting("mode", "mode", "choice", "nearest", choices=("nearest", "bilinear")),
                Setting("align_corners", "align_corners", "bool", False))
    attached = "scale"
    positional = "scale"
    keeps_layout = True
    fill = "#dff0d8"

    def check(self, where) -> None:
        if self.size is not None and self.scale is not None:
            raise DesignError(f"{self.word} takes a scale or a size, not both", where("size"))
        if self.align_corners and self.mode != "bilinear":
            raise DesignError(f"align_corners applies to bilinear upsampling only: write "
                              f"{self.word}(mode=bilinear, align_corners=true)", where("align_corners"))

    @cached_property
    def name(self) -> str:
        text = f"{self.word}{self.scale}" if self.size is None else f"{self.word}({pair_text(self.size)})"
        if self.mode == "bilinear":
            text += "(bilinear, align_corners)" if self.align_corners else "(bilinear)"
        return text

    def output(self, x: Volume):
        if self.size is None:
            return Volume(x.h * self.scale, x.w * self.scale, x.c), None
        return Volume(self.size[0], self.size[1], x.c), None

    def receptive(self, rf, x: Volume):
        return None  # outputs map to fractions of an input pixel

    def no_field(self, x: Volume) -> str:
        return "a transposed or upsampling layer maps outputs to fractions of an input pixel"

    def axis(self, axis: int, size: int):
        return (size * self.scale if self.size is None else self.size[axis]), None

    def emit(self, writer, x: Volume, y: Volume, inplace: bool) -> tuple[str, str]:
        target = f"scale_factor={self.scale}" if self.size is None else f"size=({self.size[0]}, {self.size[1]})"
        corners = f", align_corners={self.align_corners}" if self.mode == "bilinear" else ""
        return "upsample", f'nn.Upsample({target}, mode="{self.mode}"{corners})'
