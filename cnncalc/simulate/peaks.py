"""The simulated peaks in a report's totals: a training step's (with what it is made of), inference's,
and on CUDA what the device holds; with a budget, the largest batch that fits."""

from __future__ import annotations

from .budget import largest_batch
from .cuda import Network, replay
from .repeats import inference_peak, training_peak
from .runs import find_run
from .steps import Cuda, Setup, Step, supported
from .timeline import CATEGORIES, Log

ALL_PEAKS = frozenset({"inference", "cuda"})  # what add_peaks computes beside the training step's peak


def add_peaks(totals: dict, steps: list[Step], storage_sizes: list[int], setup: Setup, *, batch: int,
              budget: int | None = None, budget_for: str = "training", want: frozenset = ALL_PEAKS) -> dict | None:
    """Add the simulated peaks to the report's totals (`totals.memory`; on CUDA also `totals.memory.cuda`),
    or name them in `partial`; with a budget, return the report's `budget`: the largest batch that fits.
    `want` may leave out the inference peak or the CUDA figures (null then: a sweep that reads neither)."""
    memory = totals["memory"]
    if not supported(steps, setup.amp):
        memory.update(training_peak_bytes=None, peak=None, inference_peak_bytes=None, cuda=None)
        totals["partial"] = sorted({*totals["partial"], "training_peak"})
        return None if budget is None else {"bytes": budget, "for": budget_for, "max_batch": None,
                                            "batch_1_bytes": None, "max_input": None}
    cuda = setup.device == "cuda" and "cuda" in want
    log = Log() if cuda else None
    run = find_run(steps, storage_sizes)  # a run of repeated units, simulated shortened (runs.py), found once
    peak = training_peak(steps, storage_sizes, setup, batch, log, run)
    memory["training_peak_bytes"] = peak.bytes
    memory["peak"] = {"phase": peak.phase, "index": peak.index,
                      "breakdown": {k: peak.breakdown.get(k, 0) for k in CATEGORIES}}
    network = Network()  # moved to the device once for both replays
    reserved = None if log is None else replay(log, network)  # replayed at once: one log in memory at a time
    log = Log() if cuda else None
    memory["inference_peak_bytes"] = None if not ({"inference", "cuda"} & want) else inference_peak(
        steps, storage_sizes, dtype_bytes=setup.dtype_bytes, batch=batch, block=setup.block, device=setup.device,
        amp=setup.amp, log=log, run=run)
    memory["cuda"] = None
    if log is not None:
        inferring = replay(log, network)
        del log
        held = setup.cuda or Cuda(0, 0)
        around = held.context + held.workspace
        memory["cuda"] = {"allocated_bytes": peak.bytes, "reserved_bytes": reserved, "context_bytes": held.context,
                          "workspace_bytes": held.workspace, "total_bytes": reserved + around,
                          "inference_reserved_bytes": inferring, "inference_total_bytes": inferring + around}
    if budget is None:
        return None
    training = budget_for == "training"
    simulated = memory["training_peak_bytes"] if training else memory["inference_peak_bytes"]
    replayed = None if memory["cuda"] is None else memory["cuda"]["reserved_bytes" if training else
                                                                   "inference_reserved_bytes"]
    most, one = largest_batch(steps, storage_sizes, budget, setup, budget_for,
                              known=None if simulated is None else {batch: simulated},
                              known_reserved=None if replayed is None else {batch: replayed},
                              line=_line(peak, batch) if training else None, run=run)
    return {"bytes": budget, "for": budget_for, "max_batch": most, "batch_1_bytes": one, "max_input": None}


def _line(peak, batch: int) -> tuple[int, int]:
    """The training peak as a line in the batch, from what it is made of: the model's tensors (params,
    buffers, gradients, optimizer state) and, per image, the activations and temporaries."""
    b = peak.breakdown
    return (b.get("params", 0) + b.get("buffers", 0) + b.get("gradients", 0) + b.get("optimizer", 0),
            (b.get("saved", 0) + b.get("other", 0)) // batch)
