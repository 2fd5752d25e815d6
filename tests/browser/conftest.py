"""A real browser on a real server: Debian's Chromium, driven by Playwright, against
``ntd``'s app served by uvicorn on 127.0.0.1 with a test database.

Where Chromium or Playwright is missing these tests skip, saying why; under CI (``CI=true``)
they fail instead, since there the browser must be installed (.ci/run does it). Playwright
never downloads a browser here: it launches /usr/bin/chromium, with its background
networking off and every host name unresolvable, so that nothing leaves this machine.
Screenshots go to test-artifacts/browser/.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.test_web_support import Web

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts" / "browser"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-default-apps",
    "--disable-extensions",
    "--no-pings",
    # Names resolve nowhere: the server is reached by its IP literal, nothing else at all.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]


def _unavailable(reason: str):
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}, and CI=true: the browser tests must run here", pytrace=False)
    pytest.skip(f"{reason}; install Debian's chromium to run the browser tests")


@pytest.fixture(scope="module")
def chromium():
    """One browser per test module, closed before the rest of the suite runs."""
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is absent")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Served:
    """The app on a free port of 127.0.0.1, in a thread of this process."""

    def __init__(self, web: Web) -> None:
        import uvicorn

        config = uvicorn.Config(
            web.app,
            host="127.0.0.1",
            port=0,
            log_level="warning",
            lifespan="off",
            server_header=False,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def served(tmp_path, monkeypatch) -> Iterator[tuple[Web, Served]]:
    from tests.test_web_support import cheap_passwords

    cheap_passwords(monkeypatch)
    # The browser checks what people see; the store's two databases are covered elsewhere.
    web = Web(f"sqlite:///{tmp_path / 'ntd.sqlite3'}", min_group="3")
    served = Served(web)
    yield web, served
    served.stop()
    web.close()


@pytest.fixture
def page(chromium, served, request):
    """A fresh page that fails the test on any request beyond the server, or any dialog."""
    _web, server = served
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    strays: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(server.url) else strays.append(r.url))
    page.on("dialog", lambda d: strays.append(f"dialog: {d.message}"))

    def on_console(message) -> None:
        # A 401 or 403 page is logged as a failed load; anything else, e.g. a refusal by
        # the Content-Security-Policy, is a fault of ours.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            strays.append(f"console: {message.text}")

    page.on("console", on_console)
    yield page
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"{request.node.name}-last.png", full_page=True)
    context.close()
    assert strays == [], "the page reached beyond the server, or something ran"


def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)
