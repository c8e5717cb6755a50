"""Number formatting shared by the renderers: binary units, thousands, short counts."""

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


def cell_bytes(n: int) -> str:
    """Bytes in a table cell: '0' rather than '0 B'."""
    return binary(n) if n else "0"


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


def totals_lines(report: dict) -> list[tuple[str, str]]:
    """(label, text) pairs of the totals, shared by the table and markdown renderers."""
    t = report["totals"]
    m = t["memory"]
    weights = sum(r["weights"] for r in report["layers"])
    biases = sum(r["biases"] for r in report["layers"])
    batch = report["batch"]
    optimizer = report["optimizer"]
    state = {"sgd": "no state", "momentum": "1 copy of the params", "adam": "2 copies of the params"}
    return [
        ("params", f"{t['params']:,} ({short(t['params'])}; weights {weights:,} + biases {biases:,}), "
                   f"{binary(m['params_bytes'])} as {report['dtype']}"),
        ("buffers", f"{t['buffers']:,} (BN running mean and variance), {binary(m['buffers_bytes'])}"),
        ("MACs", f"{t['macs']:,} ({short(t['macs'])}) per image"),
        ("FLOPs", f"{t['flops']:,} ({short(t['flops'])}) per image, counted as 2 x MACs"),
        ("forward memory", f"{binary(m['forward_bytes_per_image'])} per image ({t['activations']:,} activations), "
                           f"{binary(m['forward_bytes'])} for batch {batch}"),
        ("backward (x2)", f"+{binary(m['backward_bytes'])}: the notes' rule of thumb, as much again as forward"),
        ("saved (autograd)", f"{binary(m['saved_bytes'])} kept for the backward pass in training mode, batch {batch} "
                             f"(PyTorch's rules, each tensor once)"),
        (f"training ({optimizer})",
         f"{binary(m['training_bytes'])} = params {binary(m['params_bytes'])} + buffers {binary(m['buffers_bytes'])} "
         f"+ gradients {binary(m['gradients_bytes'])} + optimizer {binary(m['optimizer_bytes'])} "
         f"({state[optimizer]}) + forward and backward {binary(m['forward_bytes'] + m['backward_bytes'])}"),
    ]


def fit_lines(report: dict) -> list[str]:
    if report["fits"]:
        return ["every layer fits: each stride divides its padded input exactly"]
    lines = [f"{p['message']} (line {p['line']}, column {p['column']})" for p in report["problems"]]
    hint = input_fix_text(report)
    return lines + ([f"every layer fits with {hint}"] if hint else [])


def input_fix_text(report: dict) -> str:
    """'an input of H 193 or 225, W 193 or 225 (now 224x224)', or '' when none was found."""
    fixes = report["input_fixes"]
    sizes = [f"{axis.upper()} {' or '.join(map(str, fixes[axis]))}" for axis in ("h", "w") if fixes.get(axis)]
    if not sizes:
        return ""
    return f"an input of {', '.join(sizes)} (now {report['input']['h']}x{report['input']['w']})"
