"""PyTorch proof of cnncalc's numbers: `export_source` (needs no torch) and `verify` (needs torch).

`import cnncalc` never imports this package; only `cnncalc verify` and `cnncalc export` do,
and only `verify` imports torch.
"""

DEVICES = ("meta", "cpu", "cuda")  # where `verify` runs the network
TARGETS = ("pytorch",)  # what `export --to` writes
