"""Build a design in PyTorch from its exported source and check every number against cnncalc's."""

from __future__ import annotations

import re
import sys
import warnings

from pydantic import BaseModel

from ..errors import CnnCalcError, SettingsError
from ..planner import analyze, design_graph
from ..report import Report
from ..settings import Settings, settings_of
from . import DEVICES
from .export import export_source, returns_vector
from .memory import is_merge, row_modules

MINIMUM = (2, 1)  # the `torch` extra's lower bound: export's source and verify run on it
MEMTRACKER = (2, 5)  # torch.distributed._tools.mem_tracker (MemTracker, with FakeTensorMode) first ships in 2.5
TESTED = "2.13.0"  # what the rules were measured on, and the README's test command installs


def install_command() -> str:
    """The command that installs the tested torch into the environment running cnncalc, whether
    cnncalc came from a checkout or from an install: torch is all the `torch` extra adds."""
    python = sys.executable or "python"
    if " " in python:
        python = f'"{python}"'
    return f"{python} -m pip install torch=={TESTED}"


INSTALL = install_command()
TOLERANCE = 0.01  # saved-for-backward bytes: measured within 1% of the prediction


class TorchMissing(CnnCalcError):
    """PyTorch is needed and not installed."""


class VerifiedRow(BaseModel):
    index: int
    name: str
    expected_shape: str  # HxWxC, cnncalc's
    actual_shape: str  # HxWxC, from PyTorch's forward pass
    expected_params: int
    actual_params: int
    ok: bool


class Verification(BaseModel):
    device: str
    batch: int
    rows: list[VerifiedRow]
    params_expected: int
    params_actual: int
    # what Net returns: N x classes logits when the design ends in a vector (FC, GAP, FLATTEN), else N x C x H x W
    output_expected: tuple[int, ...]
    output_actual: tuple[int, ...] | None = None  # None when PyTorch could not run the forward pass
    saved_expected: int | None = None  # bytes autograd keeps, cnncalc's model for this device
    saved_actual: int | None = None  # measured with saved_tensors_hooks (not on the meta device)
    # --memory: the peak of one training step, cnncalc's simulation (CPU rules) and PyTorch's MemTracker,
    # and what they are made of
    peak_expected: int | None = None
    peak_actual: int | None = None
    peak_breakdown_expected: dict[str, int] | None = None
    peak_breakdown_actual: dict[str, int] | None = None
    # --memory: the peak of an evaluation-mode forward pass under no_grad, cnncalc's and MemTracker's
    inference_peak_expected: int | None = None
    inference_peak_actual: int | None = None
    optimizer: str = "sgd"
    foreach: bool = False
    ok: bool
    notes: list[str]


def import_torch():
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. "Failed to initialize NumPy" on a torch without numpy
            import torch
    except ImportError:
        raise TorchMissing(f"this needs PyTorch {_dotted(MINIMUM)} or later ({TESTED} is tested), which is not "
                           f"installed: {INSTALL}") from None
    if torch_version(torch) < MINIMUM:
        raise TorchMissing(f"this needs PyTorch {_dotted(MINIMUM)} or later ({TESTED} is tested), and this is torch "
                           f"{torch.__version__}: {INSTALL}")
    return torch


def torch_version(torch) -> tuple[int, int]:
    """(major, minor) of the installed torch: "2.13.0+cpu" is (2, 13)."""
    found = re.match(r"(\d+)\.(\d+)", str(torch.__version__))
    return (int(found[1]), int(found[2])) if found else (0, 0)


def _dotted(version: tuple[int, ...]) -> str:
    return ".".join(map(str, version))


def verify(text: str, *, defines=(), device: str = "meta", memory: bool = False, label: str = "",
           settings: Settings | None = None, **options) -> Verification:
    """Build the design's exported Net, run it on `device` (meta, cpu or cuda: where PyTorch runs it), and
    compare every row's shape and parameters, and (off the meta device) the bytes autograd saves, with
    cnncalc's numbers; with `memory`, also the peak of one training step as PyTorch's MemTracker measures
    it on the CPU, beside cnncalc's simulation with the CPU rules. The settings (a cnncalc.Settings and/or
    its options) it reads: input, optional, max_layers, batch, and for the measured step optimizer,
    foreach (the CPU's default: a for-loop), amp, freeze and checkpoint."""
    torch = import_torch()
    settings = _checked(torch, device, memory, settings, options)
    batch = settings.batch
    graph = design_graph(text, defines=defines, label=label, settings=settings)
    report = Report.model_validate(analyze(graph, settings.but(memory_rules="cpu" if device == "cpu" else "cuda",
                                                               amp=None, freeze=None, checkpoint=())).data)
    net, namespace = _build(torch, graph, report, device)
    heads = report.totals.heads  # with side heads, the network's own output is the first's
    last = heads[0].output if heads else report.layers[-1].output
    vector = returns_vector(graph)
    output_expected = (batch, last.c) if vector else (batch, last.c, last.h, last.w)
    modules = row_modules(net.layers)
    problems: list[str] = []  # disagreements: the check fails
    notes: list[str] = []
    if len(modules) != len(report.layers) - 1:
        problems.append(f"PyTorch has {len(modules)} modules for cnncalc's {len(report.layers) - 1} layers")
    inp = report.input
    x = _input(torch, (batch, inp.c, inp.h, inp.w), device)
    shapes, output_actual = _run_shapes(torch, net, modules, x, device, problems)
    rows = _rows(report, modules, shapes, batch)
    problems += [f"row {r.index} {r.name}: cnncalc {r.expected_shape}, {r.expected_params:,} params; "
                 f"PyTorch {r.actual_shape}, {r.actual_params:,} params" for r in rows if not r.ok]
    actual_params = sum(p.numel() for p in net.parameters())
    if actual_params != report.totals.params:
        problems.append(f"total params: cnncalc {report.totals.params:,}, PyTorch {actual_params:,}")
    if tuple(namespace["OUTPUT_SHAPE"]) != output_expected[1:]:
        problems.append(f"OUTPUT_SHAPE: cnncalc {output_expected[1:]}, the exported source {namespace['OUTPUT_SHAPE']}")
    if output_actual is not None and output_actual != output_expected:
        problems.append(f"the network's output: cnncalc {_dims(output_expected)}, PyTorch {_dims(output_actual)}")
    result = Verification(device=device, batch=batch, rows=rows, params_expected=report.totals.params,
                          params_actual=actual_params, output_expected=output_expected, output_actual=output_actual,
                          ok=False, notes=notes)
    _compare_saved(torch, net, x, report, result, problems, notes)
    if memory:
        _compare_peaks(graph, result, settings.but(memory_rules="cpu"), problems, notes)
    if vector and output_actual == output_expected:
        notes.append(f"the network returns {_dims(output_actual)}, N x classes logits (the design ends in a vector): "
                     f"cross_entropy takes them with N class indices")
    result.notes = problems + notes
    result.ok = not problems
    return result


def _checked(torch, device: str, memory: bool, settings: Settings | None, options: dict) -> Settings:
    """The settings, once the device and they suit a check."""
    if device not in DEVICES:
        raise CnnCalcError(f"unknown device '{device}' (meta, cpu or cuda)")
    if device == "cuda" and not torch.cuda.is_available():
        raise CnnCalcError("--device cuda: no CUDA device is available to PyTorch here")
    settings = settings_of(settings, options)
    if settings.budget is not None or settings.max_input:
        raise SettingsError("verify() measures one training step: it takes no budget (use cnncalc.plan)")
    if not memory and (settings.amp is not None or settings.freeze is not None or settings.checkpoint):
        raise SettingsError("--amp, --freeze and --checkpoint change the measured training step: they need --memory")
    return settings


def _build(torch, graph, report: Report, device: str):
    """The exported Net, made on the device, and the namespace of its source."""
    namespace: dict = {}
    exec(compile(export_source(graph), "<cnncalc export>", "exec"), namespace)  # our own generated source
    try:
        with torch.device(device):
            return namespace["Net"](), namespace
    except (RuntimeError, MemoryError, ValueError, OverflowError) as e:  # e.g. DefaultCPUAllocator
        raise CnnCalcError(f"PyTorch cannot create the network's {report.totals.params:,} parameters on {device} "
                           f"({_size(report.totals.params * 4)} in float32): {_torch_message(e)}") from None


def _run_shapes(torch, net, modules: list, x, device: str, problems: list[str]) -> tuple[list, tuple | None]:
    """Every module's output shape and the network's, from a forward pass in evaluation mode (which every
    design allows); a pass PyTorch refuses is a disagreement, reported, not a crash."""
    shapes: list = [None] * len(modules)
    for m in modules:
        if type(m).__name__ == "Side":
            m.always = True  # a side head runs in training only: here too, for its shapes
    handles = [m.register_forward_hook(lambda m_, _i, out, i=i: shapes.__setitem__(i, _shape_of(m_, out)))
               for i, m in enumerate(modules)]
    try:
        with torch.no_grad():
            return shapes, tuple(net.eval()(x).shape)
    except Exception as e:
        if _out_of_memory(torch, e):
            raise CnnCalcError(f"not enough memory on {device} for the forward pass of a batch of {x.shape[0]}: "
                               f"{_torch_message(e)}; --device meta checks shapes and params at any size") from None
        problems.append(f"PyTorch could not run the design: {type(e).__name__}: {_first_line(e)}")
        return shapes, None
    finally:
        for h in handles:
            h.remove()


def _shape_of(module, out) -> tuple:
    """A row's output shape: a side head's output; a dense unit's features (a list, DenseUnit) concatenated."""
    if type(module).__name__ == "Side":
        out = module.out
    if isinstance(out, list):
        first = out[0].shape
        return (first[0], sum(t.shape[1] for t in out), *first[2:])
    return tuple(out.shape)


def _rows(report: Report, modules: list, shapes: list, batch: int) -> list[VerifiedRow]:
    """Each row's shape and params, cnncalc's beside PyTorch's."""
    inp = report.input
    rows = [VerifiedRow(index=0, name=report.layers[0].name, expected_shape=str(report.layers[0].output),
                        actual_shape=_volume((batch, inp.c, inp.h, inp.w)), expected_params=0, actual_params=0,
                        ok=True)]
    for row, module, shape in zip(report.layers[1:], modules, shapes):
        count = sum(p.numel() for p in module.parameters(recurse=not is_merge(module)))
        actual = _volume(shape)
        rows.append(VerifiedRow(index=row.index, name=row.name, expected_shape=str(row.output), actual_shape=actual,
                                expected_params=row.params, actual_params=count,
                                ok=actual == str(row.output) and count == row.params))
    return rows


def _compare_saved(torch, net, x, report: Report, result: Verification, problems: list[str],
                   notes: list[str]) -> None:
    """The bytes autograd saves in a training-mode forward, measured off the meta device."""
    if result.device == "meta":
        notes.append("saved-for-backward bytes are measured on --device cpu or cuda (meta tensors have no storage)")
        return
    measured = _saved_in_training(torch, net, x, notes)
    if measured is None:
        return
    result.saved_expected = report.totals.memory.saved_bytes
    result.saved_actual = measured
    if abs(measured - result.saved_expected) > TOLERANCE * max(measured, 1):
        problems.append(f"saved for backward: cnncalc {result.saved_expected:,} B, PyTorch {measured:,} B")


PEAK_TOLERANCE = 0.03  # the simulated peak: within 3% of MemTracker's, and never more than 1% below it


def _compare_peaks(graph, result: Verification, settings: Settings, problems: list[str], notes: list[str]) -> None:
    """The simulated peak of a training step (the CPU's rules) against MemTracker's, on the CPU under
    FakeTensorMode."""
    import torch

    try:
        import torch.distributed._tools.mem_tracker  # noqa: F401
    except ImportError:
        why = (f"in torch {_dotted(MEMTRACKER)} and later; this is torch {torch.__version__}"
               if torch_version(torch) < MEMTRACKER else f"missing from this build of torch {torch.__version__}")
        raise CnnCalcError(f"--memory needs PyTorch's MemTracker (torch.distributed._tools.mem_tracker, {why}; "
                           f"{TESTED} is tested): {INSTALL}") from None
    from .memory import measure_step

    report = Report.model_validate(analyze(graph, settings).data)
    m = report.totals.memory
    optimizer, foreach, amp = settings.optimizer, settings.uses_foreach, settings.amp
    result.optimizer, result.foreach = optimizer, foreach
    _compare_inference(graph, result, m.inference_peak_bytes, settings, problems, notes)
    if m.training_peak_bytes is None:
        notes.append("no simulated peak: a layer kind has no training rule yet (see totals.partial)")
        return
    try:
        measured = measure_step(export_source(graph), batch=settings.batch, optimizer=optimizer, foreach=foreach,
                                amp=amp,
                                freeze=report.freeze, checkpoint=tuple(tuple(s) for s in report.checkpoint))
    except Exception as e:  # e.g. training-mode BN on one value per channel
        notes.append(f"no training-step measurement: {type(e).__name__}: {_first_line(e)}")
        return
    result.peak_expected, result.peak_actual = m.training_peak_bytes, measured.peak_bytes
    result.peak_breakdown_expected = m.peak.breakdown.model_dump()
    result.peak_breakdown_actual = measured.breakdown
    low, high = measured.peak_bytes * (1 - 0.01), measured.peak_bytes * (1 + PEAK_TOLERANCE)
    if not low <= m.training_peak_bytes <= high:
        problems.append(f"training-step peak: cnncalc {m.training_peak_bytes:,} B, "
                        f"MemTracker {measured.peak_bytes:,} B")
    notes.append("the peak is measured on the CPU (FakeTensorMode: nothing is computed) and simulated with the CPU "
                 "rules; CUDA adds the allocator's rounding and reserve, its context and workspaces")
    if amp is not None:
        notes.append(f"under autocast ({amp}) FakeTensorMode keeps BN's statistics in {amp}, a real run and cnncalc "
                     f"in float32: the measurement is lower by 4 bytes a channel of each BN alive at the peak")


def _compare_inference(graph, result: Verification, expected: int | None, settings: Settings, problems: list[str],
                       notes: list[str]) -> None:
    """The simulated inference peak (evaluation mode, no_grad) against MemTracker's, within the training
    peak's band."""
    from .memory import measure_inference

    if expected is None:
        notes.append("no simulated inference peak: a layer kind has no inference rule yet (see totals.partial)")
        return
    try:
        measured = measure_inference(export_source(graph), batch=settings.batch, amp=settings.amp)
    except Exception as e:
        notes.append(f"no inference measurement: {type(e).__name__}: {_first_line(e)}")
        return
    result.inference_peak_expected, result.inference_peak_actual = expected, measured
    if not measured * (1 - 0.01) <= expected <= measured * (1 + PEAK_TOLERANCE):
        problems.append(f"inference peak: cnncalc {expected:,} B, MemTracker {measured:,} B")


def _saved_in_training(torch, net, x, notes: list[str]) -> int | None:
    """Bytes autograd saves in a training-mode forward (each storage once, parameters and buffers
    left out)."""
    owned = {t.untyped_storage().data_ptr() for t in [*net.parameters(), *net.buffers()]}
    saved: dict[int, int] = {}

    def pack(t):
        ptr = t.untyped_storage().data_ptr()
        if ptr not in owned:
            saved[ptr] = t.untyped_storage().nbytes()
        # a detached alias: a node's own output packed as itself is a reference cycle through the graph that
        # Python's collector cannot see, and the network would leak with it
        return t.detach()

    try:
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            net.train()(x)
    except Exception as e:  # e.g. training-mode BN on one value per channel
        notes.append(f"no training-mode measurement: {type(e).__name__}: {_first_line(e)}")
        return None
    return sum(saved.values())


def _input(torch, shape: tuple[int, int, int, int], device: str):
    """The zero input N x C x H x W; an allocation PyTorch refuses is an error naming its size."""
    count = shape[0] * shape[1] * shape[2] * shape[3]
    try:
        return torch.zeros(*shape, device=device)
    except (RuntimeError, MemoryError, ValueError, OverflowError) as e:  # RuntimeError: DefaultCPUAllocator
        raise CnnCalcError(f"PyTorch cannot create the input on {device}: {'x'.join(map(str, shape))} "
                           f"(N x C x H x W) = {count:,} float32 values, {_size(4 * count)}: {_torch_message(e)}"
                           f"{'; --device meta allocates nothing' if device != 'meta' else ''}") from None


def _out_of_memory(torch, e: BaseException) -> bool:
    """An allocation failure (not a disagreement): MemoryError, torch.OutOfMemoryError (CUDA), or
    the CPU allocator's RuntimeError."""
    oom = getattr(torch, "OutOfMemoryError", None)
    return (isinstance(e, MemoryError) or (oom is not None and isinstance(e, oom))
            or (isinstance(e, RuntimeError) and ("can't allocate memory" in str(e) or "out of memory" in str(e))))


def _size(n: int) -> str:
    """Bytes with a binary unit: 120,000,000,000 B (112 GiB)."""
    value, unit = float(n), "B"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"):
        if value < 1024 or unit == "EiB":
            break
        value /= 1024
    return f"{n:,} B" if unit == "B" else f"{n:,} B ({value:.3g} {unit})"


def _volume(shape) -> str:
    """A PyTorch N x C x H x W shape as cnncalc's HxWxC."""
    if shape is None:
        return "not run"
    return f"{shape[2]}x{shape[3]}x{shape[1]}" if len(shape) == 4 else "x".join(map(str, shape[1:]))


def _dims(shape) -> str:
    """A PyTorch shape as written in the docs: 2 x 10."""
    return " x ".join(map(str, shape))


def _torch_message(e: BaseException) -> str:
    """The first line of a PyTorch error without its C++ source location ("[enforce fail at …] err == 0.")."""
    return re.sub(r"^\[enforce fail at [^\]]*\]\s*(err == 0\.\s*)?", "", _first_line(e)) or type(e).__name__


def _first_line(e: Exception) -> str:
    return (str(e).strip().splitlines() or [""])[0]
