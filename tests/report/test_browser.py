"""The report in a real browser: headless Chromium draws every chart with no console error and no request.

Chromium is Debian's ``chromium`` package; ``make test`` installs it when it is
missing and it can (root with apt-get). This test installs nothing: without
the binary it skips and says so. It drives the browser over the DevTools
protocol (``tests/report/chromium.py``), collects console errors, uncaught
exceptions and any network request, waits for the page's ``data-rendered``
marker and saves a screenshot of each section (under ``tmp_path``, or under
``$MLBUDGET_SCREENSHOT_DIR`` when that is set).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from mlbudget.report.html import render_trend_html, write_report
from tests.report import fixtures
from tests.report.chromium import Page, find_chromium, render

CHROMIUM = find_chromium()
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (Debian: apt-get install chromium)"),
]

SECTIONS = ("decision", "since", "trends", "latency", "tradeoff", "candidates", "detection")


def _shots(tmp_path: Path) -> Path:
    out = Path(os.environ.get("MLBUDGET_SCREENSHOT_DIR") or tmp_path / "shots")
    out.mkdir(parents=True, exist_ok=True)
    return out


def _is_png_of_content(path: Path) -> bool:
    data = path.read_bytes()
    return data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000  # a blank capture compresses to ~2 kB


def test_cycle_report_renders_in_chromium(tmp_path):
    before = write_report(tmp_path / "a", **fixtures.cycle_inputs(0.1, version="2"))
    previous = json.loads(Path(before["json"]).read_text())
    paths = write_report(tmp_path / "b", **fixtures.cycle_inputs(0.6), previous=previous, trend=fixtures.trend())
    shots = _shots(tmp_path)
    started = time.perf_counter()
    with Page(CHROMIUM) as page:
        drawn = render(Path(paths["html"]), page)
        assert drawn == 6  # trend, CDF, per-level, two trade-offs, drift
        assert page.errors == []
        assert page.requests == []  # self-contained: not one request left the page
        assert page.evaluate("window.pwned === undefined")  # the hostile feature name stayed text
        # Each chart drew an SVG with its traces.
        counts = page.evaluate(
            "Array.from(document.querySelectorAll('.plot')).map(d => d.querySelectorAll('.trace').length)"
        )
        assert len(counts) == 6 and all(n > 0 for n in counts), counts
        # The concurrency axis has integer ticks only (1, 4, 16), never 1.2 or 2.5.
        ticks = page.evaluate(
            "Array.from(document.querySelectorAll('#fig-latency_levels .xtick text')).map(t => t.textContent)"
        )
        assert ticks and set(ticks) <= {"1", "4", "16"}, ticks
        for sid in SECTIONS:
            shot = page.screenshot(shots / f"{sid}.png", page.section_clip(sid))
            assert _is_png_of_content(shot), sid
        page.screenshot(shots / "page.png")
    assert time.perf_counter() - started < 120


def test_trend_page_renders_in_chromium(tmp_path):
    html = tmp_path / "trend.html"
    html.write_text(render_trend_html(fixtures.trend()), encoding="utf-8")
    with Page(CHROMIUM) as page:
        assert render(html, page) == 1
        assert page.errors == [] and page.requests == []
        markers = page.evaluate(
            "Array.from(document.querySelectorAll('#fig-trend .annotation-text')).map(t => t.textContent)"
        )
        assert any("v2" in m for m in markers) and any("v1" in m for m in markers), markers  # promote, rollback
        assert _is_png_of_content(page.screenshot(_shots(tmp_path) / "trend-page.png"))


def test_a_broken_page_is_caught(tmp_path):
    """The check can fail: a script error on the page is reported, not missed."""
    html = tmp_path / "broken.html"
    html.write_text(
        "<!DOCTYPE html><html><body><script>window.mlbudgetErrors = [];"
        "document.body.setAttribute('data-rendered', '0'); undefinedFunction();</script></body></html>"
    )
    with Page(CHROMIUM) as page:
        render(html, page)
        time.sleep(0.3)
        page.evaluate("1")  # drain pending events
        assert any("undefinedFunction" in e for e in page.errors), page.errors
