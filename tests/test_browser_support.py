"""The browser helper sees console errors and network requests (so a clean report means something)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import browser_support
from tests.browser_support import open_page

CLEAN = """<!doctype html><html><head><meta charset="utf-8"><title>clean page</title>
<style>body { font-family: sans-serif }</style></head><body><h1>hello</h1><p>matrix cell</p></body></html>"""

DIRTY = """<!doctype html><html><head><meta charset="utf-8"><title>dirty page</title>
<link rel="stylesheet" href="http://127.0.0.1:9/style.css"></head>
<body><p>text</p><img src="http://127.0.0.1:9/pixel.png">
<script>console.error("boom from the page"); undefinedFunction();</script></body></html>"""


def test_clean_page_has_no_errors_and_no_requests(tmp_path: Path) -> None:
    page = tmp_path / "clean.html"
    page.write_text(CLEAN, encoding="utf-8")
    report = open_page(page, selectors=["h1", "p", "table"])
    assert report.title == "clean page"
    assert report.selected == {"h1": ["hello"], "p": ["matrix cell"], "table": []}
    assert "matrix cell" in report.text
    assert report.console_errors == []
    assert report.requests == []


def test_dirty_page_reports_console_errors_and_requests(tmp_path: Path) -> None:
    page = tmp_path / "dirty.html"
    page.write_text(DIRTY, encoding="utf-8")
    report = open_page(page)
    assert report.title == "dirty page"
    assert "http://127.0.0.1:9/style.css" in report.requests
    assert "http://127.0.0.1:9/pixel.png" in report.requests
    assert any("boom from the page" in e for e in report.console_errors)
    assert any("undefinedFunction" in e for e in report.console_errors)


def test_missing_browser_skips_locally(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(browser_support, "CHROMIUM", tmp_path / "no-chromium")
    monkeypatch.setattr(browser_support, "REQUIRE_BROWSER", False)
    with pytest.raises(pytest.skip.Exception, match="no-chromium not found"):
        browser_support.require_browser()


def test_missing_browser_fails_when_required(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(browser_support, "CHROMIUM", tmp_path / "no-chromium")
    monkeypatch.setattr(browser_support, "REQUIRE_BROWSER", True)
    with pytest.raises(pytest.fail.Exception, match="IAMCONF_REQUIRE_BROWSER=1"):
        browser_support.require_browser()
    with pytest.raises(pytest.fail.Exception):
        open_page(tmp_path / "x.html")
