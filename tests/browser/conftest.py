"""Browser tests: Debian's headless Chromium, driven by Playwright, against the app served on 127.0.0.1.

`bash scripts/test.sh` installs Chromium and the fonts it needs. A missing browser fails these tests
rather than skipping them. `UPDATE_SCREENSHOTS=1` also writes the screenshots to docs/screenshots/.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.serving import make_server

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
LAPTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives a real headless Chromium (deselect with -m 'not browser')")


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    """The test app served by a real HTTP server in a thread; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@pytest.fixture(scope="session")
def chromium() -> Iterator[object]:
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        pytest.fail(f"Chromium not found at {CHROMIUM}: run `bash scripts/test.sh`, which installs it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def new_page(chromium, live_server: str) -> Iterator[Callable[..., object]]:
    """Opens a page in a fresh browser context (its own cookies): one per person in a scenario.

    The app's Content-Security-Policy forbids inline script and style; Chromium reports every use it
    blocks on the console, and any such report fails the test: the UI must work with the policy on.
    """
    contexts = []
    refused: list[str] = []

    def note_csp_violation(message) -> None:
        if "Content Security Policy" in message.text:
            refused.append(message.text)

    def make(locale: str = "zh-CN", viewport: dict[str, int] | None = None):
        context = chromium.new_context(  # type: ignore[attr-defined]
            base_url=live_server, locale=locale, viewport=viewport or LAPTOP, timezone_id="Asia/Shanghai",
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.on("console", note_csp_violation)
        return page

    yield make
    for context in contexts:
        context.close()
    assert refused == [], "the Content-Security-Policy blocked parts of the UI"


@pytest.fixture
def screenshot(tmp_path: Path) -> Callable[..., Path]:
    """Saves a full-page PNG under tmp_path, and under docs/screenshots/ when UPDATE_SCREENSHOTS=1."""

    def take(page, name: str) -> Path:
        path = tmp_path / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        if os.environ.get("UPDATE_SCREENSHOTS") == "1":
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, SCREENSHOTS / f"{name}.png")
        return path

    return take
