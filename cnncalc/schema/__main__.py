"""Rewrite the shipped JSON Schemas from the models: `python -m cnncalc.schema` (a test fails when stale)."""

from . import _FILES, path
from .generate import text

for name in _FILES:
    path(name).write_text(text(name), encoding="utf-8")
    print(f"wrote {path(name)}")
