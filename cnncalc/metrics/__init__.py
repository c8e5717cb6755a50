"""One metric per module, each a table with an arm for every row kind (`layers.ROW_KINDS`).

An arm is a function, or UNSUPPORTED where the metric is not known for that
kind: the report then shows `null` for it on that row, lists it in the row's
`unsupported`, and names it in `totals.partial`. Never a 0 that means
"unknown". tests/test_metrics.py asserts that every table covers every kind.
"""

from __future__ import annotations


class _Unsupported:
    def __repr__(self) -> str:
        return "UNSUPPORTED"

    def __call__(self, *args, **kwargs):
        raise TypeError("an UNSUPPORTED metric arm is a marker, not a rule to call")


UNSUPPORTED = _Unsupported()

# The metrics that may be unsupported for a kind, by the names `unsupported` and `totals.partial` use.
METRICS = ("params", "macs", "memory", "saved", "rf")
