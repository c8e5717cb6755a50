"""One CSV row per layer, raw numbers (bytes, elements), for spreadsheets and scripts.
An empty cell is a metric not known for the row's kind (null in JSON), never 0.

The last row is the totals, marked `kind=total` (index empty, name "total"): params, weights,
biases, buffers, MACs, activations, memory_bytes and saved_bytes as the report's totals (weights
and biases as the sums of the rows), every other cell empty. A reader that sums the rows drops it
(`df[df.kind != "total"]`). `records()` gives the same rows as flat dicts (`Report.records()`).
"""

from __future__ import annotations

import csv
import io
import re

COLUMNS = ("index", "name", "kind", "depth", "arm", "h", "w", "c", "params", "weights", "biases", "buffers",
           "macs", "activations", "memory_bytes", "rf_h", "rf_w", "rf_stride_h", "rf_stride_w",
           "rf_padding_h", "rf_padding_w", "fits", "problem", "formula", "line", "column", "saved_bytes",
           "fit", "note")  # new columns go at the end: scripts may read by position
TOTAL = "total"  # the kind (and name) of the totals row


def flatten(row: dict) -> dict:
    """One row of the contract as a flat dict keyed by COLUMNS: ints as ints, a metric not known
    for the row's kind as None, `fits` a bool."""
    rf = row["rf"]
    out = row["output"]
    size, stride, padding = (None, None), (None, None), (None, None)
    if rf is not None:
        size, stride, padding = rf["size"], rf["stride"], rf["padding"]
    return {
        "index": row["index"], "name": row["name"], "kind": row["kind"], "depth": row["depth"], "arm": row["arm"],
        "h": out["h"], "w": out["w"], "c": out["c"],
        "params": row["params"], "weights": row["weights"], "biases": row["biases"], "buffers": row["buffers"],
        "macs": row["macs"], "activations": row["activations"], "memory_bytes": row["memory_bytes"],
        "rf_h": size[0], "rf_w": size[1], "rf_stride_h": stride[0], "rf_stride_w": stride[1],
        "rf_padding_h": padding[0], "rf_padding_w": padding[1],
        "fits": row["fits"], "problem": row["problem"], "formula": row["formula"],
        "line": row["line"], "column": row["column"], "saved_bytes": row["saved_bytes"],
        "fit": row.get("fit", "ok"), "note": row.get("note"),
    }


def total_row(report: dict) -> dict:
    """The totals row, keyed by COLUMNS: the report's totals where it has them (weights and biases:
    the sums of the rows that know them), None in every other cell."""
    t = report["totals"]
    rows = report["layers"]
    total = dict.fromkeys(COLUMNS)
    total.update(name=TOTAL, kind=TOTAL, params=t["params"],
                 weights=sum(r["weights"] for r in rows if r["weights"] is not None),
                 biases=sum(r["biases"] for r in rows if r["biases"] is not None),
                 buffers=t["buffers"], macs=t["macs"], activations=t["activations"],
                 memory_bytes=t["memory"]["forward_bytes_per_image"], saved_bytes=t["memory"]["saved_bytes"])
    return total


def records(report: dict, total: bool = False) -> list[dict]:
    """The rows as flat dicts keyed by COLUMNS (what the CSV writes, with its types); `total` appends
    the totals row."""
    rows = [flatten(r) for r in report["layers"]]
    return rows + [total_row(report)] if total else rows


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")


def text_cell(value):
    """A text cell no spreadsheet runs as a formula (OWASP's CSV injection advice): text that starts
    with = + - @ or a tab or carriage return gets a leading apostrophe, unless it is a plain number
    such as -2; numbers are left alone."""
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def _cell(value):
    """A record's value as the CSV writes it: true/false, an empty cell for None, text never a formula."""
    return str(value).lower() if isinstance(value, bool) else text_cell(value)


def render_csv(report) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for record in records(report, total=True):
        writer.writerow([_cell(record[key]) for key in COLUMNS])
    return out.getvalue()
