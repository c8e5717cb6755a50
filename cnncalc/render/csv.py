"""One CSV row per layer, raw numbers (bytes, elements), for spreadsheets and scripts.
An empty cell is a metric not known for the row's kind (null in JSON), never 0."""

from __future__ import annotations

import csv
import io

COLUMNS = ("index", "name", "kind", "depth", "arm", "h", "w", "c", "params", "weights", "biases", "buffers",
           "macs", "activations", "memory_bytes", "rf_h", "rf_w", "rf_stride_h", "rf_stride_w",
           "rf_padding_h", "rf_padding_w", "fits", "problem", "formula", "line", "column", "saved_bytes")


def render_csv(report) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for r in report["layers"]:
        rf = r["rf"]
        rf_cells = ("", "", "", "", "", "") if rf is None else (*rf["size"], *rf["stride"], *rf["padding"])
        out_ = r["output"]
        writer.writerow((r["index"], r["name"], r["kind"], r["depth"], r["arm"], out_["h"], out_["w"], out_["c"],
                         r["params"], r["weights"], r["biases"], r["buffers"], r["macs"], r["activations"],
                         r["memory_bytes"], *rf_cells, str(r["fits"]).lower(), r["problem"], r["formula"], r["line"],
                         r["column"], r["saved_bytes"]))
    return out.getvalue()
