"""cnncalc's numbers against PyTorch's: verify, export, and a differential property test.

Skipped, with the reason, when PyTorch is not installed (pip install torch==2.13.0, the tested
version; the `torch` extra takes 2.1 or later), and the tests of `verify --memory` where torch is
older than 2.5, which has no MemTracker.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch", reason="PyTorch is not installed: pip install torch==2.13.0")

from hypothesis import HealthCheck, assume, example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from conftest import run_cli  # noqa: E402

import cnncalc  # noqa: E402
from cnncalc import zoo  # noqa: E402
from cnncalc.pytorch import verify as verify_module  # noqa: E402
from cnncalc.pytorch.export import export_design  # noqa: E402
from cnncalc.pytorch.verify import verify  # noqa: E402

torch.set_num_threads(2)


def _has_memtracker() -> bool:
    try:
        from torch.distributed._tools import mem_tracker  # noqa: F401
    except ImportError:
        return False
    return True


needs_memtracker = pytest.mark.skipif(not _has_memtracker(), reason="verify --memory needs MemTracker: torch 2.5 "
                                      f"or later, this is {torch.__version__}")


@pytest.mark.parametrize("name", zoo.names())
def test_verify_every_example(name):
    text = zoo.path(name).read_text()
    meta = verify(text, device="meta")
    assert meta.ok, meta.notes
    assert meta.params_actual == meta.params_expected == cnncalc.plan(text).totals.params
    cpu = verify(text, device="cpu")
    assert cpu.ok, cpu.notes
    # the model follows the CPU's dropout rule here, and agrees to the byte (the goal was 1%)
    assert cpu.saved_actual == cpu.saved_expected


@pytest.mark.parametrize("name", ["lenet5", "resnet18", "googlenet", "mobilenet_v2", "squeezenet1_0"])
def test_exported_source_runs_with_torch_alone(name, tmp_path):
    (tmp_path / "model.py").write_text(export_design(zoo.path(name).read_text(), label=name))
    probe = textwrap.dedent("""
        import sys, warnings
        warnings.simplefilter("ignore")
        import torch, model
        net = model.Net()
        out = net(torch.zeros(2, *model.INPUT_SHAPE))
        assert "cnncalc" not in sys.modules
        print(sum(p.numel() for p in net.parameters()), tuple(out.shape[1:]) == model.OUTPUT_SHAPE)
    """)
    result = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    report = cnncalc.plan(zoo.path(name).read_text())
    assert result.stdout.split() == [str(report.totals.params), "True"]


def test_verify_catches_a_disagreement(monkeypatch):
    real = verify_module.export_source
    monkeypatch.setattr(verify_module, "export_source",
                        lambda graph: real(graph).replace("padding=(1, 1)", "padding=(0, 0)", 1))
    result = verify("INPUT 8x8x3 -> CONV3-4 -> RELU")
    assert not result.ok
    assert result.notes[0] == "row 1 CONV3-4: cnncalc 8x8x4, 112 params; PyTorch 6x6x4, 112 params"


def test_verify_notes_what_pytorch_refuses_in_training():
    result = verify("INPUT 4x4x3 -> FC-2 -> BN", device="cpu")
    assert result.ok  # the shapes agree; PyTorch only refuses to train BN on one value per channel
    assert result.saved_actual is None
    assert result.notes[0].startswith("no training-mode measurement: ValueError: Expected more than 1 value")


def test_cli_verify_and_export(tmp_path):
    ok = run_cli(*["verify", "INPUT 8x8x3 -> CONV3-4 -> FC-2", "--device", "cpu", "--batch", "2"])
    assert ok.exit_code == 0, ok.output
    assert "saved for backward: cnncalc" in ok.output and "agree:" in ok.output
    target = tmp_path / "net.py"
    assert run_cli(*["export", "lenet5", "--to", "pytorch", "-o", str(target)]).exit_code == 0
    assert "class Net(nn.Module)" in target.read_text()
    again = run_cli(*["export", "lenet5", "--to", "pytorch", "-o", str(target)])
    assert again.exit_code == 2 and "exists; pass --force" in again.output


@needs_memtracker
def test_cli_verify_memory():
    memory = run_cli(*["verify", "lenet5", "--memory", "--batch", "8", "--optimizer", "adam", "--foreach"])
    assert memory.exit_code == 0, memory.output
    assert "training-step peak (adam, foreach, batch 8): cnncalc" in memory.output and "+0.00%" in memory.output
    assert run_cli(*["verify", "lenet5", "--measure"]).exit_code == 0  # the old name of --memory


@needs_memtracker
def test_verify_memory_reports_a_disagreement(monkeypatch):
    from cnncalc.simulate import steps

    monkeypatch.setattr(steps, "BATCHES_TRACKED_BYTES", 8 + 10**6)  # a wrong rule: the check must notice
    result = verify("INPUT 8x8x3 -> CONV3-4 -> BN -> RELU -> FC-2", memory=True, batch=2)
    assert not result.ok and result.peak_expected > result.peak_actual
    assert result.inference_peak_expected > result.inference_peak_actual  # the rule counts in both
    assert [n.split(":")[0] for n in result.notes[:2]] == ["inference peak", "training-step peak"]


# -- the exported network's output: N x classes logits when the design ends in a vector --------------------------
@pytest.mark.parametrize("design, output", [
    ("INPUT 8x8x3 -> CONV3-4 -> FC-10", (10,)),
    ("INPUT 8x8x3 -> CONV3-4 -> FC-10 -> SOFTMAX", (10,)),  # probabilities, N x classes too
    ("INPUT 8x8x3 -> FC-6 -> BN -> RELU -> DROPOUT -> FC-5 -> ID", (5,)),
    ("INPUT 8x8x3 -> CONV3-4 -> GAP", (4,)),  # as torchvision's SqueezeNet ends
    ("INPUT 8x8x3 -> CONV3-4 -> GMP -> LRN", (4,)),
    ("INPUT 4x4x3 -> FLATTEN", (48,)),
    ("INPUT 8x8x3 -> CONV3-4", (4, 8, 8)),  # a spatial output stays N x C x H x W
    ("INPUT 1x1x3 -> CONV1-5", (5, 1, 1)),  # 1x1 by its input's size, not by construction: stays spatial
    ("INPUT 8x8x3 -> FC-4 -> (ID + FC-4)", (4, 1, 1)),  # a merge is no vector layer
    ("INPUT 8x8x3 -> FC-4 -> UPSAMPLE2", (4, 2, 2)),
    ("INPUT 8x8x3", (3, 8, 8)),
])
def test_the_output_is_logits_when_the_design_ends_in_a_vector(design, output):
    namespace: dict = {}
    exec(compile(export_design(design), "<cnncalc export>", "exec"), namespace)
    assert namespace["OUTPUT_SHAPE"] == output
    net = namespace["Net"]()
    assert tuple(net.eval()(torch.zeros(2, *namespace["INPUT_SHAPE"])).shape) == (2, *output)
    result = verify(design, batch=2)
    assert result.ok, result.notes
    assert result.output_expected == result.output_actual == (2, *output)
    assert (len(output) == 1) == any(n.startswith("the network returns 2 x ") for n in result.notes)


def test_an_exported_classifier_drops_into_a_training_loop():
    namespace: dict = {}
    exec(compile(export_design(zoo.path("lenet5").read_text()), "<cnncalc export>", "exec"), namespace)
    torch.manual_seed(0)
    net = namespace["Net"]().train()
    opt = torch.optim.SGD(net.parameters(), lr=0.05)
    x, y = torch.randn(16, *namespace["INPUT_SHAPE"]), torch.randint(10, (16,))  # 16 images, 16 class indices
    losses = []
    for _ in range(20):
        loss = torch.nn.functional.cross_entropy(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert net(x).shape == (16, 10) and losses[-1] < losses[0]


def test_verify_catches_an_output_that_is_not_logits(monkeypatch):
    real = verify_module.export_source
    monkeypatch.setattr(verify_module, "export_source",
                        lambda graph: real(graph).replace("torch.flatten(self.layers(x), 1)", "self.layers(x)"))
    result = verify("INPUT 8x8x3 -> CONV3-4 -> FC-10", batch=2)
    assert not result.ok and result.output_actual == (2, 10, 1, 1)
    assert result.notes[0] == "the network's output: cnncalc 2 x 10, PyTorch 2 x 10 x 1 x 1"


def test_an_old_torch_is_refused_with_the_version_it_needs(monkeypatch):
    monkeypatch.setattr(torch, "__version__", "2.0.1")
    with pytest.raises(verify_module.TorchMissing, match=r"this needs PyTorch 2\.1 or later \(2\.13\.0 is tested\), "
                                                         r"and this is torch 2\.0\.1: .* -m pip install torch==2\.13\.0"):
        verify("INPUT 8x8x3 -> CONV3-4")


def test_verify_memory_names_the_torch_it_needs(monkeypatch):
    monkeypatch.setattr(torch, "__version__", "2.4.1")
    monkeypatch.setitem(sys.modules, "torch.distributed._tools.mem_tracker", None)  # as torch 2.4 has none
    with pytest.raises(cnncalc.CnnCalcError, match=r"--memory needs PyTorch's MemTracker \(torch\.distributed\._tools"
                                                   r"\.mem_tracker, in torch 2\.5 and later; this is torch 2\.4\.1; "
                                                   r"2\.13\.0 is tested\): .* -m pip install torch==2\.13\.0"):
        verify("INPUT 8x8x3 -> CONV3-4 -> FC-2", memory=True)


# -- differential property test --------------------------------------------------------------------------------------
def _conv(k, s, p, d, f):
    return f"CONV{k}-{f}/{s}p{p}d{d}"


LAYERS = st.one_of(
    st.builds(_conv, st.integers(1, 5), st.integers(1, 3), st.integers(0, 2), st.integers(1, 2), st.integers(1, 12)),
    st.builds(lambda k, f, g: f"CONV{k}-{f * g}g{g}", st.sampled_from([1, 3]), st.integers(1, 4), st.sampled_from([1, 2])),
    st.builds(lambda kh, kw, f: f"CONV{kh}x{kw}-{f}", st.integers(1, 4), st.integers(1, 4), st.integers(1, 8)),
    st.builds(lambda t, k, s, p, c: f"{t}{k}/{s}p{p}" + ("(ceil=true)" if c else ""), st.sampled_from(["POOL", "AVGPOOL"]),
              st.integers(1, 3), st.integers(1, 3), st.integers(0, 1), st.booleans()),
    st.builds(lambda k, s, p, f: f"DECONV{k}-{f}/{s}p{p}", st.integers(1, 4), st.integers(1, 3), st.integers(0, 1),
              st.integers(1, 8)),
    st.builds(lambda k, s: f"DWCONV{k}/{s}", st.sampled_from([1, 3, 5]), st.integers(1, 2)),
    st.sampled_from(["BN", "RELU", "RELU6", "GELU", "SIGMOID", "SILU", "HARDSWISH", "HARDSIGMOID", "LRN", "UPSAMPLE2",
                     "ID", "LEAKYRELU(0.2)", "ELU", "TANH", "SOFTMAX",
                     "(CONV1-4 | CONV3-6 | POOL3/1p1)", "(ID + BN)", "(CONV3-4 + CONV1-4 -> RELU)",
                     "(POOL3/1p1(ceil=true) | AVGPOOL3/1p1)"]),
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(4, 33), st.integers(4, 33), st.integers(1, 6), st.lists(LAYERS, min_size=1, max_size=6),
       st.sampled_from(["", " -> FC-5", " -> GAP", " -> FLATTEN", " -> GMP -> FC-3"]))
@example(5, 5, 1, ["POOL2/2p1(ceil=true)"], "")  # ceil mode: the last window may not start in the padding
@example(7, 7, 2, ["DECONV3-4/3p1"], "")
def test_shapes_and_params_match_pytorch(h, w, c, layers, tail):
    design = f"INPUT {h}x{w}x{c} -> " + " -> ".join(layers) + tail
    try:
        cnncalc.plan(design)
    except cnncalc.CnnCalcError:
        assume(False)  # a design cnncalc refuses (kernel too large, groups that do not divide, …)
    result = verify(design)
    assert result.ok, (design, result.notes)


@pytest.mark.parametrize("inplace", ["true", "false"])
@pytest.mark.parametrize("word", list(cnncalc.kinds.Activation.MODULES))
def test_every_activation_saves_what_pytorch_saves(word, inplace):
    # in the chain and at the start of an arm (never in place there), measured on the CPU
    design = (f"INPUT 6x6x3 -> CONV3-4 -> {word}(inplace={inplace}) -> CONV3-4 "
              f"-> (ID + [{word}(inplace={inplace}) -> CONV3-4])")
    result = verify(design, device="cpu", batch=2)
    assert result.ok, result.notes
    assert result.saved_actual == result.saved_expected


@pytest.mark.parametrize("chain", [
    "RELU -> RELU", "SIGMOID -> RELU", "LEAKYRELU -> ELU", "RELU6 -> RELU6", "TANH -> ID -> SILU",
    "SOFTMAX -> FLATTEN -> RELU", "GELU -> RELU -> DROPOUT -> RELU", "RELU -> ID -> HARDSIGMOID",
])
def test_activation_chains_save_what_pytorch_saves_and_train(chain):
    result = verify(f"INPUT 6x6x3 -> CONV3-4 -> {chain} -> CONV1-2", device="cpu", batch=2)
    assert result.ok, result.notes  # the training-mode forward ran, and its backward would (tested in export)
    assert result.saved_actual == result.saved_expected


@pytest.mark.parametrize("design", [
    "INPUT 12x12x2 -> CONV1-2 -> LOCAL1-3/2p0",  # the case: 1,440 B predicted against 2,304 B
    "INPUT 12x12x4 -> CONV1-4 -> LOCAL2-3/3p1", "INPUT 12x12x4 -> CONV1-4 -> LOCAL(filters=3, kernel=1x2, s=2x1, p=0)",
    "INPUT 12x12x2 -> CONV1-2 -> LOCAL3-3p0", "INPUT 13x13x2 -> LOCAL2-3/3p0 -> FC-2",
    "INPUT 32x32x3 -> POOL2 -> CONV3-8",  # nothing before the first layer with parameters saves anything
])
def test_local_and_leading_layers_save_what_pytorch_saves(design):
    result = verify(design, device="cpu", batch=2)
    assert result.ok, result.notes
    assert result.saved_actual == result.saved_expected


def test_verify_checks_its_settings_like_plan():
    with pytest.raises(cnncalc.SettingsError, match="optional must be include or exclude, got 'exlude'"):
        verify("INPUT 8x8x3 -> POOL2?", optional="exlude")
    with pytest.raises(cnncalc.SettingsError, match="batch must be a whole number of at least 1, got 0"):
        verify("INPUT 8x8x3 -> RELU", batch=0)


# -- receptive fields against the gradient of one output pixel ------------------------------------------------------
def _field_by_gradient(design: str, u: int, axis: int) -> tuple[int, int]:
    """First and last input row (axis 0) or column (axis 1) whose gradient reaches output pixel u
    (all channels, in the middle of the other axis), with every weight 1 and every input 1."""
    from cnncalc.planner import design_graph
    from cnncalc.pytorch.export import export_source

    graph = design_graph(design)
    namespace: dict = {}
    exec(compile(export_source(graph), "<cnncalc export>", "exec"), namespace)
    net = namespace["Net"]().double()
    with torch.no_grad():
        for p in net.parameters():
            p.fill_(1.0 if p.dim() > 1 else 0.0)  # weights 1, biases 0: every path adds a positive amount
    size = graph.input.size
    x = torch.ones(1, size.c, size.h, size.w, dtype=torch.float64, requires_grad=True)
    out = net(x)
    v = out.shape[3 - axis] // 2
    (out[0, :, u, v] if axis == 0 else out[0, :, v, u]).sum().backward()
    touched = (x.grad[0].abs().sum(0).sum(1 - axis) > 0).nonzero().flatten()
    return int(touched[0]), int(touched[-1])


STAGES = st.one_of(
    st.builds(lambda k, s, p, d: f"CONV(filters=2, kernel={k}, s={s}, p={p}, d={d})", st.integers(1, 4),
              st.integers(1, 3), st.integers(0, 2), st.integers(1, 2)),
    st.builds(lambda k, s, p: f"AVGPOOL(kernel={k}, s={s}, p={p})", st.integers(2, 3), st.integers(1, 3),
              st.integers(0, 1)),
    # arms with the same stride and different offsets, summed or concatenated
    st.builds(lambda k, s, a, b, m: f"(CONV(filters=2, kernel={k}, s={s}, p={a}) {m} "
                                    f"CONV(filters=2, kernel={k}, s={s}, p={b}))",
              st.integers(1, 4), st.integers(1, 3), st.integers(0, 2), st.integers(0, 2), st.sampled_from("+|")),
    st.builds(lambda k, s: f"(CONV(filters=2, kernel={k}, s={s}, p=0) + [CONV(filters=2, kernel={k}, s={s}, p=1) "
                           f"-> CONV(filters=2, kernel=3, p=0)])", st.integers(1, 3), st.integers(1, 2)),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(24, 48), st.lists(STAGES, min_size=1, max_size=3), st.integers(0, 100))
@example(120, ["(CONV(filters=1, kernel=3, s=3, p=1) + CONV(filters=1, kernel=3, s=3, p=0))"], 20)
def test_receptive_fields_match_gradients(size, stages, pick):
    design = f"INPUT {size}x{size}x1 -> " + " -> ".join(stages)
    try:
        report = cnncalc.plan(design)
    except cnncalc.CnnCalcError:
        assume(False)
    assume(not report.warnings)  # arms of different strides: the field is an estimate, and says so
    last = report.layers[-1]
    (r, _), (j, _), (p, _) = last.rf.size, last.rf.stride, last.rf.padding
    inside = [u for u in range(last.output.h) if u * j - p >= 0 and u * j - p + r - 1 < size]
    assume(inside)
    u = inside[pick % len(inside)]
    assert _field_by_gradient(design, u, 0) == (u * j - p, u * j - p + r - 1), design


def test_verify_lets_the_network_go():
    """A pack hook that returned a node's own output as itself made a reference cycle through autograd's
    graph that Python's collector cannot see: each CPU verify kept its network alive (5 GB over the zoo)."""
    import gc

    def live() -> int:
        gc.collect()
        return sum(1 for o in gc.get_objects() if torch.is_tensor(o))

    before = live()
    assert verify(zoo.path("lenet5").read_text(), device="cpu").ok
    assert live() <= before  # (earlier tests' tensors may go too)


@needs_memtracker
def test_verify_checks_zeropad():
    """ZEROPAD through verify: nn.ZeroPad2d's shapes, no params, the bytes autograd saves and the training
    step's peak, all PyTorch's."""
    design = "INPUT 16x16x3 -> ZEROPAD(left=0, right=1, top=2, bottom=3) -> CONV3-8/2p0 -> BN -> RELU -> ZEROPAD1 -> " \
             "POOL3/2p0 -> (ID + [ZEROPAD(p=1x0) -> CONV3x1-8/1p0]) -> GAP -> FC-10"
    result = verify(design, device="cpu", memory=True, batch=2, optimizer="adam")
    assert result.ok, result.notes
    assert [r.actual_shape for r in result.rows[:2]] == ["16x16x3", f"{16 + 2 + 3}x{16 + 0 + 1}x3"]
    assert result.saved_actual == result.saved_expected and result.peak_actual == result.peak_expected


@pytest.mark.parametrize("design", [
    "INPUT 16x16x8 -> CROP16 -> FC-9",  # a crop of every row and column is in order: FC flattens a view (was +30.7%)
    "INPUT 16x16x8 -> CONV1-8 -> CROP16 -> CROP8 -> FC-9",
    "INPUT 16x16x8 -> LAYERNORM -> CROP12 -> FC-9",
    "INPUT 8x8x8 -> CONV1-8 -> ((ID || RELU) || (TANH || ID)) -> FC-5",
])
def test_verify_memory_checks_the_inference_peak(design):
    """verify --memory compares the inference peak (evaluation mode, no_grad) with MemTracker's too, and a
    wrong one is a problem: issue 21 found inference peaks off by -28% to +31% that verify never flagged."""
    result = verify(design, device="cpu", memory=True, batch=4)
    assert result.ok, result.notes
    assert result.inference_peak_actual is not None and result.inference_peak_expected == result.inference_peak_actual
    result = run_cli("verify", design, "--memory", "--device", "cpu", "--batch", "4")
    assert "inference peak (eval, no_grad, batch 4)" in result.output and "+0.00%" in result.output


@pytest.mark.parametrize("design", [
    "INPUT 6x6x1 -> {{DWCONV3/2 -> CONV1-2 -> ([CROP(1x1) -> ZEROPAD1 -> CONV3-7 -> CONV3-7] || CONV3-2)} -> GAP -> "
    "FC-7 -> RELU}",  # the random generator's seed 1733: the export returned the heads in another order
    "INPUT 8x8x4 -> {{GAP -> FC-3} -> CONV1-2} -> CONV1-4 -> {FC-5} -> GAP -> FC-2",
])
def test_nested_side_heads_return_their_outputs_in_row_order(design):
    """A head inside a head's arm makes its output first: the export returns the outputs in the order of
    their OUTPUT rows (the plan's heads), with SIDE_SHAPES in the same order, so a training loop pairs each
    with its target."""
    from cnncalc.pytorch.export import export_design

    namespace: dict = {}
    exec(compile(export_design(design), "<export>", "exec"), namespace)
    net = namespace["Net"]().train()
    c, h, w = namespace["INPUT_SHAPE"]
    outs = net(torch.randn(2, c, h, w))
    heads = cnncalc.plan(design).totals.heads[1:]
    assert [tuple(o.shape[1:]) for o in outs[1:]] == [tuple(s) for s in namespace["SIDE_SHAPES"]]
    assert [o.shape[1] for o in outs[1:]] == [head.output.c for head in heads]
    assert verify(design, device="cpu", memory=True, batch=2).ok


MODULE_DESIGNS = [
    *zoo.names(),
    # calls in arms, a call that starts with a branch and one with an arm, nested calls, side heads, splits
    "blk(c) = CONV3-c -> RELU\nres(c) = (ID + [blk(c) -> CONV3-c])\n"
    "INPUT 8x8x4 -> blk(4) -> res(4)*2 -> {GAP -> FC-3} -> (ID || [CONV1-2 -> (TANH | ID)]) -> GAP -> FC-2",
    "a = CONV1-4\nb = a -> a\nc = (b | a)\nINPUT 4x4x4 -> c -> b -> [c]*2",
]


@pytest.mark.parametrize("design", MODULE_DESIGNS)
def test_each_rows_module_is_its_module_in_the_exported_network(design):
    """The report's `module` (issue 22) is what named_modules() calls the row's module in the built Net."""
    from cnncalc.pytorch.memory import modules_in_row_order

    text = zoo.path(design).read_text() if zoo.path(design) else design
    namespace: dict = {}
    exec(compile(export_design(text), "<export>", "exec"), namespace)
    net = namespace["Net"]()
    names = {module: name for name, module in net.named_modules()}
    built = [None] + [names[m] for m in modules_in_row_order(net)[1:]]
    assert [row.module for row in cnncalc.plan(text).layers] == built
