"""One class per layer kind, told apart by `kind`.

A layer holds its resolved settings (every default applied, every variable
evaluated); what depends on the input volume (channels, output size) is
computed by `cnncalc.metrics`. Spatial settings are (height, width) pairs.
`span` points at the text the layer came from.

These are small immutable classes rather than pydantic models: a design's
layers are internal (the public results are `cnncalc.Report` and its JSON),
and plain classes cost nothing at start-up, where 15 models cost milliseconds.
"""

from __future__ import annotations

from functools import cached_property

from .errors import Span

Pair = tuple[int, int]
REQUIRED = object()  # a field without a default


class _Layer:
    """An immutable layer: `word` as written, its settings in `fields`, and the `span` it came from."""

    kind = ""
    fields: tuple[tuple[str, object], ...] = ()  # (name, default), REQUIRED where a value must be given

    def __init__(self, word: str, span: Span | None = None, **values) -> None:
        set_ = object.__setattr__
        set_(self, "word", word)
        set_(self, "span", span)
        for name, default in self.fields:
            value = values.pop(name, default)
            if value is REQUIRED:
                raise TypeError(f"{type(self).__name__} needs {name}")
            set_(self, name, value)
        if values:
            raise TypeError(f"{type(self).__name__} has no setting {', '.join(values)}")

    def __setattr__(self, name, value):
        raise AttributeError(f"{type(self).__name__} is immutable")  # (cached_property writes __dict__ directly)

    def settings(self) -> tuple:
        return tuple(getattr(self, name) for name, _ in self.fields)

    def __eq__(self, other) -> bool:
        return type(other) is type(self) and (self.word, *self.settings()) == (other.word, *other.settings())

    def __hash__(self) -> int:
        return hash((type(self), self.word, *self.settings()))

    def __repr__(self) -> str:
        values = ", ".join(f"{name}={getattr(self, name)!r}" for name, _ in self.fields)
        return f"{type(self).__name__}({self.word!r}{', ' if values else ''}{values})"

    @cached_property
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
    kind = "input"
    fields = (("h", REQUIRED), ("w", REQUIRED), ("c", REQUIRED))

    @cached_property
    def name(self) -> str:
        return f"INPUT {self.h}x{self.w}x{self.c}"


class Conv(_Layer):
    kind = "conv"
    fields = (("filters", REQUIRED), ("kernel", REQUIRED), ("stride", (1, 1)), ("pad", (0, 0)),
              ("dilation", (1, 1)), ("groups", 1), ("bias", True))

    @cached_property
    def name(self) -> str:
        text = f"{self.word}{_pair(self.kernel)}-{self.filters}"
        text += _suffix(self.stride, self.pad, self.dilation, (1, 1), same_pad(self.kernel, self.dilation))
        return text + (f"g{self.groups}" if self.groups != 1 else "")


class DWConv(_Layer):
    """Depthwise convolution: groups = input channels, filters = mult * input channels."""

    kind = "dwconv"
    fields = (("kernel", REQUIRED), ("mult", 1), ("stride", (1, 1)), ("pad", (0, 0)), ("dilation", (1, 1)),
              ("bias", True))

    @cached_property
    def name(self) -> str:
        text = f"{self.word}{_pair(self.kernel)}"
        text += _suffix(self.stride, self.pad, self.dilation, (1, 1), same_pad(self.kernel, self.dilation))
        return text + (f"(mult={self.mult})" if self.mult != 1 else "")


class Deconv(_Layer):
    """Transposed convolution; padding defaults to 0."""

    kind = "deconv"
    fields = (("filters", REQUIRED), ("kernel", REQUIRED), ("stride", (1, 1)), ("pad", (0, 0)),
              ("dilation", (1, 1)), ("groups", 1), ("output_padding", (0, 0)), ("bias", True))

    @cached_property
    def name(self) -> str:
        text = f"{self.word}{_pair(self.kernel)}-{self.filters}"
        text += _suffix(self.stride, self.pad, self.dilation, (1, 1), (0, 0))
        text += f"g{self.groups}" if self.groups != 1 else ""
        return text + (f"(op={_pair(self.output_padding)})" if self.output_padding != (0, 0) else "")


class Local(_Layer):
    """Locally connected: a convolution without parameter sharing."""

    kind = "local"
    fields = (("filters", REQUIRED), ("kernel", REQUIRED), ("stride", (1, 1)), ("pad", (0, 0)),
              ("dilation", (1, 1)), ("bias", True))

    @cached_property
    def name(self) -> str:
        text = f"{self.word}{_pair(self.kernel)}-{self.filters}"
        return text + _suffix(self.stride, self.pad, self.dilation, (1, 1), same_pad(self.kernel, self.dilation))


class Pool(_Layer):
    kind = "pool"
    fields = (("type", "max"), ("kernel", REQUIRED), ("stride", REQUIRED), ("pad", (0, 0)), ("dilation", (1, 1)),
              ("ceil", False))  # type: "max" or "avg"

    @cached_property
    def name(self) -> str:
        word = self.word if self.word != "POOL" or self.type == "max" else "AVGPOOL"
        text = f"{word}{_pair(self.kernel)}" + _suffix(self.stride, self.pad, self.dilation, self.kernel, (0, 0))
        return text + ("(ceil)" if self.ceil else "")


class GlobalPool(_Layer):
    kind = "gap"
    fields = (("type", "avg"),)  # "avg" (GAP) or "max" (GMP)


class FC(_Layer):
    kind = "fc"
    fields = (("out", REQUIRED), ("bias", True))

    @cached_property
    def name(self) -> str:
        return f"FC-{self.out}"


class Flatten(_Layer):
    kind = "flatten"
    fields = ()


class BatchNorm(_Layer):
    kind = "bn"
    fields = ()


class Activation(_Layer):
    kind = "act"
    fields = (("inplace", True), ("slope", None))  # slope: LEAKYRELU's negative slope, ELU's alpha


class Dropout(_Layer):
    kind = "dropout"
    fields = (("p", 0.5), ("inplace", True))

    @cached_property
    def name(self) -> str:
        return f"DROPOUT({self.p:g})"


class LRN(_Layer):
    kind = "lrn"
    fields = (("size", 5),)


class Upsample(_Layer):
    kind = "upsample"
    fields = (("scale", 2),)

    @cached_property
    def name(self) -> str:
        return f"{self.word}{self.scale}"


class Identity(_Layer):
    kind = "id"
    fields = ()
