"""Every option of plan, check, compare, sweep and verify, declared once and checked once: `Settings`.

The command line and the library build the same frozen `Settings` from the same names, and hand it
down whole: the planner, the fit, the simulation and the sweep read it and check nothing again. A
value that means nothing is a `SettingsError` that says what is expected; an option that is not one
is an error with a did-you-mean, never a TypeError.

    design       input, optional, max_layers, fit_rule
    memory       batch, dtype, amp, optimizer, memory_rules (old name: device), foreach, accumulate,
                 freeze, checkpoint
    a budget     budget, budget_for, max_input, cuda_context, cuda_workspace
"""

from __future__ import annotations

import functools

from .errors import SettingsError, describe_char, did_you_mean, excerpt
from .volume import MAX_VALUE, Volume

# -- the options' vocabularies ----------------------------------------------------------------------------
DTYPES = {"float32": 4, "float16": 2, "bfloat16": 2, "int8": 1}  # --dtype: bytes per value
TRAINABLE = ("float32", "float16", "bfloat16")  # int8 is for inference: no training step is simulated
DTYPE_ALIASES = {"fp32": "float32", "float": "float32", "fp16": "float16", "half": "float16", "bf16": "bfloat16"}
AMP_DTYPES = {"float16": 2, "bfloat16": 2}  # --amp: the autocast dtype's bytes
OPTIMIZERS = {"sgd": 0, "momentum": 1, "adam": 2}  # optimizer state per parameter, in parameter-sized copies
MEMORY_RULES = ("cuda", "cpu")  # whose memory rules the peaks follow (dropout's mask, the CUDA allocator's blocks)
BUDGET_FOR = ("training", "inference")  # what a memory budget must hold
FIT_RULES = ("coverage", "notes")  # how a window that does not fit is judged (metrics/fit.py)
OPTIONAL_MODES = ("include", "exclude")  # what `--optional` does with the items marked '?'
# Default limit on the rows a design expands to (input, layers and merges), checked before expanding.
# Ten times the largest published CNNs (DenseNet-264: about 1,500 rows), and small enough that
# plan() answers within a second at the limit; --max-layers raises it.
MAX_LAYERS = 25_000

# What a CUDA device holds beside the caching allocator's segments: stated, overridable assumptions.
# The CUDA context (driver state and the kernels loaded so far): "around 400MB if CUDA >= 11.7 is used
# and lazy module loading enabled (default in PyTorch)" (ptrblck, pytorch/pytorch#109888; PR #86509
# measured 287,047,680 B used after a first 6 MB tensor, with lazy loading). It varies with the GPU,
# the driver and the CUDA version: measure yours as torch.cuda.mem_get_info()'s used bytes minus
# torch.cuda.memory_reserved() after a first operation.
CUDA_CONTEXT = 400 * 2**20
# cuBLASLt's workspace: 32 MiB on Hopper and later, 4 MiB on Ampere with 24 GiB or more, 1 MiB
# otherwise (PyTorch PR #120925, following the cuBLAS guide's recommendation); cuDNN's convolution
# workspaces depend on the algorithm chosen at run time and are not modelled: add them here.
CUDA_WORKSPACE = 32 * 2**20

UNITS = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
         "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


# -- the readers: a value as written (on the command line or in the library) -> its checked value --------
def parse_size(text: str, what: str = "input") -> Volume:
    """'224x224x3' (or 224×224×3) as a Volume; only the ASCII digits 0-9 are digits."""
    parts = text.lower().replace(" ", "").replace("\u00d7", "x").split("x")
    odd = next((c for c in text if not (c.isascii() and c.isprintable()) and c != "\u00d7"), None)
    if odd is not None:
        raise SettingsError(f"{what} size has the character {describe_char(odd)}: write HxWxC with the digits 0-9, "
                            f"such as 224x224x3")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise SettingsError(f"{what} size must be HxWxC with positive whole numbers, such as 224x224x3; "
                            f"got '{excerpt(text)}'")
    if any(len(p) > 9 for p in parts):  # before int(): Python refuses integers of over 4,300 digits
        raise SettingsError(f"{what} size '{excerpt(text)}' is too large (at most 9 digits per axis)")
    if any(int(p) < 1 for p in parts):
        raise SettingsError(f"{what} size must be HxWxC with positive whole numbers, such as 224x224x3; got '{text}'")
    return Volume(*(int(p) for p in parts))


def check_size(size) -> Volume:
    """A size given as (h, w, c): three whole numbers from 1 to 10^15."""
    if (not isinstance(size, (tuple, list)) or len(size) != 3
            or not all(isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= MAX_VALUE for n in size)):
        raise SettingsError(f"input must be 'HxWxC' or (h, w, c) with whole numbers from 1 to 10^15, got {size!r}")
    return Volume(*size)


def read_input(value) -> Volume | None:
    return None if value is None else parse_size(value) if isinstance(value, str) else check_size(value)


def parse_bytes(value, what: str = "a memory budget", zero: bool = False) -> int:
    """A memory size: a whole number of bytes, or a number and a unit: 8GiB, 512 MiB (binary), 16GB
    (decimal), 1.5GiB; `what` names it in errors; `zero`: 0 is allowed."""
    if isinstance(value, int) and not isinstance(value, bool):
        number, unit = value, "b"
    else:
        text = str(value).strip().lower().replace(" ", "")
        digits = text.rstrip("abcdefghijklmnopqrstuvwxyz")
        unit = text[len(digits):] or "b"
        try:
            number = float(digits) if "." in digits else int(digits)
        except ValueError:
            number = None
        if number is None or unit not in UNITS or not digits.replace(".", "", 1).isdigit():
            raise SettingsError(f"a memory size is a number and a unit, such as 8GiB, 512MiB or 16GB "
                                f"(GiB and MiB binary, GB and MB decimal); got '{value}'")
    size = int(number * UNITS[unit])
    if size != number * UNITS[unit]:
        raise SettingsError(f"{what} is a whole number of bytes, got '{value}' ({number * UNITS[unit]:g} B)")
    if not (0 if zero else 1) <= size <= 2**60:
        raise SettingsError(f"{what} is from {0 if zero else 1} byte{'s' if zero else ''} to 1 EiB, got '{value}'")
    return size


def check_batch(batch) -> int:
    if not isinstance(batch, int) or isinstance(batch, bool) or batch < 1:
        raise SettingsError(f"batch must be a whole number of at least 1, got {batch!r}")
    if batch > MAX_VALUE:
        raise SettingsError(f"batch must be at most 10^15, got a number of {len(str(batch))} digits")
    return batch


def _choice(value, choices, message: str):
    if value not in choices:
        raise SettingsError(message.format(value=value, choices=", ".join(choices)))
    return value


def _whole(value, what: str, low: int = 1):
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= MAX_VALUE:
        raise SettingsError(what.format(value=value))
    return value


def parse_segments(segments) -> tuple[tuple[int, int], ...]:
    """Checkpointed segments as (first row, last row): from pairs or 'A-B' texts (a single row: 'A')."""
    if isinstance(segments, str) or (isinstance(segments, (tuple, list)) and len(segments) == 2
                                     and all(isinstance(n, int) for n in segments)):
        segments = [segments]  # one segment: "5-20" or (5, 20)
    return tuple(sorted(_segment(seg) for seg in segments or ()))


def _segment(seg) -> tuple[int, int]:
    """One checkpointed segment, from a pair or an 'A-B' (or 'A') text."""
    if isinstance(seg, str):
        parts = seg.replace(" ", "").split("-")
        if not 1 <= len(parts) <= 2 or not all(p.isdigit() and len(p) <= 15 for p in parts):
            raise SettingsError(f"a checkpointed segment is rows FIRST-LAST, such as 5-20 (see the table's "
                                f"#), got '{seg}'")
        seg = (int(parts[0]), int(parts[-1]))
    pair = isinstance(seg, (tuple, list)) and len(seg) == 2
    if not pair or not all(isinstance(n, int) and not isinstance(n, bool) for n in seg) or not 1 <= seg[0] <= seg[1]:
        shown = f"{seg[0]}-{seg[1]}" if pair else repr(seg)
        raise SettingsError(f"a checkpointed segment is rows FIRST-LAST with 1 <= FIRST <= LAST, got {shown}")
    return seg[0], seg[1]


# -- the options: each name, its default, and its reader --------------------------------------------------
DEFAULTS = {
    "input": None, "optional": "include", "max_layers": MAX_LAYERS, "fit_rule": "coverage",
    "batch": 1, "dtype": "float32", "amp": None, "optimizer": "sgd", "memory_rules": "cuda", "foreach": None,
    "accumulate": 1, "freeze": None, "checkpoint": (),
    "budget": None, "budget_for": "training", "max_input": False,
    "cuda_context": CUDA_CONTEXT, "cuda_workspace": CUDA_WORKSPACE,
}
DESIGN_OPTIONS = ("input", "optional", "max_layers", "fit_rule")  # what planning a design needs, memory aside
ALIASES = {"device": "memory_rules"}  # old spellings that still work


def _read_optional(v):
    return _choice(v, OPTIONAL_MODES, "optional must be include or exclude, got '{value}'")


def _read_max_layers(v):
    if not isinstance(v, int) or isinstance(v, bool) or v < 1:
        raise SettingsError(f"max_layers must be at least 1, got {v!r}")
    return v


def _read_foreach(v):
    if v not in (None, True, False):
        raise SettingsError(f"foreach must be true, false or None (the device's default), got {v!r}")
    return v


def _read_freeze(v):
    if v is None:
        return None
    return _whole(v, "freeze is the last frozen row, a whole number (0: none), got {value!r}", low=0)


READERS = {
    "input": read_input,
    "optional": _read_optional,
    "max_layers": _read_max_layers,
    "fit_rule": lambda v: _choice(v, FIT_RULES, "unknown fit rule '{value}' (choose from {choices})"),
    "batch": check_batch,
    "dtype": lambda v: _choice(v, DTYPES, "unknown dtype '{value}' (choose from {choices})"),
    "amp": lambda v: None if v is None else _choice(v, AMP_DTYPES,
                                                    "unknown amp dtype '{value}' (choose from {choices})"),
    "optimizer": lambda v: _choice(v, OPTIMIZERS, "unknown optimizer '{value}' (choose from {choices})"),
    "memory_rules": lambda v: _choice(v, MEMORY_RULES, "unknown memory rules '{value}' (choose from {choices})"),
    "foreach": _read_foreach,
    "accumulate": lambda v: _whole(v, "accumulate is a whole number of micro-batches from 1 to 10^15, got {value!r}"),
    "freeze": _read_freeze,
    "checkpoint": parse_segments,
    "budget": lambda v: None if v is None else parse_bytes(v),
    "budget_for": lambda v: _choice(v, BUDGET_FOR, "a budget is for training or inference, got '{value}'"),
    "max_input": lambda v: bool(v),
    "cuda_context": lambda v: parse_bytes(v, "the CUDA context", zero=True),
    "cuda_workspace": lambda v: parse_bytes(v, "the CUDA workspaces", zero=True),
}


class Settings:
    """The options of one run, read and checked: `Settings(batch=32, optimizer="adam", budget="8GiB")`.
    Immutable; `but(**changes)` makes another. Every field holds the checked value (input a Volume,
    budget and the CUDA sizes bytes, checkpoint a tuple of (first, last) rows)."""

    __slots__ = tuple(DEFAULTS)

    def __init__(self, **options) -> None:
        given = _normalised(options)
        for name, default in DEFAULTS.items():
            object.__setattr__(self, name, READERS[name](given[name]) if name in given else default)
        self._check()

    def _check(self) -> None:
        """The rules across options: combinations that mean nothing, or that are not simulated yet."""
        if self.amp is not None and self.dtype != "float32":
            raise SettingsError(f"--amp {self.amp} keeps the parameters in float32: --dtype must be float32 (--dtype "
                                f"{self.dtype} without --amp models pure {self.dtype} training)")
        if self.dtype not in TRAINABLE and self.optimizer != "sgd":
            raise SettingsError(f"{self.dtype} is an inference type: an optimizer ({self.optimizer}) means nothing "
                                f"with it")
        if self.max_input and self.budget is None:
            raise SettingsError("max_input needs a budget: the largest input whose peak fits what (--budget 8GiB)?")

    def __setattr__(self, name, value):
        raise AttributeError("Settings are immutable: use settings.but(name=value)")

    def but(self, **changes) -> Settings:
        """The same settings with some changed (each read and checked as a new one's)."""
        current = {name: getattr(self, name) for name in DEFAULTS}
        current.update(_normalised(changes))
        return Settings(**current)

    def __eq__(self, other) -> bool:
        return isinstance(other, Settings) and all(getattr(self, n) == getattr(other, n) for n in DEFAULTS)

    def __reduce__(self):  # pickled for a sweep's worker processes (spawned where they cannot fork)
        return _rebuilt, ({name: getattr(self, name) for name in DEFAULTS},)

    def __hash__(self) -> int:
        return hash(tuple(getattr(self, n) for n in DEFAULTS))

    def __repr__(self) -> str:
        changed = ", ".join(f"{n}={getattr(self, n)!r}" for n in DEFAULTS if getattr(self, n) != DEFAULTS[n])
        return f"Settings({changed})"

    # -- what follows from them --------------------------------------------------------------------------
    @property
    def device(self) -> str:
        """The memory rules' old name (the JSON contract's `device`)."""
        return self.memory_rules

    @property
    def dtype_bytes(self) -> int:
        return DTYPES[self.dtype]

    @property
    def trains(self) -> bool:
        """A training step is simulated (not for an inference type such as int8)."""
        return self.dtype in TRAINABLE

    @property
    def uses_foreach(self) -> bool:
        """The optimizer's implementation: as asked, else PyTorch's default for the device."""
        return self.memory_rules == "cuda" if self.foreach is None else self.foreach

    @property
    def budget_mode(self) -> str:
        """What a budget must hold: a training step or inference (always inference for int8)."""
        return self.budget_for if self.trains else "inference"

    def public(self) -> dict:
        """The settings a sweep states in its header (cnncalc.sweep/1)."""
        return {"input": None if self.input is None else str(self.input), "batch": self.batch, "dtype": self.dtype,
                "optimizer": self.optimizer, "amp": self.amp, "device": self.memory_rules, "budget": self.budget,
                "budget_for": self.budget_for, "accumulate": self.accumulate, "fit_rule": self.fit_rule,
                "optional": self.optional, "freeze": self.freeze,
                "checkpoint": [list(seg) for seg in self.checkpoint], "max_input": self.max_input}


def _rebuilt(values: dict) -> Settings:
    return Settings(**values)


def _normalised(options: dict) -> dict:
    """The options by their names: an old spelling as its name; an unknown name is an error."""
    out = {}
    for name, value in options.items():
        canonical = ALIASES.get(name, name)
        if canonical not in DEFAULTS:
            raise SettingsError(f"unknown setting '{name}'{did_you_mean(name, [*DEFAULTS, *ALIASES])} (settings: "
                                f"{', '.join(DEFAULTS)})")
        if canonical in out and out[canonical] != value:
            raise SettingsError(f"'{name}' is another name for '{canonical}': give one of them")
        out[canonical] = value
    return out


class takes_settings:
    """A public function that takes the settings as keywords (**options): its signature, as help(), notebooks
    and inspect.signature show it, lists every setting with its default (computed when asked, so that
    `import cnncalc` does not import inspect)."""

    def __init__(self, fn) -> None:
        self.fn = fn
        functools.update_wrapper(self, fn)

    def __call__(self, *args, **kwargs):
        return self.fn(*args, **kwargs)

    @property
    def __signature__(self):
        import inspect

        signature = inspect.signature(self.fn)
        given = [p for p in signature.parameters.values() if p.kind is not p.VAR_KEYWORD]
        names = {p.name for p in given}
        settings = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default)
                    for name, default in DEFAULTS.items() if name not in names]
        return signature.replace(parameters=[*given, *settings])


def settings_of(settings: Settings | None, options: dict) -> Settings:
    """A run's Settings: the one given, with `options` changed (a library call's keywords); or made from
    the options alone."""
    if settings is None:
        return Settings(**options)
    if not isinstance(settings, Settings):
        raise SettingsError(f"settings is a cnncalc.Settings, got {type(settings).__name__}")
    return settings.but(**options) if options else settings
