"""What the block diagram draws: the view as a tree of chains, branches (their arms, their ID shortcuts)
and frames around open blocks."""

from __future__ import annotations

from typing import NamedTuple

from ...kinds import KINDS, MERGES


class Branch(NamedTuple):
    arms: list[list]  # each a chain: rows, branches and frames
    skips: list[dict]  # the arms that are only an ID row: shortcut edges
    merge: dict  # the concat, add or mul row


class Frame(NamedTuple):
    """A top-level block the view does not fold, drawn as a labelled outline around its elements, so
    that its name (basic(64) x2, inception(64, ...)) stays in the picture."""

    block: dict
    items: list
    part: int = 0  # a frame cut by strips(): its pieces after the first say "continued"


def tree(view: list[dict]) -> list:
    """The view as a chain of rows and Branches. A row belongs to the arm that its path names: its
    own arm at its depth and, at each outer depth, the arm of the next row at that depth (as the
    table's gutter reads it: render/structure.py)."""
    paths = arm_paths(view)
    chain, i = chain_of(view, paths, 0, ())
    if i != len(view):
        raise ValueError(f"row {view[i]['index']} closes no branch")
    return chain


def framed(chain: list, report: dict, view: list[dict], depth: int | None) -> list:
    """The top-level chain with each top-level block the view leaves open (depth None or above 1)
    that spans more than one row of the view wrapped in a Frame."""
    if depth == 1:
        return chain
    blocks = [b for b in report.get("blocks") or () if b["level"] == 1]
    out, i = [], 0
    for b in blocks:
        while i < len(chain) and span_of(chain[i])[1] < b["first"]:
            out.append(chain[i])
            i += 1
        j = i
        while j < len(chain) and span_of(chain[j])[1] <= b["last"]:
            j += 1
        if j - i > 1 or (j - i == 1 and isinstance(chain[i], Branch)):  # more than one row of the view
            out.append(Frame(b, chain[i:j]))
            i = j
    return out + chain[i:]


def span_of(element) -> tuple[int, int]:
    """The first and last row an element of the tree covers."""
    if isinstance(element, Frame):
        return span_of(element.items[0])[0], span_of(element.items[-1])[1]
    if isinstance(element, Branch):
        firsts = [span_of(arm[0])[0] for arm in element.arms] + [span_of(r)[0] for r in element.skips]
        return min(firsts), span_of(element.merge)[1]
    index = element["index"]
    if isinstance(index, int):
        return index, index
    first, _, last = str(index).partition("-")
    return int(first), int(last or first)


def exit_row(element):
    """The index of the row an element ends in: what the next element's edge comes from."""
    if isinstance(element, Frame):
        return exit_row(element.items[-1])
    if isinstance(element, Branch):
        return element.merge["index"]
    return element["index"]


def arm_paths(view: list[dict]) -> list[tuple]:
    """Each row's arm at every branch depth around it, from the outermost (() at the top level)."""
    paths, following = [()] * len(view), {}
    for i in range(len(view) - 1, -1, -1):
        d = view[i]["depth"]
        if d:
            paths[i] = (*(following.get(level) for level in range(1, d)), view[i]["arm"])
            following[d] = view[i]["arm"]
    return paths


def is_merge(row: dict) -> bool:
    return row["kind"] in MERGES and "block" not in row


def chain_of(view, paths, i: int, prefix: tuple) -> tuple[list, int]:
    depth, out = len(prefix), []
    while i < len(view) and len(paths[i]) >= depth and paths[i][:depth] == prefix:
        if len(paths[i]) == depth:
            out.append(view[i])
            i += 1
        else:
            branch, i = branch_of(view, paths, i, prefix)
            out.append(branch)
    return out, i


def branch_of(view, paths, i: int, prefix: tuple) -> tuple[Branch, int]:
    depth, arms, skips = len(prefix), [], []
    while i < len(view) and len(paths[i]) > depth and paths[i][:depth] == prefix:
        arm, i = chain_of(view, paths, i, prefix + (paths[i][depth],))
        if len(arm) == 1 and isinstance(arm[0], dict) and "block" not in arm[0] and KINDS[arm[0]["kind"]].skip:
            skips.append(arm[0])
        else:
            arms.append(arm)
    if i == len(view) or not is_merge(view[i]) or len(paths[i]) != depth:
        where = view[i]["index"] if i < len(view) else "the end"
        raise ValueError(f"a branch is not closed by a merge (at row {where})")
    return Branch(arms, skips, view[i]), i + 1


# -- text -------------------------------------------------------------------------------------------------------
