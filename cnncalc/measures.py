"""The one vocabulary of a design's numbers that `compare` and `sweep` show, filter, sort and rank.

A measure's name is the JSON contract's key (`cnncalc.plan/1`): `params` is `totals.params`,
`training_peak_bytes` is `totals.memory.training_peak_bytes`, `max_batch` is `budget.max_batch`.
The same names are written in `--where`, `--sort`, `--pareto` and `--columns`, and are the keys
of the rows `compare` and `sweep` return. A name ending in `_bytes` may also be written without
it where that is not another measure's name (`training_peak` for `training_peak_bytes`).

Each measure says what it costs to know (`needs`): "walk" (one pass over the layers: shapes,
params, MACs, memory, fit, receptive field), "plan" (the full walk with the saved-tensor
rules), "peaks" (the simulated training step and inference) or "budget" (a `--budget` too).
"""

from __future__ import annotations

from typing import Callable, NamedTuple

from .metrics.receptive import last_spatial

COUNT, BYTES, BOOL = "count", "bytes", "bool"  # what a measure's numbers are: K/M/G, KiB/MiB/GiB, true/false
NEEDS = ("walk", "plan", "peaks", "budget")  # cheapest first


class Measure(NamedTuple):
    name: str  # the JSON contract's key
    unit: str  # COUNT, BYTES or BOOL
    needs: str  # one of NEEDS
    versus: str | None  # how a value is set against another design's: "ratio", "delta", or None (true/false)
    path: str  # where the plan's JSON has it
    help: str
    get: Callable[[dict], object]


def _rf(data: dict):
    """The receptive field's size at the last spatial row (the larger axis), or None where undefined."""
    rf = data["layers"][last_spatial(data["layers"])]["rf"]
    return None if rf is None else max(rf["size"])


def _cuda(key: str) -> Callable[[dict], object]:
    def get(data: dict):
        cuda = data["totals"]["memory"].get("cuda")
        return None if cuda is None else cuda[key]

    return get


def _memory(key: str) -> Callable[[dict], object]:
    return lambda data: data["totals"]["memory"].get(key)


def _total(key: str) -> Callable[[dict], object]:
    return lambda data: data["totals"][key]


def _budget(data: dict):
    return None if data["budget"] is None else data["budget"]["max_batch"]


def _max_input(data: dict):
    largest = None if data["budget"] is None else data["budget"].get("max_input")
    return None if largest is None else largest["h"]


M = Measure
MEASURES: dict[str, Measure] = {m.name: m for m in (
    M("params", COUNT, "walk", "ratio", "totals.params", "learnable parameters", _total("params")),
    M("buffers", COUNT, "walk", "ratio", "totals.buffers", "BN running statistics", _total("buffers")),
    M("macs", COUNT, "walk", "ratio", "totals.macs", "multiply-accumulates per image", _total("macs")),
    M("flops", COUNT, "walk", "ratio", "totals.flops", "2 x MACs per image", _total("flops")),
    M("activations", COUNT, "walk", "ratio", "totals.activations",
      "elements stored by the forward pass per image", _total("activations")),
    M("forward_bytes", BYTES, "walk", "ratio", "totals.memory.forward_bytes",
      "forward memory for the batch", _memory("forward_bytes")),
    M("forward_bytes_per_image", BYTES, "walk", "ratio", "totals.memory.forward_bytes_per_image",
      "forward memory per image", _memory("forward_bytes_per_image")),
    M("params_bytes", BYTES, "walk", "ratio", "totals.memory.params_bytes", "the parameters' bytes",
      _memory("params_bytes")),
    M("training_bytes", BYTES, "walk", "ratio", "totals.memory.training_bytes",
      "the notes' x2 rule of thumb for training", _memory("training_bytes")),
    M("saved_bytes", BYTES, "plan", "ratio", "totals.memory.saved_bytes",
      "what autograd keeps for the backward pass", _memory("saved_bytes")),
    M("training_peak_bytes", BYTES, "peaks", "ratio", "totals.memory.training_peak_bytes",
      "the simulated peak of one training step", _memory("training_peak_bytes")),
    M("inference_peak_bytes", BYTES, "peaks", "ratio", "totals.memory.inference_peak_bytes",
      "the simulated peak of inference", _memory("inference_peak_bytes")),
    M("cuda_total_bytes", BYTES, "peaks", "ratio", "totals.memory.cuda.total_bytes",
      "on the GPU for training: reserved + context + workspaces (--device cuda)", _cuda("total_bytes")),
    M("max_batch", COUNT, "budget", "ratio", "budget.max_batch", "the largest batch whose peak fits --budget",
      _budget),
    M("max_input", COUNT, "budget", "ratio", "budget.max_input.h",
      "the side of the largest square input whose every window fits and whose peak fits --budget (--max-input)",
      _max_input),
    M("fits", BOOL, "walk", None, "fits", "no layer is a misfit", lambda data: data["fits"]),
    M("rows", COUNT, "walk", "delta", "len(layers)", "rows of the table: input, layers and merges",
      lambda data: len(data["layers"])),
    M("rf", COUNT, "walk", "delta", "layers[last spatial].rf.size",
      "receptive field at the last spatial layer (the larger axis)", _rf),
)}

# the short spellings: a `_bytes` name without `_bytes`, where that is not another measure
ALIASES: dict[str, str] = {name[:-len("_bytes")]: name for name in MEASURES
                           if name.endswith("_bytes") and name[:-len("_bytes")] not in MEASURES}


def resolve(name: str) -> str | None:
    """The measure a name means (its own name or a short spelling), or None."""
    return name if name in MEASURES else ALIASES.get(name)


def values(data: dict, names) -> dict:
    """The named measures of a plan (the JSON-contract dict)."""
    return {name: MEASURES[name].get(data) for name in names}


def costliest(names) -> str:
    """What knowing all these measures needs, as one of NEEDS."""
    return max((MEASURES[n].needs for n in names), key=NEEDS.index, default="walk")
