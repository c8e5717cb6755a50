"""The merges: |, +, .*, || and { }:
every rule, each expected value written as its formula."""

from __future__ import annotations

import pytest

import snippets as S
from snippets import F, INDEX_BYTES, MASK_BYTES, START, STAT_BYTES, V, X, Volume  # noqa: F401


# output volume: floor((in + 2p - d*(k-1) - 1)/s) + 1
OUTPUT = [
    ("concat", "(ID | ID)", Volume(8, 8, 4 + 4)),
    ("add", "(ID + ID)", X),
    ("mul", "(ID .* GAP)", X),  # the 1x1xC gate broadcasts over the other factor's H x W
    ("split", "(ID || ID)", X),  # each arm half the channels, concatenated
    ("output", "{GAP}", X),  # a side head: its output row is the head's (here ID's) output
]

# parameters: (weights, biases, buffers)
PARAMS = [
    ("concat", "(ID | ID)", (0, 0, 0)),
    ("add", "(ID + ID)", (0, 0, 0)),
    ("mul", "(ID .* [GAP -> SIGMOID])", (0, 0, 0)),
    ("split", "(ID || CONV1-2)", (0, 0, 0)),
    ("output", "{FC-3}", (0, 0, 0)),
]

# MACs per image
MACS = [
    ("concat", "(ID | ID)", 0),
    ("add", "(ID + ID)", 0),
    ("mul", "(ID .* ID)", 0),  # element-wise products count 0
    ("split", "(ID || ID)", 0),
    ("output", "{ID}", 0),
]

# forward memory: elements a layer adds, per image
STORED = [
    ("concat", "(ID | ID)", 2 * V),
    ("add", "(ID + ID)", V),
    ("mul", "(GAP .* ID)", V),
    ("split", "(ID || ID)", V),
    ("output", "{ID}", 0),  # a view of the head's output
]

# saved for backward: (keeps its input, keeps its output, bytes per image, bytes per batch)
SAVED = [
    ("concat", "(ID | ID)", (False, False, 0, 0)),
    ("add", "(ID + ID)", (False, False, 0, 0)),
    ("mul", "(ID .* GAP)", (True, False, 0, 0)),  # its factors (Mul.kept: those whose partner needs grad)
    ("split", "(ID || ID)", (False, False, 0, 0)),
    ("output", "{ID}", (False, False, 0, 0)),
]


@pytest.mark.parametrize("kind, snippet, expected", OUTPUT, ids=[c[0] for c in OUTPUT])
def test_output(kind, snippet, expected):
    S.check_output(kind, snippet, expected)


@pytest.mark.parametrize("kind, snippet, expected", PARAMS, ids=[c[0] for c in PARAMS])
def test_params(kind, snippet, expected):
    S.check_params(kind, snippet, expected)


@pytest.mark.parametrize("kind, snippet, expected", MACS, ids=[c[0] for c in MACS])
def test_macs(kind, snippet, expected):
    S.check_macs(kind, snippet, expected)


@pytest.mark.parametrize("kind, snippet, expected", STORED, ids=[c[0] for c in STORED])
def test_stored(kind, snippet, expected):
    S.check_stored(kind, snippet, expected)


@pytest.mark.parametrize("kind, snippet, expected", SAVED, ids=[c[0] for c in SAVED])
def test_saves(kind, snippet, expected):
    S.check_saves(kind, snippet, expected)


def test_receptive_merge_keeps_the_largest_arm_and_flags_different_strides():
    from cnncalc.metrics import receptive

    small, large = ((3, 3), (1, 1), (1, 1)), ((5, 5), (2, 2), (2, 2))
    assert receptive.merge([small, large]) == (large, True)
    assert receptive.merge([small, None]) == (None, False)


def test_a_gate_is_left_out_of_the_product_s_field():
    """A 1x1xC arm of a product (a squeeze-and-excitation gate) is global by construction: the field is
    the spatial arm's."""
    gate, spatial = ((8, 8), (1, 1), (0, 0)), ((3, 3), (1, 1), (1, 1))
    mul = S.item("(ID .* GAP)")
    assert mul.fields([X, Volume(1, 1, 4)], X, [spatial, gate]) == [spatial]
    assert S.item("(ID + ID)").fields([X, X], X, [spatial, gate]) == [spatial, gate]


# -- add.inplace: a sum into one arm's output ------------------------------------------------------------------
def _rows(design: str, **settings):
    import cnncalc

    return cnncalc.plan(design, device="cpu", **settings)


@pytest.mark.parametrize("sum_, into", [
    ("(ID + [CONV3-4 -> BN])", 1),  # the empty arm is the input the other arm reads: never overwritten
    ("([CONV3-4 -> BN] + ID)", 0),
    ("([CONV3-4 -> RELU] + [CONV1-4 -> BN])", 1),  # RELU keeps its output for backward
    ("([CONV3-4 -> BN] + [CONV1-4 -> BN] + ID)", 0),
    ("(ID + [CONV3-4 -> SIGMOID])", None),  # both protected: a new tensor
])
def test_a_sum_in_place_overwrites_the_first_arm_nothing_else_needs(sum_, into):
    from cnncalc.pytorch.export import export_design

    design = f"add.inplace = true\nINPUT 8x8x4 -> CONV1-4 -> {sum_} -> GAP -> FC-3"
    report = _rows(design)
    merge = next(r for r in report.layers if r.kind == "add")
    assert merge.memory_bytes == 0  # stores nothing, as an in-place activation: add.inplace says so
    source = export_design(design)
    assert (f"AddInto({into}," in source) == (into is not None)
    assert ('Branches("add",' in source) == (into is None)


def test_add_inplace_is_off_by_default_and_inplace_false_turns_it_off():
    from cnncalc.pytorch.export import export_design

    body = "INPUT 8x8x4 -> CONV1-4 -> (ID + [CONV3-4 -> BN]) -> GAP -> FC-3"
    for design in (body, "add.inplace = true\ninplace = false\n" + body, "add.inplace = false\n" + body):
        merge = next(r for r in _rows(design).layers if r.kind == "add")
        assert merge.memory_bytes == 8 * 8 * 4 * 4  # H*W*C float32 values: a new tensor
        assert "AddInto" not in export_design(design)
    with_define = _rows(body, defines=["add.inplace=true"])
    assert next(r for r in with_define.layers if r.kind == "add").memory_bytes == 0 and with_define.warnings == []


def test_add_inplace_on_a_design_without_a_sum_changes_nothing_and_says_so():
    report = _rows("INPUT 8x8x4 -> (ID | CONV1-4)", defines=["add.inplace=true"])
    assert any(w.startswith("-D add.inplace=true changes nothing") for w in report.warnings)


@pytest.mark.parametrize("design, message, at", [
    ("add.inplace = 2\nINPUT 8x8x4 -> (ID + ID)", "add.inplace: inplace is true or false", (1, 15)),
    ("add.eps = 1\nINPUT 8x8x4 -> (ID + ID)", "unknown setting 'add.eps' (settings: add.inplace)", (1, 1)),
    ("concat.inplace = true\nINPUT 8x8x4 -> (ID | ID)", "unknown setting 'concat.inplace' (settings: concat.dense)",
     (1, 1)),
    ("concat.dense = 1\nINPUT 8x8x4 -> (ID | ID)", "concat.dense: dense is true or false", (1, 16)),
    ("mul.dense = true\nINPUT 8x8x4 -> (ID .* ID)", "'mul' has no defaults", (1, 1)),
])
def test_add_inplace_errors_say_where(design, message, at):
    import cnncalc

    with pytest.raises(cnncalc.CnnCalcError) as e:
        cnncalc.plan(design)
    assert e.value.message.startswith(message) and e.value.span.line_col() == at



@pytest.mark.parametrize("design, says", [
    ("INPUT 8x8x4 -> (ID + CONV1-4)", "sums: each makes a new tensor (x + f(x))"),
    ("add.inplace = true\nINPUT 8x8x4 -> (ID + CONV1-4)", "sums: each adds its other arms in place"),
    ("add.inplace = true\nINPUT 8x8x4 -> (ID + RELU) -> (ID + CONV1-4)", "sums: 1 of 2 add in place"),
    ("INPUT 8x8x4 -> (ID | CONV1-4)", None),  # no sum: nothing to say
])
def test_the_assumptions_say_which_code_the_sums_follow(design, says):
    lines = [a for a in _rows(design).assumptions if a.startswith("sums:")]
    assert (lines[0].startswith(says) and len(lines) == 1) if says else lines == []


# -- concat.dense: dense units as torchvision's _DenseBlock --------------------------------------------------------
def test_a_dense_unit_s_inference_peak_is_the_formula():
    """One unit, INPUT HxWxC -> (ID | [BN -> CONV1-G]), float32 on the CPU, batch N. Dense: the block's first
    unit copies its input (cat of one tensor) and holds the copy until the convolution has run, so at the
    convolution the input, the copy, BN's output and the convolution's are alive (3C + G channels); then the
    input, the new features and their concatenation (2C + 2G). Plain: BN's output beside the input, then the
    same concatenation (2C + 2G)."""
    h, w, c, g, n = 4, 4, 8, 2, 3
    model = (2 * c + c * g + g) * 4 + 2 * c * 4 + 8  # BN's gain and shift, the convolution's weight and bias;
    # BN's running mean and variance (float32) and its int64 num_batches_tracked
    design = f"INPUT {h}x{w}x{c} -> (ID | [BN -> CONV1-{g}])"
    dense = _rows("concat.dense = true\n" + design, batch=n).totals.memory.inference_peak_bytes
    plain = _rows(design, batch=n).totals.memory.inference_peak_bytes
    assert dense == model + 4 * n * h * w * max(3 * c + g, 2 * c + 2 * g)
    assert plain == model + 4 * n * h * w * max(2 * c + g, 2 * c + 2 * g)


DENSE_DESIGN = ("unit = (ID | [BN -> RELU -> CONV1-16 -> BN -> RELU -> CONV3-4])\n"
                "INPUT 8x8x8 -> unit*3 -> BN -> CONV1-8 -> AVGPOOL2 -> unit*2 -> GAP -> FC-3")


def test_concat_dense_changes_lifetimes_only():
    """Rows, shapes, params, MACs, what each row stores and saves are the plain concatenations'; the inference
    peak is higher (the list beside each concatenation); off by default, and -D sets it as the design does
    (and says which words it takes)."""
    import cnncalc

    plain, dense = _rows(DENSE_DESIGN), _rows("concat.dense = true\n" + DENSE_DESIGN)
    keys = ("name", "kind", "output", "params", "macs", "memory_bytes", "saved_bytes", "rf")
    assert [[getattr(r, k) for k in keys] for r in plain.layers] == [[getattr(r, k) for k in keys] for r in dense.layers]
    assert plain.totals.params == dense.totals.params and plain.totals.macs == dense.totals.macs
    assert dense.totals.memory.inference_peak_bytes > plain.totals.memory.inference_peak_bytes
    defined = _rows(DENSE_DESIGN, defines=["concat.dense=true"])
    assert defined.totals.memory == dense.totals.memory
    with pytest.raises(cnncalc.CnnCalcError, match=r"^concat.dense: dense is true or false"):
        _rows(DENSE_DESIGN, defines=["concat.dense=yes"])


def test_the_export_writes_dense_units_and_which_ends_its_block():
    """Each unit is a DenseUnit(last, head, ...): the last of each run returns the concatenation; the head runs
    as far as the arm's first convolution (3 modules: BN, RELU, CONV1). A concatenation not of the shape (ID | an
    arm of layers) stays a plain one."""
    from cnncalc.pytorch.export import export_design

    source = export_design("concat.dense = true\n" + DENSE_DESIGN)
    assert source.count("DenseUnit(False, 3,") == 3 and source.count("DenseUnit(True, 3,") == 2
    assert "DenseUnit" not in export_design(DENSE_DESIGN)
    other = export_design("concat.dense = true\nINPUT 8x8x4 -> (ID | CONV1-4 | POOL3/1p1) -> ([ID] | [(ID + RELU)])")
    assert "DenseUnit" not in other and other.count('Branches("concat",') == 2


def test_a_unit_whose_output_another_branch_reads_starts_a_block():
    """`unit -> ([unit -> unit] + CONV1-16)`: the sum's other arm reads the first unit's output, so the inner
    units are a block of their own (the export: the first unit ends its block)."""
    from cnncalc.pytorch.export import export_design

    unit = "(ID | [BN -> CONV1-4])"
    source = export_design(f"concat.dense = true\nINPUT 8x8x4 -> {unit} -> ([{unit} -> {unit}] + CONV1-16)")
    assert [line.split("DenseUnit(")[1].split(",")[0] for line in source.splitlines() if "DenseUnit(" in line
            and "class" not in line] == ["True", "False", "True"]


@pytest.mark.parametrize("design, settings, why", [
    ("INPUT 8x8x4 -> (ID | [BN -> CONV1-4])*2 -> FC-3", {"checkpoint": ["1-4"]}, "a checkpointed dense unit"),
    ("INPUT 8x8x4 -> (ID | [BN -> CONV1-4])*2 -> FC-3", {"checkpoint": ["5-8"]}, "a checkpointed dense unit"),
    ("INPUT 8x8x4 -> (ID | [CONV1-4 -> RELU])*2 -> FC-3", {"amp": "bfloat16"},
     "a dense block's first unit starting with a convolution"),
])
def test_what_dense_blocks_leave_out_is_named(design, settings, why):
    """Not modelled yet: the peaks are null, named in `partial`, and a warning says why and what to do."""
    report = _rows("concat.dense = true\n" + design, **settings)
    assert report.totals.memory.training_peak_bytes is None and "training_peak" in report.totals.partial
    assert any(why in w for w in report.warnings)
    assert _rows(design, **settings).totals.memory.training_peak_bytes is not None  # plain, it is modelled


def test_the_assumptions_say_which_code_the_concatenations_follow():
    dense = [a for a in _rows("concat.dense = true\n" + DENSE_DESIGN).assumptions if "dense" in a]
    plain = [a for a in _rows(DENSE_DESIGN).assumptions if "dense" in a]
    assert len(dense) == 1 and dense[0].startswith("dense blocks (concat.dense = true)")
    assert len(plain) == 1 and "concat.dense = true models" in plain[0]
