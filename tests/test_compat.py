"""No user's design breaks: every design an earlier release planned plans again with the same figures.

tests/compat/corpus.json holds every examples/*.cnn file and every design written in README.md
(a command's or a library call's quoted design) of every earlier release, with the params, MACs,
last row's output (h, w, c) and fit status (no misfit in `problems`) that release planned. Each
entry is planned here with the current code, from its text, at the default settings, and must give
the same four figures; where a change is deliberate, the CHANGELOG says why and the entry stays as it
was recorded (the corpus is a record of what releases did, never edited to make a test pass).

Regenerate it (after a release, with the new version's designs) by hand:

    python tests/compat/build_corpus.py

which checks each earlier release out in a temporary git worktree and plans its designs with that
release's own code (see that script's docstring).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

import cnncalc

CORPUS = Path(__file__).parent / "compat" / "corpus.json"
ENTRIES = json.loads(CORPUS.read_text())

# the deliberate changes the CHANGELOG explains, each as the setting that gives the old figure back:
# 0.3.0 made a window that drops only padding a note, not a misfit (`--fit-rule notes` restores 0.1.0's rule)
FIT_RULE_THEN = {"0.1.0": "notes"}


def _ids(entries: list[dict]) -> list[str]:
    """0.3.0-examples/vgg16.cnn; README designs of one release numbered in the corpus's order."""
    names = [f"{e['version']}-{e['source']}" for e in entries]
    total, seen = Counter(names), Counter()
    ids = []
    for name in names:
        seen[name] += 1
        ids.append(f"{name}#{seen[name]}" if total[name] > 1 else name)
    return ids


def test_corpus_is_not_empty():
    assert ENTRIES, f"{CORPUS} holds no design: run tests/compat/build_corpus.py"


@pytest.mark.parametrize("entry", ENTRIES, ids=_ids(ENTRIES))
def test_design_plans_as_it_did(entry):
    report = cnncalc.plan(entry["design"])
    last = report.layers[-1].output
    now = {
        "params": report.totals.params,
        "macs": report.totals.macs,
        "output": [last.h, last.w, last.c],
        "fits": not report.problems,
    }
    rule = FIT_RULE_THEN.get(entry["version"])
    if rule is not None:  # fit status by the rule of then (the CHANGELOG's reason); the numbers as they are
        now["fits"] = not cnncalc.plan(entry["design"], fit_rule=rule).problems
    then = {key: entry[key] for key in now}
    assert now == then, f"{entry['version']} {entry['source']} planned {then}; now {now}"
