"""The library in a notebook: a Report's displays (__repr__, HTML, markdown), its exports equal to
the command line's, records() for pandas, the CSV's totals row, plan() by built-in name, Path and
dict defines, and check()."""

from __future__ import annotations

import csv
import inspect
import io
import subprocess
import sys
from html import escape
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import run_cli

import cnncalc
from cnncalc import zoo
from cnncalc.render import columns, render
from cnncalc.render.csv import COLUMNS
from cnncalc.render.markdown import render_markdown
from cnncalc.render.sections import fit_lines, totals_lines

HERE = Path(__file__).parent
RESNET18 = HERE / "designs" / "resnet18.cnn"  # branches, BN buffers
MISFIT = "INPUT 7x7x3 -> CONV3-10/5p0 -> RELU"  # (7 - 3)/5 + 1 = 1.8: drops real input
PATTERN = "INPUT -> [[CONV -> RELU]*N -> POOL?]*M -> [FC -> RELU]*K -> FC"


def cli(*args: str) -> str:
    result = run_cli(*args)
    assert result.exit_code == 0, result.output
    return result.stdout


class Cells(HTMLParser):
    """The text of every <th>/<td>, row by row, and every <tr>."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.titles: list[str | None] = []
        self.cell: list[str] | None = None
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "tr":
            self.rows.append([])
            self.titles.append(dict(attrs).get("title"))
        elif tag in ("td", "th"):
            self.cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.cell is not None:
            self.rows[-1].append("".join(self.cell))
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)


def parse_html(text: str) -> Cells:
    parser = Cells()
    parser.feed(text)
    parser.close()
    return parser


# --- displays ---------------------------------------------------------------------------------

def test_repr_is_short_and_informative():
    assert repr(cnncalc.plan("vgg16")) == "<Report INPUT 224x224x3: 39 layers, 138,357,544 params, 15.5G MACs, fits>"
    assert repr(cnncalc.plan(MISFIT, batch=8)) == ("<Report INPUT 7x7x3: 3 layers, 280 params, 270 MACs, batch 8, "
                                                   "1 misfit>")
    big = repr(cnncalc.plan(RESNET18.read_text()))
    assert big.startswith("<Report INPUT 224x224x3: ") and len(big) < 120 and "Row(" not in big


@pytest.mark.parametrize("design", ["vgg16", RESNET18, MISFIT])
def test_html_is_the_text_tables_columns_one_tr_per_layer(design):
    report = cnncalc.plan(design)
    data = report.model_dump(by_alias=True)
    html = report._repr_html_()
    parsed = parse_html(html)
    assert parsed.tags.count("tr") == len(report.layers) + 1  # the header, then one per layer
    assert parsed.tags.count("table") == 1 and html.count("<div") == html.count("</div>") == 1
    assert parsed.rows[0] == columns.header(data)
    for shown, row, title in zip(parsed.rows[1:], data["layers"], parsed.titles[1:]):
        expect = columns.cells(row)
        name = shown[columns.NAME]
        assert name.startswith("\u00a0" * 2 * row["depth"]) and not name.startswith("\u00a0" * (2 * row["depth"] + 1))
        shown[columns.NAME] = name.strip("\u00a0").removesuffix(" \u26a0")
        assert shown == expect
        assert name.endswith("\u26a0") == (not row["fits"]) and title == row["problem"]
    assert f"{report.totals.params:,}" in html and f"{report.totals.macs:,}" in html
    for name, text in totals_lines(data):
        assert f"<li><b>{escape(name)}</b>: {escape(text)}</li>" in html
    for line in fit_lines(data):
        assert f"<li>{escape(line)}</li>" in html
    assert (' style="color:#c00"><li>' in html) == (not report.fits)  # the fit section in red on a misfit
    assert "<script" not in html and "<style" not in html and "\033" not in html  # self-contained, no colour


def test_html_escapes_every_text():
    report = cnncalc.plan(MISFIT)
    evil = report.model_copy(update={"warnings": ["<script>alert(1)</script> & more"],
                                     "assumptions": ['"quoted" <b>bold</b>']})
    html = evil._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in html
    assert "<b>bold</b>" not in html and "&quot;quoted&quot; &lt;b&gt;bold&lt;/b&gt;" in html
    parsed = parse_html(html)
    assert parsed.tags.count("tr") == len(report.layers) + 1


@pytest.mark.parametrize("design", ["vgg16", MISFIT])
def test_markdown_repr_is_the_markdown_export(design):
    report = cnncalc.plan(design)
    assert report._repr_markdown_() == render_markdown(report.model_dump(by_alias=True)) == report.to_markdown()


# --- exports equal the command line's -----------------------------------------------------------

@pytest.mark.parametrize("fmt, method", [("csv", "to_csv"), ("markdown", "to_markdown"), ("table", "to_table")])
@pytest.mark.parametrize("args", [("vgg16",), (str(RESNET18), "--batch", "4", "--optimizer", "adam"), (MISFIT,)])
def test_exports_equal_the_command_line(fmt, method, args):
    design, *options = args
    settings = {"batch": 4, "optimizer": "adam"} if options else {}
    report = cnncalc.plan(Path(design) if design.endswith(".cnn") else design, label="", **settings)
    text = getattr(report, method)()
    assert text == cli("plan", design, *options, "-f", fmt)
    assert "\033" not in text


def test_to_json_equals_the_command_line():
    assert cnncalc.plan("vgg16").to_json() + "\n" == cli("plan", "vgg16", "-f", "json")


def test_to_table_takes_a_width():
    report = cnncalc.plan(RESNET18)
    narrow = report.to_table(width=80)
    assert narrow == render(report, "table", width=80) and narrow != report.to_table()
    assert all(len(line) <= 80 for line in narrow.splitlines()) and "\033" not in narrow


# --- records() and the CSV ------------------------------------------------------------------------

@pytest.mark.parametrize("design", ["vgg16", RESNET18, MISFIT, "INPUT 8x8x3 -> UPSAMPLE2 -> CONV3-4"])
def test_records_are_the_csv_rows_typed(design):
    report = cnncalc.plan(design)
    header, *rows = csv.reader(io.StringIO(report.to_csv()))
    records = report.records()
    assert header == list(COLUMNS)
    assert len(records) == len(report.layers) == len(rows) - 1  # the CSV's last row is the totals
    for record, row in zip(records + report.records(total=True)[-1:], rows):
        assert list(record) == header
        assert ["" if v is None else str(v).lower() if isinstance(v, bool) else str(v) for v in record.values()] == row
        assert all(v is None or type(v) in (int, str, bool) for v in record.values())
    first = records[1]
    assert type(first["params"]) is int and type(first["fits"]) is bool and first["arm"] is None
    assert all(r["kind"] != "total" for r in records)


def test_records_keep_unknown_metrics_as_none():
    records = cnncalc.plan("INPUT 8x8x3 -> UPSAMPLE2 -> CONV3-4").records()
    assert records[2]["rf_h"] is None and records[2]["rf_padding_w"] is None  # no receptive field after UPSAMPLE
    assert records[0]["rf_h"] == 1 and records[2]["problem"] is None and records[0]["formula"] == ""


@pytest.mark.parametrize("design", ["vgg16", RESNET18, MISFIT])
def test_csv_ends_with_the_totals_row(design):
    report = cnncalc.plan(design, batch=2)
    rows = list(csv.DictReader(io.StringIO(report.to_csv())))
    total = rows[-1]
    t = report.totals
    assert [r["kind"] for r in rows].count("total") == 1
    assert total["index"] == "" and total["name"] == "total" and total["kind"] == "total"
    assert int(total["params"]) == t.params == sum(int(r["params"]) for r in rows[:-1])
    assert int(total["weights"]) + int(total["biases"]) == t.params
    assert int(total["weights"]) == sum(r.weights for r in report.layers)
    assert int(total["buffers"]) == t.buffers and int(total["macs"]) == t.macs
    assert int(total["activations"]) == t.activations
    assert int(total["memory_bytes"]) == t.memory.forward_bytes_per_image
    assert int(total["saved_bytes"]) == t.memory.saved_bytes
    filled = {"name", "kind", "params", "weights", "biases", "buffers", "macs", "activations", "memory_bytes",
              "saved_bytes"}
    assert all(v == "" for k, v in total.items() if k not in filled)
    assert report.records(total=True)[-1] == {**dict.fromkeys(COLUMNS), **{k: total[k] if k in ("name", "kind")
                                                                              else int(total[k]) for k in filled}}


# --- plan(): built-in names, paths, dict defines ----------------------------------------------------

def test_plan_takes_a_built_in_name():
    by_text = cnncalc.plan(zoo.path("vgg16").read_text(), batch=2)
    assert cnncalc.plan("vgg16", batch=2) == by_text
    assert cnncalc.plan("VGG16", batch=2).to_json() == by_text.to_json()  # names are case-insensitive, as on the CLI
    assert cnncalc.check("resnet18").layers == cnncalc.check(zoo.path("resnet18").read_text()).layers


def test_plan_takes_a_path_and_labels_messages_with_it(tmp_path):
    path = tmp_path / "net.cnn"
    path.write_text("N = 2\nINPUT 32x32x3 -> [CONV3-16 -> RELU]*N -> POOL2 -> FC-10\n")
    by_path = cnncalc.plan(path, batch=2)
    assert by_path.to_json() == cnncalc.plan(path.read_text(), batch=2, label=str(path)).to_json()
    assert by_path.to_csv() == cnncalc.plan(path.read_text(), batch=2).to_csv()
    bad = tmp_path / "bad.cnn"
    bad.write_text("INPUT 8x8x3 -> CONV3-\n")
    with pytest.raises(cnncalc.DesignSyntaxError) as e:
        cnncalc.plan(bad)
    assert f"(in {bad}, line 1, column 22)" in str(e.value)
    with pytest.raises(cnncalc.DesignSyntaxError) as e:
        cnncalc.plan(bad, label="mine")
    assert "(in mine, line 1" in str(e.value)
    with pytest.raises(cnncalc.SettingsError, match="no such design file: .*missing.cnn"):
        cnncalc.plan(tmp_path / "missing.cnn")
    with pytest.raises(cnncalc.SettingsError, match="it is a directory"):
        cnncalc.plan(tmp_path)
    (tmp_path / "latin1.cnn").write_bytes(b"# caf\xe9\nINPUT 8x8x3\n")
    with pytest.raises(cnncalc.SettingsError, match="not UTF-8 text"):
        cnncalc.plan(tmp_path / "latin1.cnn")


def test_a_plain_string_stays_a_design():
    assert cnncalc.plan("INPUT 8x8x3 -> CONV3-4").totals.params == 3 * 3 * 3 * 4 + 4
    assert cnncalc.plan("INPUT 8x8x3 -> CONV3-16/2").layers[-1].name == "CONV3-16/2"  # a slash, no file
    with pytest.raises(cnncalc.CnnCalcError):
        cnncalc.plan("vgg17")
    with pytest.raises(cnncalc.CnnCalcError):
        cnncalc.plan(" vgg16")  # only exactly a built-in name


def test_a_string_naming_a_file_reads_it_as_the_command_line_does(tmp_path, monkeypatch):
    """Issue 22: cnncalc.plan("plain2.cnn") said "unexpected '.' after the architecture"; a string that
    names an existing file is that file (design_path, the command line's one rule), labelled with it."""
    assert cnncalc.plan(str(RESNET18)).totals.params == cnncalc.plan(RESNET18).totals.params
    monkeypatch.chdir(tmp_path)
    (tmp_path / "plain2.cnn").write_text("INPUT 8x8x3 -> CONV3-4\n")
    assert cnncalc.plan("plain2.cnn").totals.params == 3 * 3 * 3 * 4 + 4
    with pytest.raises(cnncalc.SettingsError, match="no such design file: missing.cnn"):
        cnncalc.plan("missing.cnn")
    with pytest.raises(cnncalc.SettingsError, match="no such design file: nets/x"):
        cnncalc.plan("nets/x")


def test_defines_as_a_dict_equal_the_list():
    as_list = cnncalc.plan(PATTERN, defines=["N=2", "M=3", "K=1", "conv.filters=32", "fc.out=10", "conv.bias=false",
                                             "input=32x32x3"])
    as_dict = cnncalc.plan(PATTERN, defines={"N": 2, "M": 3, "K": 1, "conv.filters": 32, "fc.out": 10,
                                             "conv.bias": False, "input": (32, 32, 3)})
    assert as_dict == as_list
    assert as_dict.input == (32, 32, 3) and all(r.biases == 0 for r in as_dict.layers if r.kind == "conv")
    assert cnncalc.plan("INPUT 8x8x3 -> CONV3-N", defines={"N": 5}) == cnncalc.plan("INPUT 8x8x3 -> CONV3-5")
    assert cnncalc.plan("INPUT 8x8x3 -> CONV3-N", defines="N=5").totals.params == 3 * 3 * 3 * 5 + 5
    with pytest.raises(cnncalc.SettingsError):
        cnncalc.plan("INPUT 8x8x3 -> CONV3-N", defines={5: 5})


def test_plan_stays_discoverable():
    parameters = inspect.signature(cnncalc.plan).parameters
    assert list(parameters)[0] == "text" and {"defines", "batch", "dtype", "budget", "label"} <= set(parameters)
    doc = inspect.getdoc(cnncalc.plan)
    assert doc.startswith("Plan a design") and "pathlib.Path" in doc and "built-in" in doc and "batch" in doc
    assert cnncalc.plan.__module__ == "cnncalc" and "check" in cnncalc.__all__
    assert "peaks" not in inspect.signature(cnncalc.check).parameters and "fits" in inspect.getdoc(cnncalc.check)


# --- check() ----------------------------------------------------------------------------------------

def test_check_is_plan_without_the_simulations():
    report = cnncalc.check("vgg16")
    full = cnncalc.plan("vgg16")
    assert report.fits and len(report.layers) == 39 and report.layers == full.layers
    assert report.totals.params == full.totals.params and full.totals.memory.training_peak_bytes is not None
    memory = report.totals.memory
    assert memory.training_peak_bytes is None and memory.inference_peak_bytes is None and memory.peak is None
    assert cli("check", "vgg16").startswith(f"ok: all {len(report.layers)} layers fit")


def test_check_reports_misfits_as_plan_does():
    report = cnncalc.check(MISFIT, defines={})
    full = cnncalc.plan(MISFIT)
    assert not report.fits and report.problems == full.problems and report.input_fixes == full.input_fixes
    assert repr(report).endswith("1 misfit>")
    fixed = cnncalc.check("INPUT 7x7x3 -> CONV3-10/S(p=0)", defines={"S": 2}, input=(9, 9, 3))
    assert fixed.fits and fixed.input == (9, 9, 3)


def test_check_refuses_what_needs_the_simulation():
    with pytest.raises(cnncalc.SettingsError, match="use cnncalc.plan"):
        cnncalc.check("vgg16", budget="8GiB")
    with pytest.raises(cnncalc.SettingsError):
        cnncalc.check(MISFIT, optional="neither")


def test_import_stays_light():
    probe = ("import sys, cnncalc; print(sorted(m for m in ('rich', 'pydantic', 'cnncalc.report', 'cnncalc.render', "
             "'typer', 'html') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.stdout.strip() == "[]", result.stderr


def test_the_library_folds_and_picks_columns_as_the_command_line_does():


    report = cnncalc.plan("resnet18")
    for fmt, method in (("table", report.to_table), ("markdown", report.to_markdown)):
        shown = run_cli(*["plan", "resnet18", "-f", fmt, "--depth", "1", "--columns",
                                         "name,output,params,params_pct"]).output
        assert method(depth=1, columns="name,output,params,params_pct") == shown
    assert len(report.to_table(depth=1).splitlines()) < len(report.to_table().splitlines())


def test_print_shows_the_table_not_a_field_dump():
    """Issue 22: print(cnncalc.plan('resnet50')) printed a 106,517-character one-line model dump."""
    report = cnncalc.plan("resnet50")
    assert str(report) == report.to_table()
    assert str(report).splitlines()[0].split()[:2] == ["#", "layer"] and len(str(report).splitlines()) > len(report.layers)
    assert repr(report).startswith("<Report INPUT 224x224x3:") and "\n" not in repr(report)


def test_sweeps_and_comparisons_display_in_a_notebook():
    swept = cnncalc.sweep("w = 2\nINPUT 8x8x3 -> CONV3-w", vary={"w": [1, 2]})
    assert repr(swept) == "<Sweep of w = 2 INPUT 8x8x3 -> CONV3-w: 2 points over w>"
    html = swept._repr_html_()
    assert html.startswith('<table class="cnncalc-sweep">') and html.count("<tr>") == 1 + 2
    assert "<td style=\"text-align:right\">56</td>" in html  # w=2: 3*3*3*2 + 2 params
    assert str(swept).splitlines()[0].split() == ["index", "w", "params", "macs", "forward_bytes",
                                                 "training_peak_bytes", "fits"]
    both = cnncalc.compare(["vgg11", "vgg16"])
    assert str(both) == both.render("table")
    html = both._repr_html_()
    assert html.startswith('<table class="cnncalc-compare">') and "<th>vgg16</th>" in html
    assert "138,357,544" in html  # VGG16's params (Simonyan & Zisserman; torchvision)
