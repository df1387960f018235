"""Open a local HTML file in a real headless browser and report what happened.

Playwright drives Debian's ``chromium`` package (``/usr/bin/chromium``), never
Playwright's own browser download (CI cannot reach it).  ``open_page`` returns
the console errors, uncaught page errors, every network request other than the
file itself, the rendered text and the title.

When chromium (or the ``playwright`` package) is missing, :func:`require_browser`
skips the calling test with the reason; with ``IAMCONF_REQUIRE_BROWSER=1`` (tox's
unit env) it fails instead, so a CI without a browser never passes silently.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("IAMCONF_CHROMIUM", "/usr/bin/chromium"))
REQUIRE_BROWSER = os.environ.get("IAMCONF_REQUIRE_BROWSER") == "1"

CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


@dataclass
class PageReport:
    """What a browser saw when it opened one page."""

    url: str
    title: str
    text: str
    console_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)  # every request but the page itself
    html: str = ""  # the DOM after loading, serialized
    selected: dict[str, list[str]] = field(default_factory=dict)  # CSS selector -> inner text of each match


def browser_missing_reason() -> str | None:
    """Why no browser can run here, or None."""
    if not CHROMIUM.is_file() or not os.access(CHROMIUM, os.X_OK):
        return f"{CHROMIUM} not found (install Debian's chromium package)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed (pip install '.[test]')"
    return None


def require_browser() -> None:
    """Skip the test (or fail it when IAMCONF_REQUIRE_BROWSER=1) when no browser can run."""
    reason = browser_missing_reason()
    if reason is None:
        return
    if REQUIRE_BROWSER:
        pytest.fail(f"IAMCONF_REQUIRE_BROWSER=1 but no browser can run: {reason}")
    pytest.skip(reason)


def open_page(path: Path, selectors: Sequence[str] = (), timeout_ms: int = 30_000) -> PageReport:
    """Load ``path`` (a local file) in headless chromium; collect errors, requests and text.

    ``selectors`` are CSS selectors whose matches' rendered text is returned in ``selected``.

    Calls :func:`require_browser` first, so a test using it is skipped or failed, never passed,
    without a browser.
    """
    require_browser()
    from playwright.sync_api import ConsoleMessage, Error, Request, sync_playwright

    url = path.resolve().as_uri()
    errors: list[str] = []
    requests: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type in ("error", "assert"):
            errors.append(f"console.{message.type}: {message.text}")

    def on_page_error(error: Error) -> None:
        errors.append(f"uncaught: {error.message}")

    def on_request(request: Request) -> None:
        if request.url != url:
            requests.append(request.url)

    with tempfile.TemporaryDirectory(prefix="iamconf-chromium-") as profile, sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            profile,
            executable_path=str(CHROMIUM),
            headless=True,
            args=list(CHROMIUM_ARGS),
        )
        try:
            # Every request of the context (the page, its frames, workers, prefetch) is recorded.
            context.on("request", on_request)
            page = context.new_page()
            page.on("console", on_console)
            page.on("pageerror", on_page_error)
            page.goto(url, wait_until="load", timeout=timeout_ms)
            page.wait_for_load_state("networkidle", timeout=timeout_ms)
            report = PageReport(
                url=url,
                title=page.title(),
                text=page.inner_text("body"),
                console_errors=errors,
                requests=sorted(set(requests)),
                html=page.content(),
                selected={sel: page.locator(sel).all_inner_texts() for sel in selectors},
            )
        finally:
            context.close()
    return report
