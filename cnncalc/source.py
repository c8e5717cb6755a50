"""A design as the library and the command line are given it, made into its text: a built-in design's
name, a path to a design file, or the text itself; and `-D` definitions, as texts or a dict."""

from __future__ import annotations

import os
from pathlib import Path

from . import zoo
from .errors import SettingsError


def design_text(design, label: str | None = None) -> tuple[str, str]:
    """The design's text and its label. A Path (any os.PathLike) is read as UTF-8 (labelled with its
    path unless `label` is given); a string that is exactly a built-in name is the built-in (unlabelled,
    as on the command line); any other string is a design text."""
    if isinstance(design, os.PathLike):
        path = os.fspath(design)
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        return zoo.read_file(Path(path), path), path if label is None else label
    if isinstance(design, str) and "\n" not in design and len(design) < 256:
        builtin = zoo.path(design)
        if builtin is not None:
            return builtin.read_text(encoding="utf-8"), label or ""
    return design, label or ""


def define_texts(defines) -> list[str] | tuple[str, ...]:
    """NAME=VALUE texts from a dict ({"N": 2, "conv.bias": False}), a list of texts or one text."""
    if isinstance(defines, str):
        return [defines]
    if not hasattr(defines, "items"):
        return defines
    texts = []
    for name, value in defines.items():
        if not isinstance(name, str):
            raise SettingsError(f"a define's name is a text such as 'N' or 'conv.filters', got {name!r}")
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, (tuple, list)):  # a size: (224, 224, 3)
            value = "x".join(map(str, value))
        texts.append(f"{name}={value}")
    return texts
