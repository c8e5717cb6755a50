"""The layer vocabulary of the design language (upper-case words -> kinds)."""

from __future__ import annotations

import re

ACTIVATIONS = (
    "RELU", "RELU6", "LEAKYRELU", "ELU", "GELU", "SILU", "SIGMOID", "TANH", "HARDSWISH", "SOFTMAX",
)

WORDS: dict[str, str] = {
    "INPUT": "input",
    "CONV": "conv",
    "DWCONV": "dwconv",
    "DECONV": "deconv",
    "LOCAL": "local",
    "POOL": "pool",
    "MAXPOOL": "pool",
    "AVGPOOL": "pool",
    "GAP": "gap",
    "GMP": "gap",
    "FC": "fc",
    "FLATTEN": "flatten",
    "BN": "bn",
    "DROPOUT": "dropout",
    "LRN": "lrn",
    "UPSAMPLE": "upsample",
    "ID": "id",
    **{a: "act" for a in ACTIVATIONS},
}

# Words that take a kernel (or scale) written straight after them: CONV3, POOL2, CONV1x7, UPSAMPLE2.
_KERNEL_WORD = re.compile(r"(CONV|DWCONV|DECONV|LOCAL|MAXPOOL|AVGPOOL|POOL|UPSAMPLE)(\d+)(?:X(\d+))?", re.I)

# Names a `kind.attr = value` default may use as its kind.
DEFAULT_KINDS = ("conv", "pool", "fc", "dwconv", "deconv", "local", "dropout", "upsample", "lrn")
# Kind-less settings written as `name = value`.
SETTINGS = ("input", "inplace")


def split_layer_word(word: str) -> tuple[str, tuple[str, ...]] | None:
    """`CONV1x7` -> ("CONV", ("1", "7")); `relu` -> ("RELU", ()); `basic` -> None."""
    upper = word.upper()
    if upper in WORDS:
        return upper, ()
    m = _KERNEL_WORD.fullmatch(word)
    if m is None:
        return None
    return m.group(1).upper(), tuple(g for g in m.groups()[1:] if g is not None)


def is_layer_word(word: str) -> bool:
    return split_layer_word(word) is not None
