"""The layer kinds and the merges: one class per kind, one registry that every engine reads.

    conv.py        CONV, DWCONV, DECONV, LOCAL            pool.py      POOL, ADAPTIVEPOOL, GAP/GMP
    dense.py       FC, FLATTEN                            norm.py      BN, LAYERNORM, GROUPNORM, SCALE, LRN
    activation.py  RELU, GELU, … (one kind)               dropout.py   DROPOUT, DROPPATH
    reshape.py     INPUT, ID, CROP, ZEROPAD, SHUFFLE,     merges.py    |, +, .*, ||, { }
                   UPSAMPLE

A kind's class declares its words and settings (what the parser and the expander read), and answers
every rule and trait of base.py's ROW_RULES, LAYER_RULES (or MERGE_RULES) and TRAITS: its output shape,
receptive-field step, params with formula, MACs, stored memory, what autograd keeps, what its forward
makes and frees, its backward, what autocast does to it, its PyTorch emitter and its traits. No engine
tests a kind's name: it asks the kind. Adding a kind is one class in one of these files: it registers
itself as it is defined (see the README's "Adding a layer kind"); tests/kinds/test_registry.py fails
until it answers everything.
"""

from __future__ import annotations

import re

from .activation import Activation
from .base import (DEFINED, FILTERS, LAYER_RULES, MAX_VALUE, MERGE_RULES, METRICS, REQUIRED, ROW_RULES, SAME_PAD, TRAITS,
                   UNSUPPORTED, Kind, Layer, Setting, Volume, same_pad)
from .conv import Conv, Deconv, DWConv, Local, Sliding
from .dense import FC, Flatten
from .dropout import Dropout, DropPath
from .merges import Add, Branch, Concat, Mul, Output, Split
from .norm import LRN, BatchNorm, GroupNorm, LayerNorm, Scale
from .pool import AdaptivePool, GlobalPool, Pool
from .reshape import Crop, Identity, Input, Shuffle, Upsample, ZeroPad

__all__ = ["Activation", "AdaptivePool", "Add", "BatchNorm", "Branch", "Concat", "Conv", "Crop", "DWConv", "Deconv",
           "DropPath", "Dropout", "FC", "FILTERS", "Flatten", "GlobalPool", "GroupNorm", "Identity", "Input", "Item",
           "KINDS", "Kind", "LAYERS", "LAYER_CLASSES", "LAYER_RULES", "LRN", "Layer", "LayerNorm", "Local", "MAX_VALUE",
           "MERGES", "MERGE_RULES", "METRICS", "Mul", "Output", "Pool", "REQUIRED", "ROW_RULES", "SAME_PAD", "Scale",
           "Setting", "Shuffle", "Sliding", "Split", "TRAITS", "UNSUPPORTED", "Upsample", "Volume", "WORDS", "ZeroPad",
           "same_pad", "split_word", "unanswered"]

Item = Layer | Branch  # what an expanded chain holds: layers and branches

# The layer kinds in the order messages list them: the notes' INPUT, CONV, POOL, FC first, then as defined
# (base.DEFINED: a class that names its `kind` registers itself; a new kind needs no line here).
NOTES_FIRST = ("input", "conv", "pool", "fc")
LAYER_CLASSES: tuple[type[Layer], ...] = tuple(sorted(
    (cls for cls in DEFINED if issubclass(cls, Layer)),
    key=lambda cls: NOTES_FIRST.index(cls.kind) if cls.kind in NOTES_FIRST else len(NOTES_FIRST)))
MERGE_CLASSES: tuple[type[Branch], ...] = tuple(cls for cls in DEFINED if issubclass(cls, Branch))

# -- the tables derived from the declarations -----------------------------------------------------------
LAYERS: dict[str, type[Layer]] = {cls.kind: cls for cls in LAYER_CLASSES}  # `kind` -> class
MERGES: dict[str, type[Branch]] = {cls.kind: cls for cls in MERGE_CLASSES}
KINDS: dict[str, type[Kind]] = {**LAYERS, **MERGES}  # every `kind` a row of the report may have
OPERATORS: dict[str, str] = {cls.operator: cls.kind for cls in MERGE_CLASSES}  # how a design writes a merge
WORDS: dict[str, type[Layer]] = {word: cls for cls in LAYER_CLASSES for word in cls.words}
DEFAULT_KINDS = tuple(cls.kind for cls in (*LAYER_CLASSES, *MERGE_CLASSES) if cls.default_attrs())  # `kind.attr = `
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


def unanswered(cls: type[Kind]) -> list[str]:
    """The rules and traits a kind leaves open (a layer kind: ROW_RULES, LAYER_RULES and TRAITS; a merge:
    ROW_RULES, MERGE_RULES and TRAITS). A kind must answer every one: tests/kinds/test_registry.py."""
    names = [*ROW_RULES, *(LAYER_RULES if issubclass(cls, Layer) else MERGE_RULES), *TRAITS]
    return [name for name in names if not hasattr(cls, name)]
