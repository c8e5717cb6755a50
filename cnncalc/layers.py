"""The layer kinds of the design language, each declared once, and the expanded graph.

A layer kind is one class: its `kind` (the JSON contract's), its `words`, its
settings (`Setting`: key, long name, reader, default, minimum, spellings, the
`kind.attr` default it reads), its positional setting, the number written
straight after its word (`CONV3`, `UPSAMPLE2`), and its rules across settings
(`check`). Every table the parser and the expander use is derived from these
declarations at the bottom of this module; what a layer computes lives in
`cnncalc.metrics`, one table per metric with an arm for every kind.

Adding a layer kind: one class here, added to `LAYER_CLASSES`, then one arm in
each metric table (tests/test_metrics.py fails until every table has it).

Layers are small immutable classes rather than pydantic models: a design's
layers are internal (the public result is `cnncalc.Report` and its JSON), and
plain classes cost nothing at start-up.
"""

from __future__ import annotations

import re
from functools import cached_property
from typing import Callable, Literal, NamedTuple

from .errors import DesignError, Span

Pair = tuple[int, int]
MAX_VALUE = 10**15  # no number in a design, and no size a layer computes, may exceed this


class Volume(NamedTuple):
    """A volume per image, height x width x channels (the notes' 32x32x3 order)."""

    h: int
    w: int
    c: int

    def __str__(self) -> str:
        return f"{self.h}x{self.w}x{self.c}"

    @property
    def size(self) -> int:
        return self.h * self.w * self.c


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED = _Required()  # a setting that has no built-in default: the design must give it
SAME = "same"  # the value a pad reader gives for `p=same`, resolved once kernel and dilation are known


class Setting:
    """One setting of a layer kind.

    key:      how keyword form writes it (`s` in `CONV(s=2)`); shorthand writes the same keys
    field:    the layer's attribute, and its name in messages unless `label` says otherwise
    read:     int, pair (a number or HxW), pad (a pair, same or valid), bool, float, choice
    default:  the built-in value; REQUIRED; or a function of the other settings' values
    minimum:  the smallest value a number may take
    aliases:  other spellings accepted as keys (PyTorch's names: stride, padding, kernel_size)
    attr:     the `kind.attr = value` default that applies when the layer leaves it open, or None
    shared:   the default is kind-less, `inplace = false`, rather than `kind.attr`
    words:    only these words of the kind take the setting (LEAKYRELU's slope), or None for all
    noun:     what a missing required value is called: "has no filter count"
    """

    __slots__ = ("key", "field", "read", "default", "minimum", "aliases", "attr", "shared", "words", "choices",
                 "label", "noun")

    def __init__(self, key: str, field: str, read: str, default: object = REQUIRED, *, minimum: int = 1,
                 aliases: tuple[str, ...] = (), attr: str | None = "", shared: bool = False,
                 words: tuple[str, ...] | None = None, choices: tuple[str, ...] = (), label: str = "",
                 noun: str = "") -> None:
        self.key, self.field, self.read, self.default, self.minimum = key, field, read, default, minimum
        self.aliases = aliases
        self.attr = field if attr == "" else attr
        self.shared, self.words, self.choices = shared, words, choices
        self.label = label or field
        self.noun = noun or label or field

    def but(self, **changes) -> Setting:
        """A copy with some declarations changed: KERNEL.but(default=(2, 2))."""
        values = {name: getattr(self, name) for name in self.__slots__}
        values.update(changes)
        key, field, read = values.pop("key"), values.pop("field"), values.pop("read")
        return Setting(key, field, read, **values)

    @property
    def spellings(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((self.key, self.field, *self.aliases)))

    @property
    def takes_words(self) -> bool:
        """Its value is a word (true, max), never a variable to bind."""
        return self.read in ("bool", "choice")

    def __repr__(self) -> str:
        return f"Setting({self.key!r}, {self.field!r}, {self.read!r})"


def same_pad(kernel: Pair, dilation: Pair) -> Pair:
    """The default padding, "same" for stride 1: d*(k-1)//2 per axis."""
    return (dilation[0] * (kernel[0] - 1) // 2, dilation[1] * (kernel[1] - 1) // 2)


# Settings shared by several kinds, declared once.
KERNEL = Setting("kernel", "kernel", "pair", (3, 3), aliases=("k", "kernel_size"))
FILTERS = Setting("filters", "filters", "int", aliases=("out", "out_features", "out_channels"), noun="filter count")
STRIDE = Setting("s", "stride", "pair", (1, 1))
PAD = Setting("p", "pad", "pad", lambda v: same_pad(v["kernel"], v["dilation"]), minimum=0, aliases=("padding",))
DILATION = Setting("d", "dilation", "pair", (1, 1))
GROUPS = Setting("g", "groups", "int", 1)
BIAS = Setting("bias", "bias", "bool", True)
INPLACE = Setting("inplace", "inplace", "bool", True, shared=True)
EPS = Setting("eps", "eps", "float", 1e-5)  # the norms'; they change no count and are carried into the export


def check_eps(layer: Layer, where: Callable[[str], Span], name: str) -> None:
    """A norm's eps is positive (`name`: how the message calls the layer)."""
    if not layer.eps > 0:
        raise DesignError(f"{name}'s eps is a small positive number (PyTorch's default 1e-5), got {layer.eps:g}",
                          where("eps"))


class Layer:
    """An immutable layer: its `word` as written (upper case), its settings as attributes, every
    default applied and every variable evaluated, and the `span` of text it came from."""

    kind = ""
    words: tuple[str, ...] = ()
    settings: tuple[Setting, ...] = ()
    attached: str | None = None  # the setting written straight after the word: CONV3 (kernel), UPSAMPLE2 (scale)
    positional: str | None = None  # the setting a value without a key sets: FC(10), DROPOUT(0.3)
    family: str | None = None  # a kind whose `kind.attr` defaults apply when this kind's own are not set
    fixed: dict[str, dict[str, object]] = {}  # settings a word decides: MAXPOOL is type=max
    example = ""  # the shorthand a message suggests for a missing required setting
    acts_globally = False  # one window over the whole input (GAP, FC, FLATTEN)

    def __init__(self, word: str, span: Span | None = None, **values) -> None:
        set_ = object.__setattr__
        set_(self, "word", word)
        set_(self, "span", span)
        for name, value in values.items():
            set_(self, name, value)

    def __setattr__(self, name, value):
        raise AttributeError(f"{type(self).__name__} is immutable")  # (cached_property writes __dict__ directly)

    def __repr__(self) -> str:
        values = ", ".join(f"{s.field}={getattr(self, s.field, None)!r}" for s in self.settings)
        return f"{type(self).__name__}({self.word!r}{', ' if values else ''}{values})"

    def check(self, where: Callable[[str], Span]) -> None:
        """Rules across settings; `where(key)` is the span of that setting's value."""

    @cached_property
    def name(self) -> str:
        """The layer in shorthand, with every variable resolved: CONV3-64/2."""
        return self.word

    def __str__(self) -> str:
        return self.name

    @classmethod
    def settings_for(cls, word: str) -> tuple[Setting, ...]:
        """The settings a word of this kind takes (the word may restrict or decide some)."""
        fixed = cls.fixed.get(word, {})
        return tuple(s for s in cls.settings if (s.words is None or word in s.words) and s.field not in fixed)

    @classmethod
    def default_attrs(cls) -> tuple[str, ...]:
        """The `kind.attr` defaults this kind reads: the required ones first, then as declared."""
        attrs = [s for s in cls.settings if s.attr and not s.shared]
        return tuple(s.attr for s in sorted(attrs, key=lambda s: s.default is not REQUIRED))


def _pair(p: Pair) -> str:
    return str(p[0]) if p[0] == p[1] else f"{p[0]}x{p[1]}"


def _suffix(stride: Pair, pad: Pair, dilation: Pair, default_stride: Pair, default_pad: Pair) -> str:
    text = ""
    if stride != default_stride:
        text += f"/{_pair(stride)}" if stride[0] == stride[1] else f"/({_pair(stride)})"
    if pad != default_pad:
        text += f"p{pad[0]}" if pad[0] == pad[1] else f"p({_pair(pad)})"
    if dilation != (1, 1):
        text += f"d{dilation[0]}" if dilation[0] == dilation[1] else f"d({_pair(dilation)})"
    return text


# The classes are declared in the order messages list them: the notes' INPUT, CONV, POOL, FC first.
class Input(Layer):
    kind = "input"
    words = ("INPUT",)
    settings = (Setting("size", "size", "size3", attr="input", shared=True),)

    @cached_property
    def name(self) -> str:
        return f"INPUT {self.size}"


class Conv(Layer):
    kind = "conv"
    words = ("CONV",)
    settings = (KERNEL, FILTERS, STRIDE, PAD, DILATION, GROUPS, BIAS)
    attached = "kernel"
    example = "CONV3-64"

    @cached_property
    def name(self) -> str:
        text = f"{self.word}{_pair(self.kernel)}-{self.filters}"
        text += _suffix(self.stride, self.pad, self.dilation, (1, 1), same_pad(self.kernel, self.dilation))
        return text + (f"g{self.groups}" if self.groups != 1 else "")


class Pool(Layer):
    kind = "pool"
    words = ("POOL", "MAXPOOL", "AVGPOOL")
    settings = (KERNEL.but(default=(2, 2)), STRIDE.but(default=lambda v: v["kernel"]),
                PAD.but(read="pair", default=(0, 0)), DILATION.but(attr=None),
                Setting("ceil", "ceil", "bool", False, aliases=("ceil_mode",)),
                Setting("type", "type", "choice", "max", choices=("max", "avg")))
    attached = "kernel"
    fixed = {"MAXPOOL": {"type": "max"}, "AVGPOOL": {"type": "avg"}}

    def check(self, where: Callable[[str], Span]) -> None:
        for axis in (0, 1):
            if self.pad[axis] * 2 > self.kernel[axis]:
                raise DesignError(f"{self.word}: padding {self.pad[axis]} is more than half the window "
                                  f"{self.kernel[axis]} (PyTorch refuses this)", where("p"))
        if self.type == "avg" and self.dilation != (1, 1):
            raise DesignError("average pooling has no dilation", where("d"))

    @cached_property
    def name(self) -> str:
        word = self.word if self.word != "POOL" or self.type == "max" else "AVGPOOL"
        text = f"{word}{_pair(self.kernel)}" + _suffix(self.stride, self.pad, self.dilation, self.kernel, (0, 0))
        return text + ("(ceil)" if self.ceil else "")


class AdaptivePool(Layer):
    """Pooling to a fixed output size (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d): output cell i takes
    the input rows floor(i*H/h) to ceil((i+1)*H/h) - 1, so what follows does not change with the input
    size (torchvision's VGG and AlexNet heads)."""

    kind = "adaptive"
    words = ("ADAPTIVEPOOL", "ADAPTIVEAVGPOOL", "ADAPTIVEMAXPOOL")
    settings = (Setting("size", "size", "pair", aliases=("output_size",), attr=None, noun="output size"),
                Setting("type", "type", "choice", "avg", choices=("max", "avg"), attr=None))
    attached = "size"
    positional = "size"
    fixed = {"ADAPTIVEAVGPOOL": {"type": "avg"}, "ADAPTIVEMAXPOOL": {"type": "max"}}
    example = "ADAPTIVEAVGPOOL7"

    @cached_property
    def name(self) -> str:
        word = self.word if self.word != "ADAPTIVEPOOL" else f"ADAPTIVE{self.type.upper()}POOL"
        return f"{word}{_pair(self.size)}"


class FC(Layer):
    kind = "fc"
    words = ("FC", "LINEAR", "DENSE")  # the notes', PyTorch's and Keras's names
    settings = (FILTERS.but(field="out", attr="out", label="filters", noun="output count"), BIAS)
    positional = "filters"
    example = "FC-10"
    acts_globally = True

    @cached_property
    def name(self) -> str:
        return f"{self.word}-{self.out}"


class DWConv(Layer):
    """Depthwise convolution: groups = input channels, filters = mult * input channels."""

    kind = "dwconv"
    words = ("DWCONV",)
    settings = (KERNEL, Setting("mult", "mult", "int", 1), STRIDE, PAD, DILATION, BIAS)
    attached = "kernel"
    family = "conv"

    @cached_property
    def name(self) -> str:
        text = f"{self.word}{_pair(self.kernel)}"
        text += _suffix(self.stride, self.pad, self.dilation, (1, 1), same_pad(self.kernel, self.dilation))
        return text + (f"(mult={self.mult})" if self.mult != 1 else "")


class Deconv(Layer):
    """Transposed convolution; padding defaults to 0."""

    kind = "deconv"
    words = ("DECONV",)
    settings = (KERNEL, FILTERS, STRIDE, PAD.but(default=(0, 0)), DILATION, GROUPS,
                Setting("op", "output_padding", "pair", (0, 0), minimum=0, aliases=("output_padding",), attr=None),
                BIAS)
    attached = "kernel"
    family = "conv"
    example = "DECONV4-64/2"

    def check(self, where: Callable[[str], Span]) -> None:
        for axis in (0, 1):
            if self.output_padding[axis] >= max(self.stride[axis], self.dilation[axis]):
                raise DesignError(f"{self.name}: output padding {self.output_padding[axis]} must be smaller than "
                                  f"the stride or the dilation", self.span)

    @cached_property
    def name(self) -> str:
        text = f"{self.word}{_pair(self.kernel)}-{self.filters}"
        text += _suffix(self.stride, self.pad, self.dilation, (1, 1), (0, 0))
        text += f"g{self.groups}" if self.groups != 1 else ""
        return text + (f"(op={_pair(self.output_padding)})" if self.output_padding != (0, 0) else "")


class Local(Layer):
    """Locally connected: a convolution without parameter sharing."""

    kind = "local"
    words = ("LOCAL",)
    settings = (KERNEL, FILTERS, STRIDE, PAD, DILATION, BIAS)
    attached = "kernel"
    family = "conv"
    example = "LOCAL3-64"

    @cached_property
    def name(self) -> str:
        text = f"{self.word}{_pair(self.kernel)}-{self.filters}"
        return text + _suffix(self.stride, self.pad, self.dilation, (1, 1), same_pad(self.kernel, self.dilation))


class Dropout(Layer):
    kind = "dropout"
    words = ("DROPOUT",)
    settings = (Setting("p", "p", "float", 0.5), INPLACE)
    positional = "p"

    def check(self, where: Callable[[str], Span]) -> None:
        if not 0.0 <= self.p < 1.0:
            raise DesignError(f"a dropout probability is in [0, 1), got {self.p:g}", where("p"))

    @cached_property
    def name(self) -> str:
        return f"DROPOUT({self.p:g})"


class DropPath(Layer):
    """Stochastic depth (torchvision's StochasticDepth, mode "row"): in training each image's volume is
    dropped with probability p, the others scaled by 1/(1-p); the identity in evaluation."""

    kind = "droppath"
    words = ("DROPPATH", "STOCHASTICDEPTH")
    settings = (Setting("p", "p", "float", attr=None, noun="drop probability"),)
    positional = "p"
    example = "DROPPATH(0.1)"

    def check(self, where: Callable[[str], Span]) -> None:
        if not 0.0 < self.p < 1.0:
            raise DesignError(f"a drop-path probability is in (0, 1), got {self.p:g} (at 0 it does nothing: "
                              f"leave the layer out)", where("p"))

    @cached_property
    def name(self) -> str:
        return f"DROPPATH({self.p:g})"


class Upsample(Layer):
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

    def check(self, where: Callable[[str], Span]) -> None:
        if self.size is not None and self.scale is not None:
            raise DesignError(f"{self.word} takes a scale or a size, not both", where("size"))
        if self.align_corners and self.mode != "bilinear":
            raise DesignError(f"align_corners applies to bilinear upsampling only: write "
                              f"{self.word}(mode=bilinear, align_corners=true)", where("align_corners"))

    @cached_property
    def name(self) -> str:
        text = f"{self.word}{self.scale}" if self.size is None else f"{self.word}({_pair(self.size)})"
        if self.mode == "bilinear":
            text += "(bilinear, align_corners)" if self.align_corners else "(bilinear)"
        return text


class LRN(Layer):
    kind = "lrn"
    words = ("LRN",)
    settings = (Setting("size", "size", "int", 5),)
    positional = "size"


class Crop(Layer):
    """The center H x W of the input (torchvision's center_crop: the top row round((H_in - H)/2)), a
    view: U-Net crops the encoder's features to the decoder's size before concatenating them."""

    kind = "crop"
    words = ("CROP", "CENTERCROP")
    settings = (Setting("size", "size", "pair", aliases=("output_size",), attr=None, noun="size"),)
    attached = "size"
    positional = "size"
    example = "CROP392"

    @cached_property
    def name(self) -> str:
        return f"{self.word}{_pair(self.size)}"

    def offsets(self, x: Volume) -> tuple[int, int]:
        """The top row and left column it keeps, as torchvision rounds them: round(n / 2), half to even."""
        return _half(x.h - self.size[0]), _half(x.w - self.size[1])


def _half(n: int) -> int:
    """round(n / 2) in whole numbers: an odd n = 2k + 1 goes to the even one of k and k + 1."""
    return n // 2 + (1 if n % 4 == 3 else 0)


class Shuffle(Layer):
    """Channel shuffle (ShuffleNet): the channels as G groups, interleaved; torchvision's channel_shuffle,
    a view, a transpose and a contiguous copy."""

    kind = "shuffle"
    words = ("SHUFFLE", "CHANNELSHUFFLE")
    settings = (Setting("groups", "groups", "int", 2, aliases=("g",), attr=None, noun="group count"),)
    positional = "groups"

    @cached_property
    def name(self) -> str:
        return f"{self.word}({self.groups})"


class GlobalPool(Layer):
    kind = "gap"
    words = ("GAP", "GMP")
    fixed = {"GAP": {"type": "avg"}, "GMP": {"type": "max"}}
    acts_globally = True


class Flatten(Layer):
    kind = "flatten"
    words = ("FLATTEN",)
    acts_globally = True


class BatchNorm(Layer):
    """eps and momentum change no count; they are carried into the export (nn.BatchNorm2d's)."""

    kind = "bn"
    words = ("BN", "BATCHNORM", "BATCHNORM2D")
    settings = (EPS, Setting("momentum", "momentum", "float", 0.1, attr="momentum"))

    def check(self, where: Callable[[str], Span]) -> None:
        check_eps(self, where, "BN")
        if not 0.0 <= self.momentum <= 1.0:
            raise DesignError(f"BN's momentum is in [0, 1] (PyTorch's default 0.1), got {self.momentum:g}",
                              where("momentum"))


class LayerNorm(Layer):
    """Normalises the C channels at each position, with a gain and a shift per channel (nn.LayerNorm
    over channels, as torchvision's ConvNeXt's LayerNorm2d); eps is carried into the export."""

    kind = "layernorm"
    words = ("LAYERNORM", "LN")
    settings = (EPS,)

    def check(self, where: Callable[[str], Span]) -> None:
        check_eps(self, where, self.word)

    @cached_property
    def name(self) -> str:
        return self.word


class GroupNorm(Layer):
    """Normalises each of G groups of channels over the group's channels and positions, with a gain and
    a shift per channel (nn.GroupNorm)."""

    kind = "groupnorm"
    words = ("GROUPNORM", "GN")
    settings = (Setting("groups", "groups", "int", aliases=("g", "num_groups"), noun="group count"),
                EPS)
    positional = "groups"
    example = "GROUPNORM(32)"

    def check(self, where: Callable[[str], Span]) -> None:
        check_eps(self, where, self.word)

    @cached_property
    def name(self) -> str:
        return f"{self.word}({self.groups})"


class Scale(Layer):
    """A learnable gain per channel (layer scale: ConvNeXt, CaiT), `init` its starting value."""

    kind = "scale"
    words = ("SCALE", "LAYERSCALE")
    settings = (Setting("init", "init", "float", 1e-6, attr="init"),)
    positional = "init"


class Activation(Layer):
    kind = "act"
    # each word and the PyTorch module it means (torch.nn.<name>), whose behaviour cnncalc follows
    MODULES = {
        "RELU": "ReLU", "RELU6": "ReLU6", "LEAKYRELU": "LeakyReLU", "ELU": "ELU", "GELU": "GELU", "SILU": "SiLU",
        "SIGMOID": "Sigmoid", "TANH": "Tanh", "HARDSWISH": "Hardswish", "HARDSIGMOID": "Hardsigmoid",
        "SOFTMAX": "Softmax",
    }
    words = tuple(MODULES)
    settings = (Setting("slope", "slope", "float", None, aliases=("negative_slope", "alpha"), attr=None,
                        words=("LEAKYRELU", "ELU")), INPLACE)
    positional = "slope"


class Identity(Layer):
    kind = "id"
    words = ("ID",)


class Branch:
    """Parallel arms over one input, merged by concatenation ("concat"), sum ("add") or product ("mul":
    two arms, one of which may be 1x1xC, broadcast over the other's H x W: a squeeze-and-excitation gate);
    or a channel split ("split": each of two arms takes half the input's channels, a view, and their
    outputs are concatenated: ShuffleNetV2); or a side head ("output": one arm that ends as an output of
    the network, an auxiliary classifier; what follows reads the branch's input)."""

    __slots__ = ("kind", "arms", "span")

    def __init__(self, kind: Literal["concat", "add", "mul", "split", "output"], arms: list[list[Item]],
                 span: Span) -> None:
        self.kind = kind
        self.arms = arms
        self.span = span


Item = Layer | Branch


class LayerGraph:
    """The expanded design: its input, then everything after it in execution order; `blocks`, the
    block calls, groups, repeats and branches the rows came from (expand.Block, by row range)."""

    __slots__ = ("input", "items", "assumptions", "blocks", "written", "warnings")

    def __init__(self, input: Input, items: list[Item], assumptions: list[str] | None = None,
                 blocks: list | None = None, written: Volume | None = None, warnings: list[str] | None = None) -> None:
        self.input = input
        self.items = items
        self.assumptions = assumptions or []
        self.blocks = blocks or []
        self.written = written  # the input size the design itself writes, when --input or -D input= overrides it
        self.warnings = warnings or []  # what the report warns of before its rows (a -D that changes nothing)


# -- the tables derived from the declarations ------------------------------------------------------
LAYER_CLASSES: tuple[type[Layer], ...] = (Input, Conv, Pool, AdaptivePool, FC, DWConv, Deconv, Local, Dropout, DropPath, Upsample,
                                          LRN, Crop, Shuffle, GlobalPool, Flatten, BatchNorm, LayerNorm, GroupNorm, Scale, Activation,
                                          Identity)
KINDS: dict[str, type[Layer]] = {cls.kind: cls for cls in LAYER_CLASSES}
MERGE_KINDS = ("concat", "add", "mul", "split", "output")  # the rows a Branch adds after its arms
ROW_KINDS = (*KINDS, *MERGE_KINDS)  # every `kind` a row of the report may have
WORDS: dict[str, type[Layer]] = {word: cls for cls in LAYER_CLASSES for word in cls.words}
GLOBAL_KINDS = tuple(cls.kind for cls in LAYER_CLASSES if cls.acts_globally)  # GAP, FC, FLATTEN
DEFAULT_KINDS = tuple(cls.kind for cls in LAYER_CLASSES if cls.default_attrs())  # those `kind.attr = ` may name
# kind-less settings written `name = value`: input, inplace
SHARED_SETTINGS = tuple(dict.fromkeys(s.attr for cls in LAYER_CLASSES for s in cls.settings if s.shared))

_ATTACHED = {word: cls.attached for cls in LAYER_CLASSES if cls.attached for word in cls.words}
_ATTACHED_WORD = re.compile(rf"({'|'.join(sorted(_ATTACHED, key=len, reverse=True))})(\d+)(?:X(\d+))?", re.I)
# POOL3p1, CONV3d2: a kernel word whose suffixes a name would swallow
KERNEL_THEN_SUFFIX = re.compile(
    rf"((?:{'|'.join(w for w, key in _ATTACHED.items() if key == 'kernel')})\d+(?:x\d+)?)(?:[pdg]\d+)+", re.I)


def split_word(word: str) -> tuple[str, str | None, tuple[str, ...]] | None:
    """A layer word and the number written straight after it:
    `CONV1x7` -> ("CONV", "kernel", ("1", "7")); `relu` -> ("RELU", None, ()); `basic` -> None."""
    upper = word.upper()
    if upper in WORDS:
        return upper, None, ()
    m = _ATTACHED_WORD.fullmatch(word)
    if m is None:
        return None
    upper = m.group(1).upper()
    return upper, _ATTACHED[upper], tuple(g for g in m.groups()[1:] if g is not None)
