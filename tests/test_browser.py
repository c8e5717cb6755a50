"""The HTML report in a real browser: headless Chromium opens the reports of VGG16, ResNet-18 and
GoogLeNet, and checks what a reader sees: the diagram and the table render with no console error
and no network request, every label lies inside its box as the browser measures it (getBBox, in
the font it really uses), a table row is at most ROW_PX pixels high, each column of the diagram at
most STRIP_PX and a folded diagram at most BOX_PX pixels per box; printed (the print style sheet,
landscape A4) no column of the table is cut and every column of the diagram fits a page; the PDF
is written and the screenshots saved.

Chromium is driven through the DevTools protocol over a pipe (--remote-debugging-pipe), with the
standard library alone. Without a `chromium` on the PATH (Debian: apt-get install chromium) every
test here is skipped, with that reason. Screenshots and PDFs go to $CNNCALC_SHOTS, or a temporary
folder (printed).
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

import cnncalc
from cnncalc.render.svg import draw
from cnncalc.render.structure import fold

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(CHROMIUM is None, reason="no chromium on the PATH (Debian: apt-get install chromium)")]

DESIGNS = ("vgg16", "resnet18", "googlenet")
ROW_PX = 24  # at most, a row of the table (12 px monospace, line height 1.55)
BOX_PX = 64  # at most, the height of a folded diagram per box of it
STRIP_PX = 700  # at most, one column of the diagram (an SVG) with its caption
PAGE_PX = 1047  # the width inside a landscape A4 page's 10 mm margins, in CSS px (277 mm)
PAGE_HEIGHT_PX = 718  # and its height (190 mm)
TIMEOUT = 30


class Chromium:
    """A headless Chromium and one page in it, spoken to in the DevTools protocol over a pipe: JSON
    messages ended by a NUL, ours on the browser's fd 3, its on its fd 4."""

    def __init__(self, profile: str):
        to_browser, self._write = os.pipe()
        self._read, from_browser = os.pipe()

        def pipes() -> None:  # in the child: fd 3 and fd 4 as Chromium expects them
            os.dup2(to_browser, 3)
            os.dup2(from_browser, 4)

        self.process = subprocess.Popen(
            [CHROMIUM, "--headless", "--disable-gpu", "--no-sandbox", "--remote-debugging-pipe", "--no-first-run",
             "--no-default-browser-check", "--hide-scrollbars", "--mute-audio", f"--user-data-dir={profile}"],
            pass_fds=(3, 4), preexec_fn=pipes, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_browser)
        os.close(from_browser)
        self._buffer = b""
        self._next = 0
        self.events: list[dict] = []
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable", session=True)

    def close(self) -> None:
        self.process.kill()
        self.process.wait()
        os.close(self._write)
        os.close(self._read)

    def call(self, method: str, session: bool = False, **params) -> dict:
        self._next += 1
        message = {"id": self._next, "method": method, "params": params}
        if session:
            message["sessionId"] = self.session
        os.write(self._write, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._receive()
            if reply.get("id") == self._next:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]
            self.events.append(reply)

    def _receive(self) -> dict:
        deadline = time.monotonic() + TIMEOUT
        while b"\0" not in self._buffer:
            ready, _, _ = select.select([self._read], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise TimeoutError("Chromium did not answer")
            chunk = os.read(self._read, 1 << 20)
            if not chunk:
                raise EOFError("Chromium closed the pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def open(self, url: str, width: int = 1280, height: int = 900, media: str = "") -> None:
        self.events.clear()
        self.call("Emulation.setDeviceMetricsOverride", session=True, width=width, height=height,
                  deviceScaleFactor=1, mobile=False)
        self.call("Emulation.setEmulatedMedia", session=True, media=media)
        self.call("Page.navigate", session=True, url=url)
        while not any(e.get("method") == "Page.loadEventFired" for e in self.events):
            self.events.append(self._receive())

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", session=True, expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise AssertionError(result["exceptionDetails"])
        return result["result"].get("value")

    def problems(self) -> list[str]:
        """Console errors and warnings, uncaught exceptions, log errors, and requests for anything but
        the file itself and inline data."""
        out = []
        for e in self.events:
            method, params = e.get("method"), e.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "warning", "assert"):
                out.append(f"console.{params['type']}: {params.get('args')}")
            elif method == "Runtime.exceptionThrown":
                out.append(f"exception: {params['exceptionDetails']}")
            elif method == "Log.entryAdded" and params["entry"]["level"] in ("error", "warning"):
                out.append(f"log: {params['entry']['text']}")
            elif method == "Network.requestWillBeSent":
                url = params["request"]["url"]
                if not url.startswith(("file://", "data:", "about:")):
                    out.append(f"request: {url}")
        return out

    def screenshot(self, path: Path, height: int) -> None:
        shot = self.call("Page.captureScreenshot", session=True, format="png", captureBeyondViewport=True,
                         clip={"x": 0, "y": 0, "width": self.evaluate("document.documentElement.scrollWidth"),
                               "height": height, "scale": 1})
        path.write_bytes(base64.b64decode(shot["data"]))

    def pdf(self, path: Path) -> bytes:
        data = base64.b64decode(self.call("Page.printToPDF", session=True, preferCSSPageSize=True)["data"])
        path.write_bytes(data)
        return data


@pytest.fixture(scope="module")
def shots() -> Path:
    folder = Path(os.environ.get("CNNCALC_SHOTS") or tempfile.mkdtemp(prefix="cnncalc-shots-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"\nscreenshots and PDFs: {folder}")
    return folder


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    started = time.monotonic()
    chromium = Chromium(str(tmp_path_factory.mktemp("profile")))
    yield chromium
    chromium.close()
    print(f"\nbrowser tests: {time.monotonic() - started:.1f} s")


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> dict[str, tuple[Path, dict]]:
    folder = tmp_path_factory.mktemp("reports")
    out = {}
    for name in DESIGNS:
        report = cnncalc.plan(name)
        path = folder / f"{name}.html"
        path.write_text(report.to_html(title=name), encoding="utf-8")
        out[name] = (path, report.model_dump(by_alias=True))
    return out


# What the page reports about itself: every label against its box, as the browser lays them out.
MEASURE = """(() => {
  const diagram = document.querySelector('#diagram .diagram');
  const svgs = [...diagram.querySelectorAll('svg.cnncalc-diagram')];
  const outside = [];
  for (const g of diagram.querySelectorAll('g.node')) {
    const box = g.querySelector('rect').getBBox();
    for (const t of g.querySelectorAll('text')) {
      const b = t.getBBox();
      if (b.x < box.x + 1 || b.x + b.width > box.x + box.width - 1 || b.y < box.y || b.y + b.height > box.y + box.height)
        outside.push([g.dataset.row, t.textContent, b.width, box.width]);
    }
  }
  const rows = [...document.querySelectorAll('#layers div.r[id^="row-"]')];
  return {nodes: diagram.querySelectorAll('g.node').length, merges: diagram.querySelectorAll('g.merge').length,
          skips: diagram.querySelectorAll('path.skip').length, outside,
          svgHeight: Math.max(...svgs.map(s => s.getBoundingClientRect().height)),
          diagramHeight: diagram.getBoundingClientRect().height,
          rows: rows.length, tallest: Math.max(...rows.map(r => r.getBoundingClientRect().height)),
          visibleRows: rows.filter(r => r.checkVisibility()).length,
          font: getComputedStyle(svgs[0].querySelector('text')).fontFamily};
})()"""

# Under the print style sheet at a landscape page's width: does anything stick out on the right?
CUT = """(() => {
  const page = document.documentElement.clientWidth;
  const cells = [...document.querySelectorAll('#layers .r > span')];
  const right = Math.max(...cells.map(c => c.getBoundingClientRect().right));
  const svgs = [...document.querySelectorAll('#diagram svg')].map(s => s.getBoundingClientRect());
  return {page, right, scroll: document.documentElement.scrollWidth, svgRight: Math.max(...svgs.map(s => s.right)),
          svgHeight: Math.max(...svgs.map(s => s.height)),
          cut: cells.filter(c => c.getBoundingClientRect().right > page).length};
})()"""


@pytest.mark.parametrize("name", DESIGNS)
def test_the_report_renders_in_a_browser(name, browser, reports, shots):
    path, report = reports[name]
    browser.open(path.as_uri())
    seen = browser.evaluate(MEASURE)
    assert browser.problems() == []
    drawing = draw(report)
    view = fold(report, drawing.depth)
    merges = sum(1 for r in view if r["kind"] in ("concat", "add") and "block" not in r)
    assert seen["nodes"] + seen["merges"] + seen["skips"] == len(view) and seen["merges"] == merges
    assert seen["outside"] == []  # every label inside its box, in the browser's own font
    assert "DejaVu Sans" in seen["font"]
    assert seen["rows"] == seen["visibleRows"] == len(report["layers"])
    assert seen["tallest"] <= ROW_PX
    assert seen["svgHeight"] <= STRIP_PX
    if drawing.depth is not None:
        assert seen["diagramHeight"] <= BOX_PX * len(view)
    browser.screenshot(shots / f"{name}.png", min(4000, browser.evaluate("document.documentElement.scrollHeight")))


@pytest.mark.parametrize("name", DESIGNS)
def test_the_report_prints_with_no_column_cut(name, browser, reports, shots):
    path, report = reports[name]
    browser.open(path.as_uri(), width=PAGE_PX, media="print")
    seen = browser.evaluate(CUT)
    assert seen["cut"] == 0 and seen["right"] <= seen["page"] and seen["scroll"] <= seen["page"], seen
    assert seen["svgRight"] <= seen["page"] and seen["svgHeight"] <= PAGE_HEIGHT_PX
    browser.open(path.as_uri())
    pdf = browser.pdf(shots / f"{name}.pdf")
    assert pdf.startswith(b"%PDF-") and b"/MediaBox [0 0 841" in pdf  # A4 landscape: 842 x 595 points
    assert browser.problems() == []


def test_a_folded_report_opens_a_block_on_a_click(browser, reports, tmp_path, shots):
    """--depth 1 closes the top-level blocks; a click on a block's row opens it, and the diagram's
    box links to its first row."""
    report = cnncalc.plan("resnet18")
    path = tmp_path / "folded.html"
    path.write_text(report.to_html(depth=1, title="resnet18 --depth 1"), encoding="utf-8")
    browser.open(path.as_uri())
    visible = "[...document.querySelectorAll('div.r[id^=\"row-\"]')].filter(r => r.checkVisibility()).length"
    shown = browser.evaluate(visible)
    assert shown == len(fold(report.model_dump(by_alias=True), 1)) - 7  # the 7 top-level blocks are closed
    browser.evaluate("document.querySelector('#block-0').click()")
    assert browser.evaluate(visible) == shown + 16  # basic(64) x2: rows 5 to 20
    assert browser.evaluate("document.querySelector('#diagram a[href=\"#row-5\"]') !== null")
    browser.screenshot(shots / "resnet18-depth1.png", min(3000, browser.evaluate("document.documentElement.scrollHeight")))
    assert browser.problems() == []


@pytest.mark.parametrize("name", DESIGNS)
def test_the_layer_table_fits_a_1400_pixel_window(name, browser, reports, shots):
    """Issue 22: at 1400 px the table needed a horizontal scrollbar that hid the receptive-field and saved
    columns; its font now shrinks (to 8 px at least) until every column is in view."""
    path, report = reports[name]
    browser.open(path.as_uri(), width=1400)
    seen = browser.evaluate(CUT)
    assert seen["cut"] == 0 and seen["scroll"] <= seen["page"], seen
    assert browser.evaluate("parseFloat(getComputedStyle(document.querySelector('#layers .grid')).fontSize)") >= 8


def test_notes_have_a_colour_of_their_own(browser, tmp_path):
    """Issue 22: the fit section drew notes in the misfit red."""
    report = cnncalc.plan("INPUT 227x227x3 -> CONV7-64/2 -> RELU -> POOL3/2 -> CONV5-128/3 -> RELU -> POOL2 -> FC-10")
    assert report.problems and report.notes
    path = tmp_path / "notes.html"
    path.write_text(report.to_html(), encoding="utf-8")
    browser.open(path.as_uri())
    colour = "getComputedStyle(document.querySelector('#fit li.{}')).color"
    misfit, note = browser.evaluate(colour.format("misfit")), browser.evaluate(colour.format("fitnote"))
    assert misfit != note and "180, 35, 24" in misfit  # the misfit red, #b42318
