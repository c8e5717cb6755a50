"""What every kind is made of: the volume it works on, its declared settings, and the names of the
rules and traits that the engines ask it.

A kind (CONV, POOL, BN, the merges, ...) is one class that holds everything true of it. The root,
`Kind`, declares no rule and no trait: each family's base answers them for its kinds, and a kind
that answers one differently says so in its own class. `RULES` and `TRAITS` list every name with
what it means; `kinds.unanswered(cls)` names what a class leaves open, and tests/kinds/test_registry.py
fails until every kind answers everything. A rule may be `UNSUPPORTED` where cnncalc does not know it
for a kind: the report then says so (null, `unsupported`, `totals.partial`), never a silent 0.

Layers are small immutable classes rather than pydantic models: a design's layers are internal (the
public result is `cnncalc.Report` and its JSON), and plain classes cost nothing at start-up.
"""

from __future__ import annotations

from functools import cached_property
from typing import Callable

from ..errors import DesignError, Span
from ..volume import MAX_VALUE, Volume

Pair = tuple[int, int]


class _Unsupported:
    """A rule a kind does not know: its metric is null in the report, never 0."""

    def __repr__(self) -> str:
        return "UNSUPPORTED"

    def __call__(self, *args, **kwargs):
        raise TypeError("an UNSUPPORTED rule is a marker, not a rule to call")


UNSUPPORTED = _Unsupported()
# the metrics that may be unsupported for a kind, by the names `unsupported` and `totals.partial` use
METRICS = ("params", "macs", "memory", "saved", "rf")

# What autograd keeps: (saves its input, saves its output, extra bytes per image, extra bytes per batch)
Saved = tuple[bool, bool, int, int]
NOTHING: Saved = (False, False, 0, 0)
INPUT: Saved = (True, False, 0, 0)
INDEX_BYTES = 8  # int64 indices of max pooling
STAT_BYTES = 4  # the norms' saved mean and inverse std are float32
MASK_BYTES = 1  # dropout's mask on CUDA

# A backward's operations, in order, each a tuple of what it allocates: "input" (the gradient of the
# input, when that requires grad), "weight", "bias" (the parameters' gradients, kept until zero_grad),
# ("temp", k): k input volumes that live through that operation only (or k a function (layer, x) -> values per
# image). VIEWS: the backward allocates nothing and hands its output's gradient on. A method instead: the kind
# runs its own backward on the simulator (the product's, the crop's).
ONE_OP = (("input", "weight", "bias"),)
VIEWS = None
APPLIED = "applied"  # between two operations: the node's apply has returned (what a checkpointed row
# recomputed dies here, before the engine's own operations: the sum of a broadcast bias's gradient)

# autocast (--amp): how a kind runs under torch.autocast (simulate/step.py reads these)
CAST = "cast"  # in low precision: casts its parameters and a float32 input (convolutions, FC)
SAME = "same"  # in its input's dtype
PROMOTE = "promote"  # a merge: in the widest of its inputs' dtypes (concat casts its low arms first)
FLOAT32 = "float32"  # LRN: a low input goes through float32 operations (its amp_forward and amp_backward)
WIDENS = "widens"  # SCALE: its float32 parameter promotes a low input (gain * x is float32); its backward works
# in float32, then the engine casts the input's gradient to the input's dtype

# -- the names every engine may ask, with what they mean ----------------------------------------------
ROW_RULES = {
    "params": "(x, y) -> (weights, biases, buffers, formula): learnable parameters and buffers",
    "macs": "(x, y) -> multiply-accumulates per image",
    "stored": "(y) -> elements the forward pass stores, per image (0: in place or a view)",
    "saves": "(x, y, protected, dtype bytes, device) -> Saved: what autograd keeps for backward",
    "runs_inplace": "(protected) -> whether it overwrites its input in PyTorch",
    "transient": "(step, training, dtype bytes, device, batch) -> bytes its forward makes beside its output, "
                 "freed at once",
    "backward": "its backward's operations (ONE_OP, a tuple of them, VIEWS) or a method (simulator, index, step)",
    "checkpointed": "(step, dtype bytes, device, batch) -> what its forward makes beside its output when it is "
                    "checkpointed (its saved tensors packed as empty holders), freed at once",
    "packs_after_op": "(step) -> whether its last saved tensor is packed after its operation ran (where a "
                      "checkpoint's recomputation stops)",
    "autocast": "how it runs under autocast: CAST, SAME, PROMOTE or FLOAT32",
    "autocast_extra": "(saves, input dtype bytes, device, fake) -> its saved extra bytes (per image, per batch) "
                      "under autocast, where they follow its input's dtype",
}
LAYER_RULES = {
    "output": "(x) -> (output volume, its two windows or None)",
    "receptive": "(rf, x) -> the receptive field after it, or None where it is not defined",
    "no_field": "(x) -> why the receptive field is not defined after it (when `receptive` gives None)",
    "axis": "(axis, size) -> (the size after it along one axis, its window or None), or None where it has no "
            "output there (the fit search)",
    "emit": "(writer, x, y, inplace) -> (module name, PyTorch constructor)",
    "implied_pad": "(x, y) -> the padding [h, w] its name does not write, where it changes the size; or None",
    "relaid_weight": "(x, y, channels_last) -> whether its weight's gradient is made in another layout and copied",
}
MERGE_RULES = {
    "merge": "(volumes, names, span) -> the merged volume, or an error naming the arms",
    "arm_input": "(x) -> what each arm reads",
    "after": "(x, y) -> what follows the branch reads",
    "fields": "(outs, y, fields) -> the arms' receptive fields the merge's field is the union of",
    "axis_size": "(sizes) -> the merge's size along one axis from its arms', None where they disagree",
    "merged_layout": "(outs, y, layouts) -> whether the merge's output is laid out channels last",
    "operator": "how the design writes it: |, +, .*, || or {}",
    "symbol": "what the drawings put in its circle",
    "helper": "the exported module that holds its arms",
    "concatenates": "its output is its arms' outputs concatenated on channels",
    "splits_input": "its arms each read a half of its input's channels (a channel split)",
    "side": "it ends a side head: an output of the network of its own",
}
TRAITS = {
    "acts_globally": "one window over the whole input (GAP, FC, FLATTEN): a vector per image",
    "pins_size": "its output's height and width do not depend on its input's",
    "shares_storage": "its output is always its input's storage (a view of all of it: FLATTEN, ID)",
    "transparent": "it may hand on its input's storage (views; dropouts in evaluation)",
    "view_output": "its output is a view in the exported network: nothing after it runs in place on it",
    "subview": "its output is a view of part of its input, a storage with no bytes of its own (CROP)",
    "identity_in_eval": "in evaluation mode its output is its input",
    "keeps_layout": "its output takes its input's memory layout (channels last stays channels last)",
    "makes_channels_last": "its output is laid out channels last (LAYERNORM)",
    "flat_copy": "flattening a volume not laid out N x C x H x W copies it: 'output' (the copy is its "
                 "output), 'input' (a copy beside it) or None",
    "orders_input": "its kernel reads its input laid out in order, copying one that is not first (a crop's view, a "
                    "channel split's half at batch 2 or more) and keeping the copy for backward; on the CPU a "
                    "channels-last input is in order, on CUDA it is copied too and the output is contiguous "
                    "(GROUPNORM: contiguous(suggest_memory_format) on the CPU, contiguous() on CUDA)",
    "packs_params": "its backward node holds its parameters",
    "counts_batches": "it has an int64 num_batches_tracked buffer (BN)",
    "batch_statistics": "its training refuses a statistic over one value (statistic_values: BN's channel over the "
                        "batch, GROUPNORM's group)",
    "keeps_input_when_frozen": "with frozen parameters it still keeps its input for backward",
    "grows_with_input": "its parameters grow with its input's height and width (an FC that flattens)",
    "elementwise": "its output keeps its input's shape, element by element",
    "fill": "its fill in the drawings",
    "skip": "its output is its input (ID): an arm of it alone is drawn as a skip connection",
}


DEFINED: list[type[Kind]] = []  # every kind, as its class is defined: kinds/__init__.py's tables read it


class Kind:
    """The root of every kind: its name in the JSON contract, and nothing else. What it answers is in
    ROW_RULES, LAYER_RULES or MERGE_RULES, and TRAITS. A class that names its `kind` is one, registered
    as it is defined (a family's class, which names none, is not)."""

    kind = ""

    def __init_subclass__(cls, **options) -> None:
        super().__init_subclass__(**options)
        if cls.__dict__.get("kind"):
            DEFINED.append(cls)

    def kept(self, saves: Saved, sids_in: tuple[int, ...], requires) -> tuple[int, ...]:
        """The input storages it keeps for backward: its (first) input when it saves it."""
        return sids_in[:1] if saves[0] else ()


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED = _Required()  # a setting that has no built-in default: the design must give it
SAME_PAD = "same"  # the value a pad reader gives for `p=same`, resolved once kernel and dilation are known


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


class Layer(Kind):
    """An immutable layer: its `word` as written (upper case), its settings as attributes, every
    default applied and every variable evaluated, and the `span` of text it came from."""

    words: tuple[str, ...] = ()
    settings: tuple[Setting, ...] = ()
    attached: str | None = None  # the setting written straight after the word: CONV3 (kernel), UPSAMPLE2 (scale)
    positional: str | None = None  # the setting a value without a key sets: FC(10), DROPOUT(0.3)
    family: str | None = None  # a kind whose `kind.attr` defaults apply when this kind's own are not set
    fixed: dict[str, dict[str, object]] = {}  # settings a word decides: MAXPOOL is type=max
    example = ""  # the shorthand a message suggests for a missing required setting
    side = splits_input = False  # a layer is not a merge: it ends no side head and splits nothing

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

    def apply(self, x: Volume):
        """Its output volume on the input `x` and its two windows (or None), the output within the sizes
        cnncalc computes (below 10^15 along every axis)."""
        y, windows = self.output(x)
        return check_size(self.name, y, self.span), windows

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


def check_size(what: str, y: Volume, span) -> Volume:
    """Sizes stay below 10^15, as the design's numbers do: what is computed stays cheap and exact."""
    if y.h > MAX_VALUE or y.w > MAX_VALUE or y.c > MAX_VALUE:
        raise DesignError(f"{what}: the output {y.h:.3g} x {y.w:.3g} x {y.c:.3g} exceeds 10^15 along an axis "
                          f"(sizes are limited to 10^15)", span)
    return y


def check_eps(layer: Layer, where: Callable[[str], Span], name: str) -> None:
    """A norm's eps is positive (`name`: how the message calls the layer)."""
    if not layer.eps > 0:
        raise DesignError(f"{name}'s eps is a small positive number (PyTorch's default 1e-5), got {layer.eps:g}",
                          where("eps"))


def pair_text(p: Pair) -> str:
    return str(p[0]) if p[0] == p[1] else f"{p[0]}x{p[1]}"


def suffix(stride: Pair, pad: Pair, dilation: Pair, default_stride: Pair, default_pad: Pair) -> str:
    """A layer name's /stride, p-padding and d-dilation where they are not the defaults."""
    text = ""
    if stride != default_stride:
        text += f"/{pair_text(stride)}" if stride[0] == stride[1] else f"/({pair_text(stride)})"
    if pad != default_pad:
        text += f"p{pad[0]}" if pad[0] == pad[1] else f"p({pair_text(pad)})"
    if dilation != (1, 1):
        text += f"d{dilation[0]}" if dilation[0] == dilation[1] else f"d({pair_text(dilation)})"
    return text


def nothing_learned(self, x: Volume, y: Volume) -> tuple[int, int, int, str]:
    """A params rule: nothing to learn."""
    return 0, 0, 0, ""


def no_macs(self, x: Volume, y: Volume) -> int:
    """A MACs rule: no multiplications counted (pooling, normalisation, activations, data movement)."""
    return 0


def saved_extras(self, step, size: int, device: str, batch: int) -> int:
    """A `checkpointed` rule: what it would save beside its input and output, made and freed at once."""
    return step.saves[2] * batch + step.saves[3]


def formula(expression: str, value: int) -> str:
    """The weights' arithmetic as the notes write it: (3*3*3)*64 = 1,728."""
    return f"{expression} = {value:,}"
