"""A Verification as a terminal table: cnncalc's numbers beside PyTorch's."""

from __future__ import annotations

from . import align
from .units import binary

GREEN, RED, YELLOW, BOLD, RESET = "\033[32m", "\033[31m", "\033[33m", "\033[1m", "\033[0m"
HEADER = ("#", "layer", "cnncalc", "PyTorch", "params", "PyTorch params", "")
RIGHT = (True, False, False, False, True, True, False)


def render_verification(v, color: bool = False) -> str:
    def paint(text: str, code: str) -> str:
        return f"{code}{text}{RESET}" if color else text

    rows = [(str(r.index), r.name, r.expected_shape, r.actual_shape, f"{r.expected_params:,}", f"{r.actual_params:,}",
             "ok" if r.ok else "MISMATCH") for r in v.rows]
    lines = align.align(HEADER, rows, RIGHT)
    out = [paint(lines[0], BOLD)]
    for line, r in zip(lines[1:], v.rows):
        mark = "ok" if r.ok else "MISMATCH"
        out.append(line[:len(line) - len(mark)] + paint(mark, GREEN if r.ok else BOLD + RED))
    out.append(f"params: cnncalc {v.params_expected:,}, PyTorch {v.params_actual:,} (device {v.device}, batch {v.batch})")
    if v.saved_actual is not None:
        diff = (v.saved_actual - v.saved_expected) / max(v.saved_actual, 1) * 100
        out.append(f"saved for backward: cnncalc {binary(v.saved_expected)} ({v.saved_expected:,} B), "
                   f"PyTorch {binary(v.saved_actual)} ({v.saved_actual:,} B), {diff:+.2f}%")
    if v.peak_actual is not None:
        diff = (v.peak_expected - v.peak_actual) / max(v.peak_actual, 1) * 100
        impl = "foreach" if v.foreach else "for-loop"
        out.append(f"training-step peak ({v.optimizer}, {impl}, batch {v.batch}): cnncalc {binary(v.peak_expected)} "
                   f"({v.peak_expected:,} B), MemTracker {binary(v.peak_actual)} ({v.peak_actual:,} B), {diff:+.2f}%")
        out.append("  cnncalc:    " + ", ".join(f"{k} {binary(n)}" for k, n in v.peak_breakdown_expected.items() if n))
        out.append("  MemTracker: " + ", ".join(f"{k} {binary(n)}" for k, n in v.peak_breakdown_actual.items() if n))
    if v.inference_peak_actual is not None:
        diff = (v.inference_peak_expected - v.inference_peak_actual) / max(v.inference_peak_actual, 1) * 100
        out.append(f"inference peak (eval, no_grad, batch {v.batch}): cnncalc {binary(v.inference_peak_expected)} "
                   f"({v.inference_peak_expected:,} B), MemTracker {binary(v.inference_peak_actual)} "
                   f"({v.inference_peak_actual:,} B), {diff:+.2f}%")
    out += [paint(f"note: {note}", YELLOW) for note in v.notes]
    out.append(paint("agree: every row's shape and parameters match" if v.ok else "DISAGREE: see the rows marked",
                     BOLD + (GREEN if v.ok else RED)))
    return "\n".join(out) + "\n"
