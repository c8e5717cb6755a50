"""One pydantic model per layer kind, discriminated on `kind`.

A model holds a layer's resolved settings (every default applied, every
variable evaluated); what depends on the input volume (channels, output size)
is computed by `cnncalc.metrics`. Spatial settings are (height, width) pairs.
`span` points at the text the layer came from and is never serialised.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field

from .errors import Span

Pair = tuple[int, int]


class _Layer(BaseModel):
    # defer_build: a model's validator is built when first used, so a start pays only
    # for the kinds the design has.
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True, defer_build=True)

    word: str  # the layer word as written, upper case: CONV, MAXPOOL, RELU6, …
    span: Span | None = Field(default=None, exclude=True, repr=False)

    @property
    def name(self) -> str:
        """The layer in shorthand, with every variable resolved: CONV3-64/2."""
        return self.word

    def __str__(self) -> str:
        return self.name


def _pair(p: Pair) -> str:
    return str(p[0]) if p[0] == p[1] else f"{p[0]}x{p[1]}"


def same_pad(kernel: Pair, dilation: Pair) -> Pair:
    """The default padding, "same" for stride 1: d*(k-1)//2 per axis."""
    return (dilation[0] * (kernel[0] - 1) // 2, dilation[1] * (kernel[1] - 1) // 2)


def _suffix(stride: Pair, pad: Pair, dilation: Pair, default_stride: Pair, default_pad: Pair) -> str:
    text = ""
    if stride != default_stride:
        text += f"/{_pair(stride)}" if stride[0] == stride[1] else f"/({_pair(stride)})"
    if pad != default_pad:
        text += f"p{pad[0]}" if pad[0] == pad[1] else f"p({_pair(pad)})"
    if dilation != (1, 1):
        text += f"d{dilation[0]}" if dilation[0] == dilation[1] else f"d({_pair(dilation)})"
    return text


class Input(_Layer):
    kind: Literal["input"] = "input"
    h: int
    w: int
    c: int

    @property
    def name(self) -> str:
        return f"INPUT {self.h}x{self.w}x{self.c}"


class Conv(_Layer):
    kind: Literal["conv"] = "conv"
    filters: int
    kernel: Pair
    stride: Pair = (1, 1)
    pad: Pair = (0, 0)
    dilation: Pair = (1, 1)
    groups: int = 1
    bias: bool = True

    @property
    def name(self) -> str:
        text = f"{self.word}{_pair(self.kernel)}-{self.filters}"
        text += _suffix(self.stride, self.pad, self.dilation, (1, 1), same_pad(self.kernel, self.dilation))
        return text + (f"g{self.groups}" if self.groups != 1 else "")


class DWConv(_Layer):
    """Depthwise convolution: groups = input channels, filters = mult * input channels."""

    kind: Literal["dwconv"] = "dwconv"
    kernel: Pair
    mult: int = 1
    stride: Pair = (1, 1)
    pad: Pair = (0, 0)
    dilation: Pair = (1, 1)
    bias: bool = True

    @property
    def name(self) -> str:
        text = f"{self.word}{_pair(self.kernel)}"
        text += _suffix(self.stride, self.pad, self.dilation, (1, 1), same_pad(self.kernel, self.dilation))
        return text + (f"(mult={self.mult})" if self.mult != 1 else "")


class Deconv(_Layer):
    """Transposed convolution; padding defaults to 0."""

    kind: Literal["deconv"] = "deconv"
    filters: int
    kernel: Pair
    stride: Pair = (1, 1)
    pad: Pair = (0, 0)
    dilation: Pair = (1, 1)
    groups: int = 1
    output_padding: Pair = (0, 0)
    bias: bool = True

    @property
    def name(self) -> str:
        text = f"{self.word}{_pair(self.kernel)}-{self.filters}"
        text += _suffix(self.stride, self.pad, self.dilation, (1, 1), (0, 0))
        text += f"g{self.groups}" if self.groups != 1 else ""
        return text + (f"(op={_pair(self.output_padding)})" if self.output_padding != (0, 0) else "")


class Local(_Layer):
    """Locally connected: a convolution without parameter sharing."""

    kind: Literal["local"] = "local"
    filters: int
    kernel: Pair
    stride: Pair = (1, 1)
    pad: Pair = (0, 0)
    dilation: Pair = (1, 1)
    bias: bool = True

    @property
    def name(self) -> str:
        text = f"{self.word}{_pair(self.kernel)}-{self.filters}"
        return text + _suffix(self.stride, self.pad, self.dilation, (1, 1), same_pad(self.kernel, self.dilation))


class Pool(_Layer):
    kind: Literal["pool"] = "pool"
    type: Literal["max", "avg"] = "max"
    kernel: Pair
    stride: Pair
    pad: Pair = (0, 0)
    dilation: Pair = (1, 1)
    ceil: bool = False

    @property
    def name(self) -> str:
        word = self.word if self.word != "POOL" or self.type == "max" else "AVGPOOL"
        text = f"{word}{_pair(self.kernel)}" + _suffix(self.stride, self.pad, self.dilation, self.kernel, (0, 0))
        return text + ("(ceil)" if self.ceil else "")


class GlobalPool(_Layer):
    kind: Literal["gap"] = "gap"
    type: Literal["max", "avg"] = "avg"


class FC(_Layer):
    kind: Literal["fc"] = "fc"
    out: int
    bias: bool = True

    @property
    def name(self) -> str:
        return f"FC-{self.out}"


class Flatten(_Layer):
    kind: Literal["flatten"] = "flatten"


class BatchNorm(_Layer):
    kind: Literal["bn"] = "bn"


class Activation(_Layer):
    kind: Literal["act"] = "act"
    inplace: bool = True
    slope: float | None = None  # LEAKYRELU's negative slope, ELU's alpha


class Dropout(_Layer):
    kind: Literal["dropout"] = "dropout"
    p: float = 0.5
    inplace: bool = True

    @property
    def name(self) -> str:
        return f"DROPOUT({self.p:g})"


class LRN(_Layer):
    kind: Literal["lrn"] = "lrn"
    size: int = 5


class Upsample(_Layer):
    kind: Literal["upsample"] = "upsample"
    scale: int = 2

    @property
    def name(self) -> str:
        return f"{self.word}{self.scale}"


class Identity(_Layer):
    kind: Literal["id"] = "id"


Layer = Annotated[
    Union[Input, Conv, DWConv, Deconv, Local, Pool, GlobalPool, FC, Flatten, BatchNorm,
          Activation, Dropout, LRN, Upsample, Identity],
    Field(discriminator="kind"),
]
