"""A Verification as a terminal table: cnncalc's numbers beside PyTorch's."""

from __future__ import annotations

import io

from .units import binary


def render_verification(v, width: int | None = None, color: bool = False) -> str:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, show_edge=False, pad_edge=False, header_style="bold")
    for title, right in (("#", True), ("layer", False), ("cnncalc", False), ("PyTorch", False),
                         ("params", True), ("PyTorch params", True), ("", False)):
        table.add_column(title, justify="right" if right else "left", no_wrap=True)
    for r in v.rows:
        mark = Text("ok", style="green") if r.ok else Text("MISMATCH", style="bold red")
        table.add_row(str(r.index), r.name, r.expected_shape, r.actual_shape, f"{r.expected_params:,}",
                      f"{r.actual_params:,}", mark)
    out = io.StringIO()
    console = Console(file=out, width=width or 140, force_terminal=color, no_color=not color, highlight=False)
    console.print(table)
    console.print(Text(f"params: cnncalc {v.params_expected:,}, PyTorch {v.params_actual:,} "
                       f"(device {v.device}, batch {v.batch})"))
    if v.saved_actual is not None:
        diff = (v.saved_actual - v.saved_expected) / max(v.saved_actual, 1) * 100
        console.print(Text(f"saved for backward: cnncalc {binary(v.saved_expected)} ({v.saved_expected:,} B), "
                           f"PyTorch {binary(v.saved_actual)} ({v.saved_actual:,} B), {diff:+.2f}%"))
    if v.peak_actual is not None:
        console.print(Text(f"training-step peak: cnncalc {binary(v.peak_expected)}, CUDA {binary(v.peak_actual)}"))
    for note in v.notes:
        console.print(Text(f"note: {note}", style="yellow"))
    console.print(Text("agree: every row's shape and parameters match" if v.ok else "DISAGREE: see the rows marked",
                       style="bold green" if v.ok else "bold red"))
    return "\n".join(line.rstrip() for line in out.getvalue().splitlines()) + "\n"
