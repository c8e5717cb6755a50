"""The built-in example designs (`examples/*.cnn`), usable by name: `cnncalc plan vgg16`.

Each file opens with comment lines: a title, then `# source: …` and `# published: …`.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from .errors import SettingsError

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


class Entry(NamedTuple):
    name: str
    title: str  # the first comment line
    source: str  # where the design and its numbers come from
    published: str  # the published numbers, as the header states them
    report: dict  # the design's report, as the JSON-contract dict (planner.plan_data)


def header(text: str) -> tuple[str, str, str]:
    """(title, source, published) from a design's leading comment lines."""
    comments = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        comments.append(line.lstrip("#").strip())
    title = comments[0] if comments else ""
    fields = {k: v.strip() for k, _, v in (c.partition(":") for c in comments[1:]) if k in ("source", "published")}
    return title, fields.get("source", ""), fields.get("published", "")


CATALOG_SETTINGS = {"batch": 32, "optimizer": "adam"}  # the training peak the catalogue quotes (CUDA rules)


def catalog() -> list[Entry]:
    """Every built-in design, planned (at CATALOG_SETTINGS)."""
    from .planner import plan_data

    entries = []
    for name in names():
        text = path(name).read_text(encoding="utf-8")
        entries.append(Entry(name, *header(text), report=plan_data(text, label=name, **CATALOG_SETTINGS)))
    return entries


def read_file(path: Path, design: str) -> str:
    """A design file's text, UTF-8; every failure a one-line error naming the file."""
    if path.is_dir():
        raise SettingsError(f"cannot read {design}: it is a directory, not a design file")
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SettingsError(f"no such design file: {design}") from None
    except UnicodeDecodeError as e:
        raise SettingsError(f"cannot read {design}: it is not UTF-8 text (byte {e.start + 1} is "
                            f"0x{e.object[e.start]:02x})") from None
    except OSError as e:
        raise SettingsError(f"cannot read {design}: {e.strerror or e}") from None
