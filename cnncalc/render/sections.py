"""The text sections after the layer table, shared by the table and markdown renderers:
totals (with the memory arithmetic) and the fit report."""

from __future__ import annotations

from ..errors import position as where
from .units import binary, short, volume


def totals_lines(report: dict) -> list[tuple[str, str]]:
    """(label, text) pairs of the totals, shared by the table and markdown renderers."""
    t = report["totals"]
    m = t["memory"]
    weights = sum(r["weights"] for r in report["layers"] if r["weights"] is not None)
    biases = sum(r["biases"] for r in report["layers"] if r["biases"] is not None)
    batch = report["batch"]
    optimizer = report["optimizer"]
    state = {"sgd": "no state", "momentum": "1 copy of the params", "adam": "2 copies of the params"}
    return _peak_lines(report) + [
        ("params", f"{t['params']:,} ({short(t['params'])}; weights {weights:,} + biases {biases:,}), "
                   f"{binary(m['params_bytes'])} as {report['dtype']}"
                   + (f"; {t['trainable_params']:,} trainable" if report.get("freeze") is not None else "")),
        ("buffers", f"{t['buffers']:,} (BN running mean and variance), {binary(m['buffers_bytes'])}"),
        ("MACs", f"{t['macs']:,} ({short(t['macs'])}) per image"),
        *_head_lines(t.get("heads")),
        ("FLOPs", f"{t['flops']:,} ({short(t['flops'])}) per image, counted as 2 x MACs"),
        ("forward memory", f"{binary(m['forward_bytes_per_image'])} per image ({t['activations']:,} activations), "
                           f"{binary(m['forward_bytes'])} for batch {batch}"),
        ("backward (x2)", f"+{binary(m['backward_bytes'])}: the notes' rule of thumb, as much again as forward"),
        ("saved (autograd)", f"{binary(m['saved_bytes'])} kept for the backward pass in training mode, batch {batch} "
                             f"(PyTorch's rules, each tensor once)"),
        (f"x2 rule ({optimizer})",
         f"{binary(m['training_bytes'])}, the notes' rule of thumb = params {binary(m['params_bytes'])} + buffers {binary(m['buffers_bytes'])} "
         f"+ gradients {binary(m['gradients_bytes'])} + optimizer {binary(m['optimizer_bytes'])} "
         f"({state[optimizer]}) + forward and backward {binary(m['forward_bytes'] + m['backward_bytes'])}"),
    ] + ([("partial", _partial(t["partial"]))] if t.get("partial") else [])


def _partial(partial: list[str]) -> str:
    """What the totals leave out: metrics some rows have no rule for (they show '?'), the peaks (a warning says
    which row and why)."""
    rows = [p for p in partial if p != "training_peak"]
    parts = [f"{', '.join(rows)}: not known for some layer kinds; their rows show '?'"] if rows else []
    if "training_peak" in partial:
        parts.append("training_peak: not known, the warning says which row and why")
    return "; ".join(parts) + "; these totals leave them out"


def _head_lines(heads: list[dict] | None) -> list[tuple[str, str]]:
    """With side heads: what each output takes (the totals above are the whole network's)."""
    if not heads:
        return []
    return [("output" if i == 0 else f"side head {i}",
             f"row {h['row']} ({volume(h['output'])}): {h['params']:,} params, {h['macs']:,} MACs"
             + (" (the network without its side heads)" if i == 0 else " (with the rows before it)"))
            for i, h in enumerate(heads)]


PHASES = {"forward": "in the forward pass", "loss": "computing the loss", "backward": "in the backward pass",
          "recompute": "recomputing a checkpointed segment in the backward pass", "optimizer": "in the optimizer step"}


def _peak_lines(report: dict) -> list[tuple[str, str]]:
    """The simulated peaks of a training step and of inference, with where and in what the first happens."""
    m = report["totals"]["memory"]
    batch = report["batch"]
    inference = [("inference peak", f"{binary(m['inference_peak_bytes'])} for a forward pass in evaluation mode at "
                                    f"batch {batch} (no_grad{', autocast ' + report['amp'] if report.get('amp') else ''})")
                 ] if m.get("inference_peak_bytes") is not None else []
    if m.get("training_peak_bytes") is None:
        return _budget_lines(report) + inference
    peak = m["peak"]
    where = PHASES.get(peak["phase"], peak["phase"])
    if peak["index"] is not None and peak["index"] < len(report["layers"]):
        where += f", at row {peak['index']} ({report['layers'][peak['index']]['name']})"
    parts = {"params": "params", "buffers": "buffers", "gradients": "gradients", "optimizer": "optimizer state",
             "saved": "saved for backward", "other": "other tensors"}
    breakdown = " + ".join(f"{label} {binary(peak['breakdown'][key])}" for key, label in parts.items()
                           if peak["breakdown"][key])
    impl = "foreach" if report.get("foreach") else "for-loop"
    micro = report.get("accumulate", 1)
    step = (f"the last of {micro} accumulated micro-batches of {batch}" if micro > 1 else
            f"one training step at batch {batch}")
    amp = f", autocast {report['amp']}" if report.get("amp") else ""
    if report.get("freeze") is not None:
        amp += f", rows 1-{report['freeze']} frozen"
    if report.get("checkpoint"):
        amp += ", rows " + ", ".join(f"{a}-{b}" for a, b in report["checkpoint"]) + " checkpointed"
    return _budget_lines(report) + [
        ("training peak", f"{binary(m['training_peak_bytes'])} for {step} "
                          f"({report['optimizer']}, {impl}, {report.get('device', 'cuda')} rules{amp}), {where}: "
                          f"{breakdown}"),
    ] + inference + _cuda_lines(m.get("cuda"))


def _cuda_lines(cuda: dict | None) -> list[tuple[str, str]]:
    if not cuda:
        return []
    held = f"context {binary(cuda['context_bytes'])} + workspaces {binary(cuda['workspace_bytes'])} (assumed)"
    return [("on the GPU", f"{binary(cuda['total_bytes'])} for training = reserved {binary(cuda['reserved_bytes'])} "
                           f"(the caching allocator's segments, a model) + {held}; inference "
                           f"{binary(cuda['inference_total_bytes'])}")]


def _budget_lines(report: dict) -> list[tuple[str, str]]:
    budget = report.get("budget")
    if not budget or budget["max_batch"] is None:
        return []
    size, what = binary(budget["bytes"]), "a training step" if budget["for"] == "training" else "inference"
    if budget["max_batch"] == 0:
        over = budget["batch_1_bytes"] - budget["bytes"]
        return [("budget", f"{size}: nothing fits; {what} at batch 1 needs {binary(budget['batch_1_bytes'])}, "
                           f"{binary(over)} over")]
    batch = "micro-batch" if report.get("accumulate", 1) > 1 and budget["for"] == "training" else "batch"
    held = " on the GPU (reserved + context + workspaces)" if report["totals"]["memory"].get("cuda") else ""
    lines = [("budget", f"{size}: the largest {batch} for {what}{held} is {budget['max_batch']:,} "
                        f"({batch} {budget['max_batch'] + 1:,} does not fit)")]
    x = budget.get("max_input")
    if x:  # asked for and found (none found: a warning says so)
        lines.append(("largest input", f"{x['h']}x{x['w']}x{x['c']} at batch {report['batch']}: every window fits "
                                       f"and {what} fits {size}"))
    return lines


def fit_lines(report: dict, notes_in_full: bool = True) -> list[str]:
    """The fit section: the misfits, the input that fits them all, and the notes (each in full, or folded
    into a line per kind with the rows they concern)."""
    notes = [f"{p['message']} ({where(p['line'], p['column'], p['source'])})" for p in report.get("notes", ())]
    if not notes_in_full:
        notes = folded_notes(report.get("notes", ()))
    if report["fits"]:
        if notes:
            return ["no misfit: every layer sees all of its input; the notes below do not fit exactly, but drop only "
                    "padding or the rows a stride always skips", *notes]
        return ["every layer fits: each stride divides its padded input exactly"]
    lines = [f"{p['message']} ({where(p['line'], p['column'], p['source'])})" for p in report["problems"]]
    hint = input_fix_text(report)
    return lines + ([f"every layer fits with {hint}"] if hint else []) + notes


def input_fix_text(report: dict) -> str:
    """'an input of H 193 or 225, W 193 or 225 (now 224x224)', or '' when none was found."""
    fixes = report["input_fixes"]
    sizes = [f"{axis.upper()} {' or '.join(map(str, fixes[axis]))}" for axis in ("h", "w") if fixes.get(axis)]
    if not sizes:
        return ""
    return f"an input of {', '.join(sizes)} (now {report['input']['h']}x{report['input']['w']})"


NOTE_KINDS = (  # (what the notes of a kind have in common, the test on a note)
    ("drop only padding", lambda n: not n.get("dropped")),
    ("drop no more than their stride always skips", lambda n: bool(n.get("dropped"))))
FOLDED_NAMES = 6  # the rows a folded line names, then a count


def folded_notes(notes) -> list[str]:
    """A line per kind of note, naming its rows (the first FOLDED_NAMES): `--notes` shows each in full."""
    lines = []
    for what, test in NOTE_KINDS:
        mine = [n for n in notes if test(n)]
        if not mine:
            continue
        named = ", ".join(f"{n['name']} (row {n['index']})" for n in mine[:FOLDED_NAMES])
        more = f" and {len(mine) - FOLDED_NAMES} more" if len(mine) > FOLDED_NAMES else ""
        layers = "1 layer does" if len(mine) == 1 else f"{len(mine)} layers do"
        lines.append(f"{layers} not fit exactly but {what.replace('their', 'its') if len(mine) == 1 else what}: "
                     f"{named}{more} (--notes shows each)")
    return lines


def summary_lines(report: dict) -> list[tuple[str, str]]:
    """The headline of a plan (`plan --summary`), with torchinfo's closing block's figures: total, trainable
    and non-trainable params, total mult-adds, input size, forward/backward pass size, params size and
    their estimated total; then the training peak, the budget's answer and the fit."""
    t, m = report["totals"], report["totals"]["memory"]
    batch, size = report["batch"], m["dtype_bytes"]
    inp = report["input"]
    input_bytes = inp["h"] * inp["w"] * inp["c"] * size * batch
    trainable = t.get("trainable_params", t["params"])
    passes = m["forward_bytes"] + m["backward_bytes"]
    lines = [
        ("input", f"{volume(inp)} x batch {batch}: {binary(input_bytes)} as {report['dtype']}"),
        ("rows", f"{len(report['layers']):,}"),
        ("total params", f"{t['params']:,} ({short(t['params'])})"),
        ("trainable params", f"{trainable:,}"),
        ("non-trainable", f"{t['params'] - trainable:,} (frozen params); buffers {t['buffers']:,} (BN statistics)"),
        ("total mult-adds", f"{short(t['macs'] * batch)} for batch {batch} ({t['macs']:,} per image)"),
        ("params size", binary(m["params_bytes"] + m["buffers_bytes"])),
        ("pass sizes", f"{binary(passes)}: forward and backward (forward {binary(m['forward_bytes'])} x2, "
                       f"the notes' rule)"),
        ("estimated total", f"{binary(input_bytes + passes + m['params_bytes'] + m['buffers_bytes'])} "
                            f"(input + passes + params, as torchinfo sums them)"),
    ]
    fit = "every layer fits" if report["fits"] and not report["notes"] else \
        f"no misfit; {len(report['notes'])} notes (drop only padding or what a stride skips)" if report["fits"] else \
        f"{len(report['problems'])} misfits: `cnncalc check` shows each with its fixes"
    return lines + _peak_lines(report) + [("fit", fit)]  # the budget's answer first among the peaks


def answer_line(report: dict) -> str:
    """The memory answer in one line, for a page's headline: the training peak, the budget's batch, the
    inference peak ('' when none was simulated)."""
    m, batch = report["totals"]["memory"], report["batch"]
    parts = []
    if m.get("training_peak_bytes") is not None:
        parts.append(f"training peak {binary(m['training_peak_bytes'])} at batch {batch} ({report['optimizer']})")
    budget = report.get("budget")
    if budget and budget.get("max_batch") is not None:
        parts.append(f"budget {binary(budget['bytes'])}: "
                     + (f"batch {budget['max_batch']:,} fits" if budget["max_batch"] else "nothing fits"))
    if m.get("inference_peak_bytes") is not None:
        parts.append(f"inference peak {binary(m['inference_peak_bytes'])}")
    return " \u00b7 ".join(parts)
