"""A design as the library and the command line are given it, made into its text: a built-in design's
name, a path to a design file, or the text itself; and `-D` definitions, as texts or a dict."""

from __future__ import annotations

import os
from pathlib import Path

from . import zoo
from .errors import CnnCalcError, SettingsError


def design_text(design, label: str | None = None) -> tuple[str, str]:
    """The design's text and its label. A Path (any os.PathLike) is read as UTF-8 (labelled with its
    path unless `label` is given); a string by the command line's rules (design_path): exactly a built-in
    name is the built-in (unlabelled), the name of an existing file is that file, one that looks like a
    path (ends in .cnn, or has a path separator and does not read as a design) is an error naming it;
    any other string is a design text."""
    if isinstance(design, os.PathLike):
        path = os.fspath(design)
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        return zoo.read_file(Path(path), path), path if label is None else label
    if isinstance(design, str):
        path = design_path(design)
        if path is not None:
            builtin = zoo.path(design) is not None
            return zoo.read_file(path, design), label or ("" if builtin else design)
    return design, label or ""


PATH_SEPARATORS = frozenset(filter(None, ("/", os.sep, os.altsep)))


def design_path(design: str) -> Path | None:
    """The file a design argument names (the library's string or the command line's DESIGN), or None for a
    design text: a built-in name, then an existing file; looks like a path (one line without an arrow that
    ends in .cnn, or has a path separator and does not read as a design: "CONV3-16/2" stays a design): a
    missing file, an error."""
    one_line = "\n" not in design and "\r" not in design and len(design) < 4096
    if not one_line:
        return None
    path = zoo.path(design)
    if path is None and design.strip() and _exists(design):
        path = Path(design)
    if path is None and "->" not in design and "\u2192" not in design:
        if design.endswith(".cnn"):
            raise SettingsError(f"no such design file: {design}")
        if PATH_SEPARATORS.intersection(design):
            from .dsl.parser import parse

            try:
                parse(design)
            except CnnCalcError as e:
                raise SettingsError(f"no such design file: {design}; read as a design instead: {e}") from None
    return path


def _exists(name: str) -> bool:
    try:
        return os.path.exists(name)
    except (OSError, ValueError):  # a name too long, an embedded NUL
        return False


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
