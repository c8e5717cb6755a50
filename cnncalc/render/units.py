"""Number formatting shared by the renderers: binary units, thousands, short counts, volumes."""

from __future__ import annotations

_BINARY = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def binary(n: int) -> str:
    """Bytes in binary units: 1536 -> '1.5 KiB'."""
    value = float(n)
    for unit in _BINARY:
        if abs(value) < 1024 or unit == _BINARY[-1]:
            if unit == "B":
                return f"{n} B"
            return f"{value:.1f} {unit}" if value < 100 else f"{value:.0f} {unit}"
        value /= 1024
    raise AssertionError


def short(n: int) -> str:
    """A count in decimal SI prefixes, as the notes write them: 3211264 -> '3.2M'."""
    for factor, prefix in ((10**12, "T"), (10**9, "G"), (10**6, "M"), (10**3, "K")):
        if abs(n) >= factor:
            value = n / factor
            return f"{value:.1f}{prefix}" if value < 100 else f"{value:.0f}{prefix}"
    return str(n)


def cell_bytes(n: int | None) -> str:
    """Bytes in a table cell: '0' rather than '0 B'; '?' where the metric is not known."""
    return "?" if n is None else binary(n) if n else "0"


def volume(v: dict) -> str:
    return f"{v['h']}x{v['w']}x{v['c']}"


def rf_text(rf: dict | None) -> str:
    if rf is None:
        return "n/a"
    (rh, rw), (jh, jw), (ph, pw) = rf["size"], rf["stride"], rf["padding"]
    if (rh, jh, ph) == (rw, jw, pw):
        return f"{rh}/{jh}/{ph}"
    return f"{rh}x{rw}/{jh}x{jw}/{ph}x{pw}"


def label(row: dict) -> str:
    """The row's layer name, indented by branch depth."""
    return "  " * row["depth"] + row["name"]
