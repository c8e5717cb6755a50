"""The merges of parallel arms: concatenation (`|`), sum (`+`), product (`.*`), channel split (`||`) and
the side head (`{ … }`). A branch is written once in a design and becomes its arms' rows, then one row
of its merge, whose kind is one of these.

A concatenation needs equal H x W and adds channels; a sum needs equal volumes; a product equal
volumes, or 1x1xC arms broadcast over an HxWxC one (a squeeze-and-excitation gate); a channel split
gives each of two arms half the input's channels (views) and concatenates their outputs; a side head
is one arm that ends as an output of the network (an auxiliary classifier), after which the network
goes on from the branch's input. Merges learn nothing and count no MACs; all but the side head store
their output; only the product keeps its factors for backward.
"""

from __future__ import annotations

from ..errors import DesignError, Span
from .base import (INPUT, NOTHING, PROMOTE, SAME, UNSUPPORTED, VIEWS, Kind, Layer, Setting, Volume, check_size,
                   no_macs, nothing_learned, saved_extras)

BRANCHES = '''
class Branches(nn.Module):
    """Arms over one input, concatenated on channels ("concat") or summed ("add")."""

    def __init__(self, mode: str, *arms: nn.Module) -> None:
        super().__init__()
        self.mode = mode
        self.arms = nn.ModuleList(arms)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs = [arm(x) for arm in self.arms]
        if self.mode == "concat":
            return torch.cat(outs, dim=1)
        out = outs[0]
        for other in outs[1:]:
            out = out + other
        return out
'''
PRODUCT = '''
class Product(nn.Module):
    """Two arms over one input, multiplied element-wise; a 1 x 1 arm broadcasts over the other's
    height and width (a squeeze-and-excitation gate)."""

    def __init__(self, *arms: nn.Module) -> None:
        super().__init__()
        self.arms = nn.ModuleList(arms)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.arms[0](x) * self.arms[1](x)
'''
ADD_INTO = '''
class AddInto(nn.Module):
    """Arms over one input, the others added in place to the output of arm `into` (torchvision's
    ResNet: `out += identity`): no new tensor."""

    def __init__(self, into: int, *arms: nn.Module) -> None:
        super().__init__()
        self.into = into
        self.arms = nn.ModuleList(arms)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs = [arm(x) for arm in self.arms]
        out = outs[self.into]
        for j, other in enumerate(outs):
            if j != self.into:
                out += other
        return out
'''
DENSE_UNIT = '''
class Features(list):
    """A dense block's features, handed on from unit to unit: a list that pytree leaves whole. (MemTracker's
    ModTracker hooks the tensors a module takes, each gradient held until all of them have one: on a list of
    features that holds gradients a step without the tracker frees, as a live-storage count shows.)"""


class DenseUnit(nn.Module):
    """A dense unit (`concat.dense = true`), as torchvision's _DenseLayer in its _DenseBlock: it takes the
    block's features (a tensor, the block's input, or the list the unit before returns), concatenates them
    (the identity arm sees the concatenation), runs arm 1's modules as far as the one that holds its
    `head`-th row (the concatenation held until they return), then the rest (the head's output held until
    they return), and returns the features with the arm's output appended; the block's `last` unit
    returns their concatenation."""

    def __init__(self, last: bool, head: int, *arms: nn.Module) -> None:
        super().__init__()
        self.last = last
        self.arms = nn.ModuleList(arms)
        self.head, rows = len(arms[1]), 0
        for k, module in enumerate(arms[1], start=1):
            rows += _rows_in(module)
            if rows >= head:
                self.head = k
                break

    def forward(self, features):
        if isinstance(features, torch.Tensor):
            features = Features([features])
        new = self.tail(self.bottleneck(features))
        features = Features([*features, new])
        return torch.cat(features, dim=1) if self.last else features

    def bottleneck(self, features: list) -> torch.Tensor:
        joined = self.arms[0](torch.cat(features, dim=1))
        x = joined
        for module in self.arms[1][: self.head]:
            x = module(x)
        return x

    def tail(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        for module in self.arms[1][self.head:]:
            y = module(y)
        return y


def _rows_in(module: nn.Module) -> int:
    """The design's rows a module runs: a block call (an nn.Sequential) its modules', a layer one."""
    return sum(_rows_in(child) for child in module.children()) if type(module) is nn.Sequential else 1
'''
SIDE = '''
class Side(nn.Module):
    """A side head (an auxiliary classifier): in training its output is one more output of the
    network (Net.forward returns it after the main one); what follows reads the input unchanged."""

    def __init__(self, head: nn.Module) -> None:
        super().__init__()
        self.arms = nn.ModuleList([head])
        self.out = None
        self.always = False  # run in evaluation mode too (cnncalc verify checks its shapes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.out = self.arms[0](x) if self.training or self.always else None
        return x

    def pop(self) -> torch.Tensor:
        out, self.out = self.out, None
        return out


def side_heads(module: nn.Module) -> list:
    """The Side modules in the order their outputs are made (a head nested in a head's arm first)."""
    found = [head for child in module.children() for head in side_heads(child)]
    return found + [module] if isinstance(module, Side) else found
'''
SPLIT = '''
class Split(nn.Module):
    """A channel split (ShuffleNetV2): the input's channels in two halves (torch.chunk, views), one per
    arm, and the arms' outputs concatenated on channels."""

    def __init__(self, *arms: nn.Module) -> None:
        super().__init__()
        self.arms = nn.ModuleList(arms)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        halves = x.chunk(len(self.arms), dim=1)
        return torch.cat([arm(half) for arm, half in zip(self.arms, halves)], dim=1)
'''


def arm_name(chain: list) -> str:
    """How a message names an arm: its last layer, ID when it is empty, or 'a merge'."""
    if not chain:
        return "ID"
    last = chain[-1]
    return last.name if isinstance(last, Layer) else "a merge"


class Branch(Kind):
    """Parallel arms over one input, then their merge: `Branch(kind, arms, span)` makes the merge's class
    (Concat, Add, Mul, Split or Output) by its `kind`."""

    __slots__ = ("arms", "span", "names", "inplace", "dense")
    by_kind: dict[str, type[Branch]] = {}  # filled by the subclasses, each under its kind
    helper_source = ""  # the exported module's source
    # traits: a merge's output is a new tensor (a side head's: the head's own), never in place or a view
    acts_globally = pins_size = shares_storage = transparent = view_output = subview = identity_in_eval = False
    makes_channels_last = packs_params = counts_batches = batch_statistics = False
    grows_with_input = elementwise = concatenates = splits_input = side = skip = False
    # the layout the walk hands a merge is already its output's (merged_layout: an element-wise merge
    # takes its first full-size arm's), and what follows reads it so
    keeps_layout = keeps_input_when_frozen = True
    flat_copy = None
    orders_input = False
    fill = "#ffffff"
    # rules
    params = nothing_learned
    macs = no_macs  # element-wise sums and products count 0, as bias adds do
    backward = VIEWS  # the gradient handed on to every arm (narrowed views of it for a concatenation)
    autocast = PROMOTE
    checkpointed = saved_extras
    settings: tuple[Setting, ...] = ()  # `kind.attr = value` defaults a design may set for every merge of the kind

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if cls.kind:
            Branch.by_kind[cls.kind] = cls

    def __new__(cls, kind: str, arms: list, span: Span, inplace: bool = False, dense: bool = False):
        return object.__new__(Branch.by_kind[kind] if cls is Branch else cls)

    def __init__(self, kind: str, arms: list, span: Span, inplace: bool = False, dense: bool = False) -> None:
        self.arms = arms
        self.span = span
        self.names: list[str] | None = None
        self.inplace = inplace  # a sum's `add.inplace`
        self.dense = dense and self.dense_unit(arms)  # a concatenation's `concat.dense`, where it applies

    def with_arms(self, arms: list) -> Branch:
        """The same merge over other arms (its settings kept)."""
        return Branch(self.kind, arms, self.span, self.inplace, self.dense)

    @staticmethod
    def dense_unit(arms: list) -> bool:
        """Is this the shape of a dense unit, (ID | arm): two arms, the first the identity, the second
        layers only (DenseNet's dense layer)?"""
        return (len(arms) == 2 and len(arms[0]) == 1 and getattr(arms[0][0], "skip", False) and bool(arms[1])
                and not any(isinstance(item, Branch) for item in arms[1]))

    @classmethod
    def default_attrs(cls) -> tuple[str, ...]:
        """The `kind.attr` defaults this kind reads."""
        return tuple(s.attr for s in cls.settings)

    def into(self, ends: list) -> int | None:
        """The arm whose output the merge overwrites in place (None: it makes a new tensor); `ends`: the
        flows (saved.Flow) at the arms' ends."""
        return None

    @property
    def arm_names(self) -> list[str]:
        """How messages name its arms (arm_name), made once: a sweep walks a branch many times."""
        if self.names is None:
            self.names = [arm_name(chain) for chain in self.arms]
        return self.names

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self.arms)} arms)"

    @property
    def name(self) -> str:
        return self.kind.upper()

    def join(self, volumes: list[Volume], names: list[str]) -> Volume:
        """The merged volume of its arms' outputs (`names`: the arms' last layers, for messages), within
        the sizes cnncalc computes."""
        return check_size(self.name, self.merge(volumes, names, self.span), self.span)

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

    def arm_input(self, x: Volume) -> Volume:
        return x

    def after(self, x: Volume, y: Volume) -> Volume:
        return y

    def fields(self, outs: list[Volume], y: Volume, fields: list) -> list:
        return fields

    def axis_size(self, sizes: list[int]) -> int | None:
        """Along one axis (the fit search's walk): the arms must agree."""
        return sizes[0] if len(set(sizes)) == 1 else None

    def merged_layout(self, outs: list[Volume], y: Volume, layouts: list[bool]) -> bool:
        """A sum or a product takes its first full-size arm's layout (the operand PyTorch's element-wise
        kernels lay their output out by)."""
        return next(cl for out, cl in zip(outs, layouts) if out == y)


class Concat(Branch):
    """`concat.dense = true`: a run of dense units (ID | arm), each reading the one before, is a dense
    block as torchvision's DenseNet writes it (`_DenseBlock`): the block keeps its input and every arm's
    output in a list, each unit concatenates the list afresh (its first one too: a copy of the block's
    input), runs its arm's head (as far as its first layer with MACs, `bn_function`, which holds the
    concatenation until it returns) and then its tail (holding the head's output until the unit
    returns), and the block's last unit concatenates the whole list once more as the block's output.
    Shapes, params and MACs are those of the plain concatenations; only the tensors' lifetimes differ
    (simulate/ and the export's DenseUnit). Off by default."""

    kind = "concat"
    operator = "|"
    symbol = "C"
    helper = "Branches"
    helper_source = BRANCHES
    concatenates = True
    settings = (Setting("dense", "dense", "bool", False),)

    @staticmethod
    def head_length(rows) -> int:
        """How many of a dense unit's arm rows, (item, input, output) in order, its head runs (torchvision's
        bn_function): as far as the first that counts MACs (a convolution, an FC), or all of them."""
        count = 0
        for count, (item, x, y) in enumerate(rows, start=1):
            if item.macs is not UNSUPPORTED and item.macs(x, y):
                break
        return count

    def merge(self, volumes: list[Volume], names: list[str], span) -> Volume:
        first = volumes[0]
        for i, other in enumerate(volumes[1:], start=1):
            if (other.h, other.w) != (first.h, first.w):
                raise DesignError(f"cannot concatenate branches of different height x width: branch 1 ({names[0]}) "
                                  f"gives {first}, branch {i + 1} ({names[i]}) gives {other}", span)
        return Volume(first.h, first.w, sum(v.c for v in volumes))

    def merged_layout(self, outs: list[Volume], y: Volume, layouts: list[bool]) -> bool:
        return all(layouts)  # channels last when every arm is


class Add(Branch):
    """`add.inplace = true`: the other arms are added in place to the first arm's output that nothing
    else needs (`out += identity`, as torchvision's ResNet, EfficientNet, MobileNetV3 and ConvNeXt do):
    an arm that ends in a layer which saves its output, or an empty arm (the branch's input, which the
    other arms read), is never overwritten. Off by default (`x + f(x)`, as MobileNetV2 and RegNet);
    the kind-less `inplace = false` turns it off too."""

    kind = "add"
    operator = "+"
    symbol = "+"
    helper = "Branches"
    helper_source = BRANCHES
    settings = (Setting("inplace", "inplace", "bool", False),)

    def into(self, ends: list) -> int | None:
        if not self.inplace:
            return None
        return next((k for k, flow in enumerate(ends) if not flow.protected), None)

    def stored(self, y: Volume) -> int:
        return 0 if self.inplace else y.size  # as an activation's: nothing while it runs in place

    def merge(self, volumes: list[Volume], names: list[str], span) -> Volume:
        first = volumes[0]
        for i, other in enumerate(volumes[1:], start=1):
            if other != first:
                raise DesignError(f"cannot add branches of different shapes: branch 1 ({names[0]}) gives {first}, "
                                  f"branch {i + 1} ({names[i]}) gives {other}", span)
        return first

    def transient(self, step, training: bool, size: int, device: str, batch: int) -> int:
        """Three arms or more are summed pairwise, left to right (out = out + other, as the export and
        torchvision's code write it): each partial sum lives until the next is made, beside it, so one
        output-size tensor more is alive as the last sum is made."""
        return step.y.size * size * batch if len(self.arms) > 2 else 0


class Mul(Branch):
    """Each factor whose partner requires grad is kept (mul's backward multiplies the gradient by the
    other factor)."""

    kind = "mul"
    operator = ".*"
    symbol = "\u00d7"
    helper = "Product"
    helper_source = PRODUCT

    def merge(self, volumes: list[Volume], names: list[str], span) -> Volume:
        full = max(volumes, key=lambda v: v.h * v.w)
        for i, v in enumerate(volumes):
            if v != full and v != (1, 1, full.c):
                j = volumes.index(full)
                raise DesignError(f"cannot multiply branches of shapes {v} and {full}: branch {i + 1} ({names[i]}) "
                                  f"must give {full} or 1x1x{full.c} (broadcast over branch {j + 1}'s H x W)", span)
        return full

    def saves(self, x: Volume, y: Volume, protected: bool, size: int, device: str):
        return INPUT  # both factors, each as far as the other requires grad: kept

    def kept(self, saves, sids_in: tuple[int, ...], requires) -> tuple[int, ...]:
        if not saves[0]:
            return ()
        a, b = sids_in
        return tuple(sid for sid, other in ((a, b), (b, a)) if requires(other))

    def fields(self, outs: list[Volume], y: Volume, fields: list) -> list:
        """A 1x1xC arm broadcast over the other's H x W is a gate (squeeze-and-excitation), global by
        construction: left out, so that the field stays the spatial path's."""
        return [f for out, f in zip(outs, fields) if out == y] or fields

    def axis_size(self, sizes: list[int]) -> int | None:
        """Along one axis: a gate's 1 broadcasts over the other arm's size (the volumes' own check, that
        a gate is 1 x 1 on both axes, is merge's)."""
        full = set(sizes) - {1}
        return (full.pop() if full else 1) if len(full) <= 1 else None

    def backward(self, sim, index: int, s) -> None:
        """The gradient of each factor that requires grad, the output's gradient times the other factor
        (both made at the output's size and dtype); then the engine sums a broadcast factor's to its
        shape and casts one of another dtype to it, before the output's gradient and what mul saved go
        (a checkpointed mul's recomputed factors go first, with its apply); then the gradients are
        delivered."""
        t, batch = sim.t, sim.batch
        key = sim.grads.pop(s.sid_out)
        dout = sim.value_bytes(s.sid_out)
        made = []
        for i, sid in enumerate(s.sids_in):
            if sim.req.get(sid, True):
                made.append([sid, ("grad_in", index, i)])
                t.alloc(made[-1][1], s.y.size * dout * batch, "other")
        t.sample("backward", index)
        if s.ckpt is not None:  # recomputed tensors die with the node's apply, before the engine sums (as FC's)
            sim.drop_saved(index, s)
        for i, entry in enumerate(made):
            sid, full = entry
            if sim.sizes[sid] != s.y.size:  # sum_to: the broadcast factor's own shape, beside the full one
                entry[1] = ("grad_sum", index, i)
                t.alloc(entry[1], sim.sizes[sid] * dout * batch, "other")
                t.sample("backward", index)
                t.free(full)
            if sim.value_bytes(sid) != dout:  # cast to the factor's dtype
                before, entry[1] = entry[1], ("grad_cast", index, i)
                t.alloc(entry[1], sim.grad_bytes(sid), "other")
                t.sample("backward", index)
                t.free(before)
        sim.unref(key)
        if s.ckpt is None:
            sim.drop_saved(index, s)
        for sid, grad in made:
            sim.hand_on(sid, grad, index)


class Split(Branch):
    kind = "split"
    operator = "||"
    symbol = "C"
    helper = "Split"
    helper_source = SPLIT
    concatenates = splits_input = True
    merge = Concat.merge  # the halves' outputs, concatenated
    merged_layout = Concat.merged_layout

    def arm_input(self, x: Volume) -> Volume:
        if x.c % 2:
            raise DesignError(f"'||' splits the channels in two halves: {x.c} channels do not divide by 2", self.span)
        return Volume(x.h, x.w, x.c // 2)


class Output(Branch):
    kind = "output"
    operator = "{}"
    symbol = "\u2192"
    helper = "Side"
    helper_source = SIDE
    side = True
    autocast = SAME  # the head's output, in its dtype

    def merge(self, volumes: list[Volume], names: list[str], span) -> Volume:
        return volumes[0]  # the head's output

    def stored(self, y: Volume) -> int:
        return 0  # the head's output

    def after(self, x: Volume, y: Volume) -> Volume:
        return x  # the network goes on from the branch's input
