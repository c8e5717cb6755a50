"""The design's structure in the table: rows folded into their blocks (`--depth`), and the
branch gutter that marks every arm, shared by the terminal table and markdown.

Folding is a view of the report's `blocks` (expand.Block, the JSON contract's `blocks`): at
depth N every block of level N is one row with its rows' sums, so the rows of every view
still sum to the totals. The gutter is drawn from the rows' `depth` and `arm` alone:

     5  ┌1 ID                 the first row of a branch: its arm's number
     6  ├2 CONV3-64           the first row of another arm
     7  │  BN                 the rest of an arm
    11  └─ ADD                the merge that closes the branch
"""

from __future__ import annotations

from ..kinds import MERGES

# the marks, in this order: a branch's first row, another arm's first row, the rest of an arm, the
# merge row, and what follows the merge's mark (plain tuples: a NamedTuple costs start-up time)
Marks = tuple[str, str, str, str, str]
UNICODE: Marks = ("┌", "├", "│", "└", "─")
ASCII: Marks = ("/", "+", "|", "\\", "-")  # for a standard output whose encoding lacks the box characters
SUMS = ("params", "weights", "biases", "buffers", "macs", "activations", "memory_bytes", "saved_bytes")


def max_level(report: dict) -> int:
    """The deepest level of the report's blocks: --depth beyond it shows every row."""
    return max((b["level"] for b in report.get("blocks") or ()), default=0)


def fold(report: dict, depth: int | None) -> list[dict]:
    """The rows shown at `depth` (None: every row): each block of level `depth` as one row (see
    `folded`), every row outside such a block as itself."""
    rows = report["layers"]
    if depth is None:
        return rows
    blocks = [b for b in report.get("blocks") or () if b["level"] == depth]  # disjoint, in row order
    view = []
    i = 0
    for b in blocks:
        view.extend(rows[i:b["first"]])
        view.append(folded(b, rows))
        i = b["last"] + 1
    view.extend(rows[i:])
    return view


def folded(block: dict, rows: list[dict]) -> dict:
    """A block as one row of the table: the keys of a layer's row, with its sums; its output and
    receptive field are its last row's; `index` is its range of rows ("5-12"); `name` marks a
    repeat with its count (`basic(64) x2`), a one-row block its row's number; `formula` is the sum of its
    weights."""
    inside = rows[block["first"]:block["last"] + 1]
    last = inside[-1]
    misfits = [r for r in inside if not r["fits"]]
    notes = [r for r in inside if r.get("fit") == "note"]
    name = computed_name(block, inside)
    if block["repeat"] is not None:
        name = f"{name.removesuffix('*' + str(block['repeat']))} x{block['repeat']}"
    weights = block["weights"]
    unsupported = sorted({m for r in inside for m in r["unsupported"] if m != "rf"} | set(
        m for m in last["unsupported"] if m == "rf"))
    row = {
        "index": (str(block["first"]) if block["first"] == block["last"] else f"{block['first']}-{block['last']}"),
        "name": name, "kind": block["kind"], "output": last["output"],
        "rf": last["rf"], "fits": not misfits, "problem": _listed(misfits, "row", " that do not fit: "),
        "fit": "misfit" if misfits else "note" if notes else "ok", "note": _listed(notes, "note", ": rows "),
        "formula": None if weights is None else f"{weights:,}" if weights else "",
        "depth": block["depth"], "arm": block["arm"], "line": block["line"], "column": block["column"],
        "source": block["source"], "unsupported": unsupported, "implied_pad": None, "block": block,
    }
    for key in SUMS:
        row[key] = block[key]
    return row


def computed_name(block: dict, inside: list[dict]) -> str:
    """What a folded row is called: a block call as written (its arguments are numbers), a group or a
    branch by the rows it holds (CONV1-64, not the template's CONV1-C): the network, not the design's text."""
    if block["kind"] == "group":
        return "[" + " -> ".join(_top_names(inside, block["depth"])) + "]"
    if block["kind"] == "branch":
        merge = inside[-1]
        arms: dict[int, list[dict]] = {}
        for r in inside[:-1]:
            if r["depth"] == merge["depth"] + 1:
                arms.setdefault(r["arm"], []).append(r)
        shown = [" -> ".join(r["name"] for r in rows) for rows in arms.values()]
        operator = MERGES[merge["kind"]].operator
        if operator == "{}":
            return "{" + (shown[0] if shown else "ID") + "}"
        return "(" + f" {operator} ".join(f"[{s}]" if " -> " in s else s for s in shown) + ")"
    return block["name"]


def _top_names(rows: list[dict], depth: int) -> list[str]:
    """The names of the rows of a chain at `depth` (a branch inside shows as its merge row)."""
    return [r["name"] for r in rows if r["depth"] == depth]


def _listed(rows: list[dict], noun: str, then: str) -> str | None:
    """'2 rows that do not fit: 3, 7', '1 note: rows 5', or None for no rows."""
    if not rows:
        return None
    return f"{len(rows)} {noun}{'s' * (len(rows) != 1)}{then}" + ", ".join(str(r["index"]) for r in rows)


def gutters(view: list[dict], marks: Marks = UNICODE) -> list[str]:
    """The gutter before each row's name: for each branch level around it, from the outermost, the
    first row of a branch (┌ and the arm's number), of another arm (├ and its number), or the rest
    of an arm (│); a merge adds └─ after its own levels. A row's arm at an outer level is that of the
    next row at that level's depth (the merge that closes the branch it is in)."""
    first, start, line, merge, rule = marks
    n = len(view)
    paths: list[tuple] = [()] * n
    following: dict[int, int | None] = {}
    for i in range(n - 1, -1, -1):
        r = view[i]
        d = r["depth"]
        if d:
            paths[i] = (*(following.get(level) for level in range(1, d)), r["arm"])
            following[d] = r["arm"]
    out = []
    previous: tuple | None = None
    for r, path in zip(view, paths):
        merges = r["kind"] in MERGES and "block" not in r
        if not path and previous is not None and not previous:  # the top level, after the top level
            out.append(merge + rule + " " if merges else "")
            continue
        cells = []
        for level in range(1, len(path) + 1):
            arm = path[level - 1]
            number = "" if arm is None else str(arm)
            if previous is None or len(previous) < level:
                cells.append(first + number)
            elif previous[:level] != path[:level]:
                cells.append(start + number)
            else:
                cells.append(line + " " * len(number))
        if merges:
            cells.append(merge + rule)
        out.append("".join(cells) + " " if cells else "")
        previous = path  # after a merge (at its branch's depth), a deeper row opens a new branch
    return out


def display_name(row: dict) -> str:
    """The row's name, with the padding its name does not write where it changes the size: CONV3-10/2 (p1)."""
    pad = row.get("implied_pad")
    if not pad:
        return row["name"]
    return f"{row['name']} (p{pad[0]})" if pad[0] == pad[1] else f"{row['name']} (p{pad[0]}x{pad[1]})"


def labels(view: list[dict], marks: Marks = UNICODE) -> list[str]:
    """Each row's gutter and display name."""
    return [g + display_name(r) for g, r in zip(gutters(view, marks), view)]
