"""PyTorch proof of cnncalc's numbers: `export_source` (needs no torch) and `verify` (needs torch).

`import cnncalc` never imports this package; only `cnncalc verify` and `cnncalc export` do,
and only `verify` imports torch: 2.1 or later (the `torch` extra), 2.5 or later for `verify --memory`
(MemTracker); the rules were measured on 2.13.0, the tested version.
"""

DEVICES = ("meta", "cpu", "cuda")  # where `verify` runs the network
TARGETS = ("pytorch",)  # what `export --to` writes
