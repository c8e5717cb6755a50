"""The registry: every kind answers every rule and trait (nothing defaults silently), its words and
settings are declared once, and the families' tables together cover every kind for every rule."""

from __future__ import annotations

import importlib

import pytest

import cnncalc
from cnncalc import kinds
from cnncalc.expand import READERS
from cnncalc.kinds import KINDS, LAYERS, MERGES, UNSUPPORTED, Sliding

FAMILIES = ("conv", "pool", "dense", "norm", "activation", "dropout", "reshape", "merges")
TABLES = {"OUTPUT": KINDS, "PARAMS": KINDS, "MACS": KINDS, "STORED": KINDS, "SAVED": KINDS, "RECEPTIVE": LAYERS,
          "AXIS": LAYERS}


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_kind_answers_every_rule_and_trait(kind):
    assert kinds.unanswered(KINDS[kind]) == []


def test_a_kind_that_leaves_a_rule_open_is_found(monkeypatch):
    """Delete a rule from a family, as a new kind might forget it: the registry names it."""
    monkeypatch.delattr(kinds.pool.Pooling, "transient")
    monkeypatch.delattr(kinds.pool.Pooling, "keeps_layout")
    assert kinds.unanswered(kinds.Pool) == ["transient", "keeps_layout"]


@pytest.mark.parametrize("kind", list(LAYERS))
def test_a_kind_that_slides_a_window_says_how_far_a_fix_may_pad(kind):
    it = __import__("snippets").item({"conv": "CONV3-4", "pool": "POOL2", "dwconv": "DWCONV3", "local": "LOCAL3-4"}
                                     .get(kind, "ID"))
    windows = it.apply(__import__("snippets").X)[1] if kind in ("conv", "pool", "dwconv", "local") else None
    if windows is not None:
        assert isinstance(it, Sliding) and it.pad_limit(windows[0]) >= 0


def test_every_kind_is_declared_once_with_unique_words_and_keys():
    words = [w for cls in LAYERS.values() for w in cls.words]
    assert len(words) == len(set(words))
    assert len({cls.operator for cls in MERGES.values()}) == len(MERGES)
    for cls in LAYERS.values():
        spellings = [s for setting in cls.settings for s in setting.spellings]
        assert len(spellings) == len(set(spellings)), cls.kind
        assert cls.positional is None or cls.positional in [s.key for s in cls.settings]
        assert cls.attached is None or cls.attached in [s.key for s in cls.settings]
        assert all(s.read in READERS for s in cls.settings if cls.kind != "input"), cls.kind


@pytest.mark.parametrize("table, kinds_", TABLES.items(), ids=list(TABLES))
def test_the_families_tables_cover_every_kind(table, kinds_):
    covered = set()
    for family in FAMILIES:
        module = importlib.import_module(f"test_{family}")
        covered |= {case[0] for case in getattr(module, table, ())}
    assert covered == set(kinds_), "a kind without a row in this table"


# -- a metric not known for a kind is null, listed, and makes the totals partial --------------------
def test_an_unsupported_metric_is_null_listed_and_partial(monkeypatch):
    for rule in ("macs", "params", "receptive"):
        monkeypatch.setattr(kinds.Local, rule, UNSUPPORTED)
    report = cnncalc.plan("INPUT 8x8x4 -> CONV3-4 -> LOCAL3-6p0 -> FC-2")
    conv, local, fc = report.layers[1:]
    assert local.macs is None and local.params is None and local.weights is None and local.rf is None
    assert local.unsupported == ["params", "macs", "rf"]
    assert conv.unsupported == [] and fc.rf is None  # the field stays unknown downstream
    assert report.totals.partial == ["macs", "params", "rf", "training_peak"]
    assert report.totals.macs == conv.macs + fc.macs  # the unknown row is left out, not counted as 0
    assert report.totals.params == conv.params + fc.params
    from cnncalc.render import render

    table = render(report, "table")
    assert "partial" in table and "LOCAL3-6p0" in table
    local_line = next(line for line in table.splitlines() if "LOCAL3-6p0" in line)
    assert local_line.split()[-5:-2] == ["?", "?", "?"]  # params, MACs, RF
    assert ",,," in render(report, "csv").splitlines()[3]  # LOCAL's row: empty cells, never 0


def test_a_simulator_rule_left_unsupported_leaves_the_peak_out_and_says_so(monkeypatch):
    """The simulation's rules are checked as the metrics' are: a kind whose backward is not known leaves
    the training peak null and named, never a crash (before: a KeyError, `internal error`)."""
    monkeypatch.setattr(kinds.Pool, "backward", UNSUPPORTED)
    report = cnncalc.plan("INPUT 8x8x4 -> CONV3-4 -> POOL2 -> FC-2")
    assert report.totals.memory.training_peak_bytes is None and "training_peak" in report.totals.partial
