"""The built-in example designs (`examples/*.cnn`), usable by name: `cnncalc plan vgg16`."""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent
# installed wheels carry the designs inside the package; a source checkout has them at the top
_FOLDERS = (_HERE / "examples", _HERE.parent / "examples")


def folder() -> Path | None:
    for f in _FOLDERS:
        if f.is_dir() and any(f.glob("*.cnn")):
            return f
    return None


def names() -> list[str]:
    f = folder()
    return sorted(p.stem for p in f.glob("*.cnn")) if f else []


def path(name: str) -> Path | None:
    """The file of a built-in design, or None. Names are case-insensitive."""
    f = folder()
    if f is None or not name or not name.replace("_", "").replace("-", "").isalnum():
        return None
    candidate = f / f"{name.lower()}.cnn"
    return candidate if candidate.is_file() else None
