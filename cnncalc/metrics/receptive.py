"""Receptive field per axis, as in Araujo et al., "Computing Receptive Fields
of Convolutional Neural Networks" (Distill, 2019).

State per axis: size r, effective stride (jump) j, effective padding P.
    r += (k_eff - 1) * j;  P += p * j;  j *= s;   k_eff = d*(k-1) + 1
FC, GAP and FLATTEN act as a window over the whole input. Output pixel u sees the
input positions [u*j - P, u*j - P + r - 1]; at a merge whose arms share j on an
axis, the field is the union of the arms' windows there: P = max(P_a) and
r = max(r_a - P_a) + max(P_a); a product's 1x1xC gate arm (squeeze-and-excitation) is
left out of the union (the merge's `fields`): its GAP makes it global by construction.
Each layer kind's `receptive` rule gives its step (kinds/geometry.py writes the
window's once); after a transposed convolution or an upsampling the field is not an
integer map of the input, so it is reported as unavailable (None) rather than guessed.
"""

from __future__ import annotations

from ..kinds import KINDS
from ..kinds.geometry import RF, START  # noqa: F401  (START: where the walk begins, one pixel)


def _union(fields: list[RF], axis: int) -> tuple[tuple[int, int, int], bool]:
    """(size, stride, padding) of the merge along one axis, and whether the arms' strides differ there.
    Equal strides: the union of the arms' windows. Different strides: the largest field (an estimate)."""
    stride = fields[0][1][axis]
    if any(f[1][axis] != stride for f in fields[1:]):
        best = max(fields, key=lambda f: f[0][axis])
        return (best[0][axis], best[1][axis], best[2][axis]), True
    pad = max(f[2][axis] for f in fields)
    return (max(f[0][axis] - f[2][axis] for f in fields) + pad, stride, pad), False


def merge(fields: list[RF | None]) -> tuple[RF | None, bool]:
    """The field after a merge, per axis; also whether the arms' strides differ on an axis."""
    if any(f is None for f in fields):
        return None, False
    (rh, jh, ph), differ_h = _union(fields, 0)
    (rw, jw, pw), differ_w = _union(fields, 1)
    return ((rh, rw), (jh, jw), (ph, pw)), differ_h or differ_w


def last_spatial(rows: list) -> int:
    """Index of the last row before the first global layer (GAP, FC, FLATTEN) outside a branch (a
    squeeze-and-excitation gate's GAP is inside one): where receptive fields are quoted. Rows are the
    contract's dicts or Report rows."""
    last = 0
    for i, row in enumerate(rows):
        kind, depth = (row["kind"], row["depth"]) if isinstance(row, dict) else (row.kind, row.depth)
        if KINDS[kind].acts_globally and depth == 0:
            break
        last = i
    return last
