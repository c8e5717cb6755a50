"""What a layer node of the syntax tree writes, read against its kind's declared settings (cnncalc.kinds):
the expander reads the values, dsl/names.py which `kind.attr` defaults a design leaves to be read."""

from __future__ import annotations

from ..errors import DesignError, did_you_mean
from ..kinds import FILTERS, WORDS, Layer
from . import ast


def written_settings(cls: type[Layer], node: ast.Layer) -> dict[str, ast.Value]:
    """The settings a layer node writes, by their declared keys: keyword and shorthand values
    under any of their spellings, then a positional value."""
    word = node.word
    settings = cls.settings_for(word)
    keys = {spelling: s for s in settings for spelling in s.spellings}
    given: dict[str, ast.Value] = {}
    for key, value in node.args.items():
        setting = keys.get(key)
        if setting is None:
            if key in FILTERS.spellings:
                raise DesignError(f"{word} takes no filter count", value.span)
            allowed = [s.key for s in settings]
            options = ", ".join(f"{k}=" for k in allowed) or "none"
            raise DesignError(f"{word} has no setting '{key}'{did_you_mean(key, allowed)} (its settings: {options})",
                              value.span)
        if setting.key in given:
            raise DesignError(f"{word}: '{setting.label}' is given twice", value.span)
        given[setting.key] = value
    positional = cls.positional if any(s.key == cls.positional for s in settings) else None
    for value in node.positional:
        if positional is None or positional in given:
            raise DesignError(f"{word} takes no positional setting here; write key=value", value.span)
        given[positional] = value
    return given


def numeric_settings(word: str) -> frozenset[str]:
    """The keys whose values may hold variables: those of the word's settings that take numbers. The
    others are words (true, max), or keys the word has no setting for, which the expansion reports
    as unknown (`UPSAMPLE(mode=bilinear)`: not 'bilinear' as an unbound variable)."""
    cls = WORDS.get(word)
    if cls is None:
        return frozenset()
    return frozenset(k for s in cls.settings_for(word) if not s.takes_words for k in s.spellings)
