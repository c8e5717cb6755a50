"""The memory of a design's training step and inference, simulated from the planner's rows (`Step`s):

    steps.py       the rows as the simulations see them, the run's Setup, storages and readers
    timeline.py    the live bytes by category, and their peak
    step.py        one training step (forward, loss, backward, optimizer), a dtype per storage: float32,
                   pure low precision, or autocast's rules of the kinds
    checkpoint.py  activation checkpointing's frames and recomputation
    evaluate.py    one forward pass in evaluation mode (inference)
    runs.py        a run of repeated units: found, the design shortened to five of them, keys moved by units
    repeats.py     the training step and the inference pass of a design with such a run, simulated shortened:
                   the whole design's answers and logs
    cuda.py        a model of PyTorch's CUDA caching allocator: reserved memory
    budget.py      what fits a budget: the largest batch
    peaks.py       the peaks in a report's totals
"""

from __future__ import annotations

from .budget import allocated, held, largest_batch
from .evaluate import inference
from .peaks import ALL_PEAKS, add_peaks
from .step import peak_of
from .steps import Cuda, Setup, Step, records, setup_of, supported, unsupported
from .timeline import Peak, Timeline

__all__ = ["ALL_PEAKS", "Cuda", "Peak", "Setup", "Step", "Timeline", "add_peaks", "allocated", "held", "inference",
           "largest_batch", "peak_of", "records", "setup_of", "supported", "unsupported"]
