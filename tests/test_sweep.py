"""`cnncalc sweep` and `cnncalc.sweep`: the ranges, every row equal to `plan` of its point, failures
summarised, sort, top, the Pareto front against its definition, streaming, and the command line."""

from __future__ import annotations

import json
import os
import re
import stat

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from conftest import run_cli as run

import cnncalc
from cnncalc import SettingsError, measures, planner
from cnncalc.sweeps import CHUNK, dominates, pareto_front, parse_vary

COURSE = "INPUT 32x32x3 -> [[CONV -> RELU]*N -> POOL2?]*M -> [FC-H -> RELU]*K -> FC-10"
SMALL = "INPUT 32x32x3 -> CONV3-C -> RELU -> FC-10"
# kernels, strides and groups that fail or misfit at some points; branches; a block called with arguments
TRICKY = """b(F) = (ID + [CONV(kernel=K, filters=F, g=G) -> BN -> RELU]) -> RELU
INPUT 32x32x8 -> CONV(kernel=K, s=S, p=0, filters=F) -> b(F)*R -> (POOL3/2p1 | CONV3-F/2) -> GAP -> FC-10"""
RESNETISH = """conv.bias = false
basic(C) = (ID + [CONV3-C -> BN -> RELU -> CONV3-C -> BN]) -> RELU
down(C) = ([CONV1-C/2 -> BN] + [CONV3-C/2 -> BN -> RELU -> CONV3-C -> BN]) -> RELU
INPUT 64x64x3 -> CONV7-W/2 -> BN -> RELU -> POOL3/2p1 -> basic(W)*D -> down(2*W) -> basic(2*W) -> GAP -> FC-100"""
WALK = ("params,buffers,macs,flops,activations,forward_bytes,forward_bytes_per_image,params_bytes,training_bytes,"
        "fits,rows,rf")
FULL = WALK + ",saved_bytes,training_peak_bytes,inference_peak_bytes,cuda_total_bytes"


def rows(design, **kwargs):
    result = cnncalc.sweep(design, **kwargs)
    return list(result), result


# -- the ranges ----------------------------------------------------------------------------------------
VARY = [
    ("N=1..4", [1, 2, 3, 4]),
    ("C=32,64,128", [32, 64, 128]),
    ("W=16..64:16", [16, 32, 48, 64]),
    ("W=16..70:16", [16, 32, 48, 64]),
    ("N=1,2,4..16:4,32", [1, 2, 4, 8, 12, 16, 32]),
    ("conv.bias=true,false", ["true", "false"]),
    ("input=32x32x3,64x64x3", ["32x32x3", "64x64x3"]),
    ("N = 3", [3]),
]


@pytest.mark.parametrize("text,values", VARY)
def test_vary(text, values):
    vary = parse_vary(text)
    assert list(vary.values) == values and len(vary.values) == len(values)
    assert [vary.values[i] for i in range(len(values))] == values


INVALID_VARY = [
    ("N", "expected NAME=VALUES", 1),
    ("1N=2", "'1N' is not a name", 1),
    ("N=4..1", "the range 4..1 is empty: write the smaller number first (1..4)", 3),
    ("N=1..4:0", "the step of 1..4:0 must be at least 1", 3),
    ("N=1..x", "a range is A..B or A..B:STEP with whole numbers", 3),
    ("N=1,,2", "an empty value in --vary N=", 5),
]


@pytest.mark.parametrize("text,message,column", INVALID_VARY)
def test_invalid_vary(text, message, column):
    with pytest.raises(SettingsError) as info:
        parse_vary(text)
    assert message in info.value.message
    assert info.value.span.line_col() == (1, column)


# -- every row is plan's ------------------------------------------------------------------------------------
def plan_values(design, point, columns, defines=(), **settings):
    """The measures `plan` gives for the same bindings (input and batch as settings)."""
    design = cnncalc.source.design_text(design, None)[0]  # a built-in name's text
    point = dict(point)
    if "input" in point:
        value = point.pop("input")
        if isinstance(value, int):  # a side: the design's own channels
            binds = [*defines, *(f"{k}={v}" for k, v in point.items())]
            channels = planner.design_graph(design, defines=binds).input.size.c
            value = f"{value}x{value}x{channels}"
        settings["input"] = value
    if "batch" in point:
        settings["batch"] = point.pop("batch")
    data = planner.run(design, defines=[*defines, *(f"{k}={v}" for k, v in point.items())], **settings).data
    return measures.values(data, columns)


def check_against_plan(design, vary, columns, defines=(), **settings):
    got, result = rows(design, vary=vary, columns=columns, defines=defines, **settings)
    names = [n for n, _ in __import__("cnncalc.where", fromlist=["keys"]).keys(columns, signs=False)]
    for row in got:
        assert {n: row[n] for n in names} == plan_values(design, row["point"], names, defines, **settings), row
    # every failure is a point plan refuses, with the same message
    for failure in result.summary["failures"]:
        with pytest.raises(cnncalc.CnnCalcError) as info:
            plan_values(design, failure["example"]["point"], names, defines, **settings)
        assert str(info.value) in failure["reason"] or failure["reason"].endswith(str(info.value))
    assert len(got) + result.summary["failed"] == result.total
    return got, result


def subset(data, values, most=3):
    return sorted(data.draw(st.sets(st.sampled_from(values), min_size=1, max_size=most)))


SLOW = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SLOW
@given(st.data())
def test_rows_equal_plan_course(data):
    vary = [f"N={','.join(map(str, subset(data, [0, 1, 2, 3])))}",
            f"M={','.join(map(str, subset(data, [1, 2, 3, 4, 5, 6])))}",
            f"conv.filters={','.join(map(str, subset(data, [8, 16, 24])))}",
            f"K={','.join(map(str, subset(data, [0, 1, 2], 2)))}"]
    optional = data.draw(st.sampled_from(["include", "exclude"]))
    check_against_plan(COURSE, vary, WALK, defines=["H=32"], optional=optional)


@pytest.mark.slow
@SLOW
@given(st.data())
def test_rows_equal_plan_tricky(data):
    """Failures (kernels larger than the input, groups that do not divide) and misfits on the way."""
    vary = [f"K={','.join(map(str, subset(data, [1, 2, 3, 5, 7, 40])))}",
            f"S={','.join(map(str, subset(data, [1, 2, 3, 5])))}",
            f"G={','.join(map(str, subset(data, [1, 2, 4])))}",
            f"R={','.join(map(str, subset(data, [0, 1, 2])))}",
            f"input={','.join(map(str, subset(data, [8, 17, 32], 2)))}"]
    rule = data.draw(st.sampled_from(["coverage", "notes"]))
    check_against_plan(TRICKY, vary, WALK, defines=["F=8"], fit_rule=rule)


@pytest.mark.slow
@SLOW
@given(st.data())
def test_rows_equal_plan_with_peaks(data):
    """The training and inference peaks, the GPU total and the saved bytes: the planner's own walk."""
    vary = [f"W={','.join(map(str, subset(data, [4, 8, 12])))}", f"D={','.join(map(str, subset(data, [0, 1, 2])))}",
            f"batch={','.join(map(str, subset(data, [1, 3, 8], 2)))}"]
    optimizer = data.draw(st.sampled_from(["sgd", "momentum", "adam"]))
    device = data.draw(st.sampled_from(["cuda", "cpu"]))
    check_against_plan(RESNETISH, vary, FULL, optimizer=optimizer, device=device)


def test_a_leaf_block_at_new_arguments_is_rebuilt_from_its_template():
    """basic(C) and down(C) call no block: a call at a new width rebuilds another call's items layer by
    layer (sweeps/expansion.py, Expansion.from_template), with plan's numbers and plan's errors."""
    got, result = check_against_plan(RESNETISH, ["W=4..9", "D=1,2"], WALK + ",saved_bytes")
    assert result.cache()["blocks_rebuilt"] > 0 and len(got) == 12
    _, result = check_against_plan(TRICKY, ["K=1,3", "G=1,2,4", "F=8,6"], WALK, defines=["S=1", "R=1"],
                                   input="16x16x8")
    assert result.summary["failed"] > 0  # 4 groups do not divide 6 filters: the rebuilt layer says so


def test_rows_equal_plan_budget():
    got, _ = check_against_plan(RESNETISH, ["W=4,8", "D=1"], "params,max_batch,training_peak", budget="64MiB")
    assert all(isinstance(r["max_batch"], int) for r in got)


def test_builtin_input_sides():
    """A side S varies the input as S x S with the design's channels; only the walk is redone."""
    got, result = check_against_plan("resnet18", ["input=64,96,128"], "params,macs,rf,fits")
    assert [r["params"] for r in got] == [11_689_512] * 3
    assert result.cache()["expansions"] == 1


# -- the numbers, as formulas ----------------------------------------------------------------------------
def test_params_as_formula():
    got, _ = rows(SMALL, vary={"C": [8, 16, 32]}, columns="params,macs,forward_bytes")
    for row in got:
        c = row["point"]["C"]
        conv = (3 * 3 * 3) * c + c  # (k*k*c_in)*f + f
        fc = (32 * 32 * c) * 10 + 10  # in*out + out
        assert row["params"] == conv + fc
        assert row["macs"] == 32 * 32 * c * (3 * 3 * 3) + 32 * 32 * c * 10
        assert row["forward_bytes"] == 4 * (32 * 32 * 3 + 32 * 32 * c + 10)  # input, conv, fc; RELU in place


def test_defaults_and_batch():
    got, _ = rows("INPUT 8x8x1 -> CONV -> FC-2", vary=["conv.filters=2,4", "conv.bias=true,false", "batch=1,4"],
                  columns="params,forward_bytes")
    for row in got:
        f, bias, batch = row["point"]["conv.filters"], row["point"]["conv.bias"] == "true", row["point"]["batch"]
        assert row["params"] == (3 * 3 * 1) * f + (f if bias else 0) + (8 * 8 * f) * 2 + 2
        assert row["forward_bytes"] == 4 * batch * (8 * 8 * 1 + 8 * 8 * f + 2)


# -- failures, where, sort, top, pareto ------------------------------------------------------------------
def test_failures_summarised_by_reason():
    design = "INPUT 16x16x3 -> [CONV(kernel=K, filters=4, g=G) -> POOL2]*M -> FC-2"
    got, result = rows(design, vary=["K=1,3", "G=1,2", "M=1..5"], columns="params")
    s = result.summary
    assert s["points"] == 2 * 2 * 5 and s["failed"] == 2 * 5 + 2 * 1 and len(got) == 2 * 4
    # one reason per problem and place: the same layer's groups at kernels 1 and 3 are one
    reasons = {f["reason"].split(":")[0]: f["count"] for f in s["failures"]}
    assert reasons == {"CONV1-4g2": 2 * 5, "POOL2": 2}
    assert "2 groups do not divide the 3 input channels" in s["failures"][0]["reason"]
    assert s["failures"][-1]["example"]["point"] == {"K": 1, "G": 1, "M": 5}


def test_where_filters_and_counts():
    got, result = rows(SMALL, vary={"C": range(1, 11)}, where="params < 10K and fits", columns="params")
    expected = [c for c in range(1, 11) if (3 * 3 * 3) * c + c + 32 * 32 * c * 10 + 10 < 10_000]
    assert [r["point"]["C"] for r in got] == expected
    assert result.summary["filtered"] == 10 - len(expected)


def test_where_on_varied_names():
    got, _ = rows(COURSE, vary=["N=1..3", "M=1..3"], defines=["conv.filters=8", "K=0", "H=8"], where="N * M == 3",
                  columns="params")
    assert [r["point"] for r in got] == [{"N": 1, "M": 3}, {"N": 3, "M": 1}]


def test_sort_and_top():
    everything, _ = rows(COURSE, vary=["N=1..3", "M=1..3", "conv.filters=8,16"], defines=["K=0", "H=8"],
                         columns="params,macs")
    by_macs = sorted(everything, key=lambda r: (r["macs"], r["index"]))
    got, result = rows(COURSE, vary=["N=1..3", "M=1..3", "conv.filters=8,16"], defines=["K=0", "H=8"],
                       columns="params,macs", sort="macs")
    assert got == by_macs and "keeps every row" in result.summary["kept"]
    got, result = rows(COURSE, vary=["N=1..3", "M=1..3", "conv.filters=8,16"], defines=["K=0", "H=8"],
                       columns="params,macs", sort="+params,-macs", top=4)
    assert got == sorted(everything, key=lambda r: (-r["params"], r["macs"], r["index"]))[:4]
    assert "at most 8 rows" in result.summary["kept"]
    got, result = rows(COURSE, vary=["N=1..3", "M=1..3", "conv.filters=8,16"], defines=["K=0", "H=8"],
                       columns="params,macs", top=3)
    assert got == everything[:3] and result.summary["evaluated"] == 3 and result.summary["stopped"]


@pytest.mark.slow
@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(*[st.integers(0, 6)] * 3), min_size=1, max_size=40))
def test_pareto_front_is_its_definition(vectors):
    """Kept online, the front is exactly the vectors no other vector dominates (ties all kept)."""
    brute = [i for i, v in enumerate(vectors)
             if not any(all(w[k] <= v[k] for k in range(3)) and any(w[k] < v[k] for k in range(3)) for w in vectors)]
    assert pareto_front(vectors) == brute
    assert not dominates(vectors[0], vectors[0])


def test_pareto_sweep_against_brute_force():
    vary = ["N=1..3", "M=1..3", "conv.filters=8,16,24"]
    everything, _ = rows(COURSE, vary=vary, defines=["K=0", "H=8"], columns="params,macs,rf")
    got, result = rows(COURSE, vary=vary, defines=["K=0", "H=8"], columns="params,macs,rf", pareto="-macs,+rf")
    vec = {r["index"]: (r["macs"], -r["rf"]) for r in everything}
    front = {i for i, v in vec.items() if not any(dominates(w, v) for w in vec.values())}
    assert {r["index"] for r in got} == front
    assert [r["macs"] for r in got] == sorted(r["macs"] for r in got)
    assert result.summary["front"] == len(front)


def test_pareto_ties_stated():
    """Points equal on every named measure are all on the front, each with the number of its ties."""
    got, result = rows("INPUT 8x8x3 -> CONV3-C -> FC-2", vary=["C=2,4", "conv.bias=true,false"],
                       columns="macs,rows", pareto="-macs,-rows")  # a bias adds no MACs and no row
    assert [r["point"] for r in got] == [{"C": 2, "conv.bias": "true"}, {"C": 2, "conv.bias": "false"}]
    assert [r["ties"] for r in got] == [1, 1] and result.summary["ties"] == 2


# -- streaming, memory, processes ------------------------------------------------------------------------
def test_rows_stream():
    """The first row comes before the grid is done: nothing is kept without an ordering."""
    seen = []
    result = cnncalc.sweep(SMALL, vary={"C": range(1, 5000)}, columns="params", progress=seen.append)
    first = next(iter(result))
    assert first["point"] == {"C": 1} and not seen  # no progress report yet: one point computed


def test_library_never_prints(capsys):
    list(cnncalc.sweep(TRICKY, vary=["K=1,40", "S=1", "G=1,3", "R=1", "input=8"], defines=["F=8"]))
    assert capsys.readouterr() == ("", "")


def test_jobs_give_the_same_rows():
    vary = {"C": range(1, 2 * CHUNK + 50)}
    assert list(cnncalc.sweep(SMALL, vary=vary, columns="params,rf", jobs=2)) == \
        list(cnncalc.sweep(SMALL, vary=vary, columns="params,rf"))


@pytest.mark.slow
def test_the_command_line_uses_every_core_by_default_and_says_the_same():
    grid = ("sweep", SMALL, "--vary", f"C=1..{2 * CHUNK + 50}", "--columns", "params,rf", "--format", "csv")
    default, alone = run(*grid), run(*grid, "-j", "1")
    assert default.exit_code == alone.exit_code == 0
    assert default.output == alone.output and default.output.count("\n") > 2 * CHUNK



def _squares(start, stop):
    return [(i, i * i) for i in range(start, stop)]


def _squares_setup():
    return _squares


def _dies_at_chunk_two(start, stop):
    if start == 20:
        os._exit(9)  # as the out-of-memory killer would end it, without a word
    return list(range(start, stop))


@pytest.mark.parametrize("jobs", [1, 2, 3])
def test_workers_answer_every_chunk_in_order(jobs):
    from cnncalc.sweeps.workers import chunks

    got = [pair for batch in chunks(jobs, 7, 100, _squares_setup) for pair in batch]
    assert got == [(i, i * i) for i in range(100)]


def test_a_worker_that_dies_ends_the_sweep_with_one_line_not_a_hang():
    """multiprocessing.Pool waited for ever when a worker was killed while it held the task queue's lock
    (SIGTERM to the process group hung 3 of 40 sweeps); each worker now has a pipe of its own."""
    import multiprocessing

    from cnncalc.errors import WorkerDied
    from cnncalc.sweeps.workers import chunks

    got = []
    with pytest.raises(WorkerDied, match=r"ended \(exit code 9\) before it answered"):
        for batch in chunks(2, 10, 100, lambda: _dies_at_chunk_two):
            got.extend(batch)
    # what came before is in order (at most chunks 0 and 1: the error may come as soon as chunk 4 is sent)
    assert got == list(range(len(got))) and len(got) <= 20 and multiprocessing.active_children() == []


def test_a_sweep_left_early_leaves_no_worker_behind():
    import multiprocessing

    rows = iter(cnncalc.sweep(SMALL, vary={"C": range(1, 4 * CHUNK)}, columns="params", jobs=2))
    assert next(rows)["params"] == 3 * 3 * 3 * 1 + 1 + 32 * 32 * 1 * 10 + 10
    assert len(multiprocessing.active_children()) == 2
    rows.close()
    assert multiprocessing.active_children() == []


@pytest.mark.slow
def test_workers_that_start_afresh_as_on_macos_and_windows(monkeypatch):
    """Where Python cannot fork, each worker rebuilds the sweep from its specification."""
    import sys

    vary = {"C": range(1, 2 * CHUNK + 5)}
    expected = list(cnncalc.sweep(SMALL, vary=vary, columns="params,rf"))
    monkeypatch.setattr(sys, "platform", "darwin")
    assert list(cnncalc.sweep(SMALL, vary=vary, columns="params,rf", jobs=2)) == expected

LIBRARY_ERRORS = [
    (dict(vary=["X=1"]), "'X' is not used by the design, so this --vary would change nothing"),
    (dict(vary=["C=1"], columns="max_batch"), "max_batch needs a budget"),
    (dict(vary=["C=1", "C=2"]), "'C' is varied twice"),
    (dict(vary=[]), "a sweep needs at least one --vary"),
    (dict(vary=["C=1..100"], max_points=10), "the sweep has 100 points, more than the limit of 10"),
    (dict(vary=["C=1"], pareto="macs"), "a Pareto front needs at least two measures"),
    (dict(vary=["C=1"], defines=["Q=2"]), "'Q' is not used by the design"),
    (dict(vary=["macs=1"]), "'macs' is a measure's name"),
    (dict(vary=["batch=0"]), "batch takes whole numbers of at least 1"),
    (dict(vary=["C=1"], dtype="float64"), "unknown dtype 'float64'"),
]


@pytest.mark.parametrize("kwargs,message", LIBRARY_ERRORS, ids=[m[:30] for _, m in LIBRARY_ERRORS])
def test_library_errors(kwargs, message):
    with pytest.raises(cnncalc.CnnCalcError) as info:
        cnncalc.sweep(SMALL, **kwargs)
    assert message in str(info.value)


# -- the command line ---------------------------------------------------------------------------------------
def no_traceback(result):
    assert "Traceback" not in result.output and result.exception is None or isinstance(result.exception, SystemExit)


CLI = [
    # args, exit code, fragments of the output
    (("sweep", SMALL, "--vary", "C=8,16", "--columns", "params"), 0,
     ("index   C   params", f"{(3 * 3 * 3) * 16 + 16 + 32 * 32 * 16 * 10 + 10:,}", "2 points: 2 computed")),
    (("sweep", SMALL, "--vary", "C=8,16", "-f", "md", "--columns", "params,training_peak"), 0,
     ("| index | C | params | training\\_peak\\_bytes |",)),
    (("sweep", SMALL, "--vary", "C=8", "--where", "parms < 1M"), 2,
     ("error: unknown name 'parms'; did you mean 'params'? (in --where, line 1, column 1)", "  parms < 1M\n  ^^^^^")),
    (("sweep", SMALL, "--vary", "C=8..1"), 2, ("error: the range 8..1 is empty",)),
    (("sweep", SMALL, "--vary", "X=1"), 2, ("this --vary would change nothing",)),
    (("sweep", "INPUT 4x4x3 -> CONV(kernel=K, p=0, filters=2)", "--vary", "K=5,6"), 1,
     ("2 points: 0 computed, 2 failed", "failed: 2 points: CONV5-2p0: the kernel 5 is larger")),
    (("sweep", SMALL, "--vary", "C=1", "--sort", "max_batch"), 2, ("error: max_batch needs a budget",)),
    (("sweep", SMALL, "--vary", "C=1", "--budget", "1GiB", "--columns", "max_batch"), 0, ("max_batch",)),
    (("sweep", "resnet18", "--vary", "input=64,96", "--columns", "params,rf"), 0, ("11,689,512",)),
]


@pytest.mark.parametrize("args,code,expect", CLI, ids=[" ".join(a[2:5]) for a, _, _ in CLI])
def test_cli(args, code, expect):
    result = run(*args)
    no_traceback(result)
    assert result.exit_code == code, result.output
    for fragment in expect:
        assert fragment in result.output


def test_cli_jsonl_and_csv():
    result = run("sweep", SMALL, "--vary", "C=8,16", "-f", "jsonl", "--columns", "params,fits")
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines[1] == {"index": 1, "point": {"C": 16}, "params": (3 * 3 * 3) * 16 + 16 + 32 * 32 * 16 * 10 + 10,
                        "fits": True}
    assert "sweep: 2 points: 2 computed" in result.stderr
    result = run("sweep", SMALL, "--vary", "C=8,16", "-f", "csv", "--columns", "params,fits")
    assert result.stdout.splitlines()[:2] == ["index,C,params,fits", f"0,8,{(3*3*3)*8 + 8 + 32*32*8*10 + 10},true"]


def test_cli_json_document():
    result = run("sweep", SMALL, "--vary", "C=8..24:8", "-f", "json", "--where", "params > 90K", "--columns",
                 "params")
    data = json.loads(result.stdout)
    assert data["schema"] == "cnncalc.sweep/1" and data["vary"] == {"C": ["8..24:8"]}
    assert [r["point"]["C"] for r in data["rows"]] == [16, 24]
    assert data["summary"]["filtered"] == 1 and data["where"] == "params > 90K"


def test_cli_output_atomic(tmp_path):
    out = tmp_path / "sweep.jsonl"
    args = ["sweep", SMALL, "--vary", "C=8,16", "--columns", "params", "-o", str(out)]
    assert run(*args).exit_code == 0
    assert [json.loads(line)["point"]["C"] for line in out.read_text().splitlines()] == [8, 16]  # .jsonl picks it
    os.chmod(out, 0o600)
    result = run(*args)
    assert result.exit_code == 2 and "exists; pass --force" in result.output
    assert run(*args, "--force", "--vary", "C=32").exit_code == 2  # C varied twice: the file is kept as it was
    assert len(out.read_text().splitlines()) == 2
    assert run(*args[:2], "--vary", "C=4", "--columns", "params", "-o", str(out), "--force").exit_code == 0
    assert len(out.read_text().splitlines()) == 1 and stat.S_IMODE(out.stat().st_mode) == 0o600
    link = tmp_path / "link.csv"
    link.symlink_to(out)
    result = run("sweep", SMALL, "--vary", "C=8", "-o", str(link), "--force")
    assert result.exit_code == 2 and "is a symbolic link" in result.output
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_cli_help_names_every_measure():
    result = run("sweep", "--help")
    for name in measures.MEASURES:
        assert re.search(rf"\b{name}\b", result.output.replace("\n", " ").replace("  ", " ")), name
