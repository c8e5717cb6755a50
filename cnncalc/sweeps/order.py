"""What a sweep keeps of the rows that pass, and in which order it shows them: as they come (stopping
after --top), sorted (every row, or the best --top), or the Pareto front (kept as rows arrive)."""

from __future__ import annotations

import math
from collections.abc import Sequence


def sort_key(order: list[tuple[str, int]]):
    """A row's key for `order` ((name, +1 larger first / -1 smaller first)); an unknown value goes last."""
    def key(row: dict, values: dict) -> tuple:
        out = []
        for name, direction in order:
            value = values[name] if name in values else row["point"].get(name)
            if value is None or not isinstance(value, (int, float)):
                out.append((1, 0))
            else:
                out.append((0, -value if direction > 0 else value))
        out.append(row["index"])
        return tuple(out)

    return key


class Order:
    """The rows kept for --sort or --pareto (none when the rows stream as they come)."""

    def __init__(self, sort: list[tuple[str, int]], pareto: list[tuple[str, int]], top: int | None) -> None:
        self.sort, self.pareto, self.top = sort, pareto, top
        self.sorting = sort_key(sort) if sort else None
        self.front = Front(pareto) if pareto else None
        self.kept: list[tuple] = []
        self.kept_most = 0  # rows held at once, for the summary

    @property
    def streams(self) -> bool:
        """Rows are shown as they come."""
        return self.front is None and self.sorting is None

    def add(self, row: dict, values: dict) -> None:
        if self.front is not None:
            self.front.add(row, values)
            self.kept_most = max(self.kept_most, len(self.front.rows))
            return
        self.kept.append((self.sorting(row, values), row))
        if self.top is not None and len(self.kept) >= 2 * self.top:
            self.kept.sort(key=lambda pair: pair[0])
            del self.kept[self.top:]
        self.kept_most = max(self.kept_most, len(self.kept))

    def result(self, summary: dict) -> tuple[list[dict], str | None]:
        """The rows to show, in order, and what the summary says of what was kept."""
        top = self.top
        if self.front is not None:
            rows = self.front.result()
            order = sort_key(self.sort or self.pareto)
            rows.sort(key=lambda row: order(row, self.front.values[row["index"]]))
            summary["front"] = len(rows)
            summary["ties"] = sum(1 for row in rows if row["ties"])
            return (rows if top is None else rows[:top],
                    f"--pareto keeps only the current front in memory (at most {self.kept_most:,} rows at once); "
                    f"the front is {len(rows):,} rows")
        if self.sorting is not None:
            self.kept.sort(key=lambda pair: pair[0])
            shown = [row for _, row in (self.kept if top is None else self.kept[:top])]
            return shown, (f"--sort without --top keeps every row that passes in memory to sort them "
                           f"({self.kept_most:,} rows)" if top is None else
                           f"--sort with --top {top} keeps at most {2 * top:,} rows")
        return [], None


class Front:
    """The Pareto front, kept as rows arrive: a row stays while no other row is at least as good on
    every named measure and better on one. Rows equal on every measure are all kept (ties)."""

    def __init__(self, order: list[tuple[str, int]]) -> None:
        self.order = order
        self.rows: list[dict] = []
        self.vectors: list[tuple] = []
        self.values: dict[int, dict] = {}

    def vector(self, row: dict, values: dict) -> tuple:
        out = []
        for name, direction in self.order:
            value = values[name] if name in values else row["point"].get(name)
            out.append(math.inf if value is None or not isinstance(value, (int, float))
                       else (-value if direction > 0 else value))
        return tuple(out)

    def add(self, row: dict, values: dict) -> None:
        v = self.vector(row, values)
        if any(dominates(w, v) for w in self.vectors):
            return
        keep = [i for i, w in enumerate(self.vectors) if not dominates(v, w)]
        if len(keep) != len(self.vectors):
            for i in set(range(len(self.vectors))) - set(keep):
                del self.values[self.rows[i]["index"]]
            self.rows = [self.rows[i] for i in keep]
            self.vectors = [self.vectors[i] for i in keep]
        self.rows.append(row)
        self.vectors.append(v)
        self.values[row["index"]] = values

    def result(self) -> list[dict]:
        groups: dict[tuple, int] = {}
        for v in self.vectors:
            groups[v] = groups.get(v, 0) + 1
        for row, v in zip(self.rows, self.vectors):
            row["ties"] = groups[v] - 1
        return list(self.rows)


def dominates(a: tuple, b: tuple) -> bool:
    """a is at least as good as b on every measure and better on one (smaller is better)."""
    return all(x <= y for x, y in zip(a, b)) and any(x < y for x, y in zip(a, b))


def pareto_front(vectors: Sequence[tuple]) -> list[int]:
    """The indices of the vectors (smaller is better on each axis) that no other vector dominates,
    kept online as _Front does; tests check it against the definition."""
    front: list[int] = []
    for i, v in enumerate(vectors):
        if any(dominates(vectors[j], v) for j in front):
            continue
        front = [j for j in front if not dominates(v, vectors[j])]
        front.append(i)
    return sorted(front)
