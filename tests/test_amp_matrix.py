"""Every question gets an answer (issue 22): every built-in design under --amp float16 and bfloat16, with a
budget, gives a training peak, an inference peak and a budget answer; and where a construct is not modelled,
the warning names the row and why."""

from __future__ import annotations

import pytest

import cnncalc
from cnncalc import zoo


@pytest.mark.parametrize("amp", ["float16", "bfloat16"])
@pytest.mark.parametrize("name", zoo.names())
def test_every_built_in_answers_under_mixed_precision(name, amp):
    report = cnncalc.plan(name, amp=amp, optimizer="adam", budget="8GiB")
    memory = report.totals.memory
    assert memory.training_peak_bytes and memory.inference_peak_bytes, report.warnings
    assert report.budget.max_batch, report.warnings
    assert "training_peak" not in report.totals.partial


def test_a_construct_not_modelled_names_its_row_and_why():
    """A flattening copy under autocast is not modelled: the peaks are null, and the warning says where and why."""
    report = cnncalc.plan("INPUT 8x8x4 -> CONV1-4 -> LAYERNORM -> FC-10", amp="bfloat16", budget="1GiB")
    assert report.totals.memory.training_peak_bytes is None and report.budget.max_batch is None
    assert "training_peak" in report.totals.partial
    (warning,) = [w for w in report.warnings if "peaks are not known" in w]
    assert "row 3, FC-10 (line 1, column 40)" in warning and "under autocast" in warning
    assert "the budget has no answer" in warning


def test_a_float32_operation_on_a_split_half_under_autocast_has_no_peak_and_says_why():
    """LRN (a float32 operation of autocast) on a channel split's half: it raised an internal error (KeyError)
    up to 0.8.1; simulated, PyTorch's MemTracker measures 48 bytes more at batch 1 (10,008 B against 9,960 B,
    bfloat16, SGD), so it is not modelled yet."""
    for design in ("INPUT 8x8x4 -> CONV3-4 -> (ID || LRN(3)) -> CONV3-4",
                   "INPUT 8x8x4 -> CONV3-4 -> ([CROP(6x6) -> LRN(3) -> ZEROPAD1] || ID) -> CONV3-4"):
        report = cnncalc.plan(design, amp="bfloat16")
        assert report.totals.memory.training_peak_bytes is None
        (warning,) = [w for w in report.warnings if "peaks are not known" in w]
        assert "LRN" in warning and "on a channel split's half is not modelled yet" in warning
    assert cnncalc.plan("INPUT 8x8x4 -> CONV3-4 -> (ID || LRN(3)) -> CONV3-4").totals.memory.training_peak_bytes


# PyTorch's MemTracker (torch 2.13, CPU, FakeTensorMode; `cnncalc verify --amp bfloat16 --memory`, 2026-12-07):
# the peak of a training step (SGD, for-loop) of LRN under autocast on a crop's output, which views its input
CROP_LRN = "INPUT 8x8x4 -> CONV3-4 -> CROP(6x6) -> LRN(3) -> CONV3-4"
CROP_LRN_MEASURED = {1: 9_304, 2: 16_536}  # bytes by batch; 0.8.1 simulated 8,792 and 15,512 (it kept the view)


@pytest.mark.parametrize("batch", sorted(CROP_LRN_MEASURED))
def test_a_float32_operation_keeps_what_a_view_views(batch):
    """LRN's autocast rule keeps its input for its backward: a crop's output is a view, and keeping it keeps
    the tensor it views, as every other kind's rule does (kept_in)."""
    report = cnncalc.plan(CROP_LRN, amp="bfloat16", batch=batch, device="cpu", foreach=False)
    assert report.totals.memory.training_peak_bytes == CROP_LRN_MEASURED[batch]


def test_a_float32_operation_checkpointed_under_autocast_has_no_peak_and_says_why():
    report = cnncalc.plan("INPUT 16x16x4 -> CONV3-8 -> [LRN -> CONV1-8] -> FC-3", batch=2, device="cpu",
                          amp="bfloat16", checkpoint=["2-3"])
    assert report.totals.memory.training_peak_bytes is None
    assert report.warnings == ["the training and inference peaks are not known: row 2, LRN (line 1, column 30): a "
                               "float32 operation of autocast (--amp) in a checkpointed segment is not modelled yet "
                               "(checkpoint the segments around it)"]
