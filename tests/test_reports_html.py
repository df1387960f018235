"""The HTML diff and check reports open in a real headless browser: no console error, no network request."""

from __future__ import annotations

from pathlib import Path

from tests.browser_support import open_page
from tests.reports_support import examples as generate


def test_html_diff_report_opens_clean_in_chromium(tmp_path: Path) -> None:
    examples = generate()
    page = tmp_path / "anchor-v2-v3.html"
    page.write_text(examples["anchor-v2-v3.html"], encoding="utf-8")
    report = open_page(page, selectors=["h1", "h2", "td code"])
    assert report.console_errors == []
    assert report.requests == []
    assert report.title.startswith("iamconf diff:")
    assert report.selected["h2"][0] == "Newly allowed"
    assert "sagemaker:CreateImage" in report.selected["td code"]
    check = tmp_path / "anchor-v3-check.html"
    check.write_text(examples["anchor-v3-check.html"], encoding="utf-8")
    seen = open_page(check, selectors=["h3 code"])
    assert seen.console_errors == [] and seen.requests == []
    assert "states-prefixed-sagemaker" in seen.selected["h3 code"]


def test_the_browser_check_fails_on_a_report_that_fetches(tmp_path: Path) -> None:
    """The same check on a report with an external stylesheet sees the request."""
    html = generate()["anchor-v2-v3.html"].replace(
        "</head>", '<link rel="stylesheet" href="http://127.0.0.1:9/x.css"></head>'
    )
    page = tmp_path / "fetching.html"
    page.write_text(html, encoding="utf-8")
    assert open_page(page).requests == ["http://127.0.0.1:9/x.css"]
